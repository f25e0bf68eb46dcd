//! wsd client against wsd server over h2c (HTTP/2 with prior knowledge) on
//! loopback: messages of every kind, close codes, permessage-deflate, many
//! WebSockets on one connection, HTTP/2 flow control as backpressure, and
//! RST_STREAM as a lost connection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use wsd_core::{OpCode, Rsv};
use wsd_deflate::PerMessageDeflate;
use wsd_frame::encode_frame;
use wsd_h2::{
    Client, CloseCode, CloseFrame, H2Config, Message, Options, Reason, Server, ServerConfig,
    WebSocket,
};
use wsd_io::Transport;

const SIXTEEN_MIB: usize = 16 << 20;
/// Bounds every test, so a hang fails rather than blocks CI.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);

fn options(deflate: bool) -> Options {
    let mut options = Options::default();
    options.max_length = 64 << 20;
    options.protocols = vec!["b".into()];
    if deflate {
        options.extensions.push(Arc::new(PerMessageDeflate::new()));
    }
    options
}

/// The server's options: a custom header for the 200, and one HTTP/2 forbids.
fn server_options(deflate: bool) -> Options {
    let mut options = options(deflate);
    options.headers = vec![
        ("X-Served-By".into(), "wsd".into()),
        ("Keep-Alive".into(), "timeout=5".into()),
    ];
    options
}

/// What the test server hands back to the test.
struct TestServer {
    addr: SocketAddr,
    /// The WebSockets opened on `/stall`, which the server never reads.
    stalled: mpsc::UnboundedReceiver<WebSocket>,
    /// The last message each `/echo` WebSocket received (its close).
    closes: mpsc::UnboundedReceiver<Message>,
    /// TCP connections accepted.
    connections: Arc<AtomicUsize>,
}

/// A wsd h2c server on a free port. Routes by path:
/// - `/echo`: echoes text and binary; reports the close it received;
/// - `/stall`: accepted and handed to the test unread;
/// - `/close`: closes at once with 4001;
/// - `/fragments`: sends a message in three fragments, then echoes;
/// - `/reset`: resets the stream when the first message arrives;
/// - `/refuse`: answers 403.
async fn server(deflate: bool, h2: H2Config) -> TestServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stall_tx, stalled) = mpsc::unbounded_channel();
    let (close_tx, closes) = mpsc::unbounded_channel();
    let connections = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&connections);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tcp.set_nodelay(true).unwrap();
            let (stall_tx, close_tx) = (stall_tx.clone(), close_tx.clone());
            tokio::spawn(async move {
                let mut config = ServerConfig::default();
                config.h2 = h2;
                let mut server = Server::handshake(tcp, config).await.unwrap();
                while let Some(incoming) = server.accept().await {
                    let incoming = incoming.unwrap();
                    let path = incoming.path().to_owned();
                    if path == "/refuse" {
                        incoming.refuse(403, "not for you");
                        continue;
                    }
                    let Ok(ws) = incoming.accept(server_options(deflate)) else {
                        continue;
                    };
                    let (stall_tx, close_tx) = (stall_tx.clone(), close_tx.clone());
                    tokio::spawn(async move {
                        match path.as_str() {
                            "/stall" => drop(stall_tx.send(ws)),
                            "/close" => close_at_once(ws).await,
                            "/fragments" => fragments_then_echo(ws, close_tx).await,
                            "/reset" => reset_on_first_message(ws).await,
                            _ => echo(ws, close_tx).await,
                        }
                    });
                }
            });
        }
    });
    TestServer {
        addr,
        stalled,
        closes,
        connections,
    }
}

async fn echo(mut ws: WebSocket, closes: mpsc::UnboundedSender<Message>) {
    while let Some(Ok(message)) = ws.next_message().await {
        if message.is_close() {
            let _ = closes.send(message);
            break;
        }
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            break;
        }
    }
    // The stream's end (our END_STREAM, the drain of the client's).
    while ws.next_message().await.is_some() {}
}

async fn close_at_once(mut ws: WebSocket) {
    ws.close(CloseCode(4001), "server says bye").await.unwrap();
    while ws.next_message().await.is_some() {}
}

/// Writes `frames` straight to the stream, as a peer whose sends we cannot
/// choose (wsd never fragments) would.
async fn write_raw(stream: &mut wsd_h2::H2Stream, mut frames: &[u8]) {
    while !frames.is_empty() {
        let n = std::future::poll_fn(|cx| stream.poll_write(cx, frames))
            .await
            .unwrap();
        frames = &frames[n..];
    }
}

async fn fragments_then_echo(mut ws: WebSocket, closes: mpsc::UnboundedSender<Message>) {
    let mut frames = Vec::new();
    for (fin, opcode, part) in [
        (false, OpCode::Text, "frag"),
        (false, OpCode::Continuation, "men"),
        (true, OpCode::Continuation, "ted"),
    ] {
        encode_frame(fin, opcode, Rsv::NONE, part.as_bytes(), None, &mut frames);
    }
    write_raw(ws.get_mut(), &frames).await;
    echo(ws, closes).await;
}

async fn reset_on_first_message(mut ws: WebSocket) {
    if let Some(Ok(_)) = ws.next_message().await {
        ws.get_mut().send_reset(Reason::CANCEL);
    }
    // Kept until the client has seen the reset.
    tokio::time::sleep(Duration::from_secs(5)).await;
}

/// An h2c connection to `addr`, its driver running.
async fn client(addr: SocketAddr, h2: H2Config) -> Client {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (client, driver) = Client::handshake(tcp, h2).await.unwrap();
    tokio::spawn(driver);
    assert!(client.connect_protocol_enabled());
    client
}

fn client_options(deflate: bool) -> Options {
    let mut options = options(deflate);
    options.protocols = vec!["a".into(), "b".into()];
    options
}

async fn open(client: &Client, addr: SocketAddr, path: &str, deflate: bool) -> WebSocket {
    let url = format!("ws://{addr}{path}");
    wsd_h2::connect(client, &url, client_options(deflate))
        .await
        .unwrap()
}

async fn next(ws: &mut WebSocket) -> Message {
    ws.next_message()
        .await
        .expect("the stream ended early")
        .unwrap()
}

async fn echo_round(ws: &mut WebSocket, message: Message) {
    ws.send(message.clone()).await.unwrap();
    assert_eq!(next(ws).await, message);
}

/// Closes with `code` and `reason`; expects the server's echo of them.
async fn close(ws: &mut WebSocket, code: u16, reason: &str) {
    ws.close(CloseCode(code), reason).await.unwrap();
    let echo = Message::Close(Some(CloseFrame::new(CloseCode(code), reason)));
    assert_eq!(next(ws).await, echo);
    assert!(ws.next_message().await.is_none());
}

fn run(test: impl Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        tokio::time::timeout(TEST_TIMEOUT, test)
            .await
            .expect("the test timed out");
    });
}

#[test]
fn text_binary_and_pings_echo_with_the_subprotocol_negotiated() {
    run(async {
        let mut server = server(false, H2Config::default()).await;
        let client = client(server.addr, H2Config::default()).await;
        let mut ws = open(&client, server.addr, "/echo", false).await;
        assert_eq!(ws.protocol(), Some("b"));
        assert_eq!(ws.response_status(), Some(200));
        let headers = ws.connection().response_headers().unwrap();
        assert_eq!(headers.get("x-served-by").as_deref(), Some("wsd"));
        assert!(!headers.contains("keep-alive"));
        echo_round(&mut ws, Message::text("hello over HTTP/2")).await;
        echo_round(&mut ws, Message::binary(vec![0u8, 1, 2, 255])).await;
        echo_round(&mut ws, Message::text("")).await;
        ws.send(Message::Ping(Bytes::from_static(b"are you there")))
            .await
            .unwrap();
        assert_eq!(
            next(&mut ws).await,
            Message::Pong(Bytes::from_static(b"are you there"))
        );
        close(&mut ws, 1000, "done").await;
        let seen = server.closes.recv().await.unwrap();
        assert_eq!(
            seen,
            Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "done")))
        );
    });
}

#[test]
fn fragmented_messages_are_reassembled_both_ways() {
    run(async {
        let server = server(false, H2Config::default()).await;
        let client = client(server.addr, H2Config::default()).await;
        // Server to client: three fragments, one message.
        let mut ws = open(&client, server.addr, "/fragments", false).await;
        assert_eq!(next(&mut ws).await, Message::text("fragmented"));

        // Client to server: masked fragments written straight to the stream, with
        // a ping between them; the server echoes one whole message.
        let mut frames = Vec::new();
        let key = Some([9, 8, 7, 6]);
        encode_frame(false, OpCode::Binary, Rsv::NONE, b"ab", key, &mut frames);
        encode_frame(true, OpCode::Ping, Rsv::NONE, b"p", key, &mut frames);
        encode_frame(
            false,
            OpCode::Continuation,
            Rsv::NONE,
            b"cd",
            key,
            &mut frames,
        );
        encode_frame(
            true,
            OpCode::Continuation,
            Rsv::NONE,
            b"ef",
            key,
            &mut frames,
        );
        write_raw(ws.get_mut(), &frames).await;
        assert_eq!(next(&mut ws).await, Message::Pong(Bytes::from_static(b"p")));
        assert_eq!(next(&mut ws).await, Message::binary(&b"abcdef"[..]));
        close(&mut ws, 1000, "").await;
    });
}

#[test]
fn sixteen_mib_messages_round_trip() {
    run(async {
        let server = server(false, H2Config::default()).await;
        let client = client(server.addr, H2Config::default()).await;
        let mut ws = open(&client, server.addr, "/echo", false).await;
        let binary: Vec<u8> = (0..SIXTEEN_MIB).map(|i| (i % 251) as u8).collect();
        echo_round(&mut ws, Message::binary(binary)).await;
        let text = "wsd over h2 ".repeat(SIXTEEN_MIB / 12);
        echo_round(&mut ws, Message::text(text)).await;
        close(&mut ws, 1000, "").await;
    });
}

#[test]
fn close_codes_travel_both_ways_and_end_the_stream() {
    run(async {
        let mut server = server(false, H2Config::default()).await;
        let client = client(server.addr, H2Config::default()).await;
        for (code, reason) in [(1000, "normal"), (1001, "going away"), (4000, "app")] {
            let mut ws = open(&client, server.addr, "/echo", false).await;
            close(&mut ws, code, reason).await;
            let seen = server.closes.recv().await.unwrap();
            assert_eq!(
                seen,
                Message::Close(Some(CloseFrame::new(CloseCode(code), reason)))
            );
        }
        // The server closes first.
        let mut ws = open(&client, server.addr, "/close", false).await;
        assert_eq!(
            next(&mut ws).await,
            Message::Close(Some(CloseFrame::new(CloseCode(4001), "server says bye")))
        );
        assert!(ws.next_message().await.is_none());
        // Every stream ended cleanly (END_STREAM both ways), so the connection
        // still opens new ones.
        let mut ws = open(&client, server.addr, "/echo", false).await;
        echo_round(&mut ws, Message::text("still here")).await;
    });
}

#[test]
fn permessage_deflate_is_negotiated_and_used() {
    run(async {
        let server = server(true, H2Config::default()).await;
        let client = client(server.addr, H2Config::default()).await;
        let mut ws = open(&client, server.addr, "/echo", true).await;
        assert_eq!(ws.extensions(), ["permessage-deflate"]);
        echo_round(&mut ws, Message::text("compress me ".repeat(10_000))).await;
        let noise: Vec<u8> = (0..1 << 20)
            .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        echo_round(&mut ws, Message::binary(noise)).await;
        echo_round(
            &mut ws,
            Message::text(SIXTEEN_MIB.to_string().repeat(100_000)),
        )
        .await;
        close(&mut ws, 1000, "").await;

        // A client without the extension gets none.
        let mut plain = open(&client, server.addr, "/echo", false).await;
        assert!(plain.extensions().is_empty());
        echo_round(&mut plain, Message::text("plain")).await;
    });
}

#[test]
fn a_hundred_websockets_share_one_connection() {
    run(async {
        let server = server(false, H2Config::default()).await;
        let client = client(server.addr, H2Config::default()).await;
        let mut tasks = Vec::new();
        for i in 0..100 {
            let client = client.clone();
            let addr = server.addr;
            tasks.push(tokio::spawn(async move {
                let mut ws = open(&client, addr, &format!("/echo?n={i}"), false).await;
                for round in 0..10 {
                    let message = Message::text(format!("socket {i} round {round}"));
                    echo_round(&mut ws, message).await;
                }
                echo_round(&mut ws, Message::binary(vec![i as u8; 100_000])).await;
                close(&mut ws, 1000, "").await;
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(server.connections.load(Ordering::SeqCst), 1);
    });
}

#[test]
fn a_stalled_websocket_holds_only_its_window_and_the_others_flow() {
    run(async {
        let mut h2 = H2Config::default();
        h2.stream_window = 64 * 1024;
        h2.max_streams = 16;
        let mut server = server(false, h2).await;
        let client = client(server.addr, h2).await;

        // One WebSocket the server never reads; the client floods it.
        let mut flood = open(&client, server.addr, "/stall", false).await;
        let mut stalled = server.stalled.recv().await.unwrap();
        let sent = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&sent);
        let flooding = tokio::spawn(async move {
            let chunk = Message::binary(vec![7u8; 16 * 1024]);
            for _ in 0..1024 {
                flood.send(chunk.clone()).await.unwrap();
                counter.fetch_add(16 * 1024, Ordering::SeqCst);
            }
            flood
        });

        // The others keep flowing, with far more than the stalled window.
        let mut others = Vec::new();
        for i in 0..8 {
            let client = client.clone();
            let addr = server.addr;
            others.push(tokio::spawn(async move {
                let mut ws = open(&client, addr, "/echo", false).await;
                for _ in 0..4 {
                    echo_round(&mut ws, Message::binary(vec![i; 256 * 1024])).await;
                }
                close(&mut ws, 1000, "").await;
            }));
        }
        for task in others {
            task.await.unwrap();
        }

        // The flood is held back: the server holds at most the stream's window of
        // it, and the client's sends wait instead of buffering the rest.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let unread = stalled.get_mut().unread();
        assert!(unread > 0 && unread <= 64 * 1024, "{unread} bytes unread");
        assert!(!flooding.is_finished(), "the flood was not held back");
        let sent_now = sent.load(Ordering::SeqCst);
        assert!(
            sent_now < 4 << 20,
            "{sent_now} bytes went out to a stalled reader"
        );

        // Once read, everything arrives, in order.
        let reader = tokio::spawn(async move {
            let mut received = 0;
            while received < 1024 * 16 * 1024 {
                let message = next(&mut stalled).await;
                assert_eq!(message.as_bytes(), &[7u8; 16 * 1024][..]);
                received += message.len();
            }
            stalled
        });
        let mut flood = flooding.await.unwrap();
        let _stalled = reader.await.unwrap();
        flood.close(CloseCode::NORMAL, "").await.unwrap();
    });
}

#[test]
fn rst_stream_ends_the_websocket_with_1006() {
    run(async {
        let server = server(false, H2Config::default()).await;
        let client = client(server.addr, H2Config::default()).await;
        let mut ws = open(&client, server.addr, "/reset", false).await;
        ws.send(Message::text("reset me")).await.unwrap();
        let Message::Close(Some(frame)) = next(&mut ws).await else {
            panic!("no close after the reset");
        };
        assert_eq!(frame.code, CloseCode::ABNORMAL);
        assert!(ws.next_message().await.is_none());
        assert_eq!(ws.get_ref().reset_reason(), Some(Reason::CANCEL));
        assert!(ws.send(Message::text("too late")).await.is_err());

        // The client resets; the server's WebSocket ends with 1006 too.
        let mut server = server;
        let mut flood = open(&client, server.addr, "/stall", false).await;
        let mut stalled = server.stalled.recv().await.unwrap();
        flood.get_mut().send_reset(Reason::CANCEL);
        let Message::Close(Some(frame)) = next(&mut stalled).await else {
            panic!("no close after the reset");
        };
        assert_eq!(frame.code, CloseCode::ABNORMAL);

        // Other streams are unaffected.
        let mut ws = open(&client, server.addr, "/echo", false).await;
        echo_round(&mut ws, Message::text("unaffected")).await;
    });
}

#[test]
fn refusals_and_plain_requests_get_http_answers() {
    run(async {
        let server = server(false, H2Config::default()).await;
        let client = client(server.addr, H2Config::default()).await;
        let url = format!("ws://{}/refuse", server.addr);
        let refused = wsd_h2::connect(&client, &url, Options::default()).await;
        let Err(wsd_h2::Error::Handshake(error)) = refused else {
            panic!("not refused: {refused:?}");
        };
        assert_eq!(
            error.to_string(),
            wsd_core::Error::Handshake(wsd_handshake::Error::Response(
                wsd_handshake::ResponseError::UnexpectedStatus(403)
            ))
            .to_string()
        );

        // A plain GET and a CONNECT with a wrong version, sent with h2 itself.
        let tcp = TcpStream::connect(server.addr).await.unwrap();
        let (send, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(conn);
        let mut send = send.ready().await.unwrap();
        let get = http::Request::get(format!("http://{}/", server.addr))
            .body(())
            .unwrap();
        let (response, _) = send.send_request(get, true).unwrap();
        assert_eq!(response.await.unwrap().status(), 404);

        let mut send = send.ready().await.unwrap();
        let mut old = http::Request::connect(format!("http://{}/echo", server.addr))
            .header("sec-websocket-version", "8")
            .body(())
            .unwrap();
        old.extensions_mut()
            .insert(h2::ext::Protocol::from_static("websocket"));
        let (response, _) = send.send_request(old, false).unwrap();
        let response = response.await.unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["sec-websocket-version"], "13");
    });
}

#[test]
fn a_server_without_extended_connect_is_refused_before_any_request() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut conn = h2::server::handshake(tcp).await.unwrap();
            while let Some(Ok(_)) = conn.accept().await {}
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (client, driver) = Client::handshake(tcp, H2Config::default()).await.unwrap();
        tokio::spawn(driver);
        assert!(!client.connect_protocol_enabled());
        let url = format!("ws://{addr}/");
        let refused = wsd_h2::connect(&client, &url, Options::default()).await;
        assert!(matches!(
            refused,
            Err(wsd_h2::Error::ConnectProtocolDisabled)
        ));
    });
}
