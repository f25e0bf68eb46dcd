//! The harness of `driver_server` and `driver_client`: a [`Connection`] driven by a
//! script of inputs and API calls read from the fuzz input, with the event-order and
//! output-size invariants checked after every step.
//!
//! Input layout: [`Config`] (12 bytes), then operations until the input ends. Each
//! operation is one selector byte and its operands; [`Op`] lists them, and the
//! `Writer` helpers here build seeds in the same layout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wsd_core::{CloseCode, Connection, Event, Message, Options};
use wsd_deflate::PerMessageDeflate;
use wsd_handshake::{Limits, Request, Status, server};

use crate::{Reader, Writer};

/// The connection's configuration, from the first bytes of the input.
#[derive(Debug, Clone)]
pub struct Config {
    /// Bit flags, see the `FLAG_` constants.
    pub flags: u8,
    /// Selects `max_length`: 0 for 1 MiB, else `n * 64` bytes.
    pub max_length: u8,
    /// Opening handshake timeout in tenths of a second; 0 for none.
    pub handshake_timeout: u8,
    /// Closing handshake timeout in tenths of a second; 0 for none.
    pub close_timeout: u8,
    /// Client only: which `Sec-WebSocket-Extensions` the canned 101 carries.
    pub response_variant: u8,
    /// The mask seed (clients); fixed so that every run of an input is the same.
    pub mask_seed: u64,
}

/// Servers accept Hixie-75/76.
pub const FLAG_DRAFTS: u8 = 1;
/// Servers accept unmasked frames.
pub const FLAG_NO_MASKING: u8 = 1 << 1;
/// permessage-deflate is registered.
pub const FLAG_DEFLATE: u8 = 1 << 2;
/// The subprotocol `chat` is offered (client) or accepted (server).
pub const FLAG_PROTOCOL: u8 = 1 << 3;
/// Servers call `start` as soon as `Event::Request` arrives.
pub const FLAG_AUTO_START: u8 = 1 << 4;
/// Every received message is sent back.
pub const FLAG_ECHO: u8 = 1 << 5;
/// Clients: a valid 101 for the client's own key comes before the scripted input.
pub const FLAG_VALID_101: u8 = 1 << 6;

impl Config {
    /// Reads the configuration.
    pub fn read(r: &mut Reader<'_>) -> Self {
        Self {
            flags: r.u8(),
            max_length: r.u8(),
            handshake_timeout: r.u8(),
            close_timeout: r.u8(),
            response_variant: r.u8(),
            mask_seed: {
                // Keep the layout at 12 bytes: a 7-byte seed, high byte zero.
                let mut word = [0u8; 8];
                for b in &mut word[..7] {
                    *b = r.u8();
                }
                u64::from_le_bytes(word)
            },
        }
    }

    /// Writes the configuration (the inverse of [`Config::read`]).
    pub fn write(&self, w: &mut Writer) {
        w.u8(self.flags)
            .u8(self.max_length)
            .u8(self.handshake_timeout)
            .u8(self.close_timeout)
            .u8(self.response_variant);
        w.raw(&self.mask_seed.to_le_bytes()[..7]);
    }

    /// Whether `flag` is set.
    pub fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// The connection options this configuration describes.
    pub fn options(&self) -> Options {
        let mut options = Options::default();
        // 1 MiB, not the 64 MiB default: a compressed input could otherwise inflate
        // to 64 MiB per message and slow every execution down to a crawl.
        options.max_length = match self.max_length {
            0 => 1 << 20,
            n => usize::from(n) * 64,
        };
        options.allow_drafts = self.has(FLAG_DRAFTS);
        options.require_masking = !self.has(FLAG_NO_MASKING);
        if self.has(FLAG_DEFLATE) {
            options.extensions = vec![Arc::new(PerMessageDeflate::new())];
        }
        if self.has(FLAG_PROTOCOL) {
            options.protocols = vec!["chat".into()];
        }
        let tenths = |n: u8| (n != 0).then(|| Duration::from_millis(u64::from(n) * 100));
        options.handshake_timeout = tenths(self.handshake_timeout);
        options.close_timeout = tenths(self.close_timeout);
        options.mask_seed = Some(self.mask_seed);
        options
    }
}

/// `Sec-WebSocket-Extensions` answers a server may give to the client's offer; some
/// are wrong on purpose.
pub const EXTENSION_ANSWERS: [Option<&str>; 6] = [
    None,
    Some("permessage-deflate"),
    Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
    Some("permessage-deflate; server_max_window_bits=9; client_max_window_bits=8"),
    Some("permessage-deflate; client_max_window_bits=16"),
    Some("x-unknown"),
];

/// One scripted step. The selector byte is taken modulo 16, and inputs get several
/// selectors so that most steps feed bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `u16` length, then that many bytes for `handle_input`.
    Input = 0,
    /// `start()`.
    Start = 4,
    /// `u8` length and bytes (lossy UTF-8) for `send_text`.
    SendText = 5,
    /// `u16` length and bytes for `send_binary`.
    SendBinary = 6,
    /// `u8` length (up to 255, so oversized payloads are tried) for `ping`.
    Ping = 7,
    /// `u8` length for `pong`.
    Pong = 8,
    /// `u16` code, `u8` reason length and bytes (lossy UTF-8) for `close`.
    Close = 9,
    /// `handle_eof()`.
    Eof = 10,
    /// `u16` milliseconds to advance the clock by, then `handle_timeout`.
    Advance = 11,
    /// `u16` status for `respond` (servers).
    Respond = 12,
}

impl Op {
    fn from_selector(selector: u8) -> Self {
        match selector % 16 {
            0..=3 | 13..=15 => Self::Input,
            4 => Self::Start,
            5 => Self::SendText,
            6 => Self::SendBinary,
            7 => Self::Ping,
            8 => Self::Pong,
            9 => Self::Close,
            10 => Self::Eof,
            11 => Self::Advance,
            _ => Self::Respond,
        }
    }
}

/// Seed helpers: operations in the layout [`Harness::run`] reads.
pub trait WriteOps {
    /// An input step.
    fn input(&mut self, bytes: &[u8]) -> &mut Self;
    /// A step without operands.
    fn op(&mut self, op: Op) -> &mut Self;
}

impl WriteOps for Writer {
    fn input(&mut self, bytes: &[u8]) -> &mut Self {
        let len = u16::try_from(bytes.len()).expect("seed chunks fit a u16");
        self.u8(Op::Input as u8).u16(len).raw(bytes)
    }

    fn op(&mut self, op: Op) -> &mut Self {
        self.u8(op as u8)
    }
}

/// A connection under test and what the checks need to remember.
#[derive(Debug)]
pub struct Harness {
    /// The connection.
    pub conn: Connection,
    config: Config,
    max_length: usize,
    now: Instant,
    opened: bool,
    got_request: bool,
    /// Messages received.
    messages: usize,
    closed: bool,
    /// Bytes given to `handle_input`, and payload bytes given to commands.
    bytes_in: usize,
    steps: usize,
    /// Bytes taken from the output.
    bytes_out: usize,
    /// All output, for the client to read its own request from.
    pub output: Vec<u8>,
}

impl Harness {
    /// Wraps `conn`, built from `config.options()`.
    pub fn new(conn: Connection, config: Config) -> Self {
        let max_length = config.options().max_length;
        Self {
            conn,
            config,
            max_length,
            now: Instant::now(),
            opened: false,
            got_request: false,
            messages: 0,
            closed: false,
            bytes_in: 0,
            steps: 0,
            bytes_out: 0,
            output: Vec::new(),
        }
    }

    /// Clients: starts, and with [`FLAG_VALID_101`] feeds the server's 101 for the key
    /// the client sent (read back from its request), with the subprotocol if
    /// [`FLAG_PROTOCOL`] and one of [`EXTENSION_ANSWERS`], so that the scripted bytes
    /// reach the frame parser.
    pub fn start_client(&mut self) {
        self.conn.start().expect("a fresh client starts");
        self.input(&[]);
        if !self.config.has(FLAG_VALID_101) {
            return;
        }
        let Ok(Status::Complete((request, _))) = Request::parse(&self.output, &Limits::default())
        else {
            panic!("the client's request does not parse: {:?}", self.output);
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
        if self.config.has(FLAG_PROTOCOL) {
            response.push_str("Sec-WebSocket-Protocol: chat\r\n");
        }
        let variant = usize::from(self.config.response_variant) % EXTENSION_ANSWERS.len();
        if let Some(answer) = EXTENSION_ANSWERS[variant] {
            response.push_str(&format!("Sec-WebSocket-Extensions: {answer}\r\n"));
        }
        response.push_str("\r\n");
        self.input(response.as_bytes());
    }

    /// Feeds `bytes` as one input step: through `handle_input`, or (odd lengths)
    /// appended through `read_input`, as the adapters read; both must behave alike.
    pub fn input(&mut self, bytes: &[u8]) {
        self.bytes_in += bytes.len();
        if bytes.len().is_multiple_of(2) {
            self.conn.handle_input(bytes);
        } else {
            self.conn.read_input(|buf| buf.extend_from_slice(bytes));
        }
        self.settle();
    }

    /// Runs the scripted operations left in `r`.
    pub fn run(&mut self, r: &mut Reader<'_>) {
        while !r.is_empty() {
            match Op::from_selector(r.u8()) {
                Op::Input => {
                    let len = usize::from(r.u16());
                    let bytes = r.bytes(len);
                    self.input(bytes);
                    continue;
                }
                Op::Start => drop(self.conn.start()),
                Op::SendText => {
                    let len = usize::from(r.u8());
                    let text = String::from_utf8_lossy(r.bytes(len)).into_owned();
                    self.bytes_in += text.len();
                    drop(self.conn.send_text(&text));
                }
                Op::SendBinary => {
                    let len = usize::from(r.u16());
                    let data = r.bytes(len);
                    self.bytes_in += data.len();
                    drop(self.conn.send_binary(data));
                }
                Op::Ping => {
                    let len = usize::from(r.u8());
                    let data = r.bytes(len);
                    self.bytes_in += data.len();
                    drop(self.conn.ping(data));
                }
                Op::Pong => {
                    let len = usize::from(r.u8());
                    let data = r.bytes(len);
                    self.bytes_in += data.len();
                    drop(self.conn.pong(data));
                }
                Op::Close => {
                    let code = CloseCode(r.u16());
                    let len = usize::from(r.u8());
                    let reason = String::from_utf8_lossy(r.bytes(len)).into_owned();
                    self.bytes_in += reason.len();
                    drop(self.conn.close(code, &reason));
                }
                Op::Eof => self.conn.handle_eof(),
                Op::Advance => {
                    self.now += Duration::from_millis(u64::from(r.u16()));
                    self.conn.handle_timeout(self.now);
                }
                Op::Respond => {
                    let status = r.u16();
                    drop(self.conn.respond(status, &[("X-Fuzz", "1")], b"body"));
                }
            }
            self.settle();
        }
        // The transport ends: everything buffered is parsed, and the connection must
        // close (the Close event is the one thing an adapter always waits for).
        self.conn.handle_eof();
        self.settle();
        assert!(self.closed, "no Close event after the end of the input");
        let now = self.now + Duration::from_secs(3600);
        self.conn.handle_timeout(now);
        self.settle();
    }

    /// Drains events and output after a step, checking the invariants.
    fn settle(&mut self) {
        self.steps += 1;
        let mut error_pending = false;
        while let Some(event) = self.conn.poll_event() {
            assert!(!self.closed, "an event after Close: {event:?}");
            if error_pending {
                assert!(
                    matches!(event, Event::Close { .. }),
                    "Error not followed at once by Close but by {event:?}"
                );
            }
            match event {
                Event::Request => {
                    assert!(
                        !self.got_request && !self.opened,
                        "Request twice or after Open"
                    );
                    self.got_request = true;
                    if self.config.has(FLAG_AUTO_START) {
                        drop(self.conn.start());
                    }
                }
                Event::Open => {
                    assert!(!self.opened, "Open twice");
                    self.opened = true;
                }
                Event::Message(message) => {
                    assert!(self.opened, "a message before Open");
                    self.messages += 1;
                    assert!(
                        message.len() <= self.max_length,
                        "a message of {} bytes over max_length {}",
                        message.len(),
                        self.max_length
                    );
                    if let Message::Text(text) = &message {
                        assert!(std::str::from_utf8(text.as_bytes()).is_ok());
                    }
                    if self.config.has(FLAG_ECHO) {
                        self.bytes_in += message.len();
                        drop(self.conn.send(message));
                    }
                }
                Event::Ping(payload) | Event::Pong { payload, .. } => {
                    assert!(self.opened, "a control frame before Open");
                    assert!(payload.len() <= 125);
                }
                Event::Error(_) => error_pending = true,
                Event::Close { .. } => {
                    self.closed = true;
                    error_pending = false;
                }
                _ => {}
            }
        }
        assert!(
            !error_pending,
            "Error without the Close that must follow it"
        );
        let out = self.conn.poll_transmit_vec();
        self.bytes_out += out.len();
        self.output.extend_from_slice(&out);
        // What the connection writes is answers to what it read and was asked to
        // send: handshake heads, pongs, close frames, compressed messages. A bound
        // linear in the input catches amplification and runaway loops.
        let bound = 16 * 1024 + 3 * self.bytes_in + 256 * self.steps;
        assert!(
            self.bytes_out <= bound,
            "{} bytes written for {} bytes in over {} steps",
            self.bytes_out,
            self.bytes_in,
            self.steps
        );
        // Timers that are due have fired: the next deadline is in the future.
        if let Some(deadline) = self.conn.poll_timeout(self.now) {
            assert!(!self.closed, "a timer armed on a closed connection");
            assert!(deadline > self.now, "a timer due but not fired");
        }
    }

    /// True once the Close event has been seen.
    pub fn closed(&self) -> bool {
        self.closed
    }

    /// True once the Open event has been seen.
    pub fn opened(&self) -> bool {
        self.opened
    }

    /// How many messages arrived.
    pub fn messages(&self) -> usize {
        self.messages
    }
}
