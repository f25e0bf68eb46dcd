//! A reference frame decoder for the `frame_differential` target: RFC 6455 section 5.2
//! read one byte at a time, written from the RFC's text and nothing else, so that it
//! shares no code and no structure with `wsd_frame::FrameDecoder`.
//!
//! It is deliberately naive: a stage per header field, one byte per call, a UTF-8
//! automaton spelled out from RFC 3629 section 4, payloads copied into a `Vec`. Speed
//! does not matter here; being obviously right does.
//!
//! Where a stream breaks several rules at once, the RFC says nothing about which one
//! to report, so the model reports the *set* of rules the bytes seen so far prove
//! broken, and the target accepts any member of it. When a rule counts as proven is
//! part of `wsd_frame`'s documented contract, and the model follows it:
//!
//! - the rules about one header alone (reserved opcode, fragmented control frame,
//!   control frame over 125 bytes, 64-bit length with its top bit set) fail as soon as
//!   the byte that breaks them arrives;
//! - the rules that depend on the connection (masking by role, RSV bits nobody owns,
//!   fragmentation order, `max_length`) are judged once the whole header, mask key
//!   included, has arrived;
//! - invalid UTF-8 in a text message fails at the first byte that no valid text can
//!   continue with, and an unfinished code point at the end of the message's last frame.
//!
//! Two choices go beyond RFC 6455 and are the decoder's configuration, as
//! `wsd_frame::DecoderConfig` documents it: `max_length` bounds each data message (the
//! sum of its frames' declared lengths) and each control frame on its own; and a text
//! message whose first frame carries an RSV bit belongs to an extension, so its bytes
//! are not checked as UTF-8 here.

/// What the decoder is configured with (the fields of `wsd_frame::DecoderConfig`).
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// True for a server, which receives masked frames; false for a client.
    pub server: bool,
    /// Servers: unmasked frames are an error.
    pub require_masking: bool,
    /// The largest message, in bytes.
    pub max_length: u64,
    /// The RSV bits (in their header-byte positions, `0x70`) extensions own.
    pub allowed_rsv: u8,
}

/// A rule of RFC 6455 section 5 that the input broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Violation {
    /// Opcodes 0x3-0x7 and 0xB-0xF are reserved (section 5.2).
    ReservedOpcode(u8),
    /// RSV bits (header positions) that no negotiated extension owns, or on a frame
    /// that may not carry any (section 5.2).
    ReservedBits(u8),
    /// A control frame without FIN (section 5.5).
    FragmentedControl(u8),
    /// A control frame longer than 125 bytes (section 5.5): opcode and length.
    ControlTooLong(u8, u64),
    /// The most significant bit of a 64-bit length is set (section 5.2).
    LengthTopBit,
    /// A client's frame without a mask (section 5.1).
    Unmasked,
    /// A server's frame with a mask (section 5.1).
    Masked,
    /// A continuation frame with no message to continue (section 5.4).
    UnexpectedContinuation,
    /// A new text or binary frame while a message is unfinished (section 5.4).
    Unfinished(u8),
    /// The message (or control frame) would be longer than `max_length`, or than this
    /// machine can address.
    TooLong {
        /// The configured maximum.
        limit: u64,
        /// The length the message would reach.
        length: u64,
    },
    /// Text that is not UTF-8 (sections 5.6 and 8.1).
    InvalidUtf8,
}

/// A close frame payload's faults (section 5.5.1 and 7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseViolation {
    /// One byte: too short for a status code.
    TooShort,
    /// A status code that may not be sent.
    Code(u16),
    /// A reason that is not UTF-8.
    Reason,
}

/// A decoded frame, with every header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// Where its first byte is in the stream.
    pub offset: usize,
    /// How many bytes its header took.
    pub header_len: usize,
    /// FIN.
    pub fin: bool,
    /// RSV1-3, in their header-byte positions.
    pub rsv: u8,
    /// The opcode.
    pub opcode: u8,
    /// The opcode of the message a continuation belongs to; the frame's own opcode
    /// otherwise.
    pub message_opcode: u8,
    /// The masking key, if the MASK bit was set.
    pub mask: Option<[u8; 4]>,
    /// The declared payload length.
    pub payload_len: u64,
    /// The payload, unmasked.
    pub payload: Vec<u8>,
}

/// What one byte did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nothing complete yet.
    More,
    /// This byte completed a frame.
    Frame(Frame),
    /// This byte proved the input broken; the set holds every rule proven broken.
    Fail(Vec<Violation>),
}

/// Which header field the next byte belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// FIN, RSV1-3, opcode.
    First,
    /// MASK and the 7-bit length.
    Second,
    /// The 16- or 64-bit extended length; this many bytes still to come.
    ExtendedLength(u8),
    /// The masking key; this many bytes still to come.
    MaskKey(u8),
    /// The payload.
    Payload,
}

/// A data message between its first frame's header and its last frame's end.
#[derive(Debug, Clone)]
struct Message {
    opcode: u8,
    /// The sum of its frames' declared lengths so far.
    length: u64,
    /// For text no extension transforms.
    utf8: Option<Utf8>,
}

/// The byte-at-a-time decoder.
#[derive(Debug, Clone)]
pub struct Decoder {
    config: Config,
    stage: Stage,
    /// Bytes consumed so far.
    position: usize,
    /// The frame being read (its payload fills as bytes arrive).
    frame: Frame,
    message: Option<Message>,
}

const CONTINUATION: u8 = 0x0;
const TEXT: u8 = 0x1;
const BINARY: u8 = 0x2;

fn is_control(opcode: u8) -> bool {
    opcode & 0x8 != 0
}

fn is_reserved(opcode: u8) -> bool {
    matches!(opcode, 0x3..=0x7 | 0xB..=0xF)
}

impl Decoder {
    /// A decoder before the first byte of a stream.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            stage: Stage::First,
            position: 0,
            frame: empty_frame(0),
            message: None,
        }
    }

    /// True between the header of a message's first frame and the end of its last.
    pub fn in_message(&self) -> bool {
        self.message.is_some()
    }

    /// The declared length of the frame whose payload is being read.
    pub fn payload_len(&self) -> Option<u64> {
        (self.stage == Stage::Payload).then_some(self.frame.payload_len)
    }

    /// Reads one byte.
    pub fn push(&mut self, byte: u8) -> Step {
        self.position += 1;
        match self.stage {
            Stage::First => {
                self.frame.fin = byte & 0x80 != 0;
                self.frame.rsv = byte & 0x70;
                self.frame.opcode = byte & 0x0F;
                self.frame.header_len = 1;
                let mut broken = Vec::new();
                if is_reserved(self.frame.opcode) {
                    broken.push(Violation::ReservedOpcode(self.frame.opcode));
                }
                if is_control(self.frame.opcode) && !self.frame.fin {
                    broken.push(Violation::FragmentedControl(self.frame.opcode));
                }
                if !broken.is_empty() {
                    return Step::Fail(broken);
                }
                self.stage = Stage::Second;
                Step::More
            }
            Stage::Second => {
                self.frame.header_len = 2;
                self.frame.mask = (byte & 0x80 != 0).then_some([0; 4]);
                match byte & 0x7F {
                    126 => self.stage = Stage::ExtendedLength(2),
                    127 => self.stage = Stage::ExtendedLength(8),
                    length => {
                        self.frame.payload_len = u64::from(length);
                        return self.length_known();
                    }
                }
                Step::More
            }
            Stage::ExtendedLength(left) => {
                self.frame.header_len += 1;
                // The first of eight bytes carries the top bit that must be 0.
                if left == 8 && byte & 0x80 != 0 {
                    return Step::Fail(vec![Violation::LengthTopBit]);
                }
                self.frame.payload_len = (self.frame.payload_len << 8) | u64::from(byte);
                if left > 1 {
                    self.stage = Stage::ExtendedLength(left - 1);
                    return Step::More;
                }
                self.length_known()
            }
            Stage::MaskKey(left) => {
                self.frame.header_len += 1;
                if let Some(key) = self.frame.mask.as_mut() {
                    key[usize::from(4 - left)] = byte;
                }
                if left > 1 {
                    self.stage = Stage::MaskKey(left - 1);
                    return Step::More;
                }
                self.header_done()
            }
            Stage::Payload => {
                let index = self.frame.payload.len();
                let byte = match self.frame.mask {
                    Some(key) => byte ^ key[index % 4],
                    None => byte,
                };
                self.frame.payload.push(byte);
                if !is_control(self.frame.opcode)
                    && let Some(utf8) = self.message.as_mut().and_then(|m| m.utf8.as_mut())
                    && !utf8.push(byte)
                {
                    return Step::Fail(vec![Violation::InvalidUtf8]);
                }
                if self.frame.payload.len() as u64 == self.frame.payload_len {
                    return self.frame_done();
                }
                Step::More
            }
        }
    }

    /// The length is read: a control frame may not exceed 125 bytes; the mask key or
    /// the end of the header comes next.
    fn length_known(&mut self) -> Step {
        if is_control(self.frame.opcode) && self.frame.payload_len > 125 {
            return Step::Fail(vec![Violation::ControlTooLong(
                self.frame.opcode,
                self.frame.payload_len,
            )]);
        }
        if self.frame.mask.is_some() {
            self.stage = Stage::MaskKey(4);
            return Step::More;
        }
        self.header_done()
    }

    /// The whole header is here: judge it against the connection's rules.
    fn header_done(&mut self) -> Step {
        let frame = &self.frame;
        let config = &self.config;
        let mut broken = Vec::new();
        match (config.server, frame.mask.is_some()) {
            (true, false) if config.require_masking => broken.push(Violation::Unmasked),
            (false, true) => broken.push(Violation::Masked),
            _ => {}
        }
        let first_of_message = frame.opcode == TEXT || frame.opcode == BINARY;
        let owned = if first_of_message {
            config.allowed_rsv
        } else {
            0
        };
        if frame.rsv & !owned != 0 {
            broken.push(Violation::ReservedBits(frame.rsv & !owned));
        }
        let mut so_far = 0;
        match (&self.message, frame.opcode) {
            (None, CONTINUATION) => broken.push(Violation::UnexpectedContinuation),
            (Some(_), TEXT | BINARY) => broken.push(Violation::Unfinished(frame.opcode)),
            (Some(message), CONTINUATION) => so_far = message.length,
            _ => {}
        }
        let length = so_far.saturating_add(frame.payload_len);
        if length > config.max_length || usize::try_from(frame.payload_len).is_err() {
            broken.push(Violation::TooLong {
                limit: config.max_length,
                length,
            });
        }
        if !broken.is_empty() {
            return Step::Fail(broken);
        }
        if first_of_message {
            self.message = Some(Message {
                opcode: frame.opcode,
                length: 0,
                utf8: (frame.opcode == TEXT && frame.rsv == 0).then(Utf8::default),
            });
        }
        if !is_control(frame.opcode)
            && let Some(message) = self.message.as_mut()
        {
            message.length = length;
        }
        self.stage = Stage::Payload;
        if self.frame.payload_len == 0 {
            return self.frame_done();
        }
        Step::More
    }

    /// The payload is complete: the frame is out, and the message may be too.
    fn frame_done(&mut self) -> Step {
        let mut frame = std::mem::replace(&mut self.frame, empty_frame(self.position));
        self.stage = Stage::First;
        if is_control(frame.opcode) {
            frame.message_opcode = frame.opcode;
            return Step::Frame(frame);
        }
        frame.message_opcode = self.message.as_ref().map_or(frame.opcode, |m| m.opcode);
        if frame.fin
            && let Some(message) = self.message.take()
            && message.utf8.is_some_and(|utf8| !utf8.at_boundary())
        {
            return Step::Fail(vec![Violation::InvalidUtf8]);
        }
        Step::Frame(frame)
    }
}

fn empty_frame(offset: usize) -> Frame {
    Frame {
        offset,
        header_len: 0,
        fin: false,
        rsv: 0,
        opcode: 0,
        message_opcode: 0,
        mask: None,
        payload_len: 0,
        payload: Vec::new(),
    }
}

/// UTF-8 as RFC 3629 section 4 spells it, a byte at a time: how many continuation
/// bytes are still due, and the range the next one must fall in (narrower than
/// 0x80-0xBF right after E0, ED, F0 and F4, which rules out overlong forms,
/// surrogates and code points past U+10FFFF).
#[derive(Debug, Clone, Copy, Default)]
pub struct Utf8 {
    due: u8,
    low: u8,
    high: u8,
}

impl Utf8 {
    /// Takes one byte; false when no valid text can continue with it.
    pub fn push(&mut self, byte: u8) -> bool {
        if self.due > 0 {
            if byte < self.low || byte > self.high {
                return false;
            }
            self.due -= 1;
            (self.low, self.high) = (0x80, 0xBF);
            return true;
        }
        let (due, low, high) = match byte {
            0x00..=0x7F => return true,
            0xC2..=0xDF => (1, 0x80, 0xBF),
            0xE0 => (2, 0xA0, 0xBF),
            0xE1..=0xEC | 0xEE..=0xEF => (2, 0x80, 0xBF),
            0xED => (2, 0x80, 0x9F),
            0xF0 => (3, 0x90, 0xBF),
            0xF1..=0xF3 => (3, 0x80, 0xBF),
            0xF4 => (3, 0x80, 0x8F),
            _ => return false,
        };
        *self = Self { due, low, high };
        true
    }

    /// True when no code point is unfinished.
    pub fn at_boundary(&self) -> bool {
        self.due == 0
    }
}

/// True when `bytes` are UTF-8, by [`Utf8`].
pub fn is_utf8(bytes: &[u8]) -> bool {
    let mut utf8 = Utf8::default();
    bytes.iter().all(|&b| utf8.push(b)) && utf8.at_boundary()
}

/// A close frame's payload (section 5.5.1): empty, or a status code and a UTF-8
/// reason. The codes an endpoint may send are those section 7.4.1 defines, less
/// 1004-1006 and 1015 ("MUST NOT be set as a status code"), plus 1012-1014, which
/// IANA registered later, and 3000-4999 (section 7.4.2). Returns the code and reason,
/// or every fault the payload has.
pub fn parse_close(payload: &[u8]) -> Result<Option<(u16, String)>, Vec<CloseViolation>> {
    if payload.is_empty() {
        return Ok(None);
    }
    if payload.len() == 1 {
        return Err(vec![CloseViolation::TooShort]);
    }
    let code = u16::from_be_bytes([payload[0], payload[1]]);
    let reason = &payload[2..];
    let mut broken = Vec::new();
    if !matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999) {
        broken.push(CloseViolation::Code(code));
    }
    if !is_utf8(reason) {
        broken.push(CloseViolation::Reason);
    }
    if !broken.is_empty() {
        return Err(broken);
    }
    Ok(Some((code, String::from_utf8_lossy(reason).into_owned())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(config: Config, bytes: &[u8]) -> (Vec<Frame>, Option<Vec<Violation>>) {
        let mut decoder = Decoder::new(config);
        let mut frames = Vec::new();
        for &b in bytes {
            match decoder.push(b) {
                Step::More => {}
                Step::Frame(frame) => frames.push(frame),
                Step::Fail(broken) => return (frames, Some(broken)),
            }
        }
        (frames, None)
    }

    const CLIENT: Config = Config {
        server: false,
        require_masking: true,
        max_length: 1 << 20,
        allowed_rsv: 0,
    };
    const SERVER: Config = Config {
        server: true,
        ..CLIENT
    };

    #[test]
    fn the_rfc_examples_decode() {
        // RFC 6455 section 5.7: "Hello" unmasked, masked, and fragmented.
        let (frames, fail) = run(CLIENT, &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
        assert_eq!((frames[0].payload.as_slice(), fail), (&b"Hello"[..], None));
        let masked = [
            0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
        ];
        let (frames, fail) = run(SERVER, &masked);
        assert_eq!(frames[0].payload, b"Hello");
        assert_eq!(frames[0].mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        assert_eq!(fail, None);
        let fragmented = [0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f];
        let (frames, _) = run(CLIENT, &fragmented);
        assert_eq!(frames[1].message_opcode, TEXT);
        assert_eq!(frames[1].offset, 5);
        // 256 bytes of binary data in a 16-bit length.
        let mut long = vec![0x82, 0x7E, 0x01, 0x00];
        long.extend([7; 256]);
        let (frames, _) = run(CLIENT, &long);
        assert_eq!((frames[0].payload_len, frames[0].header_len), (256, 4));
    }

    #[test]
    fn broken_rules_are_reported_at_the_byte_that_proves_them() {
        assert_eq!(
            run(CLIENT, &[0x83]).1,
            Some(vec![Violation::ReservedOpcode(3)])
        );
        assert_eq!(
            run(CLIENT, &[0x09]).1,
            Some(vec![Violation::FragmentedControl(9)])
        );
        assert_eq!(
            run(CLIENT, &[0x82, 0x7F, 0x80]).1,
            Some(vec![Violation::LengthTopBit])
        );
        // Unmasked, with RSV2, to a server: both rules, once the header is whole.
        assert_eq!(run(SERVER, &[0xA2]).1, None);
        assert_eq!(
            run(SERVER, &[0xA2, 0x00]).1,
            Some(vec![Violation::Unmasked, Violation::ReservedBits(0x20)])
        );
        assert_eq!(
            run(CLIENT, &[0x80, 0x00]).1,
            Some(vec![Violation::UnexpectedContinuation])
        );
        // E0 80 cannot begin any text: fails at the 80.
        assert_eq!(
            run(CLIENT, &[0x01, 0x03, 0xE0, 0x80]).1,
            Some(vec![Violation::InvalidUtf8])
        );
        // A code point cut by the end of the message.
        assert_eq!(
            run(CLIENT, &[0x81, 0x01, 0xC3]).1,
            Some(vec![Violation::InvalidUtf8])
        );
    }

    #[test]
    fn close_payloads_follow_section_7_4() {
        assert_eq!(parse_close(&[]), Ok(None));
        assert_eq!(parse_close(&[3]), Err(vec![CloseViolation::TooShort]));
        assert_eq!(
            parse_close(&[0x03, 0xED, 0xFF]),
            Err(vec![CloseViolation::Code(1005), CloseViolation::Reason])
        );
        assert_eq!(
            parse_close(&[0x0F, 0xA0, b'o', b'k']),
            Ok(Some((4000, "ok".into())))
        );
    }

    #[test]
    fn the_utf8_automaton_agrees_with_std_on_every_short_sequence() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                for c in [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0] {
                    let bytes = [a, b, c, 0x80];
                    for len in 1..=4 {
                        let bytes = &bytes[..len];
                        assert_eq!(
                            is_utf8(bytes),
                            std::str::from_utf8(bytes).is_ok(),
                            "{bytes:x?}"
                        );
                    }
                }
            }
        }
    }
}
