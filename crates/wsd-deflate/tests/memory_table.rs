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

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// The message each side of the measured connection compresses and decompresses.
const MESSAGE_LEN: usize = 16 * 1024;
/// The connection the documentation promises to fit, if a setting does.
const BUDGET: usize = 64 * 1024;
/// The compression the documentation lets such a setting lose, in percent.
const MAX_COST: f64 = 10.0;
const WINDOWS: std::ops::RangeInclusive<u8> = 8..=15;
const MEM_LEVELS: std::ops::RangeInclusive<u8> = 1..=9;
/// The settings (window, memLevel) the documentation lists in detail: the default,
/// smaller ones, and those that save memory at little cost in the grids.
const FOCUS: [(u8, u8); 7] = [(15, 8), (15, 3), (13, 3), (12, 8), (12, 3), (10, 4), (9, 1)];

/// Bytes allocated and not freed since `region` began.
fn held(region: &Region<'_, System>) -> isize {
    let change = region.change();
    change.bytes_allocated as isize - change.bytes_deallocated as isize
}

/// A small deterministic generator (Knuth's MMIX LCG), so the text is the same on
/// every run.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }

    fn pick<'a>(&mut self, words: &[&'a str]) -> &'a str {
        words[self.below(words.len() as u64) as usize]
    }
}

const NAMES: [&str; 12] = [
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory",
    "oscar",
];
const SYMBOLS: [&str; 6] = ["BTC-USD", "ETH-USD", "SOL-USD", "EUR-USD", "AAPL", "MSFT"];
const KINDS: [&str; 4] = ["trade", "quote", "cancel", "fill"];
const TAGS: [&str; 8] = [
    "retail", "api", "mobile", "web", "priority", "batch", "eu", "us",
];

/// One event as a trading or chat service might send it: the keys repeat from
/// record to record, the values mostly do not.
fn record(rng: &mut Lcg, seq: u64, out: &mut String) {
    let _ = write!(
        out,
        r#"{{"seq":{seq},"type":"{}","user":{{"id":{},"name":"{}","verified":{}}},"symbol":"{}","price":{}.{:02},"quantity":{},"time":"2026-03-{:02}T{:02}:{:02}:{:02}.{:03}Z","tags":["{}","{}"]}}"#,
        rng.pick(&KINDS),
        10_000 + rng.below(90_000),
        rng.pick(&NAMES),
        rng.below(2) == 0,
        rng.pick(&SYMBOLS),
        rng.below(50_000),
        rng.below(100),
        rng.below(1000),
        1 + seq / 100_000,
        seq / 3600 % 24,
        seq / 60 % 60,
        seq % 60,
        rng.below(1000),
        rng.pick(&TAGS),
        rng.pick(&TAGS),
    );
}

/// A batch message of 1 to 12 records, about 0.2 to 2.5 KiB.
fn batch(rng: &mut Lcg, seq: &mut u64) -> String {
    let count = 1 + rng.below(12);
    let mut out = format!(r#"{{"event":"batch","count":{count},"items":["#);
    for i in 0..count {
        if i > 0 {
            out.push(',');
        }
        *seq += 1 + rng.below(5);
        record(rng, *seq, &mut out);
    }
    out.push_str("]}");
    out
}

/// The stream of messages the ratio is measured on, about 256 KiB in all.
fn stream() -> Vec<String> {
    let (mut rng, mut seq) = (Lcg(7), 0);
    let mut messages = Vec::new();
    let mut total = 0;
    while total < 256 * 1024 {
        let message = batch(&mut rng, &mut seq);
        total += message.len();
        messages.push(message);
    }
    messages
}

/// One 16 KiB JSON-like message (records cut at exactly 16 KiB).
fn large_message() -> String {
    let (mut rng, mut seq) = (Lcg(11), 0);
    let mut text = String::from(r#"{"event":"snapshot","items":["#);
    while text.len() < MESSAGE_LEN {
        seq += 1;
        record(&mut rng, seq, &mut text);
        text.push(',');
    }
    text.truncate(MESSAGE_LEN);
    text
}

fn registry(config: DeflateConfig) -> Extensions {
    let mut extensions = Extensions::new();
    extensions
        .add(Arc::new(config.build().unwrap()))
        .expect("one extension");
    extensions
}

/// A client that compresses with a `2^window`-byte window and asks the server for the
/// same, and the server under test; `server` tunes the server's own compressor.
struct Setting {
    window: u8,
    server: DeflateConfig,
    client_no_context_takeover: bool,
}

impl Setting {
    fn takeover(window: u8, mem_level: u8) -> Self {
        Self {
            window,
            server: DeflateConfig::new().mem_level(mem_level),
            client_no_context_takeover: false,
        }
    }

    fn pipelines(&self) -> (Pipeline, Extensions, String) {
        let client = registry(
            DeflateConfig::new()
                .max_window_bits(self.window)
                .request_max_window_bits(self.window)
                .no_context_takeover(self.client_no_context_takeover),
        );
        let offer = client.client_offer_header().expect("an offer");
        let server = registry(self.server);
        let (response, _) = server.server_negotiate(Some(&offer)).unwrap();
        let client_pipe = client.client_activate(response.as_deref()).unwrap();
        (client_pipe, server, offer)
    }
}

/// What one connection's server side holds after receiving one 16 KiB message and
/// sending one: (after receiving, after both).
fn memory(setting: &Setting, text: &'static str) -> (usize, usize) {
    let (mut client_pipe, server, offer) = setting.pipelines();
    let incoming = client_pipe
        .encode(Message::new(
            OpCode::Text,
            Bytes::from_static(text.as_bytes()),
        ))
        .unwrap();
    // Static, so that freeing it inside the region does not count against the
    // connection.
    let incoming = Message {
        data: Bytes::from_static(Vec::leak(incoming.data.to_vec())),
        ..incoming
    };
    let region = Region::new(GLOBAL);
    let (_, mut server_pipe) = server.server_negotiate(Some(&offer)).unwrap();
    let received = server_pipe.decode(incoming, 1 << 20).unwrap();
    assert_eq!(received.data, text.as_bytes());
    drop(received);
    let after_receiving = held(&region);
    let sent = server_pipe
        .encode(Message::new(
            OpCode::Text,
            Bytes::from_static(text.as_bytes()),
        ))
        .unwrap();
    assert!(sent.data.len() < text.len() / 2);
    drop(sent);
    let after_both = held(&region);
    drop(server_pipe);
    assert_eq!(
        held(&region),
        0,
        "a closed connection gives back all it held"
    );
    (
        usize::try_from(after_receiving).unwrap(),
        usize::try_from(after_both).unwrap(),
    )
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

#[test]
fn memory_table() {
    let text: &'static str = String::leak(large_message());
    let messages = stream();
    let stream_len: usize = messages.iter().map(String::len).sum();
    let one = [text.to_owned()];

    // With context takeover both ways, for every window and memLevel.
    let mut pair = [[0usize; 9]; 8];
    let mut decompressor = [[0usize; 9]; 8];
    let mut size = [[0usize; 9]; 8];
    let mut single = [[0usize; 9]; 8];
    for (w, window) in WINDOWS.enumerate() {
        for (m, mem_level) in MEM_LEVELS.enumerate() {
            let setting = Setting::takeover(window, mem_level);
            (decompressor[w][m], pair[w][m]) = memory(&setting, text);
            size[w][m] = compressed_size(&setting, &messages);
            single[w][m] = compressed_size(&setting, &one);
        }
    }
    let at = |table: &[[usize; 9]; 8], (window, mem_level): (u8, u8)| {
        table[usize::from(window - 8)][usize::from(mem_level - 1)]
    };
    let reference = at(&size, (15, 8));
    let cost = |bytes: usize| percent(bytes, reference) - 100.0;

    let mut report = String::new();
    let header = |report: &mut String, corner: &str| {
        let _ = write!(report, "\n| {corner} |");
        for mem_level in MEM_LEVELS {
            let _ = write!(report, " {mem_level} |");
        }
        let _ = write!(report, "\n|---|");
        for _ in MEM_LEVELS {
            let _ = write!(report, "---:|");
        }
    };
    let _ = writeln!(
        report,
        "\nHeld by one connection (KiB), context takeover, windows by memLevel:"
    );
    header(&mut report, "window \\ memLevel");
    for (w, window) in WINDOWS.enumerate() {
        let _ = write!(report, "\n| {window} |");
        for bytes in pair[w] {
            let _ = write!(report, " {} |", kib(bytes));
        }
    }
    let _ = writeln!(
        report,
        "\n\nCompressed size of the JSON stream ({} messages, {} KiB), % of the raw size:",
        messages.len(),
        kib(stream_len)
    );
    header(&mut report, "window \\ memLevel");
    for (w, window) in WINDOWS.enumerate() {
        let _ = write!(report, "\n| {window} |");
        for bytes in size[w] {
            let _ = write!(report, " {:.1} |", percent(bytes, stream_len));
        }
    }

    // The listed settings, and the ways to hold less between messages.
    let _ = writeln!(
        report,
        "\n\n| setting | compressor | decompressor | per connection | stream ratio | cost | 16 KiB message ratio |\n|---|---:|---:|---:|---:|---:|---:|"
    );
    let mut fits = Vec::new();
    for (window, mem_level) in FOCUS {
        let (d, p, s) = (
            at(&decompressor, (window, mem_level)),
            at(&pair, (window, mem_level)),
            at(&size, (window, mem_level)),
        );
        let _ = writeln!(
            report,
            "| window {window}, memLevel {mem_level} | {} | {} | {} | {:.1}% | {:+.1}% | {:.1}% |",
            kib(p - d),
            kib(d),
            kib(p),
            percent(s, stream_len),
            cost(s),
            percent(at(&single, (window, mem_level)), MESSAGE_LEN),
        );
    }
    for window in [15, 10] {
        // The server drops its compressor after each message, keeps its decompressor.
        let own = Setting {
            window,
            server: DeflateConfig::new().no_context_takeover(true),
            client_no_context_takeover: false,
        };
        // Nothing kept either way.
        let neither = Setting {
            window,
            server: DeflateConfig::new()
                .no_context_takeover(true)
                .request_no_context_takeover(true),
            client_no_context_takeover: true,
        };
        for (name, setting) in [
            ("server_no_context_takeover", own),
            ("no context takeover", neither),
        ] {
            let (d, p) = memory(&setting, text);
            let s = compressed_size(&setting, &messages);
            let _ = writeln!(
                report,
                "| window {window}, {name} | {} | {} | {} | {:.1}% | {:+.1}% | {:.1}% |",
                kib(p - d),
                kib(d),
                kib(p),
                percent(s, stream_len),
                cost(s),
                percent(compressed_size(&setting, &one), MESSAGE_LEN),
            );
            if p <= BUDGET && cost(s) <= MAX_COST {
                fits.push(format!("window {window}, {name}"));
            }
        }
    }
    for (w, window) in WINDOWS.enumerate() {
        for (m, mem_level) in MEM_LEVELS.enumerate() {
            if pair[w][m] <= BUDGET && cost(size[w][m]) <= MAX_COST {
                fits.push(format!("window {window}, memLevel {mem_level}"));
            }
        }
    }
    let _ = writeln!(
        report,
        "\nAt most {} KiB per connection and at most {MAX_COST}% worse: {}",
        BUDGET / 1024,
        if fits.is_empty() {
            "none".to_owned()
        } else {
            fits.join("; ")
        }
    );
    println!("{report}");

    // What the documentation says about these figures, checked.
    let increasing = |bytes: &[usize]| bytes.windows(2).all(|pair| pair[0] < pair[1]);
    for row in &pair {
        assert!(increasing(row), "memLevel costs memory");
    }
    for m in 0..9 {
        let column: Vec<usize> = pair.iter().map(|row| row[m]).collect();
        // A negotiated 8 is used as 9.
        assert_eq!(column[0], column[1], "window 8 is window 9");
        assert!(increasing(&column[1..]), "the window costs memory");
    }
    // zlib-rs's decompressor allocates a 32 KiB window whatever the stream's.
    assert!(
        decompressor
            .iter()
            .flatten()
            .all(|&bytes| bytes == decompressor[0][0])
    );
    assert!(at(&pair, (15, 8)) > 2 * at(&pair, (9, 1)));
    assert!(
        at(&size, (15, 8)) < at(&size, (9, 1)),
        "a larger window helps"
    );
    // zlib-rs keeps a 64 Ki-entry hash table (128 KiB) whatever the memLevel, so no
    // compressor kept between messages fits the budget.
    assert!(pair.iter().flatten().all(|&bytes| bytes > BUDGET));
}
