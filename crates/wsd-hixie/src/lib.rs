//! Legacy Hixie-75 and Hixie-76 WebSocket drafts.
//!
//! This crate will hold the framing of the two pre-RFC drafts (`0x00 … 0xFF` text
//! frames, length-prefixed `0x80` frames that are skipped, the Hixie-76 `0xFF 0x00`
//! closing marker) and the Hixie-76 `Sec-WebSocket-Key1`/`Key2` MD5 challenge.
//! It does no I/O.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
