//! The two traits an extension implements, and the message they transform.

use bytes::Bytes;
use wsd_frame::{OpCode, Rsv};

use crate::error::{ExtensionError, NegotiationError};
use crate::header::Params;

/// A whole data message as extensions see it: the driver has reassembled the
/// fragments (the RSV bits are those of the first frame) and checked the wire size.
/// Control frames never pass through extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// [`OpCode::Text`] or [`OpCode::Binary`].
    pub opcode: OpCode,
    /// The reserved bits: on decode as received, on encode as set by earlier stages.
    pub rsv: Rsv,
    /// The payload.
    pub data: Bytes,
}

impl Message {
    /// A message with no RSV bit set.
    ///
    /// ```
    /// # use wsd_extensions::Message;
    /// # use wsd_frame::{OpCode, Rsv};
    /// let message = Message::new(OpCode::Text, "hi");
    /// assert_eq!((message.rsv, &message.data[..]), (Rsv::NONE, &b"hi"[..]));
    /// ```
    pub fn new(opcode: OpCode, data: impl Into<Bytes>) -> Self {
        Self {
            opcode,
            rsv: Rsv::NONE,
            data: data.into(),
        }
    }
}

/// A registered extension: a factory for per-connection [`Session`]s, in both roles.
///
/// The shape follows python-websockets' client and server factories
/// (`extensions/base.py`) and websocket-extensions (Node): the client offers
/// parameters and activates on the server's answer; the server picks among the
/// client's offers and answers.
pub trait Extension: Send + Sync + core::fmt::Debug {
    /// The name in the header, a token (`permessage-deflate`).
    fn name(&self) -> &str;

    /// The RSV bits this extension may set on messages. The registry gives each bit
    /// to at most one active extension.
    fn rsv(&self) -> Rsv;

    /// Client side: the parameter sets to offer, in order of preference (several
    /// offers of one extension are alternatives). Empty: do not offer it.
    fn client_offers(&self) -> Vec<Params>;

    /// Client side: the server accepted an offer with `response`; check it against
    /// what was offered and build the session, or refuse with
    /// [`NegotiationError::rejected`] (which fails the handshake).
    fn client_activate(&self, response: &Params) -> Result<Box<dyn Session>, NegotiationError>;

    /// Server side: the client offered this extension with `offers` (header order,
    /// at least one). Answer with the response parameters and a session,
    /// `Ok(None)` to decline (the connection goes on without this extension), or an
    /// error to fail the handshake.
    #[allow(clippy::type_complexity)] // the shape the driver calls; a type alias would hide it
    fn server_accept(
        &self,
        offers: &[Params],
    ) -> Result<Option<(Params, Box<dyn Session>)>, NegotiationError>;
}

/// One connection's state of one negotiated extension.
pub trait Session: Send + core::fmt::Debug {
    /// Transforms an incoming message. `max_length` bounds the output: a session whose
    /// output would exceed it fails with [`ExtensionError::too_big`] (1009), detected
    /// without allocating past the limit. Corrupt input is
    /// [`ExtensionError::invalid_data`] (1007). A session clears the RSV bits it
    /// handled and passes messages that do not carry them untouched.
    fn decode(&mut self, message: Message, max_length: usize) -> Result<Message, ExtensionError>;

    /// Transforms an outgoing message, setting the session's own RSV bits if it
    /// changed the data.
    fn encode(&mut self, message: Message) -> Result<Message, ExtensionError>;
}
