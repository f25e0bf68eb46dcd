//! Conversions from and to the `http` crate's types (feature `http`), for servers and clients whose
//! own HTTP stack (hyper, axum, ...) parses and writes the heads.
//!
//! Nothing here writes bytes: requests and responses are `http::Request<()>` and
//! `http::Response<()>`, whose bodies the caller's stack fills in.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Uri, Version};

use crate::client::{ClientHandshake, Negotiated};
use crate::error::{Error, HeaderError, RequestError, ResponseError, UrlError};
use crate::extended_connect::{ClientConnect, ConnectRequest, ConnectResponse};
use crate::head::{Request, push_received};
use crate::headers::Headers;
use crate::server::{Rejection, SwitchingProtocols};

impl Request {
    /// A request from its method, URI and headers, taken to be HTTP/1.1 (convert a whole
    /// `http::Request` or `http::request::Parts` with `Request::try_from` when the version is known).
    ///
    /// The target is the URI as received: origin-form (`/chat?x`) or absolute-form. Header values that
    /// are not UTF-8 are read as ISO-8859-1, as [`Request::parse`] does.
    ///
    /// ```
    /// use http::{HeaderMap, Method, Uri};
    /// use wsd_handshake::Request;
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("host", "example.com".parse().unwrap());
    /// let request = Request::from_http_head(&Method::GET, &Uri::from_static("/chat?x=1"), &headers);
    /// assert_eq!((request.method.as_str(), request.target.as_str()), ("GET", "/chat?x=1"));
    /// assert_eq!(request.headers.get("Host").as_deref(), Some("example.com"));
    /// ```
    pub fn from_http_head(method: &Method, uri: &Uri, headers: &HeaderMap) -> Self {
        Self {
            method: method.as_str().to_owned(),
            target: uri.to_string(),
            version: 1,
            headers: headers_from(headers),
        }
    }

    /// [`from_http_head`](Self::from_http_head) with the version checked: HTTP/0.9 and HTTP/1.0
    /// become minor version 0 (which [`negotiate`](crate::server::negotiate) refuses), HTTP/2 and
    /// later fail.
    fn from_http_parts(
        method: &Method,
        uri: &Uri,
        version: Version,
        headers: &HeaderMap,
    ) -> Result<Self, RequestError> {
        let version = match version {
            Version::HTTP_11 => 1,
            Version::HTTP_09 | Version::HTTP_10 => 0,
            other => return Err(RequestError::NotHttp1(format!("{other:?}"))),
        };
        Ok(Self {
            version,
            ..Self::from_http_head(method, uri, headers)
        })
    }
}

/// Fails with [`RequestError::NotHttp1`] for HTTP/2 and HTTP/3 requests, which open WebSockets with
/// an extended `CONNECT` instead. HTTP/0.9 and HTTP/1.0 convert with minor version 0, which
/// [`negotiate`](crate::server::negotiate) then refuses.
impl TryFrom<&http::request::Parts> for Request {
    type Error = RequestError;

    fn try_from(parts: &http::request::Parts) -> Result<Self, RequestError> {
        Self::from_http_parts(&parts.method, &parts.uri, parts.version, &parts.headers)
    }
}

/// As for `http::request::Parts`; the body is not looked at.
///
/// ```
/// use wsd_handshake::{Request, RequestError, server};
///
/// let request = http::Request::get("/chat")
///     .header("Host", "example.com")
///     .header("Upgrade", "websocket")
///     .header("Connection", "Upgrade")
///     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("Sec-WebSocket-Version", "13")
///     .body(())
///     .unwrap();
/// let ours = Request::try_from(&request)?;
/// assert!(server::negotiate::<&str>(&ours, &[]).is_ok());
///
/// let h2 = http::Request::get("/chat").version(http::Version::HTTP_2).body(()).unwrap();
/// assert!(matches!(Request::try_from(&h2), Err(RequestError::NotHttp1(_))));
/// # Ok::<(), RequestError>(())
/// ```
impl<B> TryFrom<&http::Request<B>> for Request {
    type Error = RequestError;

    fn try_from(request: &http::Request<B>) -> Result<Self, RequestError> {
        Self::from_http_parts(
            request.method(),
            request.uri(),
            request.version(),
            request.headers(),
        )
    }
}

impl SwitchingProtocols {
    /// The answer as an `http::Response<()>`: status 101 and [`headers`](Self::headers).
    ///
    /// Fails if a value contains a control character (the protocol and extensions response are the
    /// caller's strings), as [`write`](Self::write) does.
    ///
    /// ```
    /// use wsd_handshake::server::SwitchingProtocols;
    ///
    /// let answer = SwitchingProtocols {
    ///     accept: "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=".into(),
    ///     protocol: Some("chat".into()),
    ///     extensions: None,
    /// };
    /// let response = answer.to_http_response()?;
    /// assert_eq!(response.status(), http::StatusCode::SWITCHING_PROTOCOLS);
    /// assert_eq!(response.headers()["upgrade"], "websocket");
    /// assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    /// # Ok::<(), wsd_handshake::Error>(())
    /// ```
    pub fn to_http_response(&self) -> Result<http::Response<()>, Error> {
        response(StatusCode::SWITCHING_PROTOCOLS, self.headers())
    }
}

impl Rejection {
    /// The refusal as an `http::Response<()>` for a request of `version`: the status, and
    /// [`headers`](Self::headers) plus `Connection: close` over HTTP/1.x (HTTP/2 and HTTP/3 forbid
    /// that header). The body is the [`message`](Self::message): attach it with
    /// `response.map(|()| rejection.message.clone())`, and the stack adds `Content-Length`.
    ///
    /// A status outside 100-999, which only a hand-built `Rejection` can have, becomes 500.
    ///
    /// ```
    /// use wsd_handshake::{RequestError, server::Rejection};
    ///
    /// let rejection = Rejection::from(RequestError::UnsupportedVersion(None));
    /// let response = rejection.to_http_response(http::Version::HTTP_11);
    /// assert_eq!(response.status(), http::StatusCode::UPGRADE_REQUIRED);
    /// assert_eq!(response.headers()["sec-websocket-version"], "13");
    /// assert_eq!(response.headers()["connection"], "close");
    /// ```
    pub fn to_http_response(&self, version: Version) -> http::Response<()> {
        let mut response = http::Response::new(());
        *response.status_mut() =
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let headers = response.headers_mut();
        for (name, value) in self.headers() {
            headers.append(name, HeaderValue::from_static(value));
        }
        if matches!(
            version,
            Version::HTTP_09 | Version::HTTP_10 | Version::HTTP_11
        ) {
            headers.append(http::header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl ClientHandshake {
    /// The request as an `http::Request<()>`: `GET`, HTTP/1.1, the URI in origin-form
    /// ([`target`](Self::target)) and [`headers`](Self::headers), `Host` included.
    ///
    /// The origin-form suits a connection-level client such as hyper's `client::conn::http1`, which
    /// sends the URI as it is; a client that wants an absolute URI can replace it with
    /// `*request.uri_mut()`. Check the answer with [`validate_http`](Self::validate_http).
    ///
    /// Fails only if the URL's path or a custom header cannot be represented by the `http` crate;
    /// what [`ClientHandshake::new`] accepts can be.
    ///
    /// ```
    /// use url::Url;
    /// use wsd_handshake::{ClientHandshake, ClientOptions};
    ///
    /// let url = Url::parse("ws://example.com/chat?room=1").unwrap();
    /// let handshake = ClientHandshake::new(&url, [7; 16], ClientOptions::default())?;
    /// let request = handshake.to_http_request()?;
    /// assert_eq!(request.uri(), "/chat?room=1");
    /// assert_eq!(request.headers()["host"], "example.com");
    /// assert_eq!(request.headers()["sec-websocket-key"], handshake.key());
    /// # Ok::<(), wsd_handshake::Error>(())
    /// ```
    pub fn to_http_request(&self) -> Result<http::Request<()>, Error> {
        let headers = self.headers();
        let headers = headers.iter().map(|(n, v)| (*n, v.as_ref()));
        request(Method::GET, self.target(), Version::HTTP_11, headers)
    }

    /// [`validate`](Self::validate) for a response the caller's HTTP stack received.
    ///
    /// ```
    /// use url::Url;
    /// use wsd_handshake::{ClientHandshake, ClientOptions, ResponseError};
    ///
    /// let url = Url::parse("ws://example.com/").unwrap();
    /// let handshake = ClientHandshake::new(&url, [7; 16], ClientOptions::default())?;
    /// let response = http::Response::builder()
    ///     .status(101)
    ///     .header("upgrade", "websocket")
    ///     .header("connection", "upgrade")
    ///     .header("sec-websocket-accept", handshake.expected_accept())
    ///     .body(())
    ///     .unwrap();
    /// assert!(handshake.validate_http(&response).is_ok());
    /// let not_found = http::Response::builder().status(404).body(()).unwrap();
    /// assert_eq!(handshake.validate_http(&not_found), Err(ResponseError::UnexpectedStatus(404)));
    /// # Ok::<(), wsd_handshake::Error>(())
    /// ```
    pub fn validate_http<B>(
        &self,
        response: &http::Response<B>,
    ) -> Result<Negotiated, ResponseError> {
        self.validate_head(
            response.status().as_u16(),
            &headers_from(response.headers()),
        )
    }
}

impl ConnectRequest {
    /// An extended `CONNECT` request as an HTTP/2 or HTTP/3 stack built on the `http` crate hands it
    /// over: `:method`, `:scheme`, `:authority` and `:path` from the request's method and URI, the
    /// headers, and `protocol`, the `:protocol` pseudo-header, which the `http` crate has no place for
    /// (hyper keeps it as `hyper::ext::Protocol` in the request's extensions).
    ///
    /// ```
    /// use wsd_handshake::extended_connect::{ConnectRequest, upgrade};
    ///
    /// let request = http::Request::builder()
    ///     .method(http::Method::CONNECT)
    ///     .version(http::Version::HTTP_2)
    ///     .uri("https://server.example.com/chat")
    ///     .header("sec-websocket-version", "13")
    ///     .header("sec-websocket-protocol", "chat, superchat")
    ///     .body(())
    ///     .unwrap();
    /// // With hyper: request.extensions().get::<hyper::ext::Protocol>().map(|p| p.as_str())
    /// let ours = ConnectRequest::from_http(&request, Some("websocket"));
    /// let response = upgrade(&ours, &["superchat"], None).expect("valid").to_http_response()?;
    /// assert_eq!(response.status(), http::StatusCode::OK);
    /// assert_eq!(response.headers()["sec-websocket-protocol"], "superchat");
    /// # Ok::<(), wsd_handshake::Error>(())
    /// ```
    pub fn from_http<B>(request: &http::Request<B>, protocol: Option<&str>) -> Self {
        Self::from_http_head(request.method(), request.uri(), request.headers(), protocol)
    }

    /// [`from_http`](Self::from_http) for `http::request::Parts`.
    pub fn from_http_parts(parts: &http::request::Parts, protocol: Option<&str>) -> Self {
        Self::from_http_head(&parts.method, &parts.uri, &parts.headers, protocol)
    }

    fn from_http_head(
        method: &Method,
        uri: &Uri,
        headers: &HeaderMap,
        protocol: Option<&str>,
    ) -> Self {
        Self {
            method: method.as_str().to_owned(),
            protocol: protocol.map(str::to_owned),
            scheme: uri.scheme_str().map(str::to_owned),
            path: uri.path_and_query().map(|p| p.as_str().to_owned()),
            authority: uri.authority().map(|a| a.as_str().to_owned()),
            headers: headers_from(headers),
        }
    }
}

impl ConnectResponse {
    /// The answer as an `http::Response<()>`: status 200 and [`headers`](Self::headers).
    ///
    /// Fails if a value contains a control character (the protocol and extensions response are the
    /// caller's strings).
    pub fn to_http_response(&self) -> Result<http::Response<()>, Error> {
        response(StatusCode::OK, self.headers())
    }
}

impl ClientConnect {
    /// The request as an `http::Request<()>` for an HTTP/2 client: `CONNECT`, HTTP/2, the URI
    /// `scheme://authority/path` from which the stack derives `:scheme`, `:authority` and `:path`,
    /// and the headers.
    ///
    /// The `http` crate cannot carry `:protocol`: add it the way the stack wants, for hyper
    /// `request.extensions_mut().insert(hyper::ext::Protocol::from_static("websocket"))`.
    ///
    /// Fails only if the URL's parts or a custom header cannot be represented by the `http` crate;
    /// what [`ClientConnect::new`] accepts can be.
    ///
    /// ```
    /// use url::Url;
    /// use wsd_handshake::ClientOptions;
    /// use wsd_handshake::extended_connect::ClientConnect;
    ///
    /// let url = Url::parse("wss://server.example.com/chat").unwrap();
    /// let connect = ClientConnect::new(&url, ClientOptions::default())?;
    /// let request = connect.to_http_request()?;
    /// assert_eq!(request.method(), http::Method::CONNECT);
    /// assert_eq!(request.uri(), "https://server.example.com/chat");
    /// assert_eq!(request.headers()["sec-websocket-version"], "13");
    ///
    /// let response = http::Response::builder().status(200).body(()).unwrap();
    /// assert_eq!(connect.validate_http(&response)?.protocol, None);
    /// # Ok::<(), wsd_handshake::Error>(())
    /// ```
    pub fn to_http_request(&self) -> Result<http::Request<()>, Error> {
        let head = self.request();
        let (scheme, authority, path) = (
            head.scheme.as_deref().unwrap_or_default(),
            head.authority.as_deref().unwrap_or_default(),
            head.path.as_deref().unwrap_or_default(),
        );
        let uri = format!("{scheme}://{authority}{path}");
        request(Method::CONNECT, &uri, Version::HTTP_2, head.headers.iter())
    }

    /// [`validate`](Self::validate) for a response the caller's HTTP/2 stack received.
    pub fn validate_http<B>(
        &self,
        response: &http::Response<B>,
    ) -> Result<Negotiated, ResponseError> {
        self.validate(
            response.status().as_u16(),
            &headers_from(response.headers()),
        )
    }
}

/// A request to send; the URI and the headers must be representable by the `http` crate.
fn request<'a>(
    method: Method,
    uri: &str,
    version: Version,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<http::Request<()>, Error> {
    let uri = Uri::try_from(uri).map_err(|_| Error::InvalidUrl {
        url: uri.to_owned(),
        reason: UrlError::Target,
    })?;
    let mut request = http::Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    *request.headers_mut() = header_map(headers)?;
    Ok(request)
}

/// A response to send; the headers must be representable by the `http` crate.
fn response<'a>(
    status: StatusCode,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<http::Response<()>, Error> {
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    *response.headers_mut() = header_map(headers)?;
    Ok(response)
}

/// Received headers, for a caller whose HTTP stack (an HTTP/2 client, for
/// [`ClientConnect::validate`]) hands them over as an `http::HeaderMap`. Values are
/// decoded as [`Response::parse`](crate::Response::parse) decodes them: UTF-8 when
/// they are, else ISO-8859-1, without surrounding whitespace.
///
/// ```
/// use wsd_handshake::Headers;
///
/// let mut map = http::HeaderMap::new();
/// map.insert("sec-websocket-protocol", "chat".parse().unwrap());
/// let headers = Headers::from(&map);
/// assert_eq!(headers.get("Sec-WebSocket-Protocol").as_deref(), Some("chat"));
/// ```
impl From<&HeaderMap> for Headers {
    fn from(map: &HeaderMap) -> Self {
        headers_from(map)
    }
}

/// Received headers from an `http::HeaderMap`, with the same value decoding as our own parser.
pub(crate) fn headers_from(map: &HeaderMap) -> Headers {
    let mut headers = Headers::new();
    for (name, value) in map {
        push_received(&mut headers, name.as_str(), value.as_bytes());
    }
    headers
}

/// Headers to send as an `http::HeaderMap`; a name or value the `http` crate refuses is an
/// [`Error::InvalidHeader`] naming it.
pub(crate) fn header_map<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<HeaderMap, Error> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HeaderError::InvalidName(name.to_owned()))?;
        let value =
            HeaderValue::from_bytes(value.as_bytes()).map_err(|_| HeaderError::InvalidValue {
                name: name.to_owned(),
                value: value.to_owned(),
            })?;
        map.append(header, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use url::Url;

    use super::*;
    use crate::ClientOptions;
    use crate::HeaderList;
    use crate::server::{negotiate, upgrade};

    /// The map's headers in order, as text.
    fn pairs(map: &HeaderMap) -> Vec<(&str, &str)> {
        map.iter()
            .map(|(n, v)| (n.as_str(), v.to_str().unwrap()))
            .collect()
    }

    fn websocket_request(version: Version) -> http::Request<()> {
        http::Request::get("/chat")
            .version(version)
            .header("host", "example.com")
            .header("upgrade", "websocket")
            .header("connection", "keep-alive, Upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-protocol", "v1, v2")
            .header("sec-websocket-extensions", "permessage-deflate")
            .header("sec-websocket-extensions", "x-foo")
            .body(())
            .unwrap()
    }

    #[test]
    fn http_requests_convert_with_every_header_value() {
        let mut request = websocket_request(Version::HTTP_11);
        request
            .headers_mut()
            .append("x-latin1", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        let ours = Request::try_from(&request).unwrap();
        assert_eq!(
            (ours.method.as_str(), ours.target.as_str(), ours.version),
            ("GET", "/chat", 1)
        );
        assert_eq!(
            ours.headers.get("Sec-WebSocket-Extensions").as_deref(),
            Some("permessage-deflate, x-foo")
        );
        assert_eq!(ours.headers.get("X-Latin1").as_deref(), Some("caf\u{e9}"));
        let (parts, ()) = request.into_parts();
        assert_eq!(Request::try_from(&parts), Ok(ours));
    }

    #[test]
    fn http_request_versions_map_to_what_negotiate_expects() {
        let old = Request::try_from(&websocket_request(Version::HTTP_10)).unwrap();
        assert_eq!(
            negotiate::<&str>(&old, &[]).unwrap_err().reason,
            Some(RequestError::HttpVersion(0))
        );
        for version in [Version::HTTP_2, Version::HTTP_3] {
            let err = Request::try_from(&websocket_request(version)).unwrap_err();
            assert_eq!(err, RequestError::NotHttp1(format!("{version:?}")));
            assert_eq!(Rejection::from(err).status, 400);
        }
    }

    #[test]
    fn absolute_form_uris_stay_absolute() {
        let mut request = websocket_request(Version::HTTP_11);
        *request.uri_mut() = Uri::from_static("ws://example.com:8080/chat?x=1");
        let ours = Request::try_from(&request).unwrap();
        assert_eq!(ours.target, "ws://example.com:8080/chat?x=1");
        assert!(negotiate::<&str>(&ours, &[]).is_ok());
    }

    #[test]
    fn server_answers_an_http_request_with_an_http_101() {
        let request = Request::try_from(&websocket_request(Version::HTTP_11)).unwrap();
        let answer = upgrade(&request, &["v2"], Some(" permessage-deflate ")).unwrap();
        let response = answer.to_http_response().unwrap();
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        assert_eq!(
            pairs(response.headers()),
            [
                ("upgrade", "websocket"),
                ("connection", "Upgrade"),
                ("sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
                ("sec-websocket-protocol", "v2"),
                ("sec-websocket-extensions", "permessage-deflate"),
            ]
        );
    }

    #[test]
    fn an_answer_with_a_control_character_fails_to_convert() {
        let answer = SwitchingProtocols {
            accept: "x".to_owned(),
            protocol: None,
            extensions: Some("a\x01b".to_owned()),
        };
        assert_eq!(
            answer.to_http_response().unwrap_err(),
            Error::InvalidHeader(HeaderError::InvalidValue {
                name: "Sec-WebSocket-Extensions".to_owned(),
                value: "a\x01b".to_owned(),
            })
        );
    }

    #[test]
    fn rejections_convert_with_their_status_and_headers() {
        let request = Request::try_from(&websocket_request(Version::HTTP_11)).unwrap();
        let bad = Request {
            method: "POST".to_owned(),
            ..request
        };
        let rejection = negotiate::<&str>(&bad, &[]).unwrap_err();
        let response = rejection.to_http_response(Version::HTTP_11);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()["content-type"], "text/plain");
        assert_eq!(response.headers()["connection"], "close");
        assert!(!response.headers().contains_key("sec-websocket-version"));
        let body = response.map(|()| rejection.message.clone());
        assert_eq!(
            body.body(),
            "Not a WebSocket request: method is POST, not GET"
        );

        let h2 = Rejection::bad_request("no").to_http_response(Version::HTTP_2);
        assert!(!h2.headers().contains_key("connection"));
        let odd = Rejection {
            status: 42,
            ..Rejection::bad_request("no")
        };
        assert_eq!(
            odd.to_http_response(Version::HTTP_11).status(),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }

    #[test]
    fn extended_connect_requests_convert_from_their_uri() {
        let request = http::Request::builder()
            .method(Method::CONNECT)
            .version(Version::HTTP_2)
            .uri("http://[::1]:8080/chat?room=1")
            .header("sec-websocket-version", "13")
            .body(())
            .unwrap();
        let ours = ConnectRequest::from_http(&request, Some("websocket"));
        assert_eq!(
            (
                ours.method.as_str(),
                ours.protocol.as_deref(),
                ours.scheme.as_deref(),
                ours.authority.as_deref(),
                ours.path.as_deref(),
            ),
            (
                "CONNECT",
                Some("websocket"),
                Some("http"),
                Some("[::1]:8080"),
                Some("/chat?room=1")
            )
        );
        let (parts, ()) = request.into_parts();
        assert_eq!(
            ConnectRequest::from_http_parts(&parts, Some("websocket")),
            ours
        );
        // Without :protocol it is a plain CONNECT, which a WebSocket server refuses.
        let plain = ConnectRequest::from_http_parts(&parts, None);
        let rejection = crate::extended_connect::negotiate::<&str>(&plain, &[]).unwrap_err();
        assert_eq!(rejection.reason, Some(RequestError::MissingProtocol));
        let response = rejection.to_http_response(Version::HTTP_2);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(!response.headers().contains_key("connection"));
    }

    #[test]
    fn extended_connect_round_trips_through_http_types() {
        let connect = ClientConnect::new(
            &Url::parse("wss://server.example.com/chat").unwrap(),
            ClientOptions {
                protocols: vec!["chat".to_owned(), "superchat".to_owned()],
                extensions: Some("permessage-deflate".to_owned()),
                ..ClientOptions::default()
            },
        )
        .unwrap();
        let request = connect.to_http_request().unwrap();
        assert_eq!(request.version(), Version::HTTP_2);
        assert_eq!(
            pairs(request.headers()),
            [
                ("sec-websocket-version", "13"),
                ("sec-websocket-protocol", "chat, superchat"),
                ("sec-websocket-extensions", "permessage-deflate"),
            ]
        );
        let server_side = ConnectRequest::from_http(&request, Some("websocket"));
        assert_eq!(&server_side, connect.request());
        let response = crate::extended_connect::upgrade(&server_side, &["superchat"], Some("x"))
            .unwrap()
            .to_http_response()
            .unwrap();
        assert_eq!(
            connect.validate_http(&response),
            Ok(Negotiated {
                protocol: Some("superchat".to_owned()),
                extensions: Some("x".to_owned()),
            })
        );
        let refused = http::Response::builder().status(403).body(()).unwrap();
        assert_eq!(
            connect.validate_http(&refused),
            Err(ResponseError::UnexpectedStatus(403))
        );
    }

    fn client(url: &str, options: ClientOptions) -> ClientHandshake {
        ClientHandshake::new(&Url::parse(url).unwrap(), [7; 16], options).unwrap()
    }

    #[test]
    fn client_request_carries_the_handshake_headers_in_order() {
        let mut custom = HeaderList::new();
        custom.set("User-Agent", "wsd").unwrap();
        custom.set("Upgrade", "h2c").unwrap();
        let handshake = client(
            "ws://user:pass@example.com:8080/chat?room=1",
            ClientOptions {
                protocols: vec!["v1".to_owned(), "v2".to_owned()],
                origin: Some("http://example.com".to_owned()),
                headers: custom,
                extensions: Some("permessage-deflate".to_owned()),
            },
        );
        let request = handshake.to_http_request().unwrap();
        assert_eq!(request.method(), Method::GET);
        assert_eq!(request.version(), Version::HTTP_11);
        assert_eq!(request.uri(), "/chat?room=1");
        assert_eq!(
            pairs(request.headers()),
            [
                ("host", "example.com:8080"),
                ("upgrade", "websocket"),
                ("connection", "Upgrade"),
                ("sec-websocket-key", handshake.key()),
                ("sec-websocket-version", "13"),
                ("sec-websocket-protocol", "v1, v2"),
                ("origin", "http://example.com"),
                ("authorization", "Basic dXNlcjpwYXNz"),
                ("user-agent", "wsd"),
                ("sec-websocket-extensions", "permessage-deflate"),
            ]
        );
    }

    #[test]
    fn client_and_server_complete_a_handshake_through_http_types() {
        let handshake = client(
            "wss://example.com/chat",
            ClientOptions {
                protocols: vec!["v1".to_owned(), "v2".to_owned()],
                ..ClientOptions::default()
            },
        );
        let request = Request::try_from(&handshake.to_http_request().unwrap()).unwrap();
        let response = upgrade(&request, &["v2"], Some("x-ext"))
            .unwrap()
            .to_http_response()
            .unwrap();
        assert_eq!(
            handshake.validate_http(&response),
            Ok(Negotiated {
                protocol: Some("v2".to_owned()),
                extensions: Some("x-ext".to_owned()),
            })
        );
    }

    #[test]
    fn client_checks_every_rule_on_an_http_response() {
        let handshake = client("ws://example.com/", ClientOptions::default());
        let response = |status: u16, accept: &str, protocol: Option<&str>| {
            let mut builder = http::Response::builder()
                .status(status)
                .header("upgrade", "websocket")
                .header("connection", "upgrade")
                .header("sec-websocket-accept", accept);
            if let Some(p) = protocol {
                builder = builder.header("sec-websocket-protocol", p);
            }
            builder.body(()).unwrap()
        };
        let accept = handshake.expected_accept().to_owned();
        assert_eq!(
            handshake.validate_http(&response(200, &accept, None)),
            Err(ResponseError::UnexpectedStatus(200))
        );
        assert_eq!(
            handshake.validate_http(&response(101, "nope", None)),
            Err(ResponseError::AcceptMismatch {
                expected: accept.clone(),
                received: "nope".to_owned(),
            })
        );
        assert_eq!(
            handshake.validate_http(&response(101, &accept, Some("chat"))),
            Err(ResponseError::UnexpectedProtocol("chat".to_owned()))
        );
    }
}
