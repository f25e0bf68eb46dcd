//! Decompression bombs: permessage-deflate messages of a few hundred KiB that inflate
//! to hundreds of MiB, sent to `wsd serve --deflate` (once, and on 20 connections at
//! once) and to `wsd connect --deflate` by a hostile server.
//!
//! websocket-driver (Node) GHSA-67p7-xj24-jfm9 (it inflated a message before checking
//! its length), python websockets CVE-2018-1000518 and nats-server CVE-2026-27571 (the
//! same bomb on many connections at once): the receiver must stop inflating at its
//! `max_length`, close with 1009, and never hold more than about `max_length` of output.

use std::io::Write;
use std::net::TcpListener;
use std::sync::OnceLock;
use std::time::Duration;

use flate2::{Compress, Compression, FlushCompress};
use wsd_frame::OpCode;

use crate::harness::{
    Bounds, Server, Usage, Wsd, accept_upgrade, check, client_frame, read_close, server_frame,
};

const MIB: usize = 1 << 20;

/// The largest message `wsd serve` takes in these replays.
const SERVER_MAX_LENGTH: usize = MIB;

/// The largest message `wsd connect` takes (`wsd_core::Options::DEFAULT_MAX_LENGTH`,
/// about 64 MiB: the command has no flag to change it).
const CLIENT_MAX_LENGTH: usize = 64 * MIB;

/// Two bombs from one compressor run: 64 MiB of zeros (for the server, 64 times its
/// `max_length`) and 512 MiB (for the client, 8 times its own). Each is a
/// permessage-deflate payload: a raw deflate stream ending in a sync flush, its final
/// `00 00 FF FF` taken off (RFC 7692 §7.2.1).
struct Bombs {
    server: Vec<u8>,
    client: Vec<u8>,
}

fn bombs() -> &'static Bombs {
    static BOMBS: OnceLock<Bombs> = OnceLock::new();
    BOMBS.get_or_init(|| {
        let mut compressor = Compress::new(Compression::best(), false);
        let zeros = vec![0u8; MIB];
        let mut stream = Vec::with_capacity(MIB);
        let flushed = |compressor: &mut Compress, stream: &mut Vec<u8>, mib: usize| {
            for _ in 0..mib {
                stream.reserve(64 << 10);
                compressor
                    .compress_vec(&zeros, stream, FlushCompress::None)
                    .unwrap();
            }
            stream.reserve(64 << 10);
            compressor
                .compress_vec(&[], stream, FlushCompress::Sync)
                .unwrap();
            assert!(stream.ends_with(&[0, 0, 0xFF, 0xFF]), "a sync flush");
            stream[..stream.len() - 4].to_vec()
        };
        let server = flushed(&mut compressor, &mut stream, 64);
        // The deflate stream goes on after the flush: the client bomb starts the same.
        let client = flushed(&mut compressor, &mut stream, 512 - 64);
        assert!(server.len() < SERVER_MAX_LENGTH && client.len() < CLIENT_MAX_LENGTH);
        Bombs { server, client }
    })
}

/// An upgraded connection to `server` with permessage-deflate negotiated.
fn deflate_connection(server: &Server) -> std::net::TcpStream {
    let (stream, head) = server.upgraded("Sec-WebSocket-Extensions: permessage-deflate\r\n");
    assert!(
        head.to_ascii_lowercase().contains("permessage-deflate"),
        "not negotiated: {head}"
    );
    stream
}

/// Sends the server bomb on `stream` and returns the close code it got.
fn detonate(mut stream: std::net::TcpStream) -> Option<u16> {
    stream
        .write_all(&client_frame(OpCode::Binary, true, &bombs().server))
        .unwrap();
    read_close(&mut stream).expect("a close frame")
}

/// A bound for `connections` bombs at once: each may hold at most `max_length` of
/// output plus its inflater (tens of KiB) and buffers; twice that, and a floor for the
/// allocator's own slack.
fn bomb_bound(connections: usize, max_length: usize) -> u64 {
    let per_connection = 2 * max_length as u64 / 1024;
    (connections as u64 * per_connection).max(8 << 10)
}

#[test]
fn a_deflate_bomb_to_the_server_is_closed_with_1009_within_its_max_length() {
    let bomb = &bombs().server;
    let server = Server::start(&["--deflate", "--max-length", "1048576"]);
    let before = server.wsd.usage();
    let code = detonate(deflate_connection(&server));
    assert_eq!(code, Some(1009));
    check(
        "GHSA-67p7-xj24-jfm9 deflate bomb to the server",
        before,
        server.wsd.usage(),
        Bounds {
            cpu: Duration::from_millis(300),
            memory_kib: bomb_bound(1, SERVER_MAX_LENGTH),
        },
        &format!(
            "; {} KiB inflating to 64 MiB, max length 1 MiB: closed with 1009",
            bomb.len() >> 10
        ),
    );
}

#[test]
fn twenty_deflate_bombs_at_once_are_each_closed_with_1009() {
    let server = Server::start(&["--deflate", "--max-length", "1048576"]);
    // Built before the connections open, so all 20 go off within milliseconds.
    let _ = bombs();
    let before = server.wsd.usage();
    let connections: Vec<_> = (0..20).map(|_| deflate_connection(&server)).collect();
    let threads: Vec<_> = connections
        .into_iter()
        .map(|stream| std::thread::spawn(move || detonate(stream)))
        .collect();
    let codes: Vec<_> = threads
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect();
    assert!(codes.iter().all(|code| *code == Some(1009)), "{codes:?}");
    check(
        "CVE-2018-1000518/CVE-2026-27571 20 deflate bombs at once",
        before,
        server.wsd.usage(),
        Bounds {
            cpu: Duration::from_secs(1),
            memory_kib: bomb_bound(20, SERVER_MAX_LENGTH),
        },
        "; 20 x 64 MiB of zeros, max length 1 MiB: all closed with 1009",
    );
}

#[test]
fn a_deflate_bomb_to_the_client_is_closed_with_1009_within_its_max_length() {
    let bomb = &bombs().client;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let mut client = Wsd::spawn(&["connect", &url, "--deflate"]);
    // Kept open: at the end of its stdin the client would close on its own.
    let _stdin = client.take_stdin();
    let (mut stream, request) = accept_upgrade(&listener, Some("permessage-deflate"));
    assert!(
        request.to_ascii_lowercase().contains("permessage-deflate"),
        "not offered: {request}"
    );
    let before: Usage = client.usage();
    stream
        .write_all(&server_frame(OpCode::Binary, true, bomb))
        .unwrap();
    let code = read_close(&mut stream).expect("the client closes");
    // Read while the client waits for our close frame: an exited process has no
    // memory figures left.
    let after = client.usage();
    assert_eq!(code, Some(1009), "stderr: {}", client.stderr_text());
    stream
        .write_all(&server_frame(OpCode::Close, false, &1009u16.to_be_bytes()))
        .unwrap();
    let status = client.wait_for_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|status| !status.success()), "{status:?}");
    check(
        "GHSA-67p7-xj24-jfm9 deflate bomb to the client",
        before,
        after,
        Bounds {
            cpu: Duration::from_millis(500),
            memory_kib: bomb_bound(1, CLIENT_MAX_LENGTH),
        },
        &format!(
            "; {} KiB inflating to 512 MiB, max length 64 MiB: closed with 1009; stderr {:?}",
            bomb.len() >> 10,
            client.stderr_text().trim()
        ),
    );
}
