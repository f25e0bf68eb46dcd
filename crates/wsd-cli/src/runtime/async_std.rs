//! The commands on async-std.

use ::async_std::net::{TcpListener, TcpStream};
use ::async_std::task::{self, sleep};

adapter_sessions!(wsd_async_std, TcpStream, TcpListener, sleep);

/// Runs `future` to completion.
pub(crate) fn block_on<T>(future: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    task::block_on(future)
}

/// `wsd serve`: one task per connection.
pub(crate) fn serve(args: &ServeArgs) -> Result<(), String> {
    block_on(serve_with(args, |connection| {
        task::spawn(connection);
    }))
}
