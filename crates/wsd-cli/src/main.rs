//! The `wsd` command: a demo echo server, a stdin/stdout client and the Autobahn
//! TestSuite client driver, on any of the three runtime adapters.
//!
//! ```text
//! wsd serve [--addr 127.0.0.1:8080] [--runtime tokio|async-std|smol] [--max-length BYTES] [--protocol P]...
//!           [--broadcast [--broadcast-queue N] [--redis redis://host:port/channel]]
//!           [--ping-interval D [--ping-timeout D]] [--idle-timeout D] [--max-connections N] [--shutdown-timeout D]
//!           [--threads N]
//!           [--tls-cert cert.pem --tls-key key.pem] [--h2c] [--log connections]
//! wsd connect URL [--protocol P]... [--header 'Name: value']... [--proxy URL] [--runtime R]
//!           [--ping-interval D [--ping-timeout D]] [--ca ca.pem | --insecure] [--http2]
//! wsd autobahn-client [--server ws://127.0.0.1:9001] [--runtime R] [--agent wsd] [--deflate] [--concurrency N]
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod args;
mod autobahn;
mod broadcast;
mod h2serve;
mod redis_fanout;
mod render;
mod route;
mod runtime;
mod stacks;
mod tls;

use std::process::ExitCode;

use clap::Parser;

use args::{Cli, Command, Runtime, Stack};
use runtime::async_std::AsyncStd;
use runtime::smol::Smol;
use runtime::tokio::Tokio;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("wsd: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve(args) if args.tls.wanted() => h2serve::serve(&args),
        Command::Serve(args) if args.stack != Stack::Own => stacks::serve(&args),
        Command::Serve(args) => match args.runtime {
            Runtime::Tokio => runtime::tokio::serve(&args),
            Runtime::AsyncStd => runtime::async_std::serve(&args),
            Runtime::Smol => runtime::smol::serve(&args),
        },
        Command::Connect(args) => {
            let lines = render::spawn_line_reader(std::io::BufReader::new(std::io::stdin()));
            if args.tls.http2 {
                if args.runtime != Runtime::Tokio {
                    return Err("--http2 runs on tokio (the h2 crate's runtime): \
                                leave out --runtime or pass --runtime tokio"
                        .into());
                }
                return runtime::tokio::block_on(h2serve::connect(&args, lines));
            }
            match args.runtime {
                Runtime::Tokio => runtime::tokio::block_on(runtime::connect::<Tokio>(&args, lines)),
                Runtime::AsyncStd => {
                    runtime::async_std::block_on(runtime::connect::<AsyncStd>(&args, lines))
                }
                Runtime::Smol => runtime::smol::block_on(runtime::connect::<Smol>(&args, lines)),
            }
        }
        Command::AutobahnClient(args) => match args.runtime {
            Runtime::Tokio => runtime::tokio::block_on(runtime::autobahn::<Tokio>(&args)),
            Runtime::AsyncStd => runtime::async_std::block_on(runtime::autobahn::<AsyncStd>(&args)),
            Runtime::Smol => runtime::smol::block_on(runtime::autobahn::<Smol>(&args)),
        },
    }
}
