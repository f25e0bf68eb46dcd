//! The lifecycle API of the async layer, on every runtime over loopback sockets: a
//! server stopped with `wsd_io::Shutdown` (every client sees close 1001, a client
//! that never answers is aborted after the grace period), keepalive through split
//! halves, and SOCKS5 through the smol and async-std adapters (microsocks, started on
//! a free loopback port; `.ci/run` installs it).

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::time::{Duration, Instant};

use futures_util::future::{Either, select};
use wsd_core::{CloseCode, Keepalive, Message, Options};
use wsd_io::{Error, ServerConfig, Shutdown, ShutdownToken, Timer, Transport, WebSocket};

#[path = "../../crates/wsd-tokio/tests/common/mod.rs"]
mod proxies;

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Held by every test here, so the timing bounds never share the two cores with the
/// other tests of this file.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Accepts until the shutdown begins, each connection echoing while it watches the
/// shutdown (as a server written against `wsd-io` does it).
async fn serve_until_shutdown<T, Z, A>(
    mut accept: impl FnMut() -> A,
    spawn: impl Fn(BoxFuture<()>),
    token: ShutdownToken,
) where
    T: Transport + Send + 'static,
    Z: Timer + Default + Send + 'static,
    A: Future<Output = io::Result<T>>,
{
    loop {
        let accepted = pin!(accept());
        let stop = pin!(token.triggered());
        let Either::Left((Ok(stream), _)) = select(accepted, stop).await else {
            return;
        };
        let mut config = ServerConfig::default();
        config.shutdown = Some(token.clone());
        spawn(Box::pin(async move {
            let Ok(accepted) = wsd_io::accept_with(stream, Z::default(), config).await else {
                return;
            };
            let Some(mut ws) = accepted.upgraded() else {
                return;
            };
            while let Some(Ok(message)) = ws.next_message().await {
                if message.is_text() && ws.send(message).await.is_err() {
                    break;
                }
            }
        }));
    }
}

/// The close code a client sees once the server shuts down, after one echo.
async fn close_code_after_echo<T: Transport, Z: Timer>(
    mut ws: WebSocket<T, Z>,
    opened: async_channel::Sender<()>,
) -> Option<CloseCode> {
    ws.send(Message::text("hi")).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap().as_text(),
        Some("hi")
    );
    opened.send(()).await.unwrap();
    let mut code = None;
    while let Some(item) = ws.next_message().await {
        if let Ok(Message::Close(frame)) = item {
            code = frame.map(|frame| frame.code);
        }
    }
    code
}

const CLIENTS: usize = 20;

/// Starts the shutdown once `CLIENTS` clients are open; returns its report.
async fn shut_down_when_open<Z: Timer>(
    shutdown: Shutdown,
    timer: Z,
    opened: async_channel::Receiver<()>,
) -> wsd_io::ShutdownReport {
    for _ in 0..CLIENTS {
        opened.recv().await.unwrap();
    }
    assert_eq!(shutdown.open_connections(), CLIENTS);
    shutdown.shutdown(timer, Duration::from_secs(5)).await
}

/// The shutdown on one runtime: a server accepting with `accept`, `CLIENTS` clients
/// made by `connect`, all tasks handed to `spawn`; every client sees 1001 and the
/// report counts them all as closed.
async fn shutdown_closes_every_client<T, Z, A, U, C>(
    url: String,
    accept: impl FnMut() -> A + Send + 'static,
    connect: impl Fn(String) -> C,
    spawn: impl Fn(BoxFuture<()>) + Clone + Send + 'static,
) where
    T: Transport + Send + 'static,
    Z: Timer + Default + Send + 'static,
    A: Future<Output = io::Result<T>> + Send + 'static,
    U: Transport + Send + 'static,
    C: Future<Output = Result<WebSocket<U, Z>, Error>> + Send + 'static,
{
    let shutdown = Shutdown::new();
    let server = serve_until_shutdown::<T, Z, A>(accept, spawn.clone(), shutdown.token());
    spawn(Box::pin(server));
    let (opened, all_open) = async_channel::unbounded();
    let (codes, closed) = async_channel::unbounded();
    for _ in 0..CLIENTS {
        let connecting = connect(url.clone());
        let (opened, codes) = (opened.clone(), codes.clone());
        spawn(Box::pin(async move {
            let ws = connecting.await.unwrap();
            let code = close_code_after_echo(ws, opened).await;
            codes.send(code).await.unwrap();
        }));
    }
    let report = shut_down_when_open(shutdown.clone(), Z::default(), all_open).await;
    assert_eq!((report.closed, report.aborted), (CLIENTS, 0));
    for _ in 0..CLIENTS {
        assert_eq!(closed.recv().await.unwrap(), Some(CloseCode::GOING_AWAY));
    }
    assert_eq!(shutdown.open_connections(), 0);
}

/// A current-thread tokio runtime running `future`.
fn tokio_block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

/// [`shutdown_closes_every_client`] on one runtime: its `block_on`, TCP listener,
/// transport wrapper, timer, `connect` and spawn.
macro_rules! shutdown_test {
    ($name:ident, $block_on:path, $listener:ty, $io:path, $timer:ty, $connect:path, $spawn:expr) => {
        #[test]
        fn $name() {
            let _serial = one_at_a_time();
            $block_on(async {
                let listener = <$listener>::bind("127.0.0.1:0").await.unwrap();
                let url = format!("ws://{}/", listener.local_addr().unwrap());
                let listener = std::sync::Arc::new(listener);
                shutdown_closes_every_client::<_, $timer, _, _, _>(
                    url,
                    move || {
                        let listener = listener.clone();
                        async move { listener.accept().await.map(|(s, _)| $io(s)) }
                    },
                    |url| async move { $connect(&url).await },
                    $spawn,
                )
                .await;
            });
        }
    };
}

shutdown_test!(
    tokio_shutdown_closes_every_websocket_with_1001,
    tokio_block_on,
    tokio::net::TcpListener,
    wsd_tokio::TokioIo,
    wsd_tokio::TokioTimer,
    wsd_tokio::connect,
    |task| drop(tokio::spawn(task))
);
shutdown_test!(
    smol_shutdown_closes_every_websocket_with_1001,
    smol::block_on,
    smol::net::TcpListener,
    wsd_io::FuturesIo,
    wsd_io::AsyncIoTimer,
    wsd_smol::connect,
    |task| smol::spawn(task).detach()
);
shutdown_test!(
    async_std_shutdown_closes_every_websocket_with_1001,
    async_std::task::block_on,
    async_std::net::TcpListener,
    wsd_io::FuturesIo,
    wsd_io::AsyncIoTimer,
    wsd_async_std::connect,
    |task| drop(async_std::task::spawn(task))
);

#[test]
fn a_client_that_never_answers_the_close_is_aborted_after_the_grace_period() {
    let _serial = one_at_a_time();
    tokio_block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let shutdown = Shutdown::new();
        let token = shutdown.token();
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut config = ServerConfig::default();
            config.shutdown = Some(token);
            let accepted = wsd_tokio::accept_with(stream, config).await.unwrap();
            let mut ws = accepted.upgraded().unwrap();
            ws.next_message().await
        });
        // A client that completes the handshake, then never reads or answers.
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let silent = wsd_tokio::client("ws://localhost/", stream, Options::default())
            .await
            .unwrap();
        while shutdown.open_connections() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let grace = Duration::from_millis(300);
        let started = Instant::now();
        let report = shutdown
            .shutdown(wsd_tokio::TokioTimer::default(), grace)
            .await;
        let waited = started.elapsed();
        assert!(waited >= grace && waited < grace * 2, "{waited:?}");
        assert_eq!((report.closed, report.aborted), (0, 1));
        let Some(Err(Error::Io(error))) = server.await.unwrap() else {
            panic!("the server's stream ends with an abort");
        };
        assert_eq!(error.kind(), io::ErrorKind::ConnectionAborted);
        drop(silent);
    });
}

#[test]
fn keepalive_runs_through_split_halves_and_catches_a_peer_that_stops_reading() {
    let _serial = one_at_a_time();
    tokio_block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("ws://{}/", listener.local_addr().unwrap());
        let (interval, timeout) = (Duration::from_millis(200), Duration::from_millis(300));
        let server = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut options = Options::default();
            options.keepalive = Some(Keepalive::new(interval, timeout));
            let accepted = wsd_tokio::accept_with(stream, ServerConfig::new(options))
                .await
                .unwrap();
            let (_write, mut read) = accepted.upgraded().unwrap().split();
            let mut pongs = 0;
            loop {
                match read.next_message().await {
                    Some(Ok(Message::Pong(_))) => pongs += 1,
                    Some(Ok(Message::Text(_))) => {}
                    Some(Err(Error::KeepaliveTimeout)) => return (pongs, Instant::now()),
                    other => panic!("{other:?}"),
                }
            }
        });
        let mut client = wsd_tokio::connect(&url).await.unwrap();
        // Reading answers the pings for a while.
        let answering = tokio::time::timeout(Duration::from_millis(900), async {
            while let Some(Ok(_)) = client.next_message().await {}
        });
        assert!(answering.await.is_err(), "the connection stays open");
        // Then the client stops reading: no more pongs, nothing at all.
        let silent_from = Instant::now();
        let (pongs, failed_at) = server.await.unwrap();
        assert!(pongs >= 3, "{pongs} pongs while the client read");
        let silent_for = failed_at - silent_from;
        assert!(
            silent_for <= (interval + timeout) * 11 / 10 + Duration::from_millis(50),
            "{silent_for:?}"
        );
        drop(client);
    });
}

/// A SOCKS5 round trip through the adapter's `connect_via_proxy`, with the right
/// credentials; the wrong ones are refused.
async fn socks_round_trip<T: Transport, Z: Timer, C>(connect: impl Fn(String) -> C)
where
    C: Future<Output = Result<WebSocket<T, Z>, Error>>,
{
    let good = connect("user:pass@".into()).await;
    let mut ws = good.expect("through the SOCKS5 proxy");
    ws.send(Message::text("via socks")).await.unwrap();
    assert_eq!(
        ws.next_message().await.unwrap().unwrap().as_text(),
        Some("via socks")
    );
    ws.close(CloseCode::NORMAL, "").await.unwrap();
    let refused = connect("user:wrong@".into()).await;
    assert!(
        matches!(
            refused,
            Err(Error::Socks(wsd_io::SocksError::AuthenticationFailed))
        ),
        "{:?}",
        refused.err()
    );
}

#[test]
fn smol_and_async_std_connect_through_socks5() {
    let _serial = one_at_a_time();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (url, socks) = runtime.block_on(async {
        let (url, _) = proxies::echo_server().await;
        (url, proxies::Socks::start(true).await)
    });
    // The echo server runs on the tokio runtime's thread while the others connect.
    let thread = std::thread::spawn({
        let url = url.clone();
        let proxy = move |userinfo: String| socks.url("socks5", &userinfo);
        move || {
            smol::block_on(socks_round_trip(|userinfo| {
                let (url, proxy) = (url.clone(), proxy(userinfo));
                async move { wsd_smol::connect_via_proxy(&url, &proxy, Options::default()).await }
            }));
            async_std::task::block_on(socks_round_trip(|userinfo| {
                let (url, proxy) = (url.clone(), proxy(userinfo));
                async move { wsd_async_std::connect_via_proxy(&url, &proxy, Options::default()).await }
            }));
        }
    });
    runtime.block_on(async {
        while !thread.is_finished() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    thread.join().unwrap();
}
