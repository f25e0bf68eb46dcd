//! Connections whose opening handshake another HTTP stack (hyper, axum, ...) carried:
//! a server made open from the request that stack received, handing back the 101
//! for it to send; a client made open from the response head that stack received.
//!
//! The negotiation is the one [`Connection::start`] runs (subprotocol, extensions,
//! custom headers); only the writing and reading of the heads is left to the stack.

use core::fmt;

use rand::SeedableRng;
use rand::rngs::StdRng;
use wsd_frame::Role;
use wsd_handshake::client::ClientHandshake;
use wsd_handshake::server::Rejection;
use wsd_handshake::{Limits, Negotiated, Request, Response, ResponseError, Status};

use super::Connection;
use super::framing::Framing;
use super::state::Handshake;
use crate::Error;
use crate::options::Options;

/// For HTTP stacks that read and write the heads themselves.
impl Connection {
    /// Servers whose HTTP stack received the request and sends the answer: checks
    /// and negotiates `request` as [`start`](Self::start) does (subprotocols from
    /// `options.protocols`, extensions from `options.extensions`) and returns the
    /// `101 Switching Protocols` head for the stack to send, with
    /// `options.headers` in it, and a connection that is already
    /// [`Open`](crate::ReadyState::Open): feed it the bytes of the upgraded stream.
    /// Its first event is [`Event::Open`](crate::Event::Open).
    ///
    /// The head is the one [`start`](Self::start) would write, as data: status,
    /// reason and headers in order. Legacy drafts are not accepted on this path
    /// (their 101 is not HTTP), whatever `options.allow_drafts` says.
    ///
    /// A request that is not a valid WebSocket upgrade (or options that are
    /// invalid) gives [`Refused`], which holds the HTTP answer to send instead.
    ///
    /// ```
    /// use wsd_core::{Connection, Event, Message, Options, ReadyState, Request};
    /// use wsd_core::{Headers, Limits};
    ///
    /// // A request head as an HTTP server parsed it.
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
    /// let request = Request { method: "GET".into(), target: "/".into(), version: 1, headers };
    /// let mut options = Options::default();
    /// options.protocols = vec!["chat".into()];
    ///
    /// let (response, mut conn) = Connection::upgrade(request, options).expect("a valid request");
    /// assert_eq!(response.status, 101);
    /// assert_eq!(
    ///     response.headers.get("Sec-WebSocket-Accept").as_deref(),
    ///     Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    /// );
    /// assert_eq!(conn.state(), ReadyState::Open);
    /// assert_eq!(conn.protocol(), Some("chat"));
    /// assert_eq!(conn.poll_event(), Some(Event::Open));
    ///
    /// // The upgraded stream carries frames: a masked "Hello" (RFC 6455 section 5.7).
    /// conn.handle_input(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// assert_eq!(conn.poll_event(), Some(Event::Message(Message::text("Hello"))));
    /// ```
    pub fn upgrade(request: Request, options: Options) -> Result<(Response, Self), Refused> {
        if let Err(error) = options.validate() {
            return Err(Refused::internal(error));
        }
        let mut connection = Self::new(Role::Server, options, Handshake::AwaitingStart, None);
        let accepted = connection.accept_rfc6455(&request)?;
        let response = parse_own_head(&accepted.head)?;
        connection.set_request(request);
        connection.protocol = accepted.protocol;
        let framing = Framing::rfc6455(Role::Server, &connection.options, accepted.pipeline);
        connection.open(framing);
        Ok((response, connection))
    }

    /// Clients whose HTTP stack sends the request: the handshake for `url` with
    /// `options` (subprotocols, origin, headers, the extensions' offer) and a fresh
    /// random key. Send `GET` [`target`](ClientHandshake::target) with its
    /// [`headers`](ClientHandshake::headers) (or, with `wsd-handshake`'s `http`
    /// feature, `to_http_request`), then hand the response head to
    /// [`client_opened`](Self::client_opened) with the same options.
    ///
    /// ```
    /// use wsd_core::{Connection, Options};
    ///
    /// let mut options = Options::default();
    /// options.protocols = vec!["chat".into()];
    /// let handshake = Connection::client_handshake("ws://example.com/chat", &options)?;
    /// assert_eq!(handshake.target(), "/chat");
    /// assert!(handshake.headers().contains(&("Sec-WebSocket-Protocol", "chat".into())));
    /// # Ok::<(), wsd_core::Error>(())
    /// ```
    pub fn client_handshake(url: &str, options: &Options) -> Result<ClientHandshake, Error> {
        options.validate()?;
        let mut connection = Self::client(url, options.clone())?;
        connection.client_handshake_now().map_err(Error::Usage)
    }

    /// Clients whose HTTP stack received the response: checks `response` against the
    /// `handshake` sent (RFC 6455 section 4.1: status 101, `Upgrade`, `Connection`,
    /// the accept key, a subprotocol we offered) and activates the extensions it
    /// accepted, as a connection reading the response itself does. Returns a
    /// connection that is already [`Open`](crate::ReadyState::Open), for the
    /// upgraded stream; its first event is [`Event::Open`](crate::Event::Open).
    /// `options` must be those [`client_handshake`](Self::client_handshake) was
    /// given, so the extensions that made the offer are the ones activated.
    ///
    /// [`status`](Self::status) and [`response_headers`](Self::response_headers)
    /// report `response`; [`url`](Self::url) is `None`, as the handshake does not
    /// keep the URL it was made for.
    ///
    /// ```
    /// use wsd_core::{Connection, Headers, Options, ReadyState, Response};
    ///
    /// let options = Options::default();
    /// let handshake = Connection::client_handshake("ws://example.com/", &options)?;
    /// let mut headers = Headers::new();
    /// headers.push("Upgrade", "websocket");
    /// headers.push("Connection", "Upgrade");
    /// headers.push("Sec-WebSocket-Accept", handshake.expected_accept());
    /// let response = Response { version: 1, status: 101, reason: "Switching Protocols".into(), headers };
    /// let conn = Connection::client_opened(&handshake, response, options)?;
    /// assert_eq!(conn.state(), ReadyState::Open);
    /// # Ok::<(), wsd_core::Error>(())
    /// ```
    pub fn client_opened(
        handshake: &ClientHandshake,
        response: Response,
        options: Options,
    ) -> Result<Self, Error> {
        Self::opened_client(options, response, |response| handshake.validate(response))
    }

    /// A client made open from the `response` another stack received, which
    /// `check` judges (the HTTP/1.1 or the extended `CONNECT` rules): the options
    /// checked, the extensions activated, the response kept for the getters.
    pub(super) fn opened_client(
        options: Options,
        response: Response,
        check: impl FnOnce(&Response) -> Result<Negotiated, ResponseError>,
    ) -> Result<Self, Error> {
        options.validate()?;
        let masks = match options.mask_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let mut connection = Self::new(Role::Client, options, Handshake::Idle, Some(masks));
        let checked = check(&response)
            .map_err(|e| Error::Handshake(wsd_handshake::Error::Response(e)))
            .and_then(|negotiated| connection.activate(negotiated));
        connection.response = Some(response);
        let (protocol, pipeline) = checked?;
        connection.protocol = protocol;
        let framing = Framing::rfc6455(Role::Client, &connection.options, pipeline);
        connection.open(framing);
        Ok(connection)
    }
}

/// The 101 head [`Connection::accept_rfc6455`] wrote, as data. Parsing the bytes
/// rather than listing the headers again keeps the stack's answer the one our own
/// server writes (custom headers first, none replacing a handshake header).
fn parse_own_head(head: &[u8]) -> Result<Response, Refused> {
    let limits = Limits {
        max_head_bytes: head.len(),
        max_headers: head.iter().filter(|&&b| b == b'\n').count(),
    };
    match Response::parse(head, &limits) {
        Ok(Status::Complete((response, _))) => Ok(response),
        // Our own head always parses; should it not, the request cannot be answered.
        Ok(Status::Partial) => Err(Refused::internal(Error::Handshake(
            wsd_handshake::Error::HeadTooLarge {
                limit: limits.max_head_bytes,
            },
        ))),
        Err(e) => Err(Refused::internal(Error::Handshake(e))),
    }
}

/// A request [`Connection::upgrade`] refused: the HTTP answer to send instead
/// ([`rejection`](Self::rejection)), and why ([`error`](Self::error), also its
/// [`source`](std::error::Error::source)).
///
/// ```
/// use wsd_core::{Connection, Headers, Options, Request};
///
/// let request = Request { method: "GET".into(), target: "/".into(), version: 1, headers: Headers::new() };
/// let refused = Connection::upgrade(request, Options::default()).unwrap_err();
/// assert_eq!(refused.rejection().status, 400);
/// assert_eq!(refused.rejection().message, "Not a WebSocket request: no Upgrade header");
/// assert_eq!(refused.to_string(), "the WebSocket request was refused with 400 Bad Request");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused(Box<RefusedParts>);

/// Boxed, so a `Result` carrying a [`Refused`] stays small.
#[derive(Debug, Clone, PartialEq, Eq)]
struct RefusedParts {
    rejection: Rejection,
    error: Error,
}

impl Refused {
    /// A refusal with this answer and reason, for an HTTP stack that refuses a
    /// request before [`Connection::upgrade`] sees it (an HTTP/2 request, say).
    ///
    /// ```
    /// use wsd_core::{Error, Refused, Rejection};
    ///
    /// let message = "WebSockets over HTTP/2 are not served here";
    /// let refused = Refused::new(
    ///     Rejection::bad_request(message),
    ///     Error::Rejected { status: 400, message: message.into() },
    /// );
    /// assert_eq!(refused.rejection().status, 400);
    /// assert_eq!(refused.error().to_string(), message);
    /// ```
    pub fn new(rejection: Rejection, error: Error) -> Self {
        Self(Box::new(RefusedParts { rejection, error }))
    }

    /// A request the handshake layer refused, with the error a connection answering
    /// the request itself reports for the same rule.
    pub(super) fn from_rejection(rejection: Rejection) -> Self {
        let error = match rejection.reason.clone() {
            Some(reason) => Error::Handshake(wsd_handshake::Error::Request(reason)),
            None => Error::Rejected {
                status: rejection.status,
                message: rejection.message.clone(),
            },
        };
        Self::new(rejection, error)
    }

    /// A failure on our side (invalid options): 500, with the error as the body, as
    /// [`Connection::start`] answers when it cannot write its 101.
    pub(super) fn internal(error: Error) -> Self {
        let rejection = Rejection {
            status: 500,
            message: error.to_string(),
            reason: None,
        };
        Self::new(rejection, error)
    }

    /// The answer: its status (400, 426 for an unsupported version, 500 for invalid
    /// options), its headers ([`Rejection::headers`]) and its plain-text body
    /// ([`Rejection::message`]); `Rejection::to_http_response` with `wsd-handshake`'s
    /// `http` feature.
    pub fn rejection(&self) -> &Rejection {
        &self.0.rejection
    }

    /// Why, as a connection answering the request itself reports it in
    /// [`Event::Error`](crate::Event::Error).
    pub fn error(&self) -> &Error {
        &self.0.error
    }

    /// The answer and the reason, by value.
    pub fn into_parts(self) -> (Rejection, Error) {
        let parts = *self.0;
        (parts.rejection, parts.error)
    }
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.rejection().status;
        let phrase = wsd_handshake::reason_phrase(status);
        write!(
            f,
            "the WebSocket request was refused with {status} {phrase}"
        )
    }
}

impl std::error::Error for Refused {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.error())
    }
}

impl From<Refused> for Error {
    /// The reason, without the answer.
    fn from(refused: Refused) -> Self {
        refused.into_parts().1
    }
}

#[cfg(test)]
pub(super) mod tests {
    use wsd_frame::{CloseCode, OpCode, Rsv, encode_frame};
    use wsd_handshake::{Headers, RequestError, ResponseError};

    use super::*;
    use crate::{Event, Message, ReadyState};

    pub(in crate::connection) fn options() -> Options {
        Options {
            mask_seed: Some(7),
            ..Options::default()
        }
    }

    pub(in crate::connection) fn with_protocols(protocols: &[&str]) -> Options {
        Options {
            protocols: protocols.iter().map(|&p| p.to_owned()).collect(),
            ..options()
        }
    }

    /// The request `handshake` describes, as the server's HTTP stack parses it.
    fn request_for(handshake: &ClientHandshake) -> Request {
        let mut head = Vec::new();
        handshake.write_request(&mut head);
        match Request::parse(&head, &Limits::default()) {
            Ok(Status::Complete((request, _))) => request,
            other => panic!("our request head does not parse: {other:?}"),
        }
    }

    /// A `GET /chat` with `headers`.
    fn get<'a>(headers: impl IntoIterator<Item = &'a (&'a str, &'a str)>) -> Request {
        let mut list = Headers::new();
        for (name, value) in headers {
            list.push(*name, *value);
        }
        Request {
            method: "GET".into(),
            target: "/chat".into(),
            version: 1,
            headers: list,
        }
    }

    /// The RFC 6455 section 1.3 request, with `extra` headers.
    fn rfc_request(extra: &[(&str, &str)]) -> Request {
        const RFC: [(&str, &str); 5] = [
            ("Host", "example.com"),
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="),
            ("Sec-WebSocket-Version", "13"),
        ];
        get(RFC.iter().chain(extra))
    }

    pub(in crate::connection) fn events(conn: &mut Connection) -> Vec<Event> {
        std::iter::from_fn(|| conn.poll_event()).collect()
    }

    /// A client and a server opened through the HTTP-stack constructors.
    fn pair(client_options: Options, server_options: Options) -> (Connection, Connection) {
        let url = "ws://example.com/chat";
        let handshake = Connection::client_handshake(url, &client_options).unwrap();
        let (response, mut server) =
            Connection::upgrade(request_for(&handshake), server_options).unwrap();
        let mut client = Connection::client_opened(&handshake, response, client_options).unwrap();
        assert_eq!(events(&mut server), [Event::Open]);
        assert_eq!(events(&mut client), [Event::Open]);
        (client, server)
    }

    #[test]
    fn server_upgrade_returns_the_101_head_with_custom_headers_and_opens() {
        let mut options = with_protocols(&["v2"]);
        options.headers = vec![("X-Served-By".into(), "wsd".into())];
        let request = rfc_request(&[("Sec-WebSocket-Protocol", "v1, v2")]);
        let (response, mut server) = Connection::upgrade(request, options).unwrap();
        assert_eq!(
            (response.version, response.status, response.reason.as_str()),
            (1, 101, "Switching Protocols")
        );
        let headers: Vec<(&str, &str)> = response.headers.iter().collect();
        assert_eq!(
            headers,
            [
                ("X-Served-By", "wsd"),
                ("Upgrade", "websocket"),
                ("Connection", "Upgrade"),
                ("Sec-WebSocket-Accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
                ("Sec-WebSocket-Protocol", "v2"),
            ]
        );
        assert_eq!(server.state(), ReadyState::Open);
        assert_eq!(server.protocol(), Some("v2"));
        assert_eq!(server.url().unwrap().as_str(), "ws://example.com/chat");
        assert_eq!(server.request().unwrap().target, "/chat");
        // Nothing to write: the head is the stack's to send.
        assert_eq!(server.buffered_amount(), 0);
        assert_eq!(events(&mut server), [Event::Open]);

        let mut frame = Vec::new();
        let key = Some([1, 2, 3, 4]);
        encode_frame(true, OpCode::Text, Rsv::NONE, b"hi", key, &mut frame);
        server.handle_input(&frame);
        assert_eq!(events(&mut server), [Event::Message(Message::text("hi"))]);
        server.send_text("yes").unwrap();
        assert_eq!(server.poll_transmit_vec(), b"\x81\x03yes");
    }

    #[test]
    fn server_upgrade_answers_the_same_head_as_start() {
        let mut options = with_protocols(&["chat"]);
        options.headers = vec![("Set-Cookie".into(), "a=1".into())];
        let request = rfc_request(&[("Sec-WebSocket-Protocol", "chat")]);
        let (response, _) = Connection::upgrade(request.clone(), options.clone()).unwrap();
        let mut started = Connection::accept(request, options);
        started.start().unwrap();
        let wire = started.poll_transmit_vec();
        let Ok(Status::Complete((written, _))) = Response::parse(&wire, &Limits::default()) else {
            panic!("start wrote no head");
        };
        assert_eq!(response, written);
    }

    #[test]
    fn server_upgrade_refuses_invalid_requests_with_the_answer_to_send() {
        let post = Request {
            method: "POST".into(),
            ..rfc_request(&[])
        };
        let refused = Connection::upgrade(post, options()).unwrap_err();
        assert_eq!(refused.rejection().status, 400);
        assert_eq!(
            *refused.error(),
            Error::Handshake(wsd_handshake::Error::Request(RequestError::MethodNotGet(
                "POST".into()
            )))
        );
        assert_eq!(refused.rejection().message, refused.error().to_string());

        let old = rfc_request(&[]);
        let mut headers = Headers::new();
        for (name, value) in old.headers.iter() {
            let value = if name == "Sec-WebSocket-Version" {
                "8"
            } else {
                value
            };
            headers.push(name, value);
        }
        let refused = Connection::upgrade(Request { headers, ..old }, options()).unwrap_err();
        assert_eq!(refused.rejection().status, 426);
        assert!(
            refused
                .rejection()
                .headers()
                .contains(&("Sec-WebSocket-Version", "13"))
        );
        assert_eq!(
            refused.to_string(),
            "the WebSocket request was refused with 426 Upgrade Required"
        );
        let source = std::error::Error::source(&refused).map(ToString::to_string);
        assert_eq!(source, Some(refused.error().to_string()));
    }

    #[test]
    fn server_upgrade_refuses_a_malformed_extension_offer_with_400() {
        let request = rfc_request(&[("Sec-WebSocket-Extensions", "permessage-deflate; ;")]);
        let refused = Connection::upgrade(request, options()).unwrap_err();
        assert_eq!(refused.rejection().status, 400);
        assert!(matches!(*refused.error(), Error::Negotiation(_)));
    }

    #[test]
    fn server_upgrade_with_invalid_options_answers_500() {
        let mut bad = options();
        bad.headers = vec![("X-Bad".into(), "a\r\nInjected: 1".into())];
        let refused = Connection::upgrade(rfc_request(&[]), bad).unwrap_err();
        assert_eq!(refused.rejection().status, 500);
        assert!(matches!(*refused.error(), Error::Usage(_)));
    }

    #[test]
    fn server_upgrade_does_not_accept_legacy_drafts() {
        let hixie75 = get(&[
            ("Host", "example.com"),
            ("Upgrade", "WebSocket"),
            ("Connection", "Upgrade"),
            ("Origin", "http://example.com"),
        ]);
        let drafts = Options {
            allow_drafts: true,
            ..options()
        };
        let refused = Connection::upgrade(hixie75, drafts).unwrap_err();
        assert_eq!(refused.rejection().status, 426);
    }

    #[test]
    fn client_and_server_opened_by_http_stacks_exchange_messages_and_close() {
        let (mut client, mut server) = pair(with_protocols(&["v1", "v2"]), with_protocols(&["v2"]));
        assert_eq!(
            (client.protocol(), server.protocol()),
            (Some("v2"), Some("v2"))
        );
        assert_eq!(client.status(), Some(101));
        exchange_and_close(&mut client, &mut server);
    }

    /// An open pair trades a text and a binary message, then closes from the client.
    pub(in crate::connection) fn exchange_and_close(
        client: &mut Connection,
        server: &mut Connection,
    ) {
        client.send_text("hello").unwrap();
        server.handle_input(&client.poll_transmit_vec());
        assert_eq!(events(server), [Event::Message(Message::text("hello"))]);
        server.send_binary(b"\x01\x02").unwrap();
        client.handle_input(&server.poll_transmit_vec());
        assert_eq!(
            events(client),
            [Event::Message(Message::binary(&b"\x01\x02"[..]))]
        );

        client.close(CloseCode::NORMAL, "bye").unwrap();
        server.handle_input(&client.poll_transmit_vec());
        let closed = Event::Close {
            code: CloseCode::NORMAL,
            reason: "bye".into(),
        };
        assert_eq!(events(server), std::slice::from_ref(&closed));
        client.handle_input(&server.poll_transmit_vec());
        assert_eq!(events(client), [closed]);
    }

    #[test]
    fn client_handshake_carries_the_options() {
        let mut options = with_protocols(&["chat"]);
        options.origin = Some("http://example.com".into());
        options.headers = vec![("User-Agent".into(), "wsd".into())];
        let handshake =
            Connection::client_handshake("ws://example.com:8080/x?y", &options).unwrap();
        let request = request_for(&handshake);
        assert_eq!(request.target, "/x?y");
        for (name, value) in [
            ("Host", "example.com:8080"),
            ("Sec-WebSocket-Protocol", "chat"),
            ("Origin", "http://example.com"),
            ("User-Agent", "wsd"),
        ] {
            assert_eq!(request.headers.get(name).as_deref(), Some(value), "{name}");
        }
        // Two calls, two keys.
        let again = Connection::client_handshake("ws://example.com:8080/x?y", &Options::default());
        assert_ne!(again.unwrap().key(), handshake.key());
        assert!(Connection::client_handshake("http://example.com/", &options).is_err());
    }

    #[test]
    fn client_opened_refuses_a_response_that_breaks_the_handshake() {
        let options = with_protocols(&["chat"]);
        let handshake = Connection::client_handshake("ws://example.com/", &options).unwrap();
        let response = |status: u16, extra: &[(&str, &str)]| {
            let mut headers = Headers::new();
            headers.push("Upgrade", "websocket");
            headers.push("Connection", "Upgrade");
            headers.push("Sec-WebSocket-Accept", handshake.expected_accept());
            for (name, value) in extra {
                headers.push(*name, *value);
            }
            let reason = wsd_handshake::reason_phrase(status).to_owned();
            Response {
                version: 1,
                status,
                reason,
                headers,
            }
        };
        let not_found = Connection::client_opened(&handshake, response(404, &[]), options.clone());
        assert_eq!(
            not_found.unwrap_err(),
            Error::Handshake(wsd_handshake::Error::Response(
                ResponseError::UnexpectedStatus(404)
            ))
        );
        let other = response(101, &[("Sec-WebSocket-Protocol", "other")]);
        let other = Connection::client_opened(&handshake, other, options.clone());
        assert_eq!(
            other.unwrap_err(),
            Error::Handshake(wsd_handshake::Error::Response(
                ResponseError::UnexpectedProtocol("other".into())
            ))
        );
        // An extension the client did not offer.
        let unknown = response(101, &[("Sec-WebSocket-Extensions", "x-unknown")]);
        let unknown = Connection::client_opened(&handshake, unknown, options.clone());
        assert!(matches!(unknown, Err(Error::Negotiation(_))));
        let accepted = Connection::client_opened(&handshake, response(101, &[]), options).unwrap();
        assert_eq!(accepted.protocol(), None);
    }
}
