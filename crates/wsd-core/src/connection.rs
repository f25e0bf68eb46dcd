//! [`Connection`]: one WebSocket connection's whole protocol state, with no I/O.

use std::collections::VecDeque;
use std::io::IoSlice;
use std::time::Instant;

use bytes::{Buf, Bytes, BytesMut};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use url::Url;
use wsd_extensions::{Extensions, Message as ExtMessage, Pipeline};
use wsd_frame::{
    CloseCode, CloseFrame, DecoderConfig, Frame, FrameDecoder, FrameHeader, OpCode, Role, Rsv,
    encode_frame,
};
use wsd_handshake::client::{ClientHandshake, ClientOptions};
use wsd_handshake::server::{self, Rejection};
use wsd_handshake::{HeaderList, Headers, Request, Response, Status};

use crate::event::{Event, PingId};
use crate::message::{Message, Utf8Bytes};
use crate::options::Options;
use crate::output::{BY_REFERENCE_FROM, Output};
use crate::timer::{Timer, TimerTable};
use crate::{Error, Usage};

/// The seed's `readyState`, without its client-only `-1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadyState {
    /// The opening handshake has not completed (0).
    Connecting,
    /// Messages flow both ways (1).
    Open,
    /// We sent a close frame and wait for the peer's (2).
    Closing,
    /// Closed (3).
    Closed,
}

/// Where the connection is. RFC 6455 section 4 (opening) and 7 (closing):
///
/// ```text
///  server:  ReadingRequest --head--> AwaitingStart --start()--> Open
///  client:  ClientIdle --start()--> AwaitingResponse --101--> Open
///  Open --close()--> Closing --peer close--> Closed
///  Open --peer close (we echo it)--> Closed
///  any --protocol error / EOF / timeout / rejected handshake--> Closed
/// ```
#[derive(Debug)]
enum Phase {
    /// Server: reading the HTTP request head from the input.
    ReadingRequest,
    /// Server: the request is known; waiting for `start` or `respond`.
    AwaitingStart,
    /// Client: not started.
    ClientIdle,
    /// Client: request sent; reading the response head.
    AwaitingResponse(Box<ClientHandshake>),
    /// Server, Hixie-76: the response head is out; the 8 key bytes of the request
    /// body have not all arrived (proxies may defer them).
    AwaitingHixieBody(wsd_hixie::Challenge),
    Open,
    Closing,
    Closed,
}

/// A command given before the connection opened, replayed in order on open.
#[derive(Debug)]
enum Queued {
    Message(Message),
    Ping(Bytes),
    Pong(Bytes),
}

/// The message being reassembled from fragments.
#[derive(Debug)]
struct Fragments {
    opcode: OpCode,
    rsv: Rsv,
    data: BytesMut,
}

/// Pings we sent that no pong has answered yet. Bounded: the oldest is forgotten.
const MAX_OUTSTANDING_PINGS: usize = 32;

/// Output above this much capacity is given back to the allocator once it drains,
/// so idle connections stay small.
const SHRINK_ABOVE: usize = 64 * 1024;

/// One WebSocket connection (RFC 6455), server or client: bytes in, events and bytes
/// out, no I/O, no clock, no threads.
///
/// # The contract
///
/// - **Input**: feed every byte read from the transport to
///   [`handle_input`](Self::handle_input) (or read straight into the connection's
///   buffer with [`read_input`](Self::read_input)), and call
///   [`handle_eof`](Self::handle_eof) when the transport's read side ends. Input is
///   only buffered there; it is parsed lazily by `poll_event`, one event at a time,
///   so an application that answers each message before polling the next one gets
///   its answers out before the close frame of a later protocol error. When the
///   transport has nothing more to read, call
///   [`release_buffers`](Self::release_buffers) so an idle connection holds no buffer
///   (a busy one keeps its buffers between messages).
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
    phase: Phase,
    /// Input not parsed yet.
    recv: BytesMut,
    /// Output not taken by the adapter yet.
    out: Output,
    /// Events produced by commands or transitions, delivered before parsing more input.
    events: VecDeque<Event>,
    /// Commands given before open.
    queued: VecDeque<Queued>,
    decoder: FrameDecoder,
    fragments: Option<Fragments>,
    extensions: Extensions,
    pipeline: Pipeline,
    /// Custom handshake headers (`set_header`).
    headers: HeaderList,
    /// Server: the request; client: the URL.
    request: Option<Request>,
    url: Option<Url>,
    response: Option<Response>,
    protocol: Option<String>,
    /// `start` was called while the request was still being read (seed behaviour).
    start_requested: bool,
    pings: VecDeque<(PingId, Bytes)>,
    next_ping: u64,
    close_sent: bool,
    close_emitted: bool,
    eof: bool,
    timers: TimerTable,
    /// Clients: the masking-key generator (servers never mask).
    rng: Option<Box<StdRng>>,
    /// Servers speaking a legacy draft: its decoder (RFC 6455 frames otherwise).
    hixie: Option<wsd_hixie::Decoder>,
}

impl Connection {
    /// A server that parses the HTTP request itself from the raw bytes of a TCP
    /// connection (the seed's `server()`). Feed input; on [`Event::Request`] inspect
    /// [`request`](Self::request) and call [`start`](Self::start) to accept.
    pub fn server(options: Options) -> Self {
        let mut connection = Self::new(Role::Server, options, Phase::ReadingRequest);
        connection
            .timers
            .request(Timer::Handshake, connection.options.handshake_timeout);
        connection
    }

    /// A server for a request already parsed by an HTTP server (the seed's
    /// `http(request)`). Feed the bytes that followed the request head (if any) to
    /// [`handle_input`](Self::handle_input), then call [`start`](Self::start).
    pub fn accept(request: Request, options: Options) -> Self {
        let mut connection = Self::new(Role::Server, options, Phase::AwaitingStart);
        connection.request = Some(request);
        connection
    }

    /// A client for a `ws://` or `wss://` URL (the seed's `client(url)`). Nothing is
    /// sent until [`start`](Self::start); TLS for `wss://` is the transport's job.
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
        let mut connection = Self::new(Role::Client, options, Phase::ClientIdle);
        connection.url = Some(parsed);
        let rng = match connection.options.mask_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_os_rng(),
        };
        connection.rng = Some(Box::new(rng));
        Ok(connection)
    }

    fn new(role: Role, options: Options, phase: Phase) -> Self {
        let mut config = DecoderConfig::new(role);
        config.require_masking = options.require_masking;
        config.max_length = options.max_length as u64;
        let mut extensions = Extensions::new();
        let mut registry_error = None;
        for extension in &options.extensions {
            if let Err(e) = extensions.add(extension.clone()) {
                registry_error.get_or_insert(e);
            }
        }
        let mut connection = Self {
            role,
            options,
            phase,
            recv: BytesMut::new(),
            out: Output::default(),
            events: VecDeque::new(),
            queued: VecDeque::new(),
            decoder: FrameDecoder::new(config),
            fragments: None,
            extensions,
            pipeline: Pipeline::default(),
            headers: HeaderList::new(),
            request: None,
            url: None,
            response: None,
            protocol: None,
            start_requested: false,
            pings: VecDeque::new(),
            next_ping: 0,
            close_sent: false,
            close_emitted: false,
            eof: false,
            timers: TimerTable::new(),
            rng: None,
            hixie: None,
        };
        let mut header_error = None;
        for (name, value) in &connection.options.headers {
            if let Err(e) = connection.headers.set(name, value) {
                header_error.get_or_insert(e);
            }
        }
        if let Some(e) = header_error {
            connection.fail_before_open(Error::Usage(Usage::InvalidHeader(e)), None);
        }
        if let Some(e) = registry_error {
            // Two extensions with one name in the options: a programming error we
            // cannot return from a constructor, so the connection fails at once.
            connection.fail_before_open(Error::Usage(Usage::Extension(e)), None);
        }
        connection
    }

    // ----- getters -------------------------------------------------------------

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The ready state.
    pub fn state(&self) -> ReadyState {
        match self.phase {
            Phase::ReadingRequest
            | Phase::AwaitingStart
            | Phase::ClientIdle
            | Phase::AwaitingResponse(_)
            | Phase::AwaitingHixieBody(_) => ReadyState::Connecting,
            Phase::Open => ReadyState::Open,
            Phase::Closing => ReadyState::Closing,
            Phase::Closed => ReadyState::Closed,
        }
    }

    /// The protocol version in use: `"hybi-13"`, or `"hixie-75"` / `"hixie-76"` for
    /// a server that accepted a legacy draft.
    pub fn version(&self) -> &'static str {
        match self.hixie.as_ref().map(wsd_hixie::Decoder::draft) {
            None => "hybi-13",
            Some(wsd_hixie::Draft::Hixie75) => "hixie-75",
            Some(wsd_hixie::Draft::Hixie76) => "hixie-76",
        }
    }

    /// The negotiated subprotocol, once open.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The names of the negotiated extensions, in pipeline order.
    pub fn extensions(&self) -> impl Iterator<Item = &str> + '_ {
        self.pipeline.names()
    }

    /// Servers: the HTTP request, once read.
    pub fn request(&self) -> Option<&Request> {
        self.request.as_ref()
    }

    /// Clients: the URL.
    pub fn url(&self) -> Option<&Url> {
        self.url.as_ref()
    }

    /// Clients: the HTTP status of the server's response, once read (also when the
    /// handshake failed).
    pub fn status(&self) -> Option<u16> {
        self.response.as_ref().map(|r| r.status)
    }

    /// Clients: the server's response headers, once read.
    pub fn response_headers(&self) -> Option<&Headers> {
        self.response.as_ref().map(|r| &r.headers)
    }

    /// True once the connection is closed and the transport should be shut down
    /// (after writing [`pending_output`](Self::pending_output)).
    pub fn wants_close(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// The options the connection was made with.
    pub fn options(&self) -> &Options {
        &self.options
    }

    /// True when no more input is wanted (closed, or the peer's close frame arrived).
    pub fn is_closed(&self) -> bool {
        matches!(self.phase, Phase::Closed)
    }

    /// Bytes waiting to be written to the transport.
    pub fn buffered_amount(&self) -> usize {
        self.out.len()
    }

    /// Bytes received but not parsed yet.
    pub fn buffered_input(&self) -> usize {
        self.recv.len()
    }

    // ----- input ---------------------------------------------------------------

    /// Buffers bytes read from the transport. They are parsed by
    /// [`poll_event`](Self::poll_event). Input after the connection closed is dropped.
    pub fn handle_input(&mut self, bytes: &[u8]) {
        if !self.is_closed() {
            self.recv.extend_from_slice(bytes);
        }
    }

    /// Reads input straight into the connection's buffer, saving the copy
    /// [`handle_input`](Self::handle_input) makes; for adapters. `read` gets the
    /// buffer, which holds the input not parsed yet, and appends what the transport
    /// gives (ask [`read_size`](Self::read_size) how much). Appending is the only
    /// change it may make: anything else reads as if the peer had sent other bytes.
    /// Returns what `read` returns. Input after the connection closed is dropped.
    ///
    /// ```
    /// # use wsd_core::{Connection, Event, Options};
    /// let mut server = Connection::server(Options::default());
    /// let request = b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Version: 13\r\n\r\n";
    /// let mut transport = &request[..]; // any reader
    /// let size = server.read_size(4096);
    /// let n = server.read_input(|buf| {
    ///     let n = transport.len().min(size);
    ///     buf.extend_from_slice(&transport[..n]);
    ///     n
    /// });
    /// assert_eq!(n, request.len());
    /// assert_eq!(server.poll_event(), Some(Event::Request));
    /// ```
    pub fn read_input<R>(&mut self, read: impl FnOnce(&mut BytesMut) -> R) -> R {
        let before = self.recv.len();
        let result = read(&mut self.recv);
        if self.is_closed() {
            self.recv.truncate(before);
        }
        result
    }

    /// How many bytes the next read into [`read_input`](Self::read_input) should
    /// ask for, given the caller's `usual` read size:
    ///
    /// - more while a large frame arrives: up to the rest of the frame, but at most
    ///   twice the input already buffered, so the buffer grows only with what the
    ///   peer really sent (a 1 MiB message takes about five reads, not 16 of 64 KiB);
    /// - less for the tail of a frame of at least half the usual size: just its rest.
    ///   Its payload leaves as a `Bytes` that shares the buffer, and while the
    ///   application or the output queue holds it, the next read needs a new
    ///   buffer; ending the read at the frame's end leaves nothing there to copy
    ///   over (with 64 KiB reads of 64 KiB messages, a read past the end carried
    ///   almost a whole next frame);
    /// - `usual` otherwise.
    ///
    /// ```
    /// # use wsd_core::{Connection, Options};
    /// let server = Connection::server(Options::default());
    /// assert_eq!(server.read_size(64 * 1024), 64 * 1024); // between frames
    /// ```
    pub fn read_size(&self, usual: usize) -> usize {
        if self.hixie.is_some() {
            return usual;
        }
        let buffered = self.recv.len();
        let rest = self.decoder.payload_remaining(buffered);
        match self.decoder.payload_len() {
            Some(len) if rest > 0 && rest < usual && len >= usual / 2 => rest,
            _ => usual.max(rest.min(buffered.saturating_mul(2))),
        }
    }

    /// Frees the input and output buffers if they are empty, so an idle connection
    /// holds neither. Adapters call it when the transport has nothing to read and
    /// the output is written; the next read allocates again.
    pub fn release_buffers(&mut self) {
        if self.recv.is_empty() && self.recv.capacity() > 0 {
            self.recv = BytesMut::new();
        }
        self.out.release_if_empty(0);
    }

    /// The transport's read side ended. Input already buffered is still parsed; then,
    /// without a close frame, the connection closes with 1006.
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    /// Fires the timers due at `now`: the opening handshake timeout (the connection
    /// fails) and the closing handshake timeout (the connection closes with 1006).
    /// Calling it early or twice does nothing.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.timers.take_expired(Timer::Handshake, now) && self.is_connecting() {
            self.fail_before_open(Error::HandshakeTimeout, None);
        }
        if self.timers.take_expired(Timer::Close, now) && matches!(self.phase, Phase::Closing) {
            self.finish(
                CloseCode::ABNORMAL,
                "the peer did not answer the close frame in time",
            );
        }
    }

    /// Whether a timer is running or waits to be armed: when false,
    /// [`poll_timeout`](Self::poll_timeout) would return `None` and the adapter can
    /// skip reading the clock (it does so once or twice per message otherwise).
    pub fn has_timers(&self) -> bool {
        !self.timers.is_idle()
    }

    /// The next deadline to call [`handle_timeout`](Self::handle_timeout) at, if any.
    /// Timers started by earlier commands are armed from `now`.
    pub fn poll_timeout(&mut self, now: Instant) -> Option<Instant> {
        self.timers.arm(now)
    }

    // ----- output --------------------------------------------------------------

    /// The bytes to write to the transport next: a contiguous front part of the
    /// output. Large payloads sent as [`Bytes`] are queued by reference rather than
    /// copied after their header, so write, [`consume_output`](Self::consume_output)
    /// and repeat until this is empty; or write everything at once with
    /// [`pending_output_vectored`](Self::pending_output_vectored).
    pub fn pending_output(&self) -> &[u8] {
        self.out.front()
    }

    /// Fills `slices` with the runs of pending output, in order, for a vectored write
    /// (`writev`); returns how many it filled. Together they are the first bytes of
    /// the output (all of it when `slices` has room).
    ///
    /// ```
    /// # use wsd_core::{Connection, Options};
    /// # use std::io::IoSlice;
    /// let mut client = Connection::client("ws://example.com/", Options::default()).unwrap();
    /// client.start().unwrap();
    /// let mut slices = [IoSlice::new(&[]); 8];
    /// let n = client.pending_output_vectored(&mut slices);
    /// let total: usize = slices[..n].iter().map(|s| s.len()).sum();
    /// assert_eq!(total, client.buffered_amount());
    /// ```
    pub fn pending_output_vectored<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        self.out.slices(slices)
    }

    /// Reports that the first `n` bytes of the pending output were written.
    pub fn consume_output(&mut self, n: usize) {
        self.out.consume(n);
        self.out.release_if_empty(SHRINK_ABOVE);
    }

    /// Moves all pending output to the end of `buf`; returns how many bytes.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let n = self.out.len();
        self.out.copy_to(buf);
        self.consume_output(n);
        n
    }

    /// All pending output as a new vector (handy in tests).
    pub fn poll_transmit_vec(&mut self) -> Vec<u8> {
        let mut buf = Vec::new();
        self.poll_transmit(&mut buf);
        buf
    }

    // ----- configuration before start ---------------------------------------

    /// Sets a header for the handshake request (client) or 101 response (server);
    /// before [`start`](Self::start) only. A later header with the same name is
    /// ignored, except `Set-Cookie`-like ones (seed semantics); names and values with
    /// CR, LF or NUL are refused.
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<(), Error> {
        if !self.before_start() {
            return Err(Usage::AfterStart.into());
        }
        self.headers
            .set(name, value)
            .map(|_| ())
            .map_err(|e| Usage::InvalidHeader(e).into())
    }

    /// Registers an extension to negotiate (the seed's `addExtension`); before
    /// [`start`](Self::start) only.
    pub fn add_extension(
        &mut self,
        extension: std::sync::Arc<dyn wsd_extensions::Extension>,
    ) -> Result<(), Error> {
        if !self.before_start() {
            return Err(Usage::AfterStart.into());
        }
        self.extensions
            .add(extension)
            .map_err(|e| Usage::Extension(e).into())
    }

    /// Servers: replaces the subprotocols to accept, for example after looking at the
    /// request; before [`start`](Self::start) only.
    pub fn set_protocols(&mut self, protocols: Vec<String>) -> Result<(), Error> {
        if !self.before_start() {
            return Err(Usage::AfterStart.into());
        }
        self.options.protocols = protocols;
        Ok(())
    }

    fn before_start(&self) -> bool {
        matches!(
            self.phase,
            Phase::ReadingRequest | Phase::AwaitingStart | Phase::ClientIdle
        ) && !self.start_requested
    }

    fn is_connecting(&self) -> bool {
        self.state() == ReadyState::Connecting
    }

    // ----- the handshake -----------------------------------------------------

    /// Starts the protocol: a client sends its request; a server validates the
    /// request and answers 101 (opening at once) or an HTTP error (the connection
    /// then fails with [`Event::Error`] and [`Event::Close`], and `start` returns
    /// that error too). A server still reading its request remembers the call and
    /// starts as soon as the request is complete.
    pub fn start(&mut self) -> Result<(), Error> {
        match self.phase {
            Phase::ClientIdle => {
                self.start_client();
                Ok(())
            }
            Phase::AwaitingStart => self.start_server(),
            Phase::ReadingRequest if !self.start_requested => {
                self.start_requested = true;
                Ok(())
            }
            Phase::Closed => Err(Usage::Closed.into()),
            _ => Err(Usage::AlreadyStarted.into()),
        }
    }

    fn start_client(&mut self) {
        let mut key = [0u8; 16];
        if let Some(rng) = self.rng.as_mut() {
            rng.fill_bytes(&mut key);
        }
        let options = ClientOptions {
            protocols: self.options.protocols.clone(),
            origin: self.options.origin.clone(),
            headers: self.headers.clone(),
            extensions: self.extensions.client_offer_header(),
        };
        let handshake = self
            .url
            .as_ref()
            .ok_or_else(|| Usage::InvalidUrl("no URL".into()))
            .and_then(|url| {
                ClientHandshake::new(url, key, options)
                    .map_err(|e| Usage::InvalidUrl(e.to_string()))
            });
        match handshake {
            Ok(handshake) => {
                let mut request = Vec::new();
                handshake.write_request(&mut request);
                self.out.extend_from_slice(&request);
                self.phase = Phase::AwaitingResponse(Box::new(handshake));
                self.timers
                    .request(Timer::Handshake, self.options.handshake_timeout);
            }
            // The URL and protocols were checked at construction; a custom header
            // or protocol can still be refused here.
            Err(usage) => self.fail_before_open(Error::Usage(usage), None),
        }
    }

    fn start_server(&mut self) -> Result<(), Error> {
        let Some(request) = self.request.as_ref() else {
            return Err(Usage::NotAwaitingRequest.into());
        };
        if self.options.allow_drafts {
            match server::detect_version(request) {
                server::Draft::Hixie75 => return self.start_hixie(wsd_hixie::Draft::Hixie75),
                server::Draft::Hixie76 => return self.start_hixie(wsd_hixie::Draft::Hixie76),
                _ => {}
            }
        }
        let accepted = match server::negotiate(request, &self.options.protocols) {
            Ok(accepted) => accepted,
            Err(rejection) => {
                let error = match rejection.reason.clone() {
                    Some(reason) => Error::Handshake(wsd_handshake::Error::Request(reason)),
                    None => Error::Rejected {
                        status: rejection.status,
                        message: rejection.message.clone(),
                    },
                };
                self.fail_before_open(error.clone(), Some(&rejection));
                return Err(error);
            }
        };
        let (extensions_response, pipeline) = match self
            .extensions
            .server_negotiate(accepted.extensions_offer.as_deref())
        {
            Ok(negotiated) => negotiated,
            Err(e) => {
                let rejection = Rejection::bad_request(e.to_string());
                let error = Error::Negotiation(e);
                self.fail_before_open(error.clone(), Some(&rejection));
                return Err(error);
            }
        };
        let mut response = Vec::new();
        if let Err(e) =
            accepted.write_response(&self.headers, extensions_response.as_deref(), &mut response)
        {
            let rejection = Rejection {
                status: 500,
                message: e.to_string(),
                reason: None,
            };
            let error = Error::Handshake(e);
            self.fail_before_open(error.clone(), Some(&rejection));
            return Err(error);
        }
        self.out.extend_from_slice(&response);
        self.protocol = accepted.protocol;
        self.open(pipeline);
        Ok(())
    }

    /// Accepts a legacy-draft request: writes the draft's 101 head; Hixie-75 opens at
    /// once, Hixie-76 once the 8 key bytes of the body are in.
    fn start_hixie(&mut self, draft: wsd_hixie::Draft) -> Result<(), Error> {
        let Some(request) = self.request.as_ref() else {
            return Err(Usage::NotAwaitingRequest.into());
        };
        let refuse = |message: &str| Rejection::bad_request(message);
        let mut rejection = None;
        if !server::is_websocket_request(request) {
            rejection = Some(refuse("Not a WebSocket request"));
        }
        let challenge = match draft {
            wsd_hixie::Draft::Hixie76 => {
                let key1 = request
                    .headers
                    .get("sec-websocket-key1")
                    .unwrap_or_default();
                let key2 = request
                    .headers
                    .get("sec-websocket-key2")
                    .unwrap_or_default();
                match wsd_hixie::Challenge::from_keys(key1.as_bytes(), key2.as_bytes()) {
                    Ok(challenge) => Some(challenge),
                    Err(_) => {
                        rejection
                            .get_or_insert(refuse("Client sent invalid Sec-WebSocket-Key headers"));
                        None
                    }
                }
            }
            wsd_hixie::Draft::Hixie75 => None,
        };
        let protocol_header = match draft {
            wsd_hixie::Draft::Hixie75 => "websocket-protocol",
            wsd_hixie::Draft::Hixie76 => "sec-websocket-protocol",
        };
        let protocol = request.headers.get(protocol_header).and_then(|offered| {
            offered
                .split([',', ' '])
                .map(str::trim)
                .find(|p| self.options.protocols.iter().any(|ours| ours == p))
                .map(str::to_owned)
        });
        let secure = request
            .headers
            .get("x-forwarded-proto")
            .is_some_and(|p| p.eq_ignore_ascii_case("https"));
        let location = format!(
            "{}://{}{}",
            if secure { "wss" } else { "ws" },
            request.headers.get("host").unwrap_or_default(),
            request.target
        );
        let origin = request.headers.get("origin");
        let extra: Vec<(String, String)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect();
        let mut head = Vec::new();
        let written = wsd_hixie::ResponseHead {
            origin: origin.as_deref(),
            location: &location,
            protocol: protocol.as_deref(),
            headers: &extra,
        }
        .write(draft, &mut head);
        if let (None, Err(e)) = (&rejection, written) {
            rejection = Some(Rejection {
                status: 500,
                message: e.to_string(),
                reason: None,
            });
        }
        if let Some(rejection) = rejection {
            let error = Error::Rejected {
                status: rejection.status,
                message: rejection.message.clone(),
            };
            self.fail_before_open(error.clone(), Some(&rejection));
            return Err(error);
        }
        self.out.extend_from_slice(&head);
        self.protocol = protocol;
        self.hixie = Some(wsd_hixie::Decoder::new(draft, self.options.max_length));
        match challenge {
            Some(challenge) => self.phase = Phase::AwaitingHixieBody(challenge),
            None => self.open(Pipeline::default()),
        }
        Ok(())
    }

    /// Hixie-76: answers the key challenge once the 8 body bytes are in.
    fn read_hixie_body(&mut self) -> bool {
        let Phase::AwaitingHixieBody(challenge) = &self.phase else {
            return false;
        };
        let Some(body) = self.recv.get(..wsd_hixie::BODY_LEN) else {
            if self.eof {
                self.transport_lost();
                return true;
            }
            return false;
        };
        let mut key = [0u8; wsd_hixie::BODY_LEN];
        key.copy_from_slice(body);
        let answer = challenge.answer(&key);
        self.recv.advance(wsd_hixie::BODY_LEN);
        self.out.extend_from_slice(&answer);
        self.open(Pipeline::default());
        true
    }

    /// Parses one legacy-draft frame.
    fn read_hixie_frame(&mut self) -> bool {
        let Some(decoder) = self.hixie.as_mut() else {
            return false;
        };
        match decoder.decode(&mut self.recv) {
            Ok(Some(wsd_hixie::Frame::Text(text))) => {
                let message = Message::Text(Utf8Bytes::from_validated(text));
                self.events.push_back(Event::Message(message));
                true
            }
            Ok(Some(wsd_hixie::Frame::Close)) => {
                if matches!(self.phase, Phase::Open) {
                    self.write_close(CloseCode::NORMAL, "");
                }
                self.finish(CloseCode::NO_STATUS, "");
                true
            }
            Ok(None) => {
                if self.eof {
                    self.transport_lost();
                    return true;
                }
                false
            }
            Err(e) => {
                let code = match e {
                    wsd_hixie::Error::InvalidUtf8 { .. } => CloseCode::INVALID_PAYLOAD,
                    wsd_hixie::Error::TextTooLong { .. }
                    | wsd_hixie::Error::FrameTooLong { .. } => CloseCode::MESSAGE_TOO_BIG,
                    _ => CloseCode::PROTOCOL_ERROR,
                };
                self.fail(code, Error::Hixie(e));
                true
            }
        }
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
        if !matches!(self.phase, Phase::AwaitingStart) {
            return Err(Usage::NotAwaitingRequest.into());
        }
        let mut list = HeaderList::new();
        for (name, value) in headers {
            list.set(name, value).map_err(Usage::InvalidHeader)?;
        }
        let reason = wsd_handshake::reason_phrase(status);
        let mut head = format!("HTTP/1.1 {status} {reason}\r\n").into_bytes();
        list.write(&mut head);
        head.extend_from_slice(
            format!(
                "Content-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .as_bytes(),
        );
        self.out.extend_from_slice(&head);
        self.out.extend_from_slice(body);
        self.queued.clear();
        self.timers.stop_all();
        self.recv.clear();
        self.phase = Phase::Closed;
        // No WebSocket was ever open: report the end as a normal close.
        self.emit_close(CloseCode::NORMAL, "answered with plain HTTP");
        Ok(())
    }

    /// The connection opens: flush queued commands, emit `Open`.
    fn open(&mut self, pipeline: Pipeline) {
        self.decoder.set_allowed_rsv(pipeline.rsv());
        self.pipeline = pipeline;
        self.phase = Phase::Open;
        self.timers.stop(Timer::Handshake);
        self.events.push_back(Event::Open);
        while let Some(command) = self.queued.pop_front() {
            let result = match command {
                Queued::Message(message) => self.send_now(message),
                Queued::Ping(payload) => {
                    self.write_frame(OpCode::Ping, Rsv::NONE, &payload);
                    Ok(())
                }
                Queued::Pong(payload) => {
                    self.write_frame(OpCode::Pong, Rsv::NONE, &payload);
                    Ok(())
                }
            };
            if result.is_err() {
                break;
            }
        }
    }

    // ----- commands ------------------------------------------------------------

    /// Sends a message (queued if the connection is not open yet). Fails when the
    /// connection is closing or closed.
    ///
    /// Control messages do what their commands do: `Ping` is [`ping`](Self::ping)
    /// (its id is not returned), `Pong` is [`pong`](Self::pong), and `Close` is
    /// [`close`](Self::close) (`None`: 1000 with no reason).
    pub fn send(&mut self, message: Message) -> Result<(), Error> {
        let message = match message {
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
        match self.phase {
            Phase::Open => self.send_now(message),
            Phase::Closing | Phase::Closed => Err(Usage::Closed.into()),
            _ => {
                self.queued.push_back(Queued::Message(message));
                Ok(())
            }
        }
    }

    /// Sends a text message (the seed's `text`).
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        if self.encodes_borrowed() {
            self.write_frame(OpCode::Text, Rsv::NONE, text.as_bytes());
            return Ok(());
        }
        self.send(Message::Text(Utf8Bytes::from(text)))
    }

    /// Sends a binary message (the seed's `binary`).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        if self.encodes_borrowed() {
            self.write_frame(OpCode::Binary, Rsv::NONE, data);
            return Ok(());
        }
        self.send(Message::Binary(Bytes::copy_from_slice(data)))
    }

    /// True when a borrowed payload can be framed straight into the output: open, on
    /// RFC 6455, with no extension to transform it. Then `send_text`/`send_binary`
    /// skip copying the caller's bytes into a `Message` first (one copy per message,
    /// not two).
    fn encodes_borrowed(&self) -> bool {
        matches!(self.phase, Phase::Open) && self.pipeline.is_empty() && self.hixie.is_none()
    }

    fn send_now(&mut self, message: Message) -> Result<(), Error> {
        if self.hixie.is_some() {
            return match message {
                Message::Text(text) => {
                    let mut frame = Vec::with_capacity(text.len() + 2);
                    wsd_hixie::encode_text(text.as_str(), &mut frame);
                    self.out.extend_from_slice(&frame);
                    Ok(())
                }
                _ => Err(Usage::NotSupportedByDraft("binary messages").into()),
            };
        }
        let opcode = if message.is_text() {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        let data = message.into_data();
        if self.pipeline.is_empty() {
            self.write_data_frame(opcode, Rsv::NONE, data);
            return Ok(());
        }
        match self.pipeline.encode(ExtMessage {
            opcode,
            rsv: Rsv::NONE,
            data,
        }) {
            Ok(encoded) => {
                self.write_data_frame(encoded.opcode, encoded.rsv, encoded.data);
                Ok(())
            }
            Err(e) => {
                let code = e.close_code();
                let error = Error::Extension(e);
                self.fail(code, error.clone());
                Err(error)
            }
        }
    }

    /// Sends a ping (queued if not open yet); the returned id comes back in
    /// [`Event::Pong`] when a pong with the same payload arrives (the seed's ping
    /// callback). The payload is at most 125 bytes.
    pub fn ping(&mut self, payload: &[u8]) -> Result<PingId, Error> {
        check_control_len(payload.len())?;
        self.check_draft_supports("pings")?;
        let payload = Bytes::copy_from_slice(payload);
        match self.phase {
            Phase::Open => self.write_frame(OpCode::Ping, Rsv::NONE, &payload),
            Phase::Closing | Phase::Closed => return Err(Usage::Closed.into()),
            _ => self.queued.push_back(Queued::Ping(payload.clone())),
        }
        let id = PingId(self.next_ping);
        self.next_ping += 1;
        if self.pings.len() == MAX_OUTSTANDING_PINGS {
            self.pings.pop_front();
        }
        self.pings.push_back((id, payload));
        Ok(id)
    }

    /// Sends an unsolicited pong (queued if not open yet). Pings are answered
    /// automatically; this is for heartbeats. The payload is at most 125 bytes.
    pub fn pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        check_control_len(payload.len())?;
        self.check_draft_supports("pongs")?;
        match self.phase {
            Phase::Open => self.write_frame(OpCode::Pong, Rsv::NONE, payload),
            Phase::Closing | Phase::Closed => return Err(Usage::Closed.into()),
            _ => self
                .queued
                .push_back(Queued::Pong(Bytes::copy_from_slice(payload))),
        }
        Ok(())
    }

    fn check_draft_supports(&self, what: &'static str) -> Result<(), Error> {
        match self.hixie {
            Some(_) => Err(Usage::NotSupportedByDraft(what).into()),
            None => Ok(()),
        }
    }

    /// Starts the closing handshake (RFC 6455 section 7): sends a close frame with
    /// `code` and `reason` (at most 123 bytes) and waits for the peer's; the `Close`
    /// event comes when it arrives, or with 1006 after
    /// [`Options::close_timeout`](crate::Options::close_timeout). Messages sent
    /// before are written before the close frame.
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
        match self.phase {
            // The drafts have no closing handshake to wait for (Hixie-76 sends its
            // 0xFF 0x00 marker and is done).
            Phase::Open if self.hixie.is_some() => {
                self.write_close(code, reason);
                self.finish(code, reason);
                Ok(())
            }
            Phase::Open => {
                self.write_close(code, reason);
                self.phase = Phase::Closing;
                self.timers
                    .request(Timer::Close, self.options.close_timeout);
                Ok(())
            }
            Phase::Closing | Phase::Closed => Err(Usage::Closed.into()),
            _ => {
                let reason = self.discard_queued(reason);
                self.finish(code, &reason);
                Ok(())
            }
        }
    }

    // ----- events --------------------------------------------------------------

    /// The next event, parsing buffered input as needed; `None` when more input (or
    /// a command, or a timeout) is needed.
    pub fn poll_event(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            let progressed = match self.phase {
                Phase::ReadingRequest => self.read_request(),
                Phase::AwaitingResponse(_) => self.read_response(),
                Phase::AwaitingHixieBody(_) => self.read_hixie_body(),
                Phase::Open | Phase::Closing if self.hixie.is_some() => self.read_hixie_frame(),
                Phase::Open | Phase::Closing => self.read_frame(),
                Phase::AwaitingStart | Phase::ClientIdle => {
                    // Input waits for `start`; only the end of the transport matters.
                    if self.eof {
                        self.transport_lost();
                        true
                    } else {
                        false
                    }
                }
                Phase::Closed => false,
            };
            if !progressed && self.events.is_empty() {
                return None;
            }
        }
    }

    fn read_request(&mut self) -> bool {
        match Request::parse(&self.recv, &self.options.limits) {
            Ok(Status::Complete((request, consumed))) => {
                self.recv.advance(consumed);
                self.request = Some(request);
                self.phase = Phase::AwaitingStart;
                self.events.push_back(Event::Request);
                if std::mem::take(&mut self.start_requested) {
                    // An error here is reported through events already.
                    let _ = self.start_server();
                }
                true
            }
            Ok(Status::Partial) => {
                if self.eof {
                    self.transport_lost();
                    return true;
                }
                false
            }
            Err(e) => {
                let rejection = Rejection::bad_request(e.to_string());
                self.fail_before_open(Error::Handshake(e), Some(&rejection));
                true
            }
        }
    }

    fn read_response(&mut self) -> bool {
        let parsed = Response::parse(&self.recv, &self.options.limits);
        let (response, consumed) = match parsed {
            Ok(Status::Complete(done)) => done,
            Ok(Status::Partial) => {
                if self.eof {
                    self.transport_lost();
                    return true;
                }
                return false;
            }
            Err(e) => {
                self.fail_before_open(Error::Handshake(e), None);
                return true;
            }
        };
        self.recv.advance(consumed);
        let Phase::AwaitingResponse(handshake) = &self.phase else {
            return false;
        };
        let validated = handshake.validate(&response);
        self.response = Some(response);
        let negotiated = match validated {
            Ok(negotiated) => negotiated,
            Err(e) => {
                self.fail_before_open(Error::Handshake(wsd_handshake::Error::Response(e)), None);
                return true;
            }
        };
        match self
            .extensions
            .client_activate(negotiated.extensions.as_deref())
        {
            Ok(pipeline) => {
                self.protocol = negotiated.protocol;
                self.open(pipeline);
            }
            Err(e) => self.fail_before_open(Error::Negotiation(e), None),
        }
        true
    }

    /// Parses one frame if there is one; returns whether anything happened.
    fn read_frame(&mut self) -> bool {
        if self.recv.is_empty() && self.decoder.payload_len().is_none() && !self.eof {
            // Between frames with nothing buffered, which is how every message ends
            // and every wait begins: nothing to decode.
            return false;
        }
        match self.decoder.decode(&mut self.recv) {
            Ok(Some(frame)) => {
                self.handle_frame(frame);
                true
            }
            Ok(None) => {
                if self.eof {
                    self.transport_lost();
                    return true;
                }
                false
            }
            Err(e) => {
                self.fail(e.close_code(), Error::Protocol(e));
                true
            }
        }
    }

    fn handle_frame(&mut self, frame: Frame) {
        match frame.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => self.handle_data(frame),
            OpCode::Ping => {
                let payload = frame.payload.freeze();
                if matches!(self.phase, Phase::Open) {
                    self.write_frame(OpCode::Pong, Rsv::NONE, &payload);
                }
                self.events.push_back(Event::Ping(payload));
            }
            OpCode::Pong => {
                let payload = frame.payload.freeze();
                let answers = self
                    .pings
                    .iter()
                    .position(|(_, p)| *p == payload)
                    .and_then(|i| self.pings.remove(i))
                    .map(|(id, _)| id);
                self.events.push_back(Event::Pong { payload, answers });
            }
            OpCode::Close => self.handle_close(&frame.payload),
        }
    }

    fn handle_data(&mut self, frame: Frame) {
        if frame.fin && self.fragments.is_none() {
            // The common case: a whole message in one frame, no copy.
            self.deliver(frame.message_opcode, frame.rsv, frame.payload.freeze());
            return;
        }
        let fragments = self.fragments.get_or_insert_with(|| Fragments {
            opcode: frame.message_opcode,
            rsv: frame.rsv,
            data: BytesMut::new(),
        });
        fragments.data.extend_from_slice(&frame.payload);
        if frame.fin {
            if let Some(done) = self.fragments.take() {
                self.deliver(done.opcode, done.rsv, done.data.freeze());
            }
        }
    }

    /// Runs a whole message through the extensions and emits it.
    fn deliver(&mut self, opcode: OpCode, rsv: Rsv, data: Bytes) {
        let (opcode, data) = if rsv.is_empty() && self.pipeline.is_empty() {
            (opcode, data)
        } else {
            match self
                .pipeline
                .decode(ExtMessage { opcode, rsv, data }, self.options.max_length)
            {
                Ok(decoded) => {
                    if decoded.data.len() > self.options.max_length {
                        let limit = self.options.max_length;
                        self.fail(CloseCode::MESSAGE_TOO_BIG, Error::MessageTooLong { limit });
                        return;
                    }
                    // The frame decoder checked UTF-8 only for untransformed text.
                    if decoded.opcode == OpCode::Text
                        && !rsv.is_empty()
                        && simdutf8::basic::from_utf8(&decoded.data).is_err()
                    {
                        self.fail(CloseCode::INVALID_PAYLOAD, Error::InvalidUtf8);
                        return;
                    }
                    (decoded.opcode, decoded.data)
                }
                Err(e) => {
                    self.fail(e.close_code(), Error::Extension(e));
                    return;
                }
            }
        };
        let message = if opcode == OpCode::Text {
            Message::Text(Utf8Bytes::from_validated(data))
        } else {
            Message::Binary(data)
        };
        self.events.push_back(Event::Message(message));
    }

    fn handle_close(&mut self, payload: &[u8]) {
        let (code, reason) = match CloseFrame::parse(payload) {
            Ok(frame) => (frame.code, frame.reason.to_owned()),
            Err(e) => {
                self.fail(e.close_code(), Error::Protocol(e));
                return;
            }
        };
        if matches!(self.phase, Phase::Open) {
            // Echo the code (RFC 6455 section 5.5.1); an empty close gets an empty one.
            match code {
                Some(code) => self.write_close(code, ""),
                None => self.write_frame(OpCode::Close, Rsv::NONE, &[]),
            }
        }
        self.finish(code.unwrap_or(CloseCode::NO_STATUS), &reason);
    }

    // ----- endings -------------------------------------------------------------

    /// Fails an open connection: close frame with `code` (unless one was sent), then
    /// `Error` and `Close` events, input discarded.
    fn fail(&mut self, code: CloseCode, error: Error) {
        let reason = error.to_string();
        if !self.close_sent && matches!(self.phase, Phase::Open | Phase::Closing) {
            self.write_close(code, truncate(&reason));
        }
        if !self.close_emitted {
            self.events.push_back(Event::Error(error));
        }
        self.finish(code, &reason);
    }

    /// Fails a connection that never opened: answer with `rejection` (servers), then
    /// `Error` and `Close` (1002, or 1006 for a timeout, as the seed reports).
    fn fail_before_open(&mut self, error: Error, rejection: Option<&Rejection>) {
        if let Some(rejection) = rejection {
            let mut response = Vec::new();
            rejection.write_response(&mut response);
            self.out.extend_from_slice(&response);
        }
        let code = match error {
            Error::HandshakeTimeout => CloseCode::ABNORMAL,
            _ => CloseCode::PROTOCOL_ERROR,
        };
        let reason = self.discard_queued(&error.to_string());
        if !self.close_emitted {
            self.events.push_back(Event::Error(error));
        }
        self.finish(code, &reason);
    }

    /// Drops the commands queued for an open that will not happen; returns `reason`
    /// with their count appended, for the `Close` event.
    fn discard_queued(&mut self, reason: &str) -> String {
        let dropped = self.queued.len();
        self.queued.clear();
        match dropped {
            0 => reason.to_owned(),
            1 => format!("{reason} (1 queued command was not sent)"),
            n => format!("{reason} ({n} queued commands were not sent)"),
        }
    }

    /// The transport ended without a close frame.
    fn transport_lost(&mut self) {
        self.finish(
            CloseCode::ABNORMAL,
            "the connection ended without a close frame",
        );
    }

    /// Enters `Closed`, emitting the `Close` event unless it was emitted already.
    fn finish(&mut self, code: CloseCode, reason: &str) {
        self.phase = Phase::Closed;
        self.timers.stop_all();
        self.recv = BytesMut::new();
        self.fragments = None;
        self.emit_close(code, reason);
    }

    fn emit_close(&mut self, code: CloseCode, reason: &str) {
        if !self.close_emitted {
            self.close_emitted = true;
            self.events.push_back(Event::Close {
                code,
                reason: reason.to_owned(),
            });
        }
    }

    // ----- writing ---------------------------------------------------------------

    fn write_close(&mut self, code: CloseCode, reason: &str) {
        match self.hixie.as_ref().map(wsd_hixie::Decoder::draft) {
            Some(wsd_hixie::Draft::Hixie76) if !self.close_sent => {
                self.close_sent = true;
                self.out.extend_from_slice(&wsd_hixie::CLOSE_FRAME);
                return;
            }
            Some(_) => return,
            None => {}
        }
        let mut payload = Vec::with_capacity(2 + reason.len());
        CloseFrame::encode_payload(code, reason, &mut payload);
        self.write_frame(OpCode::Close, Rsv::NONE, &payload);
    }

    /// Appends one frame to the output; frames after our close frame are dropped.
    fn write_frame(&mut self, opcode: OpCode, rsv: Rsv, payload: &[u8]) {
        if self.close_sent {
            return;
        }
        if opcode == OpCode::Close {
            self.close_sent = true;
        }
        let mask = self.rng.as_mut().map(|rng| {
            let mut key = [0u8; 4];
            rng.fill_bytes(&mut key);
            key
        });
        encode_frame(true, opcode, rsv, payload, mask, self.out.tail());
    }

    /// Appends one data frame whose payload the application handed over: a server
    /// queues a large payload by reference (no copy); a client masks a copy.
    fn write_data_frame(&mut self, opcode: OpCode, rsv: Rsv, payload: Bytes) {
        if self.rng.is_some() || payload.len() < BY_REFERENCE_FROM {
            self.write_frame(opcode, rsv, &payload);
            return;
        }
        if self.close_sent {
            return;
        }
        let header = FrameHeader {
            fin: true,
            rsv,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
        };
        let (encoded, len) = header.encode();
        self.out.extend_from_slice(&encoded[..len]);
        self.out.push_bytes(payload);
    }
}

fn check_control_len(len: usize) -> Result<(), Error> {
    if len > 125 {
        Err(Usage::ControlPayloadTooLong(len).into())
    } else {
        Ok(())
    }
}

/// A failure reason cut to fit a close frame.
fn truncate(reason: &str) -> &str {
    let mut end = reason.len().min(CloseFrame::MAX_REASON_LEN);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests;
