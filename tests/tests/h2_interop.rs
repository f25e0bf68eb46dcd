//! WebSockets over HTTP/2 (RFC 8441) against Node: its built-in `http2` module
//! carrying `ws` WebSockets (`tests/interop/node_h2_websocket.js`), as the client
//! of a wsd-h2 server and as the server of the wsd-h2 client, over h2c on
//! loopback, with and without permessage-deflate, 100 WebSockets on one
//! connection.
//!
//! They need `node` and `npm ci` in `tests/interop` (`bash .ci/run` does it). Without
//! `node` they skip, saying so; without the npm packages they fail and say how to
//! install them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use wsd_core::Bytes;
use wsd_deflate::PerMessageDeflate;
use wsd_h2::{
    Client, CloseCode, CloseFrame, H2Config, Message, Options, Server, ServerConfig, WebSocket,
};

const SIXTEEN_MIB: usize = 16 << 20;
const SOCKETS: usize = 100;
/// Upper bound for one side's whole run.
const PEER_TIMEOUT: Duration = Duration::from_secs(180);
const SCRIPT: &str = "node_h2_websocket.js";

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace root")
        .to_path_buf()
}

/// The script, or `None` (after saying why) when `node` is not installed.
fn node_script() -> Option<PathBuf> {
    let node = std::process::Command::new("node").arg("--version").output();
    if !node.is_ok_and(|out| out.status.success()) {
        eprintln!("skipped: `node` is not installed, so the HTTP/2 interop peer cannot run");
        return None;
    }
    assert!(
        root().join("tests/interop/node_modules/ws").exists(),
        "the node peers are not installed: run `npm ci` in tests/interop (or `bash .ci/run`)"
    );
    Some(root().join("tests/interop").join(SCRIPT))
}

fn options(deflate: bool) -> Options {
    let mut options = Options::default();
    options.max_length = 64 << 20;
    if deflate {
        options.extensions.push(Arc::new(PerMessageDeflate::new()));
    }
    options
}

/// A wsd-h2 echo server on a free port, with the script's `close CODE REASON`
/// command; returns its URL.
async fn wsd_server(deflate: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/interop", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut server = Server::handshake(tcp, ServerConfig::default()).await?;
                while let Some(incoming) = server.accept().await {
                    let ws = incoming?.accept(options(deflate))?;
                    assert_eq!(ws.extensions().is_empty(), !deflate);
                    tokio::spawn(echo(ws));
                }
                Ok::<_, wsd_h2::Error>(())
            });
        }
    });
    url
}

async fn echo(mut ws: WebSocket) {
    while let Some(Ok(message)) = ws.next_message().await {
        let command = message.as_text().and_then(|t| t.strip_prefix("close "));
        if let Some((code, reason)) = command.and_then(|c| c.split_once(' ')) {
            let code = CloseCode(code.parse().unwrap());
            let _ = ws.close(code, reason).await;
        } else if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            break;
        }
    }
}

/// Runs the script's client against `url`; panics with its output unless it exits 0.
async fn run_node_client(script: &Path, url: &str, args: &[&str]) {
    let run = Command::new("node")
        .arg(script)
        .arg("client")
        .arg(url)
        .args(args)
        .current_dir(root())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(PEER_TIMEOUT, run)
        .await
        .expect("the node client did not finish in time")
        .unwrap();
    assert!(
        output.status.success(),
        "the node HTTP/2 client against wsd-h2 failed:\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts the script's server on a free port and waits for its `listening` line.
async fn start_node_server(script: &Path, deflate: bool) -> (Child, std::net::SocketAddr) {
    let addr = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap()
    };
    let mut child = Command::new("node")
        .arg(script)
        .arg("server")
        .arg(addr.port().to_string())
        .args(deflate.then_some("--deflate"))
        .current_dir(root())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("listening") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(
        ready,
        Ok(true),
        "the node HTTP/2 server never said listening"
    );
    (child, addr)
}

async fn next(ws: &mut WebSocket) -> Message {
    tokio::time::timeout(PEER_TIMEOUT, ws.next_message())
        .await
        .expect("an answer in time")
        .expect("an answer, not the end")
        .unwrap()
}

async fn expect_echo(ws: &mut WebSocket, message: Message) {
    ws.send(message.clone()).await.unwrap();
    let echo = next(ws).await;
    assert_eq!(echo.len(), message.len());
    assert!(echo == message, "the echo differs");
}

/// One WebSocket's exchange with the node server: every kind of message, then a
/// close with its own code.
async fn exercise(client: Client, url: String, index: usize, deflate: bool) {
    let mut ws = wsd_h2::connect(&client, &url, options(deflate))
        .await
        .unwrap();
    assert_eq!(ws.extensions().is_empty(), !deflate);
    expect_echo(
        &mut ws,
        Message::text(format!("hello from wsd, socket {index}")),
    )
    .await;
    expect_echo(&mut ws, Message::text("κόσμε — unicode")).await;
    expect_echo(&mut ws, Message::binary(vec![0u8, 1, 2, 255])).await;
    // The server answers `fragment` with three frames.
    ws.send(Message::text("fragment")).await.unwrap();
    assert_eq!(next(&mut ws).await, Message::text("fragmented"));
    ws.send(Message::Ping(Bytes::from_static(b"are you there")))
        .await
        .unwrap();
    assert_eq!(
        next(&mut ws).await,
        Message::Pong(Bytes::from_static(b"are you there"))
    );
    if index == 0 {
        let big: Vec<u8> = (0..SIXTEEN_MIB).map(|i| (i % 253) as u8).collect();
        expect_echo(&mut ws, Message::binary(big)).await;
    }
    let code = CloseCode(4000 + u16::try_from(index).unwrap());
    let reason = format!("bye {index}");
    ws.close(code, &reason).await.unwrap();
    assert_eq!(
        next(&mut ws).await,
        Message::Close(Some(CloseFrame::new(code, reason)))
    );
    assert!(ws.next_message().await.is_none());
}

async fn wsd_client_against_node_server(script: &Path, deflate: bool, sockets: usize) {
    let (_server, addr) = start_node_server(script, deflate).await;
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    let (client, driver) = Client::handshake(tcp, H2Config::default()).await.unwrap();
    tokio::spawn(driver);
    assert!(client.connect_protocol_enabled());
    let url = format!("ws://{addr}/interop");
    let tasks: Vec<_> = (0..sockets)
        .map(|i| tokio::spawn(exercise(client.clone(), url.clone(), i, deflate)))
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    // The server closes first.
    let mut ws = wsd_h2::connect(&client, &url, options(deflate))
        .await
        .unwrap();
    ws.send(Message::text("close 4001 server bye"))
        .await
        .unwrap();
    assert_eq!(
        next(&mut ws).await,
        Message::Close(Some(CloseFrame::new(CloseCode(4001), "server bye")))
    );
    assert!(ws.next_message().await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_http2_client_talks_to_wsd_h2_server() {
    let Some(script) = node_script() else { return };
    let url = wsd_server(false).await;
    run_node_client(&script, &url, &["--sockets", &SOCKETS.to_string()]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_http2_client_talks_to_wsd_h2_server_with_deflate() {
    let Some(script) = node_script() else { return };
    let url = wsd_server(true).await;
    let sockets = SOCKETS.to_string();
    run_node_client(&script, &url, &["--deflate", "--sockets", &sockets]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wsd_h2_client_talks_to_node_http2_server() {
    let Some(script) = node_script() else { return };
    wsd_client_against_node_server(&script, false, SOCKETS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wsd_h2_client_talks_to_node_http2_server_with_deflate() {
    let Some(script) = node_script() else { return };
    wsd_client_against_node_server(&script, true, SOCKETS).await;
}
