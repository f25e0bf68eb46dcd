//! `cargo xtask coverage`: line and branch coverage of the protocol crates by their
//! own tests, per crate, with the files that leave the most lines uncovered.
//!
//! It runs cargo-llvm-cov (installed from crates.io when missing) over the tests of
//! the protocol crates (unit, integration and, with nightly, doc tests). Branch
//! coverage needs nightly (`-Zcoverage-options=branch`), so nightly is used when
//! present, stable (lines only) otherwise. llvm-cov and llvm-profdata come from the
//! toolchain's `llvm-tools` component, added with rustup when missing; where rustup
//! cannot download it, `LLVM_COV` and `LLVM_PROFDATA` may name a system LLVM of the
//! same major version as rustc's (`rustc -vV`), which cargo-llvm-cov then uses.

use std::process::Command;

use crate::json::{self, Json};
use crate::util::{ensure_cargo_tool, step, target_dir, toolchain_cargo, workspace_root};

/// The crates whose coverage is reported: the ones that parse what the network
/// sends (`ARCHITECTURE.md`'s protocol crates).
pub(crate) const PROTOCOL_CRATES: [&str; 6] = [
    "wsd-frame",
    "wsd-hixie",
    "wsd-handshake",
    "wsd-extensions",
    "wsd-deflate",
    "wsd-core",
];

/// The line coverage the project aims at (issue 19); below it a crate is marked.
const LINE_TARGET: f64 = 90.0;

/// How many files to list as the biggest uncovered areas.
const WORST_FILES: usize = 12;

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut html = false;
    let mut lines_only = false;
    let mut report_only = false;
    let mut fuzz = false;
    for arg in args {
        match arg.as_str() {
            "--html" => html = true,
            "--lines-only" => lines_only = true,
            "--report-only" => report_only = true,
            "--fuzz" => fuzz = true,
            "--help" | "-h" => {
                println!(
                    "usage: cargo xtask coverage [--html] [--lines-only] [--report-only]\n\n\
                     Line and branch coverage of {} by their own tests.\n\
                     --html         also write target/llvm-cov/html\n\
                     --lines-only   stable toolchain, no branch coverage\n\
                     --report-only  report the counters of the last run again\n\
                     --fuzz         also replay each fuzz target's committed inputs \
                     (seeds, minimized, regressions; nightly, lines only)",
                    PROTOCOL_CRATES.join(", ")
                );
                return Ok(());
            }
            other => return Err(format!("coverage: unknown argument `{other}`")),
        }
    }
    let nightly = !lines_only && crate::fuzz::nightly_available();
    let toolchain = if nightly { "nightly" } else { "stable" };
    ensure_llvm_tools(toolchain)?;
    ensure_cargo_tool("cargo-llvm-cov", "llvm-cov")?;

    let summary = target_dir().join("llvm-cov").join("summary.json");
    if !report_only {
        run_tests(toolchain, nightly)?;
    }
    // The report must name the doc tests too, or their counters are left out.
    let nightly_flags: &[&str] = if nightly {
        &["--branch", "--doctests"]
    } else {
        &[]
    };
    let mut report = llvm_cov(toolchain);
    report.arg("report").args(nightly_flags);
    if let Some(dir) = summary.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("coverage: cannot create {}: {e}", dir.display()))?;
    }
    report
        .args(["--json", "--summary-only", "--output-path"])
        .arg(&summary);
    step("coverage report", report)?;
    if html {
        let mut pages = llvm_cov(toolchain);
        pages.args(["report", "--html"]).args(nightly_flags);
        step("coverage html", pages)?;
        println!(
            "xtask: coverage pages in {}",
            target_dir().join("llvm-cov").join("html").display()
        );
    }
    let text = std::fs::read_to_string(&summary)
        .map_err(|e| format!("coverage: cannot read {}: {e}", summary.display()))?;
    let files = read_summary(&text)?;
    print!("{}", render(&files, nightly, "their tests"));
    if fuzz {
        let files = fuzz_coverage()?;
        print!("{}", render(&files, false, "the committed fuzz inputs"));
    }
    Ok(())
}

/// Line coverage of the fuzz targets replaying their committed inputs: `cargo fuzz
/// coverage` per target (an instrumented build that runs each input once), the
/// profiles merged, then one summary over every target's binary.
fn fuzz_coverage() -> Result<Vec<FileCoverage>, String> {
    if !crate::fuzz::nightly_available() {
        return Err("coverage --fuzz: the nightly toolchain is missing".into());
    }
    ensure_llvm_tools("nightly")?;
    ensure_cargo_tool("cargo-fuzz", "fuzz")?;
    let root = workspace_root();
    let fuzz_dir = root.join("fuzz");
    let targets = crate::fuzz::list_targets()?;
    let triple = nightly_host()?;
    let triple = triple.as_str();
    let mut profiles = Vec::new();
    let mut binaries = Vec::new();
    for target in &targets {
        let mut replay = toolchain_cargo("nightly");
        replay.args(["fuzz", "coverage", target]);
        for dir in crate::fuzz::COMMITTED {
            let inputs = fuzz_dir.join(dir).join(target);
            if inputs.is_dir() {
                replay.arg(inputs);
            }
        }
        step(&format!("fuzz coverage {target}"), replay)?;
        profiles.push(
            fuzz_dir
                .join("coverage")
                .join(target)
                .join("coverage.profdata"),
        );
        // cargo-fuzz builds these under the workspace's target directory.
        binaries.push(
            target_dir()
                .join(triple)
                .join("coverage")
                .join(triple)
                .join("release")
                .join(target),
        );
    }
    let tools = llvm_tools_dir(triple)?;
    let out = target_dir().join("llvm-cov");
    std::fs::create_dir_all(&out)
        .map_err(|e| format!("coverage: cannot create {}: {e}", out.display()))?;
    let merged = out.join("fuzz.profdata");
    let mut merge = Command::new(tools.join("llvm-profdata"));
    merge
        .args(["merge", "-sparse"])
        .args(&profiles)
        .arg("-o")
        .arg(&merged);
    step("fuzz coverage merge", merge)?;
    let mut export = Command::new(tools.join("llvm-cov"));
    export
        .args(["export", "-summary-only"])
        .arg(format!("-instr-profile={}", merged.display()));
    for (i, binary) in binaries.iter().enumerate() {
        if i > 0 {
            export.arg("-object");
        }
        export.arg(binary);
    }
    let output = export
        .output()
        .map_err(|e| format!("coverage: could not run llvm-cov export: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "coverage: llvm-cov export failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    read_summary(&String::from_utf8_lossy(&output.stdout))
}

/// What `rustc +nightly <args>` prints.
fn nightly_rustc(args: &[&str]) -> Result<String, String> {
    let output = Command::new("rustc")
        .arg("+nightly")
        .args(args)
        .env_remove("RUSTUP_TOOLCHAIN")
        .output()
        .map_err(|e| format!("coverage: could not run rustc: {e}"))?;
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The host triple (`rustc -vV`), which names cargo-fuzz's build directory.
fn nightly_host() -> Result<String, String> {
    nightly_rustc(&["-vV"])?
        .lines()
        .find_map(|line| line.strip_prefix("host: "))
        .map(str::to_owned)
        .ok_or_else(|| "coverage: rustc -vV names no host".into())
}

/// The nightly toolchain's llvm-tools (`<sysroot>/lib/rustlib/<host>/bin`).
fn llvm_tools_dir(host: &str) -> Result<std::path::PathBuf, String> {
    let sysroot = nightly_rustc(&["--print", "sysroot"])?;
    let dir = std::path::Path::new(sysroot.trim())
        .join("lib")
        .join("rustlib")
        .join(host)
        .join("bin");
    if dir.join("llvm-cov").is_file() {
        Ok(dir)
    } else {
        Err(format!("coverage: no llvm-cov in {}", dir.display()))
    }
}

/// Runs the protocol crates' tests under instrumentation, from clean counters.
fn run_tests(toolchain: &str, nightly: bool) -> Result<(), String> {
    // Counters left by an earlier run of other tests would mix in.
    let mut clean = llvm_cov(toolchain);
    clean.args(["clean", "--workspace"]);
    step("coverage clean", clean)?;
    let mut test = llvm_cov(toolchain);
    // Coverage is a measurement, not the test gate (`ci` runs the tests): a test
    // that fails under instrumentation (wsd-deflate's allocation count sees the
    // profiler's own allocations) still leaves its counters, and the others run.
    test.args(["--no-report", "--ignore-run-fail"]);
    for name in PROTOCOL_CRATES {
        test.args(["-p", name]);
    }
    if nightly {
        test.args(["--branch", "--doctests"]);
    }
    step("coverage tests", test)
}

/// `cargo +<toolchain> llvm-cov`.
fn llvm_cov(toolchain: &str) -> Command {
    let mut command = toolchain_cargo(toolchain);
    command.arg("llvm-cov");
    command
}

/// Makes sure cargo-llvm-cov will find llvm-cov and llvm-profdata: `LLVM_COV` and
/// `LLVM_PROFDATA` when set, else the toolchain's `llvm-tools` component (added
/// with rustup if missing).
fn ensure_llvm_tools(toolchain: &str) -> Result<(), String> {
    if std::env::var_os("LLVM_COV").is_some() && std::env::var_os("LLVM_PROFDATA").is_some() {
        return Ok(());
    }
    let installed = Command::new("rustup")
        .args(["component", "list", "--installed", "--toolchain", toolchain])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("llvm-tools"));
    if installed {
        return Ok(());
    }
    let mut add = Command::new("rustup");
    add.args([
        "component",
        "add",
        "llvm-tools-preview",
        "--toolchain",
        toolchain,
    ]);
    step("add llvm-tools", add).map_err(|_| {
        "coverage: rustup could not add llvm-tools-preview; set LLVM_COV and \
         LLVM_PROFDATA to an llvm-cov and llvm-profdata of rustc's LLVM major \
         version (`rustc -vV`), e.g. from Debian's llvm-<N> package"
            .to_owned()
    })
}

/// Covered and total counts.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Count {
    covered: u64,
    total: u64,
}

impl Count {
    fn add(&mut self, other: Self) {
        self.covered += other.covered;
        self.total += other.total;
    }

    fn percent(self) -> f64 {
        if self.total == 0 {
            100.0
        } else {
            100.0 * self.covered as f64 / self.total as f64
        }
    }

    fn missed(self) -> u64 {
        self.total - self.covered
    }
}

/// One source file's figures.
#[derive(Debug, Clone, PartialEq)]
struct FileCoverage {
    /// The path from the workspace root.
    path: String,
    lines: Count,
    branches: Count,
}

fn number(value: Option<&Json>) -> u64 {
    match value {
        Some(Json::Number(n)) if *n >= 0.0 => *n as u64,
        _ => 0,
    }
}

fn count(summary: &Json, kind: &str) -> Count {
    let entry = summary.get(kind);
    Count {
        covered: number(entry.and_then(|e| e.get("covered"))),
        total: number(entry.and_then(|e| e.get("count"))),
    }
}

/// The per-file figures of `llvm-cov export -summary-only` (what `cargo llvm-cov
/// report --json --summary-only` writes), for files under `crates/`.
fn read_summary(text: &str) -> Result<Vec<FileCoverage>, String> {
    let root = json::parse(text).map_err(|e| format!("coverage: the summary: {e}"))?;
    let Some(Json::Array(data)) = root.get("data") else {
        return Err("coverage: the summary has no `data` array".into());
    };
    let mut files = Vec::new();
    for export in data {
        let Some(Json::Array(entries)) = export.get("files") else {
            continue;
        };
        for file in entries {
            let (Some(name), Some(summary)) = (
                file.get("filename").and_then(Json::as_str),
                file.get("summary"),
            ) else {
                continue;
            };
            let Some(at) = name.find("crates/") else {
                continue;
            };
            files.push(FileCoverage {
                path: name[at..].to_owned(),
                lines: count(summary, "lines"),
                branches: count(summary, "branches"),
            });
        }
    }
    Ok(files)
}

/// The crate a file belongs to (`crates/<name>/...`).
fn crate_of(path: &str) -> &str {
    path.split('/').nth(1).unwrap_or(path)
}

/// The report: one line per protocol crate, then the files that miss most lines.
fn render(files: &[FileCoverage], branches: bool, by: &str) -> String {
    let mut out = String::new();
    out.push_str(&format!("xtask: coverage of the protocol crates by {by}\n"));
    out.push_str(&format!(
        "  {:<16} {:>22} {:>22}\n",
        "crate", "lines", "branches"
    ));
    let mut all = (Count::default(), Count::default());
    for name in PROTOCOL_CRATES {
        let (mut lines, mut taken) = (Count::default(), Count::default());
        for file in files.iter().filter(|f| crate_of(&f.path) == name) {
            lines.add(file.lines);
            taken.add(file.branches);
        }
        all.0.add(lines);
        all.1.add(taken);
        out.push_str(&line(name, lines, taken, branches));
    }
    out.push_str(&line("all", all.0, all.1, branches));
    let mut worst: Vec<&FileCoverage> = files
        .iter()
        .filter(|f| PROTOCOL_CRATES.contains(&crate_of(&f.path)) && f.lines.missed() > 0)
        .collect();
    worst.sort_by_key(|f| std::cmp::Reverse(f.lines.missed()));
    out.push_str("xtask: the files with the most uncovered lines\n");
    for file in worst.iter().take(WORST_FILES) {
        out.push_str(&format!(
            "  {:>5} lines uncovered ({:5.1}% covered)  {}\n",
            file.lines.missed(),
            file.lines.percent(),
            file.path
        ));
    }
    out
}

fn line(name: &str, lines: Count, taken: Count, branches: bool) -> String {
    let figure = |c: Count| format!("{:>6.1}% ({:>5}/{:>5})", c.percent(), c.covered, c.total);
    let mark = if lines.percent() < LINE_TARGET {
        format!("  below {LINE_TARGET:.0}%")
    } else {
        String::new()
    };
    let branch_figure = if branches {
        figure(taken)
    } else {
        "(not measured)".to_owned()
    };
    format!(
        "  {name:<16} {:>22} {branch_figure:>22}{mark}\n",
        figure(lines)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUMMARY: &str = r#"{"data":[{"files":[
        {"filename":"/w/crates/wsd-frame/src/header.rs","summary":{
            "lines":{"count":100,"covered":95,"percent":95.0},
            "branches":{"count":10,"covered":5,"percent":50.0}}},
        {"filename":"/w/crates/wsd-frame/src/close.rs","summary":{
            "lines":{"count":100,"covered":85,"percent":85.0},
            "branches":{"count":0,"covered":0,"percent":0.0}}},
        {"filename":"/home/u/.cargo/registry/src/bytes/src/lib.rs","summary":{
            "lines":{"count":10,"covered":1,"percent":10.0}}}
    ],"totals":{}}],"type":"llvm.coverage.json.export","version":"2.0.1"}"#;

    #[test]
    fn files_outside_the_workspace_crates_are_left_out() {
        let files = read_summary(SUMMARY).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].path, "crates/wsd-frame/src/header.rs");
        assert_eq!(
            files[0].branches,
            Count {
                covered: 5,
                total: 10
            }
        );
    }

    #[test]
    fn crates_add_up_their_files_and_the_worst_file_comes_first() {
        let report = render(&read_summary(SUMMARY).unwrap(), true, "their tests");
        // 180 of 200 lines, 5 of 10 branches.
        assert!(
            report.contains("wsd-frame           90.0% (  180/  200)    50.0% (    5/   10)"),
            "{report}"
        );
        let close = report.find("crates/wsd-frame/src/close.rs").unwrap();
        let header = report.find("crates/wsd-frame/src/header.rs").unwrap();
        assert!(close < header, "{report}");
        // A crate with no files counts as covered, not as a division by zero.
        assert!(
            report.contains("wsd-core           100.0% (    0/    0)"),
            "{report}"
        );
    }

    #[test]
    fn a_crate_under_the_target_is_marked() {
        let low = [FileCoverage {
            path: "crates/wsd-core/src/lib.rs".into(),
            lines: Count {
                covered: 1,
                total: 2,
            },
            branches: Count::default(),
        }];
        let report = render(&low, false, "their tests");
        assert!(report.contains("(not measured)  below 90%"), "{report}");
    }
}
