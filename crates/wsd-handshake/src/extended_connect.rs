//! WebSockets over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220): the extended `CONNECT` handshake, for
//! both roles, on plain data.
//!
//! Over HTTP/2 a WebSocket is one stream. The client sends a `CONNECT` request with the pseudo-header
//! `:protocol = websocket` (allowed once the server has sent the setting
//! [`SETTINGS_ENABLE_CONNECT_PROTOCOL`] = 1), `:scheme`, `:path` and `:authority`, and the usual
//! `sec-websocket-version`, `sec-websocket-protocol` and `sec-websocket-extensions`; the server answers
//! `200` and the stream carries WebSocket frames from then on. There is no `Sec-WebSocket-Key` or
//! `Sec-WebSocket-Accept` (the `:protocol` pseudo-header supersedes them), and no `Upgrade` or
//! `Connection` header, which HTTP/2 forbids.
//!
//! The frames and HPACK belong to the caller's HTTP/2 stack (the h2 crate under hyper, for example);
//! this module checks and builds the heads as data: a [`ConnectRequest`] in, a [`ConnectResponse`] or
//! a [`Rejection`] out, and the client's counterparts in [`ClientConnect`]. Subprotocols and extensions
//! follow the same rules, written once, as the HTTP/1.1 upgrade in [`server`](crate::server) and
//! [`client`](crate::client). With the `http` feature the heads convert from and to the `http` crate's
//! types.
//!
//! ```
//! use url::Url;
//! use wsd_handshake::ClientOptions;
//! use wsd_handshake::extended_connect::{ClientConnect, ConnectResponse, upgrade};
//!
//! let url = Url::parse("wss://server.example.com/chat").unwrap();
//! let options = ClientOptions { protocols: vec!["chat".into()], ..ClientOptions::default() };
//! let client = ClientConnect::new(&url, options)?;
//! let request = client.request();
//! assert_eq!(request.method, "CONNECT");
//! assert_eq!(request.protocol.as_deref(), Some("websocket"));
//! assert_eq!(request.scheme.as_deref(), Some("https"));
//! assert_eq!(request.path.as_deref(), Some("/chat"));
//! assert_eq!(request.authority.as_deref(), Some("server.example.com"));
//!
//! // The server's side, with the request as its HTTP/2 stack decoded it:
//! let response = upgrade(request, &["chat"], None).expect("a valid request");
//! assert_eq!(response.headers(), [("sec-websocket-protocol", "chat")]);
//!
//! let negotiated = client.validate(ConnectResponse::STATUS, &response.to_headers())?;
//! assert_eq!(negotiated.protocol.as_deref(), Some("chat"));
//! # Ok::<(), wsd_handshake::Error>(())
//! ```
//!
//! A malformed request (RFC 9113 §8.1.1: a missing pseudo-header, an upper-case field name, a
//! connection-specific header) is a stream error of type `PROTOCOL_ERROR`; a server may answer it
//! with the 400 this module builds before it resets the stream.

use url::Url;

use crate::client::{ClientOptions, Negotiated, Target};
use crate::error::{Error, RequestError, ResponseError};
use crate::headers::Headers;
use crate::negotiation::{
    Selection, answer_headers, check_answer, check_version, extensions_answer, offer_headers,
    select,
};
use crate::server::Rejection;
use crate::uri::{check_authority, check_path};

/// The HTTP/2 setting (identifier 0x8) a server sends with value 1 to allow extended `CONNECT`
/// (RFC 8441 §3); HTTP/3 uses the same identifier (RFC 9220 §3). A client must not send a
/// [`ConnectRequest`] before it has received it.
pub const SETTINGS_ENABLE_CONNECT_PROTOCOL: u16 = 0x8;

/// The `:protocol` value that asks for a WebSocket (RFC 8441 §5).
pub const PROTOCOL: &str = "websocket";

/// The head of an extended `CONNECT` request: its pseudo-headers and its regular headers, as the
/// HTTP/2 (or HTTP/3) stack decoded them.
///
/// A pseudo-header the request did not carry is `None`. Regular header names are lower-case on the
/// wire in HTTP/2; [`negotiate`] refuses others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ConnectRequest {
    /// `:method`; `CONNECT` for a WebSocket.
    pub method: String,
    /// `:protocol`; `websocket` for a WebSocket.
    pub protocol: Option<String>,
    /// `:scheme`: `https` for a `wss` URI, `http` for `ws`.
    pub scheme: Option<String>,
    /// `:path`: the path and query of the WebSocket URI.
    pub path: Option<String>,
    /// `:authority`: the host and port of the WebSocket URI.
    pub authority: Option<String>,
    /// The regular headers.
    pub headers: Headers,
}

/// A request that passed [`negotiate`]: the subprotocol chosen and the extension offer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectAccepted {
    /// The chosen subprotocol, if any.
    pub protocol: Option<String>,
    /// The raw `sec-websocket-extensions` offer (several headers joined with `", "`) for the
    /// extensions layer to negotiate.
    pub extensions_offer: Option<String>,
}

impl ConnectAccepted {
    /// The `200` answer, with `extensions` (the extensions layer's response, if any) trimmed and
    /// dropped when empty.
    pub fn response(&self, extensions: Option<&str>) -> ConnectResponse {
        ConnectResponse {
            protocol: self.protocol.clone(),
            extensions: extensions_answer(extensions),
        }
    }
}

/// The server's `200` answer to an extended `CONNECT`, as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnectResponse {
    /// The chosen subprotocol, if any.
    pub protocol: Option<String>,
    /// The `sec-websocket-extensions` response, if any.
    pub extensions: Option<String>,
}

impl ConnectResponse {
    /// The status of an accepted extended `CONNECT`.
    pub const STATUS: u16 = 200;

    /// The response headers, names in lower case as HTTP/2 requires: `sec-websocket-protocol` and
    /// `sec-websocket-extensions`, each when set.
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        answer_headers(self.protocol.as_deref(), self.extensions.as_deref())
            .map(|(name, value)| (lower_case(name), value))
            .collect()
    }

    /// [`headers`](Self::headers) as received [`Headers`], for example to hand to
    /// [`ClientConnect::validate`] in a test.
    pub fn to_headers(&self) -> Headers {
        let mut headers = Headers::new();
        for (name, value) in self.headers() {
            headers.push(name, value);
        }
        headers
    }
}

/// The lower-case spelling of a header name this module sends (HTTP/2 field names are lower-case).
fn lower_case(name: &'static str) -> &'static str {
    match name {
        "Sec-WebSocket-Protocol" => "sec-websocket-protocol",
        "Sec-WebSocket-Extensions" => "sec-websocket-extensions",
        "Sec-WebSocket-Version" => "sec-websocket-version",
        "Origin" => "origin",
        "Authorization" => "authorization",
        other => other,
    }
}

/// Headers that are connection-specific in HTTP/1.1 and make an HTTP/2 message malformed
/// (RFC 9113 §8.2.2); `te` is allowed with the value `trailers` only. An HTTP/2 stack adding
/// custom headers to a `CONNECT` or its answer leaves these out, as [`ClientConnect`] does.
///
/// ```
/// use wsd_handshake::extended_connect::CONNECTION_SPECIFIC;
///
/// assert!(CONNECTION_SPECIFIC.contains(&"upgrade"));
/// ```
pub const CONNECTION_SPECIFIC: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
];

/// Checks an extended `CONNECT` request for a WebSocket (RFC 8441 §4-5) and picks a subprotocol.
///
/// Checks, in order: `:method` is `CONNECT`; `:protocol` is present and `websocket` (compared
/// case-insensitively, as upgrade tokens are; another protocol gets 501 Not Implemented, as RFC 9220
/// §3 asks); `:scheme` is `http` or `https`; `:path` is present and starts with `/`; `:authority` is
/// present and `host[:port]` without userinfo; every header name is lower-case with no colon and
/// every value free of NUL, CR and LF (RFC 9113 §8.2.1); no connection-specific header (RFC 9113
/// §8.2.2: `connection`, `upgrade`, `keep-alive`, `proxy-connection`, `transfer-encoding`, `te` other
/// than `trailers`); a `host` header, if any, names the same authority (RFC 9113 §8.3.1);
/// `sec-websocket-version` is `13`.
///
/// A failure is a [`Rejection`] with status 400 (501 for another `:protocol`). A wrong version is a
/// 400 whose [`headers`](Rejection::headers) include `sec-websocket-version: 13` (RFC 6455 §4.4):
/// the 426 that HTTP/1.1 uses would need an `Upgrade` header, which HTTP/2 forbids.
///
/// `sec-websocket-key` is neither required nor checked (RFC 8441 §5). The subprotocol is chosen as
/// [`server::negotiate`](crate::server::negotiate) does: the first in the client's list that is in
/// `protocols`.
pub fn negotiate<S: AsRef<str>>(
    request: &ConnectRequest,
    protocols: &[S],
) -> Result<ConnectAccepted, Rejection> {
    check_request(request).map_err(reject)?;
    let Selection {
        protocol,
        extensions_offer,
    } = select(&request.headers, protocols);
    Ok(ConnectAccepted {
        protocol,
        extensions_offer,
    })
}

/// [`negotiate`] and [`ConnectAccepted::response`] in one step.
pub fn upgrade<S: AsRef<str>>(
    request: &ConnectRequest,
    protocols: &[S],
    extensions: Option<&str>,
) -> Result<ConnectResponse, Rejection> {
    negotiate(request, protocols).map(|accepted| accepted.response(extensions))
}

fn check_request<'a>(request: &'a ConnectRequest) -> Result<(), RequestError> {
    if request.method != "CONNECT" {
        return Err(RequestError::MethodNotConnect(request.method.clone()));
    }
    match &request.protocol {
        None => return Err(RequestError::MissingProtocol),
        Some(p) if p.eq_ignore_ascii_case(PROTOCOL) => {}
        Some(p) => return Err(RequestError::ProtocolNotWebSocket(p.clone())),
    }
    // RFC 8441 §4 makes :scheme and :path mandatory with :protocol; §5 and RFC 9113 §8.3.1 :authority.
    let required = |value: &'a Option<String>, name| {
        value
            .as_deref()
            .ok_or(RequestError::MissingPseudoHeader(name))
    };
    let scheme = required(&request.scheme, ":scheme")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err(RequestError::InvalidScheme(scheme.to_owned()));
    }
    let path = required(&request.path, ":path")?;
    check_path(path).map_err(|reason| RequestError::InvalidTarget {
        target: path.to_owned(),
        reason,
    })?;
    let authority = required(&request.authority, ":authority")?;
    check_authority(authority).map_err(|reason| RequestError::InvalidAuthority {
        authority: authority.to_owned(),
        reason,
    })?;
    for (name, value) in request.headers.iter() {
        if !is_h2_field_name(name) || value.contains(['\0', '\r', '\n']) {
            return Err(RequestError::InvalidField(name.to_owned()));
        }
        if CONNECTION_SPECIFIC.contains(&name) && !(name == "te" && value == "trailers") {
            return Err(RequestError::ConnectionSpecificHeader(name.to_owned()));
        }
    }
    for host in request.headers.get_all("host") {
        if !same_authority(host, authority, scheme) {
            return Err(RequestError::HostMismatch {
                host: host.to_owned(),
                authority: authority.to_owned(),
            });
        }
    }
    check_version(&request.headers)
}

/// The rejection for a failed rule: 501 for a `:protocol` we do not speak, else 400.
fn reject(reason: RequestError) -> Rejection {
    let status = match reason {
        RequestError::ProtocolNotWebSocket(_) => 501,
        _ => 400,
    };
    Rejection {
        status,
        message: reason.to_string(),
        reason: Some(reason),
    }
}

/// A regular HTTP/2 field name: a token without upper-case letters (RFC 9113 §8.2.1, which also
/// rules out a leading colon outside pseudo-headers).
fn is_h2_field_name(name: &str) -> bool {
    !name.is_empty()
        && name.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b"!#$%&'*+-.^_`|~".contains(&b)
        })
}

/// Whether two authorities name the same entity after scheme-based normalization (RFC 3986 §6.2.3):
/// case-insensitive, with the scheme's default port and an empty port dropped.
fn same_authority(a: &str, b: &str, scheme: &str) -> bool {
    let default_port = if scheme.eq_ignore_ascii_case("https") {
        ":443"
    } else {
        ":80"
    };
    let normalize = |s: &str| {
        let s = s.strip_suffix(default_port).unwrap_or(s);
        s.strip_suffix(':').unwrap_or(s).to_ascii_lowercase()
    };
    normalize(a) == normalize(b)
}

/// A client's extended `CONNECT`: the request to send and the rules its response must meet.
///
/// The request is `:method CONNECT`, `:protocol websocket`, `:scheme` `https` for `wss` and `http`
/// for `ws`, `:path` the URL's path and query, `:authority` its host (and port, when not the
/// default), then `sec-websocket-version: 13`, `sec-websocket-protocol` (if any), `origin` (if set),
/// `authorization` (if the URL has userinfo), the custom headers and `sec-websocket-extensions` (if
/// offered), names in lower case. Custom headers that HTTP/2 forbids or that the handshake sets
/// (`host`, the connection-specific headers, the `sec-websocket-*` headers above) are skipped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientConnect {
    request: ConnectRequest,
    protocols: Vec<String>,
}

impl ClientConnect {
    /// Prepares the request for `url` (`ws` or `wss`).
    ///
    /// Fails when the URL is not `ws` or `wss`, a protocol is not an HTTP token, or the origin or
    /// extension offer contains a control character other than a tab.
    pub fn new(url: &Url, options: ClientOptions) -> Result<Self, Error> {
        let target = Target::new(url, &options)?;
        // Custom headers not sent: `:authority` replaces `host`, and the connection-specific ones
        // would make the request malformed.
        let skip = [&["host"][..], &CONNECTION_SPECIFIC].concat();
        let mut headers = Headers::new();
        for (name, value) in offer_headers(&options, target.authorization.as_deref(), &skip) {
            headers.push(name.to_ascii_lowercase(), value);
        }
        let request = ConnectRequest {
            method: "CONNECT".to_owned(),
            protocol: Some(PROTOCOL.to_owned()),
            scheme: Some(if target.secure { "https" } else { "http" }.to_owned()),
            path: Some(target.path),
            authority: Some(target.authority),
            headers,
        };
        Ok(Self {
            request,
            protocols: options.protocols,
        })
    }

    /// The request to send.
    pub fn request(&self) -> &ConnectRequest {
        &self.request
    }

    /// Checks the server's response: status 200 (anything else is a refusal, reported with its status
    /// as [`ResponseError::UnexpectedStatus`]) and a `sec-websocket-protocol`, if any, that we
    /// offered. The extensions response is passed on raw.
    pub fn validate(&self, status: u16, headers: &Headers) -> Result<Negotiated, ResponseError> {
        if status != ConnectResponse::STATUS {
            return Err(ResponseError::UnexpectedStatus(status));
        }
        check_answer(headers, &self.protocols)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{AuthorityError, TargetError};
    use crate::server::assert_rejection;

    /// The request of RFC 8441 §5.1, with `changes` to its regular headers applied (`None` removes).
    fn rfc_request(changes: &[(&str, Option<&str>)]) -> ConnectRequest {
        let mut pairs = vec![
            ("sec-websocket-protocol", "chat, superchat"),
            ("sec-websocket-extensions", "permessage-deflate"),
            ("sec-websocket-version", "13"),
            ("origin", "http://www.example.com"),
        ];
        for (name, value) in changes {
            pairs.retain(|(n, _)| n != name);
            if let Some(v) = value {
                pairs.push((name, v));
            }
        }
        let mut headers = Headers::new();
        for (name, value) in pairs {
            headers.push(name, value);
        }
        ConnectRequest {
            method: "CONNECT".to_owned(),
            protocol: Some("websocket".to_owned()),
            scheme: Some("https".to_owned()),
            path: Some("/chat".to_owned()),
            authority: Some("server.example.com".to_owned()),
            headers,
        }
    }

    fn check(request: &ConnectRequest, expected: Result<(), (u16, RequestError)>) {
        assert_rejection(negotiate::<&str>(request, &[]).map(drop), expected, request);
    }

    #[test]
    fn server_accepts_the_rfc_8441_example_and_picks_chat() {
        let accepted = negotiate(&rfc_request(&[]), &["chat"]).unwrap();
        assert_eq!(
            accepted,
            ConnectAccepted {
                protocol: Some("chat".to_owned()),
                extensions_offer: Some("permessage-deflate".to_owned()),
            }
        );
        // The example's answer: `:status 200`, `sec-websocket-protocol = chat`.
        let response = accepted.response(None);
        assert_eq!(response.headers(), [("sec-websocket-protocol", "chat")]);
    }

    #[test]
    fn server_needs_no_key_and_ignores_one() {
        check(&rfc_request(&[]), Ok(()));
        check(
            &rfc_request(&[("sec-websocket-key", Some("not even base64"))]),
            Ok(()),
        );
    }

    #[test]
    fn server_accepts_odd_but_valid_pseudo_headers() {
        let mut request = rfc_request(&[("host", Some("SERVER.example.com:443"))]);
        check(&request, Ok(()));
        request.protocol = Some("WebSocket".to_owned());
        request.scheme = Some("http".to_owned());
        request.authority = Some("[::1]:8080".to_owned());
        request.path = Some("/chat?room=1".to_owned());
        request.headers = rfc_request(&[("te", Some("trailers"))]).headers;
        check(&request, Ok(()));
    }

    /// The RFC example with one pseudo-header replaced (`None` removes it; `:method` is always set).
    fn with_pseudo(name: &str, value: Option<&str>) -> ConnectRequest {
        let mut request = rfc_request(&[]);
        let value = value.map(str::to_owned);
        match name {
            ":method" => request.method = value.unwrap_or_default(),
            ":protocol" => request.protocol = value,
            ":scheme" => request.scheme = value,
            ":path" => request.path = value,
            ":authority" => request.authority = value,
            _ => unreachable!("not a request pseudo-header: {name}"),
        }
        request
    }

    #[test]
    fn server_rejects_each_pseudo_header_rule() {
        use RequestError as E;
        let path = |p: &str, reason| E::InvalidTarget {
            target: p.to_owned(),
            reason,
        };
        let authority = |a: &str, reason| E::InvalidAuthority {
            authority: a.to_owned(),
            reason,
        };
        for (name, value, status, reason) in [
            (
                ":method",
                Some("GET"),
                400,
                E::MethodNotConnect("GET".into()),
            ),
            (":protocol", None, 400, E::MissingProtocol),
            (
                ":protocol",
                Some("h3"),
                501,
                E::ProtocolNotWebSocket("h3".into()),
            ),
            (":scheme", None, 400, E::MissingPseudoHeader(":scheme")),
            (":scheme", Some("wss"), 400, E::InvalidScheme("wss".into())),
            (":path", None, 400, E::MissingPseudoHeader(":path")),
            (":path", Some(""), 400, path("", TargetError::NotPath)),
            (
                ":path",
                Some("chat"),
                400,
                path("chat", TargetError::NotPath),
            ),
            (":path", Some("*"), 400, path("*", TargetError::Asterisk)),
            (
                ":authority",
                None,
                400,
                E::MissingPseudoHeader(":authority"),
            ),
            (
                ":authority",
                Some("user@host"),
                400,
                authority("user@host", AuthorityError::Userinfo),
            ),
            (
                ":authority",
                Some("a b"),
                400,
                authority("a b", AuthorityError::RegName),
            ),
            (
                ":authority",
                Some("[::1"),
                400,
                authority("[::1", AuthorityError::IpLiteral),
            ),
        ] {
            check(&with_pseudo(name, value), Err((status, reason)));
        }
    }

    #[test]
    fn server_rejects_connection_specific_and_invalid_fields_as_malformed() {
        use RequestError as E;
        for name in [
            "connection",
            "upgrade",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
        ] {
            check(
                &rfc_request(&[(name, Some("x"))]),
                Err((400, E::ConnectionSpecificHeader(name.to_owned()))),
            );
        }
        check(
            &rfc_request(&[("te", Some("gzip"))]),
            Err((400, E::ConnectionSpecificHeader("te".to_owned()))),
        );
        for name in ["Sec-WebSocket-Version", ":status", "bad name", ""] {
            let mut request = rfc_request(&[]);
            request.headers.push(name, "13");
            check(&request, Err((400, E::InvalidField(name.to_owned()))));
        }
        let mut request = rfc_request(&[]);
        request.headers.push("x-a", "a\r\nb");
        check(&request, Err((400, E::InvalidField("x-a".to_owned()))));
    }

    #[test]
    fn server_rejects_a_host_that_differs_from_authority() {
        check(
            &rfc_request(&[("host", Some("other.example.com"))]),
            Err((
                400,
                RequestError::HostMismatch {
                    host: "other.example.com".to_owned(),
                    authority: "server.example.com".to_owned(),
                },
            )),
        );
        // :443 is https's default port, but not http's.
        let mut http = rfc_request(&[("host", Some("server.example.com:443"))]);
        http.scheme = Some("http".to_owned());
        assert!(negotiate::<&str>(&http, &[]).is_err());
    }

    #[test]
    fn server_answers_a_wrong_version_with_400_naming_13() {
        for version in [None, Some("8"), Some("13, 8")] {
            let request = rfc_request(&[("sec-websocket-version", version)]);
            let rejection = negotiate::<&str>(&request, &[]).unwrap_err();
            assert_eq!(rejection.status, 400, "{version:?}");
            assert_eq!(
                rejection.reason,
                Some(RequestError::UnsupportedVersion(version.map(str::to_owned)))
            );
            assert!(
                rejection
                    .headers()
                    .contains(&("Sec-WebSocket-Version", "13"))
            );
        }
    }

    #[test]
    fn server_negotiates_subprotocols_and_extensions_as_over_http1() {
        let request = rfc_request(&[("sec-websocket-protocol", Some("a, b"))]);
        let http1 = crate::Request {
            method: "GET".to_owned(),
            target: "/".to_owned(),
            version: 1,
            headers: request.headers.clone(),
        };
        for supported in [&["b", "a"][..], &["b"], &["x"], &[]] {
            let ours = negotiate(&request, supported).unwrap();
            let selection = select(&http1.headers, supported);
            assert_eq!(ours.protocol, selection.protocol, "{supported:?}");
            assert_eq!(ours.extensions_offer, selection.extensions_offer);
        }
        let response = upgrade(&request, &["b"], Some("  permessage-deflate  ")).unwrap();
        assert_eq!(
            response.headers(),
            [
                ("sec-websocket-protocol", "b"),
                ("sec-websocket-extensions", "permessage-deflate"),
            ]
        );
        assert_eq!(
            upgrade(&request, &["b"], Some("")).unwrap().extensions,
            None
        );
    }

    fn client(url: &str, options: ClientOptions) -> ClientConnect {
        ClientConnect::new(&Url::parse(url).unwrap(), options).unwrap()
    }

    #[test]
    fn client_builds_the_rfc_8441_example_request() {
        let mut custom = crate::HeaderList::new();
        custom.set("User-Agent", "wsd").unwrap();
        custom.set("Host", "elsewhere.example").unwrap();
        custom.set("Connection", "keep-alive").unwrap();
        custom.set("Upgrade", "websocket").unwrap();
        custom.set("Sec-WebSocket-Version", "8").unwrap();
        let connect = client(
            "wss://server.example.com/chat",
            ClientOptions {
                protocols: vec!["chat".to_owned(), "superchat".to_owned()],
                origin: Some("http://www.example.com".to_owned()),
                headers: custom,
                extensions: Some("permessage-deflate".to_owned()),
            },
        );
        let request = connect.request();
        assert_eq!(
            (
                request.method.as_str(),
                request.protocol.as_deref(),
                request.scheme.as_deref(),
                request.path.as_deref(),
                request.authority.as_deref(),
            ),
            (
                "CONNECT",
                Some("websocket"),
                Some("https"),
                Some("/chat"),
                Some("server.example.com")
            )
        );
        assert_eq!(
            request.headers.iter().collect::<Vec<_>>(),
            [
                ("sec-websocket-version", "13"),
                ("sec-websocket-protocol", "chat, superchat"),
                ("origin", "http://www.example.com"),
                ("user-agent", "wsd"),
                ("sec-websocket-extensions", "permessage-deflate"),
            ]
        );
        // What we send, our own server accepts.
        check(request, Ok(()));
    }

    #[test]
    fn client_request_follows_the_url() {
        let connect = client(
            "ws://user:pass@[::1]:8080/a/b?x=1#frag",
            ClientOptions::default(),
        );
        let request = connect.request();
        assert_eq!(request.scheme.as_deref(), Some("http"));
        assert_eq!(request.path.as_deref(), Some("/a/b?x=1"));
        assert_eq!(request.authority.as_deref(), Some("[::1]:8080"));
        assert_eq!(
            request.headers.get("authorization").as_deref(),
            Some("Basic dXNlcjpwYXNz")
        );
        let plain = client("ws://example.com", ClientOptions::default());
        assert_eq!(plain.request().path.as_deref(), Some("/"));
        assert!(
            ClientConnect::new(
                &Url::parse("https://example.com/").unwrap(),
                ClientOptions::default()
            )
            .is_err()
        );
    }

    #[test]
    fn client_accepts_200_with_an_offered_protocol_only() {
        let connect = client(
            "wss://server.example.com/chat",
            ClientOptions {
                protocols: vec!["chat".to_owned()],
                ..ClientOptions::default()
            },
        );
        let headers = |pairs: &[(&str, &str)]| {
            let mut h = Headers::new();
            for (n, v) in pairs {
                h.push(*n, *v);
            }
            h
        };
        assert_eq!(
            connect.validate(
                200,
                &headers(&[
                    ("sec-websocket-protocol", "chat"),
                    ("sec-websocket-extensions", "permessage-deflate"),
                ])
            ),
            Ok(Negotiated {
                protocol: Some("chat".to_owned()),
                extensions: Some("permessage-deflate".to_owned()),
            })
        );
        assert_eq!(
            connect.validate(200, &headers(&[])),
            Ok(Negotiated {
                protocol: None,
                extensions: None
            })
        );
        assert_eq!(
            connect.validate(200, &headers(&[("sec-websocket-protocol", "superchat")])),
            Err(ResponseError::UnexpectedProtocol("superchat".to_owned()))
        );
        for status in [101, 204, 400, 404, 501] {
            assert_eq!(
                connect.validate(status, &headers(&[])),
                Err(ResponseError::UnexpectedStatus(status))
            );
        }
    }
}
