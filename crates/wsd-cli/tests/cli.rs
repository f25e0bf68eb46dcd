//! End to end: the built `wsd` binary, on every runtime, against real sockets.
//!
//! `wsd serve` is started on port 0 and the port is read from the line it prints;
//! the checks are plain HTTP (the page, a 404), a `wsd_tokio` client echoing text and
//! binary, and `wsd connect` fed stdin lines. Every wait has a deadline so a hang
//! fails the test instead of stalling CI.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

mod support;

use support::{DEADLINE, RUNTIMES, Serve, executor, run_wsd};

/// One plain HTTP/1.1 request; returns the whole response (it asks the server to
/// close, which hyper and axum otherwise keep open).
fn http_get(addr: SocketAddr, target: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("connects");
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    write!(
        stream,
        "GET {target} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/html\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reads the response");
    response
}

/// Every way `wsd serve` can run: each runtime with its own handshake, and the
/// hyper and axum stacks.
const SERVERS: [&[&str]; 5] = [
    &["--runtime", "tokio"],
    &["--runtime", "async-std"],
    &["--runtime", "smol"],
    &["--stack", "hyper"],
    &["--stack", "axum"],
];

#[test]
fn serve_answers_the_page_and_404_on_every_runtime_and_stack() {
    for runtime in SERVERS {
        let server = Serve::start(runtime, Stdio::inherit());
        let page = http_get(server.addr, "/");
        assert!(
            page.starts_with("HTTP/1.1 200 OK\r\n"),
            "{runtime:?}: {page}"
        );
        assert!(page.contains("text/html"), "{runtime:?}: {page}");
        assert!(page.contains("<!DOCTYPE html>"), "{runtime:?}");
        let missing = http_get(server.addr, "/missing");
        assert!(
            missing.starts_with("HTTP/1.1 404"),
            "{runtime:?}: {missing}"
        );
    }
}

#[test]
fn serve_echoes_text_and_binary_on_every_runtime_and_stack() {
    use wsd_tokio::{Bytes, CloseCode, Message, Options};

    let executor = executor();
    for runtime in SERVERS {
        let server = Serve::start(runtime, Stdio::inherit());
        let url = format!("ws://{}/", server.addr);
        executor.block_on(async {
            let connecting = wsd_tokio::connect_with(&url, Options::default());
            let mut ws = tokio::time::timeout(DEADLINE, connecting)
                .await
                .expect("handshake in time")
                .expect("handshake succeeds");
            let binary = Bytes::from_static(&[0, 1, 2, 0xfe, 0xff]);
            ws.send(Message::Text("héllo".into())).await.unwrap();
            ws.send(Message::Binary(binary.clone())).await.unwrap();
            let mut received = Vec::new();
            while received.len() < 2 {
                let next = tokio::time::timeout(DEADLINE, ws.next_message()).await;
                match next.expect("echo in time") {
                    Some(Ok(message @ (Message::Text(_) | Message::Binary(_)))) => {
                        received.push(message);
                    }
                    Some(Ok(_)) => {}
                    other => panic!("{runtime:?}: connection ended early: {other:?}"),
                }
            }
            assert!(
                matches!(&received[0], Message::Text(t) if t.as_str() == "héllo"),
                "{runtime:?}: {received:?}"
            );
            assert!(
                matches!(&received[1], Message::Binary(b) if *b == binary),
                "{runtime:?}: {received:?}"
            );
            ws.close(CloseCode::NORMAL, "").await.unwrap();
        });
    }
}

#[test]
fn connect_sends_lines_and_prints_echoes_on_every_runtime() {
    let server = Serve::start(&[], Stdio::inherit());
    let url = format!("ws://{}/", server.addr);
    for runtime in RUNTIMES {
        let output = run_wsd(
            &["connect", &url, "--runtime", runtime],
            "one\ntwo words\r\n\nlast",
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{runtime}: {stderr}");
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "one\ntwo words\n\nlast\n",
            "{runtime}: {stderr}"
        );
    }
}

#[test]
fn connect_fails_clearly_when_the_handshake_is_refused() {
    // A server that answers every request with 404, and passes the request heads on.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (heads, received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                head.push(byte[0]);
            }
            let _ = stream.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            let _ = heads.send(String::from_utf8_lossy(&head).into_owned());
        }
    });
    for runtime in RUNTIMES {
        let url = format!("ws://{addr}/chat");
        let output = run_wsd(
            &[
                "connect",
                &url,
                "--runtime",
                runtime,
                "--header",
                "X-Wsd-Test: yes",
            ],
            "never sent\n",
        );
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{runtime}: exited 0");
        assert!(
            stderr.starts_with("wsd: handshake failed: "),
            "{runtime}: {stderr}"
        );
        assert!(stderr.contains("404"), "{runtime}: {stderr}");
        assert!(output.stdout.is_empty(), "{runtime}");
        let head = received
            .recv_timeout(DEADLINE)
            .expect("the request arrived");
        assert!(
            head.starts_with("GET /chat HTTP/1.1\r\n"),
            "{runtime}: {head}"
        );
        assert!(
            head.contains("\r\nX-Wsd-Test: yes\r\n"),
            "{runtime}: {head}"
        );
    }
}

#[test]
fn connect_reports_an_unreachable_server() {
    // Bind then drop: the port is (very likely) closed now.
    let addr = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("ws://{addr}/");
    let output = run_wsd(&["connect", &url], "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains(&format!("cannot connect to {addr}")),
        "{stderr}"
    );
}

/// What the stand-in fuzzing server saw of one `wsd autobahn-client` run.
#[derive(Debug, Default)]
struct SuiteLog {
    /// Case connections open now, and the most that were open at once.
    in_flight: usize,
    most_in_flight: usize,
    /// The cases asked for, in the order they were asked for.
    started: Vec<u32>,
    /// The cases whose message came back unchanged.
    echoed: Vec<u32>,
    /// The `agent` parameter of every `/runCase` and `/updateReports`, raw.
    agents: Vec<String>,
    /// (cases open, cases echoed) when `/updateReports` arrived.
    reports: Option<(usize, usize)>,
}

/// A stand-in for kosoku's fuzzing server with `count` cases: `/getCaseCount`
/// answers the count; each `/runCase` sends one text message, waits for its echo and
/// closes; `/updateReports` ends the server and sends the log. Each case waits
/// before sending until `hold` cases are open at once (or every case has been asked
/// for), so a client that runs cases side by side is seen doing it.
fn fake_fuzzing_server(
    count: u32,
    hold: usize,
) -> (SocketAddr, std::sync::mpsc::Receiver<SuiteLog>) {
    use std::sync::{Arc, Mutex};
    use wsd_tokio::{CloseCode, Message};

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    let (send_log, log_received) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let executor = executor();
        let log = Arc::new(Mutex::new(SuiteLog::default()));
        executor.block_on(async {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            loop {
                let (stream, _) = listener.accept().await.unwrap();
                let Ok(mut ws) = wsd_tokio::accept(stream).await else {
                    continue;
                };
                let target = ws.request().map(|r| r.target.clone()).unwrap_or_default();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let param = |name: &str| {
                    query
                        .split('&')
                        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
                        .map(String::from)
                };
                match path {
                    "/getCaseCount" => {
                        let _ = ws.send(Message::Text(count.to_string().into())).await;
                        let _ = ws.close(CloseCode::NORMAL, "").await;
                    }
                    "/updateReports" => {
                        {
                            let mut log = log.lock().unwrap();
                            log.reports = Some((log.in_flight, log.echoed.len()));
                            log.agents.extend(param("agent"));
                        }
                        let _ = ws.close(CloseCode::NORMAL, "").await;
                        break;
                    }
                    _ => {
                        let case: u32 = param("case").and_then(|n| n.parse().ok()).unwrap_or(0);
                        {
                            let mut log = log.lock().unwrap();
                            log.started.push(case);
                            log.agents.extend(param("agent"));
                            log.in_flight += 1;
                            log.most_in_flight = log.most_in_flight.max(log.in_flight);
                        }
                        let log = Arc::clone(&log);
                        tokio::spawn(async move {
                            let deadline = Instant::now() + DEADLINE;
                            loop {
                                let ready = {
                                    let log = log.lock().unwrap();
                                    log.in_flight >= hold || log.started.len() == count as usize
                                };
                                if ready || Instant::now() > deadline {
                                    break;
                                }
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                            let text = format!("case {case}");
                            let _ = ws.send(Message::Text(text.clone().into())).await;
                            let echo = loop {
                                match ws.next_message().await {
                                    Some(Ok(Message::Text(echo))) => break Some(echo),
                                    Some(Ok(_)) => {}
                                    _ => break None,
                                }
                            };
                            {
                                let mut log = log.lock().unwrap();
                                log.in_flight -= 1;
                                if echo.is_some_and(|echo| echo.as_str() == text) {
                                    log.echoed.push(case);
                                }
                            }
                            let _ = ws.close(CloseCode::NORMAL, "").await;
                        });
                    }
                }
            }
        });
        let _ = send_log.send(std::mem::take(&mut *log.lock().unwrap()));
    });
    (addr, log_received)
}

#[test]
fn autobahn_client_runs_concurrency_cases_at_once_then_asks_for_the_report() {
    // 7 cases: with 3 at a time the last round is short.
    for (concurrency, runtime) in [
        (None, "tokio"),
        (Some(3), "tokio"),
        (Some(3), "async-std"),
        (Some(3), "smol"),
    ] {
        let hold = concurrency.unwrap_or(1);
        let (addr, log) = fake_fuzzing_server(7, hold);
        let server = format!("ws://{addr}");
        let mut args = vec![
            "autobahn-client",
            "--server",
            &server,
            "--agent",
            "wsd test",
            "--runtime",
            runtime,
        ];
        let concurrency_arg = concurrency.map(|n| n.to_string());
        if let Some(n) = &concurrency_arg {
            args.extend(["--concurrency", n]);
        }
        let output = run_wsd(&args, "");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{runtime}: {stderr}");
        assert!(stderr.contains("wsd: 7 cases"), "{runtime}: {stderr}");
        let log = log
            .recv_timeout(DEADLINE)
            .expect("the server got /updateReports");
        let label = format!("{runtime} --concurrency {concurrency:?}: {log:?}");
        assert_eq!(log.most_in_flight, hold, "{label}");
        let mut started = log.started.clone();
        started.sort_unstable();
        assert_eq!(started, [1, 2, 3, 4, 5, 6, 7], "{label}");
        assert_eq!(log.echoed.len(), 7, "{label}");
        // The report is asked for only after every case has ended.
        assert_eq!(log.reports, Some((0, 7)), "{label}");
        assert_eq!(log.agents.len(), 8, "{label}");
        assert!(log.agents.iter().all(|a| a == "wsd%20test"), "{label}");
    }
}
