//! [`connect_request`]: a client handshake described by an `http::Request<()>`, with
//! the response head given back, as tokio-tungstenite's `connect_async` does.

use wsd_core::Options;

use crate::{Error, MaybeTlsStream, WebSocket, connect_with};

/// Connects with a request built with the `http` crate: its URI is the URL (`ws://`
/// or `wss://`), `Sec-WebSocket-Protocol` values become the subprotocols offered,
/// and every other header is sent with the handshake (the ones the handshake sets
/// itself, such as `Sec-WebSocket-Key`, are refused by [`Options::validate`]).
/// `options` gives the rest (limits, timeouts, extensions). Returns the WebSocket
/// and the head of the server's `101` answer.
///
/// ```no_run
/// # async fn run() -> Result<(), wsd_tokio::Error> {
/// let request = http::Request::get("ws://127.0.0.1:9001/chat")
///     .header("Authorization", "Bearer secret")
///     .header("Sec-WebSocket-Protocol", "chat, superchat")
///     .body(())
///     .expect("a valid request");
/// let (ws, response) = wsd_tokio::connect_request(request, wsd_tokio::Options::default()).await?;
/// assert_eq!(response.status(), 101);
/// println!("subprotocol: {:?}", ws.protocol());
/// # Ok(())
/// # }
/// ```
pub async fn connect_request(
    request: http::Request<()>,
    mut options: Options,
) -> Result<(WebSocket<MaybeTlsStream>, http::Response<()>), Error> {
    let url = request.uri().to_string();
    for (name, value) in request.headers() {
        let value = String::from_utf8_lossy(value.as_bytes());
        if name == http::header::SEC_WEBSOCKET_PROTOCOL {
            let offered = value.split(',').map(str::trim).filter(|p| !p.is_empty());
            options.protocols.extend(offered.map(String::from));
        } else {
            options
                .headers
                .push((name.as_str().to_owned(), value.into_owned()));
        }
    }
    let ws = connect_with(&url, options).await?;
    let response = response_head(&ws);
    Ok((ws, response))
}

/// The head of the answer the client received, as an `http::Response<()>`.
fn response_head<S>(ws: &WebSocket<S>) -> http::Response<()> {
    let conn = ws.connection();
    let mut response = http::Response::new(());
    if let Some(status) = conn
        .status()
        .and_then(|s| http::StatusCode::from_u16(s).ok())
    {
        *response.status_mut() = status;
    }
    for (name, value) in conn.response_headers().into_iter().flat_map(|h| h.iter()) {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(name, value);
        }
    }
    response
}
