//! Helpers the end-to-end test files share: `wsd serve` on a free port, and raw TCP
//! reads with a deadline.
// Each test file compiles this module on its own and uses only part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub(crate) const WSD: &str = env!("CARGO_BIN_EXE_wsd");
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// A child process killed when dropped.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `wsd serve` on a free port with `extra` flags; returns the process and its port.
pub(crate) fn serve(extra: &[&str]) -> (Running, u16) {
    let mut child = Command::new(WSD)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("wsd serve starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split("ws://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no port in {line:?}"));
    (Running(child), port)
}

/// Connects with a read deadline.
pub(crate) fn tcp(port: u16) -> TcpStream {
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(DEADLINE)).unwrap();
    stream
}

/// Reads exactly `n` bytes.
pub(crate) fn read_n(stream: &mut TcpStream, n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    stream.read_exact(&mut buf).unwrap();
    buf
}

/// Reads an HTTP head up to its blank line, byte by byte (the body follows).
pub(crate) fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        head.extend(read_n(stream, 1));
    }
    String::from_utf8(head).unwrap()
}

/// The proxy environment variables, which `wsd connect` honours: cleared for every
/// run so the machine's settings never leak into a test.
const PROXY_VARIABLES: [&str; 8] = [
    "http_proxy",
    "HTTP_PROXY",
    "https_proxy",
    "HTTPS_PROXY",
    "all_proxy",
    "ALL_PROXY",
    "no_proxy",
    "NO_PROXY",
];

/// `wsd connect` with `args`, stdin `input`; returns (success, stdout, stderr).
pub(crate) fn connect(args: &[&str], input: &str) -> (bool, String, String) {
    connect_with_env(args, &[], input)
}

/// [`connect`] with the proxy environment variables `env` set (and no others).
pub(crate) fn connect_with_env(
    args: &[&str],
    env: &[(&str, &str)],
    input: &str,
) -> (bool, String, String) {
    let mut command = Command::new(WSD);
    for name in PROXY_VARIABLES {
        command.env_remove(name);
    }
    let mut child = command
        .envs(env.iter().copied())
        .arg("connect")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(started.elapsed() < DEADLINE, "wsd connect {args:?} hangs");
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// tinyproxy, microsocks and the TLS terminator, started on free loopback ports:
/// the helpers of `wsd-tokio`'s proxy tests, shared rather than copied.
#[path = "../../../wsd-tokio/tests/common/mod.rs"]
mod proxies;
pub(crate) use proxies::{Proxy, Socks};

/// tinyproxy on a free loopback port, allowing CONNECT to `allowed_port` with basic
/// auth `user:pass`; stopped when dropped.
pub(crate) fn tinyproxy(allowed_port: u16) -> Proxy {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(Proxy::start(allowed_port, true))
}

/// microsocks (Debian's small SOCKS5 server) on a free loopback port, requiring
/// `user:pass` when `auth`; stopped when dropped.
pub(crate) fn microsocks(auth: bool) -> Socks {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(Socks::start(auth))
}

/// An `https://` proxy: tinyproxy (allowing CONNECT to `allowed_port`, with basic
/// auth `user:pass`) behind TLS for `localhost` with the certificate and key in the
/// PEM files `cert` and `key`. Returns tinyproxy (stopped when dropped) and the port
/// of its TLS side, which lives on a thread of its own until the test ends.
pub(crate) fn https_proxy(allowed_port: u16, cert: &Path, key: &Path) -> (Proxy, u16) {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};

    let cert = CertificateDer::from_pem_file(cert).unwrap();
    let key = PrivateKeyDer::from_pem_file(key).unwrap();
    let (started, ready) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let proxy = Proxy::start(allowed_port, true).await;
            let port = proxies::tls_terminator(&cert, &key, proxy.port).await;
            started.send((proxy, port)).unwrap();
            // The terminator's tasks run as long as this runtime does.
            std::future::pending::<()>().await;
        });
    });
    ready.recv().unwrap()
}
