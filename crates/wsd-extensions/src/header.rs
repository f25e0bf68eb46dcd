//! The `Sec-WebSocket-Extensions` header grammar (RFC 6455 section 9.1, with the
//! token and quoted-string rules of RFC 7230 section 3.2.6).
//!
//! ```text
//! extension-list  = extension *( OWS "," OWS extension )
//! extension       = token *( OWS ";" OWS extension-param )
//! extension-param = token [ OWS "=" OWS ( token / quoted-string ) ]
//! ```
//!
//! The parser is one forward pass over the bytes with no backtracking, so it runs in
//! linear time on any input (websocket-extensions' regular expression once took
//! exponential time on an unterminated quoted string of backslashes, CVE-2020-7662).

use core::fmt;
use std::string::String;
use std::vec::Vec;

/// The header this module parses, named in every error message.
const HEADER: &str = "Sec-WebSocket-Extensions";

/// RFC 7230 `tchar`: the bytes a token is made of.
const fn is_tchar(byte: u8) -> bool {
    matches!(byte,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.'
        | b'^' | b'_' | b'`' | b'|' | b'~' | b'0'..=b'9' | b'A'..=b'Z' | b'a'..=b'z')
}

/// True when `text` is a non-empty RFC 7230 token, so it can be written without quotes.
///
/// ```
/// # use wsd_extensions::is_token;
/// assert!(is_token("permessage-deflate"));
/// assert!(!is_token("a b"));
/// assert!(!is_token(""));
/// ```
pub fn is_token(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(is_tchar)
}

/// RFC 7230 `qdtext`, plus `obs-text` (bytes 0x80 and up, which in a `&str` are the
/// bytes of non-ASCII characters).
const fn is_qdtext(byte: u8) -> bool {
    matches!(byte, b'\t' | b' ' | 0x21 | 0x23..=0x5B | 0x5D..=0x7E | 0x80..=0xFF)
}

/// What may follow a backslash in a `quoted-pair`: HTAB, SP, VCHAR, obs-text.
const fn is_quotable(byte: u8) -> bool {
    matches!(byte, b'\t' | b' ' | 0x21..=0x7E | 0x80..=0xFF)
}

/// The ordered parameters of one extension offer or response: `(name, value)` pairs
/// where a bare flag (`client_no_context_takeover`) has no value. Order and repeats are
/// kept as they were on the wire; quoted values are stored unescaped.
///
/// ```
/// # use wsd_extensions::Params;
/// let params = Params::new().with_flag("client_max_window_bits").with_value("server_max_window_bits", "10");
/// assert_eq!(params.get("client_max_window_bits"), Some(None));
/// assert_eq!(params.get("server_max_window_bits"), Some(Some("10")));
/// assert_eq!(params.get("missing"), None);
/// assert_eq!(params.to_string(), "client_max_window_bits; server_max_window_bits=10");
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Params {
    entries: Vec<(String, Option<String>)>,
}

impl Params {
    /// No parameters.
    pub const fn new() -> Self {
        Self {
            entries: Vec::new(),
        }
    }

    /// Appends `name` with `value` (`None` for a bare flag), or fails when `name` is
    /// not a token (it could not be written into a header). Any value is accepted: it
    /// is quoted on output when it is not a token.
    pub fn try_push(&mut self, name: &str, value: Option<&str>) -> Result<(), HeaderError> {
        if !is_token(name) {
            return Err(HeaderError {
                offset: 0,
                kind: HeaderErrorKind::InvalidParamName,
            });
        }
        self.entries.push((name.into(), value.map(Into::into)));
        Ok(())
    }

    /// Builder form of [`Params::try_push`] for a bare flag.
    ///
    /// # Panics
    ///
    /// When `name` is not a token: names come from extension code, never from the
    /// peer, so a bad one is a programming error (like `http::HeaderName::from_static`).
    #[must_use]
    pub fn with_flag(mut self, name: &str) -> Self {
        assert!(
            is_token(name),
            "extension parameter name {name:?} is not a token"
        );
        self.entries.push((name.into(), None));
        self
    }

    /// Builder form of [`Params::try_push`] for a parameter with a value.
    ///
    /// # Panics
    ///
    /// When `name` is not a token, as [`Params::with_flag`].
    #[must_use]
    pub fn with_value(mut self, name: &str, value: &str) -> Self {
        assert!(
            is_token(name),
            "extension parameter name {name:?} is not a token"
        );
        self.entries.push((name.into(), Some(value.into())));
        self
    }

    /// The first parameter called `name` (names compare ASCII case-insensitively, as
    /// RFC 7230 tokens do): `None` when absent, `Some(None)` for a bare flag,
    /// `Some(Some(value))` otherwise.
    pub fn get(&self, name: &str) -> Option<Option<&str>> {
        self.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// How many times `name` appears.
    pub fn count(&self, name: &str) -> usize {
        self.iter()
            .filter(|(key, _)| key.eq_ignore_ascii_case(name))
            .count()
    }

    /// The parameters in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, Option<&str>)> + '_ {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_deref()))
    }

    /// The number of parameters, repeats included.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there is no parameter.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Writes the parameters joined by `"; "`, quoting (and escaping `"` and `\` in) each
/// value that is not a token. Every value is judged on its own: websocket-extensions' shared
/// global-regex state, which let a value go out unquoted right after one that needed
/// quotes, has no equivalent here.
impl fmt::Display for Params {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, (key, value)) in self.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            f.write_str(key)?;
            if let Some(value) = value {
                f.write_str("=")?;
                write_value(f, value)?;
            }
        }
        Ok(())
    }
}

fn write_value(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    if is_token(value) {
        return f.write_str(value);
    }
    f.write_str("\"")?;
    for ch in value.chars() {
        if ch == '"' || ch == '\\' {
            f.write_str("\\")?;
        }
        fmt::Write::write_char(f, ch)?;
    }
    f.write_str("\"")
}

/// One element of a `Sec-WebSocket-Extensions` header: an extension name and its
/// parameters. In a client's header it is an offer, in a server's a response.
///
/// ```
/// # use wsd_extensions::{ExtensionOffer, Params};
/// let offer = ExtensionOffer::new("x-note", Params::new().with_value("text", "a \"b\""));
/// assert_eq!(offer.to_string(), r#"x-note; text="a \"b\"""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ExtensionOffer {
    /// The extension's name, a token, as written by the peer (case preserved).
    pub name: String,
    /// Its parameters in header order.
    pub params: Params,
}

impl ExtensionOffer {
    /// An offer of `name` with `params`.
    pub fn new(name: impl Into<String>, params: Params) -> Self {
        Self {
            name: name.into(),
            params,
        }
    }
}

impl fmt::Display for ExtensionOffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if !self.params.is_empty() {
            write!(f, "; {}", self.params)?;
        }
        Ok(())
    }
}

/// Parses a `Sec-WebSocket-Extensions` header value. An empty value (or one of only
/// spaces and tabs) is an empty list; leading and trailing whitespace is ignored, as
/// HTTP excludes it from a field value. Empty list elements (`a,,b`) are rejected, as
/// websocket-extensions (Node) does. Obsolete line folding (`a,\r\n b`) is a syntax
/// error: RFC 9112 section 5.2 lets a recipient reject it, and it can only reach here
/// from an HTTP parser that kept it (websocket-extensions 0.2.0 accepts it).
///
/// ```
/// # use wsd_extensions::parse_header;
/// let offers = parse_header(r#"permessage-deflate; client_max_window_bits, x-foo; a="b\"c""#).unwrap();
/// assert_eq!(offers.len(), 2);
/// assert_eq!(offers[0].name, "permessage-deflate");
/// assert_eq!(offers[0].params.get("client_max_window_bits"), Some(None));
/// assert_eq!(offers[1].params.get("a"), Some(Some("b\"c")));
///
/// let error = parse_header("a; b=").unwrap_err();
/// assert_eq!(error.to_string(), "Invalid Sec-WebSocket-Extensions header: expected a token or a quoted string at byte 5");
/// ```
pub fn parse_header(value: &str) -> Result<Vec<ExtensionOffer>, HeaderError> {
    Parser {
        text: value,
        pos: 0,
    }
    .list()
}

/// Writes `offers` as a header value, joined by `", "`.
///
/// ```
/// # use wsd_extensions::{parse_header, serialize_header};
/// let text = "a; b=\"c d\", e";
/// assert_eq!(serialize_header(&parse_header(text).unwrap()), text);
/// ```
pub fn serialize_header(offers: &[ExtensionOffer]) -> String {
    let mut out = String::new();
    for (index, offer) in offers.iter().enumerate() {
        if index > 0 {
            out.push_str(", ");
        }
        // Writing into a String cannot fail.
        let _ = fmt::Write::write_fmt(&mut out, format_args!("{offer}"));
    }
    out
}

struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    fn skip_ows(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn fail<T>(&self, kind: HeaderErrorKind) -> Result<T, HeaderError> {
        Err(HeaderError {
            offset: self.pos,
            kind,
        })
    }

    fn list(mut self) -> Result<Vec<ExtensionOffer>, HeaderError> {
        let mut offers = Vec::new();
        self.skip_ows();
        if self.peek().is_none() {
            return Ok(offers);
        }
        loop {
            offers.push(self.extension()?);
            // `extension` stops after trailing OWS, on `,` or the end.
            match self.peek() {
                None => return Ok(offers),
                Some(b',') => {
                    self.pos += 1;
                    self.skip_ows();
                }
                Some(_) => return self.fail(HeaderErrorKind::ExpectedSeparator),
            }
        }
    }

    fn extension(&mut self) -> Result<ExtensionOffer, HeaderError> {
        let name = self.token(HeaderErrorKind::ExpectedExtensionName)?;
        let mut params = Params::new();
        loop {
            self.skip_ows();
            if self.peek() != Some(b';') {
                return Ok(ExtensionOffer::new(name, params));
            }
            self.pos += 1;
            self.skip_ows();
            let key = self.token(HeaderErrorKind::ExpectedParamName)?;
            self.skip_ows();
            let value = if self.peek() == Some(b'=') {
                self.pos += 1;
                self.skip_ows();
                Some(self.value()?)
            } else {
                None
            };
            params.entries.push((key.into(), value));
        }
    }

    fn token(&mut self, missing: HeaderErrorKind) -> Result<&'a str, HeaderError> {
        let text = self.text;
        let start = self.pos;
        while self.peek().is_some_and(is_tchar) {
            self.pos += 1;
        }
        // Tokens are ASCII, so both ends fall on character boundaries.
        match text.get(start..self.pos) {
            Some(token) if !token.is_empty() => Ok(token),
            _ => self.fail(missing),
        }
    }

    fn value(&mut self) -> Result<String, HeaderError> {
        if self.peek() != Some(b'"') {
            return self.token(HeaderErrorKind::ExpectedValue).map(Into::into);
        }
        let open = self.pos;
        self.pos += 1;
        let mut value = String::new();
        // Copy runs of plain text in one go; each byte is looked at once.
        let mut run = self.pos;
        loop {
            match self.peek() {
                None => {
                    return Err(HeaderError {
                        offset: open,
                        kind: HeaderErrorKind::UnterminatedQuote,
                    });
                }
                Some(b'"') => {
                    value.push_str(self.text.get(run..self.pos).unwrap_or_default());
                    self.pos += 1;
                    return Ok(value);
                }
                Some(b'\\') => {
                    value.push_str(self.text.get(run..self.pos).unwrap_or_default());
                    self.pos += 1;
                    match self.peek() {
                        None => {
                            return Err(HeaderError {
                                offset: open,
                                kind: HeaderErrorKind::UnterminatedQuote,
                            });
                        }
                        Some(byte) if is_quotable(byte) => {
                            // The escaped character starts here; a multi-byte one is
                            // copied by the next run.
                            run = self.pos;
                            self.pos += 1;
                        }
                        Some(_) => return self.fail(HeaderErrorKind::InvalidCharacter),
                    }
                }
                Some(byte) if is_qdtext(byte) => self.pos += 1,
                Some(_) => return self.fail(HeaderErrorKind::InvalidCharacter),
            }
        }
    }
}

/// A malformed `Sec-WebSocket-Extensions` header: what is wrong and at which byte.
/// The header itself is not kept (it may be large and is the peer's data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderError {
    offset: usize,
    kind: HeaderErrorKind,
}

impl HeaderError {
    /// The byte offset in the header value where the problem was found.
    pub const fn offset(&self) -> usize {
        self.offset
    }

    /// What is wrong.
    pub const fn kind(&self) -> HeaderErrorKind {
        self.kind
    }
}

/// The detail of a [`HeaderError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderErrorKind {
    /// An extension name was missing (an empty list element, `a,` or `,a`).
    ExpectedExtensionName,
    /// A parameter name was missing after `;`.
    ExpectedParamName,
    /// A value was missing after `=`.
    ExpectedValue,
    /// Something other than `;`, `,` or the end followed an extension or parameter.
    ExpectedSeparator,
    /// A quoted string had no closing `"`.
    UnterminatedQuote,
    /// A control character inside a quoted string.
    InvalidCharacter,
    /// A parameter name given to [`Params::try_push`] was not a token.
    InvalidParamName,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            HeaderErrorKind::ExpectedExtensionName => "expected an extension name",
            HeaderErrorKind::ExpectedParamName => "expected a parameter name after ';'",
            HeaderErrorKind::ExpectedValue => "expected a token or a quoted string",
            HeaderErrorKind::ExpectedSeparator => "expected ';' or ','",
            HeaderErrorKind::UnterminatedQuote => "unterminated quoted string starting",
            HeaderErrorKind::InvalidCharacter => "control character in quoted string",
            HeaderErrorKind::InvalidParamName => "parameter name is not a token",
        };
        // websocket-driver (Node) says `Invalid Sec-WebSocket-Extensions header: <header>`;
        // the same start, then where and what instead of the whole header.
        write!(f, "Invalid {HEADER} header: {what} at byte {}", self.offset)
    }
}

impl core::error::Error for HeaderError {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::vec;

    /// An extension as plain data, so a table can spell it out.
    type Plain = (String, Vec<(String, Option<String>)>);

    fn parsed(text: &str) -> Vec<Plain> {
        parse_header(text)
            .unwrap_or_else(|e| panic!("{text:?}: {e}"))
            .into_iter()
            .map(|offer| (offer.name, offer.params.entries))
            .collect()
    }

    fn ext(name: &str, params: &[(&str, Option<&str>)]) -> Plain {
        (
            name.into(),
            params
                .iter()
                .map(|(k, v)| ((*k).into(), v.map(Into::into)))
                .collect(),
        )
    }

    #[test]
    fn websocket_extensions_accept_examples_parse_to_the_expected_offers() {
        let table: Vec<(&str, Vec<_>)> = vec![
            ("", vec![]),
            ("a", vec![ext("a", &[])]),
            ("Deflate-Frame", vec![ext("Deflate-Frame", &[])]),
            ("a; b", vec![ext("a", &[("b", None)])]),
            (
                "a; b=1.5; c=-1; d=\"1\"",
                vec![ext(
                    "a",
                    &[("b", Some("1.5")), ("c", Some("-1")), ("d", Some("1"))],
                )],
            ),
            (
                "a; b=01; c=1e3",
                vec![ext("a", &[("b", Some("01")), ("c", Some("1e3"))])],
            ),
            (
                r#"a; b="a\\b"; c="x\"y""#,
                vec![ext("a", &[("b", Some("a\\b")), ("c", Some("x\"y"))])],
            ),
            (
                "a; b; b; b=2",
                vec![ext("a", &[("b", None), ("b", None), ("b", Some("2"))])],
            ),
            (
                "hasOwnProperty; constructor=1",
                vec![ext("hasOwnProperty", &[("constructor", Some("1"))])],
            ),
            ("a , b", vec![ext("a", &[]), ext("b", &[])]),
            (
                "a\t;\tb\t=\t\"c\"\t,\td",
                vec![ext("a", &[("b", Some("c"))]), ext("d", &[])],
            ),
            (
                "a;b=c,d",
                vec![ext("a", &[("b", Some("c"))]), ext("d", &[])],
            ),
            ("  a  ", vec![ext("a", &[])]),
            ("a; b=\"\"", vec![ext("a", &[("b", Some(""))])]),
            (
                "a; b=\"caf\u{e9} \t!\"",
                vec![ext("a", &[("b", Some("caf\u{e9} \t!"))])],
            ),
            (
                "permessage-deflate; client_max_window_bits, permessage-deflate",
                vec![
                    ext("permessage-deflate", &[("client_max_window_bits", None)]),
                    ext("permessage-deflate", &[]),
                ],
            ),
        ];
        for (text, expected) in table {
            assert_eq!(parsed(text), expected, "{text:?}");
        }
    }

    #[test]
    fn websocket_extensions_reject_examples_fail_with_the_expected_reason() {
        use HeaderErrorKind::*;
        let table = [
            ("a,", ExpectedExtensionName, 2),
            (",a", ExpectedExtensionName, 0),
            ("a,,b", ExpectedExtensionName, 2),
            ("a;", ExpectedParamName, 2),
            ("a; b=", ExpectedValue, 5),
            ("a=1", ExpectedSeparator, 1),
            ("a; b=c=d", ExpectedSeparator, 6),
            ("a; b=\"c", UnterminatedQuote, 5),
            ("a; b=\"c\\", UnterminatedQuote, 5),
            ("x-webkit- -frame", ExpectedSeparator, 10),
            ("a; b=\"c\nd\"", InvalidCharacter, 7),
            ("a; b=\"c\\\u{7f}\"", InvalidCharacter, 8),
            ("a b", ExpectedSeparator, 2),
            ("a; b c", ExpectedSeparator, 5),
            ("a;; b", ExpectedParamName, 2),
            // Obsolete line folding; websocket-extensions 0.2.0 accepts it.
            ("a\r\n b", ExpectedSeparator, 1),
            ("a,\r\n b", ExpectedExtensionName, 2),
            ("a; b=\"c\"d", ExpectedSeparator, 8),
        ];
        for (text, kind, offset) in table {
            let error = parse_header(text).expect_err(text);
            assert_eq!((error.kind(), error.offset()), (kind, offset), "{text:?}");
        }
    }

    #[test]
    fn errors_name_the_header_and_the_problem() {
        let error = parse_header("a; b=\"c").unwrap_err();
        assert_eq!(
            error.to_string(),
            "Invalid Sec-WebSocket-Extensions header: unterminated quoted string starting at byte 5"
        );
    }

    #[test]
    fn a_mebibyte_of_backslashes_in_an_open_quote_fails_promptly() {
        let mut text = String::from("a; b=\"");
        text.extend(core::iter::repeat_n('\\', 1 << 20));
        let started = std::time::Instant::now();
        let error = parse_header(&text).unwrap_err();
        assert_eq!(error.kind(), HeaderErrorKind::UnterminatedQuote);
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "took {:?}",
            started.elapsed()
        );
    }

    #[test]
    fn values_that_are_not_tokens_are_quoted_each_on_its_own() {
        // websocket-extensions left `b` unquoted after quoting `a` (a global regex kept its position).
        let params = Params::new()
            .with_value("a", "x y")
            .with_value("b", "a b")
            .with_value("c", "ok");
        assert_eq!(params.to_string(), r#"a="x y"; b="a b"; c=ok"#);
        let params = Params::new()
            .with_value("q", r#"say "hi" \o/"#)
            .with_value("e", "");
        assert_eq!(params.to_string(), r#"q="say \"hi\" \\o/"; e="""#);
    }

    #[test]
    fn serialised_headers_parse_back_to_the_same_offers() {
        let offers = vec![
            ExtensionOffer::new(
                "a",
                Params::new()
                    .with_flag("f")
                    .with_value("v", "1")
                    .with_value("s", "x\"\\ y"),
            ),
            ExtensionOffer::new("b", Params::new()),
        ];
        let text = serialize_header(&offers);
        assert_eq!(parse_header(&text).unwrap(), offers);
    }

    #[test]
    fn lookups_ignore_ascii_case_and_take_the_first_repeat() {
        let offers = parse_header("a; Foo=1; foo=2").unwrap();
        assert_eq!(offers[0].params.get("FOO"), Some(Some("1")));
        assert_eq!(offers[0].params.count("foo"), 2);
    }

    #[test]
    fn try_push_rejects_a_name_that_is_not_a_token() {
        let mut params = Params::new();
        assert_eq!(
            params.try_push("a b", None).unwrap_err().kind(),
            HeaderErrorKind::InvalidParamName
        );
        assert!(params.try_push("ok", Some("x y")).is_ok());
        assert_eq!(params.len(), 1);
    }
}
