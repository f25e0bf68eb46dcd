//! WebSocket over any smol stream, driven by the sans-I/O `wsd-core` connection.
//!
//! [`accept`] and [`client`] run the opening handshake over any
//! `futures_io::AsyncRead + AsyncWrite` stream (TCP, TLS, Unix sockets, in-memory
//! pipes) and return a [`WebSocket`], which is a `Stream` of received [`Message`]s
//! and a `Sink` of messages to send. [`connect`] does DNS, TCP (with `TCP_NODELAY`)
//! for `ws://` URLs; for `wss://`, wrap the TCP stream in your TLS
//! library's stream and call [`client`].
//!
//! All protocol work happens in [`wsd_core::Connection`]; the I/O loop is
//! [`wsd_io::WebSocket`] over a [`FuturesIo`] transport and the [`AsyncIoTimer`]
//! (smol runs on the async-io reactor), shared with the other futures-io
//! adapter. [`WebSocket<S>`](WebSocket) is `wsd_io::WebSocket<FuturesIo<S>,
//! AsyncIoTimer>`.
//!
//! # Example: an echo server
//!
//! ```no_run
//! use smol::net::TcpListener;
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     smol::spawn(async move {
//!         let Ok(mut ws) = wsd_smol::accept(stream).await else { return };
//!         while let Some(Ok(message)) = ws.next_message().await {
//!             if message.is_close() {
//!                 break;
//!             }
//!             // Queued; written in one batch when no more input waits.
//!             if ws.feed(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     }).detach();
//! }
//! # }
//! ```
//!
//! # Example: a client
//!
//! ```no_run
//! use wsd_smol::{CloseCode, Message};
//!
//! # async fn run() -> Result<(), wsd_smol::Error> {
//! let mut ws = wsd_smol::connect("ws://127.0.0.1:9001/").await?;
//! ws.send(Message::text("hello")).await?;
//! if let Some(reply) = ws.next_message().await {
//!     println!("{:?}", reply?);
//! }
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

use std::io;

pub use wsd_core::{Bytes, CloseCode, Connection, Options, Request, Utf8Bytes};
pub use wsd_io::futures_io::{
    ReadHalf, WebSocket, WriteHalf, accept, accept_with, client, client_via_proxy, from_connection,
};
pub use wsd_io::{
    Accepted, AsyncIoTimer, ClientConfig, CloseFrame, Config, Decision, Error, FuturesIo, Message,
    ProxyEnv, RequestHook, ServerConfig, Shutdown, ShutdownToken, SocksError, TlsError, UrlError,
};

pub use smol::net::TcpStream;

/// Connects to a `ws://` URL with default options.
pub async fn connect(url: &str) -> Result<WebSocket<TcpStream>, Error> {
    connect_with(url, Options::default()).await
}

/// Connects to a `ws://` URL: DNS, TCP with `TCP_NODELAY` (the driver batches its
/// own writes, so Nagle would only add latency), then the handshake. `wss://` is
/// refused with [`Error::Tls`]: wrap a TCP stream in TLS and call [`client`].
pub async fn connect_with(
    url: &str,
    config: impl Into<ClientConfig>,
) -> Result<WebSocket<TcpStream>, Error> {
    wsd_io::futures_io::connect_with(url, config, tcp_connect).await
}

/// Connects to a `ws://` URL through the proxy `proxy`: TCP to the proxy, then for
/// `http://user:pass@proxy.example:3128` a `CONNECT` request (with
/// `Proxy-Authorization: Basic` when the proxy URL has userinfo), for `socks5://`
/// or `socks5h://` the SOCKS5 exchange (username and password from the userinfo),
/// then the handshake inside the tunnel. An HTTP proxy answering anything but 2xx
/// fails with [`Error::ProxyRefused`], which carries its status and headers; a
/// SOCKS5 refusal is [`Error::Socks`]. `wss://` and `https://` proxies are refused
/// with [`Error::Tls`]: run [`wsd_io::tunnel`] on your own stream, wrap it in TLS,
/// and call [`client`].
///
/// To honour the proxy environment variables (`http_proxy`, `all_proxy`,
/// `no_proxy`), ask [`ProxyEnv`] which proxy applies:
///
/// ```no_run
/// # async fn run() -> Result<(), wsd_smol::Error> {
/// let url = "ws://example.com/";
/// let ws = match wsd_smol::ProxyEnv::from_env().proxy_for(url) {
///     Some(proxy) => wsd_smol::connect_via_proxy(url, proxy, wsd_smol::Options::default()).await?,
///     None => wsd_smol::connect(url).await?,
/// };
/// # Ok(())
/// # }
/// ```
pub async fn connect_via_proxy(
    url: &str,
    proxy: &str,
    config: impl Into<ClientConfig>,
) -> Result<WebSocket<TcpStream>, Error> {
    wsd_io::futures_io::connect_via_proxy(url, proxy, config, tcp_connect).await
}

/// TCP to `host:port` with `TCP_NODELAY`.
async fn tcp_connect(host: String, port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect((host.as_str(), port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}
