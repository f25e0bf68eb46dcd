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
    /// A 64-bit payload length with its most significant bit set (1002, RFC 6455
    /// section 5.2; `websocket-driver` (Node) reports it as too long, 1009).
    LengthTopBitSet,
    /// A client sent an unmasked frame to a server that requires masking (1002;
    /// `websocket-driver` (Node) closes with 1003).
    UnmaskedFrame,
    /// A server sent a masked frame to a client (1002, RFC 6455 section 5.1;
    /// `websocket-driver` (Node) accepts it).
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
    /// A text message is not valid UTF-8 (1007).
    InvalidUtf8,
    /// A close frame with a one-byte payload (1002).
    CloseFrameTooShort,
    /// A close frame with a code that may not be sent on the wire (1002).
    InvalidCloseCode(u16),
    /// A close frame whose reason is not valid UTF-8 (1007, as RFC 6455 section 8.1
    /// asks for invalid UTF-8 anywhere; `websocket-driver` (Node) closes with 1002).
    InvalidCloseReason,
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
            Self::InvalidUtf8 | Self::InvalidCloseReason => CloseCode::INVALID_PAYLOAD,
            Self::MessageTooLong { .. } => CloseCode::MESSAGE_TOO_BIG,
            _ => CloseCode::PROTOCOL_ERROR,
        }
    }
}

/// The texts are `websocket-driver`'s (Node) where it has one for the failure, so logs
/// and tests written against it keep matching; the rest follow its style.
impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedOpcode(op) => write!(f, "Unrecognized frame opcode: {op}"),
            Self::ReservedBits(bits) => write!(
                f,
                "One or more reserved bits are on: reserved1 = {}, reserved2 = {}, reserved3 = {}",
                u8::from(bits.contains(Rsv::RSV1)),
                u8::from(bits.contains(Rsv::RSV2)),
                u8::from(bits.contains(Rsv::RSV3)),
            ),
            Self::FragmentedControlFrame(op) => write!(
                f,
                "Received fragmented control frame: opcode = {}",
                op.as_u8()
            ),
            Self::ControlFrameTooLong(_, len) => {
                write!(f, "Received control frame having too long payload: {len}")
            }
            Self::LengthTopBitSet => {
                f.write_str("Received 64-bit payload length with the most significant bit set")
            }
            Self::UnmaskedFrame => f.write_str("Received unmasked frame but masking is required"),
            Self::MaskedFrame => f.write_str("Received masked frame but masking is forbidden"),
            Self::UnexpectedContinuation => f.write_str("Received unexpected continuation frame"),
            Self::UnfinishedMessage(_) => {
                f.write_str("Received new data frame but previous continuous frame is unfinished")
            }
            Self::MessageTooLong { .. } => f.write_str("WebSocket frame length too large"),
            Self::InvalidUtf8 => f.write_str("Could not decode a text frame as UTF-8"),
            Self::CloseFrameTooShort => f.write_str("Received close frame with a 1-byte payload"),
            Self::InvalidCloseCode(code) => {
                write!(f, "Received close frame with invalid close code: {code}")
            }
            Self::InvalidCloseReason => {
                f.write_str("Could not decode a close frame reason as UTF-8")
            }
        }
    }
}

impl core::error::Error for ProtocolError {}

#[cfg(test)]
mod tests {
    use alloc::string::ToString;

    use super::*;

    #[test]
    fn messages_are_websocket_driver_s_where_it_has_one() {
        for (error, text) in [
            (
                ProtocolError::ReservedOpcode(3),
                "Unrecognized frame opcode: 3",
            ),
            (
                ProtocolError::ReservedBits(Rsv::RSV1 | Rsv::RSV3),
                "One or more reserved bits are on: reserved1 = 1, reserved2 = 0, reserved3 = 1",
            ),
            (
                ProtocolError::FragmentedControlFrame(OpCode::Ping),
                "Received fragmented control frame: opcode = 9",
            ),
            (
                ProtocolError::ControlFrameTooLong(OpCode::Close, 126),
                "Received control frame having too long payload: 126",
            ),
            (
                ProtocolError::UnmaskedFrame,
                "Received unmasked frame but masking is required",
            ),
            (
                ProtocolError::UnexpectedContinuation,
                "Received unexpected continuation frame",
            ),
            (
                ProtocolError::UnfinishedMessage(OpCode::Text),
                "Received new data frame but previous continuous frame is unfinished",
            ),
            (
                ProtocolError::MessageTooLong {
                    limit: 10,
                    length: 11,
                },
                "WebSocket frame length too large",
            ),
            (
                ProtocolError::InvalidUtf8,
                "Could not decode a text frame as UTF-8",
            ),
        ] {
            assert_eq!(error.to_string(), text);
        }
    }
}
