//! What the tests need from outside cargo: system programs, named up front when
//! missing, and the peers of `tests/interop` (a Python venv, node packages),
//! installed when missing or stale.
//!
//! `.ci/run` installs the same things on a fresh CI machine and keeps the same lock
//! file copies (`.venv/wsd-requirements.txt`,
//! `tests/interop/node_modules/.wsd-package-lock.json`), so whichever of the two runs
//! first, the other finds the installation current and leaves it alone.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::step;

/// A program a CI step runs, why, and the Debian package that has it.
pub(crate) struct Program {
    pub(crate) name: &'static str,
    pub(crate) why: &'static str,
    pub(crate) package: &'static str,
}

/// What `cargo test --workspace` runs besides cargo's own output. Python is checked
/// apart (see [`missing_python`]), and chromedriver is not needed: the browser test
/// drives Chromium through playwright-core.
pub(crate) const TEST_PROGRAMS: [Program; 6] = [
    Program {
        name: "node",
        why: "the node interop peers and the browser test",
        package: "nodejs",
    },
    Program {
        name: "npm",
        why: "installs tests/interop's node packages",
        package: "npm",
    },
    Program {
        name: "chromium",
        why: "the browser test of the demo page; CHROMIUM=<path> does too",
        package: "chromium",
    },
    Program {
        name: "tinyproxy",
        why: "the HTTP CONNECT proxy tests",
        package: "tinyproxy",
    },
    Program {
        name: "redis-server",
        why: "the wsd serve --redis fan-out tests",
        package: "redis-server",
    },
    Program {
        name: "microsocks",
        why: "the SOCKS5 proxy tests",
        package: "microsocks",
    },
];

/// Python, for the venv of the interop peers and of the Autobahn harness (kosoku).
const PYTHON: Program = Program {
    name: "python3",
    why: "with its venv module: the venv of kosoku and websockets",
    package: "python3-venv",
};

/// Whether `name` is an executable file in a directory of `PATH`.
fn on_path(name: &str) -> bool {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .any(|dir| dir.join(name).is_file())
}

/// The programs of `programs` that are not installed. Chromium counts as installed
/// when `CHROMIUM` names a file, as the browser test allows.
pub(crate) fn missing(programs: &[Program]) -> Vec<&Program> {
    programs
        .iter()
        .filter(|program| {
            let chosen = (program.name == "chromium")
                .then(|| std::env::var_os("CHROMIUM"))
                .flatten()
                .is_some_and(|path| Path::new(&path).is_file());
            !chosen && !on_path(program.name)
        })
        .collect()
}

/// Python, if it is needed (no venv yet) and cannot make one: no `python3`, or one
/// without its `venv` module (Debian ships that apart, in python3-venv).
pub(crate) fn missing_python(root: &Path) -> Option<&'static Program> {
    if venv_python(root).exists() {
        return None;
    }
    let usable = Command::new("python3")
        .args(["-c", "import ensurepip, venv"])
        .output()
        .is_ok_and(|output| output.status.success());
    (!usable).then_some(&PYTHON)
}

/// One message naming every missing program, what it is for and how to get it;
/// `None` when nothing is missing.
pub(crate) fn missing_message(missing: &[&Program]) -> Option<String> {
    if missing.is_empty() {
        return None;
    }
    let names: Vec<String> = missing
        .iter()
        .map(|program| format!("{} ({})", program.name, program.why))
        .collect();
    let packages: Vec<&str> = missing.iter().map(|program| program.package).collect();
    Some(format!(
        "missing programs: {}. Install them (Debian: `apt-get install {}`, as `bash .ci/run` \
         does), or leave out the steps of `cargo xtask ci` that need them: `--skip test --skip \
         autobahn --skip autobahn-deflate`",
        names.join(", "),
        packages.join(" ")
    ))
}

fn venv_python(root: &Path) -> PathBuf {
    root.join(".venv").join("bin").join("python")
}

/// Makes `<root>/.venv` with the pinned `tests/interop/requirements.txt` installed,
/// and returns its `bin` directory. A copy of the requirements kept in the venv
/// tells whether they changed since the last install.
pub(crate) fn ensure_venv(root: &Path) -> Result<PathBuf, String> {
    let venv = root.join(".venv");
    let bin = venv.join("bin");
    let requirements = root.join("tests").join("interop").join("requirements.txt");
    let stamp = venv.join("wsd-requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .map_err(|e| format!("setup: cannot read {}: {e}", requirements.display()))?;
    if !venv_python(root).exists() {
        let mut create = Command::new("python3");
        create.args(["-m", "venv"]).arg(&venv);
        step("setup venv", create)?;
    }
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(wanted.as_str()) {
        let mut install = Command::new(venv_python(root));
        install
            .args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                "-r",
            ])
            .arg(&requirements);
        step("setup pip install", install)?;
        std::fs::write(&stamp, &wanted)
            .map_err(|e| format!("setup: cannot write {}: {e}", stamp.display()))?;
    }
    Ok(bin)
}

/// Runs `npm ci` in `tests/interop` unless the copy of `package-lock.json` kept in
/// `node_modules` says the installed packages are the locked ones.
pub(crate) fn ensure_node_modules(root: &Path) -> Result<(), String> {
    let interop = root.join("tests").join("interop");
    let lock = interop.join("package-lock.json");
    let stamp = interop.join("node_modules").join(".wsd-package-lock.json");
    let wanted =
        std::fs::read(&lock).map_err(|e| format!("setup: cannot read {}: {e}", lock.display()))?;
    if std::fs::read(&stamp).ok().as_deref() == Some(wanted.as_slice()) {
        return Ok(());
    }
    let mut install = Command::new("npm");
    install
        .args(["ci", "--silent", "--no-audit", "--no-fund"])
        .current_dir(&interop);
    step("setup npm ci", install)?;
    std::fs::write(&stamp, &wanted)
        .map_err(|e| format!("setup: cannot write {}: {e}", stamp.display()))
}

/// `cargo xtask setup`: names what is missing, then installs the peers of
/// `tests/interop`, as `cargo xtask ci` does before its test step.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if let Some(arg) = args.first() {
        return Err(format!(
            "setup: unknown argument `{arg}` (the task takes none)"
        ));
    }
    let root = crate::util::workspace_root();
    let mut lacking = missing(&TEST_PROGRAMS);
    lacking.extend(missing_python(&root));
    if let Some(message) = missing_message(&lacking) {
        return Err(format!("setup: {message}"));
    }
    ensure_venv(&root)?;
    ensure_node_modules(&root)?;
    println!("xtask: setup: .venv and tests/interop/node_modules are current");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{Program, missing, missing_message};

    const SHELL: Program = Program {
        name: "sh",
        why: "everything",
        package: "dash",
    };
    const ABSENT: Program = Program {
        name: "wsd-xtask-no-such-program",
        why: "nothing",
        package: "wsd-absent",
    };

    #[test]
    fn only_programs_not_on_path_are_missing() {
        let programs = [SHELL, ABSENT];
        let lacking: Vec<&str> = missing(&programs).iter().map(|p| p.name).collect();
        assert_eq!(lacking, ["wsd-xtask-no-such-program"]);
    }

    #[test]
    fn one_message_names_every_missing_program_and_its_package() {
        assert_eq!(missing_message(&[]), None);
        let message = missing_message(&[&SHELL, &ABSENT]).unwrap();
        assert!(
            message.starts_with(
                "missing programs: sh (everything), wsd-xtask-no-such-program (nothing)."
            ),
            "{message}"
        );
        assert!(
            message.contains("`apt-get install dash wsd-absent`"),
            "{message}"
        );
        assert!(message.ends_with("--skip autobahn-deflate`"), "{message}");
    }
}
