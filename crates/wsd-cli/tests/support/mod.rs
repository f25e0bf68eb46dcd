//! What the end-to-end tests of `wsd` share: a `wsd serve` process on a free port,
//! `wsd connect` runs with a deadline, raw TCP reads, TLS certificates and the proxy
//! servers.
//!
//! Each test crate compiles this module and uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The `wsd` binary cargo built for these tests.
pub(crate) const WSD: &str = env!("CARGO_BIN_EXE_wsd");

/// How long a test waits for a `wsd` process before failing.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// The runtimes `--runtime` names.
pub(crate) const RUNTIMES: [&str; 3] = ["tokio", "async-std", "smol"];

/// A current-thread tokio runtime for a test's clients and stand-in servers.
pub(crate) fn executor() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A child process killed when dropped.
pub(crate) struct Running(pub(crate) Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A running `wsd serve`, killed when dropped.
pub(crate) struct Serve {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
    /// Whether it serves TLS (`--tls-cert`): it then announces `wss://`.
    pub(crate) tls: bool,
}

impl Serve {
    /// Starts `wsd serve --addr 127.0.0.1:0` with `flags` (its stderr going to
    /// `stderr`) and returns once it has announced the address it listens on.
    pub(crate) fn start(flags: &[&str], stderr: Stdio) -> Self {
        let mut child = Command::new(WSD)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("wsd serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("wsd serve prints its address");
        // wsd: listening on ws://127.0.0.1:PORT (open http://127.0.0.1:PORT/ in a browser)
        // or, with TLS, wss:// and https://.
        let (tls, rest) = match line.strip_prefix("wsd: listening on ws://") {
            Some(rest) => (false, Some(rest)),
            None => (true, line.strip_prefix("wsd: listening on wss://")),
        };
        let addr = rest
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from wsd serve: {line:?}"));
        let page = if tls { "https" } else { "http" };
        assert!(
            line.trim_end()
                .ends_with(&format!("(open {page}://{addr}/ in a browser)")),
            "{line:?}"
        );
        Self { child, addr, tls }
    }

    /// The port it listens on.
    pub(crate) fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The WebSocket URL of its root.
    pub(crate) fn url(&self) -> String {
        let scheme = if self.tls { "wss" } else { "ws" };
        format!("{scheme}://{}/", self.addr)
    }

    /// The demo page's URL.
    pub(crate) fn page(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}/", self.addr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `wsd serve --addr 127.0.0.1:0` with `flags` and its stderr discarded; returns it
/// and its port.
pub(crate) fn serve(flags: &[&str]) -> (Serve, u16) {
    let server = Serve::start(flags, Stdio::null());
    let port = server.port();
    (server, port)
}

/// Runs `wsd` with `stdin` fed in, killing it at the deadline.
pub(crate) fn run_wsd(args: &[&str], stdin: &str) -> Output {
    let mut command = Command::new(WSD);
    command.args(args);
    run_to_end(command, stdin)
}

/// Runs `command` with `stdin` fed in and closed, killing it at the deadline.
fn run_to_end(mut command: Command, stdin: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wsd starts");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).unwrap();
    // Closing stdin is the end of input wsd connect waits for.
    drop(input);
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "{command:?} did not exit within {DEADLINE:?}; stderr: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A self-signed certificate for `localhost` and its key, as PEM files.
pub(crate) struct Certificate {
    pub(crate) dir: PathBuf,
    pub(crate) cert: PathBuf,
    pub(crate) key: PathBuf,
    pub(crate) der: rustls::pki_types::CertificateDer<'static>,
}

impl Certificate {
    pub(crate) fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("rcgen makes a certificate");
        let dir = std::env::temp_dir().join(format!(
            "wsd-cli-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let cert = dir.join("cert.pem");
        let key = dir.join("key.pem");
        std::fs::write(&cert, certified.cert.pem()).unwrap();
        std::fs::write(&key, certified.signing_key.serialize_pem()).unwrap();
        Self {
            dir,
            cert,
            key,
            der: certified.cert.der().clone(),
        }
    }

    pub(crate) fn cert(&self) -> &str {
        self.cert.to_str().unwrap()
    }

    /// `wsd serve` with this certificate, and `extra` flags.
    pub(crate) fn serve(&self, extra: &[&str], stderr: Stdio) -> Serve {
        let mut flags = vec!["--tls-cert", self.cert(), "--tls-key"];
        flags.push(self.key.to_str().unwrap());
        flags.extend_from_slice(extra);
        Serve::start(&flags, stderr)
    }
}

impl Drop for Certificate {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The server's stderr, line by line, read on a thread of its own.
pub(crate) fn stderr_lines(server: &mut Serve) -> mpsc::Receiver<String> {
    let stderr = server.child.stderr.take().expect("piped stderr");
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    receive
}

/// The next `count` `--log connections` lines, skipping other log lines.
pub(crate) fn websocket_lines(lines: &mpsc::Receiver<String>, count: usize) -> Vec<String> {
    let deadline = Instant::now() + DEADLINE;
    let mut found = Vec::new();
    while found.len() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = lines
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("only these log lines within {DEADLINE:?}: {found:?}"));
        if line.starts_with("wsd: websocket over ") {
            found.push(line);
        }
    }
    found
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
    command.envs(env.iter().copied()).arg("connect").args(args);
    let output = run_to_end(command, input);
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
    executor().block_on(Proxy::start(allowed_port, true))
}

/// microsocks (Debian's small SOCKS5 server) on a free loopback port, requiring
/// `user:pass` when `auth`; stopped when dropped.
pub(crate) fn microsocks(auth: bool) -> Socks {
    executor().block_on(Socks::start(auth))
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
    let (started, ready) = mpsc::channel();
    std::thread::spawn(move || {
        executor().block_on(async move {
            let proxy = Proxy::start(allowed_port, true).await;
            let port = proxies::tls_terminator(&cert, &key, proxy.port).await;
            started.send((proxy, port)).unwrap();
            // The terminator's tasks run as long as this runtime does.
            std::future::pending::<()>().await;
        });
    });
    ready.recv().unwrap()
}
