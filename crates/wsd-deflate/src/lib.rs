//! permessage-deflate (RFC 7692) for the wsd extensions framework.
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod codec;
mod negotiate;

pub use negotiate::{DeflateConfig, DeflateError, NAME, PerMessageDeflate};
