//! `cargo xtask bench`: wsd's echo server side by side with the fastest peers.
//!
//! Builds (release) `wsd`, the load generator `wsd-load` (crate `benches`), the peer
//! echo servers in `benches/peers/` and the chart drawer `benches/chart/` (both
//! outside the workspace, so CI never compiles them), then:
//!
//! - echo throughput: for 3 rounds, each server in turn (the order rotates every
//!   round so background load spreads evenly), the server pinned to CPU 0 and every
//!   workload run by `wsd-load` pinned to CPU 1; medians, with the ratio wsd-tokio /
//!   best peer and wsd-tokio / the minimal server (the ceiling);
//! - the same with permessage-deflate against sockudo-ws, node `ws` and python
//!   `websockets` (text that compresses about 5:1);
//! - `wsd serve --threads 1` and `2` on each runtime, server and load unpinned;
//! - memory: server RSS growth per idle connection, per slowloris connection, per
//!   connection half-way through a 64 KiB frame, and per active deflate connection;
//! - the allocations-per-message bench (`benches/benches/alloc.rs`);
//!
//! and writes `benches/REPORT.md` and the chart of the ratios `benches/ratios.svg`.
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
    --quick      a smoke run: 1 round of 1 s, fewer connections in the memory parts,\n               \
    no REPORT.md (the chart goes to the target directory)";

/// `(connections, payload bytes)` of each workload; each runs pipelined and single.
const WORKLOADS: [(usize, usize); 4] = [(64, 16), (64, 1024), (8, 64 << 10), (2, 1 << 20)];
/// The permessage-deflate workloads: text that compresses about 5:1.
const DEFLATE_WORKLOADS: [(usize, usize); 2] = [(16, 1024), (4, 64 << 10)];
/// The workloads of the `--threads` comparison.
const THREAD_WORKLOADS: [(usize, usize, &str); 2] = [(64, 1024, "pipelined"), (64, 16, "single")];
const MODES: [&str; 2] = ["pipelined", "single"];
/// The column the ratios are about.
const OURS: &str = "wsd-tokio";
/// The minimal echo server: a ceiling, not a library, so not a "best peer".
const CEILING: &str = "minimal";
/// The text each connection of the active-deflate memory part sends once.
const ACTIVE_DEFLATE_SIZE: usize = 16 << 10;
/// The frame the trickling connections of the memory part are half-way through.
const PARTIAL_FRAME: usize = 64 << 10;

/// How a server is started.
enum Program {
    /// `wsd serve` on this runtime, with `--threads` as the part asks.
    Wsd(&'static str),
    /// A binary of the release directory.
    Release(&'static str),
    /// A node script in `benches/peers/scripts`, with `tests/interop/node_modules`.
    Node(&'static str),
    /// A python script in `benches/peers/scripts`, run by the workspace's `.venv`.
    Python(&'static str),
}

struct Server {
    name: &'static str,
    program: Program,
    /// More arguments (peers: `{port}` is substituted).
    args: &'static [&'static str],
    peer: bool,
}

const fn wsd(name: &'static str, runtime: &'static str, args: &'static [&'static str]) -> Server {
    Server {
        name,
        program: Program::Wsd(runtime),
        args,
        peer: false,
    }
}

const fn peer(name: &'static str, program: Program) -> Server {
    Server {
        name,
        program,
        args: &["{port}"],
        peer: true,
    }
}

/// The servers of the throughput table and the memory tables; the first three are
/// also those of the `--threads` table.
const SERVERS: [Server; 8] = [
    wsd("wsd-tokio", "tokio", &[]),
    wsd("wsd-async-std", "async-std", &[]),
    wsd("wsd-smol", "smol", &[]),
    peer("tungstenite", Program::Release("peer-tungstenite")),
    peer("fastwebsockets", Program::Release("peer-fastwebsockets")),
    peer(
        "tokio-websockets",
        Program::Release("peer-tokio-websockets"),
    ),
    peer("sockudo-ws", Program::Release("peer-sockudo")),
    peer(CEILING, Program::Release("peer-minimal")),
];

/// The servers of the permessage-deflate table.
const DEFLATE_SERVERS: [Server; 4] = [
    wsd("wsd-tokio", "tokio", &["--deflate"]),
    peer("sockudo-ws", Program::Release("peer-sockudo")),
    peer("node ws", Program::Node("node-ws-echo.cjs")),
    peer(
        "python websockets",
        Program::Python("python-websockets-echo.py"),
    ),
];

/// The servers of the `--threads` table: `wsd serve` on each runtime.
fn thread_servers() -> &'static [Server] {
    &SERVERS[..3]
}

struct Settings {
    seconds: f64,
    warmup: f64,
    rounds: usize,
    idle: usize,
    slowloris: usize,
    partial: usize,
    active_deflate: usize,
    write_report: bool,
}

/// Samples per server and case: `[server][case]`, one per round.
type Samples = Vec<Vec<Vec<f64>>>;

/// The memory figures of one server, in KiB of RSS growth per connection.
#[derive(Default)]
struct Memory {
    idle: Option<f64>,
    slowloris: Option<f64>,
    partial: Option<f64>,
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let mut settings = Settings {
        seconds: 5.0,
        warmup: 1.0,
        rounds: 3,
        idle: 5000,
        slowloris: 1000,
        partial: 200,
        active_deflate: 400,
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
                settings.slowloris = 200;
                settings.partial = 50;
                settings.active_deflate = 100;
                settings.write_report = false;
            }
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("bench: unknown argument `{other}`\n{USAGE}")),
        }
    }
    // The python and node peers need the same packages as the tests; without them
    // those peers would not start, and their columns would be empty.
    let root = workspace_root();
    crate::setup::ensure_venv(&root)?;
    crate::setup::ensure_node_modules(&root)?;
    let release = build()?;
    let started = Instant::now();

    let plain: Vec<Case> = WORKLOADS
        .iter()
        .flat_map(|&(conns, size)| MODES.iter().map(move |&mode| Case::new(conns, size, mode)))
        .collect();
    let results = rounds(&release, &SERVERS, &plain, 19_300, &settings, Pin::Pinned);
    let throughput_seconds = started.elapsed().as_secs_f64();

    let deflated: Vec<Case> = DEFLATE_WORKLOADS
        .iter()
        .flat_map(|&(conns, size)| {
            MODES
                .iter()
                .map(move |&mode| Case::new(conns, size, mode).deflate())
        })
        .collect();
    let deflate = rounds(
        &release,
        &DEFLATE_SERVERS,
        &deflated,
        19_320,
        &settings,
        Pin::Pinned,
    );

    let threaded: Vec<Case> = THREAD_WORKLOADS
        .iter()
        .map(|&(conns, size, mode)| Case::new(conns, size, mode))
        .collect();
    let mut threads = Vec::new();
    for count in [1, 2] {
        let port = 19_340 + 10 * count as u16;
        let pin = Pin::Unpinned { threads: count };
        threads.push(rounds(
            &release,
            thread_servers(),
            &threaded,
            port,
            &settings,
            pin,
        ));
    }

    let mut memory = Vec::new();
    for (s, server) in SERVERS.iter().enumerate() {
        let port = 19_400 + 10 * s as u16;
        let figures = Memory {
            idle: per_connection(
                &release,
                server,
                port,
                "idle",
                &["--idle".into(), settings.idle.to_string()],
            ),
            slowloris: per_connection(
                &release,
                server,
                port + 1,
                "slowloris",
                &["--slowloris".into(), settings.slowloris.to_string()],
            ),
            partial: per_connection(
                &release,
                server,
                port + 2,
                "half a frame",
                &[
                    "--partial".into(),
                    settings.partial.to_string(),
                    "--size".into(),
                    PARTIAL_FRAME.to_string(),
                ],
            ),
        };
        memory.push(figures);
    }
    let mut active = Vec::new();
    for (s, server) in DEFLATE_SERVERS.iter().enumerate() {
        let port = 19_500 + s as u16;
        active.push(per_connection(
            &release,
            server,
            port,
            "active deflate",
            &[
                "--idle".into(),
                settings.active_deflate.to_string(),
                "--deflate".into(),
                "--size".into(),
                ACTIVE_DEFLATE_SIZE.to_string(),
            ],
        ));
    }

    let allocations = step_capturing("alloc bench", {
        let mut c = cargo();
        c.args(["bench", "-p", "wsd-bench", "--bench", "alloc"]);
        c
    })
    .unwrap_or_else(|e| format!("(alloc bench failed: {e})\n"));

    let measured = Measured {
        plain: &plain,
        results: &results,
        deflated: &deflated,
        deflate: &deflate,
        threaded: &threaded,
        threads: &threads,
        memory: &memory,
        active: &active,
        allocations: &allocations,
        throughput_seconds,
        smoke: !settings.write_report,
    };
    let report = render(&settings, &measured, args, started);
    println!("\n{report}");
    let chart_dir = if settings.write_report {
        workspace_root().join("benches")
    } else {
        target_dir()
    };
    let chart = chart(&release, &chart_dir, &measured)?;
    println!("xtask: bench: wrote {}", chart.display());
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

/// One workload in one mode.
struct Case {
    conns: usize,
    size: usize,
    mode: &'static str,
    deflate: bool,
}

impl Case {
    fn new(conns: usize, size: usize, mode: &'static str) -> Self {
        Self {
            conns,
            size,
            mode,
            deflate: false,
        }
    }

    fn deflate(self) -> Self {
        Self {
            deflate: true,
            ..self
        }
    }

    fn name(&self) -> String {
        format!("{} x {} {}", self.conns, size_name(self.size), self.mode)
    }
}

/// Where the server and the load generator run.
#[derive(Clone, Copy)]
enum Pin {
    /// The server on CPU 0, `wsd-load` on CPU 1.
    Pinned,
    /// Both free to run on any core; the servers get `--threads`.
    Unpinned { threads: usize },
}

/// `settings.rounds` rounds of every case on every server (the server order rotates
/// every round so background load spreads evenly); samples in msgs/s, 0 for a
/// failure.
fn rounds(
    release: &Path,
    servers: &[Server],
    cases: &[Case],
    base_port: u16,
    settings: &Settings,
    pin: Pin,
) -> Samples {
    let mut results = vec![vec![Vec::new(); cases.len()]; servers.len()];
    for round in 0..settings.rounds {
        for k in 0..servers.len() {
            let s = (k + round) % servers.len();
            let server = &servers[s];
            let port = base_port + s as u16;
            let (cpu, threads) = match pin {
                Pin::Pinned => (Some(0), 1),
                Pin::Unpinned { threads } => (None, threads),
            };
            let mut child = match start_server(release, server, port, cpu, threads) {
                Ok(child) => child,
                Err(error) => {
                    eprintln!("xtask: bench: {error}");
                    for samples in &mut results[s] {
                        samples.push(0.0);
                    }
                    continue;
                }
            };
            for (c, case) in cases.iter().enumerate() {
                let rate = load(release, port, case, settings, pin);
                let shown = rate
                    .as_ref()
                    .map_or_else(|e| e.clone(), |r| format!("{r:.0} msgs/s"));
                let threads = match pin {
                    Pin::Pinned => String::new(),
                    Pin::Unpinned { threads } => format!(" --threads {threads}"),
                };
                eprintln!(
                    "xtask: bench: round {} {:<18}{threads} {:<22}{} {shown}",
                    round + 1,
                    server.name,
                    case.name(),
                    if case.deflate { " deflate" } else { "" },
                );
                results[s][c].push(rate.unwrap_or(0.0));
            }
            stop(&mut child);
        }
    }
    results
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
    // The peers and the chart share the target directory (so their common crates
    // build once).
    for (name, manifest) in [
        ("build peers", "benches/peers/Cargo.toml"),
        ("build the chart", "benches/chart/Cargo.toml"),
    ] {
        let mut build = cargo();
        build
            .args(["build", "--release", "--manifest-path", manifest])
            .env("CARGO_TARGET_DIR", &target);
        step(name, build)?;
    }
    Ok(target.join("release"))
}

/// Runs `program` pinned to `cpu` (anywhere without one) with a raised
/// file-descriptor limit (5,000 idle connections need more than the usual 1,024).
fn pinned(cpu: Option<u32>, program: &Path, args: &[String]) -> Command {
    let taskset = cpu.map_or(String::new(), |cpu| format!("taskset -c {cpu} "));
    let script = format!("ulimit -n 65536 2>/dev/null; exec {taskset}\"$0\" \"$@\"");
    let mut command = Command::new("sh");
    command.arg("-c").arg(script).arg(program).args(args);
    command
}

fn start_server(
    release: &Path,
    server: &Server,
    port: u16,
    cpu: Option<u32>,
    threads: usize,
) -> Result<Child, String> {
    let scripts = workspace_root().join("benches/peers/scripts");
    let mut args: Vec<String> = server
        .args
        .iter()
        .map(|a| a.replace("{port}", &port.to_string()))
        .collect();
    let program = match server.program {
        Program::Wsd(runtime) => {
            let serve = [
                "serve".to_string(),
                "--addr".into(),
                format!("127.0.0.1:{port}"),
                "--runtime".into(),
                runtime.into(),
                "--threads".into(),
                threads.to_string(),
            ];
            args.splice(0..0, serve);
            release.join("wsd")
        }
        Program::Release(bin) => release.join(bin),
        Program::Node(script) => {
            args.insert(0, scripts.join(script).display().to_string());
            PathBuf::from("node")
        }
        Program::Python(script) => {
            args.insert(0, scripts.join(script).display().to_string());
            workspace_root().join(".venv/bin/python")
        }
    };
    let mut command = pinned(cpu, &program, &args);
    if let Program::Node(_) = server.program {
        command.env(
            "NODE_PATH",
            workspace_root().join("tests/interop/node_modules"),
        );
    }
    let mut child = command
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
    case: &Case,
    settings: &Settings,
    pin: Pin,
) -> Result<f64, String> {
    let mut args: Vec<String> = [
        "--addr".to_string(),
        format!("127.0.0.1:{port}"),
        "--conns".into(),
        case.conns.to_string(),
        "--size".into(),
        case.size.to_string(),
        "--mode".into(),
        case.mode.into(),
        "--warmup".into(),
        settings.warmup.to_string(),
        "--seconds".into(),
        settings.seconds.to_string(),
    ]
    .into();
    if case.deflate {
        args.push("--deflate".into());
    }
    let cpu = match pin {
        Pin::Pinned => Some(1),
        Pin::Unpinned { .. } => None,
    };
    let output = pinned(cpu, &release.join("wsd-load"), &args)
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

/// Starts `server` fresh, has `wsd-load` (with `load_args`) open connections and
/// bring them into the state to measure, and returns the server's RSS growth per
/// connection in KiB; logs it as `what`.
fn per_connection(
    release: &Path,
    server: &Server,
    port: u16,
    what: &str,
    load_args: &[String],
) -> Option<f64> {
    let measured = rss_growth(release, server, port, load_args);
    let shown = measured
        .as_ref()
        .map_or_else(|e| e.clone(), |k| format!("{k:.1} KiB per connection"));
    eprintln!(
        "xtask: bench: memory {:<18} {what:<14} {shown}",
        server.name
    );
    measured.ok()
}

fn rss_growth(
    release: &Path,
    server: &Server,
    port: u16,
    load_args: &[String],
) -> Result<f64, String> {
    let mut child = start_server(release, server, port, Some(0), 1)?;
    // Let the probe connection of `start_server` be torn down first.
    std::thread::sleep(Duration::from_millis(300));
    let measured = (|| {
        let before = vm_rss_kib(child.id())?;
        let mut args = vec!["--addr".to_string(), format!("127.0.0.1:{port}")];
        args.extend_from_slice(load_args);
        let mut client = pinned(Some(1), &release.join("wsd-load"), &args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("wsd-load: {e}"))?;
        let mut line = String::new();
        if let Some(out) = client.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        let n: Option<f64> = line
            .strip_prefix("ready ")
            .and_then(|n| n.trim().parse().ok());
        let result = match n {
            Some(n) if n > 0.0 => {
                // Give the server time to catch up with the last connections.
                std::thread::sleep(Duration::from_millis(500));
                vm_rss_kib(child.id()).map(|after| after.saturating_sub(before) as f64 / n)
            }
            _ => Err(format!(
                "wsd-load {} did not get ready",
                load_args.join(" ")
            )),
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

/// Everything one run measured.
struct Measured<'a> {
    plain: &'a [Case],
    results: &'a Samples,
    deflated: &'a [Case],
    deflate: &'a Samples,
    threaded: &'a [Case],
    /// `[0]` with `--threads 1`, `[1]` with `--threads 2`.
    threads: &'a [Samples],
    memory: &'a [Memory],
    active: &'a [Option<f64>],
    allocations: &'a str,
    throughput_seconds: f64,
    /// A `--quick` run.
    smoke: bool,
}

/// A throughput table: one row per case, one column per server, then the ratios of
/// `OURS` to the best peer and to the ceiling (when it is among `servers`).
fn throughput_table(out: &mut String, servers: &[Server], cases: &[Case], results: &Samples) {
    let ours = servers.iter().position(|s| s.name == OURS).unwrap_or(0);
    let ceiling = servers.iter().position(|s| s.name == CEILING);
    out.push_str("| workload |");
    for server in servers {
        out.push_str(&format!(" {} |", server.name));
    }
    out.push_str(&format!(" {OURS} / best peer |"));
    if ceiling.is_some() {
        out.push_str(&format!(" {OURS} / {CEILING} |"));
    }
    out.push_str("\n|---|");
    for _ in 0..=servers.len() + usize::from(ceiling.is_some()) {
        out.push_str("---:|");
    }
    out.push('\n');
    for (c, case) in cases.iter().enumerate() {
        out.push_str(&format!("| {} |", case.name()));
        let medians: Vec<f64> = results.iter().map(|r| median(&r[c])).collect();
        for (rate, samples) in medians.iter().zip(results) {
            if samples[c].is_empty() {
                // The server did not start or no round finished: not a rate of 0.
                out.push_str(" failed |");
            } else {
                out.push_str(&format!(" {} |", human(*rate)));
            }
        }
        let best = servers
            .iter()
            .zip(&medians)
            .filter(|(s, _)| s.peer && s.name != CEILING)
            .map(|(_, r)| *r)
            .fold(0.0, f64::max);
        out.push_str(&format!(" {} |", ratio(medians[ours], best)));
        if let Some(ceiling) = ceiling {
            out.push_str(&format!(" {} |", ratio(medians[ours], medians[ceiling])));
        }
        out.push('\n');
    }
}

fn ratio(ours: f64, theirs: f64) -> String {
    if ours > 0.0 && theirs > 0.0 {
        format!("{:.2}", ours / theirs)
    } else {
        "-".into()
    }
}

/// Spread (max/min of the rounds) per server and case, as a noise gauge.
fn spread(out: &mut String, servers: &[Server], results: &Samples) {
    for (s, server) in servers.iter().enumerate() {
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
}

fn kib(figure: Option<f64>) -> String {
    figure.map_or_else(|| "failed".into(), |k| format!("{k:.1}"))
}

fn render(settings: &Settings, m: &Measured<'_>, args: &[String], started: Instant) -> String {
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
    out.push_str("# wsd echo benchmarks, side by side with the fastest peers\n\n");
    out.push_str(&format!(
        "Generated by `{command}` on {} at commit {commit}{dirty} ({} rounds x {} s per case after {} s warm-up, medians; \
         the plain throughput part took {:.0} s, the whole run {:.0} s). Each server pinned to CPU 0 (`taskset -c 0`), the \
         single-threaded load generator `wsd-load` to CPU 1 (except in the `--threads` table). \
         The 2-core machine was shared with other builds: numbers are noisy, compare within \
         this run (ratios), not with other runs.\n\n",
        today(),
        settings.rounds,
        settings.seconds,
        settings.warmup,
        m.throughput_seconds,
        started.elapsed().as_secs_f64(),
    ));
    out.push_str(
        "![wsd-tokio / each peer, per workload](ratios.svg)\n\n\
         Servers: `wsd serve --threads 1 --runtime tokio|async-std|smol`; peers in `benches/peers/` \
         (tokio-tungstenite 0.30 forward, fastwebsockets 0.10 with our own handshake and no \
         hyper, tokio-websockets 0.13 forward, sockudo-ws 3.1 `next` + `feed` as its README \
         recommends, and *minimal*: one read, unmask in place, re-frame, one write per wake-up, \
         no validation at all, the ceiling), all current-thread, one task per connection, \
         TCP_NODELAY, no `unconstrained`, compression off, 64 MiB message limit. Binary \
         messages. *pipelined*: up to 4 MiB of frames in flight per connection; *single*: \
         exactly one message in flight per connection. The best peer leaves out the ceiling.\n\n",
    );
    out.push_str("## Echo throughput (msgs/s, median)\n\n");
    throughput_table(&mut out, &SERVERS, m.plain, m.results);
    out.push_str("\nSpread (max/min of the rounds) per server and case, as a noise gauge:\n\n");
    spread(&mut out, &SERVERS, m.results);

    out.push_str(
        "\n## permessage-deflate echo (msgs/s, median)\n\n\
         Text messages that compress about 5:1 (`wsd_bench::compressible_text`: JSON-like \
         records, checked with flate2 at level 6). `wsd-load --deflate` offers \
         `permessage-deflate; client_no_context_takeover; server_no_context_takeover`, so \
         every message is compressed on its own (it compresses its message once and resends \
         it), checks that the first echo is compressed and inflates back to the text, and \
         counts echoes by their frame headers. Servers: `wsd serve --deflate`, sockudo-ws \
         (its `CompressedWebSocketStream`), node `ws` (`benches/peers/scripts/node-ws-echo.cjs`, \
         zlib in libuv's thread pool, pinned to CPU 0 with the rest of node) and python \
         `websockets` (asyncio, `benches/peers/scripts/python-websockets-echo.py`), each \
         with its default deflate settings.\n\n",
    );
    throughput_table(&mut out, &DEFLATE_SERVERS, m.deflated, m.deflate);
    out.push_str("\nSpread:\n\n");
    spread(&mut out, &DEFLATE_SERVERS, m.deflate);

    out.push_str(
        "\n## `wsd serve --threads N` (msgs/s, median)\n\n\
         The server and `wsd-load` both unpinned: they share the machine's two cores (and \
         with other builds), so with 2 threads the server competes with its own load \
         generator; a gain here is a lower bound.\n\n| workload |",
    );
    for server in thread_servers() {
        out.push_str(&format!(" {0} 1 | {0} 2 | 2 / 1 |", server.name));
    }
    out.push_str("\n|---|");
    for _ in 0..thread_servers().len() * 3 {
        out.push_str("---:|");
    }
    out.push('\n');
    for (c, case) in m.threaded.iter().enumerate() {
        out.push_str(&format!("| {} |", case.name()));
        for s in 0..thread_servers().len() {
            let one = m.threads.first().map_or(0.0, |r| median(&r[s][c]));
            let two = m.threads.get(1).map_or(0.0, |r| median(&r[s][c]));
            out.push_str(&format!(
                " {} | {} | {} |",
                human(one),
                human(two),
                ratio(two, one)
            ));
        }
        out.push('\n');
    }

    out.push_str(&format!(
        "\n## Memory in waiting states (server RSS growth / connections, KiB)\n\n\
         - *idle*: {} open connections after the handshake.\n\
         - *slowloris*: {} connections that sent the first 100 bytes of an upgrade request, \
         one byte per write (the target: below 6 MiB for 1,000, about {:.1} KiB each).\n\
         - *half a frame*: {} connections that sent the header and half of a {} binary \
         frame ({} KiB buffered each; the target: at most about twice that plus a small \
         constant).\n\n\
         | server | idle | slowloris | half a frame |\n|---|---:|---:|---:|\n",
        settings.idle,
        settings.slowloris,
        6.0 * 1024.0 / 1000.0,
        settings.partial,
        size_name(PARTIAL_FRAME),
        PARTIAL_FRAME / 2 / 1024,
    ));
    for (server, memory) in SERVERS.iter().zip(m.memory) {
        out.push_str(&format!(
            "| {} | {} | {} | {} |\n",
            server.name,
            kib(memory.idle),
            kib(memory.slowloris),
            kib(memory.partial)
        ));
    }
    out.push_str(&format!(
        "\n## Memory per active deflate connection (server RSS growth / connections, KiB)\n\n\
         {} connections, each offering `permessage-deflate; client_max_window_bits` (context \
         takeover allowed, as browsers offer), sending one {} text message and reading its \
         echo, then staying open.\n\n| server | KiB per connection |\n|---|---:|\n",
        settings.active_deflate,
        size_name(ACTIVE_DEFLATE_SIZE),
    ));
    for (server, figure) in DEFLATE_SERVERS.iter().zip(m.active) {
        out.push_str(&format!("| {} | {} |\n", server.name, kib(*figure)));
    }

    out.push_str(
        "\n## Allocations per echoed message (`cargo bench -p wsd-bench --bench alloc`)\n\n```text\n",
    );
    for line in m.allocations.lines().filter(|l| !l.starts_with("xtask:")) {
        out.push_str(line);
        out.push('\n');
    }
    out.push_str("```\n");
    out
}

/// Writes the ratios wsd-tokio / each peer per workload (plain and deflate) as a
/// TSV and draws them with `wsd-chart` into `dir/ratios.svg`; returns its path.
fn chart(release: &Path, dir: &Path, m: &Measured<'_>) -> Result<PathBuf, String> {
    let mut peers: Vec<&str> = Vec::new();
    for server in SERVERS.iter().chain(&DEFLATE_SERVERS).filter(|s| s.peer) {
        if !peers.contains(&server.name) {
            peers.push(server.name);
        }
    }
    let mut tsv = format!("workload\t{}\n", peers.join("\t"));
    let parts: [(&[Server], &[Case], &Samples, &str); 2] = [
        (&SERVERS, m.plain, m.results, ""),
        (&DEFLATE_SERVERS, m.deflated, m.deflate, " deflate"),
    ];
    for (servers, cases, results, suffix) in parts {
        let ours = servers.iter().position(|s| s.name == OURS).unwrap_or(0);
        for (c, case) in cases.iter().enumerate() {
            tsv.push_str(&format!("{}{suffix}", case.name()));
            let our_rate = median(&results[ours][c]);
            for peer in &peers {
                let theirs = servers
                    .iter()
                    .position(|s| s.name == *peer)
                    .map(|s| median(&results[s][c]));
                tsv.push('\t');
                tsv.push_str(&theirs.map_or("-".into(), |t| ratio(our_rate, t)));
            }
            tsv.push('\n');
        }
    }
    let data = target_dir().join("bench-ratios.tsv");
    std::fs::write(&data, tsv).map_err(|e| format!("writing {}: {e}", data.display()))?;
    let svg = dir.join("ratios.svg");
    let status = Command::new(release.join("wsd-chart"))
        .arg(&data)
        .arg(&svg)
        .arg(if m.smoke {
            "wsd-tokio / each peer (a --quick smoke run: 1 round of 1 s, not a measurement)"
        } else {
            "wsd-tokio throughput / each peer's (above 1: wsd is faster)"
        })
        .status()
        .map_err(|e| format!("wsd-chart: {e}"))?;
    if !status.success() {
        return Err(format!("wsd-chart failed: {status}"));
    }
    Ok(svg)
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
