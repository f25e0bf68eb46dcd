//! [`Error`]: what went wrong on an async WebSocket, with its typed parts
//! [`UrlError`] and [`TlsError`].

use core::fmt;
use std::error::Error as StdError;
use std::io;

use wsd_core::{Response, Usage};

use crate::SocksError;

/// What went wrong on a WebSocket.
///
/// `source()` leads to the underlying error where there is one, and `Display` does
/// not repeat it; print the chain to see every layer:
///
/// ```
/// use std::error::Error as _;
/// let e = wsd_io::parse_target("http://example.com/").unwrap_err();
/// assert_eq!(e.to_string(), "invalid WebSocket URL http://example.com/");
/// assert_eq!(e.source().unwrap().to_string(), "the scheme is http, not ws or wss");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed, or ended during the handshake (shown as the I/O error
    /// itself).
    Io(io::Error),
    /// The peer broke the protocol, or the opening handshake failed (shown as the
    /// protocol error itself; its close code was sent).
    Protocol(wsd_core::Error),
    /// The opening handshake did not complete within `Options::handshake_timeout`.
    HandshakeTimeout,
    /// The peer sent nothing within `Options::keepalive`'s timeout after a keepalive
    /// ping: it is taken for dead. A close frame with 1011 was tried, without waiting
    /// for the peer, and the stream ends.
    KeepaliveTimeout,
    /// The WebSocket is closing or closed: nothing more can be sent.
    Closed,
    /// The caller misused the API (a control payload too long, a close code that may
    /// not be sent, invalid options, ...).
    Usage(Usage),
    /// The URL cannot be used.
    Url(UrlError),
    /// TLS is not available or failed.
    Tls(TlsError),
    /// The HTTP proxy refused the `CONNECT` request: its whole answer head, with the
    /// status (407: credentials missing or wrong; 403: destination not allowed) and
    /// headers (`Proxy-Authenticate`, ...).
    ProxyRefused(Box<Response>),
    /// The SOCKS5 proxy did not open the tunnel (shown as the [`SocksError`] itself).
    Socks(SocksError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Transparent: the inner error says it all, and `source()` skips it.
            Self::Io(e) => fmt::Display::fmt(e, f),
            Self::Protocol(e) => fmt::Display::fmt(e, f),
            Self::Usage(u) => fmt::Display::fmt(u, f),
            Self::HandshakeTimeout => f.write_str("the opening handshake timed out"),
            Self::KeepaliveTimeout => f.write_str("keepalive ping timeout"),
            Self::Closed => f.write_str("the WebSocket is closing or closed"),
            Self::Url(e) => write!(f, "invalid WebSocket URL {}", e.url),
            Self::Tls(e) => fmt::Display::fmt(e, f),
            Self::Socks(e) => fmt::Display::fmt(e, f),
            Self::ProxyRefused(r) => write!(
                f,
                "the proxy refused the CONNECT request: {} {}",
                r.status, r.reason
            ),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            // Transparent variants hand on their inner error's source.
            Self::Io(e) => e.source(),
            Self::Protocol(e) => e.source(),
            Self::Url(e) => Some(&e.kind),
            Self::Tls(e) => e.source(),
            Self::Usage(_)
            | Self::Socks(_)
            | Self::HandshakeTimeout
            | Self::KeepaliveTimeout
            | Self::Closed
            | Self::ProxyRefused(_) => None,
        }
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::Io(e)
    }
}

impl From<UrlError> for Error {
    fn from(e: UrlError) -> Self {
        Self::Url(e)
    }
}

impl From<TlsError> for Error {
    fn from(e: TlsError) -> Self {
        Self::Tls(e)
    }
}

impl From<wsd_core::Error> for Error {
    /// API misuse becomes [`Error::Closed`] or [`Error::Usage`], the timeouts
    /// [`Error::HandshakeTimeout`] and [`Error::KeepaliveTimeout`]; the rest is
    /// [`Error::Protocol`].
    fn from(e: wsd_core::Error) -> Self {
        match e {
            wsd_core::Error::Usage(Usage::Closed) => Self::Closed,
            wsd_core::Error::Usage(u) => Self::Usage(u),
            wsd_core::Error::HandshakeTimeout => Self::HandshakeTimeout,
            wsd_core::Error::KeepaliveTimeout => Self::KeepaliveTimeout,
            e => Self::Protocol(e),
        }
    }
}

/// A URL that cannot be used for a WebSocket (or its proxy): which one, and why
/// (its `source()`, a [`UrlErrorKind`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlError {
    /// The URL as given.
    pub url: String,
    /// What is wrong with it.
    pub kind: UrlErrorKind,
}

impl UrlError {
    pub(crate) fn new(url: &str, kind: UrlErrorKind) -> Self {
        Self {
            url: url.to_owned(),
            kind,
        }
    }
}

impl fmt::Display for UrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid URL {}: {}", self.url, self.kind)
    }
}

impl StdError for UrlError {}

/// Why a URL cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlErrorKind {
    /// It does not parse as a URL.
    Parse(url::ParseError),
    /// A WebSocket URL must be `ws://` or `wss://`.
    Scheme(String),
    /// A proxy URL must be `http://`, `https://`, `socks5://` or `socks5h://`.
    ProxyScheme(String),
    /// It names no host.
    NoHost,
    /// The handshake layer refused it (a fragment, say).
    Handshake(String),
}

impl fmt::Display for UrlErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Parse(e) => fmt::Display::fmt(e, f),
            Self::Scheme(s) => write!(f, "the scheme is {s}, not ws or wss"),
            Self::ProxyScheme(s) => write!(
                f,
                "the proxy scheme is {s}, not http, https, socks5 or socks5h"
            ),
            Self::NoHost => f.write_str("no host"),
            Self::Handshake(why) => f.write_str(why),
        }
    }
}

impl StdError for UrlErrorKind {}

/// TLS could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// This adapter has no TLS built in (or the feature that brings it is off):
    /// connect the transport, wrap it in your TLS library's stream, and run the
    /// client handshake over it.
    NotAvailable {
        /// What to do instead, for this adapter.
        hint: &'static str,
    },
    /// The URL's host is not a valid TLS server name.
    InvalidServerName(String),
    /// The TLS handshake or the TLS configuration failed (a certificate the client
    /// does not trust, say).
    Failed(Box<dyn StdError + Send + Sync>),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAvailable { hint } => write!(f, "wss:// (TLS) is not available here: {hint}"),
            Self::InvalidServerName(name) => write!(f, "{name} is not a valid TLS server name"),
            Self::Failed(_) => f.write_str("TLS failed"),
        }
    }
}

impl StdError for TlsError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Failed(e) => Some(&**e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every layer's text, outermost first, as a log line would join them.
    fn chain(e: &dyn StdError) -> Vec<String> {
        let mut out = vec![e.to_string()];
        let mut next = e.source();
        while let Some(e) = next {
            out.push(e.to_string());
            next = e.source();
        }
        out
    }

    #[test]
    fn url_errors_chain_without_repeating() {
        let e = crate::parse_target("ws://").unwrap_err();
        let texts = chain(&e);
        assert_eq!(texts[0], "invalid WebSocket URL ws://");
        assert_eq!(texts.len(), 2, "{texts:?}");
        assert!(!texts[1].contains("ws://"), "{texts:?}");
    }

    #[test]
    fn tls_failures_keep_their_cause() {
        let cause = io::Error::new(io::ErrorKind::InvalidData, "unknown issuer");
        let e = Error::Tls(TlsError::Failed(Box::new(cause)));
        assert_eq!(chain(&e), ["TLS failed", "unknown issuer"]);
    }

    #[test]
    fn io_errors_are_transparent() {
        let e = Error::from(io::Error::new(io::ErrorKind::ConnectionReset, "reset"));
        assert_eq!(chain(&e), ["reset"]);
    }
}
