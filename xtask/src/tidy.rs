//! Tidy tests, run by `cargo test`: rules about the tree that review alone would let
//! slip. Every Rust file opens with a `//!` saying what it is for, and no protocol
//! crate depends on an async runtime, a socket or a clock, in its dependencies or in
//! its own code.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use crate::json::{self, Json};
use crate::util::{cargo, workspace_root};

/// The sans-I/O crates: bytes, time and commands in; bytes, deadlines and events out.
const PROTOCOL_CRATES: &[&str] = &[
    "wsd-frame",
    "wsd-hixie",
    "wsd-handshake",
    "wsd-extensions",
    "wsd-deflate",
    "wsd-core",
];

/// Crates that run tasks, open sockets or read a clock, and the crates of the I/O
/// layer above the protocol: none may be among a protocol crate's dependencies, direct
/// or not.
const DENIED_DEPENDENCIES: &[&str] = &[
    // Async runtimes and executors.
    "tokio",
    "tokio-util",
    "async-std",
    "smol",
    "async-io",
    "async-executor",
    "async-global-executor",
    "futures-executor",
    "glommio",
    "monoio",
    // Sockets and readiness.
    "mio",
    "socket2",
    "polling",
    "async-net",
    // HTTP stacks that do their own I/O.
    "hyper",
    "hyper-util",
    "reqwest",
    // Clocks and timers.
    "chrono",
    "futures-timer",
    "quanta",
    "coarsetime",
    // wsd's own I/O layer.
    "wsd-io",
    "wsd-tokio",
    "wsd-async-std",
    "wsd-smol",
];

/// Code that does I/O, reads the clock or spawns: none of it may appear outside the
/// tests of a protocol crate's `src/`. (`core::net` holds only address types.)
const DENIED_CODE: &[&str] = &[
    "std::net",
    "Instant::now",
    "SystemTime::now",
    "thread::sleep",
    "thread::spawn",
    "std::fs",
    "std::process",
];

/// The directories whose Rust files the `//!` rule covers.
const SOURCE_ROOTS: &[&str] = &["crates", "tests", "benches", "xtask", "fuzz"];

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let root = workspace_root();
    let mut files = Vec::new();
    for dir in SOURCE_ROOTS {
        rust_files(&root.join(dir), &mut files);
    }
    assert!(files.len() > 100, "found only {} files", files.len());
    let undocumented: Vec<String> = files
        .iter()
        .filter(|file| {
            let text = std::fs::read_to_string(file).unwrap_or_default();
            !text.starts_with("//!")
        })
        .map(|file| shown(&root, file))
        .collect();
    assert!(
        undocumented.is_empty(),
        "these files do not open with a `//!` line saying what they are for:\n  {}",
        undocumented.join("\n  ")
    );
}

#[test]
fn no_protocol_crate_depends_on_a_runtime_a_socket_or_a_clock() {
    let output = cargo()
        .args(["metadata", "--format-version", "1", "--all-features"])
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata = json::parse(&String::from_utf8_lossy(&output.stdout)).expect("metadata parses");
    let graph = Graph::from_metadata(&metadata);
    let core = graph
        .id_of("wsd-core")
        .expect("wsd-core is in the workspace");
    assert!(
        graph.normal_closure(core).contains("wsd-frame"),
        "the dependency graph was not read"
    );
    let mut found = Vec::new();
    for name in PROTOCOL_CRATES {
        let id = graph
            .id_of(name)
            .unwrap_or_else(|| panic!("{name} is not in the workspace"));
        for dependency in graph.normal_closure(id) {
            if DENIED_DEPENDENCIES.contains(&dependency) {
                found.push(format!("{name} -> {dependency}"));
            }
        }
    }
    assert!(
        found.is_empty(),
        "protocol crates must stay sans-I/O, but depend (directly or not) on:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn no_protocol_crate_does_io_reads_the_clock_or_spawns() {
    let root = workspace_root();
    let mut found = Vec::new();
    for name in PROTOCOL_CRATES {
        let mut files = Vec::new();
        rust_files(&root.join("crates").join(name).join("src"), &mut files);
        assert!(!files.is_empty(), "{name} has no sources");
        for file in files {
            // A module of tests (`tests.rs`) may time itself.
            if file.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&file).unwrap_or_default();
            for (line_number, line) in code_lines(&text) {
                for denied in DENIED_CODE.iter().filter(|denied| line.contains(*denied)) {
                    found.push(format!("{}:{line_number}: {denied}", shown(&root, &file)));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "protocol crates do no I/O, read no clock and spawn nothing:\n  {}",
        found.join("\n  ")
    );
}

#[test]
fn code_lines_leave_out_comments_and_inline_test_modules() {
    let text = "//! Doc: std::net\nuse core::net::Ipv6Addr;\n    // std::fs\nfn f() {}\n\
                #[cfg(test)]\nmod tests {\n    fn t() { std::time::Instant::now(); }\n}\n\
                fn g() { std::thread::sleep(d) }\n";
    let kept: Vec<(usize, &str)> = code_lines(text).collect();
    assert_eq!(
        kept,
        [
            (2, "use core::net::Ipv6Addr;"),
            (4, "fn f() {}"),
            (9, "fn g() { std::thread::sleep(d) }")
        ]
    );
}

/// The lines of `text` that are code outside inline test modules, numbered from 1:
/// comment lines are left out, and so is a `#[cfg(test)] mod … {` block up to its
/// closing brace at the start of a line (as rustfmt writes it).
fn code_lines(text: &str) -> impl Iterator<Item = (usize, &str)> {
    let mut lines = text.lines().enumerate().peekable();
    std::iter::from_fn(move || {
        loop {
            let (index, line) = lines.next()?;
            let trimmed = line.trim_start();
            if trimmed.starts_with("//") {
                continue;
            }
            let test_module = line == "#[cfg(test)]"
                && lines
                    .peek()
                    .is_some_and(|(_, next)| next.starts_with("mod ") && next.ends_with('{'));
            if test_module {
                for (_, inner) in lines.by_ref() {
                    if inner == "}" {
                        break;
                    }
                }
                continue;
            }
            return Some((index + 1, line));
        }
    })
}

/// Appends the `.rs` files under `dir` to `files`, leaving out build output
/// (`target`), installed packages (`node_modules`) and hidden directories.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if path.is_dir() {
            if !(name == "target" || name == "node_modules" || name.starts_with('.')) {
                rust_files(&path, files);
            }
        } else if name.ends_with(".rs") {
            files.push(path);
        }
    }
}

fn shown(root: &Path, file: &Path) -> String {
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

/// The resolved dependency graph from `cargo metadata`: package names by id, and the
/// normal (not dev, not build) dependencies of each package.
struct Graph<'a> {
    names: HashMap<&'a str, &'a str>,
    normal: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> Graph<'a> {
    fn from_metadata(metadata: &'a Json) -> Self {
        let array = |value: Option<&'a Json>| match value {
            Some(Json::Array(items)) => items.as_slice(),
            _ => &[],
        };
        let text = |value: &'a Json, key: &str| value.get(key).and_then(Json::as_str);
        let names = array(metadata.get("packages"))
            .iter()
            .filter_map(|package| Some((text(package, "id")?, text(package, "name")?)))
            .collect();
        let nodes = array(metadata.get("resolve").and_then(|r| r.get("nodes")));
        let normal = nodes
            .iter()
            .filter_map(|node| {
                let deps = array(node.get("deps"))
                    .iter()
                    .filter(|dep| {
                        // A normal dependency's kind is null; dev and build ones are named.
                        array(dep.get("dep_kinds"))
                            .iter()
                            .any(|kind| kind.get("kind") == Some(&Json::Null))
                    })
                    .filter_map(|dep| text(dep, "pkg"))
                    .collect();
                Some((text(node, "id")?, deps))
            })
            .collect();
        Self { names, normal }
    }

    /// The id of the package called `name`.
    fn id_of(&self, name: &str) -> Option<&'a str> {
        self.names
            .iter()
            .find(|(_, n)| **n == name)
            .map(|(id, _)| *id)
    }

    /// The names of every package `id` depends on through normal dependencies.
    fn normal_closure(&self, id: &'a str) -> BTreeSet<&'a str> {
        let mut seen = BTreeSet::new();
        let mut stack = vec![id];
        while let Some(next) = stack.pop() {
            for dep in self.normal.get(next).into_iter().flatten() {
                if seen.insert(*dep) {
                    stack.push(dep);
                }
            }
        }
        seen.iter()
            .filter_map(|dep| self.names.get(dep).copied())
            .collect()
    }
}
