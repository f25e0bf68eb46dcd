//! The same wsd echo server over HTTP/1.1 and over an HTTP/2 stream (RFC 8441)
//! must answer the same: Autobahn-like cases of groups 1-7 (framing, pings,
//! reserved bits and opcodes, fragmentation, UTF-8, closing) replayed as raw
//! masked frames, and of groups 12-13 (permessage-deflate, several window and
//! context-takeover settings) as wsd client messages. For each case the frames
//! the server sends back, close code included, are compared between the two
//! transports, and checked against what RFC 6455 asks.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsd_deflate::{DeflateConfig, PerMessageDeflate};
use wsd_h2::{H2Stream, Message, Options, Server, ServerConfig};
use wsd_io::{Timer, Transport, WebSocket};
use wsd_tokio::Accepted;

/// Bounds reading one case's answer.
const CASE_TIMEOUT: Duration = Duration::from_secs(20);
const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A client frame, masked: `byte0` is FIN, the RSV bits and the opcode as on the
/// wire, so reserved opcodes and bits can be sent.
fn frame(byte0: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![byte0];
    match payload.len() {
        n @ 0..=125 => out.push(0x80 | n as u8),
        n @ 126..=0xffff => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ KEY[i % 4]));
    out
}

const FIN: u8 = 0x80;
const RSV1: u8 = 0x40;
const RSV2: u8 = 0x20;
const RSV3: u8 = 0x10;
const CONT: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;
const CLOSE: u8 = 0x8;
const PING: u8 = 0x9;
const PONG: u8 = 0xa;

fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    payload.extend_from_slice(reason);
    payload
}

/// One case: what the client sends, and the close code the server's last frame
/// must carry (`None`: a close frame without a code).
struct Case {
    name: String,
    wire: Vec<u8>,
    close: Option<u16>,
}

fn case(name: impl Into<String>, frames: &[Vec<u8>], close: Option<u16>) -> Case {
    Case {
        name: name.into(),
        wire: frames.concat(),
        close,
    }
}

/// Ends a case that does not close by itself: a normal close, echoed.
fn closing(mut frames: Vec<Vec<u8>>) -> Vec<Vec<u8>> {
    frames.push(frame(FIN | CLOSE, &close_payload(1000, b"")));
    frames
}

fn cases() -> Vec<Case> {
    let mut cases = Vec::new();
    // Group 1: text and binary at the length boundaries of the header.
    for opcode in [TEXT, BINARY] {
        for len in [0, 125, 126, 127, 65535, 65536, 1 << 20] {
            let payload = vec![b'*'; len];
            let name = format!("1: opcode {opcode}, {len} bytes");
            cases.push(case(
                name,
                &closing(vec![frame(FIN | opcode, &payload)]),
                Some(1000),
            ));
        }
    }
    // Group 2: pings and pongs.
    let ping = |payload: &[u8]| frame(FIN | PING, payload);
    cases.push(case("2: empty ping", &closing(vec![ping(b"")]), Some(1000)));
    cases.push(case(
        "2: 125-byte ping",
        &closing(vec![ping(&[0xfe; 125])]),
        Some(1000),
    ));
    cases.push(case(
        "2: 126-byte ping",
        &closing(vec![ping(&[0xfe; 126])]),
        Some(1002),
    ));
    let pong = frame(FIN | PONG, b"unsolicited");
    cases.push(case(
        "2: unsolicited pong",
        &closing(vec![pong]),
        Some(1000),
    ));
    let fragmented_ping = frame(PING, b"part");
    cases.push(case(
        "2: fragmented ping",
        &closing(vec![fragmented_ping]),
        Some(1002),
    ));
    let pings: Vec<_> = (0..10u8).map(|i| ping(&[i; 10])).collect();
    cases.push(case("2: ten pings", &closing(pings), Some(1000)));
    // Group 3: reserved bits nobody negotiated.
    for rsv in [RSV1, RSV2, RSV3, RSV1 | RSV2 | RSV3] {
        let hello = frame(FIN | rsv | TEXT, b"hello");
        cases.push(case(
            format!("3: text with RSV {rsv:#x}"),
            &closing(vec![hello]),
            Some(1002),
        ));
    }
    let rsv_ping = frame(FIN | RSV3 | PING, b"");
    cases.push(case(
        "3: ping with RSV3",
        &closing(vec![rsv_ping]),
        Some(1002),
    ));
    // Group 4: reserved opcodes, data and control.
    for opcode in [3, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
        let frames = closing(vec![
            frame(FIN | TEXT, b"before"),
            frame(FIN | opcode, b"x"),
        ]);
        cases.push(case(format!("4: opcode {opcode}"), &frames, Some(1002)));
    }
    // Group 5: fragmentation.
    let three = vec![
        frame(TEXT, b"frag"),
        frame(CONT, b"men"),
        frame(FIN | CONT, b"ted"),
    ];
    cases.push(case("5: three fragments", &closing(three), Some(1000)));
    let with_ping = vec![
        frame(BINARY, b"ab"),
        ping(b"between"),
        frame(FIN | CONT, b"cd"),
    ];
    cases.push(case(
        "5: ping between fragments",
        &closing(with_ping),
        Some(1000),
    ));
    let empty_parts = vec![frame(TEXT, b""), frame(CONT, b""), frame(FIN | CONT, b"")];
    cases.push(case(
        "5: empty fragments",
        &closing(empty_parts),
        Some(1000),
    ));
    let orphan = vec![frame(FIN | CONT, b"orphan")];
    cases.push(case(
        "5: continuation without start",
        &closing(orphan),
        Some(1002),
    ));
    let restart = vec![frame(TEXT, b"one"), frame(FIN | TEXT, b"two")];
    cases.push(case(
        "5: new message inside a fragmented one",
        &closing(restart),
        Some(1002),
    ));
    let fragmented_close = vec![frame(CLOSE, &close_payload(1000, b""))];
    cases.push(case("5: fragmented close", &fragmented_close, Some(1002)));
    // Group 6: UTF-8.
    let valid = "κόσμε 𝄞 ünïcödé".as_bytes();
    cases.push(case(
        "6: valid UTF-8",
        &closing(vec![frame(FIN | TEXT, valid)]),
        Some(1000),
    ));
    let split = vec![frame(TEXT, &valid[..2]), frame(FIN | CONT, &valid[2..])];
    cases.push(case(
        "6: valid UTF-8 split inside a character",
        &closing(split),
        Some(1000),
    ));
    for (name, bytes) in [
        ("6: 0xff", &b"abc\xffdef"[..]),
        ("6: surrogate", &b"\xed\xa0\x80"[..]),
        ("6: overlong", &b"\xc0\xaf"[..]),
        ("6: truncated", &b"\xce"[..]),
    ] {
        cases.push(case(
            name,
            &closing(vec![frame(FIN | TEXT, bytes)]),
            Some(1007),
        ));
    }
    let bad_split = vec![frame(TEXT, b"ok \xce"), frame(FIN | CONT, b"\xff")];
    cases.push(case(
        "6: invalid across fragments",
        &closing(bad_split),
        Some(1007),
    ));
    // Group 7: closing.
    let close = |payload: &[u8]| vec![frame(FIN | CLOSE, payload)];
    cases.push(case("7: close without payload", &close(b""), None));
    cases.push(case(
        "7: close 1000 with reason",
        &close(&close_payload(1000, b"done")),
        Some(1000),
    ));
    cases.push(case("7: one-byte close", &close(b"\x03"), Some(1002)));
    let long_reason = close_payload(1000, &[b'r'; 123]);
    cases.push(case("7: 123-byte reason", &close(&long_reason), Some(1000)));
    let bad_reason = close_payload(1000, b"\xff\xfe");
    cases.push(case(
        "7: invalid UTF-8 reason",
        &close(&bad_reason),
        Some(1007),
    ));
    for code in [
        0, 999, 1004, 1005, 1006, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        let wire = close(&close_payload(code, b""));
        cases.push(case(format!("7: close code {code}"), &wire, Some(1002)));
    }
    for code in [
        1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        let wire = close(&close_payload(code, b""));
        cases.push(case(format!("7: close code {code}"), &wire, Some(code)));
    }
    let after = vec![
        frame(FIN | CLOSE, &close_payload(1000, b"")),
        frame(FIN | TEXT, b"after close"),
        ping(b"after close"),
    ];
    cases.push(case(
        "7: frames after close are ignored",
        &after,
        Some(1000),
    ));
    cases
}

/// Echoes text and binary until the connection ends; the same code serves both
/// transports.
async fn echo<T: Transport, Z: Timer>(mut ws: WebSocket<T, Z>) {
    while let Some(Ok(message)) = ws.next_message().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            break;
        }
    }
    // An error (the peer broke the protocol) is yielded after the close frame was
    // written and the transport shut down.
}

/// The same echo server over HTTP/1.1 and over HTTP/2 (h2c), with `options`.
async fn servers(options: fn() -> Options) -> (SocketAddr, SocketAddr) {
    let h1 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let h2 = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addrs = (h1.local_addr().unwrap(), h2.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = h1.accept().await {
            tokio::spawn(async move {
                let config = wsd_tokio::ServerConfig::new(options());
                if let Ok(Accepted::Upgraded(ws)) = wsd_tokio::accept_with(tcp, config).await {
                    echo(ws).await;
                }
            });
        }
    });
    tokio::spawn(async move {
        while let Ok((tcp, _)) = h2.accept().await {
            tokio::spawn(async move {
                let mut server = Server::handshake(tcp, ServerConfig::default()).await?;
                while let Some(incoming) = server.accept().await {
                    tokio::spawn(echo(incoming?.accept(options())?));
                }
                Ok::<_, wsd_h2::Error>(())
            });
        }
    });
    addrs
}

/// Sends `wire` after an HTTP/1.1 upgrade; returns everything after the 101 until
/// the server ends the connection.
async fn replay_h1(addr: SocketAddr, wire: &[u8]) -> Vec<u8> {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET / HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    tcp.write_all(wire).await.unwrap();
    let mut answer = Vec::new();
    tokio::time::timeout(CASE_TIMEOUT, tcp.read_to_end(&mut answer))
        .await
        .expect("the HTTP/1.1 server ended the connection in time")
        .unwrap();
    let head_end = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a 101 head");
    assert!(answer.starts_with(b"HTTP/1.1 101 "));
    answer.split_off(head_end + 4)
}

/// Sends `wire` on a new HTTP/2 stream after an extended CONNECT; returns
/// everything the server sent on the stream until its END_STREAM.
async fn replay_h2(addr: SocketAddr, wire: &[u8]) -> Vec<u8> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (send, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(conn);
    // The server's SETTINGS (extended CONNECT allowed) arrive after the handshake.
    let mut send = send.ready().await.unwrap();
    for _ in 0..500 {
        if send.is_extended_connect_protocol_enabled() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let mut request = http::Request::connect(format!("http://{addr}/"))
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    request
        .extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    let (response, stream) = send.send_request(request, false).unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 200);
    let mut stream = H2Stream::new(stream, response.into_body());
    let mut rest = wire;
    while !rest.is_empty() {
        let n = std::future::poll_fn(|cx| stream.poll_write(cx, rest))
            .await
            .unwrap();
        rest = &rest[n..];
    }
    let mut answer = Vec::new();
    let read_all = async {
        let mut buf = vec![0; 64 * 1024];
        loop {
            match std::future::poll_fn(|cx| stream.poll_read(cx, &mut buf)).await {
                Ok(0) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
                Err(e) => panic!("the stream failed: {e}"),
            }
        }
    };
    tokio::time::timeout(CASE_TIMEOUT, read_all)
        .await
        .expect("the HTTP/2 server ended the stream in time");
    answer
}

/// The server's frames: (FIN, RSV and opcode byte, payload); the server never
/// masks.
fn frames(mut wire: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while !wire.is_empty() {
        let (byte0, len7) = (wire[0], wire[1]);
        assert_eq!(len7 & 0x80, 0, "the server masked a frame");
        let (len, header) = match len7 {
            126 => (usize::from(u16::from_be_bytes([wire[2], wire[3]])), 4),
            127 => (
                usize::try_from(u64::from_be_bytes(wire[2..10].try_into().unwrap())).unwrap(),
                10,
            ),
            n => (usize::from(n), 2),
        };
        frames.push((byte0, wire[header..header + len].to_vec()));
        wire = &wire[header + len..];
    }
    frames
}

/// A readable line per frame, for the failure message.
fn describe(frames: &[(u8, Vec<u8>)]) -> Vec<String> {
    frames
        .iter()
        .map(|(byte0, payload)| {
            let head: Vec<u8> = payload.iter().copied().take(16).collect();
            format!("{byte0:#04x} {} bytes {head:?}", payload.len())
        })
        .collect()
}

fn run(test: impl Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(test);
}

#[test]
fn groups_1_to_7_get_the_same_answers_over_http2_as_over_http1() {
    run(async {
        let (h1, h2) = servers(Options::default).await;
        let all = cases();
        for case in &all {
            let over_h1 = frames(&replay_h1(h1, &case.wire).await);
            let over_h2 = frames(&replay_h2(h2, &case.wire).await);
            assert!(
                over_h1 == over_h2,
                "{}: HTTP/1.1 answered {:?}, HTTP/2 {:?}",
                case.name,
                describe(&over_h1),
                describe(&over_h2)
            );
            let last = over_h2
                .last()
                .unwrap_or_else(|| panic!("{}: no answer", case.name));
            assert_eq!(
                last.0,
                FIN | CLOSE,
                "{}: the last frame is no close",
                case.name
            );
            let code = (last.1.len() >= 2).then(|| u16::from_be_bytes([last.1[0], last.1[1]]));
            assert_eq!(code, case.close, "{}: close code", case.name);
        }
        assert!(all.len() > 70, "{} cases", all.len());
    });
}

/// Messages of group 12/13's sizes, text and binary, compressible and not.
fn deflate_messages() -> Vec<Message> {
    let mut messages = Vec::new();
    for size in [16, 64, 256, 1024, 4096, 16384, 65536, 262_144, 1 << 20] {
        let text: String = "wsd deflates over both transports. "
            .chars()
            .cycle()
            .take(size)
            .collect();
        messages.push(Message::text(text));
        let noise: Vec<u8> = (0..size as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        messages.push(Message::binary(noise));
    }
    messages
}

/// The settings the client offers, as Autobahn's groups 13.x vary them.
fn deflate_configs() -> Vec<(&'static str, DeflateConfig)> {
    vec![
        ("default", DeflateConfig::new()),
        (
            "no context takeover",
            DeflateConfig::new().no_context_takeover(true),
        ),
        ("window bits 9", DeflateConfig::new().max_window_bits(9)),
        (
            "window bits 15, server no context takeover",
            DeflateConfig::new()
                .max_window_bits(15)
                .request_no_context_takeover(true),
        ),
    ]
}

fn deflate_server_options() -> Options {
    let mut options = Options::default();
    options.max_length = 64 << 20;
    options.extensions.push(Arc::new(PerMessageDeflate::new()));
    options
}

/// Sends every message and collects the echoes, then closes; returns the
/// extensions negotiated and what came back.
async fn deflate_exchange<T: Transport, Z: Timer>(
    mut ws: WebSocket<T, Z>,
) -> (Vec<String>, Vec<Message>) {
    let extensions = ws.extensions();
    let mut echoes = Vec::new();
    for message in deflate_messages() {
        ws.send(message).await.unwrap();
        echoes.push(ws.next_message().await.unwrap().unwrap());
    }
    ws.close(wsd_h2::CloseCode::NORMAL, "").await.unwrap();
    echoes.push(ws.next_message().await.unwrap().unwrap());
    (extensions, echoes)
}

#[test]
fn groups_12_and_13_deflate_the_same_over_http2_as_over_http1() {
    run(async {
        let (h1, h2) = servers(deflate_server_options).await;
        let tcp = TcpStream::connect(h2).await.unwrap();
        let (client, driver) = wsd_h2::Client::handshake(tcp, wsd_h2::H2Config::default())
            .await
            .unwrap();
        tokio::spawn(driver);
        for (name, config) in deflate_configs() {
            let mut options = Options::default();
            options.max_length = 64 << 20;
            options.extensions.push(Arc::new(config.build().unwrap()));

            let ws = wsd_tokio::connect_with(&format!("ws://{h1}/"), options.clone())
                .await
                .unwrap();
            let over_h1 = deflate_exchange(ws).await;
            let ws = wsd_h2::connect(&client, &format!("ws://{h2}/"), options)
                .await
                .unwrap();
            let over_h2 = deflate_exchange(ws).await;

            assert_eq!(over_h1.0, over_h2.0, "{name}: negotiated");
            assert_eq!(over_h2.0, ["permessage-deflate"], "{name}: negotiated");
            let mut expected = deflate_messages();
            expected.push(Message::Close(Some(wsd_h2::CloseFrame::new(
                wsd_h2::CloseCode::NORMAL,
                "",
            ))));
            assert!(over_h1.1 == expected, "{name}: HTTP/1.1 echoes differ");
            assert!(over_h2.1 == expected, "{name}: HTTP/2 echoes differ");
        }
    });
}
