//! `connect` for smol and async-std: TCP on the async-io reactor, then through a
//! proxy (TLS to an `https://` one, then `CONNECT`; or SOCKS5), then TLS for
//! `wss://` (feature `rustls`), then the WebSocket handshake.

use core::future::{Future, poll_fn};
use core::pin::{Pin, pin};
use core::task::{Context, Poll};
use std::io::{self, IoSlice};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};

use super::{FuturesIo, WebSocket};
use crate::{AsyncIoTcp, AsyncIoTimer, ClientConfig, Error, ProxyKind, Timer, TlsError};

/// What [`connect`] opens: a TCP stream of the async-io reactor, or (feature
/// `rustls`) TLS over it.
#[derive(Debug)]
#[non_exhaustive]
pub enum MaybeTlsStream {
    /// `ws://`, directly or through an `http://` or SOCKS5 proxy.
    Plain(AsyncIoTcp),
    /// `wss://` through rustls; also `ws://` through an `https://` proxy (the TLS
    /// session is then the proxy's).
    #[cfg(feature = "rustls")]
    Rustls(Box<futures_rustls::client::TlsStream<AsyncIoTcp>>),
    /// `wss://` through an `https://` proxy: TLS to the server inside TLS to the
    /// proxy.
    #[cfg(feature = "rustls")]
    RustlsInTls(
        Box<futures_rustls::client::TlsStream<futures_rustls::client::TlsStream<AsyncIoTcp>>>,
    ),
}

impl MaybeTlsStream {
    /// The TCP stream underneath.
    pub fn tcp(&self) -> &AsyncIoTcp {
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
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
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
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_close(cx))
    }
}

/// The TLS client configuration [`connect`] uses for `wss://` servers and
/// `https://` proxies alike: by default (and always without the `rustls` feature)
/// one trusting the webpki roots.
///
/// ```
/// let tls = wsd_io::futures_io::ClientTls::default();
/// # let _ = tls;
/// ```
#[derive(Debug, Clone, Default)]
pub struct ClientTls {
    #[cfg(feature = "rustls")]
    config: Option<std::sync::Arc<rustls::ClientConfig>>,
}

#[cfg(feature = "rustls")]
impl ClientTls {
    /// The caller's configuration (its roots, client certificates), used for the
    /// server and for an `https://` proxy: one set of roots has to trust both.
    pub fn new(config: std::sync::Arc<rustls::ClientConfig>) -> Self {
        Self {
            config: Some(config),
        }
    }

    fn config(&self) -> std::sync::Arc<rustls::ClientConfig> {
        use std::sync::{Arc, OnceLock};
        static DEFAULT: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
        self.config.clone().unwrap_or_else(|| {
            Arc::clone(DEFAULT.get_or_init(|| {
                let roots = rustls::RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                // The ring provider, named: the process-wide default would be
                // ambiguous if another crate enabled a second provider.
                let provider = Arc::new(rustls::crypto::ring::default_provider());
                Arc::new(
                    rustls::ClientConfig::builder_with_provider(provider)
                        .with_safe_default_protocol_versions()
                        // The ring provider supports the safe defaults; the fallback
                        // is never taken.
                        .unwrap_or_else(|_| rustls::ClientConfig::builder())
                        .with_root_certificates(roots)
                        .with_no_client_auth(),
                )
            }))
        })
    }
}

/// Connects to `url`: TCP from `open(host, port)` (the runtime's DNS and connect),
/// through `proxy` when given, TLS for `wss://`, then the handshake. The steps
/// before the handshake together, and the handshake, are each bounded by
/// `options.handshake_timeout` ([`Error::HandshakeTimeout`]).
///
/// - `http://` proxies get a `CONNECT` request (with `Proxy-Authorization: Basic`
///   from the userinfo); `https://` ones the same inside TLS to the proxy, checked
///   with the same `tls` configuration as the server (feature `rustls`);
///   `socks5://` and `socks5h://` the SOCKS5 exchange. An HTTP proxy answering
///   anything but 2xx fails with [`Error::ProxyRefused`] (its status and headers).
/// - `wss://` (feature `rustls`) starts TLS to the server inside the tunnel.
///
/// Without the `rustls` feature, `wss://` and `https://` proxies fail with
/// [`Error::Tls`].
pub async fn connect<F>(
    url: &str,
    proxy: Option<&str>,
    config: impl Into<ClientConfig>,
    tls: &ClientTls,
    open: impl FnOnce(String, u16) -> F,
) -> Result<WebSocket<MaybeTlsStream>, Error>
where
    F: Future<Output = io::Result<AsyncIoTcp>>,
{
    let config = config.into();
    let opening = open_stream(url, proxy, &config.options, tls, open);
    let (stream, input) = bounded(config.options.handshake_timeout, opening).await?;
    let timer = AsyncIoTimer::default();
    crate::client_with_input(url, FuturesIo(stream), timer, config, &input).await
}

/// `future`, failing with [`Error::HandshakeTimeout`] once `limit` has passed.
async fn bounded<T>(
    limit: Option<Duration>,
    future: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let Some(limit) = limit else {
        return future.await;
    };
    let deadline = Instant::now().checked_add(limit);
    let mut timer = AsyncIoTimer::default();
    let mut future = pin!(future);
    poll_fn(|cx| {
        if let Poll::Ready(done) = future.as_mut().poll(cx) {
            return Poll::Ready(done);
        }
        timer
            .poll_deadline(cx, deadline)
            .map(|()| Err(Error::HandshakeTimeout))
    })
    .await
}

/// The stream for `url` and the bytes a proxy sent after its answer (input for the
/// WebSocket client).
async fn open_stream<F>(
    url: &str,
    proxy: Option<&str>,
    options: &wsd_core::Options,
    tls: &ClientTls,
    open: impl FnOnce(String, u16) -> F,
) -> Result<(MaybeTlsStream, Vec<u8>), Error>
where
    F: Future<Output = io::Result<AsyncIoTcp>>,
{
    let (host, port, wss) = crate::parse_target(url)?;
    let Some(proxy) = proxy else {
        let tcp = open(host.clone(), port).await?;
        return Ok((secure(tcp, wss, &host, tls).await?, Vec::new()));
    };
    let kind = ProxyKind::of(proxy)?;
    let (proxy_host, proxy_port) = crate::proxy_target(proxy)?;
    let mut tcp = open(proxy_host.clone(), proxy_port).await?;
    if kind != ProxyKind::Https {
        let input = tunnel(&mut tcp, url, proxy, options).await?;
        if wss {
            no_early_bytes(&input)?;
        }
        return Ok((secure(tcp, wss, &host, tls).await?, input));
    }
    #[cfg(not(feature = "rustls"))]
    {
        let _ = (options, tls, tcp);
        Err(TlsError::NotAvailable {
            hint: "an https:// proxy needs TLS: turn on the `rustls` feature",
        }
        .into())
    }
    #[cfg(feature = "rustls")]
    {
        let mut to_proxy = rustls_connect(tcp, &proxy_host, tls)
            .await
            .map_err(|e| proxy_tls_failed(e, &proxy_host, proxy_port))?;
        let input = tunnel(&mut to_proxy, url, proxy, options).await?;
        if !wss {
            return Ok((MaybeTlsStream::Rustls(Box::new(to_proxy)), input));
        }
        no_early_bytes(&input)?;
        let inner = rustls_connect(to_proxy, &host, tls).await?;
        Ok((MaybeTlsStream::RustlsInTls(Box::new(inner)), input))
    }
}

/// The proxy's part over `stream` (connected to the proxy).
async fn tunnel<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    url: &str,
    proxy: &str,
    options: &wsd_core::Options,
) -> Result<Vec<u8>, Error> {
    let mut timer = AsyncIoTimer::default();
    crate::tunnel(&mut FuturesIo(stream), &mut timer, url, proxy, options).await
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
    tcp: AsyncIoTcp,
    wss: bool,
    host: &str,
    tls: &ClientTls,
) -> Result<MaybeTlsStream, Error> {
    if !wss {
        return Ok(MaybeTlsStream::Plain(tcp));
    }
    #[cfg(feature = "rustls")]
    {
        let stream = rustls_connect(tcp, host, tls).await?;
        Ok(MaybeTlsStream::Rustls(Box::new(stream)))
    }
    #[cfg(not(feature = "rustls"))]
    {
        let _ = (host, tls);
        Err(TlsError::NotAvailable {
            hint: "turn on the `rustls` feature, or connect TCP, wrap it in your TLS \
                   library's stream and call client()",
        }
        .into())
    }
}

/// A TLS client session to `host` over `stream`.
#[cfg(feature = "rustls")]
async fn rustls_connect<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    host: &str,
    tls: &ClientTls,
) -> Result<futures_rustls::client::TlsStream<S>, Error> {
    let name = rustls::pki_types::ServerName::try_from(host.to_owned())
        .map_err(|_| TlsError::InvalidServerName(host.to_owned()))?;
    futures_rustls::TlsConnector::from(tls.config())
        .connect(name, stream)
        .await
        .map_err(|e| TlsError::Failed(Box::new(e)).into())
}

/// Says that the failed TLS session was the proxy's, which a bare certificate
/// error does not.
#[cfg(feature = "rustls")]
fn proxy_tls_failed(error: Error, host: &str, port: u16) -> Error {
    match error {
        Error::Tls(TlsError::Failed(source)) => TlsError::Failed(Box::new(ProxyTlsFailed {
            proxy: format!("{host}:{port}"),
            source,
        }))
        .into(),
        other => other,
    }
}

/// The TLS handshake with an `https://` proxy failed.
#[cfg(feature = "rustls")]
#[derive(Debug)]
struct ProxyTlsFailed {
    proxy: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

#[cfg(feature = "rustls")]
impl core::fmt::Display for ProxyTlsFailed {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "the TLS handshake with the proxy {} failed", self.proxy)
    }
}

#[cfg(feature = "rustls")]
impl std::error::Error for ProxyTlsFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}
