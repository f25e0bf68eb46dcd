//! TLS for the `wsd` command: `connect wss://` and `https://` proxies on every
//! runtime, and the rustls configurations `serve --tls-cert` and `connect --http2`
//! use.
//!
//! The client verifies the server's certificate against the webpki roots (Mozilla's
//! list, compiled in) rather than the system store: the command then behaves the
//! same on every machine and container, needs no CA bundle installed, and matches
//! `wsd-tokio`'s `rustls` feature. `--ca FILE` replaces those roots with a private
//! CA (as curl's `--cacert` does) and `--insecure` turns verification off, for
//! tests only. Both apply to an `https://` proxy too: unlike curl, which has
//! `--proxy-cacert`, the command has one trust setting for every TLS session it
//! opens, since it reaches one server, and a PEM file can hold a proxy's CA and a
//! server's.
//!
//! One code path serves the three runtimes: [`TlsNet`] gives each runtime's raw TCP
//! stream and its rustls wrapper (tokio-rustls on tokio, futures-rustls on smol and
//! async-std, each over a TLS stream too for TLS inside an `https://` proxy's
//! tunnel), and [`MaybeTls`] lets every such connection share one WebSocket type,
//! so the sessions need not know which they run over.

use std::io::{self, IoSlice};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use clap::Args;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use wsd_io::Transport;

use crate::runtime::Net;

/// The ALPN name of HTTP/2.
pub(crate) const ALPN_H2: &[u8] = b"h2";
/// The ALPN name of HTTP/1.1.
pub(crate) const ALPN_HTTP1: &[u8] = b"http/1.1";

/// How `wsd connect` reaches the server beyond TCP: TLS trust and HTTP/2.
#[derive(Debug, Clone, Default, Args)]
pub(crate) struct ClientTlsArgs {
    /// Trust the CA certificates in this PEM file for wss:// and https:// proxies,
    /// instead of the built-in webpki roots (for a private CA or a self-signed
    /// server or proxy).
    #[arg(long, value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
    /// Accept any certificate for wss:// and https:// proxies without checking it.
    /// For tests only: anyone on the path can then read and change the traffic.
    #[arg(long, conflicts_with = "ca")]
    pub(crate) insecure: bool,
    /// Open the WebSocket as a stream of an HTTP/2 connection (RFC 8441): TLS with
    /// ALPN h2 for wss://, cleartext HTTP/2 with prior knowledge (h2c) for ws://.
    /// tokio only.
    #[arg(long)]
    pub(crate) http2: bool,
}

/// rustls with the ring provider, named explicitly: `ClientConfig::builder()`
/// would panic if another crate in the build enabled a second provider.
fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client configuration `args` asks for, offering `alpn` (empty: no ALPN).
pub(crate) fn client_config(
    args: &ClientTlsArgs,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ClientConfig>, String> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("cannot set up TLS: {error}"))?;
    let mut config = if args.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = rustls::RootCertStore::empty();
        match &args.ca {
            Some(path) => {
                for cert in read_certificates(path)? {
                    roots.add(cert).map_err(|error| {
                        format!("{}: not a usable CA certificate: {error}", path.display())
                    })?;
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = alpn.iter().map(|name| name.to_vec()).collect();
    Ok(Arc::new(config))
}

/// The server configuration for `serve --tls-cert CERT --tls-key KEY`, offering
/// `alpn` in order of preference.
pub(crate) fn server_config(
    cert: &Path,
    key: &Path,
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, String> {
    let chain = read_certificates(cert)?;
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|error| format!("{}: no private key read: {error}", key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|error| format!("cannot set up TLS: {error}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|error| format!("{} and its key cannot be used: {error}", cert.display()))?;
    config.alpn_protocols = alpn.iter().map(|name| name.to_vec()).collect();
    Ok(Arc::new(config))
}

/// Every certificate in the PEM file at `path`; none is an error.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|error| format!("{}: cannot read certificates: {error}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no PEM certificate in it", path.display()));
    }
    Ok(certs)
}

/// A certificate verifier that accepts every server certificate: `--insecure`,
/// for tests against self-signed servers. It still checks that the server holds
/// the key of the certificate it sent (the handshake signatures), so it skips only
/// the question of whom that certificate belongs to, which is the whole protection
/// against interception: never use it outside tests.
#[derive(Debug)]
struct AcceptAnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Whether `url` asks for TLS.
pub(crate) fn is_wss(url: &str) -> bool {
    url.get(..6)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("wss://"))
}

/// The TLS server name for a `wss://` URL's host (a DNS name or an IP address).
pub(crate) fn server_name(url: &str) -> Result<ServerName<'static>, String> {
    let (host, _, _) = wsd_io::parse_target(url).map_err(|error| crate::runtime::chain(&error))?;
    host_name(url, &host)
}

/// The TLS server name for an `https://` proxy URL's host.
pub(crate) fn proxy_name(proxy: &str) -> Result<ServerName<'static>, String> {
    let (host, _) = wsd_io::proxy_target(proxy).map_err(|error| crate::runtime::chain(&error))?;
    host_name(proxy, &host)
}

/// `host` (of `url`) as a TLS server name.
fn host_name(url: &str, host: &str) -> Result<ServerName<'static>, String> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned())
        .map_err(|_| format!("{url}: {host} is not a valid TLS server name"))
}

/// Whose certificate a TLS handshake checked.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Peer {
    /// The WebSocket server's (`wss://`).
    Server,
    /// An `https://` proxy's.
    Proxy,
}

/// Explains a failed TLS handshake with the server `authority`.
pub(crate) fn handshake_error(authority: &str, error: &io::Error) -> String {
    peer_handshake_error(authority, Peer::Server, error)
}

/// Explains a failed TLS handshake with `authority`, the server or a proxy; an
/// untrusted certificate gets the options that change the trust, since that is the
/// usual cause against test servers and proxies.
pub(crate) fn peer_handshake_error(authority: &str, peer: Peer, error: &io::Error) -> String {
    let (with, whose) = match peer {
        Peer::Server => ("", "the server's"),
        Peer::Proxy => ("the proxy ", "the proxy's"),
    };
    let mut text = format!("TLS handshake with {with}{authority} failed: {error}");
    let certificate = error
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        .is_some_and(|inner| {
            matches!(
                inner,
                rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented
            )
        });
    if certificate {
        text.push_str(&format!(
            " ({whose} certificate is not trusted: pass --ca FILE to trust its CA, \
             or --insecure in tests)"
        ));
    }
    text
}

/// A runtime's raw TCP stream and its rustls client wrapper, for `wss://`.
pub(crate) trait TlsNet: Net {
    /// A connected TCP stream, before any wrapping.
    type Tcp: Unpin + Send + 'static;
    /// TLS over [`Self::Tcp`] as a `wsd_io` transport.
    type TlsTransport: Transport + Send + 'static;
    /// TLS inside [`Self::TlsTransport`]: `wss://` through an `https://` proxy.
    type TlsInTls: Transport + Send + 'static;
    /// A borrowed stream as a transport, for the proxy's CONNECT exchange.
    type Borrowed<'a>: Transport;

    /// TCP to `authority` with `TCP_NODELAY`.
    async fn tcp(authority: &str) -> io::Result<Self::Tcp>;
    /// `tcp` as a transport for the proxy exchange.
    fn borrow(tcp: &mut Self::Tcp) -> Self::Borrowed<'_>;
    /// The TLS client handshake over `tcp`.
    async fn tls(
        tcp: Self::Tcp,
        name: ServerName<'static>,
        config: Arc<rustls::ClientConfig>,
    ) -> io::Result<Self::TlsTransport>;
    /// The TLS client handshake inside `outer` (TLS to a proxy, tunnelled).
    async fn tls_in_tls(
        outer: Self::TlsTransport,
        name: ServerName<'static>,
        config: Arc<rustls::ClientConfig>,
    ) -> io::Result<Self::TlsInTls>;
}

impl TlsNet for crate::runtime::tokio::Tokio {
    type Tcp = tokio::net::TcpStream;
    type TlsTransport = wsd_tokio::TokioIo<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;
    type TlsInTls = wsd_tokio::TokioIo<
        tokio_rustls::client::TlsStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>,
    >;
    type Borrowed<'a> = wsd_tokio::TokioIo<&'a mut tokio::net::TcpStream>;

    async fn tcp(authority: &str) -> io::Result<Self::Tcp> {
        let stream = tokio::net::TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    fn borrow(tcp: &mut Self::Tcp) -> Self::Borrowed<'_> {
        wsd_tokio::TokioIo(tcp)
    }

    async fn tls(
        tcp: Self::Tcp,
        name: ServerName<'static>,
        config: Arc<rustls::ClientConfig>,
    ) -> io::Result<Self::TlsTransport> {
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        Ok(wsd_tokio::TokioIo(stream))
    }

    async fn tls_in_tls(
        outer: Self::TlsTransport,
        name: ServerName<'static>,
        config: Arc<rustls::ClientConfig>,
    ) -> io::Result<Self::TlsInTls> {
        let stream = tokio_rustls::TlsConnector::from(config)
            .connect(name, outer.0)
            .await?;
        Ok(wsd_tokio::TokioIo(stream))
    }
}

/// smol and async-std share futures-io and the same TCP transport (async-io's
/// socket read by readiness, `wsd_io::AsyncIoTcp`), so one implementation body
/// serves both.
macro_rules! futures_tls_net {
    ($runtime:ty) => {
        impl TlsNet for $runtime {
            type Tcp = wsd_io::AsyncIoTcp;
            type TlsTransport = wsd_io::FuturesIo<futures_rustls::client::TlsStream<Self::Tcp>>;
            type TlsInTls = wsd_io::FuturesIo<
                futures_rustls::client::TlsStream<futures_rustls::client::TlsStream<Self::Tcp>>,
            >;
            type Borrowed<'a> = wsd_io::FuturesIo<&'a mut Self::Tcp>;

            async fn tcp(authority: &str) -> io::Result<Self::Tcp> {
                <Self as Net>::connect(authority).await
            }

            fn borrow(tcp: &mut Self::Tcp) -> Self::Borrowed<'_> {
                wsd_io::FuturesIo(tcp)
            }

            async fn tls(
                tcp: Self::Tcp,
                name: ServerName<'static>,
                config: Arc<rustls::ClientConfig>,
            ) -> io::Result<Self::TlsTransport> {
                let stream = futures_rustls::TlsConnector::from(config)
                    .connect(name, tcp)
                    .await?;
                Ok(wsd_io::FuturesIo(stream))
            }

            async fn tls_in_tls(
                outer: Self::TlsTransport,
                name: ServerName<'static>,
                config: Arc<rustls::ClientConfig>,
            ) -> io::Result<Self::TlsInTls> {
                let stream = futures_rustls::TlsConnector::from(config)
                    .connect(name, outer.0)
                    .await?;
                Ok(wsd_io::FuturesIo(stream))
            }
        }
    };
}

futures_tls_net!(crate::runtime::smol::Smol);
futures_tls_net!(crate::runtime::async_std::AsyncStd);

/// A client's transport: the runtime's plain one for `ws://`, TLS for `wss://` (or
/// for `ws://` through an `https://` proxy: the proxy's TLS), TLS inside TLS for
/// `wss://` through an `https://` proxy.
pub(crate) enum MaybeTls<P, S, I> {
    /// `ws://`.
    Plain(P),
    /// `wss://`, or `ws://` through an `https://` proxy.
    Tls(S),
    /// `wss://` through an `https://` proxy.
    TlsInTls(I),
}

/// The client transport of the runtime `R`.
pub(crate) type ClientTransport<R> =
    MaybeTls<<R as Net>::Transport, <R as TlsNet>::TlsTransport, <R as TlsNet>::TlsInTls>;

macro_rules! either {
    ($self:ident, $io:ident => $e:expr) => {
        match $self {
            MaybeTls::Plain($io) => $e,
            MaybeTls::Tls($io) => $e,
            MaybeTls::TlsInTls($io) => $e,
        }
    };
}

impl<P: Transport, S: Transport, I: Transport> Transport for MaybeTls<P, S, I> {
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        either!(self, io => io.poll_read(cx, buf))
    }

    fn poll_read_buf(
        &mut self,
        cx: &mut Context<'_>,
        buf: &mut BytesMut,
        max: usize,
    ) -> Poll<io::Result<usize>> {
        either!(self, io => io.poll_read_buf(cx, buf, max))
    }

    fn read_zero_fills(&self) -> bool {
        either!(self, io => io.read_zero_fills())
    }

    fn poll_write(&mut self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        either!(self, io => io.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        either!(self, io => io.poll_write_vectored(cx, bufs))
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, io => io.poll_flush(cx))
    }

    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        either!(self, io => io.poll_shutdown(cx))
    }
}
