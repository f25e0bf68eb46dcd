//! The async-io reactor for smol and async-std (feature `async-io`): [`AsyncIoTimer`],
//! its timer, and [`AsyncIoTcp`], a TCP stream on it as a readiness-based
//! [`Transport`].

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Instant;

use async_io::Async;
use bytes::BytesMut;

use crate::{Timer, Transport};

/// The largest read that goes through the thread's scratch buffer: the I/O loop's
/// usual read size.
const SCRATCH_SIZE: usize = 64 * 1024;

std::thread_local! {
    /// Initialised memory that [`AsyncIoTcp`] reads into before copying what came
    /// to the connection's buffer: safe Rust cannot read into uninitialised memory,
    /// and zero-filling 64 KiB for a message of a few bytes is most of its cost.
    /// One per thread that reads, allocated on its first read.
    static SCRATCH: core::cell::RefCell<Option<Box<[u8]>>> = const { core::cell::RefCell::new(None) };
}

/// The [`Timer`] of smol and async-std, which both run on the async-io reactor. The
/// reactor's timer is allocated only while a deadline exists, and reset in place
/// when the deadline moves.
///
/// ```
/// use wsd_io::{AsyncIoTimer, Timer};
/// let timer = AsyncIoTimer::default();
/// assert!(timer.now() <= std::time::Instant::now());
/// ```
#[derive(Debug, Default)]
pub struct AsyncIoTimer(Option<(Instant, async_io::Timer)>);

impl Timer for AsyncIoTimer {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn poll_deadline(&mut self, cx: &mut Context<'_>, deadline: Option<Instant>) -> Poll<()> {
        let Some(deadline) = deadline else {
            self.0 = None;
            return Poll::Pending;
        };
        let (at, timer) = self
            .0
            .get_or_insert_with(|| (deadline, async_io::Timer::at(deadline)));
        if *at != deadline {
            *at = deadline;
            timer.set_at(deadline);
        }
        Pin::new(timer).poll(cx).map(drop)
    }
}

/// A TCP stream registered with the async-io reactor (what smol's and async-std's
/// `TcpStream`s are underneath) as a [`Transport`] that waits for input the way
/// tokio does: after a read that returned less than it asked for, the socket is
/// taken to be empty and the next read first waits for the reactor to report it
/// readable.
///
/// A futures-io stream can only be read by trying: its `poll_read` makes a system
/// call that fails with `EAGAIN` before every wait. With one message in flight that
/// is a second `recv` per message; this transport makes one. And a futures-io read
/// needs initialised memory, so the loop zero-fills its buffer before each read;
/// this transport reads into a per-thread scratch buffer (64 KiB, initialised
/// once) and copies what came, so a 16-byte message costs a 16-byte copy rather
/// than kilobytes of zeroes. Reads larger than that (the body of a large frame)
/// zero-fill the room in place as before.
///
/// `wsd_smol::tcp_transport` and `wsd_async_std::tcp_transport` make one from their
/// runtime's stream; with the `futures-io` feature it is also a futures-io stream,
/// which TLS libraries can wrap.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use async_io::Async;
/// let listener = Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 9001))?;
/// let (stream, _) = listener.accept().await?;
/// stream.get_ref().set_nodelay(true)?;
/// let ws = wsd_io::accept(wsd_io::AsyncIoTcp::from(stream), wsd_io::AsyncIoTimer::default()).await;
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct AsyncIoTcp {
    stream: Arc<Async<TcpStream>>,
    /// Whether the socket may hold input: set when the reactor reports it
    /// readable (and at first), cleared by a read that came back short or would
    /// have blocked.
    readable: bool,
}

impl AsyncIoTcp {
    /// The stream, shared with whoever else holds it.
    pub fn get_ref(&self) -> &Arc<Async<TcpStream>> {
        &self.stream
    }

    /// The stream back.
    pub fn into_inner(self) -> Arc<Async<TcpStream>> {
        self.stream
    }

    /// Waits until the socket may hold input (or its end), unless a read said so
    /// already.
    fn poll_input(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.readable {
            ready!(self.stream.poll_readable(cx))?;
            self.readable = true;
        }
        Poll::Ready(Ok(()))
    }

    /// Reads once the socket may hold input. A short read means the kernel had no
    /// more: the next read waits for the reactor instead of failing with `EAGAIN`.
    fn poll_read_ready(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.poll_input(cx))?;
            match (&mut self.stream.get_ref()).read(buf) {
                Ok(n) => {
                    self.readable = n == buf.len() && n > 0;
                    return Poll::Ready(Ok(n));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => self.readable = false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
    }

    /// Writes with `write` once the socket takes output, as async-io's own
    /// streams do: try first, wait for the reactor only when the kernel's buffer is
    /// full.
    fn poll_output(
        &self,
        cx: &mut Context<'_>,
        mut write: impl FnMut(&mut &TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            match write(&mut self.stream.get_ref()) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => return Poll::Ready(result),
            }
            ready!(self.stream.poll_writable(cx))?;
        }
    }

    fn poll_write_ready(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_output(cx, |stream| stream.write(buf))
    }

    fn poll_write_vectored_ready(
        &self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_output(cx, |stream| stream.write_vectored(bufs))
    }

    /// Shuts the write side down (a FIN); TCP has nothing to flush first.
    fn shutdown_write(&self) -> Poll<io::Result<()>> {
        Poll::Ready(self.stream.get_ref().shutdown(Shutdown::Write))
    }
}

impl From<Arc<Async<TcpStream>>> for AsyncIoTcp {
    fn from(stream: Arc<Async<TcpStream>>) -> Self {
        Self {
            stream,
            readable: true,
        }
    }
}

impl From<Async<TcpStream>> for AsyncIoTcp {
    fn from(stream: Async<TcpStream>) -> Self {
        Arc::new(stream).into()
    }
}

impl Transport for AsyncIoTcp {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        self.poll_read_ready(cx, buf)
    }

    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        // Wait first: preparing room for a read that would block is waste.
        ready!(self.poll_input(cx))?;
        if max <= SCRATCH_SIZE {
            // Into the thread's scratch buffer, initialised once, then the bytes that
            // came are copied over: no zero-filling of room the read does not use,
            // which for small messages costs far more than the copy.
            return SCRATCH.with_borrow_mut(|scratch| {
                let scratch = scratch.get_or_insert_with(|| vec![0; SCRATCH_SIZE].into());
                let room = scratch.get_mut(..max).unwrap_or_default();
                let result = self.poll_read_ready(cx, room);
                if let Poll::Ready(Ok(n)) = result {
                    buf.extend_from_slice(room.get(..n).unwrap_or_default());
                }
                result
            });
        }
        // A large read (the body of a large frame) is zero-filled in place: that
        // costs what the copy would, and the payload stays where it was read.
        crate::read_zero_filled(buf, max, |room| self.poll_read_ready(cx, room))
    }

    fn read_zero_fills(&self) -> bool {
        // Reads of up to the scratch size cost what arrived, not what was asked for.
        false
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.poll_write_ready(cx, buf)
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_ready(cx, bufs)
    }

    fn poll_flush(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(&mut self, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shutdown_write()
    }
}

/// The same stream for futures-io users: TLS libraries (futures-rustls) wrap it,
/// and its reads wait for readiness as the [`Transport`]'s do.
#[cfg(feature = "futures-io")]
impl futures_io::AsyncRead for AsyncIoTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_read_ready(cx, buf)
    }
}

#[cfg(feature = "futures-io")]
impl futures_io::AsyncWrite for AsyncIoTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_ready(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored_ready(cx, bufs)
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shutdown_write()
    }
}

#[cfg(test)]
mod tests {
    use core::future::poll_fn;
    use std::net::TcpListener;
    use std::time::Duration;

    use super::*;

    /// The transport under test and a plain blocking peer, connected over loopback.
    fn pair() -> (AsyncIoTcp, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let peer = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (ours, _) = listener.accept().unwrap();
        (AsyncIoTcp::from(Async::new(ours).unwrap()), peer)
    }

    fn poll_once<T>(f: impl FnOnce(&mut Context<'_>) -> Poll<T>) -> Poll<T> {
        f(&mut Context::from_waker(
            futures_util::task::noop_waker_ref(),
        ))
    }

    async fn read(tcp: &mut AsyncIoTcp, buf: &mut [u8]) -> usize {
        poll_fn(|cx| Transport::poll_read(tcp, cx, buf))
            .await
            .unwrap()
    }

    #[test]
    fn after_a_short_read_the_next_read_waits_for_the_reactor_and_wakes_on_input() {
        async_io::block_on(async {
            let (mut tcp, mut peer) = pair();
            peer.write_all(b"hello").unwrap();
            let mut buf = [0; 64];
            let n = read(&mut tcp, &mut buf).await;
            assert_eq!(&buf[..n], &b"hello"[..n]);
            assert!(!tcp.readable, "a short read means the socket is drained");
            let mut rest = [0; 64];
            assert!(poll_once(|cx| Transport::poll_read(&mut tcp, cx, &mut rest)).is_pending());

            // Input arriving while the task waits wakes it through the reactor.
            let writer = std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                peer.write_all(b" world").unwrap();
                peer
            });
            let mut got = buf[..n].to_vec();
            while got.len() < 11 {
                let n = read(&mut tcp, &mut buf).await;
                got.extend_from_slice(&buf[..n]);
            }
            assert_eq!(got, b"hello world");
            drop(writer.join().unwrap());
        });
    }

    #[test]
    fn a_read_that_fills_its_buffer_reads_on_without_waiting() {
        async_io::block_on(async {
            let (mut tcp, mut peer) = pair();
            let sent: Vec<u8> = (0..128).collect();
            peer.write_all(&sent).unwrap();
            // Wait until all of it is there, so each read below is one system call.
            std::thread::sleep(Duration::from_millis(20));
            let mut first = [0; 64];
            assert_eq!(read(&mut tcp, &mut first).await, 64);
            assert!(tcp.readable, "a full read may have left more behind");
            let mut second = [0; 64];
            let n = poll_once(|cx| Transport::poll_read(&mut tcp, cx, &mut second));
            assert!(matches!(n, Poll::Ready(Ok(64))), "{n:?}");
            assert_eq!([first, second].concat(), sent);
        });
    }

    #[test]
    fn a_read_buffer_is_not_filled_while_the_socket_waits() {
        async_io::block_on(async {
            let (mut tcp, mut peer) = pair();
            peer.write_all(b"x").unwrap();
            let mut buf = BytesMut::new();
            let n = poll_fn(|cx| tcp.poll_read_buf(cx, &mut buf, 4096))
                .await
                .unwrap();
            assert_eq!(&buf[..], &b"x"[..n]);
            let mut idle = BytesMut::new();
            let polled = poll_once(|cx| tcp.poll_read_buf(cx, &mut idle, 4096));
            assert!(polled.is_pending());
            assert_eq!(
                idle.capacity(),
                0,
                "no room was zero-filled for a read that waits"
            );
        });
    }

    #[test]
    fn small_and_large_reads_append_exactly_what_arrived() {
        async_io::block_on(async {
            let (mut tcp, mut peer) = pair();
            let mut buf = BytesMut::from(&b"kept"[..]);
            peer.write_all(b"small").unwrap();
            let n = poll_fn(|cx| tcp.poll_read_buf(cx, &mut buf, 1024))
                .await
                .unwrap();
            assert_eq!(&buf[..], &b"keptsmall"[..4 + n]);
            assert!(
                buf.capacity() < SCRATCH_SIZE,
                "a small read reserves what it got"
            );

            // Larger than the scratch buffer: read in place.
            let large: Vec<u8> = (0..SCRATCH_SIZE * 2).map(|i| i as u8).collect();
            let writer = std::thread::spawn(move || peer.write_all(&large).map(|()| large));
            let mut got = BytesMut::new();
            while got.len() < SCRATCH_SIZE * 2 {
                let want = SCRATCH_SIZE * 2 - got.len();
                poll_fn(|cx| tcp.poll_read_buf(cx, &mut got, want.max(SCRATCH_SIZE + 1)))
                    .await
                    .unwrap();
            }
            assert_eq!(&got[..], &writer.join().unwrap().unwrap()[..]);
        });
    }

    #[test]
    fn writes_arrive_and_shutdown_ends_the_peers_input_while_eof_reads_as_zero() {
        async_io::block_on(async {
            let (mut tcp, mut peer) = pair();
            let bufs = [IoSlice::new(b"vec"), IoSlice::new(b"tored")];
            let n = poll_fn(|cx| tcp.poll_write_vectored(cx, &bufs))
                .await
                .unwrap();
            assert_eq!(n, 8);
            poll_fn(|cx| tcp.poll_flush(cx)).await.unwrap();
            poll_fn(|cx| Transport::poll_shutdown(&mut tcp, cx))
                .await
                .unwrap();
            let mut got = Vec::new();
            peer.read_to_end(&mut got).unwrap();
            assert_eq!(got, b"vectored");

            peer.shutdown(Shutdown::Write).unwrap();
            let mut buf = [0; 8];
            assert_eq!(read(&mut tcp, &mut buf).await, 0);
            assert_eq!(read(&mut tcp, &mut buf).await, 0, "EOF stays readable");
        });
    }
}
