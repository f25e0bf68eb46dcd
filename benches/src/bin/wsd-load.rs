//! `wsd-load`: a cheap raw-TCP WebSocket load generator for echo servers.
//!
//! ```text
//! wsd-load --addr 127.0.0.1:9001 --conns 64 --size 16 --mode pipelined|single
//!          [--window BYTES] [--warmup SECONDS] [--seconds SECONDS]
//! wsd-load --addr 127.0.0.1:9001 --idle 5000
//! wsd-load ... --deflate                       (text that compresses ~5:1, see below)
//! wsd-load --addr 127.0.0.1:9001 --idle 400 --deflate --size 16384
//! wsd-load --addr 127.0.0.1:9001 --slowloris 1000 [--bytes 100]
//! wsd-load --addr 127.0.0.1:9001 --partial 200 --size 65536
//! ```
//!
//! It does the opening handshake itself, pre-builds the masked binary frames once and
//! never parses what comes back beyond the first header byte: the server echoes every
//! frame unmasked, so each echoed message is exactly `client frame length - 4` bytes and
//! counting bytes counts messages. Everything runs on one thread (a current-thread
//! tokio runtime, one task per connection, readiness + `try_read`/`try_write`, 256 KiB
//! reads) so that on its own CPU it stays cheaper than any server it drives.
//!
//! Modes: `pipelined` keeps up to `--window` bytes of frames (default 4 MiB) in
//! flight per connection, which measures how well the server batches reads and writes;
//! `single` keeps exactly one message in flight (the uWebSockets `load_test` method),
//! which measures per-message latency. After `--warmup` seconds it counts echoed
//! messages for `--seconds` and prints `msgs_per_sec <N>`.
//!
//! `--deflate` offers permessage-deflate without context takeover either way, so
//! every message is compressed on its own: the generator compresses its text message
//! (`wsd_bench::compressible_text`, about 5:1) once and sends that frame over and
//! over, the server inflates and deflates each. The echoes' sizes then depend on the
//! server's compressor, so it counts messages by parsing the echoed frame headers
//! (still without inflating them), and checks that the first echo is compressed and
//! inflates back to the text.
//!
//! The memory measurements of `cargo xtask bench` open N connections, print
//! `ready N` once they are in the state to measure and hold them until stdin closes:
//! `--idle N`, open and idle after the handshake; with `--deflate` each has first
//! sent one `--size` text message and got its echo (context takeover allowed, so the
//! server keeps whatever compression state it keeps between messages);
//! `--slowloris N` sends the first `--bytes` bytes of an upgrade request on each, one
//! byte per write, round-robin (and reports how many are still open, should the
//! server drop some); `--partial N` completes the handshake, then sends
//! the header and half the payload of one `--size` binary frame.

#![forbid(unsafe_code)]

use std::cell::Cell;
use std::io::{BufRead, ErrorKind, Write};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt, Interest};
use tokio::net::TcpStream;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Pipelined,
    Single,
}

struct Args {
    addr: String,
    conns: usize,
    size: usize,
    mode: Mode,
    window: u64,
    warmup: f64,
    seconds: f64,
    idle: Option<usize>,
    deflate: bool,
    slowloris: Option<usize>,
    bytes: usize,
    partial: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: "127.0.0.1:9001".into(),
        conns: 64,
        size: 16,
        mode: Mode::Pipelined,
        window: 4 << 20,
        warmup: 1.0,
        seconds: 5.0,
        idle: None,
        deflate: false,
        slowloris: None,
        bytes: 100,
        partial: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        let bad = |e: &dyn std::fmt::Display| format!("{flag}: {e}");
        match flag.as_str() {
            "--addr" => args.addr = value()?,
            "--conns" => args.conns = value()?.parse().map_err(|e| bad(&e))?,
            "--size" => args.size = value()?.parse().map_err(|e| bad(&e))?,
            "--window" => args.window = value()?.parse().map_err(|e| bad(&e))?,
            "--warmup" => args.warmup = value()?.parse().map_err(|e| bad(&e))?,
            "--seconds" => args.seconds = value()?.parse().map_err(|e| bad(&e))?,
            "--idle" => args.idle = Some(value()?.parse().map_err(|e| bad(&e))?),
            "--deflate" => args.deflate = true,
            "--slowloris" => args.slowloris = Some(value()?.parse().map_err(|e| bad(&e))?),
            "--bytes" => args.bytes = value()?.parse().map_err(|e| bad(&e))?,
            "--partial" => args.partial = Some(value()?.parse().map_err(|e| bad(&e))?),
            "--mode" => {
                args.mode = match value()?.as_str() {
                    "pipelined" => Mode::Pipelined,
                    "single" => Mode::Single,
                    other => return Err(format!("unknown mode `{other}`")),
                }
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    Ok(args)
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("wsd-load: {message}");
            std::process::exit(2);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let result = local.block_on(&runtime, async move {
        if let Some(n) = args.slowloris {
            return slowloris(&args.addr, n, args.bytes).await;
        }
        if let Some(n) = args.partial {
            return partial(&args.addr, n, args.size).await;
        }
        match args.idle {
            Some(n) if args.deflate => active_deflate(&args.addr, n, args.size).await,
            Some(n) => idle(&args.addr, n).await,
            None => run(args).await,
        }
    });
    if let Err(message) = result {
        eprintln!("wsd-load: {message}");
        std::process::exit(1);
    }
}

/// Opens a connection and completes the opening handshake; returns any bytes that
/// came after the response head (the start of the first echo, never in practice).
async fn connect(addr: &str, offer: Option<&str>) -> Result<(TcpStream, usize), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let request = upgrade_request(addr, offer);
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 512];
    let end = loop {
        if let Some(i) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = stream
            .read(&mut buf)
            .await
            .map_err(|e| format!("handshake: {e}"))?;
        if n == 0 {
            return Err("handshake: server closed".into());
        }
        head.extend_from_slice(&buf[..n]);
    };
    if !head.starts_with(b"HTTP/1.1 101") {
        return Err(format!(
            "handshake refused: {}",
            String::from_utf8_lossy(&head[..end])
        ));
    }
    if offer.is_some() {
        let response = String::from_utf8_lossy(&head[..end]).to_ascii_lowercase();
        if !response.contains("permessage-deflate") {
            return Err(format!(
                "the server did not accept permessage-deflate: {}",
                response.trim()
            ));
        }
    }
    Ok((stream, head.len() - end))
}

/// An upgrade request to `addr`, offering the extensions in `offer`.
fn upgrade_request(addr: &str, offer: Option<&str>) -> String {
    let extensions = offer.map_or(String::new(), |offer| {
        format!("Sec-WebSocket-Extensions: {offer}\r\n")
    });
    format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         {extensions}\r\n"
    )
}

/// The offer of the throughput workloads: each message compressed on its own.
const NO_TAKEOVER: &str =
    "permessage-deflate; client_no_context_takeover; server_no_context_takeover";
/// The offer of the memory workload: what browsers offer.
const BROWSER_OFFER: &str = "permessage-deflate; client_max_window_bits";

/// Prints `ready N`, then waits until the caller closes stdin (blocking is fine:
/// nothing else runs on this thread any more).
fn ready_then_hold(n: usize) {
    println!("ready {n}");
    let _ = std::io::stdout().flush();
    let _ = std::io::stdin().lock().read_line(&mut String::new());
}

async fn active_deflate(addr: &str, n: usize, size: usize) -> Result<(), String> {
    let text = wsd_bench::compressible_text(size);
    let frame = wsd_bench::masked_deflated_frames(&text, 1);
    let mut held = Vec::with_capacity(n);
    let mut buf = vec![0u8; 256 * 1024];
    for _ in 0..n {
        let (mut stream, early) = connect(addr, Some(BROWSER_OFFER)).await?;
        if early > 0 {
            return Err("the server sent a frame before the first message".into());
        }
        stream.write_all(&frame).await.map_err(|e| e.to_string())?;
        let mut frames = FrameCounter::default();
        while frames.messages == 0 {
            let got = stream.read(&mut buf).await.map_err(|e| e.to_string())?;
            if got == 0 {
                return Err("server closed the connection".into());
            }
            frames.feed(&buf[..got])?;
        }
        if let Some(first) = &frames.first {
            check_deflated_echo(first, &text)?;
        }
        held.push(stream);
    }
    ready_then_hold(n);
    drop(held);
    Ok(())
}

async fn slowloris(addr: &str, n: usize, bytes: usize) -> Result<(), String> {
    let request = upgrade_request(addr, None);
    let head = &request.as_bytes()[..bytes.min(request.len() - 4)];
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        held.push(stream);
    }
    for &byte in head {
        let mut open = Vec::with_capacity(held.len());
        for mut stream in held {
            // A server may drop slow clients: those no longer count.
            if stream.write_all(&[byte]).await.is_ok() {
                open.push(stream);
            }
        }
        held = open;
        // A pause per byte, so each arrives on its own as a slow client's would.
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    if held.len() < n {
        eprintln!(
            "wsd-load: the server closed {} of {n} connections",
            n - held.len()
        );
    }
    if held.is_empty() {
        return Err("the server closed every connection".into());
    }
    ready_then_hold(held.len());
    drop(held);
    Ok(())
}

async fn partial(addr: &str, n: usize, size: usize) -> Result<(), String> {
    let frame = wsd_bench::masked_frames(size, 1);
    // The header, the key and half the payload.
    let sent = &frame[..frame.len() - size / 2];
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let (mut stream, _) = connect(addr, None).await?;
        stream.write_all(sent).await.map_err(|e| e.to_string())?;
        held.push(stream);
    }
    ready_then_hold(n);
    drop(held);
    Ok(())
}

/// Counts the complete messages in a stream of unmasked server frames, header by
/// header, skipping payloads; keeps the first message's payload for checking.
#[derive(Default)]
struct FrameCounter {
    /// Bytes of a header not yet complete.
    header: Vec<u8>,
    /// Payload bytes of the current frame still to skip.
    skip: u64,
    /// Whether the current frame ends a message.
    fin: bool,
    messages: u64,
    /// The first byte and payload of the first message, while it arrives.
    first: Option<(u8, Vec<u8>)>,
}

impl FrameCounter {
    fn feed(&mut self, mut data: &[u8]) -> Result<(), String> {
        while !data.is_empty() {
            if self.skip > 0 {
                let take = data.len().min(self.skip as usize);
                if self.messages == 0 {
                    if let Some((_, payload)) = &mut self.first {
                        payload.extend_from_slice(&data[..take]);
                    }
                }
                data = &data[take..];
                self.skip -= take as u64;
                if self.skip == 0 && self.fin {
                    self.messages += 1;
                }
                continue;
            }
            self.header.push(data[0]);
            data = &data[1..];
            let Some((len, header_len)) = header_length(&self.header) else {
                continue;
            };
            debug_assert_eq!(header_len, self.header.len());
            let b0 = self.header[0];
            if b0 & 0x0f == 0x8 {
                return Err("the server closed the connection".into());
            }
            if self.messages == 0 && self.first.is_none() {
                self.first = Some((b0, Vec::new()));
            }
            self.fin = b0 & 0x80 != 0;
            self.header.clear();
            self.skip = len;
            if len == 0 && self.fin {
                self.messages += 1;
            }
        }
        Ok(())
    }
}

/// The payload length and header length of an unmasked frame header, once `header`
/// holds all of it.
fn header_length(header: &[u8]) -> Option<(u64, usize)> {
    let b1 = *header.get(1)?;
    match b1 & 0x7f {
        126 if header.len() == 4 => {
            Some((u64::from(u16::from_be_bytes([header[2], header[3]])), 4))
        }
        127 if header.len() == 10 => {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&header[2..10]);
            Some((u64::from_be_bytes(bytes), 10))
        }
        126 | 127 => None,
        small => Some((u64::from(small), 2)),
    }
}

/// Checks the first echo of a deflate run: compressed, and inflating to `text`.
fn check_deflated_echo(first: &(u8, Vec<u8>), text: &[u8]) -> Result<(), String> {
    let (b0, payload) = first;
    if b0 & 0x40 == 0 {
        return Err(format!(
            "the first echo is not compressed (first byte {b0:#x})"
        ));
    }
    let mut wire = payload.clone();
    wire.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut inflate = flate2::Decompress::new(false);
    let mut out = Vec::with_capacity(text.len() + 64);
    inflate
        .decompress_vec(&wire, &mut out, flate2::FlushDecompress::Sync)
        .map_err(|e| format!("the first echo does not inflate: {e}"))?;
    if out != text {
        return Err("the first echo inflates to something else than the message sent".into());
    }
    Ok(())
}

async fn idle(addr: &str, n: usize) -> Result<(), String> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(connect(addr, None).await?.0);
    }
    ready_then_hold(n);
    drop(held);
    Ok(())
}

async fn run(args: Args) -> Result<(), String> {
    let text = args
        .deflate
        .then(|| wsd_bench::compressible_text(args.size));
    let frames = |count| match &text {
        Some(text) => wsd_bench::masked_deflated_frames(text, count),
        None => wsd_bench::masked_frames(args.size, count),
    };
    let frame_len = frames(1).len();
    // At least 64 KiB per write in pipelined mode so the generator makes few syscalls.
    let per_batch = if args.mode == Mode::Pipelined {
        (64 * 1024 / frame_len).max(1)
    } else {
        1
    };
    let batch: Rc<[u8]> = frames(per_batch).into();
    let text: Option<Rc<[u8]>> = text.map(Into::into);
    let echoed = Rc::new(Cell::new(0u64));
    let failed: Rc<Cell<Option<String>>> = Rc::new(Cell::new(None));
    // Every handshake completes before any traffic starts, so a server that is slow to
    // serve new connections while busy (no fairness between tasks) still gets measured.
    let mut streams = Vec::with_capacity(args.conns);
    let offer = args.deflate.then_some(NO_TAKEOVER);
    for _ in 0..args.conns {
        streams.push(connect(&args.addr, offer).await?);
    }
    let mut tasks = Vec::with_capacity(args.conns);
    for (stream, early) in streams {
        let (batch, echoed, failed) = (batch.clone(), echoed.clone(), failed.clone());
        let (mode, window, text) = (args.mode, args.window, text.clone());
        tasks.push(tokio::task::spawn_local(async move {
            let load = Load {
                batch: &batch,
                frame_len,
                mode,
                window,
                text: text.as_deref(),
            };
            let result = drive(stream, early, &load, &echoed).await;
            if let Err(e) = result {
                failed.set(Some(e));
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let (start, before) = (Instant::now(), echoed.get());
    tokio::time::sleep(Duration::from_secs_f64(args.seconds)).await;
    let (elapsed, after) = (start.elapsed().as_secs_f64(), echoed.get());
    if let Some(e) = failed.take() {
        return Err(e);
    }
    for task in tasks {
        task.abort();
    }
    println!("msgs_per_sec {:.0}", (after - before) as f64 / elapsed);
    Ok(())
}

/// What one connection sends.
struct Load<'a> {
    /// Whole frames, written cyclically.
    batch: &'a [u8],
    /// The length of one of them.
    frame_len: usize,
    mode: Mode,
    window: u64,
    /// The text each frame compresses, with `--deflate`.
    text: Option<&'a [u8]>,
}

/// Drives one connection until the runtime stops, adding echoed messages to `echoed`.
async fn drive(
    stream: TcpStream,
    early: usize,
    load: &Load<'_>,
    echoed: &Cell<u64>,
) -> Result<(), String> {
    let (batch, mode, window) = (load.batch, load.mode, load.window);
    // The server echoes unmasked: 4 bytes shorter than what we send.
    let echo_len = (load.frame_len - 4) as u64;
    let frame_len = load.frame_len as u64;
    let mut buf = vec![0u8; 256 * 1024];
    let (mut sent, mut received) = (0u64, early as u64);
    let mut offset = 0usize;
    let mut checked = false;
    // With deflate the echoes' lengths vary: count their headers instead.
    let mut frames = load.text.map(|_| FrameCounter::default());
    loop {
        let done = match &frames {
            Some(frames) => frames.messages,
            None => received / echo_len,
        };
        let in_flight = sent - done * frame_len;
        let want_write = match mode {
            Mode::Pipelined => in_flight < window,
            // Until the one frame in flight is fully written.
            Mode::Single => in_flight < frame_len,
        };
        let interest = if want_write {
            Interest::READABLE | Interest::WRITABLE
        } else {
            Interest::READABLE
        };
        let ready = stream.ready(interest).await.map_err(|e| e.to_string())?;
        if ready.is_readable() {
            loop {
                match stream.try_read(&mut buf) {
                    Ok(0) => return Err("server closed the connection".into()),
                    Ok(n) if frames.is_some() => {
                        if let Some(frames) = &mut frames {
                            frames.feed(&buf[..n])?;
                            if !checked && frames.messages > 0 {
                                if let (Some(first), Some(text)) = (&frames.first, load.text) {
                                    check_deflated_echo(first, text)?;
                                }
                                frames.first = None;
                                checked = true;
                            }
                        }
                    }
                    Ok(n) => {
                        if !checked {
                            // The first byte back must open a final binary frame.
                            if buf[0] != 0x82 {
                                return Err(format!("unexpected echo byte {:#x}", buf[0]));
                            }
                            checked = true;
                        }
                        received += n as u64;
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e.to_string()),
                }
            }
            let now_done = match &frames {
                Some(frames) => frames.messages,
                None => received / echo_len,
            };
            echoed.set(echoed.get() + now_done - done);
        }
        if want_write && ready.is_writable() {
            // The batch is whole frames (one in single mode), written cyclically.
            match stream.try_write(&batch[offset..]) {
                Ok(n) => {
                    sent += n as u64;
                    offset = (offset + n) % batch.len();
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {}
                Err(e) => return Err(e.to_string()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FrameCounter;

    /// An unmasked server frame.
    fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
        let mut wire = vec![first];
        match payload.len() {
            n if n < 126 => wire.push(n as u8),
            n if n < 65_536 => {
                wire.push(126);
                wire.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                wire.push(127);
                wire.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        wire.extend_from_slice(payload);
        wire
    }

    #[test]
    fn frame_counter_counts_messages_across_any_split_and_keeps_the_first() {
        let large = vec![7u8; 70_000];
        let wire = [
            frame(0xc1, b"first"),
            frame(0x01, &[1; 300]),
            frame(0x80, &large),
            frame(0x82, b""),
        ]
        .concat();
        for chunk in [1, 3, 7, 4096, wire.len()] {
            let mut counter = FrameCounter::default();
            for piece in wire.chunks(chunk) {
                counter.feed(piece).unwrap();
            }
            // The fragmented message counts once, at its final frame.
            assert_eq!(counter.messages, 3, "chunks of {chunk}");
            assert_eq!(counter.first, Some((0xc1, b"first".to_vec())));
        }
    }

    #[test]
    fn frame_counter_reports_a_close_frame() {
        let mut counter = FrameCounter::default();
        assert!(counter.feed(&frame(0x88, &[3, 232])).is_err());
    }
}
