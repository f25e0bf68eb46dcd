//! wsd-axum in a real axum server over loopback TCP: echo, subprotocols,
//! permessage-deflate, rejections with axum's status codes, failed upgrades, and
//! the chat example.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use axum::routing::any;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use wsd_axum::{
    CloseCode, Message, Options, PerMessageDeflate, UpgradeError, WebSocket, WebSocketUpgrade,
};
use wsd_hyper::Config;

#[path = "../examples/axum_chat.rs"]
#[allow(dead_code)]
mod chat;

/// Serves `app` with `axum::serve` on a free loopback port.
async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn echo(mut socket: WebSocket) {
    while let Some(Ok(message)) = socket.recv().await {
        if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
            return;
        }
    }
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("ws://{addr}{path}")
}

async fn next_text(ws: &mut wsd_hyper::WebSocket) -> String {
    loop {
        match ws.next_message().await.unwrap().unwrap() {
            Message::Text(text) => return text.to_string(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => {}
        }
    }
}

#[tokio::test]
async fn an_axum_handler_echoes_text_and_binary() {
    async fn handler(ws: WebSocketUpgrade) -> Response {
        ws.on_upgrade(echo)
    }
    let addr = serve(Router::new().route("/ws", any(handler))).await;
    let (mut ws, response) = wsd_hyper::connect(&url(addr, "/ws"), Config::default())
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    ws.send(Message::text("hello axum")).await.unwrap();
    assert_eq!(next_text(&mut ws).await, "hello axum");
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap(),
        Message::binary(vec![0u8, 1, 2, 255])
    );
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    let mut last = None;
    while let Some(message) = ws.next_message().await {
        last = Some(message.unwrap());
    }
    let Some(Message::Close(Some(frame))) = last else {
        panic!("no close: {last:?}");
    };
    assert_eq!(
        (frame.code, frame.reason.as_str()),
        (CloseCode::NORMAL, "done")
    );
}

#[tokio::test]
async fn protocols_choose_the_subprotocol_the_socket_reports() {
    async fn handler(ws: WebSocketUpgrade) -> Response {
        let requested: Vec<String> = ws
            .requested_protocols()
            .map(|p| p.to_str().unwrap().to_owned())
            .collect();
        let ws = ws.protocols(["v3", "v2"]);
        let selected = ws.selected_protocol().cloned();
        ws.on_upgrade(move |mut socket| async move {
            let line = format!(
                "requested={requested:?} selected={selected:?} socket={:?}",
                socket.protocol()
            );
            let _ = socket.send(Message::text(line)).await;
        })
    }
    let addr = serve(Router::new().route("/ws", any(handler))).await;
    let client = Config::default().protocols(["v1", "v2", "v3"]);
    let (mut ws, response) = wsd_hyper::connect(&url(addr, "/ws"), client).await.unwrap();
    // The first offered protocol the server supports, in the client's order.
    assert_eq!(response.headers()["sec-websocket-protocol"], "v2");
    assert_eq!(ws.protocol(), Some("v2"));
    assert_eq!(
        next_text(&mut ws).await,
        "requested=[\"v1\", \"v2\", \"v3\"] selected=Some(\"v2\") socket=Some(\"v2\")"
    );

    // A client that offers none of them gets none.
    let (mut ws, response) = wsd_hyper::connect(&url(addr, "/ws"), Config::default())
        .await
        .unwrap();
    assert!(!response.headers().contains_key("sec-websocket-protocol"));
    assert_eq!(
        next_text(&mut ws).await,
        "requested=[] selected=None socket=None"
    );
}

#[tokio::test]
async fn deflate_compresses_when_the_client_offers_it() {
    async fn handler(ws: WebSocketUpgrade) -> Response {
        ws.deflate(PerMessageDeflate::new())
            .max_message_size(1 << 20)
            .on_upgrade(|mut socket| async move {
                let line = format!("extensions={:?}", socket.extensions());
                let _ = socket.send(Message::text(line)).await;
                echo(socket).await;
            })
    }
    let addr = serve(Router::new().route("/ws", any(handler))).await;
    let client = Config::default().deflate(PerMessageDeflate::new());
    let (mut ws, _) = wsd_hyper::connect(&url(addr, "/ws"), client).await.unwrap();
    assert_eq!(
        next_text(&mut ws).await,
        "extensions=[\"permessage-deflate\"]"
    );
    let text = "compress me, please! ".repeat(5000);
    ws.send(Message::text(text.as_str())).await.unwrap();
    assert_eq!(next_text(&mut ws).await, text);

    // Over max_message_size (after inflating): the server closes with 1009.
    let big = "x".repeat((1 << 20) + 1);
    ws.send(Message::text(big)).await.unwrap();
    let close = loop {
        if let Message::Close(frame) = ws.next_message().await.unwrap().unwrap() {
            break frame.unwrap();
        }
    };
    assert_eq!(close.code, CloseCode::MESSAGE_TOO_BIG);
}

/// Writes `head` on a new connection and reads the answer until the server closes.
async fn raw(addr: SocketAddr, head: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut answer));
    read.await.unwrap().unwrap();
    String::from_utf8(answer).unwrap()
}

#[tokio::test]
async fn requests_that_are_not_upgrades_are_rejected_with_axums_status_codes() {
    async fn handler(ws: WebSocketUpgrade) -> Response {
        ws.on_upgrade(echo)
    }
    let addr = serve(Router::new().route("/ws", any(handler))).await;
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let upgrade = "Upgrade: websocket\r\nConnection: Upgrade\r\n";

    let post = format!(
        "POST /ws HTTP/1.1\r\nHost: x\r\n{upgrade}{key}Sec-WebSocket-Version: 13\r\n\
         Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let answer = raw(addr, &post).await;
    assert!(
        answer.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("\r\n\r\nRequest method must be `GET`"),
        "{answer}"
    );

    let plain = "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let answer = raw(addr, plain).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("\r\n\r\nNot a WebSocket request: no Upgrade header"),
        "{answer}"
    );

    let no_key =
        format!("GET /ws HTTP/1.1\r\nHost: x\r\n{upgrade}Sec-WebSocket-Version: 13\r\n\r\n");
    let answer = raw(addr, &no_key).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nconnection: close\r\n"), "{answer}");

    let old =
        format!("GET /ws HTTP/1.1\r\nHost: x\r\n{upgrade}{key}Sec-WebSocket-Version: 8\r\n\r\n");
    let answer = raw(addr, &old).await;
    assert!(
        answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
        "{answer}"
    );
    assert!(
        answer.contains("\r\nsec-websocket-version: 13\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with("Unsupported WebSocket version: 8"),
        "{answer}"
    );
}

/// An app whose `/ws` handler applies `configure`, echoes, and sends what `report`
/// makes of each failed upgrade on the returned channel.
fn failure_reporting_app<T: Send + 'static>(
    configure: fn(WebSocketUpgrade) -> WebSocketUpgrade,
    report: fn(UpgradeError) -> T,
) -> (Router, mpsc::UnboundedReceiver<T>) {
    let (failures, failed) = mpsc::unbounded_channel();
    let handler = move |ws: WebSocketUpgrade| {
        let failures = failures.clone();
        async move {
            configure(ws)
                .on_failed_upgrade(move |error| {
                    let _ = failures.send(report(error));
                })
                .on_upgrade(echo)
        }
    };
    (Router::new().route("/ws", any(handler)), failed)
}

#[tokio::test]
async fn on_failed_upgrade_hears_of_a_connection_hyper_does_not_hand_over() {
    let (app, mut failed) =
        failure_reporting_app(|ws| ws, |error| matches!(error, UpgradeError::Hyper(_)));
    // Served by hyper without `with_upgrades()`: the 101 goes out, the stream does not.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let service = TowerToHyperService::new(app);
        let connection =
            hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
        let _ = connection.await;
    });
    let (mut ws, response) = wsd_hyper::connect(&url(addr, "/ws"), Config::default())
        .await
        .unwrap();
    assert_eq!(response.status(), 101);
    assert_eq!(failed.recv().await, Some(true));
    let close = ws.next_message().await.unwrap().unwrap();
    assert_eq!(
        close,
        Message::Close(Some(wsd_axum::CloseFrame::new(
            CloseCode::ABNORMAL,
            "the connection ended without a close frame"
        )))
    );
}

#[tokio::test]
async fn on_failed_upgrade_hears_of_options_that_cannot_be_used() {
    let bad_options = |ws: WebSocketUpgrade| {
        let mut options = Options::default();
        let injection = ("X-Bad".to_owned(), "a\r\nInjected: 1".to_owned());
        options.headers.push(injection);
        ws.options(options)
    };
    let (app, mut failed) = failure_reporting_app(bad_options, |error| error.to_string());
    let addr = serve(app).await;
    let error = wsd_hyper::connect(&url(addr, "/ws"), Config::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&error, wsd_hyper::Error::Handshake { response, .. } if response.status == 500),
        "{error:?}"
    );
    assert_eq!(
        failed.recv().await.unwrap(),
        "the WebSocket request was refused with 500 Internal Server Error"
    );
}

#[tokio::test]
async fn the_chat_example_names_users_and_announces_joins_messages_and_leaves() {
    let addr = serve(chat::app()).await;
    let join = |name: &'static str| async move {
        let (mut ws, _) = wsd_hyper::connect(&url(addr, "/websocket"), Config::default())
            .await
            .unwrap();
        ws.send(Message::text(name)).await.unwrap();
        ws
    };
    let mut alice = join("alice").await;
    assert_eq!(next_text(&mut alice).await, "alice joined.");
    let mut bob = join("bob").await;
    assert_eq!(next_text(&mut bob).await, "bob joined.");
    assert_eq!(next_text(&mut alice).await, "bob joined.");

    let mut impostor = join("bob").await;
    assert_eq!(next_text(&mut impostor).await, "Username already taken.");

    bob.send(Message::text("hi alice")).await.unwrap();
    assert_eq!(next_text(&mut alice).await, "bob: hi alice");
    assert_eq!(next_text(&mut bob).await, "bob: hi alice");

    bob.close(CloseCode::NORMAL, "").await.unwrap();
    assert_eq!(next_text(&mut alice).await, "bob left.");
    // The name is free again.
    let mut bob_again = join("bob").await;
    assert_eq!(next_text(&mut bob_again).await, "bob joined.");

    let page = raw(
        addr,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(page.starts_with("HTTP/1.1 200 OK\r\n"), "{page}");
    assert!(page.contains("new WebSocket("), "{page}");
}
