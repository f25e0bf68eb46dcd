//! The `wsd` command: demo echo server, client and Autobahn conformance driver.
//!
//! The subcommands (`serve`, `connect`, `autobahn-client`) arrive with the
//! runtime adapters.

fn main() {
    eprintln!(
        "wsd: the serve, connect and autobahn-client commands arrive with the runtime adapters"
    );
    std::process::exit(2);
}
