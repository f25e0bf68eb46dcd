//! A chat room over WebSockets, as axum's own chat example has it, on wsd.
//!
//! The only change from an `axum::extract::ws` program is the import line: the
//! extractor, the socket and the messages come from `wsd_axum`.
//!
//! Each client's first message is its user name: a name in use is refused with a
//! message and the connection closes. Then everything a user sends goes to everyone
//! as `name: text`, and the room hears `name joined.` and `name left.`.
//!
//! ```sh
//! cargo run -p wsd-axum --example axum_chat
//! ```
//! and open <http://127.0.0.1:3000> in two browser tabs.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use futures_util::StreamExt;
use tokio::sync::broadcast;
// With axum's own WebSockets this line reads
// `use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};` (and `SinkExt`
// joins `StreamExt` above: wsd's halves have `send` of their own).
use wsd_axum::{Message, WebSocket, WebSocketUpgrade};

/// What every connection shares: the names in use and the room's channel.
struct AppState {
    user_set: Mutex<HashSet<String>>,
    tx: broadcast::Sender<String>,
}

/// The chat's routes: the page at `/`, the WebSocket at `/websocket`.
pub(crate) fn app() -> Router {
    let (tx, _) = broadcast::channel(100);
    let state = Arc::new(AppState {
        user_set: Mutex::new(HashSet::new()),
        tx,
    });
    Router::new()
        .route("/", get(index))
        .route("/websocket", get(websocket_handler))
        .with_state(state)
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app()).await
}

async fn websocket_handler(
    ws: WebSocketUpgrade,
    State(state): State<Arc<AppState>>,
) -> impl IntoResponse {
    ws.on_upgrade(|socket| websocket(socket, state))
}

/// One user's connection: the name first, then the room.
async fn websocket(stream: WebSocket, state: Arc<AppState>) {
    let (mut sender, mut receiver) = stream.split();

    // The first text message is the name; it must be free.
    let mut username = String::new();
    while let Some(Ok(message)) = receiver.next().await {
        if let Message::Text(name) = message {
            if claim_username(&state, name.as_str()) {
                username = name.to_string();
                break;
            }
            let _ = sender.send(Message::text("Username already taken.")).await;
            return;
        }
    }

    // Subscribe before announcing, so the user hears its own arrival.
    let mut rx = state.tx.subscribe();
    let _ = state.tx.send(format!("{username} joined."));

    // The room to this user.
    let mut send_task = tokio::spawn(async move {
        while let Ok(line) = rx.recv().await {
            if sender.send(Message::text(line)).await.is_err() {
                break;
            }
        }
    });

    // This user to the room.
    let tx = state.tx.clone();
    let name = username.clone();
    let mut recv_task = tokio::spawn(async move {
        while let Some(Ok(Message::Text(text))) = receiver.next().await {
            let _ = tx.send(format!("{name}: {text}"));
        }
    });

    // When either side ends, the other goes too.
    tokio::select! {
        _ = &mut send_task => recv_task.abort(),
        _ = &mut recv_task => send_task.abort(),
    }

    let _ = state.tx.send(format!("{username} left."));
    if let Ok(mut names) = state.user_set.lock() {
        names.remove(&username);
    }
}

/// Takes `name` for this connection; false when someone has it.
fn claim_username(state: &AppState, name: &str) -> bool {
    match state.user_set.lock() {
        Ok(mut names) => names.insert(name.to_owned()),
        Err(_) => false,
    }
}

async fn index() -> Html<&'static str> {
    Html(INDEX)
}

/// The page: a name field, a join button, the room, and a line to type in.
const INDEX: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>wsd chat</title></head>
<body>
<h1>wsd chat</h1>
<input id="username" placeholder="your name"> <button id="join">Join</button>
<textarea id="room" cols="80" rows="20" readonly></textarea><br>
<input id="line" size="80" placeholder="say something">
<script>
const [username, join, room, line] =
  ["username", "join", "room", "line"].map((id) => document.getElementById(id));
join.addEventListener("click", () => {
  join.disabled = username.disabled = true;
  const ws = new WebSocket(`ws://${location.host}/websocket`);
  ws.onopen = () => ws.send(username.value);
  ws.onmessage = (event) => { room.value += event.data + "\n"; };
  ws.onclose = () => { room.value += "(disconnected)\n"; join.disabled = username.disabled = false; };
  line.onkeydown = (event) => {
    if (event.key === "Enter") { ws.send(line.value); line.value = ""; }
  };
});
</script>
</body>
</html>
"#;
