//! A client `Connection` fed arbitrary bytes in arbitrary splits, with arbitrary API
//! calls in between; see `wsd_fuzz::driver` for the layout and the invariants.
//!
//! The client starts at once. With `FLAG_VALID_101`, the server's side of the
//! handshake comes first: a 101 with the accept value for the key the client sent
//! (read back from its request), the subprotocol if offered, and one of a few
//! `Sec-WebSocket-Extensions` answers, so that the scripted bytes reach the frame
//! parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsd_core::Connection;
use wsd_fuzz::Reader;
use wsd_fuzz::driver::{Config, FLAG_PROTOCOL, FLAG_VALID_101, Harness};
use wsd_handshake::{Limits, Request, Status, server};

/// Answers the server may give to the client's offer; some of them are wrong.
const EXTENSION_ANSWERS: [Option<&str>; 6] = [
    None,
    Some("permessage-deflate"),
    Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    Some("permessage-deflate; server_max_window_bits=9; client_max_window_bits=8"),
    Some("permessage-deflate; client_max_window_bits=16"),
    Some("x-unknown"),
];

fuzz_target!(|input: &[u8]| {
    let mut r = Reader::new(input);
    let config = Config::read(&mut r);
    let Ok(conn) = Connection::client("ws://example.com/chat", config.options()) else {
        return;
    };
    let mut harness = Harness::new(conn, config.clone());
    harness.conn.start().expect("a fresh client starts");
    harness.input(&[]);
    if config.has(FLAG_VALID_101) {
        let Ok(Status::Complete((request, _))) =
            Request::parse(&harness.output, &Limits::default())
        else {
            panic!("the client's request does not parse: {:?}", harness.output);
        };
        let key = request
            .headers
            .get("Sec-WebSocket-Key")
            .expect("the client sends a key");
        let mut response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: {}\r\n",
            server::accept_key(&key)
        );
        if config.has(FLAG_PROTOCOL) {
            response.push_str("Sec-WebSocket-Protocol: chat\r\n");
        }
        let answer =
            EXTENSION_ANSWERS[usize::from(config.response_variant) % EXTENSION_ANSWERS.len()];
        if let Some(answer) = answer {
            response.push_str(&format!("Sec-WebSocket-Extensions: {answer}\r\n"));
        }
        response.push_str("\r\n");
        harness.input(response.as_bytes());
    }
    harness.run(&mut r);
});
