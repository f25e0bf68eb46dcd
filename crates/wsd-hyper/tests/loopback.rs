//! wsd-hyper over loopback TCP, with a real hyper server and hyper client: echo,
//! subprotocols, permessage-deflate, refusals, failed upgrades, timeouts, and both
//! directions against wsd-tokio's own handshake.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use wsd_hyper::{CloseCode, CloseFrame, Config, Error, Message, Options, PerMessageDeflate};

/// What the server reports from its side: the first line of each WebSocket
/// (`protocol=.. extensions=..`) or why an upgrade failed.
type Reports = mpsc::UnboundedReceiver<String>;

/// A hyper server on a free loopback port. `/404` answers 404; other WebSocket
/// requests are upgraded with `config` and echoed; plain requests get a 200.
async fn spawn_server(config: Config) -> (SocketAddr, Reports) {
    spawn_server_with(config, true).await
}

/// [`spawn_server`], serving connections `with_upgrades()` or not.
async fn spawn_server_with(config: Config, with_upgrades: bool) -> (SocketAddr, Reports) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (reports, received) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (config, reports) = (config.clone(), reports.clone());
            let service = service_fn(move |request| {
                let (config, reports) = (config.clone(), reports.clone());
                async move { Ok::<_, Infallible>(route(request, config, reports)) }
            });
            tokio::spawn(async move {
                let connection = http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
                if with_upgrades {
                    let _ = connection.with_upgrades().await;
                } else {
                    let _ = connection.await;
                }
            });
        }
    });
    (addr, received)
}

fn route(
    mut request: Request<Incoming>,
    config: Config,
    reports: mpsc::UnboundedSender<String>,
) -> Response<Full<Bytes>> {
    if request.uri().path() == "/404" {
        let mut response = Response::new(Full::from("not here"));
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    }
    if !wsd_hyper::is_upgrade_request(&request) {
        return Response::new(Full::from("plain HTTP"));
    }
    let (response, websocket) = match wsd_hyper::upgrade_with(&mut request, config) {
        Ok(accepted) => accepted,
        Err(refused) => return refused.to_response(),
    };
    tokio::spawn(async move {
        let mut ws = match websocket.await {
            Ok(ws) => ws,
            Err(e) => {
                let _ = reports.send(format!("upgrade failed: {}", matches!(e, Error::Hyper(_))));
                return;
            }
        };
        let hello = format!(
            "protocol={:?} extensions={:?}",
            ws.protocol(),
            ws.extensions()
        );
        let _ = reports.send(hello);
        while let Some(Ok(message)) = ws.next_message().await {
            if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                break;
            }
        }
    });
    response
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("ws://{addr}{path}")
}

/// Reads until the close; returns it.
async fn until_close(ws: &mut wsd_hyper::WebSocket) -> Option<CloseFrame> {
    while let Some(message) = ws.next_message().await {
        if let Message::Close(frame) = message.unwrap() {
            return frame;
        }
    }
    None
}

#[tokio::test]
async fn hyper_client_and_server_echo_text_and_binary_then_close() {
    let (addr, mut reports) = spawn_server(Config::default()).await;
    let (mut ws, response) = wsd_hyper::connect(&url(addr, "/echo"), Config::default())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(response.headers()["upgrade"], "websocket");
    assert_eq!(reports.recv().await.unwrap(), "protocol=None extensions=[]");

    ws.send(Message::text("hello")).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap(),
        Message::text("hello")
    );
    let blob: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    ws.send(Message::binary(blob.clone())).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap(),
        Message::binary(blob)
    );

    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    let close = until_close(&mut ws).await.unwrap();
    assert_eq!(
        (close.code, close.reason.as_str()),
        (CloseCode::NORMAL, "bye")
    );
    assert!(ws.next_message().await.is_none());
}

#[tokio::test]
async fn the_server_picks_a_subprotocol_the_client_offered() {
    let (addr, mut reports) = spawn_server(Config::default().protocols(["v2", "v3"])).await;
    let client = Config::default().protocols(["v1", "v2"]);
    let (ws, response) = wsd_hyper::connect(&url(addr, "/"), client).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "v2");
    assert_eq!(ws.protocol(), Some("v2"));
    assert_eq!(
        reports.recv().await.unwrap(),
        "protocol=Some(\"v2\") extensions=[]"
    );

    // No protocol in common: the server answers without one, and the client opens
    // without one (RFC 6455 lets the server choose none).
    let (ws, response) = wsd_hyper::connect(&url(addr, "/"), Config::default().protocols(["v9"]))
        .await
        .unwrap();
    assert!(!response.headers().contains_key("sec-websocket-protocol"));
    assert_eq!(ws.protocol(), None);
}

#[tokio::test]
async fn permessage_deflate_is_negotiated_and_carries_messages_both_ways() {
    let deflate = || Config::default().deflate(PerMessageDeflate::new());
    let (addr, mut reports) = spawn_server(deflate()).await;
    let (mut ws, response) = wsd_hyper::connect(&url(addr, "/"), deflate())
        .await
        .unwrap();
    let answer = response.headers()["sec-websocket-extensions"]
        .to_str()
        .unwrap();
    assert!(answer.starts_with("permessage-deflate"), "{answer}");
    assert_eq!(ws.extensions(), ["permessage-deflate"]);
    assert_eq!(
        reports.recv().await.unwrap(),
        "protocol=None extensions=[\"permessage-deflate\"]"
    );
    let text = "all work and no play makes a dull WebSocket ".repeat(2000);
    for _ in 0..3 {
        ws.send(Message::text(text.as_str())).await.unwrap();
        assert_eq!(
            ws.next_message().await.unwrap().unwrap(),
            Message::text(text.as_str())
        );
    }

    // A client that does not offer it gets plain frames from the same server.
    let (ws, response) = wsd_hyper::connect(&url(addr, "/"), Config::default())
        .await
        .unwrap();
    assert!(!response.headers().contains_key("sec-websocket-extensions"));
    assert!(ws.extensions().is_empty());
}

/// Sends `request` on a new hyper client connection; returns status, headers, body.
async fn send(
    addr: SocketAddr,
    request: Request<Empty<Bytes>>,
) -> (StatusCode, http::HeaderMap, String) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .unwrap();
    tokio::spawn(connection);
    let response = sender.send_request(request).await.unwrap();
    let (parts, body) = response.into_parts();
    let body = body.collect().await.unwrap().to_bytes();
    (
        parts.status,
        parts.headers,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

fn websocket_request(version: &str) -> http::request::Builder {
    Request::get("/chat")
        .header("host", "example.com")
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-version", version)
}

#[tokio::test]
async fn requests_that_are_not_websocket_upgrades_get_http_answers() {
    let (addr, _reports) = spawn_server(Config::default()).await;

    let plain = Request::get("/").header("host", "example.com");
    let (status, _, body) = send(addr, plain.body(Empty::new()).unwrap()).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "plain HTTP"));

    let no_key = websocket_request("13").body(Empty::new()).unwrap();
    let (status, headers, body) = send(addr, no_key).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(headers["content-type"], "text/plain");
    assert_eq!(headers["connection"], "close");
    assert_eq!(body, "Missing handshake request header: Sec-WebSocket-Key");

    let old = websocket_request("8")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .body(Empty::new())
        .unwrap();
    let (status, headers, body) = send(addr, old).await;
    assert_eq!(status, StatusCode::UPGRADE_REQUIRED);
    assert_eq!(headers["sec-websocket-version"], "13");
    assert_eq!(body, "Unsupported WebSocket version: 8");
}

#[tokio::test]
async fn a_client_refused_with_404_gets_the_response_head() {
    let (addr, _reports) = spawn_server(Config::default()).await;
    let error = wsd_hyper::connect(&url(addr, "/404"), Config::default())
        .await
        .unwrap_err();
    let Error::Handshake { error, response } = error else {
        panic!("not a handshake error: {error:?}");
    };
    assert_eq!(response.status, StatusCode::NOT_FOUND);
    assert_eq!(
        error.to_string(),
        "Error during WebSocket handshake: Unexpected response code: 404"
    );
}

#[tokio::test]
async fn an_upgrade_hyper_does_not_hand_over_fails_its_future() {
    // Served without `with_upgrades`, hyper sends the 101 and then drops the stream.
    let (addr, mut reports) = spawn_server_with(Config::default(), false).await;
    let (mut ws, response) = wsd_hyper::connect(&url(addr, "/"), Config::default())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(reports.recv().await.unwrap(), "upgrade failed: true");
    // The client's WebSocket sees the connection end without a close frame.
    let close = until_close(&mut ws).await.unwrap();
    assert_eq!(close.code, CloseCode::ABNORMAL);
}

#[tokio::test]
async fn the_client_handshake_times_out_when_the_server_does_not_answer() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(tcp);
    });
    let mut options = Options::default();
    options.handshake_timeout = Some(Duration::from_millis(200));
    let error = wsd_hyper::connect(&url(addr, "/"), options)
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::WebSocket(wsd_io::Error::HandshakeTimeout)),
        "{error:?}"
    );
    silent.abort();
}

#[tokio::test]
async fn wss_urls_ask_for_a_stream_with_tls() {
    let error = wsd_hyper::connect("wss://127.0.0.1:1/", Config::default())
        .await
        .unwrap_err();
    assert!(matches!(
        error,
        Error::WebSocket(wsd_io::Error::Tls(wsd_io::TlsError::NotAvailable { .. }))
    ));
}

#[tokio::test]
async fn wsd_tokio_clients_talk_to_hyper_servers_with_the_same_negotiation() {
    let server = Config::default()
        .protocols(["chat"])
        .deflate(PerMessageDeflate::new());
    let (addr, mut reports) = spawn_server(server).await;
    let client = Config::default()
        .protocols(["chat"])
        .deflate(PerMessageDeflate::new());
    let mut ws = wsd_tokio::connect_with(&url(addr, "/"), client.options)
        .await
        .unwrap();
    assert_eq!(ws.protocol(), Some("chat"));
    assert_eq!(ws.extensions(), ["permessage-deflate"]);
    assert_eq!(
        reports.recv().await.unwrap(),
        "protocol=Some(\"chat\") extensions=[\"permessage-deflate\"]"
    );
    ws.send(Message::text("from wsd-tokio")).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap(),
        Message::text("from wsd-tokio")
    );
}

#[tokio::test]
async fn hyper_clients_talk_to_wsd_tokio_servers_with_the_same_negotiation() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut options = Options::default();
        options.protocols = vec!["chat".into()];
        options
            .extensions
            .push(std::sync::Arc::new(PerMessageDeflate::new()));
        let config = wsd_tokio::ServerConfig::new(options);
        let accepted = wsd_tokio::accept_with(tcp, config).await.unwrap();
        let mut ws = accepted.upgraded().unwrap();
        while let Some(Ok(message)) = ws.next_message().await {
            if message.is_text() && ws.send(message).await.is_err() {
                break;
            }
        }
    });
    let client = Config::default()
        .protocols(["other", "chat"])
        .deflate(PerMessageDeflate::new());
    let (mut ws, response) = wsd_hyper::connect(&url(addr, "/"), client).await.unwrap();
    assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
    assert_eq!(ws.extensions(), ["permessage-deflate"]);
    ws.send(Message::text("from hyper")).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap(),
        Message::text("from hyper")
    );
    ws.close(CloseCode::GOING_AWAY, "").await.unwrap();
    assert_eq!(
        until_close(&mut ws).await.unwrap().code,
        CloseCode::GOING_AWAY
    );
}
