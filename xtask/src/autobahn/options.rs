//! The options of `cargo xtask autobahn`, and the case selections they make.

use std::path::PathBuf;

pub(super) const USAGE: &str = "usage: cargo xtask autobahn [options]

Runs kosoku's fuzzing client against `wsd serve` (runtimes tokio, async-std, smol) and
kosoku's fuzzing server against `wsd autobahn-client`; reports go to reports/autobahn/.

options:
  --cases LIST        comma-separated case ids or globs, e.g. '1.*,2.*,9.7.1'
                      (default: groups 1-10, i.e. all but 12.* and 13.*)
  --deflate           also run `wsd serve --deflate` / `autobahn-client --deflate`
                      on the whole suite, permessage-deflate groups 12 and 13 included
  --deflate-only      run only the --deflate runs (e.g. with --cases '12.*,13.*')
  --runtime R         test only runtime R (tokio, async-std or smol)
  --stack S           test `wsd serve --stack S` (hyper or axum) instead of the
                      runtimes' own handshake; server runs only
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

pub(super) const RUNTIMES: [&str; 3] = ["tokio", "async-std", "smol"];

/// The HTTP stacks `wsd serve --stack` can put in front of wsd.
pub(super) const STACKS: [&str; 2] = ["hyper", "axum"];

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

/// The part of groups 12 and 13 `cargo xtask ci` runs on the client, the
/// async-std and smol servers and the hyper and axum stacks (the tokio server gets
/// all of them; `DEFLATE_RUNS` in `ci.rs` says why): in every subgroup (the five data sets of 12, the seven
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

pub(super) struct Options {
    pub(super) cases: Option<Vec<String>>,
    pub(super) deflate: bool,
    /// The runs without `--deflate` (off with `--deflate-only`).
    pub(super) plain: bool,
    pub(super) runtime: Option<String>,
    /// `--stack`: serve through hyper or axum (server runs only).
    pub(super) stack: Option<String>,
    pub(super) server_runs: bool,
    pub(super) client_runs: bool,
    /// `--parallelism`; `None` picks per run.
    pub(super) parallelism: Option<u32>,
    pub(super) wsd: Option<PathBuf>,
    pub(super) server_cmd: Option<String>,
    pub(super) client_cmd: Option<String>,
}

impl Options {
    pub(super) fn parse(args: &[String]) -> Result<Self, String> {
        let mut options = Self {
            cases: None,
            deflate: false,
            plain: true,
            runtime: None,
            stack: None,
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
                "--stack" => {
                    let stack = value()?;
                    if !STACKS.contains(&stack.as_str()) {
                        return Err(format!(
                            "autobahn: unknown stack `{stack}` (one of {})",
                            STACKS.join(", ")
                        ));
                    }
                    options.stack = Some(stack);
                    // A stack is a server: there is no client to test through it.
                    options.client_runs = false;
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
            return Err(
                "autobahn: --server-only (or --stack) and --client-only exclude each other".into(),
            );
        }
        if options.stack.is_some() && options.runtime.is_some() {
            return Err("autobahn: --stack runs on tokio; leave out --runtime".into());
        }
        Ok(options)
    }

    /// kosoku's `-i`/`-x` arguments: the `--cases` list, else groups 1-10, or the
    /// whole suite for a deflate run.
    pub(super) fn selection(&self, deflate: bool) -> Vec<String> {
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
    pub(super) fn parallelism(&self, deflate: bool) -> u32 {
        self.parallelism.unwrap_or(if deflate {
            DEFLATE_PARALLELISM
        } else {
            DEFAULT_PARALLELISM
        })
    }
}

/// Owned arguments from string literals, for the tests of the options and the plan.
#[cfg(test)]
pub(super) fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

#[cfg(test)]
mod tests {
    use super::{Options, args, ci_deflate_cases};

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
}
