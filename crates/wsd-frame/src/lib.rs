//! RFC 6455 framing (placeholder while the parser lands).
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]
