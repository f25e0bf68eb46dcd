//! An echo server: `cargo run -p wsd-smol --example smol_echo_server [ADDR]`.

use smol::block_on;
use smol::net::TcpListener;
use wsd_smol::Message;

fn main() -> std::io::Result<()> {
    block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on ws://{addr}");
    loop {
        let (stream, peer) = listener.accept().await?;
        // The driver batches its own writes; Nagle would only delay them.
        stream.set_nodelay(true)?;
        smol::spawn(async move {
            let mut ws = match wsd_smol::accept(stream).await {
                Ok(ws) => ws,
                Err(e) => return eprintln!("{peer}: handshake failed: {e}"),
            };
            while let Some(item) = ws.next_message().await {
                match item {
                    Ok(Message::Close(_)) => break,
                    // Pings are answered by the driver already.
                    Ok(Message::Ping(_) | Message::Pong(_)) => {}
                    Ok(message) => {
                        // Queued, and written in one batch when no more input waits.
                        if let Err(e) = ws.feed(message).await {
                            return eprintln!("{peer}: {e}");
                        }
                    }
                    Err(e) => return eprintln!("{peer}: {e}"),
                }
            }
        })
        .detach();
    }
}
