//! Cross-crate, end-to-end and interop tests for wsd.
//!
//! The tests live in `tests/tests/*.rs`; this library holds the helpers they share.
#![forbid(unsafe_code)]
