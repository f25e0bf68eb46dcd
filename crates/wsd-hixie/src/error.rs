//! The crate's one error type and its key detail enum.

use core::fmt;

/// Everything that can go wrong in this crate.
///
/// Errors from [`Decoder::decode`](crate::Decoder::decode) ([`InvalidUtf8`](Self::InvalidUtf8),
/// [`TextTooLong`](Self::TextTooLong), [`FrameTooLong`](Self::FrameTooLong)) mean the peer
/// broke the protocol or a limit: the driver closes the connection (Hixie-76 by writing
/// [`CLOSE_FRAME`](crate::CLOSE_FRAME) first). [`InvalidKey`](Self::InvalidKey) means the
/// opening handshake must be refused with a 400. [`InvalidHeaderName`](Self::InvalidHeaderName)
/// and [`InvalidHeaderValue`](Self::InvalidHeaderValue) are caller mistakes when writing a
/// response head.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// A Hixie-76 `Sec-WebSocket-Key1` or `Sec-WebSocket-Key2` value does not encode a number.
    InvalidKey(KeyError),
    /// A text frame's payload is not valid UTF-8.
    InvalidUtf8 {
        /// How many leading payload bytes are valid UTF-8.
        valid_up_to: usize,
    },
    /// A text frame grew past the decoder's `max_length` before its `0xFF` terminator.
    TextTooLong {
        /// The limit that was exceeded, in bytes.
        max_length: usize,
    },
    /// A length-prefixed frame declared more bytes than the decoder's `max_length`.
    FrameTooLong {
        /// The limit that was exceeded, in bytes.
        max_length: usize,
    },
    /// An extra response header's name is empty or not an HTTP token.
    InvalidHeaderName(String),
    /// An extra response header's value contains CR, LF or NUL, which would let it
    /// forge further header lines.
    InvalidHeaderValue {
        /// The name of the header whose value was refused.
        name: String,
    },
}

/// Why a Hixie-76 key value was refused (see [`key_number`](crate::key_number)).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyError {
    /// The key contains no decimal digit.
    NoDigits,
    /// The key's digits make the number 0.
    Zero,
    /// The key's digits make a number too large to hold in 64 bits.
    NumberTooLarge,
    /// The key contains no space, so there is nothing to divide by.
    NoSpaces,
    /// The number is not a multiple of the count of spaces.
    NotDivisible,
    /// The number divided by the count of spaces does not fit in 32 bits.
    QuotientTooLarge,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InvalidKey(reason) => write!(f, "invalid Sec-WebSocket-Key header: {reason}"),
            Self::InvalidUtf8 { valid_up_to } => write!(
                f,
                "text frame is not valid UTF-8 (invalid byte after {valid_up_to} valid bytes)"
            ),
            Self::TextTooLong { max_length } => {
                write!(
                    f,
                    "text frame is longer than the maximum of {max_length} bytes"
                )
            }
            Self::FrameTooLong { max_length } => write!(
                f,
                "length-prefixed frame declares more than the maximum of {max_length} bytes"
            ),
            Self::InvalidHeaderName(name) => write!(f, "invalid header name {name:?}"),
            Self::InvalidHeaderValue { name } => {
                write!(f, "value of header {name:?} contains CR, LF or NUL")
            }
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NoDigits => "no digits",
            Self::Zero => "the number is zero",
            Self::NumberTooLarge => "the number is too large",
            Self::NoSpaces => "no spaces",
            Self::NotDivisible => "the number is not a multiple of the count of spaces",
            Self::QuotientTooLarge => "the quotient does not fit in 32 bits",
        })
    }
}

impl std::error::Error for Error {}

impl std::error::Error for KeyError {}

impl From<KeyError> for Error {
    fn from(reason: KeyError) -> Self {
        Self::InvalidKey(reason)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_went_wrong() {
        assert_eq!(
            Error::InvalidKey(KeyError::NotDivisible).to_string(),
            "invalid Sec-WebSocket-Key header: the number is not a multiple of the count of spaces"
        );
        assert_eq!(
            Error::TextTooLong { max_length: 5 }.to_string(),
            "text frame is longer than the maximum of 5 bytes"
        );
        assert_eq!(
            Error::FrameTooLong { max_length: 5 }.to_string(),
            "length-prefixed frame declares more than the maximum of 5 bytes"
        );
        assert_eq!(
            Error::InvalidUtf8 { valid_up_to: 2 }.to_string(),
            "text frame is not valid UTF-8 (invalid byte after 2 valid bytes)"
        );
        assert_eq!(
            Error::InvalidHeaderValue { name: "X".into() }.to_string(),
            "value of header \"X\" contains CR, LF or NUL"
        );
    }

    #[test]
    fn key_errors_convert_into_invalid_key() {
        assert_eq!(
            Error::from(KeyError::Zero),
            Error::InvalidKey(KeyError::Zero)
        );
    }
}
