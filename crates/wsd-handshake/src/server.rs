//! The server side of the opening handshake (RFC 6455 §4.2).
//!
//! Parse the request head with [`Request::parse`], pick the protocol family with [`detect_version`],
//! then for RFC 6455 call [`negotiate`] and write either [`Accepted::write_response`] or
//! [`Rejection::write_response`].

use core::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use sha1::{Digest as _, Sha1};

use crate::error::{Error, RequestError};
use crate::head::Request;
use crate::headers::{HeaderList, write_line};
use crate::negotiation::{
    Selection, answer_headers, check_values, check_version, extensions_answer, select,
};
use crate::uri::{check_authority, check_target};

/// The GUID RFC 6455 §1.3 appends to the key before hashing.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version this crate speaks (RFC 6455 §4.1).
pub const VERSION: &str = "13";

/// Which WebSocket protocol a request asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Draft {
    /// RFC 6455 (hybi-13).
    Rfc6455,
    /// draft-hixie-thewebsocketprotocol-76 (hybi-00).
    Hixie76,
    /// draft-hixie-thewebsocketprotocol-75.
    Hixie75,
}

/// Chooses the protocol as `websocket-driver` (Node) does: any `Sec-WebSocket-Version` or
/// `Sec-WebSocket-Key` header means RFC 6455; otherwise `Sec-WebSocket-Key1` or `Sec-WebSocket-Key2`
/// means Hixie-76; otherwise Hixie-75.
///
/// Only the presence of headers counts; [`negotiate`] validates them.
///
/// ```
/// use wsd_handshake::{Headers, Request, server::{detect_version, Draft}};
///
/// let mut headers = Headers::new();
/// headers.push("Sec-WebSocket-Key1", "4 @1  46546xW%0l 1 5");
/// let req = Request { method: "GET".into(), target: "/".into(), version: 1, headers };
/// assert_eq!(detect_version(&req), Draft::Hixie76);
/// ```
pub fn detect_version(request: &Request) -> Draft {
    let h = &request.headers;
    if h.contains("Sec-WebSocket-Version") || h.contains("Sec-WebSocket-Key") {
        Draft::Rfc6455
    } else if h.contains("Sec-WebSocket-Key1") || h.contains("Sec-WebSocket-Key2") {
        Draft::Hixie76
    } else {
        Draft::Hixie75
    }
}

/// Whether `request` asks to upgrade to WebSocket: method `GET`, a `Connection` header with an
/// `upgrade` token and an `Upgrade` header with a `websocket` token (both case-insensitive lists).
///
/// Unlike `isWebSocket` in `websocket-driver` (Node), `Upgrade: websocket, h2c` and tabs around
/// commas are accepted, as the list grammar of RFC 9110 §7.8 allows. Use it to tell WebSocket requests
/// from plain HTTP ones; [`negotiate`] applies the full RFC 6455 rules.
pub fn is_websocket_request(request: &Request) -> bool {
    request.method == "GET"
        && request.headers.contains_token("Connection", "upgrade")
        && request.headers.contains_token("Upgrade", "websocket")
}

/// The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key`: base64(SHA-1(key + [`GUID`])).
///
/// ```
/// use wsd_handshake::server::accept_key;
///
/// assert_eq!(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(GUID.as_bytes());
    BASE64.encode(sha.finalize())
}

/// A request that passed [`negotiate`]: what to put in the 101 response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Accepted {
    /// The `Sec-WebSocket-Accept` value.
    pub accept: String,
    /// The chosen subprotocol, if any.
    pub protocol: Option<String>,
    /// The raw `Sec-WebSocket-Extensions` offer (several headers joined with `", "`) for the extensions
    /// layer to negotiate.
    pub extensions_offer: Option<String>,
}

impl Accepted {
    /// The 101 answer as data, with `extensions` (the extensions layer's `Sec-WebSocket-Extensions`
    /// response, if any) trimmed and dropped when empty.
    ///
    /// ```
    /// use wsd_handshake::server::Accepted;
    ///
    /// let accepted = Accepted {
    ///     accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into(),
    ///     protocol: Some("chat".into()),
    ///     extensions_offer: Some("permessage-deflate".into()),
    /// };
    /// let answer = accepted.switching_protocols(Some("permessage-deflate"));
    /// assert_eq!(
    ///     answer.headers(),
    ///     [
    ///         ("Upgrade", "websocket"),
    ///         ("Connection", "Upgrade"),
    ///         ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
    ///         ("Sec-WebSocket-Protocol", "chat"),
    ///         ("Sec-WebSocket-Extensions", "permessage-deflate"),
    ///     ]
    /// );
    /// ```
    pub fn switching_protocols(&self, extensions: Option<&str>) -> SwitchingProtocols {
        SwitchingProtocols {
            accept: self.accept.clone(),
            protocol: self.protocol.clone(),
            extensions: extensions_answer(extensions),
        }
    }

    /// Appends the 101 response to `out`: [`switching_protocols`](Self::switching_protocols) with
    /// `extensions_response`, written by [`SwitchingProtocols::write`].
    ///
    /// Fails, writing nothing, if `extensions_response` contains a control character.
    pub fn write_response(
        &self,
        custom: &HeaderList,
        extensions_response: Option<&str>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.switching_protocols(extensions_response)
            .write(custom, out)
    }
}

/// The `101 Switching Protocols` answer to a WebSocket request, as data: what
/// [`Accepted::switching_protocols`] and [`upgrade`] build, for a caller to write with
/// [`write`](Self::write) or hand to its own HTTP stack (see [`headers`](Self::headers), and
/// `to_http_response` with the `http` feature).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchingProtocols {
    /// The `Sec-WebSocket-Accept` value.
    pub accept: String,
    /// The chosen subprotocol, if any.
    pub protocol: Option<String>,
    /// The `Sec-WebSocket-Extensions` response, if any.
    pub extensions: Option<String>,
}

/// Headers the 101 response always writes itself, so the caller's custom headers cannot replace them.
const HANDSHAKE_HEADERS: [&str; 5] = [
    "Upgrade",
    "Connection",
    "Sec-WebSocket-Accept",
    "Sec-WebSocket-Protocol",
    "Sec-WebSocket-Extensions",
];

impl SwitchingProtocols {
    /// The response headers in order: `Upgrade: websocket`, `Connection: Upgrade`,
    /// `Sec-WebSocket-Accept`, then `Sec-WebSocket-Protocol` and `Sec-WebSocket-Extensions` when set.
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        let mut headers = vec![
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", self.accept.as_str()),
        ];
        headers.extend(answer_headers(
            self.protocol.as_deref(),
            self.extensions.as_deref(),
        ));
        headers
    }

    /// Appends the response to `out`: `HTTP/1.1 101 Switching Protocols`, the caller's `custom`
    /// headers, [`headers`](Self::headers), then the blank line.
    ///
    /// Difference from `websocket-driver` (Node): Node lets a custom header named like one of the
    /// handshake headers (say `Upgrade`) replace the driver's, which breaks the handshake; here custom
    /// headers with those names are skipped. Otherwise the bytes are Node's.
    ///
    /// Fails, writing nothing, if a value contains a control character (the extensions response and
    /// the protocol are the caller's strings).
    pub fn write(&self, custom: &HeaderList, out: &mut Vec<u8>) -> Result<(), Error> {
        let headers = self.headers();
        check_values(headers.iter().copied())?;
        out.extend_from_slice(b"HTTP/1.1 101 Switching Protocols\r\n");
        custom.write_except(&HANDSHAKE_HEADERS, out);
        for (name, value) in headers {
            write_line(out, name, value);
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// A refused handshake: the HTTP status and message to answer with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    /// The HTTP status: 400, or 426 for an unsupported version.
    pub status: u16,
    /// The plain-text body, also fit for an error event.
    pub message: String,
    /// The failed rule, when the rejection came from [`negotiate`].
    pub reason: Option<RequestError>,
}

impl Rejection {
    /// A 400 Bad Request with `message`, for failures found outside [`negotiate`] (for example an
    /// invalid `Sec-WebSocket-Extensions` offer).
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: 400,
            message: message.into(),
            reason: None,
        }
    }

    /// Appends the HTTP response to `out`.
    ///
    /// `HTTP/1.1 <status> <reason>`, `Content-Type: text/plain`, `Content-Length`, for 426 also
    /// `Sec-WebSocket-Version: 13` (RFC 6455 §4.4), `Connection: close`, the blank line and the message.
    ///
    /// Differences from `websocket-driver` (Node): Node always answers 400 and sends neither
    /// `Sec-WebSocket-Version` nor `Connection: close`.
    ///
    /// ```
    /// use wsd_handshake::server::Rejection;
    ///
    /// let mut out = Vec::new();
    /// Rejection::bad_request("No").write_response(&mut out);
    /// assert_eq!(
    ///     out,
    ///     b"HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\
    ///       Connection: close\r\n\r\nNo"
    /// );
    /// ```
    pub fn write_response(&self, out: &mut Vec<u8>) {
        let status = format!(
            "HTTP/1.1 {} {}\r\n",
            self.status,
            reason_phrase(self.status)
        );
        out.extend_from_slice(status.as_bytes());
        let mut headers = self.headers().into_iter();
        // Content-Type first, then the length, as websocket-driver (Node) writes them.
        if let Some((name, value)) = headers.next() {
            write_line(out, name, value);
        }
        write_line(out, "Content-Length", &self.message.len().to_string());
        for (name, value) in headers {
            write_line(out, name, value);
        }
        write_line(out, "Connection", "close");
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(self.message.as_bytes());
    }

    /// The answer's headers that do not depend on the transport: `Content-Type: text/plain` (the
    /// body is [`message`](Self::message)) and, when the client asked for a version this crate does
    /// not speak, `Sec-WebSocket-Version: 13` (RFC 6455 §4.4). Over HTTP/1.1,
    /// [`write_response`](Self::write_response) adds `Content-Length` and `Connection: close`.
    ///
    /// ```
    /// use wsd_handshake::{RequestError, server::Rejection};
    ///
    /// let rejection = Rejection::from(RequestError::UnsupportedVersion(Some("8".into())));
    /// assert_eq!(rejection.status, 426);
    /// assert_eq!(
    ///     rejection.headers(),
    ///     [("Content-Type", "text/plain"), ("Sec-WebSocket-Version", "13")]
    /// );
    /// ```
    pub fn headers(&self) -> Vec<(&'static str, &'static str)> {
        let wrong_version =
            self.status == 426 || matches!(self.reason, Some(RequestError::UnsupportedVersion(_)));
        let mut headers = vec![("Content-Type", "text/plain")];
        if wrong_version {
            headers.push(("Sec-WebSocket-Version", VERSION));
        }
        headers
    }
}

impl From<RequestError> for Rejection {
    fn from(reason: RequestError) -> Self {
        let status = match reason {
            RequestError::UnsupportedVersion(_) => 426,
            _ => 400,
        };
        Self {
            status,
            message: reason.to_string(),
            reason: Some(reason),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status,
            reason_phrase(self.status),
            self.message
        )
    }
}

impl std::error::Error for Rejection {}

/// The standard reason phrase for an HTTP status (`"Error"` for codes without one
/// here).
///
/// ```
/// assert_eq!(wsd_handshake::reason_phrase(404), "Not Found");
/// ```
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        101 => "Switching Protocols",
        200 => "OK",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// Checks a client's opening handshake (RFC 6455 §4.2.1) and picks a subprotocol.
///
/// Checks, in order: method `GET`; HTTP/1.1 or later; a request target in origin-form (`/chat?x`) or
/// absolute-form (`ws://host/chat`); an `Upgrade` header with a `websocket` token; a `Connection`
/// header with an `upgrade` token; exactly one `Host` header, of the form `host[:port]`;
/// `Sec-WebSocket-Version` exactly `13` (else 426 Upgrade Required); a `Sec-WebSocket-Key` that is
/// base64 for exactly 16 bytes.
///
/// The target and `Host` rules are RFC 9112 §3.2's: a `Host` may be an IPv6 literal (`[::1]:8080`),
/// have an empty port (`host:`) or `%`-escapes and sub-delimiters in its name, but not spaces,
/// userinfo (`user@host`), an unclosed `[` or a port that is not a number; the asterisk-form (`*`),
/// the authority-form (`host:443`) and relative targets (`../x`) are refused. The path's characters
/// are not checked further, since browsers send `|` or a stray `%` as they are.
///
/// The subprotocol is the first one in the *client's* `Sec-WebSocket-Protocol` list that is also in
/// `protocols` (case-sensitive), as in `websocket-driver` (Node).
///
/// Differences from `websocket-driver` (Node), all following RFC 6455 and RFC 9112: it does not check
/// the HTTP version, the request target, `Host`, or the key's shape, and it compares `Upgrade` as a
/// whole value rather than a token list.
///
/// ```
/// use wsd_handshake::{Limits, Request, Status, server};
///
/// let buf = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///     Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: v2, v1\r\n\r\n";
/// let Status::Complete((req, _)) = Request::parse(buf, &Limits::default())? else { unreachable!() };
/// let accepted = server::negotiate(&req, &["v1", "v2"]).expect("valid request");
/// assert_eq!(accepted.protocol.as_deref(), Some("v2"));
/// assert_eq!(accepted.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// # Ok::<(), wsd_handshake::Error>(())
/// ```
pub fn negotiate<S: AsRef<str>>(request: &Request, protocols: &[S]) -> Result<Accepted, Rejection> {
    let h = &request.headers;
    if request.method != "GET" {
        return Err(RequestError::MethodNotGet(request.method.clone()).into());
    }
    if request.version < 1 {
        return Err(RequestError::HttpVersion(request.version).into());
    }
    if let Err(reason) = check_target(&request.target) {
        let target = request.target.clone();
        return Err(RequestError::InvalidTarget { target, reason }.into());
    }
    match h.get("Upgrade") {
        None => return Err(RequestError::MissingUpgrade.into()),
        Some(_) if h.contains_token("Upgrade", "websocket") => {}
        Some(v) => return Err(RequestError::UpgradeNotWebSocket(v.into_owned()).into()),
    }
    match h.get("Connection") {
        None => return Err(RequestError::MissingConnection.into()),
        Some(_) if h.contains_token("Connection", "upgrade") => {}
        Some(v) => return Err(RequestError::ConnectionNotUpgrade(v.into_owned()).into()),
    }
    let mut hosts = h.get_all("Host");
    match (hosts.next(), hosts.next()) {
        (None, _) => return Err(RequestError::MissingHost.into()),
        (Some(_), Some(_)) => return Err(RequestError::DuplicateHost.into()),
        (Some(host), None) => {
            if let Err(reason) = check_authority(host) {
                let host = host.to_owned();
                return Err(RequestError::InvalidHost { host, reason }.into());
            }
        }
    }
    check_version(h)?;
    let key = h.get("Sec-WebSocket-Key").ok_or(RequestError::MissingKey)?;
    if !BASE64.decode(key.as_bytes()).is_ok_and(|k| k.len() == 16) {
        return Err(RequestError::InvalidKey(key.into_owned()).into());
    }
    let Selection {
        protocol,
        extensions_offer,
    } = select(h, protocols);
    Ok(Accepted {
        accept: accept_key(&key),
        protocol,
        extensions_offer,
    })
}

/// [`negotiate`] and [`Accepted::switching_protocols`] in one step, for a server whose extensions
/// response does not depend on the offer (or that read the offer from the request's
/// `Sec-WebSocket-Extensions` itself): the 101's headers as data, or the rejection to answer with.
///
/// ```
/// use wsd_handshake::{Headers, Request, server};
///
/// let mut headers = Headers::new();
/// for (name, value) in [
///     ("Host", "example.com"),
///     ("Upgrade", "websocket"),
///     ("Connection", "Upgrade"),
///     ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
///     ("Sec-WebSocket-Version", "13"),
///     ("Sec-WebSocket-Protocol", "chat"),
/// ] {
///     headers.push(name, value);
/// }
/// let request = Request { method: "GET".into(), target: "/chat".into(), version: 1, headers };
/// let answer = server::upgrade(&request, &["chat"], None).expect("a valid request");
/// assert_eq!(answer.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// assert_eq!(answer.protocol.as_deref(), Some("chat"));
///
/// let refused = server::upgrade(&Request { method: "POST".into(), ..request }, &["chat"], None);
/// assert_eq!(refused.unwrap_err().status, 400);
/// ```
pub fn upgrade<S: AsRef<str>>(
    request: &Request,
    protocols: &[S],
    extensions: Option<&str>,
) -> Result<SwitchingProtocols, Rejection> {
    negotiate(request, protocols).map(|accepted| accepted.switching_protocols(extensions))
}

/// Asserts that `got` is `expected`: `Ok`, or the rejection with that status and reason (and the
/// reason's text as the message); `context` is printed on failure.
#[cfg(test)]
pub(crate) fn assert_rejection(
    got: Result<(), Rejection>,
    expected: Result<(), (u16, RequestError)>,
    context: &dyn fmt::Debug,
) {
    let expected = expected.map_err(|(status, reason)| Rejection {
        status,
        message: reason.to_string(),
        reason: Some(reason),
    });
    assert_eq!(got, expected, "{context:?}");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::head::Status;
    use crate::{AuthorityError, HeaderError, Headers, Limits, TargetError};

    const VALID: [(&str, &str); 5] = [
        ("Host", "example.com"),
        ("Upgrade", "websocket"),
        ("Connection", "Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("Sec-WebSocket-Version", "13"),
    ];

    /// A valid request with `changes` applied: a `None` value removes the header, `Some` replaces it
    /// (or appends it if absent).
    fn request_with(changes: &[(&str, Option<&str>)]) -> Request {
        let mut pairs: Vec<(String, String)> = VALID
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        for (name, value) in changes {
            let pos = pairs.iter().position(|(n, _)| n.eq_ignore_ascii_case(name));
            match (pos, value) {
                (Some(i), None) => drop(pairs.remove(i)),
                (Some(i), Some(v)) => pairs[i].1 = (*v).to_owned(),
                (None, Some(v)) => pairs.push(((*name).to_owned(), (*v).to_owned())),
                (None, None) => {}
            }
        }
        let mut headers = Headers::new();
        for (n, v) in pairs {
            headers.push(n, v);
        }
        Request {
            method: "GET".to_owned(),
            target: "/".to_owned(),
            version: 1,
            headers,
        }
    }

    fn check(request: &Request, expected: Result<(), (u16, RequestError)>) {
        assert_rejection(negotiate::<&str>(request, &[]).map(drop), expected, request);
    }

    #[test]
    fn accept_key_matches_the_rfc_and_websocket_driver_vectors() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(
            accept_key("JFBCWHksyIpXV+6Wlq/9pw=="),
            "JdiiuafpBKRqD7eol0y4vJDTsTs="
        );
        assert_eq!(
            accept_key("2vBVWg4Qyk3ZoM/5d3QD9Q=="),
            "QV3I5XUXU2CdhtjixE7QCkCcMZM="
        );
    }

    #[test]
    fn server_accepts_valid_requests() {
        check(&request_with(&[]), Ok(()));
        check(
            &request_with(&[("Connection", Some("keep-alive, Upgrade"))]),
            Ok(()),
        );
        check(&request_with(&[("Upgrade", Some("WebSocket"))]), Ok(()));
        check(
            &request_with(&[("Upgrade", Some("h2c,\twebsocket"))]),
            Ok(()),
        );
        check(
            &request_with(&[("Sec-WebSocket-Version", Some(" 13 "))]),
            Ok(()),
        );
    }

    #[test]
    fn server_rejects_each_broken_rule() {
        use RequestError as E;
        let mut post = request_with(&[]);
        post.method = "POST".to_owned();
        check(&post, Err((400, E::MethodNotGet("POST".to_owned()))));
        let mut lower = request_with(&[]);
        lower.method = "get".to_owned();
        check(&lower, Err((400, E::MethodNotGet("get".to_owned()))));
        let mut http10 = request_with(&[]);
        http10.version = 0;
        check(&http10, Err((400, E::HttpVersion(0))));
        check(
            &request_with(&[("Upgrade", None)]),
            Err((400, E::MissingUpgrade)),
        );
        check(
            &request_with(&[("Upgrade", Some("h2c"))]),
            Err((400, E::UpgradeNotWebSocket("h2c".to_owned()))),
        );
        check(
            &request_with(&[("Connection", None)]),
            Err((400, E::MissingConnection)),
        );
        check(
            &request_with(&[("Connection", Some("keep-alive"))]),
            Err((400, E::ConnectionNotUpgrade("keep-alive".to_owned()))),
        );
        check(&request_with(&[("Host", None)]), Err((400, E::MissingHost)));
        check(
            &request_with(&[("Sec-WebSocket-Version", None)]),
            Err((426, E::UnsupportedVersion(None))),
        );
        check(
            &request_with(&[("Sec-WebSocket-Version", Some("8"))]),
            Err((426, E::UnsupportedVersion(Some("8".to_owned())))),
        );
        check(
            &request_with(&[("Sec-WebSocket-Version", Some("13, 8"))]),
            Err((426, E::UnsupportedVersion(Some("13, 8".to_owned())))),
        );
        check(
            &request_with(&[("Sec-WebSocket-Key", None)]),
            Err((400, E::MissingKey)),
        );
        for bad in [
            "",
            "not base64!",
            "AAAAAAAAAAAAAAAAAAAA",
            "AAAAAAAAAAAAAAAAAAAAAAAAAA==",
        ] {
            check(
                &request_with(&[("Sec-WebSocket-Key", Some(bad))]),
                Err((400, E::InvalidKey(bad.to_owned()))),
            );
        }
    }

    fn with_target(target: &str) -> Request {
        Request {
            target: target.to_owned(),
            ..request_with(&[])
        }
    }

    #[test]
    fn server_accepts_odd_but_valid_hosts_and_targets() {
        for host in [
            "[::1]:8080",
            "[::1]",
            "example.com:",
            "caf%C3%A9.example",
            "a!$&'()*+,;=b:80",
            "127.0.0.1:9000",
        ] {
            check(&request_with(&[("Host", Some(host))]), Ok(()));
        }
        for target in [
            "/chat?room=1",
            "//x",
            "http://example.com/chat",
            "ws://example.com",
            "wss://[::1]:9000/chat?x",
        ] {
            check(&with_target(target), Ok(()));
        }
    }

    #[test]
    fn server_rejects_malformed_hosts_with_400() {
        use AuthorityError as A;
        for (host, reason) in [
            ("exa mple.com", A::RegName),
            ("[::1", A::IpLiteral),
            ("[::1]:x", A::Port),
            ("example.com:http", A::Port),
            ("example.com:-80", A::Port),
            ("user@example.com", A::Userinfo),
            ("", A::Empty),
            (":8080", A::Empty),
        ] {
            let error = RequestError::InvalidHost {
                host: host.to_owned(),
                reason,
            };
            check(&request_with(&[("Host", Some(host))]), Err((400, error)));
        }
        let mut twice = request_with(&[]);
        twice.headers.push("host", "example.com");
        check(&twice, Err((400, RequestError::DuplicateHost)));
    }

    #[test]
    fn server_rejects_targets_of_other_forms_with_400() {
        use TargetError as T;
        for (target, reason) in [
            ("*", T::Asterisk),
            ("../x", T::Relative),
            ("x", T::Relative),
            ("example.com:443", T::AuthorityForm),
            ("ftp://example.com/", T::Scheme),
            ("/chat#top", T::Fragment),
            (
                "ws://user@example.com/",
                T::Authority(AuthorityError::Userinfo),
            ),
        ] {
            let error = RequestError::InvalidTarget {
                target: target.to_owned(),
                reason,
            };
            check(&with_target(target), Err((400, error)));
        }
    }

    #[test]
    fn host_and_target_rejections_say_what_was_wrong() {
        let rejection =
            negotiate::<&str>(&request_with(&[("Host", Some("[::1"))]), &[]).unwrap_err();
        assert_eq!(
            rejection.message,
            "Invalid Host header \"[::1\": the bracketed IP literal is unclosed or not an IPv6 address"
        );
        let rejection = negotiate::<&str>(&with_target("*"), &[]).unwrap_err();
        assert_eq!(
            rejection.message,
            "Invalid request target \"*\": the asterisk-form is for OPTIONS requests only"
        );
    }

    #[test]
    fn server_picks_the_first_protocol_in_client_order() {
        let check = |offer: Option<&str>, supported: &[&str], expected: Option<&str>| {
            let req = request_with(&[("Sec-WebSocket-Protocol", offer)]);
            let got = negotiate(&req, supported).unwrap().protocol;
            assert_eq!(got.as_deref(), expected, "{offer:?} vs {supported:?}");
        };
        check(Some("a, b"), &["b", "a"], Some("a"));
        check(Some("c ,  b"), &["a", "b"], Some("b"));
        check(Some("a"), &["A"], None);
        check(Some("x"), &["a"], None);
        check(None, &["a"], None);
        check(Some("a"), &[], None);
    }

    #[test]
    fn server_splits_long_space_runs_in_linear_time() {
        let spaces = " ".repeat(100_000);
        let connection = format!("keep-alive{spaces},{spaces}Upgrade{spaces}");
        let protocols = format!("{spaces}x{spaces},{spaces}chat{spaces}");
        let req = request_with(&[
            ("Connection", Some(connection.as_str())),
            ("Sec-WebSocket-Protocol", Some(protocols.as_str())),
        ]);
        assert!(is_websocket_request(&req));
        let accepted = negotiate(&req, &["chat"]).unwrap();
        assert_eq!(accepted.protocol.as_deref(), Some("chat"));
    }

    #[test]
    fn server_passes_the_raw_extension_offer_on() {
        let mut req = request_with(&[("Sec-WebSocket-Extensions", Some("permessage-deflate"))]);
        req.headers.push("sec-websocket-extensions", "x-foo; a=1");
        let accepted = negotiate::<&str>(&req, &[]).unwrap();
        assert_eq!(
            accepted.extensions_offer.as_deref(),
            Some("permessage-deflate, x-foo; a=1")
        );
        assert_eq!(
            negotiate::<&str>(&request_with(&[]), &[])
                .unwrap()
                .extensions_offer,
            None
        );
    }

    #[test]
    fn server_writes_the_101_response() {
        let accepted = Accepted {
            accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_owned(),
            protocol: Some("chat".to_owned()),
            extensions_offer: None,
        };
        let mut custom = HeaderList::new();
        custom.set("Server", "wsd").unwrap();
        custom.set("upgrade", "h2c").unwrap();
        let mut out = Vec::new();
        accepted
            .write_response(&custom, Some("permessage-deflate"), &mut out)
            .unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 101 Switching Protocols\r\n\
             Server: wsd\r\n\
             Upgrade: websocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
             Sec-WebSocket-Protocol: chat\r\n\
             Sec-WebSocket-Extensions: permessage-deflate\r\n\
             \r\n"
        );
    }

    #[test]
    fn server_omits_absent_protocol_and_empty_extensions() {
        let accepted = Accepted {
            accept: "JdiiuafpBKRqD7eol0y4vJDTsTs=".to_owned(),
            protocol: None,
            extensions_offer: None,
        };
        let mut out = Vec::new();
        accepted
            .write_response(&HeaderList::new(), Some(""), &mut out)
            .unwrap();
        assert_eq!(
            out,
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Accept: JdiiuafpBKRqD7eol0y4vJDTsTs=\r\n\r\n"
        );
    }

    #[test]
    fn server_refuses_to_write_an_injected_extensions_response() {
        let accepted = negotiate::<&str>(&request_with(&[]), &[]).unwrap();
        let mut out = Vec::new();
        let err = accepted.write_response(&HeaderList::new(), Some("a\r\nX: y"), &mut out);
        assert!(matches!(err, Err(Error::InvalidHeader(_))));
        assert!(out.is_empty());
    }

    #[test]
    fn server_writes_400_and_426_responses() {
        let mut out = Vec::new();
        Rejection::from(RequestError::MissingKey).write_response(&mut out);
        let body = "Missing handshake request header: Sec-WebSocket-Key";
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{body}",
                body.len()
            )
        );
        let mut out = Vec::new();
        Rejection::from(RequestError::UnsupportedVersion(Some("8".to_owned())))
            .write_response(&mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "HTTP/1.1 426 Upgrade Required\r\nContent-Type: text/plain\r\nContent-Length: 32\r\n\
             Sec-WebSocket-Version: 13\r\nConnection: close\r\n\r\nUnsupported WebSocket version: 8"
        );
    }

    #[test]
    fn rejection_headers_name_the_version_whenever_it_was_the_reason() {
        let version_only = vec![
            ("Content-Type", "text/plain"),
            ("Sec-WebSocket-Version", "13"),
        ];
        let over_h2 = Rejection {
            status: 400,
            message: String::new(),
            reason: Some(RequestError::UnsupportedVersion(None)),
        };
        assert_eq!(over_h2.headers(), version_only);
        assert_eq!(
            Rejection::from(RequestError::UnsupportedVersion(None)).headers(),
            version_only
        );
        assert_eq!(
            Rejection::from(RequestError::MissingKey).headers(),
            [("Content-Type", "text/plain")]
        );
    }

    #[test]
    fn switching_protocols_writes_nothing_when_a_value_is_unsafe() {
        let answer = SwitchingProtocols {
            accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_owned(),
            protocol: Some("chat\r\nX-Injected: 1".to_owned()),
            extensions: None,
        };
        let mut out = Vec::new();
        assert!(matches!(
            answer.write(&HeaderList::new(), &mut out),
            Err(Error::InvalidHeader(HeaderError::InvalidValue { name, .. }))
                if name == "Sec-WebSocket-Protocol"
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn upgrade_is_negotiate_then_switching_protocols() {
        let request = request_with(&[("Sec-WebSocket-Protocol", Some("a, b"))]);
        let accepted = negotiate(&request, &["b"]).unwrap();
        assert_eq!(
            upgrade(&request, &["b"], Some("x")),
            Ok(accepted.switching_protocols(Some("x")))
        );
        assert_eq!(
            upgrade(&request, &["b"], Some(" ")).unwrap().extensions,
            None
        );
        let broken = request_with(&[("Sec-WebSocket-Key", None)]);
        assert_eq!(
            upgrade(&broken, &["b"], None),
            Err(Rejection::from(RequestError::MissingKey))
        );
    }

    #[test]
    fn rejection_content_length_counts_utf8_bytes() {
        let mut out = Vec::new();
        Rejection::bad_request("caf\u{e9}").write_response(&mut out);
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("Content-Length: 5\r\n")
        );
    }

    #[test]
    fn server_detects_the_draft_from_headers() {
        let check = |headers: &[&str], expected: Draft| {
            let mut h = Headers::new();
            for name in headers {
                h.push(*name, "x");
            }
            let req = Request {
                method: "GET".to_owned(),
                target: "/".to_owned(),
                version: 1,
                headers: h,
            };
            assert_eq!(detect_version(&req), expected, "{headers:?}");
        };
        check(&["Sec-WebSocket-Version"], Draft::Rfc6455);
        check(&["sec-websocket-key"], Draft::Rfc6455);
        check(&["Sec-WebSocket-Key", "Sec-WebSocket-Key1"], Draft::Rfc6455);
        check(&["Sec-WebSocket-Key1"], Draft::Hixie76);
        check(&["Sec-WebSocket-Key2"], Draft::Hixie76);
        check(&[], Draft::Hixie75);
    }

    #[test]
    fn is_websocket_request_checks_method_and_tokens() {
        assert!(is_websocket_request(&request_with(&[])));
        assert!(!is_websocket_request(&request_with(&[("Upgrade", None)])));
        assert!(!is_websocket_request(&request_with(&[(
            "Connection",
            Some("close")
        )])));
        let mut post = request_with(&[]);
        post.method = "POST".to_owned();
        assert!(!is_websocket_request(&post));
    }

    #[test]
    fn server_handshake_from_bytes_round_trips() {
        let buf = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
            Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
            Sec-WebSocket-Version: 13\r\n\r\n";
        let Ok(Status::Complete((req, n))) = Request::parse(buf, &Limits::default()) else {
            panic!("complete request expected");
        };
        assert_eq!(n, buf.len());
        assert_eq!(detect_version(&req), Draft::Rfc6455);
        let accepted = negotiate(&req, &["superchat".to_owned()]).unwrap();
        assert_eq!(accepted.protocol.as_deref(), Some("superchat"));
        assert_eq!(accepted.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    }
}
