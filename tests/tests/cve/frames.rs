//! Hostile frames against `wsd serve`: lying 64-bit lengths, an endless Hixie length
//! header, and a peer that floods the echo server without ever reading.

use std::io::{Read, Write};
use std::time::Duration;

use wsd_frame::OpCode;

use crate::harness::{Bounds, Server, check, client_frame, read_close};

/// rust-websocket CVE-2022-35922 (allocated what the length header declared), Tomcat
/// CVE-2020-13935 (a length with its most significant bit set looped) and gorilla
/// CVE-2020-27813 (a length counter overflowed). A frame header declaring 2^63,
/// 2^64 - 1 or 2^32 bytes, and no payload, must be refused with 1002 (the RFC forbids
/// the top bit) or 1009 (past `max_length`) before anything is allocated for it.
#[test]
fn lying_64_bit_lengths_are_refused_before_allocating() {
    let server = Server::start(&[]);
    let before = server.wsd.usage();
    let mut codes = Vec::new();
    for length in [1u64 << 63, u64::MAX, 1 << 32] {
        // Three connections per length, so an allocation of even a tenth of the
        // declared size could not hide in the bound.
        for _ in 0..3 {
            let (mut stream, _) = server.upgraded("");
            let mut header = vec![0x82, 0xFF];
            header.extend_from_slice(&length.to_be_bytes());
            header.extend_from_slice(&[1, 2, 3, 4]);
            stream.write_all(&header).unwrap();
            let code = read_close(&mut stream).expect("a close frame");
            assert!(
                matches!(code, Some(1002 | 1009)),
                "length {length}: closed with {code:?}"
            );
            codes.push((length, code.unwrap_or_default()));
        }
    }
    codes.dedup();
    check(
        "CVE-2022-35922/CVE-2020-13935/CVE-2020-27813 64-bit lengths",
        before,
        server.wsd.usage(),
        Bounds {
            cpu: Duration::from_millis(500),
            memory_kib: 4 << 10,
        },
        &format!("; (length, close code): {codes:?}"),
    );
}

/// The Hixie-75 handshake `wsd serve --allow-drafts` accepts.
const HIXIE_75_REQUEST: &[u8] = b"GET /hixie HTTP/1.1\r\nHost: localhost\r\n\
Upgrade: WebSocket\r\nConnection: Upgrade\r\nOrigin: http://localhost\r\n\r\n";

/// A raw Hixie-75 connection to `server`, past the handshake.
fn hixie_75(server: &Server) -> std::net::TcpStream {
    let mut stream = server.raw();
    stream.write_all(HIXIE_75_REQUEST).unwrap();
    let head = crate::harness::read_head(&mut stream).expect("a response head");
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

/// The CPU time `wsd serve` spends on a length frame whose header is `mib` MiB of
/// zero digits, synchronised by the echo of a text frame sent after it (the socket
/// buffers hold megabytes, so a write returning says nothing of what was read).
fn zero_digit_length_cost(server: &Server, mib: usize) -> Duration {
    let before = server.wsd.usage();
    let mut stream = hixie_75(server);
    let zeros = vec![0x80u8; 1 << 20];
    stream.write_all(&[0x80]).unwrap();
    for _ in 0..mib {
        stream.write_all(&zeros).unwrap();
    }
    // The last digit (no top bit) ends the length, zero: no payload. A text frame follows.
    stream.write_all(b"\x00\x00hello\xFF").unwrap();
    let mut echo = [0u8; 7];
    stream
        .read_exact(&mut echo)
        .expect("the text frame is echoed");
    assert_eq!(&echo, b"\x00hello\xFF", "the stream stayed framed");
    server.wsd.usage().cpu.saturating_sub(before.cpu)
}

/// websocket-driver (Node) GHSA-xv26-6w52-cph6 (< 0.7.5): a Hixie length header
/// whose length passed the limit, or 2^53, was never closed and mis-framed the stream.
/// A length frame (0x80) followed by megabytes of 0x80 bytes is a length of zero written
/// with millions of leading zero digits: legal, so the stream must stay framed (the text
/// frame after it is echoed) while memory stays bounded and CPU time grows linearly.
/// Digits that make the length grow (0xFF) must get the connection closed as soon as
/// the length passes `max_length`.
#[test]
fn an_endless_hixie_length_header_stays_framed_and_bounded() {
    let server = Server::start(&["--allow-drafts", "--max-length", "1048576"]);
    let before = server.wsd.usage();
    let (first, second) = (
        zero_digit_length_cost(&server, 2),
        zero_digit_length_cost(&server, 8),
    );
    assert_linear(
        "zero length digits",
        (2, first),
        (8, second),
        Duration::from_millis(300),
    );

    // Growing digits: refused once past 1 MiB, within a few bytes. Writing then fails
    // (a reset or a broken pipe); a server that only stopped reading would make a write
    // time out instead.
    let mut growing = hixie_75(&server);
    growing
        .set_write_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let nines = vec![0xFFu8; 64 << 10];
    let mut sent = 0usize;
    let refused = loop {
        match growing.write_all(&nines) {
            Ok(()) => sent += nines.len(),
            Err(error) => break error.kind(),
        }
        assert!(sent < 64 << 20, "64 MiB of length digits were taken");
    };
    assert!(
        matches!(
            refused,
            std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
        ),
        "the connection was not closed: {refused:?}"
    );
    check(
        "GHSA-xv26-6w52-cph6 endless Hixie length",
        before,
        server.wsd.usage(),
        Bounds {
            cpu: Duration::from_millis(1500),
            memory_kib: 8 << 10,
        },
        &format!(
            "; 2 and 8 MiB of zero digits: {} and {} ms, framing kept; growing digits closed \
             after {} KiB sent",
            first.as_millis(),
            second.as_millis(),
            sent >> 10
        ),
    );
}

/// ws-rs RUSTSEC-2020-0043: the outgoing buffer grew without bound while the peer sent
/// and never read. A client floods the echo server with 64 KiB messages and pings for
/// as long as the server takes them (up to 256 MiB) and reads nothing back: once the
/// socket buffers are full the server must stop reading, so its memory stays at a few
/// buffers.
#[test]
fn a_peer_that_never_reads_cannot_grow_the_servers_memory() {
    let server = Server::start(&[]);
    let before = server.wsd.usage();
    let (mut stream, _) = server.upgraded("");
    let mut burst = client_frame(OpCode::Binary, false, &[0x5A; 64 << 10]);
    for _ in 0..16 {
        burst.extend_from_slice(&client_frame(OpCode::Ping, false, &[0x55; 125]));
    }
    // A write that makes no progress for this long means the server stopped reading.
    stream
        .set_write_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut sent = 0usize;
    while sent < 256 << 20 {
        if stream.write_all(&burst).is_err() {
            break;
        }
        sent += burst.len();
    }
    assert!(
        sent < 256 << 20,
        "the server read all 256 MiB: no backpressure"
    );
    check(
        "RUSTSEC-2020-0043 peer that never reads",
        before,
        server.wsd.usage(),
        Bounds {
            cpu: Duration::from_millis(500),
            memory_kib: 8 << 10,
        },
        &format!(
            "; sent {} KiB before the server stopped reading",
            sent >> 10
        ),
    );
}

/// Asserts that work growing by a factor of `large.0 / small.0` cost at most 2.5 times
/// that factor more CPU time (slack for a loaded machine and the 10 ms clock tick), or
/// `floor` when both are too cheap to measure: near linear, where a quadratic cost
/// would grow by the factor squared (16x for 4x the work).
fn assert_linear(what: &str, small: (u64, Duration), large: (u64, Duration), floor: Duration) {
    let factor = large.0 as f64 / small.0 as f64;
    assert!(
        large.1 <= small.1.mul_f64(factor * 2.5).max(floor),
        "{what}: {factor:.1}x the work cost {:?} against {:?}: worse than linear",
        large.1,
        small.1
    );
}
