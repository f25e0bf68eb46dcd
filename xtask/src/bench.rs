//! `cargo xtask bench`: wsd's echo server side by side with the fastest Rust peers.
//!
//! Builds (release) `wsd`, the load generator `wsd-load` (crate `benches`) and the
//! peer echo servers in `benches/peers/` (outside the workspace, so CI never compiles
//! them), then for 3 rounds, each server in turn (the order rotates every round so
//! background load spreads evenly), starts the server pinned to CPU 0 and runs every
//! workload with `wsd-load` pinned to CPU 1. Medians of the rounds go to a table,
//! printed and written to `benches/REPORT.md`, with the ratio wsd-tokio / best peer.
//! Then, per server, the RSS growth per idle connection over 5,000 open connections,
//! and the allocations-per-message bench (`benches/benches/alloc.rs`).
//!
//! The machine is shared: absolute numbers drift, compare within one run.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use crate::process::{stop, vm_rss_kib, wait_listening};
use crate::util::{cargo, step, step_capturing, target_dir, workspace_root};

const USAGE: &str = "usage: cargo xtask bench [--seconds N] [--quick]\n\n  \
    --seconds N  measured seconds per workload and round (default 5, after 1 s warm-up)\n  \
    --quick      a smoke run: 1 round of 1 s, 500 idle connections, no REPORT.md";

/// `(connections, payload bytes)` of each workload; each runs pipelined and single.
const WORKLOADS: [(usize, usize); 4] = [(64, 16), (64, 1024), (8, 64 << 10), (2, 1 << 20)];
const MODES: [&str; 2] = ["pipelined", "single"];
/// The column the ratio is about.
const OURS: &str = "wsd-tokio";

struct Server {
    name: &'static str,
    /// Binary name in the release directory, then arguments; `{port}` is substituted.
    bin: &'static str,
    args: &'static [&'static str],
    peer: bool,
}

const SERVERS: [Server; 6] = [
    Server {
        name: "wsd-tokio",
        bin: "wsd",
        args: &["serve", "--addr", "127.0.0.1:{port}", "--runtime", "tokio"],
        peer: false,
    },
    Server {
        name: "wsd-async-std",
        bin: "wsd",
        args: &[
            "serve",
            "--addr",
            "127.0.0.1:{port}",
            "--runtime",
            "async-std",
        ],
        peer: false,
    },
    Server {
        name: "wsd-smol",
        bin: "wsd",
        args: &["serve", "--addr", "127.0.0.1:{port}", "--runtime", "smol"],
        peer: false,
    },
    Server {
        name: "tungstenite",
        bin: "peer-tungstenite",
        args: &["{port}"],
        peer: true,
    },
    Server {
        name: "fastwebsockets",
        bin: "peer-fastwebsockets",
        args: &["{port}"],
        peer: true,
    },
    Server {
        name: "tokio-websockets",
        bin: "peer-tokio-websockets",
        args: &["{port}"],
        peer: true,
    },
];

struct Settings {
    seconds: f64,
    warmup: f64,
    rounds: usize,
    idle: usize,
    write_report: bool,
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut settings = Settings {
        seconds: 5.0,
        warmup: 1.0,
        rounds: 3,
        idle: 5000,
        write_report: true,
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => {
                settings.seconds = it
                    .next()
                    .and_then(|s| s.parse().ok())
                    .ok_or("--seconds needs a number")?;
            }
            "--quick" => {
                settings.seconds = 1.0;
                settings.warmup = 0.5;
                settings.rounds = 1;
                settings.idle = 500;
                settings.write_report = false;
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("bench: unknown argument `{other}`\n{USAGE}")),
        }
    }
    let release = build()?;
    let started = Instant::now();

    // results[server][workload * 2 + mode] = one sample per round.
    let cases = WORKLOADS.len() * MODES.len();
    let mut results = vec![vec![Vec::new(); cases]; SERVERS.len()];
    for round in 0..settings.rounds {
        for k in 0..SERVERS.len() {
            let s = (k + round) % SERVERS.len();
            let server = &SERVERS[s];
            let port = 19_300 + s as u16;
            let mut child = start_server(&release, server, port)?;
            for (w, &(conns, size)) in WORKLOADS.iter().enumerate() {
                for (m, mode) in MODES.iter().enumerate() {
                    let rate = load(&release, port, conns, size, mode, &settings);
                    let shown = rate
                        .as_ref()
                        .map_or_else(|e| e.clone(), |r| format!("{r:.0} msgs/s"));
                    eprintln!(
                        "xtask: bench: round {} {:<16} {conns:>2} x {:>7} B {mode:<9} {shown}",
                        round + 1,
                        server.name,
                        size
                    );
                    results[s][w * MODES.len() + m].push(rate.unwrap_or(0.0));
                }
            }
            stop(&mut child);
        }
    }

    let mut memory = Vec::new();
    for (s, server) in SERVERS.iter().enumerate() {
        let port = 19_400 + s as u16;
        let per_conn = idle_memory(&release, server, port, settings.idle);
        let shown = per_conn
            .as_ref()
            .map_or_else(|e| e.clone(), |k| format!("{k:.1} KiB"));
        eprintln!("xtask: bench: memory {:<16} {shown}", server.name);
        memory.push(per_conn.ok());
    }

    let allocations = step_capturing("alloc bench", {
        let mut c = cargo();
        c.args(["bench", "-p", "wsd-bench", "--bench", "alloc"]);
        c
    })
    .unwrap_or_else(|e| format!("(alloc bench failed: {e})\n"));

    let report = render(&settings, &results, &memory, &allocations, args, started);
    println!("\n{report}");
    if settings.write_report {
        let path = workspace_root().join("benches/REPORT.md");
        // The design measurements are hand-written and outlive the run's figures.
        let previous = std::fs::read_to_string(&path).unwrap_or_default();
        let report = format!("{report}{}", design_measurements(&previous));
        std::fs::write(&path, report).map_err(|e| format!("writing {}: {e}", path.display()))?;
        println!("xtask: bench: wrote benches/REPORT.md");
    }
    Ok(())
}

/// The heading of the hand-written section of `benches/REPORT.md` that a new report
/// keeps: the measurements behind the I/O loop's sizes and budgets, which the code's
/// docs sum up in a sentence each.
const DESIGN_MEASUREMENTS: &str = "\n## Design measurements\n";

/// The design-measurements section of a report, from its heading to the end; empty
/// when it has none.
fn design_measurements(report: &str) -> &str {
    report
        .find(DESIGN_MEASUREMENTS)
        .map_or("", |start| &report[start..])
}

/// Builds everything in release mode; returns the directory holding the binaries.
fn build() -> Result<PathBuf, String> {
    let target = target_dir();
    let mut ours = cargo();
    ours.args([
        "build",
        "--release",
        "-p",
        "wsd-cli",
        "-p",
        "wsd-bench",
        "--bins",
    ]);
    step("build wsd and wsd-load", ours)?;
    // The peers share the target directory (so their common crates build once).
    let mut peers = cargo();
    peers
        .args([
            "build",
            "--release",
            "--manifest-path",
            "benches/peers/Cargo.toml",
        ])
        .env("CARGO_TARGET_DIR", &target);
    step("build peers", peers)?;
    Ok(target.join("release"))
}

/// Runs `program` pinned to `cpu` with a raised file-descriptor limit (5,000 idle
/// connections need more than the usual 1,024).
fn pinned(cpu: u32, program: &Path, args: &[String]) -> Command {
    let script = format!("ulimit -n 65536 2>/dev/null; exec taskset -c {cpu} \"$0\" \"$@\"");
    let mut command = Command::new("sh");
    command.arg("-c").arg(script).arg(program).args(args);
    command
}

fn start_server(release: &Path, server: &Server, port: u16) -> Result<Child, String> {
    let args: Vec<String> = server
        .args
        .iter()
        .map(|a| a.replace("{port}", &port.to_string()))
        .collect();
    let mut child = pinned(0, &release.join(server.bin), &args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        // wsd logs every connection the load generator resets; that is expected.
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", server.name))?;
    if let Err(error) = wait_listening(&mut child, server.name, port, Duration::from_secs(10)) {
        stop(&mut child);
        return Err(error);
    }
    Ok(child)
}

fn load(
    release: &Path,
    port: u16,
    conns: usize,
    size: usize,
    mode: &str,
    settings: &Settings,
) -> Result<f64, String> {
    let args: Vec<String> = [
        "--addr".to_string(),
        format!("127.0.0.1:{port}"),
        "--conns".into(),
        conns.to_string(),
        "--size".into(),
        size.to_string(),
        "--mode".into(),
        mode.into(),
        "--warmup".into(),
        settings.warmup.to_string(),
        "--seconds".into(),
        settings.seconds.to_string(),
    ]
    .into();
    let output = pinned(1, &release.join("wsd-load"), &args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("wsd-load: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .find_map(|l| l.strip_prefix("msgs_per_sec ")?.trim().parse().ok())
        .ok_or_else(|| {
            let stderr = String::from_utf8_lossy(&output.stderr);
            format!("failed: {}", stderr.trim())
        })
}

/// RSS growth of a fresh server per idle open connection, in KiB.
fn idle_memory(release: &Path, server: &Server, port: u16, n: usize) -> Result<f64, String> {
    let mut child = start_server(release, server, port)?;
    // Let the probe connection of `start_server` be torn down first.
    std::thread::sleep(Duration::from_millis(300));
    let measured = (|| {
        let before = vm_rss_kib(child.id())?;
        let args = [
            "--addr".to_string(),
            format!("127.0.0.1:{port}"),
            "--idle".into(),
            n.to_string(),
        ];
        let mut client = pinned(1, &release.join("wsd-load"), &args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("wsd-load: {e}"))?;
        let mut line = String::new();
        if let Some(out) = client.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let result = if line.starts_with("ready") {
            // Give the server time to finish its side of the last handshakes.
            std::thread::sleep(Duration::from_millis(500));
            vm_rss_kib(child.id()).map(|after| after.saturating_sub(before) as f64 / n as f64)
        } else {
            Err("wsd-load --idle did not get ready".to_string())
        };
        if let Some(mut stdin) = client.stdin.take() {
            let _ = stdin.write_all(b"\n");
        }
        stop(&mut client);
        result
    })();
    stop(&mut child);
    measured
}

fn median(samples: &[f64]) -> f64 {
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

fn human(rate: f64) -> String {
    if rate >= 1e6 {
        format!("{:.2} M", rate / 1e6)
    } else if rate >= 1e4 {
        format!("{:.0} k", rate / 1e3)
    } else {
        format!("{rate:.0}")
    }
}

fn size_name(size: usize) -> String {
    match size {
        s if s >= 1 << 20 => format!("{} MiB", s >> 20),
        s if s >= 1 << 10 => format!("{} KiB", s >> 10),
        s => format!("{s} B"),
    }
}

/// Today as `YYYY-MM-DD` (UTC), from the days since 1970 (Howard Hinnant's algorithm),
/// so the report is dated without a date crate.
fn today() -> String {
    let secs = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let z = (secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

fn render(
    settings: &Settings,
    results: &[Vec<Vec<f64>>],
    memory: &[Option<f64>],
    allocations: &str,
    args: &[String],
    started: Instant,
) -> String {
    let ours = SERVERS.iter().position(|s| s.name == OURS).unwrap_or(0);
    let mut out = String::new();
    let command = std::iter::once("cargo xtask bench")
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    // Other engineers share the checkout: say which code was measured.
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(workspace_root())
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
            .unwrap_or_default()
    };
    let dirty = if git(&["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        ""
    } else {
        " plus uncommitted changes"
    };
    let commit = git(&["rev-parse", "--short", "HEAD"]);
    out.push_str("# wsd echo benchmarks, side by side with the fastest Rust peers\n\n");
    out.push_str(&format!(
        "Generated by `{command}` on {} at commit {commit}{dirty} ({} rounds x {} s per case after {} s warm-up, medians; \
         throughput part took {:.0} s). Each server pinned to CPU 0 (`taskset -c 0`), the \
         single-threaded load generator `wsd-load` to CPU 1. The 2-core machine was shared \
         with other builds: numbers are noisy, compare within this run (ratios), not with \
         other runs.\n\n",
        today(),
        settings.rounds,
        settings.seconds,
        settings.warmup,
        started.elapsed().as_secs_f64(),
    ));
    out.push_str(
        "Servers: `wsd serve --runtime tokio|async-std|smol`; peers in `benches/peers/` \
         (tokio-tungstenite 0.30 forward, fastwebsockets 0.10 with our own handshake and no \
         hyper, tokio-websockets 0.13 forward), all current-thread, one task per connection, \
         TCP_NODELAY, no `unconstrained`, compression off, 64 MiB message limit. Binary \
         messages. *pipelined*: up to 4 MiB of frames in flight per connection; *single*: \
         exactly one message in flight per connection.\n\n",
    );
    out.push_str("## Echo throughput (msgs/s, median)\n\n| workload |");
    for server in &SERVERS {
        out.push_str(&format!(" {} |", server.name));
    }
    out.push_str(" wsd-tokio / best peer |\n|---|");
    for _ in 0..=SERVERS.len() {
        out.push_str("---:|");
    }
    out.push('\n');
    for (w, &(conns, size)) in WORKLOADS.iter().enumerate() {
        for (m, mode) in MODES.iter().enumerate() {
            let case = w * MODES.len() + m;
            out.push_str(&format!("| {conns} x {} {mode} |", size_name(size)));
            let medians: Vec<f64> = results.iter().map(|r| median(&r[case])).collect();
            for rate in &medians {
                out.push_str(&format!(" {} |", human(*rate)));
            }
            let best = SERVERS
                .iter()
                .zip(&medians)
                .filter(|(s, _)| s.peer)
                .map(|(_, r)| *r)
                .fold(0.0, f64::max);
            let ratio = if best > 0.0 {
                format!("{:.2}", medians[ours] / best)
            } else {
                "-".into()
            };
            out.push_str(&format!(" {ratio} |\n"));
        }
    }
    out.push_str("\nSpread (max/min of the rounds) per server and case, as a noise gauge:\n\n");
    for (s, server) in SERVERS.iter().enumerate() {
        let spreads: Vec<String> = results[s]
            .iter()
            .map(|samples| {
                let max = samples.iter().copied().fold(0.0, f64::max);
                let min = samples.iter().copied().fold(f64::INFINITY, f64::min);
                if min > 0.0 {
                    format!("{:.2}", max / min)
                } else {
                    "-".into()
                }
            })
            .collect();
        out.push_str(&format!("- {}: {}\n", server.name, spreads.join(" ")));
    }
    out.push_str(&format!(
        "\n## Memory per idle connection ({} open connections, server RSS growth / connections)\n\n\
         | server | KiB per connection |\n|---|---:|\n",
        settings.idle
    ));
    for (server, kib) in SERVERS.iter().zip(memory) {
        let shown = kib.map_or_else(|| "failed".into(), |k| format!("{k:.1}"));
        out.push_str(&format!("| {} | {shown} |\n", server.name));
    }
    out.push_str(
        "\n## Allocations per echoed message (`cargo bench -p wsd-bench --bench alloc`)\n\n```text\n",
    );
    for line in allocations.lines().filter(|l| !l.starts_with("xtask:")) {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("```\n");
    out
}

#[cfg(test)]
mod tests {
    use super::design_measurements;

    #[test]
    fn a_new_report_keeps_only_the_design_measurements_of_the_old_one() {
        let old =
            "# Report\n\n## Echo\n\nold figures\n\n## Design measurements\n\n- 64 KiB reads\n";
        assert_eq!(
            design_measurements(old),
            "\n## Design measurements\n\n- 64 KiB reads\n"
        );
        assert_eq!(design_measurements("# Report\n\n## Echo\n"), "");
    }
}
