//! `cargo xtask autobahn`: runs the Autobahn TestSuite (the `kosoku` port from PyPI)
//! against `wsd serve` on every runtime and against `wsd autobahn-client`, and fails
//! unless every selected case is OK or INFORMATIONAL, both in behaviour and in
//! closing behaviour.
//!
//! Each run writes kosoku's report to `reports/autobahn/<run>/` (`index.html` to
//! browse, `index.json` which this task reads), next to `kosoku.log` and `peer.log`
//! (the output of kosoku and of the program under test). `--server-cmd` and
//! `--client-cmd` put any program in place of `wsd`, which is how the harness itself
//! is proven against the python stand-ins in `tests/interop/`.
//!
//! Each run prints one line with its counts, its wall time and (on Linux) the CPU
//! time kosoku and the program under test used: on a shared machine the wall time
//! swings with the neighbours' load, the CPU times much less.

use crate::json::{self, Json};
use crate::util::{cargo, step, workspace_root};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: cargo xtask autobahn [options]

Runs kosoku's fuzzing client against `wsd serve` (runtimes tokio, async-std, smol) and
kosoku's fuzzing server against `wsd autobahn-client`; reports go to reports/autobahn/.

options:
  --cases LIST        comma-separated case ids or globs, e.g. '1.*,2.*,9.7.1'
                      (default: groups 1-10, i.e. all but 12.* and 13.*)
  --deflate           also run `wsd serve --deflate` / `autobahn-client --deflate`
                      on the whole suite, permessage-deflate groups 12 and 13 included
  --deflate-only      run only the --deflate runs (e.g. with --cases '12.*,13.*')
  --runtime R         test only runtime R (tokio, async-std or smol)
  --server-only       skip the client run
  --client-only       skip the server runs
  --parallelism N     cases run at once: kosoku's -p against a server, and
                      `wsd autobahn-client --concurrency` (default 2; 4 for the
                      --deflate runs)
  --wsd PATH          use this wsd binary instead of building it
  --server-cmd CMD    test CMD instead of `wsd serve`; `{port}` is replaced by the port
                      it must listen on (127.0.0.1); run through `sh -c`
  --client-cmd CMD    test CMD instead of `wsd autobahn-client`; `{url}` is replaced
                      by the fuzzing server's ws:// URL; run through `sh -c`";

const RUNTIMES: [&str; 3] = ["tokio", "async-std", "smol"];

/// Two cases at a time keeps both cores of the CI machine busy (kosoku on one, the
/// server on the other). Against the node `ws` server, groups 1-10 (301 cases) take
/// 13 s at -p 1, 7 s at -p 2 and 4.5 s at -p 4: the suite's own waits dominate,
/// so more parallelism buys little and makes the timing cases in group 9 noisier.
/// The client run of groups 1-10 takes 8 s one case at a time, 4.7 s at 2.
const DEFAULT_PARALLELISM: u32 = 2;

/// Cases at once in the `--deflate` runs. Groups 12 and 13 are CPU work on both
/// sides (each case compresses 1000 messages of up to 128 KiB), and with a few
/// cases in flight neither side waits for the other: subgroup 12.2 against
/// `wsd serve --deflate` took 38-39 s at 4 against 44-46 s at 2 on a busy machine
/// (25.8 against 29.5 s on a quiet one); the client's 12.2 took 25.7 s at 4 against
/// 47 s one case at a time. Then kosoku's own CPU time (about 22 s for 12.2) is
/// the floor. A whole-suite `--deflate` run takes group 9 at 4 too, whose timings
/// are reported, not graded.
const DEFLATE_PARALLELISM: u32 = 4;

/// The groups that need permessage-deflate, left out unless `--deflate`.
const DEFLATE_GROUPS: [&str; 2] = ["12.*", "13.*"];

/// The part of groups 12 and 13 `cargo xtask ci` runs on the async-std and smol
/// servers (the tokio server and the client get all of them; `DEFLATE_RUNS` in
/// `ci.rs` says why): in every subgroup (the five data sets of 12, the seven
/// offer/accept pairs of 13) the unfragmented sizes 16 B to 8 KiB (cases 1-7) and
/// 8 KiB fragmented to 256 B (case 11): 96 of the 216 cases. The rest repeat the
/// same paths with 1000 messages of up to 128 KiB, which is where the time goes:
/// these take about a sixth of the CPU time of all 216. Listed one by one: kosoku
/// matches a `*` pattern as a prefix, so `12.*.1` would take 12.1.10-18 too.
pub(crate) fn ci_deflate_cases() -> String {
    let subgroups = (1..=5).map(|g| (12, g)).chain((1..=7).map(|g| (13, g)));
    subgroups
        .flat_map(|(group, sub)| {
            [1, 2, 3, 4, 5, 6, 7, 11].map(|case| format!("{group}.{sub}.{case}"))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// How long a program under test may take to accept connections.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);

/// A whole run (one server or client, the selected cases) may take this long. A
/// healthy peer needs well under a minute for groups 1-10 and about three minutes
/// for all of 12 and 13 on two busy cores (`DEFLATE_PARALLELISM`), so reaching it
/// means a hang, or a machine too loaded to time anything.
const RUN_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// After the client under test exits, kosoku's fuzzing server writes its report and
/// exits; past this it is stopped and the run fails for want of a report.
const REPORT_TIMEOUT: Duration = Duration::from_secs(30);

/// Behaviours that pass; kosoku itself also passes NON-STRICT, which wsd must not need.
const ACCEPTED: [&str; 2] = ["OK", "INFORMATIONAL"];

struct Options {
    cases: Option<Vec<String>>,
    deflate: bool,
    /// The runs without `--deflate` (off with `--deflate-only`).
    plain: bool,
    runtime: Option<String>,
    server_runs: bool,
    client_runs: bool,
    /// `--parallelism`; `None` picks per run.
    parallelism: Option<u32>,
    wsd: Option<PathBuf>,
    server_cmd: Option<String>,
    client_cmd: Option<String>,
}

impl Options {
    fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            cases: None,
            deflate: false,
            plain: true,
            runtime: None,
            server_runs: true,
            client_runs: true,
            parallelism: None,
            wsd: None,
            server_cmd: None,
            client_cmd: None,
        };
        let mut iter = args.iter();
        while let Some(arg) = iter.next() {
            let mut value = || {
                iter.next()
                    .cloned()
                    .ok_or_else(|| format!("autobahn: `{arg}` needs a value"))
            };
            match arg.as_str() {
                "--cases" => {
                    let list: Vec<String> = value()?
                        .split(',')
                        .map(str::trim)
                        .filter(|case| !case.is_empty())
                        .map(String::from)
                        .collect();
                    if list.is_empty() {
                        return Err("autobahn: --cases names no case".into());
                    }
                    options.cases = Some(list);
                }
                "--deflate" => options.deflate = true,
                "--deflate-only" => (options.deflate, options.plain) = (true, false),
                "--runtime" => {
                    let runtime = value()?;
                    if !RUNTIMES.contains(&runtime.as_str()) {
                        return Err(format!(
                            "autobahn: unknown runtime `{runtime}` (one of {})",
                            RUNTIMES.join(", ")
                        ));
                    }
                    options.runtime = Some(runtime);
                }
                "--server-only" => options.client_runs = false,
                "--client-only" => options.server_runs = false,
                "--parallelism" => {
                    options.parallelism = Some(
                        value()?
                            .parse()
                            .ok()
                            .filter(|&n| n > 0)
                            .ok_or("autobahn: --parallelism needs a positive number")?,
                    );
                }
                "--wsd" => options.wsd = Some(PathBuf::from(value()?)),
                "--server-cmd" => options.server_cmd = Some(value()?),
                "--client-cmd" => options.client_cmd = Some(value()?),
                other => return Err(format!("autobahn: unknown argument `{other}`\n{USAGE}")),
            }
        }
        if !options.server_runs && !options.client_runs {
            return Err("autobahn: --server-only and --client-only exclude each other".into());
        }
        Ok(options)
    }

    /// kosoku's `-i`/`-x` arguments: the `--cases` list, else groups 1-10, or the
    /// whole suite for a deflate run.
    fn selection(&self, deflate: bool) -> Vec<String> {
        match (&self.cases, deflate) {
            (Some(cases), _) => cases
                .iter()
                .flat_map(|c| ["-i".into(), c.clone()])
                .collect(),
            (None, true) => Vec::new(),
            (None, false) => DEFLATE_GROUPS
                .iter()
                .flat_map(|group| ["-x".to_string(), (*group).to_string()])
                .collect(),
        }
    }

    /// Cases at once for a run with or without `--deflate`.
    fn parallelism(&self, deflate: bool) -> u32 {
        self.parallelism.unwrap_or(if deflate {
            DEFLATE_PARALLELISM
        } else {
            DEFAULT_PARALLELISM
        })
    }
}

/// Which side kosoku plays: it fuzzes our server, or serves cases to our client.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

/// One Autobahn run: a program under test and the cases it is put through.
struct Run {
    name: String,
    side: Side,
    /// The program and its arguments; `{port}` / `{url}` in them are filled in.
    command: Vec<String>,
    selection: Vec<String>,
    /// Cases at once: kosoku's `-p` for a server run; a client run passes it in
    /// `command` (a `--client-cmd` program runs its cases as it likes).
    parallelism: u32,
}

/// Runs the task; `Err` if a run could not be carried out or any case failed.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let options = Options::parse(args)?;
    let root = workspace_root();
    let runs = plan(&options, &root)?;
    let kosoku = crate::setup::ensure_venv(&root)?.join("kosoku");
    let reports = root.join("reports").join("autobahn");

    let mut failed = Vec::new();
    for run in &runs {
        let out = reports.join(&run.name);
        let started = Instant::now();
        let children_before = children_cpu();
        let played = match run.side {
            Side::Server => run_server(run, &kosoku, &out),
            Side::Client => run_client(run, &kosoku, &out),
        };
        let seconds = started.elapsed().as_secs_f64();
        // Both programs have been waited for by now, so their CPU time is in ours.
        let cpu = match (&played, children_before, children_cpu()) {
            (Ok(played), Some(before), Some(after)) => cpu_note(after - before, played.peer_cpu),
            _ => String::new(),
        };
        let outcome = played.and_then(|played| summarise(&out.join("index.json"), played.expected));
        let shown = out
            .strip_prefix(&root)
            .unwrap_or(&out)
            .display()
            .to_string();
        match outcome {
            Ok(summary) if summary.passed() => {
                println!(
                    "xtask: autobahn {}: ok ({seconds:.1}s{cpu}) {}",
                    run.name,
                    summary.line()
                );
            }
            Ok(summary) => {
                println!(
                    "xtask: autobahn {}: FAILED ({seconds:.1}s{cpu}) {}; see {shown}/index.html",
                    run.name,
                    summary.line()
                );
                failed.push(run.name.clone());
            }
            Err(error) => {
                println!(
                    "xtask: autobahn {}: FAILED ({seconds:.1}s): {error}; logs in {shown}/",
                    run.name
                );
                failed.push(run.name.clone());
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(format!("autobahn: failed runs: {}", failed.join(", ")))
    }
}

/// Lists the runs the options ask for, building `wsd` if one of them needs it.
fn plan(options: &Options, root: &Path) -> Result<Vec<Run>, String> {
    let needs_wsd = (options.server_runs && options.server_cmd.is_none())
        || (options.client_runs && options.client_cmd.is_none());
    let wsd = if needs_wsd {
        wsd_binary(options, root)?
    } else {
        String::new()
    };
    let server_runtimes = match &options.runtime {
        Some(runtime) => vec![runtime.as_str()],
        None => RUNTIMES.to_vec(),
    };
    // The client is the same code on every runtime bar the adapter, so one will do.
    let client_runtimes = vec![options.runtime.as_deref().unwrap_or("tokio")];
    let mut runs = Vec::new();
    for (side, wanted, template) in [
        (Side::Server, options.server_runs, &options.server_cmd),
        (Side::Client, options.client_runs, &options.client_cmd),
    ] {
        if !wanted {
            continue;
        }
        let (label, runtimes) = match side {
            Side::Server => ("server", &server_runtimes),
            Side::Client => ("client", &client_runtimes),
        };
        if let Some(template) = template {
            runs.push(Run {
                name: format!("{label}-cmd"),
                side,
                // `exec` makes the shell become the program, so stopping the child stops it.
                command: vec!["sh".into(), "-c".into(), format!("exec {template}")],
                selection: options.selection(options.deflate),
                parallelism: options.parallelism(!options.plain),
            });
            continue;
        }
        for runtime in runtimes {
            for deflate in [false, true] {
                if (deflate && !options.deflate) || (!deflate && !options.plain) {
                    continue;
                }
                let parallelism = options.parallelism(deflate);
                let mut command = vec![wsd.clone()];
                let args = match side {
                    Side::Server => vec!["serve", "--addr", "127.0.0.1:{port}"],
                    Side::Client => vec!["autobahn-client", "--server", "{url}", "--agent", "wsd"],
                };
                command.extend(args.into_iter().map(String::from));
                command.extend(["--runtime".to_string(), (*runtime).to_string()]);
                if side == Side::Client {
                    command.extend(["--concurrency".to_string(), parallelism.to_string()]);
                }
                if deflate {
                    command.push("--deflate".into());
                }
                let suffix = if deflate { "-deflate" } else { "" };
                runs.push(Run {
                    name: format!("{label}-{runtime}{suffix}"),
                    side,
                    command,
                    selection: options.selection(deflate),
                    parallelism,
                });
            }
        }
    }
    Ok(runs)
}

/// The runs `run(args)` would make, as (name, kosoku's case selection), without
/// building or running anything: `args` must name the programs (`--wsd`, or
/// `--server-cmd` and `--client-cmd`).
#[cfg(test)]
pub(crate) fn planned(args: &[String]) -> Result<Vec<(String, Vec<String>)>, String> {
    let runs = plan(&Options::parse(args)?, Path::new("."))?;
    Ok(runs
        .into_iter()
        .map(|run| (run.name, run.selection))
        .collect())
}

/// `--wsd PATH`, or a fresh release build of `wsd-cli` in the target directory
/// (`CARGO_TARGET_DIR` when set, else `<workspace>/target`).
fn wsd_binary(options: &Options, root: &Path) -> Result<String, String> {
    if let Some(path) = &options.wsd {
        return Ok(path.display().to_string());
    }
    let mut build = cargo();
    build.args(["build", "--release", "--quiet", "-p", "wsd-cli"]);
    step("autobahn build", build)?;
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        // Cargo reads a relative CARGO_TARGET_DIR against the directory it runs in.
        Some(dir) => std::env::current_dir()
            .map_err(|e| format!("autobahn: no current directory: {e}"))?
            .join(dir),
        None => root.join("target"),
    };
    let binary = target
        .join("release")
        .join(format!("wsd{}", std::env::consts::EXE_SUFFIX));
    if !binary.is_file() {
        return Err(format!("autobahn: the build left no {}", binary.display()));
    }
    Ok(binary.display().to_string())
}

/// What a run left besides its report.
struct Played {
    /// How many cases the report must hold, when kosoku's own count is not enough.
    expected: Option<usize>,
    /// The CPU time of the program under test, as last seen while it ran.
    peer_cpu: Option<Duration>,
}

/// Fuzzes a server under test. `expected` is `None`: kosoku runs every selected
/// case itself, so the report's own count is complete.
fn run_server(run: &Run, kosoku: &Path, out: &Path) -> Result<Played, String> {
    fresh_dir(out)?;
    let port = free_port()?;
    let mut server = Peer::spawn(
        &fill(&run.command, "{port}", &port.to_string()),
        "the server under test",
        &out.join("peer.log"),
    )?;
    server.wait_listening(port)?;
    let mut fuzzer = Command::new(kosoku);
    fuzzer
        .arg("-p")
        .arg(run.parallelism.to_string())
        .arg("-o")
        .arg(out)
        .args(&run.selection)
        .arg(format!("127.0.0.1:{port}"));
    let mut fuzzer = Peer::spawn_command(fuzzer, "kosoku", &out.join("kosoku.log"))?;
    // kosoku exits non-zero whenever a case fails; the report tells how, so its
    // status only matters when it left no report (checked by the summary).
    let finished = fuzzer.wait(RUN_TIMEOUT);
    if server.exited() {
        return Err("the server under test exited during the run".into());
    }
    finished.map(|_| Played {
        expected: None,
        peer_cpu: server.cpu,
    })
}

/// Serves the cases to a client under test. `expected` is the number of cases
/// kosoku offered, since its report only lists the cases the client asked for.
fn run_client(run: &Run, kosoku: &Path, out: &Path) -> Result<Played, String> {
    fresh_dir(out)?;
    let port = free_port()?;
    let mut fuzzer = Command::new(kosoku);
    fuzzer
        .args(["-m", "fuzzingserver", "-o"])
        .arg(out)
        .args(&run.selection)
        .arg(format!("127.0.0.1:{port}"));
    let mut fuzzer = Peer::spawn_command(fuzzer, "kosoku", &out.join("kosoku.log"))?;
    fuzzer.wait_listening(port)?;
    let expected = case_count(port)?;
    let url = format!("ws://127.0.0.1:{port}");
    let mut client = Peer::spawn(
        &fill(&run.command, "{url}", &url),
        "the client under test",
        &out.join("peer.log"),
    )?;
    let status = client.wait(RUN_TIMEOUT)?;
    // A client that failed has most likely not asked for the report, so kosoku gets
    // only a moment to write one before it is stopped.
    let grace = if status.success() {
        REPORT_TIMEOUT
    } else {
        Duration::from_secs(3)
    };
    fuzzer
        .wait(grace)
        .map_err(|e| format!("{e} (the client ended with {status}; did it call updateReports?)"))?;
    Ok(Played {
        expected: Some(expected),
        peer_cpu: client.cpu,
    })
}

/// `, cpu: kosoku Ks + under test Ps` from the CPU time of both programs of a run
/// and that of the one under test: on a shared machine the wall time says little,
/// and kosoku's share is the floor no setting of ours can lower.
fn cpu_note(both: Duration, peer: Option<Duration>) -> String {
    match peer {
        Some(peer) => format!(
            ", cpu: kosoku {:.1}s + under test {:.1}s",
            both.saturating_sub(peer).as_secs_f64(),
            peer.as_secs_f64()
        ),
        None => format!(", cpu: {:.1}s", both.as_secs_f64()),
    }
}

/// The user + system CPU time of this process's waited-for children (Linux's
/// `/proc/self/stat`; `None` elsewhere).
fn children_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    stat_cpu(&stat, true)
}

/// The CPU time in a `/proc/<pid>/stat` line: the process's own (utime + stime) or
/// its waited-for children's (cutime + cstime). The fields are counted after the
/// `)` that ends the command name, which may itself hold spaces and parentheses.
fn stat_cpu(stat: &str, children: bool) -> Option<Duration> {
    // USER_HZ: /proc counts in hundredths of a second on every Linux target.
    const TICKS_PER_SECOND: u64 = 100;
    let fields: Vec<&str> = stat
        .get(stat.rfind(')')? + 1..)?
        .split_whitespace()
        .collect();
    // Field 3 (state) is fields[0]; utime, stime, cutime, cstime are fields 14-17.
    let first = if children { 13 } else { 11 };
    let user: u64 = fields.get(first)?.parse().ok()?;
    let system: u64 = fields.get(first + 1)?.parse().ok()?;
    Some(Duration::from_millis(
        (user + system) * 1000 / TICKS_PER_SECOND,
    ))
}

/// A child process that is killed when dropped, so no run leaves a server behind.
struct Peer {
    child: Child,
    name: &'static str,
    /// Its CPU time when last looked at while it ran (Linux only).
    cpu: Option<Duration>,
}

impl Peer {
    fn spawn(command: &[String], name: &'static str, log: &Path) -> Result<Self, String> {
        let (program, args) = command.split_first().ok_or("empty command")?;
        let mut built = Command::new(program);
        built.args(args);
        Self::spawn_command(built, name, log)
    }

    fn spawn_command(mut command: Command, name: &'static str, log: &Path) -> Result<Self, String> {
        let file = std::fs::File::create(log)
            .map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let errors = file
            .try_clone()
            .map_err(|e| format!("cannot share {}: {e}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(errors)
            .spawn()
            .map_err(|e| format!("cannot start {name} ({:?}): {e}", command.get_program()))?;
        Ok(Self {
            child,
            name,
            cpu: None,
        })
    }

    fn exited(&mut self) -> bool {
        self.note_cpu();
        !matches!(self.child.try_wait(), Ok(None))
    }

    /// Notes the process's CPU time so far. Until it is waited for, even once it
    /// has ended, `/proc` still has it.
    fn note_cpu(&mut self) {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()));
        if let Some(cpu) = stat.ok().and_then(|stat| stat_cpu(&stat, false)) {
            self.cpu = Some(cpu);
        }
    }

    /// Waits until something accepts TCP connections on `port`, failing early if
    /// this process exits first.
    fn wait_listening(&mut self, port: u16) -> Result<(), String> {
        let deadline = Instant::now() + LISTEN_TIMEOUT;
        let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        loop {
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "{} exited ({status}) before listening on port {port}",
                    self.name
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "{} did not listen on port {port} within {}s",
                    self.name,
                    LISTEN_TIMEOUT.as_secs()
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits for the process to exit, killing it after `timeout`.
    fn wait(&mut self, timeout: Duration) -> Result<std::process::ExitStatus, String> {
        let deadline = Instant::now() + timeout;
        loop {
            self.note_cpu();
            match self.child.try_wait() {
                Ok(Some(status)) => return Ok(status),
                Ok(None) if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    return Err(format!(
                        "{} did not finish within {}s and was stopped",
                        self.name,
                        timeout.as_secs()
                    ));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(100)),
                Err(e) => return Err(format!("waiting for {} failed: {e}", self.name)),
            }
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn fill(command: &[String], placeholder: &str, value: &str) -> Vec<String> {
    command
        .iter()
        .map(|arg| arg.replace(placeholder, value))
        .collect()
}

/// Empties a run's report directory, so a stale `index.json` cannot pass for a new one.
fn fresh_dir(dir: &Path) -> Result<(), String> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
}

/// A port that was free a moment ago; the race with other programs is accepted.
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Asks the fuzzing server's `/getCaseCount` how many cases it offers, speaking
/// just enough WebSocket for it: the upgrade request, one unmasked text frame back,
/// then a masked empty Close.
fn case_count(port: u16) -> Result<usize, String> {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))
        .map_err(|e| format!("getCaseCount: cannot connect: {e}"))?;
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let request = format!(
        "GET /getCaseCount HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .map_err(|e| format!("getCaseCount: {e}"))?;
    let mut received = Vec::new();
    let mut chunk = [0; 1024];
    loop {
        if let Some(count) = parse_case_count(&received)? {
            let _ = stream.write_all(&[0x88, 0x80, 0, 0, 0, 0]);
            return Ok(count);
        }
        match stream.read(&mut chunk) {
            Ok(0) => return Err("getCaseCount: connection closed before the answer".into()),
            Ok(n) => received.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("getCaseCount: {e}")),
        }
    }
}

/// Reads the case count out of the bytes received so far: `None` while incomplete.
fn parse_case_count(received: &[u8]) -> Result<Option<usize>, String> {
    let Some(head_end) = received.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    if !received.starts_with(b"HTTP/1.1 101") {
        let status = received.split(|&b| b == b'\r').next().unwrap_or_default();
        return Err(format!(
            "getCaseCount: upgrade refused: {}",
            String::from_utf8_lossy(status)
        ));
    }
    let frame = &received[head_end + 4..];
    let [first, second, ..] = *frame else {
        return Ok(None);
    };
    // A short unmasked text frame: FIN + opcode 1, then a 7-bit length.
    if first != 0x81 || second >= 126 {
        return Err(format!(
            "getCaseCount: unexpected frame header {first:#04x} {second:#04x}"
        ));
    }
    let Some(payload) = frame.get(2..2 + usize::from(second)) else {
        return Ok(None);
    };
    let text = String::from_utf8_lossy(payload);
    text.trim()
        .parse()
        .map(Some)
        .map_err(|_| format!("getCaseCount: not a number: {text:?}"))
}

/// What one run's `index.json` says.
#[derive(Debug)]
struct Summary {
    agents: Vec<String>,
    cases: usize,
    expected: Option<usize>,
    behaviour: BTreeMap<(usize, String), usize>,
    closing: BTreeMap<(usize, String), usize>,
    not_ok: Vec<String>,
}

impl Summary {
    fn passed(&self) -> bool {
        self.cases > 0 && self.not_ok.is_empty() && self.expected.is_none_or(|n| n == self.cases)
    }

    fn line(&self) -> String {
        let counts = |map: &BTreeMap<(usize, String), usize>| {
            map.iter()
                .map(|((_, label), n)| format!("{label} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut line = format!("agent {}: {} cases", self.agents.join("+"), self.cases);
        if let Some(expected) = self.expected.filter(|&n| n != self.cases) {
            line.push_str(&format!(" of {expected} offered"));
        }
        line.push_str(&format!(
            ": {}; close: {}",
            counts(&self.behaviour),
            counts(&self.closing)
        ));
        if !self.not_ok.is_empty() {
            line.push_str(&format!("; not OK: {}", self.not_ok.join(" ")));
        }
        line
    }
}

/// Reads a report's `index.json`: `{agent: {case id: {behavior, behaviorClose, ...}}}`.
fn summarise(index: &Path, expected: Option<usize>) -> Result<Summary, String> {
    let text = std::fs::read_to_string(index)
        .map_err(|e| format!("no report ({}: {e})", index.display()))?;
    summarise_text(&text, expected)
}

fn summarise_text(text: &str, expected: Option<usize>) -> Result<Summary, String> {
    let index = json::parse(text)?;
    let agents = index.as_object().ok_or("index.json is not an object")?;
    let mut summary = Summary {
        agents: Vec::new(),
        cases: 0,
        expected,
        behaviour: BTreeMap::new(),
        closing: BTreeMap::new(),
        not_ok: Vec::new(),
    };
    let mut not_ok = Vec::new();
    for (agent, cases) in agents {
        summary.agents.push(agent.clone());
        let cases = cases
            .as_object()
            .ok_or_else(|| format!("index.json: agent {agent} has no cases"))?;
        for (id, case) in cases {
            summary.cases += 1;
            let behaviour = label(case, "behavior");
            // Older reports may lack behaviorClose; then only the behaviour counts.
            let closing = case
                .get("behaviorClose")
                .map(|_| label(case, "behaviorClose"));
            let bad = !ACCEPTED.contains(&behaviour.as_str())
                || closing.as_deref().is_some_and(|c| !ACCEPTED.contains(&c));
            if bad {
                not_ok.push(id.clone());
            }
            *summary
                .behaviour
                .entry((rank(&behaviour), behaviour))
                .or_default() += 1;
            if let Some(closing) = closing {
                *summary
                    .closing
                    .entry((rank(&closing), closing))
                    .or_default() += 1;
            }
        }
    }
    not_ok.sort_by_key(|id| case_sort_key(id));
    not_ok.dedup();
    summary.not_ok = not_ok;
    Ok(summary)
}

fn label(case: &Json, key: &str) -> String {
    case.get(key)
        .and_then(Json::as_str)
        .unwrap_or("MISSING")
        .to_string()
}

/// Orders verdicts from best to worst in the summary line.
fn rank(label: &str) -> usize {
    const ORDER: [&str; 9] = [
        "OK",
        "INFORMATIONAL",
        "NON-STRICT",
        "WRONG CODE",
        "UNCLEAN",
        "FAILED BY CLIENT",
        "FAILED",
        "UNIMPLEMENTED",
        "ERROR",
    ];
    ORDER
        .iter()
        .position(|&known| known == label)
        .unwrap_or(ORDER.len())
}

/// `9.10.1` sorts after `9.2.1`.
fn case_sort_key(id: &str) -> Vec<u32> {
    id.split('.')
        .map(|part| part.parse().unwrap_or(u32::MAX))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{
        Options, ci_deflate_cases, cpu_note, parse_case_count, plan, stat_cpu, summarise_text,
    };
    use std::path::Path;
    use std::time::Duration;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_string()).collect()
    }

    #[test]
    fn default_selection_leaves_out_the_deflate_groups() {
        let options = Options::parse(&[]).unwrap();
        assert_eq!(
            options.selection(false),
            args(&["-x", "12.*", "-x", "13.*"])
        );
        assert!(options.selection(true).is_empty());
        let options = Options::parse(&args(&["--cases", "1.*, 9.7.1,"])).unwrap();
        assert_eq!(options.selection(true), args(&["-i", "1.*", "-i", "9.7.1"]));
    }

    #[test]
    fn plan_runs_every_runtime_then_the_client() {
        let names = |list: &[&str]| {
            let options = Options::parse(&args(list)).unwrap();
            let runs = plan(&options, Path::new(".")).unwrap();
            runs.into_iter().map(|run| run.name).collect::<Vec<_>>()
        };
        assert_eq!(
            names(&["--wsd", "wsd"]),
            [
                "server-tokio",
                "server-async-std",
                "server-smol",
                "client-tokio"
            ]
        );
        assert_eq!(
            names(&["--wsd", "wsd", "--runtime", "smol", "--deflate"]),
            [
                "server-smol",
                "server-smol-deflate",
                "client-smol",
                "client-smol-deflate"
            ]
        );
        assert_eq!(
            names(&["--wsd", "wsd", "--deflate-only"]),
            [
                "server-tokio-deflate",
                "server-async-std-deflate",
                "server-smol-deflate",
                "client-tokio-deflate"
            ]
        );
        assert_eq!(
            names(&["--server-cmd", "x {port}", "--client-cmd", "y {url}"]),
            ["server-cmd", "client-cmd"]
        );
        let options = Options::parse(&args(&["--wsd", "w", "--client-only", "--deflate"])).unwrap();
        let runs = plan(&options, Path::new(".")).unwrap();
        assert_eq!(
            runs[1].command,
            args(&[
                "w",
                "autobahn-client",
                "--server",
                "{url}",
                "--agent",
                "wsd",
                "--runtime",
                "tokio",
                "--concurrency",
                "4",
                "--deflate"
            ])
        );
        assert!(runs[1].selection.is_empty());
    }

    #[test]
    fn deflate_runs_take_more_cases_at_once_unless_told() {
        // Each run as "name parallelism [--concurrency N passed to the client]".
        let described = |list: &str| {
            let options = Options::parse(&args(&list.split(' ').collect::<Vec<_>>())).unwrap();
            let runs = plan(&options, Path::new(".")).unwrap();
            runs.into_iter()
                .map(|run| {
                    let mut line = format!("{} {}", run.name, run.parallelism);
                    if let Some(i) = run.command.iter().position(|a| a == "--concurrency") {
                        line.push_str(&format!(" --concurrency {}", run.command[i + 1]));
                    }
                    line
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            described("--wsd w --runtime tokio --deflate"),
            [
                "server-tokio 2",
                "server-tokio-deflate 4",
                "client-tokio 2 --concurrency 2",
                "client-tokio-deflate 4 --concurrency 4"
            ]
        );
        assert_eq!(
            described("--wsd w --runtime smol --deflate-only --parallelism 3"),
            [
                "server-smol-deflate 3",
                "client-smol-deflate 3 --concurrency 3"
            ]
        );
        // A command of one's own gets no --concurrency; its server run gets -p.
        assert_eq!(
            described("--deflate-only --server-cmd s --client-cmd c"),
            ["server-cmd 4", "client-cmd 4"]
        );
    }

    #[test]
    fn ci_deflate_cases_cover_every_subgroup_of_12_and_13() {
        let cases = ci_deflate_cases();
        let list: Vec<&str> = cases.split(',').collect();
        assert_eq!(list.len(), 96);
        assert_eq!(
            (list[0], list[8], list[95]),
            ("12.1.1", "12.2.1", "13.7.11")
        );
    }

    #[test]
    fn options_reject_contradictions_and_unknown_runtimes() {
        assert!(Options::parse(&args(&["--server-only", "--client-only"])).is_err());
        assert!(Options::parse(&args(&["--runtime", "glommio"])).is_err());
        assert!(Options::parse(&args(&["--parallelism", "0"])).is_err());
        assert!(Options::parse(&args(&["--cases"])).is_err());
    }

    #[test]
    fn summary_fails_non_strict_and_bad_closes_and_lists_them_in_order() {
        let index = r#"{"agent": {
            "9.10.1": {"behavior": "OK", "behaviorClose": "OK"},
            "1.1.1": {"behavior": "OK", "behaviorClose": "OK"},
            "6.4.1": {"behavior": "NON-STRICT", "behaviorClose": "OK"},
            "7.1.5": {"behavior": "OK", "behaviorClose": "WRONG CODE"},
            "9.2.1": {"behavior": "INFORMATIONAL", "behaviorClose": "INFORMATIONAL"}
        }}"#;
        let summary = summarise_text(index, None).unwrap();
        assert!(!summary.passed());
        assert_eq!(summary.not_ok, ["6.4.1", "7.1.5"]);
        assert_eq!(
            summary.line(),
            "agent agent: 5 cases: OK 3, INFORMATIONAL 1, NON-STRICT 1; \
             close: OK 3, INFORMATIONAL 1, WRONG CODE 1; not OK: 6.4.1 7.1.5"
        );
    }

    #[test]
    fn summary_passes_only_a_complete_clean_report() {
        let index = r#"{"wsd": {"1.1.1": {"behavior": "OK", "behaviorClose": "OK"},
                                 "1.1.2": {"behavior": "INFORMATIONAL", "behaviorClose": "OK"}}}"#;
        assert!(summarise_text(index, None).unwrap().passed());
        assert!(summarise_text(index, Some(2)).unwrap().passed());
        let short = summarise_text(index, Some(3)).unwrap();
        assert!(!short.passed());
        assert!(short.line().contains("2 cases of 3 offered"));
        assert!(!summarise_text("{}", None).unwrap().passed());
    }

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // pid (comm) state ppid ... utime stime cutime cstime: 1234, 56, 700, 89 ticks.
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1234 56 700 89 20 0 1 0";
        assert_eq!(stat_cpu(stat, false), Some(Duration::from_millis(12_900)));
        assert_eq!(stat_cpu(stat, true), Some(Duration::from_millis(7_890)));
        assert_eq!(stat_cpu("42 (a) S 1 2", false), None);
        assert_eq!(stat_cpu("no parenthesis", true), None);
        assert_eq!(
            cpu_note(Duration::from_millis(43_250), Some(Duration::from_secs(20))),
            ", cpu: kosoku 23.2s + under test 20.0s"
        );
        assert_eq!(cpu_note(Duration::from_secs(3), None), ", cpu: 3.0s");
    }

    #[test]
    fn case_count_is_read_from_the_first_text_frame() {
        let head = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        assert_eq!(parse_case_count(&head[..20]), Ok(None));
        assert_eq!(parse_case_count(head), Ok(None));
        let mut full = head.to_vec();
        full.extend_from_slice(&[0x81, 3, b'3', b'0']);
        assert_eq!(parse_case_count(&full), Ok(None));
        full.push(b'1');
        assert_eq!(parse_case_count(&full), Ok(Some(301)));
        assert!(parse_case_count(b"HTTP/1.1 404 Not Found\r\n\r\n").is_err());
    }
}
