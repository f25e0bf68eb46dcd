//! The keepalive, idle and handshake timers with explicit times: a client and a
//! server in memory, the clock passed by hand.

use std::time::{Duration, Instant};

use proptest::prelude::*;

use crate::{CloseCode, Connection, Error, Event, Keepalive, Message, Options, ReadyState, Usage};

const INTERVAL: Duration = Duration::from_secs(20);
const TIMEOUT: Duration = Duration::from_secs(5);
const IDLE: Duration = Duration::from_secs(30);

fn keepalive() -> Options {
    Options {
        mask_seed: Some(1),
        keepalive: Some(Keepalive::new(INTERVAL, TIMEOUT)),
        ..Options::default()
    }
}

fn idle() -> Options {
    Options {
        mask_seed: Some(1),
        idle_timeout: Some(IDLE),
        ..Options::default()
    }
}

fn plain() -> Options {
    Options {
        mask_seed: Some(1),
        ..Options::default()
    }
}

fn events(conn: &mut Connection) -> Vec<Event> {
    std::iter::from_fn(|| conn.poll_event()).collect()
}

/// An open client and server; the timers of `client_options` and
/// `server_options` armed at `start`.
fn pair(
    client_options: Options,
    server_options: Options,
    start: Instant,
) -> (Connection, Connection) {
    let mut client = Connection::client("ws://example.com/", client_options).unwrap();
    let mut server = Connection::server(server_options);
    client.start().unwrap();
    server.handle_input(&client.poll_transmit_vec());
    assert_eq!(server.poll_event(), Some(Event::Request));
    server.start().unwrap();
    assert_eq!(server.poll_event(), Some(Event::Open));
    client.handle_input(&server.poll_transmit_vec());
    assert_eq!(client.poll_event(), Some(Event::Open));
    client.poll_timeout(start);
    server.poll_timeout(start);
    (client, server)
}

/// The opcode and payload of each whole frame in `wire`, unmasked.
fn frames(wire: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut rest = wire;
    while rest.len() >= 2 {
        let opcode = rest[0] & 0x0f;
        let masked = rest[1] & 0x80 != 0;
        let len = usize::from(rest[1] & 0x7f);
        assert!(len < 126, "short frames only");
        let start = 2 + if masked { 4 } else { 0 };
        let mut payload = rest[start..start + len].to_vec();
        if masked {
            let key = &rest[2..6];
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= key[i % 4];
            }
        }
        out.push((opcode, payload));
        rest = &rest[start + len..];
    }
    out
}

const PING: u8 = 0x9;
const CLOSE: u8 = 0x8;

// ----- keepalive ------------------------------------------------------------------

#[test]
fn a_ping_goes_out_after_the_interval_of_silence_and_not_before() {
    let t0 = Instant::now();
    let (mut client, _server) = pair(keepalive(), plain(), t0);
    assert_eq!(client.poll_timeout(t0), Some(t0 + INTERVAL));
    client.handle_timeout(t0 + INTERVAL - Duration::from_millis(1));
    assert_eq!(client.buffered_amount(), 0);
    client.handle_timeout(t0 + INTERVAL);
    let sent = frames(&client.poll_transmit_vec());
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, PING);
    // Now the answer is due.
    assert_eq!(
        client.poll_timeout(t0 + INTERVAL),
        Some(t0 + INTERVAL + TIMEOUT)
    );
}

#[test]
fn an_answered_ping_keeps_the_connection_and_the_next_one_waits_a_whole_interval() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair(keepalive(), plain(), t0);
    let ping_at = t0 + INTERVAL;
    client.handle_timeout(ping_at);
    server.handle_input(&client.poll_transmit_vec());
    assert!(matches!(events(&mut server)[..], [Event::Ping(_)]));
    client.handle_input(&server.poll_transmit_vec());
    let answered = events(&mut client);
    assert!(
        matches!(
            answered[..],
            [Event::Pong {
                answers: Some(_),
                ..
            }]
        ),
        "{answered:?}"
    );
    let heard_at = ping_at + Duration::from_secs(1);
    assert_eq!(client.poll_timeout(heard_at), Some(heard_at + INTERVAL));
    // The old answer deadline passes without harm.
    client.handle_timeout(ping_at + TIMEOUT);
    assert_eq!(client.state(), ReadyState::Open);
    assert!(events(&mut client).is_empty());
    client.handle_timeout(heard_at + INTERVAL);
    assert_eq!(frames(&client.poll_transmit_vec())[0].0, PING);
}

#[test]
fn a_missed_ping_fails_the_connection_with_1011_keepalive_ping_timeout() {
    let t0 = Instant::now();
    let (mut client, _server) = pair(keepalive(), plain(), t0);
    client.handle_timeout(t0 + INTERVAL);
    client.poll_transmit_vec();
    let deadline = client.poll_timeout(t0 + INTERVAL).unwrap();
    client.handle_timeout(deadline - Duration::from_millis(1));
    assert_eq!(client.state(), ReadyState::Open);
    client.handle_timeout(deadline);
    assert_eq!(
        events(&mut client),
        [
            Event::Error(Error::KeepaliveTimeout),
            Event::Close {
                code: CloseCode::INTERNAL_ERROR,
                reason: "keepalive ping timeout".into()
            }
        ]
    );
    let sent = frames(&client.poll_transmit_vec());
    assert_eq!(sent[0].0, CLOSE);
    assert_eq!(&sent[0].1[..2], &1011u16.to_be_bytes());
    assert_eq!(&sent[0].1[2..], b"keepalive ping timeout");
    assert_eq!(Error::KeepaliveTimeout.kind(), "timeout");
}

#[test]
fn any_input_after_the_ping_counts_as_an_answer_so_a_long_upload_is_alive() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair(plain(), keepalive(), t0);
    let ping_at = t0 + INTERVAL;
    server.handle_timeout(ping_at);
    assert_eq!(frames(&server.poll_transmit_vec())[0].0, PING);
    // The client is busy sending one large message: only its first bytes are in
    // when the answer is due, and no pong at all.
    let big = vec![7u8; 100_000];
    client.send(Message::binary(big.clone())).unwrap();
    let upload = client.poll_transmit_vec();
    server.handle_input(&upload[..1000]);
    assert!(events(&mut server).is_empty(), "no whole frame yet");
    server.poll_timeout(ping_at + Duration::from_secs(4));
    server.handle_timeout(ping_at + TIMEOUT);
    assert_eq!(server.state(), ReadyState::Open);
    server.handle_input(&upload[1000..]);
    assert_eq!(events(&mut server), [Event::Message(Message::binary(big))]);
}

#[test]
fn traffic_from_the_peer_postpones_the_ping_without_moving_the_deadline() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair(keepalive(), plain(), t0);
    server.send(Message::text("news")).unwrap();
    client.handle_input(&server.poll_transmit_vec());
    let heard_at = t0 + Duration::from_secs(5);
    // Lazy: the deadline the adapter sleeps until stays put while traffic flows.
    assert_eq!(client.poll_timeout(heard_at), Some(t0 + INTERVAL));
    client.handle_timeout(t0 + INTERVAL);
    assert_eq!(client.buffered_amount(), 0, "no ping: heard 15 s ago");
    assert_eq!(
        client.poll_timeout(t0 + INTERVAL),
        Some(heard_at + INTERVAL)
    );
    client.handle_timeout(heard_at + INTERVAL);
    assert_eq!(frames(&client.poll_transmit_vec())[0].0, PING);
}

#[test]
fn our_own_sending_does_not_count_as_hearing_from_the_peer() {
    let t0 = Instant::now();
    let (mut client, _server) = pair(keepalive(), plain(), t0);
    client.send_text("talking to a wall").unwrap();
    client.poll_transmit_vec();
    client.poll_timeout(t0 + Duration::from_secs(10));
    client.handle_timeout(t0 + INTERVAL);
    assert_eq!(frames(&client.poll_transmit_vec())[0].0, PING);
}

// ----- idle timeout ---------------------------------------------------------------

#[test]
fn a_connection_with_no_data_either_way_closes_with_1001_at_the_idle_timeout() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair(plain(), idle(), t0);
    assert_eq!(server.poll_timeout(t0), Some(t0 + IDLE));
    server.handle_timeout(t0 + IDLE - Duration::from_millis(1));
    assert_eq!(server.state(), ReadyState::Open);
    server.handle_timeout(t0 + IDLE);
    assert_eq!(server.state(), ReadyState::Closing);
    let close = server.poll_transmit_vec();
    let sent = frames(&close);
    assert_eq!(sent[0].0, CLOSE);
    assert_eq!(&sent[0].1[..2], &1001u16.to_be_bytes());
    assert_eq!(&sent[0].1[2..], b"idle timeout");
    // The client echoes; both sides end with 1001.
    client.handle_input(&close);
    assert!(matches!(
        events(&mut client)[..],
        [Event::Close {
            code: CloseCode::GOING_AWAY,
            ..
        }]
    ));
    server.handle_input(&client.poll_transmit_vec());
    assert!(matches!(
        events(&mut server)[..],
        [Event::Close {
            code: CloseCode::GOING_AWAY,
            ..
        }]
    ));
}

#[test]
fn a_message_received_postpones_the_idle_timeout() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair(plain(), idle(), t0);
    client.send_text("still here").unwrap();
    server.handle_input(&client.poll_transmit_vec());
    assert_eq!(events(&mut server).len(), 1);
    let received_at = t0 + Duration::from_secs(20);
    server.poll_timeout(received_at);
    server.handle_timeout(t0 + IDLE);
    assert_eq!(server.state(), ReadyState::Open);
    assert_eq!(server.poll_timeout(t0 + IDLE), Some(received_at + IDLE));
    server.handle_timeout(received_at + IDLE);
    assert_eq!(server.state(), ReadyState::Closing);
}

#[test]
fn a_message_sent_postpones_the_idle_timeout() {
    // `send_text`, and `send(Message)`, which frames text and binary on a path of its
    // own: each must count as data for the idle timer.
    let sends: [fn(&mut Connection); 3] = [
        |c| c.send_text("anyone?").unwrap(),
        |c| c.send(Message::text("anyone?")).unwrap(),
        |c| c.send(Message::binary(vec![1, 2])).unwrap(),
    ];
    for send in sends {
        let t0 = Instant::now();
        let (_client, mut server) = pair(plain(), idle(), t0);
        send(&mut server);
        server.poll_transmit_vec();
        let sent_at = t0 + Duration::from_secs(25);
        server.poll_timeout(sent_at);
        server.handle_timeout(t0 + IDLE);
        assert_eq!(server.state(), ReadyState::Open);
        server.handle_timeout(sent_at + IDLE);
        assert_eq!(server.state(), ReadyState::Closing);
    }
}

#[test]
fn a_message_still_arriving_keeps_the_connection_from_idling() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair(plain(), idle(), t0);
    let big = vec![3u8; 100_000];
    client.send(Message::binary(big.clone())).unwrap();
    let upload = client.poll_transmit_vec();
    // A slice every 20 s: each one later than the idle timeout after the message
    // began, none later than it after the previous slice.
    let slices: Vec<&[u8]> = upload.chunks(upload.len() / 4 + 1).collect();
    let mut now = t0;
    for slice in &slices[..slices.len() - 1] {
        now += Duration::from_secs(20);
        server.handle_timeout(now);
        server.handle_input(slice);
        assert!(events(&mut server).is_empty());
        server.poll_timeout(now);
    }
    now += Duration::from_secs(20);
    server.handle_timeout(now);
    assert_eq!(server.state(), ReadyState::Open, "not idle while uploading");
    server.handle_input(slices[slices.len() - 1]);
    assert_eq!(events(&mut server), [Event::Message(Message::binary(big))]);
}

#[test]
fn pings_and_pongs_do_not_keep_an_idle_connection_open() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair(plain(), idle(), t0);
    client.ping(b"are you there").unwrap();
    server.handle_input(&client.poll_transmit_vec());
    assert!(matches!(events(&mut server)[..], [Event::Ping(_)]));
    server.poll_timeout(t0 + Duration::from_secs(29));
    server.handle_timeout(t0 + IDLE);
    assert_eq!(server.state(), ReadyState::Closing);
}

// ----- the opening handshake ------------------------------------------------------

#[test]
fn a_client_awaiting_the_response_times_out_from_its_start() {
    let mut client = Connection::client("ws://example.com/", plain()).unwrap();
    let t0 = Instant::now();
    assert_eq!(
        client.poll_timeout(t0),
        None,
        "nothing sent, nothing to wait for"
    );
    client.start().unwrap();
    assert_eq!(client.poll_timeout(t0), Some(t0 + Duration::from_secs(10)));
    client.handle_input(b"HTTP/1.1 101 Switching");
    client.handle_timeout(t0 + Duration::from_secs(10));
    assert_eq!(
        events(&mut client),
        [
            Event::Error(Error::HandshakeTimeout),
            Event::Close {
                code: CloseCode::ABNORMAL,
                reason: "the opening handshake timed out".into()
            }
        ]
    );
}

#[test]
fn a_server_given_a_parsed_request_times_out_when_start_never_comes() {
    let request = wsd_handshake::Request {
        method: "GET".into(),
        target: "/".into(),
        version: 1,
        headers: wsd_handshake::Headers::new(),
    };
    let mut server = Connection::accept(request, plain());
    let t0 = Instant::now();
    let deadline = server.poll_timeout(t0).unwrap();
    assert_eq!(deadline, t0 + Duration::from_secs(10));
    server.handle_timeout(deadline);
    assert_eq!(
        events(&mut server)[0],
        Event::Error(Error::HandshakeTimeout)
    );
    assert_eq!(server.state(), ReadyState::Closed);
}

#[test]
fn a_server_reading_a_slow_request_times_out() {
    let mut server = Connection::server(Options {
        handshake_timeout: Some(Duration::from_secs(3)),
        ..plain()
    });
    let t0 = Instant::now();
    server.handle_input(b"GET / HTTP/1.1\r\nHost: exam");
    assert_eq!(server.poll_event(), None);
    assert_eq!(server.poll_timeout(t0), Some(t0 + Duration::from_secs(3)));
    server.handle_timeout(t0 + Duration::from_secs(3));
    assert_eq!(
        events(&mut server)[0],
        Event::Error(Error::HandshakeTimeout)
    );
}

#[test]
fn the_handshake_timer_stops_at_open_and_the_open_timers_start() {
    let t0 = Instant::now();
    let (mut client, mut server) = pair(
        Options {
            keepalive: Some(Keepalive::new(Duration::from_secs(60), TIMEOUT)),
            ..plain()
        },
        idle(),
        t0,
    );
    assert_eq!(client.poll_timeout(t0), Some(t0 + Duration::from_secs(60)));
    assert_eq!(server.poll_timeout(t0), Some(t0 + IDLE));
}

// ----- never after close; always the earliest ------------------------------------

#[test]
fn no_timer_fires_once_the_connection_is_closed() {
    let t0 = Instant::now();
    let both = Options {
        idle_timeout: Some(IDLE),
        ..keepalive()
    };
    let (mut client, mut server) = pair(both.clone(), both, t0);
    client.close(CloseCode::NORMAL, "bye").unwrap();
    // Closing: only the close timeout is left.
    assert_eq!(client.poll_timeout(t0), Some(t0 + Duration::from_secs(10)));
    server.handle_input(&client.poll_transmit_vec());
    assert_eq!(events(&mut server).len(), 1);
    client.handle_input(&server.poll_transmit_vec());
    assert_eq!(events(&mut client).len(), 1);
    for conn in [&mut client, &mut server] {
        assert_eq!(conn.poll_timeout(t0), None);
        assert!(!conn.has_timers());
        for later in [
            INTERVAL,
            INTERVAL + TIMEOUT,
            IDLE,
            Duration::from_secs(3600),
        ] {
            conn.handle_timeout(t0 + later);
        }
        assert!(events(conn).is_empty());
        assert_eq!(conn.buffered_amount(), 0);
    }
}

#[test]
fn after_a_keepalive_failure_nothing_else_fires() {
    let t0 = Instant::now();
    let (mut client, _server) = pair(
        Options {
            idle_timeout: Some(INTERVAL + TIMEOUT),
            ..keepalive()
        },
        plain(),
        t0,
    );
    client.handle_timeout(t0 + INTERVAL);
    client.poll_timeout(t0 + INTERVAL);
    // The answer deadline and the idle timeout fall on the same instant: one close.
    client.handle_timeout(t0 + INTERVAL + TIMEOUT);
    assert_eq!(events(&mut client).len(), 2);
    let sent = frames(&client.poll_transmit_vec());
    assert_eq!(sent.iter().filter(|(op, _)| *op == CLOSE).count(), 1);
    assert_eq!(client.poll_timeout(t0 + INTERVAL + TIMEOUT), None);
}

#[test]
fn zero_durations_are_refused_before_any_io() {
    let zero = Options {
        keepalive: Some(Keepalive::new(Duration::ZERO, TIMEOUT)),
        ..plain()
    };
    assert_eq!(
        zero.validate(),
        Err(Error::Usage(Usage::InvalidTimer("keepalive")))
    );
    let mut server = Connection::server(zero);
    assert!(matches!(
        events(&mut server)[0],
        Event::Error(Error::Usage(_))
    ));
    let zero_idle = Options {
        idle_timeout: Some(Duration::ZERO),
        ..plain()
    };
    assert_eq!(
        zero_idle.validate().unwrap_err().to_string(),
        "idle_timeout must be longer than zero"
    );
}

/// What a test step does to the connection under the clock.
#[derive(Debug, Clone)]
enum Step {
    /// Time passes.
    Wait(u64),
    /// The peer sends a text message.
    PeerText,
    /// The peer sends a ping.
    PeerPing,
    /// We send a text message.
    Send,
    /// We start closing.
    Close,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u64..40_000).prop_map(Step::Wait),
        2 => Just(Step::PeerText),
        1 => Just(Step::PeerPing),
        2 => Just(Step::Send),
        1 => Just(Step::Close),
    ]
}

proptest! {
    /// Whatever happens, `poll_timeout` returns a deadline before which no timer
    /// acts: `handle_timeout` just before it changes nothing.
    #[test]
    fn no_timer_acts_before_the_deadline_poll_timeout_returns(
        steps in proptest::collection::vec(step(), 1..40),
        idle_ms in 1_000u64..60_000,
        interval_ms in 1_000u64..60_000,
        timeout_ms in 500u64..20_000,
    ) {
        let options = Options {
            keepalive: Some(Keepalive::new(
                Duration::from_millis(interval_ms),
                Duration::from_millis(timeout_ms),
            )),
            idle_timeout: Some(Duration::from_millis(idle_ms)),
            close_timeout: Some(Duration::from_secs(7)),
            ..plain()
        };
        let t0 = Instant::now();
        let (mut peer, mut conn) = pair(plain(), options, t0);
        let mut now = t0;
        for step in steps {
            match step {
                Step::Wait(ms) => {
                    let target = now + Duration::from_millis(ms);
                    // Sleep the way an adapter does: deadline by deadline.
                    while let Some(deadline) = conn.poll_timeout(now) {
                        if deadline > target {
                            break;
                        }
                        prop_assert!(deadline >= now, "a deadline in the past: {:?}", now - deadline);
                        let before = (conn.buffered_amount(), conn.state());
                        conn.handle_timeout(deadline - Duration::from_millis(1));
                        prop_assert_eq!(before, (conn.buffered_amount(), conn.state()));
                        prop_assert!(conn.poll_event().is_none());
                        now = deadline;
                        conn.handle_timeout(now);
                        while conn.poll_event().is_some() {}
                    }
                    now = target;
                }
                Step::PeerText => {
                    if peer.send_text("x").is_ok() {
                        conn.handle_input(&peer.poll_transmit_vec());
                        while conn.poll_event().is_some() {}
                    }
                }
                Step::PeerPing => {
                    if peer.ping(b"p").is_ok() {
                        conn.handle_input(&peer.poll_transmit_vec());
                        while conn.poll_event().is_some() {}
                    }
                }
                Step::Send => {
                    let _ = conn.send_text("y");
                }
                Step::Close => {
                    let _ = conn.close(CloseCode::NORMAL, "");
                }
            }
            conn.poll_transmit_vec();
        }
    }
}
