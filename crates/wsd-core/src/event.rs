//! What the driver tells the application.

use bytes::Bytes;

use crate::{CloseCode, Error, Message};

/// An identifier for a ping sent with [`Connection::ping`](crate::Connection::ping),
/// reported back when the matching pong arrives (`websocket-driver`'s (Node) ping
/// callback; see [the differences](crate::differences#the-api-call-by-call)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PingId(pub(crate) u64);

/// An event polled from [`Connection::poll_event`](crate::Connection::poll_event).
///
/// Order guarantees: `Request` (server parsing HTTP itself) comes first; `Open` comes
/// once, before any message; `Error` comes at most once and always right before
/// `Close`; `Close` comes exactly once and is the last event.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A server built with [`Connection::server`](crate::Connection::server) has read
    /// the HTTP request head (`websocket-driver`'s (Node) `connect` event; a head that
    /// is not HTTP, or too large, is answered with a 400 instead and gives no
    /// `Request`). Inspect it with
    /// [`Connection::request`](crate::Connection::request), then call
    /// [`start`](crate::Connection::start) to accept, or
    /// [`respond`](crate::Connection::respond) to answer with plain HTTP.
    Request,
    /// The handshake completed; messages flow.
    Open,
    /// A whole message arrived (fragments recombined).
    Message(Message),
    /// A ping arrived; the pong is already queued.
    Ping(Bytes),
    /// A pong arrived. `answers` names the ping it matched, if one of ours had the
    /// same payload.
    Pong {
        /// The payload.
        payload: Bytes,
        /// The ping this pong answers.
        answers: Option<PingId>,
    },
    /// The peer broke the protocol, a handshake failed, or an extension failed. A
    /// `Close` event follows at once.
    Error(Error),
    /// The connection is closed. `code` is the peer's code when the closing handshake
    /// completed (1005 when its close frame had none), the code we failed the
    /// connection with, or 1006 when the transport ended or a timer expired without a
    /// close frame.
    Close {
        /// The close code.
        code: CloseCode,
        /// The reason.
        reason: String,
    },
}

/// What [`Connection::poll_message_with`](crate::Connection::poll_message_with)
/// found.
#[derive(Debug)]
pub enum Polled<R> {
    /// A whole message was lent to the closure, which returned this.
    Lent(R),
    /// The next event: anything that could not be lent (a fragmented message, one an
    /// extension transforms, a control frame, the end of the connection).
    Event(Event),
}
