//! End-to-end tests over loopback TCP: a wsd server and a wsd (or raw TCP) client.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use wsd_tokio::{CloseCode, CloseFrame, Decision, Error, Message, Options, ServerConfig};

const REQUEST: &[u8] = b"GET /chat HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
    Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    Sec-WebSocket-Version: 13\r\n\r\n";

async fn listener() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/chat", listener.local_addr().unwrap());
    (listener, url)
}

/// Reads everything until the peer's EOF.
async fn read_to_eof(stream: &mut TcpStream) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .expect("the peer closed in time")
        .expect("read");
    out
}

/// Reads an HTTP head (up to the blank line).
async fn read_head(stream: &mut TcpStream) -> Vec<u8> {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        if stream.read(&mut byte).await.unwrap() == 0 {
            break;
        }
        head.push(byte[0]);
    }
    head
}

#[tokio::test]
async fn client_and_server_echo_text_binary_a_large_message_and_ping_then_close_with_1000() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wsd_tokio::accept(stream).await.unwrap();
        assert_eq!(ws.request().unwrap().target, "/chat");
        let mut pings = 0;
        while let Some(item) = ws.next_message().await {
            match item.unwrap() {
                Message::Close(frame) => return (frame, pings, ws.next_message().await.is_none()),
                Message::Ping(_) => pings += 1,
                message => ws.send(message).await.unwrap(),
            }
        }
        panic!("the stream ended without a close");
    });

    let mut ws = wsd_tokio::connect(&url).await.unwrap();
    assert_eq!(ws.response_status(), Some(101));
    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap(),
        Message::text("hello")
    );
    ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap(),
        Message::binary(vec![1, 2, 3])
    );
    let big: Vec<u8> = (0..1 << 20).map(|i| (i % 251) as u8).collect();
    ws.send(Message::binary(big.clone())).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap(),
        Message::binary(big)
    );
    ws.send(Message::Ping(wsd_tokio::Bytes::from_static(
        b"are you there",
    )))
    .await
    .unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap(),
        Message::Pong(wsd_tokio::Bytes::from_static(b"are you there"))
    );
    let bye = CloseFrame {
        code: CloseCode::NORMAL,
        reason: "bye".into(),
    };
    ws.send(Message::Close(Some(bye))).await.unwrap();
    // The server's echo (code and reason, as websocket-driver echoes them)
    // completes the handshake on this side.
    let reply = ws.next_message().await.unwrap().unwrap();
    assert_eq!(
        reply,
        Message::Close(Some(CloseFrame {
            code: CloseCode::NORMAL,
            reason: "bye".into()
        }))
    );
    assert!(ws.next_message().await.is_none());
    assert!(matches!(
        ws.send(Message::text("late")).await,
        Err(Error::Closed)
    ));

    let (frame, pings, ended) = server.await.unwrap();
    assert_eq!(frame.unwrap().code, CloseCode::NORMAL);
    assert_eq!(pings, 1);
    assert!(ended);
}

#[tokio::test]
async fn close_then_reading_on_completes_the_handshake_and_both_sides_see_1000() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wsd_tokio::accept(stream).await.unwrap();
        ws.next_message().await
    });
    let mut ws = wsd_tokio::connect(&url).await.unwrap();
    // `close` sends and flushes the close frame; reading on completes the
    // closing handshake.
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    match ws.next_message().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::NORMAL),
        other => panic!("expected the server's close, got {other:?}"),
    }
    assert!(ws.next_message().await.is_none());
    let received = server.await.unwrap().unwrap().unwrap();
    assert_eq!(
        received,
        Message::Close(Some(CloseFrame {
            code: CloseCode::NORMAL,
            reason: "done".into()
        }))
    );
    assert_eq!(ws.connection().state(), wsd_core::ReadyState::Closed);
}

#[tokio::test]
async fn server_answers_a_plain_http_request_with_respond() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut config = ServerConfig::default();
        config.on_request = Some(Box::new(|request| {
            if request.headers.get("upgrade").is_some() {
                Decision::Accept
            } else {
                Decision::Respond {
                    status: 404,
                    headers: vec![("X-Why".into(), "not a websocket".into())],
                    body: b"no such page\n".to_vec(),
                }
            }
        }));
        wsd_tokio::accept_with(stream, config)
            .await
            .map(|a| a.upgraded().is_none())
    });
    let mut raw = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches("/chat"))
        .await
        .unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let answer = String::from_utf8(read_to_eof(&mut raw).await).unwrap();
    assert!(answer.starts_with("HTTP/1.1 404 "), "{answer}");
    assert!(answer.contains("X-Why: not a websocket\r\n"), "{answer}");
    assert!(answer.ends_with("\r\n\r\nno such page\n"), "{answer}");
    drop(raw);
    assert!(matches!(server.await.unwrap(), Ok(true)));
}

#[tokio::test]
async fn client_reports_a_server_answering_404() {
    let (listener, url) = listener().await;
    tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        read_head(&mut stream).await;
        stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        let _ = read_to_eof(&mut stream).await;
    });
    match wsd_tokio::connect(&url).await {
        Err(Error::Protocol(e)) => assert!(e.to_string().contains("404"), "{e}"),
        other => panic!("expected a handshake error, got {other:?}"),
    }
}

#[tokio::test]
async fn handshake_times_out_when_the_client_sends_nothing() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut config = ServerConfig::default();
        config.options.handshake_timeout = Some(Duration::from_millis(100));
        let started = std::time::Instant::now();
        let result = wsd_tokio::accept_with(stream, config)
            .await
            .map(|a| a.upgraded().is_none());
        (result, started.elapsed())
    });
    let mut raw = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches("/chat"))
        .await
        .unwrap();
    // The server gives up and closes: EOF with nothing sent.
    assert!(read_to_eof(&mut raw).await.is_empty());
    drop(raw);
    let (result, elapsed) = server.await.unwrap();
    assert!(matches!(result, Err(Error::HandshakeTimeout)), "{result:?}");
    assert!(elapsed >= Duration::from_millis(100) && elapsed < Duration::from_secs(3));
}

#[tokio::test]
async fn send_pends_when_the_peer_does_not_read_and_memory_stays_bounded() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        wsd_tokio::accept(stream).await.unwrap()
    });
    // A client that never reads.
    let _client = wsd_tokio::connect(&url).await.unwrap();
    let mut ws = server.await.unwrap();
    let chunk = Message::binary(vec![7u8; 16 * 1024]);
    let bound = ws.config().max_write_buffer_size + 16 * 1024 + 16;
    let mut sent = 0usize;
    loop {
        match tokio::time::timeout(Duration::from_millis(200), ws.send(chunk.clone())).await {
            Ok(result) => result.unwrap(),
            Err(_) => break, // send pends: backpressure reached
        }
        sent += 1;
        assert!(ws.connection().buffered_amount() <= bound);
        assert!(sent < 64 * 1024, "send never pended ({sent} messages)");
    }
    assert!(ws.connection().buffered_amount() <= bound);
}

#[tokio::test]
async fn server_fails_an_unmasked_frame_with_1002_before_eof() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wsd_tokio::accept(stream).await.unwrap();
        let item = ws.next_message().await;
        (item, ws.next_message().await.is_none())
    });
    let mut raw = TcpStream::connect(url.trim_start_matches("ws://").trim_end_matches("/chat"))
        .await
        .unwrap();
    raw.write_all(REQUEST).await.unwrap();
    let head = read_head(&mut raw).await;
    assert!(head.starts_with(b"HTTP/1.1 101"));
    // An unmasked text frame "hi" from a client.
    raw.write_all(&[0x81, 0x02, b'h', b'i']).await.unwrap();
    let rest = read_to_eof(&mut raw).await;
    assert_eq!(
        &rest[..4],
        &[0x88, rest[1], 0x03, 0xea],
        "close 1002: {rest:?}"
    );
    drop(raw);
    let (item, ended) = server.await.unwrap();
    assert!(matches!(item, Some(Err(Error::Protocol(_)))), "{item:?}");
    assert!(ended);
}

#[tokio::test]
async fn a_pipelined_echo_loop_batches_its_answers() {
    let (listener, url) = listener().await;
    tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut ws = wsd_tokio::accept(stream).await.unwrap();
        while let Some(Ok(message)) = ws.next_message().await {
            if message.is_close() {
                break;
            }
            ws.send(message).await.unwrap();
        }
    });
    let mut options = Options::default();
    options.mask_seed = Some(1);
    let mut ws = wsd_tokio::connect_with(&url, options).await.unwrap();
    for i in 0..1000 {
        ws.feed(Message::text(format!("{i}"))).await.unwrap();
    }
    ws.flush().await.unwrap();
    for i in 0..1000 {
        assert_eq!(
            ws.next_message().await.unwrap().unwrap(),
            Message::text(format!("{i}"))
        );
    }
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

#[cfg(not(feature = "rustls"))]
#[tokio::test]
async fn connect_to_wss_without_rustls_says_what_to_do() {
    match wsd_tokio::connect("wss://127.0.0.1:9/").await {
        Err(e @ Error::Tls(_)) => assert!(e.to_string().contains("rustls"), "{e}"),
        other => panic!("expected a TLS error, got {other:?}"),
    }
}

#[tokio::test]
async fn connect_request_sends_the_request_headers_and_returns_the_response_head() {
    let (listener, url) = listener().await;
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        let mut config = ServerConfig::default();
        config.options.protocols = vec!["superchat".into()];
        config.options.headers = vec![("X-Served-By".into(), "wsd".into())];
        let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
        let record = std::sync::Arc::clone(&seen);
        config.on_request = Some(Box::new(move |request| {
            *record.lock().unwrap() = request.headers.get("authorization").map(|v| v.into_owned());
            Decision::Accept
        }));
        let mut ws = wsd_tokio::accept_with(stream, config)
            .await
            .unwrap()
            .upgraded()
            .unwrap();
        let echo = ws.next_message().await.unwrap().unwrap();
        ws.send(echo).await.unwrap();
        seen.lock().unwrap().take()
    });
    let request = http::Request::get(url.as_str())
        .header("Authorization", "Bearer secret")
        .header("Sec-WebSocket-Protocol", "chat, superchat")
        .body(())
        .unwrap();
    let (mut ws, response) = wsd_tokio::connect_request(request, Options::default())
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(response.headers()["x-served-by"], "wsd");
    assert_eq!(response.headers()["sec-websocket-protocol"], "superchat");
    assert_eq!(ws.protocol(), Some("superchat"));
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap(),
        Message::text("hi")
    );
    assert_eq!(server.await.unwrap().as_deref(), Some("Bearer secret"));
}
