//! Benchmarks for wsd: micro benchmarks with criterion and the echo load generator.
//!
//! Peers are dev-dependencies of this crate only, so no wsd crate ever depends on them.
#![forbid(unsafe_code)]
