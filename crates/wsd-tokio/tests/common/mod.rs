//! Helpers the proxy tests share: tinyproxy (HTTP proxy) and microsocks (SOCKS5),
//! each started on a free loopback port and stopped on drop, a TLS terminator that
//! makes either an `https://` proxy, and a wsd echo server.
// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::{TcpListener, TcpStream};

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
        let dir = std::env::temp_dir().join(format!(
            "wsd-tinyproxy-{}-{}",
            std::process::id(),
            free_port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("tinyproxy.conf");
        let (child, port) = spawn_listening("tinyproxy", |port| {
            let mut config = format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 30\nAllow 127.0.0.1\nMaxClients 20\n\
                 LogLevel Critical\nConnectPort {allowed_port}\n"
            );
            if auth {
                config.push_str("BasicAuth user pass\n");
            }
            std::fs::write(&path, config).unwrap();
            let mut command = Command::new("tinyproxy");
            command.arg("-d").arg("-c").arg(&path);
            command
        })
        .await;
        Self { child, dir, port }
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

/// Spawns `what` (built by `command` for a free loopback port) and waits until it
/// listens there (at most 2 s).
///
/// The port is free when picked but the server binds it only later: a test running
/// in parallel can take it in between, and then the server exits while the probe
/// reaches the other test's listener. So the server must still be running once the
/// port answers, or it is started again on another port.
async fn spawn_listening(what: &str, mut command: impl FnMut(u16) -> Command) -> (Child, u16) {
    for _ in 0..5 {
        let port = free_port();
        let mut child = command(port)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("cannot start {what} (`.ci/run` installs the Debian package): {error}")
            });
        let mut listening = false;
        for _ in 0..200 {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                listening = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // A server that lost the port to another listener exits at once.
        tokio::time::sleep(Duration::from_millis(50)).await;
        if listening && child.try_wait().unwrap().is_none() {
            return (child, port);
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("{what} did not stay listening on a free port in 5 tries");
}

/// microsocks, Debian's small SOCKS5 server, in the foreground; killed on drop.
pub(crate) struct Socks {
    child: Child,
    pub(crate) port: u16,
}

impl Socks {
    /// Starts microsocks on a free loopback port, requiring `user:pass` when `auth`.
    pub(crate) async fn start(auth: bool) -> Self {
        let (child, port) = spawn_listening("microsocks", |port| {
            let mut command = Command::new("microsocks");
            command.args(["-i", "127.0.0.1", "-p", &port.to_string()]);
            if auth {
                command.args(["-u", "user", "-P", "pass"]);
            }
            command
        })
        .await;
        Self { child, port }
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

/// A self-signed certificate for `localhost`, its key, and a client configuration
/// that trusts only it.
pub(crate) fn certificate() -> (
    CertificateDer<'static>,
    PrivateKeyDer<'static>,
    Arc<rustls::ClientConfig>,
) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (cert, key, Arc::new(client))
}

/// Ends TLS for `localhost` (with `cert` and `key`) on a free loopback port and
/// forwards the plain bytes to `target_port`; returns the port. In front of
/// tinyproxy it makes an `https://` proxy; in front of an echo server, a `wss://`
/// one.
pub(crate) async fn tls_terminator(
    cert: &CertificateDer<'static>,
    key: &PrivateKeyDer<'static>,
    target_port: u16,
) -> u16 {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key.clone_key())
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                // A client that refuses the certificate ends here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut plain = TcpStream::connect(("127.0.0.1", target_port))
                    .await
                    .unwrap();
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut plain).await;
            });
        }
    });
    port
}
