//! Hostile servers and proxies against `wsd connect`: response heads that never end,
//! and a server that checks the mask key of every frame the client sends.

use std::collections::HashSet;
use std::io::Write;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use wsd_frame::OpCode;

use crate::harness::{
    Bounds, Usage, Wsd, accept_upgrade, check, read_frame, read_head, server_frame,
};

/// Answers the first connection on `listener` with `status_line` and then a header
/// whose value never ends, 4 KiB per write, for as long as the client takes it (at
/// most 64 MiB). The client's usage is read between writes, while it still runs.
/// Returns the bytes written, the usage before the first write and the last one read.
fn send_endless_head(
    listener: &TcpListener,
    client: &Wsd,
    status_line: &str,
) -> (usize, Usage, Usage) {
    let (mut stream, _) = listener.accept().expect("the client connects");
    read_head(&mut stream).expect("a request head");
    let before = client.usage();
    let mut last = before;
    let mut sent = 0usize;
    let mut chunk = format!("{status_line}\r\nX-Endless: ").into_bytes();
    while sent < 64 << 20 && stream.write_all(&chunk).is_ok() {
        sent += chunk.len();
        chunk = vec![b'a'; 4096];
        match Usage::of(client.pid()) {
            Some(usage) => last = usage,
            None => break,
        }
    }
    (sent, before, last)
}

/// The replay of websocket-driver-ruby CVE-2026-54465 (a header list that never ends
/// exhausted memory) on the client side: `wsd connect` with the arguments `args` makes
/// of the address of a listener of ours, whose first connection is answered by
/// [`send_endless_head`] with `status_line`, must give up at its head size limit
/// (16 KiB) with an error naming it.
fn endless_head_replay(
    class: &str,
    status_line: &str,
    args: impl FnOnce(SocketAddr) -> Vec<String>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut command = vec!["connect".to_string()];
    command.extend(args(listener.local_addr().unwrap()));
    let mut client = Wsd::spawn(&command.iter().map(String::as_str).collect::<Vec<_>>());
    let _stdin = client.take_stdin();
    let (sent, before, last) = send_endless_head(&listener, &client, status_line);
    let status = client.wait_for_exit(Duration::from_secs(10));
    let stderr = client.stderr_text();
    assert!(
        status.is_some_and(|status| !status.success()),
        "{status:?} after {sent} bytes of head; stderr: {stderr}"
    );
    assert!(
        stderr.contains("16384"),
        "the error names the head size limit: {stderr}"
    );
    // What the client took beyond its limit sat in the kernel's socket buffers.
    assert!(sent < 32 << 20, "the client read {sent} bytes of head");
    check(
        class,
        before,
        last,
        Bounds {
            cpu: Duration::from_millis(500),
            memory_kib: 8 << 10,
        },
        &format!(
            "; {} KiB written before it gave up: {}",
            sent >> 10,
            stderr.trim()
        ),
    );
}

#[test]
fn an_endless_response_head_is_cut_at_the_head_size_limit() {
    endless_head_replay(
        "CVE-2026-54465 endless response head",
        "HTTP/1.1 101 Switching Protocols",
        |server| vec![format!("ws://{server}/")],
    );
}

#[test]
fn an_endless_proxy_connect_response_is_cut_at_the_head_size_limit() {
    // The tunnel's target is never reached: the proxy's answer never ends.
    endless_head_replay(
        "CVE-2026-54465 endless proxy CONNECT response",
        "HTTP/1.1 200 Connection established",
        |proxy| {
            ["--proxy", &format!("http://{proxy}"), "ws://127.0.0.1:9/"]
                .map(String::from)
                .to_vec()
        },
    );
}

/// The mask keys of `messages` text frames and the close frame that `wsd connect`
/// sends after them, read by a raw server of ours, with the client's usage before the
/// first frame and after the close.
fn mask_keys(messages: usize) -> (Vec<[u8; 4]>, Usage, Usage) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let mut client = Wsd::spawn(&["connect", &url]);
    let mut stdin = client.take_stdin();
    // The end of stdin makes the client close with 1000 once every line is sent.
    std::thread::spawn(move || {
        let lines = "m\n".repeat(messages);
        let _ = stdin.write_all(lines.as_bytes());
    });
    let (mut stream, _) = accept_upgrade(&listener, None);
    let before = client.usage();
    let mut keys = Vec::with_capacity(messages + 1);
    loop {
        let frame = read_frame(&mut stream, 1 << 10).expect("a frame from the client");
        keys.push(frame.mask.expect("every client frame is masked"));
        if frame.opcode == 0x8 {
            break;
        }
        assert_eq!(frame.payload, b"m");
    }
    let after = client.usage();
    stream
        .write_all(&server_frame(OpCode::Close, false, &1000u16.to_be_bytes()))
        .unwrap();
    let status = client.wait_for_exit(Duration::from_secs(10));
    assert!(status.is_some_and(|status| status.success()), "{status:?}");
    assert_eq!(
        keys.len(),
        messages + 1,
        "every line was sent, then the close"
    );
    (keys, before, after)
}

/// RFC 6455 §10.3 and gorilla/websocket GO-2026-6278 (mask keys from a weak PRNG): a
/// client's mask keys must be unpredictable. 10,001 random 32-bit keys repeat one
/// another with probability 1.2% (the birthday bound), so "never repeated" would flake;
/// more than 2 repeats (probability about 3 in 10 million) means a broken source, as
/// does a bit set in far from half the keys (50% ± 5 points is ten standard
/// deviations) or a second process sending the same keys (a fixed seed).
#[test]
fn ten_thousand_client_frames_carry_unpredictable_mask_keys() {
    let (keys, before, after) = mask_keys(10_000);
    let distinct: HashSet<[u8; 4]> = keys.iter().copied().collect();
    let repeats = keys.len() - distinct.len();
    assert!(
        repeats <= 2,
        "{repeats} repeated mask keys in {}",
        keys.len()
    );
    let shares: Vec<f64> = (0..32)
        .map(|bit| {
            let set = keys
                .iter()
                .filter(|key| u32::from_be_bytes(**key) >> bit & 1 == 1)
                .count();
            set as f64 / keys.len() as f64
        })
        .collect();
    let (least, most) = shares.iter().fold((1.0f64, 0.0f64), |(low, high), &share| {
        (low.min(share), high.max(share))
    });
    assert!(
        least > 0.45 && most < 0.55,
        "bits set in {least:.3}..{most:.3} of the keys"
    );
    let (other, _, _) = mask_keys(100);
    let same_place = other.iter().zip(&keys).filter(|(a, b)| a == b).count();
    assert!(
        same_place <= 1,
        "a second process sent {same_place} of the same keys in the same places"
    );
    check(
        "GO-2026-6278 mask keys (RFC 6455 10.3)",
        before,
        after,
        Bounds {
            cpu: Duration::from_millis(1500),
            memory_kib: 8 << 10,
        },
        &format!(
            "; {} keys, {repeats} repeated, each bit set in {:.1}-{:.1}%, a second process shares {same_place}",
            keys.len(),
            least * 100.0,
            most * 100.0
        ),
    );
}
