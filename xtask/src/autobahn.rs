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
//!
//! This file plays the runs; `options` parses the command line, `plan` turns it into
//! runs, `report` reads what kosoku wrote, and `crate::process` (shared with
//! `bench`) holds the child processes.

// The example is a program of its own; only its `first_message` is used here.
#[allow(dead_code, unreachable_pub)]
#[path = "../../crates/wsd-core/examples/blocking_client.rs"]
mod blocking_client;
mod options;
mod plan;
mod report;

pub(crate) use options::ci_deflate_cases;
#[cfg(test)]
pub(crate) use plan::planned;

use crate::process::{Peer, children_cpu, free_port};
use crate::util::workspace_root;
use options::{Options, USAGE};
use plan::{Run, Side, plan};
use report::summarise;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use wsd_core::Message;

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

/// Runs the task; `Err` if a run could not be carried out or any case failed.
pub(crate) fn run(args: &[String]) -> Result<(), String> {
    if args.iter().any(|arg| arg == "-h" || arg == "--help") {
        println!("{USAGE}");
        return Ok(());
    }
    let options = Options::parse(args)?;
    let root = workspace_root();
    let runs = plan(&options)?;
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
    server.wait_listening(port, LISTEN_TIMEOUT)?;
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
    fuzzer.wait_listening(port, LISTEN_TIMEOUT)?;
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

/// Asks the fuzzing server's `/getCaseCount` how many cases it offers: the first
/// message of a WebSocket to that path, read with a blocking `wsd_core::Connection`
/// (`wsd-core`'s `blocking_client` example).
fn case_count(port: u16) -> Result<usize, String> {
    let url = format!("ws://127.0.0.1:{port}/getCaseCount");
    let message = blocking_client::first_message(&url, Duration::from_secs(30))
        .map_err(|e| format!("getCaseCount: {e}"))?;
    let Message::Text(text) = message else {
        return Err(format!("getCaseCount: not a text message: {message:?}"));
    };
    text.as_str()
        .trim()
        .parse()
        .map_err(|_| format!("getCaseCount: not a number: {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::{case_count, cpu_note};
    use std::io::{Read, Write};
    use std::net::{Ipv4Addr, TcpListener};
    use std::thread;
    use std::time::Duration;
    use wsd_core::{Connection, Event, Message, Options};

    #[test]
    fn cpu_note_splits_kosokus_share_from_the_program_under_test() {
        assert_eq!(
            cpu_note(Duration::from_millis(43_250), Some(Duration::from_secs(20))),
            ", cpu: kosoku 23.2s + under test 20.0s"
        );
        assert_eq!(cpu_note(Duration::from_secs(3), None), ", cpu: 3.0s");
    }

    /// A one-connection server on a loopback port, driven by a blocking
    /// `wsd_core::Connection`; `answer` runs on its request.
    fn serve_once(answer: fn(&mut Connection)) -> (u16, thread::JoinHandle<()>) {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut conn = Connection::server(Options::default());
            let mut input = [0; 4096];
            loop {
                while let Some(event) = conn.poll_event() {
                    if event == Event::Request {
                        answer(&mut conn);
                    }
                }
                stream.write_all(&conn.poll_transmit_vec()).unwrap();
                if conn.wants_close() {
                    return;
                }
                match stream.read(&mut input).unwrap() {
                    0 => conn.handle_eof(),
                    n => conn.handle_input(&input[..n]),
                }
            }
        });
        (port, server)
    }

    #[test]
    fn case_count_is_the_first_text_message_of_get_case_count() {
        let (port, server) = serve_once(|conn| {
            assert_eq!(conn.request().unwrap().target, "/getCaseCount");
            conn.start().unwrap();
            conn.send(Message::text("301")).unwrap();
        });
        assert_eq!(case_count(port), Ok(301));
        server.join().unwrap();
    }

    #[test]
    fn case_count_fails_when_the_upgrade_is_refused_or_the_answer_is_no_number() {
        let (port, server) = serve_once(|conn| conn.respond(404, &[], b"").unwrap());
        let refused = case_count(port).unwrap_err();
        assert!(refused.contains("404"), "{refused}");
        server.join().unwrap();

        let (port, server) = serve_once(|conn| {
            conn.start().unwrap();
            conn.send(Message::text("many")).unwrap();
        });
        assert_eq!(
            case_count(port),
            Err("getCaseCount: not a number: \"many\"".to_owned())
        );
        server.join().unwrap();
    }
}
