//! The commands on each runtime.
//!
//! The sessions (echo, connect, the Autobahn loop) are ordinary generic functions
//! over `wsd_io`'s WebSocket; each runtime's module implements [`Net`]: its
//! transport and timer types, the listener, connecting and sleeping.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::time::Duration;

use wsd_core::{CloseCode, Options};
use wsd_io::{
    Accepted, Decision, Error as WsError, Message, Next, ServerConfig, Timer, Transport, WebSocket,
};

use crate::args::{AutobahnArgs, ConnectArgs, ServeArgs};
use crate::route::{Route, route};
use crate::tls::{
    ClientTlsArgs, ClientTransport, MaybeTls, Peer, TlsNet, handshake_error, peer_handshake_error,
};
use lifecycle::{ConnectionLifecycle, Lifecycle};

/// The line `wsd serve` prints once it listens (the end-to-end tests read it to
/// learn the port when started with port 0).
pub(crate) fn announce(addr: SocketAddr) {
    let mut out = io::stdout().lock();
    let _ = writeln!(
        out,
        "wsd: listening on ws://{addr} (open http://{addr}/ in a browser)"
    );
    let _ = out.flush();
}

/// The error for a listener that cannot be opened.
pub(crate) fn bind_error(addr: SocketAddr, error: &io::Error) -> String {
    format!("cannot listen on {addr}: {error}")
}

/// Logs a failed `accept`. Such failures (out of file descriptors, a connection
/// reset before it was accepted) are transient; the caller pauses and goes on.
pub(crate) fn log_accept_error(error: &io::Error) {
    eprintln!("wsd: accept failed: {error}; retrying");
}

/// Logs the end of one connection that went wrong. Peers that break the protocol
/// are routine for a public server (and the whole point of the Autobahn suite), so
/// this is one line and never stops the server.
pub(crate) fn log_connection_error(peer: SocketAddr, error: &str) {
    eprintln!("wsd: {peer}: {error}");
}

/// How long to pause after a failed `accept`, so a persistent failure (EMFILE) does
/// not spin.
pub(crate) const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The name of the threads that serve connections under `wsd serve --threads N`.
pub(crate) const WORKER_NAME: &str = "wsd-serve";

/// A connection's task, handed to the runtime's spawn.
pub(crate) type Task = std::pin::Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// What a runtime supplies to the sessions: its transport and timer for `wsd_io`,
/// and plain TCP.
pub(crate) trait Net {
    /// A TCP stream as a `wsd_io` transport.
    type Transport: Transport + Send + 'static;
    /// The runtime's timer.
    type Timer: Timer + Default + Send + 'static;
    /// A bound TCP listener.
    type Listener;

    /// Listens on `addr`.
    async fn bind(addr: SocketAddr) -> io::Result<Self::Listener>;
    /// The address `listener` listens on.
    fn local_addr(listener: &Self::Listener) -> io::Result<SocketAddr>;
    /// The next connection, with `TCP_NODELAY` set.
    async fn accept(listener: &Self::Listener) -> io::Result<(Self::Transport, SocketAddr)>;
    /// TCP to `authority` (`host:port`) with `TCP_NODELAY`: small messages (the
    /// Autobahn echo, typed lines) must not wait for Nagle's algorithm.
    async fn connect(authority: &str) -> io::Result<Self::Transport>;
    /// Waits `duration`.
    async fn sleep(duration: Duration);
}

/// A WebSocket on the runtime `R`.
type Socket<R> = WebSocket<ClientTransport<R>, <R as Net>::Timer>;

/// `wsd serve`: listens, then accepts until SIGINT or SIGTERM, handing each
/// connection's task to `spawn`; then shuts down (see [`lifecycle`]).
pub(crate) async fn serve_with<R: Net>(
    args: &ServeArgs,
    mut spawn: impl FnMut(Task),
) -> Result<(), String> {
    let listener = R::bind(args.addr)
        .await
        .map_err(|error| bind_error(args.addr, &error))?;
    let room = crate::broadcast::Room::start(&args.room)?;
    let mut lifecycle = Lifecycle::new(&args.lifecycle);
    announce(R::local_addr(&listener).unwrap_or(args.addr));
    while let Some(accepted) = lifecycle.accept::<R>(&listener).await {
        match accepted {
            Ok((stream, peer)) => {
                let life = lifecycle.for_connection();
                let task = serve_connection::<R>(stream, peer, args.options(), room.clone(), life);
                spawn(Box::pin(task));
            }
            Err(error) => {
                log_accept_error(&error);
                R::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
    // No new connections while the open ones close.
    drop(listener);
    lifecycle.finish::<R>().await
}

/// Serves one accepted connection: the handshake (or a plain HTTP answer), then echo
/// (or, with a room, broadcast) until the peer closes; logs how it failed. `life`
/// lives as long as the connection: it holds the connection's place under
/// `--max-connections`.
///
/// The handshake future is made here, before the task: the task then keeps it and
/// what the session needs, not also the arguments it was made from (an `async fn`
/// keeps its arguments for its whole life, the options and the configuration
/// included). The broadcast session is boxed, so echo connections do not carry
/// room for it. Together that took the task from 2,048 bytes to about 700, which is
/// most of an idle connection's memory in user space.
fn serve_connection<R: Net>(
    stream: R::Transport,
    peer: SocketAddr,
    options: Options,
    room: Option<std::sync::Arc<crate::broadcast::Room>>,
    life: ConnectionLifecycle,
) -> impl Future<Output = ()> + Send + 'static {
    let mut config = server_config(options);
    life.configure(&mut config);
    let mut accepting = wsd_io::accept_with(stream, R::Timer::default(), config);
    async move {
        // Awaited by reference: awaiting it by value would keep a second copy.
        let served = match (&mut accepting).await {
            Ok(Accepted::Upgraded(mut ws)) => match &room {
                Some(room) => Box::pin(crate::broadcast::session(ws, room)).await,
                None => echo(&mut ws).await,
            },
            // A plain HTTP request answered with the page or a 404: done.
            Ok(Accepted::Responded { .. }) => Ok(()),
            Err(error) => Err(format!("handshake failed: {}", chain(&error))),
        };
        // Its place under the limit is given back only now.
        drop(life);
        if let Err(error) = served {
            log_connection_error(peer, &error);
        }
    }
}

/// The handshake configuration of `wsd serve`'s own stack: WebSocket requests are
/// upgraded, the rest get the demo routes.
pub(crate) fn server_config(options: Options) -> ServerConfig {
    let mut config = ServerConfig::new(options);
    config.on_request = Some(Box::new(|request: &wsd_core::Request| {
        match route(request) {
            Route::Upgrade => Decision::Accept,
            Route::Respond {
                status,
                headers,
                body,
            } => Decision::Respond {
                status,
                headers,
                body,
            },
        }
    }));
    config
}

/// Sends every text and binary message back until the connection ends. Pings are
/// answered and the close is echoed by the driver. The echoes are fed, not sent: the
/// answers to everything one read brought are written together when the socket next
/// waits for input. A message that arrived whole is echoed from where it lies in
/// the input buffer (lent), others are taken and fed back.
pub(crate) async fn echo<T: Transport, Z: Timer>(ws: &mut WebSocket<T, Z>) -> Result<(), String> {
    while let Some(item) = ws
        .next_message_with(|message, reply| reply.send(message))
        .await
    {
        let result = match item.map_err(|error| chain(&error))? {
            // A closing connection refuses the echo: see below.
            Next::Lent(sent) => sent.map_err(WsError::from),
            Next::Message(message @ (Message::Text(_) | Message::Binary(_))) => {
                ws.feed(message).await
            }
            Next::Message(_) => continue,
        };
        match result {
            Ok(()) => {}
            // The peer started closing after its message: there is no one to echo
            // to, and reading on completes the closing handshake.
            Err(WsError::Closed) => {}
            Err(error) => return Err(chain(&error)),
        }
    }
    Ok(())
}

/// An error and its sources, joined as one log line.
pub(crate) fn chain(error: &dyn std::error::Error) -> String {
    let mut line = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        let text = source.to_string();
        // Some layers still print their cause themselves: say it once.
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = source.source();
    }
    line
}

/// Opens a client connection: TCP (to the proxy when one is given: TLS to an
/// `https://` proxy, then the CONNECT tunnel; or SOCKS5), TLS for `wss://` (see
/// `crate::tls`), then the handshake.
async fn open_client<R: TlsNet>(
    url: &str,
    proxy: Option<&str>,
    options: Options,
    tls: &ClientTlsArgs,
) -> Result<Socket<R>, ConnectError> {
    let authority = authority(url).map_err(ConnectError::Url)?;
    let https_proxy = match proxy {
        Some(proxy) => {
            let kind =
                wsd_io::ProxyKind::of(proxy).map_err(|error| ConnectError::Url(chain(&error)))?;
            kind == wsd_io::ProxyKind::Https
        }
        None => false,
    };
    let dial = match proxy {
        Some(proxy) => proxy_authority(proxy).map_err(ConnectError::Url)?,
        None => authority.clone(),
    };
    let mut timer = R::Timer::default();
    let wss = crate::tls::is_wss(url);
    let opened = match proxy {
        Some(proxy) if https_proxy => {
            let config = crate::tls::client_config(tls, &[]).map_err(ConnectError::Url)?;
            let proxy_name = crate::tls::proxy_name(proxy).map_err(ConnectError::Url)?;
            let tcp = R::tcp(&dial)
                .await
                .map_err(|error| ConnectError::Tcp(dial.clone(), error))?;
            let mut to_proxy = R::tls(tcp, proxy_name, config.clone())
                .await
                .map_err(|error| {
                    ConnectError::Tls(peer_handshake_error(&dial, Peer::Proxy, &error))
                })?;
            let early = wsd_io::tunnel(&mut to_proxy, &mut timer, url, proxy, &options)
                .await
                .map_err(|error| ConnectError::Proxy(chain(&error)))?;
            if wss {
                no_early_bytes(&early)?;
                let name = crate::tls::server_name(url).map_err(ConnectError::Url)?;
                let stream = R::tls_in_tls(to_proxy, name, config)
                    .await
                    .map_err(|error| ConnectError::Tls(handshake_error(&authority, &error)))?;
                wsd_io::client(url, MaybeTls::TlsInTls(stream), timer, options).await
            } else {
                let stream = MaybeTls::Tls(to_proxy);
                wsd_io::client_with_input(url, stream, timer, options, &early).await
            }
        }
        _ if wss => {
            let config = crate::tls::client_config(tls, &[]).map_err(ConnectError::Url)?;
            let name = crate::tls::server_name(url).map_err(ConnectError::Url)?;
            let mut tcp = R::tcp(&dial)
                .await
                .map_err(|error| ConnectError::Tcp(dial.clone(), error))?;
            if let Some(proxy) = proxy {
                let early =
                    wsd_io::tunnel(&mut R::borrow(&mut tcp), &mut timer, url, proxy, &options)
                        .await
                        .map_err(|error| ConnectError::Proxy(chain(&error)))?;
                no_early_bytes(&early)?;
            }
            let stream = R::tls(tcp, name, config)
                .await
                .map_err(|error| ConnectError::Tls(handshake_error(&authority, &error)))?;
            wsd_io::client(url, MaybeTls::Tls(stream), timer, options).await
        }
        _ => {
            let stream = R::connect(&dial)
                .await
                .map_err(|error| ConnectError::Tcp(dial.clone(), error))?;
            let stream = MaybeTls::Plain(stream);
            match proxy {
                Some(proxy) => wsd_io::client_via_proxy(url, proxy, stream, timer, options).await,
                None => wsd_io::client(url, stream, timer, options).await,
            }
        }
    };
    opened.map_err(|error| match error {
        WsError::ProxyRefused(_) | WsError::Socks(_) => ConnectError::Proxy(chain(&error)),
        error => ConnectError::Handshake(chain(&error)),
    })
}

/// The server speaks TLS only after our ClientHello, so a proxy that sent more
/// after its CONNECT answer is not tunnelling.
fn no_early_bytes(early: &[u8]) -> Result<(), ConnectError> {
    if early.is_empty() {
        return Ok(());
    }
    Err(ConnectError::Proxy(format!(
        "the proxy sent {} bytes after its CONNECT answer, before TLS began",
        early.len()
    )))
}

/// `wsd connect`: stdin lines out as text, messages in on stdout.
pub(crate) async fn connect<R: TlsNet>(
    args: &ConnectArgs,
    lines: async_channel::Receiver<io::Result<String>>,
) -> Result<(), String> {
    let proxy = args.proxy();
    let ws = open_client::<R>(&args.url, proxy.as_deref(), args.options(), &args.tls)
        .await
        .map_err(|error| error.to_string())?;
    bridge(ws, lines).await
}

/// The `wsd connect` session on an open WebSocket, whatever carries it (TCP, TLS,
/// an HTTP/2 stream): stdin lines out as text, messages in on stdout.
pub(crate) async fn bridge<T: Transport, Z: Timer>(
    mut ws: WebSocket<T, Z>,
    lines: async_channel::Receiver<io::Result<String>>,
) -> Result<(), String> {
    use futures_util::future::{Either, select};

    let mut stdin_open = true;
    let mut stdin_error = None;
    loop {
        // Wait for a message, and for a line while stdin is open. The futures are
        // dropped before acting, which `next_message` allows: it is cancel safe.
        let event = if stdin_open {
            let message = std::pin::pin!(ws.next_message());
            let line = std::pin::pin!(lines.recv());
            match select(message, line).await {
                Either::Left((message, _)) => Either::Left(message),
                Either::Right((line, _)) => Either::Right(line),
            }
        } else {
            Either::Left(ws.next_message().await)
        };
        match event {
            Either::Right(Ok(Ok(line))) => {
                if let Err(error) = ws.send(Message::from(line)).await {
                    // The server closed: stop sending, read its close.
                    if !matches!(error, WsError::Closed) {
                        return Err(format!("sending failed: {}", chain(&error)));
                    }
                    stdin_open = false;
                }
            }
            Either::Right(end) => {
                // End of stdin (or an unreadable stdin): start the closing handshake
                // with 1000 and read on, printing the echoes still on their way,
                // until the server's close frame ends the stream.
                if let Ok(Err(error)) = end {
                    stdin_error = Some(error);
                }
                stdin_open = false;
                ws.close(CloseCode::NORMAL, "")
                    .await
                    .map_err(|error| format!("closing failed: {}", chain(&error)))?;
            }
            Either::Left(None) => break,
            Either::Left(Some(Err(error))) => {
                return Err(format!("connection failed: {}", chain(&error)));
            }
            Either::Left(Some(Ok(message))) => {
                let mut out = io::stdout().lock();
                let written = match message {
                    Message::Text(text) => writeln!(out, "{}", text.as_str()),
                    Message::Binary(data) => {
                        writeln!(out, "{}", crate::render::binary_line(&data))
                    }
                    Message::Close(Some(frame)) => {
                        if !crate::render::is_normal_close(frame.code) {
                            let _ = out.flush();
                            return Err(format!(
                                "the server closed the connection with {}{}",
                                frame.code,
                                crate::render::reason_suffix(&frame.reason)
                            ));
                        }
                        Ok(())
                    }
                    _ => Ok(()),
                };
                // stdout gone (a closed pipe): nothing left to print to.
                written
                    .and_then(|()| out.flush())
                    .map_err(|error| format!("cannot write to stdout: {error}"))?;
            }
        }
    }
    match stdin_error {
        Some(error) => Err(format!("cannot read stdin: {error}")),
        None => Ok(()),
    }
}

/// `wsd autobahn-client`: every case of the fuzzing server, `--concurrency` of them
/// at a time, then (once every case has ended) the report.
pub(crate) async fn autobahn<R: TlsNet>(args: &AutobahnArgs) -> Result<(), String> {
    use crate::autobahn::{case_count_url, case_url, parse_case_count, update_reports_url};
    use futures_util::StreamExt as _;

    let count_url = case_count_url(&args.server);
    let mut ws = open_client::<R>(&count_url, None, args.options(), &ClientTlsArgs::default())
        .await
        .map_err(|error| format!("{count_url}: {error}"))?;
    let mut count = None;
    while let Some(item) = ws.next_message().await {
        match item {
            Ok(Message::Text(text)) if count.is_none() => {
                count = Some(parse_case_count(text.as_str())?);
            }
            Ok(_) => {}
            Err(error) => return Err(format!("{count_url}: {}", chain(&error))),
        }
    }
    let count = count.ok_or_else(|| format!("{count_url}: closed without a case count"))?;
    eprintln!("wsd: {count} cases");

    // The cases run as futures of this one task (no spawning, so the same code on
    // every runtime), in case order, at most `concurrency` at once.
    futures_util::stream::iter(1..=count)
        .for_each_concurrent(args.concurrency.get(), |case| async move {
            let url = case_url(&args.server, case, &args.agent);
            // A case that fails is the suite's to judge; it never stops the run.
            let outcome =
                match open_client::<R>(&url, None, args.options(), &ClientTlsArgs::default()).await
                {
                    Ok(mut ws) => echo(&mut ws).await,
                    Err(error) => Err(error.to_string()),
                };
            if let Err(error) = outcome {
                eprintln!("wsd: case {case}: {error}");
            }
        })
        .await;

    let url = update_reports_url(&args.server, &args.agent);
    let mut ws = open_client::<R>(&url, None, args.options(), &ClientTlsArgs::default())
        .await
        .map_err(|error| format!("{url}: {error}"))?;
    // The server closes once the report is written.
    while let Some(item) = ws.next_message().await {
        item.map_err(|error| format!("{url}: {}", chain(&error)))?;
    }
    eprintln!("wsd: reports updated");
    Ok(())
}

/// Why a client connection could not be opened.
#[derive(Debug)]
pub(crate) enum ConnectError {
    /// The URL is unusable.
    Url(String),
    /// The TCP connection failed.
    Tcp(String, io::Error),
    /// The WebSocket handshake failed.
    Handshake(String),
    /// The HTTP proxy refused the tunnel.
    Proxy(String),
    /// The TLS handshake failed (an untrusted certificate, say).
    Tls(String),
}

impl std::fmt::Display for ConnectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Url(error) => f.write_str(error),
            Self::Tcp(authority, error) => write!(f, "cannot connect to {authority}: {error}"),
            Self::Handshake(error) => write!(f, "handshake failed: {error}"),
            Self::Proxy(error) | Self::Tls(error) => f.write_str(error),
        }
    }
}

/// The `host:port` to open a TCP connection to for a `ws://` or `wss://` URL (port
/// 80 or 443 when not given).
pub(crate) fn authority(url: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url).map_err(|error| format!("invalid URL {url:?}: {error}"))?;
    match parsed.scheme() {
        "ws" | "wss" => {}
        other => {
            return Err(format!(
                "{url}: the scheme must be ws:// or wss://, not {other}://"
            ));
        }
    }
    let host = match parsed.host() {
        Some(url::Host::Domain(domain)) => domain.to_string(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        // Bracketed, as `host:port` for IPv6 needs.
        Some(url::Host::Ipv6(ip)) => format!("[{ip}]"),
        None => return Err(format!("{url}: no host")),
    };
    let port = parsed.port_or_known_default().unwrap_or(80);
    Ok(format!("{host}:{port}"))
}

/// The `host:port` to open a TCP connection to for a proxy URL (its kind's default
/// port when not given).
pub(crate) fn proxy_authority(proxy: &str) -> Result<String, String> {
    let (host, port) = wsd_io::proxy_target(proxy).map_err(|error| chain(&error))?;
    Ok(if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    })
}

pub(crate) mod async_std;
pub(crate) mod lifecycle;
pub(crate) mod smol;
pub(crate) mod tokio;

#[cfg(test)]
mod tests {
    use super::lifecycle::ConnectionLifecycle;
    use super::{Net, authority, serve_connection};

    /// The size of what `make` returns, found without calling it.
    fn output_size<A, R>(_: &impl FnOnce(A) -> R) -> usize {
        size_of::<R>()
    }

    /// The task of a connection on runtime `R`, made from a stream and a lifecycle.
    fn task_size<R: Net>() -> usize {
        let peer = ([127, 0, 0, 1], 9001).into();
        output_size(&|(stream, life): (R::Transport, ConnectionLifecycle)| {
            serve_connection::<R>(stream, peer, wsd_core::Options::default(), None, life)
        })
    }

    #[test]
    fn a_connection_s_task_holds_the_handshake_and_the_echo_not_their_arguments() {
        // Each idle connection keeps its task: 2,048 bytes (release build) when it
        // also kept the options, the stream and the broadcast session's room; now
        // under 1 KiB (release) and a little more in a test build.
        for (runtime, size) in [
            ("tokio", task_size::<super::tokio::Tokio>()),
            ("smol", task_size::<super::smol::Smol>()),
            ("async-std", task_size::<super::async_std::AsyncStd>()),
        ] {
            eprintln!("{runtime}: {size} bytes");
            assert!(size <= 1280, "{runtime}: {size} bytes");
        }
    }

    #[test]
    fn authority_defaults_the_port_and_brackets_ipv6() {
        assert_eq!(
            authority("ws://example.com/chat").unwrap(),
            "example.com:80"
        );
        assert_eq!(authority("ws://127.0.0.1:9001").unwrap(), "127.0.0.1:9001");
        assert_eq!(authority("ws://[::1]:8080/").unwrap(), "[::1]:8080");
    }

    #[test]
    fn authority_refuses_other_schemes_and_garbage() {
        assert_eq!(authority("wss://example.com").unwrap(), "example.com:443");
        assert!(
            authority("http://example.com")
                .unwrap_err()
                .contains("ws://")
        );
        assert!(authority("not a url").is_err());
    }
}
