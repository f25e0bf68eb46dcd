//! The `ci` steps for builds the test step never makes: every feature of every crate
//! on its own (cargo-hack), the declared minimum Rust version, the dependency policy
//! (cargo-deny, `deny.toml`), and the length arithmetic of the parsers on a 32-bit
//! target.
//!
//! The tools come from crates.io (`cargo install`) and the toolchain and target from
//! rustup when missing. A machine where rustup cannot download them skips that step
//! and says why, as `ci` does for the fuzz step without nightly; a check that runs
//! and fails stops `ci`.

use std::process::Command;

use crate::util::{cargo, ensure_cargo_tool, step, succeeds, toolchain_cargo, workspace_root};

/// The crates cargo-hack leaves out: they have no features and are built (with
/// their dev-dependencies) by the clippy and test steps.
const HACK_EXCLUDED: [&str; 3] = ["xtask", "wsd-tests", "wsd-bench"];

/// The 32-bit target, and the crates whose tests run on it: the ones that turn
/// 64-bit lengths from the wire into `usize`.
const TARGET_32: &str = "i686-unknown-linux-gnu";
const CRATES_32: [&str; 3] = ["wsd-frame", "wsd-handshake", "wsd-core"];

/// One of this module's steps.
pub(crate) type Step = fn() -> Result<Outcome, String>;

/// What a step that could not start says instead of failing.
pub(crate) enum Outcome {
    Ran,
    Skipped(String),
}

/// `cargo hack --each-feature --no-dev-deps check`: each crate with no features,
/// with each feature alone and with its defaults, as a user depending on it with
/// `default-features = false` would build it. Warnings are errors here as in
/// clippy.
pub(crate) fn features() -> Result<Outcome, String> {
    ensure_cargo_tool("cargo-hack", "hack")?;
    let mut hack = cargo();
    hack.args([
        "hack",
        "--each-feature",
        "--no-dev-deps",
        "check",
        "--workspace",
    ]);
    for name in HACK_EXCLUDED {
        hack.args(["--exclude", name]);
    }
    if std::env::var_os("RUSTFLAGS").is_none() {
        hack.env("RUSTFLAGS", "-D warnings");
    }
    step("features", hack)?;
    Ok(Outcome::Ran)
}

/// `cargo +<rust-version> check` of every published crate (libraries and the
/// `wsd` binary), with the toolchain `rust-version` names, installed by rustup if
/// missing. Tests and benchmarks are left out: their dev-dependencies make no
/// promise about old compilers, and users never build them.
pub(crate) fn msrv() -> Result<Outcome, String> {
    let version = rust_version()?;
    if !toolchain_present(&version) {
        let mut install = Command::new("rustup");
        install.args(["toolchain", "install", &version, "--profile", "minimal"]);
        if step(&format!("install Rust {version}"), install).is_err() {
            return Ok(Outcome::Skipped(format!(
                "rustup could not install Rust {version}"
            )));
        }
    }
    let mut check = toolchain_cargo(&version);
    check.args(["check", "--workspace", "--exclude", "wsd-tests"]);
    check.args(["--exclude", "wsd-bench"]);
    step(&format!("msrv (Rust {version})"), check)?;
    Ok(Outcome::Ran)
}

/// `cargo deny check licenses bans sources` against `deny.toml`. The advisories
/// check needs the RustSec database, a git repository fetched at check time, so it
/// runs only when asked for (`WSD_DENY_ADVISORIES=1`) on a machine with that access.
pub(crate) fn deny() -> Result<Outcome, String> {
    ensure_cargo_tool("cargo-deny", "deny")?;
    let mut deny = cargo();
    deny.args(["deny", "check"]);
    if std::env::var_os("WSD_DENY_ADVISORIES").is_none() {
        deny.args(["licenses", "bans", "sources"]);
    }
    step("deny", deny)?;
    Ok(Outcome::Ran)
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
/// know it.
pub(crate) const ALL: [(&str, Step); 4] = [
    ("deny", deny),
    ("features", features),
    ("msrv", msrv),
    ("test-32", tests_32_bit),
];

/// `cargo xtask builds`: every build check, each skipped (with why) where its
/// toolchain or target cannot be installed.
pub(crate) fn run_all() -> Result<(), String> {
    for (name, run) in ALL {
        if let Outcome::Skipped(why) = run()? {
            println!("xtask: step {name}: skipped ({why})");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_rust_version;

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
