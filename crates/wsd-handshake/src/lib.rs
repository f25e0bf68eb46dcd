//! Sans-I/O WebSocket HTTP upgrade handshakes (placeholder while the parser lands).
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
