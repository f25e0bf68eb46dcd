//! Deterministic JSON-like text, as a trading or chat service sends it: the keys
//! repeat from record to record, the values mostly do not. Shared by the
//! `memory_table` test and the `per_message` example.

use std::fmt::Write as _;

/// A small deterministic generator (Knuth's MMIX LCG), so the text is the same on
/// every run.
pub(crate) struct Lcg(pub(crate) u64);

impl Lcg {
    pub(crate) fn below(&mut self, n: u64) -> u64 {
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

/// One event record.
pub(crate) fn record(rng: &mut Lcg, seq: u64, out: &mut String) {
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
pub(crate) fn batch(rng: &mut Lcg, seq: &mut u64) -> String {
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

/// `count` snapshot messages of exactly `len` bytes each (records cut at `len`),
/// every one different; `seed` picks the sequence.
pub(crate) fn snapshots(seed: u64, len: usize, count: usize) -> Vec<String> {
    let (mut rng, mut seq) = (Lcg(seed), 0);
    (0..count)
        .map(|_| {
            let mut text = String::from(r#"{"event":"snapshot","items":["#);
            while text.len() < len {
                seq += 1;
                record(&mut rng, seq, &mut text);
                text.push(',');
            }
            text.truncate(len);
            text
        })
        .collect()
}
