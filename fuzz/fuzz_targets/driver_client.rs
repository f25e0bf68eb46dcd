//! A client `Connection` fed arbitrary bytes in arbitrary splits, with arbitrary API
//! calls in between; see `wsd_fuzz::driver` for the layout and the invariants.
//!
//! The client starts at once (`Harness::start_client`). With `FLAG_VALID_101`, the server's side of the
//! handshake comes first: a 101 with the accept value for the key the client sent
//! (read back from its request), the subprotocol if offered, and one of a few
//! `Sec-WebSocket-Extensions` answers, so that the scripted bytes reach the frame
//! parser.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsd_core::Connection;
use wsd_fuzz::Reader;
use wsd_fuzz::driver::{Config, Harness};

fuzz_target!(|input: &[u8]| {
    let mut r = Reader::new(input);
    let config = Config::read(&mut r);
    let Ok(conn) = Connection::client("ws://example.com/chat", config.options()) else {
        return;
    };
    let mut harness = Harness::new(conn, config);
    harness.start_client();
    harness.run(&mut r);
});
