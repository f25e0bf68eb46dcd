//! Hostile peers over real sockets: each test asserts a clear outcome, bounded memory
//! and no panic. (Protocol-level hostility without sockets is tested in wsd-core and
//! wsd-frame; this file covers what needs the adapter's I/O loop.)

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsd_frame::{OpCode, Rsv, encode_frame};
use wsd_tokio::Message;

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// A raw TCP client that has completed the opening handshake with the server at
/// `addr`, ready to send hand-made frames.
async fn open_raw_client(addr: std::net::SocketAddr) -> TcpStream {
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(REQUEST).await.unwrap();
    read_head(&mut client).await;
    client
}

/// Reads until the end of the 101 response head.
async fn read_head(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
}

#[tokio::test]
async fn a_ping_flood_from_a_peer_that_never_reads_keeps_our_output_bounded() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wsd_tokio::accept(stream).await.unwrap();
        let bound = ws.config().max_write_buffer_size + ws.config().read_buffer_size;
        let (mut pings, mut most_buffered) = (0u64, 0usize);
        // The application keeps polling; the peer never reads our pongs.
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_secs(2), ws.next_message()).await
        {
            if matches!(message, Message::Ping(_)) {
                pings += 1;
            }
            most_buffered = most_buffered.max(ws.connection().buffered_amount());
        }
        (pings, most_buffered, bound)
    });

    let mut client = open_raw_client(addr).await;
    let mut ping = Vec::new();
    encode_frame(
        true,
        OpCode::Ping,
        Rsv::NONE,
        &[0x55; 125],
        Some([1, 2, 3, 4]),
        &mut ping,
    );
    let burst: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 1000)
        .collect();
    // Write until the server stops reading (our writes block) or 64 MiB went out.
    let _ = tokio::time::timeout(Duration::from_secs(3), async {
        for _ in 0..500 {
            client.write_all(&burst).await?;
        }
        Ok::<_, std::io::Error>(())
    })
    .await;
    let (pings, most_buffered, bound) = server.await.unwrap();
    assert!(pings > 1000, "the flood reached the server ({pings} pings)");
    assert!(
        most_buffered <= bound,
        "queued pongs reached {most_buffered} bytes, over the {bound}-byte bound"
    );
}

#[tokio::test]
async fn a_frame_announcing_2_pow_63_bytes_is_refused_with_1009_before_any_payload() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wsd_tokio::accept(stream).await.unwrap();
        ws.next_message().await
    });
    let mut client = open_raw_client(addr).await;
    // Binary, masked, 64-bit length 2^63 - 1, mask key, and no payload at all.
    client
        .write_all(&[
            0x82, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3, 4,
        ])
        .await
        .unwrap();
    let mut reply = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut reply))
        .await
        .expect("the server closes the connection")
        .unwrap();
    assert_eq!(
        &reply[..4],
        &[0x88, reply[1], 0x03, 0xF1],
        "close frame with 1009"
    );
    let last = server.await.unwrap();
    assert!(matches!(last, Some(Err(_))), "{last:?}");
}

#[tokio::test]
async fn a_reset_mid_frame_ends_the_stream_once_without_a_panic() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wsd_tokio::accept(stream).await.unwrap();
        let mut items = Vec::new();
        while let Some(item) = ws.next_message().await {
            items.push(item.is_ok());
        }
        items
    });
    let mut client = open_raw_client(addr).await;
    let mut frame = Vec::new();
    encode_frame(
        true,
        OpCode::Binary,
        Rsv::NONE,
        &[7; 1000],
        Some([9, 9, 9, 9]),
        &mut frame,
    );
    client.write_all(&frame[..500]).await.unwrap();
    // SO_LINGER 0 makes close send a reset. tokio deprecates set_linger because a
    // non-zero linger blocks on drop; a zero linger does not.
    #[allow(deprecated)]
    client.set_linger(Some(Duration::ZERO)).unwrap();
    drop(client);
    let items = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the stream ends")
        .unwrap();
    // No message came out of the half frame; at most one item reports the end.
    assert!(items.len() <= 1, "{items:?}");
}

#[tokio::test]
async fn a_slowloris_handshake_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut config = wsd_tokio::ServerConfig::default();
        config.options.handshake_timeout = Some(Duration::from_millis(800));
        let started = std::time::Instant::now();
        let result = wsd_tokio::accept_with(stream, config).await;
        (result.map(|_| ()), started.elapsed())
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    // One byte every 100 ms: the whole request would take about 15 s.
    for byte in REQUEST.iter().take(30) {
        if client.write_all(std::slice::from_ref(byte)).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (result, elapsed) = server.await.unwrap();
    assert!(
        matches!(result, Err(wsd_tokio::Error::HandshakeTimeout)),
        "{result:?}"
    );
    assert!(
        elapsed < Duration::from_secs(3),
        "gave up after {elapsed:?}"
    );
}

#[tokio::test]
async fn a_reset_mid_handshake_is_an_error_not_a_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        wsd_tokio::accept(stream).await.map(|_| ())
    });
    let mut client = TcpStream::connect(addr).await.unwrap();
    client.write_all(&REQUEST[..20]).await.unwrap();
    #[allow(deprecated)] // zero linger: close sends a reset, and does not block
    client.set_linger(Some(Duration::ZERO)).unwrap();
    drop(client);
    let result = tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the handshake gives up at once")
        .unwrap();
    assert!(result.is_err());
}

#[tokio::test]
async fn a_peer_vanishing_while_a_big_message_is_half_sent_is_reported_to_the_sender() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wsd_tokio::accept(stream).await.unwrap();
        // 64 MiB cannot fit in the socket buffers: the write is still under way
        // when the peer resets the connection.
        let sent = ws.send(Message::binary(vec![0u8; 64 << 20])).await;
        let flushed = ws.flush().await;
        (sent, flushed)
    });
    let mut client = open_raw_client(addr).await;
    let mut some = vec![0u8; 64 * 1024];
    client.read_exact(&mut some).await.unwrap();
    #[allow(deprecated)] // zero linger: close sends a reset, and does not block
    client.set_linger(Some(Duration::ZERO)).unwrap();
    drop(client);
    let (sent, flushed) = tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the sender hears about it rather than hanging")
        .unwrap();
    assert!(
        sent.is_err() || flushed.is_err(),
        "a message that never fully left was reported as sent"
    );
}

#[tokio::test]
async fn a_ping_flood_while_the_application_is_not_reading_is_left_in_the_kernel() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wsd_tokio::accept(stream).await.unwrap();
        // The application does not poll for a while: nothing is read, parsed or
        // answered, so nothing piles up in the connection.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let idle = (
            ws.connection().buffered_input(),
            ws.connection().buffered_amount(),
        );
        // Once it polls again, the pings are answered as usual.
        let first = ws.next_message().await;
        (
            idle,
            first.map(|m| m.map(|m| matches!(m, Message::Ping(_)))),
        )
    });
    let mut client = open_raw_client(addr).await;
    let mut ping = Vec::new();
    encode_frame(
        true,
        OpCode::Ping,
        Rsv::NONE,
        &[0x55; 125],
        Some([1, 2, 3, 4]),
        &mut ping,
    );
    let burst: Vec<u8> = ping
        .iter()
        .copied()
        .cycle()
        .take(ping.len() * 1000)
        .collect();
    let _ = tokio::time::timeout(Duration::from_millis(600), async {
        loop {
            client.write_all(&burst).await?;
        }
        #[allow(unreachable_code)]
        Ok::<_, std::io::Error>(())
    })
    .await;
    let ((input, output), first) = server.await.unwrap();
    assert_eq!(
        (input, output),
        (0, 0),
        "buffered while the application was away"
    );
    assert!(matches!(first, Some(Ok(true))), "{first:?}");
}
