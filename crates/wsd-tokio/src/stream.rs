//! [`MaybeTlsStream`]: what [`connect`](crate::connect) returns, TCP or TLS over TCP.

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use wsd_io::TlsError;

use crate::{Error, Options, TokioIo, TokioTimer};

/// A TCP stream, or (feature `rustls`) a TLS stream over TCP.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// `ws://`, directly or through an `http://` or SOCKS5 proxy.
    Plain(TcpStream),
    /// `wss://` through rustls; also `ws://` through an `https://` proxy (the TLS
    /// session is then the proxy's).
    #[cfg(feature = "rustls")]
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
    /// `wss://` through an `https://` proxy: TLS to the server inside TLS to the
    /// proxy.
    #[cfg(feature = "rustls")]
    RustlsInTls(Box<tokio_rustls::client::TlsStream<tokio_rustls::client::TlsStream<TcpStream>>>),
}

impl MaybeTlsStream {
    /// The TCP stream underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.get_ref().0,
            #[cfg(feature = "rustls")]
            Self::RustlsInTls(s) => s.get_ref().0.get_ref().0,
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            MaybeTlsStream::Plain($s) => $e,
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls($s) => $e,
            #[cfg(feature = "rustls")]
            MaybeTlsStream::RustlsInTls($s) => $e,
        }
    };
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Plain(s) => s.is_write_vectored(),
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.is_write_vectored(),
            #[cfg(feature = "rustls")]
            Self::RustlsInTls(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}

/// The TLS client configuration for `wss://`: the caller's, or (`None`) one trusting
/// the webpki roots.
#[derive(Default)]
pub(crate) struct TlsChoice {
    #[cfg(feature = "rustls")]
    pub(crate) config: Option<std::sync::Arc<rustls::ClientConfig>>,
}

/// Opens the stream for `url`: DNS, TCP with `TCP_NODELAY` (the driver batches its
/// own writes, so Nagle would only add latency), then through `proxy` when given
/// (TLS to an `https://` proxy, then `CONNECT`; or SOCKS5), then TLS for `wss://`.
/// Returns the stream and the bytes the proxy sent after its answer (input for the
/// WebSocket client).
pub(crate) async fn open(
    url: &str,
    proxy: Option<&str>,
    options: &Options,
    tls_choice: TlsChoice,
) -> Result<(MaybeTlsStream, Vec<u8>), Error> {
    let (host, port, tls) = wsd_io::parse_target(url)?;
    let Some(proxy) = proxy else {
        let tcp = tcp(&host, port).await?;
        return Ok((secure(tcp, tls, &host, &tls_choice).await?, Vec::new()));
    };
    let kind = wsd_io::ProxyKind::of(proxy)?;
    let (proxy_host, proxy_port) = wsd_io::proxy_target(proxy)?;
    let mut tcp = tcp(&proxy_host, proxy_port).await?;
    if kind != wsd_io::ProxyKind::Https {
        let input = tunnel(&mut tcp, url, proxy, options).await?;
        if tls {
            no_early_bytes(&input)?;
        }
        return Ok((secure(tcp, tls, &host, &tls_choice).await?, input));
    }
    #[cfg(not(feature = "rustls"))]
    {
        let _ = (options, tls_choice);
        Err(TlsError::NotAvailable {
            hint: "an https:// proxy needs TLS: turn on the `rustls` feature of wsd-tokio",
        }
        .into())
    }
    #[cfg(feature = "rustls")]
    {
        let mut to_proxy = rustls_connect(tcp, &proxy_host, &tls_choice).await?;
        let input = tunnel(&mut to_proxy, url, proxy, options).await?;
        if !tls {
            return Ok((MaybeTlsStream::Rustls(Box::new(to_proxy)), input));
        }
        no_early_bytes(&input)?;
        let inner = rustls_connect(to_proxy, &host, &tls_choice).await?;
        Ok((MaybeTlsStream::RustlsInTls(Box::new(inner)), input))
    }
}

/// TCP to `host:port` with `TCP_NODELAY`.
async fn tcp(host: &str, port: u16) -> Result<TcpStream, Error> {
    let tcp = TcpStream::connect((host, port)).await?;
    tcp.set_nodelay(true)?;
    Ok(tcp)
}

/// The proxy's part over `stream` (connected to the proxy).
async fn tunnel<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    url: &str,
    proxy: &str,
    options: &Options,
) -> Result<Vec<u8>, Error> {
    let mut timer = TokioTimer::default();
    wsd_io::tunnel(&mut TokioIo(stream), &mut timer, url, proxy, options).await
}

/// A TLS server speaks only after the ClientHello: bytes from the proxy before it
/// cannot be part of the tunnel to one.
fn no_early_bytes(input: &[u8]) -> Result<(), Error> {
    if input.is_empty() {
        return Ok(());
    }
    let unexpected = io::Error::new(
        io::ErrorKind::InvalidData,
        "the proxy sent data before the TLS handshake began",
    );
    Err(TlsError::Failed(Box::new(unexpected)).into())
}

/// `tcp` as it is for `ws://`, or wrapped in TLS to `host` for `wss://`.
async fn secure(
    tcp: TcpStream,
    tls: bool,
    host: &str,
    tls_choice: &TlsChoice,
) -> Result<MaybeTlsStream, Error> {
    if !tls {
        return Ok(MaybeTlsStream::Plain(tcp));
    }
    #[cfg(feature = "rustls")]
    {
        let stream = rustls_connect(tcp, host, tls_choice).await?;
        Ok(MaybeTlsStream::Rustls(Box::new(stream)))
    }
    #[cfg(not(feature = "rustls"))]
    {
        let _ = (host, tls_choice);
        Err(TlsError::NotAvailable {
            hint: "turn on the `rustls` feature of wsd-tokio, or call wsd_tokio::client() \
                   with your own TLS stream",
        }
        .into())
    }
}

/// A TLS client session to `host` over `stream`, with the caller's configuration or
/// one trusting the webpki roots.
#[cfg(feature = "rustls")]
async fn rustls_connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    host: &str,
    tls_choice: &TlsChoice,
) -> Result<tokio_rustls::client::TlsStream<S>, Error> {
    use std::sync::{Arc, OnceLock};
    static DEFAULT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    let config = tls_choice.config.clone().unwrap_or_else(|| {
        Arc::clone(DEFAULT.get_or_init(|| {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            Arc::new(
                rustls::ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                // The ring provider supports the safe defaults; the fallback is never taken.
                .unwrap_or_else(|_| rustls::ClientConfig::builder())
                .with_root_certificates(roots)
                .with_no_client_auth(),
            )
        }))
    });
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| TlsError::InvalidServerName(host.to_owned()))?;
    tokio_rustls::TlsConnector::from(config)
        .connect(name, stream)
        .await
        .map_err(|e| TlsError::Failed(Box::new(e)).into())
}
