//! The opening handshakes over a transport: [`accept_with`] and [`client`].

use core::future::poll_fn;
use core::task::{Context, Poll, ready};
use std::io;

use super::socket::WebSocket;
use super::{Decision, Error, ServerConfig, Timer, Transport};
use crate::{Connection, Event, Options};

/// Where to connect for a `ws://` or `wss://` URL: `(host, port, tls)`, the host
/// without IPv6 brackets, ready for DNS.
///
/// ```
/// # use wsd_core::io::parse_target;
/// assert_eq!(parse_target("wss://example.com/chat").unwrap(), ("example.com".into(), 443, true));
/// assert_eq!(parse_target("ws://[::1]:9001").unwrap(), ("::1".into(), 9001, false));
/// assert!(parse_target("http://example.com").is_err());
/// ```
pub fn parse_target(url: &str) -> Result<(String, u16, bool), Error> {
    let parsed = url::Url::parse(url).map_err(|e| Error::Url(format!("{url}: {e}")))?;
    let tls = match parsed.scheme() {
        "ws" => false,
        "wss" => true,
        other => {
            return Err(Error::Url(format!(
                "{url}: scheme {other} is not ws or wss"
            )));
        }
    };
    let host = match parsed.host() {
        Some(url::Host::Domain(d)) => d.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        None => return Err(Error::Url(format!("{url}: no host"))),
    };
    let port = parsed.port().unwrap_or(if tls { 443 } else { 80 });
    Ok((host, port, tls))
}

/// Runs the server handshake on `io`: reads the request, asks
/// [`ServerConfig::on_request`], and answers. Fails with [`Error::Responded`] after a
/// plain HTTP answer, [`Error::HandshakeTimeout`] when the request did not arrive in
/// time, and [`Error::Protocol`] when it was not a valid WebSocket request (a 400 was
/// sent).
pub async fn accept_with<T: Transport, Z: Timer>(
    io: T,
    timer: Z,
    mut config: ServerConfig,
) -> Result<WebSocket<T, Z>, Error> {
    let close_timeout = config.options.close_timeout;
    let conn = Connection::server(config.options.clone());
    let mut ws = WebSocket::new(conn, io, timer, close_timeout);
    let mut hook = config.on_request.take();
    let mut outcome = Outcome::default();
    poll_fn(|cx| drive(&mut ws, cx, &mut outcome, &mut hook)).await?;
    Ok(ws)
}

/// Runs the client handshake for `url` on `io` (already connected to the server,
/// TLS included for `wss://`).
pub async fn client<T: Transport, Z: Timer>(
    url: &str,
    io: T,
    timer: Z,
    options: Options,
) -> Result<WebSocket<T, Z>, Error> {
    client_with_input(url, io, timer, options, &[]).await
}

/// [`client`] for a transport from which `input` was already read: the bytes a
/// proxy sent after its `CONNECT` answer (see [`proxy_connect`](super::proxy_connect)).
/// They are parsed as the start of the server's response, before anything read
/// from `io`.
pub async fn client_with_input<T: Transport, Z: Timer>(
    url: &str,
    io: T,
    timer: Z,
    options: Options,
    input: &[u8],
) -> Result<WebSocket<T, Z>, Error> {
    let close_timeout = options.close_timeout;
    let mut conn = Connection::client(url, options).map_err(|e| match e {
        crate::Error::Usage(crate::Usage::InvalidUrl(u)) => Error::Url(u),
        e => e.into(),
    })?;
    // The connection only buffers input before its response is due, so the
    // tunnel's first bytes can go in before `start` writes the request.
    conn.handle_input(input);
    conn.start()?;
    let mut ws = WebSocket::new(conn, io, timer, close_timeout);
    let mut outcome = Outcome::default();
    poll_fn(|cx| drive(&mut ws, cx, &mut outcome, &mut None)).await?;
    Ok(ws)
}

/// What the handshake has seen.
#[derive(Default)]
struct Outcome {
    opened: bool,
    responded: bool,
    error: Option<crate::Error>,
    /// The handshake failed; the answer (a 400, a plain HTTP response) is being
    /// written before the error is returned.
    failed: bool,
}

fn drive<T: Transport, Z: Timer>(
    ws: &mut WebSocket<T, Z>,
    cx: &mut Context<'_>,
    outcome: &mut Outcome,
    hook: &mut Option<super::RequestHook>,
) -> Poll<Result<(), Error>> {
    loop {
        if outcome.opened {
            // The 101 (or the request's answer) goes out before the WebSocket is handed
            // over: the application may not poll it for a while.
            return ws.poll_write_out(cx).map_err(Error::Io);
        }
        if outcome.failed {
            ready!(ws.poll_end(cx));
            return Poll::Ready(Err(if outcome.responded {
                Error::Responded
            } else {
                match outcome.error.take() {
                    Some(e) => e.into(),
                    None => Error::Io(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the connection ended during the WebSocket handshake",
                    )),
                }
            }));
        }
        let event = match ready!(ws.poll_event(cx)) {
            Ok(event) => event,
            Err(e) => return Poll::Ready(Err(Error::Io(e))),
        };
        match event {
            Event::Request => {
                let decision = match (hook.as_mut(), ws.request()) {
                    (Some(hook), Some(request)) => hook(request),
                    _ => Decision::Accept,
                };
                let conn = ws.conn_mut();
                let started = match decision {
                    Decision::Accept => conn.start(),
                    Decision::AcceptProtocol(protocol) => conn
                        .set_protocols(vec![protocol])
                        .and_then(|()| conn.start()),
                    Decision::Respond {
                        status,
                        headers,
                        body,
                    } => {
                        let headers: Vec<(&str, &str)> = headers
                            .iter()
                            .map(|(n, v)| (n.as_str(), v.as_str()))
                            .collect();
                        outcome.responded = true;
                        conn.respond(status, &headers, &body)
                    }
                };
                if let Err(e) = started {
                    if matches!(e, crate::Error::Usage(_)) {
                        // A bad header in the hook's answer: nothing was sent.
                        return Poll::Ready(Err(e.into()));
                    }
                    // Refusals were queued as events (and a 400) by the connection.
                }
            }
            Event::Open => outcome.opened = true,
            Event::Error(e) => outcome.error = Some(e),
            Event::Close { .. } => {
                outcome.failed = true;
                ws.begin_handshake_end();
            }
            _ => {}
        }
    }
}
