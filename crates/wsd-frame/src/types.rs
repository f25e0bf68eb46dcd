//! The vocabulary of RFC 6455 section 5: opcodes, reserved bits, close codes, roles.

use core::fmt;

/// A frame opcode (RFC 6455 section 5.2). The reserved values 3-7 and 11-15 have no
/// variant: [`OpCode::from_u8`] rejects them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: a continuation of a fragmented message.
    Continuation,
    /// `0x1`: the first frame of a text message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: close.
    Close,
    /// `0x9`: ping.
    Ping,
    /// `0xA`: pong.
    Pong,
}

impl OpCode {
    /// The opcode for the low four bits `value`, or `None` for a reserved value.
    ///
    /// ```
    /// # use wsd_frame::OpCode;
    /// assert_eq!(OpCode::from_u8(0x1), Some(OpCode::Text));
    /// assert_eq!(OpCode::from_u8(0x3), None);
    /// ```
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0x0 => Some(Self::Continuation),
            0x1 => Some(Self::Text),
            0x2 => Some(Self::Binary),
            0x8 => Some(Self::Close),
            0x9 => Some(Self::Ping),
            0xA => Some(Self::Pong),
            _ => None,
        }
    }

    /// The four-bit wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// True for close, ping and pong (opcodes with the high bit set).
    pub const fn is_control(self) -> bool {
        self.as_u8() & 0x8 != 0
    }

    /// True for continuation, text and binary.
    pub const fn is_data(self) -> bool {
        !self.is_control()
    }
}

/// The three reserved bits of a frame header, kept in their wire positions
/// (`RSV1` = `0x40`, `RSV2` = `0x20`, `RSV3` = `0x10` of the first byte), so a set of
/// bits is one byte and unions are `|`.
///
/// ```
/// # use wsd_frame::Rsv;
/// let bits = Rsv::RSV1 | Rsv::RSV3;
/// assert!(bits.contains(Rsv::RSV1));
/// assert!(!Rsv::RSV1.contains(bits));
/// assert_eq!(bits.to_string(), "RSV1|RSV3");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rsv(u8);

impl Rsv {
    /// No bit set.
    pub const NONE: Self = Self(0);
    /// The first reserved bit, used by permessage-deflate.
    pub const RSV1: Self = Self(0x40);
    /// The second reserved bit.
    pub const RSV2: Self = Self(0x20);
    /// The third reserved bit.
    pub const RSV3: Self = Self(0x10);
    /// All three bits.
    pub const ALL: Self = Self(0x70);

    /// The bits of the first header byte `byte` (other bits are ignored).
    pub const fn from_header_byte(byte: u8) -> Self {
        Self(byte & 0x70)
    }

    /// The bits as they stand in the first header byte.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// True when no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// True when every bit of `other` is set in `self`.
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// True when `self` and `other` share a bit.
    pub const fn intersects(self, other: Self) -> bool {
        self.0 & other.0 != 0
    }

    /// The bits of `self` that are not in `other`.
    pub const fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }
}

impl core::ops::BitOr for Rsv {
    type Output = Self;
    fn bitor(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }
}

impl core::ops::BitOrAssign for Rsv {
    fn bitor_assign(&mut self, other: Self) {
        self.0 |= other.0;
    }
}

impl fmt::Display for Rsv {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        for (bit, name) in [
            (Self::RSV1, "RSV1"),
            (Self::RSV2, "RSV2"),
            (Self::RSV3, "RSV3"),
        ] {
            if self.contains(bit) {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

/// A close status code (RFC 6455 section 7.4), an open newtype: every `u16` can be
/// represented, and [`CloseCode::is_valid_on_wire`] says which ones a peer may send.
///
/// ```
/// # use wsd_frame::CloseCode;
/// assert!(CloseCode::NORMAL.is_valid_on_wire());
/// assert!(CloseCode(4000).is_valid_on_wire());
/// assert!(!CloseCode::NO_STATUS.is_valid_on_wire());
/// assert_eq!(CloseCode::PROTOCOL_ERROR.to_string(), "1002 (protocol error)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: Self = Self(1000);
    /// 1001: the endpoint is going away (server shutdown, page navigation).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1005: no status code was present (never sent on the wire).
    pub const NO_STATUS: Self = Self(1005);
    /// 1006: the connection closed without a close frame (never sent on the wire).
    pub const ABNORMAL: Self = Self(1006);
    /// 1007: data inconsistent with the message type (invalid UTF-8 in text).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: a message violates the endpoint's policy.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: a message too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client expected the server to negotiate an extension.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later.
    pub const TRY_AGAIN_LATER: Self = Self(1013);
    /// 1014: a gateway received an invalid response.
    pub const BAD_GATEWAY: Self = Self(1014);
    /// 1015: TLS handshake failure (never sent on the wire).
    pub const TLS_HANDSHAKE: Self = Self(1015);

    /// True for the codes an endpoint may put in a close frame: 1000-1003 and
    /// 1007-1014 (registered with IANA), and 3000-4999 (libraries, applications).
    /// 1004-1006 and 1015 are reserved, 0-999 and 1016-2999 unassigned.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }

    /// A short English name for the registered codes.
    pub const fn name(self) -> Option<&'static str> {
        Some(match self.0 {
            1000 => "normal closure",
            1001 => "going away",
            1002 => "protocol error",
            1003 => "unsupported data",
            1005 => "no status received",
            1006 => "abnormal closure",
            1007 => "invalid payload data",
            1008 => "policy violation",
            1009 => "message too big",
            1010 => "mandatory extension",
            1011 => "internal error",
            1012 => "service restart",
            1013 => "try again later",
            1014 => "bad gateway",
            1015 => "TLS handshake",
            _ => return None,
        })
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        Self(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> Self {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => write!(f, "{} ({name})", self.0),
            None => write!(f, "{}", self.0),
        }
    }
}

/// Which end of the connection we are. It decides masking: clients mask every frame
/// they send, servers never do (RFC 6455 section 5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// The endpoint that opened the connection.
    Client,
    /// The endpoint that accepted it.
    Server,
}

impl Role {
    /// True when frames we send must be masked.
    pub const fn masks_outgoing(self) -> bool {
        matches!(self, Self::Client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn every_opcode_round_trips_and_reserved_ones_are_rejected() {
        for value in 0u8..16 {
            match OpCode::from_u8(value) {
                Some(op) => assert_eq!(op.as_u8(), value),
                None => assert!(matches!(value, 3..=7 | 11..=15), "{value} rejected"),
            }
        }
        assert!(OpCode::Ping.is_control());
        assert!(OpCode::Continuation.is_data());
    }

    #[test]
    fn close_codes_valid_on_the_wire_are_exactly_the_registered_and_private_ranges() {
        let valid: alloc::vec::Vec<u16> = (0..=u16::MAX)
            .filter(|&c| CloseCode(c).is_valid_on_wire())
            .collect();
        assert_eq!(valid.len(), 4 + 8 + 2000);
        for code in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(code).is_valid_on_wire(), "{code}");
        }
        for code in [
            1000, 1001, 1002, 1003, 1007, 1011, 1014, 3000, 3999, 4000, 4999,
        ] {
            assert!(CloseCode(code).is_valid_on_wire(), "{code}");
        }
    }

    #[test]
    fn rsv_display_lists_the_bits() {
        assert_eq!(Rsv::NONE.to_string(), "none");
        assert_eq!(Rsv::ALL.to_string(), "RSV1|RSV2|RSV3");
        assert_eq!(Rsv::from_header_byte(0xC1), Rsv::RSV1);
        assert_eq!(Rsv::ALL.difference(Rsv::RSV1), Rsv::RSV2 | Rsv::RSV3);
    }
}
