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
///
/// ```
/// use wsd_core::{Connection, Event, Options};
///
/// let mut client = Connection::client("ws://example.com/", Options::default()).unwrap();
/// client.start().unwrap();
/// client.handle_input(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
/// let Some(Event::Error(error)) = client.poll_event() else { panic!() };
/// assert_eq!(error.to_string(), "Error during WebSocket handshake: Unexpected response code: 404");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke an RFC 6455 framing rule.
    Protocol(ProtocolError),
    /// A text message, after an extension decoded it, is not UTF-8 (1007, "Could not
    /// decode a text frame as UTF-8").
    InvalidUtf8,
    /// A message, after an extension decoded it, exceeds `max_length` (1009,
    /// "WebSocket frame length too large").
    MessageTooLong {
        /// The configured maximum.
        limit: usize,
    },
    /// A legacy-draft peer broke its framing (feature `drafts`).
    #[cfg(feature = "drafts")]
    Hixie(wsd_hixie::Error),
    /// An extension failed on a message.
    Extension(ExtensionError),
    /// Extension negotiation failed during the handshake. Shown with the prefix
    /// "Error during WebSocket handshake: ", except for a malformed
    /// `Sec-WebSocket-Extensions` header, which reads as the server's 400 does.
    Negotiation(NegotiationError),
    /// The HTTP handshake failed: malformed, too large, or refused by the rules of
    /// RFC 6455 section 4. A refused request reads as the 400 (or 426) our server
    /// sent ("Unsupported WebSocket version: 8"); anything else starts with "Error
    /// during WebSocket handshake: " ("... Unexpected response code: 404").
    Handshake(wsd_handshake::Error),
    /// The server refused the client's handshake (our server, with this status).
    /// Shown as the message alone, the body of the response.
    Rejected {
        /// The HTTP status sent.
        status: u16,
        /// The message sent as the body.
        message: String,
    },
    /// The opening handshake did not complete in time.
    HandshakeTimeout,
    /// Keepalive: the peer sent nothing within
    /// [`Keepalive::timeout`](crate::Keepalive::timeout) after our ping. The
    /// connection fails with 1011 (Internal Error) and the reason "keepalive ping
    /// timeout", as python `websockets` does.
    KeepaliveTimeout,
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
    /// A timer option that would fire on every turn (a zero keepalive interval or
    /// timeout, a zero idle timeout); names the option.
    InvalidTimer(&'static str),
}

impl Error {
    /// A short description of the class of error, for logs.
    pub const fn kind(&self) -> &'static str {
        match self {
            Self::Protocol(_) | Self::InvalidUtf8 | Self::MessageTooLong { .. } => "protocol error",
            #[cfg(feature = "drafts")]
            Self::Hixie(_) => "protocol error",
            Self::Extension(_) => "extension error",
            Self::Negotiation(_) | Self::Handshake(_) | Self::Rejected { .. } => "handshake error",
            Self::HandshakeTimeout | Self::KeepaliveTimeout => "timeout",
            Self::Usage(_) => "usage error",
        }
    }
}

/// The start of `websocket-driver`'s (Node) text for a failed opening handshake.
const HANDSHAKE_PREFIX: &str = "Error during WebSocket handshake: ";

/// The texts are `websocket-driver`'s (Node) where it has one for the failure, so logs
/// and tests written against it keep matching ([the
/// differences](crate::differences#error-texts) list where they are not). A variant that wraps another layer's
/// error shows that error's text, so [`source`](std::error::Error::source) continues
/// with *that* error's source: walking the chain never prints a text twice.
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => fmt::Display::fmt(e, f),
            Self::InvalidUtf8 => f.write_str("Could not decode a text frame as UTF-8"),
            Self::MessageTooLong { .. } => f.write_str("WebSocket frame length too large"),
            #[cfg(feature = "drafts")]
            Self::Hixie(e) => fmt::Display::fmt(e, f),
            Self::Extension(e) => fmt::Display::fmt(e, f),
            // A malformed offer is the server's 400 text, without the prefix.
            Self::Negotiation(e @ NegotiationError::InvalidHeader(_)) => fmt::Display::fmt(e, f),
            Self::Negotiation(e) => write!(f, "{HANDSHAKE_PREFIX}{e}"),
            // A refused request reads as the 400's text; a refused response carries
            // the prefix already.
            Self::Handshake(
                e @ (wsd_handshake::Error::Request(_) | wsd_handshake::Error::Response(_)),
            ) => fmt::Display::fmt(e, f),
            Self::Handshake(e) => write!(f, "{HANDSHAKE_PREFIX}{e}"),
            Self::Rejected { message, .. } => f.write_str(message),
            Self::HandshakeTimeout => f.write_str("the opening handshake timed out"),
            Self::KeepaliveTimeout => f.write_str("keepalive ping timeout"),
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
            Self::InvalidTimer(option) => write!(f, "{option} must be longer than zero"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // Each wrapped error's text is this error's text (above), so the chain goes on
        // from the wrapped error's own source.
        match self {
            Self::Protocol(e) => e.source(),
            #[cfg(feature = "drafts")]
            Self::Hixie(e) => e.source(),
            Self::Extension(e) => e.source(),
            Self::Negotiation(e) => e.source(),
            Self::Handshake(e) => e.source(),
            Self::Usage(u) => u.source(),
            Self::InvalidUtf8
            | Self::MessageTooLong { .. }
            | Self::Rejected { .. }
            | Self::HandshakeTimeout
            | Self::KeepaliveTimeout => None,
        }
    }
}

impl std::error::Error for Usage {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidHeader(e) => e.source(),
            Self::Extension(e) => e.source(),
            _ => None,
        }
    }
}

impl From<Usage> for Error {
    fn from(usage: Usage) -> Self {
        Self::Usage(usage)
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use wsd_frame::CloseCode;

    use super::*;
    use crate::{Connection, Event, Options};

    /// The texts of `error` and of each error below it, outermost first.
    fn chain(error: &(dyn std::error::Error + 'static)) -> Vec<String> {
        let mut texts = Vec::new();
        let mut next = Some(error);
        while let Some(error) = next {
            texts.push(error.to_string());
            next = error.source();
        }
        texts
    }

    /// The error a server reports for `head`, which it cannot answer with a 101.
    fn server_error(head: &[u8]) -> Error {
        let mut server = Connection::server(Options::default());
        server.handle_input(head);
        let mut events = std::iter::from_fn(|| server.poll_event());
        match events.find(|event| matches!(event, Event::Error(_))) {
            Some(Event::Error(error)) => error,
            other => panic!("no error for {head:?}: {other:?}"),
        }
    }

    #[test]
    fn a_malformed_head_keeps_the_http_parser_s_error_as_its_source_and_no_text_twice() {
        let error = server_error(b"GET / HTTP/1.1\r\nno colon in this line\r\n\r\n");
        assert!(matches!(error, Error::Handshake(_)), "{error:?}");
        assert_eq!(error.kind(), "handshake error");
        let texts = chain(&error);
        assert_eq!(
            texts[0],
            "Error during WebSocket handshake: malformed HTTP head"
        );
        // The parser's own detail comes next, once.
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(!texts[0].contains(&texts[1]), "{texts:?}");
    }

    #[test]
    fn a_refused_request_is_the_rule_s_text_alone() {
        let mut server = Connection::server(Options::default());
        server.handle_input(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(server.poll_event(), Some(Event::Request));
        let error = server.start().unwrap_err();
        assert_eq!(
            chain(&error),
            ["Not a WebSocket request: no Upgrade header"]
        );
    }

    #[test]
    fn each_class_of_error_has_its_kind() {
        let extension = ExtensionError::invalid_data("bad block");
        let negotiation = NegotiationError::UnknownExtension { name: "x".into() };
        let cases = [
            (Error::InvalidUtf8, "protocol error"),
            (Error::MessageTooLong { limit: 1 }, "protocol error"),
            (
                Error::Protocol(ProtocolError::ReservedOpcode(3)),
                "protocol error",
            ),
            (Error::Extension(extension), "extension error"),
            (Error::Negotiation(negotiation), "handshake error"),
            (
                Error::Rejected {
                    status: 403,
                    message: "go away".into(),
                },
                "handshake error",
            ),
            (Error::HandshakeTimeout, "timeout"),
            (Error::KeepaliveTimeout, "timeout"),
            (Error::Usage(Usage::Closed), "usage error"),
        ];
        for (error, kind) in cases {
            assert_eq!(error.kind(), kind, "{error:?}");
        }
    }

    #[test]
    fn errors_of_the_driver_itself_read_as_websocket_driver_s_and_end_the_chain() {
        let cases = [
            (Error::InvalidUtf8, "Could not decode a text frame as UTF-8"),
            (
                Error::MessageTooLong { limit: 10 },
                "WebSocket frame length too large",
            ),
            (
                Error::Rejected {
                    status: 403,
                    message: "go away".into(),
                },
                "go away",
            ),
            (Error::HandshakeTimeout, "the opening handshake timed out"),
            (Error::KeepaliveTimeout, "keepalive ping timeout"),
        ];
        for (error, text) in cases {
            assert_eq!(chain(&error), [text]);
        }
    }

    #[test]
    fn wrapped_errors_show_the_wrapped_text_once() {
        let extension = ExtensionError::new(CloseCode::POLICY_VIOLATION, "no");
        let error = Error::Extension(extension.clone());
        assert_eq!(chain(&error), [extension.to_string()]);
        let protocol = ProtocolError::ReservedOpcode(3);
        assert_eq!(
            chain(&Error::Protocol(protocol.clone())),
            [protocol.to_string()]
        );
        // A failed negotiation carries the handshake prefix; a malformed offer reads
        // as the server's 400 did.
        let unknown = NegotiationError::UnknownExtension { name: "x".into() };
        assert_eq!(
            Error::Negotiation(unknown.clone()).to_string(),
            format!("Error during WebSocket handshake: {unknown}")
        );
        let malformed = wsd_extensions::parse_header("a; =b").unwrap_err();
        let negotiation = NegotiationError::InvalidHeader(malformed);
        assert_eq!(
            chain(&Error::Negotiation(negotiation.clone())),
            [negotiation.to_string()]
        );
    }

    #[test]
    fn usage_errors_name_what_was_wrong() {
        let cases = [
            (Usage::Closed, "the connection is closing or closed"),
            (Usage::AlreadyStarted, "the handshake has already started"),
            (
                Usage::NotAwaitingRequest,
                "no HTTP request is waiting for an answer",
            ),
            (
                Usage::AfterStart,
                "headers and extensions must be set before start",
            ),
            (
                Usage::ControlPayloadTooLong(126),
                "control frame payload of 126 bytes exceeds 125",
            ),
            (
                Usage::InvalidCloseCode(1005),
                "close code 1005 may not be sent",
            ),
            (
                Usage::NotSupportedByDraft("pings"),
                "the legacy draft in use cannot send pings",
            ),
            (Usage::InvalidUrl("no host".into()), "no host"),
            (
                Usage::InvalidTimer("idle_timeout"),
                "idle_timeout must be longer than zero",
            ),
            (
                Usage::Extension(RegistryError::DuplicateName("x".into())),
                "an extension named \"x\" is already registered",
            ),
        ];
        for (usage, text) in cases {
            let error = Error::from(usage.clone());
            assert_eq!(error.kind(), "usage error");
            assert_eq!(chain(&error), [text], "{usage:?}");
            assert!(usage.source().is_none());
        }
    }

    #[test]
    fn an_invalid_header_is_refused_with_the_header_layer_s_text() {
        let mut client = Connection::client("ws://example.com/", Options::default()).unwrap();
        let error = client.set_header("X-Bad", "a\r\nInjected: 1").unwrap_err();
        let Error::Usage(Usage::InvalidHeader(cause)) = &error else {
            panic!("{error:?}")
        };
        assert_eq!(chain(&error), chain(cause));
    }
}
