//! `https://` proxies: TLS to the proxy, then `CONNECT` inside it. The proxy is
//! tinyproxy behind a TLS terminator of the test's own (tokio-rustls with a
//! self-signed certificate for `localhost`); `wss://` targets are the wsd echo server
//! behind a second terminator, so `wss://` through the proxy is TLS inside TLS.
#![cfg(feature = "rustls")]

use std::sync::Arc;

use wsd_tokio::{CloseCode, Error, MaybeTlsStream, Message, Options};

mod common;
use common::{Proxy, certificate, echo_server, tls_terminator};

async fn echo_through(url: &str, proxy: &str, tls: Arc<rustls::ClientConfig>) -> MaybeTlsStream {
    let mut ws = wsd_tokio::connect_with_tls(url, Some(proxy), Options::default(), tls)
        .await
        .expect("the tunnel and the handshake succeed");
    ws.send(Message::text("through TLS to the proxy"))
        .await
        .unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap().as_text(),
        Some("through TLS to the proxy")
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    while ws.next_message().await.is_some() {}
    ws.into_inner().0
}

#[tokio::test]
async fn ws_and_wss_through_an_https_proxy() {
    let (cert, key, client) = certificate();
    let (ws_url, echo_port) = echo_server().await;
    let wss_port = tls_terminator(&cert, &key, echo_port).await;
    // tinyproxy allows CONNECT to one port: the wss:// terminator's. Plain ws:// goes
    // through a second tinyproxy.
    let for_wss = Proxy::start(wss_port, false).await;
    let for_ws = Proxy::start(echo_port, false).await;
    let https_for_wss = tls_terminator(&cert, &key, for_wss.port).await;
    let https_for_ws = tls_terminator(&cert, &key, for_ws.port).await;

    let stream = echo_through(
        &ws_url.replace("127.0.0.1", "localhost"),
        &format!("https://localhost:{https_for_ws}"),
        client.clone(),
    )
    .await;
    assert!(matches!(stream, MaybeTlsStream::Rustls(_)));

    let stream = echo_through(
        &format!("wss://localhost:{wss_port}/echo"),
        &format!("https://localhost:{https_for_wss}"),
        client,
    )
    .await;
    assert!(matches!(stream, MaybeTlsStream::RustlsInTls(_)));
}

#[tokio::test]
async fn an_https_proxy_checks_credentials_and_its_certificate() {
    let (cert, key, client) = certificate();
    let (url, echo_port) = echo_server().await;
    let proxy = Proxy::start(echo_port, true).await;
    let https = tls_terminator(&cert, &key, proxy.port).await;
    let proxy_url = |userinfo: &str| format!("https://{userinfo}localhost:{https}");

    let refused = wsd_tokio::connect_with_tls(
        &url,
        Some(&proxy_url("")),
        Options::default(),
        client.clone(),
    )
    .await
    .expect_err("no credentials");
    let Error::ProxyRefused(answer) = refused else {
        panic!("a refusal: {refused}");
    };
    assert_eq!(answer.status, 407);

    echo_through(&url, &proxy_url("user:pass@"), client).await;

    // The default configuration trusts the webpki roots, not this certificate.
    let untrusted =
        wsd_tokio::connect_via_proxy(&url, &proxy_url("user:pass@"), Options::default())
            .await
            .expect_err("an untrusted proxy");
    assert!(matches!(untrusted, Error::Tls(_)), "{untrusted}");
}
