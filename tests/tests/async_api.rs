//! The async API's promises, on every runtime over real loopback sockets: `send`
//! means written and flushed (as `SinkExt::send`), split halves in two tasks lose
//! nothing across a close, and `next_message` is cancel safe in a `select`.
//!
//! Each test body is written once, generic over [`Runtime`], and run on tokio
//! (multi-threaded, so the halves really run in parallel), smol and async-std.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::future::{Either, select};
use futures_util::{SinkExt, StreamExt};
use wsd_core::{Bytes, CloseCode, Message, Options};
use wsd_io::{Error, Timer, Transport, WebSocket};

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What a test needs from a runtime: run, spawn, sleep, and a connected pair of
/// WebSockets over loopback TCP.
trait Runtime: 'static {
    type T: Transport + Send + 'static;
    type Z: Timer + Default + Send + 'static;

    fn block_on<F: Future>(future: F) -> F::Output;
    fn spawn<F>(future: F) -> BoxFuture<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static;
    fn sleep(duration: Duration) -> BoxFuture<()>;
    /// A TCP connection to itself: (the accepted end, the connecting end).
    fn tcp_pair() -> BoxFuture<(Self::T, Self::T)>;
}

type Socket<R> = WebSocket<<R as Runtime>::T, <R as Runtime>::Z>;

/// A server and a client WebSocket, open, over loopback TCP.
async fn ws_pair<R: Runtime>(options: Options) -> (Socket<R>, Socket<R>) {
    let (server_end, client_end) = R::tcp_pair().await;
    let server = R::spawn(async move {
        let config = wsd_io::ServerConfig::new(Options::default());
        let accepted = wsd_io::accept_with(server_end, R::Z::default(), config).await;
        accepted.unwrap().upgraded().unwrap()
    });
    let client = wsd_io::client("ws://localhost/", client_end, R::Z::default(), options)
        .await
        .unwrap();
    (server.await, client)
}

/// Large-message options: the default limit is just under 64 MiB; 16 MiB fits.
fn options() -> Options {
    Options::default()
}

const BIG: usize = 16 << 20;

/// How the sender sends the big message.
#[derive(Clone, Copy, Debug)]
enum How {
    Inherent,
    SinkExt,
}

/// A 16 MiB message sent with `send().await` reaches the peer while the sender then
/// waits on something else and never touches the WebSocket again.
fn big_send_is_written_before_send_returns<R: Runtime>(how: How) {
    R::block_on(async {
        let (mut server, mut client) = ws_pair::<R>(options()).await;
        let received = R::spawn(async move {
            match server.next_message().await {
                Some(Ok(Message::Binary(data))) => data.len(),
                other => panic!("expected the big message, got {other:?}"),
            }
        });
        let message = Message::binary(Bytes::from(vec![0x5a; BIG]));
        match how {
            How::Inherent => client.send(message).await.unwrap(),
            How::SinkExt => SinkExt::send(&mut client, message).await.unwrap(),
        }
        // The client now waits on something else: the server must have it all
        // without further help from the client's side.
        match select(received, R::sleep(Duration::from_secs(10))).await {
            Either::Left((len, _)) => assert_eq!(len, BIG, "{how:?}"),
            Either::Right(_) => panic!("{how:?}: the server did not get the message in 10 s"),
        }
        drop(client);
    });
}

/// Split halves of both ends in four tasks: the client sends 10,000 messages, waits
/// until it has received 10,000 of the server's (which sends until the connection
/// closes), then closes in the middle of the server's traffic. Every message a
/// side sent successfully arrives, in order, then exactly one close.
fn split_halves_lose_nothing_across_a_close<R: Runtime>() {
    const EACH_WAY: usize = 10_000;
    R::block_on(async {
        let (server, client) = ws_pair::<R>(options()).await;
        let (mut server_writer, mut server_reader) = server.split();
        let (mut client_writer, mut client_reader) = client.split();
        let client_got = Arc::new(AtomicUsize::new(0));

        let server_sent = R::spawn(async move {
            let mut sent = 0usize;
            loop {
                match server_writer.feed(Message::text(format!("s{sent}"))).await {
                    Ok(()) => sent += 1,
                    Err(Error::Closed) => break,
                    Err(e) => panic!("server send {sent}: {e}"),
                }
                // Flush now and then, as a real producer would.
                if sent % 64 == 0 && server_writer.flush().await.is_err() {
                    break;
                }
            }
            sent
        });
        let server_received = R::spawn(async move {
            let mut got = 0usize;
            let mut closes = 0;
            while let Some(item) = server_reader.next_message().await {
                match item.unwrap() {
                    Message::Text(text) => {
                        assert_eq!(text, format!("c{got}").as_str());
                        got += 1;
                    }
                    Message::Close(frame) => {
                        closes += 1;
                        assert_eq!(frame.unwrap().code, CloseCode::NORMAL);
                    }
                    _ => {}
                }
            }
            assert_eq!(closes, 1, "the server's read half sees exactly one close");
            got
        });
        let counter = Arc::clone(&client_got);
        let client_received = R::spawn(async move {
            let mut got = 0usize;
            let mut closes = 0;
            while let Some(item) = client_reader.next_message().await {
                match item.unwrap() {
                    Message::Text(text) => {
                        assert_eq!(text, format!("s{got}").as_str());
                        got += 1;
                        counter.store(got, Ordering::Release);
                    }
                    Message::Close(_) => closes += 1,
                    _ => {}
                }
            }
            assert_eq!(closes, 1, "the client's read half sees exactly one close");
            got
        });
        for i in 0..EACH_WAY {
            client_writer
                .feed(Message::text(format!("c{i}")))
                .await
                .unwrap();
        }
        client_writer.flush().await.unwrap();
        while client_got.load(Ordering::Acquire) < EACH_WAY {
            R::sleep(Duration::from_millis(1)).await;
        }
        client_writer
            .close(CloseCode::NORMAL, "enough")
            .await
            .unwrap();

        let server_sent = server_sent.await;
        assert_eq!(server_received.await, EACH_WAY);
        let client_received = client_received.await;
        assert!(
            server_sent >= EACH_WAY,
            "the close came after {server_sent}"
        );
        assert_eq!(client_received, server_sent, "every message sent arrived");
    });
}

/// `next_message` raced against a short timer in a loop: the timer wins often, the
/// losing `next_message` future is dropped, and still every message arrives once,
/// in order.
fn next_message_in_a_select_loses_nothing<R: Runtime>() {
    const COUNT: usize = 2_000;
    R::block_on(async {
        let (mut server, mut client) = ws_pair::<R>(options()).await;
        let sender = R::spawn(async move {
            for i in 0..COUNT {
                server.send(Message::text(format!("{i}"))).await.unwrap();
                if i % 100 == 0 {
                    R::sleep(Duration::from_millis(2)).await;
                }
            }
            server.close(CloseCode::NORMAL, "").await.unwrap();
            while server.next_message().await.is_some() {}
        });
        let mut next = 0usize;
        let mut timer_won = 0usize;
        loop {
            let message = pin!(client.next_message());
            match select(message, R::sleep(Duration::from_micros(200))).await {
                Either::Left((Some(Ok(Message::Text(text))), _)) => {
                    assert_eq!(text, next.to_string().as_str());
                    next += 1;
                }
                Either::Left((Some(Ok(Message::Close(_))) | None, _)) => break,
                Either::Left((Some(other), _)) => panic!("unexpected {other:?}"),
                Either::Right(_) => timer_won += 1,
            }
        }
        assert_eq!(next, COUNT);
        assert!(
            timer_won > 0,
            "the timer never won: the test proved nothing"
        );
        sender.await;
    });
}

/// `StreamExt::split` (futures' lock-based halves) works on a WebSocket as well.
fn futures_split_works<R: Runtime>() {
    R::block_on(async {
        let (server, client) = ws_pair::<R>(options()).await;
        let (mut server_sink, mut server_stream) = StreamExt::split(server);
        let echo = R::spawn(async move {
            while let Some(Ok(message)) = server_stream.next().await {
                if message.is_text() {
                    server_sink.send(message).await.unwrap();
                }
            }
        });
        let (mut sink, mut stream) = StreamExt::split(client);
        for i in 0..100 {
            sink.send(Message::text(format!("{i}"))).await.unwrap();
        }
        for i in 0..100 {
            let echoed = stream.next().await.unwrap().unwrap();
            assert_eq!(echoed.as_text(), Some(i.to_string().as_str()));
        }
        SinkExt::close(&mut sink).await.unwrap();
        assert!(matches!(stream.next().await, Some(Ok(Message::Close(_)))));
        assert!(stream.next().await.is_none());
        echo.await;
    });
}

/// The same test on every runtime.
macro_rules! on_every_runtime {
    ($($name:ident => $body:ident;)*) => {
        mod tokio_rt {
            $(#[test] fn $name() { super::$body::<super::Tokio>() })*
        }
        mod smol_rt {
            $(#[test] fn $name() { super::$body::<super::Smol>() })*
        }
        mod async_std_rt {
            $(#[test] fn $name() { super::$body::<super::AsyncStd>() })*
        }
    };
}

fn big_inherent<R: Runtime>() {
    big_send_is_written_before_send_returns::<R>(How::Inherent);
}

fn big_sink_ext<R: Runtime>() {
    big_send_is_written_before_send_returns::<R>(How::SinkExt);
}

on_every_runtime! {
    a_16_mib_send_reaches_the_peer_while_the_sender_waits_elsewhere => big_inherent;
    sink_ext_send_behaves_as_the_inherent_send => big_sink_ext;
    split_halves_in_two_tasks_lose_nothing_across_a_close => split_halves_lose_nothing_across_a_close;
    next_message_raced_against_a_timer_loses_no_message => next_message_in_a_select_loses_nothing;
    futures_stream_ext_split_works => futures_split_works;
}

/// `tokio::select!` on `next_message` and a timer, as tokio users write it.
#[test]
fn tokio_select_on_next_message_and_a_timer_loses_no_message() {
    Tokio::block_on(async {
        let (mut server, mut client) = ws_pair::<Tokio>(options()).await;
        let sender = tokio::spawn(async move {
            for i in 0..1000 {
                server.feed(Message::text(format!("{i}"))).await.unwrap();
                if i % 50 == 0 {
                    server.flush().await.unwrap();
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
            server.close(CloseCode::NORMAL, "").await.unwrap();
            while server.next_message().await.is_some() {}
        });
        let mut next = 0;
        let mut ticks = 0;
        let mut interval = tokio::time::interval(Duration::from_micros(300));
        loop {
            tokio::select! {
                item = client.next_message() => match item {
                    Some(Ok(Message::Text(text))) => {
                        assert_eq!(text, next.to_string().as_str());
                        next += 1;
                    }
                    Some(Ok(Message::Close(_))) | None => break,
                    other => panic!("unexpected {other:?}"),
                },
                _ = interval.tick() => ticks += 1,
            }
        }
        assert_eq!(next, 1000);
        assert!(ticks > 1);
        sender.await.unwrap();
    });
}

// ----- the runtimes -------------------------------------------------------------

enum Tokio {}

impl Runtime for Tokio {
    type T = wsd_tokio::TokioIo<tokio::net::TcpStream>;
    type Z = wsd_tokio::TokioTimer;

    fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap()
            .block_on(future)
    }

    fn spawn<F>(future: F) -> BoxFuture<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let handle = tokio::spawn(future);
        Box::pin(async move { handle.await.unwrap() })
    }

    fn sleep(duration: Duration) -> BoxFuture<()> {
        Box::pin(tokio::time::sleep(duration))
    }

    fn tcp_pair() -> BoxFuture<(Self::T, Self::T)> {
        Box::pin(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (client, accepted) =
                tokio::join!(tokio::net::TcpStream::connect(addr), listener.accept());
            let (client, (server, _)) = (client.unwrap(), accepted.unwrap());
            (wsd_tokio::TokioIo(server), wsd_tokio::TokioIo(client))
        })
    }
}

enum Smol {}

impl Runtime for Smol {
    type T = wsd_io::FuturesIo<smol::net::TcpStream>;
    type Z = wsd_io::AsyncIoTimer;

    fn block_on<F: Future>(future: F) -> F::Output {
        smol::block_on(future)
    }

    fn spawn<F>(future: F) -> BoxFuture<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Box::pin(smol::spawn(future))
    }

    fn sleep(duration: Duration) -> BoxFuture<()> {
        Box::pin(async move {
            smol::Timer::after(duration).await;
        })
    }

    fn tcp_pair() -> BoxFuture<(Self::T, Self::T)> {
        Box::pin(async {
            let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let (client, accepted) =
                futures_util::future::join(smol::net::TcpStream::connect(addr), listener.accept())
                    .await;
            let (client, (server, _)) = (client.unwrap(), accepted.unwrap());
            (wsd_io::FuturesIo(server), wsd_io::FuturesIo(client))
        })
    }
}

enum AsyncStd {}

impl Runtime for AsyncStd {
    type T = wsd_io::FuturesIo<async_std::net::TcpStream>;
    type Z = wsd_io::AsyncIoTimer;

    fn block_on<F: Future>(future: F) -> F::Output {
        async_std::task::block_on(future)
    }

    fn spawn<F>(future: F) -> BoxFuture<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Box::pin(async_std::task::spawn(future))
    }

    fn sleep(duration: Duration) -> BoxFuture<()> {
        Box::pin(async_std::task::sleep(duration))
    }

    fn tcp_pair() -> BoxFuture<(Self::T, Self::T)> {
        Box::pin(async {
            let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
            let addr = listener.local_addr().unwrap();
            let (client, accepted) = futures_util::future::join(
                async_std::net::TcpStream::connect(addr),
                listener.accept(),
            )
            .await;
            let (client, (server, _)) = (client.unwrap(), accepted.unwrap());
            (wsd_io::FuturesIo(server), wsd_io::FuturesIo(client))
        })
    }
}
