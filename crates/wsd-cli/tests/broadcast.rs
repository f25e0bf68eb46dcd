//! End to end: `wsd serve --broadcast`, alone and fanned out through Redis.
//!
//! The built `wsd` binary is started on port 0 with its stderr captured (the Redis
//! link reports there), and driven by `wsd_tokio` clients. The Redis tests start
//! their own `redis-server` on a free port, without persistence, and kill it to
//! simulate an outage. Every wait has a deadline so a hang fails the test instead
//! of stalling CI.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use wsd_tokio::{Bytes, CloseCode, Message, Options};

mod support;

use support::{DEADLINE, RUNTIMES, Serve, executor};

type Client = wsd_tokio::WebSocket<wsd_tokio::MaybeTlsStream>;

/// A running `wsd serve` with its stderr lines.
struct Server {
    serve: Serve,
    stderr: mpsc::Receiver<String>,
    /// Every stderr line read so far.
    log: Vec<String>,
}

impl Server {
    fn start(flags: &[&str]) -> Self {
        let mut serve = Serve::start(flags, Stdio::piped());
        let addr = serve.addr;
        let (lines, stderr) = mpsc::channel();
        let pipe = BufReader::new(serve.child.stderr.take().expect("piped stderr"));
        std::thread::spawn(move || {
            for line in pipe.lines().map_while(Result::ok) {
                // Shown with the test's output when it fails.
                eprintln!("[{addr}] {line}");
                if lines.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            serve,
            stderr,
            log: Vec::new(),
        }
    }

    fn url(&self) -> String {
        self.serve.url()
    }

    /// Waits for a stderr line containing `needle` and returns it.
    fn wait_for_log(&mut self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.stderr.recv_timeout(left) {
                Ok(line) => {
                    self.log.push(line.clone());
                    if line.contains(needle) {
                        return line;
                    }
                }
                Err(_) => panic!(
                    "wsd serve on {} did not log {needle:?} in time; it logged {:?}",
                    self.serve.addr, self.log
                ),
            }
        }
    }

    /// The stderr lines read so far (and those waiting) that contain `needle`.
    fn log_lines(&mut self, needle: &str) -> Vec<String> {
        self.log.extend(self.stderr.try_iter());
        self.log
            .iter()
            .filter(|line| line.contains(needle))
            .cloned()
            .collect()
    }
}

/// A `redis-server` on `port` with persistence off, killed when dropped.
struct Redis {
    child: Child,
    port: u16,
}

impl Redis {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        Self::start_on(port)
    }

    fn start_on(port: u16) -> Self {
        let spawned = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn();
        let child = match spawned {
            Ok(child) => child,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not installed: these tests need the Debian package \
                 `redis-server` (apt-get install redis-server)"
            ),
            Err(error) => panic!("cannot start redis-server: {error}"),
        };
        let redis = Self { child, port };
        redis.wait_until_ready();
        redis
    }

    /// Polls with `PING` until the server answers `+PONG`.
    fn wait_until_ready(&self) {
        let deadline = Instant::now() + DEADLINE;
        while Instant::now() < deadline {
            if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                stream.set_read_timeout(Some(DEADLINE)).unwrap();
                let mut answer = [0; 7];
                if stream.write_all(b"PING\r\n").is_ok()
                    && stream.read_exact(&mut answer).is_ok()
                    && &answer == b"+PONG\r\n"
                {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("redis-server on port {} did not answer PING", self.port);
    }

    fn url(&self, channel: &str) -> String {
        format!("redis://127.0.0.1:{}/{channel}", self.port)
    }

    /// Kills the server at once (SIGKILL): the outage the servers must survive.
    fn kill(mut self) -> u16 {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.port
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn connect(url: &str) -> Client {
    tokio::time::timeout(DEADLINE, wsd_tokio::connect_with(url, Options::default()))
        .await
        .expect("handshake in time")
        .expect("handshake succeeds")
}

/// The next text message, skipping other kinds.
async fn next_text(ws: &mut Client) -> String {
    loop {
        let next = tokio::time::timeout(DEADLINE, ws.next_message()).await;
        match next.expect("a message in time") {
            Some(Ok(Message::Text(text))) => return text.as_str().to_string(),
            Some(Ok(_)) => {}
            other => panic!("the connection ended early: {other:?}"),
        }
    }
}

/// Texts until `last` has arrived (included).
async fn texts_until(ws: &mut Client, last: &str) -> Vec<String> {
    let mut received = Vec::new();
    loop {
        let text = next_text(ws).await;
        let done = text == last;
        received.push(text);
        if done {
            return received;
        }
    }
}

/// Sends `marker` and reads until it comes back through the room: from then on
/// the client is a member (it joins after its handshake, asynchronously).
async fn join(ws: &mut Client, marker: &str) {
    ws.send(Message::text(marker)).await.unwrap();
    texts_until(ws, marker).await;
}

/// No text message arrives within `quiet`.
async fn assert_nothing_more(ws: &mut Client, quiet: Duration) {
    while let Ok(next) = tokio::time::timeout(quiet, ws.next_message()).await {
        match next {
            Some(Ok(Message::Text(text))) => panic!("unexpected message {text:?}"),
            Some(Ok(_)) => {}
            other => panic!("the connection ended: {other:?}"),
        }
    }
}

/// `received` holds `sent`'s messages in `sent`'s order (others may come between).
fn assert_in_order(received: &[String], sent: &[String]) {
    let mine: Vec<&String> = received.iter().filter(|t| sent.contains(t)).collect();
    assert_eq!(mine, sent.iter().collect::<Vec<_>>(), "in {received:?}");
}

#[test]
fn three_clients_receive_each_others_messages_in_one_order_on_every_runtime() {
    let executor = executor();
    for runtime in RUNTIMES {
        let server = Server::start(&["--runtime", runtime, "--broadcast"]);
        executor.block_on(async {
            let mut clients = Vec::new();
            for n in 0..3 {
                let mut ws = connect(&server.url()).await;
                join(&mut ws, &format!("joined {n}")).await;
                clients.push(ws);
            }
            // The earlier clients heard the later ones join.
            for (n, ws) in clients.iter_mut().enumerate() {
                for later in n + 1..3 {
                    assert_eq!(next_text(ws).await, format!("joined {later}"), "{runtime}");
                }
            }
            let sent: Vec<Vec<String>> = (0..3)
                .map(|n| (0..20).map(|i| format!("{n}: message {i}")).collect())
                .collect();
            // Interleaved sends from three connections: the server picks one order.
            for i in 0..20 {
                for (ws, mine) in clients.iter_mut().zip(&sent) {
                    ws.send(Message::text(mine[i].as_str())).await.unwrap();
                }
            }
            let mut orders = Vec::new();
            for ws in &mut clients {
                let mut received = Vec::new();
                for _ in 0..60 {
                    received.push(next_text(ws).await);
                }
                orders.push(received);
            }
            for received in &orders {
                for mine in &sent {
                    assert_in_order(received, mine);
                }
                assert_eq!(received, &orders[0], "{runtime}: one order for everyone");
            }
            for mut ws in clients {
                assert_nothing_more(&mut ws, Duration::from_millis(100)).await;
                ws.close(CloseCode::NORMAL, "").await.unwrap();
            }
        });
    }
}

#[test]
fn binary_messages_are_broadcast_too() {
    let executor = executor();
    let server = Server::start(&["--runtime", "smol", "--broadcast"]);
    executor.block_on(async {
        let mut a = connect(&server.url()).await;
        join(&mut a, "a").await;
        let mut b = connect(&server.url()).await;
        join(&mut b, "b").await;
        let payload = Bytes::from_static(&[0, 1, 0xfe, 0xff]);
        a.send(Message::Binary(payload.clone())).await.unwrap();
        for ws in [&mut a, &mut b] {
            let got = loop {
                match tokio::time::timeout(DEADLINE, ws.next_message()).await {
                    Ok(Some(Ok(Message::Binary(data)))) => break data,
                    Ok(Some(Ok(_))) => {}
                    other => panic!("no binary message: {other:?}"),
                }
            };
            assert_eq!(got, payload);
        }
    });
}

#[test]
fn a_draft_client_gets_the_rooms_text_and_skips_its_binary() {
    let server = Server::start(&["--broadcast", "--allow-drafts"]);
    let mut hixie = TcpStream::connect(server.serve.addr).unwrap();
    hixie.set_read_timeout(Some(DEADLINE)).unwrap();
    hixie
        .write_all(
            b"GET / HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\
              Host: example.com\r\nOrigin: http://example.com\r\n\r\n",
        )
        .unwrap();
    let mut reader = BufReader::new(hixie.try_clone().unwrap());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.starts_with("HTTP/1.1 101 "), "{line}");
    while line != "\r\n" {
        line.clear();
        reader.read_line(&mut line).unwrap();
    }
    // Hixie-75 frames: 0x00, UTF-8 text, 0xFF.
    let mut next_frame = move || {
        let mut frame = Vec::new();
        reader.read_until(0xff, &mut frame).unwrap();
        let text = frame
            .strip_prefix(b"\x00")
            .and_then(|rest| rest.strip_suffix(b"\xff"))
            .unwrap_or_else(|| panic!("not a text frame: {frame:?}"));
        String::from_utf8(text.to_vec()).unwrap()
    };
    hixie.write_all(b"\x00hixie joined\xff").unwrap();
    assert_eq!(next_frame(), "hixie joined");
    executor().block_on(async {
        let mut ws = connect(&server.url()).await;
        join(&mut ws, "rfc joined").await;
        ws.send(Message::binary(vec![1, 2, 3])).await.unwrap();
        ws.send(Message::text("after the binary")).await.unwrap();
        assert_eq!(next_text(&mut ws).await, "after the binary");
    });
    assert_eq!(next_frame(), "rfc joined");
    assert_eq!(next_frame(), "after the binary");
}

#[test]
fn a_client_that_does_not_read_is_closed_with_1008_and_the_others_go_on() {
    let executor = executor();
    for runtime in RUNTIMES {
        let mut server = Server::start(&[
            "--runtime",
            runtime,
            "--broadcast",
            "--broadcast-queue",
            "16",
        ]);
        executor.block_on(slow_and_fast_clients(&server));
        server.wait_for_log("too slow: more than 16 messages waiting");
        // Only the slow client.
        assert_eq!(server.log_lines("too slow").len(), 1, "{runtime}");
    }
}

/// A client that stops reading while another sends 16 MiB (and reads it back).
async fn slow_and_fast_clients(server: &Server) {
    const SIZE: usize = 64 * 1024;
    // Far more than a socket's kernel buffers (4 MiB at most for the server's send
    // buffer here), the output bound and the queue hold together.
    const COUNT: u32 = 256;
    {
        let mut slow = connect(&server.url()).await;
        join(&mut slow, "slow").await;
        let fast = connect(&server.url()).await;
        let (mut writer, mut reader) = fast.split();
        writer.send(Message::text("fast")).await.unwrap();
        // The fast client sends, and reads everything back as it goes.
        let sending = async {
            for i in 0..COUNT {
                let mut payload = vec![0; SIZE];
                payload[..4].copy_from_slice(&i.to_be_bytes());
                writer.send(Message::binary(payload)).await.unwrap();
            }
            writer.send(Message::text("end")).await.unwrap();
        };
        let reading = async {
            let mut next: u32 = 0;
            loop {
                let item = tokio::time::timeout(DEADLINE, reader.next_message()).await;
                match item.expect("the fast client keeps receiving") {
                    Some(Ok(Message::Binary(data))) => {
                        assert_eq!(data[..4], next.to_be_bytes(), "in order");
                        next += 1;
                    }
                    Some(Ok(Message::Text(text))) if text.as_str() == "end" => break next,
                    Some(Ok(_)) => {}
                    other => panic!("the fast client's connection ended: {other:?}"),
                }
            }
        };
        let ((), received) = futures_util::future::join(sending, reading).await;
        assert_eq!(received, COUNT, "the fast client got every message");

        // The slow client now reads what was written to it before the eviction,
        // a prefix of the conversation, then the close.
        let mut next: u32 = 0;
        let close = loop {
            let item = tokio::time::timeout(DEADLINE, slow.next_message()).await;
            match item.expect("the slow client's close in time") {
                Some(Ok(Message::Binary(data))) => {
                    assert_eq!(data[..4], next.to_be_bytes(), "in order");
                    next += 1;
                }
                Some(Ok(Message::Close(frame))) => break frame,
                Some(Ok(_)) => {}
                other => panic!("the slow connection ended without a close: {other:?}"),
            }
        };
        let frame = close.expect("a close code");
        assert_eq!(frame.code, CloseCode::POLICY_VIOLATION);
        assert_eq!(frame.reason, "too slow: more than 16 messages waiting");
        assert!(next < COUNT, "the slow client was cut off, after {next}");
    }
}

/// Two servers on one channel, each with one client: every message reaches both
/// clients once, each publisher's in order.
#[test]
fn clients_of_two_servers_hear_each_other_through_redis() {
    let redis = Redis::start();
    let channel = redis.url("room");
    let mut first = Server::start(&["--broadcast", "--redis", &channel]);
    let mut second = Server::start(&["--runtime", "async-std", "--broadcast", "--redis", &channel]);
    for server in [&mut first, &mut second] {
        server.wait_for_log(&format!(
            "redis: connected to 127.0.0.1:{}, channel room",
            redis.port
        ));
    }
    executor().block_on(async {
        let mut a = connect(&first.url()).await;
        let mut b = connect(&second.url()).await;
        meet(&mut a, &mut b).await;
        exchange(&mut a, &mut b, "round 1").await;
    });
}

/// Waits until `a` and `b`, on two servers, are members of their rooms and each
/// has received every message the other's server sent before: from then on each
/// receives exactly what is sent.
async fn meet(a: &mut Client, b: &mut Client) {
    join(a, "a joined").await;
    join(b, "b joined").await;
    // Each server publishes in order: once its marker arrived, whatever it had
    // published before (the other's "joined", or nothing if it came too early)
    // has arrived too.
    for (marker, from_a) in [("a ready", true), ("b ready", false)] {
        let sender = if from_a { &mut *a } else { &mut *b };
        sender.send(Message::text(marker)).await.unwrap();
        texts_until(a, marker).await;
        texts_until(b, marker).await;
    }
}

/// `a` and `b` each send ten messages and an end marker; each receives all 22 once,
/// each sender's in order, and nothing more.
async fn exchange(a: &mut Client, b: &mut Client, label: &str) {
    let from_a: Vec<String> = (0..10).map(|i| format!("{label}: a{i}")).collect();
    let from_b: Vec<String> = (0..10).map(|i| format!("{label}: b{i}")).collect();
    for (x, y) in from_a.iter().zip(&from_b) {
        a.send(Message::text(x.as_str())).await.unwrap();
        b.send(Message::text(y.as_str())).await.unwrap();
    }
    let (end_a, end_b) = (format!("{label}: a end"), format!("{label}: b end"));
    a.send(Message::text(end_a.as_str())).await.unwrap();
    b.send(Message::text(end_b.as_str())).await.unwrap();
    for ws in [a, b] {
        let mut received = Vec::new();
        while !(received.contains(&end_a) && received.contains(&end_b)) {
            received.push(next_text(ws).await);
        }
        assert_eq!(received.len(), 22, "each message once: {received:?}");
        assert_in_order(&received, &[from_a.clone(), vec![end_a.clone()]].concat());
        assert_in_order(&received, &[from_b.clone(), vec![end_b.clone()]].concat());
        // A server that delivered its own clients' messages again when Redis hands
        // them back would send them now.
        assert_nothing_more(ws, Duration::from_millis(300)).await;
    }
}

#[test]
fn a_redis_outage_is_reported_once_keeps_local_clients_served_and_ends_on_restart() {
    let redis = Redis::start();
    let channel = redis.url("outage");
    let mut first = Server::start(&["--runtime", "smol", "--broadcast", "--redis", &channel]);
    let mut second = Server::start(&["--broadcast", "--redis", &channel]);
    for server in [&mut first, &mut second] {
        server.wait_for_log("redis: connected to");
    }
    let executor = executor();
    let (mut a, mut b) = executor.block_on(async {
        let mut a = connect(&first.url()).await;
        let mut b = connect(&second.url()).await;
        meet(&mut a, &mut b).await;
        exchange(&mut a, &mut b, "before").await;
        (a, b)
    });

    let port = redis.kill();
    for server in [&mut first, &mut second] {
        let line = server.wait_for_log("redis: lost");
        assert!(line.contains("serving local clients only"), "{line}");
    }
    executor.block_on(async {
        // Each server's own clients still hear each other.
        let sent: Vec<String> = (0..20).map(|i| format!("during {i}")).collect();
        for text in &sent {
            a.send(Message::text(text.as_str())).await.unwrap();
        }
        let received = texts_until(&mut a, "during 19").await;
        assert_eq!(received, sent);
        join(&mut b, "b alone").await;
    });
    // Let the link retry a few times while Redis is down.
    std::thread::sleep(Duration::from_millis(800));

    let _redis = Redis::start_on(port);
    for server in [&mut first, &mut second] {
        server.wait_for_log("redis: reconnected to");
    }
    executor.block_on(async {
        // What was sent during the outage is not delivered late (at most once).
        exchange(&mut a, &mut b, "after").await;
    });
    for server in [&mut first, &mut second] {
        // One line for the outage, one for its end, however many messages and
        // attempts came between.
        let lines = server.log_lines("redis:");
        assert_eq!(lines.len(), 3, "{lines:?}");
        assert!(lines[0].contains("connected to"), "{lines:?}");
        assert!(lines[1].contains("lost"), "{lines:?}");
        assert!(lines[2].contains("reconnected"), "{lines:?}");
    }
}

#[test]
fn a_server_started_while_redis_is_down_serves_locally_and_connects_later() {
    let port = Redis::start().kill();
    let channel = format!("redis://127.0.0.1:{port}/late");
    let mut server = Server::start(&["--broadcast", "--redis", &channel]);
    let line = server.wait_for_log("redis: cannot connect to");
    assert!(line.contains("serving local clients only"), "{line}");
    executor().block_on(async {
        let mut a = connect(&server.url()).await;
        join(&mut a, "local").await;
    });
    let _redis = Redis::start_on(port);
    server.wait_for_log("redis: connected to");
    assert_eq!(server.log_lines("redis:").len(), 2, "{:?}", server.log);
}
