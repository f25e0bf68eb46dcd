//! WebSocket over any async-std stream, driven by the sans-I/O `wsd-core` connection.
//!
//! [`accept`] and [`client`] run the opening handshake over any
//! `futures_io::AsyncRead + AsyncWrite` stream (TCP, TLS, Unix sockets, in-memory
//! pipes) and return a [`WebSocket`], which is a `Stream` of received [`Message`]s
//! and a `Sink` of messages to send. [`connect`] does DNS, TCP (with `TCP_NODELAY`)
//! for `ws://` URLs; for `wss://`, wrap the TCP stream in your TLS
//! library's stream and call [`client`].
//!
//! All protocol work happens in [`wsd_core::Connection`]; the I/O loop is the shared
//! [`wsd_core::io`] glue, and this crate only supplies async-std's streams and timers.
//!
//! # Example: an echo server
//!
//! ```no_run
//! use async_std::net::TcpListener;
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     async_std::task::spawn(async move {
//!         let Ok(mut ws) = wsd_async_std::accept(stream).await else { return };
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
//! use wsd_async_std::{CloseCode, Message};
//!
//! # async fn run() -> Result<(), wsd_async_std::Error> {
//! let mut ws = wsd_async_std::connect("ws://127.0.0.1:9001/").await?;
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
use core::task::{Context, Poll};
use std::io::{self, IoSlice};
use std::time::Instant;

use futures_io::{AsyncRead, AsyncWrite};

use wsd_core::io as glue;

pub use wsd_core::io::{CloseFrame, Config, Decision, Error, Message, RequestHook, ServerConfig};
pub use wsd_core::{Bytes, CloseCode, Options, Request, Utf8Bytes};

pub use async_std::net::TcpStream;

/// An async-std (futures-io) stream as the glue's transport.
struct Io<S>(S);

impl<S: AsyncRead + AsyncWrite + Unpin> glue::Transport for Io<S> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
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
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// async-std's clock and sleep; the sleep is allocated only while a deadline
/// exists, and made anew when the deadline changes (async-std's sleep cannot be
/// reset; deadlines change only at the handshake and the close).
#[derive(Default)]
struct Timer(Option<(Instant, Sleep)>);

/// async-std's boxed sleep future.
type Sleep = Pin<Box<dyn Future<Output = ()> + Send + Sync>>;

impl glue::Timer for Timer {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> Poll<()> {
        let Some(deadline) = deadline else {
            self.0 = None;
            return Poll::Pending;
        };
        if self.0.as_ref().is_none_or(|(at, _)| *at != deadline) {
            let sleep = async_std::task::sleep(deadline.saturating_duration_since(Instant::now()));
            self.0 = Some((deadline, Box::pin(sleep)));
        }
        match self.0.as_mut() {
            Some((_, sleep)) => sleep.as_mut().poll(cx),
            None => Poll::Pending,
        }
    }
}

wsd_core::adapter_websocket! {
    /// A WebSocket over the async-std stream `S`: a `Stream` of received messages and a
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
    /// # async fn run(stream: async_std::net::TcpStream) -> Result<(), wsd_async_std::Error> {
    /// let mut ws = wsd_async_std::accept(stream).await?;
    /// while let Some(message) = ws.next_message().await {
    ///     match message? {
    ///         wsd_async_std::Message::Close(_) => break,
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

/// Connects to a `ws://` URL with default options.
pub async fn connect(url: &str) -> Result<WebSocket<TcpStream>, Error> {
    connect_with(url, Options::default()).await
}

/// Connects to a `ws://` URL: DNS, TCP with `TCP_NODELAY` (the driver batches its
/// own writes, so Nagle would only add latency), then the handshake. `wss://` is
/// refused with [`Error::Tls`]: wrap a TCP stream in TLS and call [`client`].
pub async fn connect_with(url: &str, options: Options) -> Result<WebSocket<TcpStream>, Error> {
    let (host, port, tls) = glue::parse_target(url)?;
    if tls {
        return Err(Error::Tls(
            "wss:// is not built into wsd-async-std: connect TCP, wrap it in your TLS \
             library's stream and call client()"
                .into(),
        ));
    }
    let stream = TcpStream::connect((host.as_str(), port)).await?;
    stream.set_nodelay(true)?;
    client(url, stream, options).await
}

/// Connects to a `ws://` URL through the HTTP proxy `proxy` (for example
/// `http://user:pass@proxy.example:3128`): TCP to the proxy, a `CONNECT` request
/// (with `Proxy-Authorization: Basic` when the proxy URL has userinfo), then the
/// handshake inside the tunnel. A proxy answering anything but 2xx fails with
/// [`Error::ProxyRefused`], which carries its status and headers. `wss://` is
/// refused with [`Error::Tls`]: run [`wsd_core::io::proxy_connect`] on your own
/// stream, wrap it in TLS, and call [`client`].
pub async fn connect_via_proxy(
    url: &str,
    proxy: &str,
    options: Options,
) -> Result<WebSocket<TcpStream>, Error> {
    glue::parse_target(url)?;
    let (host, port) = glue::proxy_target(proxy)?;
    let stream = TcpStream::connect((host.as_str(), port)).await?;
    stream.set_nodelay(true)?;
    client_via_proxy(url, proxy, stream, options).await
}

/// Runs the `CONNECT` exchange for the `ws://` URL `url` through the HTTP proxy
/// `proxy` on `stream` (connected to the proxy), then the client handshake in the
/// tunnel.
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
