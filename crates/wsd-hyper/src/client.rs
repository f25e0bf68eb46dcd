//! Clients: the opening handshake through hyper's HTTP/1.1 client connection.

use bytes::Bytes;
use http::Version;
use http_body_util::Empty;
use hyper::client::conn::http1;
use hyper::ext::ReasonPhrase;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;
use wsd_core::{Connection, Headers, Response};
use wsd_io::TlsError;

use crate::{Config, Error, WebSocket};

/// Opens a WebSocket to a `ws://` URL over a new TCP connection (with
/// `TCP_NODELAY`: the WebSocket batches its writes itself), with the handshake
/// through hyper (see [`client`]). For `wss://`, connect and start TLS yourself and
/// call [`client`] with the stream.
///
/// ```no_run
/// # async fn run() -> Result<(), wsd_hyper::Error> {
/// let config = wsd_hyper::Config::default().deflate(Default::default());
/// let (ws, response) = wsd_hyper::connect("ws://127.0.0.1:8080/chat", config).await?;
/// println!("{:?} {:?}", response.headers().get("sec-websocket-extensions"), ws.extensions());
/// # Ok(())
/// # }
/// ```
pub async fn connect(
    url: &str,
    config: impl Into<Config>,
) -> Result<(WebSocket, http::Response<()>), Error> {
    let (host, port, tls) = wsd_io::parse_target(url)?;
    if tls {
        let hint = "connect, start TLS, and call wsd_hyper::client with the stream";
        return Err(wsd_io::Error::Tls(TlsError::NotAvailable { hint }).into());
    }
    let tcp = TcpStream::connect((host.as_str(), port)).await?;
    tcp.set_nodelay(true)?;
    client(url, TokioIo::new(tcp), config).await
}

/// Runs the client handshake for `url` through hyper's HTTP/1.1 client connection
/// over `stream`, already connected to the server (TLS included for `wss://`), and
/// returns the open [`WebSocket`] with the server's response head.
///
/// The request and the checks of the answer are those of wsd's own client: the
/// subprotocols, extensions (permessage-deflate), origin and headers of `config`,
/// a fresh key, and RFC 6455's rules for the response. An answer that does not
/// accept the WebSocket fails with [`Error::Handshake`], which carries the response
/// head; the whole handshake fails with a timeout error after
/// `Options::handshake_timeout`.
///
/// hyper's connection task is spawned on the current tokio runtime, as hyper's
/// client examples do; it ends when hyper hands the stream over.
///
/// ```no_run
/// use hyper_util::rt::TokioIo;
///
/// # async fn run() -> Result<(), wsd_hyper::Error> {
/// let tcp = tokio::net::TcpStream::connect("127.0.0.1:8080").await?;
/// let config = wsd_hyper::Config::default().protocols(["chat"]);
/// match wsd_hyper::client("ws://127.0.0.1:8080/chat", TokioIo::new(tcp), config).await {
///     Ok((ws, _)) => println!("open, subprotocol {:?}", ws.protocol()),
///     Err(wsd_hyper::Error::Handshake { response, .. }) => println!("refused: {}", response.status),
///     Err(e) => println!("failed: {e}"),
/// }
/// # Ok(())
/// # }
/// ```
pub async fn client<S>(
    url: &str,
    stream: S,
    config: impl Into<Config>,
) -> Result<(WebSocket, http::Response<()>), Error>
where
    S: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    let config = config.into();
    match config.options.handshake_timeout {
        Some(limit) => tokio::time::timeout(limit, handshake(url, stream, config))
            .await
            .map_err(|_| wsd_io::Error::HandshakeTimeout)?,
        None => handshake(url, stream, config).await,
    }
}

/// [`client`] without its timeout.
async fn handshake<S>(
    url: &str,
    stream: S,
    config: Config,
) -> Result<(WebSocket, http::Response<()>), Error>
where
    S: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
{
    let handshake = Connection::client_handshake(url, &config.options)?;
    let request = handshake
        .to_http_request()
        .map_err(wsd_core::Error::Handshake)?
        .map(|()| Empty::<Bytes>::new());
    let (mut sender, connection) = http1::handshake(stream).await?;
    // Its errors reach `send_request` and the upgrade, which report them.
    tokio::spawn(connection.with_upgrades());
    let mut response = sender.send_request(request).await?;
    let upgrade = hyper::upgrade::on(&mut response);
    let (parts, _body) = response.into_parts();
    let opened = Connection::client_opened(&handshake, response_head(&parts), config.options);
    let connection = match opened {
        Ok(connection) => connection,
        Err(error) => {
            let response = Box::new(parts);
            return Err(Error::Handshake { error, response });
        }
    };
    let upgraded = upgrade.await?;
    let ws = wsd_tokio::from_connection(connection, TokioIo::new(upgraded), config.io);
    Ok((ws, http::Response::from_parts(parts, ())))
}

/// The response head as the handshake checks it: the reason phrase hyper read (or
/// the standard one), and header values that are not UTF-8 read as ISO-8859-1, as
/// wsd's own parser reads them.
fn response_head(parts: &http::response::Parts) -> Response {
    let reason = match parts.extensions.get::<ReasonPhrase>() {
        Some(phrase) => latin1(phrase.as_bytes()),
        None => parts.status.canonical_reason().unwrap_or("").to_owned(),
    };
    let mut headers = Headers::new();
    for (name, value) in &parts.headers {
        headers.push(name.as_str(), latin1(value.as_bytes()));
    }
    Response {
        version: u8::from(parts.version != Version::HTTP_10),
        status: parts.status.as_u16(),
        reason,
        headers,
    }
}

/// `bytes` as text: UTF-8 when it is, otherwise one character per byte (ISO-8859-1).
fn latin1(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().copied().map(char::from).collect(),
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn response_heads_keep_status_reason_and_latin1_values() {
        let response = http::Response::builder()
            .status(101)
            .version(Version::HTTP_11)
            .header("upgrade", "websocket")
            .header("x-name", HeaderValue::from_bytes(b"caf\xe9").unwrap())
            .body(())
            .unwrap();
        let (mut parts, ()) = response.into_parts();
        let head = response_head(&parts);
        assert_eq!(
            (head.version, head.status, head.reason.as_str()),
            (1, 101, "Switching Protocols")
        );
        assert_eq!(head.headers.get("Upgrade").as_deref(), Some("websocket"));
        assert_eq!(head.headers.get("X-Name").as_deref(), Some("caf\u{e9}"));

        parts.version = Version::HTTP_10;
        parts.status = http::StatusCode::NOT_FOUND;
        parts
            .extensions
            .insert(ReasonPhrase::from_static(b"Nowhere"));
        let head = response_head(&parts);
        assert_eq!((head.version, head.status), (0, 404));
        assert_eq!(head.reason, "Nowhere");
    }
}
