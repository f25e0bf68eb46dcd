//! Borrowed messages ([`Connection::poll_message_with`]): a whole one-frame message
//! that no extension transforms is unmasked where it lies in the input and lent to
//! the caller, with a [`Reply`] that frames answers straight into the output.

use bytes::Buf;
use wsd_frame::{OpCode, Rsv, WholeMessage};

use super::Connection;
use super::framing::Outbox;
use super::state::State;
use crate::event::Polled;
use crate::output::BY_REFERENCE_FROM;
use crate::{Error, Usage};

/// Borrowed messages: the next message read in place, for a reader that is done
/// with each message before it asks for the next.
impl Connection {
    /// Like [`poll_event`](Self::poll_event), but a message that arrived whole in one
    /// frame, with no extension to undo, is not split off the input: it is unmasked
    /// where it lies and lent to `f` as a [`WholeMessage`], with a [`Reply`] to send
    /// messages meanwhile (an echo sends it back). Everything else (fragmented
    /// messages, messages an extension transforms, control frames, the end of the
    /// connection) comes back as [`Polled::Event`], exactly as `poll_event` gives it,
    /// and `f` is not called. `None` when more input (or a command, or a timeout) is
    /// needed.
    ///
    /// This is the cheapest way to read small messages: no reference-counted payload
    /// per message, and no event queue.
    ///
    /// ```
    /// use wsd_core::{Connection, Event, Message, Options, Polled, WholeMessage};
    ///
    /// let mut client = Connection::client("ws://example.com/", Options::default()).unwrap();
    /// let mut server = Connection::server(Options::default());
    /// client.start().unwrap();
    /// client.send_text("echo me").unwrap(); // queued until open
    /// server.handle_input(&client.poll_transmit_vec());
    /// assert!(matches!(server.poll_message_with(|_, _| ()), Some(Polled::Event(Event::Request))));
    /// server.start().unwrap();
    /// assert_eq!(server.poll_event(), Some(Event::Open));
    /// client.handle_input(&server.poll_transmit_vec());
    /// assert_eq!(client.poll_event(), Some(Event::Open));
    ///
    /// // The server echoes the message it is lent.
    /// server.handle_input(&client.poll_transmit_vec());
    /// let polled = server.poll_message_with(|message, reply| {
    ///     assert_eq!(message, WholeMessage::Text("echo me"));
    ///     reply.send(message)
    /// });
    /// assert!(matches!(polled, Some(Polled::Lent(Ok(())))));
    /// client.handle_input(&server.poll_transmit_vec());
    /// assert_eq!(client.poll_event(), Some(Event::Message(Message::text("echo me"))));
    /// ```
    pub fn poll_message_with<R>(
        &mut self,
        f: impl FnOnce(WholeMessage<'_>, &mut Reply<'_>) -> R,
    ) -> Option<Polled<R>> {
        if self.events.is_empty() {
            if let Some(lent) = self.lend_message(f) {
                return Some(Polled::Lent(lent));
            }
        }
        self.poll_event().map(Polled::Event)
    }
}

impl Connection {
    /// See [`Connection::poll_message_with`]: reads the next frame in place if it is
    /// a whole message no extension transforms, and lends it to `f`; `None` when
    /// it is not. A protocol error fails the connection (its events are then queued).
    pub(super) fn lend_message<R>(
        &mut self,
        f: impl FnOnce(WholeMessage<'_>, &mut Reply<'_>) -> R,
    ) -> Option<R> {
        let open = matches!(self.state, State::Open(_));
        let session = self.state.session()?;
        let decoder = session.framing.in_place_decoder()?;
        // A payload the output would hold by reference is not worth copying into it.
        let max_len = BY_REFERENCE_FROM - 1;
        match decoder.decode_message_in_place(&mut self.recv, max_len) {
            Ok(Some((message, used))) => {
                session.liveness.note_data();
                let mut reply = Reply {
                    out: &mut self.out,
                    open,
                };
                let lent = f(message, &mut reply);
                self.recv.advance(used);
                Some(lent)
            }
            Ok(None) => None,
            Err(e) => {
                self.fail(e.close_code(), Error::Protocol(e));
                None
            }
        }
    }
}

/// Sends messages while a message lent by
/// [`Connection::poll_message_with`] is read:
/// the connection's output, for the duration of the loan. The messages are framed
/// into the output at once; a closing connection refuses them, as
/// [`Connection::send`] does.
#[derive(Debug)]
pub struct Reply<'a> {
    out: &'a mut Outbox,
    /// False once our close frame is out.
    open: bool,
}

impl Reply<'_> {
    /// Sends `message`: a lent one back (an echo), or any other.
    pub fn send(&mut self, message: WholeMessage<'_>) -> Result<(), Error> {
        match message {
            WholeMessage::Text(text) => self.send_text(text),
            WholeMessage::Binary(data) => self.send_binary(data),
        }
    }

    /// Sends a text message.
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.write(OpCode::Text, text.as_bytes())
    }

    /// Sends a binary message.
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.write(OpCode::Binary, data)
    }

    fn write(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        if !self.open {
            return Err(Usage::Closed.into());
        }
        self.out.write_frame(opcode, Rsv::NONE, payload);
        Ok(())
    }
}
