//! Every vulnerability class found in WebSocket libraries (the table in the project's
//! field notes), replayed against the `wsd` binary over loopback: `wsd serve` under a
//! hostile client, `wsd connect` under a hostile server or proxy of the test's own.
//!
//! Each replay names the advisory it replays, reads the attacked process's CPU time and
//! memory from `/proc` before and after, asserts both against a bound, and prints one
//! line of figures starting with `cve:` (`cargo xtask cve` runs them one at a time and
//! shows those lines). The bounds are about three times what a debug build measures on
//! a loaded 2-core machine, with floors for figures near the 10 ms clock tick, and far
//! below what the vulnerable behaviour would cost (a quadratic parse of a 16 KiB head
//! takes seconds, a bomb inflated in full hundreds of MiB).
#![cfg(target_os = "linux")]

// A test crate's root resolves modules beside it, not in a directory of its name.
#[path = "cve/client.rs"]
mod client;
#[path = "cve/deflate.rs"]
mod deflate;
#[path = "cve/frames.rs"]
mod frames;
#[path = "cve/harness.rs"]
mod harness;
#[path = "cve/request_head.rs"]
mod request_head;
