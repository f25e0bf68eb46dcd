//! Every way a server's `start` refuses a request, with the answer it writes, and
//! the commands and getters around the handshake that a caller can get wrong.

use std::sync::Arc;

use wsd_extensions::{Extension, NegotiationError, Params, Session};
use wsd_handshake::RequestError;

use super::*;

/// One request the server must refuse: how it differs from [`REQUEST`], the status
/// of the answer, and the rule it broke.
struct Refusal {
    edits: &'static [(&'static str, &'static str)],
    status: u16,
    rule: fn(&RequestError) -> bool,
}

const REFUSALS: &[Refusal] = &[
    Refusal {
        edits: &[("GET /chat", "POST /chat")],
        status: 400,
        rule: |e| matches!(e, RequestError::MethodNotGet(m) if m == "POST"),
    },
    Refusal {
        edits: &[("HTTP/1.1", "HTTP/1.0")],
        status: 400,
        rule: |e| matches!(e, RequestError::HttpVersion(0)),
    },
    Refusal {
        edits: &[("GET /chat", "GET chat")],
        status: 400,
        rule: |e| matches!(e, RequestError::InvalidTarget { target, .. } if target == "chat"),
    },
    Refusal {
        edits: &[("Upgrade: websocket\r\n", "")],
        status: 400,
        rule: |e| matches!(e, RequestError::MissingUpgrade),
    },
    Refusal {
        edits: &[("Upgrade: websocket", "Upgrade: h2c")],
        status: 400,
        rule: |e| matches!(e, RequestError::UpgradeNotWebSocket(v) if v == "h2c"),
    },
    Refusal {
        edits: &[("Connection: Upgrade\r\n", "")],
        status: 400,
        rule: |e| matches!(e, RequestError::MissingConnection),
    },
    Refusal {
        edits: &[("Connection: Upgrade", "Connection: keep-alive")],
        status: 400,
        rule: |e| matches!(e, RequestError::ConnectionNotUpgrade(v) if v == "keep-alive"),
    },
    Refusal {
        edits: &[("Host: example.com\r\n", "")],
        status: 400,
        rule: |e| matches!(e, RequestError::MissingHost),
    },
    Refusal {
        edits: &[(
            "Host: example.com\r\n",
            "Host: a.example\r\nHost: b.example\r\n",
        )],
        status: 400,
        rule: |e| matches!(e, RequestError::DuplicateHost),
    },
    Refusal {
        edits: &[("Host: example.com", "Host: user@example.com")],
        status: 400,
        rule: |e| matches!(e, RequestError::InvalidHost { host, .. } if host == "user@example.com"),
    },
    Refusal {
        edits: &[("Sec-WebSocket-Version: 13\r\n", "")],
        status: 426,
        rule: |e| matches!(e, RequestError::UnsupportedVersion(None)),
    },
    Refusal {
        edits: &[("Version: 13", "Version: 8")],
        status: 426,
        rule: |e| matches!(e, RequestError::UnsupportedVersion(Some(v)) if v == "8"),
    },
    Refusal {
        edits: &[("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n", "")],
        status: 400,
        rule: |e| matches!(e, RequestError::MissingKey),
    },
    Refusal {
        edits: &[("dGhlIHNhbXBsZSBub25jZQ==", "c2hvcnQ=")],
        status: 400,
        rule: |e| matches!(e, RequestError::InvalidKey(k) if k == "c2hvcnQ="),
    },
];

#[test]
fn each_rule_of_the_request_is_refused_with_its_status_its_text_and_connection_close() {
    for refusal in REFUSALS {
        let request = refusal
            .edits
            .iter()
            .fold(REQUEST.to_vec(), |request, (from, to)| {
                edited(&request, from, to)
            });
        let mut server = Connection::server(options());
        let (started, response) = start_on(&mut server, &request);
        let error = started.unwrap_err();
        let Error::Handshake(wsd_handshake::Error::Request(rule)) = &error else {
            panic!("{:?}: {error:?}", refusal.edits)
        };
        assert!((refusal.rule)(rule), "{:?}: {rule:?}", refusal.edits);
        // The answer: the status, `Connection: close`, and the rule's text as the
        // body, which is also the error's text (no handshake prefix on a refused
        // request).
        let reason = wsd_handshake::reason_phrase(refusal.status);
        let status_line = format!("HTTP/1.1 {} {reason}\r\n", refusal.status);
        assert!(response.starts_with(&status_line), "{response}");
        assert!(response.contains("\r\nConnection: close\r\n"), "{response}");
        assert_eq!(error.to_string(), rule.to_string());
        assert!(response.ends_with(&format!("\r\n\r\n{rule}")), "{response}");
        // 426 tells the client the version we speak.
        assert_eq!(
            response.contains("\r\nSec-WebSocket-Version: 13\r\n"),
            refusal.status == 426,
            "{response}"
        );
        // The same error as an event, then the close, and nothing else is written.
        assert_eq!(
            events(&mut server),
            [
                Event::Error(error.clone()),
                Event::Close {
                    code: CloseCode::PROTOCOL_ERROR,
                    reason: rule.to_string()
                }
            ]
        );
        assert!(server.wants_close());
        assert_eq!(
            server.close_reason().map(|(code, _)| code),
            Some(CloseCode::PROTOCOL_ERROR)
        );
        assert_eq!(server.start(), Err(Error::Usage(Usage::Closed)));
    }
}

/// An extension that only has a name and declines every offer, for requests that
/// offer it.
#[derive(Debug)]
struct Named(&'static str);

impl Extension for Named {
    fn name(&self) -> &str {
        self.0
    }
    fn rsv(&self) -> Rsv {
        Rsv::NONE
    }
    fn client_offers(&self) -> Vec<Params> {
        Vec::new()
    }
    fn client_activate(&self, _: &Params) -> Result<Box<dyn Session>, NegotiationError> {
        Err(NegotiationError::rejected(
            self.0,
            &Params::new(),
            "never offered",
        ))
    }
    fn server_accept(
        &self,
        _: &[Params],
    ) -> Result<Option<(Params, Box<dyn Session>)>, NegotiationError> {
        Ok(None)
    }
}

#[test]
fn a_malformed_extension_offer_is_refused_with_400_and_the_header_s_error() {
    let mut options = options();
    options.extensions.push(Arc::new(Named("x-any")));
    let request = edited(
        REQUEST,
        "\r\n\r\n",
        "\r\nSec-WebSocket-Extensions: x-any; =oops\r\n\r\n",
    );
    let mut server = Connection::server(options);
    let (started, response) = start_on(&mut server, &request);
    let error = started.unwrap_err();
    let Error::Negotiation(negotiation) = &error else {
        panic!("{error:?}")
    };
    assert!(
        response.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{response}"
    );
    // A malformed header reads as the server's 400, without the handshake prefix.
    assert_eq!(error.to_string(), negotiation.to_string());
    assert!(
        response.ends_with(&format!("\r\n\r\n{negotiation}")),
        "{response}"
    );
}

#[test]
fn a_request_cut_short_by_the_end_of_the_transport_closes_with_1006() {
    let mut server = Connection::server(options());
    server.handle_input(&REQUEST[..20]);
    assert_eq!(server.poll_event(), None);
    server.handle_eof();
    assert_eq!(
        events(&mut server),
        [Event::Close {
            code: CloseCode::ABNORMAL,
            reason: "the connection ended without a close frame".into()
        }]
    );
    // Nothing was answered: there was no request to answer.
    assert!(server.poll_transmit_vec().is_empty());
}

#[test]
fn start_is_refused_once_the_handshake_is_under_way_or_over() {
    let mut client = Connection::client("ws://example.com/", options()).unwrap();
    assert_eq!(client.role(), Role::Client);
    client.start().unwrap();
    assert_eq!(client.start(), Err(Error::Usage(Usage::AlreadyStarted)));

    let mut server = open_server();
    assert_eq!(server.role(), Role::Server);
    assert_eq!(server.start(), Err(Error::Usage(Usage::AlreadyStarted)));
    // A second start while the request is still arriving is the same mistake.
    let mut reading = Connection::server(options());
    reading.start().unwrap();
    assert_eq!(reading.start(), Err(Error::Usage(Usage::AlreadyStarted)));
}

#[test]
fn respond_needs_a_request_waiting_for_an_answer() {
    let mut server = Connection::server(options());
    let early = server.respond(404, &[], b"");
    assert_eq!(early, Err(Error::Usage(Usage::NotAwaitingRequest)));
    let mut server = open_server();
    let late = server.respond(404, &[], b"");
    assert_eq!(late, Err(Error::Usage(Usage::NotAwaitingRequest)));
    assert!(server.poll_transmit_vec().is_empty());
}

#[test]
fn set_protocols_chooses_after_the_request_and_not_after_start() {
    let request = edited(
        REQUEST,
        "\r\n\r\n",
        "\r\nSec-WebSocket-Protocol: v1, v2\r\n\r\n",
    );
    let mut server = Connection::server(options());
    server.handle_input(&request);
    assert_eq!(server.poll_event(), Some(Event::Request));
    // Decided from the request: only v2 is served to this client.
    server.set_protocols(vec!["v2".into()]).unwrap();
    server.start().unwrap();
    assert_eq!(server.protocol(), Some("v2"));
    assert!(
        String::from_utf8(server.poll_transmit_vec())
            .unwrap()
            .contains("\r\nSec-WebSocket-Protocol: v2\r\n")
    );
    assert_eq!(
        server.set_protocols(vec!["v1".into()]),
        Err(Error::Usage(Usage::AfterStart))
    );
    assert_eq!(server.options().protocols, ["v2"]);
}

#[test]
fn control_frames_are_queued_before_open_and_refused_once_closing() {
    let mut client = Connection::client("ws://example.com/chat", options()).unwrap();
    client.pong(b"early").unwrap();
    let mut pair = {
        client.start().unwrap();
        let mut server = Connection::server(options());
        server.handle_input(&client.poll_transmit_vec());
        assert_eq!(server.poll_event(), Some(Event::Request));
        server.start().unwrap();
        assert_eq!(server.poll_event(), Some(Event::Open));
        client.handle_input(&server.poll_transmit_vec());
        Pair { client, server }
    };
    assert_eq!(pair.client.poll_event(), Some(Event::Open));
    // The pong queued before open goes out once open.
    let (_, server_events) = pair.pump();
    assert_eq!(
        server_events,
        [Event::Pong {
            payload: Bytes::from_static(b"early"),
            answers: None
        }]
    );
    pair.client.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(pair.client.ping(b"x"), Err(Error::Usage(Usage::Closed)));
    assert_eq!(pair.client.pong(b"x"), Err(Error::Usage(Usage::Closed)));
    assert_eq!(
        pair.client.send(Message::text("x")),
        Err(Error::Usage(Usage::Closed))
    );
    assert_eq!(
        pair.client.close(CloseCode::NORMAL, ""),
        Err(Error::Usage(Usage::Closed))
    );
    // Only the close frame left after the close.
    let (client_events, server_events) = pair.pump();
    assert_eq!(
        (client_events.len(), server_events.len()),
        (1, 1),
        "{client_events:?} {server_events:?}"
    );
    assert_eq!(pair.client.close_reason(), Some((CloseCode::NORMAL, "")));
}

#[test]
fn close_reason_is_known_only_once_closed() {
    let mut pair = Pair::open();
    assert_eq!(pair.server.close_reason(), None);
    pair.server.close(CloseCode::GOING_AWAY, "restart").unwrap();
    // Closing, not closed: the peer has not answered yet.
    assert_eq!(pair.server.close_reason(), None);
    pair.pump();
    assert_eq!(
        pair.server.close_reason(),
        Some((CloseCode::GOING_AWAY, "restart"))
    );
    assert_eq!(
        pair.client.close_reason(),
        Some((CloseCode::GOING_AWAY, "restart"))
    );
}

#[test]
fn a_refusal_from_upgrade_becomes_the_error_a_started_server_reports() {
    let (request, _) = match Request::parse(
        &edited(REQUEST, "GET /chat", "POST /chat"),
        &Default::default(),
    )
    .unwrap()
    {
        Status::Complete(done) => done,
        Status::Partial => unreachable!(),
    };
    let refused = Connection::upgrade(request, options()).unwrap_err();
    assert_eq!(refused.rejection().status, 400);
    let error = Error::from(refused.clone());
    assert_eq!(&error, refused.error());
    // The same request answered by a connection of its own gives the same error.
    let mut server = Connection::server(options());
    let (started, _) = start_on(&mut server, &edited(REQUEST, "GET /chat", "POST /chat"));
    assert_eq!(started, Err(error));
}
