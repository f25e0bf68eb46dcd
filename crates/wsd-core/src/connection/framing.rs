//! How frames become messages and messages frames, once the connection is open: RFC
//! 6455 framing with its extension pipeline, or a legacy draft's. The connection
//! holds one [`Framing`] and matches on it here, in one place, rather than asking
//! "is this a draft?" wherever it reads or writes.

use bytes::{Bytes, BytesMut};
use rand::RngCore;
use rand::rngs::StdRng;
use wsd_extensions::{Message as ExtMessage, Pipeline};
use wsd_frame::{
    CloseCode, CloseFrame, DecoderConfig, Frame, FrameDecoder, FrameHeader, OpCode, Role, Rsv,
    encode_frame,
};

use super::Connection;
use super::state::State;
use crate::event::{Event, PingId};
use crate::message::{Message, Utf8Bytes};
use crate::options::Options;
use crate::output::{BY_REFERENCE_FROM, Output};
use crate::{Error, Usage};

/// The framing of an open (or closing) connection.
#[derive(Debug)]
pub(super) enum Framing {
    /// RFC 6455 frames, through the negotiated extensions.
    Rfc6455(Rfc6455),
    /// A legacy draft's text frames (servers that accepted Hixie-75 or Hixie-76).
    #[cfg(feature = "drafts")]
    Hixie(wsd_hixie::Decoder),
}

/// RFC 6455 framing: the frame decoder, the message being reassembled, and the
/// extension pipeline every whole message passes through.
#[derive(Debug)]
pub(super) struct Rfc6455 {
    decoder: FrameDecoder,
    fragments: Option<Fragments>,
    pipeline: Pipeline,
    max_length: usize,
}

/// The message being reassembled from fragments.
#[derive(Debug)]
struct Fragments {
    opcode: OpCode,
    rsv: Rsv,
    data: BytesMut,
}

/// What reading a frame gave [`Connection::poll_event`].
#[derive(Debug)]
pub(super) enum FrameRead {
    /// The event to hand out now.
    Event(Event),
    /// Something happened (events may be queued); poll again.
    Progressed,
    /// More input is needed.
    Nothing,
}

/// What the peer sent: one unit of input, decoded.
#[derive(Debug)]
pub(super) enum Received {
    /// A whole message, fragments recombined and extensions undone.
    Message(Message),
    /// A ping, to be answered.
    Ping(Bytes),
    /// A pong.
    Pong(Bytes),
    /// The peer's close frame: its code (`None` when it had none) and reason. A
    /// Hixie-76 `0xFF 0x00` has neither.
    Close(Option<CloseCode>, String),
    /// The peer broke the protocol or a limit: fail the connection with this code.
    Failed(CloseCode, Error),
}

impl Framing {
    /// The RFC 6455 decoder, when a whole message may be read in place and lent
    /// ([`Connection::poll_message_with`]): no extension transforms messages.
    pub(super) fn in_place_decoder(&mut self) -> Option<&mut FrameDecoder> {
        match self {
            Self::Rfc6455(rfc) if rfc.pipeline.is_empty() => Some(&mut rfc.decoder),
            _ => None,
        }
    }

    /// RFC 6455 framing for `role`, with the negotiated `pipeline`, whose RSV bits
    /// become the only ones a frame may carry.
    pub(super) fn rfc6455(role: Role, options: &Options, pipeline: Pipeline) -> Self {
        let mut config = DecoderConfig::new(role);
        config.require_masking = options.require_masking;
        config.max_length = options.max_length as u64;
        config.allowed_rsv = pipeline.rsv();
        Self::Rfc6455(Rfc6455 {
            decoder: FrameDecoder::new(config),
            fragments: None,
            pipeline,
            max_length: options.max_length,
        })
    }

    /// A legacy draft's framing.
    #[cfg(feature = "drafts")]
    pub(super) fn hixie(draft: wsd_hixie::Draft, max_length: usize) -> Self {
        Self::Hixie(wsd_hixie::Decoder::new(draft, max_length))
    }

    /// The negotiated extensions; none for a draft.
    pub(super) fn pipeline(&self) -> Option<&Pipeline> {
        match self {
            Self::Rfc6455(rfc) => Some(&rfc.pipeline),
            #[cfg(feature = "drafts")]
            Self::Hixie(_) => None,
        }
    }

    /// See [`Connection::read_size`](super::Connection::read_size): drafts always
    /// read `usual`, RFC 6455 sizes the read from the frame being read.
    pub(super) fn read_size(&self, buffered: usize, usual: usize) -> usize {
        match self {
            Self::Rfc6455(rfc) => rfc.read_size(buffered, usual),
            #[cfg(feature = "drafts")]
            Self::Hixie(_) => usual,
        }
    }

    /// Decodes the next message, control frame or failure from the front of `input`;
    /// `None` when more input is needed.
    pub(super) fn receive(&mut self, input: &mut BytesMut) -> Option<Received> {
        match self {
            Self::Rfc6455(rfc) => rfc.receive(input),
            #[cfg(feature = "drafts")]
            Self::Hixie(decoder) => match decoder.decode(input) {
                Ok(Some(wsd_hixie::Frame::Text(text))) => Some(Received::Message(Message::Text(
                    Utf8Bytes::from_validated(text),
                ))),
                Ok(Some(wsd_hixie::Frame::Close)) => Some(Received::Close(None, String::new())),
                Ok(None) => None,
                Err(e) => {
                    let code = match e {
                        wsd_hixie::Error::InvalidUtf8 { .. } => CloseCode::INVALID_PAYLOAD,
                        wsd_hixie::Error::TextTooLong { .. }
                        | wsd_hixie::Error::FrameTooLong { .. } => CloseCode::MESSAGE_TOO_BIG,
                        _ => CloseCode::PROTOCOL_ERROR,
                    };
                    Some(Received::Failed(code, Error::Hixie(e)))
                }
            },
        }
    }

    /// True while part of a data message has arrived and the rest has not: a
    /// fragmented message, or a frame too long to be a control frame. Legacy drafts
    /// say false.
    pub(super) fn mid_message(&self) -> bool {
        match self {
            Self::Rfc6455(rfc) => {
                rfc.fragments.is_some()
                    || rfc.decoder.in_message()
                    || rfc.decoder.payload_len().is_some_and(|len| len > 125)
            }
            #[cfg(feature = "drafts")]
            Self::Hixie(_) => false,
        }
    }

    /// True for a legacy draft's framing.
    pub(super) fn is_draft(&self) -> bool {
        match self {
            Self::Rfc6455(_) => false,
            #[cfg(feature = "drafts")]
            Self::Hixie(_) => true,
        }
    }

    /// True when a borrowed payload can be framed straight into the output: RFC 6455
    /// with no extension to transform it. Then `send_text`/`send_binary` skip copying
    /// the caller's bytes into a `Message` first (one copy per message, not two).
    pub(super) fn takes_borrowed(&self) -> bool {
        matches!(self, Self::Rfc6455(rfc) if rfc.pipeline.is_empty())
    }

    /// Encodes a data message into `out` (`Connection::send` turns control messages
    /// into their commands before they get here). An extension's failure comes back as
    /// [`Error::Extension`], on which the connection must fail; a message the draft
    /// cannot carry as a usage error.
    pub(super) fn send(&mut self, message: Message, out: &mut Outbox) -> Result<(), Error> {
        match self {
            Self::Rfc6455(rfc) => rfc.send(message, out),
            #[cfg(feature = "drafts")]
            Self::Hixie(_) => match message {
                Message::Text(text) => {
                    let mut frame = Vec::with_capacity(text.len() + 2);
                    wsd_hixie::encode_text(text.as_str(), &mut frame);
                    out.queue.extend_from_slice(&frame);
                    Ok(())
                }
                _ => Err(Usage::NotSupportedByDraft("binary messages").into()),
            },
        }
    }

    /// Writes our close frame: RFC 6455's with `code` and `reason` (empty without a
    /// code, as the echo of an empty close), Hixie-76's `0xFF 0x00`, or nothing for
    /// Hixie-75, which has no closing handshake.
    pub(super) fn write_close(&self, code: Option<CloseCode>, reason: &str, out: &mut Outbox) {
        match self {
            Self::Rfc6455(_) => {
                let mut payload = Vec::with_capacity(2 + reason.len());
                if let Some(code) = code {
                    CloseFrame::encode_payload(code, reason, &mut payload);
                }
                out.write_frame(OpCode::Close, Rsv::NONE, &payload);
            }
            #[cfg(feature = "drafts")]
            Self::Hixie(decoder) if decoder.draft() == wsd_hixie::Draft::Hixie76 => {
                out.queue.extend_from_slice(&wsd_hixie::CLOSE_FRAME);
            }
            #[cfg(feature = "drafts")]
            Self::Hixie(_) => {}
        }
    }
}

impl Rfc6455 {
    /// See [`Framing::read_size`]: the rest of a large frame (the connection caps
    /// it by what its buffer holds), just the rest for the tail of a frame of at
    /// least half the usual size, else `usual`.
    fn read_size(&self, buffered: usize, usual: usize) -> usize {
        let rest = self.decoder.payload_remaining(buffered);
        match self.decoder.payload_len() {
            Some(len) if rest > 0 && rest < usual && len >= usual / 2 => rest,
            _ => usual.max(rest),
        }
    }

    /// See [`Framing::send`].
    fn send(&mut self, message: Message, out: &mut Outbox) -> Result<(), Error> {
        let opcode = if message.is_text() {
            OpCode::Text
        } else {
            OpCode::Binary
        };
        let data = message.into_data();
        if self.pipeline.is_empty() {
            out.write_data_frame(opcode, Rsv::NONE, data);
            return Ok(());
        }
        let encoded = self
            .pipeline
            .encode(ExtMessage {
                opcode,
                rsv: Rsv::NONE,
                data,
            })
            .map_err(Error::Extension)?;
        out.write_data_frame(encoded.opcode, encoded.rsv, encoded.data);
        Ok(())
    }

    fn receive(&mut self, input: &mut BytesMut) -> Option<Received> {
        loop {
            if input.is_empty() && self.decoder.payload_len().is_none() {
                // Between frames with nothing buffered, which is how every message
                // ends and every wait begins: nothing to decode.
                return None;
            }
            let frame = match self.decoder.decode(input) {
                Ok(Some(frame)) => frame,
                Ok(None) => return None,
                Err(e) => return Some(Received::Failed(e.close_code(), Error::Protocol(e))),
            };
            let received = match frame.opcode {
                OpCode::Text | OpCode::Binary | OpCode::Continuation => self.data(frame),
                OpCode::Ping => Some(Received::Ping(frame.payload.freeze())),
                OpCode::Pong => Some(Received::Pong(frame.payload.freeze())),
                OpCode::Close => Some(match CloseFrame::parse(&frame.payload) {
                    Ok(close) => Received::Close(close.code, close.reason.to_owned()),
                    Err(e) => Received::Failed(e.close_code(), Error::Protocol(e)),
                }),
            };
            // A fragment that does not finish its message gives nothing yet.
            if received.is_some() {
                return received;
            }
        }
    }

    /// Adds a data frame to its message; the message once it is whole.
    fn data(&mut self, frame: Frame) -> Option<Received> {
        if frame.fin && self.fragments.is_none() {
            // The common case: a whole message in one frame, no copy.
            return Some(self.deliver(frame.message_opcode, frame.rsv, frame.payload.freeze()));
        }
        let fragments = self.fragments.get_or_insert_with(|| Fragments {
            opcode: frame.message_opcode,
            rsv: frame.rsv,
            data: BytesMut::new(),
        });
        fragments.data.extend_from_slice(&frame.payload);
        if !frame.fin {
            return None;
        }
        let done = self.fragments.take()?;
        Some(self.deliver(done.opcode, done.rsv, done.data.freeze()))
    }

    /// Runs a whole message through the extensions.
    fn deliver(&mut self, opcode: OpCode, rsv: Rsv, data: Bytes) -> Received {
        let (opcode, data) = if rsv.is_empty() && self.pipeline.is_empty() {
            (opcode, data)
        } else {
            let decoded = match self
                .pipeline
                .decode(ExtMessage { opcode, rsv, data }, self.max_length)
            {
                Ok(decoded) => decoded,
                Err(e) => return Received::Failed(e.close_code(), Error::Extension(e)),
            };
            if decoded.data.len() > self.max_length {
                let limit = self.max_length;
                return Received::Failed(
                    CloseCode::MESSAGE_TOO_BIG,
                    Error::MessageTooLong { limit },
                );
            }
            // The frame decoder checked UTF-8 only for untransformed text.
            if decoded.opcode == OpCode::Text
                && !rsv.is_empty()
                && simdutf8::basic::from_utf8(&decoded.data).is_err()
            {
                return Received::Failed(CloseCode::INVALID_PAYLOAD, Error::InvalidUtf8);
            }
            (decoded.opcode, decoded.data)
        };
        Received::Message(if opcode == OpCode::Text {
            Message::Text(Utf8Bytes::from_validated(data))
        } else {
            Message::Binary(data)
        })
    }
}

/// What the connection does with what its framing decodes, and how it sends.
impl Connection {
    /// Reads one message, control frame or failure, once open or closing. A message,
    /// ping or pong comes back as its event at once: `poll_event` calls this only
    /// with no event queued, so handing it out directly keeps the order and saves
    /// the queue's round trip, once per message. Closes and failures queue their
    /// events as everything else does.
    pub(super) fn read_frame(&mut self) -> FrameRead {
        let Some(session) = self.state.session() else {
            return FrameRead::Nothing;
        };
        match session.framing.receive(&mut self.recv) {
            Some(received) => self.handle_received(received),
            None if self.end_if_eof() => FrameRead::Progressed,
            None => FrameRead::Nothing,
        }
    }

    fn handle_received(&mut self, received: Received) -> FrameRead {
        match received {
            Received::Message(message) => {
                self.note_data();
                FrameRead::Event(Event::Message(message))
            }
            Received::Ping(payload) => {
                // Also while closing: RFC 6455 section 5.5.2 asks for a pong until the
                // peer's close frame has arrived, and websocket-driver (Node) sends it.
                self.out.write_frame(OpCode::Pong, Rsv::NONE, &payload);
                FrameRead::Event(Event::Ping(payload))
            }
            Received::Pong(payload) => {
                let answers = self
                    .state
                    .session()
                    .and_then(|session| session.pings.answer(&payload));
                FrameRead::Event(Event::Pong { payload, answers })
            }
            Received::Close(code, reason) => {
                self.handle_peer_close(code, &reason);
                FrameRead::Progressed
            }
            Received::Failed(code, error) => {
                self.fail(code, error);
                FrameRead::Progressed
            }
        }
    }

    /// Sends a message on an open connection; an extension's failure fails it.
    pub(super) fn send_now(&mut self, message: Message) -> Result<(), Error> {
        let State::Open(session) = &mut self.state else {
            return Err(Usage::Closed.into());
        };
        let result = session.framing.send(message, &mut self.out);
        if result.is_ok() {
            session.liveness.note_data();
        }
        if let Err(Error::Extension(e)) = &result {
            self.fail(e.close_code(), Error::Extension(e.clone()));
        }
        result
    }

    /// Writes a ping and remembers it, once open.
    pub(super) fn write_ping(&mut self, id: PingId, payload: Bytes) {
        if let State::Open(session) = &mut self.state {
            self.out.write_frame(OpCode::Ping, Rsv::NONE, &payload);
            session.pings.sent(id, payload);
        }
    }

    /// True when `send_text`/`send_binary` can frame the caller's bytes straight
    /// into the output (see [`Framing::takes_borrowed`]).
    pub(super) fn takes_borrowed(&self) -> bool {
        matches!(&self.state, State::Open(session) if session.framing.takes_borrowed())
    }
}

/// What the commands that send control frames check first.
impl Connection {
    /// Fails for a draft, which has no such frames.
    pub(super) fn check_draft_supports(&self, what: &'static str) -> Result<(), Error> {
        if self.version.is_draft() {
            Err(Usage::NotSupportedByDraft(what).into())
        } else {
            Ok(())
        }
    }
}

/// Control frames carry at most 125 bytes (RFC 6455 section 5.5).
pub(super) fn check_control_len(len: usize) -> Result<(), Error> {
    if len > 125 {
        Err(Usage::ControlPayloadTooLong(len).into())
    } else {
        Ok(())
    }
}

/// Everything we send goes through here: the output queue, and for a client the
/// random source of masking keys (servers never mask).
#[derive(Debug)]
pub(super) struct Outbox {
    /// Output not taken by the adapter yet.
    pub(super) queue: Output,
    masks: Option<Box<StdRng>>,
}

impl Outbox {
    /// An empty outbox; `masks` for a client.
    pub(super) fn new(masks: Option<StdRng>) -> Self {
        Self {
            queue: Output::default(),
            masks: masks.map(Box::new),
        }
    }

    /// Fills `bytes` from the client's random source (a handshake key); a server has
    /// none and leaves them as they are.
    pub(super) fn fill_random(&mut self, bytes: &mut [u8]) {
        if let Some(rng) = self.masks.as_mut() {
            rng.fill_bytes(bytes);
        }
    }

    /// Appends one frame, masked with a fresh key by a client.
    pub(super) fn write_frame(&mut self, opcode: OpCode, rsv: Rsv, payload: &[u8]) {
        let mask = self.masks.as_mut().map(|rng| {
            let mut key = [0u8; 4];
            rng.fill_bytes(&mut key);
            key
        });
        encode_frame(true, opcode, rsv, payload, mask, self.queue.tail());
    }

    /// Appends one data frame whose payload the application handed over: a server
    /// queues a large payload by reference (no copy); a client masks a copy.
    pub(super) fn write_data_frame(&mut self, opcode: OpCode, rsv: Rsv, payload: Bytes) {
        if self.masks.is_some() || payload.len() < BY_REFERENCE_FROM {
            self.write_frame(opcode, rsv, &payload);
            return;
        }
        let header = FrameHeader {
            fin: true,
            rsv,
            opcode,
            mask: None,
            payload_len: payload.len() as u64,
        };
        let (encoded, len) = header.encode();
        self.queue.extend_from_slice(&encoded[..len]);
        self.queue.push_bytes(payload);
    }
}
