//! Servers: a WebSocket upgrade answered from a hyper service.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{Response, StatusCode};
use http_body_util::Full;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use wsd_core::{Connection, Refused, Rejection, Request};
use wsd_handshake::{HeaderError, RequestError, server};

use crate::{Config, Error, IoConfig, WebSocket};

/// Whether `request` asks for a WebSocket: an HTTP/1.x `GET` whose `Connection`
/// header has an `upgrade` token and whose `Upgrade` header has a `websocket`
/// token. Use it to route; [`upgrade`] applies every rule of RFC 6455.
///
/// ```
/// let ws = http::Request::get("/chat")
///     .header("connection", "keep-alive, Upgrade")
///     .header("upgrade", "websocket")
///     .body(())
///     .unwrap();
/// assert!(wsd_hyper::is_upgrade_request(&ws));
/// let page = http::Request::get("/").body(()).unwrap();
/// assert!(!wsd_hyper::is_upgrade_request(&page));
/// ```
pub fn is_upgrade_request<B>(request: &http::Request<B>) -> bool {
    Request::try_from(request).is_ok_and(|ours| server::is_websocket_request(&ours))
}

/// [`upgrade_with`] the default [`Config`]: no subprotocol, no extension.
///
/// ```no_run
/// # use bytes::Bytes;
/// # use http_body_util::Full;
/// # fn handle(mut request: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
/// match wsd_hyper::upgrade(&mut request) {
///     Ok((response, websocket)) => {
///         tokio::spawn(async move {
///             if let Ok(mut ws) = websocket.await {
///                 let _ = ws.send(wsd_hyper::Message::text("welcome")).await;
///             }
///         });
///         response
///     }
///     Err(refused) => refused.to_response(),
/// }
/// # }
/// ```
pub fn upgrade<B>(
    request: &mut http::Request<B>,
) -> Result<(Response<Full<Bytes>>, UpgradeFuture), Error> {
    upgrade_with(request, Config::default())
}

/// Answers a WebSocket request in a hyper service: checks it (RFC 6455), negotiates
/// the subprotocol and extensions of `config`, and returns the
/// `101 Switching Protocols` response for the service to return, with an
/// [`UpgradeFuture`] that resolves to the [`WebSocket`] once hyper has sent it
/// (spawn a task that awaits it; the service must return first).
///
/// Fails with [`Error::Refused`] when the request is not a valid WebSocket request
/// (its [`to_response`](Error::to_response) is the 400, or 426 for an unsupported
/// version, to return instead), and with [`Error::NotUpgradable`] when hyper cannot
/// hand the connection over (see there).
///
/// ```no_run
/// # use bytes::Bytes;
/// # use http_body_util::Full;
/// # fn handle(mut request: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
/// let config = wsd_hyper::Config::default().protocols(["chat"]).max_message_size(1 << 20);
/// match wsd_hyper::upgrade_with(&mut request, config) {
///     Ok((response, websocket)) => {
///         tokio::spawn(async move {
///             let Ok(mut ws) = websocket.await else { return };
///             assert_eq!(ws.protocol(), Some("chat"));
///             while let Some(Ok(message)) = ws.next_message().await {
///                 println!("{message:?}");
///             }
///         });
///         response
///     }
///     Err(refused) => refused.to_response(),
/// }
/// # }
/// ```
pub fn upgrade_with<B>(
    request: &mut http::Request<B>,
    config: impl Into<Config>,
) -> Result<(Response<Full<Bytes>>, UpgradeFuture), Error> {
    let ours = Request::try_from(&*request).map_err(refuse)?;
    let on_upgrade = request.extensions_mut().remove::<OnUpgrade>();
    let (response, websocket) = accept(ours, on_upgrade, config.into())?;
    Ok((response.map(|()| Full::default()), websocket))
}

/// The work of [`upgrade_with`] for a stack built on hyper that took the request
/// apart already (`wsd-axum` does, in its extractor): `request` as converted from
/// the `http` crate's, and hyper's `OnUpgrade` taken from its extensions (`None`
/// when it had none, which fails with [`Error::NotUpgradable`] if the request is
/// otherwise valid). The response's body is the stack's to choose.
///
/// ```
/// let request = http::Request::get("/chat")
///     .header("host", "example.com")
///     .header("upgrade", "websocket")
///     .header("connection", "upgrade")
///     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("sec-websocket-version", "13")
///     .body(())
///     .unwrap();
/// let ours = wsd_hyper::Request::try_from(&request).unwrap();
/// // Not from hyper's server: there is no upgrade to take over.
/// let error = wsd_hyper::accept(ours, None, Default::default()).unwrap_err();
/// assert!(matches!(error, wsd_hyper::Error::NotUpgradable));
/// ```
pub fn accept(
    request: Request,
    on_upgrade: Option<OnUpgrade>,
    config: Config,
) -> Result<(Response<()>, UpgradeFuture), Error> {
    let (head, connection) = Connection::upgrade(request, config.options)?;
    let response = switching_protocols(&head)?;
    let on_upgrade = on_upgrade.ok_or(Error::NotUpgradable)?;
    let websocket = UpgradeFuture {
        on_upgrade,
        connection: Some(connection),
        io: config.io,
    };
    Ok((response, websocket))
}

/// A request the `http` crate cannot express as HTTP/1.x (an HTTP/2 request, which
/// opens WebSockets with an extended `CONNECT` instead): a 400, as our own server
/// answers what it cannot parse.
fn refuse(reason: RequestError) -> Error {
    let rejection = Rejection::from(reason.clone());
    let error = wsd_core::Error::Handshake(wsd_handshake::Error::Request(reason));
    Error::Refused(Refused::new(rejection, error))
}

/// The 101 head [`Connection::upgrade`] returned, as an `http::Response`. Its headers
/// passed our checks for what may be sent, which the `http` crate's are not
/// stricter than; should one still not convert, the request is answered with 500.
fn switching_protocols(head: &wsd_core::Response) -> Result<Response<()>, Error> {
    let mut response = Response::new(());
    *response.status_mut() =
        StatusCode::from_u16(head.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    for (name, value) in head.headers.iter() {
        let header = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| internal(HeaderError::InvalidName(name.to_owned())))?;
        let value = HeaderValue::from_str(value).map_err(|_| {
            internal(HeaderError::InvalidValue {
                name: name.to_owned(),
                value: value.to_owned(),
            })
        })?;
        response.headers_mut().append(header, value);
    }
    Ok(response)
}

/// A header we cannot send: a 500, as [`Connection::start`] answers when it cannot
/// write its 101.
fn internal(e: HeaderError) -> Error {
    let error = wsd_core::Error::Handshake(wsd_handshake::Error::InvalidHeader(e));
    let rejection = Rejection {
        status: 500,
        message: error.to_string(),
        reason: None,
    };
    Error::Refused(Refused::new(rejection, error))
}

/// The WebSocket of an accepted upgrade: resolves once hyper has sent the 101 and
/// handed the connection over, to the [`WebSocket`] over it, already open.
///
/// It fails with [`Error::Hyper`] when hyper does not hand the connection over: it
/// was served without `with_upgrades()`, or it failed before the 101 went out.
/// Awaiting it inside the service would wait for a response the service has not
/// returned yet: spawn a task.
///
/// ```no_run
/// # fn run(websocket: wsd_hyper::UpgradeFuture) {
/// tokio::spawn(async move {
///     match websocket.await {
///         Ok(ws) => drop(ws),
///         Err(e) => eprintln!("the upgrade failed: {e}"),
///     }
/// });
/// # }
/// ```
#[must_use = "the WebSocket is there once the future resolves"]
pub struct UpgradeFuture {
    on_upgrade: OnUpgrade,
    /// Taken when the future resolves.
    connection: Option<Connection>,
    io: IoConfig,
}

impl Future for UpgradeFuture {
    type Output = Result<WebSocket, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let upgraded = ready!(Pin::new(&mut self.on_upgrade).poll(cx))?;
        // Polled again after it resolved: the upgrade is gone.
        let connection = self.connection.take().ok_or(Error::NotUpgradable)?;
        let io = TokioIo::new(upgraded);
        Poll::Ready(Ok(wsd_tokio::from_connection(connection, io, self.io)))
    }
}

impl core::fmt::Debug for UpgradeFuture {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UpgradeFuture")
            .field("connection", &self.connection)
            .field("io", &self.io)
            .finish_non_exhaustive()
    }
}
