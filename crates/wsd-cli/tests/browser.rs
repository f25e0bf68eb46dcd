//! The demo page in a real browser: headless Chromium, driven by `browser_demo.js`
//! through playwright-core, loads the page from `wsd serve`, waits for the open
//! state, echoes text and binary through the page's form and button, and reads the
//! negotiated protocol and extensions. One server runs plain, one with `--deflate`
//! and `--protocol chat`, so both answers of the negotiation are checked.
//!
//! Needs `chromium` on PATH (or `CHROMIUM=/path/to/chrome`) and `npm ci` in
//! `tests/interop`; `.ci/run` installs both. Either missing fails the test with the
//! command that fixes it, because a browser test that skips itself proves nothing.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

mod support;

use support::{Certificate, Serve, stderr_lines, websocket_lines};

/// Chromium start-up plus two pages takes a few seconds; this only stops a hang.
const DEADLINE: Duration = Duration::from_secs(90);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// `$CHROMIUM`, else the first `chromium` on PATH.
fn chromium() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        let path = PathBuf::from(path);
        assert!(path.is_file(), "CHROMIUM={} is not a file", path.display());
        return path;
    }
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("chromium"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| {
            panic!(
                "chromium is not on PATH: install it (`apt-get install chromium`, as .ci/run \
                 does) or set CHROMIUM to a Chrome/Chromium binary"
            )
        })
}

/// `tests/interop/node_modules`, checked to hold playwright-core.
fn node_modules() -> PathBuf {
    let modules = workspace_root().join("tests/interop/node_modules");
    assert!(
        modules.join("playwright-core/package.json").is_file(),
        "playwright-core is not installed: run `npm ci` in tests/interop (as .ci/run does)"
    );
    modules
}

/// Runs the driver script on `pages`; returns, per page, the fields it printed.
fn drive(pages: &[&str]) -> Vec<HashMap<String, String>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser_demo.js");
    let mut child = Command::new("node")
        .arg(script)
        .arg(chromium())
        .args(pages)
        .env("NODE_PATH", node_modules())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("node does not start ({error}): install nodejs"));
    // Read both pipes on threads so a chatty child cannot block on a full pipe
    // while this thread watches the deadline.
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().unwrap()));
    let stderr = read(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("waits for node") {
            break status;
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "browser_demo.js still running after {DEADLINE:?}; stderr:\n{}",
                stderr.join().unwrap()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (stdout, stderr) = (stdout.join().unwrap(), stderr.join().unwrap());
    assert!(
        status.success(),
        "browser_demo.js failed ({status}):\n{stderr}\nstdout:\n{stdout}"
    );
    eprintln!(
        "browser: {} pages in {:.1?}",
        pages.len(),
        started.elapsed()
    );
    let mut seen = vec![HashMap::new(); pages.len()];
    for line in stdout.lines() {
        let mut parts = line.splitn(3, '\t');
        let (Some(index), Some(field), Some(value)) = (parts.next(), parts.next(), parts.next())
        else {
            panic!("unexpected line from browser_demo.js: {line:?}");
        };
        let index: usize = index.parse().expect("a page index");
        seen[index].insert(field.to_owned(), value.to_owned());
    }
    seen
}

/// The checks every page must pass, whatever was negotiated.
fn assert_echoes(seen: &HashMap<String, String>) {
    let field = |name: &str| {
        seen.get(name)
            .unwrap_or_else(|| panic!("browser_demo.js did not report {name}: {seen:?}"))
            .as_str()
    };
    let page = field("pageUrl");
    assert_eq!(field("state"), "open", "{page}");
    // The page connects back to the host it came from.
    let expected_ws = page
        .replacen("http", "ws", 1)
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    assert_eq!(field("url"), expected_ws, "{page}");
    assert_eq!(field("textEcho"), field("textSent"), "{page}: text echo");
    let sent = field("binarySent");
    assert_eq!(
        sent.split(' ').count(),
        8,
        "{page}: 8 bytes as hex: {sent:?}"
    );
    assert!(
        sent.split(' ')
            .all(|byte| byte.len() == 2 && u8::from_str_radix(byte, 16).is_ok()),
        "{page}: {sent:?}"
    );
    assert_eq!(field("binaryEcho"), sent, "{page}: binary echo");
    assert_eq!(field("echoes"), "2", "{page}");
    assert!(
        field("rtt").ends_with(" ms"),
        "{page}: rtt {:?}",
        field("rtt")
    );
    assert_eq!(field("consoleErrors"), "", "{page}: console errors");
}

#[test]
fn demo_page_echoes_in_chromium_with_and_without_deflate() {
    let plain = Serve::start(&[], Stdio::inherit());
    let deflate = Serve::start(&["--deflate", "--protocol", "chat"], Stdio::inherit());
    // The page offers the subprotocols in its query; the server picks the one it has.
    let deflate_page = format!("{}?protocol=superchat&protocol=chat", deflate.page());
    let seen = drive(&[&plain.page(), &deflate_page]);

    assert_echoes(&seen[0]);
    assert_eq!(
        seen[0]["extensions"], "",
        "no --deflate: nothing negotiated"
    );
    assert_eq!(seen[0]["extensionsShown"], "none");
    assert_eq!(seen[0]["protocol"], "none");

    assert_echoes(&seen[1]);
    let extensions = &seen[1]["extensions"];
    assert!(
        extensions.starts_with("permessage-deflate"),
        "--deflate: Chromium reports {extensions:?}"
    );
    assert_eq!(&seen[1]["extensionsShown"], extensions);
    assert_eq!(seen[1]["protocol"], "chat");
}

/// The same demo page served through the hyper and axum integrations
/// (`wsd serve --stack hyper|axum`), plain and with permessage-deflate.
#[test]
fn demo_page_echoes_in_chromium_behind_hyper_and_axum() {
    let servers: Vec<Serve> = ["hyper", "axum"]
        .iter()
        .flat_map(|stack| {
            [
                Serve::start(&["--stack", stack], Stdio::inherit()),
                Serve::start(&["--stack", stack, "--deflate"], Stdio::inherit()),
            ]
        })
        .collect();
    let pages: Vec<String> = servers.iter().map(Serve::page).collect();
    let seen = drive(&pages.iter().map(String::as_str).collect::<Vec<_>>());
    for (index, seen) in seen.iter().enumerate() {
        assert_echoes(seen);
        let extensions = &seen["extensions"];
        if index % 2 == 1 {
            assert!(
                extensions.starts_with("permessage-deflate"),
                "{}: Chromium reports {extensions:?}",
                pages[index]
            );
        } else {
            assert_eq!(extensions, "", "{}", pages[index]);
        }
    }
}

/// Over TLS, Chromium fetches the page with HTTP/2 and opens the WebSocket as an
/// extended CONNECT stream of that same connection (RFC 8441; Chromium needs no
/// flag for it once the server sends SETTINGS_ENABLE_CONNECT_PROTOCOL): the log
/// shows it on connection 1, after the page's stream.
#[test]
fn demo_page_over_tls_opens_its_websocket_on_the_pages_http2_connection() {
    let certificate = Certificate::new();
    let mut plain = certificate.serve(&["--log", "connections"], Stdio::piped());
    let mut deflate = certificate.serve(&["--log", "connections", "--deflate"], Stdio::piped());
    let (plain_log, deflate_log) = (stderr_lines(&mut plain), stderr_lines(&mut deflate));
    // The certificate names localhost; Chromium is told to accept it anyway.
    let page = |server: &Serve| format!("https://localhost:{}/", server.addr.port());
    let seen = drive(&[&page(&plain), &page(&deflate)]);

    assert_echoes(&seen[0]);
    assert_eq!(seen[0]["extensions"], "");
    assert_echoes(&seen[1]);
    assert!(
        seen[1]["extensions"].starts_with("permessage-deflate"),
        "--deflate over h2: Chromium reports {:?}",
        seen[1]["extensions"]
    );
    for log in [plain_log, deflate_log] {
        let line = &websocket_lines(&log, 1)[0];
        let stream: u32 = line
            .split(" stream ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no h2 stream in {line:?}"));
        assert!(line.contains(" over h2 on connection 1 "), "{line}");
        assert!(stream > 1, "the page came first on that connection: {line}");
    }
}
