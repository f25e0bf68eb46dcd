//! Frame headers (RFC 6455 section 5.2): decoding that never fails on short input,
//! and minimal-length encoding.

use crate::ProtocolError;
use crate::mask::apply_mask;
use crate::types::{OpCode, Rsv};

/// The longest header: 2 bytes, an 8-byte extended length and a 4-byte mask key.
pub const MAX_HEADER_LEN: usize = 14;

/// The result of decoding from a buffer that may not hold everything yet, after
/// httparse's `Status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status<T> {
    /// Decoded; the value usually includes how many bytes were used.
    Complete(T),
    /// More bytes are needed; nothing was consumed.
    Partial,
}

/// A decoded frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: this is the last frame of its message.
    pub fin: bool,
    /// The reserved bits as sent.
    pub rsv: Rsv,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, when the MASK bit is set.
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// Decodes a header from the front of `buf`, returning it and its length in bytes.
    ///
    /// Checks the rules that need no context: reserved opcodes, control frames that
    /// are fragmented or longer than 125 bytes, and a 64-bit length with the top bit
    /// set. Rules that depend on the connection (masking, RSV ownership,
    /// fragmentation order, maximum length) are [`crate::FrameDecoder`]'s. Errors are
    /// reported as soon as the byte that proves them is present.
    ///
    /// ```
    /// # use wsd_frame::{FrameHeader, OpCode, Status};
    /// let Status::Complete((header, len)) = FrameHeader::decode(&[0x81, 0x05]).unwrap() else {
    ///     panic!("two bytes are a whole header here");
    /// };
    /// assert_eq!((header.opcode, header.payload_len, len), (OpCode::Text, 5, 2));
    /// assert_eq!(FrameHeader::decode(&[0x82, 0x7e, 0x01]).unwrap(), Status::Partial);
    /// ```
    pub fn decode(buf: &[u8]) -> Result<Status<(Self, usize)>, ProtocolError> {
        let Some(&first) = buf.first() else {
            return Ok(Status::Partial);
        };
        let fin = first & 0x80 != 0;
        let rsv = Rsv::from_header_byte(first);
        let opcode =
            OpCode::from_u8(first & 0x0F).ok_or(ProtocolError::ReservedOpcode(first & 0x0F))?;
        if opcode.is_control() && !fin {
            return Err(ProtocolError::FragmentedControlFrame(opcode));
        }
        let Some(&second) = buf.get(1) else {
            return Ok(Status::Partial);
        };
        let masked = second & 0x80 != 0;
        let short_len = second & 0x7F;
        let (payload_len, mut pos) = match short_len {
            126 => {
                let Some(bytes) = buf.get(2..4) else {
                    return Ok(Status::Partial);
                };
                (u64::from(u16::from_be_bytes([bytes[0], bytes[1]])), 4)
            }
            127 => {
                // The top bit decides the error, so look at it before the rest arrives.
                if buf.get(2).is_some_and(|b| b & 0x80 != 0) {
                    return Err(ProtocolError::LengthTopBitSet);
                }
                let Some(bytes) = buf.get(2..10) else {
                    return Ok(Status::Partial);
                };
                let mut word = [0u8; 8];
                word.copy_from_slice(bytes);
                (u64::from_be_bytes(word), 10)
            }
            n => (u64::from(n), 2),
        };
        if opcode.is_control() && payload_len > 125 {
            return Err(ProtocolError::ControlFrameTooLong(opcode, payload_len));
        }
        let mask = if masked {
            let Some(bytes) = buf.get(pos..pos + 4) else {
                return Ok(Status::Partial);
            };
            pos += 4;
            Some([bytes[0], bytes[1], bytes[2], bytes[3]])
        } else {
            None
        };
        Ok(Status::Complete((
            Self {
                fin,
                rsv,
                opcode,
                mask,
                payload_len,
            },
            pos,
        )))
    }

    /// The encoded length of this header: 2, 4 or 10 bytes, plus 4 with a mask.
    pub const fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        if self.mask.is_some() { len + 4 } else { len }
    }

    /// Encodes the header with the shortest length encoding; returns the bytes and
    /// how many of them are used.
    ///
    /// ```
    /// # use wsd_frame::{FrameHeader, OpCode, Rsv};
    /// let header = FrameHeader { fin: true, rsv: Rsv::NONE, opcode: OpCode::Binary, mask: None, payload_len: 200 };
    /// let (bytes, len) = header.encode();
    /// assert_eq!(&bytes[..len], &[0x82, 0x7e, 0x00, 0xc8]);
    /// ```
    pub fn encode(&self) -> ([u8; MAX_HEADER_LEN], usize) {
        let mut out = [0u8; MAX_HEADER_LEN];
        out[0] = (if self.fin { 0x80 } else { 0 }) | self.rsv.bits() | self.opcode.as_u8();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut pos = match self.payload_len {
            len @ 0..=125 => {
                out[1] = mask_bit | len as u8;
                2
            }
            len @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                4
            }
            len => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&len.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[pos..pos + 4].copy_from_slice(&key);
            pos += 4;
        }
        (out, pos)
    }
}

/// Appends one whole frame to `out`: the header, then the payload, masked with `mask`
/// when given (clients must pass a fresh random key per frame; servers pass `None`).
/// The caller's payload is never modified. `out` is a `Vec<u8>` or a `BytesMut`.
///
/// ```
/// # use wsd_frame::{encode_frame, OpCode, Rsv};
/// let mut out = Vec::new();
/// encode_frame(true, OpCode::Text, Rsv::NONE, b"Hello", None, &mut out);
/// assert_eq!(out, [0x81, 0x05, b'H', b'e', b'l', b'l', b'o']);
/// ```
pub fn encode_frame<B>(
    fin: bool,
    opcode: OpCode,
    rsv: Rsv,
    payload: &[u8],
    mask: Option<[u8; 4]>,
    out: &mut B,
) where
    B: bytes::BufMut + AsMut<[u8]>,
{
    if mask.is_none() && payload.len() <= 125 {
        // A small unmasked frame (a server's usual answer): its two header bytes are
        // written as they are, without building the longest header first.
        let first = (if fin { 0x80 } else { 0 }) | rsv.bits() | opcode.as_u8();
        out.put_slice(&[first, payload.len() as u8]);
        out.put_slice(payload);
        return;
    }
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    let (bytes, len) = header.encode();
    out.put_slice(&bytes[..len]);
    let start = out.as_mut().len();
    out.put_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out.as_mut()[start..], key, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn decoded(bytes: &[u8]) -> Result<Status<(FrameHeader, usize)>, ProtocolError> {
        FrameHeader::decode(bytes)
    }

    #[test]
    fn rfc_6455_section_5_7_examples_decode() {
        // Unmasked "Hello", masked "Hello", 256-byte and 64 KiB binary headers.
        let Status::Complete((h, 2)) = decoded(&[0x81, 0x05]).unwrap() else {
            panic!()
        };
        assert!(h.fin && h.mask.is_none() && h.payload_len == 5);
        let Status::Complete((h, 6)) = decoded(&[0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d]).unwrap()
        else {
            panic!()
        };
        assert_eq!(h.mask, Some([0x37, 0xfa, 0x21, 0x3d]));
        let Status::Complete((h, 4)) = decoded(&[0x82, 0x7E, 0x01, 0x00]).unwrap() else {
            panic!()
        };
        assert_eq!(h.payload_len, 256);
        let Status::Complete((h, 10)) = decoded(&[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]).unwrap()
        else {
            panic!()
        };
        assert_eq!(h.payload_len, 65536);
    }

    #[test]
    fn context_free_violations_are_reported_from_the_first_byte_that_proves_them() {
        assert_eq!(decoded(&[0x83]), Err(ProtocolError::ReservedOpcode(3)));
        assert_eq!(decoded(&[0x8B]), Err(ProtocolError::ReservedOpcode(11)));
        assert_eq!(
            decoded(&[0x09]),
            Err(ProtocolError::FragmentedControlFrame(OpCode::Ping))
        );
        assert_eq!(
            decoded(&[0x89, 0x7E, 0x00, 0x7E]),
            Err(ProtocolError::ControlFrameTooLong(OpCode::Ping, 126))
        );
        assert_eq!(
            decoded(&[0x82, 0x7F, 0x80]),
            Err(ProtocolError::LengthTopBitSet)
        );
    }

    #[test]
    fn every_prefix_of_a_header_is_partial() {
        let (bytes, len) = FrameHeader {
            fin: false,
            rsv: Rsv::RSV1,
            opcode: OpCode::Binary,
            mask: Some([9, 8, 7, 6]),
            payload_len: 1 << 40,
        }
        .encode();
        assert_eq!(len, 14);
        for cut in 0..len {
            assert_eq!(decoded(&bytes[..cut]), Ok(Status::Partial), "cut {cut}");
        }
    }

    #[test]
    fn lengths_use_the_shortest_encoding() {
        for (len, expect) in [(0u64, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)] {
            let header = FrameHeader {
                fin: true,
                rsv: Rsv::NONE,
                opcode: OpCode::Binary,
                mask: None,
                payload_len: len,
            };
            assert_eq!(header.encode().1, expect);
            assert_eq!(header.encoded_len(), expect);
            let (bytes, n) = header.encode();
            assert_eq!(decoded(&bytes[..n]), Ok(Status::Complete((header, n))));
        }
    }

    #[test]
    fn websocket_driver_writer_examples_are_reproduced() {
        let mut out = Vec::new();
        encode_frame(
            true,
            OpCode::Close,
            Rsv::NONE,
            &[0x03, 0xEA, b'H', b'e', b'l', b'l', b'o'],
            None,
            &mut out,
        );
        assert_eq!(out, [0x88, 0x07, 0x03, 0xEA, 0x48, 0x65, 0x6C, 0x6C, 0x6F]);
        out.clear();
        encode_frame(true, OpCode::Pong, Rsv::NONE, b"", None, &mut out);
        assert_eq!(out, [0x8A, 0x00]);
        out.clear();
        encode_frame(
            true,
            OpCode::Binary,
            Rsv::NONE,
            &[0u8; 65536],
            None,
            &mut out,
        );
        assert_eq!(&out[..10], &[0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]);
    }
}
