//! The per-connection data path: one compressor and one decompressor, kept across
//! messages (context takeover) or dropped after each one.
//!
//! Compression goes through zlib-rs's own safe API, which takes every parameter of
//! zlib's `deflateInit2` (flate2 passes only a level and a window); decompression
//! through flate2, whose `decompress_vec` fills a vector's spare capacity, which this
//! crate could not do without `unsafe`.

use std::fmt;

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
}

impl Tuning {
    /// A raw-deflate compressor with a `2^bits`-byte window.
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
            window_bits: -i32::from(zlib_window_bits(bits)),
            mem_level: i32::from(self.mem_level),
            strategy: self.strategy.into(),
        })
    }
}

/// One connection's permessage-deflate state.
pub(crate) struct DeflateSession {
    tuning: Tuning,
    agreed: Agreed,
    /// Our compressor, created on first use; dropped after each message without
    /// context takeover so an idle connection holds no window.
    compressor: Option<Deflate>,
    decompressor: Option<Decompress>,
}

/// By hand: zlib-rs's compressor has no `Debug`; whether it is held is what matters.
impl fmt::Debug for DeflateSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeflateSession")
            .field("tuning", &self.tuning)
            .field("agreed", &self.agreed)
            .field("compressor", &self.compressor.as_ref().map(|_| "held"))
            .field("decompressor", &self.decompressor)
            .finish()
    }
}

impl DeflateSession {
    pub(crate) fn new(tuning: Tuning, agreed: Agreed) -> Self {
        Self {
            tuning,
            agreed,
            compressor: None,
            decompressor: None,
        }
    }

    /// Inflates `input` plus the sync tail into `out`, never letting `out` grow past
    /// `max_length + 1` bytes.
    fn inflate(
        &mut self,
        input: &[u8],
        max_length: usize,
        out: &mut Vec<u8>,
    ) -> Result<(), ExtensionError> {
        let bits = zlib_window_bits(self.agreed.peer_window_bits);
        let decompressor = self
            .decompressor
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
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
                let (in_before, out_before) = (decompressor.total_in(), out.len());
                let status = decompressor
                    .decompress_vec(rest, out, FlushDecompress::Sync)
                    .map_err(|error| ExtensionError::invalid_data(error.to_string()))?;
                let consumed =
                    usize::try_from(decompressor.total_in() - in_before).unwrap_or(usize::MAX);
                rest = rest.get(consumed..).unwrap_or_default();
                if status == Status::StreamEnd {
                    // The sender ended its stream with a BFINAL block (RFC 7692
                    // section 7.2.3.4). What follows is padding at most (zlib
                    // ignores it too); the next message starts a new stream. The
                    // block may have filled the look-ahead byte: check the limit.
                    self.decompressor = None;
                    return within(out, max_length);
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
        within(out, max_length)
    }

    fn deflate(&mut self, input: &[u8]) -> Result<Vec<u8>, ExtensionError> {
        let (tuning, bits) = (self.tuning, self.agreed.own_window_bits);
        let compressor = self
            .compressor
            .get_or_insert_with(|| tuning.compressor(bits));
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
            let (in_before, out_before) = (compressor.total_in(), compressor.total_out());
            compressor
                .compress(rest, room, DeflateFlush::SyncFlush)
                .map_err(|error| ExtensionError::internal(error.as_str()))?;
            let consumed = usize::try_from(compressor.total_in() - in_before).unwrap_or(usize::MAX);
            let produced =
                usize::try_from(compressor.total_out() - out_before).unwrap_or(usize::MAX);
            rest = rest.get(consumed..).unwrap_or_default();
            written += produced.min(room_len);
            if rest.is_empty() && written < out.len() {
                break;
            }
        }
        out.truncate(written);
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
        Ok(out)
    }
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
        let result = self.inflate(&message.data, max_length, &mut out);
        if result.is_err() || self.agreed.peer_no_context_takeover {
            self.decompressor = None;
        }
        result?;
        Ok(Message {
            opcode: message.opcode,
            rsv,
            data: out.into(),
        })
    }

    fn encode(&mut self, message: Message) -> Result<Message, ExtensionError> {
        let result = self.deflate(&message.data);
        if result.is_err() || self.agreed.own_no_context_takeover {
            self.compressor = None;
        }
        Ok(Message {
            opcode: message.opcode,
            rsv: message.rsv | Rsv::RSV1,
            data: result?.into(),
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
        }
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
        (
            DeflateSession::new(level(6), terms),
            DeflateSession::new(level(6), terms),
        )
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
            let (mut sender, mut receiver) = (
                DeflateSession::new(level(9), terms),
                DeflateSession::new(level(9), terms),
            );
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
        (
            DeflateSession::new(tuning, terms),
            DeflateSession::new(level(6), terms),
        )
    }

    fn with(mem_level: u8, strategy: Strategy) -> Tuning {
        Tuning {
            level: 6,
            mem_level,
            strategy,
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
        let (mut sender, mut receiver) = (
            DeflateSession::new(tuning, terms),
            DeflateSession::new(tuning, terms),
        );
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
}
