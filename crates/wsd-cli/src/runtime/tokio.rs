//! The commands on tokio, each on a current-thread runtime: one core per process is
//! what the fastest peers use, and it keeps every connection's work on one thread.

use ::tokio::net::{TcpListener, TcpStream};
use ::tokio::runtime::Builder;
use ::tokio::time::sleep;

adapter_sessions!(wsd_tokio, TcpStream, TcpListener, sleep);

/// Runs `future` to completion on a fresh runtime.
pub(crate) fn block_on<T>(future: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the tokio runtime: {error}"))?
        .block_on(future)
}

/// `wsd serve`: one task per connection.
pub(crate) fn serve(args: &ServeArgs) -> Result<(), String> {
    block_on(serve_with(args, |task| {
        ::tokio::spawn(task);
    }))
}
