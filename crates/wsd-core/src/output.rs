//! The connection's output queue: what waits for the transport.
//!
//! Frames the connection encodes (headers, control frames, small payloads, masked
//! payloads) are appended to one contiguous buffer. A large unmasked payload the
//! application handed over as [`Bytes`] is queued by reference instead, after its
//! header: an echo server sends a 1 MiB message without copying it, and the adapters
//! write header and payload together with one `writev`.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

/// Payloads from this size on are queued by reference rather than copied. Below
/// it a copy is cheaper than another `iovec`.
pub(crate) const BY_REFERENCE_FROM: usize = 2048;

/// One run of the output, in order.
#[derive(Debug)]
enum Run {
    /// The next `n` bytes of the copy buffer.
    Copied(usize),
    /// A payload queued by reference.
    Shared(Bytes),
}

/// The output: copied bytes in one buffer, and the order in which they and the
/// payloads queued by reference go out. Copied bytes after the last run are the
/// open end of the queue.
#[derive(Debug, Default)]
pub(crate) struct Output {
    /// Every copied byte not written yet, in order. Never split, so it stays one
    /// reusable allocation.
    copied: BytesMut,
    /// The runs before the open end; empty unless a payload is queued by reference.
    runs: VecDeque<Run>,
    /// The copied bytes the runs account for.
    copied_in_runs: usize,
    /// The bytes in shared runs.
    shared_len: usize,
}

impl Output {
    /// Bytes waiting to be written.
    pub(crate) fn len(&self) -> usize {
        self.copied.len() + self.shared_len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The buffer new bytes are encoded into (they go out after everything queued).
    pub(crate) fn tail(&mut self) -> &mut BytesMut {
        &mut self.copied
    }

    /// Appends bytes by copying them.
    pub(crate) fn extend_from_slice(&mut self, bytes: &[u8]) {
        self.copied.extend_from_slice(bytes);
    }

    /// Appends `bytes` by reference.
    pub(crate) fn push_bytes(&mut self, bytes: Bytes) {
        if bytes.is_empty() {
            return;
        }
        let open = self.copied.len() - self.copied_in_runs;
        if open > 0 {
            self.runs.push_back(Run::Copied(open));
            self.copied_in_runs += open;
        }
        self.shared_len += bytes.len();
        self.runs.push_back(Run::Shared(bytes));
    }

    /// The runs in order: copied ranges and shared payloads, then the open end.
    fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut offset = 0;
        let runs = self.runs.iter().map(move |run| match run {
            Run::Copied(n) => {
                let range = &self.copied[offset..offset + n];
                offset += n;
                range
            }
            Run::Shared(bytes) => &bytes[..],
        });
        let open = &self.copied[self.copied_in_runs..];
        runs.chain((!open.is_empty()).then_some(open))
    }

    /// The first contiguous run of bytes to write.
    pub(crate) fn front(&self) -> &[u8] {
        self.iter().next().unwrap_or_default()
    }

    /// Fills `slices` with the runs to write, in order; returns how many it filled.
    pub(crate) fn slices<'a>(&'a self, slices: &mut [IoSlice<'a>]) -> usize {
        let mut filled = 0;
        for (slot, run) in slices.iter_mut().zip(self.iter()) {
            *slot = IoSlice::new(run);
            filled += 1;
        }
        filled
    }

    /// Drops the first `n` bytes (written by the transport).
    pub(crate) fn consume(&mut self, mut n: usize) {
        while n > 0 {
            match self.runs.front_mut() {
                None => {
                    self.copied.advance(n.min(self.copied.len()));
                    return;
                }
                Some(Run::Copied(left)) => {
                    let k = n.min(*left);
                    self.copied.advance(k);
                    self.copied_in_runs -= k;
                    *left -= k;
                    n -= k;
                    if *left == 0 {
                        self.runs.pop_front();
                    }
                }
                Some(Run::Shared(bytes)) => {
                    let k = n.min(bytes.len());
                    bytes.advance(k);
                    self.shared_len -= k;
                    n -= k;
                    if bytes.is_empty() {
                        self.runs.pop_front();
                    }
                }
            }
        }
    }

    /// Copies everything queued to the end of `buf`.
    pub(crate) fn copy_to(&self, buf: &mut Vec<u8>) {
        buf.reserve(self.len());
        for run in self.iter() {
            buf.extend_from_slice(run);
        }
    }

    /// Frees the buffer when nothing waits and `keep` is 0 or it has more than
    /// `keep` bytes of room.
    pub(crate) fn release_if_empty(&mut self, keep: usize) {
        // `capacity` counts from the first unwritten byte: a buffer written out to
        // its end reports none but still holds its allocation.
        if self.is_empty() && (keep == 0 || self.copied.capacity() > keep) {
            self.copied = BytesMut::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(output: &mut Output, step: usize) -> Vec<u8> {
        let mut all = Vec::new();
        while !output.is_empty() {
            let front = output.front();
            let n = front.len().min(step);
            all.extend_from_slice(&front[..n]);
            output.consume(n);
        }
        all
    }

    #[test]
    fn copied_and_referenced_bytes_come_out_in_order_at_any_write_size() {
        for step in [1, 2, 3, 7, 4096, usize::MAX] {
            let mut output = Output::default();
            output.extend_from_slice(b"ab");
            output.push_bytes(Bytes::from_static(b"cdef"));
            output.extend_from_slice(b"g");
            output.push_bytes(Bytes::from_static(b"hi"));
            output.push_bytes(Bytes::new());
            output.extend_from_slice(b"jk");
            assert_eq!(output.len(), 11);
            let mut copy = Vec::new();
            output.copy_to(&mut copy);
            assert_eq!(copy, b"abcdefghijk");
            assert_eq!(written(&mut output, step), b"abcdefghijk", "step {step}");
            assert_eq!(output.len(), 0);
        }
    }

    #[test]
    fn slices_list_every_run_up_to_the_room_given() {
        let mut output = Output::default();
        output.extend_from_slice(b"head");
        output.push_bytes(Bytes::from_static(b"payload"));
        output.extend_from_slice(b"next");
        fn runs(output: &Output, room: usize) -> Vec<Vec<u8>> {
            let mut slices = vec![IoSlice::new(&[]); room];
            let n = output.slices(&mut slices);
            slices[..n].iter().map(|s| s.to_vec()).collect()
        }
        assert_eq!(runs(&output, 4), [&b"head"[..], b"payload", b"next"]);
        assert_eq!(runs(&output, 2), [&b"head"[..], b"payload"]);
        // Partly written: the first run starts where the transport stopped.
        output.consume(6);
        assert_eq!(runs(&output, 4), [&b"yload"[..], b"next"]);
    }

    #[test]
    fn an_empty_queue_gives_back_a_large_buffer() {
        let mut output = Output::default();
        output.extend_from_slice(&[0; 100_000]);
        output.release_if_empty(1024);
        assert!(output.copied.capacity() >= 100_000, "not empty yet");
        output.consume(100_000);
        output.release_if_empty(1024);
        assert_eq!(output.copied.capacity(), 0);
    }
}
