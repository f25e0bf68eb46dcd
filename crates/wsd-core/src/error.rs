//! The one error type of the driver, with nested detail from the layers below.

use core::fmt;

use wsd_extensions::{ExtensionError, NegotiationError, RegistryError};
use wsd_frame::ProtocolError;

/// Everything that can go wrong in the driver.
///
/// Peer misbehaviour and failed handshakes never come back as `Err` from an input
/// method: they arrive as [`Event::Error`](crate::Event::Error), followed by
/// [`Event::Close`](crate::Event::Close). `Err` from a command means the caller
/// misused the API ([`Error::Usage`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke an RFC 6455 framing rule.
    Protocol(ProtocolError),
    /// A text message, after an extension decoded it, is not UTF-8.
    InvalidUtf8,
    /// A message, after an extension decoded it, exceeds `max_length`.
    MessageTooLong {
        /// The configured maximum.
        limit: usize,
    },
    /// A legacy-draft peer broke its framing.
    Hixie(wsd_hixie::Error),
    /// An extension failed on a message.
    Extension(ExtensionError),
    /// Extension negotiation failed during the handshake.
    Negotiation(NegotiationError),
    /// The HTTP handshake failed: malformed, too large, or refused by the rules of
    /// RFC 6455 section 4.
    Handshake(wsd_handshake::Error),
    /// The server refused the client's handshake (our server, with this status).
    Rejected {
        /// The HTTP status sent.
        status: u16,
        /// The message sent as the body.
        message: String,
    },
    /// The opening handshake did not complete in time.
    HandshakeTimeout,
    /// The caller misused the API.
    Usage(Usage),
}

/// How the caller misused the API.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Usage {
    /// The connection is closing or closed: no more frames can be sent.
    Closed,
    /// `start` was called twice, or on a client whose handshake is under way.
    AlreadyStarted,
    /// A call that needs the HTTP request came before it arrived, or after the
    /// handshake.
    NotAwaitingRequest,
    /// Headers and extensions must be set before `start`.
    AfterStart,
    /// A ping, pong or close payload over 125 bytes (a close reason over 123).
    ControlPayloadTooLong(usize),
    /// A close code that may not be sent (1005, 1006, 1015, or outside the ranges).
    InvalidCloseCode(u16),
    /// The legacy draft in use cannot carry this kind of frame.
    NotSupportedByDraft(&'static str),
    /// A header name or value is not allowed.
    InvalidHeader(wsd_handshake::Error),
    /// Registering an extension failed.
    Extension(RegistryError),
    /// The URL cannot be used for a WebSocket client.
    InvalidUrl(String),
}

impl Error {
    /// A short description of the class of error, for logs.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Protocol(_)
            | Self::InvalidUtf8
            | Self::MessageTooLong { .. }
            | Self::Hixie(_) => "protocol error",
            Self::Extension(_) => "extension error",
            Self::Negotiation(_) | Self::Handshake(_) | Self::Rejected { .. } => "handshake error",
            Self::HandshakeTimeout => "timeout",
            Self::Usage(_) => "usage error",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => fmt::Display::fmt(e, f),
            Self::InvalidUtf8 => f.write_str("could not decode a text message as UTF-8"),
            Self::MessageTooLong { limit } => {
                write!(
                    f,
                    "decoded message exceeds the maximum length of {limit} bytes"
                )
            }
            Self::Hixie(e) => fmt::Display::fmt(e, f),
            Self::Extension(e) => fmt::Display::fmt(e, f),
            Self::Negotiation(e) => write!(f, "Error during WebSocket handshake: {e}"),
            Self::Handshake(e) => write!(f, "Error during WebSocket handshake: {e}"),
            Self::Rejected { status, message } => {
                write!(f, "handshake refused with HTTP {status}: {message}")
            }
            Self::HandshakeTimeout => f.write_str("the opening handshake timed out"),
            Self::Usage(u) => fmt::Display::fmt(u, f),
        }
    }
}

impl fmt::Display for Usage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Closed => f.write_str("the connection is closing or closed"),
            Self::AlreadyStarted => f.write_str("the handshake has already started"),
            Self::NotAwaitingRequest => f.write_str("no HTTP request is waiting for an answer"),
            Self::AfterStart => f.write_str("headers and extensions must be set before start"),
            Self::ControlPayloadTooLong(n) => {
                write!(f, "control frame payload of {n} bytes exceeds 125")
            }
            Self::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            Self::NotSupportedByDraft(what) => {
                write!(f, "the legacy draft in use cannot send {what}")
            }
            Self::InvalidHeader(e) => fmt::Display::fmt(e, f),
            Self::Extension(e) => fmt::Display::fmt(e, f),
            Self::InvalidUrl(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for Error {}

impl From<Usage> for Error {
    fn from(usage: Usage) -> Self {
        Self::Usage(usage)
    }
}
