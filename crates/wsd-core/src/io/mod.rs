//! Runtime-independent async glue: a [`Connection`](crate::Connection) driven over any
//! non-blocking byte stream, as a `Stream` of [`Message`]s and a `Sink` of them.
//!
//! This module (feature `io`) is written once and shared by the runtime adapters
//! (`wsd-tokio`, `wsd-async-std`, `wsd-smol`). It depends on no runtime: an adapter
//! implements [`Transport`] for its streams and [`Timer`] for its sleeps, and wraps
//! [`WebSocket`] and the handshake functions ([`accept_with`], [`client`]) with its
//! own types. All protocol decisions stay in the `Connection`; this module only moves
//! bytes, drives the one timer, and turns events into stream items.
//!
//! What the loop does, and why:
//!
//! - **Reading** happens only while the application polls the stream, straight into
//!   the connection's input buffer ([`Connection::read_input`](crate::Connection::read_input),
//!   no intermediate copy), in chunks of [`Config::read_buffer_size`], larger while a
//!   large frame arrives ([`Connection::read_size`](crate::Connection::read_size)).
//!   Every complete event is handed out before the next read. When a read would
//!   block and the output is written, the connection frees its empty buffers, so an
//!   idle connection holds none.
//! - **Writing** is batched: messages given to the sink are queued in the connection
//!   and written in one go when a read would block (the answers to everything one
//!   wake-up read go out together), when the queue passes
//!   [`Config::write_buffer_size`], when the sink is flushed, or when
//!   [`WebSocket::send`] finds no more buffered input to answer. Large payloads are
//!   not copied into the queue: header and payload go out in one vectored write.
//! - **Backpressure**: the sink is not ready while more than
//!   [`Config::max_write_buffer_size`] bytes wait to be written.
//! - **Ending**: after the closing handshake or a protocol error, the output (the close
//!   frame) is flushed, the write side shut down, and the input drained (at most 1 s
//!   and 64 KiB) before the stream ends, so the kernel never resets a connection with
//!   unread input and destroys the close frame.

mod adapter;
mod handshake;
mod proxy;
mod socket;
#[cfg(test)]
mod tests;

use core::fmt;
use core::task::{Context, Poll};
use std::io::{self, IoSlice};
use std::time::Instant;

use bytes::{Bytes, BytesMut};

use crate::{CloseCode, Options, Request, Usage, Utf8Bytes};

pub use handshake::{accept_with, client, client_with_input, parse_target};
pub use proxy::{client_via_proxy, proxy_connect, proxy_target};
pub use socket::WebSocket;

#[doc(hidden)]
pub use adapter::__private;

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
        let start = buf.len();
        buf.resize(start + max, 0);
        let result = self.poll_read(cx, &mut buf[start..]);
        let n = match result {
            Poll::Ready(Ok(n)) => n.min(max),
            _ => 0,
        };
        buf.truncate(start + n);
        result
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
    /// The size of each read (64 KiB; more while a large frame arrives). The buffer
    /// exists only while data is flowing. Against 32 KiB, 64 KiB reads halved the
    /// reads of a pipelining peer and served 64 KiB messages one in flight about 6%
    /// faster (`benches/REPORT.md`).
    pub read_buffer_size: usize,
    /// Queued output above this is written at once rather than batched (64 KiB:
    /// larger batches mean fewer writes for a pipelining peer; 128 KiB measured
    /// slower, 16 KiB about 14% slower at 64 x 1 KiB pipelined).
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

/// A message as the application sends and receives it, control frames included.
///
/// ```
/// # use wsd_core::io::Message;
/// let m = Message::text("hi");
/// assert_eq!(m.as_text(), Some("hi"));
/// assert!(!m.is_close());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping. Received pings are already answered; sent ones carry at most 125 bytes.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// A close frame. Received: the closing handshake completed (`None` when the
    /// peer's frame had no code). Sent: starts the closing handshake (`None` sends
    /// 1000).
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t.as_str()),
            _ => None,
        }
    }

    /// The payload bytes (empty for a close).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(t) => t.as_bytes(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b,
            Self::Close(_) => &[],
        }
    }

    /// True for a close message.
    pub fn is_close(&self) -> bool {
        matches!(self, Self::Close(_))
    }
}

impl From<crate::Message> for Message {
    fn from(message: crate::Message) -> Self {
        match message {
            crate::Message::Text(t) => Self::Text(t),
            crate::Message::Binary(b) => Self::Binary(b),
        }
    }
}

/// The code and reason of a close frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The close code. Received frames may carry 1006 (the transport ended or the
    /// peer did not answer in time) as browsers report it.
    pub code: CloseCode,
    /// The reason, at most 123 bytes when sent.
    pub reason: String,
}

/// What went wrong on a WebSocket.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed (includes the transport ending during the handshake).
    Io(io::Error),
    /// The peer broke the protocol, or the opening handshake failed.
    Protocol(crate::Error),
    /// The opening handshake did not complete within `Options::handshake_timeout`.
    HandshakeTimeout,
    /// The WebSocket is closing or closed: nothing more can be sent.
    Closed,
    /// A server answered the request with plain HTTP (`Decision::Respond`); not a
    /// failure, a server loop ignores it.
    Responded,
    /// The caller misused the API (a control payload too long, a close code that may
    /// not be sent, ...).
    Usage(Usage),
    /// The URL cannot be used (not `ws://` or `wss://`, or no host).
    Url(String),
    /// TLS is not available or could not be set up.
    Tls(String),
    /// The HTTP proxy refused the `CONNECT` request: its whole answer head, with the
    /// status (407: credentials missing or wrong; 403: destination not allowed) and
    /// headers (`Proxy-Authenticate`, ...).
    ProxyRefused(Box<crate::Response>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io(e) => write!(f, "I/O error: {e}"),
            Self::Protocol(e) => fmt::Display::fmt(e, f),
            Self::HandshakeTimeout => f.write_str("the opening handshake timed out"),
            Self::Closed => f.write_str("the WebSocket is closing or closed"),
            Self::Responded => f.write_str("the request was answered with plain HTTP"),
            Self::Usage(u) => fmt::Display::fmt(u, f),
            Self::Url(e) => write!(f, "invalid WebSocket URL: {e}"),
            Self::Tls(e) => write!(f, "TLS: {e}"),
            Self::ProxyRefused(r) => write!(
                f,
                "the proxy refused the CONNECT request: {} {}",
                r.status, r.reason
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io(e) => Some(e),
            Self::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<crate::Error> for Error {
    /// API misuse becomes [`Error::Closed`] or [`Error::Usage`]; the rest is protocol.
    fn from(e: crate::Error) -> Self {
        match e {
            crate::Error::Usage(Usage::Closed) => Self::Closed,
            crate::Error::Usage(u) => Self::Usage(u),
            crate::Error::HandshakeTimeout => Self::HandshakeTimeout,
            e => Self::Protocol(e),
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
    /// `accept_with` then returns [`Error::Responded`].
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
/// use wsd_core::io::{Decision, ServerConfig};
///
/// let mut config = ServerConfig::default();
/// config.options.handshake_timeout = Some(std::time::Duration::from_secs(5));
/// config.on_request = Some(Box::new(|request| {
///     if request.target == "/chat" {
///         Decision::Accept
///     } else {
///         Decision::Respond { status: 404, headers: vec![], body: b"not here\n".to_vec() }
///     }
/// }));
/// ```
#[derive(Default)]
pub struct ServerConfig {
    /// Connection options: limits on the request head, the handshake timeout,
    /// subprotocols, extensions.
    pub options: Options,
    /// Looks at each request before it is accepted; `None` accepts all.
    pub on_request: Option<RequestHook>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("options", &self.options)
            .field("on_request", &self.on_request.as_ref().map(|_| "FnMut"))
            .finish()
    }
}
