//! The `Sec-WebSocket-Extensions` negotiation framework (RFC 6455 section 9).
//!
//! - the header grammar: [`parse_header`] and [`serialize_header`] over
//!   [`ExtensionOffer`]s and their ordered [`Params`];
//! - the traits an extension implements: [`Extension`], a factory registered once
//!   that negotiates in both roles, and [`Session`], one connection's state, which
//!   transforms whole [`Message`]s and owns RSV bits;
//! - [`Extensions`], the registry that writes the client's offer, picks among
//!   offers on the server, checks the server's answer on the client, and builds a
//!   [`Pipeline`] of active sessions for the driver.
//!
//! The driver (`wsd-core`) reassembles fragments before decoding and checks the wire
//! size; [`Pipeline::decode`] bounds the decoded size. Control frames never pass
//! through extensions. Errors: [`NegotiationError`] fails the opening handshake,
//! [`ExtensionError`] carries the close code that fails an open connection, and
//! [`RegistryError`] reports a setup mistake.
//!
//! # Example: a toy extension, negotiated from both ends
//!
//! `x-reverse` uses RSV2 and sends every message's bytes reversed.
//!
//! ```
//! use std::sync::Arc;
//! use wsd_extensions::{Extension, ExtensionError, Extensions, Message, NegotiationError, Params, Session};
//! use wsd_frame::{OpCode, Rsv};
//!
//! #[derive(Debug)]
//! struct Reverse;
//!
//! #[derive(Debug)]
//! struct ReverseSession;
//!
//! impl Extension for Reverse {
//!     fn name(&self) -> &str {
//!         "x-reverse"
//!     }
//!     fn rsv(&self) -> Rsv {
//!         Rsv::RSV2
//!     }
//!     fn client_offers(&self) -> Vec<Params> {
//!         vec![Params::new()]
//!     }
//!     fn client_activate(&self, response: &Params) -> Result<Box<dyn Session>, NegotiationError> {
//!         if !response.is_empty() {
//!             return Err(NegotiationError::rejected(self.name(), response, "takes no parameters"));
//!         }
//!         Ok(Box::new(ReverseSession))
//!     }
//!     fn server_accept(&self, offers: &[Params]) -> Result<Option<(Params, Box<dyn Session>)>, NegotiationError> {
//!         // Accept the first offer without parameters; decline otherwise.
//!         Ok(offers.iter().any(Params::is_empty).then(|| (Params::new(), Box::new(ReverseSession) as Box<dyn Session>)))
//!     }
//! }
//!
//! impl Session for ReverseSession {
//!     fn decode(&mut self, message: Message, max_length: usize) -> Result<Message, ExtensionError> {
//!         if !message.rsv.contains(Rsv::RSV2) {
//!             return Ok(message); // not ours: pass through
//!         }
//!         if message.data.len() > max_length {
//!             return Err(ExtensionError::too_big("message too long"));
//!         }
//!         let data: Vec<u8> = message.data.iter().rev().copied().collect();
//!         Ok(Message { opcode: message.opcode, rsv: message.rsv.difference(Rsv::RSV2), data: data.into() })
//!     }
//!     fn encode(&mut self, message: Message) -> Result<Message, ExtensionError> {
//!         let data: Vec<u8> = message.data.iter().rev().copied().collect();
//!         Ok(Message { opcode: message.opcode, rsv: message.rsv | Rsv::RSV2, data: data.into() })
//!     }
//! }
//!
//! let mut extensions = Extensions::new();
//! extensions.add(Arc::new(Reverse)).unwrap();
//!
//! // The client offers, the server answers, the client activates the answer.
//! let offer = extensions.client_offer_header();
//! assert_eq!(offer.as_deref(), Some("x-reverse"));
//! let (response, mut server) = extensions.server_negotiate(offer.as_deref()).unwrap();
//! assert_eq!(response.as_deref(), Some("x-reverse"));
//! let mut client = extensions.client_activate(response.as_deref()).unwrap();
//! assert_eq!(client.rsv(), Rsv::RSV2); // the frame decoder now allows RSV2
//!
//! // A message goes out reversed with RSV2 set, and comes in restored.
//! let sent = client.encode(Message::new(OpCode::Text, "hello")).unwrap();
//! assert_eq!((sent.rsv, &sent.data[..]), (Rsv::RSV2, &b"olleh"[..]));
//! let received = server.decode(sent, 1024).unwrap();
//! assert_eq!((received.rsv, &received.data[..]), (Rsv::NONE, &b"hello"[..]));
//!
//! // A response for something never offered fails the client's handshake.
//! assert!(extensions.client_activate(Some("x-unknown")).is_err());
//! ```
#![forbid(unsafe_code)]
// Nothing derived from network input may panic: no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs, missing_debug_implementations)]

mod error;
mod extension;
mod header;
mod registry;

pub use error::{ExtensionError, NegotiationError, RegistryError};
pub use extension::{Extension, Message, Session};
pub use header::{
    ExtensionOffer, HeaderError, HeaderErrorKind, Params, is_token, parse_header, serialize_header,
};
pub use registry::{Extensions, Pipeline};
/// The frame types an extension's [`Message`] carries.
pub use wsd_frame::{OpCode, Rsv};
