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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masked_frames_have_the_expected_length() {
        assert_eq!(masked_frames(16, 3).len(), 3 * (2 + 4 + 16));
        assert_eq!(masked_frames(1 << 20, 1).len(), 10 + 4 + (1 << 20));
    }
}
