//! WebSocket over any tokio stream.
//!
//! This crate will wrap any `tokio::io::AsyncRead + AsyncWrite` stream into a
//! `WebSocket` that is a `Stream` of messages and a `Sink` of messages, driven by
//! the sans-I/O `wsd-core` connection.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
