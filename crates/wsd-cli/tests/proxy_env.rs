//! End to end: `wsd connect` through SOCKS5 (microsocks, started on a free loopback
//! port) and through an `https://` proxy (tinyproxy behind TLS) with `--proxy` and
//! through the proxy environment variables, which it honours unless told not to;
//! `no_proxy` and `--no-env-proxy` go direct.

use std::process::Stdio;

mod support;
use support::{Certificate, RUNTIMES, connect, connect_with_env, https_proxy, microsocks, serve};

#[test]
fn connect_tunnels_through_socks5_with_credentials_on_every_runtime() {
    let (_server, port) = serve(&[]);
    let socks = microsocks(true);
    let url = format!("ws://127.0.0.1:{port}/");
    for runtime in RUNTIMES {
        let proxy = socks.url("socks5", "user:pass@");
        let (ok, stdout, stderr) = connect(
            &[&url, "--proxy", &proxy, "--runtime", runtime],
            "through socks\n",
        );
        assert!(ok, "{runtime}: {stderr}");
        assert_eq!(stdout, "through socks\n", "{runtime}");
    }
    let wrong = socks.url("socks5", "user:nope@");
    let (ok, _, stderr) = connect(&[&url, "--proxy", &wrong], "");
    assert!(!ok);
    assert!(
        stderr.contains("refused the username and password"),
        "{stderr}"
    );
}

#[test]
fn connect_uses_the_proxy_the_environment_names_unless_no_proxy_lists_the_host() {
    let (_server, port) = serve(&[]);
    let socks = microsocks(true);
    let via_socks = socks.url("socks5h", "user:pass@");
    // By name, so that `no_proxy=127.0.0.1` below does not match it.
    let url = format!("ws://localhost:{port}/");
    for runtime in RUNTIMES {
        let (ok, stdout, stderr) = connect_with_env(
            &[&url, "--runtime", runtime],
            &[("ALL_PROXY", &via_socks)],
            "from the environment\n",
        );
        assert!(ok, "{runtime}: {stderr}");
        assert_eq!(stdout, "from the environment\n", "{runtime}");
    }

    // A proxy that is not there: used, it fails; bypassed, the connection works.
    let dead = [("http_proxy", "http://127.0.0.1:9")];
    let (ok, _, stderr) = connect_with_env(&[&url], &dead, "");
    assert!(!ok);
    assert!(stderr.contains("127.0.0.1:9"), "{stderr}");
    let bypass = [dead[0], ("NO_PROXY", "example.com, localhost")];
    let (ok, stdout, stderr) = connect_with_env(&[&url], &bypass, "direct\n");
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "direct\n");
    let (ok, stdout, stderr) = connect_with_env(&[&url, "--no-env-proxy"], &dead, "direct\n");
    assert!(ok, "{stderr}");
    assert_eq!(stdout, "direct\n");
}

#[test]
fn connect_tunnels_ws_through_an_https_proxy_on_every_runtime() {
    let certificate = Certificate::new();
    let (_server, port) = serve(&[]);
    let (_proxy, https_port) = https_proxy(port, &certificate.cert, &certificate.key);
    let url = format!("ws://127.0.0.1:{port}/");
    let proxy = format!("https://user:pass@localhost:{https_port}");
    for runtime in RUNTIMES {
        let args = [&url, "--proxy", &proxy, "--ca", certificate.cert()];
        let (ok, stdout, stderr) = connect(
            &[&args[..], &["--runtime", runtime]].concat(),
            "in TLS to the proxy\n",
        );
        assert!(ok, "{runtime}: {stderr}");
        assert_eq!(stdout, "in TLS to the proxy\n", "{runtime}");
    }
}

#[test]
fn connect_tunnels_wss_through_the_https_proxy_the_environment_names_on_every_runtime() {
    let certificate = Certificate::new();
    let server = certificate.serve(&[], Stdio::null());
    let port = server.addr.port();
    let (_proxy, https_port) = https_proxy(port, &certificate.cert, &certificate.key);
    // One --ca for both TLS sessions: the proxy's and, inside it, the server's.
    let url = format!("wss://localhost:{port}/");
    let proxy = format!("https://user:pass@localhost:{https_port}");
    for runtime in RUNTIMES {
        let (ok, stdout, stderr) = connect_with_env(
            &[&url, "--ca", certificate.cert(), "--runtime", runtime],
            &[("HTTPS_PROXY", &proxy)],
            "TLS in TLS\n",
        );
        assert!(ok, "{runtime}: {stderr}");
        assert_eq!(stdout, "TLS in TLS\n", "{runtime}");
    }
}

#[test]
fn an_https_proxy_without_credentials_or_trust_fails_clearly_on_every_runtime() {
    let certificate = Certificate::new();
    let (_server, port) = serve(&[]);
    let (_proxy, https_port) = https_proxy(port, &certificate.cert, &certificate.key);
    let url = format!("ws://127.0.0.1:{port}/");
    let with_credentials = format!("https://user:pass@localhost:{https_port}");
    let without = format!("https://localhost:{https_port}");
    for runtime in RUNTIMES {
        let (ok, stdout, stderr) = connect(
            &[
                &url,
                "--proxy",
                &without,
                "--ca",
                certificate.cert(),
                "--runtime",
                runtime,
            ],
            "never sent\n",
        );
        assert!(!ok && stdout.is_empty(), "{runtime}: {stdout}");
        assert!(
            stderr.contains("refused the CONNECT request: 407"),
            "{runtime}: {stderr}"
        );

        // The webpki roots do not trust the test's certificate.
        let (ok, _, stderr) = connect(
            &[&url, "--proxy", &with_credentials, "--runtime", runtime],
            "never sent\n",
        );
        assert!(!ok, "{runtime}: trusted a self-signed proxy");
        assert!(
            stderr.contains(&format!(
                "TLS handshake with the proxy localhost:{https_port}"
            )) && stderr.contains("the proxy's certificate is not trusted"),
            "{runtime}: {stderr}"
        );
        let (ok, stdout, stderr) = connect(
            &[
                &url,
                "--proxy",
                &with_credentials,
                "--insecure",
                "--runtime",
                runtime,
            ],
            "insecure\n",
        );
        assert!(ok, "{runtime}: {stderr}");
        assert_eq!(stdout, "insecure\n", "{runtime}");
    }
}
