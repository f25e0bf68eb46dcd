//! A few valid inputs per target, for `examples/seeds.rs` to write under
//! `seeds/<target>/`. libFuzzer reads that directory next to the (ignored) working
//! corpus, so every run starts from real requests, frames and compressed data rather
//! than from nothing.

use wsd_frame::{OpCode, Rsv, encode_frame};

use crate::Writer;
use crate::driver::{self, Config, Op, WriteOps};

/// The key bytes of the `ClientHandshake` in `handshake_response`.
pub const CLIENT_KEY: [u8; 16] = *b"0123456789abcdef";

/// The RFC 6455 section 1.3 request.
const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

const DEFLATE_REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\
    Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

/// A Hixie-76 request (the draft's example), its 8 body bytes included.
const HIXIE76_REQUEST: &[u8] =
    b"GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n\
    Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nSec-WebSocket-Protocol: sample\r\n\
    Upgrade: WebSocket\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n\
    Origin: http://example.com\r\n\r\n^n:ds[4U";

/// "Hello" compressed, as RFC 7692 section 7.2.3.1 gives it (sync flush, tail removed).
const HELLO_DEFLATED: &[u8] = &[0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00];

/// "Hello" in one final stored block (RFC 7692 section 7.2.3.4 allows BFINAL).
const HELLO_STORED_FINAL: &[u8] = &[0x01, 0x05, 0x00, 0xFA, 0xFF, b'H', b'e', b'l', b'l', b'o'];

fn frame(opcode: OpCode, rsv: Rsv, payload: &[u8], fin: bool, mask: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let key = mask.then_some([0x37, 0xFA, 0x21, 0x3D]);
    encode_frame(fin, opcode, rsv, payload, key, &mut out);
    out
}

fn masked(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    frame(opcode, Rsv::NONE, payload, true, true)
}

fn plain(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    frame(opcode, Rsv::NONE, payload, true, false)
}

/// `[flags, max_length selector]`, the split seed, then `data`.
fn frame_input(flags: u8, max: u8, data: &[u8]) -> Vec<u8> {
    Writer::new()
        .u8(flags)
        .u8(max)
        .u64(0x5EED)
        .raw(data)
        .finish()
}

fn frame_decoder() -> Vec<Vec<u8>> {
    let mut to_server = masked(OpCode::Text, b"Hello");
    to_server.extend(masked(OpCode::Ping, b"ping"));
    to_server.extend(frame(OpCode::Text, Rsv::NONE, "κό".as_bytes(), false, true));
    to_server.extend(frame(
        OpCode::Continuation,
        Rsv::NONE,
        "σμε".as_bytes(),
        true,
        true,
    ));
    to_server.extend(masked(OpCode::Close, &[0x03, 0xE8, b'b', b'y', b'e']));
    let mut to_client = frame(OpCode::Text, Rsv::NONE, b"Hel", false, false);
    to_client.extend(plain(OpCode::Pong, b""));
    to_client.extend(frame(OpCode::Continuation, Rsv::NONE, b"lo", true, false));
    to_client.extend(plain(OpCode::Binary, &[0xAB; 300]));
    let compressed = frame(OpCode::Text, Rsv::RSV1, HELLO_DEFLATED, true, false);
    vec![
        frame_input(0, 255, &to_server),
        frame_input(1, 255, &to_client),
        frame_input(1 | 0x40, 255, &compressed),
        frame_input(1, 100, &to_client),
    ]
}

/// `frame_decoder`'s seeds (the layout is the same), and unmasked text at the edges
/// of UTF-8 (the last code point before the surrogates, the first after them, the
/// first and last four-byte ones, U+0800), where one mutated byte makes it invalid.
fn frame_differential() -> Vec<Vec<u8>> {
    let edges = [
        0xED, 0x9F, 0xBF, 0xEE, 0x80, 0x80, 0xF0, 0x90, 0x80, 0x80, 0xF4, 0x8F, 0xBF, 0xBF, 0xE0,
        0xA0, 0x80, 0xC2, 0x80,
    ];
    let mut to_client = frame(OpCode::Text, Rsv::NONE, &edges[..9], false, false);
    to_client.extend(frame(
        OpCode::Continuation,
        Rsv::NONE,
        &edges[9..],
        true,
        false,
    ));
    let mut seeds = frame_decoder();
    seeds.push(frame_input(1, 255, &to_client));
    seeds.push(frame_input(3, 255, &plain(OpCode::Text, &edges)));
    seeds
}

fn hixie_decoder() -> Vec<Vec<u8>> {
    let stream = b"\x00Hello\xFF\x00\xCE\xBA\xCF\x8C\xFF\x80\x03abc\x05junk\xFF\xFF\x00";
    vec![
        Writer::new().u8(0).u8(255).u64(7).raw(stream).finish(),
        Writer::new().u8(1).u8(255).u64(7).raw(stream).finish(),
        Writer::new().u8(0).u8(2).u64(7).raw(stream).finish(),
        Writer::new()
            .u8(0)
            .u8(255)
            .u64(7)
            .raw(b"4 @1  46546xW%0l 1 5")
            .finish(),
    ]
}

fn handshake_request() -> Vec<Vec<u8>> {
    let mut with_frame = DEFLATE_REQUEST.to_vec();
    with_frame.extend(masked(OpCode::Text, b"Hello"));
    vec![
        Writer::new().u8(0).u8(0).u64(1).raw(REQUEST).finish(),
        Writer::new().u8(0).u8(0).u64(1).raw(&with_frame).finish(),
        Writer::new()
            .u8(0)
            .u8(0)
            .u64(1)
            .raw(HIXIE76_REQUEST)
            .finish(),
        Writer::new().u8(12).u8(4).u64(1).raw(REQUEST).finish(),
    ]
}

/// An input for `handshake_extended_connect`: the presence byte, then the NUL-separated fields.
fn extended_connect(present: u8, fields: &[&str]) -> Vec<u8> {
    let mut w = Writer::new();
    w.u8(present);
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            w.u8(0);
        }
        w.raw(field.as_bytes());
    }
    w.finish()
}

fn handshake_extended_connect() -> Vec<Vec<u8>> {
    // RFC 8441 section 5.1's example, then variations on it.
    let rfc = [
        "CONNECT",
        "websocket",
        "https",
        "/chat",
        "server.example.com",
        "sec-websocket-protocol",
        "chat, superchat",
        "sec-websocket-extensions",
        "permessage-deflate",
        "sec-websocket-version",
        "13",
        "origin",
        "http://www.example.com",
    ];
    let mut with_host = rfc.to_vec();
    with_host.extend(["host", "server.example.com:443", "te", "trailers"]);
    let mut forbidden = rfc.to_vec();
    forbidden.extend(["connection", "upgrade", "Upgrade", "websocket"]);
    vec![
        extended_connect(0x0F, &rfc),
        extended_connect(0x1F, &with_host),
        extended_connect(0x0F, &forbidden),
        extended_connect(
            0x0B,
            &[
                "CONNECT",
                "websocket",
                "http",
                "",
                "[::1]:8080",
                "sec-websocket-version",
                "8",
            ],
        ),
        extended_connect(0x0E, &["CONNECT", "", "https", "/", "user@host:99999"]),
    ]
}

fn handshake_response() -> Vec<Vec<u8>> {
    let url = url::Url::parse("ws://example.com/chat").expect("a valid URL");
    let options = wsd_handshake::ClientOptions::default();
    let handshake =
        wsd_handshake::ClientHandshake::new(&url, CLIENT_KEY, options).expect("a valid handshake");
    let accept = handshake.expected_accept();
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
    );
    let mut response = response.into_bytes();
    response.extend_from_slice(b"\x81\x00");
    vec![
        Writer::new().u8(0).u8(0).u64(1).raw(&response).finish(),
        Writer::new()
            .u8(0)
            .u8(0)
            .u64(1)
            .raw(b"HTTP/1.1 200 Connection established\r\nProxy-Agent: x\r\n\r\n\x81")
            .finish(),
        Writer::new()
            .u8(0)
            .u8(0)
            .u64(1)
            .raw(b"HTTP/1.0 407 Proxy Authentication Required\r\nContent-Length: 0\r\n\r\n")
            .finish(),
    ]
}

fn extensions_header() -> Vec<Vec<u8>> {
    [
        "permessage-deflate; client_max_window_bits",
        "permessage-deflate; server_no_context_takeover; client_max_window_bits=10, permessage-deflate",
        "x-foo; a=\"b\\\"c\", y; z=1",
    ]
    .iter()
    .map(|s| s.as_bytes().to_vec())
    .collect()
}

fn deflate_inflate() -> Vec<Vec<u8>> {
    let mut two = HELLO_DEFLATED.to_vec();
    two.extend_from_slice(HELLO_DEFLATED);
    vec![
        Writer::new().u8(0).u8(7).u16(100).u64(3).raw(&two).finish(),
        Writer::new()
            .u8(3)
            .u8(1)
            .u16(4)
            .u64(0)
            .raw(HELLO_DEFLATED)
            .finish(),
        Writer::new()
            .u8(0)
            .u8(7)
            .u16(100)
            .u64(0)
            .raw(HELLO_STORED_FINAL)
            .finish(),
    ]
}

fn config(flags: u8) -> Config {
    Config {
        flags,
        max_length: 0,
        handshake_timeout: 100,
        close_timeout: 100,
        response_variant: 1,
        mask_seed: 1,
    }
}

fn driver_server() -> Vec<Vec<u8>> {
    use driver::{FLAG_AUTO_START, FLAG_DEFLATE, FLAG_DRAFTS, FLAG_ECHO, FLAG_PROTOCOL};
    let mut seeds = Vec::new();

    let mut w = Writer::new();
    config(FLAG_AUTO_START | FLAG_ECHO | FLAG_PROTOCOL).write(&mut w);
    w.input(REQUEST)
        .input(&masked(OpCode::Text, b"Hello"))
        .op(Op::Ping)
        .u8(2)
        .raw(b"hi");
    w.input(&masked(OpCode::Ping, b"p"))
        .input(&masked(OpCode::Close, &[0x03, 0xE8]));
    seeds.push(w.finish());

    let mut w = Writer::new();
    config(FLAG_AUTO_START | FLAG_ECHO | FLAG_DEFLATE).write(&mut w);
    w.input(DEFLATE_REQUEST);
    w.input(&frame(OpCode::Text, Rsv::RSV1, HELLO_DEFLATED, true, true));
    w.op(Op::Close)
        .u16(1000)
        .u8(3)
        .raw(b"bye")
        .op(Op::Advance)
        .u16(20_000);
    seeds.push(w.finish());

    let mut w = Writer::new();
    config(FLAG_AUTO_START | FLAG_ECHO | FLAG_DRAFTS).write(&mut w);
    w.input(HIXIE76_REQUEST)
        .input(b"\x00Hello\xFF")
        .input(b"\xFF\x00");
    seeds.push(w.finish());

    let mut w = Writer::new();
    config(0).write(&mut w);
    w.input(&REQUEST[..40])
        .op(Op::Advance)
        .u16(5_000)
        .input(&REQUEST[40..]);
    w.op(Op::Respond).u16(404);
    seeds.push(w.finish());
    seeds
}

fn driver_client() -> Vec<Vec<u8>> {
    use driver::{FLAG_DEFLATE, FLAG_ECHO, FLAG_PROTOCOL, FLAG_VALID_101};
    let mut seeds = Vec::new();

    let mut w = Writer::new();
    // No extension answer: this client offers none.
    let plain_config = Config {
        response_variant: 0,
        ..config(FLAG_VALID_101 | FLAG_PROTOCOL | FLAG_ECHO)
    };
    plain_config.write(&mut w);
    w.input(&plain(OpCode::Text, b"Hello"))
        .input(&plain(OpCode::Ping, b"p"));
    w.op(Op::SendBinary)
        .u16(3)
        .raw(b"abc")
        .op(Op::Close)
        .u16(1001)
        .u8(0);
    w.input(&plain(OpCode::Close, &[0x03, 0xE9]));
    seeds.push(w.finish());

    let mut w = Writer::new();
    config(FLAG_VALID_101 | FLAG_DEFLATE | FLAG_ECHO).write(&mut w);
    w.input(&frame(OpCode::Text, Rsv::RSV1, HELLO_DEFLATED, true, false));
    w.input(&frame(
        OpCode::Binary,
        Rsv::RSV1,
        HELLO_STORED_FINAL,
        true,
        false,
    ));
    seeds.push(w.finish());

    let mut w = Writer::new();
    config(0).write(&mut w);
    w.input(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    seeds.push(w.finish());
    seeds
}

/// Byte strings for the `arbitrary`-driven targets: any bytes make a valid case, so
/// these only give the fuzzer a few shapes to start from.
fn structured() -> Vec<Vec<u8>> {
    vec![
        (0u8..=255).collect(),
        b"\x01\x00\x70hello world, \xce\xba\xcf\x8c\xcf\x83\xce\xbc\xce\xb5\x00\x03\x05\x02"
            .repeat(4),
        vec![0xFF; 64],
    ]
}

/// Every target's seeds, by target name.
pub fn all() -> Vec<(&'static str, Vec<Vec<u8>>)> {
    vec![
        ("frame_decoder", frame_decoder()),
        ("frame_differential", frame_differential()),
        ("frame_roundtrip", structured()),
        ("hixie_decoder", hixie_decoder()),
        ("handshake_request", handshake_request()),
        ("handshake_response", handshake_response()),
        ("handshake_extended_connect", handshake_extended_connect()),
        ("extensions_header", extensions_header()),
        ("deflate_inflate", deflate_inflate()),
        ("driver_server", driver_server()),
        ("driver_client", driver_client()),
        ("driver_pair", structured()),
        ("handshake_roundtrip", structured()),
        ("deflate_roundtrip", structured()),
    ]
}

#[cfg(test)]
mod tests {
    use wsd_core::Connection;

    use crate::Reader;
    use crate::driver::{Config, Harness};

    fn run(seed: &[u8], client: bool) -> Harness {
        let mut r = Reader::new(seed);
        let config = Config::read(&mut r);
        let conn = if client {
            Connection::client("ws://example.com/chat", config.options()).unwrap()
        } else {
            Connection::server(config.options())
        };
        let mut harness = Harness::new(conn, config);
        if client {
            harness.start_client();
        }
        harness.run(&mut r);
        harness
    }

    /// The server seeds get past the handshake and deliver messages, so the fuzzer
    /// starts from open connections rather than rediscovering HTTP.
    #[test]
    fn server_seeds_open_and_deliver_messages() {
        let seeds = super::driver_server();
        for seed in &seeds[..3] {
            let harness = run(seed, false);
            assert!(harness.opened() && harness.messages() >= 1 && harness.closed());
        }
    }

    #[test]
    fn client_seeds_open_and_deliver_messages() {
        for seed in &super::driver_client()[..2] {
            let harness = run(seed, true);
            assert!(harness.opened() && harness.messages() >= 1 && harness.closed());
        }
    }
}
