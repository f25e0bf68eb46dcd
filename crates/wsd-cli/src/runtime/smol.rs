//! The commands on smol, on a single-threaded local executor.

use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use ::smol::LocalExecutor;
use ::smol::net::{TcpListener, TcpStream};
use wsd_smol::{AsyncIoTcp, AsyncIoTimer};

use super::{Net, serve_with};
use crate::args::ServeArgs;

/// smol's TCP for the sessions.
pub(crate) enum Smol {}

impl Net for Smol {
    /// smol's socket read by readiness rather than through futures-io.
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
        Ok((wsd_smol::tcp_transport(stream), peer))
    }

    async fn connect(authority: &str) -> io::Result<Self::Transport> {
        let stream = TcpStream::connect(authority).await?;
        stream.set_nodelay(true)?;
        Ok(wsd_smol::tcp_transport(stream))
    }

    async fn sleep(duration: Duration) {
        ::smol::Timer::after(duration).await;
    }
}

/// Runs `future` to completion.
pub(crate) fn block_on<T>(future: impl Future<Output = Result<T, String>>) -> Result<T, String> {
    ::smol::block_on(future)
}

/// `wsd serve`: one task per connection; with `--threads 1` all on this thread, else
/// on one executor that many worker threads (named `wsd-serve`) run, fed by the
/// listener on this thread.
pub(crate) fn serve(args: &ServeArgs) -> Result<(), String> {
    let threads = args.threads.get();
    if threads == 1 {
        // The listener runs as a task of its own, as on tokio: `run` polls the future
        // it is given every time the executor wakes, and the listener's future polls
        // the signal pipe with a failing `recvfrom` each time.
        let executor = Rc::new(LocalExecutor::new());
        let (args, spawner) = (args.clone(), Rc::clone(&executor));
        let listener = executor.spawn(async move {
            serve_with::<Smol>(&args, |task| spawner.spawn(task).detach()).await
        });
        return block_on(executor.run(listener));
    }
    let executor = ::smol::Executor::new();
    // Closed when serving ends, which ends every worker's `run`.
    let (stop, stopped) = async_channel::bounded::<()>(1);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let (executor, stopped) = (&executor, stopped.clone());
            std::thread::Builder::new()
                .name(super::WORKER_NAME.into())
                .spawn_scoped(scope, move || {
                    ::smol::block_on(executor.run(stopped.recv()))
                })
                .map_err(|error| format!("cannot start a serving thread: {error}"))?;
        }
        let served = block_on(serve_with::<Smol>(args, |task| {
            executor.spawn(task).detach()
        }));
        drop(stop);
        served
    })
}
