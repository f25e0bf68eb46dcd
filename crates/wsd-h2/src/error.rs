//! [`Error`]: what went wrong opening an HTTP/2 connection or a WebSocket on it.

use core::fmt;
use std::error::Error as StdError;

/// What went wrong while opening an HTTP/2 connection, or a WebSocket stream on it.
///
/// A WebSocket that is open reports its own errors as [`wsd_io::Error`]; those of
/// its stream are I/O errors whose `source()` is the `h2::Error`.
///
/// ```
/// use std::error::Error as _;
///
/// let e = wsd_h2::Error::ConnectProtocolDisabled;
/// assert_eq!(
///     e.to_string(),
///     "the server does not allow WebSockets over HTTP/2 (no SETTINGS_ENABLE_CONNECT_PROTOCOL)"
/// );
/// assert!(e.source().is_none());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The HTTP/2 connection or the stream failed (shown as the h2 error itself).
    H2(h2::Error),
    /// The server did not send `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1`, so a client
    /// may not send an extended `CONNECT` (RFC 8441 section 3).
    ConnectProtocolDisabled,
    /// The WebSocket handshake failed: an invalid URL or options, a response that
    /// is not a valid answer (a status other than 200, a subprotocol we did not
    /// offer, extensions we cannot activate). Shown as the handshake error itself.
    Handshake(wsd_core::Error),
    /// Servers: the request was not a valid WebSocket `CONNECT` (or the options
    /// were invalid) and has been answered with the [`Refused`](wsd_core::Refused)
    /// status.
    Refused(wsd_core::Refused),
    /// The HTTP/2 connection ended before the exchange completed.
    ConnectionClosed,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Transparent: the inner error says it all, and `source()` skips it.
            Self::H2(e) => fmt::Display::fmt(e, f),
            Self::Handshake(e) => fmt::Display::fmt(e, f),
            Self::Refused(e) => fmt::Display::fmt(e, f),
            Self::ConnectProtocolDisabled => f.write_str(
                "the server does not allow WebSockets over HTTP/2 \
                 (no SETTINGS_ENABLE_CONNECT_PROTOCOL)",
            ),
            Self::ConnectionClosed => f.write_str("the HTTP/2 connection closed"),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            // Transparent variants hand on their inner error's source.
            Self::H2(e) => e.source(),
            Self::Handshake(e) => e.source(),
            Self::Refused(e) => e.source(),
            Self::ConnectProtocolDisabled | Self::ConnectionClosed => None,
        }
    }
}

impl From<h2::Error> for Error {
    fn from(e: h2::Error) -> Self {
        Self::H2(e)
    }
}

impl From<wsd_core::Error> for Error {
    fn from(e: wsd_core::Error) -> Self {
        Self::Handshake(e)
    }
}

impl From<wsd_core::Refused> for Error {
    fn from(e: wsd_core::Refused) -> Self {
        Self::Refused(e)
    }
}
