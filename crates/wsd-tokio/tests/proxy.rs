//! `connect_via_proxy` against a real HTTP proxy: Debian's `tinyproxy`, started on
//! loopback with a generated configuration (installed by `.ci/run`).

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::net::TcpListener;
use wsd_tokio::{CloseCode, Error, Message, Options};

/// A tinyproxy in the foreground, killed on drop.
struct Proxy {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Proxy {
    /// Starts tinyproxy allowing `CONNECT` to `allowed_port` only, with basic auth
    /// `user:pass` when `auth`.
    async fn start(allowed_port: u16, auth: bool) -> Self {
        let port = free_port();
        let dir = std::env::temp_dir().join(format!("wsd-tinyproxy-{}-{port}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut config = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 20\n\
             LogLevel Critical\nConnectPort {allowed_port}\n"
        );
        if auth {
            config.push_str("BasicAuth user pass\n");
        }
        let path = dir.join("tinyproxy.conf");
        std::fs::write(&path, config).unwrap();
        let child = Command::new("tinyproxy")
            .arg("-d")
            .arg("-c")
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tinyproxy is installed (`.ci/run` installs it)");
        let proxy = Self { child, dir, port };
        // Ready once it accepts connections.
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return proxy;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("tinyproxy did not listen on {port}");
    }

    fn url(&self, userinfo: &str) -> String {
        format!("http://{userinfo}127.0.0.1:{}", self.port)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A wsd echo server; returns its `ws://` URL and port.
async fn echo_server() -> (String, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let Ok(mut ws) = wsd_tokio::accept(stream).await else {
                    return;
                };
                while let Some(Ok(message)) = ws.next_message().await {
                    if message.is_close() || ws.send(message).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    (format!("ws://127.0.0.1:{port}/echo"), port)
}

async fn round_trip(url: &str, proxy: &str) {
    let mut ws = wsd_tokio::connect_via_proxy(url, proxy, Options::default())
        .await
        .expect("the tunnel and the handshake succeed");
    assert_eq!(ws.response_status(), Some(101));
    ws.send(Message::text("through the proxy")).await.unwrap();
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    let first = ws.next_message().await.unwrap().unwrap();
    assert_eq!(first.as_text(), Some("through the proxy"));
    let second = ws.next_message().await.unwrap().unwrap();
    assert_eq!(second, Message::binary(vec![0u8, 1, 2, 255]));
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
}

fn refusal(
    result: Result<wsd_tokio::WebSocket<wsd_tokio::MaybeTlsStream>, Error>,
) -> Box<wsd_core::Response> {
    match result {
        Err(Error::ProxyRefused(answer)) => answer,
        Err(other) => panic!("a proxy refusal expected, got {other}"),
        Ok(_) => panic!("a proxy refusal expected, got a WebSocket"),
    }
}

#[tokio::test]
async fn echo_round_trip_through_an_open_proxy() {
    let (url, port) = echo_server().await;
    let proxy = Proxy::start(port, false).await;
    round_trip(&url, &proxy.url("")).await;
}

#[tokio::test]
async fn an_authenticating_proxy_answers_407_without_credentials_and_tunnels_with_them() {
    let (url, port) = echo_server().await;
    let proxy = Proxy::start(port, true).await;

    let answer =
        refusal(wsd_tokio::connect_via_proxy(&url, &proxy.url(""), Options::default()).await);
    assert_eq!(answer.status, 407);
    let challenge = answer
        .headers
        .get("proxy-authenticate")
        .expect("a challenge");
    assert!(challenge.starts_with("Basic"), "{challenge}");
    let error = Error::ProxyRefused(answer).to_string();
    assert!(error.contains("407"), "{error}");

    let answer = refusal(
        wsd_tokio::connect_via_proxy(&url, &proxy.url("user:wrong@"), Options::default()).await,
    );
    // tinyproxy 1.11 answers wrong credentials with 401 rather than 407.
    assert!(matches!(answer.status, 401 | 407), "{answer:?}");

    round_trip(&url, &proxy.url("user:pass@")).await;
}

#[tokio::test]
async fn a_destination_the_proxy_does_not_allow_is_refused_with_its_status() {
    let (_, allowed) = echo_server().await;
    let (refused_url, _) = echo_server().await;
    let proxy = Proxy::start(allowed, false).await;
    let answer = refusal(
        wsd_tokio::connect_via_proxy(&refused_url, &proxy.url(""), Options::default()).await,
    );
    assert_eq!(answer.status, 403, "{answer:?}");
}

#[tokio::test]
async fn client_via_proxy_runs_on_a_stream_the_caller_opened() {
    let (url, port) = echo_server().await;
    let proxy = Proxy::start(port, true).await;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port))
        .await
        .unwrap();
    let mut ws =
        wsd_tokio::client_via_proxy(&url, &proxy.url("user:pass@"), stream, Options::default())
            .await
            .unwrap();
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap().as_text(),
        Some("hi")
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

#[tokio::test]
async fn a_bad_proxy_url_is_refused_before_connecting() {
    let error = wsd_tokio::connect_via_proxy(
        "ws://127.0.0.1:1/",
        "socks5://127.0.0.1:1",
        Options::default(),
    )
    .await
    .err()
    .unwrap();
    assert!(matches!(error, Error::Url(_)), "{error}");
}
