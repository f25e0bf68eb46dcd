//! WebSocket over any tokio stream, driven by the sans-I/O `wsd-core` connection.
//!
//! [`accept`] and [`client`] run the opening handshake over any
//! `tokio::io::AsyncRead + AsyncWrite` stream (TCP, TLS, Unix sockets, in-memory
//! pipes) and return a [`WebSocket`], which is a `Stream` of received [`Message`]s
//! and a `Sink` of messages to send. [`connect`] does DNS, TCP (with `TCP_NODELAY`)
//! and, with the `rustls` feature, TLS for `wss://` URLs.
//!
//! All protocol work happens in [`wsd_core::Connection`]; the I/O loop is
//! [`wsd_io::WebSocket`], and this crate only supplies tokio's streams and timers
//! ([`TokioIo`], [`TokioTimer`]): [`WebSocket<S>`](WebSocket) is
//! `wsd_io::WebSocket<TokioIo<S>, TokioTimer>`, so code generic over `wsd_io` types
//! runs here too.
//!
//! # Example: a server and a client over an in-memory pipe
//!
//! ```
//! use wsd_tokio::{CloseCode, Message, Options};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), wsd_tokio::Error> {
//! let (server_end, client_end) = tokio::io::duplex(64 * 1024);
//! let server = tokio::spawn(async move {
//!     let mut ws = wsd_tokio::accept(server_end).await?;
//!     while let Some(message) = ws.next_message().await {
//!         let message = message?;
//!         if message.is_close() {
//!             break;
//!         }
//!         ws.send(message).await?;
//!     }
//!     Ok::<_, wsd_tokio::Error>(())
//! });
//!
//! let mut ws = wsd_tokio::client("ws://localhost/", client_end, Options::default()).await?;
//! ws.send(Message::text("hello")).await?;
//! let echo = ws.next_message().await.expect("an echo")?;
//! assert_eq!(echo.as_text(), Some("hello"));
//! ws.close(CloseCode::NORMAL, "bye").await?;
//! server.await.expect("the server task")?;
//! # Ok(())
//! # }
//! ```
//!
//! # Example: an echo server
//!
//! ```no_run
//! use tokio::net::TcpListener;
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let Ok(mut ws) = wsd_tokio::accept(stream).await else { return };
//!         while let Some(Ok(message)) = ws.next_message().await {
//!             if message.is_close() {
//!                 break;
//!             }
//!             if ws.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     });
//! }
//! # }
//! ```
//!
//! # Example: a client
//!
//! ```no_run
//! use wsd_tokio::{CloseCode, Message};
//!
//! # async fn run() -> Result<(), wsd_tokio::Error> {
//! let mut ws = wsd_tokio::connect("ws://127.0.0.1:9001/").await?;
//! ws.send(Message::text("hello")).await?;
//! if let Some(reply) = ws.next_message().await {
//!     println!("{:?}", reply?);
//! }
//! ws.close(CloseCode::NORMAL, "bye").await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
// Nothing derived from network input may panic: no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs, missing_debug_implementations)]

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::io::{self, IoSlice};
use std::time::Instant;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub use wsd_core::{Bytes, CloseCode, Connection, Options, Request, Utf8Bytes};
pub use wsd_io::{
    Accepted, ClientConfig, CloseFrame, Config, Decision, Error, Message, Next, ProxyEnv, Reply,
    RequestHook, ServerConfig, Shutdown, ShutdownToken, SocksError, TlsError, UrlError,
    WholeMessage,
};

mod request;
mod stream;
pub use request::connect_request;
pub use stream::MaybeTlsStream;

/// A tokio stream as a [`wsd_io::Transport`]: reads go into the connection's buffer
/// without zero-filling it first.
#[derive(Debug)]
pub struct TokioIo<S>(pub S);

impl<S: AsyncRead + AsyncWrite + Unpin> wsd_io::Transport for TokioIo<S> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        ready!(Pin::new(&mut self.0).poll_read(cx, &mut buf))?;
        Poll::Ready(Ok(buf.filled().len()))
    }

    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        // Into the spare capacity as it is: no zero-filling, unlike `poll_read`.
        buf.reserve(max);
        tokio_util::io::poll_read_buf(Pin::new(&mut self.0), cx, &mut (&mut *buf).limit(max))
    }

    fn read_zero_fills(&self) -> bool {
        false
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// tokio's clock and sleep as a [`wsd_io::Timer`]; the sleep is allocated only while
/// a deadline exists. Tests with paused time see the same instants as the driver.
#[derive(Default)]
pub struct TokioTimer(Option<Pin<Box<tokio::time::Sleep>>>);

impl core::fmt::Debug for TokioTimer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let deadline = self.0.as_ref().map(|sleep| sleep.deadline());
        f.debug_struct("TokioTimer")
            .field("deadline", &deadline)
            .finish()
    }
}

impl wsd_io::Timer for TokioTimer {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> Poll<()> {
        let Some(deadline) = deadline.map(tokio::time::Instant::from_std) else {
            self.0 = None;
            return Poll::Pending;
        };
        let sleep = self
            .0
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.deadline() != deadline {
            sleep.as_mut().reset(deadline);
        }
        sleep.as_mut().poll(cx)
    }
}

/// A WebSocket over the tokio stream `S`: a `Stream` of received messages and a
/// `Sink` of messages to send (see [`wsd_io::WebSocket`] for its methods).
///
/// ```no_run
/// # async fn run(stream: tokio::net::TcpStream) -> Result<(), wsd_tokio::Error> {
/// let mut ws = wsd_tokio::accept(stream).await?;
/// while let Some(message) = ws.next_message().await {
///     match message? {
///         message @ (wsd_tokio::Message::Text(_) | wsd_tokio::Message::Binary(_)) => {
///             ws.send(message).await?
///         }
///         _ => {}
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub type WebSocket<S> = wsd_io::WebSocket<TokioIo<S>, TokioTimer>;

/// The reading half of a [`WebSocket`] ([`wsd_io::WebSocket::split`]).
pub type ReadHalf<S> = wsd_io::ReadHalf<TokioIo<S>, TokioTimer>;

/// The writing half of a [`WebSocket`] ([`wsd_io::WebSocket::split`]).
pub type WriteHalf<S> = wsd_io::WriteHalf<TokioIo<S>, TokioTimer>;

/// Drives a [`Connection`] the caller set up over `stream`: a server connection
/// made from a request another HTTP stack (hyper, axum) answered, over the upgraded
/// stream, or any connection still in its handshake.
pub fn from_connection<S: AsyncRead + AsyncWrite + Unpin>(
    conn: Connection,
    stream: S,
    config: Config,
) -> WebSocket<S> {
    wsd_io::WebSocket::from_connection(conn, TokioIo(stream), TokioTimer::default(), config)
}

/// Runs the server handshake on `stream`, accepting any valid WebSocket request.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> Result<WebSocket<S>, Error> {
    wsd_io::accept(TokioIo(stream), TokioTimer::default()).await
}

/// Runs the server handshake on `stream` with `config`: the WebSocket, or
/// [`Accepted::Responded`] when the request hook answered with plain HTTP
/// ([`Decision::Respond`]; the answer was written and the stream shut down).
pub async fn accept_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: ServerConfig,
) -> Result<Accepted<WebSocket<S>>, Error> {
    wsd_io::accept_with(TokioIo(stream), TokioTimer::default(), config).await
}

/// Runs the client handshake for `url` over `stream`, which is already connected to
/// the server (wrapped in TLS by the caller for `wss://`). `config` is a
/// [`ClientConfig`] or just [`Options`].
pub async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    url: &str,
    stream: S,
    config: impl Into<ClientConfig>,
) -> Result<WebSocket<S>, Error> {
    wsd_io::client(url, TokioIo(stream), TokioTimer::default(), config).await
}

/// Connects to a `ws://` URL (or `wss://` with the `rustls` feature) with default
/// options.
pub async fn connect(url: &str) -> Result<WebSocket<MaybeTlsStream>, Error> {
    connect_with(url, Options::default()).await
}

/// Connects to a `ws://` URL (or `wss://` with the `rustls` feature): DNS, TCP with
/// `TCP_NODELAY` (the driver batches writes itself), TLS, then the handshake. The
/// steps before the handshake together, and the handshake, are each bounded by
/// `options.handshake_timeout` ([`Error::HandshakeTimeout`]).
pub async fn connect_with(url: &str, options: Options) -> Result<WebSocket<MaybeTlsStream>, Error> {
    connect_inner(url, None, options, stream::TlsChoice::default()).await
}

/// Connects to `url` through the proxy `proxy`: TCP to the proxy, then for
/// `http://user:pass@proxy.example:3128` a `CONNECT` request (with
/// `Proxy-Authorization: Basic` when the proxy URL has userinfo), for `https://`
/// the same inside TLS to the proxy (feature `rustls`), for `socks5://` or
/// `socks5h://` the SOCKS5 exchange (username and password from the userinfo);
/// then, inside the tunnel, TLS for `wss://` (feature `rustls`) and the WebSocket
/// handshake.
///
/// An HTTP proxy that answers with anything but 2xx fails with
/// [`Error::ProxyRefused`], which carries its status and headers; a SOCKS5 proxy's
/// refusal is [`Error::Socks`]:
///
/// ```no_run
/// # async fn run() {
/// let options = wsd_tokio::Options::default();
/// match wsd_tokio::connect_via_proxy("ws://example.com/", "http://proxy:3128", options).await {
///     Ok(ws) => drop(ws),
///     Err(wsd_tokio::Error::ProxyRefused(answer)) if answer.status == 407 => {
///         eprintln!("the proxy wants credentials: {:?}", answer.headers.get("proxy-authenticate"));
///     }
///     Err(e) => eprintln!("{e}"),
/// }
/// # }
/// ```
pub async fn connect_via_proxy(
    url: &str,
    proxy: &str,
    options: Options,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    connect_inner(url, Some(proxy), options, stream::TlsChoice::default()).await
}

/// Connects to `url` through the proxy the environment names for it (`http_proxy`
/// for `ws://`, `https_proxy` for `wss://`, `all_proxy`, unless `no_proxy` lists the
/// host; see [`wsd_io::ProxyEnv`]), or directly when none does. The environment is
/// read only here, when the caller asks: [`connect_with`] never reads it.
///
/// ```no_run
/// # async fn run() -> Result<(), wsd_tokio::Error> {
/// let ws = wsd_tokio::connect_with_env_proxy("ws://example.com/", Default::default()).await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect_with_env_proxy(
    url: &str,
    options: Options,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    let env = ProxyEnv::from_env();
    let choice = stream::TlsChoice::default();
    connect_inner(url, env.proxy_for(url), options, choice).await
}

/// [`connect_with`] with the caller's TLS configuration for `wss://` (its roots,
/// client certificates, ALPN), instead of one trusting the webpki roots.
/// `proxy`, when given, is used as in [`connect_via_proxy`]; an `https://` proxy's
/// certificate is checked with the same configuration.
#[cfg(feature = "rustls")]
pub async fn connect_with_tls(
    url: &str,
    proxy: Option<&str>,
    options: Options,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    let choice = stream::TlsChoice { config: Some(tls) };
    connect_inner(url, proxy, options, choice).await
}

/// Runs the proxy's exchange for `url` through `proxy` on `stream` (connected to
/// the proxy; an `https://` proxy's TLS already started), then the client handshake
/// in the tunnel. `ws://` only: for `wss://`, use [`connect_via_proxy`], which
/// starts TLS inside the tunnel.
pub async fn client_via_proxy<S: AsyncRead + AsyncWrite + Unpin>(
    url: &str,
    proxy: &str,
    stream: S,
    config: impl Into<ClientConfig>,
) -> Result<WebSocket<S>, Error> {
    wsd_io::client_via_proxy(url, proxy, TokioIo(stream), TokioTimer::default(), config).await
}

async fn connect_inner(
    url: &str,
    proxy: Option<&str>,
    options: Options,
    tls: stream::TlsChoice,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    // The core bounds the WebSocket handshake; DNS, TCP, the proxy and TLS before it
    // get the same bound, so a server that accepts and never speaks TLS cannot hang
    // the caller.
    let opening = stream::open(url, proxy, &options, tls);
    let (stream, input) = match options.handshake_timeout {
        Some(limit) => tokio::time::timeout(limit, opening)
            .await
            .map_err(|_| Error::HandshakeTimeout)??,
        None => opening.await?,
    };
    let timer = TokioTimer::default();
    wsd_io::client_with_input(url, TokioIo(stream), timer, options, &input).await
}
