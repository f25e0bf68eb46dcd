//! `wsd serve --broadcast`: one chat room per server process.
//!
//! Every text and binary message a client sends goes to every open connection of
//! the server, the sender included, instead of being echoed. All deliveries go
//! through one lock, so every client of one server sees the messages in the same
//! order. With `--redis` the room also reaches the rooms of other processes
//! ([`crate::redis_fanout`]).
//!
//! Slow receivers are bounded: each connection has a queue of at most
//! `--broadcast-queue` messages waiting to be written. A connection whose queue is
//! full when the next message arrives is evicted and closed with 1008 (policy
//! violation) instead of being handed fewer messages: a chat client that silently
//! missed messages would show a conversation that never happened, while a closed
//! one knows to reconnect (and fetch history, if the application keeps any). The
//! others never wait for it: delivery only ever tries to queue.
//!
//! Nothing here depends on a runtime: the queues are `async-channel`s and each
//! connection's reading and writing run as two futures of its own task, so the
//! same code serves tokio, async-std and smol.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::poll_fn;
use std::num::NonZeroUsize;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Poll;

use async_channel::{Receiver, Sender, TrySendError};
use clap::Args;
use futures_util::future::{Either, select};
use wsd_core::CloseCode;
use wsd_io::{Error as WsError, Message, ReadHalf, Timer, Transport, Usage, WebSocket, WriteHalf};

use crate::redis_fanout::{self, RedisTarget};
use crate::runtime::chain;

/// The `wsd serve` flags of the room.
#[derive(Debug, Clone, Args)]
pub(crate) struct BroadcastArgs {
    /// Send every text and binary message to every open connection of this server
    /// (a chat room, the sender included) instead of echoing it. Every client sees
    /// the messages in the same order.
    #[arg(long)]
    pub(crate) broadcast: bool,
    /// With --broadcast: how many messages may wait to be written to one
    /// connection. A connection that falls further behind (it does not read) is
    /// closed with 1008 (policy violation); the others never wait for it.
    #[arg(
        long,
        value_name = "MESSAGES",
        default_value_t = DEFAULT_QUEUE,
        requires = "broadcast"
    )]
    pub(crate) broadcast_queue: NonZeroUsize,
    /// With --broadcast: also publish every message on this Redis pub/sub channel
    /// and deliver what other servers publish there, so the clients of every
    /// `wsd serve` sharing the channel hear each other. At most once, in order per
    /// server; while Redis is unreachable the room stays local and wsd reconnects.
    #[arg(
        long,
        value_name = "redis://[USER:PASS@]HOST[:PORT]/CHANNEL",
        value_parser = RedisTarget::parse,
        requires = "broadcast"
    )]
    pub(crate) redis: Option<RedisTarget>,
}

/// The default of `--broadcast-queue`: room for bursts (a client pasting many
/// lines, a busy second server), small enough that a stalled reader is noticed
/// quickly. The payloads are shared between the queues, so a queue costs a
/// reference per message, not a copy.
const DEFAULT_QUEUE: NonZeroUsize = NonZeroUsize::new(256).unwrap();

/// How many of the local clients' messages may wait for the Redis link. When it is
/// full (Redis is slow) the newest are dropped: at most once, as for Redis itself.
const RELAY_QUEUE: usize = 4096;

/// The members of one server's room.
#[derive(Debug)]
pub(crate) struct Room {
    members: Mutex<Members>,
    queue_limit: NonZeroUsize,
    /// The local clients' messages on their way to Redis, when `--redis` is given.
    relay: Option<Sender<Message>>,
    /// The relay queue overflowed and that was logged: one line per overflow, not
    /// one per dropped message.
    relay_overflowing: AtomicBool,
}

#[derive(Debug, Default)]
struct Members {
    next_id: u64,
    by_id: HashMap<u64, Member>,
}

/// The room's end of one connection's queue.
#[derive(Debug)]
struct Member {
    queue: Sender<Message>,
    /// Dropped on eviction: that closes the channel the connection watches.
    _evict: Sender<Infallible>,
}

/// One connection's place in the room; leaving it is dropping it.
#[derive(Debug)]
pub(crate) struct Membership {
    room: Arc<Room>,
    id: u64,
    queue: Receiver<Message>,
    /// Ends (closed, never a value) when the room evicts this connection. A
    /// separate signal from the queue because the writer is usually blocked in a
    /// write to the slow peer, not waiting on the queue, when it happens.
    evicted: Receiver<Infallible>,
}

impl Room {
    /// The room `args` ask for, with its Redis link running, or `None` without
    /// `--broadcast`.
    pub(crate) fn start(args: &BroadcastArgs) -> Result<Option<Arc<Self>>, String> {
        if !args.broadcast {
            return Ok(None);
        }
        let Some(target) = &args.redis else {
            return Ok(Some(Arc::new(Self::new(args.broadcast_queue, None))));
        };
        let (relay, outgoing) = async_channel::bounded(RELAY_QUEUE);
        let room = Arc::new(Self::new(args.broadcast_queue, Some(relay)));
        redis_fanout::start(target.clone(), Arc::clone(&room), outgoing)?;
        Ok(Some(room))
    }

    fn new(queue_limit: NonZeroUsize, relay: Option<Sender<Message>>) -> Self {
        Self {
            members: Mutex::new(Members::default()),
            queue_limit,
            relay,
            relay_overflowing: AtomicBool::new(false),
        }
    }

    fn members(&self) -> MutexGuard<'_, Members> {
        // Nothing panics while the lock is held; should it, the map is still whole.
        self.members.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a connection to the room.
    pub(crate) fn join(self: &Arc<Self>) -> Membership {
        let (queue, receiver) = async_channel::bounded(self.queue_limit.get());
        let (evict, evicted) = async_channel::bounded(1);
        let mut members = self.members();
        let id = members.next_id;
        members.next_id += 1;
        members.by_id.insert(
            id,
            Member {
                queue,
                _evict: evict,
            },
        );
        Membership {
            room: Arc::clone(self),
            id,
            queue: receiver,
            evicted,
        }
    }

    /// A message from a local client: to every local connection, then to Redis.
    pub(crate) fn publish(&self, message: Message) {
        self.deliver(&message);
        let Some(relay) = &self.relay else { return };
        match relay.try_send(message) {
            Ok(()) => self.relay_overflowing.store(false, Ordering::Relaxed),
            Err(TrySendError::Full(_)) => {
                if !self.relay_overflowing.swap(true, Ordering::Relaxed) {
                    eprintln!(
                        "wsd: redis: {RELAY_QUEUE} messages wait for Redis; \
                         dropping new ones until it catches up"
                    );
                }
            }
            // The link thread is gone (it does not end while the room exists).
            Err(TrySendError::Closed(_)) => {}
        }
    }

    /// Queues `message` for every local connection, evicting those whose queue is
    /// full. Holding the lock across the whole loop is what gives every member the
    /// same order.
    pub(crate) fn deliver(&self, message: &Message) {
        self.members()
            .by_id
            .retain(|_, member| match member.queue.try_send(message.clone()) {
                Ok(()) => true,
                // Dropping the member closes both of its channels.
                Err(TrySendError::Full(_) | TrySendError::Closed(_)) => false,
            });
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        self.room.members().by_id.remove(&self.id);
    }
}

impl Membership {
    fn was_evicted(&self) -> bool {
        self.evicted.is_closed()
    }
}

/// Serves one upgraded connection as a member of `room` until it ends. Returns an
/// error (for the server's log) when the connection failed or was evicted.
pub(crate) async fn session<T, Z>(ws: WebSocket<T, Z>, room: &Arc<Room>) -> Result<(), String>
where
    T: Transport,
    Z: Timer,
{
    let membership = room.join();
    let (writer, reader) = ws.split();
    let reading = pin!(read_into(reader, room));
    let writing = pin!(write_out(writer, &membership));
    let read = match select(reading, writing).await {
        // The connection ended; the writer has nothing left to do.
        Either::Left((read, _)) => read,
        // The writer stopped (evicted, or the connection can no longer be written
        // to): reading on answers the peer's close, or fires the close timeout.
        Either::Right(((), reading)) => reading.await,
    };
    if membership.was_evicted() {
        return Err(too_slow_reason(room.queue_limit));
    }
    read
}

/// The close reason for an evicted connection (well under the 123 bytes allowed).
fn too_slow_reason(queue_limit: NonZeroUsize) -> String {
    format!("too slow: more than {queue_limit} messages waiting")
}

/// Hands every text and binary message the peer sends to the room, until the
/// connection ends. Pings are answered and the close echoed by the driver while
/// this reads.
async fn read_into<T: Transport, Z: Timer>(
    mut reader: ReadHalf<T, Z>,
    room: &Room,
) -> Result<(), String> {
    while let Some(item) = reader.next_message().await {
        let message = item.map_err(|error| chain(&error))?;
        if matches!(message, Message::Text(_) | Message::Binary(_)) {
            room.publish(message);
            // The members' writers (this connection's among them, a future of this
            // very task) take the message before the next one is read. Without
            // this, a peer with many messages in the socket buffer could publish a
            // whole step-aside budget (1024 messages) in one turn and overflow the
            // queues of readers that are not slow at all.
            yield_now().await;
        }
    }
    Ok(())
}

/// Returns `Pending` once, with the task woken: every task ready to run (and every
/// other future of this task) is polled before this one goes on. Runtime-agnostic,
/// unlike tokio's and smol's own `yield_now`.
async fn yield_now() {
    let mut yielded = false;
    poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await;
}

/// Writes the connection's queue out until the room evicts it, then closes it with
/// 1008. Returns early when the connection can no longer be written to: the
/// reading side reports why.
async fn write_out<T: Transport, Z: Timer>(mut writer: WriteHalf<T, Z>, membership: &Membership) {
    {
        // The eviction signal is polled first: once it fired, the backlog is not
        // worth writing.
        let evicted = pin!(membership.evicted.recv());
        let forwarding = pin!(forward(&mut writer, &membership.queue));
        if let Either::Right(((), _)) = select(evicted, forwarding).await {
            return;
        }
    }
    let reason = too_slow_reason(membership.room.queue_limit);
    // The frame goes out after what is already queued; a peer that reads nothing
    // never gets it, and the close timeout ends the connection instead.
    let _ = writer.close(CloseCode::POLICY_VIOLATION, &reason).await;
}

/// Feeds queued messages to the connection, flushing whenever the queue runs
/// empty: a burst goes out in few writes, a lone message at once.
async fn forward<T: Transport, Z: Timer>(writer: &mut WriteHalf<T, Z>, queue: &Receiver<Message>) {
    loop {
        let next = match queue.try_recv() {
            Ok(message) => Ok(message),
            Err(_) => {
                // Write out what was fed, but take the next message as soon as it
                // comes: a flush waits for the peer to read everything, and the
                // queue must only fill while the output is over its bound (then
                // `feed` waits).
                let flushing = pin!(writer.flush());
                let next = pin!(queue.recv());
                match select(next, flushing).await {
                    Either::Left((next, _)) => next,
                    Either::Right((Ok(()), next)) => next.await,
                    Either::Right((Err(_), _)) => return,
                }
            }
        };
        // An error is the eviction: the caller sees the signal.
        let Ok(message) = next else { return };
        match writer.feed(message).await {
            Ok(()) => {}
            // A Hixie-75/76 client (`--allow-drafts`) cannot receive binary
            // messages: it gets the room's text only.
            Err(WsError::Usage(Usage::NotSupportedByDraft(_))) => {}
            Err(_) => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn room(limit: usize) -> Arc<Room> {
        Arc::new(Room::new(NonZeroUsize::new(limit).unwrap(), None))
    }

    #[test]
    fn every_member_receives_every_message_in_one_order() {
        let room = room(8);
        let members: Vec<_> = (0..3).map(|_| room.join()).collect();
        for text in ["a", "b", "c"] {
            room.publish(Message::text(text));
        }
        for member in &members {
            let got: Vec<_> = std::iter::from_fn(|| member.queue.try_recv().ok()).collect();
            assert_eq!(
                got,
                [Message::text("a"), Message::text("b"), Message::text("c")]
            );
            assert!(!member.was_evicted());
        }
    }

    #[test]
    fn a_member_whose_queue_is_full_is_evicted_and_the_others_go_on() {
        let room = room(2);
        let slow = room.join();
        let fast = room.join();
        for n in 0..3 {
            room.publish(Message::text(n.to_string()));
            // The fast member keeps up.
            assert_eq!(fast.queue.try_recv().unwrap(), Message::text(n.to_string()));
        }
        assert!(slow.was_evicted());
        assert!(!fast.was_evicted());
        assert_eq!(room.members().by_id.len(), 1);
        // What was queued before the eviction is still there; nothing after it.
        assert_eq!(slow.queue.len(), 2);
        room.publish(Message::text("later"));
        assert_eq!(slow.queue.len(), 2);
        assert_eq!(fast.queue.try_recv().unwrap(), Message::text("later"));
    }

    #[test]
    fn leaving_removes_the_member() {
        let room = room(1);
        let member = room.join();
        assert_eq!(room.members().by_id.len(), 1);
        drop(member);
        assert!(room.members().by_id.is_empty());
        // Nobody to deliver to is not an error.
        room.publish(Message::binary(vec![1, 2]));
    }

    #[test]
    fn local_messages_go_to_the_relay_and_a_full_relay_drops_them() {
        let (relay, outgoing) = async_channel::bounded(RELAY_QUEUE);
        let room = Arc::new(Room::new(NonZeroUsize::MIN, Some(relay)));
        for n in 0..=RELAY_QUEUE {
            room.publish(Message::text(n.to_string()));
        }
        assert_eq!(outgoing.len(), RELAY_QUEUE);
        assert_eq!(outgoing.try_recv().unwrap(), Message::text("0"));
        assert!(room.relay_overflowing.load(Ordering::Relaxed));
        // Delivered from Redis: not relayed back.
        room.deliver(&Message::text("remote"));
        assert_eq!(outgoing.len(), RELAY_QUEUE - 1);
    }

    fn parse_serve(args: &[&str]) -> Result<BroadcastArgs, clap::Error> {
        use clap::Parser as _;
        let cli = crate::args::Cli::try_parse_from(["wsd", "serve"].iter().chain(args))?;
        match cli.command {
            crate::args::Command::Serve(serve) => Ok(serve.room),
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn broadcast_is_off_by_default_and_its_flags_need_it() {
        let room = parse_serve(&[]).unwrap();
        assert!(!room.broadcast && room.redis.is_none());
        assert_eq!(room.broadcast_queue, DEFAULT_QUEUE);
        assert!(Room::start(&room).unwrap().is_none());
        assert!(parse_serve(&["--broadcast-queue", "3"]).is_err());
        assert!(parse_serve(&["--redis", "redis://127.0.0.1/chat"]).is_err());
    }

    #[test]
    fn broadcast_flags_parse() {
        let room = parse_serve(&[
            "--broadcast",
            "--broadcast-queue",
            "3",
            "--redis",
            "redis://127.0.0.1:6380/chat",
        ])
        .unwrap();
        assert!(room.broadcast);
        assert_eq!(room.broadcast_queue.get(), 3);
        assert!(room.redis.is_some());
        assert!(parse_serve(&["--broadcast", "--broadcast-queue", "0"]).is_err());
        let bad = parse_serve(&["--broadcast", "--redis", "redis://127.0.0.1:6380"]);
        assert!(bad.unwrap_err().to_string().contains("names no channel"));
    }

    #[test]
    fn the_close_reason_fits_a_close_frame() {
        assert!(too_slow_reason(NonZeroUsize::MAX).len() <= 123);
    }
}
