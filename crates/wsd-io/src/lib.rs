//! The async WebSocket of wsd: a sans-I/O [`Connection`] driven over any non-blocking
//! byte stream, as a `Stream` of [`Message`]s and a `Sink` of them.
//!
//! This crate is the one driver loop that every wsd runtime adapter shares. It
//! depends on no runtime: a [`Transport`] is the four poll methods of an async byte
//! stream, a [`Timer`] is a clock with a resettable sleep. `wsd-tokio` supplies
//! tokio's; this crate has a [`FuturesIo`] transport (feature `futures-io`: smol,
//! async-std, async-net streams), and an [`AsyncIoTimer`] and the readiness-based
//! [`AsyncIoTcp`] transport (feature `async-io`) that `wsd-smol` and
//! `wsd-async-std` use, with their shared `connect` (TLS with feature `rustls`). Generic code written against
//! [`WebSocket<T, Z>`](WebSocket) works on every runtime.
//!
//! All protocol decisions stay in the [`Connection`]; this crate only moves bytes,
//! drives the one timer, and turns events into stream items.
//!
//! # Sending
//!
//! As with tokio-tungstenite and axum, [`send`](WebSocket::send)`.await` returns once
//! the message is written to the transport and flushed (it is
//! [`SinkExt::send`](https://docs.rs/futures/latest/futures/sink/trait.SinkExt.html#method.send)).
//! [`feed`](WebSocket::feed) only queues it (waiting while the queue is full), so a
//! server answering a burst of messages writes the answers in one batch: the queue is
//! written when the stream next waits for input, when it passes
//! [`Config::write_buffer_size`], or on [`flush`](WebSocket::flush).
//!
//! # Closing
//!
//! [`close`](WebSocket::close) (and `Sink::poll_close`) sends a close frame and
//! flushes it. Messages the peer sent before its own close frame are still yielded by
//! the stream, then `Message::Close` once, and the stream ends after the transport is
//! shut down. A WebSocket can be [split](WebSocket::split) into a reading and a
//! writing half for two tasks.
//!
//! # Timeouts, shutdown and proxies
//!
//! The connection's timers (handshake, close, keepalive, idle: see `wsd_core`'s
//! `Options`) run while the stream (or the read half) is polled; a peer that stops
//! answering keepalive pings ends the stream with [`Error::KeepaliveTimeout`] at once,
//! without waiting for it to read a goodbye. A server stops gracefully with a
//! [`Shutdown`] switch that every connection watches ([`ServerConfig::shutdown`]):
//! close 1001 to each, then the stragglers are aborted after a grace period. Clients
//! reach servers through HTTP, HTTPS and SOCKS5 proxies with [`tunnel`], and
//! [`ProxyEnv`] reads the proxy environment variables when asked.
//!
//! # The loop, and why
//!
//! - **Reading** happens only while the application polls the stream, straight into
//!   the connection's input buffer ([`Connection::read_input`], no intermediate copy),
//!   in chunks of [`Config::read_buffer_size`], larger while a large frame arrives
//!   ([`Connection::read_size`]). Every complete event is handed out before the next
//!   read. When a read would block and the output is written, the connection frees
//!   its empty buffers, so an idle connection holds none.
//! - **Writing** is batched: large payloads are not copied into the queue; header and
//!   payload go out in one vectored write.
//! - **Backpressure**: the sink is not ready while more than
//!   [`Config::max_write_buffer_size`] bytes wait to be written, and the stream stops
//!   reading while the peer does not read our answers.
//! - **Ending**: after the closing handshake or a protocol error, the output (the close
//!   frame) is flushed, the write side shut down, and the input drained (at most 1 s
//!   and 64 KiB) before the stream ends, so the kernel never resets a connection with
//!   unread input and destroys the close frame.
//!
//! # Example: generic code for every runtime
//!
//! ```
//! use wsd_io::{Error, Message, Timer, Transport, WebSocket};
//!
//! /// Echoes text and binary messages until the peer closes; runs on tokio, smol
//! /// and async-std alike (`wsd_tokio::WebSocket<S>` is a `WebSocket<T, Z>`).
//! async fn echo<T: Transport, Z: Timer>(mut ws: WebSocket<T, Z>) -> Result<(), Error> {
//!     while let Some(message) = ws.next_message().await {
//!         match message? {
//!             // Queued, and written in one batch when no more input is waiting.
//!             message @ (Message::Text(_) | Message::Binary(_)) => ws.feed(message).await?,
//!             _ => {}
//!         }
//!     }
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]
// Nothing derived from network input may panic: no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs, missing_debug_implementations)]

#[cfg(feature = "async-io")]
mod async_io;
mod error;
/// futures-io streams (smol, async-std, async-net): the [`FuturesIo`] transport,
/// and with the `async-io` feature the constructors both runtimes' adapters share.
#[cfg(feature = "futures-io")]
pub mod futures_io;
mod handshake;
mod proxy;
mod shutdown;
mod socket;
mod socks;
mod split;
#[cfg(test)]
mod tests;

use core::fmt;
use core::task::{Context, Poll};
use std::io::{self, IoSlice};
use std::time::Instant;

use bytes::BytesMut;

#[cfg(feature = "async-io")]
pub use async_io::{AsyncIoTcp, AsyncIoTimer};
pub use error::{Error, TlsError, UrlError, UrlErrorKind};
#[cfg(feature = "futures-io")]
pub use futures_io::FuturesIo;
pub use handshake::{
    AcceptWith, Accepted, accept, accept_with, client, client_with_input, parse_target,
};
pub use proxy::{ProxyEnv, ProxyKind, client_via_proxy, proxy_target, tunnel};
pub use shutdown::{Shutdown, ShutdownReport, ShutdownToken};
pub use socket::{Next, WebSocket};
pub use socks::{Socks5, Socks5Status, SocksError};
pub use split::{ReadHalf, ReuniteError, WriteHalf};

pub use wsd_core::{
    Bytes, CloseCode, CloseFrame, Connection, Message, Options, Reply, Request, Response, Url,
    Usage, Utf8Bytes, WholeMessage,
};

/// A non-blocking byte stream, as the adapters' runtimes provide: the four poll
/// methods of `AsyncRead` + `AsyncWrite` with a plain `&mut [u8]` read buffer.
///
/// Implementations register the waker in `cx` whenever they return `Pending`.
pub trait Transport: Unpin {
    /// Reads into `buf`; `Ok(0)` means the read side ended.
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>>;

    /// Reads at most `max` bytes onto the end of `buf`; `Ok(0)` means the read side
    /// ended. The loop reads this way, straight into the connection's input buffer.
    /// By default it zero-fills the room and calls [`poll_read`](Self::poll_read);
    /// a runtime that can read into uninitialised memory overrides it.
    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        read_zero_filled(buf, max, |room| self.poll_read(cx, room))
    }

    /// Whether [`poll_read_buf`](Self::poll_read_buf) initialises the room it reads
    /// into (the default zero-fills it). The loop then sizes each read by what the
    /// last one returned (4 KiB up to [`Config::read_buffer_size`]) rather than
    /// always asking for the full size, so a connection trading small messages does
    /// not zero 64 KiB per message. Runtimes that read into uninitialised memory
    /// return `false`.
    fn read_zero_fills(&self) -> bool {
        true
    }

    /// Writes from `buf`; returns how many bytes were taken.
    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>>;

    /// Writes from several buffers at once; by default the first non-empty one.
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let first = bufs
            .iter()
            .find(|b| !b.is_empty())
            .map_or(&[][..], |b| &**b);
        self.poll_write(cx, first)
    }

    /// Flushes buffered writes (a TLS layer writes its records here).
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;

    /// Shuts the write side down (TCP FIN, TLS close_notify).
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// Zero-fills `max` bytes of room at the end of `buf`, reads into it with `read`,
/// and keeps what the read returned.
pub(crate) fn read_zero_filled(
    buf: &mut BytesMut,
    max: usize,
    read: impl FnOnce(&mut [u8]) -> Poll<io::Result<usize>>,
) -> Poll<io::Result<usize>> {
    let start = buf.len();
    buf.resize(start + max, 0);
    let result = read(&mut buf[start..]);
    let n = match result {
        Poll::Ready(Ok(n)) => n.min(max),
        _ => 0,
    };
    buf.truncate(start + n);
    result
}

/// The runtime's clock and a resettable sleep, for the connection's one deadline.
pub trait Timer: Unpin {
    /// The current time on the runtime's clock.
    fn now(&self) -> Instant;

    /// Ready once `deadline` has passed. `None` means no deadline: the timer may free
    /// its sleep and return `Pending` without registering a waker. Called with
    /// changing deadlines; the timer resets its sleep as needed.
    fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> Poll<()>;
}

/// Buffer sizes of the I/O loop. The defaults suit most servers and clients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The size of each read (64 KiB, plus 1 KiB of room for a frame header and
    /// more, so that a message of this size takes one read; more while a large frame
    /// arrives). The buffer exists only while data is flowing. 64 KiB reads measured faster than 32 KiB
    /// ones (the figures are in the repository's `benches/REPORT.md`).
    pub read_buffer_size: usize,
    /// Queued output above this is written at once rather than batched (64 KiB:
    /// larger batches mean fewer writes for a pipelining peer, and 64 KiB measured
    /// faster than 16 KiB or 128 KiB).
    pub write_buffer_size: usize,
    /// The sink stops accepting messages while more than this waits to be written
    /// (256 KiB); one message may take the queue past it.
    pub max_write_buffer_size: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            read_buffer_size: 64 * 1024,
            write_buffer_size: 64 * 1024,
            max_write_buffer_size: 256 * 1024,
        }
    }
}

/// What a server does with a request (see [`ServerConfig::on_request`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Accept the WebSocket (subprotocols as in `Options::protocols`).
    Accept,
    /// Accept, choosing this subprotocol if the client offered it.
    AcceptProtocol(String),
    /// Answer with plain HTTP instead (a page, a redirect, a 404) and close;
    /// [`accept_with`] then returns [`Accepted::Responded`].
    Respond {
        /// The HTTP status.
        status: u16,
        /// Extra headers (`Content-Length` and `Connection: close` are added).
        headers: Vec<(String, String)>,
        /// The body.
        body: Vec<u8>,
    },
}

/// The request hook of [`ServerConfig`].
pub type RequestHook = Box<dyn FnMut(&Request) -> Decision + Send>;

/// How a server accepts connections.
///
/// ```
/// use wsd_io::{Decision, ServerConfig};
///
/// let mut config = ServerConfig::default();
/// config.options.handshake_timeout = Some(std::time::Duration::from_secs(5));
/// config.io.max_write_buffer_size = 64 * 1024;
/// config.on_request = Some(Box::new(|request| {
///     if request.target == "/chat" {
///         Decision::Accept
///     } else {
///         Decision::Respond { status: 404, headers: vec![], body: b"not here\n".to_vec() }
///     }
/// }));
/// ```
#[derive(Default)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Connection options: limits on the request head, the handshake timeout,
    /// subprotocols, extensions.
    pub options: Options,
    /// The I/O loop's buffer sizes.
    pub io: Config,
    /// Looks at each request before it is accepted; `None` accepts all.
    pub on_request: Option<RequestHook>,
    /// A [`Shutdown`] switch every connection accepted with this configuration
    /// watches, from the handshake on; `None` (the default) watches none.
    pub shutdown: Option<ShutdownToken>,
}

impl ServerConfig {
    /// A configuration with these options, default buffers and no hook.
    pub fn new(options: Options) -> Self {
        Self {
            options,
            ..Self::default()
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("options", &self.options)
            .field("io", &self.io)
            .field("on_request", &self.on_request.as_ref().map(|_| "FnMut"))
            .field("shutdown", &self.shutdown)
            .finish()
    }
}

/// How a client connects: connection options and the I/O loop's buffer sizes.
///
/// ```
/// let mut config = wsd_io::ClientConfig::default();
/// config.options.protocols = vec!["chat".into()];
/// config.io.read_buffer_size = 16 * 1024;
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ClientConfig {
    /// Connection options: subprotocols, extensions, headers, timeouts, limits.
    pub options: Options,
    /// The I/O loop's buffer sizes.
    pub io: Config,
}

impl ClientConfig {
    /// A configuration with these options and default buffers.
    pub fn new(options: Options) -> Self {
        Self {
            options,
            io: Config::default(),
        }
    }
}

impl From<Options> for ClientConfig {
    fn from(options: Options) -> Self {
        Self::new(options)
    }
}
