//! The HTTP `CONNECT` exchange that opens a tunnel through a proxy.

use url::Url;

use crate::client::check_websocket_url;
use crate::error::{Error, UrlError};
use crate::head::{Limits, Response, Status};
use crate::headers::HeaderList;
use crate::url_util::{basic_auth, host_header};

/// A `CONNECT` request to an HTTP proxy for a `ws`/`wss` target, and the check of its answer.
///
/// Once [`read_response`](Self::read_response) reports `Complete`, the connection is a tunnel to the
/// target: for `wss` start TLS over it, then run the WebSocket handshake.
///
/// ```
/// use url::Url;
/// use wsd_handshake::{Limits, ProxyConnect, Status};
///
/// let target = Url::parse("ws://www.example.com/socket").unwrap();
/// let proxy = Url::parse("http://user:pass@proxy.example.com").unwrap();
/// let mut connect = ProxyConnect::new(&target, &proxy)?;
/// connect.set_header("User-Agent", "Chrome")?;
/// let mut out = Vec::new();
/// connect.write_request(&mut out);
/// assert_eq!(
///     out,
///     b"CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com\r\n\
///       Connection: keep-alive\r\nProxy-Connection: keep-alive\r\n\
///       Proxy-Authorization: Basic dXNlcjpwYXNz\r\nUser-Agent: Chrome\r\n\r\n"
/// );
/// let reply = b"HTTP/1.1 200 Connection established\r\n\r\n\x16\x03";
/// let Status::Complete((_, n)) = connect.read_response(reply, &Limits::default())? else {
///     panic!("complete");
/// };
/// assert_eq!(&reply[n..], b"\x16\x03"); // the tunnel's first bytes, kept for the caller
/// # Ok::<(), wsd_handshake::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProxyConnect {
    authority: String,
    headers: HeaderList,
}

impl ProxyConnect {
    /// Prepares `CONNECT` for `target` (a `ws` or `wss` URL) through `proxy` (for example
    /// `http://user:pass@proxy:3128`; its percent-decoded userinfo becomes `Proxy-Authorization`).
    ///
    /// The authority is `host:port`, the port defaulting to 80 for `ws` and 443 for `wss`, an IPv6 host
    /// in brackets (`websocket-driver` (Node) 0.7.x writes `::1:9000`, which proxies cannot parse).
    pub fn new(target: &Url, proxy: &Url) -> Result<Self, Error> {
        let (host, port) = check_websocket_url(target)?;
        if proxy.host_str().is_none_or(str::is_empty) {
            return Err(Error::InvalidUrl {
                url: proxy.to_string(),
                reason: UrlError::NoProxyHost,
            });
        }
        let mut headers = HeaderList::new();
        headers.set("Host", &host_header(target))?;
        headers.set("Connection", "keep-alive")?;
        headers.set("Proxy-Connection", "keep-alive")?;
        if let Some(auth) = basic_auth(proxy) {
            headers.set("Proxy-Authorization", &auth)?;
        }
        Ok(Self {
            authority: format!("{host}:{port}"),
            headers,
        })
    }

    /// The `host:port` the tunnel goes to.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// Adds a header to the request, with [`HeaderList::set`]'s rules: the preset `Host`,
    /// `Connection`, `Proxy-Connection` and `Proxy-Authorization` win over later duplicates, as in
    /// `websocket-driver` (Node).
    pub fn set_header(&mut self, name: &str, value: &str) -> Result<bool, Error> {
        self.headers.set(name, value)
    }

    /// Appends the `CONNECT` request head to `out`.
    pub fn write_request(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(b"CONNECT ");
        out.extend_from_slice(self.authority.as_bytes());
        out.extend_from_slice(b" HTTP/1.1\r\n");
        self.headers.write(out);
        out.extend_from_slice(b"\r\n");
    }

    /// Parses the proxy's answer from the start of `buf`.
    ///
    /// `Partial` until the head is complete; then `Complete((response, consumed))` for any 2xx status
    /// (RFC 9110 §9.3.6), where `buf[consumed..]` already belongs to the tunnel; or
    /// [`Error::ProxyRefused`] with the whole response for any other status.
    ///
    /// Differences from `websocket-driver` (Node): it accepts only exactly 200, and it discards the
    /// bytes after the head.
    pub fn read_response(
        &self,
        buf: &[u8],
        limits: &Limits,
    ) -> Result<Status<(Response, usize)>, Error> {
        match Response::parse(buf, limits)? {
            Status::Complete((response, _)) if !(200..300).contains(&response.status) => {
                Err(Error::ProxyRefused(Box::new(response)))
            }
            status => Ok(status),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(target: &str, proxy: &str, extra: &[(&str, &str)]) -> String {
        let mut connect =
            ProxyConnect::new(&Url::parse(target).unwrap(), &Url::parse(proxy).unwrap()).unwrap();
        for (n, v) in extra {
            connect.set_header(n, v).unwrap();
        }
        let mut out = Vec::new();
        connect.write_request(&mut out);
        String::from_utf8(out).unwrap()
    }

    fn plain_connect() -> ProxyConnect {
        let target = Url::parse("ws://a.example/").unwrap();
        ProxyConnect::new(&target, &Url::parse("http://proxy.example.com").unwrap()).unwrap()
    }

    const KEEP_ALIVE: &str = "Connection: keep-alive\r\nProxy-Connection: keep-alive\r\n";

    #[test]
    fn proxy_request_matches_websocket_driver_s_examples() {
        let check = |target: &str, proxy: &str, extra: &[(&str, &str)], expected: String| {
            assert_eq!(
                request(target, proxy, extra),
                expected,
                "{target} via {proxy}"
            );
        };
        check(
            "ws://www.example.com/socket",
            "http://proxy.example.com",
            &[],
            format!(
                "CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com\r\n{KEEP_ALIVE}\r\n"
            ),
        );
        check(
            "ws://www.example.com/socket",
            "http://user:pass@proxy.example.com",
            &[],
            format!(
                "CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com\r\n{KEEP_ALIVE}\
                 Proxy-Authorization: Basic dXNlcjpwYXNz\r\n\r\n"
            ),
        );
        check(
            "ws://www.example.com/socket",
            "http://proxy.example.com",
            &[("User-Agent", "Chrome")],
            format!(
                "CONNECT www.example.com:80 HTTP/1.1\r\nHost: www.example.com\r\n{KEEP_ALIVE}\
                 User-Agent: Chrome\r\n\r\n"
            ),
        );
        check(
            "wss://www.example.com/socket",
            "http://proxy.example.com:3128",
            &[],
            format!(
                "CONNECT www.example.com:443 HTTP/1.1\r\nHost: www.example.com\r\n{KEEP_ALIVE}\r\n"
            ),
        );
        check(
            "ws://[::1]:9000/",
            "http://proxy.example.com",
            &[],
            format!("CONNECT [::1]:9000 HTTP/1.1\r\nHost: [::1]:9000\r\n{KEEP_ALIVE}\r\n"),
        );
        check(
            "wss://example.com:8443/",
            "http://p%40x:s%3Ac@proxy.example.com",
            &[],
            // "p@x:s:c"
            format!(
                "CONNECT example.com:8443 HTTP/1.1\r\nHost: example.com:8443\r\n{KEEP_ALIVE}\
                 Proxy-Authorization: Basic cEB4OnM6Yw==\r\n\r\n"
            ),
        );
    }

    #[test]
    fn proxy_presets_win_over_later_duplicates() {
        let req = request(
            "ws://a.example/",
            "http://proxy.example.com",
            &[("host", "b.example"), ("Connection", "close")],
        );
        assert_eq!(
            req,
            format!("CONNECT a.example:80 HTTP/1.1\r\nHost: a.example\r\n{KEEP_ALIVE}\r\n")
        );
    }

    #[test]
    fn proxy_rejects_bad_urls_and_headers() {
        let url = |s: &str| Url::parse(s).unwrap();
        let proxy = url("http://proxy.example.com");
        let err = ProxyConnect::new(&url("http://a.example/"), &proxy).unwrap_err();
        assert_eq!(
            err.to_string(),
            "http://a.example/ is not a valid WebSocket URL"
        );
        let err = ProxyConnect::new(&url("ws://a.example/"), &url("unix:/run/proxy")).unwrap_err();
        assert!(
            matches!(
                err,
                Error::InvalidUrl {
                    reason: UrlError::NoProxyHost,
                    ..
                }
            ),
            "{err}"
        );
        let mut connect = ProxyConnect::new(&url("ws://a.example/"), &proxy).unwrap();
        assert!(connect.set_header("X", "a\r\n\r\nGET / HTTP/1.1").is_err());
    }

    #[test]
    fn proxy_response_is_partial_then_complete_on_any_2xx() {
        let connect = plain_connect();
        let limits = Limits::default();
        for status in ["200 OK", "201 Created", "299 Whatever"] {
            let reply = format!("HTTP/1.1 {status}\r\nVia: p\r\n\r\nTUNNEL");
            let reply = reply.as_bytes();
            for i in 0..reply.len() - 6 {
                assert_eq!(
                    connect.read_response(&reply[..i], &limits),
                    Ok(Status::Partial)
                );
            }
            let Ok(Status::Complete((res, n))) = connect.read_response(reply, &limits) else {
                panic!("{status}: complete expected");
            };
            assert_eq!(&reply[n..], b"TUNNEL");
            assert_eq!(res.headers.get("via").as_deref(), Some("p"));
        }
    }

    #[test]
    fn proxy_refusal_carries_status_and_headers() {
        let connect = plain_connect();
        let reply =
            b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic\r\n\r\n";
        let Err(Error::ProxyRefused(res)) = connect.read_response(reply, &Limits::default()) else {
            panic!("refusal expected");
        };
        assert_eq!(res.status, 407);
        assert_eq!(
            res.headers.get("proxy-authenticate").as_deref(),
            Some("Basic")
        );
        assert_eq!(
            Error::ProxyRefused(res).to_string(),
            "proxy refused the CONNECT request: 407 Proxy Authentication Required"
        );
        assert_eq!(
            connect.read_response(b"HTTP/1.1 1", &Limits::default()),
            Ok(Status::Partial)
        );
    }
}
