//! [`H2Stream`]: one HTTP/2 stream as the byte stream a WebSocket runs over.

use core::task::{Context, Poll, ready};
use std::io::{self, IoSlice};

use bytes::{Bytes, BytesMut};
use h2::{Reason, RecvStream, SendStream};

/// The most send capacity one write asks HTTP/2 for. Capacity a stream reserves
/// is taken from the connection's window for it alone, so a write of a 16 MiB
/// message asks for a slice at a time rather than starving the other streams.
const MAX_RESERVE: usize = 1024 * 1024;

/// One HTTP/2 stream (an extended `CONNECT` that was answered 200) as a
/// [`wsd_io::Transport`]: reads are the stream's DATA frames, writes become DATA
/// frames, shutting down sends END_STREAM.
///
/// HTTP/2 flow control is the backpressure, in both directions:
///
/// - **Reading**: the receive window is given back to the peer (`WINDOW_UPDATE`)
///   only for bytes the WebSocket has taken, and the WebSocket reads only while
///   its application reads messages. A WebSocket whose reader stalls leaves at most
///   its stream's window (`H2Config::stream_window`) unread; the peer then waits,
///   while the other streams of the connection go on.
/// - **Writing**: a write takes only the send capacity the peer's windows grant
///   (waiting for it), so a peer that does not read holds our writes back instead
///   of growing a buffer.
///
/// A `RST_STREAM` from the peer ends the read side like a lost connection: the
/// WebSocket reports close code 1006 ([`reset_reason`](Self::reset_reason) says
/// why); writes then fail with `ConnectionReset`. An error of the whole HTTP/2
/// connection is an I/O error (its `source()` is the `h2::Error`).
///
/// Dropping the stream before both sides ended it resets it (`RST_STREAM`
/// `CANCEL`), as h2 does for every stream its owner drops.
#[derive(Debug)]
pub struct H2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// The rest of the last DATA frame, not yet handed to the WebSocket.
    pending: Bytes,
    /// The stream was reset, by the peer or by us.
    reset: Option<Reason>,
    /// We sent END_STREAM.
    ended: bool,
    /// The peer sent END_STREAM (or reset the stream).
    read_eof: bool,
}

impl H2Stream {
    /// A stream from h2's two halves: `send` to write our DATA, `recv` to read the
    /// peer's.
    ///
    /// [`Incoming::accept`](crate::Incoming::accept) and
    /// [`connect`](crate::connect) make these; this is for callers that run the
    /// extended `CONNECT` on h2 themselves.
    pub fn new(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        Self {
            send,
            recv,
            pending: Bytes::new(),
            reset: None,
            ended: false,
            read_eof: false,
        }
    }

    /// The HTTP/2 stream id.
    pub fn stream_id(&self) -> u32 {
        self.send.stream_id().as_u32()
    }

    /// The reason of the `RST_STREAM` that ended the stream, the peer's or ours.
    pub fn reset_reason(&self) -> Option<Reason> {
        self.reset
    }

    /// Resets the stream (`RST_STREAM` with `reason`): both directions end at
    /// once, with no closing handshake, and the peer's WebSocket reports 1006. For
    /// abandoning a WebSocket whose peer does not answer; a normal end is
    /// [`WebSocket::close`](wsd_io::WebSocket::close).
    pub fn send_reset(&mut self, reason: Reason) {
        self.reset.get_or_insert(reason);
        self.read_eof = true;
        self.send.send_reset(reason);
    }

    /// Received bytes the WebSocket has not taken yet: what the peer sent beyond
    /// the window given back. It stays within the stream's receive window, however
    /// long the application leaves the WebSocket unread.
    pub fn unread(&mut self) -> usize {
        // h2 counts what arrived and was not released, which includes `pending`.
        self.recv.flow_control().used_capacity()
    }

    /// Copies up to `max` received bytes into `sink`, giving their window back.
    /// `Ok(0)`: the peer ended (or reset) the stream.
    fn poll_fill(
        &mut self,
        cx: &mut Context<'_>,
        max: usize,
        mut sink: impl FnMut(&[u8]),
    ) -> Poll<io::Result<usize>> {
        let mut filled = 0;
        while filled < max {
            if self.pending.is_empty() {
                if self.read_eof {
                    break;
                }
                let polled = self.recv.poll_data(cx);
                match polled {
                    Poll::Ready(Some(Ok(data))) => self.pending = data,
                    Poll::Ready(None) => self.read_eof = true,
                    Poll::Ready(Some(Err(e))) => match e.reason().filter(|_| e.is_reset()) {
                        Some(reason) => {
                            self.reset = Some(reason);
                            self.read_eof = true;
                        }
                        None if filled > 0 => break,
                        None => return Poll::Ready(Err(h2_to_io(e))),
                    },
                    Poll::Pending if filled > 0 => break,
                    Poll::Pending => return Poll::Pending,
                }
                continue;
            }
            let n = self.pending.len().min(max - filled);
            sink(&self.pending.split_to(n));
            filled += n;
            // The WebSocket has the bytes: the peer may send as many more. A
            // failure means the stream is gone, which the next read reports.
            let _ = self.recv.flow_control().release_capacity(n);
        }
        Poll::Ready(Ok(filled))
    }

    /// An error for a write to a stream that can take no more.
    fn closed_error(&mut self, cx: &mut Context<'_>) -> io::Error {
        if let Poll::Ready(Ok(reason)) = self.send.poll_reset(cx) {
            self.reset.get_or_insert(reason);
        }
        match self.reset {
            Some(reason) => io::Error::new(io::ErrorKind::ConnectionReset, h2::Error::from(reason)),
            None => io::ErrorKind::BrokenPipe.into(),
        }
    }
}

impl wsd_io::Transport for H2Stream {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        let mut at = 0;
        self.poll_fill(cx, buf.len(), |bytes| {
            buf[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        })
    }

    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        self.poll_fill(cx, max, |bytes| buf.extend_from_slice(bytes))
    }

    /// Reads append to the buffer: nothing is zero-filled.
    fn read_zero_fills(&self) -> bool {
        false
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    /// Writes as much of `bufs` as the peer's windows allow, as one DATA chunk: the
    /// bytes are copied anyway (h2 owns what it sends), so a frame header and its
    /// payload go out together.
    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        if self.ended || self.reset.is_some() {
            return Poll::Ready(Err(self.closed_error(cx)));
        }
        loop {
            self.send.reserve_capacity(total.min(MAX_RESERVE));
            let capacity = self.send.capacity().min(total);
            if capacity > 0 {
                let mut chunk = BytesMut::with_capacity(capacity);
                for buf in bufs {
                    let room = capacity - chunk.len();
                    chunk.extend_from_slice(&buf[..buf.len().min(room)]);
                    if chunk.len() == capacity {
                        break;
                    }
                }
                if let Err(e) = self.send.send_data(chunk.freeze(), false) {
                    return Poll::Ready(Err(h2_to_io(e)));
                }
                return Poll::Ready(Ok(capacity));
            }
            match ready!(self.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(h2_to_io(e))),
                None => return Poll::Ready(Err(self.closed_error(cx))),
            }
        }
    }

    /// h2 writes what it was given from the connection's task: nothing waits here.
    fn poll_flush(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Sends END_STREAM: the end of the WebSocket's closing handshake, where TCP
    /// would send FIN.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.ended {
            return Poll::Ready(Ok(()));
        }
        self.ended = true;
        // Nothing more will be written: give back what was reserved.
        self.send.reserve_capacity(0);
        match self.send.send_data(Bytes::new(), true) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(_) => Poll::Ready(Err(self.closed_error(cx))),
        }
    }
}

/// An h2 error as an I/O error: its own I/O error when it has one, else the h2
/// error as the source of a `ConnectionAborted` (or `ConnectionReset` for a reset).
pub(crate) fn h2_to_io(e: h2::Error) -> io::Error {
    if e.is_io() {
        return e
            .into_io()
            .unwrap_or_else(|| io::ErrorKind::ConnectionAborted.into());
    }
    let kind = if e.is_reset() {
        io::ErrorKind::ConnectionReset
    } else {
        io::ErrorKind::ConnectionAborted
    };
    io::Error::new(kind, e)
}
