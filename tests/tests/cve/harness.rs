//! What every replay needs: the `wsd` binary as a subprocess, its CPU time and memory
//! read from `/proc`, the bounds each replay checks them against, and raw sockets that
//! speak just enough HTTP and RFC 6455 to be hostile on purpose.
//!
//! The replays drive the binary rather than the adapter libraries so they do not depend
//! on the adapters' Rust API, only on the command line and the wire.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use wsd_frame::{OpCode, Rsv, encode_frame};

/// The `wsd` binary of the profile these tests were built with, built once per test run.
///
/// `cargo test -p wsd-tests` builds no binary of another package, so a `wsd` left next
/// to the test executable may be stale or missing: ask cargo to bring it up to date
/// (about a second when it already is) and fall back to what is there when cargo cannot
/// be run (the test executable started by hand).
pub(crate) fn wsd_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test executable knows its path");
        // <target dir>/<profile dir>/deps/cve-<hash>
        let profile_dir = exe
            .parent()
            .and_then(Path::parent)
            .expect("test executables live in <target>/<profile>/deps");
        let binary = profile_dir.join(format!("wsd{}", std::env::consts::EXE_SUFFIX));
        let profile = match profile_dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "-p", "wsd-cli", "--bin", "wsd"])
            .args(["--profile", profile])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if let Some(target_dir) = profile_dir.parent() {
            build.arg("--target-dir").arg(target_dir);
        }
        let built = build.status().map(|status| status.success());
        assert!(
            binary.exists(),
            "no wsd binary at {} and `cargo build -p wsd-cli` did not make one ({built:?})",
            binary.display()
        );
        binary
    })
}

/// A `wsd` process of the test's own, killed when dropped. Its stderr is collected by a
/// thread (so it can never fill the pipe and stall wsd) for the assertions and for
/// failure messages.
pub(crate) struct Wsd {
    child: Child,
    stderr: Arc<Mutex<Vec<u8>>>,
    /// The thread collecting stderr; joined once wsd has exited, so that everything it
    /// wrote is in `stderr`.
    stderr_reader: Option<std::thread::JoinHandle<()>>,
}

impl Wsd {
    /// Starts `wsd` with `args`, stdin and stdout piped.
    pub(crate) fn spawn(args: &[&str]) -> Self {
        let mut child = Command::new(wsd_binary())
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("wsd starts");
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let mut pipe = child.stderr.take().expect("stderr is piped");
        let sink = Arc::clone(&stderr);
        let stderr_reader = std::thread::spawn(move || {
            let mut chunk = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut chunk) {
                sink.lock().unwrap().extend_from_slice(&chunk[..n]);
            }
        });
        Self {
            child,
            stderr,
            stderr_reader: Some(stderr_reader),
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Its CPU time and memory now; panics if it has exited (the kernel frees an exited
    /// process's memory figures, so a replay must read them while wsd still runs).
    pub(crate) fn usage(&self) -> Usage {
        Usage::of(self.pid())
            .unwrap_or_else(|| panic!("wsd has exited; stderr: {}", self.stderr_text()))
    }

    /// What it printed on stderr so far.
    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.lock().unwrap()).into_owned()
    }

    pub(crate) fn take_stdin(&mut self) -> ChildStdin {
        self.child.stdin.take().expect("stdin is piped")
    }

    pub(crate) fn take_stdout(&mut self) -> ChildStdout {
        self.child.stdout.take().expect("stdout is piped")
    }

    /// Waits at most `timeout` for it to exit.
    pub(crate) fn wait_for_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                if let Some(reader) = self.stderr_reader.take() {
                    let _ = reader.join();
                }
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Wsd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `wsd serve` on a free loopback port.
pub(crate) struct Server {
    pub(crate) wsd: Wsd,
    pub(crate) addr: SocketAddr,
}

impl Server {
    /// Starts `wsd serve --addr 127.0.0.1:0` with `flags` and reads the port it printed.
    pub(crate) fn start(flags: &[&str]) -> Self {
        // One thread, as the figures assume: `wakeups` counts the main thread's sleeps,
        // and `wsd serve` otherwise serves on a worker thread per core.
        let mut args = vec!["serve", "--addr", "127.0.0.1:0", "--threads", "1"];
        args.extend_from_slice(flags);
        let mut wsd = Wsd::spawn(&args);
        let mut stdout = BufReader::new(wsd.take_stdout());
        let mut line = String::new();
        stdout
            .read_line(&mut line)
            .expect("wsd serve prints a line");
        let addr = line
            .split("ws://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("no address in {line:?}; stderr: {}", wsd.stderr_text()));
        // The rest of stdout is never read: serve prints nothing more there.
        Self { wsd, addr }
    }

    /// A raw TCP connection to it, with a read timeout so a replay that waits for an
    /// answer that never comes fails instead of hanging.
    pub(crate) fn raw(&self) -> TcpStream {
        let stream = TcpStream::connect(self.addr).expect("connect to wsd serve");
        stream.set_nodelay(true).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream
    }

    /// A raw connection that has completed the RFC 6455 handshake with `extra` headers
    /// (each ending in CRLF), and the 101 response head.
    pub(crate) fn upgraded(&self, extra: &str) -> (TcpStream, String) {
        let mut stream = self.raw();
        stream.write_all(&upgrade_request(extra)).unwrap();
        let head = read_head(&mut stream).expect("a response head");
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        (stream, head)
    }
}

/// CPU time and memory of one process, from `/proc/<pid>/stat` and `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Usage {
    /// User plus system time.
    pub(crate) cpu: Duration,
    /// Resident memory now (VmRSS).
    pub(crate) rss_kib: u64,
    /// The most resident memory it ever had (VmHWM).
    pub(crate) peak_kib: u64,
    /// How often its main thread went to sleep waiting (`voluntary_ctxt_switches`): a
    /// server on a current-thread runtime wakes up once per batch of input, so this
    /// counts the pieces it read a paced input in.
    pub(crate) wakeups: u64,
}

impl Usage {
    /// `None` when the process is gone or has exited (a zombie has no memory figures).
    pub(crate) fn of(pid: u32) -> Option<Self> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name is in parentheses and may hold spaces: count fields after it.
        // utime and stime are fields 14 and 15 of proc(5), the 12th and 13th after it.
        let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
        let ticks: u64 =
            fields.next()?.parse::<u64>().ok()? + fields.next()?.parse::<u64>().ok()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let field = |key: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(key))
                .and_then(|rest| rest.split_whitespace().next())
                .and_then(|number| number.parse().ok())
        };
        Some(Self {
            wakeups: field("voluntary_ctxt_switches:")?,
            // Clock ticks are USER_HZ, which Linux fixes at 100 on every architecture
            // (sysconf(_SC_CLK_TCK) answers 100), so no libc call is needed.
            cpu: Duration::from_millis(ticks * 10),
            rss_kib: field("VmRSS:")?,
            peak_kib: field("VmHWM:")?,
        })
    }
}

/// The most a replay may cost the process under attack.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounds {
    pub(crate) cpu: Duration,
    /// The most the peak resident memory may rise above the resident memory at the start.
    pub(crate) memory_kib: u64,
}

/// Prints the one line of figures of a replay (`cve: <class>: ...`, which `cargo xtask
/// cve` picks out) and asserts them against `bounds`. `detail` adds the replay's own
/// figures.
pub(crate) fn check(class: &str, before: Usage, after: Usage, bounds: Bounds, detail: &str) {
    let cpu = after.cpu.saturating_sub(before.cpu);
    // Against the resident memory at the start, not the earlier peak: a startup peak
    // must not hide what the attack added.
    let grown = after.peak_kib.saturating_sub(before.rss_kib);
    println!(
        "cve: {class}: cpu {} ms (bound {}), peak memory +{grown} KiB (bound {}){detail}",
        cpu.as_millis(),
        bounds.cpu.as_millis(),
        bounds.memory_kib,
    );
    assert!(
        cpu <= bounds.cpu,
        "{class}: {cpu:?} of CPU time, over the bound of {:?}",
        bounds.cpu
    );
    assert!(
        grown <= bounds.memory_kib,
        "{class}: peak memory grew by {grown} KiB, over the bound of {} KiB",
        bounds.memory_kib
    );
}

/// The RFC 6455 key every raw client sends (the RFC's own example).
pub(crate) const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// An upgrade request for `/` with `extra` headers (each ending in CRLF) before the
/// blank line.
pub(crate) fn upgrade_request(extra: &str) -> Vec<u8> {
    format!(
        "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
    .into_bytes()
}

/// Reads an HTTP head up to its blank line (at most 64 KiB, byte by byte so nothing
/// after it is consumed). `None` when the stream ends or fails first.
pub(crate) fn read_head(stream: &mut impl Read) -> Option<String> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 64 << 10 {
        stream.read_exact(&mut byte).ok()?;
        head.push(byte[0]);
    }
    Some(String::from_utf8_lossy(&head).into_owned())
}

/// One RFC 6455 frame as read off the wire.
#[derive(Debug)]
pub(crate) struct Frame {
    pub(crate) opcode: u8,
    pub(crate) mask: Option<[u8; 4]>,
    /// Unmasked.
    pub(crate) payload: Vec<u8>,
}

impl Frame {
    /// The status code of a close frame.
    pub(crate) fn close_code(&self) -> Option<u16> {
        match (self.opcode, self.payload.as_slice()) {
            (0x8, [high, low, ..]) => Some(u16::from_be_bytes([*high, *low])),
            _ => None,
        }
    }
}

/// Reads one frame of at most `max_payload` bytes (a test reads only small frames).
pub(crate) fn read_frame(stream: &mut impl Read, max_payload: u64) -> std::io::Result<Frame> {
    let mut head = [0u8; 2];
    stream.read_exact(&mut head)?;
    let length = match head[1] & 0x7F {
        126 => {
            let mut bytes = [0u8; 2];
            stream.read_exact(&mut bytes)?;
            u64::from(u16::from_be_bytes(bytes))
        }
        127 => {
            let mut bytes = [0u8; 8];
            stream.read_exact(&mut bytes)?;
            u64::from_be_bytes(bytes)
        }
        short => u64::from(short),
    };
    if length > max_payload {
        return Err(std::io::Error::other(format!(
            "a frame of {length} bytes, more than the {max_payload} expected"
        )));
    }
    let mask = if head[1] & 0x80 != 0 {
        let mut key = [0u8; 4];
        stream.read_exact(&mut key)?;
        Some(key)
    } else {
        None
    };
    let mut payload = vec![0u8; usize::try_from(length).expect("checked above")];
    stream.read_exact(&mut payload)?;
    if let Some(key) = mask {
        for (i, byte) in payload.iter_mut().enumerate() {
            *byte ^= key[i % 4];
        }
    }
    Ok(Frame {
        opcode: head[0] & 0x0F,
        mask,
        payload,
    })
}

/// Reads frames until a close frame and returns its code (`None` for a close without
/// one); `Err` when the stream ends or fails first.
pub(crate) fn read_close(stream: &mut impl Read) -> std::io::Result<Option<u16>> {
    loop {
        let frame = read_frame(stream, 1 << 20)?;
        if frame.opcode == 0x8 {
            return Ok(frame.close_code());
        }
    }
}

/// A frame as a client sends it (masked), with RSV1 when `compressed`.
pub(crate) fn client_frame(opcode: OpCode, compressed: bool, payload: &[u8]) -> Vec<u8> {
    let rsv = if compressed { Rsv::RSV1 } else { Rsv::NONE };
    let mut frame = Vec::with_capacity(payload.len() + 14);
    encode_frame(
        true,
        opcode,
        rsv,
        payload,
        Some([0x37, 0xFA, 0x21, 0x3D]),
        &mut frame,
    );
    frame
}

/// A frame as a server sends it (unmasked), with RSV1 when `compressed`.
pub(crate) fn server_frame(opcode: OpCode, compressed: bool, payload: &[u8]) -> Vec<u8> {
    let rsv = if compressed { Rsv::RSV1 } else { Rsv::NONE };
    let mut frame = Vec::with_capacity(payload.len() + 10);
    encode_frame(true, opcode, rsv, payload, None, &mut frame);
    frame
}

/// Accepts one connection on `listener`, reads its upgrade request and answers 101,
/// with `Sec-WebSocket-Extensions: <extensions>` when given. Returns the stream and the
/// request head.
pub(crate) fn accept_upgrade(
    listener: &std::net::TcpListener,
    extensions: Option<&str>,
) -> (TcpStream, String) {
    let (mut stream, _) = listener.accept().expect("the client connects");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let request = read_head(&mut stream).expect("a request head");
    let key = request
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("Sec-WebSocket-Key")
                .then(|| value.trim())
        })
        .expect("a Sec-WebSocket-Key");
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n",
        wsd_handshake::server::accept_key(key)
    );
    if let Some(extensions) = extensions {
        response.push_str(&format!("Sec-WebSocket-Extensions: {extensions}\r\n"));
    }
    response.push_str("\r\n");
    stream.write_all(response.as_bytes()).unwrap();
    (stream, request)
}
