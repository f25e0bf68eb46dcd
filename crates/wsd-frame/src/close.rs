//! Close frame payloads (RFC 6455 section 5.5.1): a two-byte code and a UTF-8 reason.

use alloc::vec::Vec;

use crate::ProtocolError;
use crate::types::CloseCode;
use crate::utf8::validate;

/// A validated close frame payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseFrame<'a> {
    /// The status code, or `None` when the payload was empty (RFC 6455 section 7.1.5
    /// then calls the close code 1005, "no status received").
    pub code: Option<CloseCode>,
    /// The reason, possibly empty.
    pub reason: &'a str,
}

impl<'a> CloseFrame<'a> {
    /// The largest reason that fits a control frame next to its code.
    pub const MAX_REASON_LEN: usize = 123;

    /// Validates a received close payload: empty, or a code that may be sent on the
    /// wire followed by a UTF-8 reason.
    ///
    /// Stricter than `websocket-driver` (Node), which rewrites a bad code or reason to
    /// 1002 and closes without an error: here each is a [`ProtocolError`], so the
    /// driver fails the connection (1002 for the code, 1007 for the reason) and says
    /// why. 1012-1014 are valid (IANA registered them after RFC 6455).
    ///
    /// ```
    /// # use wsd_frame::{CloseCode, CloseFrame, ProtocolError};
    /// let frame = CloseFrame::parse(&[0x03, 0xE8, b'b', b'y', b'e']).unwrap();
    /// assert_eq!((frame.code, frame.reason), (Some(CloseCode::NORMAL), "bye"));
    /// assert_eq!(CloseFrame::parse(&[]).unwrap().code, None);
    /// assert_eq!(CloseFrame::parse(&[0x03]), Err(ProtocolError::CloseFrameTooShort));
    /// assert_eq!(CloseFrame::parse(&[0x03, 0xED]), Err(ProtocolError::InvalidCloseCode(1005)));
    /// assert_eq!(CloseFrame::parse(&[0x03, 0xE8, 0xFF]), Err(ProtocolError::InvalidCloseReason));
    /// ```
    pub fn parse(payload: &'a [u8]) -> Result<Self, ProtocolError> {
        match payload {
            [] => Ok(Self {
                code: None,
                reason: "",
            }),
            [_] => Err(ProtocolError::CloseFrameTooShort),
            [high, low, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*high, *low]));
                if !code.is_valid_on_wire() {
                    return Err(ProtocolError::InvalidCloseCode(code.0));
                }
                let reason = validate(reason).map_err(|_| ProtocolError::InvalidCloseReason)?;
                Ok(Self {
                    code: Some(code),
                    reason,
                })
            }
        }
    }

    /// Appends the payload for a close frame with `code` and `reason` to `out`. The
    /// reason is cut at a character boundary to fit the 125-byte control frame limit.
    ///
    /// ```
    /// # use wsd_frame::{CloseCode, CloseFrame};
    /// let mut out = Vec::new();
    /// CloseFrame::encode_payload(CloseCode::NORMAL, "bye", &mut out);
    /// assert_eq!(out, [0x03, 0xE8, b'b', b'y', b'e']);
    /// ```
    pub fn encode_payload(code: CloseCode, reason: &str, out: &mut Vec<u8>) {
        out.extend_from_slice(&code.0.to_be_bytes());
        out.extend_from_slice(truncate_reason(reason).as_bytes());
    }
}

/// `reason` cut to at most [`CloseFrame::MAX_REASON_LEN`] bytes on a char boundary.
pub(crate) fn truncate_reason(reason: &str) -> &str {
    if reason.len() <= CloseFrame::MAX_REASON_LEN {
        return reason;
    }
    let mut end = CloseFrame::MAX_REASON_LEN;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    &reason[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_driver_close_examples_validate_as_the_rfc_says() {
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xE8, 0x48, 0x65, 0x6C, 0x6C, 0x6F]),
            Ok(CloseFrame {
                code: Some(CloseCode::NORMAL),
                reason: "Hello"
            })
        );
        assert_eq!(
            CloseFrame::parse(&[0x0B, 0xB8]).unwrap().code,
            Some(CloseCode(3000))
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xE8, 0xFF]),
            Err(ProtocolError::InvalidCloseReason)
        );
        assert_eq!(
            ProtocolError::InvalidCloseReason.close_code(),
            CloseCode::INVALID_PAYLOAD
        );
        // Registered with IANA after RFC 6455; websocket-driver (Node) rewrites 1012.
        for code in [1012u16, 1013, 1014] {
            let bytes = code.to_be_bytes();
            assert_eq!(
                CloseFrame::parse(&bytes).unwrap().code,
                Some(CloseCode(code))
            );
        }
        for code in [0u16, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000] {
            let bytes = code.to_be_bytes();
            assert_eq!(
                CloseFrame::parse(&bytes),
                Err(ProtocolError::InvalidCloseCode(code))
            );
        }
    }

    #[test]
    fn long_reasons_are_cut_on_a_character_boundary() {
        let reason = "é".repeat(100); // 200 bytes
        let mut out = Vec::new();
        CloseFrame::encode_payload(CloseCode::NORMAL, &reason, &mut out);
        assert!(out.len() <= 125);
        let parsed = CloseFrame::parse(&out).unwrap();
        assert_eq!(parsed.reason.len(), 122);
    }
}
