//! Connections over an HTTP/2 (RFC 8441) or HTTP/3 (RFC 9220) stream, opened by an
//! extended `CONNECT` that the caller's HTTP/2 stack carried: a server made open
//! from the request it received, handing back the `200` to send; a client made open
//! from the `200` it received.
//!
//! The subprotocol and extensions are negotiated by the code the HTTP/1.1 upgrade
//! uses ([`Connection::upgrade`], [`Connection::client_opened`]); only the heads
//! differ (`wsd_handshake::extended_connect`).

use url::Url;
use wsd_frame::Role;
use wsd_handshake::extended_connect::{self, ClientConnect, ConnectRequest, ConnectResponse};
use wsd_handshake::server::Rejection;
use wsd_handshake::{Headers, Request, Response};

use super::Connection;
use super::framing::Framing;
use super::state::Handshake;
use super::upgrade::Refused;
use crate::options::Options;
use crate::{Error, Usage};

/// For HTTP/2 and HTTP/3 stacks, where a WebSocket is one stream.
impl Connection {
    /// Servers: checks an extended `CONNECT` request (RFC 8441 section 4-5, as
    /// `wsd_handshake::extended_connect::negotiate` does) and negotiates the
    /// subprotocol (`options.protocols`) and extensions (`options.extensions`) as
    /// [`upgrade`](Self::upgrade) does for HTTP/1.1. Returns the `200` answer for the
    /// stack to send (its [`headers`](ConnectResponse::headers) are
    /// `sec-websocket-protocol` and `sec-websocket-extensions`; custom headers from
    /// `options.headers` are the stack's to add, in lower case) and a connection that
    /// is already [`Open`](crate::ReadyState::Open): feed it the stream's DATA. Its
    /// first event is [`Event::Open`](crate::Event::Open).
    ///
    /// [`request`](Self::request) then reports the request as method `CONNECT`, the
    /// `:path` as target, version 0 (HTTP/2 has no minor version) and the regular
    /// headers; [`url`](Self::url) is `ws://` or `wss://` (from `:scheme`),
    /// `:authority` and `:path`.
    ///
    /// A request that is not a valid WebSocket `CONNECT` gives [`Refused`] with the
    /// answer to send instead: 400 (and `sec-websocket-version: 13` for a wrong
    /// version), 501 for a `:protocol` other than `websocket`, 500 for invalid
    /// options.
    ///
    /// ```
    /// use wsd_core::{ConnectRequest, Connection, Event, Headers, Message, Options, ReadyState};
    ///
    /// // The request of RFC 8441 section 5.1, as an HTTP/2 stack decoded it.
    /// let mut headers = Headers::new();
    /// headers.push("sec-websocket-protocol", "chat, superchat");
    /// headers.push("sec-websocket-version", "13");
    /// let request = ConnectRequest {
    ///     method: "CONNECT".into(),
    ///     protocol: Some("websocket".into()),
    ///     scheme: Some("https".into()),
    ///     path: Some("/chat".into()),
    ///     authority: Some("server.example.com".into()),
    ///     headers,
    /// };
    /// let mut options = Options::default();
    /// options.protocols = vec!["chat".into()];
    ///
    /// let (response, mut conn) = Connection::upgrade_extended_connect(&request, options)?;
    /// assert_eq!(response.headers(), [("sec-websocket-protocol", "chat")]);
    /// assert_eq!(conn.state(), ReadyState::Open);
    /// assert_eq!(conn.url().unwrap().as_str(), "wss://server.example.com/chat");
    /// assert_eq!(conn.poll_event(), Some(Event::Open));
    ///
    /// // The stream carries frames: a masked "Hello" (RFC 6455 section 5.7).
    /// conn.handle_input(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    /// assert_eq!(conn.poll_event(), Some(Event::Message(Message::text("Hello"))));
    /// # Ok::<(), wsd_core::Refused>(())
    /// ```
    pub fn upgrade_extended_connect(
        request: &ConnectRequest,
        options: Options,
    ) -> Result<(ConnectResponse, Self), Refused> {
        if let Err(error) = options.validate() {
            return Err(Refused::internal(error));
        }
        let mut connection = Self::new(Role::Server, options, Handshake::AwaitingStart, None);
        let accepted = extended_connect::negotiate(request, &connection.options.protocols)
            .map_err(Refused::from_rejection)?;
        let (extensions_response, pipeline) = connection
            .extensions
            .server_negotiate(accepted.extensions_offer.as_deref())
            .map_err(|e| {
                let rejection = Rejection::bad_request(e.to_string());
                Refused::new(rejection, Error::Negotiation(e))
            })?;
        let response = accepted.response(extensions_response.as_deref());
        connection.url = connect_url(request);
        connection.request = Some(Request {
            method: request.method.clone(),
            target: request.path.clone().unwrap_or_default(),
            version: 0,
            headers: request.headers.clone(),
        });
        connection.protocol = accepted.protocol;
        let framing = Framing::rfc6455(Role::Server, &connection.options, pipeline);
        connection.open(framing);
        Ok((response, connection))
    }

    /// Clients whose HTTP/2 stack sends the request: the extended `CONNECT` for
    /// `url` with `options` (subprotocols, origin, headers, the extensions' offer).
    /// Send its [`request`](ClientConnect::request) (pseudo-headers and lower-case
    /// headers; with `wsd-handshake`'s `http` feature, `to_http_request` plus the
    /// stack's `:protocol` extension) once the server's SETTINGS allow it
    /// (`SETTINGS_ENABLE_CONNECT_PROTOCOL`), then hand the response to
    /// [`extended_connect_opened`](Self::extended_connect_opened) with the same
    /// options.
    ///
    /// ```
    /// use wsd_core::{Connection, Options};
    ///
    /// let mut options = Options::default();
    /// options.protocols = vec!["chat".into()];
    /// let connect = Connection::extended_connect("wss://example.com/chat", &options)?;
    /// let request = connect.request();
    /// assert_eq!(request.method, "CONNECT");
    /// assert_eq!(request.protocol.as_deref(), Some("websocket"));
    /// assert_eq!(request.path.as_deref(), Some("/chat"));
    /// assert_eq!(request.headers.get("sec-websocket-protocol").as_deref(), Some("chat"));
    /// # Ok::<(), wsd_core::Error>(())
    /// ```
    pub fn extended_connect(url: &str, options: &Options) -> Result<ClientConnect, Error> {
        options.validate()?;
        let connection = Self::client(url, options.clone())?;
        let parsed = connection
            .url
            .as_ref()
            .ok_or_else(|| Usage::InvalidUrl("no URL".into()))?;
        ClientConnect::new(parsed, connection.client_options())
            .map_err(|e| Usage::InvalidUrl(e.to_string()).into())
    }

    /// Clients whose HTTP/2 stack received the response to `connect`: checks it
    /// (status 200, a `sec-websocket-protocol` we offered) and activates the
    /// extensions it accepted, as [`client_opened`](Self::client_opened) does for
    /// HTTP/1.1. Returns a connection that is already
    /// [`Open`](crate::ReadyState::Open), for the stream; its first event is
    /// [`Event::Open`](crate::Event::Open). `options` must be those
    /// [`extended_connect`](Self::extended_connect) was given.
    ///
    /// [`status`](Self::status) and [`response_headers`](Self::response_headers)
    /// report the response (its version is 0: HTTP/2 has no minor version). A
    /// status other than 200 fails with `ResponseError::UnexpectedStatus`.
    ///
    /// ```
    /// use wsd_core::{Connection, Headers, Options, ReadyState};
    ///
    /// let options = Options::default();
    /// let connect = Connection::extended_connect("ws://example.com/", &options)?;
    /// let conn = Connection::extended_connect_opened(&connect, 200, Headers::new(), options)?;
    /// assert_eq!(conn.state(), ReadyState::Open);
    /// assert_eq!(conn.status(), Some(200));
    /// # Ok::<(), wsd_core::Error>(())
    /// ```
    pub fn extended_connect_opened(
        connect: &ClientConnect,
        status: u16,
        headers: Headers,
        options: Options,
    ) -> Result<Self, Error> {
        let response = Response {
            version: 0,
            status,
            reason: wsd_handshake::reason_phrase(status).to_owned(),
            headers,
        };
        let mut connection = Self::opened_client(options, response, |response| {
            connect.validate(response.status, &response.headers)
        })?;
        connection.url = connect_url(connect.request());
        Ok(connection)
    }
}

/// The WebSocket URL an extended `CONNECT` names: `wss` for `:scheme` `https`, `ws`
/// for `http`, then `:authority` and `:path`.
fn connect_url(request: &ConnectRequest) -> Option<Url> {
    let scheme = match request.scheme.as_deref() {
        Some(s) if s.eq_ignore_ascii_case("https") => "wss",
        _ => "ws",
    };
    let authority = request.authority.as_deref()?;
    let path = request.path.as_deref().unwrap_or("/");
    Url::parse(&format!("{scheme}://{authority}{path}")).ok()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use wsd_extensions::{Extension, ExtensionError, NegotiationError, Params, Session};
    use wsd_frame::Rsv;
    use wsd_handshake::{RequestError, ResponseError};

    use super::super::upgrade::tests::{events, exchange_and_close, options, with_protocols};
    use super::*;
    use crate::{Event, Message, ReadyState};

    /// An extension that accepts any offer and changes nothing.
    #[derive(Debug)]
    struct Passthrough;

    impl Extension for Passthrough {
        fn name(&self) -> &str {
            "x-pass"
        }
        fn rsv(&self) -> Rsv {
            Rsv::RSV2
        }
        fn client_offers(&self) -> Vec<Params> {
            vec![Params::new()]
        }
        fn client_activate(&self, _: &Params) -> Result<Box<dyn Session>, NegotiationError> {
            Ok(Box::new(Self))
        }
        fn server_accept(
            &self,
            _: &[Params],
        ) -> Result<Option<(Params, Box<dyn Session>)>, NegotiationError> {
            Ok(Some((Params::new(), Box::new(Self))))
        }
    }

    impl Session for Passthrough {
        fn decode(
            &mut self,
            message: wsd_extensions::Message,
            _: usize,
        ) -> Result<wsd_extensions::Message, ExtensionError> {
            Ok(message)
        }
        fn encode(
            &mut self,
            message: wsd_extensions::Message,
        ) -> Result<wsd_extensions::Message, ExtensionError> {
            Ok(message)
        }
    }

    /// A client and a server opened by an extended CONNECT, the response carried as
    /// data from one to the other.
    fn pair(client_options: Options, server_options: Options) -> (Connection, Connection) {
        let connect =
            Connection::extended_connect("ws://example.com/chat", &client_options).unwrap();
        let (response, mut server) =
            Connection::upgrade_extended_connect(connect.request(), server_options).unwrap();
        let mut client = Connection::extended_connect_opened(
            &connect,
            ConnectResponse::STATUS,
            response.to_headers(),
            client_options,
        )
        .unwrap();
        assert_eq!(events(&mut server), [Event::Open]);
        assert_eq!(events(&mut client), [Event::Open]);
        (client, server)
    }

    #[test]
    fn client_and_server_over_a_stream_negotiate_exchange_and_close() {
        let (mut client, mut server) = pair(with_protocols(&["v1", "v2"]), with_protocols(&["v2"]));
        assert_eq!(
            (client.protocol(), server.protocol()),
            (Some("v2"), Some("v2"))
        );
        assert_eq!(client.status(), Some(200));
        assert_eq!(server.url().unwrap().as_str(), "ws://example.com/chat");
        let request = server.request().unwrap();
        assert_eq!(
            (request.method.as_str(), request.target.as_str()),
            ("CONNECT", "/chat")
        );
        assert_eq!(
            request.headers.get("sec-websocket-version").as_deref(),
            Some("13")
        );

        client.send_text("masked").unwrap();
        let masked = client.poll_transmit_vec();
        assert_eq!(masked[1] & 0x80, 0x80, "clients still mask over HTTP/2");
        server.handle_input(&masked);
        assert_eq!(
            events(&mut server),
            [Event::Message(Message::text("masked"))]
        );
        exchange_and_close(&mut client, &mut server);
    }

    #[test]
    fn extended_connect_negotiates_extensions_like_http1() {
        // A stand-in extension is enough to see the offer travel and the pipeline
        // open on both sides: the registry is the one the HTTP/1.1 paths use.
        let ext: Arc<dyn Extension> = Arc::new(Passthrough);
        let with_ext = || Options {
            extensions: vec![Arc::clone(&ext)],
            ..options()
        };
        let connect = Connection::extended_connect("ws://example.com/", &with_ext()).unwrap();
        assert_eq!(
            connect
                .request()
                .headers
                .get("sec-websocket-extensions")
                .as_deref(),
            Some("x-pass")
        );
        let (response, mut server) =
            Connection::upgrade_extended_connect(connect.request(), with_ext()).unwrap();
        assert_eq!(response.extensions.as_deref(), Some("x-pass"));
        let client =
            Connection::extended_connect_opened(&connect, 200, response.to_headers(), with_ext())
                .unwrap();
        assert_eq!(client.extensions().collect::<Vec<_>>(), ["x-pass"]);
        assert_eq!(server.extensions().collect::<Vec<_>>(), ["x-pass"]);
        assert_eq!(events(&mut server), [Event::Open]);
    }

    #[test]
    fn server_refuses_a_request_that_is_not_a_websocket_connect() {
        let connect = Connection::extended_connect("ws://example.com/", &options()).unwrap();
        let mut request = connect.request().clone();
        request.protocol = Some("h3".into());
        let refused = Connection::upgrade_extended_connect(&request, options()).unwrap_err();
        assert_eq!(refused.rejection().status, 501);
        assert_eq!(
            *refused.error(),
            Error::Handshake(wsd_handshake::Error::Request(
                RequestError::ProtocolNotWebSocket("h3".into())
            ))
        );

        let mut old = connect.request().clone();
        old.headers = Headers::new();
        old.headers.push("sec-websocket-version", "8");
        let refused = Connection::upgrade_extended_connect(&old, options()).unwrap_err();
        assert_eq!(refused.rejection().status, 400);
        assert!(
            refused
                .rejection()
                .headers()
                .contains(&("Sec-WebSocket-Version", "13"))
        );

        let mut bad = options();
        bad.headers = vec![("x-bad".into(), "a\r\nb".into())];
        let refused = Connection::upgrade_extended_connect(connect.request(), bad).unwrap_err();
        assert_eq!(refused.rejection().status, 500);
    }

    #[test]
    fn server_refuses_a_malformed_extension_offer_with_400() {
        let connect = Connection::extended_connect("ws://example.com/", &options()).unwrap();
        let mut request = connect.request().clone();
        request
            .headers
            .push("sec-websocket-extensions", "permessage-deflate; ;");
        let refused = Connection::upgrade_extended_connect(&request, options()).unwrap_err();
        assert_eq!(refused.rejection().status, 400);
        assert!(matches!(*refused.error(), Error::Negotiation(_)));
    }

    #[test]
    fn client_refuses_a_status_other_than_200_or_a_protocol_not_offered() {
        let options = with_protocols(&["chat"]);
        let connect = Connection::extended_connect("wss://example.com/", &options).unwrap();
        assert_eq!(connect.request().scheme.as_deref(), Some("https"));
        for status in [101, 400, 404] {
            let refused = Connection::extended_connect_opened(
                &connect,
                status,
                Headers::new(),
                options.clone(),
            );
            assert_eq!(
                refused.unwrap_err(),
                Error::Handshake(wsd_handshake::Error::Response(
                    ResponseError::UnexpectedStatus(status)
                ))
            );
        }
        let mut other = Headers::new();
        other.push("sec-websocket-protocol", "other");
        let refused = Connection::extended_connect_opened(&connect, 200, other, options.clone());
        assert_eq!(
            refused.unwrap_err(),
            Error::Handshake(wsd_handshake::Error::Response(
                ResponseError::UnexpectedProtocol("other".into())
            ))
        );
        let mut unknown = Headers::new();
        unknown.push("sec-websocket-extensions", "x-unknown");
        let refused = Connection::extended_connect_opened(&connect, 200, unknown, options.clone());
        assert!(matches!(refused, Err(Error::Negotiation(_))));
        let opened = Connection::extended_connect_opened(&connect, 200, Headers::new(), options);
        let opened = opened.unwrap();
        assert_eq!(opened.state(), ReadyState::Open);
        assert_eq!(opened.url().unwrap().as_str(), "wss://example.com/");
    }

    #[test]
    fn extended_connect_refuses_urls_that_are_not_websocket_urls() {
        assert!(Connection::extended_connect("http://example.com/", &options()).is_err());
        assert!(Connection::extended_connect("not a url", &options()).is_err());
    }
}
