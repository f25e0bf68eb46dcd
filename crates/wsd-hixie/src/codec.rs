//! Hixie data framing: the incremental [`Decoder`] and the encoder.

use bytes::{Buf, Bytes, BytesMut};

use crate::{Draft, Error};

/// The Hixie-76 closing handshake: a `0xFF` frame of length 0. Hixie-75 has no closing
/// handshake, so a Hixie-75 driver closes the transport without writing anything.
pub const CLOSE_FRAME: [u8; 2] = [0xFF, 0x00];

/// The byte that ends a text frame. It never occurs in UTF-8.
const SENTINEL: u8 = 0xFF;

/// Appends a text frame holding `text` to `out`: `0x00`, the UTF-8 bytes, `0xFF`.
///
/// # Example
///
/// ```
/// let mut out = Vec::new();
/// wsd_hixie::encode_text("Hi", &mut out);
/// assert_eq!(out, [0x00, b'H', b'i', 0xFF]);
/// ```
pub fn encode_text(text: &str, out: &mut Vec<u8>) {
    out.reserve(text.len() + 2);
    out.push(0x00);
    out.extend_from_slice(text.as_bytes());
    out.push(SENTINEL);
}

/// One event decoded from a Hixie byte stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// A text frame's payload, without the `0x00` and `0xFF` around it. It is always
    /// valid UTF-8, so `std::str::from_utf8` on it never fails.
    Text(Bytes),
    /// Hixie-76 only: the peer started the closing handshake. The driver answers with
    /// [`CLOSE_FRAME`] if it has not sent one, then closes the transport.
    Close,
}

/// Where the decoder is in the byte stream.
#[derive(Debug, Clone)]
enum State {
    /// Waiting for a frame type byte.
    FrameType,
    /// Inside a frame whose type byte has the top bit clear, looking for its `0xFF`.
    /// `scanned` payload bytes are known to hold no `0xFF`. A text frame (type `0x00`)
    /// leaves them at the front of the input so the payload can be split off without a
    /// copy; any other type is discarded, so they are consumed as they are scanned.
    Sentinel { text: bool, scanned: usize },
    /// Reading the base-128 length digits of a frame whose type byte has the top bit set.
    /// `closing` marks a Hixie-76 `0xFF` frame, which closes when its length is 0.
    Length { closing: bool, length: u64 },
    /// Discarding the payload of a length-prefixed frame.
    Skip { remaining: u64 },
    /// The Hixie-76 closing handshake was decoded; nothing more is read.
    Closed,
    /// The stream broke a rule; the same error is returned from now on.
    Failed(Error),
}

/// The incremental decoder of Hixie-75 and Hixie-76 frames.
///
/// The rules, shared by both drafts unless noted:
///
/// - A frame type byte with the top bit clear starts a sentinel frame that runs up to the
///   next `0xFF`. Type `0x00` is a text frame: its payload must be valid UTF-8, and is
///   returned as [`Frame::Text`]. The drafts say to discard sentinel frames of any other
///   type, and so does this decoder (websocket-driver reported them as text).
/// - A frame type byte with the top bit set is followed by a length in base-128 digits,
///   big-endian, each byte but the last with its top bit set; that many payload bytes
///   are skipped, whatever they hold (websocket-driver 0.7.x stopped at a `0xFF` inside
///   them).
/// - Hixie-76 only: a `0xFF` frame of length 0 (`0xFF 0x00`, see [`CLOSE_FRAME`]) is the
///   closing handshake and is returned as [`Frame::Close`]; after it the decoder reads
///   nothing more and returns `Ok(None)`, leaving any later bytes in the input. In
///   Hixie-75 `0xFF 0x00` is an empty frame that is skipped.
/// - A sentinel frame longer than `max_length` bytes fails with
///   [`Error::TextTooLong`] as soon as byte `max_length + 1` is seen, without waiting for
///   the `0xFF`; a length-prefixed frame declaring more than `max_length` bytes fails
///   with [`Error::FrameTooLong`] as soon as its length digits pass the limit. So memory
///   stays bounded by `max_length`, and no length can overflow.
/// - Invalid UTF-8 in a text frame fails with [`Error::InvalidUtf8`].
///   `websocket-driver` (Node) replaced bad bytes with U+FFFD instead; wsd treats them as
///   a protocol error, on which the driver closes the connection.
///
/// Errors are sticky: once [`decode`](Self::decode) has failed it returns the same error
/// again and nothing after the offending bytes is ever decoded.
///
/// The input may arrive in any split: feeding one byte at a time gives exactly the same
/// frames and errors as feeding everything at once, and no byte is scanned twice, so the
/// total work is linear in the input.
///
/// # Example
///
/// ```
/// use bytes::BytesMut;
/// use wsd_hixie::{Decoder, Draft, Frame};
///
/// let mut decoder = Decoder::new(Draft::Hixie76, 1 << 20);
/// let mut input = BytesMut::from(&b"\x00Hel"[..]);
/// assert_eq!(decoder.decode(&mut input), Ok(None));
/// input.extend_from_slice(b"lo\xFF\xFF\x00");
/// assert_eq!(decoder.decode(&mut input), Ok(Some(Frame::Text("Hello".into()))));
/// assert_eq!(decoder.decode(&mut input), Ok(Some(Frame::Close)));
/// ```
#[derive(Debug, Clone)]
pub struct Decoder {
    draft: Draft,
    max_length: usize,
    state: State,
}

impl Decoder {
    /// A decoder for `draft` that refuses frames longer than `max_length` bytes.
    #[must_use]
    pub fn new(draft: Draft, max_length: usize) -> Self {
        Self {
            draft,
            max_length,
            state: State::FrameType,
        }
    }

    /// The draft this decoder reads.
    #[must_use]
    pub fn draft(&self) -> Draft {
        self.draft
    }

    /// The largest frame payload this decoder accepts, in bytes.
    #[must_use]
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Decodes the next frame from the front of `input`.
    ///
    /// Returns `Ok(Some(frame))` with the first complete frame and removes its bytes from
    /// `input`, leaving the bytes after it for the next call. Returns `Ok(None)` when
    /// `input` holds no complete frame yet (or after [`Frame::Close`]). Skipped frames are
    /// consumed without being returned.
    ///
    /// Between calls the caller may only append to `input`: the bytes of a text frame that
    /// is still incomplete stay at its front, already scanned, and are split off without
    /// a copy once the frame's `0xFF` arrives.
    pub fn decode(&mut self, input: &mut BytesMut) -> Result<Option<Frame>, Error> {
        let result = self.decode_inner(input);
        if let Err(error) = &result {
            self.state = State::Failed(error.clone());
        }
        result
    }

    fn decode_inner(&mut self, input: &mut BytesMut) -> Result<Option<Frame>, Error> {
        loop {
            match self.state {
                State::Closed => return Ok(None),
                State::Failed(ref error) => return Err(error.clone()),
                State::FrameType => {
                    let Some(&byte) = input.first() else {
                        return Ok(None);
                    };
                    input.advance(1);
                    self.state = if byte & 0x80 == 0 {
                        State::Sentinel {
                            text: byte == 0x00,
                            scanned: 0,
                        }
                    } else {
                        State::Length {
                            closing: self.draft == Draft::Hixie76 && byte == 0xFF,
                            length: 0,
                        }
                    };
                }
                State::Sentinel { text, scanned } => {
                    // Text payload bytes already scanned are still in the input.
                    let start = if text { scanned } else { 0 };
                    // Payload byte `max_length` (0-based) may still be the terminator;
                    // looking further would only buffer bytes that are bound to fail.
                    let room = self.max_length.saturating_sub(scanned).saturating_add(1);
                    let end = input.len().min(start.saturating_add(room));
                    let window = input.get(start..end).unwrap_or_default();
                    match window.iter().position(|&b| b == SENTINEL) {
                        Some(found) => {
                            self.state = State::FrameType;
                            if text {
                                let mut payload = input.split_to(start + found + 1);
                                payload.truncate(start + found);
                                return match std::str::from_utf8(&payload) {
                                    Ok(_) => Ok(Some(Frame::Text(payload.freeze()))),
                                    Err(e) => Err(Error::InvalidUtf8 {
                                        valid_up_to: e.valid_up_to(),
                                    }),
                                };
                            }
                            input.advance(found + 1);
                        }
                        None => {
                            let seen = window.len();
                            let scanned = scanned.saturating_add(seen);
                            if scanned > self.max_length {
                                return Err(Error::TextTooLong {
                                    max_length: self.max_length,
                                });
                            }
                            if !text {
                                input.advance(seen);
                            }
                            self.state = State::Sentinel { text, scanned };
                            return Ok(None);
                        }
                    }
                }
                State::Length { closing, length } => {
                    let Some(&byte) = input.first() else {
                        return Ok(None);
                    };
                    input.advance(1);
                    // Digits only ever grow the length, so it can fail as soon as it
                    // passes the limit, long before it could overflow.
                    let length = length
                        .checked_mul(128)
                        .and_then(|l| l.checked_add(u64::from(byte & 0x7F)))
                        .filter(|&l| l <= self.max_length as u64)
                        .ok_or(Error::FrameTooLong {
                            max_length: self.max_length,
                        })?;
                    self.state = if byte & 0x80 != 0 {
                        State::Length { closing, length }
                    } else if length != 0 {
                        State::Skip { remaining: length }
                    } else if closing {
                        State::Closed
                    } else {
                        State::FrameType
                    };
                    if matches!(self.state, State::Closed) {
                        return Ok(Some(Frame::Close));
                    }
                }
                State::Skip { remaining } => {
                    let skipped =
                        usize::try_from(remaining).map_or(input.len(), |r| r.min(input.len()));
                    input.advance(skipped);
                    let remaining = remaining - skipped as u64;
                    if remaining != 0 {
                        self.state = State::Skip { remaining };
                        return Ok(None);
                    }
                    self.state = State::FrameType;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 64;

    /// Feeds `chunks` one after another and decodes after each until the decoder needs
    /// more; stops at the first error.
    fn decode_chunks<'a>(
        draft: Draft,
        max_length: usize,
        chunks: impl IntoIterator<Item = &'a [u8]>,
    ) -> Vec<Result<Frame, Error>> {
        let mut decoder = Decoder::new(draft, max_length);
        let mut input = BytesMut::new();
        let mut events = Vec::new();
        for chunk in chunks {
            input.extend_from_slice(chunk);
            loop {
                match decoder.decode(&mut input) {
                    Ok(Some(frame)) => events.push(Ok(frame)),
                    Ok(None) => break,
                    Err(error) => {
                        // Sticky: asking again gives the same error and nothing else.
                        assert_eq!(decoder.decode(&mut input), Err(error.clone()));
                        events.push(Err(error));
                        return events;
                    }
                }
            }
        }
        events
    }

    /// Decodes `bytes` in one chunk, checks that one byte at a time and every split in two
    /// give the same events, and returns them.
    fn decode(draft: Draft, max_length: usize, bytes: &[u8]) -> Vec<Result<Frame, Error>> {
        let whole = decode_chunks(draft, max_length, [bytes]);
        assert_eq!(
            decode_chunks(draft, max_length, bytes.chunks(1)),
            whole,
            "byte at a time"
        );
        for split in 0..=bytes.len() {
            let (a, b) = bytes.split_at(split);
            assert_eq!(
                decode_chunks(draft, max_length, [a, b]),
                whole,
                "split at {split}"
            );
        }
        whole
    }

    /// `prefix`, then `count` copies of `byte`, then `suffix`.
    fn with_run(prefix: &[u8], byte: u8, count: usize, suffix: &[u8]) -> Vec<u8> {
        let mut bytes = prefix.to_vec();
        bytes.resize(prefix.len() + count, byte);
        bytes.extend_from_slice(suffix);
        bytes
    }

    fn text(s: &str) -> Result<Frame, Error> {
        Ok(Frame::Text(Bytes::copy_from_slice(s.as_bytes())))
    }

    #[test]
    fn text_frames_decode_in_both_drafts() {
        for draft in [Draft::Hixie75, Draft::Hixie76] {
            assert_eq!(
                decode(draft, MAX, b"\x00Hello\xFF\x00\xFF\x00caf\xC3\xA9\xFF"),
                [text("Hello"), text(""), text("café")]
            );
        }
    }

    #[test]
    fn decode_returns_one_frame_and_leaves_the_rest_in_the_input() {
        let mut decoder = Decoder::new(Draft::Hixie75, MAX);
        let mut input = BytesMut::from(&b"\x00a\xFF\x00b\xFF\x00c"[..]);
        assert_eq!(
            decoder.decode(&mut input),
            Ok(Some(Frame::Text("a".into())))
        );
        assert_eq!(&input[..], b"\x00b\xFF\x00c");
        assert_eq!(
            decoder.decode(&mut input),
            Ok(Some(Frame::Text("b".into())))
        );
        assert_eq!(decoder.decode(&mut input), Ok(None));
        input.extend_from_slice(b"d\xFF");
        assert_eq!(
            decoder.decode(&mut input),
            Ok(Some(Frame::Text("cd".into())))
        );
        assert!(input.is_empty());
    }

    #[test]
    fn sentinel_frames_of_other_types_are_discarded() {
        assert_eq!(
            decode(
                Draft::Hixie75,
                MAX,
                b"\x01ignored\xFF\x7Fmore\xFF\x00kept\xFF"
            ),
            [text("kept")]
        );
    }

    #[test]
    fn discarded_sentinel_frames_are_consumed_while_incomplete() {
        let mut decoder = Decoder::new(Draft::Hixie76, MAX);
        let mut input = BytesMut::from(&b"\x05abc"[..]);
        assert_eq!(decoder.decode(&mut input), Ok(None));
        assert!(input.is_empty());
    }

    #[test]
    fn invalid_utf8_in_a_text_frame_is_an_error_and_nothing_follows() {
        assert_eq!(
            decode(
                Draft::Hixie75,
                MAX,
                b"\x00ok\xFF\x00ab\xC3\x28\xFF\x00next\xFF"
            ),
            [text("ok"), Err(Error::InvalidUtf8 { valid_up_to: 2 })]
        );
        // A truncated code point right before the sentinel.
        assert_eq!(
            decode(Draft::Hixie76, MAX, b"\x00\xE2\x82\xFF"),
            [Err(Error::InvalidUtf8 { valid_up_to: 0 })]
        );
    }

    #[test]
    fn length_prefixed_frames_are_skipped_exactly() {
        // Lengths 3 and 130 (0x81 0x02), with 0xFF and 0x00 bytes in the payloads that must
        // not end them (the websocket-driver 0.7.x bug re-emitted stale text there).
        let bytes = with_run(
            b"\x00first\xFF\x80\x03\xFF\x00\xFF\x80\x81\x02",
            0xFF,
            130,
            b"\x00second\xFF",
        );
        for draft in [Draft::Hixie75, Draft::Hixie76] {
            assert_eq!(decode(draft, 200, &bytes), [text("first"), text("second")]);
        }
    }

    #[test]
    fn length_prefixed_frame_of_length_zero_has_no_payload() {
        assert_eq!(
            decode(Draft::Hixie76, MAX, b"\x80\x00\x00a\xFF"),
            [text("a")]
        );
        assert_eq!(
            decode(Draft::Hixie76, MAX, b"\x80\x80\x80\x00\x00a\xFF"),
            [text("a")]
        );
    }

    #[test]
    fn hixie76_ff_00_is_the_closing_handshake_and_later_bytes_are_left_alone() {
        assert_eq!(
            decode(Draft::Hixie76, MAX, b"\x00bye\xFF\xFF\x00\x00after\xFF"),
            [text("bye"), Ok(Frame::Close)]
        );
        let mut decoder = Decoder::new(Draft::Hixie76, MAX);
        let mut input = BytesMut::from(&b"\xFF\x00\x00after\xFF"[..]);
        assert_eq!(decoder.decode(&mut input), Ok(Some(Frame::Close)));
        assert_eq!(decoder.decode(&mut input), Ok(None));
        assert_eq!(&input[..], b"\x00after\xFF");
    }

    #[test]
    fn hixie76_ff_frame_with_zero_length_in_several_digits_closes() {
        assert_eq!(
            decode(Draft::Hixie76, MAX, b"\xFF\x80\x00"),
            [Ok(Frame::Close)]
        );
    }

    #[test]
    fn hixie76_ff_frame_with_a_length_is_skipped() {
        assert_eq!(
            decode(Draft::Hixie76, MAX, b"\xFF\x02\xFF\x00\x00a\xFF"),
            [text("a")]
        );
    }

    #[test]
    fn hixie75_ff_00_is_an_empty_frame_not_a_close() {
        assert_eq!(
            decode(Draft::Hixie75, MAX, b"\xFF\x00\x00after\xFF"),
            [text("after")]
        );
    }

    #[test]
    fn text_of_exactly_max_length_is_accepted() {
        let bytes = with_run(b"\x00", b'a', 8, b"\xFF");
        assert_eq!(decode(Draft::Hixie75, 8, &bytes), [text("aaaaaaaa")]);
        assert_eq!(decode(Draft::Hixie75, 0, b"\x00\xFF"), [text("")]);
    }

    #[test]
    fn text_longer_than_max_length_fails_and_nothing_follows() {
        let bytes = with_run(b"\x00", b'a', 9, b"\xFF\x00next\xFF");
        for draft in [Draft::Hixie75, Draft::Hixie76] {
            assert_eq!(
                decode(draft, 8, &bytes),
                [Err(Error::TextTooLong { max_length: 8 })]
            );
        }
        assert_eq!(
            decode(Draft::Hixie75, 0, b"\x00a\xFF"),
            [Err(Error::TextTooLong { max_length: 0 })]
        );
    }

    #[test]
    fn text_longer_than_max_length_fails_before_its_end_arrives() {
        let mut decoder = Decoder::new(Draft::Hixie75, 4);
        let mut input = BytesMut::from(&b"\x00abcd"[..]);
        assert_eq!(decoder.decode(&mut input), Ok(None));
        input.extend_from_slice(b"e");
        assert_eq!(
            decoder.decode(&mut input),
            Err(Error::TextTooLong { max_length: 4 })
        );
    }

    #[test]
    fn discarded_sentinel_frames_obey_max_length_too() {
        let bytes = with_run(b"\x01", b'a', 9, b"\xFF");
        assert_eq!(
            decode(Draft::Hixie75, 8, &bytes),
            [Err(Error::TextTooLong { max_length: 8 })]
        );
    }

    #[test]
    fn length_prefixed_frame_of_max_length_is_skipped_and_one_more_fails() {
        // Frame type 0x80, then 0x81 0x00 declares 128 bytes.
        let bytes = with_run(b"\x80\x81\x00", 0, 128, b"\x00ok\xFF");
        assert_eq!(decode(Draft::Hixie75, 128, &bytes), [text("ok")]);
        assert_eq!(
            decode(Draft::Hixie75, 127, &bytes),
            [Err(Error::FrameTooLong { max_length: 127 })]
        );
    }

    #[test]
    fn declared_length_fails_as_soon_as_its_digits_pass_the_limit() {
        let mut decoder = Decoder::new(Draft::Hixie76, 1000);
        // 0x88 is already 8, so the next digit makes at least 1024.
        let mut input = BytesMut::from(&b"\x80\x88"[..]);
        assert_eq!(decoder.decode(&mut input), Ok(None));
        input.extend_from_slice(b"\x80");
        assert_eq!(
            decoder.decode(&mut input),
            Err(Error::FrameTooLong { max_length: 1000 })
        );
    }

    #[test]
    fn overflowing_length_fails_even_without_a_limit() {
        let bytes = with_run(b"\x80", 0xFF, 40, b"\x7F");
        assert_eq!(
            decode(Draft::Hixie75, usize::MAX, &bytes),
            [Err(Error::FrameTooLong {
                max_length: usize::MAX
            })]
        );
    }

    #[test]
    fn huge_skip_is_consumed_without_buffering() {
        let lengths: [(u64, &[u8]); 2] = [
            // Five digits, which a 32-bit usize holds too.
            ((1 << 31) - 1, b"\x80\x87\xFF\xFF\xFF\x7F"),
            // Eight 0xFF-continued digits.
            ((1 << 56) - 1, b"\x80\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x7F"),
        ];
        for (length, header) in lengths {
            let mut decoder = Decoder::new(Draft::Hixie75, usize::MAX);
            let mut input = BytesMut::from(header);
            if usize::try_from(length).is_err() {
                // Over the largest `max_length` a 32-bit usize holds: refused.
                let refused = Err(Error::FrameTooLong {
                    max_length: usize::MAX,
                });
                assert_eq!(decoder.decode(&mut input), refused, "{length}");
                continue;
            }
            assert_eq!(decoder.decode(&mut input), Ok(None), "{length}");
            input.extend_from_slice(&[0xFF; 4096]);
            assert_eq!(decoder.decode(&mut input), Ok(None), "{length}");
            assert!(input.is_empty(), "{length}");
        }
    }

    #[test]
    fn decoding_a_byte_at_a_time_takes_linear_time() {
        // A quadratic rescan would take around 10^11 steps here.
        let big = "x".repeat(300_000);
        let mut wire = Vec::new();
        encode_text(&big, &mut wire);
        let mut decoder = Decoder::new(Draft::Hixie75, usize::MAX);
        let mut input = BytesMut::new();
        let mut frames = Vec::new();
        for byte in wire {
            input.extend_from_slice(&[byte]);
            frames.extend(decoder.decode(&mut input).unwrap());
        }
        assert_eq!(frames, [Frame::Text(big.into())]);
    }

    #[test]
    fn encoded_text_and_close_frames_decode_back() {
        let mut wire = Vec::new();
        encode_text("", &mut wire);
        encode_text("héllo ☃", &mut wire);
        wire.extend_from_slice(&CLOSE_FRAME);
        assert_eq!(
            decode(Draft::Hixie76, MAX, &wire),
            [text(""), text("héllo ☃"), Ok(Frame::Close)]
        );
    }

    #[test]
    fn decoder_reports_its_configuration() {
        let decoder = Decoder::new(Draft::Hixie76, 7);
        assert_eq!((decoder.draft(), decoder.max_length()), (Draft::Hixie76, 7));
    }

    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn any_draft() -> impl Strategy<Value = Draft> {
            prop_oneof![Just(Draft::Hixie75), Just(Draft::Hixie76)]
        }

        /// Byte streams biased towards the bytes that mean something to the decoder.
        fn wire() -> impl Strategy<Value = Vec<u8>> {
            proptest::collection::vec(
                prop_oneof![
                    Just(0x00u8),
                    Just(0xFF),
                    Just(0x80),
                    0x81u8..0xFF,
                    0x01u8..0x80,
                ],
                0..200,
            )
        }

        proptest! {
            #[test]
            fn texts_round_trip_through_encoder_and_decoder(
                draft in any_draft(),
                texts in proptest::collection::vec(".*", 0..5),
            ) {
                let mut wire = Vec::new();
                for t in &texts {
                    encode_text(t, &mut wire);
                }
                let expected: Vec<_> = texts.iter().map(|t| text(t)).collect();
                prop_assert_eq!(decode_chunks(draft, usize::MAX, [&wire[..]]), expected);
            }

            #[test]
            fn any_split_of_any_input_gives_the_same_events(
                draft in any_draft(),
                max_length in 0usize..300,
                bytes in wire(),
                cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
            ) {
                let mut points: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
                points.sort_unstable();
                let mut chunks = Vec::new();
                let mut last = 0;
                for point in points {
                    chunks.push(&bytes[last..point]);
                    last = point;
                }
                chunks.push(&bytes[last..]);
                prop_assert_eq!(
                    decode_chunks(draft, max_length, chunks),
                    decode_chunks(draft, max_length, [&bytes[..]])
                );
                prop_assert_eq!(
                    decode_chunks(draft, max_length, bytes.chunks(1)),
                    decode_chunks(draft, max_length, [&bytes[..]])
                );
            }
        }
    }
}
