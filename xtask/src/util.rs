//! Small helpers shared by the tasks: running commands and locating the workspace.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

/// The workspace root (the parent of the `xtask` directory).
pub(crate) fn workspace_root() -> PathBuf {
    let manifest_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest_dir
        .parent()
        .map(PathBuf::from)
        .unwrap_or(manifest_dir)
}

/// Cargo's target directory: `CARGO_TARGET_DIR` when set (a relative one read against
/// the workspace root, where [`cargo`] runs cargo), else `<workspace>/target`.
pub(crate) fn target_dir() -> PathBuf {
    let root = workspace_root();
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |dir| root.join(dir))
}

/// `cargo` as the caller invoked it (respects `$CARGO`).
pub(crate) fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(workspace_root());
    command
}

/// `cargo +<toolchain>` through rustup, whatever toolchain runs this task: `$CARGO`
/// names that toolchain's cargo itself, which does not understand `+toolchain`, and
/// the variables rustup and cargo set for this process would pin the toolchain.
pub(crate) fn toolchain_cargo(toolchain: &str) -> Command {
    let mut command = Command::new("cargo");
    command
        .arg(format!("+{toolchain}"))
        .current_dir(workspace_root())
        .env_remove("RUSTUP_TOOLCHAIN")
        .env_remove("CARGO")
        .env_remove("RUSTC")
        .env_remove("RUSTDOC");
    command
}

/// True when `command` runs and succeeds; its output is discarded.
pub(crate) fn succeeds(command: &mut Command) -> bool {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

/// Installs the cargo subcommand `package` from crates.io unless `cargo
/// <subcommand> --version` already runs.
pub(crate) fn ensure_cargo_tool(package: &str, subcommand: &str) -> Result<(), String> {
    if succeeds(Command::new("cargo").args([subcommand, "--version"])) {
        return Ok(());
    }
    let mut install = Command::new("cargo");
    install
        .args(["install", package, "--locked"])
        .env_remove("RUSTUP_TOOLCHAIN");
    step(&format!("install {package}"), install)
}

/// Runs one CI step, printing a one-line summary; `Err` names the failed step.
pub(crate) fn step(name: &str, mut command: Command) -> Result<(), String> {
    let started = Instant::now();
    eprintln!("xtask: {name}: running {}", describe(&command));
    let status = command
        .stdin(Stdio::null())
        .status()
        .map_err(|e| format!("{name}: could not start {}: {e}", describe(&command)))?;
    let seconds = started.elapsed().as_secs_f64();
    if status.success() {
        println!("xtask: step {name}: ok ({seconds:.1}s)");
        Ok(())
    } else {
        println!("xtask: step {name}: FAILED ({seconds:.1}s, {status})");
        Err(format!("step `{name}` failed"))
    }
}

/// Runs a command, streaming its stdout through while keeping a copy of it.
pub(crate) fn step_capturing(name: &str, command: Command) -> Result<String, String> {
    step_filtered(name, command, |line| Some(line))
}

/// Runs a command, keeping a copy of its stdout and showing of each line what `show`
/// picks out of it (nothing for `None`).
pub(crate) fn step_filtered(
    name: &str,
    mut command: Command,
    show: impl Fn(&str) -> Option<&str>,
) -> Result<String, String> {
    use std::io::{BufRead, BufReader, Write};
    let started = Instant::now();
    eprintln!("xtask: {name}: running {}", describe(&command));
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("{name}: could not start {}: {e}", describe(&command)))?;
    let mut captured = String::new();
    if let Some(stdout) = child.stdout.take() {
        let mut out = std::io::stdout().lock();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(shown) = show(&line) {
                let _ = writeln!(out, "{shown}");
            }
            captured.push_str(&line);
            captured.push('\n');
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("{name}: waiting for the command failed: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    if status.success() {
        println!("xtask: step {name}: ok ({seconds:.1}s)");
        Ok(captured)
    } else {
        println!("xtask: step {name}: FAILED ({seconds:.1}s, {status})");
        Err(format!("step `{name}` failed"))
    }
}

fn describe(command: &Command) -> String {
    let mut text = command.get_program().to_string_lossy().into_owned();
    for arg in command.get_args() {
        text.push(' ');
        text.push_str(&arg.to_string_lossy());
    }
    text
}
