//! A client: `cargo run -p wsd-smol --example smol_client [URL]` sends a few messages to
//! an echo server and prints the replies.

use wsd_smol::{CloseCode, Message};

fn main() -> Result<(), wsd_smol::Error> {
    smol::block_on(run())
}

async fn run() -> Result<(), wsd_smol::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001/".into());
    let mut ws = wsd_smol::connect(&url).await?;
    for text in ["hello", "wsd", "bye"] {
        ws.send(Message::text(text)).await?;
        match ws.next_message().await {
            Some(reply) => println!("{:?}", reply?),
            None => break,
        }
    }
    ws.close(CloseCode::NORMAL, "done").await
}
