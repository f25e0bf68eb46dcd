//! `connect_via_proxy` against real proxies started on loopback by the tests
//! (installed by `.ci/run`): Debian's `tinyproxy` (HTTP `CONNECT`, with a generated
//! configuration) and `microsocks` (SOCKS5, with and without credentials).

use wsd_tokio::{CloseCode, Error, Message, Options, SocksError};

mod common;
use common::{Proxy, Socks, echo_server};

async fn round_trip(url: &str, proxy: &str) {
    let mut ws = wsd_tokio::connect_via_proxy(url, proxy, Options::default())
        .await
        .expect("the tunnel and the handshake succeed");
    assert_eq!(ws.response_status(), Some(101));
    ws.send(Message::text("through the proxy")).await.unwrap();
    ws.send(Message::binary(vec![0u8, 1, 2, 255]))
        .await
        .unwrap();
    let first = ws.next_message().await.unwrap().unwrap();
    assert_eq!(first.as_text(), Some("through the proxy"));
    let second = ws.next_message().await.unwrap().unwrap();
    assert_eq!(second, Message::binary(vec![0u8, 1, 2, 255]));
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
}

fn refusal(
    result: Result<wsd_tokio::WebSocket<wsd_tokio::MaybeTlsStream>, Error>,
) -> Box<wsd_core::Response> {
    match result {
        Err(Error::ProxyRefused(answer)) => answer,
        Err(other) => panic!("a proxy refusal expected, got {other}"),
        Ok(_) => panic!("a proxy refusal expected, got a WebSocket"),
    }
}

#[tokio::test]
async fn echo_round_trip_through_an_open_proxy() {
    let (url, port) = echo_server().await;
    let proxy = Proxy::start(port, false).await;
    round_trip(&url, &proxy.url("")).await;
}

#[tokio::test]
async fn an_authenticating_proxy_answers_407_without_credentials_and_tunnels_with_them() {
    let (url, port) = echo_server().await;
    let proxy = Proxy::start(port, true).await;

    let answer =
        refusal(wsd_tokio::connect_via_proxy(&url, &proxy.url(""), Options::default()).await);
    assert_eq!(answer.status, 407);
    let challenge = answer
        .headers
        .get("proxy-authenticate")
        .expect("a challenge");
    assert!(challenge.starts_with("Basic"), "{challenge}");
    let error = Error::ProxyRefused(answer).to_string();
    assert!(error.contains("407"), "{error}");

    let answer = refusal(
        wsd_tokio::connect_via_proxy(&url, &proxy.url("user:wrong@"), Options::default()).await,
    );
    // tinyproxy 1.11 answers wrong credentials with 401 rather than 407.
    assert!(matches!(answer.status, 401 | 407), "{answer:?}");

    round_trip(&url, &proxy.url("user:pass@")).await;
}

#[tokio::test]
async fn a_destination_the_proxy_does_not_allow_is_refused_with_its_status() {
    let (_, allowed) = echo_server().await;
    let (refused_url, _) = echo_server().await;
    let proxy = Proxy::start(allowed, false).await;
    let answer = refusal(
        wsd_tokio::connect_via_proxy(&refused_url, &proxy.url(""), Options::default()).await,
    );
    assert_eq!(answer.status, 403, "{answer:?}");
}

#[tokio::test]
async fn client_via_proxy_runs_on_a_stream_the_caller_opened() {
    let (url, port) = echo_server().await;
    let proxy = Proxy::start(port, true).await;
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port))
        .await
        .unwrap();
    let mut ws =
        wsd_tokio::client_via_proxy(&url, &proxy.url("user:pass@"), stream, Options::default())
            .await
            .unwrap();
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap().as_text(),
        Some("hi")
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();
}

#[tokio::test]
async fn a_bad_proxy_url_is_refused_before_connecting() {
    let error =
        wsd_tokio::connect_via_proxy("ws://127.0.0.1:1/", "ftp://127.0.0.1:1", Options::default())
            .await
            .err()
            .unwrap();
    assert!(matches!(error, Error::Url(_)), "{error}");
}

#[tokio::test]
async fn echo_round_trip_through_an_open_socks5_proxy_by_name_and_by_address() {
    let (url, _) = echo_server().await;
    let socks = Socks::start(false).await;
    round_trip(&url, &socks.url("socks5", "")).await;
    let by_name = url.replace("127.0.0.1", "localhost");
    round_trip(&by_name, &socks.url("socks5h", "")).await;
}

fn socks_error(
    result: Result<wsd_tokio::WebSocket<wsd_tokio::MaybeTlsStream>, Error>,
) -> SocksError {
    match result {
        Err(Error::Socks(error)) => error,
        Err(other) => panic!("a SOCKS5 refusal expected, got {other}"),
        Ok(_) => panic!("a SOCKS5 refusal expected, got a WebSocket"),
    }
}

#[tokio::test]
async fn a_socks5_proxy_with_credentials_refuses_none_and_wrong_ones_and_tunnels_with_them() {
    let (url, _) = echo_server().await;
    let socks = Socks::start(true).await;
    let connect = |proxy: String| {
        let url = url.clone();
        async move { wsd_tokio::connect_via_proxy(&url, &proxy, Options::default()).await }
    };
    assert_eq!(
        socks_error(connect(socks.url("socks5", "")).await),
        SocksError::NoAcceptableMethod
    );
    assert_eq!(
        socks_error(connect(socks.url("socks5", "user:wrong@")).await),
        SocksError::AuthenticationFailed
    );
    round_trip(&url, &socks.url("socks5", "user:pass@")).await;
}

#[tokio::test]
async fn a_socks5_proxy_that_cannot_reach_the_target_says_so() {
    let socks = Socks::start(false).await;
    // Bound then dropped: nothing listens there.
    let closed = common::free_port();
    let error = socks_error(
        wsd_tokio::connect_via_proxy(
            &format!("ws://127.0.0.1:{closed}/"),
            &socks.url("socks5", ""),
            Options::default(),
        )
        .await,
    );
    assert!(matches!(error, SocksError::Refused(_)), "{error}");
}
