//! End to end: `wsd connect` through SOCKS5 (microsocks, started on a free loopback
//! port) with `--proxy` and through the proxy environment variables, which it
//! honours unless told not to; `no_proxy` and `--no-env-proxy` go direct.

mod common;
use common::{connect, connect_with_env, microsocks, serve};

const RUNTIMES: [&str; 3] = ["tokio", "async-std", "smol"];

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
fn connect_refuses_an_https_proxy_clearly() {
    let (ok, _, stderr) = connect(&["ws://127.0.0.1:9/", "--proxy", "https://127.0.0.1:9"], "");
    assert!(!ok);
    assert!(stderr.contains("https:// proxies"), "{stderr}");
}
