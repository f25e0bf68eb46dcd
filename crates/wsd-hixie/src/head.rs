//! The `101` response heads of the two drafts.

use crate::{Draft, Error};

/// The inputs of a Hixie `101` response head, written by [`ResponseHead::write`].
///
/// The request's values are taken as plain strings, so this crate does not depend on an
/// HTTP parser.
///
/// # Example
///
/// ```
/// use wsd_hixie::{Draft, ResponseHead};
///
/// let head = ResponseHead {
///     origin: Some("http://example.com"),
///     location: "ws://example.com/demo",
///     protocol: None,
///     headers: &[],
/// };
/// let mut out = Vec::new();
/// head.write(Draft::Hixie76, &mut out)?;
/// assert_eq!(
///     out,
///     b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n\
///       Upgrade: WebSocket\r\n\
///       Connection: Upgrade\r\n\
///       Sec-WebSocket-Origin: http://example.com\r\n\
///       Sec-WebSocket-Location: ws://example.com/demo\r\n\
///       \r\n"
/// );
/// # Ok::<(), wsd_hixie::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ResponseHead<'a> {
    /// The request's `Origin` header; the origin line is left out when it is `None`.
    pub origin: Option<&'a str>,
    /// The URL of the connection (`ws://` or `wss://`, the `Host` header and the request
    /// target).
    pub location: &'a str,
    /// The subprotocol the server accepted. Pass `Some` only when the request asked for one
    /// (`WebSocket-Protocol` / `Sec-WebSocket-Protocol`) and the server agreed to it.
    pub protocol: Option<&'a str>,
    /// Extra headers, written in order after the draft's own headers.
    pub headers: &'a [(String, String)],
}

impl ResponseHead<'_> {
    /// Appends the `101` response head for `draft` to `out`, ending with the blank line.
    ///
    /// Hixie-75: `HTTP/1.1 101 Web Socket Protocol Handshake`, `Upgrade: WebSocket`,
    /// `Connection: Upgrade`, `WebSocket-Origin`, `WebSocket-Location`, `WebSocket-Protocol`.
    /// Hixie-76: `HTTP/1.1 101 WebSocket Protocol Handshake` and the same headers with a
    /// `Sec-` prefix; the 16-byte [challenge answer](crate::Challenge::answer) is not part of
    /// the head and is written once the 8 body bytes have arrived. Strings are written as
    /// their UTF-8 bytes: a request header holding Latin-1 text comes back UTF-8 encoded
    /// (`websocket-driver` (Node) writes the Hixie-76 head as Latin-1, which echoes the
    /// request's bytes as they came).
    ///
    /// The extra headers are checked first: a name that is not an HTTP token, or a value
    /// holding CR, LF or NUL (which would forge header lines), fails the call and nothing is
    /// written. The other fields come from a parsed request and are written as given.
    pub fn write(&self, draft: Draft, out: &mut Vec<u8>) -> Result<(), Error> {
        for (name, value) in self.headers {
            if name.is_empty() || !name.bytes().all(is_token_byte) {
                return Err(Error::InvalidHeaderName(name.clone()));
            }
            if value.bytes().any(|b| matches!(b, b'\r' | b'\n' | 0)) {
                return Err(Error::InvalidHeaderValue { name: name.clone() });
            }
        }
        let (status, prefix) = match draft {
            Draft::Hixie75 => ("HTTP/1.1 101 Web Socket Protocol Handshake\r\n", ""),
            Draft::Hixie76 => ("HTTP/1.1 101 WebSocket Protocol Handshake\r\n", "Sec-"),
        };
        out.extend_from_slice(status.as_bytes());
        out.extend_from_slice(b"Upgrade: WebSocket\r\nConnection: Upgrade\r\n");
        let mut line = |name: &str, value: &str| {
            for part in [prefix, name, ": ", value, "\r\n"] {
                out.extend_from_slice(part.as_bytes());
            }
        };
        if let Some(origin) = self.origin {
            line("WebSocket-Origin", origin);
        }
        line("WebSocket-Location", self.location);
        if let Some(protocol) = self.protocol {
            line("WebSocket-Protocol", protocol);
        }
        for (name, value) in self.headers {
            for part in [name, ": ", value, "\r\n"] {
                out.extend_from_slice(part.as_bytes());
            }
        }
        out.extend_from_slice(b"\r\n");
        Ok(())
    }
}

/// `tchar` of RFC 9110 section 5.6.2.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(head: &ResponseHead<'_>, draft: Draft) -> Result<String, Error> {
        let mut out = b"before:".to_vec();
        head.write(draft, &mut out)?;
        Ok(String::from_utf8(out).unwrap())
    }

    const PLAIN: ResponseHead<'static> = ResponseHead {
        origin: Some("http://www.example.com"),
        location: "ws://www.example.com/socket",
        protocol: None,
        headers: &[],
    };

    #[test]
    fn latin_1_text_in_the_origin_is_written_as_utf_8() {
        let head = ResponseHead {
            origin: Some("http://caf\u{e9}.example"),
            ..PLAIN
        };
        let mut out = Vec::new();
        head.write(Draft::Hixie76, &mut out).unwrap();
        let line = b"Sec-WebSocket-Origin: http://caf\xC3\xA9.example\r\n";
        assert!(out.windows(line.len()).any(|w| w == line));
    }

    #[test]
    fn hixie75_head_is_byte_exact() {
        assert_eq!(
            written(&PLAIN, Draft::Hixie75).unwrap(),
            "before:HTTP/1.1 101 Web Socket Protocol Handshake\r\n\
             Upgrade: WebSocket\r\n\
             Connection: Upgrade\r\n\
             WebSocket-Origin: http://www.example.com\r\n\
             WebSocket-Location: ws://www.example.com/socket\r\n\
             \r\n"
        );
    }

    #[test]
    fn hixie76_head_is_byte_exact() {
        assert_eq!(
            written(&PLAIN, Draft::Hixie76).unwrap(),
            "before:HTTP/1.1 101 WebSocket Protocol Handshake\r\n\
             Upgrade: WebSocket\r\n\
             Connection: Upgrade\r\n\
             Sec-WebSocket-Origin: http://www.example.com\r\n\
             Sec-WebSocket-Location: ws://www.example.com/socket\r\n\
             \r\n"
        );
    }

    #[test]
    fn head_without_origin_leaves_the_origin_line_out() {
        let head = ResponseHead {
            origin: None,
            ..PLAIN
        };
        assert_eq!(
            written(&head, Draft::Hixie75).unwrap(),
            "before:HTTP/1.1 101 Web Socket Protocol Handshake\r\n\
             Upgrade: WebSocket\r\n\
             Connection: Upgrade\r\n\
             WebSocket-Location: ws://www.example.com/socket\r\n\
             \r\n"
        );
        assert!(!written(&head, Draft::Hixie76).unwrap().contains("Origin"));
    }

    #[test]
    fn accepted_protocol_and_extra_headers_follow_the_location() {
        let headers = [
            ("Set-Cookie".to_owned(), "a=1".to_owned()),
            ("X-Empty".to_owned(), String::new()),
        ];
        let head = ResponseHead {
            protocol: Some("chat"),
            headers: &headers,
            ..PLAIN
        };
        // Everything up to the location is as in the plain head.
        let plain = written(&PLAIN, Draft::Hixie75).unwrap();
        let full = written(&head, Draft::Hixie75).unwrap();
        assert_eq!(
            full.strip_prefix(plain.trim_end_matches("\r\n")),
            Some("\r\nWebSocket-Protocol: chat\r\nSet-Cookie: a=1\r\nX-Empty: \r\n\r\n")
        );
        assert!(
            written(&head, Draft::Hixie76)
                .unwrap()
                .ends_with("Sec-WebSocket-Protocol: chat\r\nSet-Cookie: a=1\r\nX-Empty: \r\n\r\n")
        );
    }

    #[test]
    fn header_value_with_line_break_is_refused_and_nothing_is_written() {
        for value in ["a\r\nX-Forged: 1", "a\nb", "a\0"] {
            let headers = [
                ("X-Ok".to_owned(), "1".to_owned()),
                ("X-Bad".to_owned(), value.to_owned()),
            ];
            let head = ResponseHead {
                headers: &headers,
                ..PLAIN
            };
            let mut out = Vec::new();
            assert_eq!(
                head.write(Draft::Hixie76, &mut out),
                Err(Error::InvalidHeaderValue {
                    name: "X-Bad".into()
                })
            );
            assert!(out.is_empty());
        }
    }

    #[test]
    fn header_name_that_is_not_a_token_is_refused() {
        for name in ["", "X Bad", "X:Bad", "X\r\nBad", "Ünïcode"] {
            let headers = [(name.to_owned(), "1".to_owned())];
            let head = ResponseHead {
                headers: &headers,
                ..PLAIN
            };
            assert_eq!(
                written(&head, Draft::Hixie75),
                Err(Error::InvalidHeaderName(name.into()))
            );
        }
    }
}
