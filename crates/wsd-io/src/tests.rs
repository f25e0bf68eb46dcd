//! The I/O loop over a scripted in-memory transport: when it reads, when it writes,
//! and when it steps aside.

use crate::socket::{READ_SLACK, READ_UNIT, SPARE_INPUT, WORK_BUDGET};
use crate::*;
use wsd_core::Event;

use core::future::Future;
use core::pin::Pin;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::Wake;

use futures_core::Stream;
use futures_sink::Sink;
use wsd_frame::{OpCode, Rsv, encode_frame};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// What the loop did to the transport, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    Read(usize),
    Write(Vec<u8>),
}

/// Hands out the scripted chunks one read at a time (`Pending` once they run out)
/// and records every read and write.
#[derive(Default)]
struct Scripted {
    input: VecDeque<Vec<u8>>,
    log: Vec<Op>,
    /// The room of every read.
    asked: Vec<usize>,
    /// What `read_zero_fills` answers.
    zero_fills: bool,
}

impl Scripted {
    fn writes(&self) -> Vec<&[u8]> {
        self.log
            .iter()
            .filter_map(|op| match op {
                Op::Write(bytes) => Some(&bytes[..]),
                Op::Read(_) => None,
            })
            .collect()
    }
}

impl Transport for Scripted {
    fn poll_read(&mut self, _: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.asked.push(buf.len());
        let Some(mut chunk) = self.input.pop_front() else {
            return Poll::Pending;
        };
        let n = chunk.len().min(buf.len());
        buf[..n].copy_from_slice(&chunk[..n]);
        if n < chunk.len() {
            self.input.push_front(chunk.split_off(n));
        }
        self.log.push(Op::Read(n));
        Poll::Ready(Ok(n))
    }

    fn read_zero_fills(&self) -> bool {
        self.zero_fills
    }

    fn poll_write(&mut self, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.log.push(Op::Write(buf.to_vec()));
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A timer whose deadlines never pass.
struct Never;

impl Timer for Never {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn poll_deadline(&mut self, _: &mut Context<'_>, _: Option<Instant>) -> Poll<()> {
        Poll::Pending
    }
}

/// Counts its wake-ups.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// An open server WebSocket over `input` (the 101 already written and cleared).
fn open_server(input: Vec<Vec<u8>>) -> WebSocket<Scripted, Never> {
    let mut conn = Connection::server(Options::default());
    conn.handle_input(REQUEST);
    assert_eq!(conn.poll_event(), Some(Event::Request));
    conn.start().unwrap();
    assert_eq!(conn.poll_event(), Some(Event::Open));
    let _ = conn.poll_transmit_vec();
    let transport = Scripted {
        input: input.into(),
        zero_fills: true,
        ..Scripted::default()
    };
    WebSocket::from_connection(conn, transport, Never, Config::default())
}

fn masked(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(
        true,
        opcode,
        Rsv::NONE,
        payload,
        Some([1, 2, 3, 4]),
        &mut out,
    );
    out
}

fn plain(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(true, opcode, Rsv::NONE, payload, None, &mut out);
    out
}

/// Echoes every data message through the sink until the stream waits for input
/// without having woken itself; returns (messages, times it stepped aside).
fn echo_until_idle(ws: &mut WebSocket<Scripted, Never>) -> (usize, usize) {
    let waker = Arc::new(CountingWaker::default());
    let task_waker = std::task::Waker::from(waker.clone());
    let mut cx = Context::from_waker(&task_waker);
    let (mut messages, mut yields) = (0, 0);
    loop {
        match Pin::new(&mut *ws).poll_next(&mut cx) {
            Poll::Ready(Some(Ok(message))) => {
                messages += 1;
                if matches!(message, Message::Binary(_) | Message::Text(_)) {
                    let mut sink = Pin::new(&mut *ws);
                    assert!(sink.as_mut().poll_ready(&mut cx).is_ready());
                    sink.start_send(message).unwrap();
                }
            }
            Poll::Ready(other) => panic!("unexpected item {other:?}"),
            Poll::Pending => {
                let woken = waker.0.swap(0, Ordering::SeqCst);
                if woken == 0 {
                    return (messages, yields);
                }
                yields += 1;
            }
        }
    }
}

/// Takes every item until the stream waits for input, keeping the messages.
fn read_until_idle(ws: &mut WebSocket<Scripted, Never>) -> Vec<Message> {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut kept = Vec::new();
    while let Poll::Ready(item) = Pin::new(&mut *ws).poll_next(&mut cx) {
        kept.push(item.expect("the stream goes on").expect("no error"));
    }
    kept
}

#[test]
fn an_idle_connection_hands_its_empty_input_buffer_to_the_next_reader_on_its_thread() {
    SPARE_INPUT.take();
    let mut first = open_server(vec![masked(OpCode::Binary, &[1; 100])]);
    assert_eq!(echo_until_idle(&mut first).0, 1);
    let spare = SPARE_INPUT
        .take()
        .expect("the idle connection's buffer became the thread's spare");
    assert!(spare.is_empty() && spare.capacity() >= 100);
    let region = spare.as_ptr() as usize..spare.as_ptr() as usize + spare.capacity();
    SPARE_INPUT.set(Some(spare));
    // The next connection reads into the spare; it keeps its message, which
    // takes half the buffer.
    let mut second = open_server(vec![masked(OpCode::Binary, &[2; 2000])]);
    let kept = read_until_idle(&mut second);
    let [Message::Binary(payload)] = &kept[..] else {
        panic!("{kept:?}")
    };
    assert_eq!(payload[..], [2; 2000]);
    assert!(
        region.contains(&(payload.as_ptr() as usize)),
        "the message was read into the spare"
    );
    // Its next read found no room in the shared buffer and took a new one, which
    // is now the spare; the shared one is not.
    let now = SPARE_INPUT.take().expect("the new buffer is the spare");
    assert!(!region.contains(&(now.as_ptr() as usize)));
}

#[test]
fn an_input_buffer_a_large_message_grew_goes_back_to_the_allocator() {
    SPARE_INPUT.take();
    let mut ws = open_server(vec![masked(OpCode::Binary, &vec![3; 300 * 1024])]);
    ws.get_mut().zero_fills = false;
    assert_eq!(echo_until_idle(&mut ws).0, 1);
    assert_eq!(ws.get_ref().writes().concat().len(), 300 * 1024 + 10);
    assert!(
        SPARE_INPUT.take().is_none(),
        "300 KiB is more than two reads"
    );
}

#[test]
fn a_message_of_the_read_size_that_arrives_at_once_takes_one_read() {
    const { assert!(READ_SLACK > wsd_frame::MAX_HEADER_LEN) };
    let size = Config::default().read_buffer_size;
    for len in [size - 100, size - 1, size] {
        // The frame and the first bytes of the next message arrive together.
        let mut input = masked(OpCode::Binary, &vec![5; len]);
        let frame = input.len();
        input.extend(masked(OpCode::Binary, &[6; 10_000]));
        let mut ws = open_server(vec![input]);
        // As tokio's and async-io's TCP streams: no zero-filling, so reads between
        // frames ask for the full size at once.
        ws.get_mut().zero_fills = false;
        let (messages, _) = echo_until_idle(&mut ws);
        assert_eq!(messages, 2, "{len} bytes");
        let reads: Vec<usize> = ws
            .get_ref()
            .log
            .iter()
            .filter_map(|op| match op {
                Op::Read(n) => Some(*n),
                Op::Write(_) => None,
            })
            .collect();
        assert!(
            reads[0] >= frame,
            "{len} bytes: the whole frame in the first read, {reads:?}"
        );
    }
}

#[test]
fn the_answers_to_one_read_go_out_in_one_write() {
    // 800 echoes of 16 bytes (14,400 bytes) fit one batch.
    let count = 800;
    let input: Vec<u8> = (0..count)
        .flat_map(|i: u32| masked(OpCode::Binary, &i.to_be_bytes().repeat(4)))
        .collect();
    assert!(input.len() < Config::default().read_buffer_size);
    let mut ws = open_server(vec![input]);
    let (messages, _) = echo_until_idle(&mut ws);
    assert_eq!(messages, count as usize);
    let expected: Vec<u8> = (0..count)
        .flat_map(|i: u32| plain(OpCode::Binary, &i.to_be_bytes().repeat(4)))
        .collect();
    let writes = ws.get_ref().writes();
    let sizes: Vec<usize> = writes.iter().map(|w| w.len()).collect();
    assert_eq!(sizes, [expected.len()], "one write of every echo");
    assert!(writes[0] == expected, "the echoes, in order");
}

#[test]
fn a_busy_stream_steps_aside_every_so_often_without_writing() {
    let count = 5000;
    let input: Vec<u8> = (0..count)
        .flat_map(|_| masked(OpCode::Text, b"hello"))
        .collect();
    let mut ws = open_server(vec![input]);
    let (messages, yields) = echo_until_idle(&mut ws);
    assert_eq!(messages, count);
    // Each message is a unit of work; the few reads of 11-byte frames cost one each.
    let reads = ws
        .get_ref()
        .log
        .iter()
        .filter(|op| matches!(op, Op::Read(_)))
        .count();
    assert_eq!(yields, (count + reads) / WORK_BUDGET as usize);
    assert_eq!(
        ws.get_ref().writes().len(),
        1,
        "stepping aside does not flush"
    );
}

#[test]
fn reads_weigh_on_the_budget_by_their_size() {
    // 2000 messages of 1000 bytes arriving in full 64 KiB reads: the messages alone
    // are one turn's worth, the reads add about a tenth.
    let count = 2000;
    let input: Vec<u8> = (0..count)
        .flat_map(|_| masked(OpCode::Binary, &[7; 1000]))
        .collect();
    let mut ws = open_server(vec![input]);
    ws.get_mut().zero_fills = false;
    let (messages, yields) = echo_until_idle(&mut ws);
    assert_eq!(messages, count);
    let read_units: usize = ws
        .get_ref()
        .log
        .iter()
        .filter_map(|op| match op {
            Op::Read(n) => Some(1 + n / READ_UNIT),
            Op::Write(_) => None,
        })
        .sum();
    assert!(read_units > 100, "{read_units}");
    assert_eq!(yields, (count + read_units) / WORK_BUDGET as usize);
    assert_eq!(yields, 2, "one step aside per 1024 messages would be one");
}

#[test]
fn output_past_the_batch_size_is_written_before_reading_more() {
    // 200 pings of 100 bytes: their pongs pass a 16 KiB batch size.
    let pings: Vec<u8> = (0..200)
        .flat_map(|_| masked(OpCode::Ping, &[9; 100]))
        .collect();
    let pongs: Vec<u8> = (0..200)
        .flat_map(|_| plain(OpCode::Pong, &[9; 100]))
        .collect();
    let mut ws = open_server(vec![pings.clone(), masked(OpCode::Text, b"after")]);
    let config = Config {
        write_buffer_size: 16 * 1024,
        ..Config::default()
    };
    ws.set_config(config);
    assert!(pongs.len() >= config.write_buffer_size);
    // Whole chunks per read (as tokio's transport is asked for).
    ws.get_mut().zero_fills = false;
    echo_until_idle(&mut ws);
    let log = &ws.get_ref().log;
    let summary: Vec<(char, usize)> = log
        .iter()
        .map(|op| match op {
            Op::Read(n) => ('r', *n),
            Op::Write(bytes) => ('w', bytes.len()),
        })
        .collect();
    let after = plain(OpCode::Text, b"after");
    assert_eq!(
        summary,
        [
            ('r', pings.len()),
            ('w', pongs.len()),
            ('r', 11),
            ('w', after.len())
        ]
    );
    assert!(log[1] == Op::Write(pongs) && log[3] == Op::Write(after));
}

#[test]
fn a_zero_filling_transport_is_asked_for_about_what_recent_reads_returned() {
    let small = masked(OpCode::Binary, &[1; 100]);
    let burst: Vec<u8> = (0..1000)
        .flat_map(|_| masked(OpCode::Binary, &[2; 100]))
        .collect();
    let mut ws = open_server(vec![small.clone(), small, burst]);
    echo_until_idle(&mut ws);
    let asked = &ws.get_ref().asked;
    // Small reads ask for 4 KiB, not 64; a burst doubles the room read by read up
    // to the full 64 KiB and the slack.
    assert_eq!(
        asked[..7],
        [4096, 4096, 4096, 8192, 16384, 32768, 65536],
        "{asked:?}"
    );
    let full = 65536 + READ_SLACK;
    assert!(asked[7..].iter().all(|&n| n == full), "{asked:?}");
}

#[test]
fn a_transport_that_reads_into_uninitialised_memory_is_asked_for_the_full_size() {
    let mut ws = open_server(vec![masked(OpCode::Binary, &[1; 100])]);
    ws.get_mut().zero_fills = false;
    echo_until_idle(&mut ws);
    // The default poll_read_buf zero-fills what it was asked for, so the room is
    // what the loop asked.
    let full = 65536 + READ_SLACK;
    assert_eq!(
        ws.get_ref().asked,
        [full, full],
        "the second read finds nothing"
    );
}

/// Runs a future that must complete without waiting (the scripted transport never
/// blocks a write).
#[test]
fn lent_messages_are_echoed_in_order_with_the_rest_in_one_write() {
    let count = 800;
    let mut input: Vec<u8> = (0..count)
        .flat_map(|i: u32| masked(OpCode::Binary, &i.to_be_bytes().repeat(4)))
        .collect();
    input.extend(masked(OpCode::Ping, b"p"));
    input.extend(masked(OpCode::Text, b"last"));
    let mut ws = open_server(vec![input]);
    // One read of everything: a frame split between reads would come as a message.
    ws.get_mut().zero_fills = false;
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let (mut lent, mut others) = (0, Vec::new());
    loop {
        let next = core::pin::pin!(ws.next_message_with(|message, reply| reply.send(message)));
        match next.poll(&mut cx) {
            Poll::Ready(Some(Ok(Next::Lent(sent)))) => {
                sent.unwrap();
                lent += 1;
            }
            Poll::Ready(Some(Ok(Next::Message(message)))) => others.push(message),
            Poll::Ready(other) => panic!("unexpected item {other:?}"),
            Poll::Pending => break,
        }
    }
    assert_eq!(lent, count + 1);
    assert_eq!(others, [Message::Ping(Bytes::from_static(b"p"))]);
    let mut expected: Vec<u8> = (0..count)
        .flat_map(|i: u32| plain(OpCode::Binary, &i.to_be_bytes().repeat(4)))
        .collect();
    expected.extend(plain(OpCode::Pong, b"p"));
    expected.extend(plain(OpCode::Text, b"last"));
    let writes = ws.get_ref().writes();
    assert_eq!(writes.len(), 1, "one write of every echo");
    assert!(writes[0] == expected, "the echoes, in order");
}

fn now<F: Future>(future: F) -> F::Output {
    let mut cx = Context::from_waker(std::task::Waker::noop());
    match core::pin::pin!(future).poll(&mut cx) {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("the future waited"),
    }
}

#[test]
fn send_writes_at_once_and_feed_waits_for_the_batch() {
    let mut ws = open_server(vec![]);
    now(ws.feed(Message::text("queued"))).unwrap();
    assert!(ws.get_ref().writes().is_empty(), "feed does not write");
    now(ws.send(Message::text("now"))).unwrap();
    // Both go out, in order, in the send's one write.
    assert_eq!(
        ws.get_ref().writes(),
        [[plain(OpCode::Text, b"queued"), plain(OpCode::Text, b"now")].concat()]
    );
}

#[test]
fn close_writes_the_frame_and_the_stream_still_yields_what_arrives_before_the_peers_close() {
    let mut ws = open_server(vec![
        masked(OpCode::Text, b"late but wanted"),
        masked(OpCode::Close, &[0x03, 0xE8]),
        // Then the peer's end of the connection, which ends the drain.
        Vec::new(),
    ]);
    now(ws.close(CloseCode::NORMAL, "bye")).unwrap();
    let mut close = vec![0x03, 0xE8];
    close.extend_from_slice(b"bye");
    assert_eq!(ws.get_ref().writes(), [plain(OpCode::Close, &close)]);
    let mut items = Vec::new();
    while let Some(item) = now(ws.next_message()) {
        items.push(item.unwrap());
    }
    assert_eq!(items[0], Message::text("late but wanted"));
    assert!(matches!(&items[1], Message::Close(Some(frame)) if frame.code == CloseCode::NORMAL));
    assert_eq!(items.len(), 2);
    // Closing again, or sending a close, does nothing more.
    now(ws.close(CloseCode::NORMAL, "again")).unwrap();
    assert!(matches!(
        now(ws.send(Message::text("x"))),
        Err(Error::Closed)
    ));
}

#[test]
fn invalid_options_fail_before_any_io() {
    let mut options = Options::default();
    options
        .headers
        .push(("X-Evil".into(), "a\r\nInjected: yes".into()));
    let transport = Scripted::default();
    let result = now(client("ws://example.com/", transport, Never, options));
    assert!(matches!(result, Err(Error::Usage(_))));
    let mut config = ServerConfig::default();
    config.options.headers.push(("Bad Name".into(), "v".into()));
    let result = now(accept_with(Scripted::default(), Never, config));
    assert!(matches!(result, Err(Error::Usage(_))));
}

// ----- shutdown and keepalive ----------------------------------------------------

/// A clock moved by hand.
#[derive(Clone)]
struct Manual(Arc<std::sync::Mutex<Instant>>);

impl Manual {
    fn new() -> Self {
        Self(Arc::new(std::sync::Mutex::new(Instant::now())))
    }

    fn advance(&self, by: std::time::Duration) {
        *self.0.lock().unwrap() += by;
    }
}

impl Timer for Manual {
    fn now(&self) -> Instant {
        *self.0.lock().unwrap()
    }

    fn poll_deadline(&mut self, _: &mut Context<'_>, deadline: Option<Instant>) -> Poll<()> {
        match deadline {
            Some(at) if at <= self.now() => Poll::Ready(()),
            _ => Poll::Pending,
        }
    }
}

/// An open server WebSocket with `options`, on the clock `timer`.
fn open_server_with<Z: Timer>(options: Options, timer: Z) -> WebSocket<Scripted, Z> {
    let mut conn = Connection::server(options);
    conn.handle_input(REQUEST);
    assert_eq!(conn.poll_event(), Some(Event::Request));
    conn.start().unwrap();
    assert_eq!(conn.poll_event(), Some(Event::Open));
    let _ = conn.poll_transmit_vec();
    WebSocket::from_connection(conn, Scripted::default(), timer, Config::default())
}

/// The close frame the server wrote last: its code and reason.
fn last_close(ws: &WebSocket<Scripted, impl Timer>) -> (u16, String) {
    let writes = ws.get_ref().writes();
    let frame = writes.last().expect("a write");
    assert_eq!(frame[0], 0x88, "a close frame: {frame:?}");
    let payload = &frame[2..];
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    (code, String::from_utf8(payload[2..].to_vec()).unwrap())
}

#[test]
fn a_shutdown_closes_each_watching_websocket_with_1001_and_waits_for_the_handshake() {
    let shutdown = Shutdown::new();
    let mut ws = open_server_with(Options::default(), Never);
    ws.watch_shutdown(&shutdown.token());
    assert_eq!(shutdown.open_connections(), 1);
    let waker = Arc::new(CountingWaker::default());
    let task_waker = std::task::Waker::from(waker.clone());
    let mut cx = Context::from_waker(&task_waker);
    assert!(Pin::new(&mut ws).poll_next(&mut cx).is_pending());

    let mut finished = Box::pin(shutdown.shutdown(Never, std::time::Duration::from_secs(5)));
    assert!(finished.as_mut().poll(&mut cx).is_pending());
    assert!(shutdown.token().is_triggered());
    assert_eq!(
        waker.0.load(Ordering::SeqCst),
        1,
        "the watching task is woken"
    );
    assert!(Pin::new(&mut ws).poll_next(&mut cx).is_pending());
    assert_eq!(
        last_close(&ws),
        (1001, "the server is shutting down".to_owned())
    );
    // The client answers and closes the TCP connection; the stream yields the close
    // and ends.
    let input = &mut ws.get_mut().input;
    input.push_back(masked(OpCode::Close, &1001u16.to_be_bytes()));
    input.push_back(Vec::new());
    let Poll::Ready(Some(Ok(Message::Close(Some(frame))))) = Pin::new(&mut ws).poll_next(&mut cx)
    else {
        panic!("the close");
    };
    assert_eq!(frame.code, CloseCode::GOING_AWAY);
    assert!(matches!(
        Pin::new(&mut ws).poll_next(&mut cx),
        Poll::Ready(None)
    ));
    assert_eq!(shutdown.open_connections(), 0);
    let Poll::Ready(report) = finished.as_mut().poll(&mut cx) else {
        panic!("every connection ended");
    };
    assert_eq!((report.closed, report.aborted), (1, 0));
}

#[test]
fn after_the_grace_period_the_rest_end_with_connection_aborted() {
    let shutdown = Shutdown::new();
    let clock = Manual::new();
    let mut ws = open_server_with(Options::default(), Never);
    ws.watch_shutdown(&shutdown.token());
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let grace = std::time::Duration::from_secs(2);
    let mut finished = Box::pin(shutdown.shutdown(clock.clone(), grace));
    assert!(finished.as_mut().poll(&mut cx).is_pending());
    // The close goes out, but the peer never answers.
    assert!(Pin::new(&mut ws).poll_next(&mut cx).is_pending());
    assert_eq!(last_close(&ws).0, 1001);
    clock.advance(grace);
    let Poll::Ready(report) = finished.as_mut().poll(&mut cx) else {
        panic!("the grace period is over");
    };
    assert_eq!((report.closed, report.aborted), (0, 1));
    let Poll::Ready(Some(Err(Error::Io(e)))) = Pin::new(&mut ws).poll_next(&mut cx) else {
        panic!("an abort");
    };
    assert_eq!(e.kind(), io::ErrorKind::ConnectionAborted);
    assert!(matches!(
        Pin::new(&mut ws).poll_next(&mut cx),
        Poll::Ready(None)
    ));
    assert_eq!(shutdown.open_connections(), 0);
}

#[test]
fn the_accept_loop_token_resolves_when_the_shutdown_begins() {
    let shutdown = Shutdown::new();
    let token = shutdown.token();
    let mut cx = Context::from_waker(std::task::Waker::noop());
    let mut triggered = Box::pin(token.triggered());
    assert!(triggered.as_mut().poll(&mut cx).is_pending());
    shutdown.begin();
    assert!(triggered.as_mut().poll(&mut cx).is_ready());
    // With nothing open, the shutdown itself returns at once.
    let mut finished = Box::pin(shutdown.shutdown(Never, std::time::Duration::from_secs(1)));
    assert!(matches!(
        finished.as_mut().poll(&mut cx),
        Poll::Ready(ShutdownReport {
            closed: 0,
            aborted: 0,
            ..
        })
    ));
}

#[test]
fn a_dead_peer_ends_the_stream_at_the_keepalive_timeout_without_draining() {
    let second = std::time::Duration::from_secs(1);
    let mut options = Options::default();
    options.keepalive = Some(wsd_core::Keepalive::new(second, second));
    let clock = Manual::new();
    let mut ws = open_server_with(options, clock.clone());
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(Pin::new(&mut ws).poll_next(&mut cx).is_pending());
    assert!(ws.get_ref().writes().is_empty());
    clock.advance(second);
    assert!(Pin::new(&mut ws).poll_next(&mut cx).is_pending());
    assert_eq!(ws.get_ref().writes().last().unwrap()[0], 0x89, "a ping");
    let reads_before = ws.get_ref().asked.len();
    clock.advance(second);
    let Poll::Ready(Some(Err(Error::KeepaliveTimeout))) = Pin::new(&mut ws).poll_next(&mut cx)
    else {
        panic!("a keepalive timeout");
    };
    assert_eq!(last_close(&ws), (1011, "keepalive ping timeout".to_owned()));
    assert_eq!(
        ws.get_ref().asked.len(),
        reads_before,
        "no reading (draining) after the close"
    );
    assert!(matches!(
        Pin::new(&mut ws).poll_next(&mut cx),
        Poll::Ready(None)
    ));
}

#[test]
fn a_watching_task_is_woken_for_the_close_and_again_for_the_abort() {
    let shutdown = Shutdown::new();
    let mut ws = open_server_with(Options::default(), Never);
    ws.watch_shutdown(&shutdown.token());
    let waker = Arc::new(CountingWaker::default());
    let task_waker = std::task::Waker::from(waker.clone());
    let mut cx = Context::from_waker(&task_waker);
    // Waiting twice with the same waker registers once; no wake-up yet.
    assert!(Pin::new(&mut ws).poll_next(&mut cx).is_pending());
    assert!(Pin::new(&mut ws).poll_next(&mut cx).is_pending());
    assert_eq!(waker.0.load(Ordering::SeqCst), 0);
    shutdown.begin();
    assert_eq!(waker.0.load(Ordering::SeqCst), 1);
    assert!(Pin::new(&mut ws).poll_next(&mut cx).is_pending());
    assert_eq!(last_close(&ws).0, 1001);
    shutdown.abort();
    assert_eq!(waker.0.load(Ordering::SeqCst), 2, "woken again to end");
    assert!(matches!(
        Pin::new(&mut ws).poll_next(&mut cx),
        Poll::Ready(Some(Err(Error::Io(_))))
    ));
}
