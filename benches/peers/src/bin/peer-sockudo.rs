//! sockudo-ws echo server, as its README recommends for a tokio echo loop: `next`,
//! then `feed` every text and binary message (the stream drains queued output before
//! it reads more). Its own request parser (`handshake::parse_request`) does the
//! opening handshake here so that permessage-deflate can be negotiated on the same
//! binary: a client that offers it gets sockudo-ws's `CompressedWebSocketStream`
//! with its default deflate settings (level 6, context takeover, 15-bit windows),
//! any other client the plain `WebSocketStream`. Default config otherwise: 64 MiB
//! message limit.

use bytes::BytesMut;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use sockudo_ws::deflate::{DeflateConfig, negotiate_server_deflate};
use sockudo_ws::handshake::{build_response, generate_accept_key, parse_request};
use sockudo_ws::{CompressedWebSocketStream, Config, Message, WebSocketStream};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn main() {
    wsd_peers::serve(|mut stream| async move {
        let mut buf = BytesMut::with_capacity(4096);
        let (deflate, leftover) = loop {
            if buf.len() > 16 * 1024 {
                return;
            }
            match stream.read_buf(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let Ok(parsed) = parse_request(&buf) else {
                return;
            };
            let Some((request, consumed)) = parsed else {
                continue;
            };
            let accept = generate_accept_key(request.key);
            let deflate = request
                .extensions
                .and_then(|offers| negotiate_server_deflate(offers, &DeflateConfig::default()));
            let header = deflate.as_ref().map(|d| d.to_response_header());
            let response = build_response(&accept, None, header.as_deref());
            if stream.write_all(&response).await.is_err() {
                return;
            }
            let leftover = (consumed < buf.len()).then(|| buf.split_off(consumed).freeze());
            break (deflate, leftover);
        };
        let config = Config::default();
        match deflate {
            Some(negotiated) => {
                let mut ws = CompressedWebSocketStream::server_with_leftover(
                    stream,
                    config,
                    negotiated.config,
                    leftover,
                );
                echo(&mut ws).await;
            }
            None => {
                let mut ws = WebSocketStream::from_raw_with_leftover(
                    stream,
                    sockudo_ws::Role::Server,
                    config,
                    leftover,
                );
                echo(&mut ws).await;
            }
        }
    });
}

/// The README's echo loop.
async fn echo<W>(ws: &mut W)
where
    W: Stream<Item = sockudo_ws::Result<Message>> + Sink<Message> + Unpin,
{
    while let Some(Ok(message)) = ws.next().await {
        match message {
            Message::Close(_) => return,
            Message::Text(_) | Message::Binary(_) => {}
            _ => continue,
        }
        if ws.feed(message).await.is_err() {
            return;
        }
    }
}
