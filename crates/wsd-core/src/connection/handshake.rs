//! The opening handshake, both roles (RFC 6455 section 4): reading the request or
//! response head, answering it, and the move to open. The legacy drafts' steps are in
//! `drafts` (feature `drafts`).

use std::collections::VecDeque;

use bytes::{Buf, BytesMut};
use rand::rngs::StdRng;
use url::Url;
use wsd_extensions::{Extensions, Pipeline};
use wsd_frame::{OpCode, Role, Rsv};
use wsd_handshake::client::{ClientHandshake, ClientOptions, Negotiated};
use wsd_handshake::server::{self, Rejection};
use wsd_handshake::{HeaderList, Headers, Request, Response, Status};

use super::Connection;
use super::framing::{Framing, Outbox};
use super::liveness::Liveness;
use super::pings::Pings;
use super::state::{Handshake, Queued, Session, State};
use super::upgrade::Refused;
use crate::event::Event;
use crate::options::Options;
use crate::timer::{Timer, TimerTable};
use crate::{Error, Usage, Version};

/// A request [`Connection::accept_rfc6455`] accepted: what opening needs.
pub(super) struct Accepted101 {
    /// The `101 Switching Protocols` head, as written on the wire.
    pub(super) head: Vec<u8>,
    pub(super) protocol: Option<String>,
    pub(super) pipeline: Pipeline,
}

impl Connection {
    /// A connection of `role` at the first `step` of its handshake; `masks` for a
    /// client. Invalid headers or extensions in `options` fail it at once.
    pub(super) fn new(
        role: Role,
        options: Options,
        step: Handshake,
        masks: Option<StdRng>,
    ) -> Self {
        let mut extensions = Extensions::new();
        let mut registry_error = None;
        for extension in &options.extensions {
            if let Err(e) = extensions.add(extension.clone()) {
                registry_error.get_or_insert(e);
            }
        }
        let mut connection = Self {
            role,
            options,
            state: State::connecting(step),
            recv: BytesMut::new(),
            out: Outbox::new(masks),
            events: VecDeque::new(),
            extensions,
            headers: HeaderList::new(),
            request: None,
            url: None,
            secure_transport: false,
            response: None,
            protocol: None,
            version: Version::Rfc6455,
            next_ping: 0,
            eof: false,
            timers: TimerTable::new(),
        };
        let mut header_error = None;
        for (name, value) in &connection.options.headers {
            if let Err(e) = connection.headers.set(name, value) {
                header_error.get_or_insert(e);
            }
        }
        if let Some(e) = header_error {
            connection.fail_before_open(Error::Usage(Usage::InvalidHeader(e)), None);
        }
        if let Err(usage) = connection.options.check_timers() {
            connection.fail_before_open(Error::Usage(usage), None);
        }
        if let Some(e) = registry_error {
            // Two extensions with one name in the options: a programming error we
            // cannot return from a constructor, so the connection fails at once.
            connection.fail_before_open(Error::Usage(Usage::Extension(e)), None);
        }
        connection
    }

    /// Whether headers, extensions and protocols may still be set.
    pub(super) fn before_start(&self) -> bool {
        matches!(
            self.state.step(),
            Some(
                Handshake::ReadingRequest {
                    start_requested: false
                } | Handshake::AwaitingStart
                    | Handshake::Idle
            )
        )
    }

    /// The work of [`start`](Connection::start): the next step of the handshake.
    pub(super) fn start_handshake(&mut self) -> Result<(), Error> {
        match &mut self.state {
            State::Connecting(connecting) => match &mut connecting.step {
                Handshake::Idle => {
                    self.start_client();
                    Ok(())
                }
                Handshake::AwaitingStart => self.start_server(),
                Handshake::ReadingRequest { start_requested } if !*start_requested => {
                    *start_requested = true;
                    Ok(())
                }
                _ => Err(Usage::AlreadyStarted.into()),
            },
            State::Closed(_) => Err(Usage::Closed.into()),
            State::Open(_) | State::Closing(_) => Err(Usage::AlreadyStarted.into()),
        }
    }

    /// Clients: sends the request.
    pub(super) fn start_client(&mut self) {
        match self.client_handshake_now() {
            Ok(handshake) => {
                let mut request = Vec::new();
                handshake.write_request(&mut request);
                self.out.queue.extend_from_slice(&request);
                self.state
                    .set_step(Handshake::AwaitingResponse(Box::new(handshake)));
                self.timers
                    .request(Timer::Handshake, self.options.handshake_timeout);
            }
            // The URL and protocols were checked at construction; a custom header
            // or protocol can still be refused here.
            Err(usage) => self.fail_before_open(Error::Usage(usage), None),
        }
    }

    /// Clients: the handshake to send, with a fresh key, the options' protocols,
    /// origin and headers, and the extensions' offer.
    pub(super) fn client_handshake_now(&mut self) -> Result<ClientHandshake, Usage> {
        let mut key = [0u8; 16];
        self.out.fill_random(&mut key);
        let options = self.client_options();
        let url = self
            .url
            .as_ref()
            .ok_or_else(|| Usage::InvalidUrl("no URL".into()))?;
        ClientHandshake::new(url, key, options).map_err(|e| Usage::InvalidUrl(e.to_string()))
    }

    /// Clients: what the request offers, on HTTP/1.1 or in an extended `CONNECT`:
    /// the options' protocols, origin and headers, and the extensions' offer.
    pub(super) fn client_options(&self) -> ClientOptions {
        ClientOptions {
            protocols: self.options.protocols.clone(),
            origin: self.options.origin.clone(),
            headers: self.headers.clone(),
            extensions: self.extensions.client_offer_header(),
        }
    }

    /// Servers: validates the request and answers 101 (opening) or an HTTP error.
    pub(super) fn start_server(&mut self) -> Result<(), Error> {
        let Some(request) = self.request.as_ref() else {
            return Err(Usage::NotAwaitingRequest.into());
        };
        // Without the `drafts` feature a draft's request is refused below, as any
        // request without RFC 6455's headers is.
        #[cfg(feature = "drafts")]
        if self.options.allow_drafts {
            match server::detect_version(request) {
                server::Draft::Hixie75 => return self.start_draft(wsd_hixie::Draft::Hixie75),
                server::Draft::Hixie76 => return self.start_draft(wsd_hixie::Draft::Hixie76),
                server::Draft::Rfc6455 => {}
            }
        }
        match self.accept_rfc6455(request) {
            Ok(accepted) => {
                self.out.queue.extend_from_slice(&accepted.head);
                self.protocol = accepted.protocol;
                self.open(Framing::rfc6455(
                    self.role,
                    &self.options,
                    accepted.pipeline,
                ));
                Ok(())
            }
            Err(refused) => {
                let (rejection, error) = refused.into_parts();
                self.refuse(error, rejection)
            }
        }
    }

    /// Servers: negotiates an RFC 6455 request (subprotocol, extensions) and writes
    /// the 101 head; or says why not, with the answer to send instead. Changes
    /// nothing: [`start`](Connection::start) queues the head, and
    /// [`upgrade`](Connection::upgrade) hands it to the caller's HTTP stack.
    pub(super) fn accept_rfc6455(&self, request: &Request) -> Result<Accepted101, Refused> {
        let accepted =
            server::negotiate(request, &self.options.protocols).map_err(Refused::from_rejection)?;
        let (extensions_response, pipeline) = match self
            .extensions
            .server_negotiate(accepted.extensions_offer.as_deref())
        {
            Ok(negotiated) => negotiated,
            Err(e) => {
                let rejection = Rejection::bad_request(e.to_string());
                return Err(Refused::new(rejection, Error::Negotiation(e)));
            }
        };
        let mut head = Vec::new();
        if let Err(e) =
            accepted.write_response(&self.headers, extensions_response.as_deref(), &mut head)
        {
            let rejection = Rejection {
                status: 500,
                message: e.to_string(),
                reason: None,
            };
            return Err(Refused::new(rejection, Error::Handshake(e)));
        }
        Ok(Accepted101 {
            head,
            protocol: accepted.protocol,
            pipeline,
        })
    }

    /// Answers with `rejection` and fails; `start` returns the error too.
    pub(super) fn refuse(&mut self, error: Error, rejection: Rejection) -> Result<(), Error> {
        self.fail_before_open(error.clone(), Some(&rejection));
        Err(error)
    }

    /// Servers: reads the request head; returns whether anything happened.
    pub(super) fn read_request(&mut self) -> bool {
        match Request::parse(&self.recv, &self.options.limits) {
            Ok(Status::Complete((request, consumed))) => {
                self.recv.advance(consumed);
                self.set_request(request);
                let start_requested = matches!(
                    self.state.step(),
                    Some(Handshake::ReadingRequest {
                        start_requested: true
                    })
                );
                self.state.set_step(Handshake::AwaitingStart);
                self.events.push_back(Event::Request);
                if start_requested {
                    // An error here is reported through events already.
                    let _ = self.start_server();
                }
                true
            }
            Ok(Status::Partial) => self.end_if_eof(),
            Err(e) => {
                let rejection = Rejection::bad_request(e.to_string());
                self.fail_before_open(Error::Handshake(e), Some(&rejection));
                true
            }
        }
    }

    /// Clients: reads and checks the response head; returns whether anything
    /// happened.
    pub(super) fn read_response(&mut self) -> bool {
        let parsed = Response::parse(&self.recv, &self.options.limits);
        let (response, consumed) = match parsed {
            Ok(Status::Complete(done)) => done,
            Ok(Status::Partial) => return self.end_if_eof(),
            Err(e) => {
                self.fail_before_open(Error::Handshake(e), None);
                return true;
            }
        };
        self.recv.advance(consumed);
        let Some(Handshake::AwaitingResponse(handshake)) = self.state.step() else {
            return false;
        };
        let checked = self.check_response(handshake, &response);
        self.response = Some(response);
        match checked {
            Ok((protocol, pipeline)) => {
                self.protocol = protocol;
                self.open(Framing::rfc6455(Role::Client, &self.options, pipeline));
            }
            Err(e) => self.fail_before_open(e, None),
        }
        true
    }

    /// Clients: checks the server's response head against the `handshake` sent
    /// (RFC 6455 section 4.1) and activates the extensions it accepted: the
    /// subprotocol and the pipeline to open with. Changes nothing, so the caller's
    /// HTTP stack can have received the response ([`Connection::client_opened`]).
    pub(super) fn check_response(
        &self,
        handshake: &ClientHandshake,
        response: &Response,
    ) -> Result<(Option<String>, Pipeline), Error> {
        let negotiated = handshake
            .validate(response)
            .map_err(|e| Error::Handshake(wsd_handshake::Error::Response(e)))?;
        self.activate(negotiated)
    }

    /// Clients: activates the extensions the server accepted; the subprotocol and
    /// the pipeline to open with.
    pub(super) fn activate(
        &self,
        negotiated: Negotiated,
    ) -> Result<(Option<String>, Pipeline), Error> {
        let pipeline = self
            .extensions
            .client_activate(negotiated.extensions.as_deref())
            .map_err(Error::Negotiation)?;
        Ok((negotiated.protocol, pipeline))
    }

    /// Writes a plain HTTP response (see [`respond`](Connection::respond)) and
    /// closes.
    pub(super) fn write_http_response(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), Error> {
        let mut list = HeaderList::new();
        for (name, value) in headers {
            list.set(name, value).map_err(Usage::InvalidHeader)?;
        }
        let reason = wsd_handshake::reason_phrase(status);
        let mut head = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
        list.write(&mut head);
        head.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        self.out.queue.extend_from_slice(&head);
        self.out.queue.extend_from_slice(body);
        // No WebSocket was ever open: report the end as a normal close. Queued
        // commands go with the connecting state.
        self.finish(wsd_frame::CloseCode::NORMAL, "answered with plain HTTP");
        Ok(())
    }

    /// The connection opens: emit `Open`, then send the commands queued for it.
    pub(super) fn open(&mut self, framing: Framing) {
        let queued: VecDeque<Queued> = self.state.take_queued();
        let draft = framing.is_draft();
        self.state = State::Open(Session {
            framing,
            pings: Pings::default(),
            liveness: Liveness::default(),
        });
        self.timers.stop(Timer::Handshake);
        self.start_liveness_timers(draft);
        self.events.push_back(Event::Open);
        for command in queued {
            match command {
                // A legacy draft has no binary messages, pings or pongs: those
                // queued before the server knew the request's version are dropped
                // (a draft connection refuses them once open, which a queued
                // command can no longer be told), and the rest still go out.
                Queued::Message(message) => {
                    if self.send_now(message).is_err() && !matches!(self.state, State::Open(_)) {
                        // An extension failed the connection: nothing more to send.
                        break;
                    }
                }
                Queued::Ping(..) | Queued::Pong(_) if draft => {}
                Queued::Ping(id, payload) => self.write_ping(id, payload),
                Queued::Pong(payload) => self.out.write_frame(OpCode::Pong, Rsv::NONE, &payload),
            }
        }
    }

    /// Servers: records the request and the URL it asked for.
    pub(super) fn set_request(&mut self, request: Request) {
        self.url = Url::parse(&request_url(&request, self.secure_transport)).ok();
        self.request = Some(request);
    }

    /// While waiting for a head or a body: the end of the transport ends the
    /// connection (1006). Returns whether it did.
    pub(super) fn end_if_eof(&mut self) -> bool {
        if self.eof {
            self.transport_lost();
        }
        self.eof
    }
}

/// The URL a request asked for, as `websocket-driver` (Node) writes it: `ws://` or
/// `wss://`, the `Host` header and the request target, unchanged. `wss://` when the
/// transport is secure or a TLS-ending proxy says so in one of the headers that
/// `websocket-driver`'s `isSecureRequest` reads (values compared exactly, as there).
pub(super) fn request_url(request: &Request, secure_transport: bool) -> String {
    const FORWARDED_TLS: [(&str, &str); 4] = [
        ("https", "on"),
        ("x-forwarded-ssl", "on"),
        ("x-forwarded-scheme", "https"),
        ("x-forwarded-proto", "https"),
    ];
    let headers = &request.headers;
    let secure = secure_transport
        || FORWARDED_TLS
            .iter()
            .any(|(name, value)| headers.get(name).as_deref() == Some(*value));
    format!(
        "{}://{}{}",
        if secure { "wss" } else { "ws" },
        headers.get("host").unwrap_or_default(),
        request.target
    )
}

/// Commands that shape the opening handshake: before [`start`](Connection::start) only
/// (except [`set_secure_transport`](Connection::set_secure_transport)).
impl Connection {
    /// Sets a header for the handshake request (client) or 101 response (server);
    /// before [`start`](Self::start) only. A later header with the same name is
    /// ignored, except `Set-Cookie`-like ones (as in `websocket-driver` (Node)); names
    /// and values with CR, LF or NUL are refused.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), Error> {
        if !self.before_start() {
            return Err(Usage::AfterStart.into());
        }
        self.headers
            .set(name, value)
            .map(|_| ())
            .map_err(|e| Usage::InvalidHeader(e).into())
    }

    /// Registers an extension to negotiate (`websocket-driver`'s (Node)
    /// `addExtension`); before [`start`](Self::start) only.
    pub fn add_extension(
        &mut self,
        extension: std::sync::Arc<dyn wsd_extensions::Extension>,
    ) -> Result<(), Error> {
        if !self.before_start() {
            return Err(Usage::AfterStart.into());
        }
        self.extensions
            .add(extension)
            .map_err(|e| Usage::Extension(e).into())
    }

    /// Servers: replaces the subprotocols to accept, for example after looking at the
    /// request; before [`start`](Self::start) only.
    pub fn set_protocols(&mut self, protocols: Vec<String>) -> Result<(), Error> {
        if !self.before_start() {
            return Err(Usage::AfterStart.into());
        }
        self.options.protocols = protocols;
        Ok(())
    }

    /// Servers: says whether the transport is encrypted (TLS), for
    /// [`url`](Self::url) and a legacy draft's `Location` header, which then say
    /// `wss://`. `websocket-driver` (Node) asks the socket; a sans-I/O connection has
    /// none, so the adapter that owns the transport tells it, before
    /// [`start`](Self::start). Clients ignore it: their URL says it already.
    ///
    /// ```
    /// # use wsd_core::{Connection, Event, Options};
    /// let mut server = Connection::server(Options::default());
    /// server.set_secure_transport(true);
    /// server.handle_input(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n");
    /// assert_eq!(server.poll_event(), Some(Event::Request));
    /// assert_eq!(server.url().unwrap().as_str(), "wss://example.com/");
    /// ```
    pub fn set_secure_transport(&mut self, secure: bool) {
        self.secure_transport = secure;
        if let Some(request) = self.request.take() {
            self.set_request(request);
        }
    }
}

/// Getters: what the opening handshake said.
impl Connection {
    /// Servers: the HTTP request, once read.
    pub fn request(&self) -> Option<&Request> {
        self.request.as_ref()
    }

    /// The URL: for a client the one it was made with; for a server the one the
    /// request asked for, `ws://` or `wss://`, the `Host` header and the request
    /// target (`websocket-driver`'s (Node) `driver.url`), once the request is known and
    /// if those make a URL. `wss://` when [`set_secure_transport`](Self::set_secure_transport)
    /// said so, or when a proxy that ended TLS says so in `X-Forwarded-Proto: https`,
    /// `X-Forwarded-Ssl: on`, `X-Forwarded-Scheme: https` or `Https: on`.
    ///
    /// ```
    /// # use wsd_core::{Connection, Event, Options};
    /// let mut server = Connection::server(Options::default());
    /// server.handle_input(b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n\
    ///     X-Forwarded-Proto: https\r\n\r\n");
    /// assert_eq!(server.poll_event(), Some(Event::Request));
    /// assert_eq!(server.url().unwrap().as_str(), "wss://example.com/chat?room=1");
    /// ```
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref()
    }

    /// Clients: the HTTP status of the server's response, once read (also when the
    /// handshake failed).
    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status)
    }

    /// Clients: the server's response headers, once read.
    pub fn response_headers(&self) -> Option<&Headers> {
        self.response.as_ref().map(|r| &r.headers)
    }
}
