//! Connection options, shared by servers and clients.

use std::sync::Arc;
use std::time::Duration;

use wsd_extensions::Extension;
use wsd_handshake::Limits;

/// How a [`Connection`](crate::Connection) behaves. Start from `Options::default()`
/// and set the fields you need:
///
/// ```
/// let mut options = wsd_core::Options::default();
/// options.max_length = 1 << 20;
/// options.protocols = vec!["chat".into()];
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// The largest message accepted, in bytes: 2^26 - 1 (one byte short of 64 MiB) by
    /// default, as in `websocket-driver` (Node). A bigger message fails the connection
    /// with 1009, detected from the frame header before the payload is buffered, and
    /// checked again on the decoded size when an extension (compression) is active.
    /// 0 allows only empty messages (`websocket-driver` reads 0 as the default).
    pub max_length: usize,
    /// Subprotocols. A server picks the first one in the client's order that is in
    /// this list; a client offers them in this order.
    pub protocols: Vec<String>,
    /// Servers: require client frames to be masked (RFC 6455 section 5.1). On by
    /// default.
    pub require_masking: bool,
    /// Caps on the HTTP head (16 KiB and 128 headers by default).
    pub limits: Limits,
    /// How long the opening handshake may take, from the first
    /// [`poll_timeout`](crate::Connection::poll_timeout); `None` waits forever.
    /// 10 seconds by default.
    pub handshake_timeout: Option<Duration>,
    /// How long to wait for the peer's close frame after sending ours; then the
    /// connection closes with 1006. 10 seconds by default (`websocket-driver` (Node)
    /// waits forever).
    pub close_timeout: Option<Duration>,
    /// Keepalive pings (off by default): see [`Keepalive`]. A peer that is not
    /// heard from for `interval` gets a ping; if nothing at all arrives from it
    /// within `timeout` after that, the connection fails with 1011 and
    /// [`Error::KeepaliveTimeout`](crate::Error::KeepaliveTimeout), as python
    /// `websockets` does. `websocket-driver` (Node) has no keepalive. The pings are
    /// ordinary ones: their pongs come as [`Event::Pong`](crate::Event::Pong) with
    /// an id the application never saw.
    pub keepalive: Option<Keepalive>,
    /// Closes the connection with 1001 (Going Away) after this long without a data
    /// message (text or binary) in either direction; a message still arriving counts
    /// with each part of it, pings and pongs do not count.
    /// `None` (the default) never does. The closing handshake then runs as for
    /// [`Connection::close`](crate::Connection::close), bounded by
    /// [`close_timeout`](Self::close_timeout).
    pub idle_timeout: Option<Duration>,
    /// Clients: the `Origin` header to send.
    pub origin: Option<String>,
    /// Servers: accept the legacy Hixie-75 and Hixie-76 drafts. Off by default: the
    /// drafts have no masking and are unsafe on the open web.
    ///
    /// Needs the crate feature `drafts`, which compiles the drafts' code (and MD5, for
    /// the Hixie-76 key challenge) in. Without it this flag does nothing: a draft's
    /// request is refused like any request without RFC 6455's headers (400, or 426
    /// when its `Sec-WebSocket-Version` is not 13).
    pub allow_drafts: bool,
    /// Clients: a fixed seed for the masking-key generator, for reproducible tests.
    /// `None` (the default) seeds from the operating system, as RFC 6455 section 5.3
    /// requires for real traffic.
    pub mask_seed: Option<u64>,
    /// Extensions to negotiate, in order (`websocket-driver`'s (Node) `addExtension`).
    pub extensions: Vec<Arc<dyn Extension>>,
    /// Extra headers for the handshake request (clients) or the 101 response
    /// (servers), as [`Connection::set_header`](crate::Connection::set_header) would
    /// set them. A name or value with CR, LF or NUL fails the connection at once.
    pub headers: Vec<(String, String)>,
}

impl Options {
    /// The default `max_length`, 2^26 - 1.
    pub const DEFAULT_MAX_LENGTH: usize = (1 << 26) - 1;

    /// Checks what can be wrong with options before a connection uses them: a
    /// header name or value that is not allowed (CR, LF, NUL, or a handshake header
    /// the driver sets itself), or two extensions with one name. A connection built
    /// from invalid options fails at once with the same error; the async layer
    /// calls this first so the caller gets it before any I/O.
    ///
    /// ```
    /// let mut options = wsd_core::Options::default();
    /// assert!(options.validate().is_ok());
    /// options.headers.push(("X-Bad".into(), "a\r\nInjected: 1".into()));
    /// assert!(options.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), crate::Error> {
        self.check_timers()?;
        let mut headers = wsd_handshake::HeaderList::new();
        for (name, value) in &self.headers {
            headers
                .set(name, value)
                .map_err(crate::Usage::InvalidHeader)?;
        }
        let mut extensions = wsd_extensions::Extensions::new();
        for extension in &self.extensions {
            extensions
                .add(extension.clone())
                .map_err(crate::Usage::Extension)?;
        }
        Ok(())
    }
}

impl Options {
    /// Refuses zero durations where a zero would make a timer fire on every turn of
    /// the adapter's loop (a ping storm, or closing every connection at once).
    pub(crate) fn check_timers(&self) -> Result<(), crate::Usage> {
        let zero = |d: Option<Duration>| d.is_some_and(|d| d.is_zero());
        if let Some(keepalive) = self.keepalive {
            if keepalive.interval.is_zero() || keepalive.timeout.is_zero() {
                return Err(crate::Usage::InvalidTimer("keepalive"));
            }
        }
        if zero(self.idle_timeout) {
            return Err(crate::Usage::InvalidTimer("idle_timeout"));
        }
        Ok(())
    }
}

/// Keepalive pings: how often to check that the peer is alive, and how long it has
/// to answer (see [`Options::keepalive`]).
///
/// Anything the peer sends counts as life, not only the pong: a peer busy uploading
/// a large message is never taken for dead (the mistake of counting only pongs, or
/// counting from when a frame was queued, killed long uploads in some servers).
///
/// ```
/// use std::time::Duration;
/// let mut options = wsd_core::Options::default();
/// // As python websockets' defaults: a ping after 20 s of silence, 20 s to answer.
/// options.keepalive = Some(wsd_core::Keepalive::new(Duration::from_secs(20), Duration::from_secs(20)));
/// assert!(options.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Keepalive {
    /// How long the peer may be silent before we ping it. Above zero.
    pub interval: Duration,
    /// How long after the ping the peer has to send anything. Above zero.
    pub timeout: Duration,
}

impl Keepalive {
    /// A ping after `interval` of silence, failing the connection if the peer stays
    /// silent for `timeout` more.
    pub const fn new(interval: Duration, timeout: Duration) -> Self {
        Self { interval, timeout }
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            max_length: Self::DEFAULT_MAX_LENGTH,
            protocols: Vec::new(),
            require_masking: true,
            limits: Limits::default(),
            handshake_timeout: Some(Duration::from_secs(10)),
            close_timeout: Some(Duration::from_secs(10)),
            keepalive: None,
            idle_timeout: None,
            origin: None,
            allow_drafts: false,
            mask_seed: None,
            extensions: Vec::new(),
            headers: Vec::new(),
        }
    }
}
