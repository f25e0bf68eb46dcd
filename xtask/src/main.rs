//! Project automation, run as `cargo xtask <task>`.
//!
//! `cargo xtask ci` is the test command the README names and `.ci/run` calls: it runs
//! every check in order, prints one summary line per step and stops at the first
//! failure. Tasks are modules. The binary's one dependency is `wsd-core`, whose
//! blocking client example asks the Autobahn fuzzing server for its case count; it
//! needs no async runtime, so xtask still builds quickly on a fresh machine.
//! `tidy` holds the tests that keep the tree's rules (`cargo test -p xtask`).

mod autobahn;
mod bench;
mod builds;
mod ci;
mod coverage;
mod cve;
mod fuzz;
mod json;
mod process;
mod setup;
#[cfg(test)]
mod tidy;
mod util;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((task, rest)) => (task.as_str(), rest),
        None => ("help", &[][..]),
    };
    let result = match task {
        "ci" => ci::run(rest),
        "autobahn" => autobahn::run(rest),
        "cve" => cve::run(rest),
        "coverage" => coverage::run(rest),
        "builds" => builds::run(rest),
        "setup" => setup::run(rest),
        "bench" => bench::run(rest),
        "fuzz" => fuzz::run(rest),
        "help" | "--help" | "-h" => {
            println!(
                "usage: cargo xtask <task>\n\ntasks:\n  ci        fmt, clippy, tests, docs (the README's test command)\n  cve       the vulnerability replays, one line of figures per class\n  builds    cargo-deny, every feature alone, the rust-version toolchain, the 32-bit tests\n  coverage  line and branch coverage of the protocol crates (`cargo xtask coverage --help`)\n  setup     install the interop peers (python venv, node packages) ci needs\n  autobahn  the Autobahn TestSuite against wsd serve and wsd autobahn-client\n            (`cargo xtask autobahn --help` for its options)\n  fuzz      the libFuzzer targets in fuzz/, 30 s each (`cargo xtask fuzz --help`)\n  bench     echo throughput and memory vs the peer servers (`cargo xtask bench --help`)"
            );
            Ok(())
        }
        other => Err(format!("unknown task `{other}`; try `cargo xtask help`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
