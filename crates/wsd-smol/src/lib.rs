//! WebSocket over any smol stream.
//!
//! This crate will wrap any `futures_io::AsyncRead + AsyncWrite` stream (as smol
//! provides) into a `WebSocket` driven by the sans-I/O `wsd-core` connection.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
