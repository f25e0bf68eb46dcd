//! `cargo xtask cve`: the vulnerability replays of `tests/tests/cve.rs`, one at a time
//! (so each one's CPU time is its own on a shared machine), showing one line of
//! figures per vulnerability class.

use crate::util::{cargo, step_filtered};

/// The command that runs the replays; `--nocapture` lets their figure lines out.
fn command() -> std::process::Command {
    let mut test = cargo();
    test.args(["test", "-p", "wsd-tests", "--test", "cve", "--"])
        .args(["--nocapture", "--test-threads", "1"]);
    test
}

/// The figures of a replay, from a line of the test output: each replay prints
/// `cve: <class>: ...`, after libtest's `test <name> ... ` on the same line.
fn figures(line: &str) -> Option<&str> {
    line.find("cve: ").map(|start| &line[start..])
}

/// Runs the replays; `Err` if any failed (its panic message is on stderr).
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!(
            "cve: unknown argument `{arg}` (the task takes none)"
        ));
    }
    let output = step_filtered("cve", command(), figures)?;
    let ignored: Vec<&str> = output
        .lines()
        .filter(|line| line.contains(" ... ignored"))
        .collect();
    for line in ignored {
        println!("xtask: cve: {}", line.trim_start_matches("test "));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::figures;

    #[test]
    fn figures_are_cut_from_the_line_libtest_starts() {
        assert_eq!(
            figures("test frames::x ... cve: RUSTSEC-2020-0043: cpu 20 ms (bound 500)"),
            Some("cve: RUSTSEC-2020-0043: cpu 20 ms (bound 500)")
        );
        assert_eq!(figures("test frames::x ... ok"), None);
        assert_eq!(figures("running 13 tests"), None);
    }
}
