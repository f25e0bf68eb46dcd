//! Benchmarks for wsd: micro benchmarks with criterion (`cargo bench -p wsd-bench`).
//!
//! The peer servers `cargo xtask bench` compares wsd with are a crate of their own
//! (`benches/peers`, outside the workspace), so no wsd crate ever depends on them.
//! This library holds the inputs the benchmarks share.
#![forbid(unsafe_code)]

use wsd_frame::{OpCode, Rsv, encode_frame};

/// The masking key used by every benchmark input.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// `count` masked binary frames of `size` bytes each, back to back, as a client sends
/// them.
pub fn masked_frames(size: usize, count: usize) -> Vec<u8> {
    let payload: Vec<u8> = (0..size).map(|i| (i % 251) as u8).collect();
    let mut wire = Vec::with_capacity(count * (size + 14));
    for _ in 0..count {
        encode_frame(
            true,
            OpCode::Binary,
            Rsv::NONE,
            &payload,
            Some(KEY),
            &mut wire,
        );
    }
    wire
}

/// The compression ratio [`compressible_text`] aims at: about what chat and JSON
/// traffic gets from permessage-deflate.
pub const TEXT_RATIO: f64 = 5.0;

/// `size` bytes of deterministic ASCII text (JSON-like records) that raw deflate at
/// level 6 compresses about [`TEXT_RATIO`] to 1: the record values are drawn from a
/// range chosen, per size, as the one whose ratio comes closest (short texts need
/// fewer distinct values than long ones to compress as well).
pub fn compressible_text(size: usize) -> Vec<u8> {
    (2..=24)
        .map(|bits| records(size, 1 << bits))
        .min_by(|a, b| {
            let off = |text: &[u8]| (deflate_ratio(text) - TEXT_RATIO).abs();
            off(a).total_cmp(&off(b))
        })
        .unwrap_or_default()
}

/// JSON-like records whose three numbers are below `range` (xorshift, fixed seed).
fn records(size: usize, range: u64) -> Vec<u8> {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % range
    };
    let mut text = Vec::with_capacity(size + 64);
    while text.len() < size {
        let record = format!(
            r#"{{"id":{},"user":"user{}","score":{},"ok":true}},"#,
            next(),
            next(),
            next()
        );
        text.extend_from_slice(record.as_bytes());
    }
    text.truncate(size);
    text
}

/// `data` compressed as one permessage-deflate message: raw deflate at level 6, sync
/// flushed, without the final `00 00 ff ff` (RFC 7692, section 7.2.1).
pub fn deflate_message(data: &[u8]) -> Vec<u8> {
    let mut compress = flate2::Compress::new(flate2::Compression::new(6), false);
    let mut out = Vec::with_capacity(data.len() / 2 + 64);
    loop {
        let consumed = compress.total_in() as usize;
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity());
        }
        // Flushing cannot fail on a fresh stream with room in `out`.
        let _ = compress.compress_vec(&data[consumed..], &mut out, flate2::FlushCompress::Sync);
        if compress.total_in() as usize == data.len() && out.ends_with(&[0, 0, 0xff, 0xff]) {
            break;
        }
    }
    out.truncate(out.len() - 4);
    out
}

/// How many times smaller [`deflate_message`] makes `data`.
pub fn deflate_ratio(data: &[u8]) -> f64 {
    data.len() as f64 / deflate_message(data).len().max(1) as f64
}

/// `count` masked, compressed (RSV1) text frames of `text`, back to back, as a client
/// that negotiated permessage-deflate without context takeover sends them.
pub fn masked_deflated_frames(text: &[u8], count: usize) -> Vec<u8> {
    let payload = deflate_message(text);
    let mut wire = Vec::with_capacity(count * (payload.len() + 14));
    for _ in 0..count {
        encode_frame(
            true,
            OpCode::Text,
            Rsv::RSV1,
            &payload,
            Some(KEY),
            &mut wire,
        );
    }
    wire
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compressible_text_is_ascii_and_compresses_about_five_to_one() {
        for size in [1 << 10, 16 << 10, 64 << 10] {
            let text = compressible_text(size);
            assert_eq!(text.len(), size);
            assert!(text.is_ascii());
            let ratio = deflate_ratio(&text);
            assert!((4.5..=5.5).contains(&ratio), "{size} B: ratio {ratio:.2}");
        }
        assert_eq!(compressible_text(1024), compressible_text(1024));
    }

    #[test]
    fn a_deflated_message_inflates_back_to_the_text() {
        let text = compressible_text(16 << 10);
        let mut wire = deflate_message(&text);
        wire.extend_from_slice(&[0, 0, 0xff, 0xff]);
        let mut inflate = flate2::Decompress::new(false);
        let mut out = Vec::with_capacity(text.len() + 64);
        inflate
            .decompress_vec(&wire, &mut out, flate2::FlushDecompress::Sync)
            .unwrap();
        assert_eq!(out, text);
    }

    #[test]
    fn masked_frames_have_the_expected_length() {
        assert_eq!(masked_frames(16, 3).len(), 3 * (2 + 4 + 16));
        assert_eq!(masked_frames(1 << 20, 1).len(), 10 + 4 + (1 << 20));
    }
}
