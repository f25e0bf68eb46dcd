//! `wsd serve --broadcast --redis redis://host:port/channel`: the room of every
//! server process sharing a Redis pub/sub channel becomes one room.
//!
//! Each process publishes its local clients' messages on the channel and delivers
//! what it receives there to its local clients. A process delivers its own
//! clients' messages locally at once (the room stays usable while Redis is down),
//! so it skips them when Redis hands them back: every message carries the random
//! id of the process that published it.
//!
//! The link runs on a thread of its own with a current-thread tokio runtime,
//! whichever `--runtime` serves the clients, bridged to the room by
//! `async-channel`s. redis-rs 1.x supports tokio and smol, not async-std, and its
//! connections spawn driver tasks on the runtime they were made on; one thread
//! with one runtime means one code path, tested once, that no serving runtime can
//! starve (and that cannot starve the clients either).
//!
//! Delivery is at most once: a message is published once and never retried; what
//! local clients send while Redis is unreachable reaches only this server's
//! clients. Messages from one server arrive everywhere in the order that server
//! published them (one publishing connection, pipelined in order); the
//! interleaving of different servers' messages may differ between servers.
//!
//! The wire format on the channel, for other programs that publish into the room
//! or listen to it: one byte `t` (text, UTF-8) or `b` (binary), then 32 bytes that
//! identify the publishing process (wsd writes lowercase hex), then the payload.
//! Anything else is ignored, with one log line.

use std::cell::Cell;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use async_channel::Receiver;
use futures_util::StreamExt as _;
use futures_util::future::{Either, select};
use redis::AsyncConnectionConfig;
use redis::aio::{MultiplexedConnection, PubSubStream};
use wsd_io::{Bytes, Message, Utf8Bytes};

use crate::broadcast::Room;
use crate::runtime::chain;

/// Where to find Redis and which channel to use, from
/// `redis://[user:pass@]host[:port]/channel`.
#[derive(Debug, Clone)]
pub(crate) struct RedisTarget {
    client: redis::Client,
    /// `host:port` as given, without credentials, for the log.
    server: String,
    channel: String,
}

impl RedisTarget {
    /// Parses `--redis`. Redis URLs usually end in a database number; pub/sub
    /// ignores databases, so here the path names the channel instead.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let rest = match text.split_once("://") {
            Some(("redis", rest)) => rest,
            Some(("rediss", _)) => {
                return Err("rediss:// (TLS) is not supported; use redis://".to_string());
            }
            _ => return Err(format!("`{text}` is not a redis://host:port/channel URL")),
        };
        let (authority, channel) = rest
            .split_once('/')
            .filter(|(_, channel)| !channel.is_empty())
            .ok_or_else(|| format!("`{text}` names no channel: redis://host:port/CHANNEL"))?;
        if authority.is_empty() {
            return Err(format!("`{text}` names no host"));
        }
        let client = redis::Client::open(format!("redis://{authority}"))
            .map_err(|error| format!("`{text}`: {}", chain(&error)))?;
        let server = authority
            .rsplit_once('@')
            .map_or(authority, |(_, host)| host)
            .to_string();
        Ok(Self {
            client,
            server,
            channel: channel.to_string(),
        })
    }
}

/// How long connecting, and one request, may take before the attempt counts as a
/// failure (redis-rs waits forever for the subscriber connection otherwise).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(2);

/// The pause after the first failed attempt, doubled after each further one up to
/// [`LAST_RETRY`]: quick to resume after a restart, quiet during a long outage.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const LAST_RETRY: Duration = Duration::from_secs(2);

/// At most this many messages go to Redis in one pipelined round trip.
const PUBLISH_BATCH: usize = 256;

/// Starts the link on its own thread. `outgoing` carries the local clients'
/// messages; what arrives from other servers is delivered to `room`.
pub(crate) fn start(
    target: RedisTarget,
    room: Arc<Room>,
    outgoing: Receiver<Message>,
) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the Redis link's runtime: {error}"))?;
    let link = Link {
        target,
        room,
        outgoing,
        origin: Origin::random(),
        reported: Cell::new(Reported::Nothing),
        reported_foreign: Cell::new(false),
    };
    std::thread::Builder::new()
        .name("wsd-redis".to_string())
        .spawn(move || runtime.block_on(link.run()))
        .map_err(|error| format!("cannot start the Redis link's thread: {error}"))?;
    Ok(())
}

/// What the log last said about the link: an outage is one line, its end another,
/// however many attempts and messages there are in between.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reported {
    Nothing,
    Up,
    /// Unreachable; `was_up` once it had been connected.
    Down {
        was_up: bool,
    },
}

/// Why one connection of the link ended.
enum End {
    /// Redis failed or could not be reached.
    Failed(String),
    /// The room is gone: the server is shutting down.
    Shutdown,
}

struct Link {
    target: RedisTarget,
    room: Arc<Room>,
    outgoing: Receiver<Message>,
    origin: Origin,
    reported: Cell<Reported>,
    reported_foreign: Cell<bool>,
}

impl Link {
    /// Connects, relays until Redis fails, waits, and again, until the server
    /// shuts down.
    async fn run(self) {
        let mut retry = FIRST_RETRY;
        loop {
            let end = self.connect_and_relay().await;
            if self.reported.get() == Reported::Up {
                // It was connected: a new outage starts with quick retries.
                retry = FIRST_RETRY;
            }
            match end {
                End::Shutdown => return,
                End::Failed(error) => self.report_down(&error),
            }
            // Meanwhile the local clients' messages are dropped (at most once): sent
            // after the outage they would arrive out of place in the conversation.
            let discard = pin!(async { while self.outgoing.recv().await.is_ok() {} });
            let wait = pin!(tokio::time::sleep(retry));
            if let Either::Left(((), _)) = select(discard, wait).await {
                return;
            }
            retry = (retry * 2).min(LAST_RETRY);
        }
    }

    async fn connect_and_relay(&self) -> End {
        let (messages, mut publisher) = match self.connect().await {
            Ok(link) => link,
            Err(error) => return End::Failed(error),
        };
        self.report_up();
        let receiving = pin!(self.receive(messages));
        let publishing = pin!(self.publish(&mut publisher));
        match select(receiving, publishing).await {
            Either::Left((error, _)) => End::Failed(error),
            Either::Right((end, _)) => end,
        }
    }

    /// Subscribes (one connection) and opens the publishing connection (another:
    /// a subscribed connection may not publish).
    async fn connect(&self) -> Result<(PubSubStream, MultiplexedConnection), String> {
        let client = &self.target.client;
        let mut subscriber = within(CONNECT_TIMEOUT, client.get_async_pubsub()).await?;
        within(RESPONSE_TIMEOUT, subscriber.subscribe(&self.target.channel)).await?;
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let publisher = client
            .get_multiplexed_async_connection_with_config(&config)
            .await
            .map_err(|error| chain(&error))?;
        // The stream goes on without the sink, which only changes subscriptions.
        let (_sink, messages) = subscriber.split();
        Ok((messages, publisher))
    }

    /// Delivers what other servers publish until the subscription ends (Redis
    /// went away); returns why.
    async fn receive(&self, mut messages: PubSubStream) -> String {
        while let Some(message) = messages.next().await {
            match decode(message.get_payload_bytes(), &self.origin) {
                Decoded::Message(message) => self.room.deliver(&message),
                Decoded::Own => {}
                Decoded::Foreign => {
                    if !self.reported_foreign.replace(true) {
                        eprintln!(
                            "wsd: redis: ignoring messages on channel {} that are not in \
                             wsd's format (`t` or `b`, a 32-byte origin, the payload)",
                            self.target.channel
                        );
                    }
                }
            }
        }
        "the connection closed".to_string()
    }

    /// Publishes the local clients' messages in order, in pipelined batches,
    /// until publishing fails or the room is gone.
    async fn publish(&self, publisher: &mut MultiplexedConnection) -> End {
        loop {
            let Ok(first) = self.outgoing.recv().await else {
                return End::Shutdown;
            };
            let mut batch = redis::pipe();
            let mut next = Some(first);
            let mut count = 0;
            while let Some(message) = next.take() {
                if let Some(payload) = encode(&self.origin, &message) {
                    batch
                        .cmd("PUBLISH")
                        .arg(&self.target.channel)
                        .arg(payload)
                        .ignore();
                    count += 1;
                }
                if count < PUBLISH_BATCH {
                    next = self.outgoing.try_recv().ok();
                }
            }
            if let Err(error) = batch.query_async::<()>(publisher).await {
                return End::Failed(chain(&error));
            }
        }
    }

    fn report_up(&self) {
        let target = &self.target;
        match self.reported.replace(Reported::Up) {
            Reported::Nothing | Reported::Down { was_up: false } => eprintln!(
                "wsd: redis: connected to {}, channel {}",
                target.server, target.channel
            ),
            Reported::Down { was_up: true } => eprintln!(
                "wsd: redis: reconnected to {}; fan-out across servers resumed",
                target.server
            ),
            Reported::Up => {}
        }
    }

    fn report_down(&self, error: &str) {
        let server = &self.target.server;
        let before = self.reported.get();
        match before {
            Reported::Nothing => eprintln!(
                "wsd: redis: cannot connect to {server}: {error}; \
                 serving local clients only, retrying"
            ),
            Reported::Up => eprintln!(
                "wsd: redis: lost {server}: {error}; serving local clients only, reconnecting"
            ),
            Reported::Down { .. } => return,
        }
        self.reported.set(Reported::Down {
            was_up: before == Reported::Up,
        });
    }
}

/// Runs a Redis request with a deadline.
async fn within<T>(
    limit: Duration,
    request: impl Future<Output = redis::RedisResult<T>>,
) -> Result<T, String> {
    match tokio::time::timeout(limit, request).await {
        Ok(result) => result.map_err(|error| chain(&error)),
        Err(_) => Err(format!("no answer within {limit:?}")),
    }
}

/// The id a process stamps on what it publishes: 128 random bits as lowercase hex.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Origin([u8; ORIGIN_LEN]);

const ORIGIN_LEN: usize = 32;
const TEXT: u8 = b't';
const BINARY: u8 = b'b';

impl Origin {
    fn random() -> Self {
        let mut id = [0; ORIGIN_LEN];
        id.copy_from_slice(format!("{:032x}", rand::random::<u128>()).as_bytes());
        Self(id)
    }
}

/// The channel payload for a text or binary message (`None` for other kinds,
/// which the room never relays).
fn encode(origin: &Origin, message: &Message) -> Option<Vec<u8>> {
    let (kind, body) = match message {
        Message::Text(text) => (TEXT, text.as_bytes()),
        Message::Binary(data) => (BINARY, &data[..]),
        _ => return None,
    };
    let mut payload = Vec::with_capacity(1 + ORIGIN_LEN + body.len());
    payload.push(kind);
    payload.extend_from_slice(&origin.0);
    payload.extend_from_slice(body);
    Some(payload)
}

/// What a payload on the channel is to this process.
#[derive(Debug, PartialEq, Eq)]
enum Decoded {
    /// Another process's message, for the local clients.
    Message(Message),
    /// Published by this process: its clients have it already.
    Own,
    /// Not in wsd's format (or text that is not UTF-8).
    Foreign,
}

fn decode(payload: &[u8], own: &Origin) -> Decoded {
    let Some((&kind, rest)) = payload.split_first() else {
        return Decoded::Foreign;
    };
    let Some((origin, body)) = rest.split_at_checked(ORIGIN_LEN) else {
        return Decoded::Foreign;
    };
    if kind != TEXT && kind != BINARY {
        return Decoded::Foreign;
    }
    if origin == own.0 {
        return Decoded::Own;
    }
    let body = Bytes::copy_from_slice(body);
    if kind == BINARY {
        return Decoded::Message(Message::Binary(body));
    }
    match Utf8Bytes::try_from_bytes(body) {
        Ok(text) => Decoded::Message(Message::Text(text)),
        Err(_) => Decoded::Foreign,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_takes_host_port_and_channel() {
        let target = RedisTarget::parse("redis://127.0.0.1:6400/chat").unwrap();
        assert_eq!(target.server, "127.0.0.1:6400");
        assert_eq!(target.channel, "chat");
        let target = RedisTarget::parse("redis://user:secret@cache/rooms/lobby").unwrap();
        assert_eq!(target.server, "cache");
        assert_eq!(target.channel, "rooms/lobby");
    }

    #[test]
    fn target_refuses_other_schemes_and_missing_parts() {
        assert!(
            RedisTarget::parse("rediss://h/c")
                .unwrap_err()
                .contains("TLS")
        );
        assert!(RedisTarget::parse("http://h/c").is_err());
        assert!(RedisTarget::parse("127.0.0.1:6379/c").is_err());
        assert!(
            RedisTarget::parse("redis://h:6379")
                .unwrap_err()
                .contains("channel")
        );
        assert!(
            RedisTarget::parse("redis://h:6379/")
                .unwrap_err()
                .contains("channel")
        );
        assert!(
            RedisTarget::parse("redis:///c")
                .unwrap_err()
                .contains("host")
        );
        assert!(RedisTarget::parse("redis://h:notaport/c").is_err());
    }

    #[test]
    fn messages_round_trip_between_processes_and_skip_their_origin() {
        let (a, b) = (Origin::random(), Origin::random());
        assert_ne!(a, b);
        for message in [
            Message::text("héllo"),
            Message::binary(vec![0, 0xff]),
            Message::text(""),
        ] {
            let payload = encode(&a, &message).unwrap();
            assert_eq!(decode(&payload, &b), Decoded::Message(message));
            assert_eq!(decode(&payload, &a), Decoded::Own);
        }
        assert_eq!(encode(&a, &Message::Ping(Bytes::new())), None);
    }

    #[test]
    fn the_format_is_a_kind_byte_an_origin_and_the_payload() {
        let origin = Origin(*b"0123456789abcdef0123456789abcdef");
        assert_eq!(
            encode(&origin, &Message::text("hi")).unwrap(),
            b"t0123456789abcdef0123456789abcdefhi"
        );
        // Another program may publish into the room with any other origin.
        let foreign = b"bffffffffffffffffffffffffffffffff\x01";
        assert_eq!(
            decode(foreign, &origin),
            Decoded::Message(Message::binary(vec![1]))
        );
    }

    #[test]
    fn malformed_payloads_are_foreign() {
        let origin = Origin::random();
        let short = b"t0123";
        let bad_kind = [b"x".as_slice(), &[b'0'; ORIGIN_LEN], b"hi"].concat();
        let bad_utf8 = [b"t".as_slice(), &[b'0'; ORIGIN_LEN], &[0xff, 0xfe]].concat();
        for payload in [&b""[..], short, &bad_kind, &bad_utf8] {
            assert_eq!(decode(payload, &origin), Decoded::Foreign, "{payload:?}");
        }
    }
}
