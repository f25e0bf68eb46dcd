//! Allocations per echoed message through `wsd_core::Connection` in steady state.
//!
//! A counting global allocator (`stats_alloc`, so no `unsafe` here) wraps the system
//! allocator. A server `Connection` is opened in memory, then for each payload size
//! it is fed masked binary frames the way the adapters read: straight into its
//! input buffer, 32 KiB at a time or what `read_size` asks for, every `Message` event is sent straight back and the output is taken as
//! a socket write would. After a warm-up of the same traffic, the allocator calls
//! (allocations + reallocations) during the measured messages are divided by their
//! number. Target: 0 for messages that fit the read buffer. Run with
//! `cargo bench -p wsd-bench --bench alloc`.

#![forbid(unsafe_code)]

use std::alloc::System;

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use wsd_core::{Connection, Event, Options};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The adapters' read buffer (`wsd_io`'s socket loop).
const READ_CHUNK: usize = 32 * 1024;

fn open_server() -> Connection {
    let mut client = Connection::client("ws://example.com/", Options::default()).expect("client");
    let mut server = Connection::server(Options::default());
    client.start().expect("start client");
    server.handle_input(&client.poll_transmit_vec());
    assert_eq!(server.poll_event(), Some(Event::Request));
    server.start().expect("start server");
    assert_eq!(server.poll_event(), Some(Event::Open));
    let _ = server.poll_transmit_vec();
    server
}

/// Feeds `messages` echoes through `server`; returns how many came back.
fn echo(server: &mut Connection, wire: &[u8], offset: &mut usize, messages: u64) -> u64 {
    let mut echoed = 0;
    while echoed < messages {
        // What the adapters do: read straight into the connection's buffer, as
        // much as it asks for.
        let end = (*offset + server.read_size(READ_CHUNK)).min(wire.len());
        server.read_input(|buf| buf.extend_from_slice(&wire[*offset..end]));
        *offset = if end == wire.len() { 0 } else { end };
        while let Some(event) = server.poll_event() {
            match event {
                Event::Message(message) => {
                    server.send(message).expect("send");
                    echoed += 1;
                }
                other => panic!("unexpected event {other:?}"),
            }
        }
        // What the adapter does once the socket took the bytes (large payloads are
        // queued by reference, so the output comes in several runs).
        while server.buffered_amount() > 0 {
            let n = server.pending_output().len();
            server.consume_output(n);
        }
    }
    echoed
}

fn main() {
    // The counter must see this one allocation, or every zero below means nothing.
    let region = Region::new(GLOBAL);
    let probe = std::hint::black_box(vec![0u8; 4096]);
    assert_eq!(
        region.change().allocations,
        1,
        "counting allocator not active"
    );
    drop(probe);
    println!(
        "{:>9} {:>9} {:>12} {:>14} {:>16}",
        "payload", "messages", "allocs/msg", "reallocs/msg", "bytes alloc/msg"
    );
    for size in [16usize, 1024, 16 << 10, 30 << 10, 64 << 10, 1 << 20] {
        let frame_len = wsd_bench::masked_frames(size, 1).len();
        let wire = wsd_bench::masked_frames(size, (256 * 1024 / frame_len).max(1));
        let messages = ((64u64 << 20) / frame_len as u64).clamp(64, 100_000);
        let mut server = open_server();
        let mut offset = 0;
        echo(&mut server, &wire, &mut offset, messages / 4 + 4);
        let region = Region::new(GLOBAL);
        let echoed = echo(&mut server, &wire, &mut offset, messages);
        let stats = region.change();
        let per = |n: usize| n as f64 / echoed as f64;
        println!(
            "{:>9} {:>9} {:>12.3} {:>14.3} {:>16.1}",
            size,
            echoed,
            per(stats.allocations),
            per(stats.reallocations),
            per(stats.bytes_allocated)
        );
    }
}
