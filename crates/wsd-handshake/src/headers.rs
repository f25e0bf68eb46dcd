//! Received headers ([`Headers`]) and headers to send ([`HeaderList`]).

use std::borrow::Cow;

use crate::error::{Error, HeaderError};

/// Headers as received, in order, with their names' original case.
///
/// Lookups are case-insensitive. Values are kept as received except that surrounding spaces and tabs are
/// trimmed. A value that is not UTF-8 is decoded as ISO-8859-1 (each byte one `char`, as HTTP/1.x
/// historically specified), so nothing is lost and parsing never fails on `obs-text`.
///
/// ```
/// use wsd_handshake::Headers;
///
/// let mut h = Headers::new();
/// h.push("Connection", "keep-alive");
/// h.push("connection", "Upgrade");
/// assert_eq!(h.get("CONNECTION").as_deref(), Some("keep-alive, Upgrade"));
/// assert!(h.contains_token("Connection", "upgrade"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Headers {
    entries: Vec<(String, String)>,
}

impl Headers {
    /// An empty header list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a header (for building a request or response by hand, for example in tests).
    pub fn push(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.entries.push((name.into(), value.into()));
    }

    /// The value of header `name`; several headers of that name are joined with `", "` (RFC 9110 §5.3).
    pub fn get(&self, name: &str) -> Option<Cow<'_, str>> {
        let mut values = self.get_all(name);
        let first = values.next()?;
        match values.next() {
            None => Some(Cow::Borrowed(first)),
            Some(second) => {
                let mut joined = format!("{first}, {second}");
                for v in values {
                    joined.push_str(", ");
                    joined.push_str(v);
                }
                Some(Cow::Owned(joined))
            }
        }
    }

    /// The values of every header named `name`, in order.
    pub fn get_all<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.entries
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Whether a header named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.get_all(name).next().is_some()
    }

    /// The comma-separated elements of every header named `name`, trimmed, empty elements skipped.
    ///
    /// Runs in time linear in the header length (the regex split of `websocket-driver` (Node) is
    /// quadratic on runs of spaces).
    pub fn tokens<'a, 'n>(&'a self, name: &'n str) -> impl Iterator<Item = &'a str> + use<'a, 'n> {
        self.get_all(name).flat_map(split_list)
    }

    /// Whether the comma-separated list in header(s) `name` holds `token`, compared case-insensitively.
    ///
    /// `Connection: keep-alive, Upgrade` contains the token `upgrade`.
    pub fn contains_token(&self, name: &str, token: &str) -> bool {
        self.tokens(name).any(|t| t.eq_ignore_ascii_case(token))
    }

    /// All headers as `(name, value)`, in the order received.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The number of header lines.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Splits an HTTP list (`#element`, RFC 9110 §5.6.1) on commas, trimming spaces and tabs around each element.
pub(crate) fn split_list(value: &str) -> impl Iterator<Item = &str> {
    value.split(',').map(trim_ows).filter(|t| !t.is_empty())
}

/// Trims optional whitespace (spaces and tabs) from both ends.
pub(crate) fn trim_ows(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Headers that may legitimately appear more than once in what we send, as in
/// `websocket-driver` (Node).
const REPEATABLE: [&str; 4] = ["set-cookie", "set-cookie2", "warning", "www-authenticate"];

/// Headers to send, in insertion order, with the duplicate rules of `websocket-driver` (Node), plus
/// injection checks.
///
/// [`set`](Self::set) trims spaces and tabs around the name and value, then:
/// - rejects a name that is not an HTTP token and a value that contains a control character other
///   than a tab (CR, LF, NUL, ...). `websocket-driver` (Node) writes such headers unchanged, which lets
///   a caller-supplied value inject headers or end the head;
/// - drops a later header whose name (case-insensitively) is already present, as Node does, except
///   `Set-Cookie`, `Set-Cookie2`, `Warning` and `WWW-Authenticate`, which may repeat.
///
/// ```
/// use wsd_handshake::HeaderList;
///
/// let mut h = HeaderList::new();
/// assert_eq!(h.set("User-Agent", "wsd"), Ok(true));
/// assert_eq!(h.set("user-agent", "other"), Ok(false)); // a duplicate: dropped
/// assert!(h.set("X-Evil", "a\r\nInjected: yes").is_err());
/// let mut out = Vec::new();
/// h.write(&mut out);
/// assert_eq!(out, b"User-Agent: wsd\r\n");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HeaderList {
    /// The same ordered storage as received headers; only `set` differs.
    list: Headers,
}

impl HeaderList {
    /// An empty list.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a header; `Ok(false)` when it was dropped as a duplicate, `Err` when it is unsafe to send.
    pub fn set(&mut self, name: &str, value: &str) -> Result<bool, Error> {
        let (name, value) = validate_header(name, value)?;
        let repeatable = REPEATABLE.iter().any(|r| r.eq_ignore_ascii_case(name));
        if !repeatable && self.contains(name) {
            return Ok(false);
        }
        self.list.push(name, value);
        Ok(true)
    }

    /// The first value of header `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.list.get_all(name).next()
    }

    /// Whether a header named `name` is present (case-insensitive).
    pub fn contains(&self, name: &str) -> bool {
        self.list.contains(name)
    }

    /// All headers as `(name, value)`, in insertion order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.list.iter()
    }

    /// The number of headers.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Appends every header as a `Name: value\r\n` line to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        self.write_except(&[], out);
    }

    /// Like [`write`](Self::write) but skips headers named (case-insensitively) in `skip`.
    pub(crate) fn write_except(&self, skip: &[&str], out: &mut Vec<u8>) {
        for (name, value) in self.iter() {
            if !skip.iter().any(|s| s.eq_ignore_ascii_case(name)) {
                write_line(out, name, value);
            }
        }
    }
}

/// Appends `name: value\r\n` to `out`; the caller has checked both.
pub(crate) fn write_line(out: &mut Vec<u8>, name: &str, value: &str) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// Trims and checks a header we are about to send; see [`HeaderList::set`].
pub(crate) fn validate_header<'a>(
    name: &'a str,
    value: &'a str,
) -> Result<(&'a str, &'a str), HeaderError> {
    let name = trim_ows(name);
    let value = trim_ows(value);
    if !is_token(name) {
        return Err(HeaderError::InvalidName(name.to_owned()));
    }
    if !is_safe_value(value) {
        return Err(HeaderError::InvalidValue {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok((name, value))
}

/// Whether `value` is a field value we may send (RFC 9110 §5.5): no control characters but the
/// horizontal tab. CR, LF and NUL would end the header line early; the others are invalid too, and
/// refusing them here means every value that passes can also become an `http::HeaderValue`.
pub(crate) fn is_safe_value(value: &str) -> bool {
    !value.bytes().any(|b| (b < b' ' && b != b'\t') || b == 0x7f)
}

/// Whether `s` is a non-empty HTTP token (RFC 9110 §5.6.2).
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> Headers {
        let mut h = Headers::new();
        for (n, v) in pairs {
            h.push(*n, *v);
        }
        h
    }

    #[test]
    fn get_is_case_insensitive_and_joins_repeats() {
        let h = headers(&[("Host", "a"), ("X-A", "1"), ("x-a", "2"), ("X-A", "3")]);
        assert_eq!(h.get("host").as_deref(), Some("a"));
        assert_eq!(h.get("x-a").as_deref(), Some("1, 2, 3"));
        assert_eq!(h.get("missing"), None);
        assert!(matches!(h.get("HOST"), Some(Cow::Borrowed("a"))));
    }

    #[test]
    fn iter_keeps_received_order_and_case() {
        let h = headers(&[("B", "1"), ("a", "2")]);
        assert_eq!(h.iter().collect::<Vec<_>>(), [("B", "1"), ("a", "2")]);
        assert_eq!(h.len(), 2);
    }

    #[test]
    fn contains_token_checks_comma_separated_lists() {
        let check = |value: &str, token: &str, expected: bool| {
            let h = headers(&[("Connection", value)]);
            assert_eq!(
                h.contains_token("connection", token),
                expected,
                "{value:?} / {token}"
            );
        };
        check("Upgrade", "upgrade", true);
        check("keep-alive, Upgrade", "upgrade", true);
        check("keep-alive,\tUPGRADE  ", "upgrade", true);
        check(",,upgrade,,", "upgrade", true);
        check("upgrade-ish", "upgrade", false);
        check("keep-alive", "upgrade", false);
        check("", "upgrade", false);
    }

    #[test]
    fn contains_token_looks_across_repeated_headers() {
        let h = headers(&[("Connection", "keep-alive"), ("Connection", "upgrade")]);
        assert!(h.contains_token("Connection", "Upgrade"));
    }

    #[test]
    fn token_splitting_handles_a_hundred_thousand_spaces() {
        let value = format!(
            "a{}, {}b ,{}upgrade",
            " ".repeat(100_000),
            " ".repeat(100_000),
            " ".repeat(100_000)
        );
        let h = headers(&[("Connection", &value)]);
        assert_eq!(
            h.tokens("connection").collect::<Vec<_>>(),
            ["a", "b", "upgrade"]
        );
        assert!(h.contains_token("connection", "upgrade"));
    }

    #[test]
    fn header_list_drops_later_duplicates() {
        let mut h = HeaderList::new();
        assert_eq!(h.set("Upgrade", "websocket"), Ok(true));
        assert_eq!(h.set("upgrade", "h2c"), Ok(false));
        assert_eq!(h.get("UPGRADE"), Some("websocket"));
        assert_eq!(h.len(), 1);
    }

    #[test]
    fn header_list_lets_websocket_driver_s_exceptions_repeat() {
        for name in ["Set-Cookie", "set-cookie2", "Warning", "WWW-Authenticate"] {
            let mut h = HeaderList::new();
            assert_eq!(h.set(name, "1"), Ok(true));
            assert_eq!(h.set(name, "2"), Ok(true), "{name}");
            assert_eq!(h.len(), 2);
        }
    }

    #[test]
    fn header_list_keeps_inner_tabs_and_non_ascii_text() {
        let mut h = HeaderList::new();
        assert_eq!(h.set("X-A", "a\tb caf\u{e9} \u{80}"), Ok(true));
        assert_eq!(h.get("x-a"), Some("a\tb caf\u{e9} \u{80}"));
    }

    #[test]
    fn header_list_trims_spaces_and_tabs() {
        let mut h = HeaderList::new();
        assert_eq!(h.set("  X-A\t", "\t v  "), Ok(true));
        let mut out = Vec::new();
        h.write(&mut out);
        assert_eq!(out, b"X-A: v\r\n");
    }

    #[test]
    fn header_list_rejects_injection() {
        let check = |name: &str, value: &str| {
            let mut h = HeaderList::new();
            assert!(h.set(name, value).is_err(), "{name:?}: {value:?}");
            assert!(h.is_empty());
        };
        check("X-A", "a\r\nB: c");
        check("X-A", "a\nb");
        check("X-A", "a\rb");
        check("X-A", "a\0b");
        check("X-A", "a\x01b");
        check("X-A", "a\x1bb");
        check("X-A", "a\x7fb");
        check("X-A\r\nB", "c");
        check("X-A: b", "c");
        check("X A", "c");
        check("", "c");
        check("X\0", "c");
    }

    #[test]
    fn header_list_errors_name_the_header() {
        let mut h = HeaderList::new();
        let err = h.set("X-A", "a\nb").unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"invalid header: value "a\nb" of header X-A contains a control character"#
        );
    }

    #[test]
    fn write_except_skips_named_headers() {
        let mut h = HeaderList::new();
        h.set("Upgrade", "x").unwrap();
        h.set("X-A", "1").unwrap();
        let mut out = Vec::new();
        h.write_except(&["upgrade"], &mut out);
        assert_eq!(out, b"X-A: 1\r\n");
    }
}
