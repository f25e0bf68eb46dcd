//! `wsd serve --tls-cert/--tls-key`, `--h2c` and `--log connections`, and
//! `wsd connect --http2`: WebSockets over HTTP/2 streams (RFC 8441, `wsd-h2`)
//! beside the usual HTTP/1.1 upgrade, on one port.
//!
//! With TLS, ALPN picks the protocol per connection: `h2` goes to a `wsd-h2` server
//! (extended CONNECT advertised, the demo page for plain requests), `http/1.1` to
//! the `--stack` in use. With `--h2c`, a connection that opens with the HTTP/2
//! preface is served as cleartext HTTP/2 (prior knowledge) and any other as
//! HTTP/1.1, so the flag only adds to what the port accepts. HTTP/2 here is the h2
//! crate's, which runs on tokio: these modes need `--runtime tokio`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use clap::{Args, ValueEnum};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use wsd_core::Options;
use wsd_io::{Accepted, Decision};
use wsd_tokio::{TokioIo, TokioTimer};

use crate::args::{ConnectArgs, Runtime, ServeArgs, Stack};
use crate::broadcast::Room;
use crate::route::{Route, page};
use crate::runtime::lifecycle::{Gate, Lifecycle};
use crate::runtime::{bind_error, bridge, chain, echo, log_connection_error};
use crate::tls::{ALPN_H2, ALPN_HTTP1};

/// What `wsd serve --log` can report on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogWhat {
    /// One line per WebSocket opened: the protocol it used (`http/1.1` or `h2`), the
    /// number of the TCP connection it rode (counted from 1 per process) and, for
    /// h2, its stream.
    Connections,
}

/// `wsd serve`'s TLS and HTTP/2 options.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ServeTlsArgs {
    /// Serve https:// and wss:// with this PEM certificate chain (with
    /// --tls-key): HTTP/2 and HTTP/1.1 on one port, chosen by ALPN. tokio only.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Also serve cleartext HTTP/2 with prior knowledge (h2c) on the port: a
    /// connection that starts with the HTTP/2 preface is HTTP/2, any other HTTP/1.1.
    /// tokio only.
    #[arg(long)]
    pub(crate) h2c: bool,
    /// Report on stderr (repeatable): `connections` prints one line per WebSocket
    /// with its protocol and TCP connection. tokio only.
    #[arg(long = "log", value_enum, value_name = "WHAT")]
    pub(crate) log: Vec<LogWhat>,
}

impl ServeTlsArgs {
    /// Whether any of these options is set, so this module serves.
    pub(crate) fn wanted(&self) -> bool {
        self.tls_cert.is_some() || self.h2c || !self.log.is_empty()
    }
}

/// What every connection of one server shares.
struct Shared {
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    h2c: bool,
    log_connections: bool,
    stack: Stack,
    options: Options,
    room: Option<Arc<Room>>,
    /// The connection limit and the shutdown, for every stack and protocol.
    gate: Gate,
}

/// `wsd serve` with TLS, h2c or the connection log, until SIGINT or SIGTERM and the
/// shutdown (`crate::runtime::lifecycle`), on `--threads` (see `crate::stacks`).
pub(crate) fn serve(args: &ServeArgs) -> Result<(), String> {
    if args.runtime != Runtime::Tokio {
        return Err(
            "--tls-cert, --h2c and --log run on tokio (HTTP/2 is the h2 crate's): \
             leave out --runtime or pass --runtime tokio"
                .into(),
        );
    }
    if args.stack == Stack::Axum {
        return Err("--tls-cert, --h2c and --log work with --stack own or hyper, not axum".into());
    }
    let acceptor = match (&args.tls.tls_cert, &args.tls.tls_key) {
        (Some(cert), Some(key)) => {
            let config = crate::tls::server_config(cert, key, &[ALPN_H2, ALPN_HTTP1])?;
            Some(tokio_rustls::TlsAcceptor::from(config))
        }
        _ => None,
    };
    crate::stacks::block_on(args.threads, async {
        let listener = TcpListener::bind(args.addr)
            .await
            .map_err(|error| bind_error(args.addr, &error))?;
        let room = Room::start(&args.room)?;
        let addr = listener.local_addr().unwrap_or(args.addr);
        if acceptor.is_some() {
            announce_tls(addr);
        } else {
            crate::runtime::announce(addr);
        }
        let lifecycle = Lifecycle::new(&args.lifecycle);
        let shared = Arc::new(Shared {
            acceptor,
            h2c: args.tls.h2c,
            log_connections: args.tls.log.contains(&LogWhat::Connections),
            stack: args.stack,
            options: args.options(),
            room,
            gate: lifecycle.gate(),
        });
        let mut count: u64 = 0;
        crate::stacks::serve_until_signal(listener, lifecycle, move |tcp, peer| {
            count += 1;
            let id = count;
            let shared = shared.clone();
            async move {
                if let Err(error) = connection(tcp, peer, id, &shared).await {
                    log_connection_error(peer, &error);
                }
            }
        })
        .await
    })
}

/// The line a TLS server prints once it listens (the tests read the port from it).
fn announce_tls(addr: SocketAddr) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "wsd: listening on wss://{addr} (open https://{addr}/ in a browser)"
    );
    let _ = out.flush();
}

/// Serves one TCP connection with the protocol it asks for.
async fn connection(
    tcp: TcpStream,
    peer: SocketAddr,
    id: u64,
    shared: &Arc<Shared>,
) -> Result<(), String> {
    if let Some(acceptor) = &shared.acceptor {
        let tls = acceptor
            .accept(tcp)
            .await
            .map_err(|error| format!("TLS handshake failed: {error}"))?;
        if tls.get_ref().1.alpn_protocol() == Some(ALPN_H2) {
            serve_h2(tls, peer, id, shared).await
        } else {
            // ALPN http/1.1, or none: clients that do not offer ALPN speak HTTP/1.1.
            serve_http1(tls, peer, id, shared).await
        }
    } else if shared.h2c && starts_with_h2_preface(&tcp).await {
        serve_h2(tcp, peer, id, shared).await
    } else {
        serve_http1(tcp, peer, id, shared).await
    }
}

/// The first bytes of every HTTP/2 connection (RFC 9113 section 3.4).
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Whether the connection opens with the HTTP/2 preface, looked at without
/// consuming it. An HTTP/1.1 request differs at its first byte, so this normally
/// decides on the first read; a preface arriving in pieces is peeked again after a
/// short pause (peek does not wait for more bytes), for at most about 2 seconds.
async fn starts_with_h2_preface(tcp: &TcpStream) -> bool {
    let mut buf = [0; H2_PREFACE.len()];
    for _ in 0..200 {
        let n = match tcp.peek(&mut buf).await {
            Ok(0) | Err(_) => return false,
            Ok(n) => n,
        };
        if buf[..n] != H2_PREFACE[..n] {
            return false;
        }
        if n == H2_PREFACE.len() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Prints the `--log connections` line of a WebSocket that opened.
fn log_websocket(shared: &Shared, id: u64, peer: SocketAddr, protocol: &str, stream: Option<u32>) {
    if !shared.log_connections {
        return;
    }
    let stream = stream.map_or_else(String::new, |stream| format!(" stream {stream}"));
    eprintln!("wsd: websocket over {protocol} on connection {id}{stream} from {peer}");
}

/// Runs the echo, or the room's session with `--broadcast`.
async fn session<T: wsd_io::Transport, Z: wsd_io::Timer>(
    mut ws: wsd_io::WebSocket<T, Z>,
    room: Option<&Arc<Room>>,
) -> Result<(), String> {
    match room {
        Some(room) => crate::broadcast::session(ws, room).await,
        None => echo(&mut ws).await,
    }
}

/// An HTTP/1.1 connection (over TLS or not), served by the `--stack` in use.
async fn serve_http1<S>(
    io: S,
    peer: SocketAddr,
    id: u64,
    shared: &Arc<Shared>,
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    if shared.stack == Stack::Hyper {
        let options = shared.options.clone();
        let logger = shared.clone();
        let service = hyper::service::service_fn(move |request| {
            if wsd_hyper::is_upgrade_request(&request) {
                log_websocket(&logger, id, peer, "http/1.1", None);
            }
            crate::stacks::answer(request, options.clone(), logger.gate.clone(), peer)
        });
        crate::stacks::serve_http1(io, service).await;
        return Ok(());
    }
    let mut config = crate::runtime::server_config(shared.options.clone());
    // Held until the connection ends: its place under the limit.
    let life = shared.gate.clone().for_connection();
    life.configure(&mut config);
    match wsd_io::accept_with(TokioIo(io), TokioTimer::default(), config).await {
        Ok(Accepted::Upgraded(ws)) => {
            log_websocket(shared, id, peer, "http/1.1", None);
            session(ws, shared.room.as_ref()).await
        }
        Ok(Accepted::Responded { .. }) => Ok(()),
        Err(error) => Err(format!("handshake failed: {}", chain(&error))),
    }
}

/// An HTTP/2 connection: each extended CONNECT becomes a WebSocket in a task of
/// its own; other requests get the demo routes.
async fn serve_h2<S>(io: S, peer: SocketAddr, id: u64, shared: &Arc<Shared>) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let mut config = wsd_h2::ServerConfig::default();
    config.on_other_request = Some(Box::new(answer_plain));
    let mut server = wsd_h2::Server::handshake(io, config)
        .await
        .map_err(|error| format!("HTTP/2 handshake failed: {}", chain(&error)))?;
    // `accept` drives the whole connection, the open WebSockets' streams included.
    while let Some(incoming) = server.accept().await {
        let incoming =
            incoming.map_err(|error| format!("HTTP/2 connection failed: {}", chain(&error)))?;
        let path = incoming.path().to_owned();
        let mut place = match shared.gate.admit() {
            Ok(place) => place,
            Err(busy) => {
                refuse(incoming, busy);
                continue;
            }
        };
        match incoming.accept(shared.options.clone()) {
            Ok(mut ws) => {
                shared.gate.watch(&mut ws, &mut place);
                log_websocket(shared, id, peer, "h2", Some(ws.get_ref().stream_id()));
                let shared = shared.clone();
                tokio::spawn(async move {
                    let ended = session(ws, shared.room.as_ref()).await;
                    drop(place);
                    if let Err(error) = ended {
                        log_connection_error(peer, &error);
                    }
                });
            }
            // `accept` has answered the stream with the refusal already.
            Err(error) => log_connection_error(
                peer,
                &format!("WebSocket on {path} refused: {}", chain(&error)),
            ),
        }
    }
    Ok(())
}

/// Answers an extended CONNECT the lifecycle refuses (503 over the connection
/// limit) with its status and body; `wsd-h2` sends no other headers with a
/// refusal, so `Retry-After` is left out here.
fn refuse(incoming: wsd_h2::Incoming, decision: Decision) {
    if let Decision::Respond { status, body, .. } = decision {
        incoming.refuse(status, &String::from_utf8_lossy(&body));
    }
}

/// Headers HTTP/2 forbids (RFC 9113 section 8.2.2); h2 refuses to send them.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

/// Answers a plain HTTP/2 request with the demo routes (the page, 404, 405).
fn answer_plain(
    request: http::Request<h2::RecvStream>,
    mut respond: h2::server::SendResponse<Bytes>,
) {
    let method = request.method().as_str().to_owned();
    let target = request.uri().path_and_query().map_or_else(
        || request.uri().path().to_owned(),
        |p| p.as_str().to_owned(),
    );
    let Route::Respond {
        status,
        headers,
        body,
    } = page(&method, &target)
    else {
        // `page` never upgrades.
        return;
    };
    let mut response = http::Response::builder().status(status);
    for (name, value) in headers {
        if !CONNECTION_SPECIFIC.contains(&name.to_ascii_lowercase().as_str()) {
            response = response.header(name, value);
        }
    }
    response = response.header(http::header::CONTENT_LENGTH, body.len());
    let Ok(response) = response.body(()) else {
        return;
    };
    let end = body.is_empty();
    // The client may have reset the stream already: nothing left to answer.
    if let Ok(mut stream) = respond.send_response(response, end) {
        if !end {
            let _ = stream.send_data(Bytes::from(body), true);
        }
    }
}

/// `wsd connect --http2`: the WebSocket as a stream of an HTTP/2 connection, TLS
/// with ALPN h2 for `wss://`, h2c with prior knowledge for `ws://`.
pub(crate) async fn connect(
    args: &ConnectArgs,
    lines: async_channel::Receiver<std::io::Result<String>>,
) -> Result<(), String> {
    if args.proxy.is_some() {
        return Err("--http2 does not go through --proxy".into());
    }
    let url = args.url.as_str();
    let authority = crate::runtime::authority(url)?;
    let tcp = TcpStream::connect(&authority)
        .await
        .map_err(|error| format!("cannot connect to {authority}: {error}"))?;
    tcp.set_nodelay(true)
        .map_err(|error| format!("cannot set TCP_NODELAY: {error}"))?;
    let client = if crate::tls::is_wss(url) {
        let config = crate::tls::client_config(&args.tls, &[ALPN_H2])?;
        let name = crate::tls::server_name(url)?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|error| crate::tls::handshake_error(&authority, &error))?;
        if tls.get_ref().1.alpn_protocol() != Some(ALPN_H2) {
            return Err(format!(
                "{authority} did not agree to HTTP/2 (ALPN h2): leave out --http2"
            ));
        }
        start_h2(tls).await?
    } else {
        start_h2(tcp).await?
    };
    let ws = wsd_h2::connect(&client, url, args.options())
        .await
        .map_err(|error| format!("handshake failed: {}", chain(&error)))?;
    bridge(ws, lines).await
}

/// The HTTP/2 client handshake, with the connection's driver spawned.
async fn start_h2<S>(io: S) -> Result<wsd_h2::Client, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (client, driver) = wsd_h2::Client::handshake(io, wsd_h2::H2Config::default())
        .await
        .map_err(|error| format!("HTTP/2 handshake failed: {}", chain(&error)))?;
    tokio::spawn(driver);
    Ok(client)
}
