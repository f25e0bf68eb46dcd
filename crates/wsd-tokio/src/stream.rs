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
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://` through rustls.
    #[cfg(feature = "rustls")]
    Rustls(Box<tokio_rustls::client::TlsStream<TcpStream>>),
}

impl MaybeTlsStream {
    /// The TCP stream underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Self::Plain(s) => s,
            #[cfg(feature = "rustls")]
            Self::Rustls(s) => s.get_ref().0,
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            MaybeTlsStream::Plain($s) => $e,
            #[cfg(feature = "rustls")]
            MaybeTlsStream::Rustls($s) => $e,
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
/// own writes, so Nagle would only add latency), the `CONNECT` tunnel when `proxy`
/// is given, then TLS for `wss://`. Returns the stream and the bytes the proxy sent
/// after its answer (input for the WebSocket client).
pub(crate) async fn open(
    url: &str,
    proxy: Option<&str>,
    options: &Options,
    tls_choice: TlsChoice,
) -> Result<(MaybeTlsStream, Vec<u8>), Error> {
    let (host, port, tls) = wsd_io::parse_target(url)?;
    #[cfg(not(feature = "rustls"))]
    let _ = tls_choice;
    #[cfg(not(feature = "rustls"))]
    if tls {
        return Err(TlsError::NotAvailable {
            hint: "turn on the `rustls` feature of wsd-tokio, or call wsd_tokio::client() \
                   with your own TLS stream",
        }
        .into());
    }
    let (tcp, input) = match proxy {
        Some(proxy) => {
            let (proxy_host, proxy_port) = wsd_io::proxy_target(proxy)?;
            let mut tcp = TcpStream::connect((proxy_host.as_str(), proxy_port)).await?;
            tcp.set_nodelay(true)?;
            let input = wsd_io::proxy_connect(
                &mut TokioIo(&mut tcp),
                &mut TokioTimer::default(),
                url,
                proxy,
                options,
            )
            .await?;
            (tcp, input)
        }
        None => (TcpStream::connect((host.as_str(), port)).await?, Vec::new()),
    };
    tcp.set_nodelay(true)?;
    if !tls {
        return Ok((MaybeTlsStream::Plain(tcp), input));
    }
    #[cfg(feature = "rustls")]
    {
        use std::sync::{Arc, OnceLock};
        if !input.is_empty() {
            // A TLS server speaks only after the ClientHello: these bytes cannot be
            // part of the tunnel to it.
            let unexpected = io::Error::new(
                io::ErrorKind::InvalidData,
                "the proxy sent data before the TLS handshake began",
            );
            return Err(TlsError::Failed(Box::new(unexpected)).into());
        }
        static DEFAULT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
        let config = tls_choice.config.unwrap_or_else(|| {
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
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|_| TlsError::InvalidServerName(host.clone()))?;
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| TlsError::Failed(Box::new(e)))?;
        Ok((MaybeTlsStream::Rustls(Box::new(stream)), input))
    }
    #[cfg(not(feature = "rustls"))]
    unreachable!("wss:// returned above without the rustls feature")
}
