//! A hyper 1.x server that serves a page at `/` and a WebSocket echo at `/ws`
//! (subprotocol `echo`, permessage-deflate), then a client that talks to it through
//! hyper's client connection.
//!
//! ```sh
//! cargo run -p wsd-hyper --example hyper_echo
//! ```

use std::convert::Infallible;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use wsd_hyper::{CloseCode, Config, Message, PerMessageDeflate};

/// The service: WebSocket requests to `/ws` are upgraded, the rest is plain HTTP.
async fn serve(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.uri().path() != "/ws" {
        return Ok(Response::new(Full::from("the echo is at /ws\n")));
    }
    if !wsd_hyper::is_upgrade_request(&request) {
        let mut response = Response::new(Full::from("this is a WebSocket endpoint\n"));
        *response.status_mut() = StatusCode::UPGRADE_REQUIRED;
        return Ok(response);
    }
    let config = Config::default()
        .protocols(["echo"])
        .deflate(PerMessageDeflate::new())
        .max_message_size(1 << 20);
    let (response, websocket) = match wsd_hyper::upgrade_with(&mut request, config) {
        Ok(accepted) => accepted,
        // 400, or 426 for an unsupported version, with the reason as the body.
        Err(refused) => return Ok(refused.to_response()),
    };
    // The WebSocket exists once hyper has sent the 101: after this function returns.
    tokio::spawn(async move {
        let Ok(mut ws) = websocket.await else { return };
        while let Some(Ok(message)) = ws.next_message().await {
            // Pings are answered and the close echoed by the driver.
            if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
                break;
            }
        }
    });
    Ok(response)
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("serving on http://{addr}/ (WebSocket at ws://{addr}/ws)");
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(serve);
                let connection = http1::Builder::new().serve_connection(TokioIo::new(tcp), service);
                // `with_upgrades` lets hyper hand the connection over after the 101.
                let _ = connection.with_upgrades().await;
            });
        }
    });

    // The client: hyper sends the request wsd built and checks the answer with it.
    let config = Config::default()
        .protocols(["echo"])
        .deflate(PerMessageDeflate::new());
    let (mut ws, response) = wsd_hyper::connect(&format!("ws://{addr}/ws"), config).await?;
    println!(
        "{} {:?}, subprotocol {:?}, extensions {:?}",
        response.status(),
        response.version(),
        ws.protocol(),
        ws.extensions()
    );
    ws.send(Message::text("hello over hyper")).await?;
    if let Some(echo) = ws.next_message().await {
        println!("echo: {:?}", echo?);
    }
    ws.close(CloseCode::NORMAL, "bye").await?;
    while let Some(message) = ws.next_message().await {
        println!("then: {:?}", message?);
    }
    Ok(())
}
