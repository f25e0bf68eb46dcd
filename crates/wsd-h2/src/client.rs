//! The client: [`Client::handshake`] opens the HTTP/2 connection, [`connect`]
//! opens WebSockets on it.

use core::fmt;
use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll};

use bytes::Bytes;
use h2::client::SendRequest;
use h2::ext::Protocol;
use tokio::io::{AsyncRead, AsyncWrite};
use wsd_core::{Connection, Headers, Options};
use wsd_handshake::extended_connect::PROTOCOL;
use wsd_io::ClientConfig;
use wsd_tokio::TokioTimer;

use crate::stream::H2Stream;
use crate::{Error, H2Config, WebSocket};

/// The client side of an HTTP/2 connection, for opening WebSockets on it with
/// [`connect`]. Cheap to clone: every clone opens streams on the same connection.
#[derive(Clone)]
pub struct Client {
    send: SendRequest<Bytes>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("connect_protocol_enabled", &self.connect_protocol_enabled())
            .finish_non_exhaustive()
    }
}

/// The task of a client's HTTP/2 connection: it reads and writes the connection
/// for every stream. Spawn it (`tokio::spawn(driver)`); it completes when the
/// connection ends, which happens once every [`Client`] clone and WebSocket is
/// dropped, or when the server closes it.
#[must_use = "the connection makes no progress unless its driver runs"]
pub struct Driver<S> {
    conn: h2::client::Connection<S, Bytes>,
}

impl<S> fmt::Debug for Driver<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver").finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Future for Driver<S> {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.conn).poll(cx).map_err(Error::H2)
    }
}

impl Client {
    /// Opens an HTTP/2 connection over `io`: a TCP stream for h2c (HTTP/2 with
    /// prior knowledge, no TLS), or a TLS stream that negotiated ALPN `h2`. Returns
    /// once the server's SETTINGS have arrived, so
    /// [`connect_protocol_enabled`](Self::connect_protocol_enabled) is known, with
    /// the connection's [`Driver`] to spawn.
    ///
    /// ```no_run
    /// use wsd_h2::{Client, H2Config, Options};
    ///
    /// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    /// let tcp = tokio::net::TcpStream::connect("127.0.0.1:8080").await?;
    /// tcp.set_nodelay(true)?;
    /// let (client, driver) = Client::handshake(tcp, H2Config::default()).await?;
    /// tokio::spawn(driver);
    /// let ws = wsd_h2::connect(&client, "ws://127.0.0.1:8080/chat", Options::default()).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn handshake<S>(io: S, config: H2Config) -> Result<(Self, Driver<S>), Error>
    where
        S: AsyncRead + AsyncWrite + Unpin,
    {
        let (send, mut conn) = h2::client::Builder::new()
            .enable_push(false)
            .initial_window_size(config.stream_window)
            .initial_connection_window_size(config.connection_window())
            .max_concurrent_streams(config.max_streams)
            .max_frame_size(config.max_frame_size)
            .max_send_buffer_size(config.max_send_buffer)
            .handshake::<S, Bytes>(io)
            .await?;
        // h2's handshake returns before the server's SETTINGS arrive. The server
        // sends them first and h2 applies a SETTINGS frame before reading the next,
        // so once a PING we send is answered they are in effect.
        if let Some(mut pings) = conn.ping_pong() {
            let pong = pings.ping(h2::Ping::opaque());
            let mut pong = core::pin::pin!(pong);
            poll_fn(|cx| {
                if let Poll::Ready(answer) = pong.as_mut().poll(cx) {
                    return Poll::Ready(answer.map(drop).map_err(Error::H2));
                }
                match Pin::new(&mut conn).poll(cx) {
                    Poll::Ready(Ok(())) => Poll::Ready(Err(Error::ConnectionClosed)),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(Error::H2(e))),
                    Poll::Pending => Poll::Pending,
                }
            })
            .await?;
        }
        Ok((Self { send }, Driver { conn }))
    }

    /// Whether the server allows WebSockets on this connection: it sent
    /// `SETTINGS_ENABLE_CONNECT_PROTOCOL = 1` (RFC 8441 section 3).
    pub fn connect_protocol_enabled(&self) -> bool {
        self.send.is_extended_connect_protocol_enabled()
    }
}

/// Opens a WebSocket to `url` (`ws://` over h2c, `wss://` over TLS: the scheme only
/// sets `:scheme`, the connection is `client`'s) with `options` and the default
/// I/O buffers: see [`connect_with`].
pub async fn connect(client: &Client, url: &str, options: Options) -> Result<WebSocket, Error> {
    connect_with(client, url, ClientConfig::new(options)).await
}

/// Opens a WebSocket to `url` as a new stream of `client`'s connection: sends the
/// extended `CONNECT` (`:protocol websocket`, the subprotocols, the extensions'
/// offer, `config.options.headers`), waits for the answer (at most
/// `Options::handshake_timeout`) and checks it.
///
/// Fails with [`Error::ConnectProtocolDisabled`] when the server does not allow
/// extended `CONNECT`, and with [`Error::Handshake`] for an invalid URL or options,
/// a status other than 200 (`ResponseError::UnexpectedStatus`), a subprotocol we
/// did not offer, or extensions we cannot activate.
pub async fn connect_with(
    client: &Client,
    url: &str,
    config: ClientConfig,
) -> Result<WebSocket, Error> {
    if !client.connect_protocol_enabled() {
        return Err(Error::ConnectProtocolDisabled);
    }
    let connect = Connection::extended_connect(url, &config.options)?;
    let mut request = connect
        .to_http_request()
        .map_err(|e| Error::Handshake(wsd_core::Error::Handshake(e)))?;
    request
        .extensions_mut()
        .insert(Protocol::from_static(PROTOCOL));
    let mut send = client.send.clone().ready().await?;
    let (response, stream) = send.send_request(request, false)?;
    let response = match config.options.handshake_timeout {
        Some(limit) => tokio::time::timeout(limit, response)
            .await
            .map_err(|_| Error::Handshake(wsd_core::Error::HandshakeTimeout))?,
        None => response.await,
    }?;
    let (parts, body) = response.into_parts();
    let conn = Connection::extended_connect_opened(
        &connect,
        parts.status.as_u16(),
        Headers::from(&parts.headers),
        config.options,
    )?;
    Ok(WebSocket::from_connection(
        conn,
        H2Stream::new(stream, body),
        TokioTimer::default(),
        config.io,
    ))
}
