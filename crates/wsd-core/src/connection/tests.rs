//! Driver tests: a two-endpoint in-memory harness, raw-byte transcripts, and
//! split-at-every-byte checks.

use super::*;
// The tests build frames and requests by hand.
use std::io::IoSlice;
use std::time::Duration;
use wsd_frame::encode_frame;
use wsd_handshake::{Status, server};

use crate::event::Polled;
use proptest::prelude::*;
use wsd_frame::{ProtocolError, WholeMessage};

use crate::output::BY_REFERENCE_FROM;

mod extensions;
mod rejections;

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn options() -> Options {
    Options {
        mask_seed: Some(7),
        ..Options::default()
    }
}

/// A masked frame, as a client sends it.
fn masked(opcode: OpCode, fin: bool, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(fin, opcode, Rsv::NONE, payload, Some(KEY), &mut out);
    out
}

/// An unmasked frame, as a server sends it.
fn plain(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(true, opcode, Rsv::NONE, payload, None, &mut out);
    out
}

fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// An open server (parsing mode), its 101 already taken.
fn open_server() -> Connection {
    let mut server = Connection::server(options());
    server.handle_input(REQUEST);
    assert_eq!(server.poll_event(), Some(Event::Request));
    server.start().unwrap();
    assert_eq!(server.poll_event(), Some(Event::Open));
    let response = server.poll_transmit_vec();
    assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    server
}

/// A client and a server, both open.
struct Pair {
    client: Connection,
    server: Connection,
}

impl Pair {
    fn new(client_options: Options, server_options: Options) -> Self {
        let mut client = Connection::client("ws://example.com/chat", client_options).unwrap();
        let server = Connection::server(server_options);
        client.start().unwrap();
        let mut pair = Self { client, server };
        pair.server.handle_input(&pair.client.poll_transmit_vec());
        assert_eq!(pair.server.poll_event(), Some(Event::Request));
        pair.server.start().unwrap();
        assert_eq!(pair.server.poll_event(), Some(Event::Open));
        pair.client.handle_input(&pair.server.poll_transmit_vec());
        assert_eq!(pair.client.poll_event(), Some(Event::Open));
        pair
    }

    fn open() -> Self {
        Self::new(options(), options())
    }

    /// Moves bytes both ways until quiet; returns (client events, server events).
    fn pump(&mut self) -> (Vec<Event>, Vec<Event>) {
        let (mut from_client, mut from_server) = (Vec::new(), Vec::new());
        loop {
            let c = self.client.poll_transmit_vec();
            let s = self.server.poll_transmit_vec();
            if !c.is_empty() {
                self.server.handle_input(&c);
            }
            if !s.is_empty() {
                self.client.handle_input(&s);
            }
            from_server.extend(events(&mut self.server));
            from_client.extend(events(&mut self.client));
            if c.is_empty()
                && s.is_empty()
                && self.client.buffered_amount() == 0
                && self.server.buffered_amount() == 0
            {
                return (from_client, from_server);
            }
        }
    }
}

// ----- opening handshake --------------------------------------------------------

#[test]
fn server_answers_the_rfc_example_request_with_the_rfc_accept_value() {
    let mut server = Connection::server(options());
    server.handle_input(REQUEST);
    assert_eq!(server.poll_event(), Some(Event::Request));
    assert_eq!(server.request().unwrap().target, "/chat");
    assert_eq!(server.state(), ReadyState::Connecting);
    server.start().unwrap();
    let response = String::from_utf8(server.poll_transmit_vec()).unwrap();
    assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    assert_eq!(server.poll_event(), Some(Event::Open));
    assert_eq!(server.state(), ReadyState::Open);
    assert_eq!(server.version(), Version::Rfc6455);
}

#[test]
fn server_split_request_and_early_start_open_once_the_head_is_complete() {
    let mut server = Connection::server(options());
    server.start().unwrap(); // remembered, as websocket-driver (Node) queues it
    for byte in REQUEST {
        assert_eq!(server.poll_event(), None);
        server.handle_input(std::slice::from_ref(byte));
    }
    assert_eq!(events(&mut server), [Event::Request, Event::Open]);
}

#[test]
fn server_rejects_a_wrong_version_with_426_and_fails() {
    let request = String::from_utf8(REQUEST.to_vec())
        .unwrap()
        .replace("Version: 13", "Version: 8");
    let mut server = Connection::server(options());
    server.handle_input(request.as_bytes());
    assert_eq!(server.poll_event(), Some(Event::Request));
    assert!(server.start().is_err());
    let response = String::from_utf8(server.poll_transmit_vec()).unwrap();
    assert!(
        response.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{response}"
    );
    assert!(response.contains("Sec-WebSocket-Version: 13\r\n"));
    let evs = events(&mut server);
    assert!(matches!(evs[0], Event::Error(Error::Handshake(_))));
    assert!(matches!(
        evs[1],
        Event::Close {
            code: CloseCode::PROTOCOL_ERROR,
            ..
        }
    ));
    assert!(server.wants_close());
}

#[test]
fn server_answers_garbage_with_400() {
    let mut server = Connection::server(options());
    server.handle_input(b"\x00\x01garbage\r\n\r\n");
    let evs = events(&mut server);
    assert!(matches!(evs[0], Event::Error(Error::Handshake(_))));
    assert_eq!(evs.len(), 2);
    let response = String::from_utf8(server.poll_transmit_vec()).unwrap();
    assert!(response.starts_with("HTTP/1.1 400 Bad Request"));
}

#[test]
fn server_with_an_oversized_head_fails_without_buffering_it_all() {
    let mut server = Connection::server(options());
    let mut head = b"GET / HTTP/1.1\r\nX: ".to_vec();
    head.resize(1 << 20, b'a');
    server.handle_input(&head);
    let evs = events(&mut server);
    assert!(
        matches!(evs[0], Event::Error(Error::Handshake(_))),
        "{evs:?}"
    );
    assert_eq!(server.buffered_input(), 0);
}

#[test]
fn server_respond_answers_plain_http_and_closes() {
    let mut server = Connection::server(options());
    server.handle_input(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(server.poll_event(), Some(Event::Request));
    server
        .respond(200, &[("Content-Type", "text/html")], b"<p>hi</p>")
        .unwrap();
    let response = String::from_utf8(server.poll_transmit_vec()).unwrap();
    assert_eq!(
        response,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 9\r\nConnection: close\r\n\r\n<p>hi</p>"
    );
    assert!(server.wants_close());
}

#[test]
fn server_from_a_parsed_request_keeps_frames_that_arrive_before_start() {
    let (request, _) = match Request::parse(REQUEST, &Default::default()).unwrap() {
        Status::Complete(done) => done,
        Status::Partial => unreachable!(),
    };
    let mut server = Connection::accept(request, options());
    // websocket-driver (Node) throws on a data frame before start; here it waits.
    server.handle_input(&masked(OpCode::Text, true, b"early"));
    assert_eq!(server.poll_event(), None);
    server.start().unwrap();
    assert_eq!(
        events(&mut server),
        [Event::Open, Event::Message(Message::text("early"))]
    );
}

#[test]
fn server_negotiates_the_first_client_protocol_it_supports() {
    let mut client_options = options();
    client_options.protocols = vec!["a".into(), "b".into(), "c".into()];
    let mut server_options = options();
    server_options.protocols = vec!["c".into(), "b".into()];
    let pair = Pair::new(client_options, server_options);
    assert_eq!(pair.server.protocol(), Some("b"));
    assert_eq!(pair.client.protocol(), Some("b"));
}

#[test]
fn client_request_carries_key_version_and_custom_headers() {
    let mut client = Connection::client("ws://example.com:8080/p?q=1", options()).unwrap();
    client.set_header("User-Agent", "wsd-test").unwrap();
    client.start().unwrap();
    assert!(client.set_header("X-Late", "1").is_err());
    let request = String::from_utf8(client.poll_transmit_vec()).unwrap();
    assert!(request.starts_with("GET /p?q=1 HTTP/1.1\r\nHost: example.com:8080\r\n"));
    assert!(request.contains("Sec-WebSocket-Version: 13\r\n"));
    assert!(request.contains("User-Agent: wsd-test\r\n"));
}

#[test]
fn client_rejects_a_404_and_keeps_status_and_headers() {
    let mut client = Connection::client("ws://example.com/", options()).unwrap();
    client.start().unwrap();
    client.poll_transmit_vec();
    client.handle_input(b"HTTP/1.1 404 Not Found\r\nX-Why: nope\r\nContent-Length: 0\r\n\r\n");
    let evs = events(&mut client);
    let Event::Error(error) = &evs[0] else {
        panic!("{evs:?}")
    };
    assert!(error.to_string().contains("404"), "{error}");
    assert!(matches!(
        evs[1],
        Event::Close {
            code: CloseCode::PROTOCOL_ERROR,
            ..
        }
    ));
    assert_eq!(client.status(), Some(404));
    assert_eq!(
        client.response_headers().unwrap().get("x-why").as_deref(),
        Some("nope")
    );
    assert!(client.poll_transmit_vec().is_empty(), "nothing written");
}

#[test]
fn client_rejects_a_wrong_accept_value() {
    let mut client = Connection::client("ws://example.com/", options()).unwrap();
    client.start().unwrap();
    client.poll_transmit_vec();
    client.handle_input(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
          Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
    );
    let evs = events(&mut client);
    assert!(
        evs[0]
            .to_owned_string()
            .contains("Sec-WebSocket-Accept mismatch")
    );
}

#[test]
fn client_parses_frames_that_arrive_with_the_response_head() {
    let mut client = Connection::client("ws://example.com/", options()).unwrap();
    client.start().unwrap();
    let request = client.poll_transmit_vec();
    let mut server = Connection::server(options());
    server.handle_input(&request);
    server.poll_event();
    server.start().unwrap();
    server.send_text("first").unwrap();
    // The 101 and the first frame in one read.
    client.handle_input(&server.poll_transmit_vec());
    assert_eq!(
        events(&mut client),
        [Event::Open, Event::Message(Message::text("first"))]
    );
}

#[test]
fn messages_sent_before_open_are_flushed_in_order_on_open() {
    let mut client = Connection::client("ws://example.com/", options()).unwrap();
    client.send_text("one").unwrap();
    client.ping(b"p").unwrap();
    client.send_binary(&[2]).unwrap();
    client.start().unwrap();
    let mut server = Connection::server(options());
    server.handle_input(&client.poll_transmit_vec());
    server.poll_event();
    server.start().unwrap();
    client.handle_input(&server.poll_transmit_vec());
    assert_eq!(client.poll_event(), Some(Event::Open));
    server.handle_input(&client.poll_transmit_vec());
    assert_eq!(
        events(&mut server),
        [
            Event::Open,
            Event::Message(Message::text("one")),
            Event::Ping(Bytes::from_static(b"p")),
            Event::Message(Message::binary(vec![2])),
        ]
    );
}

#[test]
fn the_handshake_times_out() {
    let mut server = Connection::server(options());
    let now = Instant::now();
    let deadline = server.poll_timeout(now).unwrap();
    assert_eq!(deadline, now + Duration::from_secs(10));
    server.handle_timeout(now + Duration::from_secs(9));
    assert_eq!(server.poll_event(), None);
    server.handle_timeout(deadline);
    let evs = events(&mut server);
    assert_eq!(evs[0], Event::Error(Error::HandshakeTimeout));
    assert!(matches!(
        evs[1],
        Event::Close {
            code: CloseCode::ABNORMAL,
            ..
        }
    ));
    assert_eq!(server.poll_timeout(now), None);
}

// ----- messages ------------------------------------------------------------------

#[test]
fn client_and_server_exchange_text_and_binary() {
    let mut pair = Pair::open();
    pair.client.send_text("héllo").unwrap();
    pair.server.send_binary(&[0, 1, 2, 255]).unwrap();
    let (client_events, server_events) = pair.pump();
    assert_eq!(server_events, [Event::Message(Message::text("héllo"))]);
    assert_eq!(
        client_events,
        [Event::Message(Message::binary(vec![0, 1, 2, 255]))]
    );
}

#[test]
fn client_frames_are_masked_and_server_frames_are_not() {
    let mut pair = Pair::open();
    pair.client.send_text("abc").unwrap();
    let wire = pair.client.poll_transmit_vec();
    assert_eq!(wire[1] & 0x80, 0x80);
    assert_ne!(&wire[6..], b"abc");
    pair.server.send_text("abc").unwrap();
    assert_eq!(
        pair.server.poll_transmit_vec(),
        [0x81, 0x03, b'a', b'b', b'c']
    );
}

#[test]
fn fragmented_messages_are_recombined_with_control_frames_in_between() {
    let mut server = open_server();
    let mut wire = masked(OpCode::Text, false, b"Hel");
    wire.extend(masked(OpCode::Ping, true, b"p"));
    wire.extend(masked(OpCode::Continuation, false, b"lo, "));
    wire.extend(masked(OpCode::Continuation, true, "wörld".as_bytes()));
    server.handle_input(&wire);
    assert_eq!(
        events(&mut server),
        [
            Event::Ping(Bytes::from_static(b"p")),
            Event::Message(Message::text("Hello, wörld")),
        ]
    );
    assert_eq!(server.poll_transmit_vec(), plain(OpCode::Pong, b"p"));
}

#[test]
fn pings_are_answered_and_pongs_report_the_ping_they_answer() {
    let mut pair = Pair::open();
    let first = pair.client.ping(b"1").unwrap();
    let second = pair.client.ping(b"2").unwrap();
    let (client_events, server_events) = pair.pump();
    assert_eq!(
        server_events,
        [
            Event::Ping(Bytes::from_static(b"1")),
            Event::Ping(Bytes::from_static(b"2"))
        ]
    );
    assert_eq!(
        client_events,
        [
            Event::Pong {
                payload: Bytes::from_static(b"1"),
                answers: Some(first)
            },
            Event::Pong {
                payload: Bytes::from_static(b"2"),
                answers: Some(second)
            },
        ]
    );
    // An unsolicited pong answers nothing.
    pair.server.pong(b"beat").unwrap();
    let (client_events, _) = pair.pump();
    assert_eq!(
        client_events,
        [Event::Pong {
            payload: Bytes::from_static(b"beat"),
            answers: None
        }]
    );
}

#[test]
fn control_payloads_over_125_bytes_are_refused() {
    let mut pair = Pair::open();
    assert_eq!(
        pair.client.ping(&[0; 126]),
        Err(Error::Usage(Usage::ControlPayloadTooLong(126)))
    );
    assert!(
        pair.client
            .close(CloseCode::NORMAL, &"x".repeat(124))
            .is_err()
    );
    assert_eq!(
        pair.client.close(CloseCode::NO_STATUS, ""),
        Err(Error::Usage(Usage::InvalidCloseCode(1005)))
    );
}

/// Every event and lent message `poll_message_with` gives, echoing what it is lent.
fn echo_lent(conn: &mut Connection) -> Vec<Result<Vec<u8>, Event>> {
    std::iter::from_fn(|| {
        conn.poll_message_with(|message, reply| {
            reply.send(message).unwrap();
            match message {
                WholeMessage::Text(text) => text.as_bytes().to_vec(),
                WholeMessage::Binary(data) => data.to_vec(),
            }
        })
    })
    .map(|polled| match polled {
        Polled::Lent(data) => Ok(data),
        Polled::Event(event) => Err(event),
    })
    .collect()
}

#[test]
fn server_lends_whole_messages_and_gives_the_rest_as_events() {
    let mut server = open_server();
    let mut input = masked(OpCode::Text, true, "κόσμε".as_bytes());
    input.extend(masked(OpCode::Text, false, b"frag"));
    input.extend(masked(OpCode::Ping, true, b"p"));
    input.extend(masked(OpCode::Continuation, true, b"mented"));
    input.extend(masked(OpCode::Binary, true, &[0, 1, 2]));
    server.handle_input(&input);
    assert_eq!(
        echo_lent(&mut server),
        [
            Ok("κόσμε".as_bytes().to_vec()),
            Err(Event::Ping(Bytes::from_static(b"p"))),
            Err(Event::Message(Message::text("fragmented"))),
            Ok(vec![0, 1, 2]),
        ]
    );
    // The echoes of the lent messages, and the pong, in the order they were made.
    let mut expected = plain(OpCode::Text, "κόσμε".as_bytes());
    expected.extend(plain(OpCode::Pong, b"p"));
    expected.extend(plain(OpCode::Binary, &[0, 1, 2]));
    assert_eq!(server.poll_transmit_vec(), expected);
    assert_eq!(server.buffered_input(), 0);
}

#[test]
fn a_message_that_arrives_in_pieces_comes_once_as_an_event() {
    // Once the decoder has begun a frame it reads the rest: it is not lent.
    let wire = masked(OpCode::Binary, true, &[7; 200]);
    for step in 1..wire.len() {
        let mut server = open_server();
        let mut lent = Vec::new();
        for piece in wire.chunks(step) {
            server.handle_input(piece);
            lent.extend(echo_lent(&mut server));
        }
        let message = Event::Message(Message::binary(vec![7; 200]));
        assert_eq!(lent, [Err(message)], "step {step}");
    }
}

#[test]
fn a_payload_queued_by_reference_is_not_lent() {
    // Echoing it from a loan would copy what the output can hold by reference.
    let mut server = open_server();
    let large = vec![7; BY_REFERENCE_FROM];
    server.handle_input(&masked(OpCode::Binary, true, &large));
    server.handle_input(&masked(OpCode::Binary, true, &large[1..]));
    let lent = echo_lent(&mut server);
    assert_eq!(
        lent,
        [
            Err(Event::Message(Message::binary(large.clone()))),
            Ok(large[1..].to_vec())
        ]
    );
}

#[test]
fn client_replies_to_a_lent_message_masked() {
    let mut pair = Pair::open();
    pair.server.send_text("ask").unwrap();
    pair.client.handle_input(&pair.server.poll_transmit_vec());
    let polled = pair.client.poll_message_with(|message, reply| {
        assert_eq!(message, WholeMessage::Text("ask"));
        reply.send_binary(b"answer")
    });
    assert!(matches!(polled, Some(Polled::Lent(Ok(())))));
    let (_, from_server) = pair.pump();
    assert_eq!(
        from_server,
        [Event::Message(Message::binary(&b"answer"[..]))]
    );
}

#[test]
fn a_closing_connection_lends_messages_but_refuses_replies() {
    let mut server = open_server();
    server.close(CloseCode::NORMAL, "").unwrap();
    let _ = server.poll_transmit_vec();
    server.handle_input(&masked(OpCode::Text, true, b"late"));
    let polled = server.poll_message_with(|message, reply| {
        assert_eq!(message, WholeMessage::Text("late"));
        reply.send(message)
    });
    assert!(matches!(
        polled,
        Some(Polled::Lent(Err(Error::Usage(Usage::Closed))))
    ));
    assert!(server.poll_transmit_vec().is_empty());
}

#[test]
fn invalid_utf8_in_a_message_that_would_be_lent_fails_with_1007() {
    let mut server = open_server();
    server.handle_input(&masked(OpCode::Text, true, &[0xED, 0xA0, 0x80]));
    let evs = echo_lent(&mut server);
    assert!(matches!(
        evs[..],
        [
            Err(Event::Error(Error::Protocol(ProtocolError::InvalidUtf8))),
            Err(Event::Close {
                code: CloseCode::INVALID_PAYLOAD,
                ..
            })
        ]
    ));
}

// ----- closing -------------------------------------------------------------------

#[test]
fn client_initiated_close_completes_on_both_sides_with_the_code() {
    let mut pair = Pair::open();
    pair.client.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(pair.client.state(), ReadyState::Closing);
    assert_eq!(
        pair.client.send_text("late"),
        Err(Error::Usage(Usage::Closed))
    );
    let (client_events, server_events) = pair.pump();
    assert_eq!(
        server_events,
        [Event::Close {
            code: CloseCode::NORMAL,
            reason: "bye".into()
        }]
    );
    // The server echoed the code and the reason, as websocket-driver (Node) does.
    assert_eq!(
        client_events,
        [Event::Close {
            code: CloseCode::NORMAL,
            reason: "bye".into()
        }]
    );
    assert!(pair.client.wants_close() && pair.server.wants_close());
}

#[test]
fn server_echoes_the_close_code_and_reason_and_sends_nothing_after_it() {
    let mut server = open_server();
    server.handle_input(&masked(OpCode::Close, true, &[0x03, 0xE8, b'o', b'k']));
    server.handle_input(&masked(OpCode::Text, true, b"after close"));
    assert_eq!(
        events(&mut server),
        [Event::Close {
            code: CloseCode::NORMAL,
            reason: "ok".into()
        }]
    );
    assert_eq!(
        server.poll_transmit_vec(),
        [0x88, 0x04, 0x03, 0xE8, b'o', b'k']
    );
    assert!(server.send_text("x").is_err());
    assert!(server.poll_transmit_vec().is_empty());
}

#[test]
fn an_empty_close_is_reported_as_1005_and_answered_with_an_empty_close() {
    let mut server = open_server();
    server.handle_input(&masked(OpCode::Close, true, &[]));
    assert_eq!(
        events(&mut server),
        [Event::Close {
            code: CloseCode::NO_STATUS,
            reason: String::new()
        }]
    );
    assert_eq!(server.poll_transmit_vec(), [0x88, 0x00]);
}

#[test]
fn invalid_close_frames_fail_with_the_right_code() {
    for (payload, code) in [
        (vec![0x03], CloseCode::PROTOCOL_ERROR),
        (vec![0x03, 0xED], CloseCode::PROTOCOL_ERROR), // 1005
        (vec![0x03, 0xE7], CloseCode::PROTOCOL_ERROR), // 999
        (vec![0x03, 0xE8, 0xFF], CloseCode::INVALID_PAYLOAD),
    ] {
        let mut server = open_server();
        server.handle_input(&masked(OpCode::Close, true, &payload));
        let evs = events(&mut server);
        assert!(
            matches!(evs[0], Event::Error(Error::Protocol(_))),
            "{evs:?}"
        );
        assert!(matches!(&evs[1], Event::Close { code: c, .. } if *c == code));
        let out = server.poll_transmit_vec();
        assert_eq!(
            &out[..4],
            &[0x88, out[1], (code.0 >> 8) as u8, code.0 as u8]
        );
    }
}

#[test]
fn the_close_timeout_ends_an_unanswered_close_with_1006() {
    let mut pair = Pair::open();
    pair.client.close(CloseCode::NORMAL, "").unwrap();
    let now = Instant::now();
    let deadline = pair.client.poll_timeout(now).unwrap();
    pair.client.handle_timeout(deadline);
    assert_eq!(
        events(&mut pair.client),
        [Event::Close {
            code: CloseCode::ABNORMAL,
            reason: "the peer did not answer the close frame in time".into()
        }]
    );
}

#[test]
fn eof_without_a_close_frame_is_1006_exactly_once_after_buffered_messages() {
    let mut server = open_server();
    server.handle_input(&masked(OpCode::Text, true, b"last words"));
    server.handle_eof();
    server.handle_eof();
    assert_eq!(
        events(&mut server),
        [
            Event::Message(Message::text("last words")),
            Event::Close {
                code: CloseCode::ABNORMAL,
                reason: "the connection ended without a close frame".into()
            }
        ]
    );
    assert_eq!(server.poll_event(), None);
}

#[test]
fn eof_mid_frame_is_1006() {
    let mut server = open_server();
    let frame = masked(OpCode::Binary, true, &[1; 100]);
    server.handle_input(&frame[..50]);
    server.handle_eof();
    let evs = events(&mut server);
    assert!(matches!(
        evs[..],
        [Event::Close {
            code: CloseCode::ABNORMAL,
            ..
        }]
    ));
}

#[test]
fn close_before_start_writes_nothing_and_reports_the_code() {
    let mut client = Connection::client("ws://example.com/", options()).unwrap();
    client.send_text("never sent").unwrap();
    client
        .close(CloseCode::GOING_AWAY, "changed my mind")
        .unwrap();
    assert!(client.poll_transmit_vec().is_empty());
    assert_eq!(
        events(&mut client),
        [Event::Close {
            code: CloseCode::GOING_AWAY,
            reason: "changed my mind (1 queued command was not sent)".into()
        }]
    );
}

// ----- failures --------------------------------------------------------------------

#[test]
fn a_protocol_error_sends_the_close_frame_then_reports_error_and_close() {
    let mut server = open_server();
    server.handle_input(&plain(OpCode::Text, b"unmasked"));
    let evs = events(&mut server);
    assert_eq!(
        evs[0],
        Event::Error(Error::Protocol(ProtocolError::UnmaskedFrame))
    );
    assert!(matches!(
        evs[1],
        Event::Close {
            code: CloseCode::PROTOCOL_ERROR,
            ..
        }
    ));
    let out = server.poll_transmit_vec();
    assert_eq!(&out[..4], &[0x88, out[1], 0x03, 0xEA]);
    assert!(server.wants_close());
    // Input after failing is ignored.
    server.handle_input(&masked(OpCode::Text, true, b"x"));
    assert_eq!(server.poll_event(), None);
}

#[test]
fn answers_to_earlier_messages_leave_before_the_close_frame_of_a_later_error() {
    // Autobahn 3.x/4.x/5.15 strictness: an echo server polls one event at a time.
    let mut server = open_server();
    let mut wire = masked(OpCode::Text, true, b"one");
    wire.extend(masked(OpCode::Text, true, b"two"));
    wire.extend([0x83, 0x80, 1, 2, 3, 4]); // reserved opcode 3
    server.handle_input(&wire);
    let mut out = Vec::new();
    while let Some(event) = server.poll_event() {
        if let Event::Message(m) = event {
            server.send(m).unwrap();
        }
        server.poll_transmit(&mut out);
    }
    let mut expected = plain(OpCode::Text, b"one");
    expected.extend(plain(OpCode::Text, b"two"));
    assert_eq!(&out[..expected.len()], &expected[..]);
    assert_eq!(out[expected.len()], 0x88);
}

#[test]
fn invalid_utf8_fails_with_1007() {
    let mut server = open_server();
    server.handle_input(&masked(OpCode::Text, true, &[0xCE, 0xBA, 0xE1, 0xBD]));
    server.handle_input(&masked(OpCode::Text, true, &[0xED, 0xA0, 0x80]));
    let evs = events(&mut server);
    assert!(matches!(
        evs[..],
        [
            Event::Error(Error::Protocol(ProtocolError::InvalidUtf8)),
            Event::Close {
                code: CloseCode::INVALID_PAYLOAD,
                ..
            }
        ]
    ));
}

#[test]
fn a_message_over_max_length_fails_with_1009() {
    let mut server_options = options();
    server_options.max_length = 16;
    let mut pair = Pair::new(options(), server_options);
    pair.client.send_binary(&[0; 17]).unwrap();
    let (client_events, server_events) = pair.pump();
    assert!(matches!(
        server_events[1],
        Event::Close {
            code: CloseCode::MESSAGE_TOO_BIG,
            ..
        }
    ));
    // The client hears 1009 in the close frame and answers it.
    assert!(matches!(
        client_events[..],
        [Event::Close {
            code: CloseCode::MESSAGE_TOO_BIG,
            ..
        }]
    ));
}

#[test]
fn client_rejects_a_masked_server_frame() {
    let mut pair = Pair::open();
    pair.client.handle_input(&masked(OpCode::Text, true, b"x"));
    let evs = events(&mut pair.client);
    assert_eq!(
        evs[0],
        Event::Error(Error::Protocol(ProtocolError::MaskedFrame))
    );
}

// ----- whole transcripts in every split -------------------------------------------

/// The server's events and output for `wire` fed in pieces of `step` bytes, an
/// echo application answering each message as it is polled.
fn echo_transcript(wire: &[u8], step: usize) -> (Vec<Event>, Vec<u8>) {
    let mut server = Connection::server(options());
    let (mut evs, mut out) = (Vec::new(), Vec::new());
    for piece in wire.chunks(step) {
        server.handle_input(piece);
        while let Some(event) = server.poll_event() {
            match &event {
                Event::Request => server.start().unwrap(),
                Event::Message(m) => server.send(m.clone()).unwrap(),
                _ => {}
            }
            evs.push(event);
        }
        server.poll_transmit(&mut out);
    }
    (evs, out)
}

#[test]
fn a_whole_conversation_fed_at_every_split_gives_the_same_events_and_bytes() {
    let mut wire = REQUEST.to_vec();
    wire.extend(masked(OpCode::Text, false, "frag".as_bytes()));
    wire.extend(masked(OpCode::Ping, true, b"ping"));
    wire.extend(masked(OpCode::Continuation, true, "ment €".as_bytes()));
    wire.extend(masked(OpCode::Binary, true, &[9; 300]));
    wire.extend(masked(OpCode::Close, true, &[0x03, 0xE8]));
    let whole = echo_transcript(&wire, wire.len());
    assert_eq!(whole.0.len(), 6, "{:?}", whole.0);
    for step in 1..40 {
        assert_eq!(echo_transcript(&wire, step), whole, "step {step}");
    }
}

proptest! {
    #[test]
    fn random_messages_round_trip_both_ways_in_random_splits(
        messages in proptest::collection::vec(
            prop_oneof![
                "\\PC{0,200}".prop_map(Message::text),
                proptest::collection::vec(any::<u8>(), 0..70_000).prop_map(Message::binary),
            ],
            0..8,
        ),
        step in 1usize..5000,
    ) {
        let mut pair = Pair::open();
        for message in &messages {
            pair.client.send(message.clone()).unwrap();
            pair.server.send(message.clone()).unwrap();
        }
        let to_server = pair.client.poll_transmit_vec();
        let to_client = pair.server.poll_transmit_vec();
        let mut received_by_server = Vec::new();
        for piece in to_server.chunks(step) {
            pair.server.handle_input(piece);
            received_by_server.extend(events(&mut pair.server));
        }
        let mut received_by_client = Vec::new();
        for piece in to_client.chunks(step) {
            pair.client.handle_input(piece);
            received_by_client.extend(events(&mut pair.client));
        }
        let expected: Vec<Event> = messages.into_iter().map(Event::Message).collect();
        prop_assert_eq!(received_by_server, expected.clone());
        prop_assert_eq!(received_by_client, expected);
    }

    #[test]
    fn arbitrary_input_after_open_never_panics_and_ends_at_most_one_close(
        input in proptest::collection::vec(any::<u8>(), 0..400),
        step in 1usize..50,
    ) {
        let mut server = open_server();
        let mut closes = 0;
        for piece in input.chunks(step) {
            server.handle_input(piece);
            for event in events(&mut server) {
                if matches!(event, Event::Close { .. }) {
                    closes += 1;
                }
            }
        }
        server.handle_eof();
        for event in events(&mut server) {
            if matches!(event, Event::Close { .. }) {
                closes += 1;
            }
        }
        prop_assert_eq!(closes, 1);
    }
}

trait EventText {
    fn to_owned_string(&self) -> String;
}

impl EventText for Event {
    fn to_owned_string(&self) -> String {
        match self {
            Self::Error(e) => e.to_string(),
            other => format!("{other:?}"),
        }
    }
}

// ----- legacy drafts -----------------------------------------------------------------

/// The Hixie-76 request of the draft's worked example, without its 8-byte body.
const HIXIE76_REQUEST: &[u8] =
    b"GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nSec-WebSocket-Protocol: sample\r\n\
Upgrade: WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n\
Origin: http://example.com\r\n\r\n";

const HIXIE75_REQUEST: &[u8] =
    b"GET /demo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\
Host: example.com\r\nOrigin: http://example.com\r\n\r\n";

#[cfg(feature = "drafts")]
fn draft_server() -> Connection {
    let mut options = options();
    options.allow_drafts = true;
    options.protocols = vec!["sample".into()];
    Connection::server(options)
}

#[cfg(feature = "drafts")]
#[test]
fn hixie_76_answers_the_draft_example_once_the_deferred_body_arrives() {
    let mut server = draft_server();
    server.handle_input(HIXIE76_REQUEST);
    assert_eq!(server.poll_event(), Some(Event::Request));
    server.start().unwrap();
    assert_eq!(server.poll_event(), None, "waits for the 8 body bytes");
    let head = String::from_utf8(server.poll_transmit_vec()).unwrap();
    assert!(head.starts_with("HTTP/1.1 101 WebSocket Protocol Handshake\r\n"));
    assert!(head.contains("Sec-WebSocket-Location: ws://example.com/demo\r\n"));
    assert!(head.contains("Sec-WebSocket-Protocol: sample\r\n"));
    server.handle_input(b"^n:ds[4U");
    assert_eq!(server.poll_event(), Some(Event::Open));
    assert_eq!(server.poll_transmit_vec(), b"8jKS'y:G*Co,Wxa-");
    assert_eq!(server.version(), Version::Hixie76);
    assert_eq!(server.protocol(), Some("sample"));

    server.handle_input(b"\x00hello\xFF");
    assert_eq!(
        server.poll_event(),
        Some(Event::Message(Message::text("hello")))
    );
    server.send_text("back").unwrap();
    assert_eq!(server.poll_transmit_vec(), b"\x00back\xFF");
    assert_eq!(
        server.send_binary(&[1]),
        Err(Error::Usage(Usage::NotSupportedByDraft("binary messages")))
    );
    assert!(server.ping(b"").is_err());

    // The peer closes with 0xFF 0x00; we answer with the same. The close has no code,
    // so 1005 (websocket-driver (Node) reports null).
    server.handle_input(&[0xFF, 0x00]);
    assert_eq!(
        server.poll_event(),
        Some(Event::Close {
            code: CloseCode::NO_STATUS,
            reason: String::new()
        })
    );
    assert_eq!(server.poll_transmit_vec(), [0xFF, 0x00]);
}

#[cfg(feature = "drafts")]
#[test]
fn hixie_76_with_invalid_keys_gets_a_400() {
    let request = edited(
        HIXIE76_REQUEST,
        "4 @1  46546xW%0l 1 5",
        "2 L785 8o% s9Sy9@V. 4<1P5",
    );
    let (started, response) = start_on(&mut draft_server(), &request);
    assert_eq!(
        started.unwrap_err().to_string(),
        "Client sent invalid Sec-WebSocket-Key headers"
    );
    assert!(
        response.starts_with("HTTP/1.1 400 Bad Request"),
        "{response}"
    );
}

#[cfg(feature = "drafts")]
#[test]
fn hixie_75_opens_at_once_and_closes_without_a_handshake() {
    let mut server = draft_server();
    server.handle_input(HIXIE75_REQUEST);
    server.handle_input(b"\x00hi\xFF");
    server.start().unwrap();
    assert_eq!(
        events(&mut server),
        [
            Event::Request,
            Event::Open,
            Event::Message(Message::text("hi"))
        ]
    );
    let head = String::from_utf8(server.poll_transmit_vec()).unwrap();
    assert!(head.starts_with("HTTP/1.1 101 Web Socket Protocol Handshake\r\n"));
    assert!(head.contains("WebSocket-Origin: http://example.com\r\n"));
    assert_eq!(server.version(), Version::Hixie75);
    server.close(CloseCode::NORMAL, "").unwrap();
    assert!(
        server.poll_transmit_vec().is_empty(),
        "Hixie-75 writes nothing"
    );
    assert!(matches!(server.poll_event(), Some(Event::Close { .. })));
}

#[test]
fn drafts_are_refused_unless_allowed() {
    let mut server = Connection::server(options());
    server.handle_input(HIXIE75_REQUEST);
    server.poll_event();
    assert!(server.start().is_err());
    let response = String::from_utf8(server.poll_transmit_vec()).unwrap();
    assert!(response.starts_with("HTTP/1.1 426"), "{response}");
}

#[cfg(not(feature = "drafts"))]
#[test]
fn without_the_drafts_feature_allow_drafts_changes_nothing() {
    for request in [HIXIE75_REQUEST, HIXIE76_REQUEST] {
        let mut answers = Vec::new();
        for allow_drafts in [false, true] {
            let mut options = options();
            options.allow_drafts = allow_drafts;
            let mut server = Connection::server(options);
            let (started, response) = start_on(&mut server, request);
            assert!(started.is_err());
            assert_eq!(server.version(), Version::Rfc6455);
            answers.push(response);
        }
        assert!(answers[1].starts_with("HTTP/1.1 4"), "{}", answers[1]);
        assert_eq!(answers[0], answers[1]);
    }
}

#[cfg(feature = "drafts")]
#[test]
fn hixie_text_over_max_length_reports_an_error_then_closes_with_1009() {
    // websocket-driver's (Node) drafts close silently, with no error event.
    let mut options = options();
    options.allow_drafts = true;
    options.max_length = 4;
    let mut server = Connection::server(options);
    server.handle_input(HIXIE75_REQUEST);
    server.start().unwrap();
    server.handle_input(b"\x00too long\xFF");
    let evs = events(&mut server);
    assert!(
        matches!(
            evs[..],
            [
                Event::Request,
                Event::Open,
                Event::Error(Error::Hixie(wsd_hixie::Error::TextTooLong { .. })),
                Event::Close {
                    code: CloseCode::MESSAGE_TOO_BIG,
                    ..
                }
            ]
        ),
        "{evs:?}"
    );
}

#[test]
fn headers_from_the_options_go_into_the_handshake() {
    let mut client_options = options();
    client_options.headers = vec![("User-Agent".into(), "wsd-options".into())];
    let mut client = Connection::client("ws://example.com/", client_options).unwrap();
    client.start().unwrap();
    let request = String::from_utf8(client.poll_transmit_vec()).unwrap();
    assert!(request.contains("User-Agent: wsd-options\r\n"), "{request}");

    let mut bad = options();
    bad.headers = vec![("X-Evil".into(), "a\r\nInjected: yes".into())];
    let mut client = Connection::client("ws://example.com/", bad).unwrap();
    let evs = events(&mut client);
    assert!(matches!(
        evs[0],
        Event::Error(Error::Usage(Usage::InvalidHeader(_)))
    ));
}

// ----- hostile peers ---------------------------------------------------------------

#[test]
fn a_message_of_a_million_one_byte_fragments_arrives_whole_with_bounded_buffers() {
    let mut server = open_server();
    let count = 1_000_000;
    let mut wire = masked(OpCode::Binary, false, &[0]);
    let fragment = masked(OpCode::Continuation, false, &[1]);
    for _ in 1..count - 1 {
        wire.extend_from_slice(&fragment);
    }
    wire.extend(masked(OpCode::Continuation, true, &[2]));
    // Fed in 64 KiB reads, as an adapter would.
    let mut received = Vec::new();
    for piece in wire.chunks(64 * 1024) {
        server.handle_input(piece);
        received.extend(events(&mut server));
        assert!(server.buffered_input() < 64 * 1024);
    }
    let [Event::Message(Message::Binary(data))] = &received[..] else {
        panic!("{} events", received.len())
    };
    assert_eq!(data.len(), count);
    assert_eq!((data[0], data[1], data[count - 1]), (0, 1, 2));
}

#[test]
fn a_message_just_over_max_length_across_fragments_fails_with_1009() {
    let mut options = options();
    options.max_length = 1000;
    let mut server = Connection::server(options);
    server.handle_input(REQUEST);
    server.start().unwrap();
    let mut wire = Vec::new();
    for _ in 0..10 {
        wire.extend(masked(OpCode::Continuation, false, &[0; 100]));
    }
    wire[0] = 0x02; // the first fragment opens a binary message
    wire.extend(masked(OpCode::Continuation, true, &[0; 1]));
    server.handle_input(&wire);
    let evs = events(&mut server);
    assert!(matches!(
        evs.last(),
        Some(Event::Close {
            code: CloseCode::MESSAGE_TOO_BIG,
            ..
        })
    ));
}

#[test]
fn a_close_frame_instead_of_a_handshake_is_a_bad_request() {
    let mut server = Connection::server(options());
    server.handle_input(&masked(OpCode::Close, true, &[0x03, 0xE8]));
    server.handle_input(b"\r\n\r\n");
    let evs = events(&mut server);
    assert!(
        matches!(evs[0], Event::Error(Error::Handshake(_))),
        "{evs:?}"
    );
    let response = String::from_utf8_lossy(&server.poll_transmit_vec()).into_owned();
    assert!(response.starts_with("HTTP/1.1 400"), "{response}");
}

#[test]
fn a_client_that_receives_a_close_frame_before_the_101_fails_the_handshake() {
    let mut client = Connection::client("ws://example.com/", options()).unwrap();
    client.start().unwrap();
    client.poll_transmit_vec();
    client.handle_input(&plain(OpCode::Close, &[0x03, 0xE8]));
    client.handle_input(b"\r\n\r\n");
    let evs = events(&mut client);
    assert!(
        matches!(evs[0], Event::Error(Error::Handshake(_))),
        "{evs:?}"
    );
    assert!(client.poll_transmit_vec().is_empty());
}

#[test]
fn a_failed_handshake_reports_the_queued_messages_it_drops() {
    let mut client = Connection::client("ws://example.com/", options()).unwrap();
    client.send_text("one").unwrap();
    client.send_text("two").unwrap();
    client.start().unwrap();
    client.poll_transmit_vec();
    client.handle_input(b"HTTP/1.1 403 Forbidden\r\n\r\n");
    let evs = events(&mut client);
    let Some(Event::Close { reason, .. }) = evs.last() else {
        panic!("{evs:?}")
    };
    assert!(
        reason.ends_with("(2 queued commands were not sent)"),
        "{reason}"
    );
}

// ----- reading straight into the connection, output by reference ----------------

/// Feeds `wire` through `read_input` in reads of what `read_size(min)` asks for;
/// returns the read sizes.
fn read_in(conn: &mut Connection, wire: &[u8], min: usize) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut offset = 0;
    while offset < wire.len() {
        let size = conn.read_size(min);
        let end = (offset + size).min(wire.len());
        let n = conn.read_input(|buf| {
            buf.extend_from_slice(&wire[offset..end]);
            end - offset
        });
        sizes.push(n);
        offset = end;
        // What the adapters do between reads: hand out the complete events.
        while let Some(event) = conn.poll_event() {
            assert!(matches!(event, Event::Message(_)), "{event:?}");
        }
    }
    sizes
}

#[test]
fn reads_grow_with_a_large_frame_but_never_past_twice_what_arrived() {
    let mut server = open_server();
    let payload = vec![5u8; 1 << 20];
    let wire = masked(OpCode::Binary, true, &payload);
    let sizes = read_in(&mut server, &wire, 32 * 1024);
    // 32 KiB, then at most what is buffered and 2 KiB (the buffer about doubles),
    // never past the frame's end.
    assert_eq!(sizes[0], 32 * 1024);
    let mut buffered = 0;
    for pair in sizes.windows(2) {
        buffered += pair[0];
        assert!(pair[1] <= buffered + 2048, "{sizes:?}");
    }
    assert!(sizes.len() <= 6, "a 1 MiB frame in few reads: {sizes:?}");
    assert_eq!(sizes.iter().sum::<usize>(), wire.len());
    // Between frames the usual size again.
    assert_eq!(server.read_size(32 * 1024), 32 * 1024);
}

/// Feeds `wire` in `piece`-byte reads, each into room reserved for what
/// `read_size(usual)` asks (as a transport reading into spare capacity does), with
/// `release_buffers` after each (as the adapters call it when a read would block);
/// returns how many times the input moved: to a larger buffer, or to a smaller one by
/// `release_buffers`.
fn trickle_in(conn: &mut Connection, wire: &[u8], piece: usize, usual: usize) -> (usize, usize) {
    let (mut grown, mut shrunk) = (0, 0);
    for chunk in wire.chunks(piece) {
        let size = conn.read_size(usual);
        let capacity = conn.recv.capacity();
        conn.read_input(|buf| {
            buf.reserve(size);
            buf.extend_from_slice(&chunk[..chunk.len().min(size)]);
        });
        assert!(chunk.len() <= size, "asked for {size} bytes");
        grown += usize::from(conn.recv.capacity() > capacity);
        while let Some(event) = conn.poll_event() {
            assert!(matches!(event, Event::Message(_)), "{event:?}");
        }
        let (held, capacity) = (conn.recv.len(), conn.recv.capacity());
        // At most about twice the input plus a small constant (once the message is
        // out, what is left of the buffer is the message's)...
        assert!(
            held == 0 || capacity <= usual.max(2 * held + 4096),
            "{capacity} for {held}"
        );
        conn.release_buffers();
        // ...so releasing leaves a frame still arriving where it is.
        if held > 0 && conn.recv.capacity() != capacity {
            shrunk += 1;
        }
    }
    (grown, shrunk)
}

#[test]
fn a_large_frame_trickling_in_is_not_copied_on_every_read() {
    let mut server = open_server();
    let payload = vec![8u8; 1 << 20];
    let wire = masked(OpCode::Binary, true, &payload);
    // 1,025 reads; the buffer grows by doubling, so a dozen times, and is never
    // moved back to a smaller one.
    let (grown, shrunk) = trickle_in(&mut server, &wire, 1024, 64 * 1024);
    assert!(grown <= 12, "grown {grown} times");
    assert_eq!(
        shrunk, 1,
        "only the first read's 64 KiB, which brought 1 KiB"
    );
    assert_eq!(server.buffered_input(), 0);
}

#[test]
fn an_idle_open_server_releases_its_input_and_event_queue() {
    let mut server = open_server();
    // The request and the open went through the event queue; the input is empty,
    // and it reports no capacity even where it still holds its allocation.
    server.release_buffers();
    assert_eq!(server.events.capacity(), 0);
    assert_eq!(server.recv.capacity(), 0);
    // A message handed out whole leaves the buffer empty: it goes too.
    server.read_input(|buf| buf.extend_from_slice(&masked(OpCode::Text, true, b"hi")));
    assert!(matches!(server.poll_event(), Some(Event::Message(_))));
    server.release_buffers();
    assert_eq!(server.recv.capacity(), 0);
}

#[test]
fn a_large_frame_s_tail_is_read_alone_so_the_next_frame_starts_a_fresh_read() {
    let mut server = open_server();
    let payload = vec![6u8; 64 * 1024];
    let frame = masked(OpCode::Binary, true, &payload);
    assert_eq!(frame.len(), 64 * 1024 + 14);
    let wire = frame.repeat(3);
    let sizes = read_in(&mut server, &wire, 64 * 1024);
    // Each read of the usual size ends 14 bytes short of its frame (the header took
    // them); the next asks for just those, not a whole next frame.
    assert_eq!(sizes, [65536, 14].repeat(3));
}

#[test]
fn small_frames_are_read_in_chunks_of_the_minimum() {
    let mut server = open_server();
    let wire: Vec<u8> = (0..1000)
        .flat_map(|_| masked(OpCode::Text, true, b"hello"))
        .collect();
    let sizes = read_in(&mut server, &wire, 4096);
    assert!(
        sizes[..sizes.len() - 1].iter().all(|&n| n == 4096),
        "{sizes:?}"
    );
}

#[test]
fn read_input_parses_like_handle_input_and_drops_input_after_close() {
    let mut by_copy = open_server();
    let mut in_place = open_server();
    let wire = [
        masked(OpCode::Text, false, "caf".as_bytes()),
        masked(OpCode::Continuation, true, "é".as_bytes()),
        masked(OpCode::Ping, true, b"p"),
        masked(OpCode::Close, true, &[0x03, 0xE8]),
    ]
    .concat();
    for chunk in wire.chunks(3) {
        by_copy.handle_input(chunk);
        in_place.read_input(|buf| buf.extend_from_slice(chunk));
    }
    assert_eq!(events(&mut by_copy), events(&mut in_place));
    assert_eq!(by_copy.poll_transmit_vec(), in_place.poll_transmit_vec());
    assert!(in_place.is_closed());
    in_place.read_input(|buf| buf.extend_from_slice(b"after the close"));
    assert_eq!(in_place.buffered_input(), 0);
}

#[test]
fn a_server_queues_large_payloads_by_reference_and_writes_them_in_order() {
    let mut server = open_server();
    let big = Bytes::from(vec![7u8; 100_000]);
    server.send_text("before").unwrap();
    server.send(Message::Binary(big.clone())).unwrap();
    server.ping(b"between").unwrap();
    server.send(Message::Binary(big.clone())).unwrap();
    let expected = [
        plain(OpCode::Text, b"before"),
        plain(OpCode::Binary, &big),
        plain(OpCode::Ping, b"between"),
        plain(OpCode::Binary, &big),
    ]
    .concat();
    assert_eq!(server.buffered_amount(), expected.len());
    // Header, payload, ping + header, payload: four runs for a vectored write.
    let mut slices = [IoSlice::new(&[]); 8];
    assert_eq!(server.pending_output_vectored(&mut slices), 4);
    // Written a few bytes at a time, it is the same stream.
    let mut written = Vec::new();
    while server.buffered_amount() > 0 {
        let front = server.pending_output();
        let n = front.len().min(777);
        written.extend_from_slice(&front[..n]);
        server.consume_output(n);
    }
    assert!(written == expected);
}

#[test]
fn release_buffers_keeps_what_is_still_pending() {
    let mut server = open_server();
    let frame = masked(OpCode::Binary, true, &[1; 10]);
    server.handle_input(&frame[..5]);
    server.send_text("queued").unwrap();
    server.release_buffers();
    assert_eq!(server.buffered_input(), 5);
    server.handle_input(&frame[5..]);
    assert_eq!(
        events(&mut server),
        [Event::Message(Message::Binary(Bytes::from(vec![1; 10])))]
    );
    assert_eq!(server.poll_transmit_vec(), plain(OpCode::Text, b"queued"));
}

#[test]
fn has_timers_says_when_the_clock_matters() {
    let mut server = Connection::server(Options {
        handshake_timeout: Some(Duration::from_secs(5)),
        ..options()
    });
    assert!(
        server.has_timers(),
        "the handshake timeout runs from the start"
    );
    server.handle_input(REQUEST);
    assert_eq!(server.poll_event(), Some(Event::Request));
    server.start().unwrap();
    assert_eq!(server.poll_event(), Some(Event::Open));
    let now = Instant::now();
    assert_eq!(server.poll_timeout(now), None);
    assert!(!server.has_timers(), "open and idle: no timer");
    server.close(CloseCode::NORMAL, "").unwrap();
    assert!(server.has_timers(), "the close timeout waits to be armed");
    assert!(server.poll_timeout(now).is_some());
}

// ----- what websocket-driver (Node) does, and where wsd differs on purpose -----------
// Each test here pins one entry of `crate::differences`, or one behaviour kept from
// websocket-driver (Node) that an earlier version of wsd did not have.

/// `request` with `from` replaced by `to`.
fn edited(request: &[u8], from: &str, to: &str) -> Vec<u8> {
    let text = String::from_utf8(request.to_vec()).unwrap();
    assert!(text.contains(from), "{from:?}");
    text.replace(from, to).into_bytes()
}

/// `server` reads `request` and is started; returns what `start` returned and what
/// the server wrote.
fn start_on(server: &mut Connection, request: &[u8]) -> (Result<(), Error>, String) {
    server.handle_input(request);
    assert_eq!(server.poll_event(), Some(Event::Request));
    let started = server.start();
    let written = String::from_utf8_lossy(&server.poll_transmit_vec()).into_owned();
    (started, written)
}

/// The client's handshake bytes and the server's 101 for them, with `extra` header
/// lines put into the 101; the client has read nothing yet.
fn client_and_101(extra: &str) -> (Connection, Vec<u8>) {
    let mut client = Connection::client("ws://example.com/chat", options()).unwrap();
    client.start().unwrap();
    let mut server = Connection::server(options());
    server.handle_input(&client.poll_transmit_vec());
    assert_eq!(server.poll_event(), Some(Event::Request));
    server.start().unwrap();
    let response = String::from_utf8(server.poll_transmit_vec()).unwrap();
    let response = response.replacen("\r\n\r\n", &format!("\r\n{extra}\r\n\r\n"), 1);
    (client, response.into_bytes())
}

#[test]
fn a_ping_after_our_close_is_still_answered_until_the_peer_s_close_arrives() {
    let mut server = open_server();
    server.close(CloseCode::NORMAL, "").unwrap();
    assert_eq!(server.poll_transmit_vec(), [0x88, 0x02, 0x03, 0xE8]);
    server.handle_input(&masked(OpCode::Ping, true, b"still there?"));
    assert_eq!(
        events(&mut server),
        [Event::Ping(Bytes::from_static(b"still there?"))]
    );
    assert_eq!(
        server.poll_transmit_vec(),
        plain(OpCode::Pong, b"still there?")
    );
    // Our own commands stay refused, and the peer's close ends it without a reply.
    assert_eq!(server.pong(b"x"), Err(Error::Usage(Usage::Closed)));
    server.handle_input(&masked(OpCode::Close, true, &[0x03, 0xE8]));
    server.handle_input(&masked(OpCode::Ping, true, b"too late"));
    assert!(matches!(
        events(&mut server)[..],
        [Event::Close {
            code: CloseCode::NORMAL,
            ..
        }]
    ));
    assert!(server.poll_transmit_vec().is_empty());
}

#[test]
fn messages_that_arrive_after_our_close_are_still_delivered() {
    // websocket-driver (Node) drops them (its extension pipeline is closed); the peer
    // sent them before it saw our close frame, so wsd delivers them.
    let mut server = open_server();
    server.close(CloseCode::GOING_AWAY, "").unwrap();
    server.handle_input(&masked(OpCode::Text, true, b"in flight"));
    server.handle_input(&masked(OpCode::Close, true, &[0x03, 0xE9]));
    assert_eq!(
        events(&mut server),
        [
            Event::Message(Message::text("in flight")),
            Event::Close {
                code: CloseCode::GOING_AWAY,
                reason: String::new()
            }
        ]
    );
}

/// Pumps the pair; returns what each pong the client received answers.
fn pong_answers(pair: &mut Pair) -> Vec<Option<PingId>> {
    let (client_events, _) = pair.pump();
    client_events
        .iter()
        .map(|event| match event {
            Event::Pong { answers, .. } => *answers,
            other => panic!("{other:?}"),
        })
        .collect()
}

#[test]
fn two_pings_with_one_payload_are_answered_oldest_first() {
    // websocket-driver (Node) keeps only the latest callback per payload.
    let mut pair = Pair::open();
    let first = pair.client.ping(b"same").unwrap();
    let second = pair.client.ping(b"same").unwrap();
    let answers = pong_answers(&mut pair);
    assert_eq!(answers, [Some(first), Some(second)]);
}

#[test]
fn only_the_32_most_recent_unanswered_pings_are_remembered() {
    let mut pair = Pair::open();
    let ids: Vec<PingId> = (0..33u8).map(|i| pair.client.ping(&[i]).unwrap()).collect();
    let answers = pong_answers(&mut pair);
    assert_eq!(answers[0], None, "the oldest was forgotten");
    assert_eq!(
        answers[1..],
        ids[1..].iter().copied().map(Some).collect::<Vec<_>>()
    );
}

#[test]
fn a_max_length_of_0_allows_only_empty_messages() {
    // websocket-driver (Node) reads 0 as its default, 64 MiB - 1.
    let mut server_options = options();
    server_options.max_length = 0;
    let mut pair = Pair::new(options(), server_options);
    pair.client.send_binary(&[]).unwrap();
    pair.client.send_binary(&[1]).unwrap();
    let (_, server_events) = pair.pump();
    assert_eq!(server_events[0], Event::Message(Message::binary(vec![])));
    assert!(matches!(
        server_events[2],
        Event::Close {
            code: CloseCode::MESSAGE_TOO_BIG,
            ..
        }
    ));
}

#[test]
fn a_protocol_error_while_closing_still_ends_the_connection() {
    // websocket-driver (Node) ignores errors while closing and waits for a close frame.
    let mut server = open_server();
    server.close(CloseCode::NORMAL, "").unwrap();
    server.poll_transmit_vec();
    server.handle_input(&[0x83, 0x80, 1, 2, 3, 4]);
    let evs = events(&mut server);
    assert_eq!(
        evs[0],
        Event::Error(Error::Protocol(ProtocolError::ReservedOpcode(3)))
    );
    assert!(matches!(
        evs[1],
        Event::Close {
            code: CloseCode::PROTOCOL_ERROR,
            ..
        }
    ));
    assert!(server.is_closed());
    assert!(
        server.poll_transmit_vec().is_empty(),
        "one close frame only"
    );
}

#[test]
fn close_codes_registered_after_rfc_6455_are_accepted_and_echoed() {
    // websocket-driver (Node) rewrites 1012 to 1002.
    for code in [1012u16, 1013, 1014] {
        let mut server = open_server();
        server.handle_input(&masked(OpCode::Close, true, &code.to_be_bytes()));
        assert_eq!(
            events(&mut server),
            [Event::Close {
                code: CloseCode(code),
                reason: String::new()
            }]
        );
        let [hi, lo] = code.to_be_bytes();
        assert_eq!(server.poll_transmit_vec(), [0x88, 0x02, hi, lo]);
    }
}

/// Feeds `wire` to an open server and checks that it fails with `error` and closes
/// with `code`; returns what the server wrote.
fn fails_with(wire: &[u8], error: ProtocolError, code: CloseCode) -> Vec<u8> {
    let mut server = open_server();
    server.handle_input(wire);
    let evs = events(&mut server);
    let [Event::Error(reported), Event::Close { code: closed, .. }] = &evs[..] else {
        panic!("{evs:?}")
    };
    assert_eq!((reported, *closed), (&Error::Protocol(error), code));
    assert!(!reported.to_string().is_empty());
    server.poll_transmit_vec()
}

#[test]
fn an_invalid_close_code_is_an_error_and_a_non_utf8_reason_closes_with_1007() {
    // websocket-driver (Node) closes with 1002 and no error event in both cases.
    for code in [999u16, 1004, 1005, 1006, 1015, 2999, 5000] {
        fails_with(
            &masked(OpCode::Close, true, &code.to_be_bytes()),
            ProtocolError::InvalidCloseCode(code),
            CloseCode::PROTOCOL_ERROR,
        );
    }
    fails_with(
        &masked(OpCode::Close, true, &[0x03, 0xE8, 0xC3]),
        ProtocolError::InvalidCloseReason,
        CloseCode::INVALID_PAYLOAD,
    );
}

#[test]
fn a_64_bit_length_with_the_top_bit_set_closes_with_1002() {
    // websocket-driver (Node) reports it as too long, 1009.
    fails_with(
        &[0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4],
        ProtocolError::LengthTopBitSet,
        CloseCode::PROTOCOL_ERROR,
    );
}

#[test]
fn a_reserved_opcode_with_rsv1_reports_the_opcode() {
    // websocket-driver (Node) checks the RSV bits first and names them.
    let out = fails_with(
        &[0xC3, 0x80, 1, 2, 3, 4],
        ProtocolError::ReservedOpcode(3),
        CloseCode::PROTOCOL_ERROR,
    );
    assert_eq!(&out[4..], b"Unrecognized frame opcode: 3");
}

#[test]
fn failure_texts_are_websocket_driver_s_in_the_event_and_the_close_frame() {
    let mut server = open_server();
    server.handle_input(&plain(OpCode::Text, b"unmasked"));
    let reason = "Received unmasked frame but masking is required";
    let evs = events(&mut server);
    assert_eq!(evs[0].to_owned_string(), reason);
    assert_eq!(
        evs[1],
        Event::Close {
            code: CloseCode::PROTOCOL_ERROR,
            reason: reason.into()
        }
    );
    let out = server.poll_transmit_vec();
    assert_eq!(&out[4..], reason.as_bytes());
}

#[test]
fn a_refused_response_carries_the_handshake_prefix_once() {
    let mut client = Connection::client("ws://example.com/", options()).unwrap();
    client.start().unwrap();
    client.poll_transmit_vec();
    client.handle_input(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    let evs = events(&mut client);
    let text = "Error during WebSocket handshake: Unexpected response code: 404";
    let Event::Error(error) = &evs[0] else {
        panic!("{evs:?}")
    };
    assert_eq!(error.to_string(), text);
    // The text is the whole story: no source repeats part of it.
    assert!(std::error::Error::source(error).is_none());
    assert_eq!(
        evs[1],
        Event::Close {
            code: CloseCode::PROTOCOL_ERROR,
            reason: text.into()
        }
    );
}

#[test]
fn a_client_s_failed_extension_negotiation_reads_as_websocket_driver_s() {
    let (mut client, response) = client_and_101("Sec-WebSocket-Extensions: x-unknown");
    client.handle_input(&response);
    let evs = events(&mut client);
    assert_eq!(
        evs[0].to_owned_string(),
        "Error during WebSocket handshake: \
         Server sent an extension response for unknown extension \"x-unknown\""
    );
}

#[test]
fn a_malformed_response_head_gets_the_handshake_prefix() {
    let mut client = Connection::client("ws://example.com/", options()).unwrap();
    client.start().unwrap();
    client.handle_input(b"HTTP/1.1 4 Nope\r\n\r\n");
    let evs = events(&mut client);
    assert!(
        evs[0]
            .to_owned_string()
            .starts_with("Error during WebSocket handshake: "),
        "{evs:?}"
    );
}

#[test]
fn a_refused_request_reads_as_the_400_the_server_sent() {
    let request = edited(
        REQUEST,
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n",
        "",
    );
    let (started, response) = start_on(&mut Connection::server(options()), &request);
    let text = "Missing handshake request header: Sec-WebSocket-Key";
    assert_eq!(started.unwrap_err().to_string(), text);
    assert!(response.ends_with(&format!("\r\n\r\n{text}")), "{response}");
}

#[test]
fn a_client_is_idle_until_started() {
    // websocket-driver (Node): readyState -1, getState() null.
    let mut client = Connection::client("ws://example.com/", options()).unwrap();
    assert_eq!(client.state(), ReadyState::Idle);
    assert!(client.poll_transmit_vec().is_empty());
    client.start().unwrap();
    assert_eq!(client.state(), ReadyState::Connecting);
    assert!(!client.poll_transmit_vec().is_empty());
    // A server is connecting from the start.
    assert_eq!(
        Connection::server(options()).state(),
        ReadyState::Connecting
    );
}

#[test]
fn a_server_knows_the_url_the_request_asked_for() {
    let mut server = Connection::server(options());
    assert_eq!(server.url(), None);
    server.handle_input(REQUEST);
    assert_eq!(server.poll_event(), Some(Event::Request));
    assert_eq!(server.url().unwrap().as_str(), "ws://example.com/chat");
    server.set_secure_transport(true);
    assert_eq!(server.url().unwrap().as_str(), "wss://example.com/chat");

    // A TLS-ending proxy says so in one of the headers websocket-driver (Node) reads,
    // with the exact value.
    for (header, secure) in [
        ("X-Forwarded-Proto: https", true),
        ("X-Forwarded-Ssl: on", true),
        ("X-Forwarded-Scheme: https", true),
        ("Https: on", true),
        ("X-Forwarded-Proto: http", false),
        ("X-Forwarded-Ssl: ON", false),
    ] {
        let request = edited(REQUEST, "\r\n\r\n", &format!("\r\n{header}\r\n\r\n"));
        let (request, _) = match Request::parse(&request, &Default::default()).unwrap() {
            Status::Complete(done) => done,
            Status::Partial => unreachable!(),
        };
        let server = Connection::accept(request, options());
        let scheme = if secure { "wss" } else { "ws" };
        assert_eq!(
            server.url().unwrap().as_str(),
            format!("{scheme}://example.com/chat"),
            "{header}"
        );
    }
}

#[cfg(feature = "drafts")]
#[test]
fn a_draft_location_says_wss_on_a_secure_transport() {
    let mut server = draft_server();
    server.set_secure_transport(true);
    let (started, head) = start_on(&mut server, HIXIE75_REQUEST);
    started.unwrap();
    assert!(
        head.contains("WebSocket-Location: wss://example.com/demo\r\n"),
        "{head}"
    );
}

#[test]
fn protocol_and_version_are_known_once_started() {
    // websocket-driver's (Node) `http()` driver knows both from its constructor.
    let mut server_options = options();
    server_options.protocols = vec!["chat".into()];
    let request = edited(
        REQUEST,
        "\r\n\r\n",
        "\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
    );
    let mut server = Connection::server(server_options);
    server.handle_input(&request);
    assert_eq!(server.poll_event(), Some(Event::Request));
    assert_eq!(
        (server.protocol(), server.version()),
        (None, Version::Rfc6455)
    );
    server.start().unwrap();
    assert_eq!(server.protocol(), Some("chat"));
}

#[cfg(feature = "drafts")]
#[test]
fn a_draft_s_version_is_known_once_started() {
    let mut draft = draft_server();
    draft.handle_input(HIXIE75_REQUEST);
    assert_eq!(draft.poll_event(), Some(Event::Request));
    assert_eq!(draft.version(), Version::Rfc6455, "not known before start");
    draft.start().unwrap();
    assert_eq!(draft.version(), Version::Hixie75);
}

#[test]
fn upgrade_and_connection_are_read_as_token_lists() {
    // websocket-driver's (Node) isWebSocket wants `Upgrade` to be exactly `websocket`
    // and splits `Connection` on spaces and commas only.
    let request = edited(REQUEST, "Upgrade: websocket", "Upgrade: websocket, h2c");
    let request = edited(
        &request,
        "Connection: Upgrade",
        "Connection: keep-alive,\tUpgrade",
    );
    let mut server = Connection::server(options());
    let (started, _) = start_on(&mut server, &request);
    started.unwrap();
    assert!(server::is_websocket_request(server.request().unwrap()));
    assert_eq!(server.poll_event(), Some(Event::Open));
}

#[test]
fn a_101_with_content_length_has_no_body() {
    // websocket-driver's (Node) HTTP parser eats Content-Length bytes after the 101.
    let (mut client, mut response) = client_and_101("Content-Length: 3");
    response.extend(plain(OpCode::Text, b"abc"));
    client.handle_input(&response);
    assert_eq!(
        events(&mut client),
        [Event::Open, Event::Message(Message::text("abc"))]
    );
}

#[test]
fn every_4xx_says_connection_close() {
    let (started, response) = start_on(
        &mut Connection::server(options()),
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert!(started.is_err());
    assert!(response.starts_with("HTTP/1.1 400 "), "{response}");
    assert!(response.contains("\r\nConnection: close\r\n"), "{response}");
}

#[cfg(feature = "drafts")]
#[test]
fn hixie_76_without_key2_gets_websocket_driver_s_400() {
    let request = edited(
        HIXIE76_REQUEST,
        "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n",
        "",
    );
    let (started, response) = start_on(&mut draft_server(), &request);
    assert_eq!(
        started.unwrap_err().to_string(),
        "Missing required header: Sec-WebSocket-Key2"
    );
    assert!(response.starts_with("HTTP/1.1 400 Bad Request\r\n"));
    assert!(response.ends_with("\r\n\r\nMissing required header: Sec-WebSocket-Key2"));
}

#[cfg(feature = "drafts")]
#[test]
fn a_latin_1_origin_comes_back_utf_8_encoded_in_a_hixie_76_head() {
    // websocket-driver (Node) writes the head as Latin-1, echoing the byte as it came.
    let mut request = HIXIE76_REQUEST.to_vec();
    let at = request
        .windows(b"example.com\r\n\r\n".len())
        .position(|w| w == b"example.com\r\n\r\n")
        .unwrap();
    request.splice(at..at, *b"caf\xE9.");
    let mut server = draft_server();
    server.handle_input(&request);
    assert_eq!(server.poll_event(), Some(Event::Request));
    server.start().unwrap();
    // Not through `start_on`: its text view would hide the bytes.
    let head = server.poll_transmit_vec();
    let line = b"Sec-WebSocket-Origin: http://caf\xC3\xA9.example.com\r\n";
    assert!(head.windows(line.len()).any(|w| w == line));
}

#[test]
fn a_frame_that_trickles_in_keeps_a_buffer_of_its_size_not_a_whole_read() {
    let mut server = open_server();
    let frame = masked(OpCode::Text, true, b"hello");
    // A 64 KiB read brought the first three bytes of a frame.
    server.read_input(|buf| {
        buf.reserve(64 * 1024);
        buf.extend_from_slice(&frame[..3]);
    });
    assert_eq!(server.poll_event(), None);
    server.release_buffers();
    server.read_input(|buf| assert!(buf.capacity() <= 4096 + 6, "{}", buf.capacity()));
    // The rest arrives and the message is whole.
    server.handle_input(&frame[3..]);
    assert_eq!(
        server.poll_event(),
        Some(Event::Message(Message::text("hello")))
    );
    // A read size for the rest of a frame is never more than the usual size, and
    // while the head arrives it is small.
    let fresh = Connection::server(options());
    assert_eq!(fresh.read_size(64 * 1024), 256);
}

#[cfg(feature = "drafts")]
#[test]
fn commands_queued_before_a_draft_opens_keep_the_text_and_drop_what_the_draft_cannot_carry() {
    let mut server = draft_server();
    // Before the request is read the server cannot know it will be a draft.
    server.ping(b"early").unwrap();
    server.send_binary(&[1, 2]).unwrap();
    server.pong(b"p").unwrap();
    server.send_text("first").unwrap();
    server.send_text("second").unwrap();
    server.handle_input(HIXIE76_REQUEST);
    assert_eq!(server.poll_event(), Some(Event::Request));
    server.start().unwrap();
    let _head = server.poll_transmit_vec();
    server.handle_input(b"^n:ds[4U");
    assert_eq!(server.poll_event(), Some(Event::Open));
    // The challenge answer, then only the text messages, in order, as draft frames:
    // no RFC 6455 ping or pong bytes in the draft stream, nothing lost after the
    // binary message.
    assert_eq!(
        server.poll_transmit_vec(),
        b"8jKS'y:G*Co,Wxa-\x00first\xFF\x00second\xFF"
    );
}
