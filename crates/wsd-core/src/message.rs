//! Messages as the application sends and receives them: [`Message`], [`Utf8Bytes`]
//! and [`CloseFrame`].
//!
//! One message type serves the sans-I/O [`Connection`](crate::Connection) and the
//! async layer above it (`wsd-io` and the runtime adapters), so code written against
//! one works with the other.

use bytes::Bytes;
use bytestring::ByteString;
use core::fmt;

use crate::CloseCode;

/// Bytes known to be valid UTF-8: the payload of a text message, shared without
/// copying.
///
/// It holds a [`ByteString`](bytestring::ByteString) (validated UTF-8 in [`Bytes`],
/// from the `bytestring` crate), so [`as_str`](Self::as_str) and `Deref<Target = str>`
/// cost nothing: the bytes were checked once, when the text was made.
///
/// ```
/// # use wsd_core::Utf8Bytes;
/// let text = Utf8Bytes::from("héllo");
/// assert_eq!(text.as_str(), "héllo");
/// assert_eq!(text.len(), 6); // bytes, not characters
/// assert!(text.starts_with("hé")); // any `str` method, through Deref
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct Utf8Bytes(ByteString);

impl Utf8Bytes {
    /// Text from static storage, without copying.
    ///
    /// ```
    /// # use wsd_core::Utf8Bytes;
    /// assert_eq!(Utf8Bytes::from_static("hi"), "hi");
    /// ```
    pub const fn from_static(text: &'static str) -> Self {
        Self(ByteString::from_static(text))
    }

    /// Wraps `bytes` after checking they are UTF-8; gives them back when they are not.
    ///
    /// ```
    /// # use wsd_core::{Bytes, Utf8Bytes};
    /// assert!(Utf8Bytes::try_from_bytes(Bytes::from_static(b"ok")).is_ok());
    /// assert!(Utf8Bytes::try_from_bytes(Bytes::from_static(b"\xff")).is_err());
    /// ```
    pub fn try_from_bytes(bytes: Bytes) -> Result<Self, Bytes> {
        // `Bytes` clones share the buffer: keeping one costs a reference count, and
        // gives the caller its bytes back on failure.
        let kept = bytes.clone();
        ByteString::try_from(bytes).map(Self).map_err(|_| kept)
    }

    /// Wraps bytes the driver has already validated (incrementally, as they arrived).
    pub(crate) fn from_validated(bytes: Bytes) -> Self {
        // Checked again here because `bytestring` offers no safe unchecked
        // constructor and this crate forbids `unsafe`; the driver's own check (which
        // fails a connection as soon as a bad byte arrives) has already passed, so
        // the fallback is never taken.
        Self::try_from_bytes(bytes).unwrap_or_default()
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The UTF-8 bytes.
    pub fn as_bytes(&self) -> &[u8] {
        self.0.as_bytes()
    }

    /// The underlying `Bytes` (no copy).
    pub fn into_bytes(self) -> Bytes {
        self.0.into_bytes()
    }
}

impl core::ops::Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(ByteString::from(s))
    }
}

impl From<&str> for Utf8Bytes {
    fn from(s: &str) -> Self {
        Self(ByteString::from(s))
    }
}

impl From<Utf8Bytes> for String {
    fn from(text: Utf8Bytes) -> Self {
        text.as_str().to_owned()
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(text: Utf8Bytes) -> Self {
        text.into_bytes()
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Utf8Bytes {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

/// The code and reason of a close frame.
///
/// ```
/// # use wsd_core::{CloseCode, CloseFrame};
/// let frame = CloseFrame::new(CloseCode::GOING_AWAY, "shutting down");
/// assert_eq!(frame.code, CloseCode(1001));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CloseFrame {
    /// The close code. A received [`Message::Close`] may carry 1006 (the transport
    /// ended, or the peer did not answer in time), as browsers report it.
    pub code: CloseCode,
    /// The reason; at most 123 bytes when sent.
    pub reason: String,
}

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }
}

/// A message as the application sends and receives it, control frames included.
///
/// [`Connection::send`](crate::Connection::send) takes every variant;
/// [`Event::Message`](crate::Event::Message) carries only `Text` and `Binary`
/// (pings, pongs and the close have events of their own). The async `WebSocket`s
/// yield and take all five.
///
/// ```
/// # use wsd_core::{Bytes, Message};
/// let m = Message::from("hi");
/// assert_eq!(m.as_text(), Some("hi"));
/// assert!(m.is_text() && !m.is_close());
/// assert_eq!(Message::from(vec![1u8, 2]).len(), 2);
/// assert_eq!(Message::binary(Bytes::from_static(b"\x00")).into_data(), Bytes::from_static(b"\x00"));
/// ```
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Message {
    /// A text message (opcode 1).
    Text(Utf8Bytes),
    /// A binary message (opcode 2).
    Binary(Bytes),
    /// A ping (opcode 9), at most 125 bytes. Received pings are answered
    /// automatically.
    Ping(Bytes),
    /// A pong (opcode 10), at most 125 bytes.
    Pong(Bytes),
    /// A close frame. Received: the closing handshake completed (`None` when the
    /// peer's frame had no code). Sent: starts the closing handshake (`None` sends
    /// 1000, a normal closure).
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Self::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Self::Binary(data.into())
    }

    /// The payload bytes (empty for a close).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(t) => t.as_bytes(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b,
            Self::Close(_) => &[],
        }
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Self::Text(t) => Some(t.as_str()),
            _ => None,
        }
    }

    /// The text of a text message, or the message back.
    ///
    /// ```
    /// # use wsd_core::Message;
    /// assert_eq!(Message::text("hi").into_text().unwrap(), "hi");
    /// assert!(Message::binary(vec![0]).into_text().is_err());
    /// ```
    pub fn into_text(self) -> Result<Utf8Bytes, Self> {
        match self {
            Self::Text(t) => Ok(t),
            other => Err(other),
        }
    }

    /// The payload as `Bytes`, without copying (empty for a close).
    pub fn into_data(self) -> Bytes {
        match self {
            Self::Text(t) => t.into_bytes(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b,
            Self::Close(_) => Bytes::new(),
        }
    }

    /// The payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// True for an empty payload.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True for a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Self::Text(_))
    }

    /// True for a binary message.
    pub fn is_binary(&self) -> bool {
        matches!(self, Self::Binary(_))
    }

    /// True for a ping.
    pub fn is_ping(&self) -> bool {
        matches!(self, Self::Ping(_))
    }

    /// True for a pong.
    pub fn is_pong(&self) -> bool {
        matches!(self, Self::Pong(_))
    }

    /// True for a close.
    pub fn is_close(&self) -> bool {
        matches!(self, Self::Close(_))
    }
}

impl From<Utf8Bytes> for Message {
    fn from(text: Utf8Bytes) -> Self {
        Self::Text(text)
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::Text(text.into())
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Self::Text(text.into())
    }
}

impl From<Bytes> for Message {
    fn from(data: Bytes) -> Self {
        Self::Binary(data)
    }
}

impl From<Vec<u8>> for Message {
    fn from(data: Vec<u8>) -> Self {
        Self::Binary(data.into())
    }
}

impl From<&[u8]> for Message {
    fn from(data: &[u8]) -> Self {
        Self::Binary(Bytes::copy_from_slice(data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_checked_once_and_shared() {
        let bytes = Bytes::from(String::from("héllo wörld"));
        let pointer = bytes.as_ptr();
        let text = Utf8Bytes::try_from_bytes(bytes).unwrap();
        // The same buffer, not a copy; `as_str` and Deref view it.
        assert_eq!(text.as_str().as_ptr(), pointer);
        assert_eq!(&*text, "héllo wörld");
        assert_eq!(text.clone().into_bytes().as_ptr(), pointer);
    }

    #[test]
    fn invalid_utf8_is_given_back() {
        let bad = Bytes::from_static(b"ok\xc3");
        assert_eq!(Utf8Bytes::try_from_bytes(bad.clone()), Err(bad));
        assert_eq!(
            Utf8Bytes::from_validated(Bytes::from_static(b"\xff")),
            Utf8Bytes::default()
        );
    }

    #[test]
    fn conversions_pick_the_variant() {
        assert!(Message::from(String::from("a")).is_text());
        assert!(Message::from("a").is_text());
        assert!(Message::from(Utf8Bytes::from("a")).is_text());
        assert!(Message::from(vec![1u8]).is_binary());
        assert!(Message::from(&b"x"[..]).is_binary());
        assert!(Message::from(Bytes::from_static(b"x")).is_binary());
        assert!(Message::Ping(Bytes::new()).is_ping());
        assert!(Message::Pong(Bytes::new()).is_pong());
        assert!(Message::Close(None).is_close());
        assert_eq!(Message::Close(None).into_data(), Bytes::new());
        assert_eq!(Message::Pong(Bytes::from_static(b"p")).as_bytes(), b"p");
        let back = Message::Ping(Bytes::from_static(b"p")).into_text();
        assert_eq!(back, Err(Message::Ping(Bytes::from_static(b"p"))));
    }

    #[test]
    fn received_text_converts_to_the_owned_types_without_losing_a_byte() {
        let text = Utf8Bytes::from("zoë \"quoted\"");
        assert_eq!(text.as_bytes(), "zoë \"quoted\"".as_bytes());
        assert_eq!(AsRef::<[u8]>::as_ref(&text), text.as_bytes());
        assert_eq!(AsRef::<str>::as_ref(&text), "zoë \"quoted\"");
        assert_eq!(String::from(text.clone()), "zoë \"quoted\"");
        assert_eq!(Bytes::from(text.clone()), Bytes::from("zoë \"quoted\""));
        // Display is the text itself; Debug quotes and escapes it, as `str` does.
        assert_eq!(text.to_string(), "zoë \"quoted\"");
        assert_eq!(format!("{text:?}"), format!("{:?}", "zoë \"quoted\""));
    }

    #[test]
    fn text_compares_with_every_string_type() {
        let text = Utf8Bytes::from(String::from("hi"));
        assert!(text == *"hi");
        assert!(text == "hi");
        let (same, longer) = (String::from("hi"), String::from("hi!"));
        assert!(text == same);
        assert!(text != longer);
        assert_eq!(Utf8Bytes::from_static("hi"), text);
    }

    #[test]
    fn a_message_s_bytes_are_its_payload_and_a_close_has_none() {
        assert_eq!(Message::text("héllo").as_bytes(), "héllo".as_bytes());
        assert_eq!(Message::text("héllo").len(), 6);
        let close = Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "bye")));
        // The close code and reason are not payload to the application.
        assert_eq!((close.as_bytes(), close.len()), (&[][..], 0));
        assert!(close.is_empty());
        assert!(!Message::binary(vec![0u8]).is_empty());
        assert!(Message::text("").is_empty());
        // Only a text message has text; a binary one holding UTF-8 has none.
        assert_eq!(Message::binary(&b"hi"[..]).as_text(), None);
    }
}
