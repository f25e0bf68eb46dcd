//! permessage-deflate (RFC 7692) for the wsd extensions framework.
//!
//! [`PerMessageDeflate`] is an [`Extension`](wsd_extensions::Extension) that owns
//! RSV1. Register it with [`Extensions`](wsd_extensions::Extensions); configure it
//! with [`DeflateConfig`]. Compression is zlib's raw deflate, in pure Rust by
//! zlib-rs: the compressor through zlib-rs's own safe API, which takes every
//! parameter of zlib's `deflateInit2` (flate2 passes only a level and a window), the
//! decompressor through flate2 over the same zlib-rs.
//!
//! # Parameters
//!
//! The configuration speaks of this endpoint ("own" compressor, the "peer's"), so one
//! configuration fits both roles:
//!
//! | [`DeflateConfig`] | as a client | as a server |
//! |---|---|---|
//! | [`no_context_takeover`](DeflateConfig::no_context_takeover) | offers `client_no_context_takeover` | answers `server_no_context_takeover` |
//! | [`max_window_bits`](DeflateConfig::max_window_bits) | offers `client_max_window_bits=N` (bare when unset) | caps its own window; answers `server_max_window_bits` only if the client asked |
//! | [`request_no_context_takeover`](DeflateConfig::request_no_context_takeover) | offers `server_no_context_takeover`, fails if not granted | answers `client_no_context_takeover` |
//! | [`request_max_window_bits`](DeflateConfig::request_max_window_bits) | offers `server_max_window_bits=N`, fails if not granted | answers `client_max_window_bits` if the client offered it |
//! | [`accept_no_context_takeover`](DeflateConfig::accept_no_context_takeover) | fails on `client_no_context_takeover` when off | skips offers with `server_no_context_takeover` when off |
//! | [`min_window_bits`](DeflateConfig::min_window_bits) | fails on a smaller `client_max_window_bits` | skips offers with a smaller `server_max_window_bits` |
//!
//! Besides these, [`level`](DeflateConfig::level) (0-9, default 6),
//! [`mem_level`](DeflateConfig::mem_level) (1-9, default 8) and
//! [`strategy`](DeflateConfig::strategy) ([`Strategy`]) tune our own compressor as
//! the options of the same names in `permessage-deflate` (Node) do. They are not
//! negotiated: any setting makes streams every peer inflates.
//!
//! The defaults follow common practice: a client offers
//! `permessage-deflate; client_max_window_bits`, and a server accepts whatever the
//! client asks of it. A server answers the first valid offer and declines the
//! extension when none is valid. Parameters are valid when they are the four of RFC
//! 7692, none repeated, the flags bare, window sizes decimal 8 to 15 (a bare
//! `client_max_window_bits` only in an offer).
//!
//! **Several offers.** [`PerMessageDeflate::with_alternative`] adds configurations:
//! a client offers one `permessage-deflate` for each, in order of preference
//! (RFC 7692 section 5), and accepts a response that fits any of them. The response
//! does not name the offer it answers, so the client keeps the strictest promise of
//! the offers it fits: `client_no_context_takeover` in a fitting offer binds it even
//! when the server does not echo it (section 7.1.1.2). A server answers the client's
//! offers in order, each with the first configuration that accepts it.
//!
//! **Window size 8.** zlib (and zlib-rs) cannot make raw deflate streams with a
//! 256-byte window, so a negotiated 8 is used as 9, as every zlib-based
//! implementation does. Peers built on zlib decode such streams, since their own
//! inflater uses at least 9 as well.
//!
//! # Data path
//!
//! Every outgoing data message is compressed with a sync flush, the trailing
//! `00 00 FF FF` removed (an empty message becomes `00`), and RSV1 set. Incoming
//! messages with RSV1 are inflated with the tail appended; those without it pass
//! through untouched. With context takeover one compressor and one decompressor live
//! as long as the connection; without it they are created for each message and
//! dropped after it. Inflating stops as soon as the output would exceed `max_length`
//! (close code 1009), never holding more than `max_length + 1` output bytes; corrupt
//! input fails with 1007.
//!
//! # Memory per connection
//!
//! Following zlib's formulas with memLevel 8, a compressor with a `2^w`-byte window
//! holds about `2^(w+2)` bytes plus about 128 KiB of hash and symbol buffers (about
//! 256 KiB at `w` = 15), and a decompressor about `2^w` bytes plus 7 KiB (about
//! 39 KiB at 15). With context takeover both stay allocated between messages; without
//! it (`no_context_takeover` for the compressor, `request_no_context_takeover` for
//! the decompressor) nothing is held between messages. Smaller windows
//! (`max_window_bits`, `request_max_window_bits`) shrink the window terms.
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//! use wsd_deflate::{DeflateConfig, PerMessageDeflate};
//! use wsd_extensions::{Extensions, Message};
//! use wsd_frame::{OpCode, Rsv};
//!
//! let mut client = Extensions::new();
//! client.add(Arc::new(PerMessageDeflate::new())).unwrap();
//! let mut server = Extensions::new();
//! server.add(Arc::new(DeflateConfig::new().request_max_window_bits(10).build().unwrap())).unwrap();
//!
//! let offer = client.client_offer_header();
//! assert_eq!(offer.as_deref(), Some("permessage-deflate; client_max_window_bits"));
//! let (response, mut server_pipeline) = server.server_negotiate(offer.as_deref()).unwrap();
//! assert_eq!(response.as_deref(), Some("permessage-deflate; client_max_window_bits=10"));
//! let mut client_pipeline = client.client_activate(response.as_deref()).unwrap();
//!
//! // RFC 7692 section 7.2.3.1: "Hello" compressed.
//! let sent = client_pipeline.encode(Message::new(OpCode::Text, "Hello")).unwrap();
//! assert_eq!((sent.rsv, &sent.data[..]), (Rsv::RSV1, &[0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00][..]));
//! let received = server_pipeline.decode(sent, 1 << 20).unwrap();
//! assert_eq!(received.data, "Hello");
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations)]

mod codec;
mod negotiate;

pub use codec::Strategy;
pub use negotiate::{DeflateConfig, DeflateError, NAME, PerMessageDeflate};
