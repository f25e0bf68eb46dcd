//! [`WebSocket::split`]: a reading half and a writing half for two tasks.
//!
//! Both halves hold the WebSocket behind one mutex, taken only inside a poll (never
//! across an `.await`), so neither half can block the other for longer than one
//! step of the loop. Each half leaves its waker behind when it waits, and a half
//! that changes what the other waits for wakes it: a write that drains the output
//! wakes a reader stopped by backpressure, a close queued by the writer wakes the
//! reader (which arms the close timer), and the end of the connection wakes a
//! writer waiting for room.

use core::fmt;
use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures_core::Stream;
use futures_sink::Sink;
use wsd_core::{CloseCode, Message};

use crate::{Error, Timer, Transport, WebSocket};

/// The WebSocket both halves share, and who waits on it.
struct Shared<T, Z> {
    ws: WebSocket<T, Z>,
    reader: Option<Waker>,
    writer: Option<Waker>,
    /// The reader last stopped because the output was over its bound: only a write
    /// can let it go on.
    reader_blocked_on_output: bool,
}

type Handle<T, Z> = Arc<Mutex<Shared<T, Z>>>;

fn lock<T, Z>(handle: &Handle<T, Z>) -> MutexGuard<'_, Shared<T, Z>> {
    // A panic in another half's poll leaves the WebSocket as consistent as any
    // early return would: go on with it.
    handle.lock().unwrap_or_else(PoisonError::into_inner)
}

fn wake(waker: &mut Option<Waker>) {
    if let Some(waker) = waker.take() {
        waker.wake();
    }
}

/// The reading half of a [`WebSocket`]: a `Stream` of received messages.
///
/// It yields every message the peer sends, then `Message::Close` exactly once, and
/// ends. Pings are answered while it is polled, so keep polling it even when only
/// the writing half has work to do.
pub struct ReadHalf<T, Z> {
    shared: Handle<T, Z>,
}

/// The writing half of a [`WebSocket`]: a `Sink` of messages, with the same
/// [`send`](Self::send) / [`feed`](Self::feed) / [`flush`](Self::flush) /
/// [`close`](Self::close) as the whole WebSocket.
pub struct WriteHalf<T, Z> {
    shared: Handle<T, Z>,
}

/// [`ReadHalf::reunite`] was given the halves of two different WebSockets.
pub struct ReuniteError<T, Z>(pub ReadHalf<T, Z>, pub WriteHalf<T, Z>);

impl<T, Z> WebSocket<T, Z> {
    /// Splits the WebSocket into a writing and a reading half, each usable from its
    /// own task (`T` and `Z` must be `Send` for that). [`ReadHalf::reunite`] puts
    /// them back together.
    ///
    /// The order is that of `futures::StreamExt::split` (sink first), so
    /// `let (mut write, mut read) = ws.split();` reads as it does with
    /// tokio-tungstenite. `StreamExt::split` works too (call it as
    /// `StreamExt::split(ws)`: this method shadows it); these halves add the async
    /// methods (`next_message`, `send`, `feed`, `close`) and take no lock across an
    /// `.await`.
    ///
    /// ```
    /// use wsd_io::{Error, Message, Timer, Transport, WebSocket};
    ///
    /// async fn chat<T, Z>(ws: WebSocket<T, Z>) -> Result<(), Error>
    /// where
    ///     T: Transport + Send + 'static,
    ///     Z: Timer + Send + 'static,
    /// {
    ///     let (mut writer, mut reader) = ws.split();
    ///     // In real code each loop runs in its own task.
    ///     writer.send(Message::text("hello")).await?;
    ///     while let Some(message) = reader.next_message().await {
    ///         println!("{:?}", message?);
    ///     }
    ///     Ok(())
    /// }
    /// ```
    pub fn split(self) -> (WriteHalf<T, Z>, ReadHalf<T, Z>) {
        let shared = Arc::new(Mutex::new(Shared {
            ws: self,
            reader: None,
            writer: None,
            reader_blocked_on_output: false,
        }));
        let writer = WriteHalf {
            shared: Arc::clone(&shared),
        };
        (writer, ReadHalf { shared })
    }
}

impl<T: Transport, Z: Timer> ReadHalf<T, Z> {
    /// The next message; `None` once the stream ended. Cancel safe.
    pub async fn next_message(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_next_message(cx)).await
    }

    fn poll_next_message(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let mut shared = lock(&self.shared);
        let before = shared.ws.connection().buffered_amount();
        let item = shared.ws.poll_next_inner(cx);
        let after = shared.ws.connection().buffered_amount();
        shared.reader_blocked_on_output =
            item.is_pending() && after > shared.ws.config().max_write_buffer_size;
        if item.is_pending() {
            shared.reader = Some(cx.waker().clone());
        }
        // Room in the output, or the end: a writer waiting for either goes on.
        if after < before || !shared.ws.is_running() {
            wake(&mut shared.writer);
        }
        item
    }
}

impl<T, Z> ReadHalf<T, Z> {
    /// True when `writer` is the other half of the same WebSocket.
    pub fn is_pair_of(&self, writer: &WriteHalf<T, Z>) -> bool {
        Arc::ptr_eq(&self.shared, &writer.shared)
    }

    /// Puts the two halves back together.
    pub fn reunite(self, writer: WriteHalf<T, Z>) -> Result<WebSocket<T, Z>, ReuniteError<T, Z>> {
        if !self.is_pair_of(&writer) {
            return Err(ReuniteError(self, writer));
        }
        drop(writer);
        match Arc::try_unwrap(self.shared) {
            Ok(mutex) => Ok(mutex
                .into_inner()
                .unwrap_or_else(PoisonError::into_inner)
                .ws),
            // Unreachable: the pair held the only two references and one is gone.
            Err(shared) => {
                let reader = Self {
                    shared: Arc::clone(&shared),
                };
                Err(ReuniteError(reader, WriteHalf { shared }))
            }
        }
    }
}

impl<T: Transport, Z: Timer> WriteHalf<T, Z> {
    /// Queues `message` and writes and flushes everything queued, as
    /// [`WebSocket::send`].
    pub async fn send(&mut self, message: Message) -> Result<(), Error> {
        self.feed(message).await?;
        self.flush().await
    }

    /// Queues `message` without flushing, waiting while the output queue is full, as
    /// [`WebSocket::feed`].
    pub async fn feed(&mut self, message: Message) -> Result<(), Error> {
        poll_fn(|cx| self.poll_ready_half(cx)).await?;
        self.start_send_half(message)
    }

    /// Writes and flushes everything queued. Cancel safe.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.poll_flush_half(cx)).await
    }

    /// Sends a close frame and flushes it, as [`WebSocket::close`]; the reading half
    /// then yields what the peer still sends and its close.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), Error> {
        let reason = reason.to_owned();
        self.start_send_half(Message::Close(Some(wsd_core::CloseFrame { code, reason })))?;
        self.flush().await
    }

    /// Runs one step of the writing side with the lock held, then wakes the reader
    /// when it waits for what the step did.
    fn with<R>(
        &mut self,
        cx: &mut Context<'_>,
        step: impl FnOnce(&mut WebSocket<T, Z>, &mut Context<'_>) -> Poll<R>,
    ) -> Poll<R> {
        let mut shared = lock(&self.shared);
        let before = shared.ws.connection().buffered_amount();
        let result = step(&mut shared.ws, cx);
        if result.is_pending() {
            shared.writer = Some(cx.waker().clone());
        }
        let after = shared.ws.connection().buffered_amount();
        if after < before && shared.reader_blocked_on_output {
            wake(&mut shared.reader);
        }
        result
    }

    fn poll_ready_half(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with(cx, WebSocket::poll_ready_inner)
    }

    fn start_send_half(&mut self, message: Message) -> Result<(), Error> {
        let closing = message.is_close();
        let mut shared = lock(&self.shared);
        let result = shared.ws.start_send_inner(message);
        if closing {
            // The reader arms the close timer when it next looks at the connection.
            wake(&mut shared.reader);
        }
        result
    }

    fn poll_flush_half(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with(cx, |ws, cx| ws.poll_write_out(cx).map_err(Error::Io))
    }

    fn poll_close_half(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let result = self.with(cx, WebSocket::poll_close_inner);
        wake(&mut lock(&self.shared).reader);
        result
    }
}

impl<T: Transport, Z: Timer> Stream for ReadHalf<T, Z> {
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_next_message(cx)
    }
}

impl<T: Transport, Z: Timer> Sink<Message> for WriteHalf<T, Z> {
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_ready_half(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().start_send_half(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_flush_half(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().poll_close_half(cx)
    }
}

impl<T, Z> fmt::Debug for ReadHalf<T, Z> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<T, Z> fmt::Debug for WriteHalf<T, Z> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

impl<T, Z> fmt::Debug for ReuniteError<T, Z> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<T, Z> fmt::Display for ReuniteError<T, Z> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the halves belong to different WebSockets")
    }
}

impl<T, Z> std::error::Error for ReuniteError<T, Z> {}
