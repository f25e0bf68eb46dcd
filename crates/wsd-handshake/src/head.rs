//! Incremental parsing of HTTP/1.x request and response heads, on top of httparse.

use crate::error::{Error, Malformed};
use crate::headers::{Headers, trim_ows};

/// The result of feeding bytes to an incremental parser: done, or more bytes needed.
///
/// Short input is never an error; the caller buffers more bytes and calls again with all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum Status<T> {
    /// Parsing finished with this value.
    Complete(T),
    /// The input ended before the value did; call again with more bytes.
    Partial,
}

impl<T> Status<T> {
    /// Whether this is [`Complete`](Self::Complete).
    pub fn is_complete(&self) -> bool {
        matches!(self, Self::Complete(_))
    }

    /// Whether this is [`Partial`](Self::Partial).
    pub fn is_partial(&self) -> bool {
        matches!(self, Self::Partial)
    }

    /// Maps the complete value.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Status<U> {
        match self {
            Self::Complete(t) => Status::Complete(f(t)),
            Self::Partial => Status::Partial,
        }
    }
}

/// Bounds on an HTTP head, so a peer cannot make us buffer or parse without end.
///
/// A head that has not ended after `max_head_bytes` bytes, or that has more than `max_headers` header
/// lines, is an error as soon as that is known; the caller can stop buffering then.
/// (`websocket-driver` (Node) allows 80 KB and checks only after each chunk.)
///
/// ```
/// use wsd_handshake::Limits;
///
/// let limits = Limits { max_head_bytes: 8 * 1024, ..Limits::default() };
/// assert_eq!(limits.max_headers, 128);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The most bytes a head may take, from the first byte of the start line to the blank line
    /// inclusive. Default 16 KiB.
    pub max_head_bytes: usize,
    /// The most header lines a head may have. Default 128.
    pub max_headers: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_head_bytes: 16 * 1024,
            max_headers: 128,
        }
    }
}

/// A parsed HTTP request head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    /// The method, as sent (methods are case-sensitive).
    pub method: String,
    /// The request target, raw (`/chat?room=1`).
    pub target: String,
    /// The HTTP minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub version: u8,
    /// The headers, in order.
    pub headers: Headers,
}

impl Request {
    /// Parses a request head from the start of `buf`.
    ///
    /// Returns `Complete((request, consumed))` where `consumed` is the length of the head including
    /// the blank line: bytes after it belong to the next layer (frames, or a Hixie-76 key body).
    /// Returns `Partial` when `buf` ends inside the head, and an error when the head is malformed or
    /// breaks `limits`.
    ///
    /// ```
    /// use wsd_handshake::{Limits, Request, Status};
    ///
    /// let buf = b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\r\n\x81\x00";
    /// let Status::Complete((req, n)) = Request::parse(buf, &Limits::default())? else {
    ///     panic!("head is complete");
    /// };
    /// assert_eq!((req.method.as_str(), req.target.as_str(), req.version), ("GET", "/chat", 1));
    /// assert_eq!(&buf[n..], b"\x81\x00");
    /// assert!(Request::parse(&buf[..10], &Limits::default())?.is_partial());
    /// # Ok::<(), wsd_handshake::Error>(())
    /// ```
    pub fn parse(buf: &[u8], limits: &Limits) -> Result<Status<(Self, usize)>, Error> {
        parse_head(buf, limits, |buf, slots| {
            let mut req = httparse::Request::new(slots);
            let status = ours(req.parse(buf)?);
            // httparse fills the start line in before it reports Complete.
            Ok(status.map(|consumed| {
                (
                    Self {
                        method: req.method.unwrap_or_default().to_owned(),
                        target: req.path.unwrap_or_default().to_owned(),
                        version: req.version.unwrap_or_default(),
                        headers: collect_headers(req.headers),
                    },
                    consumed,
                )
            }))
        })
    }
}

/// A parsed HTTP response head.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    /// The HTTP minor version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub version: u8,
    /// The status code.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: String,
    /// The headers, in order.
    pub headers: Headers,
}

impl Response {
    /// Parses a response head from the start of `buf`; see [`Request::parse`] for the contract.
    ///
    /// ```
    /// use wsd_handshake::{Limits, Response, Status};
    ///
    /// let buf = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
    /// let Status::Complete((res, n)) = Response::parse(buf, &Limits::default())? else {
    ///     panic!("head is complete");
    /// };
    /// assert_eq!((res.status, res.reason.as_str(), n), (101, "Switching Protocols", buf.len()));
    /// # Ok::<(), wsd_handshake::Error>(())
    /// ```
    pub fn parse(buf: &[u8], limits: &Limits) -> Result<Status<(Self, usize)>, Error> {
        parse_head(buf, limits, |buf, slots| {
            let mut res = httparse::Response::new(slots);
            let status = ours(res.parse(buf)?);
            Ok(status.map(|consumed| {
                (
                    Self {
                        version: res.version.unwrap_or_default(),
                        status: res.code.unwrap_or_default(),
                        reason: res.reason.unwrap_or_default().to_owned(),
                        headers: collect_headers(res.headers),
                    },
                    consumed,
                )
            }))
        })
    }
}

/// What a head parser hands back to [`parse_head`]: our value and the head's length, once complete.
type Parsed<T> = Result<Status<(T, usize)>, httparse::Error>;

fn ours(status: httparse::Status<usize>) -> Status<usize> {
    match status {
        httparse::Status::Complete(n) => Status::Complete(n),
        httparse::Status::Partial => Status::Partial,
    }
}

/// Runs one httparse pass over at most `limits.max_head_bytes` of `buf` with `limits.max_headers`
/// header slots, and turns httparse's answer into ours.
fn parse_head<T>(
    buf: &[u8],
    limits: &Limits,
    parse: impl for<'b> FnOnce(&'b [u8], &mut [httparse::Header<'b>]) -> Parsed<T>,
) -> Result<Status<(T, usize)>, Error> {
    // Cut to the limit, so each call parses at most that many bytes whatever the caller buffered.
    let (head, truncated) = match buf.get(..limits.max_head_bytes) {
        Some(head) if head.len() < buf.len() => (head, true),
        _ => (buf, false),
    };
    // A header line takes at least three bytes (`a:` and a newline), so `head` cannot hold
    // more than a third of its length in headers: no more slots than that, whatever the
    // limit says (a limit of `usize::MAX` means "no limit", not "allocate that many").
    let slots_needed = head.len() / 3 + 1;
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers.min(slots_needed)];
    match parse(head, &mut slots).map_err(|e| map_error(e, limits))? {
        // httparse wants more bytes: fine, unless we already hold more than a head may take.
        Status::Partial if truncated => Err(Error::HeadTooLarge {
            limit: limits.max_head_bytes,
        }),
        status => Ok(status),
    }
}

fn map_error(e: httparse::Error, limits: &Limits) -> Error {
    Error::Malformed(match e {
        httparse::Error::TooManyHeaders => {
            return Error::TooManyHeaders {
                limit: limits.max_headers,
            };
        }
        httparse::Error::HeaderName => Malformed::HeaderName,
        httparse::Error::HeaderValue => Malformed::HeaderValue,
        httparse::Error::NewLine => Malformed::NewLine,
        httparse::Error::Status => Malformed::Status,
        httparse::Error::Token => Malformed::Token,
        httparse::Error::Version => Malformed::Version,
    })
}

fn collect_headers(raw: &[httparse::Header<'_>]) -> Headers {
    let mut headers = Headers::new();
    for h in raw {
        push_received(&mut headers, h.name, h.value);
    }
    headers
}

/// Appends a received header: the value decoded by [`decode_value`] and trimmed, as [`Headers`]
/// promises for every received header, whichever HTTP stack parsed it.
pub(crate) fn push_received(headers: &mut Headers, name: &str, value: &[u8]) {
    headers.push(name, trim_ows(&decode_value(value)));
}

/// UTF-8 when it is, else ISO-8859-1 (byte = code point), so no value is lost or rejected.
fn decode_value(value: &[u8]) -> String {
    match std::str::from_utf8(value) {
        Ok(s) => s.to_owned(),
        Err(_) => value.iter().map(|&b| char::from(b)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUEST: &[u8] = b"GET /chat?x=1 HTTP/1.1\r\n\
        Host: server.example.com\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Sec-WebSocket-Version: 13\r\n\
        X-Repeat: a\r\n\
        x-repeat: b\r\n\
        \r\n";

    const RESPONSE: &[u8] = b"HTTP/1.1 101 Switching Protocols\r\n\
        Upgrade: websocket\r\n\
        Connection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\
        \r\n";

    fn complete_request(buf: &[u8]) -> (Request, usize) {
        match Request::parse(buf, &Limits::default()) {
            Ok(Status::Complete(done)) => done,
            other => panic!("expected a complete request, got {other:?}"),
        }
    }

    #[test]
    fn request_fields_are_parsed() {
        let (req, n) = complete_request(REQUEST);
        assert_eq!(n, REQUEST.len());
        assert_eq!(req.method, "GET");
        assert_eq!(req.target, "/chat?x=1");
        assert_eq!(req.version, 1);
        assert_eq!(req.headers.len(), 7);
        assert_eq!(req.headers.get("x-repeat").as_deref(), Some("a, b"));
        assert_eq!(
            req.headers.get("sec-websocket-version").as_deref(),
            Some("13")
        );
    }

    #[test]
    fn request_reports_bytes_after_the_head() {
        let mut buf = REQUEST.to_vec();
        buf.extend_from_slice(b"\x81\x85rest");
        let (_, n) = complete_request(&buf);
        assert_eq!(&buf[n..], b"\x81\x85rest");
    }

    #[test]
    fn request_split_at_every_byte_equals_one_chunk() {
        let whole = complete_request(REQUEST);
        for i in 0..REQUEST.len() {
            assert_eq!(
                Request::parse(&REQUEST[..i], &Limits::default()),
                Ok(Status::Partial),
                "prefix of {i} bytes"
            );
        }
        assert_eq!(complete_request(REQUEST), whole);
    }

    #[test]
    fn response_split_at_every_byte_equals_one_chunk() {
        let limits = Limits::default();
        let whole = Response::parse(RESPONSE, &limits);
        for i in 0..RESPONSE.len() {
            assert_eq!(
                Response::parse(&RESPONSE[..i], &limits),
                Ok(Status::Partial),
                "{i}"
            );
        }
        let Ok(Status::Complete((res, n))) = whole else {
            panic!("expected a complete response, got {whole:?}");
        };
        assert_eq!((res.version, res.status, n), (1, 101, RESPONSE.len()));
        assert_eq!(res.reason, "Switching Protocols");
        assert_eq!(
            res.headers.get("sec-websocket-accept").as_deref(),
            Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        );
    }

    #[test]
    fn malformed_heads_are_errors() {
        let check = |buf: &[u8], expected: Malformed| {
            assert_eq!(
                Request::parse(buf, &Limits::default()),
                Err(Error::Malformed(expected)),
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        };
        check(b"GET /a HTTP/2.0\r\n\r\n", Malformed::Version);
        check(
            b"GET /a HTTP/1.1\r\nBad Name: x\r\n\r\n",
            Malformed::HeaderName,
        );
        check(
            b"GET /a HTTP/1.1\r\nA: x\0y\r\n\r\n",
            Malformed::HeaderValue,
        );
        check(b"G(T /a HTTP/1.1\r\n\r\n", Malformed::Token);
        assert_eq!(
            Response::parse(b"HTTP/1.1 4 Bad\r\n\r\n", &Limits::default()),
            Err(Error::Malformed(Malformed::Status))
        );
    }

    #[test]
    fn a_one_mebibyte_head_is_rejected_at_the_limit() {
        let mut buf = b"GET / HTTP/1.1\r\nX-Big: ".to_vec();
        buf.resize(1 << 20, b'a');
        let limit = Limits::default().max_head_bytes;
        assert_eq!(
            Request::parse(&buf, &Limits::default()),
            Err(Error::HeadTooLarge { limit })
        );
        // Exactly at the limit and still incomplete: we may yet see the end, so wait.
        assert_eq!(
            Request::parse(&buf[..limit], &Limits::default()),
            Ok(Status::Partial)
        );
        // A complete head over the limit fails too, even when it all arrives at once.
        buf.extend_from_slice(b"\r\n\r\n");
        assert_eq!(
            Request::parse(&buf, &Limits::default()),
            Err(Error::HeadTooLarge { limit })
        );
    }

    #[test]
    fn a_head_exactly_at_the_limit_is_accepted() {
        let limits = Limits {
            max_head_bytes: REQUEST.len(),
            ..Limits::default()
        };
        assert!(Request::parse(REQUEST, &limits).unwrap().is_complete());
        let smaller = Limits {
            max_head_bytes: REQUEST.len() - 1,
            ..limits
        };
        assert_eq!(
            Request::parse(REQUEST, &smaller),
            Err(Error::HeadTooLarge {
                limit: REQUEST.len() - 1
            })
        );
    }

    #[test]
    fn ten_thousand_headers_are_rejected() {
        let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..10_000 {
            buf.extend_from_slice(b"A: b\r\n");
        }
        buf.extend_from_slice(b"\r\n");
        let limits = Limits {
            max_head_bytes: usize::MAX,
            ..Limits::default()
        };
        assert_eq!(
            Request::parse(&buf, &limits),
            Err(Error::TooManyHeaders { limit: 128 })
        );
        // With the default byte limit the size cap trips as well; either way it is an error.
        assert!(Request::parse(&buf, &Limits::default()).is_err());
    }

    #[test]
    fn too_many_headers_is_detected_before_the_head_ends() {
        let mut buf = b"HTTP/1.1 200 OK\r\n".to_vec();
        for _ in 0..3 {
            buf.extend_from_slice(b"A: b\r\n");
        }
        let limits = Limits {
            max_headers: 2,
            ..Limits::default()
        };
        assert_eq!(
            Response::parse(&buf, &limits),
            Err(Error::TooManyHeaders { limit: 2 })
        );
    }

    #[test]
    fn non_utf8_header_values_are_read_as_latin1() {
        let (req, _) = complete_request(b"GET / HTTP/1.1\r\nX: caf\xe9\r\nY: caf\xc3\xa9\r\n\r\n");
        assert_eq!(req.headers.get("x").as_deref(), Some("caf\u{e9}"));
        assert_eq!(req.headers.get("y").as_deref(), Some("caf\u{e9}"));
    }

    #[test]
    fn status_helpers_report_and_map() {
        let done: Status<u8> = Status::Complete(2);
        assert!(done.is_complete() && !done.is_partial());
        assert_eq!(done.map(|n| n * 2), Status::Complete(4));
        assert_eq!(Status::<u8>::Partial.map(|n| n * 2), Status::Partial);
    }

    #[test]
    fn zero_header_slots_still_parse_a_bare_head() {
        let limits = Limits {
            max_headers: 0,
            ..Limits::default()
        };
        assert!(
            Request::parse(b"GET / HTTP/1.1\r\n\r\n", &limits)
                .unwrap()
                .is_complete()
        );
        assert_eq!(
            Request::parse(b"GET / HTTP/1.1\r\nA: b\r\n\r\n", &limits),
            Err(Error::TooManyHeaders { limit: 0 })
        );
    }

    #[test]
    fn unbounded_limits_parse_without_allocating_the_limit() {
        let limits = Limits {
            max_headers: usize::MAX,
            max_head_bytes: usize::MAX,
        };
        let (req, _) = match Request::parse(b"GET / HTTP/1.1\r\nA: b\r\nC:\n\r\n", &limits) {
            Ok(Status::Complete(parsed)) => parsed,
            other => panic!("a complete head expected, got {other:?}"),
        };
        assert_eq!(req.headers.get("a").as_deref(), Some("b"));
        assert_eq!(req.headers.get("c").as_deref(), Some(""));
        // The tightest head: every header line three bytes long, all of them kept.
        let mut buf = b"GET / HTTP/1.1\r\n".to_vec();
        for _ in 0..50 {
            buf.extend_from_slice(b"a:\n");
        }
        buf.extend_from_slice(b"\r\n");
        match Request::parse(&buf, &limits) {
            Ok(Status::Complete((req, _))) => assert_eq!(req.headers.len(), 50),
            other => panic!("a complete head expected, got {other:?}"),
        }
    }

    #[test]
    fn http_1_0_is_parsed_with_minor_version_zero() {
        let (req, _) = complete_request(b"GET / HTTP/1.0\r\n\r\n");
        assert_eq!(req.version, 0);
    }
}
