//! The client side of the opening handshake (RFC 6455 §4.1).
//!
//! Build a [`ClientHandshake`] from the URL, 16 random key bytes and [`ClientOptions`], send
//! [`ClientHandshake::write_request`], parse the answer with [`Response::parse`](crate::Response::parse)
//! and check it with [`ClientHandshake::validate`].

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use url::Url;

use crate::error::{Error, HeaderError, ResponseError, UrlError};
use crate::head::Response;
use crate::headers::{HeaderList, Headers, is_safe_value, is_token, write_line};
use crate::negotiation::{check_answer, offer_headers};
use crate::server::accept_key;
use crate::uri::check_authority;
use crate::url_util::{basic_auth, host_header};

/// What the client asks for beyond the mandatory handshake.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClientOptions {
    /// Subprotocols to offer, in order of preference; each must be an HTTP token.
    pub protocols: Vec<String>,
    /// The `Origin` header value, if any.
    pub origin: Option<String>,
    /// Extra headers, written after the handshake headers. Headers the handshake writes itself
    /// (`Host`, `Upgrade`, `Connection`, `Sec-WebSocket-*`, and `Origin` / `Authorization` when set
    /// from the options or the URL) are skipped here, so they cannot break the handshake.
    pub headers: HeaderList,
    /// The `Sec-WebSocket-Extensions` offer from the extensions layer, if any.
    pub extensions: Option<String>,
}

/// What the server agreed to, once [`ClientHandshake::validate`] accepts its response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Negotiated {
    /// The subprotocol the server chose, one of those offered.
    pub protocol: Option<String>,
    /// The raw `Sec-WebSocket-Extensions` response, for the extensions layer to activate.
    pub extensions: Option<String>,
}

/// A client's opening handshake: the request to send and the rules its response must meet.
///
/// The request follows the byte layout of `websocket-driver` (Node): `GET <path?query> HTTP/1.1`,
/// then `Host`, `Upgrade: websocket`, `Connection: Upgrade`, `Sec-WebSocket-Key`,
/// `Sec-WebSocket-Version: 13`, `Sec-WebSocket-Protocol` (if any), `Origin` (if set),
/// `Authorization: Basic` (if the URL has userinfo), custom headers, `Sec-WebSocket-Extensions` (if
/// offered), and the blank line.
///
/// Differences from Node: `Host` carries the port only when it is not the scheme's default (as in
/// Node's 0.8.0); userinfo is percent-decoded, and a user without password is sent as `user:`
/// (RFC 7617); a custom header cannot replace a handshake header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHandshake {
    target: String,
    host: String,
    key: String,
    accept: String,
    authorization: Option<String>,
    options: ClientOptions,
}

impl ClientHandshake {
    /// Prepares the handshake for `url` with `key` (16 bytes from a secure random source; RFC 6455
    /// §4.1 requires a fresh, unpredictable key per connection).
    ///
    /// Fails when the scheme is not `ws` or `wss`, a protocol is not an HTTP token, or the origin or
    /// extension offer contains a control character other than a tab.
    pub fn new(url: &Url, key: [u8; 16], options: ClientOptions) -> Result<Self, Error> {
        let target = Target::new(url, &options)?;
        let key = BASE64.encode(key);
        Ok(Self {
            target: target.path,
            host: target.authority,
            accept: accept_key(&key),
            key,
            authorization: target.authorization,
            options,
        })
    }

    /// The `Sec-WebSocket-Key` value sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The `Sec-WebSocket-Accept` value the server must answer with.
    pub fn expected_accept(&self) -> &str {
        &self.accept
    }

    /// The options the handshake was built with.
    pub fn options(&self) -> &ClientOptions {
        &self.options
    }

    /// The request target: the URL's path (`/` when empty) and `?query`.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The request's headers in the order [`write_request`](Self::write_request) writes them, for a
    /// caller whose own HTTP stack sends the request (`GET` [`target`](Self::target) over HTTP/1.1).
    ///
    /// ```
    /// use url::Url;
    /// use wsd_handshake::{ClientHandshake, ClientOptions};
    ///
    /// let url = Url::parse("ws://example.com:8080/chat").unwrap();
    /// let handshake = ClientHandshake::new(&url, [7; 16], ClientOptions::default())?;
    /// let names: Vec<&str> = handshake.headers().iter().map(|(name, _)| *name).collect();
    /// assert_eq!(
    ///     names,
    ///     ["Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version"]
    /// );
    /// assert_eq!(handshake.headers()[0].1, "example.com:8080");
    /// # Ok::<(), wsd_handshake::Error>(())
    /// ```
    pub fn headers(&self) -> Vec<(&str, Cow<'_, str>)> {
        let mut headers = vec![
            ("Host", Cow::Borrowed(self.host.as_str())),
            ("Upgrade", Cow::Borrowed("websocket")),
            ("Connection", Cow::Borrowed("Upgrade")),
            ("Sec-WebSocket-Key", Cow::Borrowed(self.key.as_str())),
        ];
        let own: Vec<&str> = headers.iter().map(|(name, _)| *name).collect();
        headers.extend(offer_headers(
            &self.options,
            self.authorization.as_deref(),
            &own,
        ));
        headers
    }

    /// Appends the request head to `out`.
    pub fn write_request(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"GET ");
        out.extend_from_slice(self.target.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        for (name, value) in self.headers() {
            write_line(out, name, &value);
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Checks the server's response (RFC 6455 §4.1), in `websocket-driver` (Node)'s order: status
    /// 101, `Upgrade` is `websocket` (case-insensitive), `Connection` has an `upgrade` token,
    /// `Sec-WebSocket-Accept` matches, and any `Sec-WebSocket-Protocol` is one we offered.
    ///
    /// The caller keeps `response`, so its status and headers stay available when this fails.
    /// Differences from `websocket-driver` (Node): `Connection: keep-alive, Upgrade` is accepted (Node
    /// requires the whole value to be `Upgrade`). HTTP/1.0 responses are accepted, as in Node. The
    /// bytes after the head go to the frame parser even if the response has a `Content-Length` (Node's
    /// HTTP parser eats them as a body).
    pub fn validate(&self, response: &Response) -> Result<Negotiated, ResponseError> {
        self.validate_head(response.status, &response.headers)
    }

    /// [`validate`](Self::validate) for a response head that the caller's own HTTP stack parsed.
    pub fn validate_head(
        &self,
        status: u16,
        headers: &Headers,
    ) -> Result<Negotiated, ResponseError> {
        if status != 101 {
            return Err(ResponseError::UnexpectedStatus(status));
        }
        let upgrade = headers
            .get("Upgrade")
            .ok_or(ResponseError::MissingUpgrade)?;
        if !upgrade.eq_ignore_ascii_case("websocket") {
            return Err(ResponseError::UpgradeNotWebSocket(upgrade.into_owned()));
        }
        let connection = headers
            .get("Connection")
            .ok_or(ResponseError::MissingConnection)?;
        if !headers.contains_token("Connection", "upgrade") {
            return Err(ResponseError::ConnectionNotUpgrade(connection.into_owned()));
        }
        let accept = headers
            .get("Sec-WebSocket-Accept")
            .ok_or(ResponseError::MissingAccept)?;
        if accept != self.accept {
            return Err(ResponseError::AcceptMismatch {
                expected: self.accept.clone(),
                received: accept.into_owned(),
            });
        }
        check_answer(headers, &self.options.protocols)
    }
}

/// Parses `url` and checks that it is a `ws` or `wss` URL with a host, as [`ClientHandshake::new`] and
/// [`ProxyConnect::new`](crate::ProxyConnect::new) need.
///
/// A parse failure is [`Error::InvalidUrl`] with [`UrlError::Syntax`], whose
/// [`source`](std::error::Error::source) is the url crate's error.
///
/// ```
/// use wsd_handshake::{Error, UrlError, client::parse_url};
///
/// assert_eq!(parse_url("wss://example.com/chat")?.port_or_known_default(), Some(443));
/// assert!(matches!(
///     parse_url("http://example.com/"),
///     Err(Error::InvalidUrl { reason: UrlError::NotWebSocket, .. })
/// ));
/// assert!(matches!(
///     parse_url("chat"),
///     Err(Error::InvalidUrl { reason: UrlError::Syntax(_), .. })
/// ));
/// # Ok::<(), Error>(())
/// ```
pub fn parse_url(url: &str) -> Result<Url, Error> {
    let parsed = Url::parse(url).map_err(|e| Error::InvalidUrl {
        url: url.to_owned(),
        reason: UrlError::Syntax(e),
    })?;
    check_websocket_url(&parsed)?;
    Ok(parsed)
}

/// The host and port of a `ws` or `wss` URL (the port defaulting to 80 or 443); fails for any other
/// URL, and for a host that is not an RFC 3986 host.
///
/// The url crate follows the WHATWG URL standard, which lets `{`, `}`, `` ` `` and `"` into a host
/// name; RFC 3986 does not, and a server that checks `Host` (as [`server::negotiate`] does) refuses
/// such a request, so the client refuses the URL instead of sending it.
///
/// [`server::negotiate`]: crate::server::negotiate
pub(crate) fn check_websocket_url(url: &Url) -> Result<(&str, u16), Error> {
    let invalid = |reason| Error::InvalidUrl {
        url: url.to_string(),
        reason,
    };
    match (url.scheme(), url.host_str(), url.port_or_known_default()) {
        ("ws" | "wss", Some(host), Some(port)) => match check_authority(host) {
            Ok(()) => Ok((host, port)),
            Err(e) => Err(invalid(UrlError::Host(e))),
        },
        _ => Err(invalid(UrlError::NotWebSocket)),
    }
}

/// What a client's request needs from its URL, once the URL and the options are checked; shared by
/// the HTTP/1.1 upgrade and the extended `CONNECT`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Target {
    /// Whether the URL is `wss`.
    pub(crate) secure: bool,
    /// The path (`/` when empty) and `?query`: the HTTP/1.1 request target or HTTP/2's `:path`.
    pub(crate) path: String,
    /// The host, and the port when it is not the scheme's default: `Host` or `:authority`.
    pub(crate) authority: String,
    /// `Basic` credentials from the URL's userinfo.
    pub(crate) authorization: Option<String>,
}

impl Target {
    /// Fails when the URL is not `ws` or `wss`, a protocol is not an HTTP token, or the origin or
    /// extension offer contains a control character other than a tab.
    pub(crate) fn new(url: &Url, options: &ClientOptions) -> Result<Self, Error> {
        check_websocket_url(url)?;
        if let Some(p) = options.protocols.iter().find(|p| !is_token(p)) {
            return Err(Error::InvalidProtocol(p.clone()));
        }
        check_value("Origin", options.origin.as_deref())?;
        check_value("Sec-WebSocket-Extensions", options.extensions.as_deref())?;
        let mut path = url.path().to_owned();
        if path.is_empty() {
            path.push('/');
        }
        if let Some(query) = url.query() {
            path.push('?');
            path.push_str(query);
        }
        Ok(Self {
            secure: url.scheme() == "wss",
            path,
            authority: host_header(url),
            authorization: basic_auth(url),
        })
    }
}

fn check_value(name: &str, value: Option<&str>) -> Result<(), HeaderError> {
    match value {
        Some(v) if !is_safe_value(v) => Err(HeaderError::InvalidValue {
            name: name.to_owned(),
            value: v.to_owned(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Headers;
    use crate::head::{Limits, Status};

    /// The key bytes that base64-encode to websocket-driver's vector `2vBVWg4Qyk3ZoM/5d3QD9Q==`.
    fn websocket_driver_key() -> [u8; 16] {
        let bytes = BASE64.decode("2vBVWg4Qyk3ZoM/5d3QD9Q==").unwrap();
        bytes.try_into().unwrap()
    }

    fn handshake(url: &str, options: ClientOptions) -> ClientHandshake {
        ClientHandshake::new(&Url::parse(url).unwrap(), websocket_driver_key(), options).unwrap()
    }

    fn request(url: &str, options: ClientOptions) -> String {
        let mut out = Vec::new();
        handshake(url, options).write_request(&mut out);
        String::from_utf8(out).unwrap()
    }

    const KEY_LINES: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Key: 2vBVWg4Qyk3ZoM/5d3QD9Q==\r\nSec-WebSocket-Version: 13\r\n";

    #[test]
    fn client_derives_key_and_accept_from_the_given_bytes() {
        let hs = handshake("ws://example.com/", ClientOptions::default());
        assert_eq!(hs.key(), "2vBVWg4Qyk3ZoM/5d3QD9Q==");
        assert_eq!(hs.expected_accept(), "QV3I5XUXU2CdhtjixE7QCkCcMZM=");
    }

    #[test]
    fn client_writes_the_minimal_request() {
        assert_eq!(
            request("ws://example.com", ClientOptions::default()),
            format!("GET / HTTP/1.1\r\nHost: example.com\r\n{KEY_LINES}\r\n")
        );
    }

    #[test]
    fn client_request_line_and_host_follow_the_url() {
        let check = |url: &str, line: &str, host: &str| {
            let req = request(url, ClientOptions::default());
            let expected = format!("GET {line} HTTP/1.1\r\nHost: {host}\r\n");
            assert!(req.starts_with(&expected), "{url}: {req}");
        };
        check(
            "ws://example.com/chat?a=1&b=2#frag",
            "/chat?a=1&b=2",
            "example.com",
        );
        check("ws://example.com?q", "/?q", "example.com");
        check("wss://example.com:443/", "/", "example.com");
        check("ws://example.com:8080/", "/", "example.com:8080");
        check("wss://[::1]:9000/x", "/x", "[::1]:9000");
        check("WS://Example.COM/Path", "/Path", "example.com");
    }

    #[test]
    fn client_writes_every_optional_header_in_order() {
        let mut headers = HeaderList::new();
        headers.set("User-Agent", "wsd").unwrap();
        headers.set("Host", "evil.example").unwrap();
        headers.set("Authorization", "Bearer x").unwrap();
        headers.set("Sec-WebSocket-Key", "forged").unwrap();
        let options = ClientOptions {
            protocols: vec!["chat".to_owned(), "superchat".to_owned()],
            origin: Some("http://example.com".to_owned()),
            headers,
            extensions: Some("permessage-deflate; client_max_window_bits".to_owned()),
        };
        assert_eq!(
            request("ws://user:pass@example.com/", options),
            format!(
                "GET / HTTP/1.1\r\nHost: example.com\r\n{KEY_LINES}\
                 Sec-WebSocket-Protocol: chat, superchat\r\n\
                 Origin: http://example.com\r\n\
                 Authorization: Basic dXNlcjpwYXNz\r\n\
                 User-Agent: wsd\r\n\
                 Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"
            )
        );
    }

    #[test]
    fn client_passes_custom_authorization_and_origin_when_not_set_otherwise() {
        let mut headers = HeaderList::new();
        headers.set("Authorization", "Bearer x").unwrap();
        headers.set("Origin", "http://a.example").unwrap();
        let req = request(
            "ws://example.com/",
            ClientOptions {
                headers,
                ..ClientOptions::default()
            },
        );
        assert!(
            req.ends_with("Authorization: Bearer x\r\nOrigin: http://a.example\r\n\r\n"),
            "{req}"
        );
    }

    #[test]
    fn client_refuses_hosts_that_rfc_3986_does_not_allow() {
        for url in ["ws://a{b}/", "ws://a`b/", "wss://a\"b/"] {
            let parsed = Url::parse(url).unwrap();
            let err = ClientHandshake::new(&parsed, [0; 16], ClientOptions::default()).unwrap_err();
            assert_eq!(
                err,
                Error::InvalidUrl {
                    url: parsed.to_string(),
                    reason: UrlError::Host(crate::AuthorityError::RegName),
                }
            );
            assert!(err.to_string().ends_with(
                "is not a valid WebSocket URL: the host has a character a host name may not have"
            ));
        }
        for url in ["ws://a!b$c/", "ws://[::1]:9/", "wss://xn--caf-dma.example/"] {
            assert!(parse_url(url).is_ok(), "{url}");
        }
    }

    #[test]
    fn client_rejects_unusable_input() {
        let url = Url::parse("http://example.com/").unwrap();
        let err = ClientHandshake::new(&url, [0; 16], ClientOptions::default()).unwrap_err();
        assert_eq!(
            err.to_string(),
            "http://example.com/ is not a valid WebSocket URL"
        );
        let check = |options: ClientOptions| {
            let url = Url::parse("ws://example.com/").unwrap();
            assert!(
                ClientHandshake::new(&url, [0; 16], options.clone()).is_err(),
                "{options:?}"
            );
        };
        check(ClientOptions {
            protocols: vec!["a b".to_owned()],
            ..ClientOptions::default()
        });
        check(ClientOptions {
            protocols: vec![String::new()],
            ..ClientOptions::default()
        });
        check(ClientOptions {
            origin: Some("a\r\nX: y".to_owned()),
            ..ClientOptions::default()
        });
        check(ClientOptions {
            extensions: Some("a\nb".to_owned()),
            ..ClientOptions::default()
        });
        check(ClientOptions {
            origin: Some("http://a.example\x01".to_owned()),
            ..ClientOptions::default()
        });
    }

    /// A valid 101 for that key with `changes` applied (`None` removes a header).
    fn response_with(status: u16, changes: &[(&str, Option<&str>)]) -> Response {
        let mut pairs = vec![
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", "QV3I5XUXU2CdhtjixE7QCkCcMZM="),
        ];
        for (name, value) in changes {
            pairs.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
            if let Some(v) = value {
                pairs.push((name, v));
            }
        }
        let mut headers = Headers::new();
        for (n, v) in pairs {
            headers.push(n, v);
        }
        Response {
            version: 1,
            status,
            reason: String::new(),
            headers,
        }
    }

    fn check(
        offered: &[&str],
        response: &Response,
        expected: Result<(Option<&str>, Option<&str>), ResponseError>,
    ) {
        let options = ClientOptions {
            protocols: offered.iter().map(|p| (*p).to_owned()).collect(),
            ..ClientOptions::default()
        };
        let got = handshake("ws://example.com/", options).validate(response);
        let expected = expected.map(|(protocol, extensions)| Negotiated {
            protocol: protocol.map(str::to_owned),
            extensions: extensions.map(str::to_owned),
        });
        assert_eq!(got, expected, "{response:?}");
    }

    #[test]
    fn client_accepts_valid_responses() {
        check(&[], &response_with(101, &[]), Ok((None, None)));
        check(
            &[],
            &response_with(101, &[("Upgrade", Some("WebSocket"))]),
            Ok((None, None)),
        );
        check(
            &[],
            &response_with(101, &[("Connection", Some("keep-alive, Upgrade"))]),
            Ok((None, None)),
        );
        check(
            &["a", "b"],
            &response_with(101, &[("Sec-WebSocket-Protocol", Some("b"))]),
            Ok((Some("b"), None)),
        );
        check(
            &["a"],
            &response_with(101, &[("Sec-WebSocket-Protocol", Some(""))]),
            Ok((None, None)),
        );
        check(
            &[],
            &response_with(
                101,
                &[("Sec-WebSocket-Extensions", Some("permessage-deflate"))],
            ),
            Ok((None, Some("permessage-deflate"))),
        );
    }

    #[test]
    fn client_rejects_each_broken_rule() {
        use ResponseError as E;
        check(&[], &response_with(200, &[]), Err(E::UnexpectedStatus(200)));
        check(
            &[],
            &response_with(101, &[("Upgrade", None)]),
            Err(E::MissingUpgrade),
        );
        check(
            &[],
            &response_with(101, &[("Upgrade", Some("websocket, h2c"))]),
            Err(E::UpgradeNotWebSocket("websocket, h2c".to_owned())),
        );
        check(
            &[],
            &response_with(101, &[("Connection", None)]),
            Err(E::MissingConnection),
        );
        check(
            &[],
            &response_with(101, &[("Connection", Some("keep-alive"))]),
            Err(E::ConnectionNotUpgrade("keep-alive".to_owned())),
        );
        check(
            &[],
            &response_with(101, &[("Sec-WebSocket-Accept", None)]),
            Err(E::MissingAccept),
        );
        check(
            &[],
            &response_with(
                101,
                &[("Sec-WebSocket-Accept", Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="))],
            ),
            Err(E::AcceptMismatch {
                expected: "QV3I5XUXU2CdhtjixE7QCkCcMZM=".to_owned(),
                received: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".to_owned(),
            }),
        );
        check(
            &["a"],
            &response_with(101, &[("Sec-WebSocket-Protocol", Some("b"))]),
            Err(E::UnexpectedProtocol("b".to_owned())),
        );
        check(
            &[],
            &response_with(101, &[("Sec-WebSocket-Protocol", Some("a"))]),
            Err(E::UnexpectedProtocol("a".to_owned())),
        );
        check(
            &["a", "b"],
            &response_with(101, &[("Sec-WebSocket-Protocol", Some("a, b"))]),
            Err(E::UnexpectedProtocol("a, b".to_owned())),
        );
    }

    #[test]
    fn client_error_messages_match_websocket_driver_s_wording() {
        let err = Error::from(ResponseError::UnexpectedStatus(404));
        assert_eq!(
            err.to_string(),
            "Error during WebSocket handshake: Unexpected response code: 404"
        );
    }

    #[test]
    fn client_handshake_from_bytes_leaves_frames_for_the_caller() {
        let hs = handshake("ws://example.com/", ClientOptions::default());
        let buf = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Accept: QV3I5XUXU2CdhtjixE7QCkCcMZM=\r\n\
            Content-Length: 3\r\n\r\n\x81\x01a";
        let Ok(Status::Complete((res, n))) = Response::parse(buf, &Limits::default()) else {
            panic!("complete response expected");
        };
        assert_eq!(&buf[n..], b"\x81\x01a");
        assert_eq!(
            hs.validate(&res),
            Ok(Negotiated {
                protocol: None,
                extensions: None
            })
        );
    }
}
