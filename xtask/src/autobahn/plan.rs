//! The runs an autobahn invocation makes: which program under test, on which side of
//! kosoku, through which cases.

use super::options::{Options, RUNTIMES};
use crate::util::{cargo, step, target_dir};

/// Which side kosoku plays: it fuzzes our server, or serves cases to our client.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Side {
    Server,
    Client,
}

/// One Autobahn run: a program under test and the cases it is put through.
pub(super) struct Run {
    pub(super) name: String,
    pub(super) side: Side,
    /// The program and its arguments; `{port}` / `{url}` in them are filled in.
    pub(super) command: Vec<String>,
    pub(super) selection: Vec<String>,
    /// Cases at once: kosoku's `-p` for a server run; a client run passes it in
    /// `command` (a `--client-cmd` program runs its cases as it likes).
    pub(super) parallelism: u32,
}

/// Lists the runs the options ask for, building `wsd` if one of them needs it.
pub(super) fn plan(options: &Options) -> Result<Vec<Run>, String> {
    let needs_wsd = (options.server_runs && options.server_cmd.is_none())
        || (options.client_runs && options.client_cmd.is_none());
    let wsd = if needs_wsd {
        wsd_binary(options)?
    } else {
        String::new()
    };
    // What a server run serves with: a runtime's own handshake, or a stack.
    let server_runtimes: Vec<(&str, &str)> = match (&options.stack, &options.runtime) {
        (Some(stack), _) => vec![("--stack", stack.as_str())],
        (None, Some(runtime)) => vec![("--runtime", runtime.as_str())],
        (None, None) => RUNTIMES.iter().map(|r| ("--runtime", *r)).collect(),
    };
    // The client is the same code on every runtime bar the adapter, so one will do.
    let client_runtimes = vec![("--runtime", options.runtime.as_deref().unwrap_or("tokio"))];
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
        for (flag, runtime) in runtimes {
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
                command.extend([(*flag).to_string(), (*runtime).to_string()]);
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
    let runs = plan(&Options::parse(args)?)?;
    Ok(runs
        .into_iter()
        .map(|run| (run.name, run.selection))
        .collect())
}

/// `--wsd PATH`, or a fresh release build of `wsd-cli` in the target directory.
fn wsd_binary(options: &Options) -> Result<String, String> {
    if let Some(path) = &options.wsd {
        return Ok(path.display().to_string());
    }
    let mut build = cargo();
    build.args(["build", "--release", "--quiet", "-p", "wsd-cli"]);
    step("autobahn build", build)?;
    let binary = target_dir()
        .join("release")
        .join(format!("wsd{}", std::env::consts::EXE_SUFFIX));
    if !binary.is_file() {
        return Err(format!("autobahn: the build left no {}", binary.display()));
    }
    Ok(binary.display().to_string())
}

#[cfg(test)]
mod tests {
    use super::plan;
    use crate::autobahn::options::{Options, args};

    #[test]
    fn plan_runs_every_runtime_then_the_client() {
        let names = |list: &[&str]| {
            let options = Options::parse(&args(list)).unwrap();
            let runs = plan(&options).unwrap();
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
        // A stack is served on tokio and has no client run.
        assert_eq!(
            names(&["--wsd", "wsd", "--stack", "axum", "--deflate"]),
            ["server-axum", "server-axum-deflate"]
        );
        let stack = Options::parse(&args(&["--wsd", "w", "--stack", "hyper"])).unwrap();
        let runs = plan(&stack).unwrap();
        assert!(
            runs[0]
                .command
                .windows(2)
                .any(|w| w == ["--stack", "hyper"])
        );
        assert!(Options::parse(&args(&["--stack", "actix"])).is_err());
        assert!(Options::parse(&args(&["--stack", "hyper", "--runtime", "smol"])).is_err());
        let options = Options::parse(&args(&["--wsd", "w", "--client-only", "--deflate"])).unwrap();
        let runs = plan(&options).unwrap();
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
            let runs = plan(&options).unwrap();
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
}
