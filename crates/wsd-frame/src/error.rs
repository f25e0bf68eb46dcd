//! The one error type of this crate: a peer broke a framing rule.

use core::fmt;

use crate::types::{CloseCode, OpCode, Rsv};

/// A violation of RFC 6455 framing by the peer. Each variant maps to the close code the
/// connection must be failed with ([`ProtocolError::close_code`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The opcode is one of the reserved values 3-7 or 11-15 (1002).
    ReservedOpcode(u8),
    /// RSV bits are set that no negotiated extension owns, or on a frame that may not
    /// carry them (continuation and control frames) (1002).
    ReservedBits(Rsv),
    /// A control frame without FIN (1002).
    FragmentedControlFrame(OpCode),
    /// A control frame whose payload is longer than 125 bytes (1002).
    ControlFrameTooLong(OpCode, u64),
    /// A 64-bit payload length with its most significant bit set (1002).
    LengthTopBitSet,
    /// A client sent an unmasked frame to a server that requires masking (1002).
    UnmaskedFrame,
    /// A server sent a masked frame to a client (1002).
    MaskedFrame,
    /// A continuation frame arrived with no fragmented message in progress (1002).
    UnexpectedContinuation,
    /// A text or binary frame arrived while a fragmented message was unfinished (1002).
    UnfinishedMessage(OpCode),
    /// The message would exceed the configured maximum length (1009). Detected from
    /// the frame header, before the payload is buffered.
    MessageTooLong {
        /// The configured maximum, in bytes.
        limit: u64,
        /// The length the message would reach, in bytes.
        length: u64,
    },
    /// A text message (or a close reason) is not valid UTF-8 (1007).
    InvalidUtf8,
    /// A close frame with a one-byte payload (1002).
    CloseFrameTooShort,
    /// A close frame with a code that may not be sent on the wire (1002).
    InvalidCloseCode(u16),
}

impl ProtocolError {
    /// The close code RFC 6455 asks for when failing the connection for this error.
    ///
    /// ```
    /// # use wsd_frame::{CloseCode, ProtocolError};
    /// assert_eq!(ProtocolError::InvalidUtf8.close_code(), CloseCode::INVALID_PAYLOAD);
    /// assert_eq!(ProtocolError::LengthTopBitSet.close_code(), CloseCode::PROTOCOL_ERROR);
    /// ```
    pub const fn close_code(&self) -> CloseCode {
        match self {
            Self::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            Self::MessageTooLong { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedOpcode(op) => write!(f, "unrecognized frame opcode: {op}"),
            Self::ReservedBits(bits) => {
                write!(f, "reserved bits set that no extension negotiated: {bits}")
            }
            Self::FragmentedControlFrame(op) => {
                write!(f, "received fragmented control frame: {op:?}")
            }
            Self::ControlFrameTooLong(op, len) => {
                write!(f, "{op:?} frame payload of {len} bytes exceeds 125")
            }
            Self::LengthTopBitSet => f.write_str("64-bit payload length has its top bit set"),
            Self::UnmaskedFrame => f.write_str("received unmasked frame but masking is required"),
            Self::MaskedFrame => f.write_str("received masked frame from the server"),
            Self::UnexpectedContinuation => f.write_str("received unexpected continuation frame"),
            Self::UnfinishedMessage(op) => write!(
                f,
                "received new {op:?} frame but the previous fragmented message is unfinished"
            ),
            Self::MessageTooLong { limit, length } => write!(
                f,
                "message of at least {length} bytes exceeds the maximum length of {limit} bytes"
            ),
            Self::InvalidUtf8 => f.write_str("could not decode a text frame as UTF-8"),
            Self::CloseFrameTooShort => f.write_str("close frame payload of 1 byte"),
            Self::InvalidCloseCode(code) => write!(f, "invalid close code: {code}"),
        }
    }
}

impl core::error::Error for ProtocolError {}
