//! tokio-tungstenite echo server, as its `server.rs` example: split the stream,
//! keep text and binary messages, `forward` them into the sink (which batches
//! flushes). Default config: 64 MiB message limit, no compression (unsupported).

use futures_util::{StreamExt, TryStreamExt, future};

fn main() {
    wsd_peers::serve(|stream| async move {
        let Ok(ws) = tokio_tungstenite::accept_async(stream).await else {
            return;
        };
        let (write, read) = ws.split();
        let _ = read
            .try_filter(|m| future::ready(m.is_text() || m.is_binary()))
            .forward(write)
            .await;
    });
}
