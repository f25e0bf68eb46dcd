//! Where a connection is, with the data each place needs and nothing else: a queue
//! of commands only while connecting, framing and pings only while open or closing,
//! the close code and reason only once closed.
//!
//! RFC 6455 section 4 (opening) and 7 (closing):
//!
//! ```text
//!  server:  Connecting(ReadingRequest) --head--> Connecting(AwaitingStart)
//!             --start()--> Open  (Hixie-76: --start()--> Connecting(AwaitingHixieBody)
//!                                            --8 body bytes--> Open)
//!  client:  Connecting(Idle) --start()--> Connecting(AwaitingResponse) --101--> Open
//!  Open --close()--> Closing --peer's close frame--> Closed
//!  Open --peer's close frame (echoed)--> Closed
//!  any --protocol error / EOF / timeout / refused handshake / respond()--> Closed
//! ```

use std::collections::VecDeque;

use bytes::Bytes;
use wsd_frame::CloseCode;
use wsd_handshake::client::ClientHandshake;

use super::framing::Framing;
use super::liveness::Liveness;
use super::pings::Pings;
use crate::event::PingId;
use crate::message::Message;

/// Where the connection is, as `websocket-driver`'s (Node) `readyState` (the number
/// in brackets) and `getState()`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReadyState {
    /// A client before [`start`](super::Connection::start): nothing sent yet (-1,
    /// where `getState()` is `null`).
    Idle,
    /// The opening handshake has not completed (0).
    Connecting,
    /// Messages flow both ways (1).
    Open,
    /// We sent a close frame and wait for the peer's (2).
    Closing,
    /// Closed (3).
    Closed,
}

/// The connection's state; see the module docs for the transitions.
#[derive(Debug)]
pub(super) enum State {
    /// The opening handshake.
    Connecting(Connecting),
    /// Messages flow both ways.
    Open(Session),
    /// Our close frame is out; the peer's messages still arrive until its close frame.
    Closing(Session),
    /// The `Close` event is out; nothing more is read or written.
    Closed(Closed),
}

/// The opening handshake: where it is, and what the application asked for meanwhile.
#[derive(Debug)]
pub(super) struct Connecting {
    pub(super) step: Handshake,
    /// Commands given before open, replayed in order when it opens.
    pub(super) queued: VecDeque<Queued>,
}

/// The steps of the opening handshake.
#[derive(Debug)]
pub(super) enum Handshake {
    /// Client: not started.
    Idle,
    /// Server: reading the HTTP request head. `start` may have been called already
    /// (remembered, as `websocket-driver` (Node) queues it).
    ReadingRequest { start_requested: bool },
    /// Server: the request is known; waiting for `start` or `respond`.
    AwaitingStart,
    /// Client: request sent; reading the response head.
    AwaitingResponse(Box<ClientHandshake>),
    /// Server, Hixie-76: the response head is out; the 8 key bytes of the request
    /// body have not all arrived (proxies may defer them).
    #[cfg(feature = "drafts")]
    AwaitingHixieBody(wsd_hixie::Challenge),
}

/// A command given before the connection opened.
#[derive(Debug)]
pub(super) enum Queued {
    Message(Message),
    /// A ping and the id [`Connection::ping`](super::Connection::ping) returned for it.
    Ping(PingId, Bytes),
    Pong(Bytes),
}

/// What an open or closing connection reads and writes with.
#[derive(Debug)]
pub(super) struct Session {
    pub(super) framing: Framing,
    pub(super) pings: Pings,
    /// What the keepalive and idle timers know of recent traffic.
    pub(super) liveness: Liveness,
}

/// How the connection ended: what the `Close` event said.
#[derive(Debug)]
pub(super) struct Closed {
    pub(super) code: CloseCode,
    pub(super) reason: String,
    /// The extensions that were negotiated, still reported by
    /// [`Connection::extensions`](super::Connection::extensions).
    pub(super) extensions: Vec<String>,
}

impl State {
    /// A connection that starts at `step`.
    pub(super) fn connecting(step: Handshake) -> Self {
        Self::Connecting(Connecting {
            step,
            queued: VecDeque::new(),
        })
    }

    pub(super) fn ready_state(&self) -> ReadyState {
        match self {
            Self::Connecting(Connecting {
                step: Handshake::Idle,
                ..
            }) => ReadyState::Idle,
            Self::Connecting(_) => ReadyState::Connecting,
            Self::Open(_) => ReadyState::Open,
            Self::Closing(_) => ReadyState::Closing,
            Self::Closed(_) => ReadyState::Closed,
        }
    }

    /// The session of an open or closing connection.
    pub(super) fn session(&mut self) -> Option<&mut Session> {
        match self {
            Self::Open(session) | Self::Closing(session) => Some(session),
            Self::Connecting(_) | Self::Closed(_) => None,
        }
    }

    /// The handshake step, while connecting.
    pub(super) fn step(&self) -> Option<&Handshake> {
        match self {
            Self::Connecting(connecting) => Some(&connecting.step),
            _ => None,
        }
    }

    /// Moves on to `step`, while connecting.
    pub(super) fn set_step(&mut self, step: Handshake) {
        if let Self::Connecting(connecting) = self {
            connecting.step = step;
        }
    }

    /// Takes the commands queued for the open (none unless connecting).
    pub(super) fn take_queued(&mut self) -> VecDeque<Queued> {
        match self {
            Self::Connecting(connecting) => std::mem::take(&mut connecting.queued),
            _ => VecDeque::new(),
        }
    }

    /// Open becomes closing, keeping its session; any other state stays.
    pub(super) fn start_closing(&mut self) {
        let placeholder = Self::Closed(Closed {
            code: CloseCode::ABNORMAL,
            reason: String::new(),
            extensions: Vec::new(),
        });
        *self = match std::mem::replace(self, placeholder) {
            Self::Open(session) => Self::Closing(session),
            other => other,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Options;
    use wsd_extensions::Pipeline;
    use wsd_frame::Role;

    fn session() -> Session {
        Session {
            framing: Framing::rfc6455(Role::Server, &Options::default(), Pipeline::default()),
            pings: Pings::default(),
            liveness: Liveness::default(),
        }
    }

    #[test]
    fn only_a_client_that_has_not_started_is_idle() {
        assert_eq!(
            State::connecting(Handshake::Idle).ready_state(),
            ReadyState::Idle
        );
        let reading = Handshake::ReadingRequest {
            start_requested: false,
        };
        assert_eq!(
            State::connecting(reading).ready_state(),
            ReadyState::Connecting
        );
    }

    #[test]
    fn start_closing_keeps_the_session_and_moves_only_from_open() {
        let mut state = State::Open(session());
        state.start_closing();
        assert!(matches!(
            state,
            State::Closing(Session {
                framing: Framing::Rfc6455(_),
                ..
            })
        ));
        let mut connecting = State::connecting(Handshake::AwaitingStart);
        connecting.start_closing();
        assert_eq!(connecting.ready_state(), ReadyState::Connecting);
    }

    #[test]
    fn queued_commands_exist_only_while_connecting() {
        let mut state = State::connecting(Handshake::Idle);
        if let State::Connecting(connecting) = &mut state {
            connecting.queued.push_back(Queued::Pong(Bytes::new()));
        }
        assert_eq!(state.take_queued().len(), 1);
        assert!(state.take_queued().is_empty());
        assert!(State::Open(session()).take_queued().is_empty());
    }
}
