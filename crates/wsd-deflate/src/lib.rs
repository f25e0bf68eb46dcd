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
//! | [`max_window_bits`](DeflateConfig::max_window_bits) | offers `client_max_window_bits=N` (bare when unset) | caps its own window (13 when unset); answers `server_max_window_bits` only if the client asked |
//! | [`request_no_context_takeover`](DeflateConfig::request_no_context_takeover) | offers `server_no_context_takeover`, fails if not granted | answers `client_no_context_takeover` |
//! | [`request_max_window_bits`](DeflateConfig::request_max_window_bits) | offers `server_max_window_bits=N`, fails if not granted | answers `client_max_window_bits=N` (13 when unset) if the client offered it |
//! | [`accept_no_context_takeover`](DeflateConfig::accept_no_context_takeover) | fails on `client_no_context_takeover` when off | skips offers with `server_no_context_takeover` when off |
//! | [`min_window_bits`](DeflateConfig::min_window_bits) | fails on a smaller `client_max_window_bits` | skips offers with a smaller `server_max_window_bits` |
//!
//! Besides these, [`level`](DeflateConfig::level) (0-9, default 6),
//! [`mem_level`](DeflateConfig::mem_level) (1-9, default 8) and
//! [`strategy`](DeflateConfig::strategy) ([`Strategy`]) tune our own compressor as
//! the options of the same names in `permessage-deflate` (Node) do. They are not
//! negotiated: any setting makes streams every peer inflates.
//! [`hold_streams`](DeflateConfig::hold_streams) trades memory for CPU (see
//! [Memory per connection](#memory-per-connection)).
//!
//! The defaults: a client offers `permessage-deflate; client_max_window_bits` and
//! accepts whatever window the server asks of it. A server compresses with an 8 KiB
//! window (13 bits) and asks the same of a client that offered
//! `client_max_window_bits` (browsers and the common libraries do), and accepts any
//! smaller window the client asks of it. A server answers the first valid offer and declines the
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
//! through untouched. Inflating stops as soon as the output would exceed
//! `max_length` (close code 1009), never holding more than `max_length + 1` output
//! bytes; corrupt input fails with 1007.
//!
//! A message borrows its compressor or decompressor from one pool for the whole
//! process, and gives it back after. With context takeover a connection keeps,
//! between messages, the last `2^window` bytes it sent and the last `2^window` bytes
//! it received: all a deflate stream can refer back to. A connection gets back the
//! stream it used last if no other connection took it since, and goes on with it as
//! if it had held it. The pool makes up to 8 streams of each kind before a
//! connection has to take one another connection used last; such a stream is reset
//! and primed with the connection's window (zlib's `deflateSetDictionary` /
//! `inflateSetDictionary`), and the output is the same as a held stream's while
//! what the connection sent fits the window, and within 1% otherwise. So up to 8
//! connections trading messages in turn cost no more CPU than held streams; more
//! pay for priming (see below). At most 8 streams of each kind wait idle, least
//! recently used dropped first. Without context takeover nothing is kept between
//! messages: each message is compressed as a stream of its own, ended with a full
//! flush (which forgets the history, as a reset does), so the stream goes back to
//! the pool ready for any connection's next message without a reset; and a message
//! under 4,095 bytes gets a stream of memLevel 6 (see
//! [`mem_level`](DeflateConfig::mem_level)). [`hold_streams`](DeflateConfig::hold_streams)
//! gives each connection streams of its own instead.
//!
//! # Memory per connection
//!
//! What a server with many deflate connections pays, measured with zlib-rs 0.6.8 on
//! x86-64 by the command at the end of this section, which prints these tables and
//! checks their claims. One server connection after it received and sent one
//! 16 KiB JSON-like message, with context takeover both ways and window N both
//! ways; sizes in KiB, heap bytes counted by the allocator.
//!
//! - **between messages**: what the connection keeps, that is its two windows
//!   (filled up to 16 KiB each by the one message) and 0.6 KiB of session;
//!   **windows full**: the same once more has passed;
//! - **lent compressor**, **lent decompressor**: the streams a message borrows
//!   while it is compressed or inflated (at memLevel 8), which return to the pool;
//! - **streams held**: the connection with
//!   [`hold_streams`](DeflateConfig::hold_streams), as before this crate pooled
//!   streams;
//! - the ratio: compressed size as a share of the raw size, and in brackets how much
//!   larger than at window 15: a stream of JSON batch messages (256 KiB of 0.2 to
//!   2.5 KiB messages, keys repeating, values mostly not), 64 messages of 1 KiB and
//!   4 of 64 KiB.
//!
//! | window | between messages | windows full | lent compressor | lent decompressor | streams held | JSON batches | 1 KiB messages | 64 KiB messages |
//! |---|---:|---:|---:|---:|---:|---:|---:|---:|
//! | 8 or 9 | 1.6 | 1.6 | 245.1 | 47.0 | 292.1 | 29.1% (+69.4%) | 35.5% (+98.5%) | 24.3% (+59.6%) |
//! | 10 | 2.6 | 2.6 | 247.1 | 47.0 | 294.1 | 24.9% (+45.1%) | 26.4% (+47.8%) | 19.3% (+27.3%) |
//! | 11 | 4.6 | 4.6 | 251.1 | 47.0 | 298.1 | 20.7% (+20.8%) | 20.8% (+16.6%) | 16.9% (+11.4%) |
//! | 12 | 8.6 | 8.6 | 259.1 | 47.0 | 306.1 | 18.6% (+8.3%) | 18.7% (+4.7%) | 15.5% (+2.0%) |
//! | **13 (server default)** | 16.6 | 16.6 | 275.1 | 47.0 | 322.1 | 17.8% (+3.7%) | 18.0% (+0.9%) | 15.2% (-0.2%) |
//! | 14 | 32.6 | 32.6 | 307.1 | 47.0 | 354.1 | 17.5% (+2.2%) | 18.0% (+0.9%) | 15.3% (+0.4%) |
//! | 15 | 32.6 | 64.6 | 371.1 | 47.0 | 418.1 | 17.2% | 17.9% | 15.2% |
//!
//! A default server with a default client (`client_max_window_bits=13` granted)
//! keeps 16.6 KiB per connection; with a client that offers no
//! `client_max_window_bits`, and so may use 32 KiB, 40.6 KiB. The pool adds one
//! compressor and one decompressor per message being processed at the same moment
//! (322 KiB at the defaults), at most 8 of each while idle: about 2.6 MiB for the
//! whole process, whatever the number of connections.
//!
//! In a whole server: `wsd serve --deflate` with 400 clients (python `websockets`,
//! which offer `client_max_window_bits`), each of which sent one 16 KiB JSON text,
//! got the echo and stayed open, grew by 30.4 KiB of RSS per connection, against
//! 7.4 KiB without deflate and 368.6 KiB when each connection held its own streams
//! at window 15.
//!
//! The memLevel changes nothing a connection keeps between messages, only the lent
//! compressor: `2^(memLevel + 6)` symbols of 7 bytes (112 KiB at 8, 3.5 KiB at 3) on
//! top of a 128 KiB hash table that zlib-rs, unlike zlib, does not size by memLevel,
//! `4 * 2^window` bytes of window and match chains and about 3 KiB of state. The
//! decompressor is 47 KiB at every window: zlib-rs always allocates a 32 KiB window.
//! With streams held the memLevel counts for every connection:
//!
//! | window \ memLevel | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 |
//! |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
//! | 8 or 9 | 181.0 | 181.9 | 183.6 | 187.1 | 194.1 | 208.1 | 236.1 | 292.1 | 404.1 |
//! | 10 | 183.0 | 183.9 | 185.6 | 189.1 | 196.1 | 210.1 | 238.1 | 294.1 | 406.1 |
//! | 11 | 187.0 | 187.9 | 189.6 | 193.1 | 200.1 | 214.1 | 242.1 | 298.1 | 410.1 |
//! | 12 | 195.0 | 195.9 | 197.6 | 201.1 | 208.1 | 222.1 | 250.1 | 306.1 | 418.1 |
//! | 13 | 211.0 | 211.9 | 213.6 | 217.1 | 224.1 | 238.1 | 266.1 | 322.1 | 434.1 |
//! | 14 | 243.0 | 243.9 | 245.6 | 249.1 | 256.1 | 270.1 | 298.1 | 354.1 | 466.1 |
//! | 15 | 307.0 | 307.9 | 309.6 | 313.1 | 320.1 | 334.1 | 362.1 | 418.1 | 530.1 |
//!
//! and costs compression only at memLevel 1 and 2 (JSON batches, % of the raw size):
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
//! What lending costs in CPU, in instructions per message counted by callgrind
//! (`examples/per_message.rs`, whose documentation gives the commands), JSON-like
//! text, context takeover. "In turn" deals the messages to that many connections of
//! one server one after the other, the case where streams move between
//! connections; with 16 of them every message resets and primes a stream.
//!
//! | setting | compress 1 KiB | compress 64 KiB | inflate 1 KiB | inflate 64 KiB |
//! |---|---:|---:|---:|---:|
//! | streams held, window 15, one connection (this crate before the pool) | 163.9k | 4.24M | 23.3k | 568k |
//! | window 13, one connection | 161.7k | 4.04M | 24.6k | 551k |
//! | window 13, 8 connections in turn | 164.2k | | | |
//! | window 13, 16 connections in turn | 473.0k | 4.33M | 28.9k | 610k |
//! | window 13, 16 in turn, `hold_streams` | 168.0k | 4.11M | 25.2k | 597k |
//! | window 15, 16 connections in turn | 747.1k | 4.91M | 51.4k | 660k |
//! | window 15, 16 in turn, `hold_streams` | 171.9k | 4.33M | 24.7k | 588k |
//!
//! Priming costs what inserting the window into the hash table costs (about 11
//! instructions a byte: 90k at window 13, 360k at 15), plus the reset, which clears
//! zlib-rs's 128 KiB hash table; callgrind counts that clear, a `rep stosb`, as one
//! instruction a byte (131k), while the hardware does it in a few thousand cycles.
//! So a server whose many connections each send small messages pays up to about
//! three times the compression CPU of held streams at the default window 13, and
//! should choose [`hold_streams`](DeflateConfig::hold_streams) if that matters more
//! than 300 KiB per connection; large messages pay a few percent.
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
