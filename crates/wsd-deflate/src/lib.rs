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
//! What a server with many deflate connections pays, measured with zlib-rs 0.6.8 on
//! x86-64 (the command below prints these tables and checks their trends). One
//! connection, after it received and sent one 16 KiB JSON-like message, with context
//! takeover both ways unless the row says otherwise; sizes in KiB. The ratio is the
//! compressed size of a 256 KiB stream of JSON batch messages (0.2 to 2.5 KiB each,
//! keys repeating, values mostly not) as a share of its raw size; the cost is how
//! much larger that output is than with the defaults. The window is the one our
//! compressor uses: [`max_window_bits`](DeflateConfig::max_window_bits), or less if
//! the peer asks.
//!
//! | setting | compressor | decompressor | per connection | stream ratio | cost | one 16 KiB message |
//! |---|---:|---:|---:|---:|---:|---:|
//! | window 15, memLevel 8 (default) | 371.1 | 46.9 | 418.0 | 17.2% | +0.0% | 17.5% |
//! | window 15, memLevel 3 | 262.6 | 46.9 | 309.5 | 17.2% | +0.0% | 17.6% |
//! | window 13, memLevel 3 | 166.6 | 46.9 | 213.5 | 17.8% | +3.7% | 17.5% |
//! | window 12, memLevel 8 | 259.1 | 46.9 | 306.0 | 18.6% | +8.3% | 17.5% |
//! | window 12, memLevel 3 | 150.6 | 46.9 | 197.5 | 18.6% | +8.3% | 18.0% |
//! | window 10, memLevel 4 | 142.1 | 46.9 | 189.0 | 24.9% | +45.1% | 21.3% |
//! | window 9, memLevel 1 | 134.0 | 46.9 | 180.9 | 34.1% | +98.8% | 32.5% |
//! | window 15, `no_context_takeover` | 0.0 | 46.9 | 46.9 | 32.6% | +90.2% | 17.5% |
//! | window 15, no context takeover either way | 0.0 | 0.5 | 0.5 | 32.6% | +90.2% | 17.5% |
//! | window 10, `no_context_takeover` | 0.0 | 46.9 | 46.9 | 33.1% | +92.6% | 20.5% |
//! | window 10, no context takeover either way | 0.0 | 0.5 | 0.5 | 33.1% | +92.6% | 20.5% |
//!
//! Per connection with context takeover, by window (rows) and memLevel (columns):
//!
//! | window \ memLevel | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |
//! |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
//! | 8 or 9 | 180.9 | 181.8 | 183.5 | 187.0 | 194.0 | 208.0 | 236.0 | 292.0 | 404.0 |
//! | 10 | 182.9 | 183.8 | 185.5 | 189.0 | 196.0 | 210.0 | 238.0 | 294.0 | 406.0 |
//! | 11 | 186.9 | 187.8 | 189.5 | 193.0 | 200.0 | 214.0 | 242.0 | 298.0 | 410.0 |
//! | 12 | 194.9 | 195.8 | 197.5 | 201.0 | 208.0 | 222.0 | 250.0 | 306.0 | 418.0 |
//! | 13 | 210.9 | 211.8 | 213.5 | 217.0 | 224.0 | 238.0 | 266.0 | 322.0 | 434.0 |
//! | 14 | 242.9 | 243.8 | 245.5 | 249.0 | 256.0 | 270.0 | 298.0 | 354.0 | 466.0 |
//! | 15 | 306.9 | 307.8 | 309.5 | 313.0 | 320.0 | 334.0 | 362.0 | 418.0 | 530.0 |
//!
//! Stream ratio (%), same grid:
//!
//! | window \ memLevel | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |
//! |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
//! | 8 or 9 | 34.1 | 31.3 | 29.6 | 29.1 | 29.1 | 29.1 | 29.1 | 29.1 | 29.1 |
//! | 10 | 28.0 | 26.0 | 24.9 | 24.9 | 24.9 | 24.9 | 24.9 | 24.9 | 24.9 |
//! | 11 | 22.6 | 21.3 | 20.7 | 20.7 | 20.7 | 20.7 | 20.7 | 20.7 | 20.7 |
//! | 12 | 19.9 | 18.8 | 18.6 | 18.6 | 18.6 | 18.6 | 18.6 | 18.6 | 18.6 |
//! | 13 | 18.7 | 17.8 | 17.8 | 17.8 | 17.8 | 17.8 | 17.8 | 17.8 | 17.8 |
//! | 14 | 18.3 | 17.5 | 17.5 | 17.5 | 17.5 | 17.5 | 17.5 | 17.5 | 17.5 |
//! | 15 | 17.7 | 17.2 | 17.2 | 17.2 | 17.2 | 17.2 | 17.2 | 17.2 | 17.2 |
//!
//! Where the bytes go:
//!
//! - **The compressor**: a hash table of 128 KiB at every memLevel (zlib sizes it by
//!   memLevel, `2^(memLevel + 8)` bytes; zlib-rs keeps zlib-ng's fixed one),
//!   `4 * 2^window` bytes of window and match chains, `7 * 2^(memLevel + 6)` bytes
//!   of symbol buffers (112 KiB at memLevel 8, 3.5 KiB at 3), and about 3 KiB of
//!   state.
//! - **The decompressor**: 46.9 KiB at every window, since zlib-rs always allocates
//!   a 32 KiB window and about 14 KiB of state (the column includes the 0.5 KiB the
//!   session and pipeline take). So
//!   [`request_max_window_bits`](DeflateConfig::request_max_window_bits) saves the
//!   peer's compressor memory, and compression, but none of ours.
//! - **Without context takeover** ([`no_context_takeover`](DeflateConfig::no_context_takeover)
//!   for our compressor, [`request_no_context_takeover`](DeflateConfig::request_no_context_takeover)
//!   for our decompressor) nothing is kept between messages; each message
//!   allocates and frees the same amounts while it is processed.
//!
//! What to choose:
//!
//! - No setting holds at most 64 KiB per connection at a cost of at most 10%. Any
//!   kept compressor holds at least 134 KiB; only dropping it after each message
//!   fits, and that makes this stream of small messages about 90% larger.
//! - memLevel 3 saves 108 KiB per connection at any window, and from window 10 up
//!   cost nothing on this stream, whose messages are short; larger messages lose a
//!   little (17.6% against 17.5% for the 16 KiB one at window 15). memLevel 1 costs
//!   compression at every window, 2 below window 13.
//! - Window 13 with memLevel 3 holds half the default (213.5 KiB) for 3.7% larger
//!   output: `DeflateConfig::new().max_window_bits(13).mem_level(3)`.
//!
//! The figures depend on zlib-rs's version and on the data; measure again with
//!
//! ```text
//! cargo test -p wsd-deflate --release --test memory_table -- --nocapture
//! ```
//!
//! (the debug profile gives the same figures, more slowly).
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
// Nothing derived from network input may panic: no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs, missing_debug_implementations)]

mod codec;
mod negotiate;

pub use codec::Strategy;
pub use negotiate::{DeflateConfig, DeflateError, NAME, PerMessageDeflate};
