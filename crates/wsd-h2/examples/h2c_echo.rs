//! An echo server and a client for WebSockets over HTTP/2 without TLS (h2c, prior
//! knowledge).
//!
//! ```sh
//! cargo run -p wsd-h2 --example h2c_echo -- serve 127.0.0.1:9002
//! cargo run -p wsd-h2 --example h2c_echo -- connect 127.0.0.1:9002 hello world
//! ```
//!
//! `connect` opens one WebSocket per word on a single HTTP/2 connection, sends
//! the word on it and prints the echo.

use std::error::Error;

use tokio::net::{TcpListener, TcpStream};
use wsd_h2::{Client, CloseCode, H2Config, Message, Options, Server, ServerConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [mode, addr] if mode == "serve" => serve(addr).await,
        [mode, addr, words @ ..] if mode == "connect" => connect(addr, words).await,
        _ => Err("usage: h2c_echo serve ADDR | connect ADDR WORD...".into()),
    }
}

async fn serve(addr: &str) -> Result<(), Box<dyn Error>> {
    let listener = TcpListener::bind(addr).await?;
    println!("listening on {addr}");
    loop {
        let (tcp, peer) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            let mut server = Server::handshake(tcp, ServerConfig::default()).await?;
            // `accept` drives the connection for every WebSocket on it.
            while let Some(incoming) = server.accept().await {
                let incoming = incoming?;
                println!("{peer}: WebSocket on {}", incoming.path());
                let Ok(mut ws) = incoming.accept(Options::default()) else {
                    continue;
                };
                tokio::spawn(async move {
                    while let Some(Ok(message)) = ws.next_message().await {
                        if (message.is_text() || message.is_binary())
                            && ws.send(message).await.is_err()
                        {
                            break;
                        }
                    }
                });
            }
            Ok::<_, wsd_h2::Error>(())
        });
    }
}

async fn connect(addr: &str, words: &[String]) -> Result<(), Box<dyn Error>> {
    let tcp = TcpStream::connect(addr).await?;
    tcp.set_nodelay(true)?;
    let (client, driver) = Client::handshake(tcp, H2Config::default()).await?;
    tokio::spawn(driver);
    for word in words {
        let url = format!("ws://{addr}/{word}");
        let mut ws = wsd_h2::connect(&client, &url, Options::default()).await?;
        ws.send(Message::text(word.as_str())).await?;
        if let Some(echo) = ws.next_message().await {
            println!("stream {}: {:?}", ws.get_ref().stream_id(), echo?);
        }
        ws.close(CloseCode::NORMAL, "").await?;
        while ws.next_message().await.is_some() {}
    }
    Ok(())
}
