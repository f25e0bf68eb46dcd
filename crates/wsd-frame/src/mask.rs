//! Masking (RFC 6455 section 5.3): XOR with a repeating four-byte key.
//!
//! The loops work on 64-byte blocks (payloads of 256 bytes or more) and eight-byte
//! words, which LLVM turns into SIMD on the target's vector width; a byte-at-a-time
//! loop is about 15 times slower.
//! No `unsafe`: `chunks_exact_mut` plus `from_ne_bytes` compiles to plain loads and
//! stores.

/// XORs `buf` in place with `key`, as if `buf` started `offset` bytes into the
/// payload. Masking twice with the same key and offset restores the input, and
/// masking a payload in pieces gives the same bytes as masking it whole:
///
/// ```
/// # use wsd_frame::apply_mask;
/// let key = [0x37, 0xfa, 0x21, 0x3d];
/// let mut whole = *b"Hello, world";
/// apply_mask(&mut whole, key, 0);
///
/// let mut pieces = *b"Hello, world";
/// let (head, tail) = pieces.split_at_mut(5);
/// apply_mask(head, key, 0);
/// apply_mask(tail, key, 5);
/// assert_eq!(whole, pieces);
/// ```
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // The key as a little-endian word (key byte i in bits 8i..8i+8); starting
    // `offset` bytes in is a rotation by that many bytes (not a slice rotate: that
    // is a call, and this runs for every frame).
    let key = u32::from_le_bytes(key).rotate_right(8 * (offset % 4) as u32);
    let mut rest = buf;
    if rest.len() >= WIDE_FROM {
        // Large payloads in 64-byte blocks: LLVM keeps the 64-byte key in four
        // vector registers and does four 16-byte XORs per block, 15 instructions
        // per 64 bytes against 18 for the word loop below. The key block costs a
        // few dozen instructions to build, which is why small payloads skip it.
        let bytes = key.to_le_bytes();
        let wide: [u8; 64] = core::array::from_fn(|i| bytes[i % 4]);
        let mut blocks = rest.chunks_exact_mut(64);
        for block in &mut blocks {
            for (byte, k) in block.iter_mut().zip(wide) {
                *byte ^= k;
            }
        }
        // 64 is a multiple of 4: the rest starts at key byte 0 again.
        rest = blocks.into_remainder();
    }
    // The eight-byte word key is the four-byte key twice, so a little-endian word
    // XOR lines every byte up with its key byte on any target.
    let word_key = u64::from(key) | (u64::from(key) << 32);
    let (words, tail) = rest.split_at_mut(rest.len() & !7);
    for chunk in words.chunks_exact_mut(8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        chunk.copy_from_slice(&(u64::from_le_bytes(word) ^ word_key).to_le_bytes());
    }
    // `words` has a multiple of 8 bytes, so the tail starts at key byte 0 again.
    for (byte, k) in tail.iter_mut().zip(key.to_le_bytes().into_iter().cycle()) {
        *byte ^= k;
    }
}

/// Payloads from this length on are masked in 64-byte blocks.
const WIDE_FROM: usize = 256;

/// The obvious byte-at-a-time masking, kept as the reference for the differential
/// tests and benchmarks.
#[doc(hidden)]
pub fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, byte) in buf.iter_mut().enumerate() {
        *byte ^= key[(offset + i) % 4];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;
    use proptest::prelude::*;

    #[test]
    fn rfc_6455_example_masked_hello_unmasks() {
        // RFC 6455 section 5.7: a masked "Hello".
        let mut payload = [0x7f, 0x9f, 0x4d, 0x51, 0x58];
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d], 0);
        assert_eq!(&payload, b"Hello");
    }

    proptest! {
        #[test]
        fn word_masking_equals_bytewise_masking(
            data in proptest::collection::vec(any::<u8>(), 0..700),
            key in any::<[u8; 4]>(),
            offset in 0usize..16,
        ) {
            let mut fast: Vec<u8> = data.clone();
            let mut slow = data.clone();
            apply_mask(&mut fast, key, offset);
            apply_mask_bytewise(&mut slow, key, offset);
            prop_assert_eq!(fast, slow);
        }
    }
}
