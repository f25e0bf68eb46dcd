//! The opening handshake, both roles (RFC 6455 section 4) and the legacy drafts:
//! reading the request or response head, answering it, and the move to open.

use std::collections::VecDeque;

use bytes::{Buf, BytesMut};
use rand::rngs::StdRng;
use url::Url;
use wsd_extensions::Extensions;
use wsd_frame::{OpCode, Role, Rsv};
use wsd_handshake::client::{ClientHandshake, ClientOptions};
use wsd_handshake::server::{self, Rejection};
use wsd_handshake::{HeaderList, Request, Response, Status};

use super::Connection;
use super::framing::{Framing, Outbox};
use super::liveness::Liveness;
use super::pings::Pings;
use super::state::{Handshake, Queued, Session, State};
use crate::event::Event;
use crate::options::Options;
use crate::timer::{Timer, TimerTable};
use crate::{Error, Usage};

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
            draft: None,
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
        let mut key = [0u8; 16];
        self.out.fill_random(&mut key);
        let options = ClientOptions {
            protocols: self.options.protocols.clone(),
            origin: self.options.origin.clone(),
            headers: self.headers.clone(),
            extensions: self.extensions.client_offer_header(),
        };
        let handshake = self
            .url
            .as_ref()
            .ok_or_else(|| Usage::InvalidUrl("no URL".into()))
            .and_then(|url| {
                ClientHandshake::new(url, key, options)
                    .map_err(|e| Usage::InvalidUrl(e.to_string()))
            });
        match handshake {
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

    /// Servers: validates the request and answers 101 (opening) or an HTTP error.
    pub(super) fn start_server(&mut self) -> Result<(), Error> {
        let Some(request) = self.request.as_ref() else {
            return Err(Usage::NotAwaitingRequest.into());
        };
        if self.options.allow_drafts {
            match server::detect_version(request) {
                server::Draft::Hixie75 => return self.start_hixie(wsd_hixie::Draft::Hixie75),
                server::Draft::Hixie76 => return self.start_hixie(wsd_hixie::Draft::Hixie76),
                _ => {}
            }
        }
        let accepted = match server::negotiate(request, &self.options.protocols) {
            Ok(accepted) => accepted,
            Err(rejection) => {
                let error = match rejection.reason.clone() {
                    Some(reason) => Error::Handshake(wsd_handshake::Error::Request(reason)),
                    None => Error::Rejected {
                        status: rejection.status,
                        message: rejection.message.clone(),
                    },
                };
                return self.refuse(error, rejection);
            }
        };
        let (extensions_response, pipeline) = match self
            .extensions
            .server_negotiate(accepted.extensions_offer.as_deref())
        {
            Ok(negotiated) => negotiated,
            Err(e) => {
                let rejection = Rejection::bad_request(e.to_string());
                return self.refuse(Error::Negotiation(e), rejection);
            }
        };
        let mut response = Vec::new();
        if let Err(e) =
            accepted.write_response(&self.headers, extensions_response.as_deref(), &mut response)
        {
            let rejection = Rejection {
                status: 500,
                message: e.to_string(),
                reason: None,
            };
            return self.refuse(Error::Handshake(e), rejection);
        }
        self.out.queue.extend_from_slice(&response);
        self.protocol = accepted.protocol;
        self.open(Framing::rfc6455(self.role, &self.options, pipeline));
        Ok(())
    }

    /// Answers with `rejection` and fails; `start` returns the error too.
    fn refuse(&mut self, error: Error, rejection: Rejection) -> Result<(), Error> {
        self.fail_before_open(error.clone(), Some(&rejection));
        Err(error)
    }

    /// Accepts a legacy-draft request: writes the draft's 101 head; Hixie-75 opens at
    /// once, Hixie-76 once the 8 key bytes of the body are in.
    fn start_hixie(&mut self, draft: wsd_hixie::Draft) -> Result<(), Error> {
        let Some(request) = self.request.as_ref() else {
            return Err(Usage::NotAwaitingRequest.into());
        };
        let refuse = |message: &str| Rejection::bad_request(message);
        let mut rejection = None;
        if !server::is_websocket_request(request) {
            rejection = Some(refuse("Not a WebSocket request"));
        }
        let challenge = match draft {
            wsd_hixie::Draft::Hixie76 => {
                let key1 = request.headers.get("sec-websocket-key1");
                let key2 = request.headers.get("sec-websocket-key2");
                // websocket-driver's (Node) texts, in its order.
                let challenge = match (key1, key2) {
                    (None, _) => Err("Missing required header: Sec-WebSocket-Key1"),
                    (_, None) => Err("Missing required header: Sec-WebSocket-Key2"),
                    (Some(key1), Some(key2)) => {
                        wsd_hixie::Challenge::from_keys(key1.as_bytes(), key2.as_bytes())
                            .map_err(|_| "Client sent invalid Sec-WebSocket-Key headers")
                    }
                };
                challenge
                    .map_err(|message| rejection.get_or_insert(refuse(message)))
                    .ok()
            }
            wsd_hixie::Draft::Hixie75 => None,
        };
        let protocol_header = match draft {
            wsd_hixie::Draft::Hixie75 => "websocket-protocol",
            wsd_hixie::Draft::Hixie76 => "sec-websocket-protocol",
        };
        let protocol = request.headers.get(protocol_header).and_then(|offered| {
            offered
                .split([',', ' '])
                .map(str::trim)
                .find(|p| self.options.protocols.iter().any(|ours| ours == p))
                .map(str::to_owned)
        });
        let location = request_url(request, self.secure_transport);
        let origin = request.headers.get("origin");
        let extra: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        let mut head = Vec::new();
        let written = wsd_hixie::ResponseHead {
            origin: origin.as_deref(),
            location: &location,
            protocol: protocol.as_deref(),
            headers: &extra,
        }
        .write(draft, &mut head);
        if let (None, Err(e)) = (&rejection, written) {
            rejection = Some(Rejection {
                status: 500,
                message: e.to_string(),
                reason: None,
            });
        }
        if let Some(rejection) = rejection {
            let error = Error::Rejected {
                status: rejection.status,
                message: rejection.message.clone(),
            };
            return self.refuse(error, rejection);
        }
        self.out.queue.extend_from_slice(&head);
        self.protocol = protocol;
        self.draft = Some(draft);
        match challenge {
            Some(challenge) => self.state.set_step(Handshake::AwaitingHixieBody(challenge)),
            None => self.open(Framing::hixie(draft, self.options.max_length)),
        }
        Ok(())
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
        let validated = handshake.validate(&response);
        self.response = Some(response);
        let negotiated = match validated {
            Ok(negotiated) => negotiated,
            Err(e) => {
                self.fail_before_open(Error::Handshake(wsd_handshake::Error::Response(e)), None);
                return true;
            }
        };
        match self
            .extensions
            .client_activate(negotiated.extensions.as_deref())
        {
            Ok(pipeline) => {
                self.protocol = negotiated.protocol;
                self.open(Framing::rfc6455(Role::Client, &self.options, pipeline));
            }
            Err(e) => self.fail_before_open(Error::Negotiation(e), None),
        }
        true
    }

    /// Hixie-76: answers the key challenge once the 8 body bytes are in.
    pub(super) fn read_hixie_body(&mut self) -> bool {
        let Some(Handshake::AwaitingHixieBody(challenge)) = self.state.step() else {
            return false;
        };
        let Some(body) = self.recv.get(..wsd_hixie::BODY_LEN) else {
            return self.end_if_eof();
        };
        let mut key = [0u8; wsd_hixie::BODY_LEN];
        key.copy_from_slice(body);
        let answer = challenge.answer(&key);
        self.recv.advance(wsd_hixie::BODY_LEN);
        self.out.queue.extend_from_slice(&answer);
        self.open(Framing::hixie(
            wsd_hixie::Draft::Hixie76,
            self.options.max_length,
        ));
        true
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
        let draft = matches!(framing, Framing::Hixie(_));
        self.state = State::Open(Session {
            framing,
            pings: Pings::default(),
            liveness: Liveness::default(),
        });
        self.timers.stop(Timer::Handshake);
        self.start_liveness_timers(draft);
        self.events.push_back(Event::Open);
        for command in queued {
            let result = match command {
                Queued::Message(message) => self.send_now(message),
                Queued::Ping(id, payload) => {
                    self.write_ping(id, payload);
                    Ok(())
                }
                Queued::Pong(payload) => {
                    self.out.write_frame(OpCode::Pong, Rsv::NONE, &payload);
                    Ok(())
                }
            };
            if result.is_err() {
                break;
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
fn request_url(request: &Request, secure_transport: bool) -> String {
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
