//! RFC 6455 WebSocket framing, with no I/O.
//!
//! This crate is the lowest layer of wsd. It knows frames, not connections:
//!
//! - [`OpCode`], [`Rsv`], [`CloseCode`] and [`Role`]: the vocabulary of RFC 6455 section 5;
//! - [`FrameHeader`]: decoding ([`FrameHeader::decode`], which never fails on short
//!   input but answers [`Status::Partial`]) and minimal-length encoding;
//! - [`FrameDecoder`]: the incremental parser over a [`bytes::BytesMut`] that enforces
//!   every framing rule (reserved opcodes and bits, control frame limits, masking by
//!   role, fragmentation order, `max_length` from the header before any payload is
//!   buffered, UTF-8 of text messages checked as bytes arrive);
//! - [`encode_frame`] and [`apply_mask`]: writing frames, masking a word at a time;
//! - [`CloseFrame::parse`]: validating a close frame's code and reason;
//! - [`Utf8Validator`]: incremental UTF-8 validation that fails on the first bad byte
//!   and accepts a code point split across chunks.
//!
//! Every violation is a [`ProtocolError`] that names the close code RFC 6455 asks for
//! ([`ProtocolError::close_code`]).
//!
//! # Example
//!
//! ```
//! use bytes::BytesMut;
//! use wsd_frame::{DecoderConfig, FrameDecoder, OpCode, Role, encode_frame};
//!
//! // A client sends a masked text frame...
//! let mut wire = Vec::new();
//! encode_frame(true, OpCode::Text, Default::default(), b"Hello", Some([1, 2, 3, 4]), &mut wire);
//!
//! // ...and the server decodes it, however the bytes were split on the way.
//! let mut decoder = FrameDecoder::new(DecoderConfig::new(Role::Server));
//! let mut buffer = BytesMut::new();
//! buffer.extend_from_slice(&wire[..3]);
//! assert!(decoder.decode(&mut buffer).unwrap().is_none());
//! buffer.extend_from_slice(&wire[3..]);
//! let frame = decoder.decode(&mut buffer).unwrap().expect("a whole frame");
//! assert_eq!(frame.opcode, OpCode::Text);
//! assert_eq!(&frame.payload[..], b"Hello");
//! ```
#![no_std]
#![forbid(unsafe_code)]
// Nothing derived from network input may panic: no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs, missing_debug_implementations)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod close;
mod decoder;
mod error;
mod header;
mod mask;
mod types;
mod utf8;

pub use close::CloseFrame;
pub use decoder::{DecoderConfig, Frame, FrameDecoder, WholeMessage};
pub use error::ProtocolError;
pub use header::{FrameHeader, MAX_HEADER_LEN, Status, encode_frame};
pub use mask::apply_mask;
#[doc(hidden)]
pub use mask::apply_mask_bytewise;
pub use types::{CloseCode, OpCode, Role, Rsv};
pub use utf8::Utf8Validator;
