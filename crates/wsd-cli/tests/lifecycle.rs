//! End to end: the lifecycle flags of the built `wsd` binary on every runtime, over
//! real sockets: keepalive pings (`--ping-interval`, `--ping-timeout`), the idle
//! timeout, `--max-connections`, the graceful shutdown on SIGTERM and the serving
//! threads of `--threads`.
//!
//! Timing bounds follow the issue: a dead peer is dropped within interval + timeout
//! (+10%), an idle one at the idle timeout (+10%), measured from when the handshake
//! completed on the test's side.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use wsd_tokio::{CloseCode, Message, Options};

mod common;
use common::{DEADLINE, Running, WSD, read_head, read_n, serve, tcp};

const RUNTIMES: [&str; 3] = ["tokio", "async-std", "smol"];

const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

/// A current-thread tokio runtime for the test's clients.
fn executor() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One unmasked server frame from `stream`: (opcode, payload).
fn read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    let head = read_n(stream, 2);
    assert!(head[1] < 126, "a short server frame: {head:?}");
    (head[0] & 0x0f, read_n(stream, usize::from(head[1])))
}

/// Asserts `elapsed` lies in `[at, at * 1.1]`, with 50 ms for the scheduler of a
/// busy two-core machine, and 20 ms early for the server's clock, which starts when
/// it is done with the handshake, a little before the test has read the 101.
fn assert_on_time(what: &str, elapsed: Duration, at: Duration) {
    let early = at - Duration::from_millis(20);
    let late = at + at / 10 + Duration::from_millis(50);
    assert!(
        elapsed >= early && elapsed <= late,
        "{what}: after {elapsed:?}, expected {at:?} to {late:?}"
    );
}

/// Held by every test here: the timing tests must not share the two cores with the
/// 200-client ones.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn serve_drops_a_peer_that_stops_answering_pings_within_interval_plus_timeout() {
    let _serial = one_at_a_time();
    let (interval, timeout) = (Duration::from_millis(800), Duration::from_millis(700));
    for runtime in RUNTIMES {
        let (_server, port) = serve(&[
            "--runtime",
            runtime,
            "--ping-interval",
            "800ms",
            "--ping-timeout",
            "700ms",
        ]);
        let mut peer = tcp(port);
        peer.write_all(UPGRADE.as_bytes()).unwrap();
        assert!(read_head(&mut peer).starts_with("HTTP/1.1 101"));
        let opened = Instant::now();
        // The peer now says nothing at all.
        let (opcode, _) = read_frame(&mut peer);
        assert_eq!(opcode, 0x9, "{runtime}: a ping");
        assert_on_time("the ping", opened.elapsed(), interval);
        let (opcode, payload) = read_frame(&mut peer);
        assert_eq!(opcode, 0x8, "{runtime}: a close");
        assert_eq!(&payload[..2], &1011u16.to_be_bytes(), "{runtime}");
        assert_eq!(&payload[2..], b"keepalive ping timeout", "{runtime}");
        let mut rest = Vec::new();
        peer.read_to_end(&mut rest).unwrap();
        assert!(rest.is_empty(), "{runtime}: {rest:?}");
        assert_on_time(runtime, opened.elapsed(), interval + timeout);
    }
}

#[test]
fn serve_keeps_a_peer_that_answers_its_pings() {
    let _serial = one_at_a_time();
    for runtime in RUNTIMES {
        let (_server, port) = serve(&[
            "--runtime",
            runtime,
            "--ping-interval",
            "200ms",
            "--ping-timeout",
            "200ms",
        ]);
        executor().block_on(async {
            let url = format!("ws://127.0.0.1:{port}/");
            let mut ws = wsd_tokio::connect(&url).await.unwrap();
            // Reading answers the pings; three intervals and more pass.
            let mut pings = 0;
            let until = tokio::time::Instant::now() + Duration::from_millis(1000);
            while let Ok(item) = tokio::time::timeout_at(until, ws.next_message()).await {
                match item {
                    Some(Ok(Message::Ping(_))) => pings += 1,
                    other => panic!("{runtime}: {other:?}"),
                }
            }
            assert!(pings >= 3, "{runtime}: {pings} pings");
            ws.send(Message::text("still here")).await.unwrap();
            let echo = loop {
                match ws.next_message().await.unwrap().unwrap() {
                    Message::Ping(_) => {}
                    other => break other,
                }
            };
            assert_eq!(echo.as_text(), Some("still here"), "{runtime}");
            ws.close(CloseCode::NORMAL, "").await.unwrap();
        });
    }
}

#[test]
fn serve_closes_a_silent_client_with_1001_at_the_idle_timeout() {
    let _serial = one_at_a_time();
    let idle = Duration::from_millis(800);
    for runtime in RUNTIMES {
        let (_server, port) = serve(&["--runtime", runtime, "--idle-timeout", "800ms"]);
        executor().block_on(async {
            let url = format!("ws://127.0.0.1:{port}/");
            let mut ws = wsd_tokio::connect(&url).await.unwrap();
            let opened = Instant::now();
            let Some(Ok(Message::Close(Some(frame)))) = ws.next_message().await else {
                panic!("{runtime}: a close");
            };
            assert_on_time(runtime, opened.elapsed(), idle);
            assert_eq!(frame.code, CloseCode::GOING_AWAY, "{runtime}");
            assert_eq!(frame.reason, "idle timeout", "{runtime}");
            assert!(ws.next_message().await.is_none(), "{runtime}");
        });
    }
}

#[test]
fn connect_fails_with_keepalive_ping_timeout_against_a_server_that_stopped_reading() {
    let _serial = one_at_a_time();
    let (interval, timeout) = (Duration::from_millis(600), Duration::from_millis(600));
    // A WebSocket server that completes the handshake, then never reads again.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        executor().block_on(async {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let mut held = Vec::new();
            while let Ok((stream, _)) = listener.accept().await {
                held.push(wsd_tokio::accept(stream).await.unwrap());
            }
        });
    });
    for runtime in RUNTIMES {
        let url = format!("ws://127.0.0.1:{port}/");
        let started = Instant::now();
        let mut child = Command::new(WSD)
            .args(["connect", &url, "--runtime", runtime])
            .args(["--ping-interval", "600ms", "--ping-timeout", "600ms"])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // stdin stays open: wsd connect must end on its own.
        let _stdin = child.stdin.take();
        let mut child = Running(child);
        let status = wait(&mut child, DEADLINE);
        let elapsed = started.elapsed();
        let mut stderr = String::new();
        child
            .0
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(!status.success(), "{runtime}: {stderr}");
        assert!(
            stderr.contains("keepalive ping timeout"),
            "{runtime}: {stderr}"
        );
        // From the start of the process: the handshake takes a few milliseconds more.
        let late = (interval + timeout) * 11 / 10 + Duration::from_millis(300);
        assert!(
            elapsed >= interval + timeout && elapsed <= late,
            "{runtime}: exited after {elapsed:?}"
        );
    }
}

/// Waits for `child` to exit, at most `deadline`.
fn wait(child: &mut Running, deadline: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.0.try_wait().unwrap() {
            return status;
        }
        assert!(started.elapsed() < deadline, "no exit within {deadline:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `count` open clients of the server on `port`, each with one echo seen (so the
/// server holds each as an open WebSocket).
async fn open_clients(
    port: u16,
    count: usize,
) -> Vec<wsd_tokio::WebSocket<wsd_tokio::MaybeTlsStream>> {
    let url = format!("ws://127.0.0.1:{port}/");
    let mut clients = Vec::with_capacity(count);
    for i in 0..count {
        let mut ws = wsd_tokio::connect_with(&url, Options::default())
            .await
            .unwrap();
        ws.send(Message::text(format!("client {i}"))).await.unwrap();
        let echo = ws.next_message().await.unwrap().unwrap();
        assert_eq!(echo.as_text(), Some(format!("client {i}").as_str()));
        clients.push(ws);
    }
    clients
}

/// Sends `signal` (`TERM`, `INT`) to `child`.
fn signal(child: &Running, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.0.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
}

#[test]
fn sigterm_closes_every_client_with_1001_and_serve_exits_0_on_every_runtime() {
    let _serial = one_at_a_time();
    const CLIENTS: usize = 200;
    // SIGINT (Ctrl-C) does the same as SIGTERM.
    for (runtime, stop) in [("tokio", "TERM"), ("async-std", "TERM"), ("smol", "INT")] {
        // Two serving threads: the shutdown reaches the clients of every thread.
        let (mut server, port) = serve(&[
            "--runtime",
            runtime,
            "--threads",
            "2",
            "--shutdown-timeout",
            "5s",
        ]);
        let executor = executor();
        let clients = executor.block_on(open_clients(port, CLIENTS));
        let signalled = Instant::now();
        signal(&server, stop);
        let codes = executor.block_on(async {
            let readers: Vec<_> = clients
                .into_iter()
                .map(|mut ws| {
                    tokio::spawn(async move {
                        let mut code = None;
                        while let Some(item) = ws.next_message().await {
                            if let Ok(Message::Close(frame)) = item {
                                code = frame.map(|frame| frame.code);
                            }
                        }
                        code
                    })
                })
                .collect();
            let mut codes = Vec::new();
            for reader in readers {
                codes.push(
                    tokio::time::timeout(DEADLINE, reader)
                        .await
                        .unwrap()
                        .unwrap(),
                );
            }
            codes
        });
        let going_away = codes
            .iter()
            .filter(|code| **code == Some(CloseCode::GOING_AWAY))
            .count();
        assert_eq!(going_away, CLIENTS, "{runtime}: {codes:?}");
        let status = wait(&mut server, Duration::from_secs(5));
        assert!(status.success(), "{runtime}: {status:?}");
        eprintln!(
            "{runtime}: {CLIENTS} clients closed and the server exited {:?} after SIG{stop}",
            signalled.elapsed()
        );
    }
}

/// A client that completes the handshake, then never reads: it will not answer the
/// server's close.
fn silent_client(port: u16) -> TcpStream {
    let mut peer = tcp(port);
    peer.write_all(UPGRADE.as_bytes()).unwrap();
    assert!(read_head(&mut peer).starts_with("HTTP/1.1 101"));
    peer
}

#[test]
fn serve_drops_a_client_that_never_closes_at_the_shutdown_timeout_or_a_second_signal() {
    let _serial = one_at_a_time();
    for runtime in RUNTIMES {
        // The grace period passes.
        let (mut server, port) = serve(&["--runtime", runtime, "--shutdown-timeout", "500ms"]);
        let _silent = silent_client(port);
        let signalled = Instant::now();
        signal(&server, "TERM");
        let status = wait(&mut server, DEADLINE);
        assert!(status.success(), "{runtime}: {status:?}");
        assert_on_time(runtime, signalled.elapsed(), Duration::from_millis(500));

        // A second signal cuts a long grace period short.
        let (mut server, port) = serve(&["--runtime", runtime, "--shutdown-timeout", "60s"]);
        let _silent = silent_client(port);
        signal(&server, "TERM");
        std::thread::sleep(Duration::from_millis(200));
        assert!(server.0.try_wait().unwrap().is_none(), "{runtime}: waits");
        let again = Instant::now();
        signal(&server, "TERM");
        let status = wait(&mut server, Duration::from_secs(2));
        assert!(status.success(), "{runtime}: {status:?}");
        eprintln!(
            "{runtime}: exited {:?} after the second signal",
            again.elapsed()
        );
    }
}

#[test]
fn max_connections_answers_503_with_retry_after_and_frees_places_as_clients_leave() {
    let _serial = one_at_a_time();
    const MAX: usize = 200;
    for runtime in RUNTIMES {
        let (_server, port) = serve(&["--runtime", runtime, "--max-connections", "200"]);
        let executor = executor();
        let mut clients = executor.block_on(open_clients(port, MAX));
        let mut refused = tcp(port);
        refused.write_all(UPGRADE.as_bytes()).unwrap();
        let head = read_head(&mut refused);
        assert!(head.starts_with("HTTP/1.1 503"), "{runtime}: {head}");
        assert!(head.contains("\r\nRetry-After: 5\r\n"), "{runtime}: {head}");
        // Plain HTTP is not limited: the page is still served.
        let mut page = tcp(port);
        page.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        assert!(
            read_head(&mut page).starts_with("HTTP/1.1 200"),
            "{runtime}"
        );
        // One client leaves; its place goes to the next.
        executor.block_on(async {
            let mut leaving = clients.pop().unwrap();
            leaving.close(CloseCode::NORMAL, "").await.unwrap();
            while leaving.next_message().await.is_some() {}
            let url = format!("ws://127.0.0.1:{port}/");
            let deadline = Instant::now() + DEADLINE;
            loop {
                match wsd_tokio::connect(&url).await {
                    Ok(ws) => break clients.push(ws),
                    Err(error) => {
                        assert!(Instant::now() < deadline, "{runtime}: {error}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        });
        assert_eq!(clients.len(), MAX);
    }
}

/// How many threads of the process `pid` are named `wsd-serve` (the workers of
/// `wsd serve --threads N`).
#[cfg(target_os = "linux")]
fn serving_threads(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter(|task| {
            let comm = std::fs::read_to_string(task.as_ref().unwrap().path().join("comm"));
            comm.is_ok_and(|name| name.trim() == "wsd-serve")
        })
        .count()
}

#[cfg(target_os = "linux")]
#[test]
fn serve_threads_runs_that_many_workers_and_one_keeps_everything_on_the_main_thread() {
    let _serial = one_at_a_time();
    for runtime in RUNTIMES {
        for threads in [1usize, 3] {
            let count = threads.to_string();
            let (server, port) = serve(&["--runtime", runtime, "--threads", &count]);
            // Twenty clients open at once, each echoed, spread over the workers.
            let clients = executor().block_on(open_clients(port, 20));
            // tokio and smol serve `--threads 1` on the main thread as before the flag;
            // async-std always runs its tasks on its executor's threads.
            let expected = if threads == 1 && runtime != "async-std" {
                0
            } else {
                threads
            };
            assert_eq!(
                serving_threads(server.0.id()),
                expected,
                "{runtime} --threads {threads}"
            );
            drop(clients);
        }
    }
}
