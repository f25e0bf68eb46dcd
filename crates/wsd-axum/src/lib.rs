//! WebSockets in axum 0.8 handlers, on the wsd sans-I/O driver, with the API of
//! `axum::extract::ws`: switch by changing the imports.
//!
//! [`WebSocketUpgrade`] is an extractor: [`protocols`](WebSocketUpgrade::protocols),
//! [`selected_protocol`](WebSocketUpgrade::selected_protocol),
//! [`on_failed_upgrade`](WebSocketUpgrade::on_failed_upgrade) and
//! [`on_upgrade`](WebSocketUpgrade::on_upgrade) work as in axum, and the
//! [`WebSocket`] it hands over has `recv`, `send`, `split`, `Stream` and `Sink`.
//! On top of axum's options it has wsd's:
//! [`deflate`](WebSocketUpgrade::deflate) (permessage-deflate, RFC 7692),
//! [`close_timeout`](WebSocketUpgrade::close_timeout) and
//! [`options`](WebSocketUpgrade::options).
//!
//! # Example
//!
//! ```
//! use axum::{Router, response::Response, routing::any};
//! use wsd_axum::{Message, WebSocket, WebSocketUpgrade};
//!
//! let app: Router = Router::new().route("/ws", any(handler));
//!
//! async fn handler(ws: WebSocketUpgrade) -> Response {
//!     ws.protocols(["chat"])
//!         .deflate(Default::default())
//!         .on_upgrade(handle_socket)
//! }
//!
//! async fn handle_socket(mut socket: WebSocket) {
//!     while let Some(Ok(message)) = socket.recv().await {
//!         if let Message::Text(text) = message {
//!             if socket.send(Message::Text(text)).await.is_err() {
//!                 return; // the client went away
//!             }
//!         }
//!     }
//! }
//! ```
//!
//! # Coming from `axum::extract::ws`
//!
//! Replace `axum::extract::ws::{Message, WebSocket, WebSocketUpgrade}` with
//! `wsd_axum::{Message, WebSocket, WebSocketUpgrade}`. What differs:
//!
//! - Errors are [`Error`] (`wsd_io::Error`), not `axum::Error`; the callback of
//!   [`on_failed_upgrade`](WebSocketUpgrade::on_failed_upgrade) gets an
//!   [`UpgradeError`].
//! - [`Message`] is wsd's: the same variants, but [`CloseFrame`] holds a
//!   [`CloseCode`] (`CloseCode::NORMAL`, ...) and a `String`, where axum has a `u16`
//!   (`close_code::NORMAL`) and `Utf8Bytes`.
//! - [`split`](WebSocket::split) gives wsd's halves, which take no lock across an
//!   `.await` and have `send` and `close` of their own; they are also a `Sink` and a
//!   `Stream`, so code written for `StreamExt::split` keeps working.
//! - Of the subprotocols a client offers, the server takes the first in the
//!   *client's* order that it supports (`websocket-driver` (Node) does so); axum
//!   takes the first in the server's list. A protocol the client did not offer is
//!   never answered (RFC 6455 section 4.2.2).
//! - Requests are checked in full (RFC 6455 and RFC 9112: `Host`, the key's shape,
//!   the request target): such a request is refused with 400, an unsupported
//!   `Sec-WebSocket-Version` with 426 and `Sec-WebSocket-Version: 13` (RFC 6455
//!   section 4.4), where axum answers 400. A method other than `GET` gets 405 and a
//!   connection hyper cannot hand over gets 426, as in axum.
//! - There is no `max_frame_size`: frames are bounded by
//!   [`max_message_size`](WebSocketUpgrade::max_message_size). WebSockets over HTTP/2
//!   (extended `CONNECT`) are not served yet.
#![forbid(unsafe_code)]
// Nothing derived from network input may panic: no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs, missing_debug_implementations)]

mod rejection;
mod socket;
mod upgrade;

pub use rejection::WebSocketUpgradeRejection;
pub use socket::WebSocket;
pub use upgrade::{DefaultOnFailedUpgrade, OnFailedUpgrade, WebSocketUpgrade};

pub use wsd_core::{Bytes, CloseCode, CloseFrame, Message, Options, Utf8Bytes};
/// Why an accepted upgrade did not produce a [`WebSocket`] (see
/// [`WebSocketUpgrade::on_failed_upgrade`]).
pub use wsd_hyper::Error as UpgradeError;
pub use wsd_hyper::{PerMessageDeflate, ReadHalf, WriteHalf};
/// What can go wrong on a running [`WebSocket`].
pub use wsd_io::Error;
