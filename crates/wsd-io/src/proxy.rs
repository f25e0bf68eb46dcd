//! The HTTP `CONNECT` step before a client handshake, over any [`Transport`]: [`proxy_connect`], [`proxy_target`] and [`client_via_proxy`].

use core::future::poll_fn;
use core::task::{Context, Poll, ready};
use std::io;

use wsd_handshake::{ProxyConnect, Status};

use crate::error::{TlsError, UrlError, UrlErrorKind};
use crate::handshake::{self, host_of};
use crate::{ClientConfig, Error, Timer, Transport, WebSocket};
use wsd_core::Options;

/// Where to open the TCP connection for a proxy URL such as
/// `http://user:pass@proxy.example:3128`: `(host, port)`, the host without IPv6
/// brackets, the port defaulting to 80. Only `http://` proxies are supported (the
/// `CONNECT` request travels in clear; the tunnel may still carry `wss://`).
///
/// ```
/// # use wsd_io::proxy_target;
/// assert_eq!(proxy_target("http://u:p@127.0.0.1:8888").unwrap(), ("127.0.0.1".into(), 8888));
/// assert_eq!(proxy_target("http://proxy.example").unwrap(), ("proxy.example".into(), 80));
/// assert!(proxy_target("socks5://proxy.example").is_err());
/// ```
pub fn proxy_target(proxy: &str) -> Result<(String, u16), Error> {
    let parsed = parse(proxy)?;
    if parsed.scheme() != "http" {
        let kind = UrlErrorKind::ProxyScheme(parsed.scheme().to_owned());
        return Err(UrlError::new(proxy, kind).into());
    }
    let host = host_of(&parsed).ok_or_else(|| UrlError::new(proxy, UrlErrorKind::NoHost))?;
    Ok((host, parsed.port().unwrap_or(80)))
}

fn parse(url: &str) -> Result<url::Url, Error> {
    url::Url::parse(url).map_err(|e| UrlError::new(url, UrlErrorKind::Parse(e)).into())
}

/// Opens a tunnel to `url` (a `ws://` or `wss://` URL) through the HTTP proxy
/// `proxy` on `io`, a transport connected to the proxy: writes the `CONNECT` request
/// (with `Proxy-Authorization: Basic` from the proxy URL's userinfo) and reads the
/// answer.
///
/// On any 2xx it returns the bytes that followed the answer's head: they already
/// belong to the tunnel, so the caller hands them to the WebSocket client (see
/// [`client_with_input`](crate::client_with_input)); they are almost always empty,
/// since the target speaks only after the client. Any other status fails with
/// [`Error::ProxyRefused`], carrying the proxy's status and headers (a 407 asks for
/// credentials). The exchange is bounded by `options.limits` (the head size) and
/// `options.handshake_timeout`.
pub async fn proxy_connect<T: Transport, Z: Timer>(
    io: &mut T,
    timer: &mut Z,
    url: &str,
    proxy: &str,
    options: &Options,
) -> Result<Vec<u8>, Error> {
    let target = parse(url)?;
    let proxy_url = parse(proxy)?;
    let connect = ProxyConnect::new(&target, &proxy_url)
        .map_err(|e| UrlError::new(proxy, UrlErrorKind::Handshake(e.to_string())))?;
    let mut request = Vec::new();
    connect.write_request(&mut request);
    let deadline = options.handshake_timeout.map(|t| timer.now() + t);
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

/// [`proxy_connect`] then [`client_with_input`](crate::client_with_input) on the
/// same transport: a `ws://` WebSocket through an HTTP proxy. `io` is connected to
/// the proxy. For `wss://`, TLS has to start inside the tunnel: call
/// [`proxy_connect`], wrap the transport in TLS, then [`client`](crate::client).
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
                   proxy_connect, then TLS over the transport, then client",
        }
        .into());
    }
    let input = proxy_connect(&mut io, &mut timer, url, proxy, &config.options).await?;
    handshake::client_with_input(url, io, timer, config, &input).await
}
