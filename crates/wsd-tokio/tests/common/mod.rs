//! Helpers the proxy tests share: tinyproxy (HTTP proxy) and microsocks (SOCKS5),
//! each started on a free loopback port and stopped on drop, and a wsd echo server.
// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tokio::net::TcpListener;

/// A tinyproxy in the foreground, killed on drop.
pub(crate) struct Proxy {
    child: Child,
    dir: PathBuf,
    pub(crate) port: u16,
}

impl Proxy {
    /// Starts tinyproxy allowing `CONNECT` to `allowed_port` only, with basic auth
    /// `user:pass` when `auth`.
    pub(crate) async fn start(allowed_port: u16, auth: bool) -> Self {
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

    pub(crate) fn url(&self, userinfo: &str) -> String {
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

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A wsd echo server; returns its `ws://` URL and port.
pub(crate) async fn echo_server() -> (String, u16) {
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

/// Waits until something listens on `port` (at most 2 s).
async fn wait_listening(port: u16, what: &str) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("{what} did not listen on {port}");
}

/// microsocks, Debian's small SOCKS5 server, in the foreground; killed on drop.
pub(crate) struct Socks {
    child: Child,
    pub(crate) port: u16,
}

impl Socks {
    /// Starts microsocks on a free loopback port, requiring `user:pass` when `auth`.
    pub(crate) async fn start(auth: bool) -> Self {
        let port = free_port();
        let mut command = Command::new("microsocks");
        command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
        if auth {
            command.args(["-u", "user", "-P", "pass"]);
        }
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("microsocks is installed (`.ci/run` installs the Debian package)");
        let socks = Self { child, port };
        wait_listening(port, "microsocks").await;
        socks
    }

    /// The proxy URL with `userinfo` (`user:pass@` or empty) and `scheme`.
    pub(crate) fn url(&self, scheme: &str, userinfo: &str) -> String {
        format!("{scheme}://{userinfo}127.0.0.1:{}", self.port)
    }
}

impl Drop for Socks {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
