//! [`WebSocket`]: the driver loop over a [`Transport`] and a [`Timer`].

use core::cell::Cell;
use core::convert::Infallible;
use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::io::{self, IoSlice};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures_core::Stream;
use futures_sink::Sink;

use wsd_core::{
    CloseCode, CloseFrame, Connection, Event, Message, Polled, Reply, Request, Usage, WholeMessage,
};

use crate::shutdown::{Level, Watch};
use crate::{Config, Error, ShutdownToken, Timer, Transport};

/// How long, and how much, to read after shutting down writing before giving up on
/// the peer's end of the connection.
const DRAIN_TIME: Duration = Duration::from_secs(1);
const DRAIN_BYTES: usize = 64 * 1024;

/// Where the stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Events flow.
    Running,
    /// The connection ended: writing the last output (the close frame).
    Flushing,
    /// Shutting the write side down.
    ShuttingDown,
    /// Reading until the peer's end (bounded).
    Draining,
    /// The stream has ended.
    Done,
}

/// A WebSocket over a transport `T` with a runtime timer `Z`: a `Stream` of received
/// [`Message`]s and a `Sink` of messages to send.
///
/// The runtime adapters name it for their streams (`wsd_tokio::WebSocket<S>` is
/// `WebSocket<TokioIo<S>, TokioTimer>`); see the crate documentation for how reads,
/// writes and the end of the connection are scheduled. Items after the handshake:
///
/// - `Ok(Message::Text | Binary | Ping | Pong)` as they arrive (pings are answered),
///   including those that arrive after our own close frame was sent;
/// - `Ok(Message::Close(..))` once when the closing handshake completes (or 1006 when
///   the transport ended or the close timeout fired), after which the stream ends;
/// - `Err(Error::Protocol(..))` when the peer broke the protocol: the close frame has
///   been written, and the stream ends;
/// - `Err(Error::Io(..))` when the transport failed, and the stream ends.
///
/// # Cancel safety
///
/// [`next_message`](Self::next_message) and the `Stream` are cancel safe: a message
/// is taken from the connection only in the poll that returns it, so dropping the
/// future (a losing branch of `select!`) loses nothing. [`feed`](Self::feed),
/// [`send`](Self::send) and [`close`](Self::close) are not: dropped while waiting
/// for room, the message was not queued; dropped while flushing, it was queued and
/// goes out with the next write. [`flush`](Self::flush) is cancel safe.
#[derive(Debug)]
pub struct WebSocket<T, Z> {
    /// Boxed: the connection is most of a WebSocket's kilobyte, and a WebSocket is
    /// moved by value (out of a handshake's result, into a session) and often held
    /// twice in an application's future, once as the awaited result and once as the
    /// binding taken from it. With the connection behind a pointer a WebSocket is a
    /// couple of hundred bytes, and an idle server connection about a kilobyte
    /// smaller.
    conn: Box<Connection>,
    io: T,
    timer: Z,
    config: Config,
    /// Bounds writing the last output once the connection ended.
    close_timeout: Option<Duration>,
    phase: Phase,
    read_eof: bool,
    /// Bytes were written since the last flush.
    unflushed: bool,
    /// The item to yield when the ending completes.
    last: Option<Result<Message, Error>>,
    /// The deadline of the ending's current step.
    linger: Option<Instant>,
    drained: usize,
    /// Work the stream may still do before it yields to the executor.
    budget: u32,
    /// For transports that zero-fill reads: how much the next read asks for.
    read_hint: usize,
    /// The server's shutdown switch, while this WebSocket counts as open to it.
    /// Boxed: a WebSocket that watches none pays one pointer.
    shutdown: Option<Box<Watch>>,
    /// The peer is taken for dead (keepalive): one try at each step of the ending,
    /// no waiting for it.
    abandon: bool,
}

/// What [`WebSocket::next_message_with`] gives.
#[derive(Debug)]
pub enum Next<R> {
    /// A message was lent to the closure, which returned this.
    Lent(R),
    /// A message that could not be lent: a fragmented one, one an extension
    /// transforms, a ping or pong, or the final `Message::Close`.
    Message(Message),
}

/// The smallest read a zero-filling transport is asked for.
const MIN_READ: usize = 4096;

/// What a read between frames asks for beyond [`Config::read_buffer_size`]: room
/// for the largest frame header (14 bytes) and some more. A message of up to that
/// many bytes that arrives at once then takes one read, not a full one and a second
/// for its last bytes (two `recvfrom` per 64 KiB message with one in flight, where
/// sockudo-ws, reading 128 KiB, needs one); and that read comes back short of what
/// was asked, which tells tokio the socket is drained, so no read fails with
/// `EAGAIN` before the next wait (asking for exactly the frame's size cost 0.6
/// failing `recvfrom` per message).
pub(super) const READ_SLACK: usize = 1024;

/// At most this many runs of output (headers, payloads queued by reference) per
/// vectored write.
const WRITE_SLICES: usize = 64;

/// How much work the stream does in a row before it lets other tasks run: a message
/// handed out costs one unit, a read one unit plus one per [`READ_UNIT`] bytes it
/// returned. tokio has a cooperative budget of its own; smol and async-std do not,
/// and a connection with a steady supply of input would otherwise never return
/// `Pending` and starve every other task on its thread (their executors poll the
/// reactor only between batches of task runs, so new handshakes time out).
///
/// The size trades task switches (each moves the executor on to another
/// connection's cold buffers) against fairness: 1024 units bound a turn to 1024
/// messages or about 4 MiB of input, which measured fastest (the figures are in
/// `benches/REPORT.md`, "Design measurements"). Stepping aside does not flush: the
/// output is written when the task next waits for input or passes
/// `write_buffer_size`, so write batches stay large.
pub(super) const WORK_BUDGET: u32 = 1024;

/// A read costs one unit of [`WORK_BUDGET`] per this many bytes, plus one.
pub(super) const READ_UNIT: usize = 4 * 1024;

thread_local! {
    /// One empty input buffer per thread, passed from a connection that goes idle
    /// to the next one on the thread that reads. An idle connection must not keep
    /// its buffer (that is the memory of a server holding many connections), but
    /// freeing it and allocating it again for the next message was a tenth of the
    /// user-space instructions per message with one message in flight: one spare per
    /// thread keeps most of them off the allocator.
    pub(super) static SPARE_INPUT: Cell<Option<BytesMut>> = const { Cell::new(None) };
}

/// A spare input buffer larger than this many read sizes (what a large message
/// left) goes back to the allocator instead.
const SPARE_MAX_READS: usize = 2;

impl<T, Z> WebSocket<T, Z> {
    /// Drives `conn` over `io`, a transport connected to the peer, with `timer` for
    /// its deadlines and the buffer sizes of `config`.
    ///
    /// `conn` may be in its handshake (the loop runs it, as [`accept_with`] and
    /// [`client`] do) or already open: a server connection made from a request
    /// another HTTP stack answered, over the upgraded stream it handed over.
    ///
    /// [`accept_with`]: crate::accept_with
    /// [`client`]: crate::client
    pub fn from_connection(conn: Connection, io: T, timer: Z, config: Config) -> Self {
        let close_timeout = conn.options().close_timeout;
        Self {
            conn: Box::new(conn),
            io,
            timer,
            config,
            close_timeout,
            phase: Phase::Running,
            read_eof: false,
            unflushed: false,
            last: None,
            linger: None,
            drained: 0,
            budget: WORK_BUDGET,
            read_hint: MIN_READ,
            shutdown: None,
            abandon: false,
        }
    }

    /// Watches a server's [`Shutdown`](crate::Shutdown) switch: this WebSocket
    /// counts as open to it until its stream ends; when the shutdown begins it sends
    /// close 1001 (Going Away) and finishes the closing handshake, and when the grace
    /// period ends its stream yields an I/O error of kind `ConnectionAborted` and
    /// ends. Both happen while the stream is polled. [`accept_with`] does this from
    /// the handshake on for [`ServerConfig::shutdown`](crate::ServerConfig::shutdown).
    ///
    /// [`accept_with`]: crate::accept_with
    pub fn watch_shutdown(&mut self, token: &ShutdownToken) {
        self.shutdown = Some(Box::new(token.watch()));
    }

    // ----- getters -------------------------------------------------------------

    /// The negotiated subprotocol.
    pub fn protocol(&self) -> Option<&str> {
        self.conn.protocol()
    }

    /// The negotiated extensions, in order.
    pub fn extensions(&self) -> Vec<String> {
        self.conn.extensions().map(str::to_owned).collect()
    }

    /// Servers: the HTTP request.
    pub fn request(&self) -> Option<&Request> {
        self.conn.request()
    }

    /// Clients: the HTTP status of the handshake response (101).
    pub fn response_status(&self) -> Option<u16> {
        self.conn.status()
    }

    /// The sans-I/O connection underneath (state, buffered amounts, getters).
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The transport.
    pub fn get_ref(&self) -> &T {
        &self.io
    }

    /// The transport, mutably (reading or writing it directly breaks the stream).
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.io
    }

    /// The transport, giving up the WebSocket. Output not yet written is lost.
    pub fn into_inner(self) -> T {
        self.io
    }

    /// The connection, the transport and the timer, giving up the WebSocket.
    pub fn into_parts(self) -> (Connection, T, Z) {
        (*self.conn, self.io, self.timer)
    }

    /// Whether the stream side still runs (the connection has not ended).
    pub(crate) fn is_running(&self) -> bool {
        self.phase == Phase::Running
    }

    /// The buffer sizes in use.
    pub fn config(&self) -> Config {
        self.config
    }

    /// Changes the buffer sizes.
    pub fn set_config(&mut self, config: Config) {
        self.config = config;
    }
}

impl<T: Transport, Z: Timer> WebSocket<T, Z> {
    // ----- async conveniences --------------------------------------------------

    /// Sends a message: queues it (waiting while the output queue is full), then
    /// writes and flushes everything queued. Returns once the message is written to
    /// the transport, as `SinkExt::send` does. Not cancel safe (see the type's docs).
    ///
    /// Sending `Message::Close` starts the closing handshake, like
    /// [`close`](Self::close); sending it again while closing does nothing.
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues a message without flushing, waiting while the output queue is over
    /// [`Config::max_write_buffer_size`]. It is written when the stream next waits
    /// for input, when the queue passes [`Config::write_buffer_size`], or on
    /// [`flush`](Self::flush): a server answering a burst of messages writes the
    /// answers in one batch. As `SinkExt::feed`; not cancel safe.
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready_inner(cx)).await?;
        self.start_send_inner(message)
    }

    /// Writes and flushes everything queued. Cancel safe.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_write_out(cx))
            .await
            .map_err(Error::Io)
    }

    /// The next message; `None` once the stream ended. Cancel safe.
    pub async fn next_message(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_next_inner(cx)).await
    }

    /// The next message, lent to `f` when it can be: a message that arrived whole in
    /// one frame, with no extension to undo, is read where it lies in the input buffer
    /// (see [`Connection::poll_message_with`]), and `f` gets it with a [`Reply`] to
    /// send messages meanwhile. Its result comes back as [`Next::Lent`]; any other
    /// message as [`Next::Message`], as [`next_message`](Self::next_message) gives
    /// it, and `f` is not called. `None` once the stream ended. Cancel safe.
    ///
    /// This is the cheapest way to read small messages, and an echo is one line:
    /// `ws.next_message_with(|message, reply| reply.send(message))`. What `f` sends
    /// is queued as [`feed`](Self::feed) queues it; the wait for room happens before
    /// the next message is lent.
    pub async fn next_message_with<R>(
        &mut self,
        f: impl FnOnce(WholeMessage<'_>, &mut Reply<'_>) -> R,
    ) -> Option<Result<Next<R>, Error>> {
        let mut f = Some(f);
        poll_fn(|cx| self.poll_next_with(cx, &mut f)).await
    }

    /// Starts the closing handshake: sends a close frame with `code` and `reason`
    /// (at most 123 bytes) and flushes it. Keep reading the stream: the messages the
    /// peer sent before its own close frame come first, then `Message::Close`, and
    /// the stream ends once the transport is shut down (the peer has
    /// `Options::close_timeout` to answer). Does nothing more if the connection is
    /// already closing or closed.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.start_close(code, reason)?;
        self.flush().await
    }

    /// Queues a close frame unless one was sent.
    fn start_close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        match self.conn.close(code, reason) {
            Ok(()) | Err(wsd_core::Error::Usage(Usage::Closed)) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    // ----- the loop ------------------------------------------------------------

    /// The next event from the connection, reading, writing and firing the timer as
    /// needed.
    pub(crate) fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Event>> {
        self.poll_connection(cx, Connection::poll_event)
    }

    /// What `take` gets from the connection (an event, or a lent message), reading,
    /// writing and firing the timer until it gets something.
    fn poll_connection<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut take: impl FnMut(&mut Connection) -> Option<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            if let Some(taken) = take(&mut self.conn) {
                return Poll::Ready(Ok(taken));
            }
            let deadline = if self.conn.has_timers() {
                self.conn.poll_timeout(self.timer.now())
            } else {
                None
            };
            if self.timer.poll_deadline(cx, deadline).is_ready() {
                self.conn.handle_timeout(self.timer.now());
                continue;
            }
            // Output past the batch size goes out before more input is read. While
            // the peer is not reading and our output is over its bound, stop reading
            // too: otherwise a ping flood would grow the pongs without limit.
            if self.conn.buffered_amount() >= self.config.write_buffer_size {
                match self.poll_write_out(cx) {
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending
                        if self.conn.buffered_amount() > self.config.max_write_buffer_size =>
                    {
                        if self.poll_shutdown(cx)? {
                            continue;
                        }
                        return Poll::Pending;
                    }
                    _ => {}
                }
            }
            if self.read_eof {
                // The connection turns EOF into an event; this is only reached if
                // it is waiting for a command (a server before `start`).
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            if self.budget == 0 {
                // A long run of reads (one huge message) steps aside too.
                self.budget = WORK_BUDGET;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match self.poll_read(cx) {
                Poll::Pending => {
                    // About to wait for input: send what the events produced. Writing
                    // only now batches the answers to everything one wake-up read.
                    // Once it is out, an idle connection keeps no buffer.
                    match self.poll_write_out(cx) {
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Ready(Ok(())) => self.release_buffers(),
                        Poll::Pending => {}
                    }
                    if self.poll_shutdown(cx)? {
                        continue;
                    }
                    return Poll::Pending;
                }
                Poll::Ready(Ok(0)) => {
                    self.read_eof = true;
                    self.conn.handle_eof();
                }
                Poll::Ready(Ok(n)) => {
                    let cost = 1 + u32::try_from(n / READ_UNIT).unwrap_or(u32::MAX);
                    self.budget = self.budget.saturating_sub(cost);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Looks at the shutdown switch before the loop waits (the watch wakes the task
    /// when it moves): sends close 1001 once the shutdown begins, fails once it
    /// aborts. Returns whether there is new work.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> io::Result<bool> {
        let Some(watch) = &mut self.shutdown else {
            return Ok(false);
        };
        match watch.poll(cx) {
            Level::Running => Ok(false),
            Level::Closing if watch.closing_sent => Ok(false),
            Level::Closing => {
                watch.closing_sent = true;
                // Closing or closed already: nothing to add.
                let _ = self
                    .conn
                    .close(CloseCode::GOING_AWAY, "the server is shutting down");
                Ok(true)
            }
            Level::Abort => Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the server shut down before the connection closed",
            )),
        }
    }

    /// Whether the shutdown switch says to end now.
    fn shutdown_aborted(&mut self, cx: &mut Context<'_>) -> bool {
        let watch = self.shutdown.as_mut();
        watch.is_some_and(|watch| watch.poll(cx) == Level::Abort)
    }

    /// Reads into the connection's input buffer, sized by the connection (more
    /// while a large frame arrives, less for its tail).
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let full = self.full_read();
        let zero_fills = self.io.read_zero_fills();
        let usual = self.usual_read_size();
        let size = self.conn.read_size(usual);
        let io = &mut self.io;
        let result = self.conn.read_input(|buf| {
            if buf.capacity() == 0 {
                // Released while idle: take the thread's spare (empty, so the input
                // stays what it was) rather than allocate.
                if let Some(spare) = SPARE_INPUT.take() {
                    *buf = spare;
                }
            }
            io.poll_read_buf(cx, buf, size)
        });
        if let Poll::Ready(Ok(n)) = result {
            // A read sized to a frame's tail says nothing about how much the peer
            // sends, so only reads of the usual size (or more) steer the hint.
            if zero_fills && n > 0 && size >= usual {
                // Grows at once to twice what a read returned (a stream that fills its
                // reads is back at the full size after a few); shrinks by halves, so
                // one short read (the end of a large message) does not shrink the next
                // message's reads.
                let wanted = n.saturating_mul(2).next_power_of_two();
                self.read_hint = wanted.max(self.read_hint / 2).clamp(MIN_READ, full);
            }
        }
        result
    }

    /// The read buffer size and [`READ_SLACK`].
    fn full_read(&self) -> usize {
        self.config
            .read_buffer_size
            .max(1)
            .saturating_add(READ_SLACK)
    }

    /// What a read asks for between frames: the read buffer size, or for a
    /// zero-filling transport what recent reads suggest.
    fn usual_read_size(&self) -> usize {
        let full = self.full_read();
        if self.io.read_zero_fills() {
            self.read_hint.min(full)
        } else {
            full
        }
    }

    /// Nothing to read and nothing to write: frees the connection's buffers. The
    /// empty input buffer becomes the thread's spare instead when the slot is
    /// vacant, the buffer takes the usual read without allocating (it is not still
    /// shared with a payload the application holds, unless it has that much room of
    /// its own), and it is not larger than a few reads.
    fn release_buffers(&mut self) {
        let usual = self.usual_read_size();
        let max = self.config.read_buffer_size.saturating_mul(SPARE_MAX_READS);
        self.conn.read_input(|buf| {
            // `try_reclaim(n)` is true when `n` more bytes fit without allocating
            // (it takes back the whole allocation when nothing else holds it). True
            // for `max + 1`: too large to keep. False for the usual read: still
            // shared with a payload (or small), no use as a spare. Only an empty
            // buffer is asked, so reclaiming never moves input.
            if buf.is_empty() && !buf.try_reclaim(max.saturating_add(1)) && buf.try_reclaim(usual) {
                match SPARE_INPUT.take() {
                    None => SPARE_INPUT.set(Some(core::mem::take(buf))),
                    occupied => SPARE_INPUT.set(occupied),
                }
            }
        });
        self.conn.release_buffers();
    }

    /// Writes all pending output and flushes; `Ready(Ok)` when everything is out.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.buffered_amount() > 0 {
            let front = self.conn.pending_output();
            let n = if front.len() == self.conn.buffered_amount() {
                // One run (small messages): a plain write, which the kernel handles a
                // little faster than a one-entry writev, and no slice array to fill
                // (that was a quarter of this function's instructions).
                ready!(self.io.poll_write(cx, front))?
            } else {
                // Headers and large payloads queued by reference go out in one writev.
                let mut slices = [IoSlice::new(&[]); WRITE_SLICES];
                let count = self.conn.pending_output_vectored(&mut slices);
                ready!(self.io.poll_write_vectored(cx, &slices[..count]))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.conn.consume_output(n);
            self.unflushed = true;
        }
        if self.unflushed {
            ready!(self.io.poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(()))
    }

    /// The stream's poll.
    pub(crate) fn poll_next_inner(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        let item = ready!(self.poll_item(cx, |conn| conn.poll_event().map(Polled::Event)));
        Poll::Ready(item.map(|item| {
            item.map(|next: Next<Infallible>| match next {
                Next::Message(message) => message,
                Next::Lent(never) => match never {},
            })
        }))
    }

    /// [`next_message_with`](Self::next_message_with)'s poll; `f` is taken when a
    /// message is lent to it.
    fn poll_next_with<R, F>(
        &mut self,
        cx: &mut Context<'_>,
        f: &mut Option<F>,
    ) -> Poll<Option<Result<Next<R>, Error>>>
    where
        F: FnOnce(WholeMessage<'_>, &mut Reply<'_>) -> R,
    {
        // What `f` sends skips `feed`'s wait for room, so wait here, before lending.
        if self.phase == Phase::Running {
            if let Err(e) = ready!(self.poll_ready_inner(cx)) {
                return Poll::Ready(Some(Err(e)));
            }
        }
        self.poll_item(cx, |conn| {
            let lend = |message: WholeMessage<'_>, reply: &mut Reply<'_>| {
                f.take().map(|f| f(message, reply))
            };
            match conn.poll_message_with(lend)? {
                // `f` is there: the first loan returns at once.
                Polled::Lent(lent) => lent.map(Polled::Lent),
                Polled::Event(event) => Some(Polled::Event(event)),
            }
        })
    }

    /// The next item, a lent message's result or a message made of an event, from
    /// what `take` gets from the connection.
    fn poll_item<R>(
        &mut self,
        cx: &mut Context<'_>,
        mut take: impl FnMut(&mut Connection) -> Option<Polled<R>>,
    ) -> Poll<Option<Result<Next<R>, Error>>> {
        if self.budget == 0 {
            self.budget = WORK_BUDGET;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.budget -= 1;
        loop {
            if self.phase != Phase::Running {
                return self
                    .poll_end(cx)
                    .map(|item| item.map(|item| item.map(Next::Message)));
            }
            let event = match ready!(self.poll_connection(cx, &mut take)) {
                Ok(Polled::Lent(lent)) => return Poll::Ready(Some(Ok(Next::Lent(lent)))),
                Ok(Polled::Event(event)) => event,
                Err(e) => {
                    // Nothing can be said over a broken transport.
                    self.end_now();
                    return Poll::Ready(Some(Err(Error::Io(e))));
                }
            };
            let message = match event {
                Event::Message(message) => message,
                Event::Ping(payload) => Message::Ping(payload),
                Event::Pong { payload, .. } => Message::Pong(payload),
                Event::Error(e) => {
                    // A peer that stopped answering pings will not read a goodbye.
                    self.abandon = e == wsd_core::Error::KeepaliveTimeout;
                    self.begin_end(Err(e.into()));
                    continue;
                }
                Event::Close { code, reason } => {
                    let frame =
                        (code != CloseCode::NO_STATUS).then_some(CloseFrame { code, reason });
                    self.begin_end(Ok(Message::Close(frame)));
                    continue;
                }
                _ => continue,
            };
            return Poll::Ready(Some(Ok(Next::Message(message))));
        }
    }

    /// The connection ended (the `Close` event, or the `Error` right before it).
    fn begin_end(&mut self, last: Result<Message, Error>) {
        // An error is followed by its `Close`; report the error, not the close.
        while self.conn.poll_event().is_some() {}
        self.begin_handshake_end();
        self.last = Some(last);
    }

    /// The handshake failed: write the answer and shut down, with nothing to yield.
    pub(crate) fn begin_handshake_end(&mut self) {
        self.last = None;
        self.phase = Phase::Flushing;
        let linger = if self.abandon {
            Some(Duration::ZERO)
        } else {
            self.close_timeout
        };
        self.linger = linger.map(|t| self.timer.now() + t);
    }

    pub(crate) fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    fn end_now(&mut self) {
        self.phase = Phase::Done;
        self.conn.release_buffers();
        self.linger = None;
        // Ended: no longer open to a shutdown waiting for it.
        self.shutdown = None;
    }

    /// Flush, shut down, drain, then yield the last item and end.
    pub(crate) fn poll_end(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Message, Error>>> {
        loop {
            let step = match self.phase {
                Phase::Running | Phase::Done => {
                    self.end_now();
                    return Poll::Ready(self.last.take());
                }
                Phase::Flushing => self.poll_write_out(cx).map(|_| ()),
                Phase::ShuttingDown => self.io.poll_shutdown(cx).map(|_| ()),
                Phase::Draining => self.poll_drain(cx),
            };
            // A step that fails gives up on the rest of the goodbye, not the item.
            let expired = step.is_pending()
                && (self.timer.poll_deadline(cx, self.linger).is_ready()
                    || self.shutdown_aborted(cx));
            if step.is_pending() && !expired {
                return Poll::Pending;
            }
            self.phase = match self.phase {
                Phase::Flushing if step.is_ready() => Phase::ShuttingDown,
                Phase::ShuttingDown if step.is_ready() && !self.read_eof && !self.abandon => {
                    self.linger = Some(self.timer.now() + DRAIN_TIME);
                    Phase::Draining
                }
                _ => Phase::Done,
            };
        }
    }

    /// Reads and discards until EOF or `DRAIN_BYTES`; `Ready` when done.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        while self.drained < DRAIN_BYTES {
            match ready!(self.poll_read(cx)) {
                Ok(0) | Err(_) => break,
                Ok(n) => self.drained += n,
            }
        }
        Poll::Ready(())
    }

    pub(crate) fn poll_ready_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.phase == Phase::Done {
            return Poll::Ready(Err(Error::Closed));
        }
        if self.conn.buffered_amount() >= self.config.write_buffer_size {
            if let Poll::Ready(Err(e)) = self.poll_write_out(cx) {
                return Poll::Ready(Err(Error::Io(e)));
            }
        }
        if self.conn.buffered_amount() > self.config.max_write_buffer_size {
            if self.shutdown_aborted(cx) {
                self.end_now();
                return Poll::Ready(Err(Error::Closed));
            }
            // `poll_write_out` is pending, so the transport will wake us.
            return Poll::Pending;
        }
        Poll::Ready(Ok(()))
    }

    pub(crate) fn start_send_inner(&mut self, message: Message) -> Result<(), Error> {
        match message {
            // Closing twice is harmless: an echo loop may send the close back.
            Message::Close(frame) => {
                let (code, reason) =
                    frame.map_or((CloseCode::NORMAL, String::new()), |f| (f.code, f.reason));
                self.start_close(code, &reason)
            }
            message => self.conn.send(message).map_err(Error::from),
        }
    }

    /// `Sink::poll_close`: a close frame (1000) unless one was sent, flushed.
    pub(crate) fn poll_close_inner(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.phase == Phase::Running {
            self.start_close(CloseCode::NORMAL, "")?;
        }
        self.poll_write_out(cx).map_err(Error::Io)
    }
}

impl<T: Transport, Z: Timer> Stream for WebSocket<T, Z> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_inner(cx)
    }
}

impl<T: Transport, Z: Timer> Sink<Message> for WebSocket<T, Z> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready_inner(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().start_send_inner(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_write_out(cx).map_err(Error::Io)
    }

    /// Sends a close frame (1000) unless one was sent, and flushes it. The stream
    /// side still yields what the peer sends until its close frame.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_close_inner(cx)
    }
}
