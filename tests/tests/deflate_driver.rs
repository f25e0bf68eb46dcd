//! permessage-deflate negotiated and used through the driver, client and server
//! both wsd, in memory.

use std::sync::Arc;

use wsd_core::{CloseCode, Connection, Event, Message, Options};
use wsd_deflate::{DeflateConfig, PerMessageDeflate};

fn options_with(deflate: Option<PerMessageDeflate>) -> Options {
    let mut options = Options::default();
    options.mask_seed = Some(1);
    if let Some(deflate) = deflate {
        options.extensions.push(Arc::new(deflate));
    }
    options
}

fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// Opens a client and a server; returns them with the client's request text.
fn open(client: Options, server: Options) -> (Connection, Connection, String) {
    let mut client = Connection::client("ws://localhost/", client).unwrap();
    let mut server = Connection::server(server);
    client.start().unwrap();
    let request = client.poll_transmit_vec();
    server.handle_input(&request);
    assert_eq!(server.poll_event(), Some(Event::Request));
    server.start().unwrap();
    assert_eq!(server.poll_event(), Some(Event::Open));
    client.handle_input(&server.poll_transmit_vec());
    assert_eq!(client.poll_event(), Some(Event::Open));
    (client, server, String::from_utf8(request).unwrap())
}

#[test]
fn deflate_is_negotiated_and_messages_round_trip_compressed() {
    let (mut client, mut server, request) = open(
        options_with(Some(PerMessageDeflate::new())),
        options_with(Some(PerMessageDeflate::new())),
    );
    assert!(
        request
            .contains("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
    );
    assert_eq!(
        client.extensions().collect::<Vec<_>>(),
        ["permessage-deflate"]
    );
    assert_eq!(
        server.extensions().collect::<Vec<_>>(),
        ["permessage-deflate"]
    );

    let text = "hello hello hello hello hello ".repeat(100);
    for _ in 0..3 {
        client.send_text(&text).unwrap();
    }
    let wire = client.poll_transmit_vec();
    assert_eq!(wire[0], 0xC1, "FIN + RSV1 + text");
    assert!(wire.len() < text.len(), "compressed: {} bytes", wire.len());
    server.handle_input(&wire);
    let received = events(&mut server);
    assert_eq!(received.len(), 3);
    for event in received {
        assert_eq!(event, Event::Message(Message::text(text.as_str())));
    }

    server.send_binary(&[7; 10_000]).unwrap();
    client.handle_input(&server.poll_transmit_vec());
    assert_eq!(
        events(&mut client),
        [Event::Message(Message::binary(vec![7; 10_000]))]
    );
}

#[test]
fn a_server_without_deflate_declines_and_frames_stay_plain() {
    let (mut client, mut server, _) = open(
        options_with(Some(PerMessageDeflate::new())),
        options_with(None),
    );
    assert_eq!(client.extensions().count(), 0);
    client.send_text("plain").unwrap();
    let wire = client.poll_transmit_vec();
    assert_eq!(wire[0], 0x81);
    server.handle_input(&wire);
    assert_eq!(
        events(&mut server),
        [Event::Message(Message::text("plain"))]
    );
}

#[test]
fn an_inflation_bomb_is_stopped_at_max_length_with_1009() {
    let mut server_options = options_with(Some(PerMessageDeflate::new()));
    server_options.max_length = 64 * 1024;
    let (mut client, mut server, _) =
        open(options_with(Some(PerMessageDeflate::new())), server_options);
    // 10 MiB of zeros compresses to a few KiB: under max_length on the wire.
    client.send_binary(&vec![0; 10 << 20]).unwrap();
    let wire = client.poll_transmit_vec();
    assert!(wire.len() < 64 * 1024, "{} bytes on the wire", wire.len());
    server.handle_input(&wire);
    let received = events(&mut server);
    assert!(matches!(received[0], Event::Error(_)), "{received:?}");
    assert!(matches!(
        received[1],
        Event::Close {
            code: CloseCode::MESSAGE_TOO_BIG,
            ..
        }
    ));
}

#[test]
fn compressed_invalid_utf8_text_fails_with_1007() {
    let (mut client, mut server, _) = open(
        options_with(Some(PerMessageDeflate::new())),
        options_with(Some(PerMessageDeflate::new())),
    );
    // A binary message is compressed the same way; relabel its opcode as text.
    client.send_binary(&[0xC0, 0x80, 0xFF]).unwrap();
    let mut wire = client.poll_transmit_vec();
    wire[0] = (wire[0] & 0xF0) | 0x1;
    server.handle_input(&wire);
    let received = events(&mut server);
    assert!(matches!(
        received[1],
        Event::Close {
            code: CloseCode::INVALID_PAYLOAD,
            ..
        }
    ));
}

#[test]
fn no_context_takeover_is_honoured_by_both_sides() {
    let config = || {
        DeflateConfig::new()
            .no_context_takeover(true)
            .request_no_context_takeover(true)
            .build()
            .unwrap()
    };
    let (mut client, mut server, request) =
        open(options_with(Some(config())), options_with(Some(config())));
    assert!(request.contains("client_no_context_takeover"), "{request}");
    for _ in 0..2 {
        client.send_text("Hello").unwrap();
    }
    let wire = client.poll_transmit_vec();
    // Without context takeover both frames compress identically (unmasked sizes equal).
    let first_len = usize::from(wire[1] & 0x7F);
    let second = &wire[2 + 4 + first_len..];
    assert_eq!(usize::from(second[1] & 0x7F), first_len);
    server.handle_input(&wire);
    assert_eq!(events(&mut server).len(), 2);
}
