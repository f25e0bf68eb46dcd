//! The proxy step before a client handshake, over any [`Transport`]: [`tunnel`]
//! (the HTTP `CONNECT` exchange, also inside TLS to an `https://` proxy, or SOCKS5),
//! where to dial ([`proxy_target`]), [`client_via_proxy`], and the proxy
//! environment variables ([`ProxyEnv`]).

use core::future::poll_fn;
use core::task::{Context, Poll, ready};
use std::io;

use wsd_handshake::{ProxyConnect, Status};

use crate::error::{TlsError, UrlError, UrlErrorKind};
use crate::handshake::{self, host_of};
use crate::{ClientConfig, Error, Timer, Transport, WebSocket};
use wsd_core::Options;

/// The kinds of proxy a client can go through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProxyKind {
    /// `http://`: an HTTP `CONNECT` in clear (the tunnel may still carry `wss://`).
    Http,
    /// `https://`: TLS to the proxy, then `CONNECT` inside it. Opening the TLS
    /// session is the adapter's job (`wsd-tokio` does it with its `rustls` feature).
    Https,
    /// `socks5://` or `socks5h://`: SOCKS5, with username and password from the
    /// URL's userinfo. Both send the target's name for the proxy to resolve.
    Socks5,
}

impl ProxyKind {
    /// The kind of the proxy URL `proxy`.
    ///
    /// ```
    /// # use wsd_io::ProxyKind;
    /// assert_eq!(ProxyKind::of("socks5h://u:p@proxy:1080").unwrap(), ProxyKind::Socks5);
    /// assert!(ProxyKind::of("ftp://proxy").is_err());
    /// ```
    pub fn of(proxy: &str) -> Result<Self, Error> {
        Self::of_url(proxy, &parse(proxy)?)
    }

    fn of_url(proxy: &str, parsed: &url::Url) -> Result<Self, Error> {
        match parsed.scheme() {
            "http" => Ok(Self::Http),
            "https" => Ok(Self::Https),
            "socks5" | "socks5h" => Ok(Self::Socks5),
            other => {
                let kind = UrlErrorKind::ProxyScheme(other.to_owned());
                Err(UrlError::new(proxy, kind).into())
            }
        }
    }

    /// The port a proxy of this kind listens on when its URL names none.
    pub const fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
            Self::Socks5 => 1080,
        }
    }
}

/// Where to open the TCP connection for a proxy URL such as
/// `http://user:pass@proxy.example:3128`: `(host, port)`, the host without IPv6
/// brackets, the port defaulting to the kind's ([`ProxyKind::default_port`]).
///
/// ```
/// # use wsd_io::proxy_target;
/// assert_eq!(proxy_target("http://u:p@127.0.0.1:8888").unwrap(), ("127.0.0.1".into(), 8888));
/// assert_eq!(proxy_target("http://proxy.example").unwrap(), ("proxy.example".into(), 80));
/// assert_eq!(proxy_target("socks5://[::1]").unwrap(), ("::1".into(), 1080));
/// assert!(proxy_target("ftp://proxy.example").is_err());
/// ```
pub fn proxy_target(proxy: &str) -> Result<(String, u16), Error> {
    let parsed = parse(proxy)?;
    let kind = ProxyKind::of_url(proxy, &parsed)?;
    let host = host_of(&parsed).ok_or_else(|| UrlError::new(proxy, UrlErrorKind::NoHost))?;
    Ok((host, parsed.port().unwrap_or(kind.default_port())))
}

/// Opens a tunnel to `url` (a `ws://` or `wss://` URL) through `proxy` on `io`, a
/// transport connected to the proxy (inside TLS for an `https://` proxy).
///
/// - `http://` and `https://`: writes the `CONNECT` request (with
///   `Proxy-Authorization: Basic` from the proxy URL's userinfo) and reads the
///   answer. Any status but 2xx fails with [`Error::ProxyRefused`], carrying the
///   proxy's status and headers (a 407 asks for credentials).
/// - `socks5://` and `socks5h://`: the SOCKS5 exchange ([`Socks5`](crate::Socks5),
///   with the username and password of the userinfo; both send the target's name
///   for the proxy to resolve). A refusal is [`Error::Socks`].
///
/// Returns the bytes that followed the proxy's answer: they already belong to the
/// tunnel, so the caller hands them to the WebSocket client (see
/// [`client_with_input`](crate::client_with_input)); they are almost always empty,
/// since the target speaks only after the client. The exchange is bounded by
/// `options.limits` (the head size) and `options.handshake_timeout`.
pub async fn tunnel<T: Transport, Z: Timer>(
    io: &mut T,
    timer: &mut Z,
    url: &str,
    proxy: &str,
    options: &Options,
) -> Result<Vec<u8>, Error> {
    let proxy_url = parse(proxy)?;
    let kind = ProxyKind::of_url(proxy, &proxy_url)?;
    let deadline = options.handshake_timeout.map(|t| timer.now() + t);
    if kind == ProxyKind::Socks5 {
        let socks = crate::Socks5::for_urls(url, &proxy_url)?;
        return socks.run(io, timer, deadline).await;
    }
    let connect = ProxyConnect::new(&parse(url)?, &proxy_url)
        .map_err(|e| UrlError::new(proxy, UrlErrorKind::Handshake(e.to_string())))?;
    let mut request = Vec::new();
    connect.write_request(&mut request);
    let mut exchange = Exchange {
        request,
        written: 0,
        flushed: false,
        response: Vec::new(),
    };
    poll_fn(|cx| {
        if timer.poll_deadline(cx, deadline).is_ready() {
            return Poll::Ready(Err(Error::HandshakeTimeout));
        }
        exchange.poll(cx, io, &connect, options)
    })
    .await
}

fn parse(url: &str) -> Result<url::Url, Error> {
    url::Url::parse(url).map_err(|e| UrlError::new(url, UrlErrorKind::Parse(e)).into())
}

/// The progress of one `CONNECT` exchange.
struct Exchange {
    request: Vec<u8>,
    written: usize,
    flushed: bool,
    response: Vec<u8>,
}

impl Exchange {
    fn poll<T: Transport>(
        &mut self,
        cx: &mut Context<'_>,
        io: &mut T,
        connect: &ProxyConnect,
        options: &Options,
    ) -> Poll<Result<Vec<u8>, Error>> {
        while self.written < self.request.len() {
            let n = ready!(io.poll_write(cx, &self.request[self.written..]))?;
            if n == 0 {
                return Poll::Ready(Err(Error::Io(io::ErrorKind::WriteZero.into())));
            }
            self.written += n;
        }
        if !self.flushed {
            ready!(io.poll_flush(cx))?;
            self.flushed = true;
        }
        let mut chunk = [0; 1024];
        loop {
            let n = ready!(io.poll_read(cx, &mut chunk))?;
            if n == 0 {
                return Poll::Ready(Err(Error::Io(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the proxy closed the connection before answering CONNECT",
                ))));
            }
            self.response.extend_from_slice(&chunk[..n]);
            match connect.read_response(&self.response, &options.limits) {
                Ok(Status::Partial) => {}
                Ok(Status::Complete((_, consumed))) => {
                    return Poll::Ready(Ok(self.response.split_off(consumed)));
                }
                Err(wsd_handshake::Error::ProxyRefused(response)) => {
                    return Poll::Ready(Err(Error::ProxyRefused(response)));
                }
                Err(e) => {
                    return Poll::Ready(Err(Error::Protocol(wsd_core::Error::Handshake(e))));
                }
            }
        }
    }
}

/// [`tunnel`] then [`client_with_input`](crate::client_with_input) on the same
/// transport: a `ws://` WebSocket through an HTTP, HTTPS or SOCKS5 proxy. `io` is
/// connected to the proxy (inside TLS for `https://`). For `wss://`, TLS has to
/// start inside the tunnel: call [`tunnel`], wrap the transport in TLS, then
/// [`client`](crate::client).
pub async fn client_via_proxy<T: Transport, Z: Timer>(
    url: &str,
    proxy: &str,
    mut io: T,
    mut timer: Z,
    config: impl Into<ClientConfig>,
) -> Result<WebSocket<T, Z>, Error> {
    let config = config.into();
    let (_, _, tls) = handshake::parse_target(url)?;
    if tls {
        return Err(TlsError::NotAvailable {
            hint: "wss:// through a proxy needs TLS inside the tunnel: \
                   tunnel, then TLS over the transport, then client",
        }
        .into());
    }
    let input = tunnel(&mut io, &mut timer, url, proxy, &config.options).await?;
    handshake::client_with_input(url, io, timer, config, &input).await
}

/// The proxy settings of the environment, as curl and most HTTP clients read them:
/// `http_proxy` for `ws://`, `https_proxy` for `wss://`, `all_proxy` for both when
/// those are unset, and `no_proxy` for the hosts to reach directly (each name also
/// in upper case; the lower-case one wins). Empty values count as unset.
///
/// The adapters use it only when asked (`connect_with_env_proxy`), never behind the
/// caller's back; the `wsd` command does by default. A server must not: in a CGI
/// program `HTTP_PROXY` is set from the request's `Proxy` header ("httpoxy").
///
/// `no_proxy` is a comma-separated list of host names (matching the host and its
/// subdomains; a leading `.` or `*.` is ignored), IP addresses, either with
/// `:port` to match only that port, or `*` for every host.
///
/// ```
/// use wsd_io::ProxyEnv;
/// let env = ProxyEnv {
///     http: Some("http://proxy:3128".into()),
///     https: Some("socks5://proxy:1080".into()),
///     no_proxy: Some("localhost, .internal.example, 10.0.0.1:8080".into()),
///     ..ProxyEnv::default()
/// };
/// assert_eq!(env.proxy_for("ws://example.com/"), Some("http://proxy:3128"));
/// assert_eq!(env.proxy_for("wss://example.com/"), Some("socks5://proxy:1080"));
/// assert_eq!(env.proxy_for("ws://api.internal.example/"), None);
/// assert_eq!(env.proxy_for("ws://10.0.0.1:8080/"), None);
/// assert_eq!(env.proxy_for("ws://10.0.0.1:9090/"), Some("http://proxy:3128"));
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyEnv {
    /// `http_proxy`: the proxy for `ws://` URLs.
    pub http: Option<String>,
    /// `https_proxy`: the proxy for `wss://` URLs.
    pub https: Option<String>,
    /// `all_proxy`: the proxy for either, when the specific one is unset.
    pub all: Option<String>,
    /// `no_proxy`: the hosts to reach directly.
    pub no_proxy: Option<String>,
}

impl ProxyEnv {
    /// Reads `http_proxy`, `https_proxy`, `all_proxy` and `no_proxy` (or their
    /// upper-case names) from the process environment.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the four settings through `lookup` (for tests, or another source than
    /// the process environment).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| {
            [name.to_owned(), name.to_ascii_uppercase()]
                .iter()
                .filter_map(|name| lookup(name))
                .find(|value| !value.trim().is_empty())
        };
        Self {
            http: get("http_proxy"),
            https: get("https_proxy"),
            all: get("all_proxy"),
            no_proxy: get("no_proxy"),
        }
    }

    /// The proxy for the WebSocket URL `url`, or `None` to connect directly (no
    /// proxy set for its scheme, the host is in `no_proxy`, or the URL does not
    /// parse, which the connection itself then reports).
    pub fn proxy_for(&self, url: &str) -> Option<&str> {
        let parsed = url::Url::parse(url).ok()?;
        let specific = match parsed.scheme() {
            "ws" => &self.http,
            "wss" => &self.https,
            _ => return None,
        };
        let proxy = specific.as_deref().or(self.all.as_deref())?;
        let host = host_of(&parsed)?;
        let port = parsed.port_or_known_default();
        let bypass = self
            .no_proxy
            .as_deref()
            .is_some_and(|list| no_proxy_matches(list, &host, port));
        (!bypass).then_some(proxy)
    }
}

/// Whether `host` (without brackets) at `port` is in the `no_proxy` `list`.
fn no_proxy_matches(list: &str, host: &str, port: Option<u16>) -> bool {
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    list.split(',').map(str::trim).any(|entry| {
        if entry == "*" {
            return true;
        }
        let (name, entry_port) = split_port(entry);
        if entry_port.is_some() && entry_port != port {
            return false;
        }
        let name = name
            .trim_start_matches("*.")
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        !name.is_empty()
            && (host == name
                || host
                    .strip_suffix(&name)
                    .is_some_and(|rest| rest.ends_with('.')))
    })
}

/// Splits `host:port`, `[v6]:port`, `[v6]` or a bare IPv6 address.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, after) = rest.split_once(']').unwrap_or((rest, ""));
        return (host, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    match entry.rsplit_once(':') {
        // One colon: a port; more: a bare IPv6 address.
        Some((host, port)) if !host.contains(':') => (host, port.parse().ok()),
        _ => (entry, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_proxy_matches_names_subdomains_addresses_and_ports() {
        let list = "localhost, .corp.example,*.lan, 127.0.0.1, [::1]:9000, fd00::1, other:81";
        let matches = |target: &str| {
            let url = url::Url::parse(&format!("ws://{target}/")).unwrap();
            let host = host_of(&url).unwrap();
            no_proxy_matches(list, &host, url.port_or_known_default())
        };
        let direct = [
            "localhost",
            "LOCALHOST.",
            "corp.example",
            "a.b.corp.example:443",
            "printer.lan",
            "127.0.0.1:8080",
            "[::1]:9000",
            "[fd00::1]",
            "other:81",
        ];
        let proxied = ["notcorp.example", "127.0.0.2:8080", "[::1]:9001", "other"];
        for target in direct {
            assert!(matches(target), "{target} is reached directly");
        }
        for target in proxied {
            assert!(!matches(target), "{target} goes through the proxy");
        }
        assert!(no_proxy_matches("*", "anything", None));
        assert!(!no_proxy_matches("", "anything", None));
    }

    proptest::proptest! {
        #[test]
        fn any_no_proxy_list_and_host_are_matched_without_panicking(
            list in "[a-z0-9.,:*\\[\\] ]{0,40}",
            host in "[a-z0-9.:]{0,20}",
            port in proptest::option::of(proptest::num::u16::ANY),
        ) {
            let _ = no_proxy_matches(&list, &host, port);
        }
    }

    #[test]
    fn the_environment_is_read_lower_case_first_and_empty_values_are_unset() {
        let env = ProxyEnv::from_lookup(|name| match name {
            "http_proxy" => Some("http://lower:1".into()),
            "HTTP_PROXY" => Some("http://upper:1".into()),
            "https_proxy" => Some("  ".into()),
            "ALL_PROXY" => Some("socks5://all:1080".into()),
            _ => None,
        });
        assert_eq!(env.http.as_deref(), Some("http://lower:1"));
        assert_eq!(env.https, None);
        assert_eq!(env.proxy_for("wss://x/"), Some("socks5://all:1080"));
        assert_eq!(env.proxy_for("ws://x/"), Some("http://lower:1"));
        assert_eq!(env.proxy_for("http://x/"), None);
    }
}
