//! A client and a server `Connection` talking in memory, driven by an arbitrary
//! script: sends, pings, pongs and closes on either end (valid or not), bytes moved
//! between them in arbitrary splits (by `handle_input` or `read_input`, the output
//! taken whole, run by run or as partial `writev`s), garbage injected into either
//! direction, either transport's read side ended, and the clock advanced past the
//! handshake and close timeouts. Then everything is delivered and both ends are
//! closed (by a close frame, a timeout or the end of the transport).
//!
//! Invariants checked on every run:
//! - each side emits exactly one `Close`, nothing after it, and an `Error` only right
//!   before it; every command after `Close` (or after our own `close`) fails;
//! - nothing is written after `Close` beyond what was queued when it came;
//! - what one side receives is, in order and intact, a prefix of what the other sent
//!   (up to the first injected byte), and all of it when the receiver closed on the
//!   sender's close frame;
//! - unparsed input stays within the configured limits (the HTTP head limit, or
//!   `max_length` plus a frame header) and output is linear in what was asked for;
//! - a timer is never due unfired, and never armed on a closed side.
//!
//! Either side may read its messages lent in place (`poll_message_with`) instead of
//! by `poll_event`; the invariants are the same.
//!
//! When nothing went wrong (no injection, no lost transport, nobody closed or timed
//! out before the end), the run must be exact: every message, ping and pong arrives,
//! and a final close from either side ends both with its code and reason.
#![no_main]

use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsd_core::{
    Bytes, CloseCode, Connection, Event, Message, Options, Polled, ReadyState, WholeMessage,
};
use wsd_deflate::DeflateConfig;
use wsd_fuzz::Rng;

#[derive(Arbitrary, Debug)]
struct Case {
    /// permessage-deflate on both sides, with these choices.
    deflate: Option<(bool, bool, u8)>,
    /// A small `max_length` (`n * 16` bytes), so that messages break it.
    max_length: Option<u8>,
    /// The timeouts, in tenths of a second (0: none).
    handshake_timeout: u8,
    close_timeout: u8,
    split_seed: u64,
    mask_seed: u64,
    steps: Vec<Step>,
    /// Close at the end: from the client (or the server), code, reason.
    close: Option<(bool, u16, String)>,
}

#[derive(Arbitrary, Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Client,
    Server,
}

#[derive(Arbitrary, Debug)]
enum Step {
    Send(End, Payload),
    /// Any payload: over 125 bytes the command must fail.
    Ping(End, Vec<u8>),
    /// An unsolicited pong.
    Pong(End, Vec<u8>),
    /// A code (see [`close_code`]) and any reason: invalid ones must be refused.
    Close(End, u16, String),
    /// Moves up to this many bytes each way.
    Pump(u16),
    /// Garbage into the bytes travelling towards this end.
    Inject(End, Vec<u8>),
    /// This end's transport read side ends; what travels towards it is lost.
    Eof(End),
    /// Advances the clock by this many milliseconds, firing due timers.
    Advance(u16),
    /// The adapter's idle hook.
    Release(End),
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

/// One side, what it was asked to send and what it received.
struct Side {
    conn: Connection,
    /// Messages are read with `poll_message_with` (lent in place when they can be)
    /// instead of `poll_event`.
    lend: bool,
    /// Unparsed input may not exceed this after the events are drained.
    input_bound: usize,
    /// Messages and pings whose command succeeded.
    sent: Vec<Message>,
    pinged: Vec<Bytes>,
    /// An unsolicited pong was sent: the peer's pongs no longer pair with its pings.
    ponged: bool,
    /// Bytes asked for (payloads and their frame overhead), for the output bound.
    asked: usize,
    /// Bytes read and written.
    bytes_in: usize,
    bytes_out: usize,
    messages: Vec<Message>,
    pings: Vec<Bytes>,
    pongs: Vec<Bytes>,
    opened: bool,
    /// Our `close` succeeded.
    close_called: bool,
    /// Our `close` succeeded before the connection opened.
    closed_before_open: bool,
    /// The `Close` event, and whether an `Error` came right before it.
    close: Option<(CloseCode, String)>,
    failed: bool,
    /// The output queued when `Close` came has been taken: no more may appear.
    drained_after_close: bool,
    /// Received before the first injected byte arrived: (messages, pings).
    clean: Option<(usize, usize)>,
    /// The transport's read side ended.
    eof: bool,
}

impl Side {
    fn new(conn: Connection, options: &Options, lend: bool) -> Self {
        Self {
            conn,
            lend,
            input_bound: options
                .limits
                .max_head_bytes
                .max(options.max_length.saturating_add(wsd_frame::MAX_HEADER_LEN)),
            sent: Vec::new(),
            pinged: Vec::new(),
            ponged: false,
            asked: 0,
            bytes_in: 0,
            bytes_out: 0,
            messages: Vec::new(),
            pings: Vec::new(),
            pongs: Vec::new(),
            opened: false,
            close_called: false,
            closed_before_open: false,
            close: None,
            failed: false,
            drained_after_close: false,
            clean: None,
            eof: false,
        }
    }

    /// Commands must fail from our own `close` on.
    fn may_command(&self) -> bool {
        !self.close_called && self.close.is_none()
    }

    /// The next event; with `lend`, a message lent in place comes back as the
    /// `Message` event `poll_event` would have given.
    fn next_event(&mut self) -> Option<Event> {
        if !self.lend {
            return self.conn.poll_event();
        }
        let polled = self.conn.poll_message_with(|message, _| match message {
            WholeMessage::Text(text) => Message::text(text),
            WholeMessage::Binary(data) => Message::binary(data.to_vec()),
        })?;
        Some(match polled {
            Polled::Lent(message) => Event::Message(message),
            Polled::Event(event) => event,
        })
    }

    /// Polls every event, checking their order.
    fn drain(&mut self) {
        let mut error_pending = false;
        while let Some(event) = self.next_event() {
            assert!(self.close.is_none(), "an event after Close: {event:?}");
            assert!(
                !error_pending || matches!(event, Event::Close { .. }),
                "Error followed by {event:?}"
            );
            match event {
                Event::Request => drop(self.conn.start()),
                Event::Open => {
                    assert!(!self.opened, "Open twice");
                    self.opened = true;
                }
                Event::Message(message) => {
                    assert!(self.opened, "a message before Open");
                    self.messages.push(message);
                }
                Event::Ping(payload) => self.pings.push(payload),
                Event::Pong { payload, .. } => self.pongs.push(payload),
                Event::Error(_) => error_pending = true,
                Event::Close { code, reason } => {
                    self.failed = error_pending;
                    error_pending = false;
                    self.close = Some((code, reason));
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
        assert!(!error_pending, "Error without the Close after it");
        assert!(
            self.conn.buffered_input() <= self.input_bound,
            "{} bytes of input unparsed, over {}",
            self.conn.buffered_input(),
            self.input_bound
        );
        if self.drained_after_close {
            assert_eq!(self.conn.buffered_amount(), 0, "output after Close");
        }
    }

    /// Runs the timers as an adapter would: arm them, fire the due ones.
    fn tick(&mut self, now: Instant) {
        if let Some(deadline) = self.conn.poll_timeout(now) {
            assert!(self.close.is_none(), "a timer armed on a closed side");
            if deadline <= now {
                self.conn.handle_timeout(now);
                self.drain();
            }
        }
        if let Some(deadline) = self.conn.poll_timeout(now) {
            assert!(deadline > now, "a timer due but not fired");
        }
    }

    /// Checks a command's result (it must fail once commands are not allowed);
    /// returns whether it succeeded.
    fn commanded<T: std::fmt::Debug>(&mut self, result: &Result<T, wsd_core::Error>) -> bool {
        if !self.may_command() {
            assert!(result.is_err(), "a command after close succeeded");
        }
        result.is_ok()
    }
}

/// The bytes travelling one way.
#[derive(Default)]
struct Wire {
    bytes: Vec<u8>,
    /// Bytes delivered so far, and the stream offset of the first injected byte.
    delivered: usize,
    written: usize,
    injected_at: Option<usize>,
}

/// Moves up to `budget` bytes from `from`'s output, through `wire`, to `to`, in
/// random chunks; events are drained after each chunk. Returns how many bytes moved
/// (taken from `from` or handed to `to`).
fn pump(from: &mut Side, wire: &mut Wire, to: &mut Side, rng: &mut Rng, budget: usize) -> usize {
    from.drain();
    let before = wire.bytes.len();
    take_output(&mut from.conn, &mut wire.bytes, rng);
    let taken = wire.bytes.len() - before;
    from.bytes_out += taken;
    wire.written += taken;
    if from.close.is_some() {
        from.drained_after_close = true;
    }
    let bound = 16 * 1024 + 3 * from.bytes_in + from.asked;
    assert!(
        from.bytes_out <= bound,
        "{} bytes written for {} read and {} asked for",
        from.bytes_out,
        from.bytes_in,
        from.asked
    );
    if to.eof {
        // The reader is gone: the bytes are lost.
        let lost = wire.bytes.len();
        wire.delivered += lost;
        wire.bytes.clear();
        return taken + lost;
    }
    let rest = wire.bytes.split_off(budget.min(wire.bytes.len()));
    let sent = std::mem::replace(&mut wire.bytes, rest);
    let moved = taken + sent.len();
    let mut sent = &sent[..];
    while !sent.is_empty() {
        if wire.injected_at == Some(wire.delivered) && to.clean.is_none() {
            to.clean = Some((to.messages.len(), to.pings.len()));
        }
        let mut len = rng.chunk_len().min(sent.len());
        if let Some(at) = wire.injected_at.filter(|&at| at > wire.delivered) {
            // Stop right before the garbage, to count what came before it.
            len = len.min(at - wire.delivered);
        }
        let (chunk, tail) = sent.split_at(len);
        if rng.below(2) == 0 {
            to.conn.handle_input(chunk);
        } else {
            to.conn.read_input(|buf| buf.extend_from_slice(chunk));
        }
        to.bytes_in += chunk.len();
        wire.delivered += chunk.len();
        to.drain();
        if rng.below(4) == 0 {
            to.conn.release_buffers();
        }
        sent = tail;
    }
    moved
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

/// Both ends and the two wires.
struct Pair {
    client: Side,
    server: Side,
    to_server: Wire,
    to_client: Wire,
    rng: Rng,
    now: Instant,
}

impl Pair {
    fn side(&mut self, end: End) -> &mut Side {
        match end {
            End::Client => &mut self.client,
            End::Server => &mut self.server,
        }
    }

    fn pump(&mut self, budget: usize) -> usize {
        let rng = &mut self.rng;
        pump(
            &mut self.client,
            &mut self.to_server,
            &mut self.server,
            rng,
            budget,
        ) + pump(
            &mut self.server,
            &mut self.to_client,
            &mut self.client,
            rng,
            budget,
        )
    }

    /// Delivers everything both ways until nothing moves.
    fn settle(&mut self) {
        for _ in 0..16 {
            if self.pump(usize::MAX) == 0 {
                return;
            }
        }
        panic!("the two sides keep talking");
    }

    fn tick(&mut self) {
        self.client.tick(self.now);
        self.server.tick(self.now);
    }

    fn step(&mut self, step: &Step) {
        match step {
            Step::Send(end, payload) => {
                let side = self.side(*end);
                let message = payload.message();
                let result = side.conn.send(message.clone());
                if side.may_command() {
                    assert!(result.is_ok(), "send failed: {result:?}");
                }
                if side.commanded(&result) {
                    side.asked += message.len() + message.len() / 64 + 64;
                    side.sent.push(message);
                }
                side.drain();
            }
            Step::Ping(end, payload) | Step::Pong(end, payload) => {
                let ping = matches!(step, Step::Ping(..));
                let side = self.side(*end);
                let result = if ping {
                    side.conn.ping(payload).map(drop)
                } else {
                    side.conn.pong(payload)
                };
                if payload.len() > 125 {
                    assert!(
                        result.is_err(),
                        "a control frame of {} bytes",
                        payload.len()
                    );
                }
                if side.commanded(&result) {
                    side.asked += payload.len() + 14;
                    if ping {
                        side.pinged.push(Bytes::copy_from_slice(payload));
                    } else {
                        side.ponged = true;
                    }
                }
                side.drain();
            }
            Step::Close(end, code, reason) => {
                let side = self.side(*end);
                let before_open =
                    matches!(side.conn.state(), ReadyState::Idle | ReadyState::Connecting);
                let code = close_code(*code);
                let result = side.conn.close(code, reason);
                if !code.is_valid_on_wire() || reason.len() > 123 {
                    assert!(result.is_err(), "close({code}, {} bytes)", reason.len());
                }
                if side.commanded(&result) {
                    side.asked += reason.len() + 16;
                    side.close_called = true;
                    side.closed_before_open = before_open;
                }
                side.drain();
            }
            Step::Pump(budget) => {
                self.pump(usize::from(*budget));
            }
            Step::Inject(end, garbage) => {
                let wire = match end {
                    End::Client => &mut self.to_client,
                    End::Server => &mut self.to_server,
                };
                wire.injected_at.get_or_insert(wire.written);
                wire.bytes.extend_from_slice(garbage);
                wire.written += garbage.len();
            }
            Step::Eof(end) => {
                let side = self.side(*end);
                side.eof = true;
                side.conn.handle_eof();
                side.drain();
            }
            Step::Advance(ms) => {
                self.now += Duration::from_millis(u64::from(*ms));
            }
            Step::Release(end) => self.side(*end).conn.release_buffers(),
        }
        self.tick();
    }
}

/// The close code a step asks for: from even numbers one that may be sent, so that
/// closes mostly succeed; from odd ones any code up to 32767, so that the invalid
/// ones are tried too.
fn close_code(selector: u16) -> CloseCode {
    const VALID: [u16; 8] = [1000, 1001, 1003, 1008, 1011, 1014, 3000, 4999];
    if selector.is_multiple_of(2) {
        CloseCode(VALID[usize::from(selector / 2) % VALID.len()])
    } else {
        CloseCode(selector / 2)
    }
}

/// What `to` received from `from` is a prefix of what `from` sent, up to any
/// injected byte; all of it when `to` closed on `from`'s close frame.
fn check_delivery(from: &Side, to: &Side, injected: bool, name: &str) {
    let (messages, pings) = match to.clean {
        Some((messages, pings)) => (&to.messages[..messages], &to.pings[..pings]),
        None => (&to.messages[..], &to.pings[..]),
    };
    let sent: &[Message] = if from.opened { &from.sent } else { &[] };
    let pinged: &[Bytes] = if from.opened { &from.pinged } else { &[] };
    assert!(
        sent.starts_with(messages),
        "{name}: received {} messages, not a prefix of the {} sent",
        messages.len(),
        sent.len()
    );
    assert!(pinged.starts_with(pings), "{name}: pings");
    // `to` closed on a close frame (not an error, a timeout, the end of the
    // transport, or its own close before it opened): everything sent came first.
    let on_close_frame = !to.failed
        && !to.closed_before_open
        && to
            .close
            .as_ref()
            .is_some_and(|(code, _)| *code != CloseCode::ABNORMAL);
    if on_close_frame && !injected && !to.eof {
        assert_eq!(messages.len(), sent.len(), "{name}: messages lost");
        assert_eq!(pings, pinged, "{name}: pings lost");
    }
}

fuzz_target!(|case: Case| {
    let mut options = Options::default();
    options.mask_seed = Some(case.mask_seed);
    if let Some(n) = case.max_length {
        options.max_length = usize::from(n) * 16;
    }
    let tenths = |n: u8| (n != 0).then(|| Duration::from_millis(u64::from(n) * 100));
    options.handshake_timeout = tenths(case.handshake_timeout);
    options.close_timeout = tenths(case.close_timeout);
    if let Some((no_context, window, bits)) = case.deflate {
        let config = DeflateConfig::new().no_context_takeover(no_context);
        let config = if window {
            config.max_window_bits(8 + bits % 8)
        } else {
            config
        };
        options.extensions = vec![Arc::new(config.build().unwrap())];
    }
    let client = Connection::client("ws://example.com/", options.clone()).unwrap();
    let server = Connection::server(options.clone());
    let mut pair = Pair {
        // The mask seed's low bits also say which sides read messages lent in place.
        client: Side::new(client, &options, case.mask_seed & 1 == 1),
        server: Side::new(server, &options, case.mask_seed & 2 == 2),
        to_server: Wire::default(),
        to_client: Wire::default(),
        rng: Rng::new(case.split_seed),
        now: Instant::now(),
    };
    pair.client.conn.start().unwrap();
    pair.client.asked += 4096;
    pair.server.asked += 4096;
    pair.tick();
    for step in &case.steps {
        pair.step(step);
    }
    pair.settle();

    let calm = [&pair.client, &pair.server]
        .iter()
        .all(|side| side.opened && side.close.is_none() && !side.close_called && !side.eof)
        && pair.to_client.injected_at.is_none()
        && pair.to_server.injected_at.is_none();
    if calm {
        let (client, server) = (&pair.client, &pair.server);
        assert_eq!(server.messages, client.sent, "client -> server");
        assert_eq!(client.messages, server.sent, "server -> client");
        assert_eq!(server.pings, client.pinged);
        assert_eq!(client.pings, server.pinged);
        if !server.ponged {
            assert_eq!(client.pongs, client.pinged, "pongs answer the pings");
        }
        if !client.ponged {
            assert_eq!(server.pongs, server.pinged, "pongs answer the pings");
        }
    }

    // The end: a close from either side, then whatever it takes to finish.
    if let Some((from_client, code, reason)) = &case.close {
        // A code that may be sent, and a reason that fits.
        let selector = code & !1;
        let mut end = reason.len().min(123);
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        let reason = &reason[..end];
        let closer = if *from_client {
            End::Client
        } else {
            End::Server
        };
        pair.step(&Step::Close(closer, selector, reason.to_owned()));
        pair.settle();
        // `max_length` bounds control frames too (as in `websocket-driver`): a
        // close frame longer than it fails the peer with 1009.
        if calm && reason.len() + 2 <= options.max_length {
            let (closer, peer) = match closer {
                End::Client => (&pair.client, &pair.server),
                End::Server => (&pair.server, &pair.client),
            };
            let expected = Some((close_code(selector), reason.to_owned()));
            assert_eq!(peer.close, expected, "the peer sees our close");
            assert_eq!(
                closer.close, expected,
                "the echo carries our code and reason"
            );
        }
    }
    for end in [End::Client, End::Server] {
        if pair.side(end).close.is_none() {
            pair.step(&Step::Close(end, 0, String::new()));
        }
    }
    pair.settle();
    pair.step(&Step::Advance(u16::MAX));
    pair.settle();
    for end in [End::Client, End::Server] {
        if pair.side(end).close.is_none() {
            pair.step(&Step::Eof(end));
        }
    }
    pair.settle();
    for (side, name) in [(&pair.client, "client"), (&pair.server, "server")] {
        assert!(side.close.is_some(), "the {name} never closed");
        assert_eq!(
            side.conn.buffered_amount(),
            0,
            "the {name}'s output is left"
        );
    }
    let injected_to_server = pair.to_server.injected_at.is_some();
    let injected_to_client = pair.to_client.injected_at.is_some();
    check_delivery(
        &pair.client,
        &pair.server,
        injected_to_server,
        "client -> server",
    );
    check_delivery(
        &pair.server,
        &pair.client,
        injected_to_client,
        "server -> client",
    );
});
