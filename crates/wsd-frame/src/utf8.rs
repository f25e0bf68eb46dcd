//! Incremental UTF-8 validation for fragmented text messages.
//!
//! RFC 6455 section 8.1 lets an endpoint fail the connection as soon as it sees bytes
//! that cannot start a valid sequence, even mid-message. The validator keeps at most
//! three bytes of an unfinished code point between chunks, so a code point split
//! across fragments (or TCP reads) is accepted while a bad byte is reported the moment
//! it arrives. Bulk validation is simdutf8's; the few bytes around a chunk boundary
//! go through `core::str::from_utf8`, whose `error_len` tells "invalid" (Some) from
//! "incomplete" (None).

use crate::ProtocolError;

/// Validates a UTF-8 stream fed in chunks.
///
/// ```
/// # use wsd_frame::Utf8Validator;
/// let euro = "€".as_bytes(); // E2 82 AC
/// let mut v = Utf8Validator::new();
/// v.feed(&euro[..1]).unwrap();
/// v.feed(&euro[1..]).unwrap();
/// v.finish().unwrap();
///
/// let mut v = Utf8Validator::new();
/// assert!(v.feed(&[b'a', 0xC0]).is_err()); // C0 can never start a sequence
/// ```
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    /// The bytes of an unfinished code point carried from the previous chunk.
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a stream.
    pub const fn new() -> Self {
        Self {
            pending: [0; 4],
            pending_len: 0,
        }
    }

    /// Checks the next chunk. Fails as soon as the bytes seen so far cannot be the
    /// beginning of valid UTF-8.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<(), ProtocolError> {
        if self.pending_len > 0 {
            // Complete the carried code point a byte at a time: at most three bytes.
            while self.pending_len > 0 {
                let Some((&byte, rest)) = chunk.split_first() else {
                    return Ok(());
                };
                chunk = rest;
                self.pending[usize::from(self.pending_len)] = byte;
                let len = usize::from(self.pending_len) + 1;
                match core::str::from_utf8(&self.pending[..len]) {
                    Ok(_) => self.pending_len = 0,
                    Err(e) if e.error_len().is_some() => return Err(ProtocolError::InvalidUtf8),
                    Err(_) => self.pending_len += 1,
                }
            }
        }
        match simdutf8::compat::from_utf8(chunk) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_some() => Err(ProtocolError::InvalidUtf8),
            Err(e) => {
                // An unfinished code point at the end: at most three bytes.
                let tail = chunk.get(e.valid_up_to()..).unwrap_or_default();
                self.pending[..tail.len()].copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                Ok(())
            }
        }
    }

    /// Ends the stream: fails when it stopped in the middle of a code point.
    pub fn finish(&mut self) -> Result<(), ProtocolError> {
        let unfinished = self.pending_len > 0;
        self.pending_len = 0;
        if unfinished {
            Err(ProtocolError::InvalidUtf8)
        } else {
            Ok(())
        }
    }

    /// True when the stream seen so far ends on a code point boundary.
    pub const fn is_complete(&self) -> bool {
        self.pending_len == 0
    }
}

/// Validates a whole buffer (close reasons, unfragmented decoded messages).
pub(crate) fn validate(bytes: &[u8]) -> Result<&str, ProtocolError> {
    simdutf8::compat::from_utf8(bytes).map_err(|_| ProtocolError::InvalidUtf8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn chunked_ok(bytes: &[u8], split: usize) -> bool {
        let mut v = Utf8Validator::new();
        let (a, b) = bytes.split_at(split.min(bytes.len()));
        v.feed(a).is_ok() && v.feed(b).is_ok() && v.finish().is_ok()
    }

    #[test]
    fn well_formed_sequences_of_every_length_are_accepted_at_every_split() {
        let text = "a\u{7f}\u{80}\u{7ff}\u{800}\u{ffff}\u{10000}\u{10ffff}κόσμε";
        for split in 0..=text.len() {
            assert!(chunked_ok(text.as_bytes(), split), "split at {split}");
        }
    }

    #[test]
    fn ill_formed_sequences_are_rejected() {
        let cases: &[&[u8]] = &[
            &[0xC0, 0x80],             // overlong NUL
            &[0xE0, 0x80, 0x80],       // overlong
            &[0xED, 0xA0, 0x80],       // surrogate
            &[0xF4, 0x90, 0x80, 0x80], // above U+10FFFF
            &[0x80],                   // stray continuation
            &[0xFF],
            &[0xE2, 0x82], // truncated at the end
        ];
        for case in cases {
            for split in 0..=case.len() {
                assert!(!chunked_ok(case, split), "{case:x?} split at {split}");
            }
        }
    }

    #[test]
    fn a_bad_byte_fails_the_feed_that_brings_it() {
        let mut v = Utf8Validator::new();
        v.feed(b"hello ").unwrap();
        v.feed(&[0xF0]).unwrap(); // may still become a valid 4-byte sequence
        assert_eq!(v.feed(&[0x20]), Err(ProtocolError::InvalidUtf8));

        let mut v = Utf8Validator::new();
        v.feed(&[0xED]).unwrap();
        // ED A0 is already a surrogate: fail without waiting for the third byte.
        assert_eq!(v.feed(&[0xA0]), Err(ProtocolError::InvalidUtf8));
    }

    proptest! {
        #[test]
        fn chunked_validation_agrees_with_std(
            bytes in proptest::collection::vec(any::<u8>(), 0..40),
            cuts in proptest::collection::vec(0usize..40, 0..4),
        ) {
            let mut cuts = cuts;
            cuts.push(bytes.len());
            cuts.sort_unstable();
            let mut v = Utf8Validator::new();
            let mut start = 0;
            let mut ok = true;
            for cut in cuts {
                let cut = cut.min(bytes.len());
                if cut < start { continue; }
                ok &= v.feed(&bytes[start..cut]).is_ok();
                start = cut;
                if !ok { break; }
            }
            ok = ok && v.finish().is_ok();
            prop_assert_eq!(ok, core::str::from_utf8(&bytes).is_ok());
        }

        #[test]
        fn strings_fed_byte_by_byte_are_accepted(s in "\\PC*") {
            let mut v = Utf8Validator::new();
            for b in s.as_bytes() {
                prop_assert!(v.feed(core::slice::from_ref(b)).is_ok());
            }
            prop_assert!(v.finish().is_ok());
        }
    }
}
