//! A client: `cargo run -p wsd-async-std --example async_std_client [URL]` sends a few messages to
//! an echo server and prints the replies.

use wsd_async_std::{CloseCode, Message};

fn main() -> Result<(), wsd_async_std::Error> {
    async_std::task::block_on(run())
}

async fn run() -> Result<(), wsd_async_std::Error> {
    let url = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "ws://127.0.0.1:9001/".into());
    let mut ws = wsd_async_std::connect(&url).await?;
    for text in ["hello", "wsd", "bye"] {
        ws.send(Message::text(text)).await?;
        match ws.next_message().await {
            Some(reply) => println!("{:?}", reply?),
            None => break,
        }
    }
    ws.close(CloseCode::NORMAL, "done").await
}
