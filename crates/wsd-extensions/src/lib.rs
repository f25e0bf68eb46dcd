//! The `Sec-WebSocket-Extensions` negotiation framework.
//!
//! This crate holds the header grammar (RFC 6455 section 9.1).
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod header;

pub use header::{
    ExtensionOffer, HeaderError, HeaderErrorKind, Params, is_token, parse_header, serialize_header,
};
