//! The sans-I/O WebSocket driver (placeholder while the driver lands).
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
