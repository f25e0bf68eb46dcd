//! A blocking WebSocket client: one `wsd_core::Connection` driven over a
//! `std::net::TcpStream`, with no async runtime.
//!
//! It is the whole loop an adapter runs, at its plainest: take the events out, write
//! what the connection wants sent, then wait for input no longer than the
//! connection's next deadline, and hand over whatever came (bytes, the end of the
//! stream, or the deadline passing).
//!
//! ```text
//! cargo run -p wsd-core --example blocking_client -- ws://127.0.0.1:9001/getCaseCount
//! ```
//!
//! It connects, prints the first message the server sends, closes, and returns once
//! the server has answered the close. `cargo xtask autobahn` uses [`first_message`]
//! to ask the Autobahn fuzzing server how many test cases it has.

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use wsd_core::{CloseCode, Connection, Event, Message, Options};

fn main() {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001/getCaseCount".to_owned());
    match first_message(&url, Duration::from_secs(30)) {
        Ok(Message::Text(text)) => println!("{text}"),
        Ok(other) => println!("{other:?}"),
        Err(e) => {
            eprintln!("blocking_client: {e}");
            std::process::exit(1);
        }
    }
}

/// Connects to the `ws://` `url`, returns the first message the server sends, and
/// closes the connection cleanly. Fails when the handshake fails, the connection ends
/// before a message, or `patience` passes first.
pub fn first_message(url: &str, patience: Duration) -> Result<Message, String> {
    let give_up = Instant::now() + patience;
    let mut conn = Connection::client(url, Options::default()).map_err(|e| e.to_string())?;
    let server = conn.url().ok_or("no URL")?;
    if server.scheme() != "ws" {
        return Err(format!("{url}: this example speaks plain TCP (ws://) only"));
    }
    let addresses = server.socket_addrs(|| None).map_err(|e| e.to_string())?;
    let mut stream = TcpStream::connect(&*addresses).map_err(|e| e.to_string())?;
    conn.start().map_err(|e| e.to_string())?;

    let mut first = None;
    let mut failure = None;
    let mut input = [0u8; 16 * 1024];
    loop {
        // Events: parsing happens here, one event at a time.
        while let Some(event) = conn.poll_event() {
            match event {
                Event::Message(message) if first.is_none() => {
                    first = Some(message);
                    conn.close(CloseCode::NORMAL, "")
                        .map_err(|e| e.to_string())?;
                }
                Event::Error(e) => failure = Some(e.to_string()),
                Event::Close { code, reason } if first.is_none() => {
                    failure.get_or_insert(format!("closed before a message: {code} {reason}"));
                }
                _ => {}
            }
        }
        // Output: the request, our close frame, pongs; written in full.
        let output = conn.poll_transmit_vec();
        stream.write_all(&output).map_err(|e| e.to_string())?;
        if conn.wants_close() {
            break;
        }
        // Input, waiting no longer than the connection's next deadline (the
        // handshake or the close timeout) or our patience.
        let now = Instant::now();
        if now >= give_up {
            return Err(format!("nothing from {url} in {patience:?}"));
        }
        let until = conn.poll_timeout(now).map_or(give_up, |d| d.min(give_up));
        // A zero timeout means "block forever" to the socket: wait at least 1 ms.
        let wait = until
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        stream
            .set_read_timeout(Some(wait))
            .map_err(|e| e.to_string())?;
        match stream.read(&mut input) {
            Ok(0) => conn.handle_eof(),
            Ok(n) => conn.handle_input(&input[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                conn.handle_timeout(Instant::now());
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e.to_string()),
        }
    }
    // Closed: end our side, then read until the server closes its side, so that
    // closing a socket with unread input cannot reset the connection.
    let _ = stream.shutdown(Shutdown::Write);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let drain_until = Instant::now() + Duration::from_secs(1);
    while Instant::now() < drain_until && matches!(stream.read(&mut input), Ok(n) if n > 0) {}
    match (first, failure) {
        (Some(message), _) => Ok(message),
        (None, Some(failure)) => Err(failure),
        (None, None) => Err("closed before a message".to_owned()),
    }
}
