//! [`Connection`]: one WebSocket connection's whole protocol state, with no I/O.
//!
//! The public API is here, grouped as the contract on [`Connection`] describes it
//! (making one, input, events, output, time, commands, getters), except the adapter
//! hooks ([`hooks`]), the commands and getters of the opening handshake
//! ([`handshake`]) and borrowed messages ([`lend`]). The work is in the other
//! submodules: [`state`] (where the connection is, with the data each place needs),
//! [`handshake`] (the opening handshake), `drafts` (the legacy drafts' handshake
//! steps, feature `drafts`), [`framing`] (RFC 6455 or a legacy draft, frames to
//! messages and back), [`close`] (every way it ends) and [`pings`]; [`upgrade`] makes
//! connections open from a handshake another HTTP stack carried, and [`extended`]
//! from an HTTP/2 extended `CONNECT` (RFC 8441).

use std::collections::VecDeque;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use rand::SeedableRng;
use rand::rngs::StdRng;
use url::Url;
use wsd_extensions::Extensions;
use wsd_frame::{CloseCode, CloseFrame, OpCode, Role, Rsv};
use wsd_handshake::client::{ClientHandshake, ClientOptions};
use wsd_handshake::{HeaderList, Request, Response};

use crate::event::{Event, PingId};
use crate::message::{Message, Utf8Bytes};
use crate::options::Options;
use crate::timer::{Timer, TimerTable};
use crate::{Error, Usage, Version};
use framing::{FrameRead, Outbox, check_control_len};
use state::{Handshake, Queued, State};

pub use lend::Reply;
pub use state::ReadyState;
pub use upgrade::Refused;

mod close;
#[cfg(feature = "drafts")]
mod drafts;
mod extended;
mod framing;
mod handshake;
mod hooks;
mod lend;
mod liveness;
mod pings;
mod state;
#[cfg(test)]
mod tests;
mod upgrade;

/// Output above this much capacity is given back to the allocator once it drains,
/// so idle connections stay small.
const SHRINK_ABOVE: usize = 64 * 1024;

/// One WebSocket connection (RFC 6455), server or client: bytes in, events and bytes
/// out, no I/O, no clock, no threads.
///
/// # The contract
///
/// - **Input**: feed every byte read from the transport to
///   [`handle_input`](Self::handle_input), and call
///   [`handle_eof`](Self::handle_eof) when the transport's read side ends. Input is
///   only buffered there; it is parsed lazily by `poll_event`, one event at a time,
///   so an application that answers each message before polling the next one gets
///   its answers out before the close frame of a later protocol error.
/// - **Events**: call [`poll_event`](Self::poll_event) until it returns `None` after
///   each input, command or timeout.
/// - **Output**: write [`pending_output`](Self::pending_output) to the transport and
///   report what was written with [`consume_output`](Self::consume_output) (or move
///   it all with [`poll_transmit`](Self::poll_transmit)). When
///   [`wants_close`](Self::wants_close) is true and the output is empty, shut the
///   transport's write side down, read (bounded) until the peer closes, then drop it.
/// - **Time**: after each batch of work, sleep until
///   [`poll_timeout`](Self::poll_timeout)`(now)` and then call
///   [`handle_timeout`](Self::handle_timeout).
/// - **Commands** ([`send`](Self::send), [`ping`](Self::ping), [`close`](Self::close),
///   ...) return `Err` only when the caller misuses the API. Peer errors arrive as
///   [`Event::Error`] then [`Event::Close`].
///
/// Messages sent before the connection opens are queued and flushed, in order, when it
/// opens. Pings are answered automatically. The `Close` event comes exactly once.
///
/// # Adapter hooks
///
/// An adapter that owns the transport can do better than the calls above, and these
/// methods are for it: [`read_input`](Self::read_input) reads straight into the
/// connection's buffer, sized by [`read_size`](Self::read_size);
/// [`pending_output_vectored`](Self::pending_output_vectored) writes every run of
/// output with one `writev`; [`release_buffers`](Self::release_buffers) frees the
/// empty buffers of a connection with nothing to read, so an idle one holds none;
/// [`has_timers`](Self::has_timers) says when the clock need not be read at all.
///
/// # Example: a client and a server talking in memory
///
/// ```
/// use wsd_core::{Connection, Event, Message, Options};
///
/// let mut client = Connection::client("ws://example.com/chat", Options::default()).unwrap();
/// let mut server = Connection::server(Options::default());
/// client.start().unwrap();
/// client.send(Message::text("hello")).unwrap(); // queued until open
///
/// // Client -> server: the request (and the queued frame, once open).
/// server.handle_input(&client.poll_transmit_vec());
/// assert_eq!(server.poll_event(), Some(Event::Request));
/// server.start().unwrap();
/// assert_eq!(server.poll_event(), Some(Event::Open));
///
/// // Server -> client: the 101 response.
/// client.handle_input(&server.poll_transmit_vec());
/// assert_eq!(client.poll_event(), Some(Event::Open));
///
/// // The queued message left with the open; the server receives it.
/// server.handle_input(&client.poll_transmit_vec());
/// assert_eq!(server.poll_event(), Some(Event::Message(Message::text("hello"))));
/// ```
#[derive(Debug)]
pub struct Connection {
    role: Role,
    options: Options,
    state: State,
    /// Input not parsed yet.
    recv: BytesMut,
    /// What we send.
    out: Outbox,
    /// Events produced by commands or transitions, delivered before parsing more input.
    events: VecDeque<Event>,
    /// The extensions to negotiate (`add_extension`).
    extensions: Extensions,
    /// Custom handshake headers (`set_header`).
    headers: HeaderList,
    /// Server: the request.
    request: Option<Request>,
    /// Client: the URL given; server: the URL the request asked for, once known.
    url: Option<Url>,
    /// Server: the transport is encrypted, so the URL is `wss://`.
    secure_transport: bool,
    /// Client: the server's response head.
    response: Option<Response>,
    protocol: Option<String>,
    /// The protocol spoken: RFC 6455 unless a server accepted a legacy draft at
    /// `start`.
    version: Version,
    /// The id of the next ping.
    next_ping: u64,
    /// The transport's read side ended.
    eof: bool,
    timers: TimerTable,
}

/// Making a connection.
impl Connection {
    /// A server that parses the HTTP request itself from the raw bytes of a TCP
    /// connection (`websocket-driver`'s (Node) `server()`). Feed input; on
    /// [`Event::Request`] inspect [`request`](Self::request) and call
    /// [`start`](Self::start) to accept.
    pub fn server(options: Options) -> Self {
        let step = Handshake::ReadingRequest {
            start_requested: false,
        };
        let mut connection = Self::new(Role::Server, options, step, None);
        connection
            .timers
            .request(Timer::Handshake, connection.options.handshake_timeout);
        connection
    }

    /// A server for a request already parsed by an HTTP server (`websocket-driver`'s
    /// (Node) `http(request)`). Feed the bytes that followed the request head (if any)
    /// to [`handle_input`](Self::handle_input), then call [`start`](Self::start).
    pub fn accept(request: Request, options: Options) -> Self {
        let mut connection = Self::new(Role::Server, options, Handshake::AwaitingStart, None);
        connection.set_request(request);
        // An application that never calls `start`, or a Hixie-76 client that never
        // sends its key bytes, must not hold the connection forever.
        connection
            .timers
            .request(Timer::Handshake, connection.options.handshake_timeout);
        connection
    }

    /// A client for a `ws://` or `wss://` URL (`websocket-driver`'s (Node)
    /// `client(url)`). It is [`ReadyState::Idle`] and sends nothing until
    /// [`start`](Self::start); TLS for `wss://` is the transport's job.
    ///
    /// ```
    /// # use wsd_core::{Connection, Options};
    /// assert!(Connection::client("ws://localhost:8080/", Options::default()).is_ok());
    /// assert!(Connection::client("http://localhost/", Options::default()).is_err());
    /// ```
    pub fn client(url: &str, options: Options) -> Result<Self, Error> {
        let parsed = Url::parse(url).map_err(|e| Usage::InvalidUrl(format!("{url}: {e}")))?;
        // Build a handshake once to validate the URL now rather than at `start`.
        ClientHandshake::new(&parsed, [0; 16], ClientOptions::default())
            .map_err(|e| Usage::InvalidUrl(e.to_string()))?;
        let masks = match options.mask_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        let mut connection = Self::new(Role::Client, options, Handshake::Idle, Some(masks));
        connection.url = Some(parsed);
        Ok(connection)
    }
}

/// Input: what the transport read.
impl Connection {
    /// Buffers bytes read from the transport. They are parsed by
    /// [`poll_event`](Self::poll_event). Input after the connection closed is dropped.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if !self.is_closed() && !bytes.is_empty() {
            self.recv.extend_from_slice(bytes);
            self.note_heard();
        }
    }

    /// The transport's read side ended. Input already buffered is still parsed; then,
    /// without a close frame, the connection closes with 1006.
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }
}

/// Events: what happened, parsed from the input as it is asked for.
impl Connection {
    /// The next event, parsing buffered input as needed; `None` when more input (or
    /// a command, or a timeout) is needed.
    pub fn poll_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            let progressed = match &self.state {
                State::Connecting(connecting) => match connecting.step {
                    Handshake::ReadingRequest { .. } => self.read_request(),
                    Handshake::AwaitingResponse(_) => self.read_response(),
                    #[cfg(feature = "drafts")]
                    Handshake::AwaitingHixieBody(_) => self.read_hixie_body(),
                    // Input waits for `start`; only the end of the transport matters.
                    Handshake::AwaitingStart | Handshake::Idle => self.end_if_eof(),
                },
                State::Open(_) | State::Closing(_) => match self.read_frame() {
                    FrameRead::Event(event) => return Some(event),
                    FrameRead::Progressed => true,
                    FrameRead::Nothing => false,
                },
                State::Closed(_) => false,
            };
            if !progressed && self.events.is_empty() {
                return None;
            }
        }
    }
}

/// Output: the bytes to write to the transport.
impl Connection {
    /// The bytes to write to the transport next: a contiguous front part of the
    /// output. Large payloads sent as [`Bytes`] are queued by reference rather than
    /// copied after their header, so write, [`consume_output`](Self::consume_output)
    /// and repeat until this is empty; or write everything at once with
    /// [`pending_output_vectored`](Self::pending_output_vectored).
    pub fn pending_output(&self) -> &[u8] {
        self.out.queue.front()
    }

    /// Reports that the first `n` bytes of the pending output were written.
    pub fn consume_output(&mut self, n: usize) {
        self.out.queue.consume(n);
        self.out.queue.release_if_empty(SHRINK_ABOVE);
    }

    /// Moves all pending output to the end of `buf`; returns how many bytes.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let n = self.out.queue.len();
        self.out.queue.copy_to(buf);
        self.consume_output(n);
        n
    }

    /// All pending output as a new vector: a convenience for tests and examples,
    /// which allocates each time (adapters use
    /// [`pending_output_vectored`](Self::pending_output_vectored) or
    /// [`poll_transmit`](Self::poll_transmit)).
    pub fn poll_transmit_vec(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.poll_transmit(&mut buf);
        buf
    }

    /// Bytes waiting to be written to the transport.
    pub fn buffered_amount(&self) -> usize {
        self.out.queue.len()
    }
}

/// Time: the one deadline of the connection's timers.
impl Connection {
    /// The next deadline to call [`handle_timeout`](Self::handle_timeout) at, if any:
    /// the earliest of every running timer. Timers started by earlier commands are
    /// armed from `now`, and input or messages since the last call count as activity
    /// at `now` for the keepalive and idle timers, so call it after every batch of
    /// work.
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Instant> {
        self.note_activity(now);
        self.timers.arm(now)
    }

    /// Fires the timers due at `now`: the opening handshake timeout (the connection
    /// fails with 1006), the closing handshake timeout (it closes with 1006), the
    /// keepalive ping (a ping goes out) and its timeout (the connection fails with
    /// 1011, [`Error::KeepaliveTimeout`]), and the idle timeout (the closing
    /// handshake starts with 1001). Calling it early or twice does nothing, and no
    /// timer fires once the connection is closed.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use wsd_core::{Connection, Event, Keepalive, Options};
    ///
    /// let mut options = Options::default();
    /// options.keepalive = Some(Keepalive::new(Duration::from_secs(20), Duration::from_secs(5)));
    /// let mut client = Connection::client("ws://example.com/", options).unwrap();
    /// let mut server = Connection::server(Options::default());
    /// client.start().unwrap();
    /// server.handle_input(&client.poll_transmit_vec());
    /// while let Some(event) = server.poll_event() {
    ///     if event == Event::Request { server.start().unwrap(); }
    /// }
    /// client.handle_input(&server.poll_transmit_vec());
    /// assert_eq!(client.poll_event(), Some(Event::Open));
    ///
    /// // Twenty silent seconds: a ping goes out, and the peer has five to answer.
    /// let start = Instant::now();
    /// let ping_at = client.poll_timeout(start).unwrap();
    /// assert_eq!(ping_at, start + Duration::from_secs(20));
    /// client.handle_timeout(ping_at);
    /// assert!(client.buffered_amount() > 0);
    /// assert_eq!(client.poll_timeout(ping_at), Some(ping_at + Duration::from_secs(5)));
    /// ```
    pub fn handle_timeout(&mut self, now: Instant) {
        self.note_activity(now);
        if self.timers.take_expired(Timer::Handshake, now)
            && matches!(self.state, State::Connecting(_))
        {
            self.fail_before_open(Error::HandshakeTimeout, None);
        }
        if self.timers.take_expired(Timer::Close, now) && matches!(self.state, State::Closing(_)) {
            self.finish(
                CloseCode::ABNORMAL,
                "the peer did not answer the close frame in time",
            );
        }
        self.handle_liveness_timeouts(now);
    }
}

// The commands that shape the opening handshake (`set_header`, `add_extension`,
// `set_protocols`, `set_secure_transport`) are in `handshake.rs`.
/// Commands: what the application asks for. They return `Err` only for misuse.
impl Connection {
    /// Starts the protocol: a client sends its request; a server validates the
    /// request and answers 101 (opening at once) or an HTTP error (the connection
    /// then fails with [`Event::Error`] and [`Event::Close`], and `start` returns
    /// that error too). A server still reading its request remembers the call and
    /// starts as soon as the request is complete.
    pub fn start(&mut self) -> Result<(), Error> {
        self.start_handshake()
    }

    /// Servers: answers the request with a plain HTTP response instead of a
    /// WebSocket (for example a page for `GET /`, or a 404), then closes. The
    /// response carries `Content-Length` and `Connection: close`; `headers` are added
    /// as given (names and values with CR, LF or NUL are refused).
    pub fn respond(
        &mut self,
        status: u16,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<(), Error> {
        if !matches!(self.state.step(), Some(Handshake::AwaitingStart)) {
            return Err(Usage::NotAwaitingRequest.into());
        }
        self.write_http_response(status, headers, body)
    }

    /// Sends a message (queued if the connection is not open yet). Fails when the
    /// connection is closing or closed.
    ///
    /// Control messages do what their commands do: `Ping` is [`ping`](Self::ping)
    /// (its id is not returned), `Pong` is [`pong`](Self::pong), and `Close` is
    /// [`close`](Self::close) (`None`: 1000 with no reason).
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        let message = match message {
            // The common case first: open, RFC 6455, no extension to run. The payload
            // is framed straight into the output (by reference when it is large).
            Message::Text(text) if self.takes_borrowed() => {
                self.out
                    .write_data_frame(OpCode::Text, Rsv::NONE, text.into_bytes());
                self.note_data();
                return Ok(());
            }
            Message::Binary(data) if self.takes_borrowed() => {
                self.out.write_data_frame(OpCode::Binary, Rsv::NONE, data);
                self.note_data();
                return Ok(());
            }
            Message::Ping(payload) => return self.ping(&payload).map(drop),
            Message::Pong(payload) => return self.pong(&payload),
            Message::Close(frame) => {
                return match frame {
                    Some(frame) => self.close(frame.code, &frame.reason),
                    None => self.close(CloseCode::NORMAL, ""),
                };
            }
            data => data,
        };
        match &mut self.state {
            State::Open(_) => self.send_now(message),
            State::Closing(_) | State::Closed(_) => Err(Usage::Closed.into()),
            State::Connecting(connecting) => {
                connecting.queued.push_back(Queued::Message(message));
                Ok(())
            }
        }
    }

    /// Sends a text message (`websocket-driver`'s (Node) `text`).
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        if self.takes_borrowed() {
            self.out
                .write_frame(OpCode::Text, Rsv::NONE, text.as_bytes());
            self.note_data();
            return Ok(());
        }
        self.send(Message::Text(Utf8Bytes::from(text)))
    }

    /// Sends a binary message (`websocket-driver`'s (Node) `binary`).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.takes_borrowed() {
            self.out.write_frame(OpCode::Binary, Rsv::NONE, data);
            self.note_data();
            return Ok(());
        }
        self.send(Message::Binary(Bytes::copy_from_slice(data)))
    }

    /// Sends a ping (queued if not open yet); the returned id comes back in
    /// [`Event::Pong`] when a pong with the same payload arrives (`websocket-driver`'s
    /// (Node) ping callback). The payload is at most 125 bytes. The ids of the 32 most
    /// recent unanswered pings are kept; pings with one payload are answered oldest
    /// first, one pong each.
    pub fn ping(&mut self, payload: &[u8]) -> Result<PingId, Error> {
        check_control_len(payload.len())?;
        self.check_draft_supports("pings")?;
        let payload = Bytes::copy_from_slice(payload);
        let id = PingId(self.next_ping);
        match &mut self.state {
            State::Open(_) => self.write_ping(id, payload),
            State::Closing(_) | State::Closed(_) => return Err(Usage::Closed.into()),
            State::Connecting(connecting) => connecting.queued.push_back(Queued::Ping(id, payload)),
        }
        self.next_ping += 1;
        Ok(id)
    }

    /// Sends an unsolicited pong (queued if not open yet). Pings are answered
    /// automatically; this is for heartbeats. The payload is at most 125 bytes.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        check_control_len(payload.len())?;
        self.check_draft_supports("pongs")?;
        match &mut self.state {
            State::Open(_) => self.out.write_frame(OpCode::Pong, Rsv::NONE, payload),
            State::Closing(_) | State::Closed(_) => return Err(Usage::Closed.into()),
            State::Connecting(connecting) => connecting
                .queued
                .push_back(Queued::Pong(Bytes::copy_from_slice(payload))),
        }
        Ok(())
    }

    /// Starts the closing handshake (RFC 6455 section 7): sends a close frame with
    /// `code` and `reason` (at most 123 bytes) and waits for the peer's; the `Close`
    /// event comes when it arrives, or with 1006 after
    /// [`Options::close_timeout`](crate::Options::close_timeout). Messages sent
    /// before are written before the close frame. Until the peer's close frame
    /// arrives, its messages are still delivered and its pings answered.
    ///
    /// Before the connection opened, nothing is written: the connection closes at
    /// once with `code`, and commands queued for the open are dropped; the `Close`
    /// event's reason then says how many, so nothing is dropped silently.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        if !code.is_valid_on_wire() {
            return Err(Usage::InvalidCloseCode(code.0).into());
        }
        if reason.len() > CloseFrame::MAX_REASON_LEN {
            return Err(Usage::ControlPayloadTooLong(reason.len() + 2).into());
        }
        self.begin_close(code, reason)
    }
}

/// Getters.
impl Connection {
    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The ready state.
    pub fn state(&self) -> ReadyState {
        self.state.ready_state()
    }

    /// The protocol in use: [`Version::Rfc6455`], or a legacy draft for a server
    /// that accepted one at [`start`](Self::start). [`Version::as_str`] gives
    /// `websocket-driver`'s (Node) strings (`"hybi-13"`, `"hixie-76"`, `"hixie-75"`).
    pub fn version(&self) -> Version {
        self.version
    }

    /// The negotiated subprotocol, once open.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The names of the negotiated extensions, in pipeline order (also once closed).
    pub fn extensions(&self) -> impl Iterator<Item = &str> + '_ {
        let (live, ended) = match &self.state {
            State::Open(session) | State::Closing(session) => (session.framing.pipeline(), None),
            State::Closed(closed) => (None, Some(&closed.extensions)),
            State::Connecting(_) => (None, None),
        };
        let live = live.into_iter().flat_map(|pipeline| pipeline.names());
        live.chain(ended.into_iter().flatten().map(String::as_str))
    }

    /// Once closed, the code and reason the [`Event::Close`] carried.
    pub fn close_reason(&self) -> Option<(CloseCode, &str)> {
        match &self.state {
            State::Closed(closed) => Some((closed.code, closed.reason.as_str())),
            _ => None,
        }
    }

    /// The options the connection was made with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// True once the connection is closed and the transport should be shut down
    /// (after writing [`pending_output`](Self::pending_output)).
    pub fn wants_close(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    /// True once the [`Event::Close`] is produced (or waiting to be polled): input is
    /// no longer wanted. The same as [`wants_close`](Self::wants_close).
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed(_))
    }

    /// Bytes received but not parsed yet.
    pub fn buffered_input(&self) -> usize {
        self.recv.len()
    }
}
