//! The command line, parsed with clap's derive API.
//!
//! Every option that shapes a connection ends up in one place per command
//! ([`ServeArgs::options`], [`ConnectArgs::options`], [`AutobahnArgs::options`]), so
//! flags such as `--deflate` or `--allow-drafts` are added by declaring the field
//! here and setting the matching `wsd_core::Options` field there.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};
use wsd_core::Options;

/// The `wsd` command.
#[derive(Debug, Parser)]
#[command(
    name = "wsd",
    version,
    about = "WebSocket echo server, client and Autobahn TestSuite driver, built on wsd",
    long_about = "WebSocket echo server, client and Autobahn TestSuite driver, built on wsd.\n\n\
                  Try `wsd serve`, then open the printed address in a browser."
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
// Parsed once per process: boxing `serve`'s many flags would save nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Run an echo server that also serves a demo page at `/`.
    ///
    /// Every text and binary message is sent back unchanged (with --broadcast, to
    /// every open connection instead). A plain `GET /` gets a
    /// small HTML page that connects back over WebSocket; other plain requests get
    /// 404 (405 for methods other than GET).
    Serve(Box<ServeArgs>),
    /// Connect to a WebSocket server and bridge it to stdin and stdout.
    ///
    /// Each line read from stdin is sent as a text message (without its line
    /// ending). Each message received is printed on stdout: text as is, followed by a
    /// newline; binary as `<binary N bytes: HEX>` with the payload in lowercase hex.
    /// At the end of stdin the connection is closed with code 1000 and wsd waits for
    /// the server's close frame. The exit status is 0 after a normal close (1000,
    /// 1001 or no code) and 1 otherwise, with the reason on stderr.
    Connect(ConnectArgs),
    /// Run the Autobahn TestSuite client protocol against a fuzzing server.
    ///
    /// Asks `/getCaseCount`, runs `/runCase?case=N&agent=AGENT` for every case
    /// (echoing every text and binary message until the server closes), then asks
    /// `/updateReports?agent=AGENT` so the server writes its report.
    AutobahnClient(AutobahnArgs),
}

/// The async runtime that drives the connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Runtime {
    /// tokio, on a current-thread runtime.
    Tokio,
    /// async-std.
    AsyncStd,
    /// smol, on a single-threaded local executor.
    Smol,
}

/// The HTTP stack that answers requests and hands upgrades to wsd.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Stack {
    /// wsd's own HTTP/1.1 handshake, on any runtime.
    Own,
    /// A hyper 1.x server (`wsd-hyper`), on tokio.
    Hyper,
    /// An axum 0.8 router (`wsd-axum`), on tokio.
    Axum,
}

/// `wsd serve`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub(crate) addr: SocketAddr,
    /// The HTTP stack in front: wsd's own handshake, or a hyper or axum server that
    /// upgrades through wsd-hyper / wsd-axum (those run on tokio, and echo; the same
    /// demo page and routes either way).
    #[arg(long, value_enum, default_value_t = Stack::Own)]
    pub(crate) stack: Stack,
    /// The async runtime to use.
    #[arg(long, value_enum, default_value_t = Runtime::Tokio)]
    pub(crate) runtime: Runtime,
    /// Threads that serve the connections (default: one per core). With 1, tokio and
    /// smol run everything on the main thread; with more, one listener on the main
    /// thread hands each connection to a pool of N worker threads (tokio's
    /// multi-thread runtime, a shared smol executor, async-std's global executor
    /// sized to N). The hyper, axum and TLS servers run on tokio's.
    #[arg(long, value_name = "N", default_value_t = default_threads())]
    pub(crate) threads: NonZeroUsize,
    /// The largest message accepted, in bytes; bigger ones close the connection
    /// with 1009.
    #[arg(long, value_name = "BYTES", default_value_t = Options::DEFAULT_MAX_LENGTH)]
    pub(crate) max_length: usize,
    /// A subprotocol to accept (repeatable); the first one in the client's order that
    /// is listed here is chosen.
    #[arg(long = "protocol", value_name = "P")]
    pub(crate) protocols: Vec<String>,
    /// Negotiate permessage-deflate (RFC 7692) with clients that offer it.
    #[arg(long)]
    pub(crate) deflate: bool,
    /// Also accept the legacy Hixie-75 and Hixie-76 drafts (unmasked, unsafe on the
    /// open web; off by default).
    #[arg(long)]
    pub(crate) allow_drafts: bool,
    #[command(flatten)]
    pub(crate) room: crate::broadcast::BroadcastArgs,
    /// Keepalive pings.
    #[command(flatten)]
    pub(crate) keepalive: KeepaliveArgs,
    /// Idle timeout, connection limit, shutdown.
    #[command(flatten)]
    pub(crate) lifecycle: ServeLifecycleArgs,
    #[command(flatten)]
    pub(crate) tls: crate::h2serve::ServeTlsArgs,
}

impl ServeArgs {
    /// The driver options for every connection.
    pub(crate) fn options(&self) -> Options {
        let mut options = Options::default();
        options.max_length = self.max_length;
        options.protocols.clone_from(&self.protocols);
        options.allow_drafts = self.allow_drafts;
        self.keepalive.apply(&mut options);
        options.idle_timeout = self.lifecycle.idle_timeout;
        with_deflate(options, self.deflate)
    }
}

/// One thread per core, as far as the operating system tells (one when it does not).
fn default_threads() -> NonZeroUsize {
    std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
}

/// `--ping-interval` and `--ping-timeout`, for `serve` and `connect`.
#[derive(Debug, Clone, Args)]
pub(crate) struct KeepaliveArgs {
    /// Ping the peer after this long without hearing from it (`20`, `1.5`, `500ms`,
    /// `2m`); off by default.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) ping_interval: Option<Duration>,
    /// How long the peer has to send anything after a ping before the connection
    /// fails with 1011 "keepalive ping timeout".
    #[arg(
        long,
        value_name = "DURATION",
        value_parser = parse_duration,
        default_value = "20s",
        requires = "ping_interval"
    )]
    pub(crate) ping_timeout: Duration,
}

impl KeepaliveArgs {
    /// Sets `Options::keepalive` when `--ping-interval` is given.
    fn apply(&self, options: &mut Options) {
        options.keepalive = self
            .ping_interval
            .map(|interval| wsd_core::Keepalive::new(interval, self.ping_timeout));
    }
}

/// How `wsd serve` limits and ends connections.
#[derive(Debug, Clone, Args)]
pub(crate) struct ServeLifecycleArgs {
    /// Close a connection with 1001 after this long without a text or binary
    /// message either way; off by default.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub(crate) idle_timeout: Option<Duration>,
    /// At most this many WebSockets at once: further upgrade requests are answered
    /// 503 with `Retry-After`.
    #[arg(long, value_name = "N")]
    pub(crate) max_connections: Option<NonZeroUsize>,
    /// On SIGINT or SIGTERM every WebSocket gets close 1001; those still open after
    /// this long are dropped, and wsd exits (0). A second signal drops them at once.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration, default_value = "10s")]
    pub(crate) shutdown_timeout: Duration,
}

/// Parses a duration: seconds as a number (`20`, `0.5`), or with a unit (`500ms`,
/// `20s`, `2m`). Zero is refused: every timer here must be able to pass.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else if let Some(m) = text.strip_suffix('m') {
        (m, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("`{text}` is not a duration such as 20, 1.5s, 500ms or 2m"))?;
    let duration = Duration::try_from_secs_f64(value * scale)
        .map_err(|_| format!("`{text}` is not a duration such as 20, 1.5s, 500ms or 2m"))?;
    if duration.is_zero() {
        return Err(format!("`{text}`: the duration must be longer than zero"));
    }
    Ok(duration)
}

/// Adds permessage-deflate with its default configuration when `on`.
fn with_deflate(mut options: Options, on: bool) -> Options {
    if on {
        options
            .extensions
            .push(std::sync::Arc::new(wsd_deflate::PerMessageDeflate::new()));
    }
    options
}

/// `wsd connect`.
#[derive(Debug, Clone, Args)]
pub(crate) struct ConnectArgs {
    /// The server's URL, `ws://host[:port][/path]` or `wss://...` (TLS).
    #[arg(value_name = "URL")]
    pub(crate) url: String,
    /// A subprotocol to offer (repeatable), in order of preference.
    #[arg(long = "protocol", value_name = "P")]
    pub(crate) protocols: Vec<String>,
    /// An extra header for the handshake request (repeatable), as `Name: value`.
    #[arg(long = "header", value_name = "'NAME: VALUE'", value_parser = parse_header)]
    pub(crate) headers: Vec<(String, String)>,
    /// The async runtime to use.
    #[arg(long, value_enum, default_value_t = Runtime::Tokio)]
    pub(crate) runtime: Runtime,
    /// Offer permessage-deflate (RFC 7692).
    #[arg(long)]
    pub(crate) deflate: bool,
    /// Tunnel through this proxy: `http://[user:pass@]host:port` (CONNECT; the
    /// userinfo becomes `Proxy-Authorization: Basic`) or
    /// `socks5://[user:pass@]host:port` (`socks5h://` alike). Without it, the proxy
    /// the environment names is used (`http_proxy`, `all_proxy`, unless `no_proxy`
    /// lists the host).
    #[arg(long, value_name = "URL")]
    pub(crate) proxy: Option<String>,
    /// Ignore the proxy environment variables: connect directly unless `--proxy`
    /// is given.
    #[arg(long)]
    pub(crate) no_env_proxy: bool,
    /// Keepalive pings.
    #[command(flatten)]
    pub(crate) keepalive: KeepaliveArgs,
    #[command(flatten)]
    pub(crate) tls: crate::tls::ClientTlsArgs,
}

impl ConnectArgs {
    /// The proxy to go through: `--proxy`, else the environment's for the URL
    /// (unless `--no-env-proxy`).
    pub(crate) fn proxy(&self) -> Option<String> {
        if self.proxy.is_some() || self.no_env_proxy {
            return self.proxy.clone();
        }
        wsd_io::ProxyEnv::from_env()
            .proxy_for(&self.url)
            .map(str::to_owned)
    }

    /// The driver options for the connection.
    pub(crate) fn options(&self) -> Options {
        let mut options = Options::default();
        options.protocols.clone_from(&self.protocols);
        options.headers.clone_from(&self.headers);
        self.keepalive.apply(&mut options);
        with_deflate(options, self.deflate)
    }
}

/// `wsd autobahn-client`.
#[derive(Debug, Clone, Args)]
pub(crate) struct AutobahnArgs {
    /// The fuzzing server's base URL.
    #[arg(long, default_value = "ws://127.0.0.1:9001", value_name = "URL")]
    pub(crate) server: String,
    /// The async runtime to use.
    #[arg(long, value_enum, default_value_t = Runtime::Tokio)]
    pub(crate) runtime: Runtime,
    /// The agent name the results are filed under.
    #[arg(long, default_value = "wsd")]
    pub(crate) agent: String,
    /// Offer permessage-deflate in every case (for groups 12 and 13), twice:
    /// `permessage-deflate; client_max_window_bits, permessage-deflate;
    /// client_no_context_takeover; client_max_window_bits`, so that every server
    /// choice of group 13 (some accept only an offer allowing
    /// `client_no_context_takeover`) finds an offer.
    #[arg(long)]
    pub(crate) deflate: bool,
    /// How many cases to run at once, each on its own connection. 1 plays them one
    /// after another, as the suite's own clients do; kosoku's fuzzing server runs
    /// every `/runCase` connection on its own, so more keeps it and wsd busy at the
    /// same time. `/updateReports` is asked only once every case has ended.
    #[arg(long, value_name = "N", default_value_t = NonZeroUsize::MIN)]
    pub(crate) concurrency: NonZeroUsize,
}

impl AutobahnArgs {
    /// The driver options for every case. The default `max_length` (64 MiB) is above
    /// the suite's largest message (16 MiB in group 9).
    pub(crate) fn options(&self) -> Options {
        let mut options = Options::default();
        if self.deflate {
            // The response does not say which offer the server took, so a plain one
            // binds wsd to no context takeover too (see PerMessageDeflate::with_alternative):
            // smaller compression gains, which the suite does not grade.
            let deflate = wsd_deflate::PerMessageDeflate::new()
                .with_alternative(wsd_deflate::DeflateConfig::new().no_context_takeover(true))
                .expect("a default configuration with one flag set is valid");
            options.extensions.push(std::sync::Arc::new(deflate));
        }
        options
    }
}

/// Parses `Name: value` (spaces around the value are trimmed).
fn parse_header(text: &str) -> Result<(String, String), String> {
    let (name, value) = text
        .split_once(':')
        .ok_or_else(|| format!("`{text}` is not of the form 'Name: value'"))?;
    let name = name.trim();
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(format!(
            "`{text}` has no valid header name before the colon"
        ));
    }
    Ok((name.to_string(), value.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("wsd").chain(args.iter().copied()))
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_has_embedded_defaults() {
        let Command::Serve(serve) = parse(&["serve"]).unwrap().command else {
            panic!("not serve");
        };
        assert_eq!(serve.addr, "127.0.0.1:8080".parse().unwrap());
        assert_eq!(serve.runtime, Runtime::Tokio);
        assert_eq!(serve.max_length, Options::DEFAULT_MAX_LENGTH);
        assert!(serve.protocols.is_empty());
        assert_eq!(
            serve.threads,
            std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN)
        );
    }

    #[test]
    fn serve_threads_takes_a_positive_count() {
        let Command::Serve(serve) = parse(&["serve", "--threads", "3"]).unwrap().command else {
            panic!("not serve");
        };
        assert_eq!(serve.threads.get(), 3);
        assert!(parse(&["serve", "--threads", "0"]).is_err());
        assert!(parse(&["serve", "--threads", "many"]).is_err());
    }

    #[test]
    fn serve_takes_every_flag_and_builds_options() {
        let cli = parse(&[
            "serve",
            "--addr",
            "0.0.0.0:9001",
            "--runtime",
            "async-std",
            "--max-length",
            "1024",
            "--protocol",
            "chat",
            "--protocol",
            "superchat",
        ])
        .unwrap();
        let Command::Serve(serve) = cli.command else {
            panic!("not serve");
        };
        assert_eq!(serve.addr.port(), 9001);
        assert_eq!(serve.runtime, Runtime::AsyncStd);
        let options = serve.options();
        assert_eq!(options.max_length, 1024);
        assert_eq!(options.protocols, ["chat", "superchat"]);
        assert!(!options.allow_drafts && options.extensions.is_empty());
    }

    #[test]
    fn deflate_and_drafts_flags_reach_the_options() {
        let Command::Serve(serve) = parse(&["serve", "--deflate", "--allow-drafts"])
            .unwrap()
            .command
        else {
            panic!("not serve");
        };
        let options = serve.options();
        assert!(options.allow_drafts);
        assert_eq!(options.extensions.len(), 1);
        assert_eq!(options.extensions[0].name(), "permessage-deflate");
        let Command::Connect(connect) =
            parse(&["connect", "ws://x/", "--deflate"]).unwrap().command
        else {
            panic!("not connect");
        };
        assert_eq!(connect.options().extensions.len(), 1);
        let Command::AutobahnClient(auto) =
            parse(&["autobahn-client", "--deflate"]).unwrap().command
        else {
            panic!("not autobahn-client");
        };
        let options = auto.options();
        assert_eq!(options.extensions.len(), 1);
        assert_eq!(options.extensions[0].client_offers().len(), 2);
    }

    #[test]
    fn serve_rejects_bad_values() {
        assert!(parse(&["serve", "--addr", "localhost"]).is_err());
        assert!(parse(&["serve", "--runtime", "glommio"]).is_err());
        assert!(parse(&["serve", "--max-length", "-1"]).is_err());
        assert!(parse(&["serve", "--bogus"]).is_err());
    }

    #[test]
    fn connect_takes_url_protocols_and_headers() {
        let cli = parse(&[
            "connect",
            "ws://example.com/chat",
            "--protocol",
            "chat",
            "--header",
            "Authorization: Bearer  x ",
            "--header",
            "X-Empty:",
            "--runtime",
            "smol",
        ])
        .unwrap();
        let Command::Connect(connect) = cli.command else {
            panic!("not connect");
        };
        assert_eq!(connect.url, "ws://example.com/chat");
        assert_eq!(connect.runtime, Runtime::Smol);
        assert_eq!(connect.options().protocols, ["chat"]);
        assert_eq!(
            connect.options().headers,
            [
                ("Authorization".to_string(), "Bearer  x".to_string()),
                ("X-Empty".to_string(), String::new()),
            ]
        );
    }

    #[test]
    fn connect_needs_a_url_and_well_formed_headers() {
        assert!(parse(&["connect"]).is_err());
        assert!(parse(&["connect", "ws://a", "--header", "no colon"]).is_err());
        assert!(parse(&["connect", "ws://a", "--header", ": value"]).is_err());
        assert!(parse(&["connect", "ws://a", "--header", "Two words: v"]).is_err());
    }

    #[test]
    fn autobahn_client_defaults_and_flags() {
        let Command::AutobahnClient(auto) = parse(&["autobahn-client"]).unwrap().command else {
            panic!("not autobahn-client");
        };
        assert_eq!(auto.server, "ws://127.0.0.1:9001");
        assert_eq!(auto.agent, "wsd");
        assert_eq!(auto.runtime, Runtime::Tokio);
        assert!(auto.options().max_length >= 16 << 20);
        assert!(auto.options().extensions.is_empty());
        assert_eq!(auto.concurrency.get(), 1);

        let cli = parse(&[
            "autobahn-client",
            "--server",
            "ws://127.0.0.1:5000",
            "--runtime",
            "smol",
            "--agent",
            "x",
            "--concurrency",
            "4",
        ])
        .unwrap();
        let Command::AutobahnClient(auto) = cli.command else {
            panic!("not autobahn-client");
        };
        assert_eq!(
            (auto.server.as_str(), auto.runtime, auto.agent.as_str()),
            ("ws://127.0.0.1:5000", Runtime::Smol, "x")
        );
        assert_eq!(auto.concurrency.get(), 4);
        assert!(parse(&["autobahn-client", "--concurrency", "0"]).is_err());
        assert!(parse(&["autobahn-client", "--concurrency", "many"]).is_err());
    }

    #[test]
    fn lifecycle_flags_reach_the_options() {
        let Command::Serve(serve) = parse(&[
            "serve",
            "--ping-interval",
            "1.5",
            "--ping-timeout",
            "500ms",
            "--idle-timeout",
            "2m",
            "--max-connections",
            "200",
            "--shutdown-timeout",
            "3s",
        ])
        .unwrap()
        .command
        else {
            panic!("not serve");
        };
        let options = serve.options();
        let keepalive = options.keepalive.unwrap();
        assert_eq!(keepalive.interval, Duration::from_millis(1500));
        assert_eq!(keepalive.timeout, Duration::from_millis(500));
        assert_eq!(options.idle_timeout, Some(Duration::from_secs(120)));
        assert_eq!(serve.lifecycle.max_connections.unwrap().get(), 200);
        assert_eq!(serve.lifecycle.shutdown_timeout, Duration::from_secs(3));

        let Command::Serve(plain) = parse(&["serve"]).unwrap().command else {
            panic!("not serve");
        };
        assert!(plain.options().keepalive.is_none() && plain.options().idle_timeout.is_none());
        assert!(plain.lifecycle.max_connections.is_none());
        assert_eq!(plain.lifecycle.shutdown_timeout, Duration::from_secs(10));

        let Command::Connect(connect) = parse(&["connect", "ws://x/", "--ping-interval", "20"])
            .unwrap()
            .command
        else {
            panic!("not connect");
        };
        let keepalive = connect.options().keepalive.unwrap();
        assert_eq!(
            (keepalive.interval, keepalive.timeout),
            (Duration::from_secs(20), Duration::from_secs(20))
        );
    }

    #[test]
    fn lifecycle_flags_refuse_bad_values() {
        assert!(parse(&["serve", "--ping-interval", "0"]).is_err());
        assert!(parse(&["serve", "--ping-interval", "soon"]).is_err());
        assert!(parse(&["serve", "--idle-timeout", "-1"]).is_err());
        assert!(parse(&["serve", "--max-connections", "0"]).is_err());
        // A timeout for pings that are never sent is a mistake worth saying.
        assert!(parse(&["serve", "--ping-timeout", "5"]).is_err());
        assert!(parse(&["connect", "ws://x/", "--ping-timeout", "5"]).is_err());
    }

    #[test]
    fn a_subcommand_is_required() {
        assert!(parse(&[]).is_err());
        assert!(parse(&["listen"]).is_err());
    }
}
