//! The opening handshakes over a transport: [`accept_with`] and [`client`].

use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::io;

use wsd_core::{Connection, Event, Usage};

use crate::error::{UrlError, UrlErrorKind};
use crate::{ClientConfig, Decision, Error, ServerConfig, Timer, Transport, WebSocket};

/// Where to connect for a `ws://` or `wss://` URL: `(host, port, tls)`, the host
/// without IPv6 brackets, ready for DNS.
///
/// ```
/// # use wsd_io::parse_target;
/// assert_eq!(parse_target("wss://example.com/chat").unwrap(), ("example.com".into(), 443, true));
/// assert_eq!(parse_target("ws://[::1]:9001").unwrap(), ("::1".into(), 9001, false));
/// assert!(parse_target("http://example.com").is_err());
/// ```
pub fn parse_target(url: &str) -> Result<(String, u16, bool), Error> {
    let parsed = url::Url::parse(url).map_err(|e| UrlError::new(url, UrlErrorKind::Parse(e)))?;
    let tls = match parsed.scheme() {
        "ws" => false,
        "wss" => true,
        other => return Err(UrlError::new(url, UrlErrorKind::Scheme(other.to_owned())).into()),
    };
    let host = host_of(&parsed).ok_or_else(|| UrlError::new(url, UrlErrorKind::NoHost))?;
    let port = parsed.port().unwrap_or(if tls { 443 } else { 80 });
    Ok((host, port, tls))
}

/// The URL's host, ready for DNS (IPv6 without brackets); `None` when it has none.
pub(crate) fn host_of(url: &url::Url) -> Option<String> {
    match url.host()? {
        url::Host::Domain("") => None,
        url::Host::Domain(d) => Some(d.to_owned()),
        url::Host::Ipv4(ip) => Some(ip.to_string()),
        url::Host::Ipv6(ip) => Some(ip.to_string()),
    }
}

/// How [`accept_with`] ended: a WebSocket, or a plain HTTP answer the request hook
/// chose ([`Decision::Respond`]).
#[derive(Debug)]
#[must_use]
pub enum Accepted<W> {
    /// The handshake completed.
    Upgraded(W),
    /// The request was answered with plain HTTP, written and shut down: not a
    /// failure, a server loop moves on.
    Responded {
        /// The status that was sent.
        status: u16,
    },
}

impl<W> Accepted<W> {
    /// The WebSocket, if the request was upgraded.
    pub fn upgraded(self) -> Option<W> {
        match self {
            Self::Upgraded(ws) => Some(ws),
            Self::Responded { .. } => None,
        }
    }

    /// Changes the WebSocket's type (adapters wrap it).
    pub fn map<V>(self, f: impl FnOnce(W) -> V) -> Accepted<V> {
        match self {
            Self::Upgraded(ws) => Accepted::Upgraded(f(ws)),
            Self::Responded { status } => Accepted::Responded { status },
        }
    }
}

/// Runs the server handshake on `io`, accepting any valid WebSocket request with
/// default options (see [`accept_with`] for the errors).
pub async fn accept<T: Transport, Z: Timer>(io: T, timer: Z) -> Result<WebSocket<T, Z>, Error> {
    match accept_with(io, timer, ServerConfig::default()).await? {
        Accepted::Upgraded(ws) => Ok(ws),
        // Only a request hook answers with plain HTTP, and there is none.
        Accepted::Responded { .. } => Err(Error::Closed),
    }
}

/// Runs the server handshake on `io`: reads the request, asks
/// [`ServerConfig::on_request`], and answers. Returns [`Accepted::Responded`] after a
/// plain HTTP answer; fails with [`Error::HandshakeTimeout`] when the request did not
/// arrive in time, [`Error::Protocol`] when it was not a valid WebSocket request (a
/// 400 was sent), and [`Error::Usage`] for invalid options (nothing was read).
///
/// Cancel safety: dropping the future drops the transport; nothing is half-sent
/// that the peer could mistake for an answer other than a partial head.
///
/// The future is a named type, [`AcceptWith`], that holds the WebSocket being
/// opened and little else: a server keeps one per connection in its handshake.
pub fn accept_with<T: Transport, Z: Timer>(
    io: T,
    timer: Z,
    config: ServerConfig,
) -> AcceptWith<T, Z> {
    let ServerConfig {
        options,
        io: io_config,
        on_request,
        shutdown,
    } = config;
    if let Err(e) = options.validate() {
        return AcceptWith(Err(Some(e.into())));
    }
    let conn = Connection::server(options);
    let mut ws = WebSocket::from_connection(conn, io, timer, io_config);
    if let Some(token) = &shutdown {
        ws.watch_shutdown(token);
    }
    AcceptWith(Ok(Handshaking {
        ws: Some(ws),
        hook: on_request,
        outcome: Outcome::default(),
    }))
}

/// The future [`accept_with`] returns: the server handshake on one transport.
///
/// Its output is what an `async fn accept_with` would return. It is written by hand,
/// not as an `async fn`, because an `async fn` future keeps its arguments (the
/// transport, the timer and the whole [`ServerConfig`]) beside the WebSocket made
/// from them, several hundred bytes per connection in its handshake for nothing.
#[must_use = "futures do nothing unless polled"]
pub struct AcceptWith<T, Z>(Result<Handshaking<T, Z>, Option<Error>>);

/// What [`AcceptWith`] drives: the WebSocket (taken out when the handshake ends),
/// the request hook and what the handshake has seen.
struct Handshaking<T, Z> {
    ws: Option<WebSocket<T, Z>>,
    hook: Option<crate::RequestHook>,
    outcome: Outcome,
}

impl<T, Z> core::fmt::Debug for AcceptWith<T, Z> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let state = match &self.0 {
            Ok(h) if h.ws.is_some() => "handshaking",
            Ok(_) | Err(None) => "done",
            Err(Some(_)) => "failed",
        };
        f.debug_tuple("AcceptWith").field(&state).finish()
    }
}

impl<T: Transport, Z: Timer> Future for AcceptWith<T, Z> {
    type Output = Result<Accepted<WebSocket<T, Z>>, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let handshaking = match &mut self.get_mut().0 {
            Ok(handshaking) => handshaking,
            Err(early) => return Poll::Ready(Err(early.take().unwrap_or(Error::Closed))),
        };
        let Some(ws) = handshaking.ws.as_mut() else {
            // Polled again after it completed.
            return Poll::Ready(Err(Error::Closed));
        };
        let result = ready!(drive(
            ws,
            cx,
            &mut handshaking.outcome,
            &mut handshaking.hook
        ));
        // Done either way: the WebSocket is handed over or dropped (closing the
        // transport) now, not when the future is.
        let ws = handshaking.ws.take().ok_or(Error::Closed)?;
        result?;
        Poll::Ready(Ok(match handshaking.outcome.responded {
            Some(status) => Accepted::Responded { status },
            None => Accepted::Upgraded(ws),
        }))
    }
}

/// Runs the client handshake for `url` on `io` (already connected to the server,
/// TLS included for `wss://`). `config` is a [`ClientConfig`] or just
/// [`Options`](crate::Options).
pub async fn client<T: Transport, Z: Timer>(
    url: &str,
    io: T,
    timer: Z,
    config: impl Into<ClientConfig>,
) -> Result<WebSocket<T, Z>, Error> {
    client_with_input(url, io, timer, config, &[]).await
}

/// [`client`] for a transport from which `input` was already read: the bytes a
/// proxy sent after its `CONNECT` answer (see [`tunnel`](super::tunnel)).
/// They are parsed as the start of the server's response, before anything read
/// from `io`.
pub async fn client_with_input<T: Transport, Z: Timer>(
    url: &str,
    io: T,
    timer: Z,
    config: impl Into<ClientConfig>,
    input: &[u8],
) -> Result<WebSocket<T, Z>, Error> {
    let config = config.into();
    config.options.validate()?;
    let mut conn = Connection::client(url, config.options).map_err(|e| match e {
        wsd_core::Error::Usage(Usage::InvalidUrl(why)) => {
            Error::Url(UrlError::new(url, UrlErrorKind::Handshake(why)))
        }
        e => e.into(),
    })?;
    // The connection only buffers input before its response is due, so the
    // tunnel's first bytes can go in before `start` writes the request.
    conn.handle_input(input);
    conn.start()?;
    let mut ws = WebSocket::from_connection(conn, io, timer, config.io);
    let mut outcome = Outcome::default();
    poll_fn(|cx| drive(&mut ws, cx, &mut outcome, &mut None)).await?;
    Ok(ws)
}

/// What the handshake has seen.
#[derive(Default)]
struct Outcome {
    opened: bool,
    /// The status of a plain HTTP answer.
    responded: Option<u16>,
    /// Boxed: a rare case should not widen every handshake's future.
    error: Option<Box<wsd_core::Error>>,
    /// The handshake failed; the answer (a 400, a plain HTTP response) is being
    /// written before the error is returned.
    failed: bool,
}

fn drive<T: Transport, Z: Timer>(
    ws: &mut WebSocket<T, Z>,
    cx: &mut Context<'_>,
    outcome: &mut Outcome,
    hook: &mut Option<crate::RequestHook>,
) -> Poll<Result<(), Error>> {
    loop {
        if outcome.opened {
            // The 101 (or the request's answer) goes out before the WebSocket is handed
            // over: the application may not poll it for a while.
            return ws.poll_write_out(cx).map_err(Error::Io);
        }
        if outcome.failed {
            ready!(ws.poll_end(cx));
            if outcome.responded.is_some() {
                return Poll::Ready(Ok(()));
            }
            return Poll::Ready(Err(match outcome.error.take() {
                Some(e) => (*e).into(),
                None => Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the connection ended during the WebSocket handshake",
                )),
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
                        outcome.responded = Some(status);
                        conn.respond(status, &headers, &body)
                    }
                };
                if let Err(e) = started {
                    if matches!(e, wsd_core::Error::Usage(_)) {
                        // A bad header in the hook's answer: nothing was sent.
                        return Poll::Ready(Err(e.into()));
                    }
                    // Refusals were queued as events (and a 400) by the connection.
                }
            }
            Event::Open => outcome.opened = true,
            Event::Error(e) => outcome.error = Some(Box::new(e)),
            Event::Close { .. } => {
                outcome.failed = true;
                ws.begin_handshake_end();
            }
            _ => {}
        }
    }
}
