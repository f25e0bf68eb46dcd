//! The `Sec-WebSocket-Extensions` negotiation framework.
//!
//! This crate will hold the header grammar (RFC 6455 section 9.1), the client and
//! server negotiation traits, RSV bit ownership and the per-message pipeline that
//! extensions such as permessage-deflate plug into.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
