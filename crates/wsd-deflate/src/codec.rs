//! The per-connection data path. A message borrows a compressor or decompressor
//! from the extension's [`StreamPool`]; with context takeover the connection keeps
//! the window of what passed (its [`History`]) and primes the next message's stream
//! with it, or, with [`Tuning::hold_streams`], keeps the streams themselves.
//!
//! Compression goes through zlib-rs's own safe API, which takes every parameter of
//! zlib's `deflateInit2` (flate2 passes only a level and a window); decompression
//! through flate2, whose `decompress_vec` fills a vector's spare capacity, which this
//! crate could not do without `unsafe`.

use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use bytes::Bytes;
use flate2::{Decompress, FlushDecompress, Status};
use wsd_extensions::{ExtensionError, Message, Session};
use wsd_frame::Rsv;
use zlib_rs::{Deflate, DeflateFlush, Method};

use crate::negotiate::{Agreed, DeflateError};

/// What a sync flush ends with (RFC 7692 section 7.2.1): removed by the sender,
/// appended again by the receiver.
const SYNC_TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// The first output allocation when inflating; later ones double, capped at the limit.
const FIRST_CHUNK: usize = 4096;

/// zlib cannot make raw streams with a 256-byte window (since zlib 1.2.9; zlib-rs and
/// flate2 follow), so a negotiated 8 is used as 9, as every implementation does.
fn zlib_window_bits(bits: u8) -> u8 {
    bits.clamp(9, 15)
}

/// How the compressor looks for repeated strings: zlib's `strategy` parameter.
///
/// Every strategy makes a valid deflate stream that any peer inflates; they trade
/// compression for speed, or suit data whose redundancy is not repeated strings.
/// `TryFrom<i32>` takes zlib's numbers (`Z_FILTERED` is 1 and so on), as the
/// `strategy` option of `permessage-deflate` (Node) does.
///
/// ```
/// use wsd_deflate::{DeflateConfig, DeflateError, Strategy};
///
/// assert_eq!(Strategy::try_from(2), Ok(Strategy::HuffmanOnly));
/// assert_eq!(Strategy::try_from(5), Err(DeflateError::InvalidStrategy(5)));
/// let deflate = DeflateConfig::new().strategy(Strategy::Rle).build().unwrap();
/// # let _ = deflate;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Strategy {
    /// The level's own search for matches (`Z_DEFAULT_STRATEGY`, 0).
    #[default]
    Default,
    /// For data produced by a filter or predictor, small values of a noisy
    /// distribution: short matches count for less (`Z_FILTERED`, 1).
    Filtered,
    /// No matches at all, Huffman coding of bytes only: fast, and as good as it gets
    /// for data without repeated strings (`Z_HUFFMAN_ONLY`, 2).
    HuffmanOnly,
    /// Matches at distance one only, that is runs of one byte (`Z_RLE`, 3).
    Rle,
    /// The level's matches, always written with the fixed Huffman codes, which
    /// saves the code tables on small messages (`Z_FIXED`, 4).
    Fixed,
}

impl Strategy {
    /// Every strategy, in the order of zlib's numbers (0-4).
    pub const ALL: [Self; 5] = [
        Self::Default,
        Self::Filtered,
        Self::HuffmanOnly,
        Self::Rle,
        Self::Fixed,
    ];
}

impl TryFrom<i32> for Strategy {
    type Error = DeflateError;

    fn try_from(value: i32) -> Result<Self, DeflateError> {
        match value {
            0 => Ok(Self::Default),
            1 => Ok(Self::Filtered),
            2 => Ok(Self::HuffmanOnly),
            3 => Ok(Self::Rle),
            4 => Ok(Self::Fixed),
            _ => Err(DeflateError::InvalidStrategy(value)),
        }
    }
}

impl From<Strategy> for zlib_rs::Strategy {
    fn from(strategy: Strategy) -> Self {
        match strategy {
            Strategy::Default => Self::Default,
            Strategy::Filtered => Self::Filtered,
            Strategy::HuffmanOnly => Self::HuffmanOnly,
            Strategy::Rle => Self::Rle,
            Strategy::Fixed => Self::Fixed,
        }
    }
}

/// What our compressor is made with besides its window: local choices that are not
/// negotiated and that the peer cannot see, except in the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tuning {
    /// 0-9.
    pub(crate) level: u8,
    /// 1-9.
    pub(crate) mem_level: u8,
    pub(crate) strategy: Strategy,
    /// Keep the streams between messages instead of only their windows.
    pub(crate) hold_streams: bool,
}

impl Tuning {
    /// What keys the pool's decompressors, which no tuning changes.
    const INFLATE: Self = Self {
        level: 0,
        mem_level: 1,
        strategy: Strategy::Default,
        hold_streams: false,
    };

    /// A raw-deflate compressor with a `2^bits`-byte window (`bits` already 9-15).
    ///
    /// zlib-rs panics on parameters zlib would refuse; [`DeflateConfig`] checks the
    /// level and memLevel when it is built, and `zlib_window_bits` keeps the window
    /// within 9-15, so none reaches it.
    ///
    /// [`DeflateConfig`]: crate::DeflateConfig
    fn compressor(self, bits: u8) -> Deflate {
        Deflate::new_with_config(zlib_rs::DeflateConfig {
            level: i32::from(self.level),
            method: Method::Deflated,
            // Negative: a raw stream, without zlib's header and checksum.
            window_bits: -i32::from(bits),
            mem_level: i32::from(self.mem_level),
            strategy: self.strategy.into(),
        })
    }

    /// The tuning of a stream that starts afresh for a message of `len` bytes: as
    /// configured, except that a message shorter than [`SMALL_MESSAGE`] gets a
    /// stream of memLevel [`SMALL_MEM_LEVEL`] when the configured one is larger.
    ///
    /// memLevel sizes the buffer of symbols that one deflate block collects
    /// (`2^(memLevel + 6)`; zlib-rs's hash table is 64 Ki entries at any memLevel),
    /// and zlib clears that buffer at every block it starts: twice per message for
    /// a stream started afresh, 48 KiB each at memLevel 8, a large part of the work
    /// of a 1 KiB message. A message with fewer bytes than the smaller buffer holds
    /// symbols fits in one block either way, so its bytes are the same.
    fn for_fresh_message(self, len: usize) -> Self {
        if len < SMALL_MESSAGE && self.mem_level > SMALL_MEM_LEVEL {
            Self {
                mem_level: SMALL_MEM_LEVEL,
                ..self
            }
        } else {
            self
        }
    }

    /// Whether a compressor made by `self` with `bits` can serve `other` with
    /// `other_bits`: the same parameters, whether streams are held or not.
    fn makes_same_stream(self, bits: u8, other: Self, other_bits: u8) -> bool {
        (self.level, self.mem_level, self.strategy, bits)
            == (other.level, other.mem_level, other.strategy, other_bits)
    }
}

/// The most streams of each kind a [`StreamPool`] makes before it takes one from
/// another connection, and the most it keeps idle. Up to this many connections can
/// trade messages in turn, each continuing its own stream; more share them, each
/// message then resetting and priming the one it gets.
const POOL_STREAMS: usize = 8;

/// The memLevel of the streams that compress short messages afresh (see
/// [`Tuning::for_fresh_message`]): blocks of up to 4,095 symbols, a 12 KiB buffer.
const SMALL_MEM_LEVEL: u8 = 6;

/// Messages shorter than this fit in one block of a [`SMALL_MEM_LEVEL`] stream
/// (a block ends when its buffer holds `2^(memLevel + 6) - 1` symbols, and a byte
/// makes at most one).
const SMALL_MESSAGE: usize = (1 << (SMALL_MEM_LEVEL + 6)) - 1;

/// The window every pooled decompressor is made with. zlib-rs allocates a 32 KiB
/// window whatever the size asked, and a larger window inflates every stream a
/// smaller one does, so one size serves every connection.
const INFLATE_BITS: u8 = 15;

/// Which connection a stream last served, if it can go on serving it: a token for
/// each session, unique within its pool.
type Owner = u64;

/// A stream waiting in the pool.
struct Idle<S> {
    tuning: Tuning,
    bits: u8,
    /// The connection whose stream this still is: it stopped at that connection's
    /// last sync flush, with context takeover, and no one has used it since.
    owner: Option<Owner>,
    /// It ended its last message with a full flush, which forgot its history (zlib
    /// clears its hash table): it starts the next stream as a reset one would.
    clean: bool,
    stream: S,
}

/// A stream as the pool hands it out.
struct Lent<S> {
    stream: S,
    /// Still the borrower's own stream, exactly as it left it: go on without a reset
    /// and without priming.
    continued: bool,
    /// Ready to start a stream without a reset (see [`Idle::clean`]).
    clean: bool,
}

/// The streams of one kind: those waiting, and how many are out.
struct Shelf<S> {
    /// Least recently used first.
    idle: VecDeque<Idle<S>>,
    /// Taken and neither given back nor forgotten yet.
    lent: usize,
}

impl<S> Default for Shelf<S> {
    fn default() -> Self {
        Self {
            idle: VecDeque::new(),
            lent: 0,
        }
    }
}

impl<S> Shelf<S> {
    /// In order of preference: `owner`'s own stream (continued); one no connection
    /// can continue; none, to make a new one, while fewer than [`POOL_STREAMS`]
    /// exist; the least recently used that fits. The caller resets any stream but
    /// its own, and makes one when there is none.
    fn take(&mut self, tuning: Tuning, bits: u8, owner: Owner) -> Option<Lent<S>> {
        let fits = |entry: &Idle<S>| entry.tuning.makes_same_stream(entry.bits, tuning, bits);
        self.lent += 1;
        let own = self
            .idle
            .iter()
            .position(|entry| entry.owner == Some(owner) && fits(entry));
        let at = own
            .or_else(|| {
                self.idle
                    .iter()
                    .position(|entry| entry.owner.is_none() && fits(entry))
            })
            .or_else(|| {
                let room = self.idle.len() + self.lent <= POOL_STREAMS;
                self.idle.iter().position(fits).filter(|_| !room)
            })?;
        let entry = self.idle.remove(at)?;
        Some(Lent {
            stream: entry.stream,
            continued: own.is_some(),
            clean: entry.clean,
        })
    }

    /// Takes a stream back, dropping the least recently used beyond [`POOL_STREAMS`].
    fn give(&mut self, entry: Idle<S>) {
        self.lent = self.lent.saturating_sub(1);
        self.idle.push_back(entry);
        while self.idle.len() + self.lent > POOL_STREAMS && self.idle.pop_front().is_some() {}
    }

    /// `owner` is gone: its streams can no longer be continued.
    fn disown(&mut self, owner: Owner) {
        for entry in &mut self.idle {
            if entry.owner == Some(owner) {
                entry.owner = None;
            }
        }
    }

    /// A lent stream was dropped: its state was unknown after an error.
    fn forget(&mut self) {
        self.lent = self.lent.saturating_sub(1);
    }
}

/// Compression streams lent to one message at a time, shared by the connections of
/// every [`PerMessageDeflate`](crate::PerMessageDeflate) in the process (see
/// [`StreamPool::shared`]): between messages a connection keeps only its windows
/// (see [`History`]), not the streams' hash tables and buffers. A connection gets back the stream it used last if no other took it
/// since, and continues it as if it had held it; any other stream is reset first, so
/// nothing of one connection's data reaches another's output.
#[derive(Default)]
pub(crate) struct StreamPool {
    compressors: Mutex<Shelf<Deflate>>,
    decompressors: Mutex<Shelf<Decompress>>,
    next_owner: AtomicU64,
}

/// By hand: zlib-rs's compressor has no `Debug`; how many streams wait is what matters.
impl fmt::Debug for StreamPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamPool")
            .field("idle_compressors", &lock(&self.compressors).idle.len())
            .field("idle_decompressors", &lock(&self.decompressors).idle.len())
            .finish()
    }
}

/// The guarded value even if a thread panicked while holding the lock: the pool's
/// updates leave it consistent at every step (at worst a count is one off, which
/// only changes when a new stream is made).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl StreamPool {
    /// The pool of the whole process. One pool, not one per extension value:
    /// applications often make their `PerMessageDeflate` for each connection (an
    /// axum handler, options built per accept), and a pool per value would hold
    /// every connection's streams again. Its idle streams stay when connections
    /// close: at most [`POOL_STREAMS`] of each kind.
    pub(crate) fn shared() -> Arc<Self> {
        static SHARED: OnceLock<Arc<StreamPool>> = OnceLock::new();
        Arc::clone(SHARED.get_or_init(Arc::default))
    }

    /// A token for a new session.
    fn owner(&self) -> Owner {
        self.next_owner.fetch_add(1, Ordering::Relaxed)
    }

    /// `owner`'s compressor to continue, or one ready to start a stream: an idle one
    /// that is clean or reset, or a new one.
    fn compressor(&self, tuning: Tuning, bits: u8, owner: Owner) -> Lent<Deflate> {
        let taken = lock(&self.compressors).take(tuning, bits, owner);
        match taken {
            Some(lent) if lent.continued || lent.clean => lent,
            Some(Lent { mut stream, .. }) => {
                stream.reset();
                Lent {
                    stream,
                    continued: false,
                    clean: true,
                }
            }
            None => Lent {
                stream: tuning.compressor(bits),
                continued: false,
                clean: true,
            },
        }
    }

    /// Takes `stream` back; `owner` may continue it.
    fn give_compressor(&self, tuning: Tuning, bits: u8, owner: Option<Owner>, stream: Deflate) {
        let entry = Idle {
            tuning,
            bits,
            owner,
            clean: false,
            stream,
        };
        lock(&self.compressors).give(entry);
    }

    /// Takes back `stream`, which ended its message with a full flush.
    fn give_clean_compressor(&self, tuning: Tuning, bits: u8, stream: Deflate) {
        let entry = Idle {
            tuning,
            bits,
            owner: None,
            clean: true,
            stream,
        };
        lock(&self.compressors).give(entry);
    }

    /// `owner`'s decompressor to continue, or one ready to start a stream.
    fn decompressor(&self, owner: Owner) -> Lent<Decompress> {
        // Decompressors do not depend on the tuning; one value keys them all.
        let taken = lock(&self.decompressors).take(Tuning::INFLATE, INFLATE_BITS, owner);
        match taken {
            Some(lent) if lent.continued => lent,
            Some(Lent { mut stream, .. }) => {
                stream.reset(false);
                Lent {
                    stream,
                    continued: false,
                    clean: true,
                }
            }
            None => Lent {
                stream: Decompress::new_with_window_bits(false, INFLATE_BITS),
                continued: false,
                clean: true,
            },
        }
    }

    /// Takes `stream` back; `owner` may continue it.
    fn give_decompressor(&self, owner: Option<Owner>, stream: Decompress) {
        let entry = Idle {
            tuning: Tuning::INFLATE,
            bits: INFLATE_BITS,
            owner,
            clean: false,
            stream,
        };
        lock(&self.decompressors).give(entry);
    }
}

/// The last bytes of one direction's uncompressed data, at most one window: all a
/// deflate stream can refer back to, so all a connection keeps between messages
/// with context takeover. A stream started for the next message is primed with it
/// (zlib's `deflateSetDictionary` / `inflateSetDictionary`) and then continues as if
/// it had never stopped. A ring, so that a message moves only its own bytes in.
#[derive(Debug, Default)]
struct History {
    bytes: VecDeque<u8>,
}

impl History {
    /// Appends `data`, forgetting what falls out of a `window`-byte window.
    fn push(&mut self, data: &[u8], window: usize) {
        let bytes = &mut self.bytes;
        let data = data
            .get(data.len().saturating_sub(window)..)
            .unwrap_or_default();
        let excess = (bytes.len() + data.len()).saturating_sub(window);
        bytes.drain(..excess);
        // Grown by hand: the default growth would overshoot the window, and a
        // connection that sends little should hold little.
        let needed = bytes.len() + data.len();
        if needed > bytes.capacity() {
            let capacity = needed.max(bytes.capacity() * 2).min(window);
            bytes.reserve_exact(capacity - bytes.len());
        }
        bytes.extend(data);
    }

    /// The bytes in order, to prime a stream with.
    fn as_slice(&mut self) -> &[u8] {
        self.bytes.make_contiguous()
    }

    fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Forgets everything and frees the memory.
    fn clear(&mut self) {
        self.bytes = VecDeque::new();
    }
}

/// One connection's permessage-deflate state.
pub(crate) struct DeflateSession {
    tuning: Tuning,
    agreed: Agreed,
    pool: Arc<StreamPool>,
    /// This connection in the pool's eyes.
    owner: Owner,
    /// Held between messages only with [`Tuning::hold_streams`] and context takeover.
    compressor: Option<Deflate>,
    decompressor: Option<Decompress>,
    /// What we sent, when our compressor keeps its context but not its stream.
    sent: History,
    /// What we received, when the peer's compressor keeps its context and ours does
    /// not keep its stream.
    received: History,
}

/// By hand: zlib-rs's compressor has no `Debug`; whether it is held is what matters.
impl fmt::Debug for DeflateSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeflateSession")
            .field("tuning", &self.tuning)
            .field("agreed", &self.agreed)
            .field("compressor", &self.compressor.as_ref().map(|_| "held"))
            .field("decompressor", &self.decompressor)
            .field("sent", &self.sent.bytes.len())
            .field("received", &self.received.bytes.len())
            .finish()
    }
}

/// The streams the connection could have continued are marked as no one's: any
/// connection may reset and use them, before it would make a new one or take
/// another connection's. Held streams are the connection's own and go with it.
impl Drop for DeflateSession {
    fn drop(&mut self) {
        lock(&self.pool.compressors).disown(self.owner);
        lock(&self.pool.decompressors).disown(self.owner);
    }
}

/// How a message's inflating ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Inflated {
    /// At the sync flush: the stream goes on with the next message.
    Flushed,
    /// With a BFINAL block (RFC 7692 section 7.2.3.4): the next message starts a
    /// new stream, without the history.
    Ended,
}

impl DeflateSession {
    pub(crate) fn new(tuning: Tuning, agreed: Agreed, pool: Arc<StreamPool>) -> Self {
        Self {
            tuning,
            agreed,
            owner: pool.owner(),
            pool,
            compressor: None,
            decompressor: None,
            sent: History::default(),
            received: History::default(),
        }
    }

    fn own_bits(&self) -> u8 {
        zlib_window_bits(self.agreed.own_window_bits)
    }

    /// Whether this connection keeps its own compressor for its whole life.
    fn holds_compressor(&self) -> bool {
        self.tuning.hold_streams && !self.agreed.own_no_context_takeover
    }

    /// Whether this connection keeps its own decompressor for its whole life.
    fn holds_decompressor(&self) -> bool {
        self.tuning.hold_streams && !self.agreed.peer_no_context_takeover
    }

    fn deflate(&mut self, input: &[u8]) -> Result<Vec<u8>, ExtensionError> {
        // Without context takeover every message starts a stream of its own, and ends
        // it with a full flush: the stream goes back to the pool as clean as a reset
        // would leave it, so the next message skips the reset (which clears what the
        // flush cleared, and the block's symbol buffer once more).
        let fresh = self.agreed.own_no_context_takeover;
        let bits = self.own_bits();
        let (tuning, flush) = if fresh {
            (
                self.tuning.for_fresh_message(input.len()),
                DeflateFlush::FullFlush,
            )
        } else {
            (self.tuning, DeflateFlush::SyncFlush)
        };
        // A held stream is the connection's own, made for it and never in the pool.
        let held = self.holds_compressor();
        let mut stream = match self.compressor.take() {
            Some(stream) => stream,
            None if held => tuning.compressor(bits),
            None => {
                let lent = self.pool.compressor(tuning, bits, self.owner);
                let mut stream = lent.stream;
                if !lent.continued && !self.sent.is_empty() {
                    if let Err(error) = stream.set_dictionary(self.sent.as_slice()) {
                        lock(&self.pool.compressors).forget();
                        return Err(ExtensionError::internal(error.as_str()));
                    }
                }
                stream
            }
        };
        let result = compress(&mut stream, input, flush);
        if result.is_err() {
            // The stream's state is unknown: neither kept nor lent again.
            self.sent.clear();
            if !held {
                lock(&self.pool.compressors).forget();
            }
            return result;
        }
        if held {
            self.compressor = Some(stream);
        } else if fresh {
            self.pool.give_clean_compressor(tuning, bits, stream);
        } else {
            self.sent.push(input, 1 << bits);
            self.pool
                .give_compressor(tuning, bits, Some(self.owner), stream);
        }
        result
    }

    fn inflate(
        &mut self,
        input: &[u8],
        max_length: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ExtensionError> {
        let held = self.holds_decompressor();
        let mut stream = match self.decompressor.take() {
            Some(stream) => stream,
            None if held => Decompress::new_with_window_bits(false, INFLATE_BITS),
            None => {
                let lent = self.pool.decompressor(self.owner);
                let mut stream = lent.stream;
                if !lent.continued && !self.received.is_empty() {
                    if let Err(error) = stream.set_dictionary(self.received.as_slice()) {
                        lock(&self.pool.decompressors).forget();
                        return Err(ExtensionError::internal(error.to_string()));
                    }
                }
                stream
            }
        };
        let result = decompress(&mut stream, input, max_length, out);
        match result {
            // A held stream that ended is dropped: the next message makes a new one.
            Ok(Inflated::Flushed) if held => self.decompressor = Some(stream),
            Ok(_) if held => {}
            Ok(Inflated::Flushed) if !self.agreed.peer_no_context_takeover => {
                let window = 1 << zlib_window_bits(self.agreed.peer_window_bits);
                self.received.push(out, window);
                self.pool.give_decompressor(Some(self.owner), stream);
            }
            Ok(_) => {
                self.received.clear();
                self.pool.give_decompressor(None, stream);
            }
            // The stream's state is unknown: neither kept nor lent again.
            Err(_) => {
                self.received.clear();
                if !held {
                    lock(&self.pool.decompressors).forget();
                }
            }
        }
        result.map(|_| ())
    }
}

/// Compresses `input` with `flush` (a sync or full flush): the whole output, ending
/// with the sync tail unless `input` is empty right after a flush.
fn compress(
    stream: &mut Deflate,
    input: &[u8],
    flush: DeflateFlush,
) -> Result<Vec<u8>, ExtensionError> {
    // Deflate rarely grows data by more than a few bytes per block; the loop grows
    // the buffer if it does. zlib-rs's safe API writes into initialised bytes, so
    // the buffer is zeroed (by the allocator, for a fresh one) and cut to size.
    let mut out = vec![0; input.len() / 2 + 64];
    let mut written = 0;
    let mut rest = input;
    loop {
        if written == out.len() {
            out.resize(out.len() * 2, 0);
        }
        let room = out.get_mut(written..).unwrap_or_default();
        let room_len = room.len();
        let (in_before, out_before) = (stream.total_in(), stream.total_out());
        stream
            .compress(rest, room, flush)
            .map_err(|error| ExtensionError::internal(error.as_str()))?;
        let consumed = usize::try_from(stream.total_in() - in_before).unwrap_or(usize::MAX);
        let produced = usize::try_from(stream.total_out() - out_before).unwrap_or(usize::MAX);
        rest = rest.get(consumed..).unwrap_or_default();
        written += produced.min(room_len);
        if rest.is_empty() && written < out.len() {
            break;
        }
    }
    out.truncate(written);
    Ok(out)
}

/// Inflates `input` plus the sync tail into `out`, never letting `out` grow past
/// `max_length + 1` bytes.
fn decompress(
    stream: &mut Decompress,
    input: &[u8],
    max_length: usize,
    out: &mut Vec<u8>,
) -> Result<Inflated, ExtensionError> {
    // One byte past the limit is proof enough that the message is too big.
    let limit = max_length.saturating_add(1);
    for chunk in [input, &SYNC_TAIL[..]] {
        let mut rest = chunk;
        loop {
            if out.len() == out.capacity() {
                if out.len() >= limit {
                    return Err(ExtensionError::too_big(format!(
                        "message inflates past {max_length} bytes"
                    )));
                }
                let capacity = out.capacity().saturating_mul(2).max(FIRST_CHUNK).min(limit);
                out.reserve_exact(capacity - out.len());
            }
            let (in_before, out_before) = (stream.total_in(), out.len());
            let status = stream
                .decompress_vec(rest, out, FlushDecompress::Sync)
                .map_err(|error| ExtensionError::invalid_data(error.to_string()))?;
            let consumed = usize::try_from(stream.total_in() - in_before).unwrap_or(usize::MAX);
            rest = rest.get(consumed..).unwrap_or_default();
            if status == Status::StreamEnd {
                // What follows the final block is padding at most (zlib ignores it
                // too). The block may have filled the look-ahead byte: check the limit.
                return within(out, max_length).map(|()| Inflated::Ended);
            }
            let room_left = out.len() < out.capacity();
            if rest.is_empty() && room_left {
                break;
            }
            if consumed == 0 && out.len() == out_before && room_left {
                return Err(ExtensionError::invalid_data("the deflate stream stalled"));
            }
        }
    }
    within(out, max_length).map(|()| Inflated::Flushed)
}

impl Session for DeflateSession {
    fn decode(&mut self, message: Message, max_length: usize) -> Result<Message, ExtensionError> {
        if !message.rsv.contains(Rsv::RSV1) {
            // Uncompressed messages are allowed and untouched (RFC 7692 section 6).
            return Ok(message);
        }
        let rsv = message.rsv.difference(Rsv::RSV1);
        if message.data.is_empty() {
            // Not a valid deflate block, but some peers send it for an empty message.
            return Ok(Message {
                opcode: message.opcode,
                rsv,
                data: Bytes::new(),
            });
        }
        let mut out = Vec::new();
        self.inflate(&message.data, max_length, &mut out)?;
        Ok(Message {
            opcode: message.opcode,
            rsv,
            data: out.into(),
        })
    }

    fn encode(&mut self, message: Message) -> Result<Message, ExtensionError> {
        let mut out = self.deflate(&message.data)?;
        // zlib writes nothing for an empty message right after a flush; otherwise the
        // output ends with the sync tail.
        if out.is_empty() {
            out.extend_from_slice(&SYNC_TAIL);
        }
        if !out.ends_with(&SYNC_TAIL) {
            return Err(ExtensionError::internal(
                "the compressor did not end with a sync flush",
            ));
        }
        out.truncate(out.len() - SYNC_TAIL.len());
        if out.is_empty() {
            // RFC 7692 section 7.2.3.6: an empty message is one empty stored block,
            // whose header is this byte.
            out.push(0x00);
        }
        Ok(Message {
            opcode: message.opcode,
            rsv: message.rsv | Rsv::RSV1,
            data: out.into(),
        })
    }
}

/// `Ok` when `out` holds at most `max_length` bytes, else the 1009 error.
fn within(out: &[u8], max_length: usize) -> Result<(), ExtensionError> {
    if out.len() > max_length {
        Err(ExtensionError::too_big(format!(
            "message inflates past {max_length} bytes"
        )))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::{Compress, Compression, FlushCompress};
    use wsd_frame::{CloseCode, OpCode};

    /// zlib's defaults with `level`.
    fn level(level: u8) -> Tuning {
        Tuning {
            level,
            mem_level: 8,
            strategy: Strategy::Default,
            hold_streams: false,
        }
    }

    /// A session with a pool of its own.
    fn session(tuning: Tuning, terms: Agreed) -> DeflateSession {
        DeflateSession::new(tuning, terms, Arc::default())
    }

    fn agreed(own_no: bool, own_bits: u8, peer_no: bool, peer_bits: u8) -> Agreed {
        Agreed {
            own_no_context_takeover: own_no,
            own_window_bits: own_bits,
            peer_no_context_takeover: peer_no,
            peer_window_bits: peer_bits,
        }
    }

    /// A sender and a receiver that agree: `takeover` for both directions, window 15.
    fn pair(takeover: bool) -> (DeflateSession, DeflateSession) {
        let terms = agreed(!takeover, 15, !takeover, 15);
        (session(level(6), terms), session(level(6), terms))
    }

    fn compressed(data: &[u8]) -> Message {
        Message {
            opcode: OpCode::Binary,
            rsv: Rsv::RSV1,
            data: Bytes::copy_from_slice(data),
        }
    }

    fn encode(session: &mut DeflateSession, text: &[u8]) -> Vec<u8> {
        let message = session
            .encode(Message::new(OpCode::Text, Bytes::copy_from_slice(text)))
            .unwrap();
        assert_eq!(message.rsv, Rsv::RSV1);
        message.data.to_vec()
    }

    /// Text with repeats far apart, so windows and context matter.
    fn sample(len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| {
                b"the quick brown fox jumps over the lazy dog "[(i * 7 / 3) % 44] ^ (i / 4096) as u8
            })
            .collect()
    }

    #[test]
    fn sender_reproduces_the_rfc_7692_hello_examples_with_context_takeover() {
        let (mut sender, _) = pair(true);
        assert_eq!(
            encode(&mut sender, b"Hello"),
            [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
        );
        assert_eq!(
            encode(&mut sender, b"Hello"),
            [0xF2, 0x00, 0x11, 0x00, 0x00]
        );
    }

    #[test]
    fn sender_without_context_takeover_compresses_each_message_afresh() {
        let (mut sender, _) = pair(false);
        for _ in 0..3 {
            assert_eq!(
                encode(&mut sender, b"Hello"),
                [0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]
            );
        }
        assert!(
            sender.compressor.is_none(),
            "no window is kept between messages"
        );
    }

    #[test]
    fn receiver_decodes_the_rfc_7692_examples() {
        let (_, mut receiver) = pair(true);
        let examples: [&[u8]; 4] = [
            &[0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00],
            &[0xF2, 0x00, 0x11, 0x00, 0x00], // refers back to the first message
            &[
                0x00, 0x05, 0x00, 0xFA, 0xFF, 0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x00,
            ], // stored block
            &[0xF3, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00, 0x00], // BFINAL set
        ];
        for data in examples {
            let message = receiver.decode(compressed(data), 100).unwrap();
            assert_eq!(
                (&message.data[..], message.rsv),
                (&b"Hello"[..], Rsv::NONE),
                "{data:02X?}"
            );
        }
        // After a BFINAL block the next message starts a new stream.
        let message = receiver
            .decode(compressed(&[0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]), 100)
            .unwrap();
        assert_eq!(message.data, "Hello");
    }

    #[test]
    fn an_empty_message_is_sent_as_one_zero_byte_and_decodes_back_to_empty() {
        for takeover in [true, false] {
            let (mut sender, mut receiver) = pair(takeover);
            for text in [&b""[..], b"warm up the context", b""] {
                let data = encode(&mut sender, text);
                if text.is_empty() {
                    assert_eq!(data, [0x00], "takeover {takeover}");
                }
                assert_eq!(receiver.decode(compressed(&data), 100).unwrap().data, text);
            }
        }
    }

    #[test]
    fn messages_round_trip_with_and_without_context_takeover() {
        for takeover in [true, false] {
            let (mut sender, mut receiver) = pair(takeover);
            for len in [0, 1, 5, 1000, 70_000, 300_000] {
                let text = sample(len);
                let data = encode(&mut sender, &text);
                let message = receiver.decode(compressed(&data), len).unwrap();
                assert_eq!(message.data, text, "takeover {takeover}, length {len}");
            }
        }
    }

    #[test]
    fn a_final_block_one_byte_past_max_length_is_too_big() {
        // Found by the deflate_inflate fuzz target: "Hello" in one stored block with
        // BFINAL set ends the stream exactly on the look-ahead byte.
        let stored_final = [0x01, 0x05, 0x00, 0xFA, 0xFF, b'H', b'e', b'l', b'l', b'o'];
        let (_, mut receiver) = pair(true);
        let error = receiver.decode(compressed(&stored_final), 4).unwrap_err();
        assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG);
        let (_, mut receiver) = pair(true);
        assert_eq!(
            receiver.decode(compressed(&stored_final), 5).unwrap().data,
            "Hello"
        );
    }

    #[test]
    fn context_takeover_makes_repeated_messages_smaller() {
        // Noise does not compress on its own; only a reference to the last message helps.
        let text: Vec<u8> = (0u32..2000)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let (mut with, _) = pair(true);
        let (mut without, _) = pair(false);
        let first = encode(&mut with, &text).len();
        assert!(encode(&mut with, &text).len() < first / 10);
        assert_eq!(
            encode(&mut without, &text).len(),
            encode(&mut without, &text).len()
        );
    }

    #[test]
    fn small_negotiated_windows_round_trip_and_8_works_as_9() {
        for bits in [8, 9, 12] {
            let terms = agreed(false, bits, false, bits);
            let (mut sender, mut receiver) = (session(level(9), terms), session(level(9), terms));
            for _ in 0..3 {
                let text = sample(20_000);
                let message = receiver
                    .decode(compressed(&encode(&mut sender, &text)), 20_000)
                    .unwrap();
                assert_eq!(message.data, text, "window {bits}");
            }
        }
    }

    /// A sender tuned by `tuning` and a default receiver, window 15, context takeover.
    fn tuned_pair(tuning: Tuning) -> (DeflateSession, DeflateSession) {
        let terms = agreed(false, 15, false, 15);
        (session(tuning, terms), session(level(6), terms))
    }

    fn with(mem_level: u8, strategy: Strategy) -> Tuning {
        Tuning {
            level: 6,
            mem_level,
            strategy,
            hold_streams: false,
        }
    }

    /// The length of `text` compressed as one message by a fresh sender.
    fn compressed_len(tuning: Tuning, text: &[u8]) -> usize {
        encode(&mut tuned_pair(tuning).0, text).len()
    }

    #[test]
    fn every_strategy_and_mem_level_round_trips_through_a_default_receiver() {
        for strategy in Strategy::ALL {
            for mem_level in 1..=9 {
                let (mut sender, mut receiver) = tuned_pair(with(mem_level, strategy));
                for len in [0, 5, 20_000, 70_000] {
                    let text = sample(len);
                    let data = encode(&mut sender, &text);
                    let message = receiver.decode(compressed(&data), len).unwrap();
                    assert_eq!(message.data, text, "{strategy:?}, memLevel {mem_level}");
                }
            }
        }
    }

    #[test]
    fn mem_level_1_cuts_the_stream_into_more_blocks_that_inflate_back() {
        // 128 symbols per block instead of 16384: the same text, other bytes, a
        // little longer for the extra block headers.
        let text = sample(20_000);
        let (small, default) = (
            compressed_len(with(1, Strategy::Default), &text),
            compressed_len(with(8, Strategy::Default), &text),
        );
        assert!(small > default, "memLevel 1: {small}, 8: {default}");
        let (mut sender, mut receiver) = tuned_pair(with(1, Strategy::Default));
        let data = encode(&mut sender, &text);
        assert_eq!(
            receiver.decode(compressed(&data), 20_000).unwrap().data,
            text
        );
    }

    #[test]
    fn huffman_only_finds_no_repeats_and_rle_only_runs_of_one_byte() {
        let repeated = b"Hello, world! ".repeat(500);
        let run = vec![b'a'; 7000];
        let default = compressed_len(level(6), &repeated);
        let huffman = compressed_len(with(8, Strategy::HuffmanOnly), &repeated);
        let rle = compressed_len(with(8, Strategy::Rle), &repeated);
        // Default: a few dozen bytes; without matches each byte still costs bits.
        assert!(default < 100, "default {default}");
        assert!(huffman > repeated.len() / 4, "huffman-only {huffman}");
        assert!(rle > repeated.len() / 4, "rle {rle}");
        assert!(compressed_len(with(8, Strategy::Rle), &run) < 100);
        assert!(compressed_len(with(8, Strategy::HuffmanOnly), &run) > run.len() / 8);
    }

    #[test]
    fn fixed_strategy_writes_blocks_with_the_fixed_codes() {
        // The first three bits of a block: BFINAL, then BTYPE 01 (fixed codes) or
        // 10 (dynamic codes), least significant bit first.
        let text = sample(5000);
        let block_type = |tuning| (encode(&mut tuned_pair(tuning).0, &text)[0] >> 1) & 0b11;
        assert_eq!(block_type(with(8, Strategy::Fixed)), 0b01);
        assert_eq!(block_type(with(8, Strategy::Default)), 0b10);
    }

    #[test]
    fn a_window_of_8_is_made_as_9_with_any_tuning() {
        // zlib-rs refuses (panics on) a raw stream with window bits 8.
        let terms = agreed(false, 8, false, 8);
        let tuning = with(1, Strategy::Filtered);
        let (mut sender, mut receiver) = (session(tuning, terms), session(tuning, terms));
        let text = sample(3000);
        let data = encode(&mut sender, &text);
        assert_eq!(receiver.decode(compressed(&data), 3000).unwrap().data, text);
    }

    #[test]
    fn receiver_fails_a_corrupt_stream_with_1007() {
        let (_, mut receiver) = pair(true);
        // BTYPE 11 is reserved: "invalid block type".
        let error = receiver
            .decode(compressed(&[0xFF, 0xFF, 0xFF]), 100)
            .unwrap_err();
        assert_eq!(error.close_code(), CloseCode::INVALID_PAYLOAD);
        assert!(!error.message().is_empty());
        // The broken context is dropped; a fresh stream decodes again.
        let message = receiver
            .decode(compressed(&[0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]), 100)
            .unwrap();
        assert_eq!(message.data, "Hello");
    }

    #[test]
    fn messages_without_rsv1_pass_through_untouched() {
        let (_, mut receiver) = pair(true);
        let data = Bytes::from_static(b"\xFF\xFF not deflate");
        let message = Message {
            opcode: OpCode::Binary,
            rsv: Rsv::RSV2,
            data: data.clone(),
        };
        let out = receiver.decode(message, 1).unwrap();
        assert_eq!((out.rsv, out.data.as_ptr()), (Rsv::RSV2, data.as_ptr()));
    }

    #[test]
    fn an_inflation_bomb_stops_at_the_limit_with_1009_without_allocating_past_it() {
        // 1 GiB of zeros deflates to about 1 MiB (deflate tops out near 1032:1).
        let mut compressor = Compress::new_with_window_bits(Compression::new(6), false, 15);
        let zeros = vec![0u8; 1 << 20];
        let mut bomb = Vec::with_capacity(2 << 20);
        for _ in 0..1024 {
            compressor
                .compress_vec(&zeros, &mut bomb, FlushCompress::None)
                .unwrap();
            bomb.reserve(1 << 16);
        }
        compressor
            .compress_vec(&[], &mut bomb, FlushCompress::Sync)
            .unwrap();
        assert!(bomb.len() < 2 << 20, "bomb is {} bytes", bomb.len());

        let max_length = 1 << 20;
        let (_, mut receiver) = pair(true);
        let mut out = Vec::new();
        let error = receiver.inflate(&bomb, max_length, &mut out).unwrap_err();
        assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG);
        assert!(
            out.capacity() <= max_length + 1,
            "allocated {} bytes",
            out.capacity()
        );
        // Through the Session interface the result is the same.
        let error = pair(true)
            .1
            .decode(compressed(&bomb), max_length)
            .unwrap_err();
        assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG);
    }

    #[test]
    fn a_message_exactly_at_the_limit_is_accepted() {
        let (mut sender, mut receiver) = pair(true);
        let text = sample(5000);
        let data = encode(&mut sender, &text);
        assert_eq!(receiver.decode(compressed(&data), 5000).unwrap().data, text);
        let (mut sender, mut receiver) = pair(true);
        let data = encode(&mut sender, &text);
        let error = receiver.decode(compressed(&data), 4999).unwrap_err();
        assert_eq!(error.close_code(), CloseCode::MESSAGE_TOO_BIG);
    }

    /// `tuning` with streams held between messages.
    fn holding(tuning: Tuning) -> Tuning {
        Tuning {
            hold_streams: true,
            ..tuning
        }
    }

    /// JSON-like messages, different from each other but sharing keys, so that each
    /// one refers back into the ones before it.
    fn messages(count: usize) -> Vec<Vec<u8>> {
        (0..count)
            .map(|m| {
                (0..20 + m % 7)
                    .map(|i| {
                        format!(
                            r#"{{"id":{},"user":"u{}","ok":{}}},"#,
                            m * 100 + i,
                            i * 31 % 17,
                            i % 3 == 0
                        )
                    })
                    .collect::<String>()
                    .into_bytes()
            })
            .collect()
    }

    #[test]
    fn between_messages_a_connection_keeps_its_windows_and_lends_its_streams_back() {
        for bits in [9, 12, 15] {
            let terms = agreed(false, bits, false, bits);
            let pool = Arc::new(StreamPool::default());
            let mut sender = DeflateSession::new(level(6), terms, Arc::clone(&pool));
            let mut receiver = DeflateSession::new(level(6), terms, Arc::clone(&pool));
            let mut sent = Vec::new();
            for text in [sample(100), sample(70_000), sample(300)] {
                let data = encode(&mut sender, &text);
                assert_eq!(
                    receiver.decode(compressed(&data), 1 << 20).unwrap().data,
                    text
                );
                sent.extend_from_slice(&text);
                assert!(sender.compressor.is_none() && receiver.decompressor.is_none());
                let window = 1 << bits;
                let tail = &sent[sent.len().saturating_sub(window)..];
                assert_eq!(sender.sent.bytes, tail, "window {bits}");
                assert_eq!(receiver.received.bytes, tail, "window {bits}");
                assert!(sender.sent.bytes.capacity() <= window);
                assert!(receiver.received.bytes.capacity() <= window);
            }
            assert_eq!(
                lock(&pool.compressors).idle.len(),
                1,
                "one compressor, lent again"
            );
            assert_eq!(lock(&pool.decompressors).idle.len(), 1);
        }
    }

    #[test]
    fn a_stream_primed_with_the_window_compresses_as_well_as_a_held_stream() {
        for bits in [9, 10, 12, 13, 15] {
            let terms = agreed(false, bits, false, bits);
            let (mut lending, mut holding_sender) =
                (session(level(6), terms), session(holding(level(6)), terms));
            let (mut receiver, mut holding_receiver) =
                (session(level(6), terms), session(holding(level(6)), terms));
            let (mut lent_size, mut held_size) = (0, 0);
            for text in messages(12) {
                let data = encode(&mut lending, &text);
                let held = encode(&mut holding_sender, &text);
                if bits >= 12 {
                    // The same matches: a held stream's history reaches no further.
                    assert_eq!(data, held, "window {bits}");
                }
                (lent_size, held_size) = (lent_size + data.len(), held_size + held.len());
                assert_eq!(
                    receiver.decode(compressed(&data), 1 << 20).unwrap().data,
                    text
                );
                let decoded = holding_receiver.decode(compressed(&held), 1 << 20).unwrap();
                assert_eq!(decoded.data, text);
            }
            // Small windows slide within a message, where the streams' histories
            // differ by a few hundred bytes; the sizes do not.
            assert!(
                lent_size * 100 <= held_size * 101,
                "window {bits}: {lent_size} vs {held_size}"
            );
            assert!(holding_sender.compressor.is_some() && holding_receiver.decompressor.is_some());
            assert!(holding_sender.sent.is_empty() && holding_receiver.received.is_empty());
        }
    }

    #[test]
    fn connections_sharing_a_pool_write_what_they_would_write_alone() {
        let terms = agreed(false, 12, false, 12);
        let pool = Arc::new(StreamPool::default());
        let shared = || DeflateSession::new(level(6), terms, Arc::clone(&pool));
        // More connections than streams, in turn: each message gets the stream
        // another connection used last.
        let count = POOL_STREAMS + 2;
        let mut senders: Vec<_> = (0..count).map(|_| shared()).collect();
        let mut receivers: Vec<_> = (0..count).map(|_| shared()).collect();
        let mut alone: Vec<_> = (0..count).map(|_| session(level(6), terms)).collect();
        for (round, texts) in messages(3 * count).chunks(count).enumerate() {
            for (c, text) in texts.iter().enumerate() {
                let data = encode(&mut senders[c], text);
                assert_eq!(
                    data,
                    encode(&mut alone[c], text),
                    "round {round}, connection {c}"
                );
                let decoded = receivers[c].decode(compressed(&data), 1 << 20).unwrap();
                assert_eq!(&decoded.data, text);
            }
        }
        assert_eq!(lock(&pool.compressors).idle.len(), POOL_STREAMS);
        assert_eq!(lock(&pool.decompressors).idle.len(), POOL_STREAMS);
    }

    #[test]
    fn a_pool_makes_streams_up_to_its_limit_and_then_shares_the_least_recently_used() {
        let pool = StreamPool::default();
        let tuning = level(6);
        let idle = || lock(&pool.compressors).idle.len();
        // Connections in turn on one thread: each keeps a stream of its own.
        for _ in 0..3 {
            for owner in 0..POOL_STREAMS as u64 {
                let lent = pool.compressor(tuning, 15, owner);
                pool.give_compressor(tuning, 15, Some(owner), lent.stream);
            }
        }
        assert_eq!(idle(), POOL_STREAMS);
        assert!(pool.compressor(tuning, 15, 0).continued);
        // One more connection takes the least recently used stream, owner 1's.
        let stolen = pool.compressor(tuning, 15, 99);
        assert!(!stolen.continued);
        // Owner 1 takes the next least recently used, owner 2's.
        assert!(!pool.compressor(tuning, 15, 1).continued);
        assert!(!pool.compressor(tuning, 15, 2).continued);
        assert!(pool.compressor(tuning, 15, 4).continued);
        assert_eq!(idle(), POOL_STREAMS - 5);
        // Many at once: new streams beyond the limit; back, the oldest are dropped.
        let many: Vec<_> = (100..100 + 2 * POOL_STREAMS as u64)
            .map(|owner| (owner, pool.compressor(tuning, 15, owner).stream))
            .collect();
        assert_eq!(idle(), 0);
        for (owner, stream) in many {
            pool.give_compressor(tuning, 15, Some(owner), stream);
        }
        // Five are still out (0, 99, 1, 2, 4): room for three idle.
        assert_eq!(idle(), POOL_STREAMS - 5);
        assert!(
            pool.compressor(tuning, 15, 100 + 2 * POOL_STREAMS as u64 - 1)
                .continued
        );
        // A stream goes only to a connection whose parameters made it; one no one
        // can continue goes before another connection's.
        let pool = StreamPool::default();
        let small = with(3, Strategy::Default);
        let lent = pool.compressor(small, 15, 7);
        pool.give_compressor(small, 15, None, lent.stream);
        let lent = pool.compressor(tuning, 15, 8);
        pool.give_compressor(tuning, 15, Some(8), lent.stream);
        let lent = pool.compressor(tuning, 15, 9);
        pool.give_compressor(tuning, 15, None, lent.stream);
        assert_eq!(lock(&pool.compressors).idle.len(), 3);
        let _ = pool.compressor(tuning, 15, 10);
        assert!(pool.compressor(tuning, 15, 8).continued);
        assert_eq!(
            lock(&pool.compressors).idle.len(),
            1,
            "the memLevel 3 one waits"
        );
        // A closed connection's stream is no one's.
        let pool = Arc::new(StreamPool::default());
        let terms = agreed(false, 15, false, 15);
        let mut first = DeflateSession::new(tuning, terms, Arc::clone(&pool));
        encode(&mut first, b"first");
        assert!(lock(&pool.compressors).idle[0].owner.is_some());
        drop(first);
        assert!(lock(&pool.compressors).idle[0].owner.is_none());
        let mut second = DeflateSession::new(tuning, terms, Arc::clone(&pool));
        encode(&mut second, b"second");
        assert_eq!(
            lock(&pool.compressors).idle.len(),
            1,
            "no new stream was made"
        );
        // Decompressors alike.
        let lent = pool.decompressor(1);
        pool.give_decompressor(Some(1), lent.stream);
        let other = pool.decompressor(2);
        assert!(!other.continued && lock(&pool.decompressors).idle.len() == 1);
        assert!(pool.decompressor(1).continued);
    }

    #[test]
    fn a_connection_continues_its_own_stream_and_primes_one_another_used() {
        let terms = agreed(false, 13, false, 13);
        let pool = Arc::new(StreamPool::default());
        let shared = || DeflateSession::new(level(6), terms, Arc::clone(&pool));
        let (mut sender, mut receiver) = (shared(), shared());
        let (mut held_sender, mut held_receiver) = (
            session(holding(level(6)), terms),
            session(holding(level(6)), terms),
        );
        let texts = messages(6);
        for (i, text) in texts.iter().enumerate() {
            if i >= 3 {
                // As many other connections as the pool makes streams: the last takes
                // the connection's, the least recently used, and resets it.
                let mut others = Vec::new();
                for _ in 0..POOL_STREAMS {
                    let (mut other, mut other_receiver) = (shared(), shared());
                    let data = encode(&mut other, b"another connection's message");
                    other_receiver.decode(compressed(&data), 100).unwrap();
                    // Still open, so their streams stay theirs.
                    others.push((other, other_receiver));
                }
            }
            let data = encode(&mut sender, text);
            assert_eq!(data, encode(&mut held_sender, text), "message {i}");
            assert_eq!(
                &receiver.decode(compressed(&data), 1 << 20).unwrap().data,
                text
            );
            held_receiver.decode(compressed(&data), 1 << 20).unwrap();
            // The stream went back marked as the connection's, having read all it
            // compressed since its last reset.
            let since_reset: usize = if i < 3 {
                texts[..=i].iter().map(Vec::len).sum()
            } else {
                text.len()
            };
            let compressors = lock(&pool.compressors);
            let own = compressors
                .idle
                .iter()
                .find(|idle| idle.owner == Some(sender.owner));
            assert_eq!(
                own.map(|idle| idle.stream.total_in()),
                Some(since_reset as u64)
            );
        }
    }

    #[test]
    fn history_keeps_the_last_window_of_bytes_and_grows_no_further() {
        let mut history = History::default();
        let mut all = Vec::new();
        for (len, first) in [
            (3, b'a'),
            (500, b'b'),
            (1, b'c'),
            (2000, b'd'),
            (600, b'e'),
            (700, b'f'),
        ] {
            let data: Vec<u8> = (0..len).map(|i| first + (i % 7) as u8).collect();
            history.push(&data, 1024);
            all.extend_from_slice(&data);
            let tail = &all[all.len().saturating_sub(1024)..];
            assert_eq!(history.bytes, tail);
            assert!(history.bytes.capacity() <= 1024);
            assert_eq!(history.as_slice(), tail);
        }
        history.clear();
        assert_eq!(history.bytes.capacity(), 0);
    }

    #[test]
    fn a_failed_message_forgets_the_history_and_keeps_its_stream_from_the_pool() {
        let terms = agreed(false, 15, false, 15);
        let pool = Arc::new(StreamPool::default());
        let mut receiver = DeflateSession::new(level(6), terms, Arc::clone(&pool));
        let (mut sender, _) = pair(true);
        let data = encode(&mut sender, b"some text to remember");
        receiver.decode(compressed(&data), 100).unwrap();
        assert!(!receiver.received.is_empty());
        assert_eq!(lock(&pool.decompressors).idle.len(), 1);
        assert!(receiver.decode(compressed(&[0xFF; 8]), 100).is_err());
        assert!(receiver.received.is_empty());
        assert_eq!(
            lock(&pool.decompressors).idle.len(),
            0,
            "a failed stream is not lent again"
        );
    }

    /// `text` compressed with a sync flush by a new stream made with `tuning`, without
    /// the sync tail: a message as a sender without context takeover writes it.
    fn afresh(tuning: Tuning, bits: u8, text: &[u8]) -> Vec<u8> {
        let mut out =
            compress(&mut tuning.compressor(bits), text, DeflateFlush::SyncFlush).unwrap();
        assert!(out.ends_with(&SYNC_TAIL));
        out.truncate(out.len() - SYNC_TAIL.len());
        out
    }

    #[test]
    fn without_context_takeover_short_messages_get_a_smaller_mem_level_and_the_same_bytes() {
        let terms = agreed(true, 15, true, 15);
        let lengths = [1, 100, 1024, SMALL_MESSAGE - 1, SMALL_MESSAGE, 20_000];
        for strategy in Strategy::ALL {
            for (level, mem_level) in [(1, 9), (6, 8), (9, 7), (0, 8), (6, SMALL_MEM_LEVEL)] {
                let tuning = Tuning {
                    level,
                    mem_level,
                    strategy,
                    hold_streams: false,
                };
                let pool = Arc::new(StreamPool::default());
                let mut sender = DeflateSession::new(tuning, terms, Arc::clone(&pool));
                for len in lengths {
                    // Incompressible halves too, so that stored blocks are chosen.
                    let text: Vec<u8> = sample(len)
                        .iter()
                        .enumerate()
                        .map(|(i, &b)| if i % 2 == 0 { b } else { (i * 131 % 251) as u8 })
                        .collect();
                    let case =
                        format!("{strategy:?}, level {level}, memLevel {mem_level}, {len} bytes");
                    assert_eq!(
                        encode(&mut sender, &text),
                        afresh(tuning, 15, &text),
                        "{case}"
                    );
                    let idle = lock(&pool.compressors);
                    let last = idle.idle.back().unwrap();
                    let expected = if len < SMALL_MESSAGE {
                        mem_level.min(SMALL_MEM_LEVEL)
                    } else {
                        mem_level
                    };
                    assert_eq!(last.tuning.mem_level, expected, "{case}");
                    assert!(last.clean && last.owner.is_none(), "{case}");
                }
            }
        }
    }

    #[test]
    fn a_stream_ended_with_a_full_flush_is_lent_without_a_reset_and_starts_like_a_new_one() {
        let tuning = level(6);
        let (history, first, next) = (sample(40_000), sample(5_000), sample(3_000));
        // After a full flush, a stream writes what a new one writes, primed or not.
        for dictionary in [None, Some(&history[8_000..])] {
            let start = |stream: &mut Deflate| {
                if let Some(dictionary) = dictionary {
                    stream.set_dictionary(dictionary).unwrap();
                }
            };
            let mut flushed = tuning.compressor(15);
            compress(&mut flushed, &first, DeflateFlush::FullFlush).unwrap();
            start(&mut flushed);
            let mut new = tuning.compressor(15);
            start(&mut new);
            assert_eq!(
                compress(&mut flushed, &next, DeflateFlush::SyncFlush).unwrap(),
                compress(&mut new, &next, DeflateFlush::SyncFlush).unwrap(),
                "primed: {}",
                dictionary.is_some()
            );
        }
        // The pool lends a clean stream as it is; a used one it resets.
        let pool = StreamPool::default();
        let mut stream = tuning.compressor(15);
        compress(&mut stream, &first, DeflateFlush::FullFlush).unwrap();
        let total_in = stream.total_in();
        pool.give_clean_compressor(tuning, 15, stream);
        let lent = pool.compressor(tuning, 15, 7);
        assert!(!lent.continued && lent.stream.total_in() == total_in);
        pool.give_compressor(tuning, 15, None, lent.stream);
        let lent = pool.compressor(tuning, 15, 7);
        assert_eq!(lent.stream.total_in(), 0, "reset before it is lent again");
    }
}
