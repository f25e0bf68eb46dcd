//! One busy connection must not starve the others on a single-threaded executor.
//! tokio has a cooperative budget of its own; smol does not, so the adapters' loop
//! steps aside every so many messages. Without that, a connection with a steady
//! supply of input never returns `Pending` and new handshakes on the same thread
//! time out.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use wsd_frame::{OpCode, Rsv, encode_frame};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

/// Sends the handshake and reads the response head; returns the time it took.
fn handshake(stream: &mut TcpStream) -> Duration {
    let started = Instant::now();
    stream.write_all(REQUEST).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if stream.read(&mut byte).unwrap_or(0) == 0 {
            panic!(
                "connection closed during the handshake: {:?}",
                String::from_utf8_lossy(&head)
            );
        }
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    started.elapsed()
}

#[test]
fn a_busy_connection_does_not_starve_new_handshakes_on_smol() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The server: one thread, one smol executor, an echo task per connection.
    std::thread::spawn(move || {
        let executor = smol::LocalExecutor::new();
        smol::block_on(executor.run(async {
            let listener = smol::net::TcpListener::try_from(listener).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                executor
                    .spawn(async move {
                        let mut config = wsd_smol::ServerConfig::default();
                        config.options.handshake_timeout = Some(Duration::from_secs(2));
                        let Ok(wsd_smol::Accepted::Upgraded(mut ws)) =
                            wsd_smol::accept_with(stream, config).await
                        else {
                            return;
                        };
                        while let Some(Ok(message)) = ws.next_message().await {
                            if message.is_close() || ws.feed(message).await.is_err() {
                                break;
                            }
                        }
                    })
                    .detach();
            }
        }));
    });

    // A busy client: writes small frames as fast as it can and reads the echoes.
    let mut busy = TcpStream::connect(addr).unwrap();
    handshake(&mut busy);
    let stop = Arc::new(AtomicBool::new(false));
    let mut reader = busy.try_clone().unwrap();
    let reading = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0usize;
            reader
                .set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
            while !stop.load(Ordering::Relaxed) {
                if let Ok(n) = reader.read(&mut buf) {
                    total += n;
                }
            }
            total
        })
    };
    let writing = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut frame = Vec::new();
            encode_frame(
                true,
                OpCode::Binary,
                Rsv::NONE,
                &[7; 16],
                Some([1, 2, 3, 4]),
                &mut frame,
            );
            let burst: Vec<u8> = frame
                .iter()
                .copied()
                .cycle()
                .take(frame.len() * 2048)
                .collect();
            while !stop.load(Ordering::Relaxed) {
                if busy.write_all(&burst).is_err() {
                    break;
                }
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));

    // Meanwhile a new client must get its handshake answered well within the
    // server's 2-second handshake timeout.
    let mut fresh = TcpStream::connect(addr).unwrap();
    fresh
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let took = handshake(&mut fresh);
    stop.store(true, Ordering::Relaxed);
    let echoed = reading.join().unwrap();
    let _ = writing.join();
    assert!(echoed > 0, "the busy connection was served");
    assert!(
        took < Duration::from_secs(1),
        "the new handshake took {took:?}"
    );
}
