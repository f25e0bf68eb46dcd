//! The incremental frame parser: every RFC 6455 framing rule, over a `BytesMut` that
//! the caller fills as bytes arrive.

use bytes::{Buf, BytesMut};

use crate::ProtocolError;
use crate::header::{FrameHeader, Status};
use crate::mask::apply_mask;
use crate::types::{OpCode, Role, Rsv};
use crate::utf8::Utf8Validator;

/// How a [`FrameDecoder`] judges incoming frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderConfig {
    /// Our role: a client rejects masked frames; a server rejects unmasked ones unless
    /// `require_masking` is off.
    pub role: Role,
    /// Servers only: require every client frame to be masked (RFC 6455 section 5.1).
    /// On by default; turn it off only for peers known to be broken.
    pub require_masking: bool,
    /// The largest message (the sum of its frames' payloads) accepted, in bytes.
    /// Checked from each frame header, before its payload is buffered.
    pub max_length: u64,
    /// The RSV bits owned by negotiated extensions, allowed on the first frame of a
    /// data message. Every other RSV bit, and any RSV bit on continuation or control
    /// frames, is a protocol error.
    pub allowed_rsv: Rsv,
}

impl DecoderConfig {
    /// The default maximum message length, 2^26 - 1 bytes (one byte short of 64 MiB),
    /// as in `websocket-driver` (Node).
    pub const DEFAULT_MAX_LENGTH: u64 = (1 << 26) - 1;

    /// The defaults for `role`: masking required, 64 MiB - 1 messages, no RSV bits.
    pub const fn new(role: Role) -> Self {
        Self {
            role,
            require_masking: true,
            max_length: Self::DEFAULT_MAX_LENGTH,
            allowed_rsv: Rsv::NONE,
        }
    }
}

/// One decoded frame, payload unmasked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// FIN: the last frame of its message (always true for control frames).
    pub fin: bool,
    /// The RSV bits (only ever bits allowed by the configuration).
    pub rsv: Rsv,
    /// The frame's own opcode (`Continuation` for later fragments).
    pub opcode: OpCode,
    /// For data frames, the opcode of the message the frame belongs to (`Text` or
    /// `Binary`); for control frames, the frame's opcode.
    pub message_opcode: OpCode,
    /// The unmasked payload, split off the input buffer without copying.
    pub payload: BytesMut,
}

/// A whole message of one frame, unmasked in the caller's buffer: what
/// [`FrameDecoder::decode_message_in_place`] returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WholeMessage<'a> {
    /// A text message, its UTF-8 checked.
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

/// The state of the frame being read.
#[derive(Debug, Clone, Copy)]
enum State {
    Header,
    /// Reading a payload of `len` bytes; the first `checked` are already unmasked
    /// (and, for text, validated), so bytes are never looked at twice.
    Payload {
        header: FrameHeader,
        len: usize,
        checked: usize,
    },
}

/// The data message being received, for fragmentation and length rules.
#[derive(Debug, Clone)]
struct MessageState {
    opcode: OpCode,
    len: u64,
    /// Present for text messages that no extension transforms: their UTF-8 is checked
    /// as bytes arrive, so a bad fragment fails before the message completes.
    utf8: Option<Utf8Validator>,
}

/// Parses frames from a buffer filled in any split. Feeding a stream one byte at a
/// time gives the same frames and errors as feeding it whole.
///
/// Text messages whose first frame carries no RSV bit are validated as UTF-8 here,
/// incrementally. A message with RSV bits belongs to an extension (compressed, for
/// instance): its text can only be checked after the extension decodes it, so that is
/// left to the caller.
///
/// After an error the decoder's state is unspecified: the connection must be failed.
///
/// ```
/// use bytes::BytesMut;
/// use wsd_frame::{DecoderConfig, FrameDecoder, ProtocolError, Role};
///
/// let mut decoder = FrameDecoder::new(DecoderConfig::new(Role::Client));
/// // A text frame from a server, fragmented: "Hel" then "lo".
/// let mut buf = BytesMut::from(&[0x01, 0x03, b'H', b'e', b'l', 0x80, 0x02, b'l', b'o'][..]);
/// let first = decoder.decode(&mut buf).unwrap().unwrap();
/// assert!(!first.fin);
/// let second = decoder.decode(&mut buf).unwrap().unwrap();
/// assert_eq!(&second.payload[..], b"lo");
///
/// // A continuation with nothing to continue is a protocol error.
/// let mut buf = BytesMut::from(&[0x80, 0x00][..]);
/// assert_eq!(decoder.decode(&mut buf), Err(ProtocolError::UnexpectedContinuation));
/// ```
#[derive(Debug, Clone)]
pub struct FrameDecoder {
    config: DecoderConfig,
    state: State,
    message: Option<MessageState>,
}

impl FrameDecoder {
    /// A decoder waiting for the first frame header.
    pub const fn new(config: DecoderConfig) -> Self {
        Self {
            config,
            state: State::Header,
            message: None,
        }
    }

    /// The configuration in force.
    pub const fn config(&self) -> &DecoderConfig {
        &self.config
    }

    /// Sets the RSV bits negotiated extensions own (after the handshake).
    pub fn set_allowed_rsv(&mut self, rsv: Rsv) {
        self.config.allowed_rsv = rsv;
    }

    /// True while a fragmented data message is unfinished.
    pub const fn in_message(&self) -> bool {
        self.message.is_some()
    }

    /// The payload length of the frame being read, once its header is decoded;
    /// `None` between frames. With [`payload_remaining`](Self::payload_remaining) a
    /// reader can tell a large frame from a small one before it has arrived.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use wsd_frame::{DecoderConfig, FrameDecoder, Role};
    ///
    /// let mut decoder = FrameDecoder::new(DecoderConfig::new(Role::Client));
    /// assert_eq!(decoder.payload_len(), None);
    /// // The header of a 1000-byte binary frame and its first 10 bytes.
    /// let mut buf = BytesMut::from(&[0x82, 0x7e, 0x03, 0xe8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..]);
    /// assert_eq!(decoder.decode(&mut buf), Ok(None));
    /// assert_eq!(decoder.payload_len(), Some(1000));
    /// ```
    pub const fn payload_len(&self) -> Option<usize> {
        match self.state {
            State::Header => None,
            State::Payload { len, .. } => Some(len),
        }
    }

    /// How many bytes of the frame being read have not arrived yet, given the
    /// `buffered` bytes after the header (the buffer [`decode`](Self::decode) last
    /// saw); 0 between frames. A reader can size its next read from it.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use wsd_frame::{DecoderConfig, FrameDecoder, Role};
    ///
    /// let mut decoder = FrameDecoder::new(DecoderConfig::new(Role::Client));
    /// // The header of a 1000-byte binary frame and its first 10 bytes.
    /// let mut buf = BytesMut::from(&[0x82, 0x7e, 0x03, 0xe8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0][..]);
    /// assert_eq!(decoder.decode(&mut buf), Ok(None));
    /// assert_eq!(decoder.payload_remaining(buf.len()), 990);
    /// ```
    pub const fn payload_remaining(&self, buffered: usize) -> usize {
        match self.state {
            State::Header => 0,
            State::Payload { len, .. } => len.saturating_sub(buffered),
        }
    }

    /// Decodes the next frame from the front of `buf`, removing its bytes. Returns
    /// `Ok(None)` when more bytes are needed; whatever part of a payload has arrived is
    /// unmasked and (for text) validated already, so errors surface early.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, ProtocolError> {
        let (header, len, checked) = match self.state {
            State::Header => {
                let (header, header_len) = match FrameHeader::decode(buf)? {
                    Status::Complete(decoded) => decoded,
                    Status::Partial => return Ok(None),
                };
                let len = self.check_header(&header)?;
                if buf.len() - header_len >= len {
                    // The whole frame is here, as small messages usually are: it is
                    // split off with its header in one step (the header is then
                    // dropped from the part split off, which is cheaper than
                    // advancing the input) and no progress is recorded.
                    let mut frame = buf.split_to(header_len + len);
                    frame.advance(header_len);
                    return self.finish(header, frame, 0).map(Some);
                }
                buf.advance(header_len);
                (header, len, 0)
            }
            State::Payload {
                header,
                len,
                checked,
            } => (header, len, checked),
        };
        if buf.len() >= len {
            let frame = buf.split_to(len);
            return self.finish(header, frame, checked).map(Some);
        }
        if buf.len() > checked {
            let available = buf.len();
            self.check_payload(&header, &mut buf[checked..available], checked)?;
            self.state = State::Payload {
                header,
                len,
                checked: available,
            };
        } else {
            self.state = State::Payload {
                header,
                len,
                checked,
            };
        }
        Ok(None)
    }

    /// Decodes the next frame in place when it is a whole message in one frame (FIN
    /// set, text or binary, no RSV bit) of at most `max_len` bytes of payload, and all
    /// its bytes are in `buf`: unmasks the
    /// payload inside `buf` and returns it borrowed, with the number of bytes the frame
    /// takes at the front of `buf` (header and payload), which the caller then removes.
    /// Text is checked as UTF-8 in one pass.
    ///
    /// Returns `Ok(None)` and changes nothing for any other input (a frame not all
    /// here, a longer one, a fragment, a control frame, RSV bits, or a frame that
    /// [`decode`](Self::decode) has begun): `decode` reads those. Errors are the ones
    /// `decode` would give for the same frame. This is the path of a reader that uses
    /// each message before it reads the next, such as an echo: no payload is split off
    /// the buffer, so nothing is reference counted.
    ///
    /// ```
    /// use wsd_frame::{DecoderConfig, FrameDecoder, OpCode, Role, WholeMessage, encode_frame};
    ///
    /// let mut wire = Vec::new();
    /// encode_frame(true, OpCode::Text, Default::default(), b"Hi", Some([1, 2, 3, 4]), &mut wire);
    /// let mut decoder = FrameDecoder::new(DecoderConfig::new(Role::Server));
    /// let (message, used) = decoder.decode_message_in_place(&mut wire, 125).unwrap().unwrap();
    /// assert_eq!(message, WholeMessage::Text("Hi"));
    /// assert_eq!(used, 8);
    /// ```
    pub fn decode_message_in_place<'a>(
        &mut self,
        buf: &'a mut [u8],
        max_len: usize,
    ) -> Result<Option<(WholeMessage<'a>, usize)>, ProtocolError> {
        if !matches!(self.state, State::Header) {
            return Ok(None);
        }
        let (header, header_len) = match FrameHeader::decode(buf)? {
            Status::Complete(decoded) => decoded,
            Status::Partial => return Ok(None),
        };
        let whole_message = header.fin
            && header.rsv.is_empty()
            && matches!(header.opcode, OpCode::Text | OpCode::Binary);
        let end = usize::try_from(header.payload_len)
            .ok()
            .filter(|&len| len <= max_len)
            .and_then(|len| len.checked_add(header_len))
            .filter(|&end| end <= buf.len());
        let Some(end) = end.filter(|_| whole_message) else {
            return Ok(None);
        };
        let masking_ok = match self.config.role {
            Role::Server => header.mask.is_some() || !self.config.require_masking,
            Role::Client => header.mask.is_none(),
        };
        if !masking_ok || self.message.is_some() || header.payload_len > self.config.max_length {
            // One of the rules fails: `check_header` says which, as `decode` would.
            self.check_header(&header)?;
            // The message ends with this frame: no state to carry to the next.
            self.message = None;
        }
        let payload = &mut buf[header_len..end];
        if let Some(key) = header.mask {
            apply_mask(payload, key, 0);
        }
        let message = if header.opcode == OpCode::Text {
            let text = simdutf8::basic::from_utf8(payload);
            WholeMessage::Text(text.map_err(|_| ProtocolError::InvalidUtf8)?)
        } else {
            WholeMessage::Binary(payload)
        };
        Ok(Some((message, end)))
    }

    /// Unmasks `fresh`, the payload bytes from `offset` on that were not looked at
    /// yet, and feeds them to the text message's UTF-8 validator.
    fn check_payload(
        &mut self,
        header: &FrameHeader,
        fresh: &mut [u8],
        offset: usize,
    ) -> Result<(), ProtocolError> {
        if let Some(key) = header.mask {
            apply_mask(fresh, key, offset);
        }
        if header.opcode.is_data() {
            if let Some(utf8) = self.message.as_mut().and_then(|m| m.utf8.as_mut()) {
                utf8.feed(fresh)?;
            }
        }
        Ok(())
    }

    /// Completes the frame whose whole payload is `payload`, the first `checked`
    /// bytes of which were unmasked and validated already.
    fn finish(
        &mut self,
        header: FrameHeader,
        mut payload: BytesMut,
        checked: usize,
    ) -> Result<Frame, ProtocolError> {
        self.state = State::Header;
        if payload.len() > checked {
            self.check_payload(&header, &mut payload[checked..], checked)?;
        }
        let message_opcode = if header.opcode.is_control() {
            header.opcode
        } else {
            let opcode = self.message.as_ref().map_or(header.opcode, |m| m.opcode);
            if header.fin {
                if let Some(mut utf8) = self.message.take().and_then(|m| m.utf8) {
                    utf8.finish()?;
                }
            }
            opcode
        };
        Ok(Frame {
            fin: header.fin,
            rsv: header.rsv,
            opcode: header.opcode,
            message_opcode,
            payload,
        })
    }

    /// Applies the rules that depend on the connection, and starts or extends the
    /// message state. Returns the payload length as a `usize`.
    fn check_header(&mut self, header: &FrameHeader) -> Result<usize, ProtocolError> {
        match (self.config.role, header.mask.is_some()) {
            (Role::Server, false) if self.config.require_masking => {
                return Err(ProtocolError::UnmaskedFrame);
            }
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        let starts_message = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        if !header.rsv.is_empty() {
            let allowed = if starts_message {
                self.config.allowed_rsv
            } else {
                Rsv::NONE
            };
            let unowned = header.rsv.difference(allowed);
            if !unowned.is_empty() {
                return Err(ProtocolError::ReservedBits(unowned));
            }
        }
        let so_far = match (header.opcode, &self.message) {
            (OpCode::Continuation, None) => return Err(ProtocolError::UnexpectedContinuation),
            (OpCode::Text | OpCode::Binary, Some(_)) => {
                return Err(ProtocolError::UnfinishedMessage(header.opcode));
            }
            (OpCode::Continuation, Some(message)) => message.len,
            _ => 0,
        };
        let length = so_far.saturating_add(header.payload_len);
        let too_long = ProtocolError::MessageTooLong {
            limit: self.config.max_length,
            length,
        };
        if length > self.config.max_length {
            return Err(too_long);
        }
        let len = usize::try_from(header.payload_len).map_err(|_| too_long)?;
        if starts_message {
            let validate = header.opcode == OpCode::Text && header.rsv.is_empty();
            self.message = Some(MessageState {
                opcode: header.opcode,
                len: 0,
                utf8: validate.then(Utf8Validator::new),
            });
        }
        if let (Some(message), true) = (self.message.as_mut(), header.opcode.is_data()) {
            message.len = length;
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests;
