//! The commands on async-std.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ::async_std::net::{TcpListener, TcpStream};
use ::async_std::task;
use wsd_async_std::{AsyncIoTcp, AsyncIoTimer};

use super::{Net, serve_with};
use crate::args::ServeArgs;

/// async-std's TCP for the sessions.
pub(crate) enum AsyncStd {}

impl Net for AsyncStd {
    /// async-std's socket read by readiness rather than through futures-io.
    type Transport = AsyncIoTcp;
    type Timer = AsyncIoTimer;
    type Listener = TcpListener;

    async fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
        TcpListener::bind(addr).await
    }

    fn local_addr(listener: &TcpListener) -> io::Result<SocketAddr> {
        listener.local_addr()
    }

    async fn accept(listener: &TcpListener) -> io::Result<(Self::Transport, SocketAddr)> {
        let (stream, peer) = listener.accept().await?;
        stream.set_nodelay(true)?;
        Ok((wsd_async_std::tcp_transport(stream)?, peer))
    }

    async fn connect(authority: &str) -> io::Result<Self::Transport> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        wsd_async_std::tcp_transport(stream)
    }

    async fn sleep(duration: Duration) {
        task::sleep(duration).await;
    }
}

/// Runs `future` to completion.
pub(crate) fn block_on<T>(future: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    task::block_on(future)
}

/// `wsd serve`: one task per connection, on async-std's global executor sized to
/// `--threads` worker threads (named `wsd-serve`); the listener runs on this thread.
pub(crate) fn serve(args: &ServeArgs) -> Result<(), String> {
    // Before async-std's first task: the first configuration the global executor
    // gets is the one it keeps (async-std's own, read from ASYNC_STD_THREAD_COUNT,
    // then has no effect).
    let threads = args.threads.get();
    async_global_executor::init_with_config(
        async_global_executor::GlobalExecutorConfig::default()
            .with_min_threads(threads)
            .with_max_threads(threads)
            .with_thread_name_fn(|| super::WORKER_NAME.into()),
    );
    block_on(serve_with::<AsyncStd>(args, |connection| {
        task::spawn(connection);
    }))
}
