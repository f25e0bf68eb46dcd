//! End to end: the lifecycle flags of the built `wsd` binary on every runtime, over
//! real sockets: keepalive pings (`--ping-interval`, `--ping-timeout`), the idle
//! timeout, `--max-connections`, the graceful shutdown on SIGTERM and the serving
//! threads of `--threads`.
//!
//! Timing bounds follow the issue: a dead peer is dropped within interval + timeout
//! (+10%), an idle one at the idle timeout (+10%), measured from when the handshake
//! completed on the test's side.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use wsd_tokio::{CloseCode, Message, Options};

mod support;
use support::{
    Certificate, DEADLINE, RUNTIMES, Running, Serve, WSD, executor, read_head, read_n, serve, tcp,
};

const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

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
        let status = wait(&mut child.0, DEADLINE);
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
fn wait(child: &mut Child, deadline: Duration) -> std::process::ExitStatus {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
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
        assert_echoed(&mut ws, &format!("client {i}")).await;
        clients.push(ws);
    }
    clients
}

/// Sends `text` on `ws` and asserts it comes back.
async fn assert_echoed<T: wsd_io::Transport, Z: wsd_io::Timer>(
    ws: &mut wsd_io::WebSocket<T, Z>,
    text: &str,
) {
    ws.send(Message::text(text)).await.unwrap();
    let echo = ws.next_message().await.unwrap().unwrap();
    assert_eq!(echo.as_text(), Some(text));
}

/// `count` WebSockets on one cleartext HTTP/2 connection (prior knowledge) to the
/// server on `port`, each with one echo seen.
async fn open_h2c_clients(port: u16, count: usize) -> Vec<wsd_h2::WebSocket> {
    let client = h2c_client(port).await;
    let url = format!("ws://127.0.0.1:{port}/");
    let mut clients = Vec::with_capacity(count);
    for i in 0..count {
        let mut ws = wsd_h2::connect(&client, &url, Options::default())
            .await
            .unwrap();
        assert_echoed(&mut ws, &format!("h2 client {i}")).await;
        clients.push(ws);
    }
    clients
}

/// An HTTP/2 connection with prior knowledge to the server on `port`, its driver
/// spawned on the test's runtime.
async fn h2c_client(port: u16) -> wsd_h2::Client {
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let (client, driver) = wsd_h2::Client::handshake(tcp, wsd_h2::H2Config::default())
        .await
        .unwrap();
    tokio::spawn(driver);
    client
}

/// Reads `ws` to its end: the code of the close frame it got, if any.
async fn close_code<T: wsd_io::Transport, Z: wsd_io::Timer>(
    mut ws: wsd_io::WebSocket<T, Z>,
) -> Option<CloseCode> {
    let mut code = None;
    while let Some(item) = ws.next_message().await {
        if let Ok(Message::Close(frame)) = item {
            code = frame.map(|frame| frame.code);
        }
    }
    code
}

/// Waits, at most the deadline each, for the tasks that read clients to their end.
async fn close_codes(
    readers: Vec<tokio::task::JoinHandle<Option<CloseCode>>>,
) -> Vec<Option<CloseCode>> {
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
}

/// Sends `signal` (`TERM`, `INT`) to `child`.
fn signal(child: &Child, signal: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
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
        let readers = clients
            .into_iter()
            .map(|ws| executor.spawn(close_code(ws)))
            .collect();
        assert_stop_closes_all_with_1001(&mut server, stop, &executor, readers, runtime);
    }
}

/// Sends SIG`stop` to `server`, whose open WebSockets the tasks `readers` read to
/// their end on `executor`: every one must get close 1001, and the server must
/// exit 0 within 5 s.
fn assert_stop_closes_all_with_1001(
    server: &mut Serve,
    stop: &str,
    executor: &tokio::runtime::Runtime,
    readers: Vec<tokio::task::JoinHandle<Option<CloseCode>>>,
    what: &str,
) {
    let expected = readers.len();
    let signalled = Instant::now();
    signal(&server.child, stop);
    let codes = executor.block_on(close_codes(readers));
    let going_away = codes
        .iter()
        .filter(|code| **code == Some(CloseCode::GOING_AWAY))
        .count();
    assert_eq!(going_away, expected, "{what}: {codes:?}");
    let status = wait(&mut server.child, Duration::from_secs(5));
    assert!(status.success(), "{what}: {status:?}");
    eprintln!(
        "{what}: {expected} clients closed and the server exited {:?} after SIG{stop}",
        signalled.elapsed()
    );
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
        signal(&server.child, "TERM");
        let status = wait(&mut server.child, DEADLINE);
        assert!(status.success(), "{runtime}: {status:?}");
        assert_on_time(runtime, signalled.elapsed(), Duration::from_millis(500));

        // A second signal cuts a long grace period short.
        let (mut server, port) = serve(&["--runtime", runtime, "--shutdown-timeout", "60s"]);
        let _silent = silent_client(port);
        signal(&server.child, "TERM");
        std::thread::sleep(Duration::from_millis(200));
        assert!(
            server.child.try_wait().unwrap().is_none(),
            "{runtime}: waits"
        );
        let again = Instant::now();
        signal(&server.child, "TERM");
        let status = wait(&mut server.child, Duration::from_secs(2));
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
        assert_full_until_one_leaves(&executor, port, &mut clients, runtime);
        assert_eq!(clients.len(), MAX);
    }
}

/// With `clients` in every place of the server on `port`: an upgrade request gets
/// 503 with `Retry-After: 5`, plain HTTP is still served, and once a client leaves
/// its place goes to the next.
fn assert_full_until_one_leaves(
    executor: &tokio::runtime::Runtime,
    port: u16,
    clients: &mut Vec<wsd_tokio::WebSocket<wsd_tokio::MaybeTlsStream>>,
    what: &str,
) {
    let mut refused = tcp(port);
    refused.write_all(UPGRADE.as_bytes()).unwrap();
    let head = read_head(&mut refused);
    assert!(head.starts_with("HTTP/1.1 503"), "{what}: {head}");
    // hyper sends header names in lower case, wsd's own handshake as written.
    assert!(
        head.to_ascii_lowercase().contains("\r\nretry-after: 5\r\n"),
        "{what}: {head}"
    );
    let mut page = tcp(port);
    page.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .unwrap();
    assert!(read_head(&mut page).starts_with("HTTP/1.1 200"), "{what}");
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
                    assert!(Instant::now() < deadline, "{what}: {error}");
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }
    });
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
                serving_threads(server.child.id()),
                expected,
                "{runtime} --threads {threads}"
            );
            drop(clients);
        }
    }
}

/// The servers that make their WebSockets outside the own stack's accept loop: the
/// hyper and axum stacks, and the server of `--h2c` (the TLS server's code without
/// the certificate): HTTP/2 streams beside HTTP/1.1 upgrades, which go to the own
/// stack or to hyper.
const STACK_SERVERS: [&[&str]; 4] = [
    &["--stack", "hyper"],
    &["--stack", "axum"],
    &["--h2c"],
    &["--h2c", "--stack", "hyper"],
];

/// Whether `flags` serve HTTP/2 streams too.
fn h2c(flags: &[&str]) -> bool {
    flags.contains(&"--h2c")
}

#[test]
fn sigterm_closes_every_client_with_1001_and_serve_exits_0_on_the_stacks_and_over_http2() {
    let _serial = one_at_a_time();
    const CLIENTS: usize = 50;
    const H2_CLIENTS: usize = 5;
    for flags in STACK_SERVERS {
        let mut args = flags.to_vec();
        args.extend(["--threads", "2", "--shutdown-timeout", "5s"]);
        let (mut server, port) = serve(&args);
        let executor = executor();
        let (clients, h2_clients) = executor.block_on(async {
            let h2_clients = if h2c(flags) {
                open_h2c_clients(port, H2_CLIENTS).await
            } else {
                Vec::new()
            };
            (open_clients(port, CLIENTS).await, h2_clients)
        });
        let mut readers: Vec<_> = clients
            .into_iter()
            .map(|ws| executor.spawn(close_code(ws)))
            .collect();
        readers.extend(
            h2_clients
                .into_iter()
                .map(|ws| executor.spawn(close_code(ws))),
        );
        assert_stop_closes_all_with_1001(
            &mut server,
            "TERM",
            &executor,
            readers,
            &format!("{flags:?}"),
        );
    }
}

#[test]
fn the_stacks_drop_a_client_that_never_closes_at_the_shutdown_timeout() {
    let _serial = one_at_a_time();
    for flags in STACK_SERVERS {
        let mut args = flags.to_vec();
        args.extend(["--shutdown-timeout", "500ms"]);
        let (mut server, port) = serve(&args);
        let _silent = silent_client(port);
        let signalled = Instant::now();
        signal(&server.child, "TERM");
        let status = wait(&mut server.child, DEADLINE);
        assert!(status.success(), "{flags:?}: {status:?}");
        assert_on_time(
            &format!("{flags:?}"),
            signalled.elapsed(),
            Duration::from_millis(500),
        );
    }
}

#[test]
fn max_connections_answers_503_on_the_stacks_and_over_http2() {
    let _serial = one_at_a_time();
    const MAX: usize = 3;
    for flags in STACK_SERVERS {
        let mut args = flags.to_vec();
        args.extend(["--max-connections", "3"]);
        let (_server, port) = serve(&args);
        let executor = executor();
        let mut clients = executor.block_on(open_clients(port, MAX));
        if h2c(flags) {
            // The streams of HTTP/2 count against the same limit.
            executor.block_on(async {
                let client = h2c_client(port).await;
                let url = format!("ws://127.0.0.1:{port}/");
                let error = wsd_h2::connect(&client, &url, Options::default())
                    .await
                    .unwrap_err();
                assert!(error.to_string().contains("503"), "{flags:?}: {error}");
            });
        }
        assert_full_until_one_leaves(&executor, port, &mut clients, &format!("{flags:?}"));
        assert_eq!(clients.len(), MAX, "{flags:?}");
    }
}

#[cfg(target_os = "linux")]
#[test]
fn the_stacks_and_the_http2_server_serve_on_threads_workers_too() {
    let _serial = one_at_a_time();
    for flags in STACK_SERVERS {
        for threads in [1usize, 3] {
            let count = threads.to_string();
            let mut args = flags.to_vec();
            args.extend(["--threads", &count]);
            let (server, port) = serve(&args);
            let clients = executor().block_on(open_clients(port, 20));
            let expected = if threads == 1 { 0 } else { threads };
            assert_eq!(
                serving_threads(server.child.id()),
                expected,
                "{flags:?} --threads {threads}"
            );
            drop(clients);
        }
    }
}

#[test]
fn sigterm_closes_a_wss_client_of_the_tls_server_and_serve_exits_0() {
    let _serial = one_at_a_time();
    let certificate = Certificate::new();
    let mut server = certificate.serve(&["--shutdown-timeout", "5s"], Stdio::null());
    let url = format!("wss://localhost:{}/", server.port());
    let mut client = Running(
        Command::new(WSD)
            .args(["connect", &url, "--ca", certificate.cert()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Open once the echo of a line is back; stdin stays open.
    let mut stdin = client.0.stdin.take().unwrap();
    stdin.write_all(b"hello\n").unwrap();
    let mut echo = String::new();
    BufReader::new(client.0.stdout.take().unwrap())
        .read_line(&mut echo)
        .unwrap();
    assert_eq!(echo, "hello\n");
    signal(&server.child, "TERM");
    // With its stdin open, wsd connect ends only when the server closes: with exit
    // status 0 for 1000, 1001 or no code, and the server sends none of them unless
    // it shuts down (the client never closed).
    let status = wait(&mut client.0, DEADLINE);
    let mut stderr = String::new();
    let mut pipe = client.0.stderr.take().unwrap();
    pipe.read_to_string(&mut stderr).unwrap();
    assert!(status.success(), "{status:?}: {stderr}");
    let status = wait(&mut server.child, Duration::from_secs(5));
    assert!(status.success(), "{status:?}");
}
