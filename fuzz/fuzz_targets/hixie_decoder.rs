//! The Hixie-75/76 `Decoder` on arbitrary bytes in arbitrary splits, and `key_number`
//! on arbitrary strings.
//!
//! Layout: draft (1 byte), max_length selector (1), split seed (8), then the stream.
//! Checks: no panic; split input gives the frames and error of whole input (the
//! decoder's documented promise); text frames are UTF-8 and within max_length;
//! nothing comes after `Close`; errors are sticky; `encode_text` round-trips; and
//! `key_number` agrees with a 128-bit reference computation.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wsd_fuzz::{Reader, max_length, split};
use wsd_hixie::{Decoder, Draft, Error, Frame, KeyError, encode_text, key_number};

fn decode_chunks(draft: Draft, max: usize, chunks: &[&[u8]]) -> (Vec<Frame>, Option<Error>) {
    let mut decoder = Decoder::new(draft, max);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut closed = false;
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    assert!(!closed, "a frame after Close");
                    closed |= frame == Frame::Close;
                    frames.push(frame);
                }
                Ok(None) => break,
                Err(e) => {
                    assert_eq!(
                        decoder.decode(&mut buf),
                        Err(e.clone()),
                        "errors are sticky"
                    );
                    return (frames, Some(e));
                }
            }
        }
    }
    (frames, None)
}

/// `key_number` computed the obvious way: all the digits as one number, divided by
/// the spaces.
fn reference_key_number(key: &[u8]) -> Result<u32, KeyError> {
    let digits: Vec<u8> = key.iter().copied().filter(u8::is_ascii_digit).collect();
    let spaces = key.iter().filter(|&&b| b == b' ').count() as u128;
    if digits.is_empty() {
        return Err(KeyError::NoDigits);
    }
    let significant = match digits.iter().position(|&d| d != b'0') {
        Some(first) => &digits[first..],
        None => return Err(KeyError::Zero),
    };
    // More than 20 significant digits cannot fit in 64 bits.
    if significant.len() > 20 {
        return Err(KeyError::NumberTooLarge);
    }
    let number = significant
        .iter()
        .fold(0u128, |n, d| n * 10 + u128::from(d - b'0'));
    if number > u128::from(u64::MAX) {
        return Err(KeyError::NumberTooLarge);
    }
    if spaces == 0 {
        return Err(KeyError::NoSpaces);
    }
    if number % spaces != 0 {
        return Err(KeyError::NotDivisible);
    }
    u32::try_from(number / spaces).map_err(|_| KeyError::QuotientTooLarge)
}

fuzz_target!(|input: &[u8]| {
    let mut r = Reader::new(input);
    let draft = if r.u8() & 1 == 0 {
        Draft::Hixie76
    } else {
        Draft::Hixie75
    };
    let max = usize::try_from(max_length(r.u8(), 64 << 20)).unwrap_or(usize::MAX);
    let seed = r.u64();
    let data = r.rest();

    let whole = decode_chunks(draft, max, &[data]);
    let parts = decode_chunks(draft, max, &split(data, seed));
    assert_eq!(whole, parts, "whole and split input disagree");
    for frame in &whole.0 {
        if let Frame::Text(text) = frame {
            assert!(std::str::from_utf8(text).is_ok());
            assert!(
                text.len() <= max,
                "a {}-byte frame over max_length {max}",
                text.len()
            );
        }
    }

    let text = String::from_utf8_lossy(data);
    let mut wire = Vec::new();
    encode_text(&text, &mut wire);
    let mut decoder = Decoder::new(draft, text.len());
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(
        decoder.decode(&mut buf),
        Ok(Some(Frame::Text(text.as_bytes().to_vec().into())))
    );
    assert!(buf.is_empty());

    assert_eq!(
        key_number(data),
        reference_key_number(data).map_err(Error::InvalidKey)
    );
});
