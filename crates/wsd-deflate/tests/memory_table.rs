//! What permessage-deflate costs per connection, in heap bytes and in compression,
//! for each window size and memLevel: the figures in the crate documentation.
//!
//! ```text
//! cargo test -p wsd-deflate --release --test memory_table -- --nocapture
//! ```
//!
//! prints the tables (the figures do not depend on the profile; release is only
//! faster). The counting allocator sees the whole process, so this binary holds one
//! test: a lone test runs without another test thread allocating beside it.

use std::alloc::System;
use std::fmt::Write as _;
use std::sync::Arc;

use bytes::Bytes;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use wsd_deflate::DeflateConfig;
use wsd_extensions::{Extensions, Message, Pipeline};
use wsd_frame::OpCode;

#[path = "support/json.rs"]
mod json;

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The message each side of the measured connection compresses and decompresses.
const MESSAGE_LEN: usize = 16 * 1024;
/// What the documentation promises a default server connection fits in.
const BUDGET: usize = 64 * 1024;
/// The compression the documentation lets the default lose, in percent.
const MAX_COST: f64 = 10.0;
const WINDOWS: std::ops::RangeInclusive<u8> = 8..=15;
const MEM_LEVELS: std::ops::RangeInclusive<u8> = 1..=9;
/// What a connection's session and pipeline take besides the windows: a few hundred
/// bytes.
const OVERHEAD: usize = 1024;

/// Bytes allocated and not freed since `region` began.
fn held(region: &Region<'_, System>) -> isize {
    let change = region.change();
    change.bytes_allocated as isize - change.bytes_deallocated as isize
}

/// The stream of messages the ratio is measured on, about 256 KiB in all.
fn stream() -> Vec<String> {
    let (mut rng, mut seq) = (json::Lcg(7), 0);
    let mut messages = Vec::new();
    let mut total = 0;
    while total < 256 * 1024 {
        let message = json::batch(&mut rng, &mut seq);
        total += message.len();
        messages.push(message);
    }
    messages
}

fn registry(config: DeflateConfig) -> Extensions {
    let mut extensions = Extensions::new();
    extensions
        .add(Arc::new(config.build().unwrap()))
        .expect("one extension");
    extensions
}

/// A client that compresses with a `2^window`-byte window and asks the server for the
/// same, or a default client (`window` None), and the server under test.
#[derive(Clone, Copy)]
struct Setting {
    window: Option<u8>,
    server: DeflateConfig,
    /// The client offers a bare `permessage-deflate`, so the server cannot ask for
    /// a smaller client window.
    bare_offer: bool,
}

impl Setting {
    /// Context takeover both ways with `window` each way; the server's own
    /// configuration lets the client choose.
    fn takeover(window: u8, mem_level: u8, hold_streams: bool) -> Self {
        Self {
            window: Some(window),
            server: DeflateConfig::new()
                .max_window_bits(15)
                .request_max_window_bits(15)
                .mem_level(mem_level)
                .hold_streams(hold_streams),
            bare_offer: false,
        }
    }

    fn client(&self) -> Extensions {
        registry(match self.window {
            Some(window) => DeflateConfig::new()
                .max_window_bits(window)
                .request_max_window_bits(window),
            None => DeflateConfig::new(),
        })
    }

    /// The client's pipeline, the server's registry and the offer to answer.
    fn pipelines(&self) -> (Pipeline, Extensions, String) {
        let client = self.client();
        let offer = if self.bare_offer {
            "permessage-deflate".to_owned()
        } else {
            client.client_offer_header().expect("an offer")
        };
        let server = registry(self.server);
        let (response, _) = server.server_negotiate(Some(&offer)).unwrap();
        let client_pipe = client.client_activate(response.as_deref()).unwrap();
        (client_pipe, server, offer)
    }
}

fn text_message(text: &'static str) -> Message {
    Message::new(OpCode::Text, Bytes::from_static(text.as_bytes()))
}

/// One server connection's memory, in bytes.
struct Held {
    /// After receiving one 16 KiB message.
    received: usize,
    /// After receiving one and sending one: what the measured server holds per
    /// connection.
    both: usize,
    /// After a second message each way, so that windows up to 32 KiB are full.
    full: usize,
}

/// What one server connection holds between messages. An earlier connection of the
/// same server, closed since, has left its streams in the process's pool, so this
/// one borrows them and only what it keeps counts (with `hold_streams` it makes its
/// own, which count).
fn memory(setting: &Setting, texts: [&'static str; 2]) -> Held {
    let (mut client_pipe, server, offer) = setting.pipelines();
    // Compressed before the region and leaked, so that freeing them inside it does
    // not count against the connection.
    let incoming: Vec<Message> = texts
        .iter()
        .map(|text| {
            let sent = client_pipe.encode(text_message(text)).unwrap();
            Message {
                data: Bytes::from_static(Vec::leak(sent.data.to_vec())),
                ..sent
            }
        })
        .collect();
    let exchange = |pipe: &mut Pipeline, message: &Message, text: &str| {
        let received = pipe.decode(message.clone(), 1 << 20).unwrap();
        assert_eq!(received.data, text.as_bytes());
        let sent = pipe
            .encode(Message::new(OpCode::Text, received.data))
            .unwrap();
        assert!(sent.data.len() < text.len() / 2);
    };
    {
        let (_, mut warm) = server.server_negotiate(Some(&offer)).unwrap();
        exchange(&mut warm, &incoming[0], texts[0]);
    }
    let region = Region::new(GLOBAL);
    let (_, mut server_pipe) = server.server_negotiate(Some(&offer)).unwrap();
    let received = server_pipe.decode(incoming[0].clone(), 1 << 20).unwrap();
    assert_eq!(received.data, texts[0].as_bytes());
    drop(received);
    let after_receiving = held(&region);
    let sent = server_pipe.encode(text_message(texts[0])).unwrap();
    drop(sent);
    let after_both = held(&region);
    exchange(&mut server_pipe, &incoming[1], texts[1]);
    let full = held(&region);
    drop(server_pipe);
    assert_eq!(
        held(&region),
        0,
        "a closed connection gives back all it held, and the pool is as it was"
    );
    let size = |bytes: isize| usize::try_from(bytes).unwrap();
    Held {
        received: size(after_receiving),
        both: size(after_both),
        full: size(full),
    }
}

/// What the process's first connection leaves in the pool of streams once closed:
/// one compressor and one decompressor. Measured before any other connection.
fn first_connection(setting: &Setting, text: &'static str) -> usize {
    let (mut client_pipe, server, offer) = setting.pipelines();
    let incoming = client_pipe.encode(text_message(text)).unwrap();
    let incoming = Message {
        data: Bytes::from_static(Vec::leak(incoming.data.to_vec())),
        ..incoming
    };
    let region = Region::new(GLOBAL);
    let (_, mut server_pipe) = server.server_negotiate(Some(&offer)).unwrap();
    let received = server_pipe.decode(incoming, 1 << 20).unwrap();
    drop(server_pipe.encode(Message::new(OpCode::Text, received.data)));
    drop(server_pipe);
    usize::try_from(held(&region)).unwrap()
}

/// The server's compressed size of `messages`, each checked by the client.
fn compressed_size(setting: &Setting, messages: &[String]) -> usize {
    let (mut client_pipe, server, offer) = setting.pipelines();
    let (_, mut server_pipe) = server.server_negotiate(Some(&offer)).unwrap();
    let mut total = 0;
    for text in messages {
        let sent = server_pipe
            .encode(Message::new(OpCode::Text, text.clone()))
            .unwrap();
        total += sent.data.len();
        let received = client_pipe.decode(sent, 1 << 20).unwrap();
        assert_eq!(received.data, text.as_bytes());
    }
    total
}

fn kib(bytes: usize) -> String {
    format!("{:.1}", bytes as f64 / 1024.0)
}

fn percent(part: usize, whole: usize) -> f64 {
    100.0 * part as f64 / whole as f64
}

/// The three texts the ratio is measured on, with their raw sizes.
struct Corpus {
    batches: Vec<String>,
    small: Vec<String>,
    large: Vec<String>,
}

impl Corpus {
    fn new() -> Self {
        Self {
            batches: stream(),
            small: json::snapshots(5, 1024, 64),
            large: json::snapshots(5, 64 * 1024, 4),
        }
    }

    /// Compressed sizes of the three, in the order of the fields.
    fn sizes(&self, setting: &Setting) -> [usize; 3] {
        [&self.batches, &self.small, &self.large].map(|texts| compressed_size(setting, texts))
    }

    fn raw(&self) -> [usize; 3] {
        [&self.batches, &self.small, &self.large]
            .map(|texts| texts.iter().map(String::len).sum::<usize>())
    }
}

#[test]
fn memory_table() {
    let texts: [&'static str; 2] = json::snapshots(11, MESSAGE_LEN, 2)
        .into_iter()
        .map(String::leak)
        .map(|text| &*text)
        .collect::<Vec<_>>()
        .try_into()
        .unwrap();
    let default = Setting {
        window: None,
        server: DeflateConfig::new(),
        bare_offer: false,
    };
    let pool = first_connection(&default, texts[0]);
    let corpus = Corpus::new();
    let raw = corpus.raw();

    // Streams lent (the default): by window; memLevel changes nothing kept.
    let mut report = String::from(
        "\nPer server connection (KiB), context takeover both ways, window N each way, memLevel 8:\n\
         | window | between messages | windows full | lent compressor | lent decompressor | streams held | batches | 1 KiB messages | 64 KiB messages |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|",
    );
    let reference = corpus.sizes(&Setting::takeover(15, 8, false));
    let mut lent = Vec::new();
    for window in WINDOWS {
        let setting = Setting::takeover(window, 8, false);
        let kept = memory(&setting, texts);
        for mem_level in [1, 9] {
            let other = memory(&Setting::takeover(window, mem_level, false), texts);
            assert_eq!(other.full, kept.full, "memLevel changes nothing kept");
        }
        let holding = memory(&Setting::takeover(window, 8, true), texts);
        let sizes = corpus.sizes(&setting);
        let _ = write!(
            report,
            "\n| {window} | {} | {} | {} | {} | {} |",
            kib(kept.both),
            kib(kept.full),
            kib(holding.both - holding.received),
            kib(holding.received),
            kib(holding.both),
        );
        for (i, size) in sizes.iter().enumerate() {
            let _ = write!(
                report,
                " {:.1}% ({:+.1}%) |",
                percent(*size, raw[i]),
                percent(*size, reference[i]) - 100.0
            );
        }
        // The windows and no more: 2^window each way (9 for 8), filled up to what
        // passed through.
        let window_len = 1usize << window.max(9);
        let filled = 2 * window_len.min(MESSAGE_LEN);
        assert!(
            (filled..filled + OVERHEAD).contains(&kept.both),
            "window {window}"
        );
        let full = 2 * window_len;
        assert!(
            (full..full + OVERHEAD).contains(&kept.full),
            "window {window}"
        );
        lent.push((window, kept, holding, sizes));
    }

    // The server's defaults, with a default client and with one that offers no
    // client_max_window_bits.
    let default_kept = memory(&default, texts);
    let default_sizes = corpus.sizes(&default);
    let unlimited_client = Setting {
        bare_offer: true,
        ..default
    };
    let unlimited_kept = memory(&unlimited_client, texts);
    let _ = write!(
        report,
        "\n\nDefault server (window 13 each way): {} KiB between messages, {} KiB with full windows; \
         with a client that offers no client_max_window_bits (its window 15): {} KiB; \
         ratio cost {:+.1}% / {:+.1}% / {:+.1}%; the first connection leaves {} KiB of streams in the pool",
        kib(default_kept.both),
        kib(default_kept.full),
        kib(unlimited_kept.full),
        percent(default_sizes[0], reference[0]) - 100.0,
        percent(default_sizes[1], reference[1]) - 100.0,
        percent(default_sizes[2], reference[2]) - 100.0,
        kib(pool),
    );

    // Streams held: by window and memLevel.
    let mut holding = [[0usize; 9]; 8];
    let mut size = [[0usize; 9]; 8];
    for (w, window) in WINDOWS.enumerate() {
        for (m, mem_level) in MEM_LEVELS.enumerate() {
            let setting = Setting::takeover(window, mem_level, true);
            holding[w][m] = memory(&setting, texts).both;
            size[w][m] = compressed_size(&setting, &corpus.batches);
        }
    }
    let header = |report: &mut String| {
        let _ = write!(report, "\n| window \\ memLevel |");
        for mem_level in MEM_LEVELS {
            let _ = write!(report, " {mem_level} |");
        }
        let _ = write!(report, "\n|---|");
        for _ in MEM_LEVELS {
            let _ = write!(report, "---:|");
        }
    };
    let _ = write!(
        report,
        "\n\nPer connection with streams held (KiB), context takeover:"
    );
    header(&mut report);
    for (w, window) in WINDOWS.enumerate() {
        let _ = write!(report, "\n| {window} |");
        for bytes in holding[w] {
            let _ = write!(report, " {} |", kib(bytes));
        }
    }
    let _ = write!(
        report,
        "\n\nCompressed size of the JSON batches ({} messages, {} KiB), % of the raw size:",
        corpus.batches.len(),
        kib(raw[0])
    );
    header(&mut report);
    for (w, window) in WINDOWS.enumerate() {
        let _ = write!(report, "\n| {window} |");
        for bytes in size[w] {
            let _ = write!(report, " {:.1} |", percent(bytes, raw[0]));
        }
    }
    println!("{report}");

    // What the documentation says about these figures, checked.
    assert!(
        default_kept.full + OVERHEAD <= BUDGET / 2,
        "a default server connection keeps two 8 KiB windows"
    );
    assert!(
        unlimited_kept.full <= BUDGET,
        "even with a 32 KiB client window"
    );
    for (i, (&size, &reference)) in default_sizes.iter().zip(&reference).enumerate() {
        assert!(
            percent(size, reference) - 100.0 <= MAX_COST,
            "corpus {i}: {size} vs {reference}"
        );
    }
    let increasing = |bytes: &[usize]| bytes.windows(2).all(|pair| pair[0] < pair[1]);
    for row in &holding {
        assert!(
            increasing(row),
            "memLevel costs memory when streams are held"
        );
    }
    for m in 0..9 {
        let column: Vec<usize> = holding.iter().map(|row| row[m]).collect();
        // A negotiated 8 is used as 9.
        assert_eq!(column[0], column[1], "window 8 is window 9");
        assert!(increasing(&column[1..]), "the window costs memory");
    }
    // zlib-rs keeps a 64 Ki-entry hash table (128 KiB) whatever the memLevel, so no
    // held compressor fits the budget; lent ones leave only the windows.
    assert!(holding.iter().flatten().all(|&bytes| bytes > 2 * BUDGET));
    for (window, kept, held_streams, _) in &lent {
        assert!(kept.full * 4 < held_streams.both, "window {window}");
    }
    assert!(size[7][7] < size[1][0], "a larger window and memLevel help");
}
