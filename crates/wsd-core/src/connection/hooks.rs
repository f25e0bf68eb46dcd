//! The adapter hooks: the part of [`Connection`]'s API for the loop that owns the
//! transport (reading straight into the buffer, vectored writes, freeing idle
//! buffers, skipping the clock).

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::BytesMut;

use super::Connection;
use super::state::State;

/// The read size while the opening handshake is under way, until more has arrived.
const HANDSHAKE_READ: usize = 256;

/// Room beyond twice the waiting input that [`Connection::release_buffers`] lets an
/// idle connection keep.
const SHRINK_SLACK: usize = 4096;

/// Inside a large frame, a buffer with less room than this grows, by a read of at
/// most what it holds plus this; with more, the read fills that room. Half of
/// [`SHRINK_SLACK`], so a buffer grown this way never has the room that makes
/// [`Connection::release_buffers`] move its input: growing at most doubles the
/// capacity or makes it the input plus the read, both below twice the input plus
/// twice this.
const GROW_BELOW: usize = SHRINK_SLACK / 2;

/// Adapter hooks: for the loop that owns the transport (see "Adapter hooks" in
/// [`Connection`]'s docs); an application driving a connection by hand does not need
/// them.
impl Connection {
    /// Reads input straight into the connection's buffer, saving the copy
    /// [`handle_input`](Self::handle_input) makes. `read` gets the buffer, which
    /// holds the input not parsed yet, and appends what the transport gives (ask
    /// [`read_size`](Self::read_size) how much). Appending is the only change it may
    /// make: anything else reads as if the peer had sent other bytes. Returns what
    /// `read` returns. Input after the connection closed is dropped.
    ///
    /// ```
    /// # use wsd_core::{Connection, Event, Options};
    /// let mut server = Connection::server(Options::default());
    /// let request = b"GET / HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
    ///     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
    ///     Sec-WebSocket-Version: 13\r\n\r\n";
    /// let mut transport = &request[..]; // any reader
    /// let size = server.read_size(4096);
    /// let n = server.read_input(|buf| {
    ///     let n = transport.len().min(size);
    ///     buf.extend_from_slice(&transport[..n]);
    ///     n
    /// });
    /// assert_eq!(n, request.len());
    /// assert_eq!(server.poll_event(), Some(Event::Request));
    /// ```
    pub fn read_input<R>(&mut self, read: impl FnOnce(&mut BytesMut) -> R) -> R {
        let before = self.recv.len();
        let result = read(&mut self.recv);
        if self.is_closed() {
            self.recv.truncate(before);
        } else if self.recv.len() > before {
            self.note_heard();
        }
        result
    }

    /// How many bytes the next read into [`read_input`](Self::read_input) should
    /// ask for, given the caller's `usual` read size:
    ///
    /// - more while a large frame arrives: up to the rest of the frame, but only the
    ///   room the buffer has, or when it is nearly full, as much as it holds and
    ///   2 KiB more, so the buffer grows only with what the peer really sent, about
    ///   doubling (a 1 MiB message takes five reads, not 16 of 64 KiB). Its capacity then stays
    ///   within about twice its input, so a frame that trickles in is never moved
    ///   to a smaller buffer by [`release_buffers`](Self::release_buffers) and
    ///   grown again by the next read;
    /// - less for the tail of a frame of at least half the usual size: just its rest.
    ///   Its payload leaves as a `Bytes` that shares the buffer, and while the
    ///   application or the output queue holds it, the next read needs a new
    ///   buffer; ending the read at the frame's end leaves nothing there to copy
    ///   over (with 64 KiB reads of 64 KiB messages, a read past the end carried
    ///   almost a whole next frame);
    /// - while the opening handshake runs, 256 bytes or as much as has arrived, so a head
    ///   sent a byte at a time never sits in a 64 KiB buffer;
    /// - `usual` otherwise.
    ///
    /// ```
    /// # use wsd_core::{Connection, Options};
    /// let server = Connection::server(Options::default());
    /// assert_eq!(server.read_size(64 * 1024), 256); // the request head
    /// ```
    pub fn read_size(&self, usual: usize) -> usize {
        match &self.state {
            State::Open(session) | State::Closing(session) => {
                let wanted = session.framing.read_size(self.recv.len(), usual);
                if wanted <= usual {
                    return wanted;
                }
                // The rest of a large frame.
                let room = self.recv.capacity() - self.recv.len();
                if room >= GROW_BELOW {
                    wanted.min(room)
                } else {
                    // Up to what it holds and a little more, so a frame whose end
                    // lies just past a doubling (its header took a few bytes) does
                    // not double the buffer once more for its last bytes.
                    wanted.min(self.recv.len().max(GROW_BELOW) + GROW_BELOW)
                }
            }
            // An HTTP head is small and may arrive a byte at a time (slowloris):
            // ask for as much as has arrived, so the buffer of a connection still
            // in its handshake stays within twice its input plus one small read.
            _ => usual.min(HANDSHAKE_READ.max(self.recv.len())),
        }
    }

    /// Frees the input and output buffers if they are empty, so an idle connection
    /// holds neither. Adapters call it when the transport has nothing to read and
    /// the output is written; the next read allocates again.
    ///
    /// Input that waits for the rest of its frame or head keeps a buffer, but not a
    /// large one mostly empty: when the buffer could hold far more than what it
    /// holds (a read sized for a burst brought a few bytes), the input moves to a
    /// buffer of its own size. A connection whose peer trickles bytes in then holds
    /// about what it was sent, not a whole read buffer.
    ///
    /// ```
    /// # use wsd_core::{Connection, Options};
    /// let mut server = Connection::server(Options::default());
    /// server.read_input(|buf| {
    ///     buf.reserve(64 * 1024);
    ///     buf.extend_from_slice(b"GET / HT");
    /// });
    /// server.release_buffers();
    /// server.read_input(|buf| assert!(buf.capacity() < 1024));
    /// ```
    pub fn release_buffers(&mut self) {
        if self.recv.is_empty() {
            // Even at no capacity: that counts from where the input starts, so a
            // buffer whose bytes all left as a message reports none and may still
            // hold its allocation.
            self.recv = BytesMut::new();
        } else if self.recv.capacity() > SHRINK_SLACK + 2 * self.recv.len() {
            self.recv = BytesMut::from(&self.recv[..]);
        }
        self.out.queue.release_if_empty(0);
        if self.events.is_empty() && self.events.capacity() > 0 {
            // Events other than messages (the request, open, pings) are rare;
            // their queue is not worth keeping while idle.
            self.events = VecDeque::new();
        }
    }

    /// Whether a timer is running or waits to be armed: when false,
    /// [`poll_timeout`](Self::poll_timeout) would return `None` and the adapter can
    /// skip reading the clock (it does so once or twice per message otherwise).
    pub fn has_timers(&self) -> bool {
        !self.timers.is_idle()
    }

    /// Fills `slices` with the runs of pending output, in order, for a vectored write
    /// (`writev`); returns how many it filled. Together they are the first bytes of
    /// the output (all of it when `slices` has room).
    ///
    /// ```
    /// # use wsd_core::{Connection, Options};
    /// # use std::io::IoSlice;
    /// let mut client = Connection::client("ws://example.com/", Options::default()).unwrap();
    /// client.start().unwrap();
    /// let mut slices = [IoSlice::new(&[]); 8];
    /// let n = client.pending_output_vectored(&mut slices);
    /// let total: usize = slices[..n].iter().map(|s| s.len()).sum();
    /// assert_eq!(total, client.buffered_amount());
    /// ```
    pub fn pending_output_vectored<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        self.out.queue.slices(slices)
    }
}
