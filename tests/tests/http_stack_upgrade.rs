//! Connections opened by another HTTP stack (`Connection::upgrade`,
//! `Connection::client_handshake` + `Connection::client_opened`) negotiate
//! permessage-deflate as the connections that read their own heads do, and
//! interoperate with them, in memory.

use std::sync::Arc;

use wsd_core::{Connection, Event, Limits, Message, Options, Request, Response};
use wsd_deflate::{DeflateConfig, PerMessageDeflate};
use wsd_handshake::Status;

fn deflate_options(deflate: PerMessageDeflate) -> Options {
    let mut options = Options::default();
    options.mask_seed = Some(3);
    options.extensions.push(Arc::new(deflate));
    options
}

fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

fn parse_request(head: &[u8]) -> Request {
    match Request::parse(head, &Limits::default()) {
        Ok(Status::Complete((request, _))) => request,
        other => panic!("not a request head: {other:?}"),
    }
}

fn parse_response(head: &[u8]) -> Response {
    match Response::parse(head, &Limits::default()) {
        Ok(Status::Complete((response, _))) => response,
        other => panic!("not a response head: {other:?}"),
    }
}

/// Asserts that each connection runs permessage-deflate, and nothing else.
fn assert_deflate(connections: &[&Connection]) {
    for connection in connections {
        let names: Vec<&str> = connection.extensions().collect();
        assert_eq!(names, ["permessage-deflate"]);
    }
}

/// Sends `text` from `from` to `to`; returns the wire bytes and what `to` received.
fn deliver(from: &mut Connection, to: &mut Connection, text: &str) -> (Vec<u8>, Vec<Event>) {
    from.send_text(text).unwrap();
    let wire = from.poll_transmit_vec();
    to.handle_input(&wire);
    (wire, events(to))
}

#[test]
fn stack_opened_client_and_server_compress_with_the_negotiated_parameters() {
    let client_deflate =
        PerMessageDeflate::new().with_alternative(DeflateConfig::new().no_context_takeover(true));
    let client_options = deflate_options(client_deflate.unwrap());
    let server_options = deflate_options(PerMessageDeflate::new());

    let handshake = Connection::client_handshake("ws://example.com/", &client_options).unwrap();
    let mut head = Vec::new();
    handshake.write_request(&mut head);
    let (response, mut server) = Connection::upgrade(parse_request(&head), server_options).unwrap();
    let answer = response.headers.get("Sec-WebSocket-Extensions").unwrap();
    assert!(answer.starts_with("permessage-deflate"), "{answer}");
    let mut client = Connection::client_opened(&handshake, response, client_options).unwrap();
    assert_eq!(events(&mut client), [Event::Open]);
    assert_eq!(events(&mut server), [Event::Open]);
    assert_deflate(&[&client, &server]);

    let text = "compressible ".repeat(500);
    let (wire, received) = deliver(&mut client, &mut server, &text);
    // RSV1 marks a compressed message, and it is much smaller than the text.
    assert_eq!(wire[0], 0x80 | 0x40 | 0x01);
    assert!(wire.len() < text.len() / 10, "{} bytes", wire.len());
    assert_eq!(received, [Event::Message(Message::text(text.as_str()))]);
    let (wire, received) = deliver(&mut server, &mut client, &text);
    assert_eq!(wire[0] & 0x40, 0x40);
    assert_eq!(received, [Event::Message(Message::text(text.as_str()))]);
}

#[test]
fn a_stack_opened_server_talks_to_a_client_that_reads_its_own_head() {
    let mut client = Connection::client(
        "ws://example.com/",
        deflate_options(PerMessageDeflate::new()),
    )
    .unwrap();
    client.start().unwrap();
    let request = parse_request(&client.poll_transmit_vec());
    let server_options = deflate_options(PerMessageDeflate::new());
    let (response, mut server) = Connection::upgrade(request, server_options).unwrap();
    assert_eq!(events(&mut server), [Event::Open]);

    // The stack writes the head; the client reads it as any server's.
    let mut head = format!("HTTP/1.1 {} {}\r\n", response.status, response.reason);
    for (name, value) in response.headers.iter() {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    client.handle_input(head.as_bytes());
    assert_eq!(events(&mut client), [Event::Open]);
    assert_deflate(&[&client]);

    let (_, received) = deliver(&mut client, &mut server, "over the stack's stream");
    assert_eq!(
        received,
        [Event::Message(Message::text("over the stack's stream"))]
    );
}

#[test]
fn the_101_with_deflate_is_the_one_a_server_answering_by_itself_writes() {
    let request: &[u8] = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
        Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";
    let options = || deflate_options(PerMessageDeflate::new());
    let mut by_itself = Connection::accept(parse_request(request), options());
    by_itself.start().unwrap();
    let written = parse_response(&by_itself.poll_transmit_vec());
    let (handed_over, _) = Connection::upgrade(parse_request(request), options()).unwrap();
    assert_eq!(handed_over, written);
    assert!(handed_over.headers.contains("Sec-WebSocket-Extensions"));
}

#[test]
fn a_stack_opened_client_refuses_an_extension_answer_it_cannot_take() {
    let options = deflate_options(PerMessageDeflate::new());
    let handshake = Connection::client_handshake("ws://example.com/", &options).unwrap();
    let mut head = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n",
        handshake.expected_accept()
    );
    // server_max_window_bits out of range: RFC 7692 section 7.1.2.1.
    head.push_str("Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=7\r\n\r\n");
    let error = Connection::client_opened(&handshake, parse_response(head.as_bytes()), options)
        .unwrap_err();
    assert!(
        matches!(error, wsd_core::Error::Negotiation(_)),
        "{error:?}"
    );
}
