//! `https://` proxies for the futures-io adapters, `wsd-smol` and `wsd-async-std`:
//! TLS to tinyproxy behind a TLS terminator, `CONNECT` inside it, then the
//! WebSocket in the tunnel (for `wss://`, TLS to a second terminator in front of an
//! echo server: TLS inside TLS). Both adapters share one implementation
//! (`wsd_io::futures_io::connect`); each is driven on its own runtime here, with
//! the proxies on a tokio runtime beside them.

use std::sync::Arc;

use rustls::pki_types::PrivateKeyDer;
use wsd_io::futures_io::{MaybeTlsStream, WebSocket};
use wsd_io::{CloseCode, Error, Message, Options};

#[path = "../../crates/wsd-tokio/tests/common/mod.rs"]
mod proxies;
use proxies::{Proxy, certificate, echo_server, tls_terminator};

#[derive(Debug, Clone, Copy)]
enum Adapter {
    Smol,
    AsyncStd,
}

const ADAPTERS: [Adapter; 2] = [Adapter::Smol, Adapter::AsyncStd];

impl Adapter {
    /// Runs `future` on this adapter's runtime.
    fn run<T>(self, future: impl Future<Output = T>) -> T {
        match self {
            Self::Smol => smol::block_on(future),
            Self::AsyncStd => async_std::task::block_on(future),
        }
    }

    /// Connects to `url` through `proxy` with `tls`, or with the adapter's default
    /// configuration (the webpki roots) when `None`.
    async fn connect(
        self,
        url: &str,
        proxy: &str,
        tls: Option<Arc<rustls::ClientConfig>>,
    ) -> Result<WebSocket<MaybeTlsStream>, Error> {
        let options = Options::default();
        match (self, tls) {
            (Self::Smol, Some(tls)) => {
                wsd_smol::connect_with_tls(url, Some(proxy), options, tls).await
            }
            (Self::Smol, None) => wsd_smol::connect_via_proxy(url, proxy, options).await,
            (Self::AsyncStd, Some(tls)) => {
                wsd_async_std::connect_with_tls(url, Some(proxy), options, tls).await
            }
            (Self::AsyncStd, None) => wsd_async_std::connect_via_proxy(url, proxy, options).await,
        }
    }
}

/// The proxies and servers of one test, on a tokio runtime of their own that keeps
/// serving while the adapters' runtimes block the test's thread.
struct Setup {
    runtime: tokio::runtime::Runtime,
    cert: rustls::pki_types::CertificateDer<'static>,
    key: PrivateKeyDer<'static>,
    client: Arc<rustls::ClientConfig>,
    echo_port: u16,
}

impl Setup {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (cert, key, client) = certificate();
        let (_, echo_port) = runtime.block_on(echo_server());
        Self {
            runtime,
            cert,
            key,
            client,
            echo_port,
        }
    }

    /// TLS for `localhost` in front of `port`; returns its port.
    fn tls_in_front_of(&self, port: u16) -> u16 {
        self.runtime
            .block_on(tls_terminator(&self.cert, &self.key, port))
    }

    /// tinyproxy allowing CONNECT to `port` (with `user:pass` when `auth`) behind
    /// TLS; returns it and the `https://` URL's port.
    fn https_proxy(&self, port: u16, auth: bool) -> (Proxy, u16) {
        let proxy = self.runtime.block_on(Proxy::start(port, auth));
        let https = self.tls_in_front_of(proxy.port);
        (proxy, https)
    }
}

/// Sends a message through `ws`, expects it back, closes; returns the stream.
async fn echo(mut ws: WebSocket<MaybeTlsStream>) -> MaybeTlsStream {
    ws.send(Message::text("through TLS to the proxy"))
        .await
        .unwrap();
    let echoed = ws.next_message().await.unwrap().unwrap();
    assert_eq!(echoed.as_text(), Some("through TLS to the proxy"));
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.next_message().await.is_some() {}
    ws.into_inner().0
}

#[test]
fn ws_and_wss_go_through_an_https_proxy_on_smol_and_async_std() {
    let setup = Setup::new();
    let wss_port = setup.tls_in_front_of(setup.echo_port);
    let (_for_ws, https_for_ws) = setup.https_proxy(setup.echo_port, false);
    let (_for_wss, https_for_wss) = setup.https_proxy(wss_port, false);
    let ws_url = format!("ws://localhost:{}/echo", setup.echo_port);
    let wss_url = format!("wss://localhost:{wss_port}/echo");
    for adapter in ADAPTERS {
        adapter.run(async {
            let proxy = format!("https://localhost:{https_for_ws}");
            let ws = adapter.connect(&ws_url, &proxy, Some(setup.client.clone()));
            let stream = echo(ws.await.expect("ws:// through the https proxy")).await;
            assert!(matches!(stream, MaybeTlsStream::Rustls(_)), "{adapter:?}");

            let proxy = format!("https://localhost:{https_for_wss}");
            let ws = adapter.connect(&wss_url, &proxy, Some(setup.client.clone()));
            let stream = echo(ws.await.expect("wss:// through the https proxy")).await;
            assert!(
                matches!(stream, MaybeTlsStream::RustlsInTls(_)),
                "{adapter:?}"
            );
        });
    }
}

#[test]
fn an_https_proxy_wants_its_credentials_and_a_trusted_certificate_on_smol_and_async_std() {
    let setup = Setup::new();
    let (_proxy, https) = setup.https_proxy(setup.echo_port, true);
    let url = format!("ws://localhost:{}/echo", setup.echo_port);
    let without = format!("https://localhost:{https}");
    let with = format!("https://user:pass@localhost:{https}");
    for adapter in ADAPTERS {
        adapter.run(async {
            let refused = adapter
                .connect(&url, &without, Some(setup.client.clone()))
                .await
                .expect_err("no credentials");
            let Error::ProxyRefused(answer) = &refused else {
                panic!("{adapter:?}: not a refusal: {refused}");
            };
            assert_eq!(answer.status, 407, "{adapter:?}");

            echo(
                adapter
                    .connect(&url, &with, Some(setup.client.clone()))
                    .await
                    .unwrap(),
            )
            .await;

            // The default configuration trusts the webpki roots, not this
            // certificate; the error says whose certificate it was.
            let untrusted = adapter
                .connect(&url, &with, None)
                .await
                .expect_err("an untrusted proxy");
            assert!(
                matches!(untrusted, Error::Tls(_)),
                "{adapter:?}: {untrusted}"
            );
            let cause = std::error::Error::source(&untrusted).map(ToString::to_string);
            assert_eq!(
                cause.as_deref(),
                Some(&*format!(
                    "the TLS handshake with the proxy localhost:{https} failed"
                )),
                "{adapter:?}"
            );
        });
    }
}
