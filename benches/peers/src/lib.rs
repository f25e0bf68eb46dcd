//! Shared shape of the peer echo servers: the same accept loop for every library so
//! that they differ only in the WebSocket code (and match `wsd serve`): a
//! current-thread tokio runtime, one task per connection, `TCP_NODELAY`, no
//! `tokio::task::unconstrained` (wsd does not use it either), bound to 127.0.0.1 on
//! the port given as the only argument.

#![forbid(unsafe_code)]

use std::future::Future;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The message limit every server is configured with (the peers' common default).
pub const MAX_MESSAGE: usize = 64 << 20;

/// Parses the port from argv, then serves forever, spawning `handle` per connection.
pub fn serve<F, Fut>(handle: F)
where
    F: Fn(TcpStream) -> Fut + 'static,
    Fut: Future<Output = ()> + 'static,
{
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            eprintln!("usage: <server> PORT");
            std::process::exit(2)
        });
    let runtime = tokio::runtime::Builder::new_current_thread()
        // Timers too: sockudo-ws runs its keepalive on tokio's timer (wsd serve has them
        // on as well).
        .enable_all()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let listener = TcpListener::bind(("127.0.0.1", port)).await.expect("bind");
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::task::spawn_local(handle(stream));
        }
    });
}

/// A minimal RFC 6455 server handshake for libraries that leave it to the caller
/// (fastwebsockets without its hyper-based `upgrade` feature). The load generator
/// sends nothing before the 101, so no bytes after the request head are lost.
pub async fn handshake(stream: &mut TcpStream) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(1024);
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 || head.len() > 16 * 1024 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
        head.extend_from_slice(&buf[..n]);
    }
    let text = String::from_utf8_lossy(&head);
    let key = text
        .lines()
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.trim()
                .eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .ok_or(std::io::ErrorKind::InvalidData)?;
    let mut sha = sha1_smol::Sha1::new();
    sha.update(key.as_bytes());
    sha.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    use base64::Engine as _;
    let accept = base64::engine::general_purpose::STANDARD.encode(sha.digest().bytes());
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n"
    );
    stream.write_all(response.as_bytes()).await
}
