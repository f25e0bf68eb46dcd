//! Child processes the tasks start: run with a log, killed when dropped, waited for
//! until they listen or exit, and measured (CPU time and memory) through `/proc`.

use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user + system CPU time of this process's waited-for children (Linux's
/// `/proc/self/stat`; `None` elsewhere).
pub(crate) fn children_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    stat_cpu(&stat, true)
}

/// The CPU time in a `/proc/<pid>/stat` line: the process's own (utime + stime) or
/// its waited-for children's (cutime + cstime). The fields are counted after the
/// `)` that ends the command name, which may itself hold spaces and parentheses.
pub(crate) fn stat_cpu(stat: &str, children: bool) -> Option<Duration> {
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
pub(crate) struct Peer {
    child: Child,
    name: &'static str,
    /// Its CPU time when last looked at while it ran (Linux only).
    pub(crate) cpu: Option<Duration>,
}

impl Peer {
    pub(crate) fn spawn(
        command: &[String],
        name: &'static str,
        log: &Path,
    ) -> Result<Self, String> {
        let (program, args) = command.split_first().ok_or("empty command")?;
        let mut built = Command::new(program);
        built.args(args);
        Self::spawn_command(built, name, log)
    }

    pub(crate) fn spawn_command(
        mut command: Command,
        name: &'static str,
        log: &Path,
    ) -> Result<Self, String> {
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

    pub(crate) fn exited(&mut self) -> bool {
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

    /// Waits until something accepts TCP connections on `port`, at most `timeout`,
    /// failing early if this process exits first.
    pub(crate) fn wait_listening(&mut self, port: u16, timeout: Duration) -> Result<(), String> {
        wait_listening(&mut self.child, self.name, port, timeout)
    }

    /// Waits for the process to exit, killing it after `timeout`.
    pub(crate) fn wait(&mut self, timeout: Duration) -> Result<std::process::ExitStatus, String> {
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
            stop(&mut self.child);
        }
    }
}

/// Waits until something accepts TCP connections on `port` of the loopback
/// address, at most `timeout`, failing early if `child` (called `name` in the
/// errors) exits first.
pub(crate) fn wait_listening(
    child: &mut Child,
    name: &str,
    port: u16,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    loop {
        if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return Ok(());
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!(
                "{name} exited ({status}) before listening on port {port}"
            ));
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{name} did not listen on port {port} within {}s",
                timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Stops `child` and waits for it, so it leaves no zombie behind.
pub(crate) fn stop(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// The resident memory of process `pid` now (`VmRSS` of `/proc/<pid>/status`).
pub(crate) fn vm_rss_kib(pid: u32) -> Result<u64, String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .map_err(|e| format!("/proc/{pid}/status: {e}"))?;
    status
        .lines()
        .find_map(|l| {
            l.strip_prefix("VmRSS:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .ok_or_else(|| "no VmRSS".to_string())
}

/// A port that was free a moment ago; the race with other programs is accepted.
pub(crate) fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .map_err(|e| format!("no free port: {e}"))
}

#[cfg(test)]
mod tests {
    use super::stat_cpu;
    use std::time::Duration;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        // pid (comm) state ppid ... utime stime cutime cstime: 1234, 56, 700, 89 ticks.
        let stat = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 1234 56 700 89 20 0 1 0";
        assert_eq!(stat_cpu(stat, false), Some(Duration::from_millis(12_900)));
        assert_eq!(stat_cpu(stat, true), Some(Duration::from_millis(7_890)));
        assert_eq!(stat_cpu("42 (a) S 1 2", false), None);
        assert_eq!(stat_cpu("no parenthesis", true), None);
    }
}
