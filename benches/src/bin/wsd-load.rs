//! `wsd-load`: a cheap raw-TCP WebSocket load generator for echo servers.
//!
//! ```text
//! wsd-load --addr 127.0.0.1:9001 --conns 64 --size 16 --mode pipelined|single
//!          [--window BYTES] [--warmup SECONDS] [--seconds SECONDS]
//! wsd-load --addr 127.0.0.1:9001 --idle 5000
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
//! `--idle N` opens N connections, completes their handshakes, prints `ready N` and
//! holds them open until stdin closes (the memory measurement of `cargo xtask bench`).

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
        match args.idle {
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
async fn connect(addr: &str) -> Result<(TcpStream, usize), String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    stream.set_nodelay(true).map_err(|e| e.to_string())?;
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
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
    Ok((stream, head.len() - end))
}

async fn idle(addr: &str, n: usize) -> Result<(), String> {
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        held.push(connect(addr).await?.0);
    }
    println!("ready {n}");
    let _ = std::io::stdout().flush();
    // Hold the connections until the caller closes stdin (blocking is fine: nothing
    // else runs on this thread any more).
    let _ = std::io::stdin().lock().read_line(&mut String::new());
    drop(held);
    Ok(())
}

async fn run(args: Args) -> Result<(), String> {
    let frame_len = wsd_bench::masked_frames(args.size, 1).len();
    // At least 64 KiB per write in pipelined mode so the generator makes few syscalls.
    let per_batch = if args.mode == Mode::Pipelined {
        (64 * 1024 / frame_len).max(1)
    } else {
        1
    };
    let batch: Rc<[u8]> = wsd_bench::masked_frames(args.size, per_batch).into();
    let echoed = Rc::new(Cell::new(0u64));
    let failed: Rc<Cell<Option<String>>> = Rc::new(Cell::new(None));
    // Every handshake completes before any traffic starts, so a server that is slow to
    // serve new connections while busy (no fairness between tasks) still gets measured.
    let mut streams = Vec::with_capacity(args.conns);
    for _ in 0..args.conns {
        streams.push(connect(&args.addr).await?);
    }
    let mut tasks = Vec::with_capacity(args.conns);
    for (stream, early) in streams {
        let (batch, echoed, failed) = (batch.clone(), echoed.clone(), failed.clone());
        let (mode, window) = (args.mode, args.window);
        tasks.push(tokio::task::spawn_local(async move {
            let result = drive(stream, early, &batch, frame_len, mode, window, &echoed).await;
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

/// Drives one connection until the runtime stops, adding echoed messages to `echoed`.
async fn drive(
    stream: TcpStream,
    early: usize,
    batch: &[u8],
    frame_len: usize,
    mode: Mode,
    window: u64,
    echoed: &Cell<u64>,
) -> Result<(), String> {
    // The server echoes unmasked: 4 bytes shorter than what we send.
    let echo_len = (frame_len - 4) as u64;
    let frame_len = frame_len as u64;
    let mut buf = vec![0u8; 256 * 1024];
    let (mut sent, mut received) = (0u64, early as u64);
    let mut offset = 0usize;
    let mut checked = false;
    loop {
        let done = received / echo_len;
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
            let now_done = received / echo_len;
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
