//! [`FuturesIo`]: any `futures-io` stream as a [`Transport`] (feature `futures-io`).

use core::pin::Pin;
use core::task::{Context, Poll};
use std::io::{self, IoSlice};

use futures_io::{AsyncRead, AsyncWrite};

use crate::Transport;

/// A `futures_io::AsyncRead + AsyncWrite` stream (smol's and async-std's sockets,
/// async-net, futures-rustls, ...) as a [`Transport`].
///
/// futures-io reads into initialised memory only, so reads are zero-filled and sized
/// by what recent reads returned ([`Transport::read_zero_fills`]).
///
/// ```
/// # #[cfg(feature = "futures-io")] {
/// let pipe = futures_util::io::Cursor::new(Vec::<u8>::new());
/// let transport = wsd_io::FuturesIo(pipe);
/// assert!(transport.0.get_ref().is_empty());
/// # }
/// ```
#[derive(Debug)]
pub struct FuturesIo<S>(pub S);

impl<S: AsyncRead + AsyncWrite + Unpin> Transport for FuturesIo<S> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

#[cfg(feature = "async-io")]
pub use runtime::*;

#[cfg(feature = "async-io")]
mod connect;
#[cfg(feature = "async-io")]
pub use connect::{ClientTls, MaybeTlsStream, connect};

/// The constructors `wsd-smol` and `wsd-async-std` share: both runtimes give
/// futures-io streams and run on the async-io reactor.
#[cfg(feature = "async-io")]
mod runtime {
    use futures_io::{AsyncRead, AsyncWrite};
    use wsd_core::Connection;

    use super::FuturesIo;
    use crate::{Accepted, AsyncIoTimer, ClientConfig, Config, Error, ServerConfig};

    /// A WebSocket over the futures-io stream `S` with the async-io timer.
    pub type WebSocket<S> = crate::WebSocket<FuturesIo<S>, AsyncIoTimer>;

    /// The reading half of a [`WebSocket`].
    pub type ReadHalf<S> = crate::ReadHalf<FuturesIo<S>, AsyncIoTimer>;

    /// The writing half of a [`WebSocket`].
    pub type WriteHalf<S> = crate::WriteHalf<FuturesIo<S>, AsyncIoTimer>;

    /// A WebSocket over a TCP stream of the async-io reactor that waits for input
    /// by readiness ([`AsyncIoTcp`](crate::AsyncIoTcp)): what a smol or async-std
    /// server gets from [`accept_tcp`].
    pub type TcpWebSocket = crate::WebSocket<crate::AsyncIoTcp, AsyncIoTimer>;

    /// Runs the server handshake on `stream`, accepting any valid WebSocket request.
    pub async fn accept<S: AsyncRead + AsyncWrite + Unpin>(
        stream: S,
    ) -> Result<WebSocket<S>, Error> {
        crate::accept(FuturesIo(stream), AsyncIoTimer::default()).await
    }

    /// Runs the server handshake on `stream` with `config`: the WebSocket, or
    /// [`Accepted::Responded`] when the request hook answered with plain HTTP.
    pub async fn accept_with<S: AsyncRead + AsyncWrite + Unpin>(
        stream: S,
        config: ServerConfig,
    ) -> Result<Accepted<WebSocket<S>>, Error> {
        crate::accept_with(FuturesIo(stream), AsyncIoTimer::default(), config).await
    }

    /// [`accept_with`] on a TCP stream of the async-io reactor, read by readiness
    /// rather than through futures-io (one system call fewer per wait; see
    /// [`AsyncIoTcp`](crate::AsyncIoTcp)).
    pub async fn accept_tcp(
        stream: crate::AsyncIoTcp,
        config: ServerConfig,
    ) -> Result<Accepted<TcpWebSocket>, Error> {
        crate::accept_with(stream, AsyncIoTimer::default(), config).await
    }

    /// Runs the client handshake for `url` over `stream`, which is already connected
    /// to the server (wrapped in TLS by the caller for `wss://`).
    pub async fn client<S: AsyncRead + AsyncWrite + Unpin>(
        url: &str,
        stream: S,
        config: impl Into<ClientConfig>,
    ) -> Result<WebSocket<S>, Error> {
        crate::client(url, FuturesIo(stream), AsyncIoTimer::default(), config).await
    }

    /// Runs the proxy's exchange for the `ws://` URL `url` through `proxy` on
    /// `stream` (connected to the proxy; an `https://` proxy's TLS already
    /// started), then the client handshake in the tunnel.
    pub async fn client_via_proxy<S: AsyncRead + AsyncWrite + Unpin>(
        url: &str,
        proxy: &str,
        stream: S,
        config: impl Into<ClientConfig>,
    ) -> Result<WebSocket<S>, Error> {
        let timer = AsyncIoTimer::default();
        crate::client_via_proxy(url, proxy, FuturesIo(stream), timer, config).await
    }

    /// Drives a [`Connection`] the caller set up over `stream` (see
    /// [`crate::WebSocket::from_connection`]).
    pub fn from_connection<S: AsyncRead + AsyncWrite + Unpin>(
        conn: Connection,
        stream: S,
        config: Config,
    ) -> WebSocket<S> {
        crate::WebSocket::from_connection(conn, FuturesIo(stream), AsyncIoTimer::default(), config)
    }
}
