//! What the client and the proxy handshakes both derive from URLs: `Host` values and Basic credentials.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use url::Url;

/// The `Host` header value for `url`: the host (IPv6 in brackets, IDNs in punycode, as the url crate
/// serializes them) plus `:port` only when the URL names a port other than the scheme's default.
///
/// `websocket-driver` (Node) 0.7.x keeps an explicit default port (`ws://example.com:80/` gives
/// `example.com:80`); the url crate, like Node's 0.8.0, normalizes it away, so we send `example.com`.
pub(crate) fn host_header(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

/// `Basic <base64(user:password)>` from the URL's userinfo, percent-decoded; `None` without userinfo.
///
/// A user without a password is sent as `user:` (an empty password), the form RFC 7617 §2 requires;
/// `websocket-driver` (Node) 0.7.x sends `user` without the colon and 0.8.0 sends nothing.
pub(crate) fn basic_auth(url: &Url) -> Option<String> {
    if url.username().is_empty() && url.password().is_none() {
        return None;
    }
    let mut credentials = percent_decode(url.username());
    credentials.push(b':');
    credentials.extend(percent_decode(url.password().unwrap_or_default()));
    Some(format!("Basic {}", BASE64.encode(credentials)))
}

/// Decodes `%XX` escapes; a `%` not followed by two hex digits is kept as it is.
fn percent_decode(s: &str) -> Vec<u8> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let escaped = match (b, bytes.get(i + 1..i + 3)) {
            (b'%', Some(&[hi, lo])) => hex(hi).zip(hex(lo)).map(|(h, l)| h << 4 | l),
            _ => None,
        };
        match escaped {
            Some(decoded) => {
                out.push(decoded);
                i += 3;
            }
            None => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    char::from(b)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn percent_decode_handles_escapes_and_stray_percent_signs() {
        let check =
            |input: &str, expected: &[u8]| assert_eq!(percent_decode(input), expected, "{input}");
        check("plain", b"plain");
        check("a%20b", b"a b");
        check("%3a%3A", b"::");
        check("%e2%82%ac", "\u{20ac}".as_bytes());
        check("%", b"%");
        check("%2", b"%2");
        check("%zz", b"%zz");
        check("100%", b"100%");
    }

    #[test]
    fn host_header_keeps_only_non_default_ports() {
        let check =
            |input: &str, expected: &str| assert_eq!(host_header(&url(input)), expected, "{input}");
        check("ws://example.com/", "example.com");
        check("ws://example.com:80/", "example.com");
        check("wss://example.com:443/", "example.com");
        check("ws://example.com:443/", "example.com:443");
        check("wss://example.com:8443/", "example.com:8443");
        check("ws://[::1]:9000/", "[::1]:9000");
        check("ws://[::1]/", "[::1]");
        check("ws://EXAMPLE.com/", "example.com");
    }

    #[test]
    fn basic_auth_decodes_userinfo() {
        let check = |input: &str, expected: Option<&str>| {
            assert_eq!(basic_auth(&url(input)).as_deref(), expected, "{input}");
        };
        check("ws://example.com/", None);
        check("ws://user:pass@example.com/", Some("Basic dXNlcjpwYXNz"));
        // "us er:p@ss" once decoded.
        check(
            "ws://us%20er:p%40ss@example.com/",
            Some("Basic dXMgZXI6cEBzcw=="),
        );
        // A user alone gets an empty password: "user:".
        check("ws://user@example.com/", Some("Basic dXNlcjo="));
        check("ws://:pass@example.com/", Some("Basic OnBhc3M="));
    }
}
