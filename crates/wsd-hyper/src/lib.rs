//! WebSockets in hyper 1.x servers and clients, on the wsd sans-I/O driver.
//!
//! hyper reads and writes the HTTP heads; wsd negotiates the handshake (the checks of
//! RFC 6455, subprotocols, permessage-deflate, custom headers) with the same code as
//! its own servers and clients ([`wsd_core::Connection::upgrade`]), then runs the
//! WebSocket over the stream hyper hands over.
//!
//! - Servers: in a hyper service, [`upgrade`] (or [`upgrade_with`] a [`Config`])
//!   checks the request and returns the `101 Switching Protocols` response for the
//!   service to return, and an [`UpgradeFuture`] that resolves to the [`WebSocket`]
//!   once hyper has sent it. A request that is not a valid WebSocket upgrade gives an
//!   [`Error`] whose [`to_response`](Error::to_response) is the answer (400, or 426
//!   for an unsupported version). [`is_upgrade_request`] tells WebSocket requests from
//!   plain HTTP ones.
//! - Clients: [`client`] runs the handshake through hyper's HTTP/1.1 client
//!   connection over a stream you connected (TLS included), [`connect`] over a new
//!   TCP connection for `ws://` URLs.
//!
//! The [`WebSocket`] is `wsd_tokio`'s, over hyper's upgraded stream: a `Stream` of
//! [`Message`]s and a `Sink` of them, with `send`, `feed`, `next_message`, `close`
//! and `split`. It needs a tokio runtime, as hyper's tokio glue does.
//!
//! # Example: a server
//!
//! ```no_run
//! use std::convert::Infallible;
//!
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use hyper::body::Incoming;
//! use hyper::server::conn::http1;
//! use hyper::service::service_fn;
//! use hyper::{Request, Response};
//! use hyper_util::rt::TokioIo;
//! use tokio::net::TcpListener;
//!
//! async fn serve(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
//!     if !wsd_hyper::is_upgrade_request(&request) {
//!         return Ok(Response::new(Full::from("a WebSocket server\n")));
//!     }
//!     let config = wsd_hyper::Config::default().protocols(["chat"]).deflate(Default::default());
//!     match wsd_hyper::upgrade_with(&mut request, config) {
//!         Ok((response, websocket)) => {
//!             tokio::spawn(async move {
//!                 let Ok(mut ws) = websocket.await else { return };
//!                 while let Some(Ok(message)) = ws.next_message().await {
//!                     if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             });
//!             Ok(response)
//!         }
//!         Err(refused) => Ok(refused.to_response()),
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:8080").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     tokio::spawn(async move {
//!         let connection = http1::Builder::new().serve_connection(TokioIo::new(tcp), service_fn(serve));
//!         // Without `with_upgrades`, hyper keeps the connection for HTTP.
//!         let _ = connection.with_upgrades().await;
//!     });
//! }
//! # }
//! ```
//!
//! # Example: a client
//!
//! ```no_run
//! use wsd_hyper::{CloseCode, Config, Message};
//!
//! # async fn run() -> Result<(), wsd_hyper::Error> {
//! let config = Config::default().protocols(["chat"]);
//! let (mut ws, response) = wsd_hyper::connect("ws://127.0.0.1:8080/", config).await?;
//! assert_eq!(response.status(), 101);
//! ws.send(Message::text("hello")).await?;
//! let echo = ws.next_message().await;
//! ws.close(CloseCode::NORMAL, "bye").await?;
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

use std::sync::Arc;
use std::time::Duration;

pub use client::{client, connect};
pub use error::Error;
pub use server::{UpgradeFuture, accept, is_upgrade_request, upgrade, upgrade_with};

pub use wsd_core::{
    Bytes, CloseCode, CloseFrame, Connection, Message, Options, Refused, Request, Utf8Bytes,
};
pub use wsd_deflate::PerMessageDeflate;
/// The I/O loop's buffer sizes ([`Config::io`]).
pub use wsd_io::Config as IoConfig;

/// A WebSocket over the stream hyper hands over after the handshake: a `Stream`
/// of received [`Message`]s and a `Sink` of messages to send (see
/// [`wsd_io::WebSocket`] for its methods).
///
/// ```no_run
/// # async fn run(mut ws: wsd_hyper::WebSocket) -> Result<(), wsd_hyper::Error> {
/// while let Some(message) = ws.next_message().await {
///     let message = message?;
///     if message.is_text() {
///         ws.send(message).await?;
///     }
/// }
/// # Ok(())
/// # }
/// ```
pub type WebSocket = wsd_tokio::WebSocket<Upgraded>;

/// The reading half of a [`WebSocket`] ([`wsd_io::WebSocket::split`]).
pub type ReadHalf = wsd_tokio::ReadHalf<Upgraded>;

/// The writing half of a [`WebSocket`] ([`wsd_io::WebSocket::split`]).
pub type WriteHalf = wsd_tokio::WriteHalf<Upgraded>;

/// The stream under a [`WebSocket`]: what hyper hands over after the 101, as a
/// tokio stream.
pub type Upgraded = hyper_util::rt::TokioIo<hyper::upgrade::Upgraded>;

/// What a WebSocket negotiates and how it runs: the connection [`Options`] and the
/// I/O loop's buffer sizes, for [`upgrade_with`], [`client`] and [`connect`].
///
/// ```
/// use std::time::Duration;
/// use wsd_hyper::{Config, PerMessageDeflate};
///
/// let config = Config::default()
///     .protocols(["chat", "superchat"])
///     .deflate(PerMessageDeflate::new())
///     .max_message_size(1 << 20)
///     .close_timeout(Duration::from_secs(5));
/// assert_eq!(config.options.protocols, ["chat", "superchat"]);
/// assert_eq!(config.options.extensions.len(), 1);
/// assert_eq!(config.options.max_length, 1 << 20);
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Config {
    /// Subprotocols, extensions, the largest message, timeouts, custom headers.
    pub options: Options,
    /// The I/O loop's buffer sizes.
    pub io: IoConfig,
}

impl Config {
    /// A configuration with these options and default buffer sizes.
    ///
    /// ```
    /// let mut options = wsd_hyper::Options::default();
    /// options.max_length = 4096;
    /// assert_eq!(wsd_hyper::Config::new(options).options.max_length, 4096);
    /// ```
    pub fn new(options: Options) -> Self {
        Self {
            options,
            io: IoConfig::default(),
        }
    }

    /// The subprotocols: a server picks the first one the client offers that is in
    /// this list; a client offers them in this order.
    ///
    /// ```
    /// let config = wsd_hyper::Config::default().protocols(["graphql-ws"]);
    /// assert_eq!(config.options.protocols, ["graphql-ws"]);
    /// ```
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.options.protocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Negotiates permessage-deflate (RFC 7692) with these settings, after the
    /// extensions already configured.
    ///
    /// ```
    /// let config = wsd_hyper::Config::default().deflate(wsd_hyper::PerMessageDeflate::new());
    /// assert_eq!(config.options.extensions[0].name(), "permessage-deflate");
    /// ```
    pub fn deflate(mut self, deflate: PerMessageDeflate) -> Self {
        self.options.extensions.push(Arc::new(deflate));
        self
    }

    /// The largest message accepted, in bytes (`Options::max_length`): a bigger one
    /// closes the connection with 1009.
    ///
    /// ```
    /// let config = wsd_hyper::Config::default().max_message_size(64 * 1024);
    /// assert_eq!(config.options.max_length, 64 * 1024);
    /// ```
    pub fn max_message_size(mut self, max: usize) -> Self {
        self.options.max_length = max;
        self
    }

    /// How long to wait for the peer's close frame after sending ours
    /// (`Options::close_timeout`); `None` waits forever.
    ///
    /// ```
    /// use std::time::Duration;
    /// let config = wsd_hyper::Config::default().close_timeout(Duration::from_secs(2));
    /// assert_eq!(config.options.close_timeout, Some(Duration::from_secs(2)));
    /// ```
    pub fn close_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.options.close_timeout = timeout.into();
        self
    }
}

impl From<Options> for Config {
    fn from(options: Options) -> Self {
        Self::new(options)
    }
}
