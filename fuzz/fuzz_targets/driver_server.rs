//! A server `Connection` fed arbitrary bytes in arbitrary splits, with arbitrary API
//! calls in between; see `wsd_fuzz::driver` for the layout and the invariants (no
//! panic, at most one `Close` and nothing after it, `Error` only right before
//! `Close`, output bounded by the input, timers never left overdue).
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsd_core::Connection;
use wsd_fuzz::Reader;
use wsd_fuzz::driver::{Config, Harness};

fuzz_target!(|input: &[u8]| {
    let mut r = Reader::new(input);
    let config = Config::read(&mut r);
    let mut harness = Harness::new(Connection::server(config.options()), config);
    harness.run(&mut r);
});
