//! Differential: a client and a server `Connection` talking in memory. Every message
//! either side sends, before or after the handshake, arrives at the other side
//! intact and in order, however the bytes between them are split, whether they are
//! fed with `handle_input` or appended through `read_input`, and however the output
//! is taken (`poll_transmit`, or run by run in pieces of any size, as a partial
//! `writev` would); pings arrive as pings and come back as pongs; a closing
//! handshake ends both sides with the code and reason it started with.
#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsd_core::{Bytes, CloseCode, Connection, Event, Message, Options};
use wsd_deflate::DeflateConfig;
use wsd_fuzz::Rng;

#[derive(Arbitrary, Debug)]
struct Case {
    /// permessage-deflate on both sides, with these choices.
    deflate: Option<(bool, bool, u8)>,
    split_seed: u64,
    mask_seed: u64,
    steps: Vec<Step>,
    /// Close at the end: from the client (or the server), code, reason.
    close: Option<(bool, u16, String)>,
}

#[derive(Arbitrary, Debug)]
enum Step {
    ClientSends(Payload),
    ServerSends(Payload),
    ClientPings(Vec<u8>),
    ServerPings(Vec<u8>),
    /// Moves up to this many bytes each way.
    Pump(u16),
}

#[derive(Arbitrary, Debug)]
enum Payload {
    Text(String),
    Binary(Vec<u8>),
    /// `len` copies of a byte: large payloads, which a server queues by reference.
    Large(u8, u16),
}

impl Payload {
    fn message(&self) -> Message {
        match self {
            Self::Text(text) => Message::text(text.as_str()),
            Self::Binary(data) => Message::binary(data.clone()),
            Self::Large(byte, len) => Message::binary(vec![*byte; usize::from(*len)]),
        }
    }
}

/// One side and what it has received.
struct Side {
    conn: Connection,
    messages: Vec<Message>,
    pings: Vec<Bytes>,
    pongs: Vec<Bytes>,
    close: Option<(CloseCode, String)>,
}

impl Side {
    fn new(conn: Connection) -> Self {
        Self {
            conn,
            messages: Vec::new(),
            pings: Vec::new(),
            pongs: Vec::new(),
            close: None,
        }
    }

    fn drain(&mut self) {
        while let Some(event) = self.conn.poll_event() {
            assert!(self.close.is_none(), "an event after Close: {event:?}");
            match event {
                Event::Request => self.conn.start().expect("the server accepts the client"),
                Event::Open => {}
                Event::Message(message) => self.messages.push(message),
                Event::Ping(payload) => self.pings.push(payload),
                Event::Pong { payload, .. } => self.pongs.push(payload),
                Event::Close { code, reason } => self.close = Some((code, reason)),
                other => panic!("unexpected event {other:?}"),
            }
        }
    }
}

/// Moves up to `budget` bytes from `from`'s output, through `wire` (the bytes in
/// flight, in order), to `to`, in random chunks; events are drained after each chunk.
fn pump(from: &mut Side, wire: &mut Vec<u8>, to: &mut Side, rng: &mut Rng, budget: usize) {
    from.drain();
    take_output(&mut from.conn, wire, rng);
    let rest: Vec<u8> = wire.split_off(budget.min(wire.len()));
    let sent = std::mem::replace(wire, rest);
    let mut sent = &sent[..];
    while !sent.is_empty() {
        let (chunk, tail) = sent.split_at(rng.chunk_len().min(sent.len()));
        if rng.below(2) == 0 {
            to.conn.handle_input(chunk);
        } else {
            to.conn.read_input(|buf| buf.extend_from_slice(chunk));
        }
        to.drain();
        if rng.below(4) == 0 {
            to.conn.release_buffers();
        }
        sent = tail;
    }
}

/// Appends all of `conn`'s output to `wire`: at once, or as writes of random sizes
/// from the front run or from the vectored runs, checking that the runs add up.
fn take_output(conn: &mut Connection, wire: &mut Vec<u8>, rng: &mut Rng) {
    match rng.below(3) {
        0 => {
            conn.poll_transmit(wire);
        }
        1 => {
            while conn.buffered_amount() > 0 {
                let front = conn.pending_output();
                assert!(!front.is_empty(), "output pending but no front run");
                let n = rng.chunk_len().min(front.len());
                wire.extend_from_slice(&front[..n]);
                conn.consume_output(n);
            }
        }
        _ => {
            while conn.buffered_amount() > 0 {
                let mut slices = [std::io::IoSlice::new(&[]); 4];
                let count = conn.pending_output_vectored(&mut slices);
                let total: usize = slices[..count].iter().map(|s| s.len()).sum();
                assert!(total > 0 && total <= conn.buffered_amount());
                // A partial writev: whole runs, then part of the next.
                let mut n = rng.below(total) + 1;
                let written = n;
                for slice in &slices[..count] {
                    let k = n.min(slice.len());
                    wire.extend_from_slice(&slice[..k]);
                    n -= k;
                }
                conn.consume_output(written);
            }
        }
    }
}

fuzz_target!(|case: Case| {
    let mut options = Options::default();
    options.mask_seed = Some(case.mask_seed);
    if let Some((no_context, window, bits)) = case.deflate {
        let config = DeflateConfig::new().no_context_takeover(no_context);
        let config = if window {
            config.max_window_bits(8 + bits % 8)
        } else {
            config
        };
        options.extensions = vec![Arc::new(config.build().unwrap())];
    }
    let mut client = Side::new(Connection::client("ws://example.com/", options.clone()).unwrap());
    let mut server = Side::new(Connection::server(options));
    client.conn.start().unwrap();
    let mut rng = Rng::new(case.split_seed);

    let (mut c2s, mut s2c) = (Vec::new(), Vec::new());
    let (mut to_server, mut to_client) = (Vec::new(), Vec::new());
    let (mut pings_to_server, mut pings_to_client) = (Vec::new(), Vec::new());
    for step in &case.steps {
        match step {
            Step::ClientSends(payload) => {
                client.conn.send(payload.message()).unwrap();
                to_server.push(payload.message());
            }
            Step::ServerSends(payload) => {
                server.conn.send(payload.message()).unwrap();
                to_client.push(payload.message());
            }
            Step::ClientPings(payload) => {
                let payload = &payload[..payload.len().min(125)];
                client.conn.ping(payload).unwrap();
                pings_to_server.push(Bytes::copy_from_slice(payload));
            }
            Step::ServerPings(payload) => {
                let payload = &payload[..payload.len().min(125)];
                server.conn.ping(payload).unwrap();
                pings_to_client.push(Bytes::copy_from_slice(payload));
            }
            Step::Pump(budget) => {
                pump(
                    &mut client,
                    &mut c2s,
                    &mut server,
                    &mut rng,
                    usize::from(*budget),
                );
                pump(
                    &mut server,
                    &mut s2c,
                    &mut client,
                    &mut rng,
                    usize::from(*budget),
                );
            }
        }
    }
    // Deliver everything, both ways, until nothing moves.
    for _ in 0..4 {
        pump(&mut client, &mut c2s, &mut server, &mut rng, usize::MAX);
        pump(&mut server, &mut s2c, &mut client, &mut rng, usize::MAX);
    }
    assert_eq!(server.messages, to_server, "client -> server");
    assert_eq!(client.messages, to_client, "server -> client");
    assert_eq!(server.pings, pings_to_server);
    assert_eq!(
        client.pongs, pings_to_server,
        "pongs answer the client's pings"
    );
    assert_eq!(client.pings, pings_to_client);
    assert_eq!(
        server.pongs, pings_to_client,
        "pongs answer the server's pings"
    );

    if let Some((from_client, code, reason)) = &case.close {
        // A code that may be sent, and a reason that fits.
        let code = CloseCode([1000, 1001, 1003, 1008, 1011, 3000, 4999][usize::from(*code % 7)]);
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let reason = &reason[..end];
        let (closer, peer) = if *from_client {
            (&mut client, &mut server)
        } else {
            (&mut server, &mut client)
        };
        closer.conn.close(code, reason).unwrap();
        // Both wires are empty by now, so either can carry either direction.
        for _ in 0..2 {
            pump(closer, &mut c2s, peer, &mut rng, usize::MAX);
            pump(peer, &mut s2c, closer, &mut rng, usize::MAX);
        }
        assert_eq!(
            peer.close,
            Some((code, reason.to_owned())),
            "the peer sees our close"
        );
        // The peer echoes the code and the reason, as websocket-driver (Node) does.
        assert_eq!(
            closer.close,
            Some((code, reason.to_owned())),
            "our close is answered"
        );
    }
});
