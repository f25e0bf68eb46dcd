//! `wss://` end to end: a tokio-rustls server with a self-signed certificate in
//! front of `wsd_tokio::accept`, and `connect_with_tls` trusting that certificate.
#![cfg(feature = "rustls")]

use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use wsd_tokio::{CloseCode, CloseFrame, Error, Message, Options};

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A TLS echo server for `localhost`; returns its port, its certificate, and a task
/// yielding the close frame it received.
async fn tls_echo_server() -> (
    u16,
    CertificateDer<'static>,
    tokio::task::JoinHandle<Option<CloseFrame>>,
) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert = certified.cert.der().clone();
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        loop {
            let (tcp, _) = listener.accept().await.unwrap();
            // A client that refuses the certificate ends the TLS handshake: next.
            let Ok(tls) = acceptor.accept(tcp).await else {
                continue;
            };
            let mut ws = wsd_tokio::accept(tls).await.unwrap();
            while let Some(item) = ws.next_message().await {
                match item.unwrap() {
                    Message::Close(frame) => {
                        assert!(ws.next_message().await.is_none());
                        return frame;
                    }
                    message => ws.send(message).await.unwrap(),
                }
            }
            panic!("the stream ended without a close");
        }
    });
    (port, cert, server)
}

#[tokio::test]
async fn wss_echo_round_trip_and_clean_close_with_an_injected_tls_config() {
    let (port, cert, server) = tls_echo_server().await;
    let url = format!("wss://localhost:{port}/secure");

    // The default configuration trusts the webpki roots only: refused.
    let error = wsd_tokio::connect(&url).await.expect_err("untrusted");
    // A typed TLS error, with rustls' reason as its source.
    assert!(matches!(error, Error::Tls(_)), "{error}");
    let cause = std::error::Error::source(&error).expect("the TLS failure's cause");
    assert!(cause.to_string().contains("certificate"), "{cause}");

    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut ws = wsd_tokio::connect_with_tls(&url, None, Options::default(), Arc::new(config))
        .await
        .unwrap();
    assert!(matches!(
        ws.get_ref().0,
        wsd_tokio::MaybeTlsStream::Rustls(_)
    ));
    ws.send(Message::text("secret")).await.unwrap();
    ws.send(Message::binary(vec![7u8; 70_000])).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap().as_text(),
        Some("secret")
    );
    assert_eq!(
        ws.next_message().await.unwrap().unwrap(),
        Message::binary(vec![7u8; 70_000])
    );
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    assert!(matches!(
        ws.next_message().await,
        Some(Ok(Message::Close(_)))
    ));
    assert!(ws.next_message().await.is_none());

    let frame = server.await.unwrap().expect("a close code");
    assert_eq!(
        (frame.code, frame.reason.as_str()),
        (CloseCode::NORMAL, "bye")
    );
}

#[tokio::test]
async fn a_server_that_accepts_and_never_speaks_tls_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let held = tokio::spawn(async move { listener.accept().await });
    let mut options = Options::default();
    options.handshake_timeout = Some(std::time::Duration::from_millis(200));
    let started = std::time::Instant::now();
    let error = wsd_tokio::connect_with(&format!("wss://localhost:{port}/"), options)
        .await
        .expect_err("no TLS answer");
    assert!(matches!(error, Error::HandshakeTimeout), "{error}");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    drop(held);
}
