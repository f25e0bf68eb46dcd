//! `cargo xtask ci`: every check a submission must pass, in order, stopping at the
//! first failure.

use crate::util::{cargo, step, step_capturing};

/// Whether `ci` ends with `cargo xtask autobahn` (every runtime's server and client,
/// groups 1-10, strict). The run takes about a minute plus a release build of
/// `wsd`; `.ci/run` installs its tools. A constant so a developer can turn it off
/// while the CLI is broken on purpose.
const AUTOBAHN_IN_CI: bool = true;

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
        let mut test = cargo();
        test.args(["test", "--workspace"]);
        let output = step_capturing("test", test)?;
        let (passed, failed, ignored) = count_test_results(&output);
        println!("xtask: tests: {passed} passed, {failed} failed, {ignored} skipped");
    }
    if wanted("doc") {
        let mut doc = cargo();
        doc.args(["doc", "--workspace", "--no-deps"]);
        doc.env("RUSTDOCFLAGS", "-D warnings");
        step("doc", doc)?;
    }
    if wanted("fuzz") {
        // Nightly cannot be installed from here (no toolchain downloads), so a machine
        // without it skips the step rather than failing CI.
        if crate::fuzz::nightly_available() {
            let started = std::time::Instant::now();
            crate::fuzz::run_targets(crate::fuzz::CI_SECONDS, None)?;
            let seconds = started.elapsed().as_secs_f64();
            println!("xtask: step fuzz: ok ({seconds:.1}s)");
        } else {
            println!("xtask: step fuzz: skipped (no nightly toolchain)");
        }
    }
    if AUTOBAHN_IN_CI && wanted("autobahn") {
        let started = std::time::Instant::now();
        crate::autobahn::run(&[])?;
        let seconds = started.elapsed().as_secs_f64();
        println!("xtask: step autobahn: ok ({seconds:.1}s)");
    }
    if AUTOBAHN_IN_CI && wanted("autobahn-deflate") {
        // permessage-deflate on every server runtime and the client, on the cheap
        // 96 of the 216 cases of groups 12 and 13 (136 s here); `cargo xtask
        // autobahn --deflate-only --cases '12.*,13.*'` runs all of them (about 20).
        let started = std::time::Instant::now();
        let cases = crate::autobahn::ci_deflate_cases();
        crate::autobahn::run(&["--deflate-only".into(), "--cases".into(), cases])?;
        let seconds = started.elapsed().as_secs_f64();
        println!("xtask: step autobahn-deflate: ok ({seconds:.1}s)");
    }
    println!("xtask: ci: all steps passed");
    Ok(())
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
    use super::count_test_results;

    #[test]
    fn counts_add_up_over_test_binaries() {
        let output = "test result: ok. 3 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\
                      noise\n\
                      test result: FAILED. 2 passed; 1 failed; 0 ignored; 0 measured; 0 filtered out\n";
        assert_eq!(count_test_results(output), (5, 1, 1));
    }
}
