//! The CPU cost of permessage-deflate per message, for instruction counts:
//!
//! ```text
//! cargo build --release -p wsd-deflate --example per_message
//! valgrind --tool=callgrind --toggle-collect='*measured*' \
//!     target/release/examples/per_message compress 1024 200
//! ```
//!
//! runs `count` different JSON-like messages of `len` bytes through one connection's
//! sending side (`compress`) or receiving side (`inflate`), with context takeover
//! both ways and the default configuration; only the work inside `measured` counts,
//! so the instructions callgrind reports divided by `count` are the cost of one
//! message. A fourth argument, `window` (8-15) or `-` for the default, makes both
//! sides use that window. A fifth deals the messages in turn to that many
//! connections of one server (default 1), so that with more than the pool's 8 idle
//! streams every message goes through a stream another connection used last (reset
//! and primed). A sixth, `hold`, keeps the compression streams between messages.

use std::sync::Arc;

use bytes::Bytes;
use wsd_deflate::DeflateConfig;
use wsd_extensions::{Extensions, Message, Pipeline};
use wsd_frame::OpCode;

// Shared with the memory_table test, which uses the parts this example does not.
#[allow(dead_code)]
#[path = "../tests/support/json.rs"]
mod json;

fn registry(config: DeflateConfig) -> Extensions {
    let mut extensions = Extensions::new();
    extensions
        .add(Arc::new(config.build().expect("a valid configuration")))
        .expect("one extension");
    extensions
}

/// `connections` connected (sender, receiver) pairs of pipelines; the senders are
/// connections of one server, the receivers of one client.
fn pairs(config: DeflateConfig, connections: usize) -> Vec<(Pipeline, Pipeline)> {
    let client = registry(config);
    let server = registry(config);
    let offer = client.client_offer_header();
    (0..connections)
        .map(|_| {
            let (response, server_pipe) = server
                .server_negotiate(offer.as_deref())
                .expect("the server accepts");
            let client_pipe = client
                .client_activate(response.as_deref())
                .expect("the client accepts");
            (server_pipe, client_pipe)
        })
        .collect()
}

/// The work counted: every message through the pipes in turn, one way.
#[inline(never)]
fn measured(pipes: &mut [Pipeline], messages: Vec<Message>, inflate: bool) -> usize {
    let mut bytes = 0;
    let turns = pipes.len();
    for (i, message) in messages.into_iter().enumerate() {
        let pipe = &mut pipes[i % turns];
        let out = if inflate {
            pipe.decode(message, 1 << 24)
        } else {
            pipe.encode(message)
        };
        bytes += out.expect("deflate works").data.len();
    }
    bytes
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: per_message compress|inflate LEN COUNT [WINDOW|- [CONNECTIONS [hold]]]";
    let (Some(mode), Some(len), Some(count)) = (args.get(1), args.get(2), args.get(3)) else {
        eprintln!("{usage}");
        std::process::exit(2);
    };
    let inflate = match mode.as_str() {
        "compress" => false,
        "inflate" => true,
        _ => {
            eprintln!("{usage}");
            std::process::exit(2);
        }
    };
    let len: usize = len.parse().expect("LEN is a number");
    let count: usize = count.parse().expect("COUNT is a number");
    let mut config = DeflateConfig::new();
    if let Some(window) = args.get(4).filter(|arg| *arg != "-") {
        let window: u8 = window.parse().expect("WINDOW is 8-15");
        config = config
            .max_window_bits(window)
            .request_max_window_bits(window);
    }
    let connections = args
        .get(5)
        .map_or(1, |number| number.parse().expect("CONNECTIONS is a number"));
    if args.get(6).is_some_and(|arg| arg == "hold") {
        config = config.hold_streams(true);
    }
    let (mut senders, mut receivers): (Vec<_>, Vec<_>) =
        pairs(config, connections).into_iter().unzip();
    let texts = json::snapshots(3, len, count);
    let mut messages: Vec<Message> = texts
        .iter()
        .map(|text| Message::new(OpCode::Text, Bytes::from(text.clone())))
        .collect();
    let raw: usize = texts.iter().map(String::len).sum();
    if inflate {
        messages = messages
            .into_iter()
            .enumerate()
            .map(|(i, message)| {
                senders[i % connections]
                    .encode(message)
                    .expect("deflate works")
            })
            .collect();
        let out = measured(&mut receivers, messages, true);
        assert_eq!(out, raw, "every message inflates to its text");
        println!("inflated {count} messages, {raw} bytes");
    } else {
        let out = measured(&mut senders, messages, false);
        println!(
            "compressed {count} messages of {len} bytes to {:.1}% of their size",
            100.0 * out as f64 / raw as f64
        );
    }
}
