//! Hostile request heads against `wsd serve`: fed a byte at a time, with thousands of
//! headers, with header values shaped to make a backtracking or naive splitter
//! quadratic, and with a malformed `Host` or request target.

use std::io::{Read, Write};
use std::time::Duration;

use crate::harness::{Bounds, Server, check, read_head, upgrade_request};

/// The default head limit of `wsd serve` (`wsd_handshake::Limits::max_head_bytes`).
const HEAD_LIMIT: usize = 16 * 1024;

/// A valid upgrade request padded with one long header to `size` bytes.
fn padded_request(size: usize) -> Vec<u8> {
    let bare = upgrade_request("X-Padding: \r\n").len();
    upgrade_request(&format!("X-Padding: {}\r\n", "a".repeat(size - bare)))
}

/// Sends `request` one byte per write until the server answers, and returns the
/// response head and the bytes sent. A pause after each byte lets the server read it
/// before the next arrives: sent back to back, the bytes would pile up in the socket
/// and be read hundreds at a time.
fn send_byte_by_byte(server: &Server, request: &[u8]) -> (String, usize) {
    let mut stream = server.raw();
    stream.set_nonblocking(true).unwrap();
    let mut sent = 0;
    for byte in request {
        // The server answers a refused head at once; an accepted one only when whole.
        if stream.peek(&mut [0u8; 1]).is_ok() {
            break;
        }
        if stream.write_all(std::slice::from_ref(byte)).is_err() {
            break;
        }
        sent += 1;
        std::thread::sleep(Duration::from_micros(20));
    }
    stream.set_nonblocking(false).unwrap();
    (read_head(&mut stream).expect("a response head"), sent)
}

/// tungstenite CVE-2023-43669: the request head was parsed again from its start on every
/// read, with a limit of megabytes, so a long head sent in small pieces cost minutes of
/// CPU time. wsd parses the buffered head again on each read too, but only up to its
/// 16 KiB head limit, where a re-parse costs less than the wake-up that brought the byte.
/// So heads sent one byte per write (each in a wake-up of its own, mostly: the figures
/// count them) must cost about the same per wake-up at 4 KiB and at 16 KiB, where a
/// parse of all that is buffered would make each wake-up about 4x dearer; and a head
/// that never ends must be refused at the limit.
///
/// Per wake-up, not per byte: on a loaded machine some bytes arrive together, which
/// makes fewer, slightly dearer wake-ups, and might do so for one head and not the
/// other.
#[test]
fn a_request_head_fed_one_byte_at_a_time_costs_the_same_per_read() {
    let server = Server::start(&[]);
    let start = server.wsd.usage();
    let mut costs = Vec::new();
    let mut before = start;
    for size in [HEAD_LIMIT / 4, HEAD_LIMIT - 64] {
        let (head, _) = send_byte_by_byte(&server, &padded_request(size));
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        let after = server.wsd.usage();
        costs.push((
            size as u64,
            after.cpu.saturating_sub(before.cpu),
            after.wakeups.saturating_sub(before.wakeups),
        ));
        before = after;
    }
    let [
        (small, small_cpu, small_wakeups),
        (large, large_cpu, large_wakeups),
    ] = costs[..]
    else {
        unreachable!("two sizes")
    };
    let per_wakeup = |cpu: Duration, wakeups: u64| cpu / u32::try_from(wakeups.max(1)).unwrap();
    let (small_each, large_each) = (
        per_wakeup(small_cpu, small_wakeups),
        per_wakeup(large_cpu, large_wakeups),
    );
    // 2.5x: slack for the load changing between the two heads and for the clock tick;
    // a floor for a machine so fast that both are a tick or two.
    assert!(
        large_each <= small_each.mul_f64(2.5) || large_cpu <= Duration::from_millis(100),
        "a wake-up cost {large_each:?} at {large} B against {small_each:?} at {small} B: \
         each read parses all that is buffered"
    );
    // A head that never ends: past the limit, the server answers and closes.
    let endless = padded_request(4 * HEAD_LIMIT);
    let (head, sent) = send_byte_by_byte(&server, &endless[..endless.len() - 4]);
    assert!(head.starts_with("HTTP/1.1 400"), "{head}");
    // The limit plus what a busy machine lets through while the answer travels.
    assert!(sent <= 2 * HEAD_LIMIT, "refused after {sent} bytes");
    let detail = format!(
        "; {small} B: {} ms in {small_wakeups} wake-ups ({} us each), {large} B: {} ms in \
         {large_wakeups} ({} us each); an endless head refused after {sent} B",
        small_cpu.as_millis(),
        small_each.as_micros(),
        large_cpu.as_millis(),
        large_each.as_micros(),
    );
    check(
        "CVE-2023-43669 head one byte at a time",
        start,
        server.wsd.usage(),
        Bounds {
            cpu: Duration::from_millis(2500),
            memory_kib: 4 << 10,
        },
        &detail,
    );
}

/// ws CVE-2024-37890: a request with more headers than the server has room for crashed
/// it. 2,000 empty headers fit in the head size limit, so only the header count limit
/// stands in the way; each request must be refused with a 4xx (or the connection
/// closed) and the server must live on to accept a normal upgrade.
#[test]
fn two_thousand_headers_are_refused_and_the_server_lives_on() {
    let server = Server::start(&[]);
    let before = server.wsd.usage();
    let request = upgrade_request(&"a:\r\n".repeat(2000));
    assert!(request.len() < HEAD_LIMIT, "within the head size limit");
    let mut statuses = Vec::new();
    for _ in 0..20 {
        let mut stream = server.raw();
        stream.write_all(&request).unwrap();
        let status = status_of(&mut stream);
        assert!(
            status.is_none_or(|status| (400..500).contains(&status)),
            "answered {status:?}"
        );
        statuses.push(status);
    }
    let (stream, _) = server.upgraded("");
    drop(stream);
    let after = server.wsd.usage();
    check(
        "CVE-2024-37890 2000 headers",
        before,
        after,
        Bounds {
            cpu: Duration::from_millis(500),
            memory_kib: 4 << 10,
        },
        &format!("; 20 requests answered {:?}", statuses[0]),
    );
}

/// The status code of the response on `stream`, `None` when the server closed it
/// without one.
fn status_of(stream: &mut std::net::TcpStream) -> Option<u16> {
    let head = read_head(stream)?;
    head.get(9..12)?.parse().ok()
}

/// ws CVE-2021-32640 (`Sec-WebSocket-Protocol` split with a regular expression that
/// backtracks on runs of spaces; `websocket-driver` (Node) splits `Connection` and the
/// protocol list the same way) and websocket-extensions CVE-2020-7662 (an unclosed quoted parameter made
/// of backslash pairs). Each value fills the head size limit; a parser quadratic in it
/// would spend hundreds of milliseconds per request (seconds in a debug build), a
/// linear one well under one.
#[test]
fn redos_shaped_header_values_cost_little_cpu_time() {
    let server = Server::start(&["--deflate", "--protocol", "chat"]);
    let room = HEAD_LIMIT - upgrade_request("").len() - 200;
    let values = [
        // Runs of spaces between list items, and one with no comma at all.
        format!(
            "Sec-WebSocket-Protocol: a,{}, chat\r\n",
            " ".repeat(room / 2)
        ),
        format!("Sec-WebSocket-Protocol: a{}b\r\n", " \t".repeat(room / 2)),
        format!(
            "Connection: keep-alive,{} Upgrade\r\n",
            " \t".repeat(room / 2)
        ),
        format!(
            "Sec-WebSocket-Extensions: permessage-deflate; x=\"{}\r\n",
            "\\\\".repeat(room / 2)
        ),
        format!(
            "Sec-WebSocket-Extensions: permessage-deflate;{}x\r\n",
            " ;".repeat(room / 2)
        ),
    ];
    let before = server.wsd.usage();
    let mut statuses = Vec::new();
    for value in &values {
        for _ in 0..10 {
            let mut stream = server.raw();
            stream.write_all(&upgrade_request(value)).unwrap();
            statuses.push(status_of(&mut stream).expect("an answer"));
            // Upgraded ones must be closed by us; refused ones are closed by wsd.
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            let _ = stream.read_to_end(&mut Vec::new());
        }
    }
    let after = server.wsd.usage();
    statuses.dedup();
    check(
        "CVE-2021-32640/CVE-2020-7662 ReDoS-shaped values",
        before,
        after,
        Bounds {
            cpu: Duration::from_millis(500),
            memory_kib: 8 << 10,
        },
        &format!("; 50 requests, statuses {statuses:?}"),
    );
}

/// websocket-driver-ruby CVE-2026-61666: a malformed `Host` crashed the server. Every
/// request here must be refused with 400, and the server must live on.
#[test]
fn malformed_hosts_and_targets_get_400() {
    let server = Server::start(&[]);
    let before = server.wsd.usage();
    let good = String::from_utf8(upgrade_request("")).unwrap();
    let mut requests: Vec<(&str, String)> = [
        ("a Host with a space", "local host"),
        ("an unclosed IPv6 literal", "[::1"),
        ("a non-numeric port", "localhost:http"),
        ("a negative port", "localhost:-1"),
        ("userinfo", "user:pass@localhost"),
    ]
    .into_iter()
    .map(|(what, host)| {
        let host_line = format!("Host: {host}\r\n");
        (what, good.replace("Host: localhost\r\n", &host_line))
    })
    .collect();
    requests.push((
        "two Host headers",
        good.replace("Host: localhost\r\n", "Host: localhost\r\nHost: other\r\n"),
    ));
    for target in ["*", "../x"] {
        requests.push((
            "a bad target",
            good.replace("GET / ", &format!("GET {target} ")),
        ));
    }
    for (what, request) in &requests {
        let mut stream = server.raw();
        stream.write_all(request.as_bytes()).unwrap();
        let status = status_of(&mut stream);
        assert_eq!(status, Some(400), "{what}: {request:?}");
    }
    let (stream, _) = server.upgraded("");
    drop(stream);
    check(
        "CVE-2026-61666 malformed Host and targets",
        before,
        server.wsd.usage(),
        Bounds {
            cpu: Duration::from_millis(500),
            memory_kib: 4 << 10,
        },
        &format!("; {} requests, all 400", requests.len()),
    );
}

/// Slowloris (the class behind tokio-websockets' and many servers' handshake
/// timeouts): 1,000 connections each send the first bytes of a request head and
/// then wait. Each must cost the server about what it was sent, not a read buffer:
/// the whole crowd under 6 MiB (it was 69.6 MiB when a waiting head sat in a 64 KiB
/// buffer).
#[test]
fn a_thousand_half_sent_heads_cost_little_memory() {
    const CONNECTIONS: usize = 1000;
    let server = Server::start(&[]);
    let before = server.wsd.usage();
    let request = upgrade_request("");
    let mut crowd = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let mut stream = server.raw();
        stream.write_all(&request[..20]).unwrap();
        crowd.push(stream);
    }
    // Once more each, so every connection has read twice and is waiting again.
    for stream in &mut crowd {
        stream.write_all(&request[20..40]).unwrap();
    }
    std::thread::sleep(Duration::from_millis(500));
    let after = server.wsd.usage();
    check(
        "slowloris heads (1,000 connections)",
        before,
        after,
        Bounds {
            cpu: Duration::from_secs(3),
            memory_kib: 6 * 1024,
        },
        &format!("; {CONNECTIONS} connections holding 40 bytes each"),
    );
    drop(crowd);
}
