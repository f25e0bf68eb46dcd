//! What the end-to-end tests of `wsd` share: a `wsd serve` process on a free port.
//!
//! Each test crate compiles this module and uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};

/// The `wsd` binary cargo built for these tests.
pub(crate) const WSD: &str = env!("CARGO_BIN_EXE_wsd");

/// A running `wsd serve`, killed when dropped.
pub(crate) struct Serve {
    pub(crate) child: Child,
    pub(crate) addr: SocketAddr,
}

impl Serve {
    /// Starts `wsd serve --addr 127.0.0.1:0` with `flags` (its stderr going to
    /// `stderr`) and returns once it has announced the address it listens on.
    pub(crate) fn start(flags: &[&str], stderr: Stdio) -> Self {
        let mut child = Command::new(WSD)
            .args(["serve", "--addr", "127.0.0.1:0"])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .expect("wsd serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("piped stdout"))
            .read_line(&mut line)
            .expect("wsd serve prints its address");
        // wsd: listening on ws://127.0.0.1:PORT (open http://127.0.0.1:PORT/ in a browser)
        let addr = line
            .strip_prefix("wsd: listening on ws://")
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|addr| addr.parse().ok())
            .unwrap_or_else(|| panic!("unexpected first line from wsd serve: {line:?}"));
        assert!(
            line.trim_end()
                .ends_with(&format!("(open http://{addr}/ in a browser)")),
            "{line:?}"
        );
        Self { child, addr }
    }

    /// The WebSocket URL of its root.
    pub(crate) fn url(&self) -> String {
        format!("ws://{}/", self.addr)
    }

    /// The demo page's URL.
    pub(crate) fn page(&self) -> String {
        format!("http://{}/", self.addr)
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
