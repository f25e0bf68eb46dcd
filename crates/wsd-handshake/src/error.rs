//! The crate's one error type and its detail enums.

use core::fmt;

use crate::head::Response;

/// Everything that can go wrong in this crate.
///
/// Variants group the failures by who caused them: the peer sent a malformed or oversized HTTP head
/// ([`Malformed`](Self::Malformed), [`HeadTooLarge`](Self::HeadTooLarge),
/// [`TooManyHeaders`](Self::TooManyHeaders)), the peer's handshake broke a WebSocket rule
/// ([`Request`](Self::Request), [`Response`](Self::Response), [`ProxyRefused`](Self::ProxyRefused)),
/// or the caller passed something we cannot put on the wire ([`InvalidHeader`](Self::InvalidHeader),
/// [`InvalidUrl`](Self::InvalidUrl), [`InvalidProtocol`](Self::InvalidProtocol)).
///
/// `Display` describes this crate's own findings, detail enums included; an error from another crate
/// that caused this one (httparse's, the url crate's) is not repeated in the text but returned by
/// [`source`](std::error::Error::source), so an error reporter that walks the chain prints each once.
/// The texts of [`Response`](Self::Response) and [`Request`](Self::Request) are those of
/// `websocket-driver` (Node) where it has one, for code that matches on them.
///
/// ```
/// use std::error::Error as _;
/// use wsd_handshake::{Error, Limits, Request};
///
/// let err = Request::parse(b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", &Limits::default()).unwrap_err();
/// assert_eq!(err.to_string(), "malformed HTTP head");
/// assert_eq!(err.source().unwrap().to_string(), "invalid header name"); // httparse's words
///
/// let err = wsd_handshake::client::parse_url("ws://example.com:99999/").unwrap_err();
/// assert_eq!(err.to_string(), "ws://example.com:99999/ is not a valid URL");
/// assert_eq!(err.source().unwrap().to_string(), "invalid port number");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The HTTP head is not valid HTTP/1.x; [`source`](std::error::Error::source) returns httparse's
    /// error.
    Malformed(Malformed),
    /// The head did not end within [`Limits::max_head_bytes`](crate::Limits::max_head_bytes) bytes.
    HeadTooLarge {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// The head has more than [`Limits::max_headers`](crate::Limits::max_headers) header lines.
    TooManyHeaders {
        /// The limit that was exceeded.
        limit: usize,
    },
    /// A header the caller wants to send could not be written safely.
    InvalidHeader(HeaderError),
    /// A URL given to the client or the proxy cannot be used.
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: UrlError,
    },
    /// A subprotocol name the client wants to offer is not an HTTP token.
    InvalidProtocol(String),
    /// The server rejected a client's opening handshake (RFC 6455 §4.2.1).
    Request(RequestError),
    /// The client rejected the server's handshake response (RFC 6455 §4.1).
    Response(ResponseError),
    /// The HTTP proxy answered `CONNECT` with a status other than 2xx.
    ///
    /// The whole response head is kept so the caller can inspect the status (for example a 407 and its
    /// `Proxy-Authenticate` header).
    ProxyRefused(Box<Response>),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The detail is httparse's error, returned by `source`.
            Self::Malformed(_) => f.write_str("malformed HTTP head"),
            Self::HeadTooLarge { limit } => {
                write!(f, "HTTP head is larger than the limit of {limit} bytes")
            }
            Self::TooManyHeaders { limit } => {
                write!(f, "HTTP head has more than the limit of {limit} headers")
            }
            Self::InvalidHeader(e) => write!(f, "invalid header: {e}"),
            // A parse error is returned by `source`; `UrlError::Syntax` displays as "URL".
            Self::InvalidUrl { url, reason } => write!(f, "{url} is not a valid {reason}"),
            Self::InvalidProtocol(p) => {
                write!(f, "subprotocol {p:?} is not a valid HTTP token")
            }
            Self::Request(e) => write!(f, "{e}"),
            Self::Response(e) => write!(f, "Error during WebSocket handshake: {e}"),
            Self::ProxyRefused(r) => write!(
                f,
                "proxy refused the CONNECT request: {} {}",
                r.status, r.reason
            ),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Malformed(m) => Some(m.httparse_error()),
            Self::InvalidUrl {
                reason: UrlError::Syntax(e),
                ..
            } => Some(e),
            _ => None,
        }
    }
}

impl From<RequestError> for Error {
    fn from(e: RequestError) -> Self {
        Self::Request(e)
    }
}

impl From<ResponseError> for Error {
    fn from(e: ResponseError) -> Self {
        Self::Response(e)
    }
}

impl From<HeaderError> for Error {
    fn from(e: HeaderError) -> Self {
        Self::InvalidHeader(e)
    }
}

/// Which part of an HTTP head failed to parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Malformed {
    /// A byte that is not allowed in a header name.
    HeaderName,
    /// A byte that is not allowed in a header value.
    HeaderValue,
    /// A line did not end in CRLF.
    NewLine,
    /// The response status code is not three digits.
    Status,
    /// The method or request target contains an invalid byte.
    Token,
    /// The HTTP version is not `HTTP/1.0` or `HTTP/1.1`.
    Version,
}

impl Malformed {
    /// The httparse error this detail stands for, as the error's source.
    fn httparse_error(self) -> &'static httparse::Error {
        match self {
            Self::HeaderName => &httparse::Error::HeaderName,
            Self::HeaderValue => &httparse::Error::HeaderValue,
            Self::NewLine => &httparse::Error::NewLine,
            Self::Status => &httparse::Error::Status,
            Self::Token => &httparse::Error::Token,
            Self::Version => &httparse::Error::Version,
        }
    }
}

impl fmt::Display for Malformed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::HeaderName => "invalid byte in a header name",
            Self::HeaderValue => "invalid byte in a header value",
            Self::NewLine => "invalid line ending",
            Self::Status => "invalid response status code",
            Self::Token => "invalid byte in the method or request target",
            Self::Version => "invalid HTTP version",
        })
    }
}

/// Why a header could not be added to an outgoing [`HeaderList`](crate::HeaderList).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// The name is empty or contains a byte that is not allowed in an HTTP token (RFC 9110 §5.1), such as
    /// `:`, a space, CR or LF.
    InvalidName(String),
    /// The value contains a control character: CR, LF or NUL, which would let it end the header line
    /// early (header injection), or another one that RFC 9110 §5.5 does not allow in a field value (a
    /// horizontal tab is allowed).
    InvalidValue {
        /// The header's name.
        name: String,
        /// The rejected value.
        value: String,
    },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidName(n) => write!(f, "header name {n:?} is not an HTTP token"),
            Self::InvalidValue { name, value } => {
                write!(
                    f,
                    "value {value:?} of header {name} contains a control character"
                )
            }
        }
    }
}

/// What is wrong with a URL given to the client or the proxy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum UrlError {
    /// The text is not a URL; the url crate's error is the [`Error`]'s source.
    Syntax(url::ParseError),
    /// The WebSocket URL's scheme is not `ws` or `wss`.
    NotWebSocket,
    /// The proxy URL has no host.
    NoProxyHost,
    /// The URL's path and query cannot be the request target of an `http` crate request.
    Target,
    /// The WebSocket URL's host is not an RFC 3986 host (the url crate lets `{`, `}`, `` ` `` and
    /// `"` into host names).
    Host(AuthorityError),
}

impl fmt::Display for UrlError {
    /// The words after "is not a valid" in [`Error::InvalidUrl`]'s text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax(_) => f.write_str("URL"),
            Self::NotWebSocket => f.write_str("WebSocket URL"),
            Self::NoProxyHost => f.write_str("proxy URL: it has no host"),
            Self::Target => f.write_str("request target"),
            Self::Host(e) => write!(f, "WebSocket URL: {e}"),
        }
    }
}

/// Why a server refuses a client's opening handshake.
///
/// [`server::negotiate`](crate::server::negotiate) returns it inside a
/// [`Rejection`](crate::server::Rejection), which also knows the HTTP status to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// The method is not `GET` (compared case-sensitively, as methods are).
    MethodNotGet(String),
    /// The request is HTTP/1.0; RFC 6455 §4.1 requires HTTP/1.1 or later.
    HttpVersion(u8),
    /// There is no `Upgrade` header.
    MissingUpgrade,
    /// The `Upgrade` header has no `websocket` token.
    UpgradeNotWebSocket(String),
    /// There is no `Connection` header.
    MissingConnection,
    /// The `Connection` header has no `upgrade` token.
    ConnectionNotUpgrade(String),
    /// The request target is neither in origin-form (`/path?query`) nor an absolute `http`, `https`,
    /// `ws` or `wss` URI (RFC 9112 §3.2).
    InvalidTarget {
        /// The request target as received.
        target: String,
        /// What form it has instead.
        reason: TargetError,
    },
    /// The request came over HTTP/2 or later (the version is named), where a WebSocket opens with an
    /// extended `CONNECT` (RFC 8441, RFC 9220; see [`extended_connect`](crate::extended_connect)), not
    /// with `GET` and `Upgrade`.
    NotHttp1(String),
    /// There is no `Host` header.
    MissingHost,
    /// There is more than one `Host` header (RFC 9112 §3.2 requires a 400 for that).
    DuplicateHost,
    /// The `Host` header is not `host[:port]` (RFC 9112 §3.2, RFC 3986 §3.2).
    InvalidHost {
        /// The header's value as received.
        host: String,
        /// What is wrong with it.
        reason: AuthorityError,
    },
    /// `Sec-WebSocket-Version` is absent or not exactly `13`; answered with 426.
    UnsupportedVersion(Option<String>),
    /// There is no `Sec-WebSocket-Key` header.
    MissingKey,
    /// An extended `CONNECT` request (RFC 8441) whose method is not `CONNECT`.
    MethodNotConnect(String),
    /// A `CONNECT` request without the `:protocol` pseudo-header: a plain tunnel request, not a
    /// WebSocket (RFC 8441 §4).
    MissingProtocol,
    /// The `:protocol` pseudo-header is not `websocket`; answered with 501 Not Implemented, as
    /// RFC 9220 §3 asks for a protocol the server does not support.
    ProtocolNotWebSocket(String),
    /// A pseudo-header an extended `CONNECT` must carry (`:scheme`, `:path` or `:authority`) is
    /// missing (RFC 8441 §4-5, RFC 9113 §8.3.1).
    MissingPseudoHeader(&'static str),
    /// `:scheme` is not `http` or `https` (RFC 8441 §5).
    InvalidScheme(String),
    /// `:authority` is not `host[:port]`, or has userinfo (RFC 9113 §8.3.1).
    InvalidAuthority {
        /// The pseudo-header's value as received.
        authority: String,
        /// What is wrong with it.
        reason: AuthorityError,
    },
    /// A `Host` header names another authority than `:authority` (RFC 9113 §8.3.1).
    HostMismatch {
        /// The `Host` header.
        host: String,
        /// The `:authority` pseudo-header.
        authority: String,
    },
    /// An HTTP/2 field name with an upper-case letter, a colon or a byte HTTP/2 does not allow, or a
    /// value with NUL, CR or LF (RFC 9113 §8.2.1).
    InvalidField(String),
    /// A connection-specific header (`Connection`, `Upgrade`, `Keep-Alive`, `Proxy-Connection`,
    /// `Transfer-Encoding`, or `TE` other than `trailers`), which makes an HTTP/2 request malformed
    /// (RFC 9113 §8.2.2; RFC 8441 §5 names `Connection` and `Upgrade`).
    ConnectionSpecificHeader(String),
    /// `Sec-WebSocket-Key` is not the base64 encoding of exactly 16 bytes.
    InvalidKey(String),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::MethodNotGet(m) => {
                write!(f, "Not a WebSocket request: method is {m}, not GET")
            }
            Self::HttpVersion(minor) => write!(
                f,
                "Not a WebSocket request: HTTP/1.{minor} is older than HTTP/1.1"
            ),
            Self::MissingUpgrade => f.write_str("Not a WebSocket request: no Upgrade header"),
            Self::UpgradeNotWebSocket(v) => write!(
                f,
                "Not a WebSocket request: Upgrade header {v:?} has no websocket token"
            ),
            Self::MissingConnection => f.write_str("Not a WebSocket request: no Connection header"),
            Self::ConnectionNotUpgrade(v) => write!(
                f,
                "Not a WebSocket request: Connection header {v:?} has no upgrade token"
            ),
            Self::InvalidTarget { target, reason } => {
                write!(f, "Invalid request target {target:?}: {reason}")
            }
            Self::NotHttp1(v) => write!(
                f,
                "Not a WebSocket request: {v} opens WebSockets with extended CONNECT, not GET"
            ),
            Self::MissingHost => f.write_str("Missing handshake request header: Host"),
            Self::DuplicateHost => {
                f.write_str("Invalid handshake request: more than one Host header")
            }
            Self::InvalidHost { host, reason } => {
                write!(f, "Invalid Host header {host:?}: {reason}")
            }
            Self::UnsupportedVersion(Some(v)) => write!(f, "Unsupported WebSocket version: {v}"),
            Self::UnsupportedVersion(None) => {
                f.write_str("Missing handshake request header: Sec-WebSocket-Version")
            }
            Self::MissingKey => f.write_str("Missing handshake request header: Sec-WebSocket-Key"),
            Self::MethodNotConnect(m) => write!(
                f,
                "Not a WebSocket request: method is {m}, not CONNECT (HTTP/2 and later)"
            ),
            Self::MissingProtocol => {
                f.write_str("Not a WebSocket request: CONNECT without a :protocol pseudo-header")
            }
            Self::ProtocolNotWebSocket(p) => {
                write!(
                    f,
                    "Not a WebSocket request: :protocol is {p:?}, not websocket"
                )
            }
            Self::MissingPseudoHeader(name) => {
                write!(f, "Missing handshake request pseudo-header: {name}")
            }
            Self::InvalidScheme(s) => write!(f, "Invalid :scheme {s:?}: not http or https"),
            Self::InvalidAuthority { authority, reason } => {
                write!(f, "Invalid :authority {authority:?}: {reason}")
            }
            Self::HostMismatch { host, authority } => write!(
                f,
                "Invalid handshake request: Host {host:?} differs from :authority {authority:?}"
            ),
            Self::InvalidField(name) => write!(
                f,
                "Invalid handshake request: field {name:?} is not allowed in HTTP/2"
            ),
            Self::ConnectionSpecificHeader(name) => write!(
                f,
                "Invalid handshake request: connection-specific header {name} in HTTP/2"
            ),
            Self::InvalidKey(k) => write!(
                f,
                "Invalid Sec-WebSocket-Key {k:?}: not the base64 encoding of 16 bytes"
            ),
        }
    }
}

impl std::error::Error for RequestError {}

/// What is wrong with a `Host` header or another authority (`host[:port]`, RFC 3986 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorityError {
    /// The host is empty (`""`, `:80`). RFC 3986 allows it, but a WebSocket URI always names a host.
    Empty,
    /// The authority has userinfo (`user@host`), which HTTP deprecates and a recipient must treat as
    /// an error (RFC 9110 §4.2.4).
    Userinfo,
    /// A `[` without its `]`, or brackets around something that is not an IPv6 address (or
    /// `IPvFuture`).
    IpLiteral,
    /// The host has a byte a host name may not have (a space, `/`, a non-ASCII byte, a `%` not
    /// followed by two hex digits).
    RegName,
    /// The port is not a decimal number from 0 to 65535 (an empty port, as in `host:`, is allowed).
    Port,
}

impl fmt::Display for AuthorityError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Empty => "the host is empty",
            Self::Userinfo => "it has userinfo (user@), which HTTP does not allow",
            Self::IpLiteral => "the bracketed IP literal is unclosed or not an IPv6 address",
            Self::RegName => "the host has a character a host name may not have",
            Self::Port => "the port is not a number from 0 to 65535",
        })
    }
}

/// What form a request target that a WebSocket server refuses has (RFC 9112 §3.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TargetError {
    /// `*`, the asterisk-form, which only `OPTIONS` uses.
    Asterisk,
    /// `host:port`, the authority-form, which only `CONNECT` uses.
    AuthorityForm,
    /// A relative reference such as `x` or `../x`: neither a path starting with `/` nor an absolute URI.
    Relative,
    /// An absolute URI whose scheme is not `http`, `https`, `ws` or `wss`.
    Scheme,
    /// An absolute URI without `//` and an authority (`http:/x`).
    MissingAuthority,
    /// An absolute URI whose authority is malformed.
    Authority(AuthorityError),
    /// A `#fragment`, which a request target never has.
    Fragment,
    /// An HTTP/2 `:path` that does not start with `/` (empty, or a whole URI).
    NotPath,
}

impl fmt::Display for TargetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Asterisk => f.write_str("the asterisk-form is for OPTIONS requests only"),
            Self::AuthorityForm => f.write_str("the authority-form is for CONNECT requests only"),
            Self::Relative => {
                f.write_str("it is neither a path starting with / nor an absolute URI")
            }
            Self::Scheme => f.write_str("the scheme is not http, https, ws or wss"),
            Self::MissingAuthority => f.write_str("the absolute URI has no //authority"),
            Self::Authority(e) => write!(f, "in its authority, {e}"),
            Self::Fragment => f.write_str("a request target may not have a #fragment"),
            Self::NotPath => f.write_str("an HTTP/2 :path must start with /"),
        }
    }
}

/// Why a client rejects the server's handshake response (RFC 6455 §4.1, checks in this order).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponseError {
    /// The status is not 101 Switching Protocols.
    UnexpectedStatus(u16),
    /// There is no `Upgrade` header.
    MissingUpgrade,
    /// The `Upgrade` header is not `websocket` (case-insensitive).
    UpgradeNotWebSocket(String),
    /// There is no `Connection` header.
    MissingConnection,
    /// The `Connection` header has no `upgrade` token.
    ConnectionNotUpgrade(String),
    /// There is no `Sec-WebSocket-Accept` header.
    MissingAccept,
    /// `Sec-WebSocket-Accept` does not match the key we sent.
    AcceptMismatch {
        /// The value derived from our key.
        expected: String,
        /// The value the server sent.
        received: String,
    },
    /// The server chose a subprotocol we did not offer (or sent one although we offered none).
    UnexpectedProtocol(String),
}

impl fmt::Display for ResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnexpectedStatus(s) => write!(f, "Unexpected response code: {s}"),
            Self::MissingUpgrade => f.write_str("'Upgrade' header is missing"),
            Self::UpgradeNotWebSocket(v) => {
                write!(f, "'Upgrade' header value {v:?} is not 'WebSocket'")
            }
            Self::MissingConnection => f.write_str("'Connection' header is missing"),
            Self::ConnectionNotUpgrade(v) => {
                write!(f, "'Connection' header value {v:?} has no 'Upgrade' token")
            }
            Self::MissingAccept => f.write_str("'Sec-WebSocket-Accept' header is missing"),
            Self::AcceptMismatch { expected, received } => write!(
                f,
                "Sec-WebSocket-Accept mismatch: expected {expected}, received {received}"
            ),
            Self::UnexpectedProtocol(p) => write!(
                f,
                "Sec-WebSocket-Protocol mismatch: server chose {p:?}, which we did not offer"
            ),
        }
    }
}

impl std::error::Error for ResponseError {}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::headers::Headers;

    /// Every message in `err`'s chain, outermost first.
    fn chain(err: &Error) -> Vec<String> {
        let mut messages = vec![err.to_string()];
        let mut source = err.source();
        while let Some(e) = source {
            messages.push(e.to_string());
            source = e.source();
        }
        messages
    }

    #[test]
    fn malformed_heads_chain_the_httparse_error() {
        for (detail, httparse) in [
            (Malformed::HeaderName, httparse::Error::HeaderName),
            (Malformed::HeaderValue, httparse::Error::HeaderValue),
            (Malformed::NewLine, httparse::Error::NewLine),
            (Malformed::Status, httparse::Error::Status),
            (Malformed::Token, httparse::Error::Token),
            (Malformed::Version, httparse::Error::Version),
        ] {
            let err = Error::Malformed(detail);
            assert_eq!(
                chain(&err),
                ["malformed HTTP head".to_owned(), httparse.to_string()]
            );
            let source = err
                .source()
                .and_then(|s| s.downcast_ref::<httparse::Error>());
            assert_eq!(source, Some(&httparse), "{detail:?}");
        }
    }

    #[test]
    fn url_syntax_errors_chain_the_url_crates_error() {
        let parse = url::Url::parse("ws://example.com:99999/").unwrap_err();
        let err = Error::InvalidUrl {
            url: "ws://example.com:99999/".to_owned(),
            reason: UrlError::Syntax(parse),
        };
        assert_eq!(
            chain(&err),
            [
                "ws://example.com:99999/ is not a valid URL",
                "invalid port number"
            ]
        );
        let source = err
            .source()
            .and_then(|s| s.downcast_ref::<url::ParseError>());
        assert_eq!(source, Some(&parse));
    }

    #[test]
    fn errors_without_a_foreign_cause_have_no_source_and_keep_their_text() {
        let mut headers = Headers::new();
        headers.push("Proxy-Authenticate", "Basic");
        let refused = Response {
            version: 1,
            status: 407,
            reason: "Proxy Authentication Required".to_owned(),
            headers,
        };
        for (err, text) in [
            (
                Error::Response(ResponseError::UnexpectedStatus(404)),
                "Error during WebSocket handshake: Unexpected response code: 404",
            ),
            (
                Error::Request(RequestError::MissingKey),
                "Missing handshake request header: Sec-WebSocket-Key",
            ),
            (
                Error::InvalidUrl {
                    url: "http://a.example/".to_owned(),
                    reason: UrlError::NotWebSocket,
                },
                "http://a.example/ is not a valid WebSocket URL",
            ),
            (
                Error::HeadTooLarge { limit: 10 },
                "HTTP head is larger than the limit of 10 bytes",
            ),
            (
                Error::ProxyRefused(Box::new(refused)),
                "proxy refused the CONNECT request: 407 Proxy Authentication Required",
            ),
        ] {
            assert_eq!(chain(&err), [text], "{err:?}");
        }
    }
}
