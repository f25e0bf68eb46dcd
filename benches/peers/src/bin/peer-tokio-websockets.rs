//! tokio-websockets echo server, as its examples: `ServerBuilder::accept`, split,
//! `forward` text and binary messages back (the sink flushes past 8 KiB queued).
//! Features `server` + `sha1_smol`; payload limit 64 MiB; no compression (unsupported).

use futures_util::{StreamExt, TryStreamExt, future};
use tokio_websockets::{Limits, ServerBuilder};

fn main() {
    wsd_peers::serve(|stream| async move {
        let Ok((_request, ws)) = ServerBuilder::new()
            .limits(Limits::default().max_payload_len(Some(wsd_peers::MAX_MESSAGE)))
            .accept(stream)
            .await
        else {
            return;
        };
        let (write, read) = ws.split();
        let _ = read
            .try_filter(|m| future::ready(m.is_text() || m.is_binary()))
            .forward(write)
            .await;
    });
}
