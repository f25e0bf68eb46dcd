//! [`Error`]: what can go wrong while hyper and wsd set a WebSocket up.

use core::fmt;
use std::error::Error as StdError;
use std::io;

use bytes::Bytes;
use http::header::{HeaderValue, UPGRADE};
use http::{Response, StatusCode, Version};
use http_body_util::Full;
use wsd_core::Refused;

/// What went wrong while setting a WebSocket up. Once it runs, the [`WebSocket`]'s
/// own errors are [`wsd_io::Error`]s.
///
/// As in the other wsd crates, `Display` does not repeat the text of the error's
/// [`source`](StdError::source): print the chain to see every layer.
///
/// ```
/// use std::error::Error as _;
///
/// let mut request = http::Request::post("/chat").body(()).unwrap();
/// let error = wsd_hyper::upgrade(&mut request).unwrap_err();
/// assert_eq!(error.to_string(), "the WebSocket request was refused with 400 Bad Request");
/// assert_eq!(error.source().unwrap().to_string(), "Not a WebSocket request: method is POST, not GET");
/// assert_eq!(error.to_response().status(), 400);
/// ```
///
/// [`WebSocket`]: crate::WebSocket
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Servers: the request is not a WebSocket request we accept (or the options are
    /// invalid); [`to_response`](Self::to_response) is the answer to send.
    Refused(Refused),
    /// Servers: a valid WebSocket request whose connection hyper cannot hand over:
    /// it was not read by hyper's HTTP/1.1 server (a request built by hand, say), or
    /// its upgrade was taken already. Answered with 426, as axum does.
    NotUpgradable,
    /// hyper failed: the client connection, sending the request, or the upgrade
    /// (the connection was served without `with_upgrades()`, or failed first).
    Hyper(hyper::Error),
    /// Clients: the server answered, but did not accept the WebSocket (a 404, a wrong
    /// `Sec-WebSocket-Accept`, a subprotocol we did not offer, ...): why, and the
    /// response head.
    Handshake {
        /// Why the response does not complete the handshake.
        error: wsd_core::Error,
        /// The response's status, headers and extensions.
        response: Box<http::response::Parts>,
    },
    /// Clients: the URL or the options cannot be used, the TCP connection failed, or
    /// the handshake timed out (`Options::handshake_timeout`).
    WebSocket(wsd_io::Error),
}

impl Error {
    /// The HTTP answer for a server to send when [`upgrade`](crate::upgrade) fails:
    /// the refusal's status (400, 426 for an unsupported version, 500 for invalid
    /// options) with its plain-text message, `Sec-WebSocket-Version: 13` with a 426,
    /// and `Connection: close`; 426 with `Upgrade: websocket` for
    /// [`NotUpgradable`](Self::NotUpgradable); a bare 500 for the errors only a
    /// client meets.
    ///
    /// ```
    /// let mut request = http::Request::get("/chat")
    ///     .header("host", "example.com")
    ///     .header("upgrade", "websocket")
    ///     .header("connection", "upgrade")
    ///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
    ///     .header("sec-websocket-version", "8")
    ///     .body(())
    ///     .unwrap();
    /// let response = wsd_hyper::upgrade(&mut request).unwrap_err().to_response();
    /// assert_eq!(response.status(), 426);
    /// assert_eq!(response.headers()["sec-websocket-version"], "13");
    /// ```
    pub fn to_response(&self) -> Response<Full<Bytes>> {
        match self {
            Self::Refused(refused) => {
                let rejection = refused.rejection();
                let body = Full::from(rejection.message.clone());
                rejection.to_http_response(Version::HTTP_11).map(|()| body)
            }
            Self::NotUpgradable => {
                let mut response = Response::new(Full::from(
                    "this connection cannot be upgraded to a WebSocket",
                ));
                *response.status_mut() = StatusCode::UPGRADE_REQUIRED;
                let websocket = HeaderValue::from_static("websocket");
                response.headers_mut().insert(UPGRADE, websocket);
                response
            }
            Self::Hyper(_) | Self::Handshake { .. } | Self::WebSocket(_) => {
                let mut response = Response::new(Full::default());
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response
            }
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Transparent: the inner error says it, and `source()` goes on from its source.
            Self::Refused(e) => fmt::Display::fmt(e, f),
            Self::Hyper(e) => fmt::Display::fmt(e, f),
            Self::WebSocket(e) => fmt::Display::fmt(e, f),
            Self::NotUpgradable => {
                f.write_str("hyper cannot hand this connection over to a WebSocket")
            }
            Self::Handshake { response, .. } => write!(
                f,
                "the server answered {} without accepting the WebSocket",
                response.status
            ),
        }
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            Self::Refused(e) => e.source(),
            Self::Hyper(e) => e.source(),
            Self::WebSocket(e) => e.source(),
            Self::Handshake { error, .. } => Some(error),
            Self::NotUpgradable => None,
        }
    }
}

impl From<Refused> for Error {
    fn from(refused: Refused) -> Self {
        Self::Refused(refused)
    }
}

impl From<hyper::Error> for Error {
    fn from(e: hyper::Error) -> Self {
        Self::Hyper(e)
    }
}

impl From<wsd_io::Error> for Error {
    fn from(e: wsd_io::Error) -> Self {
        Self::WebSocket(e)
    }
}

impl From<wsd_core::Error> for Error {
    /// As [`wsd_io::Error`] sorts it: misuse, the handshake timeout, the rest.
    fn from(e: wsd_core::Error) -> Self {
        Self::WebSocket(e.into())
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Self::WebSocket(e.into())
    }
}
