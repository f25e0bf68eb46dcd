//! permessage-deflate (RFC 7692) for the wsd extensions framework.
//!
//! This crate will hold the permessage-deflate extension with all four parameters
//! (`server_no_context_takeover`, `client_no_context_takeover`,
//! `server_max_window_bits`, `client_max_window_bits`).
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
