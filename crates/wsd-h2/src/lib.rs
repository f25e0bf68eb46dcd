//! WebSockets over HTTP/2 (RFC 8441) for wsd, on the [h2](https://docs.rs/h2)
//! crate: many WebSockets as the streams of one HTTP/2 connection, each a
//! [`wsd_io::WebSocket`] with the same messages, closing handshake and extensions
//! (permessage-deflate included) as over HTTP/1.1.
//!
//! A client opens a WebSocket with an extended `CONNECT` (`:protocol websocket`)
//! once the server has announced `SETTINGS_ENABLE_CONNECT_PROTOCOL`; the server
//! answers `200` and the stream's DATA frames carry the WebSocket frames (clients
//! still mask). The closing handshake ends each side of the stream with END_STREAM
//! where TCP would send FIN. HTTP/2 flow control is the backpressure: a WebSocket
//! gives its stream's receive window back only for the bytes it reads, so one that
//! its application stops reading holds at most [`H2Config::stream_window`] bytes
//! and the others keep flowing (see [`H2Stream`]).
//!
//! - Servers: [`Server::handshake`] over any tokio stream (TLS with ALPN `h2`, or
//!   cleartext h2c with prior knowledge), then [`Server::accept`] in a loop: it
//!   drives the connection and yields each WebSocket request as an [`Incoming`]
//!   (path, subprotocols, headers) to [`accept`](Incoming::accept) or
//!   [`refuse`](Incoming::refuse). Other requests get 404, or go to
//!   [`ServerConfig::on_other_request`].
//! - Clients: [`Client::handshake`] over a stream the caller connected (TCP for
//!   h2c, or TLS negotiated with ALPN `h2`), a task running its [`Driver`], then
//!   [`connect`] as many times as needed.
//!
//! The opening handshake is `wsd-core`'s
//! ([`Connection::upgrade_extended_connect`](wsd_core::Connection::upgrade_extended_connect),
//! [`Connection::extended_connect`](wsd_core::Connection::extended_connect)); this
//! crate moves its heads through h2 and the WebSocket's bytes through the stream.
//!
//! # Example: an echo server and a client on one connection
//!
//! ```
//! use wsd_h2::{Client, CloseCode, H2Config, Message, Options, Server, ServerConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let (server_io, client_io) = tokio::io::duplex(1 << 20);
//! tokio::spawn(async move {
//!     let mut server = Server::handshake(server_io, ServerConfig::default()).await?;
//!     // `accept` drives the whole connection: keep calling it.
//!     while let Some(incoming) = server.accept().await {
//!         let mut ws = incoming?.accept(Options::default())?;
//!         tokio::spawn(async move {
//!             while let Some(Ok(message)) = ws.next_message().await {
//!                 if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         });
//!     }
//!     Ok::<_, wsd_h2::Error>(())
//! });
//!
//! let (client, driver) = Client::handshake(client_io, H2Config::default()).await?;
//! tokio::spawn(driver);
//! let mut a = wsd_h2::connect(&client, "ws://localhost/a", Options::default()).await?;
//! let mut b = wsd_h2::connect(&client, "ws://localhost/b", Options::default()).await?;
//! a.send(Message::text("over stream 1")).await?;
//! b.send(Message::text("over stream 3")).await?;
//! assert_eq!(a.next_message().await.unwrap()?.as_text(), Some("over stream 1"));
//! assert_eq!(b.next_message().await.unwrap()?.as_text(), Some("over stream 3"));
//! a.close(CloseCode::NORMAL, "bye").await?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
// Nothing derived from network input may panic: no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs, missing_debug_implementations)]

mod client;
mod error;
mod server;
mod stream;

pub use client::{Client, Driver, connect, connect_with};
pub use error::Error;
pub use server::{Incoming, OtherRequest, Server, ServerConfig};
pub use stream::H2Stream;

/// The reason of a `RST_STREAM` ([`H2Stream::send_reset`], [`H2Stream::reset_reason`]).
pub use h2::Reason;
pub use wsd_core::{CloseCode, CloseFrame, ConnectRequest, Options};
pub use wsd_io::{ClientConfig, Config, Message};
pub use wsd_tokio::TokioTimer;

/// A WebSocket over one HTTP/2 stream: a [`wsd_io::WebSocket`] (`Stream` of
/// messages, `Sink` of messages, `send`, `next_message`, `close`, `split`) whose
/// transport is the stream.
pub type WebSocket = wsd_io::WebSocket<H2Stream, TokioTimer>;

/// HTTP/2 settings of a connection, server or client: the flow-control windows
/// that bound what each WebSocket may buffer, and the number of WebSockets at once.
///
/// ```
/// let mut config = wsd_h2::H2Config::default();
/// config.stream_window = 64 * 1024;
/// config.max_streams = 1000;
/// // Each stream's window, for every stream at once: one stalled WebSocket never
/// // takes the window the others need.
/// assert_eq!(config.connection_window(), 64 * 1024 * 1000);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct H2Config {
    /// Each stream's receive window (`SETTINGS_INITIAL_WINDOW_SIZE`): how much a
    /// peer may send on one WebSocket beyond what it has read, and so the most a
    /// WebSocket whose application stopped reading holds (256 KiB). Larger windows
    /// move large messages faster over long round trips.
    pub stream_window: u32,
    /// How many streams (WebSockets) the peer may open at once
    /// (`SETTINGS_MAX_CONCURRENT_STREAMS`, 128).
    pub max_streams: u32,
    /// The largest DATA frame payload we accept (`SETTINGS_MAX_FRAME_SIZE`, 16 KiB,
    /// the HTTP/2 default).
    pub max_frame_size: u32,
    /// The most data one stream may have queued in h2 for sending (400 KiB, h2's
    /// default); writes wait beyond it.
    pub max_send_buffer: usize,
}

impl Default for H2Config {
    fn default() -> Self {
        Self {
            stream_window: 256 * 1024,
            max_streams: 128,
            max_frame_size: 16 * 1024,
            max_send_buffer: 400 * 1024,
        }
    }
}

impl H2Config {
    /// The connection's receive window: [`stream_window`](Self::stream_window)
    /// times [`max_streams`](Self::max_streams) (at most 2^31 - 1), so streams that
    /// stall can never use up the window of those that flow. It is also the most
    /// received data a connection holds for its WebSockets.
    pub fn connection_window(&self) -> u32 {
        const MAX_WINDOW: u64 = (1 << 31) - 1;
        let window = u64::from(self.stream_window) * u64::from(self.max_streams.max(1));
        u32::try_from(window.min(MAX_WINDOW)).unwrap_or(u32::MAX >> 1)
    }
}
