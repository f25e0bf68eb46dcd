//! End to end: `wsd connect --proxy` through a real `tinyproxy`, and the legacy
//! drafts spoken over raw TCP to `wsd serve --allow-drafts`.

use std::io::{Read, Write};

mod support;
use support::{connect, read_head, read_n, serve, tcp, tinyproxy};

const HIXIE_75: &str = "GET /demo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\
    Host: example.com\r\nOrigin: http://example.com\r\n\r\n";

#[test]
fn allow_drafts_speaks_hixie_76_with_the_drafts_worked_example() {
    let (_server, port) = serve(&["--allow-drafts"]);
    let mut stream = tcp(port);
    stream
        .write_all(
            b"GET /demo HTTP/1.1\r\nHost: example.com\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\nUpgrade: WebSocket\r\n\
              Sec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\nOrigin: http://example.com\r\n\r\n^n:ds[4U",
        )
        .unwrap();
    let head = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains("Sec-WebSocket-Location: ws://example.com/demo"),
        "{head}"
    );
    assert_eq!(read_n(&mut stream, 16), b"8jKS'y:G*Co,Wxa-");

    stream.write_all(b"\x00hello\xff").unwrap();
    assert_eq!(read_n(&mut stream, 7), b"\x00hello\xff");
    // The Hixie-76 closing handshake: 0xFF 0x00 answered in kind, then the end.
    stream.write_all(b"\xff\x00").unwrap();
    assert_eq!(read_n(&mut stream, 2), b"\xff\x00");
    let mut rest = Vec::new();
    stream.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty(), "{rest:?}");
}

#[test]
fn allow_drafts_speaks_hixie_75_and_plain_serve_refuses_it() {
    let (_server, port) = serve(&["--allow-drafts"]);
    let mut stream = tcp(port);
    stream.write_all(HIXIE_75.as_bytes()).unwrap();
    let head = read_head(&mut stream);
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert!(
        head.contains("WebSocket-Location: ws://example.com/demo"),
        "{head}"
    );
    stream.write_all(b"\x00one\xff\x00two\xff").unwrap();
    assert_eq!(read_n(&mut stream, 10), b"\x00one\xff\x00two\xff");
    drop(stream);

    let (_server, port) = serve(&[]);
    let mut stream = tcp(port);
    stream.write_all(HIXIE_75.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 4"), "{answer}");
}

#[test]
fn connect_tunnels_through_an_authenticating_proxy() {
    let (_server, port) = serve(&[]);
    let proxy = tinyproxy(port);
    let proxy_port = proxy.port;
    let url = format!("ws://127.0.0.1:{port}/");

    for runtime in ["tokio", "async-std", "smol"] {
        let proxy = format!("http://user:pass@127.0.0.1:{proxy_port}");
        let (ok, stdout, stderr) = connect(
            &[&url, "--proxy", &proxy, "--runtime", runtime],
            "one\ntwo\n",
        );
        assert!(ok, "{runtime}: {stderr}");
        assert_eq!(stdout, "one\ntwo\n", "{runtime}: {stderr}");
    }

    let proxy = format!("http://127.0.0.1:{proxy_port}");
    let (ok, _, stderr) = connect(&[&url, "--proxy", &proxy], "");
    assert!(!ok);
    assert!(stderr.contains("407"), "{stderr}");
}
