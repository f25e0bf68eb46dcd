//! fastwebsockets echo server, as its `echo_server.rs` example minus hyper: our own
//! handshake (`wsd_peers::handshake`), then `after_handshake`, a `FragmentCollector`
//! and `read_frame` / `write_frame` (auto-pong, auto-close and writev on: defaults).

use fastwebsockets::{FragmentCollector, OpCode, Role, WebSocket};

fn main() {
    wsd_peers::serve(|mut stream| async move {
        if wsd_peers::handshake(&mut stream).await.is_err() {
            return;
        }
        let mut ws = WebSocket::after_handshake(stream, Role::Server);
        ws.set_max_message_size(wsd_peers::MAX_MESSAGE);
        let mut ws = FragmentCollector::new(ws);
        while let Ok(frame) = ws.read_frame().await {
            match frame.opcode {
                OpCode::Close => break,
                OpCode::Text | OpCode::Binary => {}
                _ => continue,
            }
            if ws.write_frame(frame).await.is_err() {
                break;
            }
        }
    });
}
