//! The sans-I/O WebSocket driver: one [`Connection`] per WebSocket, server or client,
//! that takes bytes and commands in and gives events and bytes out.
//!
//! This is the Rust port of the Node library `websocket-driver`: hook it up to any
//! byte stream (TCP, TLS, a Unix socket, an in-memory pipe) and it does the rest:
//! handshakes (subprotocols, extensions, custom headers), framing, masking, queueing
//! messages until open, recombining fragments, answering pings, the closing
//! handshake, and the timers around them. It does no I/O, reads no clock and spawns
//! nothing: the async crate `wsd-io` does that in one small loop, which the runtime
//! adapters (`wsd-tokio`, `wsd-async-std`, `wsd-smol`) plug their sockets and timers
//! into.
//!
//! # Writing an adapter
//!
//! ```text
//! loop {
//!     read bytes        -> conn.read_input(|buf| read onto buf, conn.read_size(64K) at most)
//!                          or conn.handle_input(&bytes)  (EOF -> conn.handle_eof())
//!     while let Some(e) = conn.poll_event() { give e to the application }
//!     writev conn.pending_output_vectored(..), then conn.consume_output(written)
//!     nothing to read and nothing to write -> conn.release_buffers()
//!     if conn.wants_close() && output empty { shut down writing, drain reads, stop }
//!     sleep until conn.poll_timeout(now), then conn.handle_timeout(now)
//! }
//! ```
//!
//! The crate's `examples/blocking_client.rs` runs this loop at its plainest, over a
//! blocking `std::net::TcpStream` with no async runtime (`cargo run -p wsd-core
//! --example blocking_client -- ws://host:port/path`).
//!
//! # Timers
//!
//! Every timer is here, so every adapter behaves alike: the opening handshake
//! ([`Options::handshake_timeout`], 10 s), the closing handshake
//! ([`Options::close_timeout`], 10 s), and, off by default, keepalive pings
//! ([`Options::keepalive`]: a peer silent for the timeout after a ping fails the
//! connection with 1011) and the idle timeout ([`Options::idle_timeout`]: close 1001).
//! [`Connection::poll_timeout`] returns the earliest deadline; input and messages only
//! raise flags, which it turns into times, so call it after every batch of work.
//!
//! # Example: an echo server over any transport
//!
//! ```
//! use wsd_core::{Connection, Event, Options};
//!
//! fn echo(conn: &mut Connection, input: &[u8]) -> Vec<u8> {
//!     conn.handle_input(input);
//!     while let Some(event) = conn.poll_event() {
//!         match event {
//!             Event::Request => conn.start().unwrap_or(()),
//!             Event::Message(message) => conn.send(message).unwrap_or(()),
//!             _ => {}
//!         }
//!     }
//!     conn.poll_transmit_vec()
//! }
//!
//! let mut conn = Connection::server(Options::default());
//! let response = echo(
//!     &mut conn,
//!     b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
//!       Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!       Sec-WebSocket-Version: 13\r\n\r\n",
//! );
//! assert!(response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//!
//! // A masked "Hello" (RFC 6455 section 5.7) comes back unmasked.
//! let reply = echo(&mut conn, &[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58]);
//! assert_eq!(reply, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
//! ```
//!
//! # With an HTTP server or client of your own
//!
//! When hyper, axum or another HTTP stack reads and writes the heads,
//! [`Connection::upgrade`] negotiates the request it received and returns the 101 head
//! for it to send with a connection already open; [`Refused`] holds the answer for a
//! request it cannot accept. Clients use [`Connection::client_handshake`] and
//! [`Connection::client_opened`]. `wsd-hyper` and `wsd-axum` are built on these.
//!
//! # Coming from `websocket-driver` (Node)
//!
//! The calls map one to one, and the behaviour is the same except where RFC 6455 or
//! RFC 7692 asks for something else or the Node library has a bug: an empty close
//! frame is reported as 1005, unmasked client frames fail with 1002, text is validated
//! as it arrives at any size, frames that arrive before `start` wait, both handshakes
//! have timeouts, and errors while closing still close. [`differences`] lists every
//! difference, with the API mapped call by call.
#![forbid(unsafe_code)]
// Nothing derived from network input may panic: no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs, missing_debug_implementations)]

mod connection;
pub mod differences;
mod error;
mod event;
mod message;
mod options;
mod output;
mod timer;
mod version;

pub use connection::{Connection, ReadyState, Refused, Reply};
pub use error::{Error, Usage};
pub use event::{Event, PingId, Polled};
pub use message::{CloseFrame, Message, Utf8Bytes};
pub use options::{Keepalive, Options};
pub use version::Version;

pub use bytes::Bytes;
/// URLs, as [`Connection::client`] and [`Connection::url`] take and give them.
pub use url::Url;
/// The extension framework.
pub use wsd_extensions as extensions;
/// The framing layer, for close codes and roles.
pub use wsd_frame::{CloseCode, OpCode, Role, Rsv, WholeMessage};
/// The extended `CONNECT` heads (RFC 8441) that
/// [`Connection::upgrade_extended_connect`], [`Connection::extended_connect`] and
/// [`Connection::extended_connect_opened`] take and give.
pub use wsd_handshake::extended_connect::{ClientConnect, ConnectRequest, ConnectResponse};
/// The handshake layer, for requests, headers and limits, and the heads an HTTP
/// stack exchanges for [`Connection::upgrade`] and [`Connection::client_opened`].
pub use wsd_handshake::{ClientHandshake, Headers, Limits, Rejection, Request, Response};
