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
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::{cpu_note, parse_case_count};
    use std::time::Duration;

    #[test]
    fn cpu_note_splits_kosokus_share_from_the_program_under_test() {
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
