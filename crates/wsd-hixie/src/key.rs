//! The Hixie-76 `Sec-WebSocket-Key1`/`Key2` challenge.
//!
//! Each key hides a 32-bit number: its decimal digits, concatenated, divided by its count of
//! spaces. The server proves it read the handshake by answering with the MD5 of the two
//! numbers (big-endian) followed by the 8 bytes the client sends after the request head.

use md5::{Digest, Md5};

use crate::{Error, KeyError};

/// How many body bytes the client sends after a Hixie-76 request head (the "key3").
pub const BODY_LEN: usize = 8;

/// How many bytes the server's answer to the challenge has.
pub const ANSWER_LEN: usize = 16;

/// Reads the number hidden in one Hixie-76 key header value.
///
/// The value is the key's ASCII digits read as one decimal number N, divided by the count S
/// of space characters (U+0020 only) in the key. The key is refused when it has no digits,
/// when N is 0, when N does not fit in 64 bits, when S is 0, when N is not a multiple of S
/// or when the quotient does not fit in 32 bits. Every byte sequence is accepted as input:
/// nothing here panics.
///
/// Unlike websocket-driver 0.7.x, which threw a `RangeError` for a quotient above 32 bits,
/// this refuses such keys, as 0.8.0 does.
///
/// # Example
///
/// ```
/// use wsd_hixie::{key_number, Error, KeyError};
///
/// assert_eq!(key_number("1   38 wZ3f9 23O0 3l 0r"), Ok(197_703_290));
/// assert_eq!(
///     key_number("2 L785 8o% s9Sy9@V. 4<1P5"),
///     Err(Error::InvalidKey(KeyError::NotDivisible))
/// );
/// ```
pub fn key_number(key: impl AsRef<[u8]>) -> Result<u32, Error> {
    let mut number: u64 = 0;
    let mut digits = false;
    let mut spaces: u64 = 0;
    for &byte in key.as_ref() {
        match byte {
            b'0'..=b'9' => {
                digits = true;
                // A quotient that fits in 32 bits times any count of spaces a real header
                // can hold fits in 64 bits, so an overflow here is always an invalid key.
                number = number
                    .checked_mul(10)
                    .and_then(|n| n.checked_add(u64::from(byte - b'0')))
                    .ok_or(KeyError::NumberTooLarge)?;
            }
            b' ' => spaces += 1,
            _ => {}
        }
    }
    if !digits {
        return Err(KeyError::NoDigits.into());
    }
    if number == 0 {
        return Err(KeyError::Zero.into());
    }
    if spaces == 0 {
        return Err(KeyError::NoSpaces.into());
    }
    if number % spaces != 0 {
        return Err(KeyError::NotDivisible.into());
    }
    u32::try_from(number / spaces).map_err(|_| KeyError::QuotientTooLarge.into())
}

/// Computes the 16-byte answer to a Hixie-76 challenge: the MD5 digest of `key1` and `key2`
/// as 32-bit big-endian numbers followed by the 8 body bytes.
///
/// # Example
///
/// ```
/// use wsd_hixie::challenge_answer;
///
/// let answer = challenge_answer(829_309_203, 259_970_620, b"^n:ds[4U");
/// assert_eq!(&answer, b"8jKS'y:G*Co,Wxa-");
/// ```
#[must_use]
pub fn challenge_answer(key1: u32, key2: u32, body: &[u8; BODY_LEN]) -> [u8; ANSWER_LEN] {
    let mut md5 = Md5::new();
    md5.update(key1.to_be_bytes());
    md5.update(key2.to_be_bytes());
    md5.update(body);
    md5.finalize().into()
}

/// The two numbers of a Hixie-76 handshake, read once the request head is parsed and kept
/// until the 8 body bytes arrive.
///
/// # Example
///
/// ```
/// use wsd_hixie::Challenge;
///
/// let challenge = Challenge::from_keys("4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00")?;
/// // ... write the response head, wait for the 8 body bytes ...
/// assert_eq!(&challenge.answer(b"^n:ds[4U"), b"8jKS'y:G*Co,Wxa-");
/// # Ok::<(), wsd_hixie::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Challenge {
    /// The number hidden in `Sec-WebSocket-Key1`.
    pub key1: u32,
    /// The number hidden in `Sec-WebSocket-Key2`.
    pub key2: u32,
}

impl Challenge {
    /// Reads both key header values with [`key_number`]; fails on the first invalid one.
    pub fn from_keys(key1: impl AsRef<[u8]>, key2: impl AsRef<[u8]>) -> Result<Self, Error> {
        Ok(Self {
            key1: key_number(key1)?,
            key2: key_number(key2)?,
        })
    }

    /// The 16-byte answer for these keys and the 8 body bytes (see [`challenge_answer`]).
    #[must_use]
    pub fn answer(&self, body: &[u8; BODY_LEN]) -> [u8; ANSWER_LEN] {
        challenge_answer(self.key1, self.key2, body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key_error(key: &str) -> Option<KeyError> {
        match key_number(key) {
            Err(Error::InvalidKey(reason)) => Some(reason),
            _ => None,
        }
    }

    #[test]
    fn first_worked_example_gives_the_documented_answer() {
        let challenge =
            Challenge::from_keys("1   38 wZ3f9 23O0 3l 0r", "27   0E 6 2  1665:< ;U 1H").unwrap();
        assert_eq!(
            challenge,
            Challenge {
                key1: 197_703_290,
                key2: 300_690_739
            }
        );
        assert_eq!(
            challenge.answer(&[0x91, 0x25, 0x3E, 0xD3, 0xA9, 0xE7, 0x6A, 0x88]),
            [
                0xB4, 0x9C, 0x6E, 0x40, 0x53, 0x04, 0x04, 0x26, 0xE5, 0x1B, 0xBF, 0x6C, 0xB7, 0x9F,
                0x1D, 0xF9
            ]
        );
    }

    #[test]
    fn draft_example_gives_the_documented_answer() {
        let challenge = Challenge::from_keys("4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00").unwrap();
        assert_eq!(
            challenge,
            Challenge {
                key1: 829_309_203,
                key2: 259_970_620
            }
        );
        assert_eq!(&challenge.answer(b"^n:ds[4U"), b"8jKS'y:G*Co,Wxa-");
    }

    #[test]
    fn key_not_divisible_by_its_spaces_is_refused() {
        // N 2785899415, S 4.
        assert_eq!(
            key_error("2 L785 8o% s9Sy9@V. 4<1P5"),
            Some(KeyError::NotDivisible)
        );
        assert_eq!(
            Challenge::from_keys("1   38 wZ3f9 23O0 3l 0r", "2 L785 8o% s9Sy9@V. 4<1P5"),
            Err(Error::InvalidKey(KeyError::NotDivisible))
        );
    }

    #[test]
    fn key_without_spaces_is_refused() {
        assert_eq!(key_error("12345"), Some(KeyError::NoSpaces));
    }

    #[test]
    fn key_without_digits_is_refused() {
        assert_eq!(key_error(""), Some(KeyError::NoDigits));
        assert_eq!(key_error("  abc  "), Some(KeyError::NoDigits));
    }

    #[test]
    fn key_whose_number_is_zero_is_refused() {
        assert_eq!(key_error("0 0 0"), Some(KeyError::Zero));
    }

    #[test]
    fn key_with_quotient_above_32_bits_is_refused() {
        // 2^32 with one space.
        assert_eq!(key_error("4294967296 "), Some(KeyError::QuotientTooLarge));
        assert_eq!(key_number("4294967295 "), Ok(u32::MAX));
    }

    #[test]
    fn key_whose_digits_overflow_64_bits_is_refused() {
        assert_eq!(
            key_error("18446744073709551616 "),
            Some(KeyError::NumberTooLarge)
        );
        assert_eq!(
            key_error(&"9".repeat(10_000)),
            Some(KeyError::NumberTooLarge)
        );
    }

    #[test]
    fn leading_zeros_do_not_count_towards_overflow() {
        let key = format!("{}42 ", "0".repeat(100));
        assert_eq!(key_number(key), Ok(42));
    }

    #[test]
    fn only_the_space_character_counts_as_a_space() {
        assert_eq!(key_number("1\t2 "), Ok(12));
        assert_eq!(key_number("12  "), Ok(6));
    }

    #[test]
    fn key_accepts_non_utf8_bytes() {
        assert_eq!(key_number([b'8', 0xFF, b' ', 0x80, b' ']), Ok(4));
    }

    proptest::proptest! {
        #[test]
        fn any_key_bytes_give_a_result_without_panicking(key in proptest::collection::vec(proptest::num::u8::ANY, 0..64)) {
            let _ = key_number(key);
        }

        #[test]
        fn encoded_keys_decode_to_their_number(value in 1u32.., spaces in 1u32..12) {
            let product = u64::from(value) * u64::from(spaces);
            let key = format!("x{}{product}", " ".repeat(spaces as usize));
            proptest::prop_assert_eq!(key_number(key), Ok(value));
        }
    }
}
