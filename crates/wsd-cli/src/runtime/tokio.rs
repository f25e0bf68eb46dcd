//! The commands on tokio, each on a current-thread runtime: one core per process is
//! what the fastest peers use, and it keeps every connection's work on one thread.
//! `wsd serve --threads N` (N > 1) is the exception: a multi-thread runtime.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use ::tokio::net::{TcpListener, TcpStream};
use ::tokio::runtime::Builder;
use wsd_tokio::{TokioIo, TokioTimer};

use super::{Net, serve_with};
use crate::args::ServeArgs;

/// tokio's TCP for the sessions.
pub(crate) enum Tokio {}

impl Net for Tokio {
    type Transport = TokioIo<TcpStream>;
    type Timer = TokioTimer;
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
        Ok((TokioIo(stream), peer))
    }

    async fn connect(authority: &str) -> io::Result<Self::Transport> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Ok(TokioIo(stream))
    }

    async fn sleep(duration: Duration) {
        ::tokio::time::sleep(duration).await;
    }
}

/// Runs `future` to completion on a fresh runtime.
pub(crate) fn block_on<T>(future: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the tokio runtime: {error}"))?
        .block_on(future)
}

/// `wsd serve`: one task per connection; with `--threads 1` all on this thread, else
/// on a multi-thread runtime of that many workers (named `wsd-serve`), whose work
/// stealing spreads the connections the one listener accepts.
pub(crate) fn serve(args: &ServeArgs) -> Result<(), String> {
    let spawn = |task| {
        ::tokio::spawn(task);
    };
    if args.threads.get() == 1 {
        // The listener runs as a task of its own: a current-thread runtime polls the
        // future given to `block_on` every time it wakes from the I/O driver (with one
        // message in flight, once per message or two), and the listener's future
        // polls the signal pipe with a failing `recvfrom` each time; a task is polled
        // only when its own waker fires.
        let args = args.clone();
        let listener = async move { serve_with::<Tokio>(&args, spawn).await };
        return block_on(async {
            ::tokio::task::spawn(listener)
                .await
                .map_err(|error| format!("the listener task failed: {error}"))?
        });
    }
    Builder::new_multi_thread()
        .worker_threads(args.threads.get())
        .thread_name(super::WORKER_NAME)
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the tokio runtime: {error}"))?
        .block_on(serve_with::<Tokio>(args, spawn))
}
