//! WebSocket over any tokio stream, driven by the sans-I/O `wsd-core` connection.
//!
//! [`accept`] and [`client`] run the opening handshake over any
//! `tokio::io::AsyncRead + AsyncWrite` stream (TCP, TLS, Unix sockets, in-memory
//! pipes) and return a [`WebSocket`], which is a `Stream` of received [`Message`]s
//! and a `Sink` of messages to send. [`connect`] does DNS, TCP (with `TCP_NODELAY`)
//! and, with the `rustls` feature, TLS for `wss://` URLs.
//!
//! All protocol work happens in [`wsd_core::Connection`]; the I/O loop is the shared
//! [`wsd_core::io`] glue, and this crate only supplies tokio's streams and timers.
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
#![warn(missing_docs, missing_debug_implementations)]

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::io::{self, IoSlice};
use std::time::Instant;

use bytes::{BufMut, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use wsd_core::io as glue;

pub use wsd_core::io::{CloseFrame, Config, Decision, Error, Message, RequestHook, ServerConfig};
pub use wsd_core::{Bytes, CloseCode, Options, Request, Utf8Bytes};

mod stream;
pub use stream::MaybeTlsStream;

/// A tokio stream as the glue's transport.
struct Io<S>(S);

impl<S: AsyncRead + AsyncWrite + Unpin> glue::Transport for Io<S> {
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

/// tokio's clock and sleep; the sleep is allocated only while a deadline exists.
#[derive(Default)]
struct Timer(Option<Pin<Box<tokio::time::Sleep>>>);

impl glue::Timer for Timer {
    fn now(&self) -> Instant {
        // tokio's clock, so tests with paused time see the same instants.
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

wsd_core::adapter_websocket! {
    /// A WebSocket over the tokio stream `S`: a `Stream` of received messages and a
    /// `Sink` of messages to send.
    ///
    /// Received items are `Ok(Text | Binary | Ping | Pong)` (pings are answered
    /// automatically), then `Ok(Message::Close(..))` once when the closing handshake
    /// completes, or `Err(Error::Protocol(..))` when the peer broke the protocol (the
    /// close frame has been sent), and then the stream ends.
    ///
    /// Sending queues the message and writes in batches: [`send`](Self::send) writes at
    /// once unless more received messages are waiting to be answered; polling the stream
    /// or flushing writes the rest.
    ///
    /// ```no_run
    /// # async fn run(stream: tokio::net::TcpStream) -> Result<(), wsd_tokio::Error> {
    /// let mut ws = wsd_tokio::accept(stream).await?;
    /// while let Some(message) = ws.next_message().await {
    ///     match message? {
    ///         wsd_tokio::Message::Close(_) => break,
    ///         message => ws.send(message).await?,
    ///     }
    /// }
    /// # Ok(())
    /// # }
    /// ```
    bounds: AsyncRead + AsyncWrite + Unpin
}

/// Runs the server handshake on `stream`, accepting any valid WebSocket request.
pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(stream: S) -> Result<WebSocket<S>, Error> {
    accept_with(stream, ServerConfig::default()).await
}

/// Runs the server handshake on `stream` with `config`. A
/// [`Decision::Respond`] writes the HTTP answer, shuts down and returns
/// [`Error::Responded`].
pub async fn accept_with<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    config: ServerConfig,
) -> Result<WebSocket<S>, Error> {
    glue::accept_with(Io(stream), Timer::default(), config)
        .await
        .map(WebSocket)
}

/// Runs the client handshake for `url` over `stream`, which is already connected to
/// the server (wrapped in TLS by the caller for `wss://`).
pub async fn client<S: AsyncRead + AsyncWrite + Unpin>(
    url: &str,
    stream: S,
    options: Options,
) -> Result<WebSocket<S>, Error> {
    glue::client(url, Io(stream), Timer::default(), options)
        .await
        .map(WebSocket)
}

/// Connects to a `ws://` URL (or `wss://` with the `rustls` feature) with default
/// options.
pub async fn connect(url: &str) -> Result<WebSocket<MaybeTlsStream>, Error> {
    connect_with(url, Options::default()).await
}

/// Connects to a `ws://` URL (or `wss://` with the `rustls` feature): DNS, TCP with
/// `TCP_NODELAY` (the driver batches writes itself), TLS, then the handshake.
pub async fn connect_with(url: &str, options: Options) -> Result<WebSocket<MaybeTlsStream>, Error> {
    connect_inner(url, None, options, stream::TlsChoice::default()).await
}

/// Connects to `url` through the HTTP proxy `proxy` (for example
/// `http://user:pass@proxy.example:3128`): TCP to the proxy, a `CONNECT` request
/// (with `Proxy-Authorization: Basic` when the proxy URL has userinfo), then, inside
/// the tunnel, TLS for `wss://` (feature `rustls`) and the WebSocket handshake.
///
/// A proxy that answers with anything but 2xx fails with [`Error::ProxyRefused`],
/// which carries its status and headers:
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

/// [`connect_with`] with the caller's TLS configuration for `wss://` (its roots,
/// client certificates, ALPN), instead of one trusting the webpki roots.
/// `proxy`, when given, is used as in [`connect_via_proxy`].
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

/// Runs the `CONNECT` exchange for `url` through the HTTP proxy `proxy` on `stream`
/// (connected to the proxy), then the client handshake in the tunnel. `ws://` only:
/// for `wss://`, use [`connect_via_proxy`], which starts TLS inside the tunnel.
pub async fn client_via_proxy<S: AsyncRead + AsyncWrite + Unpin>(
    url: &str,
    proxy: &str,
    stream: S,
    options: Options,
) -> Result<WebSocket<S>, Error> {
    glue::client_via_proxy(url, proxy, Io(stream), Timer::default(), options)
        .await
        .map(WebSocket)
}

async fn connect_inner(
    url: &str,
    proxy: Option<&str>,
    options: Options,
    tls: stream::TlsChoice,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    let (stream, input) = stream::open(url, proxy, &options, tls).await?;
    glue::client_with_input(url, Io(stream), Timer::default(), options, &input)
        .await
        .map(WebSocket)
}
