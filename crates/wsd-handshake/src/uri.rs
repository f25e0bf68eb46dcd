//! The syntax checks a server applies to a request's `Host` and request target (RFC 9112 §3.2,
//! RFC 3986 §3.2), shared by the HTTP/1.1 upgrade and the HTTP/2 extended `CONNECT`.

use core::net::Ipv6Addr;

use crate::error::{AuthorityError, TargetError};

/// Checks that `value` is `uri-host [ ":" port ]` (RFC 3986 §3.2.2-3.2.3) with a non-empty host.
///
/// The grammar allows an empty host, but a WebSocket URI always has one (RFC 6455 §3) and an `http`
/// URI must not be empty either (RFC 9110 §4.2.1), so it is refused. Userinfo is refused as
/// RFC 9110 §4.2.4 asks of recipients. A port must be decimal digits (empty is allowed, as in `host:`)
/// and fit in 16 bits.
pub(crate) fn check_authority(value: &str) -> Result<(), AuthorityError> {
    if value.contains('@') {
        return Err(AuthorityError::Userinfo);
    }
    let port = if let Some(literal) = value.strip_prefix('[') {
        let (inside, rest) = literal.split_once(']').ok_or(AuthorityError::IpLiteral)?;
        if !is_ip_literal(inside) {
            return Err(AuthorityError::IpLiteral);
        }
        match rest.strip_prefix(':') {
            Some(port) => Some(port),
            None if rest.is_empty() => None,
            // Bytes after the `]` that do not start a port.
            None => return Err(AuthorityError::Port),
        }
    } else {
        let (host, port) = match value.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        };
        if host.is_empty() {
            return Err(AuthorityError::Empty);
        }
        if !is_reg_name(host) {
            return Err(AuthorityError::RegName);
        }
        port
    };
    match port {
        // `host:` is valid: the port is `*DIGIT`, so it may be empty (RFC 3986 §3.2.3).
        Some(port) if !port.is_empty() => {
            if port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok() {
                Ok(())
            } else {
                Err(AuthorityError::Port)
            }
        }
        _ => Ok(()),
    }
}

/// Checks that a request target is in origin-form (`/path?query`) or in absolute-form with an `http`,
/// `https`, `ws` or `wss` scheme and a valid authority (RFC 9112 §3.2.1-3.2.2). The asterisk-form
/// (`*`, for `OPTIONS`) and the authority-form (`host:port`, for `CONNECT`) are refused, as are
/// relative references (`x`, `../x`) and fragments.
///
/// The characters of the path and query are not checked beyond what the HTTP parser already refuses
/// (controls and spaces): browsers send `|`, `^` and stray `%` unescaped, and those requests should work.
pub(crate) fn check_target(target: &str) -> Result<(), TargetError> {
    if target == "*" {
        return Err(TargetError::Asterisk);
    }
    if target.contains('#') {
        return Err(TargetError::Fragment);
    }
    if target.starts_with('/') {
        return Ok(());
    }
    // `example.com:443` also parses as a URI with the scheme `example.com`; it is a CONNECT target.
    if target.contains(':') && !target.contains('/') && check_authority(target).is_ok() {
        return Err(TargetError::AuthorityForm);
    }
    let (scheme, rest) = target
        .split_once(':')
        .filter(|(scheme, _)| is_scheme(scheme))
        .ok_or(TargetError::Relative)?;
    if !["http", "https", "ws", "wss"]
        .iter()
        .any(|s| s.eq_ignore_ascii_case(scheme))
    {
        return Err(TargetError::Scheme);
    }
    let after_slashes = rest
        .strip_prefix("//")
        .ok_or(TargetError::MissingAuthority)?;
    let end = after_slashes
        .find(['/', '?'])
        .unwrap_or(after_slashes.len());
    let authority = after_slashes.get(..end).unwrap_or(after_slashes);
    check_authority(authority).map_err(TargetError::Authority)
}

/// Checks HTTP/2's `:path` for a WebSocket: the path and query of an `http` or `https` URI, so not
/// empty and starting with `/` (RFC 9113 §8.3.1; `*` is for `OPTIONS` only, and a `CONNECT` with
/// `:protocol` carries a path, RFC 8441 §4).
pub(crate) fn check_path(path: &str) -> Result<(), TargetError> {
    match path {
        "*" => Err(TargetError::Asterisk),
        _ if path.contains('#') => Err(TargetError::Fragment),
        _ if path.starts_with('/') => Ok(()),
        _ => Err(TargetError::NotPath),
    }
}

/// `scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )` (RFC 3986 §3.1).
fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

/// What is inside the brackets of an `IP-literal`: an IPv6 address or `IPvFuture`
/// (`"v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )`, RFC 3986 §3.2.2).
fn is_ip_literal(inside: &str) -> bool {
    match inside.strip_prefix(['v', 'V']) {
        Some(future) => future.split_once('.').is_some_and(|(version, address)| {
            !version.is_empty()
                && version.bytes().all(|b| b.is_ascii_hexdigit())
                && !address.is_empty()
                && address
                    .bytes()
                    .all(|b| is_unreserved(b) || is_sub_delim(b) || b == b':')
        }),
        None => inside.parse::<Ipv6Addr>().is_ok(),
    }
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )` (RFC 3986 §3.2.2); an IPv4 address is a
/// reg-name too as far as the characters go.
fn is_reg_name(host: &str) -> bool {
    let bytes = host.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let escape = bytes.get(i + 1..i + 3);
            if !escape.is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit)) {
                return false;
            }
            i += 3;
        } else if is_unreserved(b) || is_sub_delim(b) {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn odd_but_valid_authorities_pass() {
        for host in [
            "example.com",
            "example.com:8080",
            "EXAMPLE.com:443",
            "localhost:",
            "127.0.0.1",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8080",
            "[::1]:",
            "[2001:db8::ff00:42:8329]:443",
            "[::ffff:192.0.2.1]",
            "[v1.fe80::a+en1]:9",
            "caf%C3%A9.example",
            "a!$&'()*+,;=b",
            "under_score~tilde-dash",
            "host:0",
            "host:65535",
            "host:00080",
        ] {
            assert_eq!(check_authority(host), Ok(()), "{host}");
        }
    }

    #[test]
    fn malformed_authorities_fail_with_the_reason() {
        use AuthorityError as E;
        for (host, expected) in [
            ("", E::Empty),
            (":80", E::Empty),
            ("exa mple.com", E::RegName),
            ("example.com ", E::RegName),
            ("a/b", E::RegName),
            ("caf\u{e9}.example", E::RegName),
            ("bad%zz", E::RegName),
            ("bad%4", E::RegName),
            ("[::1", E::IpLiteral),
            ("[::1]x", E::Port),
            ("[not-v6]", E::IpLiteral),
            ("[]", E::IpLiteral),
            ("[v.x]", E::IpLiteral),
            ("[v1.]", E::IpLiteral),
            ("[fe80::1%25eth0]", E::IpLiteral),
            ("host:http", E::Port),
            ("host:-1", E::Port),
            ("host:+80", E::Port),
            ("host:65536", E::Port),
            ("host:80:81", E::Port),
            ("::1", E::Empty),
            ("user@host", E::Userinfo),
            ("user:pass@host:80", E::Userinfo),
            ("@host", E::Userinfo),
        ] {
            assert_eq!(check_authority(host), Err(expected), "{host:?}");
        }
    }

    #[test]
    fn origin_and_absolute_form_targets_pass() {
        for target in [
            "/",
            "/chat",
            "/chat?room=1&x=%20",
            "//double",
            "/a|b^c",
            "/?",
            "http://example.com",
            "http://example.com/x",
            "https://example.com:8443/x?y",
            "ws://[::1]:9000/chat",
            "WSS://example.com?q",
            "ws://example.com:/",
        ] {
            assert_eq!(check_target(target), Ok(()), "{target}");
        }
    }

    #[test]
    fn paths_must_start_with_a_slash() {
        for path in ["/", "/chat?x=1", "//x"] {
            assert_eq!(check_path(path), Ok(()), "{path}");
        }
        for (path, expected) in [
            ("", TargetError::NotPath),
            ("chat", TargetError::NotPath),
            ("https://example.com/chat", TargetError::NotPath),
            ("*", TargetError::Asterisk),
            ("/chat#x", TargetError::Fragment),
        ] {
            assert_eq!(check_path(path), Err(expected), "{path:?}");
        }
    }

    #[test]
    fn other_targets_fail_with_the_form_they_have() {
        use TargetError as E;
        for (target, expected) in [
            ("*", E::Asterisk),
            ("example.com:443", E::AuthorityForm),
            ("[::1]:443", E::AuthorityForm),
            ("x", E::Relative),
            ("../x", E::Relative),
            ("./x", E::Relative),
            ("", E::Relative),
            ("?q", E::Relative),
            ("1http://example.com/", E::Relative),
            ("/chat#frag", E::Fragment),
            ("ws://example.com/#x", E::Fragment),
            ("ftp://example.com/", E::Scheme),
            ("mailto:a@b", E::Scheme),
            ("http:/x", E::MissingAuthority),
            ("http:x", E::MissingAuthority),
            ("http:///x", E::Authority(AuthorityError::Empty)),
            (
                "http://user@example.com/",
                E::Authority(AuthorityError::Userinfo),
            ),
            ("ws://[::1/x", E::Authority(AuthorityError::IpLiteral)),
            ("ws://host:port/", E::Authority(AuthorityError::Port)),
        ] {
            assert_eq!(check_target(target), Err(expected), "{target:?}");
        }
    }
}
