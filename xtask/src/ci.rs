//! `cargo xtask ci`: every check a submission must pass, in order, stopping at the
//! first failure.

use crate::builds::{self, Outcome};
use crate::setup::{self, TEST_PROGRAMS};
use crate::util::{cargo, step, step_capturing, workspace_root};

/// Whether `ci` ends with the Autobahn TestSuite, strict (every case OK or
/// INFORMATIONAL): `cargo xtask autobahn` on groups 1-10 for every runtime's server
/// and the client, then the permessage-deflate groups 12 and 13 (see
/// [`DEFLATE_RUNS`]). `.ci/run` installs its tools. A constant so a developer can
/// turn it off while the CLI is broken on purpose.
const AUTOBAHN_IN_CI: bool = true;

/// The build checks of [`crate::builds`] that `ci` runs, after the docs; `cargo
/// xtask builds` runs them all. `.ci/run` installs cargo-deny and cargo-hack.
///
/// Measured on a shared 2-core machine while other builds ran (load average
/// 11-14, so wall times are several times a quiet machine's; CPU time is the
/// steadier figure): installing cargo-deny 0.20.2 without its fat LTO took 30.5
/// min of wall time and 5.1 min of CPU time, cargo-hack 0.6.46 11.6 min and 1.4
/// min; each is installed once per machine. `deny` itself takes 2-11 s.
/// `features` (22 clippy runs) took 3.2 min of wall time and 1.1 min of CPU time
/// after the clippy step had built the dependencies, and 23.6 min and about 5 min
/// of CPU time on a cold target directory. `msrv-lint` after the clippy step: 25 s
/// (11 s of CPU time), every workspace crate checked again.
///
/// `test-32` builds the tested crates and their test dependencies again for
/// i686 (`.ci/run` installs the target and gcc-multilib). With an empty i686
/// directory and the host's build scripts and proc macros built, as the test step
/// leaves them, it took 189 s of wall time on this shared machine (load 8-9) and
/// 105 s of CPU time; the tests themselves take about 12 s.
///
/// Left to `cargo xtask builds`: `msrv`, which checks with Rust 1.85 itself
/// (installing it took 2 min here, its `cargo check` of the published crates 15.5
/// min of wall time and 3.2 min of CPU time, every dependency built again by the
/// old compiler). `msrv-lint` stands in for it here: it reruns clippy on the
/// workspace's own crates only.
const BUILDS_IN_CI: &[&str] = &["deny", "features", "msrv-lint", "test-32"];

/// The `autobahn-deflate` step: `cargo xtask autobahn --deflate-only` with these
/// arguments, `{subset}` standing for [`crate::autobahn::ci_deflate_cases`].
///
/// The tokio server gets all 216 cases of groups 12 and 13. Such a run takes
/// 150-220 s on a shared 2-core machine, and no setting makes it much shorter:
/// kosoku spends 130-150 s of CPU time on it, on about one core (wsd 90-105 s).
/// The step took 389 s with the client on all 216 too (subsets 31 and 24 s, tokio
/// server 184 s, client 150 s); a cold CI run was then at 28 of its 30 minutes.
/// So the client (whose deflate code is the server's, with the roles swapped; its
/// full run took 326 s here under load 11, the subset 25 s), the async-std and
/// smol servers, and the hyper and axum stacks get the 96 cheaper cases of the
/// subset (every subgroup and every offer/accept pair of 13,
/// messages up to 8 KiB). That is enough because permessage-deflate lives in the
/// sans-I/O `wsd-core` and `wsd-deflate`, the same code on every runtime: an
/// adapter only moves bytes, and groups 1-10 already push messages of up to 16 MiB
/// through each adapter. `cargo xtask autobahn --deflate-only --cases '12.*,13.*'
/// --runtime R` runs the whole of 12 and 13 on runtime R (its server and client).
const DEFLATE_RUNS: [&[&str]; 6] = [
    &[
        "--runtime",
        "async-std",
        "--server-only",
        "--cases",
        "{subset}",
    ],
    &["--runtime", "smol", "--server-only", "--cases", "{subset}"],
    &["--stack", "hyper", "--cases", "{subset}"],
    &["--stack", "axum", "--cases", "{subset}"],
    &[
        "--runtime",
        "tokio",
        "--server-only",
        "--cases",
        "12.*,13.*",
    ],
    &["--runtime", "tokio", "--client-only", "--cases", "{subset}"],
];

/// Runs the CI steps. `--skip STEP` (repeatable) leaves a step out for a quick local run.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut skip: Vec<&str> = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--skip" => skip.push(iter.next().ok_or("--skip needs a step name")?),
            other => return Err(format!("ci: unknown argument `{other}`")),
        }
    }
    let wanted = |name: &str| !skip.contains(&name);
    let root = workspace_root();

    // Every program a step will need is named before the first step starts, so a new
    // machine learns all it lacks at once rather than one failed test at a time.
    let autobahn = AUTOBAHN_IN_CI && (wanted("autobahn") || wanted("autobahn-deflate"));
    let mut missing = Vec::new();
    if wanted("test") {
        missing.extend(setup::missing(&TEST_PROGRAMS));
    }
    if wanted("test") || autobahn {
        missing.extend(setup::missing_python(&root));
    }
    if let Some(message) = setup::missing_message(&missing) {
        return Err(format!("ci: {message}"));
    }

    if wanted("fmt") {
        let mut fmt = cargo();
        fmt.args(["fmt", "--all", "--check"]);
        step("fmt", fmt)?;
    }
    if wanted("clippy") {
        let mut clippy = cargo();
        clippy.args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]);
        step("clippy", clippy)?;
    }
    if wanted("test") {
        // The interop and browser tests run the peers of tests/interop.
        setup::ensure_venv(&root)?;
        setup::ensure_node_modules(&root)?;
        let mut test = cargo();
        test.args(["test", "--workspace"]);
        let output = step_capturing("test", test)?;
        let (passed, failed, ignored) = count_test_results(&output);
        println!("xtask: tests: {passed} passed, {failed} failed, {ignored} skipped");
    }
    if wanted("test-no-drafts") {
        // The workspace build gives `wsd-core` its `drafts` feature (`wsd-cli` turns it
        // on); a library user gets it without, which these runs of its unit tests check.
        let mut test = cargo();
        test.args(["test", "-p", "wsd-core", "--lib"]);
        step("test-no-drafts", test)?;
    }
    // The test step runs the vulnerability replays, each asserting its bounds. Their
    // figures, one replay at a time, are `cargo xtask cve`'s: a CI step of its own
    // ran them all again for 93 s, for lines nothing reads.
    if wanted("doc") {
        let mut doc = cargo();
        doc.args(["doc", "--workspace", "--no-deps"]);
        doc.env("RUSTDOCFLAGS", "-D warnings");
        step("doc", doc)?;
    }
    // The builds the test step never makes; each prints its own time.
    for name in BUILDS_IN_CI {
        if wanted(name) {
            let run = builds::named(name).ok_or_else(|| format!("ci: no build step `{name}`"))?;
            if let Outcome::Skipped(why) = run()? {
                println!("xtask: step {name}: skipped ({why})");
            }
        }
    }
    if wanted("fuzz") {
        // Nightly cannot be installed from here (no toolchain downloads), so a machine
        // without it skips the step rather than failing CI.
        if crate::fuzz::nightly_available() {
            let started = std::time::Instant::now();
            crate::fuzz::run_targets(crate::fuzz::CI_SECONDS, None, false, crate::fuzz::CI_JOBS)?;
            let seconds = started.elapsed().as_secs_f64();
            println!("xtask: step fuzz: ok ({seconds:.1}s)");
        } else {
            println!("xtask: step fuzz: skipped (no nightly toolchain)");
        }
    }
    if AUTOBAHN_IN_CI && wanted("autobahn") {
        let started = std::time::Instant::now();
        crate::autobahn::run(&[])?;
        // The hyper and axum stacks: groups 1-10, strict, as for the runtimes.
        for stack in ["hyper", "axum"] {
            crate::autobahn::run(&["--stack".to_string(), stack.to_string()])?;
        }
        let seconds = started.elapsed().as_secs_f64();
        println!("xtask: step autobahn: ok ({seconds:.1}s)");
    }
    if AUTOBAHN_IN_CI && wanted("autobahn-deflate") {
        let started = std::time::Instant::now();
        let subset = crate::autobahn::ci_deflate_cases();
        // Every run is made even after one fails, so a failure names all it broke.
        let failures: Vec<String> = DEFLATE_RUNS
            .iter()
            .filter_map(|args| crate::autobahn::run(&deflate_args(args, &subset)).err())
            .collect();
        let seconds = started.elapsed().as_secs_f64();
        if !failures.is_empty() {
            println!("xtask: step autobahn-deflate: FAILED ({seconds:.1}s)");
            return Err(failures.join("; "));
        }
        println!("xtask: step autobahn-deflate: ok ({seconds:.1}s)");
    }
    println!("xtask: ci: all steps passed");
    Ok(())
}

/// `--deflate-only` and one of [`DEFLATE_RUNS`], with its `{subset}` filled in.
fn deflate_args(args: &[&str], subset: &str) -> Vec<String> {
    std::iter::once("--deflate-only")
        .chain(args.iter().copied())
        .map(|arg| arg.replace("{subset}", subset))
        .collect()
}

/// Adds up the `test result:` lines cargo prints for every test binary.
fn count_test_results(output: &str) -> (u64, u64, u64) {
    let mut totals = (0, 0, 0);
    for line in output.lines() {
        let Some(rest) = line.trim().strip_prefix("test result:") else {
            continue;
        };
        for part in rest.split(';') {
            let mut words = part.split_whitespace().rev();
            let (Some(label), Some(number)) = (words.next(), words.next()) else {
                continue;
            };
            let Ok(number) = number.parse::<u64>() else {
                continue;
            };
            match label {
                "passed" => totals.0 += number,
                "failed" => totals.1 += number,
                "ignored" => totals.2 += number,
                _ => {}
            }
        }
    }
    totals
}

#[cfg(test)]
mod tests {
    use super::{BUILDS_IN_CI, DEFLATE_RUNS, count_test_results, deflate_args};

    #[test]
    fn every_build_step_ci_runs_exists() {
        for name in BUILDS_IN_CI {
            assert!(crate::builds::named(name).is_some(), "{name}");
        }
    }

    #[test]
    fn the_deflate_step_runs_all_of_12_and_13_for_the_tokio_server_and_a_subset_elsewhere() {
        let mut runs = Vec::new();
        for args in DEFLATE_RUNS {
            let mut args = deflate_args(args, "12.1.1,13.7.11");
            args.extend(["--wsd".to_string(), "wsd".to_string()]);
            runs.extend(crate::autobahn::planned(&args).unwrap());
        }
        let selection = |cases: &[&str]| -> Vec<String> {
            cases
                .iter()
                .flat_map(|case| ["-i".to_string(), (*case).to_string()])
                .collect()
        };
        let (subset, full) = (
            selection(&["12.1.1", "13.7.11"]),
            selection(&["12.*", "13.*"]),
        );
        let expected = [
            ("server-async-std-deflate", &subset),
            ("server-smol-deflate", &subset),
            ("server-hyper-deflate", &subset),
            ("server-axum-deflate", &subset),
            ("server-tokio-deflate", &full),
            ("client-tokio-deflate", &subset),
        ];
        assert_eq!(runs.len(), expected.len(), "{runs:?}");
        for ((name, cases), (expected_name, expected_cases)) in runs.iter().zip(expected) {
            assert_eq!((name.as_str(), cases), (expected_name, expected_cases));
        }
    }

    #[test]
    fn counts_add_up_over_test_binaries() {
        let output = "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\
                      noise\n\
                      test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n";
        assert_eq!(count_test_results(output), (5, 1, 1));
    }
}
