//! The commands on smol, on a single-threaded local executor.

use ::smol::LocalExecutor;
use ::smol::Timer;
use ::smol::net::{TcpListener, TcpStream};

adapter_sessions!(wsd_smol, TcpStream, TcpListener, Timer::after);

/// Runs `future` to completion.
pub(crate) fn block_on<T>(future: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    ::smol::block_on(future)
}

/// `wsd serve`: one task per connection, all on this thread.
pub(crate) fn serve(args: &ServeArgs) -> Result<(), String> {
    let executor = LocalExecutor::new();
    block_on(executor.run(serve_with(args, |task| executor.spawn(task).detach())))
}
