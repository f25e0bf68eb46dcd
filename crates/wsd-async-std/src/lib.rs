//! WebSocket over any async-std stream, driven by the sans-I/O `wsd-core` connection.
//!
//! [`accept`] and [`client`] run the opening handshake over any
//! `futures_io::AsyncRead + AsyncWrite` stream (TCP, TLS, Unix sockets, in-memory
//! pipes) and return a [`WebSocket`], which is a `Stream` of received [`Message`]s
//! and a `Sink` of messages to send. [`connect`] does DNS, TCP (with `TCP_NODELAY`)
//! and, with the `rustls` feature, TLS for `wss://` URLs; [`connect_via_proxy`]
//! goes through an HTTP, HTTPS or SOCKS5 proxy. Without the feature, for `wss://`
//! wrap the TCP stream in your TLS library's stream and call [`client`].
//!
//! A server that accepts the runtime's own `TcpStream` should hand it to
//! [`accept_tcp`] (through [`tcp_transport`]) rather than [`accept`]: the
//! [`AsyncIoTcp`] transport waits for input by readiness instead of trying a read
//! first, one system call fewer per message when one message is in flight.
//!
//! All protocol work happens in [`wsd_core::Connection`]; the I/O loop is
//! [`wsd_io::WebSocket`] over a [`FuturesIo`] (or [`AsyncIoTcp`]) transport and the [`AsyncIoTimer`]
//! (async-std runs on the async-io reactor), shared with the other futures-io
//! adapter. [`WebSocket<S>`](WebSocket) is `wsd_io::WebSocket<FuturesIo<S>,
//! AsyncIoTimer>`.
//!
//! # Example: an echo server
//!
//! ```no_run
//! use async_std::net::TcpListener;
//!
//! # async fn run() -> std::io::Result<()> {
//! let listener = TcpListener::bind("127.0.0.1:9001").await?;
//! loop {
//!     let (stream, _) = listener.accept().await?;
//!     async_std::task::spawn(async move {
//!         let Ok(mut ws) = wsd_async_std::accept(stream).await else { return };
//!         while let Some(Ok(message)) = ws.next_message().await {
//!             if message.is_close() {
//!                 break;
//!             }
//!             // Queued; written in one batch when no more input waits.
//!             if ws.feed(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     });
//! }
//! # }
//! ```
//!
//! # Example: a client
//!
//! ```no_run
//! use wsd_async_std::{CloseCode, Message};
//!
//! # async fn run() -> Result<(), wsd_async_std::Error> {
//! let mut ws = wsd_async_std::connect("ws://127.0.0.1:9001/").await?;
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
    ClientTls, MaybeTlsStream, ReadHalf, TcpWebSocket, WebSocket, WriteHalf, accept, accept_tcp,
    accept_with, client, client_via_proxy, from_connection,
};
pub use wsd_io::{
    Accepted, AsyncIoTcp, AsyncIoTimer, ClientConfig, CloseFrame, Config, Decision, Error,
    FuturesIo, Message, Next, ProxyEnv, Reply, RequestHook, ServerConfig, Shutdown, ShutdownToken,
    SocksError, TlsError, UrlError, WholeMessage,
};

pub use async_std::net::TcpStream;

/// Connects to a `ws://` URL (or `wss://` with the `rustls` feature) with default
/// options.
pub async fn connect(url: &str) -> Result<WebSocket<MaybeTlsStream>, Error> {
    connect_with(url, Options::default()).await
}

/// Connects to a `ws://` URL (or `wss://` with the `rustls` feature): DNS, TCP with
/// `TCP_NODELAY` (the driver batches its own writes, so Nagle would only add
/// latency), TLS, then the handshake. The steps before the handshake together, and
/// the handshake, are each bounded by the options' `handshake_timeout`.
pub async fn connect_with(
    url: &str,
    config: impl Into<ClientConfig>,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    wsd_io::futures_io::connect(url, None, config, &ClientTls::default(), tcp_connect).await
}

/// Connects to `url` through the proxy `proxy`: TCP to the proxy, then for
/// `http://user:pass@proxy.example:3128` a `CONNECT` request (with
/// `Proxy-Authorization: Basic` when the proxy URL has userinfo), for `https://`
/// the same inside TLS to the proxy (feature `rustls`; the proxy's certificate is
/// checked against the webpki roots, or your own with `connect_with_tls`), for `socks5://`
/// or `socks5h://` the SOCKS5 exchange (username and password from the userinfo);
/// then, inside the tunnel, TLS for `wss://` (feature `rustls`) and the WebSocket
/// handshake.
///
/// An HTTP proxy answering anything but 2xx fails with [`Error::ProxyRefused`],
/// which carries its status and headers; a SOCKS5 refusal is [`Error::Socks`]; a
/// proxy certificate that is not trusted is [`Error::Tls`], whose source names the
/// proxy.
///
/// ```no_run
/// # async fn run() {
/// let options = wsd_async_std::Options::default();
/// match wsd_async_std::connect_via_proxy("ws://example.com/", "https://proxy:3129", options).await {
///     Ok(ws) => drop(ws),
///     Err(wsd_async_std::Error::ProxyRefused(answer)) if answer.status == 407 => {
///         eprintln!("the proxy wants credentials: {:?}", answer.headers.get("proxy-authenticate"));
///     }
///     Err(e) => eprintln!("{e}"),
/// }
/// # }
/// ```
pub async fn connect_via_proxy(
    url: &str,
    proxy: &str,
    config: impl Into<ClientConfig>,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    let tls = ClientTls::default();
    wsd_io::futures_io::connect(url, Some(proxy), config, &tls, tcp_connect).await
}

/// Connects to `url` through the proxy the environment names for it (`http_proxy`
/// for `ws://`, `https_proxy` for `wss://`, `all_proxy`, unless `no_proxy` lists
/// the host; see [`ProxyEnv`]), or directly when none does. The environment is read
/// only here, when the caller asks: [`connect_with`] never reads it.
///
/// ```no_run
/// # async fn run() -> Result<(), wsd_async_std::Error> {
/// let ws = wsd_async_std::connect_with_env_proxy("wss://example.com/", wsd_async_std::Options::default()).await?;
/// # Ok(())
/// # }
/// ```
pub async fn connect_with_env_proxy(
    url: &str,
    config: impl Into<ClientConfig>,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    let env = ProxyEnv::from_env();
    let tls = ClientTls::default();
    wsd_io::futures_io::connect(url, env.proxy_for(url), config, &tls, tcp_connect).await
}

/// [`connect_with`], through `proxy` when given (as [`connect_via_proxy`]), with the
/// caller's TLS configuration (its roots, client certificates) instead of one
/// trusting the webpki roots. An `https://` proxy's certificate is checked with the
/// same configuration: to reach a server and a proxy with different private CAs,
/// put both in its roots.
#[cfg(feature = "rustls")]
pub async fn connect_with_tls(
    url: &str,
    proxy: Option<&str>,
    config: impl Into<ClientConfig>,
    tls: std::sync::Arc<rustls::ClientConfig>,
) -> Result<WebSocket<MaybeTlsStream>, Error> {
    let tls = ClientTls::new(tls);
    wsd_io::futures_io::connect(url, proxy, config, &tls, tcp_connect).await
}

/// async-std's `TcpStream` as an [`AsyncIoTcp`]: the same socket, read by readiness
/// (a server's [`accept_tcp`] and [`connect`] use it). async-std keeps its
/// reactor handle to itself, so the socket is taken out of the stream and
/// registered with the async-io reactor (the one async-std runs on) again: this
/// fails when the stream has been cloned.
///
/// ```no_run
/// # async fn run() -> Result<(), wsd_async_std::Error> {
/// let listener = async_std::net::TcpListener::bind("127.0.0.1:9001").await?;
/// let (stream, _) = listener.accept().await?;
/// stream.set_nodelay(true)?;
/// let transport = wsd_async_std::tcp_transport(stream)?;
/// let accepted = wsd_async_std::accept_tcp(transport, Default::default()).await?;
/// # drop(accepted);
/// # Ok(())
/// # }
/// ```
pub fn tcp_transport(stream: TcpStream) -> io::Result<AsyncIoTcp> {
    let stream = std::net::TcpStream::try_from(stream)?;
    Ok(AsyncIoTcp::from(async_io::Async::new(stream)?))
}

/// TCP to `host:port` with `TCP_NODELAY`.
async fn tcp_connect(host: String, port: u16) -> io::Result<AsyncIoTcp> {
    let stream = TcpStream::connect((host.as_str(), port)).await?;
    stream.set_nodelay(true)?;
    tcp_transport(stream)
}
