//! Interop with WebSocket stacks nobody here wrote: python `websockets` and node `ws`
//! (and node `websocket-driver`, the library wsd ports) as clients of a wsd server
//! and as servers for the wsd client.
//!
//! The peers live in `tests/interop/`; `bash .ci/run` installs them (a python venv in
//! `.venv` at the workspace root, `npm ci` in `tests/interop`). Without them these
//! tests fail and say how to install them.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use wsd_deflate::PerMessageDeflate;
use wsd_tokio::{Accepted, CloseCode, Message, Options, ServerConfig};

const SIXTEEN_MIB: usize = 16 << 20;
/// Upper bound for one peer script's whole run.
const PEER_TIMEOUT: Duration = Duration::from_secs(120);

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate sits in the workspace root")
        .to_path_buf()
}

fn python() -> PathBuf {
    let python = root().join(".venv/bin/python");
    assert!(
        python.exists(),
        "the interop peers are not installed: run `bash .ci/run` (or create .venv with \
         tests/interop/requirements.txt and run `npm ci` in tests/interop)"
    );
    python
}

fn node_peer(script: &str) -> (PathBuf, PathBuf) {
    let modules = root().join("tests/interop/node_modules");
    assert!(
        modules.exists(),
        "the node peers are not installed: run `npm ci` in tests/interop (or `bash .ci/run`)"
    );
    (
        PathBuf::from("node"),
        root().join("tests/interop").join(script),
    )
}

fn python_peer(script: &str) -> (PathBuf, PathBuf) {
    (python(), root().join("tests/interop").join(script))
}

/// Options with permessage-deflate (default configuration) when `deflate`.
fn options(deflate: bool) -> Options {
    let mut options = Options::default();
    options.max_length = 64 << 20;
    if deflate {
        options.extensions.push(Arc::new(PerMessageDeflate::new()));
    }
    options
}

/// The extensions each connection to a [`wsd_echo_server`] negotiated.
type Negotiated = Arc<Mutex<Vec<Vec<String>>>>;

/// The HTTP stack in front of a wsd echo server.
#[derive(Clone, Copy, Debug)]
enum Stack {
    /// wsd's own handshake (`wsd_tokio::accept_with`).
    Own,
    /// A hyper 1.x server upgrading through `wsd_hyper`.
    Hyper,
    /// An axum 0.8 router with `wsd_axum::WebSocketUpgrade`.
    Axum,
}

/// A wsd echo server on a free port; returns its URL and what each connection
/// negotiated.
async fn wsd_echo_server(deflate: bool) -> (String, Negotiated) {
    wsd_echo_server_on(Stack::Own, deflate).await
}

/// [`wsd_echo_server`] behind `stack`.
async fn wsd_echo_server_on(stack: Stack, deflate: bool) -> (String, Negotiated) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/", listener.local_addr().unwrap());
    let negotiated = Negotiated::default();
    let record = Arc::clone(&negotiated);
    match stack {
        Stack::Own => {
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let record = Arc::clone(&record);
                    tokio::spawn(async move {
                        let config = ServerConfig::new(options(deflate));
                        let accepted = wsd_tokio::accept_with(stream, config).await;
                        if let Ok(Accepted::Upgraded(ws)) = accepted {
                            echo(ws, &record).await;
                        }
                    });
                }
            });
        }
        Stack::Hyper => {
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let record = Arc::clone(&record);
                    let service = hyper::service::service_fn(move |mut request| {
                        let record = Arc::clone(&record);
                        async move {
                            let upgraded = wsd_hyper::upgrade_with(&mut request, options(deflate));
                            Ok::<_, std::convert::Infallible>(match upgraded {
                                Ok((response, upgrade)) => {
                                    tokio::spawn(async move {
                                        if let Ok(ws) = upgrade.await {
                                            echo(ws, &record).await;
                                        }
                                    });
                                    response
                                }
                                Err(refused) => refused.to_response(),
                            })
                        }
                    });
                    tokio::spawn(
                        hyper::server::conn::http1::Builder::new()
                            .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                            .with_upgrades(),
                    );
                }
            });
        }
        Stack::Axum => {
            let app = axum::Router::new().route(
                "/",
                axum::routing::any(move |upgrade: wsd_axum::WebSocketUpgrade| {
                    let record = Arc::clone(&record);
                    async move {
                        upgrade
                            .options(options(deflate))
                            .on_upgrade(move |socket| async move {
                                echo(socket.into_inner(), &record).await;
                            })
                    }
                }),
            );
            tokio::spawn(async move { axum::serve(listener, app).await });
        }
    }
    (url, negotiated)
}

/// Echoes text and binary messages, recording what the connection negotiated.
async fn echo<T: wsd_io::Transport, Z: wsd_io::Timer>(
    mut ws: wsd_io::WebSocket<T, Z>,
    record: &Negotiated,
) {
    record.lock().unwrap().push(ws.extensions());
    while let Some(Ok(message)) = ws.next_message().await {
        let is_data = matches!(message, Message::Text(_) | Message::Binary(_));
        if is_data && ws.feed(message).await.is_err() {
            break;
        }
    }
}

/// Runs a peer client script against `url` (and `args`); panics with its output
/// unless it exits 0.
async fn run_peer_client((program, script): (PathBuf, PathBuf), url: &str, args: &[&str]) {
    let run = Command::new(program)
        .arg(&script)
        .arg(url)
        .args(args)
        .current_dir(root())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(PEER_TIMEOUT, run)
        .await
        .unwrap_or_else(|_| panic!("{} did not finish in time", script.display()))
        .unwrap();
    assert!(
        output.status.success(),
        "{} against wsd failed:\nstdout: {}\nstderr: {}",
        script.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Starts a peer echo server on a free port (with `args`) and waits for its
/// `listening` line.
async fn start_peer_server(
    (program, script): (PathBuf, PathBuf),
    args: &[&str],
) -> (Child, String) {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let mut child = Command::new(program)
        .arg(&script)
        .arg(port.to_string())
        .args(args)
        .current_dir(root())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(line)) = lines.next_line().await {
            if line.contains("listening") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "{} never said listening", script.display());
    (child, format!("ws://127.0.0.1:{port}/"))
}

/// The wsd client's side of the scripted exchange against an echo server; with
/// `deflate` it offers permessage-deflate and checks the server accepted it.
async fn wsd_client_exchange(url: &str, deflate: bool) {
    let mut ws = wsd_tokio::connect_with(url, options(deflate))
        .await
        .unwrap();
    let expected: &[&str] = if deflate {
        &["permessage-deflate"]
    } else {
        &[]
    };
    assert_eq!(ws.extensions(), expected);
    let big: Vec<u8> = (0..SIXTEEN_MIB).map(|i| (i % 253) as u8).collect();
    let sent = [
        Message::text("hello from wsd"),
        Message::text("κόσμε — unicode"),
        Message::binary(vec![0u8, 1, 2, 255]),
        Message::binary(big),
    ];
    for message in &sent {
        ws.send(message.clone()).await.unwrap();
    }
    for expected in &sent {
        let echoed = tokio::time::timeout(PEER_TIMEOUT, ws.next_message())
            .await
            .expect("echo in time")
            .expect("an echo, not the end")
            .expect("no error");
        assert_eq!(echoed.as_bytes().len(), expected.as_bytes().len());
        assert!(echoed == *expected, "echo differs");
    }
    ws.close(CloseCode::NORMAL, "done").await.unwrap();
}

#[tokio::test]
async fn python_websockets_client_talks_to_wsd_server() {
    let (url, _) = wsd_echo_server(false).await;
    run_peer_client(python_peer("python_client.py"), &url, &[]).await;
}

#[tokio::test]
async fn node_ws_client_talks_to_wsd_server() {
    let (url, _) = wsd_echo_server(false).await;
    run_peer_client(node_peer("node_ws_client.js"), &url, &[]).await;
}

#[tokio::test]
async fn wsd_client_talks_to_python_websockets_server() {
    let (_server, url) = start_peer_server(python_peer("python_echo_server.py"), &[]).await;
    wsd_client_exchange(&url, false).await;
}

#[tokio::test]
async fn wsd_client_talks_to_node_ws_server() {
    let (_server, url) = start_peer_server(node_peer("node_ws_echo_server.js"), &[]).await;
    wsd_client_exchange(&url, false).await;
}

#[tokio::test]
async fn wsd_client_talks_to_the_node_websocket_driver_server() {
    let (_server, url) = start_peer_server(node_peer("node_driver_echo_server.js"), &[]).await;
    wsd_client_exchange(&url, false).await;
}

// permessage-deflate, both directions: each peer script fails unless its side
// negotiated the extension, and the wsd side checks its own.

/// Runs a peer client with `--deflate` against a deflating wsd server.
async fn deflating_peer_client(peer: (PathBuf, PathBuf)) {
    deflating_peer_client_on(Stack::Own, peer).await;
}

/// [`deflating_peer_client`] against the server behind `stack`.
async fn deflating_peer_client_on(stack: Stack, peer: (PathBuf, PathBuf)) {
    let (url, negotiated) = wsd_echo_server_on(stack, true).await;
    run_peer_client(peer, &url, &["--deflate"]).await;
    assert_eq!(
        *negotiated.lock().unwrap(),
        [vec!["permessage-deflate".to_owned()]]
    );
}

#[tokio::test]
async fn python_websockets_client_talks_to_wsd_server_with_deflate() {
    deflating_peer_client(python_peer("python_client.py")).await;
}

#[tokio::test]
async fn node_ws_client_talks_to_wsd_server_with_deflate() {
    deflating_peer_client(node_peer("node_ws_client.js")).await;
}

#[tokio::test]
async fn wsd_client_talks_to_python_websockets_server_with_deflate() {
    let peer = python_peer("python_echo_server.py");
    let (_server, url) = start_peer_server(peer, &["--deflate"]).await;
    wsd_client_exchange(&url, true).await;
}

#[tokio::test]
async fn wsd_client_talks_to_node_ws_server_with_deflate() {
    let peer = node_peer("node_ws_echo_server.js");
    let (_server, url) = start_peer_server(peer, &["--deflate"]).await;
    wsd_client_exchange(&url, true).await;
}

// The same peers against the hyper and axum integrations (`wsd-hyper`, `wsd-axum`).

#[tokio::test]
async fn python_and_node_clients_talk_to_wsd_behind_hyper() {
    let (url, _) = wsd_echo_server_on(Stack::Hyper, false).await;
    run_peer_client(python_peer("python_client.py"), &url, &[]).await;
    run_peer_client(node_peer("node_ws_client.js"), &url, &[]).await;
}

#[tokio::test]
async fn python_and_node_clients_talk_to_wsd_behind_axum() {
    let (url, _) = wsd_echo_server_on(Stack::Axum, false).await;
    run_peer_client(python_peer("python_client.py"), &url, &[]).await;
    run_peer_client(node_peer("node_ws_client.js"), &url, &[]).await;
}

#[tokio::test]
async fn python_and_node_clients_deflate_with_wsd_behind_hyper_and_axum() {
    for stack in [Stack::Hyper, Stack::Axum] {
        deflating_peer_client_on(stack, python_peer("python_client.py")).await;
        deflating_peer_client_on(stack, node_peer("node_ws_client.js")).await;
    }
}
