//! The `ci` steps for builds the test step never makes: every feature of every crate
//! on its own (cargo-hack), the declared minimum Rust version, the dependency policy
//! (cargo-deny, `deny.toml`), and the length arithmetic of the parsers on a 32-bit
//! target.
//!
//! The tools come from crates.io (`cargo install`; `.ci/run` installs them for CI)
//! and the toolchain and target from rustup when missing. A machine where rustup
//! cannot download the `rust-version` toolchain checks the minimum version with
//! clippy's `incompatible_msrv` lint instead (see [`msrv`]); one that cannot add the
//! 32-bit target skips that step and says why, as `ci` does for the fuzz step
//! without nightly. A check that runs and fails stops `ci`.

use std::process::Command;

use crate::util::{cargo, ensure_cargo_tool, step, succeeds, toolchain_cargo, workspace_root};

/// The crates cargo-hack leaves out: they have no features and are built (with
/// their dev-dependencies) by the clippy and test steps.
const HACK_EXCLUDED: [&str; 3] = ["xtask", "wsd-tests", "wsd-bench"];

/// The 32-bit target, and the crates whose tests run on it: the ones that turn
/// 64-bit lengths from the wire into `usize` (Hixie-76's length header too, so
/// `wsd-core` with its `drafts` feature).
const TARGET_32: &str = "i686-unknown-linux-gnu";
const CRATES_32: [&str; 4] = ["wsd-frame", "wsd-hixie", "wsd-handshake", "wsd-core"];
const FEATURES_32: &str = "wsd-core/drafts";

/// One of this module's steps.
pub(crate) type Step = fn() -> Result<Outcome, String>;

/// What a step that could not start says instead of failing.
pub(crate) enum Outcome {
    Ran,
    Skipped(String),
}

/// `cargo hack --each-feature --no-dev-deps clippy`: each crate with no features,
/// with each feature alone and with its defaults, as a user depending on it with
/// `default-features = false` would build it. Warnings are errors, as in the clippy
/// step; they are passed to clippy rather than set in `RUSTFLAGS`, which would
/// make cargo rebuild every dependency the clippy and test steps already built.
pub(crate) fn features() -> Result<Outcome, String> {
    ensure_cargo_tool("cargo-hack", "hack")?;
    let mut hack = cargo();
    hack.args(["hack", "--each-feature", "--no-dev-deps", "clippy"]);
    hack.arg("--workspace");
    for name in HACK_EXCLUDED {
        hack.args(["--exclude", name]);
    }
    hack.args(["--", "-D", "warnings"]);
    step("features", hack)?;
    Ok(Outcome::Ran)
}

/// `cargo +<rust-version> check` of every published crate (libraries and the
/// `wsd` binary), with the toolchain `rust-version` names, installed by rustup if
/// missing. Tests and benchmarks are left out: their dev-dependencies make no
/// promise about old compilers, and users never build them.
///
/// Where rustup cannot install that toolchain, [`msrv_lint`] checks what can be
/// checked without it.
pub(crate) fn msrv() -> Result<Outcome, String> {
    let version = rust_version()?;
    if !toolchain_present(&version) {
        let mut install = Command::new("rustup");
        install.args(["toolchain", "install", &version, "--profile", "minimal"]);
        if step(&format!("install Rust {version}"), install).is_err() {
            println!(
                "xtask: rustup could not install Rust {version}; \
                 checking the standard library APIs the crates use instead"
            );
            return msrv_lint();
        }
    }
    let mut check = toolchain_cargo(&version);
    check.args(["check", "--workspace"]);
    for name in MSRV_EXCLUDED {
        check.args(["--exclude", name]);
    }
    step(&format!("msrv (Rust {version})"), check)?;
    Ok(Outcome::Ran)
}

/// The crates `msrv` leaves out: never published, built only by this workspace's
/// own toolchain.
const MSRV_EXCLUDED: [&str; 2] = ["wsd-tests", "wsd-bench"];

/// The minimum-version check that needs no old toolchain: clippy's
/// `incompatible_msrv` lint, alone, on every crate and target of the workspace
/// (the selection of `ci`'s clippy step, so only the workspace's own crates are
/// checked again). Clippy reads `rust-version` from each manifest and flags every
/// use of a standard library item that became stable after it (by the
/// `#[stable(since)]` of the current toolchain's library). The lint is on by
/// default, so the clippy step already denies it among all warnings; this step
/// runs it alone, so its verdict is the minimum version's.
///
/// It proves less than building with the old compiler: language features newer
/// than `rust-version` (a syntax or a lint rule that changed), Cargo features of
/// the manifests, and dependencies that need a newer compiler all go unnoticed;
/// only the old toolchain's `cargo check` catches those.
pub(crate) fn msrv_lint() -> Result<Outcome, String> {
    let version = rust_version()?;
    let mut clippy = cargo();
    clippy.args(["clippy", "--workspace", "--all-targets", "--"]);
    clippy.args(["-A", "clippy::all", "-D", "clippy::incompatible_msrv"]);
    step(
        &format!("msrv-lint (standard library items newer than Rust {version})"),
        clippy,
    )?;
    Ok(Outcome::Ran)
}

/// `cargo deny check licenses bans sources` against `deny.toml`. The advisories
/// check needs the RustSec database, a git repository fetched at check time, so it
/// runs only when asked for (`WSD_DENY_ADVISORIES=1`) on a machine with that access.
///
/// cargo-deny needs 0.14.12 or later: older releases cannot read `deny.toml`'s
/// `[graph]` table, and their licence list predates `Unicode-3.0`.
pub(crate) fn deny() -> Result<Outcome, String> {
    if !succeeds(cargo().args(["deny", "--version"])) {
        install_cargo_deny()?;
    }
    let mut deny = cargo();
    deny.args(["deny", "check"]);
    if std::env::var_os("WSD_DENY_ADVISORIES").is_none() {
        deny.args(["licenses", "bans", "sources"]);
    }
    step("deny", deny)?;
    Ok(Outcome::Ran)
}

/// `cargo install cargo-deny` without the release profile cargo-deny ships (fat LTO,
/// one codegen unit), which takes several times as long to build for a tool that
/// runs for seconds.
fn install_cargo_deny() -> Result<(), String> {
    let mut install = Command::new("cargo");
    install
        .args(["install", "cargo-deny", "--locked"])
        .env_remove("RUSTUP_TOOLCHAIN")
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16");
    step("install cargo-deny", install)
}

/// The tests of [`CRATES_32`] on [`TARGET_32`], where `usize` is 32 bits wide: a
/// 64-bit frame length or a header size that does not fit must be refused there,
/// not truncated. Needs the target's standard library (rustup) and a C toolchain
/// that links 32-bit programs (Debian's gcc-multilib).
pub(crate) fn tests_32_bit() -> Result<Outcome, String> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains(TARGET_32));
    if !installed {
        let mut add = Command::new("rustup");
        add.args(["target", "add", TARGET_32]);
        if step(&format!("add target {TARGET_32}"), add).is_err() {
            return Ok(Outcome::Skipped(format!(
                "rustup could not add the {TARGET_32} target"
            )));
        }
    }
    if !links_32_bit() {
        return Ok(Outcome::Skipped(
            "cc cannot link 32-bit programs (install gcc-multilib)".into(),
        ));
    }
    let mut test = cargo();
    test.args(["test", "--target", TARGET_32]);
    for name in CRATES_32 {
        test.args(["-p", name]);
    }
    test.args(["--features", FEATURES_32]);
    step("test 32-bit", test)?;
    Ok(Outcome::Ran)
}

/// The `rust-version` of `[workspace.package]` in the root `Cargo.toml`.
fn rust_version() -> Result<String, String> {
    let path = workspace_root().join("Cargo.toml");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("msrv: cannot read {}: {e}", path.display()))?;
    parse_rust_version(&text).ok_or_else(|| "msrv: no rust-version in Cargo.toml".into())
}

fn parse_rust_version(manifest: &str) -> Option<String> {
    let mut in_package = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_package = line == "[workspace.package]";
            continue;
        }
        if !in_package {
            continue;
        }
        // `rust-version = "1.85"`, not `rust-version.workspace = true`.
        let Some(value) = line
            .strip_prefix("rust-version")
            .and_then(|rest| rest.trim_start().strip_prefix('='))
        else {
            continue;
        };
        return Some(value.trim().trim_matches('"').to_owned());
    }
    None
}

fn toolchain_present(toolchain: &str) -> bool {
    succeeds(toolchain_cargo(toolchain).arg("--version"))
}

/// Whether `cc -m32` links a program: the 32-bit C runtime is a separate package.
fn links_32_bit() -> bool {
    let dir = crate::util::target_dir().join("xtask-m32");
    if std::fs::create_dir_all(&dir).is_err() {
        return false;
    }
    let source = dir.join("probe.c");
    if std::fs::write(&source, "int main(void) { return 0; }\n").is_err() {
        return false;
    }
    succeeds(
        Command::new("cc")
            .arg("-m32")
            .arg(&source)
            .arg("-o")
            .arg(dir.join("probe")),
    )
}

/// Every build check, by the name `cargo xtask ci --skip` and `cargo xtask builds`
/// know it. `msrv` falls back to `msrv-lint` where its toolchain cannot be
/// installed.
pub(crate) const ALL: [(&str, Step); 5] = [
    ("deny", deny),
    ("features", features),
    ("msrv", msrv),
    ("msrv-lint", msrv_lint),
    ("test-32", tests_32_bit),
];

/// The build check called `name` in [`ALL`].
pub(crate) fn named(name: &str) -> Option<Step> {
    ALL.iter()
        .find(|(step, _)| *step == name)
        .map(|(_, run)| *run)
}

/// `cargo xtask builds`: every build check but `msrv-lint` (which `msrv` runs
/// where it must), each skipped (with why) where its toolchain or target cannot be
/// installed; `cargo xtask builds STEP...` runs the ones named.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let names: Vec<&str> = if args.is_empty() {
        ALL.iter()
            .map(|(name, _)| *name)
            .filter(|name| *name != "msrv-lint")
            .collect()
    } else {
        args.iter().map(String::as_str).collect()
    };
    for name in names {
        let run = named(name).ok_or_else(|| {
            let known: Vec<&str> = ALL.iter().map(|(name, _)| *name).collect();
            format!("builds: no step `{name}` (the steps: {})", known.join(", "))
        })?;
        if let Outcome::Skipped(why) = run()? {
            println!("xtask: step {name}: skipped ({why})");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{ALL, named, parse_rust_version};

    #[test]
    fn every_step_is_found_by_its_name_and_an_unknown_one_is_refused() {
        for (name, _) in ALL {
            assert!(named(name).is_some(), "{name}");
        }
        assert!(named("msrv-lint").is_some());
        assert!(named("nope").is_none());
        let error = super::run(&["nope".to_string()]).unwrap_err();
        assert!(error.contains("no step `nope`"), "{error}");
        assert!(
            error.contains("deny, features, msrv, msrv-lint, test-32"),
            "{error}"
        );
    }

    #[test]
    fn the_rust_version_is_read_from_the_workspace_package_table() {
        let manifest = "[package]\nrust-version = \"1.70\"\n\n[workspace.package]\n\
                        rust-version.workspace = true\nrust-version = \"1.85\"\n";
        assert_eq!(parse_rust_version(manifest).as_deref(), Some("1.85"));
        assert_eq!(parse_rust_version("[workspace]\nmembers = []\n"), None);
    }

    #[test]
    fn the_workspace_declares_one() {
        assert!(super::rust_version().is_ok());
    }
}
