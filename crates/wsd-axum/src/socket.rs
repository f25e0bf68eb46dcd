//! [`WebSocket`]: what [`on_upgrade`](crate::WebSocketUpgrade::on_upgrade) hands the
//! callback, with axum's methods over wsd's WebSocket.

use core::pin::Pin;
use core::task::{Context, Poll};

use futures_core::Stream;
use futures_sink::Sink;
use http::HeaderValue;
use wsd_core::{CloseCode, Message};
use wsd_hyper::{ReadHalf, WriteHalf};

use crate::Error;

/// An open WebSocket: `recv` and `send` as in axum, a `Stream` of received
/// [`Message`]s and a `Sink` of messages to send.
///
/// `send` returns once the message is written and flushed; [`feed`](Self::feed)
/// queues it so that a burst goes out in one write. Pings are answered and the
/// peer's close frame echoed by the driver; `recv` yields them as they come, then
/// `Message::Close` once, then `None`.
///
/// ```
/// use wsd_axum::{Message, WebSocket};
///
/// async fn echo(mut socket: WebSocket) {
///     while let Some(Ok(message)) = socket.recv().await {
///         if (message.is_text() || message.is_binary()) && socket.send(message).await.is_err() {
///             return;
///         }
///     }
/// }
/// ```
#[derive(Debug)]
pub struct WebSocket {
    inner: wsd_hyper::WebSocket,
    protocol: Option<HeaderValue>,
}

impl WebSocket {
    pub(crate) fn new(inner: wsd_hyper::WebSocket) -> Self {
        // The subprotocol passed `HeaderValue`'s checks already: it was sent in the 101.
        let protocol = inner.protocol().and_then(|p| HeaderValue::from_str(p).ok());
        Self { inner, protocol }
    }

    /// The next message; `None` once the connection ended. Cancel safe.
    ///
    /// ```
    /// # async fn run(mut socket: wsd_axum::WebSocket) {
    /// while let Some(Ok(message)) = socket.recv().await {
    ///     println!("{message:?}");
    /// }
    /// # }
    /// ```
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        self.inner.next_message().await
    }

    /// Sends a message and returns once it is written and flushed. Sending
    /// `Message::Close` starts the closing handshake.
    ///
    /// ```
    /// # async fn run(mut socket: wsd_axum::WebSocket) -> Result<(), wsd_axum::Error> {
    /// socket.send(wsd_axum::Message::text("hello")).await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.inner.send(message).await
    }

    /// Queues a message without flushing: it goes out with the next write (when the
    /// socket waits for input, when the queue fills, or on [`flush`](Self::flush)).
    ///
    /// ```
    /// # async fn run(mut socket: wsd_axum::WebSocket) -> Result<(), wsd_axum::Error> {
    /// for n in 0..10 {
    ///     socket.feed(wsd_axum::Message::text(n.to_string())).await?;
    /// }
    /// socket.flush().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        self.inner.feed(message).await
    }

    /// Writes and flushes everything queued.
    ///
    /// ```
    /// # async fn run(mut socket: wsd_axum::WebSocket) -> Result<(), wsd_axum::Error> {
    /// socket.flush().await?;
    /// # Ok(())
    /// # }
    /// ```
    pub async fn flush(&mut self) -> Result<(), Error> {
        self.inner.flush().await
    }

    /// Starts the closing handshake with `code` and `reason` (at most 123 bytes);
    /// keep calling [`recv`](Self::recv) until it returns `None`.
    ///
    /// ```
    /// # async fn run(mut socket: wsd_axum::WebSocket) -> Result<(), wsd_axum::Error> {
    /// socket.close(wsd_axum::CloseCode::GOING_AWAY, "restarting").await?;
    /// while let Some(Ok(_)) = socket.recv().await {}
    /// # Ok(())
    /// # }
    /// ```
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        self.inner.close(code, reason).await
    }

    /// The subprotocol chosen in the handshake, as axum gives it.
    ///
    /// ```
    /// # fn run(socket: wsd_axum::WebSocket) {
    /// if socket.protocol().is_some_and(|p| p == "graphql-ws") {
    ///     // ...
    /// }
    /// # }
    /// ```
    pub fn protocol(&self) -> Option<&HeaderValue> {
        self.protocol.as_ref()
    }

    /// The negotiated extensions (`permessage-deflate`), in order.
    ///
    /// ```
    /// # fn run(socket: wsd_axum::WebSocket) {
    /// let compressed = socket.extensions().iter().any(|e| e == "permessage-deflate");
    /// # }
    /// ```
    pub fn extensions(&self) -> Vec<String> {
        self.inner.extensions()
    }

    /// Splits the socket into a writing and a reading half for two tasks. They take
    /// no lock across an `.await`, have the async methods of the whole socket
    /// (`send`, `feed`, `close`; `next_message`), and are a `Sink` and a `Stream`,
    /// so code written for `StreamExt::split` works unchanged.
    ///
    /// ```
    /// use futures_util::StreamExt;
    /// use wsd_axum::{Message, WebSocket};
    ///
    /// async fn run(socket: WebSocket) {
    ///     let (mut sender, mut receiver) = socket.split();
    ///     tokio::spawn(async move {
    ///         let _ = sender.send(Message::text("hello")).await;
    ///     });
    ///     while let Some(Ok(message)) = receiver.next().await {
    ///         println!("{message:?}");
    ///     }
    /// }
    /// ```
    pub fn split(self) -> (WriteHalf, ReadHalf) {
        self.inner.split()
    }

    /// The wsd WebSocket underneath, for everything else it offers (the sans-I/O
    /// connection's state, buffer sizes).
    ///
    /// ```
    /// # fn run(socket: wsd_axum::WebSocket) {
    /// let ws: wsd_hyper::WebSocket = socket.into_inner();
    /// println!("{:?}", ws.connection().state());
    /// # }
    /// ```
    pub fn into_inner(self) -> wsd_hyper::WebSocket {
        self.inner
    }
}

impl Stream for WebSocket {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.get_mut().inner).poll_next(cx)
    }
}

impl Sink<Message> for WebSocket {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().inner).poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, message: Message) -> Result<(), Error> {
        Pin::new(&mut self.get_mut().inner).start_send(message)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Pin::new(&mut self.get_mut().inner).poll_close(cx)
    }
}
