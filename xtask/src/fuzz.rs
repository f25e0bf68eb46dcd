//! `cargo xtask fuzz`: runs the libFuzzer targets in `fuzz/` for a fixed time each.
//!
//! The targets need nightly (`-Zsanitizer`) and `cargo-fuzz`. This task installs
//! `cargo-fuzz` from crates.io when it is missing, builds every target once, then runs
//! each for `--seconds` with the working corpus `fuzz/corpus/<target>` (ignored by
//! git) and the committed `fuzz/seeds/<target>`, `fuzz/minimized/<target>` and
//! `fuzz/regressions/<target>` as read-only inputs. It prints one line per target
//! with libFuzzer's execution count and stops at the first crash, naming the input
//! libFuzzer saved. With `--minimize` it then merges each target's working corpus
//! into `fuzz/minimized/<target>`.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::util::{ensure_cargo_tool, step, succeeds, toolchain_cargo, workspace_root};

/// Seconds per target when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 30;

/// What `ci` uses per target: with libFuzzer's start-up and `cargo fuzz run`'s own
/// check of the build, a target takes about 12 s; the 14 targets took 172 s one at
/// a time and 89 s two at a time ([`CI_JOBS`]), plus two to three minutes for the
/// nightly build on a fresh clone.
pub(crate) const CI_SECONDS: u64 = 10;

/// Targets `ci` fuzzes at once. A libFuzzer run is one process on one core, so on
/// the two-core CI machine two at a time halve the step's wall time and give each
/// target as much core time as one at a time (on a machine with more work than
/// cores they share them: each ran about half the executions). `cargo xtask fuzz`
/// runs one at a time, leaving a core to whatever else runs beside a long
/// campaign.
pub(crate) const CI_JOBS: usize = 2;

/// How many lines of a failed run's output to show.
const TAIL_LINES: usize = 60;

/// Parses the arguments and runs.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut only: Option<String> = None;
    let mut minimize = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--seconds" => {
                let value = iter.next().ok_or("--seconds needs a number")?;
                seconds = value
                    .parse()
                    .map_err(|_| format!("--seconds: `{value}` is not a number"))?;
            }
            "--target" => only = Some(iter.next().ok_or("--target needs a name")?.clone()),
            "--minimize" => minimize = true,
            "--help" | "-h" => {
                println!(
                    "usage: cargo xtask fuzz [--seconds N] [--target T] [--minimize]\n\n\
                     Runs every fuzz target in fuzz/ (or only T) for N seconds each \
                     (default {DEFAULT_SECONDS}).\n--minimize then merges the working \
                     corpus into fuzz/minimized/<target> (committed), keeping only \
                     inputs that add coverage.\nNeeds the nightly toolchain; installs \
                     cargo-fuzz if it is missing."
                );
                return Ok(());
            }
            other => return Err(format!("fuzz: unknown argument `{other}`")),
        }
    }
    run_targets(seconds, only.as_deref(), minimize, 1)
}

/// True when `cargo +nightly` works, so `ci` can leave the step out otherwise.
pub(crate) fn nightly_available() -> bool {
    succeeds(nightly_cargo().arg("--version"))
}

/// Runs the fuzz crate's own tests (the reference decoder, the seeds), builds every
/// target, then runs them (or `only`) for `seconds` each, `jobs` at a time, or with
/// `minimize` one at a time, each followed by the merge of what it found into its
/// committed corpus.
pub(crate) fn run_targets(
    seconds: u64,
    only: Option<&str>,
    minimize: bool,
    jobs: usize,
) -> Result<(), String> {
    if !nightly_available() {
        return Err("fuzz: the nightly toolchain is missing (`cargo +nightly` fails)".into());
    }
    ensure_cargo_tool("cargo-fuzz", "fuzz")?;
    let targets = list_targets()?;
    let chosen: Vec<&String> = match only {
        Some(name) => {
            let found = targets.iter().find(|t| *t == name);
            vec![found.ok_or_else(|| format!("fuzz: no target `{name}`; targets: {targets:?}"))?]
        }
        None => targets.iter().collect(),
    };
    let mut test = nightly_cargo();
    test.args(["test", "--manifest-path", "fuzz/Cargo.toml", "--lib"]);
    step("fuzz tests", test)?;
    let mut build = nightly_cargo();
    build.args(["fuzz", "build"]);
    if let Some(name) = only {
        build.arg(name);
    }
    step("fuzz build", build)?;
    if !minimize {
        return run_side_by_side(&chosen, seconds, jobs);
    }
    for target in chosen {
        run_target(target, seconds)?;
        minimize_corpus(target)?;
    }
    Ok(())
}

/// Runs `targets` for `seconds` each, `jobs` at a time; after a failure the targets
/// running finish, no more start, and the first failure is returned.
fn run_side_by_side(targets: &[&String], seconds: u64, jobs: usize) -> Result<(), String> {
    let next = std::sync::Mutex::new(targets.iter());
    let failure: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.clamp(1, targets.len().max(1)) {
            scope.spawn(|| {
                loop {
                    if failure.lock().is_ok_and(|failed| failed.is_some()) {
                        return;
                    }
                    let Some(target) = next.lock().ok().and_then(|mut next| next.next()) else {
                        return;
                    };
                    if let Err(error) = run_target(target, seconds) {
                        if let Ok(mut failed) = failure.lock() {
                            failed.get_or_insert(error);
                        }
                        return;
                    }
                }
            });
        }
    });
    match failure.into_inner() {
        Ok(None) => Ok(()),
        Ok(Some(error)) => Err(error),
        Err(_) => Err("fuzz: a run panicked".into()),
    }
}

/// The committed inputs of `target`, read-only for libFuzzer: hand-written seeds
/// (`examples/seeds.rs` rewrites them), the minimised corpus of earlier runs, and
/// inputs that once failed.
pub(crate) const COMMITTED: [&str; 3] = ["seeds", "minimized", "regressions"];

/// Merges the working corpus of `target` into `fuzz/minimized/<target>` with
/// libFuzzer's `-merge=1`: an input is kept only if it adds coverage to the seeds
/// and to what is kept already, so the committed directory stays small.
fn minimize_corpus(target: &str) -> Result<(), String> {
    let fuzz_dir = workspace_root().join("fuzz");
    let kept = fuzz_dir.join("minimized").join(target);
    let fresh = fuzz_dir.join("minimized").join(format!(".{target}.new"));
    let io = |e: std::io::Error| format!("fuzz: minimising {target}: {e}");
    if fresh.exists() {
        std::fs::remove_dir_all(&fresh).map_err(io)?;
    }
    std::fs::create_dir_all(&fresh).map_err(io)?;
    // The seeds go in first, so that only what adds to them is merged; they are
    // taken out again afterwards (they are committed already).
    let seeds = fuzz_dir.join("seeds").join(target);
    let mut seed_names = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&seeds) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            std::fs::copy(entry.path(), fresh.join(&name)).map_err(io)?;
            seed_names.push(name);
        }
    }
    let mut merge = nightly_cargo();
    merge.args(["fuzz", "run", target]).arg(&fresh);
    for dir in [kept.clone(), fuzz_dir.join("corpus").join(target)] {
        if dir.is_dir() {
            merge.arg(dir);
        }
    }
    merge.args(["--", "-set_cover_merge=1"]);
    step(&format!("fuzz minimize {target}"), merge)?;
    for name in seed_names {
        std::fs::remove_file(fresh.join(name)).map_err(io)?;
    }
    if kept.exists() {
        std::fs::remove_dir_all(&kept).map_err(io)?;
    }
    std::fs::rename(&fresh, &kept).map_err(io)?;
    println!(
        "xtask: fuzz {target}: {} inputs kept in {}",
        count_files(&kept),
        kept.display()
    );
    Ok(())
}

fn nightly_cargo() -> Command {
    toolchain_cargo("nightly")
}

/// The target names, as `cargo fuzz list` gives them.
pub(crate) fn list_targets() -> Result<Vec<String>, String> {
    let output = nightly_cargo()
        .args(["fuzz", "list"])
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| format!("fuzz: could not run cargo fuzz list: {e}"))?;
    if !output.status.success() {
        return Err("fuzz: `cargo fuzz list` failed".into());
    }
    let targets: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if targets.is_empty() {
        return Err("fuzz: `cargo fuzz list` found no targets".into());
    }
    Ok(targets)
}

/// Runs one target for `seconds`; prints its line, or fails naming the crash input.
fn run_target(target: &str, seconds: u64) -> Result<(), String> {
    let fuzz_dir = workspace_root().join("fuzz");
    let corpus = fuzz_dir.join("corpus").join(target);
    std::fs::create_dir_all(&corpus)
        .map_err(|e| format!("fuzz: cannot create {}: {e}", corpus.display()))?;
    let mut command = nightly_cargo();
    command.args(["fuzz", "run", target]).arg(&corpus);
    // Committed inputs: read, never written, and optional.
    for dir in COMMITTED {
        let path = fuzz_dir.join(dir).join(target);
        if path.is_dir() {
            command.arg(path);
        }
    }
    command
        .arg("--")
        .arg(format!("-max_total_time={seconds}"))
        // The driver targets allocate per execution; 2 GiB is libFuzzer's default,
        // spelled out so a leak shows up as a failure here rather than as swapping.
        .arg("-rss_limit_mb=2048");

    let started = Instant::now();
    // libFuzzer reports on stderr, a line per new input; keep it for the summary and
    // show only the end of it when something fails.
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("fuzz: could not start cargo fuzz run {target}: {e}"))?;
    let mut lines = Vec::new();
    if let Some(stderr) = child.stderr.take() {
        lines.extend(BufReader::new(stderr).lines().map_while(Result::ok));
    }
    let status = child
        .wait()
        .map_err(|e| format!("fuzz: waiting for {target} failed: {e}"))?;
    let elapsed = started.elapsed().as_secs_f64();
    let summary = Summary::read(&lines);
    if status.success() && summary.artifact.is_none() {
        println!(
            "xtask: fuzz {target}: ok, {} executions in {elapsed:.0}s, corpus {} inputs",
            summary.runs.map_or("?".into(), |n| n.to_string()),
            count_files(&corpus),
        );
        return Ok(());
    }
    for line in lines.iter().skip(lines.len().saturating_sub(TAIL_LINES)) {
        eprintln!("{line}");
    }
    println!("xtask: fuzz {target}: FAILED after {elapsed:.0}s ({status})");
    Err(match summary.artifact {
        Some(artifact) => format!(
            "fuzz target `{target}` crashed; input saved as {artifact}\n\
             reproduce: cargo +nightly fuzz run {target} {artifact}"
        ),
        None => format!("fuzz target `{target}` failed without saving an input"),
    })
}

/// What a libFuzzer run printed that the summary line needs.
#[derive(Debug, Default, PartialEq, Eq)]
struct Summary {
    /// The execution count: `Done N runs in S second(s)`, or the final stats.
    runs: Option<u64>,
    /// The crashing input: `Test unit written to PATH`.
    artifact: Option<String>,
}

impl Summary {
    fn read(lines: &[String]) -> Self {
        let mut summary = Self::default();
        for line in lines {
            if let Some(rest) = line.strip_prefix("Done ") {
                summary.runs = rest.split_whitespace().next().and_then(|n| n.parse().ok());
            } else if let Some(rest) = line.strip_prefix("stat::number_of_executed_units:") {
                summary.runs = summary.runs.or_else(|| rest.trim().parse().ok());
            }
            if let Some((_, path)) = line.split_once("Test unit written to ") {
                summary.artifact = Some(path.trim().to_owned());
            }
        }
        summary
    }
}

fn count_files(dir: &Path) -> usize {
    std::fs::read_dir(dir).map_or(0, |entries| entries.count())
}

#[cfg(test)]
mod tests {
    use super::Summary;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn a_clean_run_reports_its_execution_count() {
        let output = lines(
            "#1024\tpulse  cov: 10 ft: 11 corp: 3/9b exec/s: 512 rss: 40Mb\n\
             Done 123456 runs in 21 second(s)\n",
        );
        assert_eq!(
            Summary::read(&output),
            Summary {
                runs: Some(123_456),
                artifact: None
            }
        );
    }

    #[test]
    fn a_crash_names_the_saved_input() {
        let output = lines(
            "==1== ERROR: libFuzzer: deadly signal\n\
             artifact_prefix='/w/fuzz/artifacts/frame_decoder/'; Test unit written to /w/fuzz/artifacts/frame_decoder/crash-abc\n\
             stat::number_of_executed_units: 77\n",
        );
        let summary = Summary::read(&output);
        assert_eq!(summary.runs, Some(77));
        assert_eq!(
            summary.artifact.as_deref(),
            Some("/w/fuzz/artifacts/frame_decoder/crash-abc")
        );
    }
}
