//! The server: [`Server`] drives an HTTP/2 connection and yields its WebSocket
//! requests as [`Incoming`]s.

use core::fmt;

use bytes::Bytes;
use h2::RecvStream;
use h2::ext::Protocol;
use h2::server::SendResponse;
use http::header::{HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use tokio::io::{AsyncRead, AsyncWrite};
use wsd_core::{ConnectRequest, Connection, Options};
use wsd_handshake::extended_connect::CONNECTION_SPECIFIC;
use wsd_handshake::server::Rejection;
use wsd_io::Config;
use wsd_tokio::TokioTimer;

use crate::stream::H2Stream;
use crate::{Error, H2Config, WebSocket};

/// What a server does with a request that is not an extended `CONNECT` (see
/// [`ServerConfig::on_other_request`]): the request, with its body, and the handle
/// to answer it.
pub type OtherRequest = Box<dyn FnMut(http::Request<RecvStream>, SendResponse<Bytes>) + Send>;

/// How a [`Server`] runs its connection.
///
/// ```
/// use wsd_h2::ServerConfig;
///
/// let mut config = ServerConfig::default();
/// config.h2.max_streams = 1000;
/// // A page for plain requests instead of the 404.
/// config.on_other_request = Some(Box::new(|_request, mut respond| {
///     let response = http::Response::builder().status(200).body(()).unwrap();
///     if let Ok(mut body) = respond.send_response(response, false) {
///         let _ = body.send_data("hello\n".into(), true);
///     }
/// }));
/// ```
#[derive(Default)]
#[non_exhaustive]
pub struct ServerConfig {
    /// The HTTP/2 settings: windows and stream count.
    pub h2: H2Config,
    /// Answers requests that are not extended `CONNECT`s; `None` answers 404 with
    /// no body. It runs inside [`Server::accept`], so it must not wait: spawn a
    /// task for a response that takes time.
    pub on_other_request: Option<OtherRequest>,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("h2", &self.h2)
            .field(
                "on_other_request",
                &self.on_other_request.as_ref().map(|_| "FnMut"),
            )
            .finish()
    }
}

/// The server side of one HTTP/2 connection (TLS with ALPN `h2`, or h2c with
/// prior knowledge) that allows WebSockets (`SETTINGS_ENABLE_CONNECT_PROTOCOL`).
///
/// As with h2 itself, [`accept`](Self::accept) drives the whole connection,
/// including the streams of the WebSockets already accepted: call it in a loop
/// until it returns `None`, and run each WebSocket in a task of its own.
pub struct Server<S> {
    conn: h2::server::Connection<S, Bytes>,
    on_other_request: Option<OtherRequest>,
}

impl<S> fmt::Debug for Server<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Server<S> {
    /// Runs the HTTP/2 handshake on `io` (the client's preface, then SETTINGS both
    /// ways, ours with extended `CONNECT` allowed and `config`'s windows).
    pub async fn handshake(io: S, config: ServerConfig) -> Result<Self, Error> {
        let h2 = config.h2;
        let conn = h2::server::Builder::new()
            .enable_connect_protocol()
            .initial_window_size(h2.stream_window)
            .initial_connection_window_size(h2.connection_window())
            .max_concurrent_streams(h2.max_streams)
            .max_frame_size(h2.max_frame_size)
            .max_send_buffer_size(h2.max_send_buffer)
            .handshake(io)
            .await?;
        Ok(Self {
            conn,
            on_other_request: config.on_other_request,
        })
    }

    /// The next WebSocket request, driving the connection until one arrives.
    /// `None` once the connection has closed; an error when it failed.
    ///
    /// Every extended `CONNECT` (a request with `:protocol`) is yielded, valid or
    /// not: [`Incoming::accept`] checks it. Other requests go to
    /// [`ServerConfig::on_other_request`] or are answered 404.
    pub async fn accept(&mut self) -> Option<Result<Incoming, Error>> {
        loop {
            let (request, respond) = match self.conn.accept().await? {
                Ok(accepted) => accepted,
                Err(e) => return Some(Err(e.into())),
            };
            let protocol = request.extensions().get::<Protocol>().cloned();
            if let (&Method::CONNECT, Some(protocol)) = (request.method(), protocol) {
                return Some(Ok(Incoming::new(request, protocol.as_str(), respond)));
            }
            match &mut self.on_other_request {
                Some(answer) => answer(request, respond),
                None => {
                    respond_plain(respond, StatusCode::NOT_FOUND, &[], "");
                }
            }
        }
    }

    /// Starts a graceful shutdown: a GOAWAY tells the client to open no more
    /// streams; the WebSockets already open go on, and [`accept`](Self::accept)
    /// returns `None` once they have ended.
    pub fn graceful_shutdown(&mut self) {
        self.conn.graceful_shutdown();
    }
}

/// One extended `CONNECT` request, to [`accept`](Self::accept) as a WebSocket or
/// [`refuse`](Self::refuse). Dropping it resets the stream.
pub struct Incoming {
    request: ConnectRequest,
    body: RecvStream,
    respond: SendResponse<Bytes>,
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("request", &self.request)
            .finish_non_exhaustive()
    }
}

impl Incoming {
    fn new(
        request: http::Request<RecvStream>,
        protocol: &str,
        respond: SendResponse<Bytes>,
    ) -> Self {
        let (parts, body) = request.into_parts();
        let request = ConnectRequest::from_http_parts(&parts, Some(protocol));
        Self {
            request,
            body,
            respond,
        }
    }

    /// The request: pseudo-headers and regular headers.
    pub fn request(&self) -> &ConnectRequest {
        &self.request
    }

    /// The `:path`: the path and query the client asked for.
    pub fn path(&self) -> &str {
        self.request.path.as_deref().unwrap_or_default()
    }

    /// The subprotocols the client offered (`sec-websocket-protocol`), in its order.
    pub fn protocols(&self) -> impl Iterator<Item = &str> {
        self.request.headers.tokens("sec-websocket-protocol")
    }

    /// Accepts the WebSocket with `options` (subprotocols, extensions, limits) and
    /// the default I/O [`Config`]: see [`accept_with`](Self::accept_with).
    pub fn accept(self, options: Options) -> Result<WebSocket, Error> {
        self.accept_with(options, Config::default())
    }

    /// Checks the request (RFC 8441), negotiates the subprotocol and extensions,
    /// answers `200` (with `options.headers`, names in lower case) and returns the
    /// open WebSocket over the stream.
    ///
    /// A request that is not a valid WebSocket `CONNECT` is answered as
    /// [`Refused`](wsd_core::Refused) says (400, 501 for another `:protocol`, 500
    /// for invalid options, with the reason as a plain-text body) and returned as
    /// [`Error::Refused`].
    pub fn accept_with(mut self, options: Options, config: Config) -> Result<WebSocket, Error> {
        let custom = options.headers.clone();
        let (answer, conn) = match Connection::upgrade_extended_connect(&self.request, options) {
            Ok(accepted) => accepted,
            Err(refused) => {
                send_rejection(self.respond, refused.rejection());
                return Err(Error::Refused(refused));
            }
        };
        let mut response = answer
            .to_http_response()
            .map_err(|e| Error::Handshake(wsd_core::Error::Handshake(e)))?;
        add_custom_headers(response.headers_mut(), &custom);
        let send = self.respond.send_response(response, false)?;
        let stream = H2Stream::new(send, self.body);
        Ok(WebSocket::from_connection(
            conn,
            stream,
            TokioTimer::default(),
            config,
        ))
    }

    /// Refuses the request with `status` (a 4xx or 5xx; another number becomes
    /// 500) and `body` as plain text. Frames the client sent early are discarded.
    pub fn refuse(self, status: u16, body: &str) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        respond_plain(self.respond, status, &[], body);
    }
}

/// Headers of the handshake's answer, which a custom header must not replace.
const ANSWER_HEADERS: [&str; 2] = ["sec-websocket-protocol", "sec-websocket-extensions"];

/// `options.headers` (already checked as tokens and safe values) in lower case,
/// except the answer's own and those HTTP/2 forbids (`host` and the
/// connection-specific headers, RFC 9113 section 8.2.2).
fn add_custom_headers(headers: &mut http::HeaderMap, custom: &[(String, String)]) {
    for (name, value) in custom {
        let name = name.to_ascii_lowercase();
        let name_str = name.as_str();
        if name_str == "host"
            || ANSWER_HEADERS.contains(&name_str)
            || CONNECTION_SPECIFIC.contains(&name_str)
        {
            continue;
        }
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(name, value);
        }
    }
}

/// Answers a refused WebSocket request: the rejection's status and headers, and
/// its message as the body.
fn send_rejection(respond: SendResponse<Bytes>, rejection: &Rejection) {
    let response = rejection.to_http_response(Version::HTTP_2);
    let headers: Vec<_> = response
        .headers()
        .iter()
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    respond_plain(respond, response.status(), &headers, &rejection.message);
}

/// Sends a complete response with `body` as `text/plain` (nothing when empty). A
/// stream the client already reset cannot be answered, which is no error of ours.
fn respond_plain(
    mut respond: SendResponse<Bytes>,
    status: StatusCode,
    headers: &[(HeaderName, HeaderValue)],
    body: &str,
) {
    let mut response = http::Response::new(());
    *response.status_mut() = status;
    for (name, value) in headers {
        response.headers_mut().append(name.clone(), value.clone());
    }
    if !body.is_empty() {
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
    }
    let end = body.is_empty();
    if let Ok(mut stream) = respond.send_response(response, end) {
        if !end {
            let _ = stream.send_data(Bytes::copy_from_slice(body.as_bytes()), true);
        }
    }
}
