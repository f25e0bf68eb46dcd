//! The legacy Hixie-75 and Hixie-76 WebSocket drafts, with no I/O.
//!
//! Browsers spoke these drafts before RFC 6455 (roughly 2010 to 2011). This crate holds the
//! parts that differ from RFC 6455, for a server that still accepts them:
//!
//! - [`key_number`], [`challenge_answer`] and [`Challenge`]: the Hixie-76
//!   `Sec-WebSocket-Key1`/`Key2` challenge and its 16-byte MD5 answer;
//! - [`ResponseHead`]: the byte-exact `101` response heads of both drafts;
//! - [`Decoder`]: the incremental frame decoder (`0x00 … 0xFF` text frames, length-prefixed
//!   frames that are skipped, the Hixie-76 `0xFF 0x00` closing handshake), with a
//!   `max_length` limit and UTF-8 validation;
//! - [`encode_text`] and [`CLOSE_FRAME`]: the encoder.
//!
//! It does no I/O and keeps no clock; the driver in `wsd-core` feeds it bytes and writes
//! what it produces. Every failure is an [`Error`].
//!
//! Where `websocket-driver` (Node, the library wsd ports) has bugs, this crate fixes
//! them: length-prefixed frames are skipped exactly, keys whose quotient passes 32 bits
//! are refused instead of throwing, nothing is decoded after `0xFF 0x00` or after a limit
//! is broken, and invalid UTF-8 is an error instead of U+FFFD. Sentinel frames of a type
//! other than `0x00` are dropped, as the drafts say (`websocket-driver` delivers them as
//! text). The whole list of differences is in `wsd_core::differences`.
//!
//! # Example
//!
//! A Hixie-76 server handshake, then a text frame and the closing handshake:
//!
//! ```
//! use bytes::BytesMut;
//! use wsd_hixie::{Challenge, Decoder, Draft, Frame, ResponseHead, CLOSE_FRAME};
//!
//! // The request head carried these keys; the 8 body bytes followed it.
//! let challenge = Challenge::from_keys("4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00")?;
//! let mut out = Vec::new();
//! ResponseHead {
//!     origin: Some("http://example.com"),
//!     location: "ws://example.com/demo",
//!     protocol: None,
//!     headers: &[],
//! }
//! .write(Draft::Hixie76, &mut out)?;
//! out.extend_from_slice(&challenge.answer(b"^n:ds[4U"));
//! assert!(out.ends_with(b"\r\n\r\n8jKS'y:G*Co,Wxa-"));
//!
//! // Frames from the client, as they arrive.
//! let mut decoder = Decoder::new(Draft::Hixie76, 64 << 20);
//! let mut input = BytesMut::from(&b"\x00Hello\xFF\xFF"[..]);
//! assert_eq!(decoder.decode(&mut input)?, Some(Frame::Text("Hello".into())));
//! assert_eq!(decoder.decode(&mut input)?, None);
//! input.extend_from_slice(b"\x00");
//! assert_eq!(decoder.decode(&mut input)?, Some(Frame::Close));
//!
//! // The server answers the closing handshake and closes the transport.
//! let mut reply = Vec::new();
//! wsd_hixie::encode_text("Bye", &mut reply);
//! reply.extend_from_slice(&CLOSE_FRAME);
//! assert_eq!(reply, b"\x00Bye\xFF\xFF\x00");
//! # Ok::<(), wsd_hixie::Error>(())
//! ```
#![forbid(unsafe_code)]
// Nothing derived from network input may panic: no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs, missing_debug_implementations)]

mod codec;
mod error;
mod head;
mod key;

pub use codec::{CLOSE_FRAME, Decoder, Frame, encode_text};
pub use error::{Error, KeyError};
pub use head::ResponseHead;
pub use key::{ANSWER_LEN, BODY_LEN, Challenge, challenge_answer, key_number};

/// Which of the two legacy drafts a connection speaks.
///
/// A request with `Sec-WebSocket-Key1` or `Sec-WebSocket-Key2` is Hixie-76, one with
/// neither (and none of RFC 6455's headers) is Hixie-75.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Draft {
    /// draft-hixie-thewebsocketprotocol-75: no key challenge, no closing handshake.
    Hixie75,
    /// draft-hixie-thewebsocketprotocol-76: the key challenge and the `0xFF 0x00` closing
    /// handshake.
    Hixie76,
}
