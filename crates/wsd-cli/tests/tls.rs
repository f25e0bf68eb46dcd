//! End to end: TLS and HTTP/2 in the `wsd` binary. `wsd serve --tls-cert` with a
//! certificate rcgen makes for `localhost`, `wsd connect wss://` on every runtime
//! (refused without trust, accepted with `--ca` or `--insecure`), `--h2c` and
//! `--http2`, and `--log connections` showing which protocol and TCP connection
//! each WebSocket used.

use std::process::Stdio;
use std::sync::Arc;

mod support;

use support::{Certificate, RUNTIMES, Serve, executor, run_wsd, stderr_lines, websocket_lines};

/// The connection number in a `--log connections` line.
fn connection_of(line: &str) -> &str {
    line.split(" on connection ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no connection number in {line:?}"))
}

/// Runs `wsd connect` with `flags` against `url`, sending two lines; asserts the
/// echo came back.
fn assert_echo(url: &str, flags: &[&str]) {
    let mut args = vec!["connect", url];
    args.extend_from_slice(flags);
    let output = run_wsd(&args, "one\ntwo\n");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?}: {stderr}");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "one\ntwo\n",
        "{args:?}: {stderr}"
    );
}

#[test]
fn wss_is_refused_without_trust_and_accepted_with_ca_or_insecure_on_every_runtime() {
    let certificate = Certificate::new();
    let server = certificate.serve(&[], Stdio::null());
    let url = format!("wss://localhost:{}/", server.addr.port());
    for runtime in RUNTIMES {
        let output = run_wsd(&["connect", &url, "--runtime", runtime], "never sent\n");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success(),
            "{runtime}: trusted a self-signed server"
        );
        assert!(output.stdout.is_empty(), "{runtime}");
        assert!(
            stderr.contains("TLS handshake with localhost:")
                && stderr.contains("not trusted")
                && stderr.contains("--ca FILE"),
            "{runtime}: {stderr}"
        );

        assert_echo(&url, &["--runtime", runtime, "--ca", certificate.cert()]);
        assert_echo(&url, &["--runtime", runtime, "--insecure"]);
    }
}

#[test]
fn a_ca_file_that_is_not_pem_is_reported() {
    let certificate = Certificate::new();
    let server = certificate.serve(&[], Stdio::null());
    let url = format!("wss://localhost:{}/", server.addr.port());
    let bogus = certificate.dir.join("bogus.pem");
    std::fs::write(&bogus, "not a certificate\n").unwrap();
    let output = run_wsd(&["connect", &url, "--ca", bogus.to_str().unwrap()], "");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("bogus.pem: no PEM certificate"), "{stderr}");
}

#[test]
fn a_tls_server_speaks_http1_and_h2_on_one_port_and_logs_which() {
    let certificate = Certificate::new();
    let mut server = certificate.serve(&["--log", "connections"], Stdio::piped());
    let lines = stderr_lines(&mut server);
    let url = format!("wss://localhost:{}/", server.addr.port());

    assert_echo(&url, &["--ca", certificate.cert()]);
    let http1 = websocket_lines(&lines, 1);
    assert!(
        http1[0].contains("over http/1.1 on connection 1 from"),
        "{http1:?}"
    );

    assert_echo(&url, &["--ca", certificate.cert(), "--http2"]);
    let h2 = websocket_lines(&lines, 1);
    assert!(
        h2[0].contains("over h2 on connection 2 stream 1 from"),
        "{h2:?}"
    );
}

#[test]
fn the_hyper_stack_serves_http1_over_tls_beside_h2() {
    let certificate = Certificate::new();
    let mut server = certificate.serve(
        &["--stack", "hyper", "--log", "connections"],
        Stdio::piped(),
    );
    let lines = stderr_lines(&mut server);
    let url = format!("wss://localhost:{}/", server.addr.port());
    assert_echo(&url, &["--ca", certificate.cert()]);
    assert!(websocket_lines(&lines, 1)[0].contains(" over http/1.1 on connection 1 "));
    assert_echo(&url, &["--ca", certificate.cert(), "--http2"]);
    assert!(websocket_lines(&lines, 1)[0].contains(" over h2 on connection 2 "));
}

#[test]
fn h2c_serves_http2_with_prior_knowledge_beside_http1() {
    let mut server = Serve::start(&["--h2c", "--log", "connections"], Stdio::piped());
    let lines = stderr_lines(&mut server);
    let url = server.url();

    assert_echo(&url, &["--http2"]);
    assert!(websocket_lines(&lines, 1)[0].contains(" over h2 on connection 1 "));
    // The same port still takes HTTP/1.1 upgrades.
    assert_echo(&url, &[]);
    assert!(websocket_lines(&lines, 1)[0].contains(" over http/1.1 on connection 2 "));
}

#[test]
fn connect_http2_against_an_http1_only_server_says_so() {
    let plain = Serve::start(&[], Stdio::null());
    // A cleartext HTTP/1.1 server does not understand the HTTP/2 preface.
    let output = run_wsd(&["connect", &plain.url(), "--http2"], "");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("HTTP/2"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Two WebSockets opened by one wsd-h2 client ride one TLS connection: the log
/// names the same connection for both, on different streams.
#[test]
fn two_websockets_share_one_h2_connection() {
    let certificate = Certificate::new();
    let mut server = certificate.serve(&["--log", "connections"], Stdio::piped());
    let lines = stderr_lines(&mut server);
    let port = server.addr.port();

    executor().block_on(async {
        let mut roots = rustls::RootCertStore::empty();
        roots.add(certificate.der.clone()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        let (client, driver) = wsd_h2::Client::handshake(tls, wsd_h2::H2Config::default())
            .await
            .unwrap();
        tokio::spawn(driver);
        let url = format!("wss://localhost:{port}/");
        let mut first = wsd_h2::connect(&client, &url, wsd_h2::Options::default())
            .await
            .unwrap();
        let mut second = wsd_h2::connect(&client, &url, wsd_h2::Options::default())
            .await
            .unwrap();
        for (ws, text) in [(&mut first, "first"), (&mut second, "second")] {
            ws.send(wsd_h2::Message::text(text)).await.unwrap();
            let echo = ws.next_message().await.unwrap().unwrap();
            assert_eq!(echo.as_text(), Some(text));
        }
    });

    let logged = websocket_lines(&lines, 2);
    assert!(
        logged.iter().all(|line| line.contains(" over h2 ")),
        "{logged:?}"
    );
    assert_eq!(
        connection_of(&logged[0]),
        connection_of(&logged[1]),
        "{logged:?}"
    );
    assert!(
        logged[0].contains(" stream 1 ") && logged[1].contains(" stream 3 "),
        "{logged:?}"
    );
}
