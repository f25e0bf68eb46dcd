//! Sans-I/O WebSocket opening handshakes: the HTTP/1.1 upgrade for servers and clients (RFC 6455 §4),
//! the extended `CONNECT` of HTTP/2 and HTTP/3 (RFC 8441, RFC 9220), and the HTTP `CONNECT` exchange
//! for proxies.
//!
//! Nothing here does I/O, reads a clock or draws random numbers. Parsers take the bytes the caller has
//! buffered so far and answer [`Status::Partial`] (need more), [`Status::Complete`] with the number of
//! bytes the head used (the rest belongs to the next layer), or an [`Error`]; heads are bounded by
//! [`Limits`]. Writers append to a caller's `Vec<u8>`. The client's key bytes come from the caller.
//!
//! # Server
//!
//! ```
//! use wsd_handshake::{HeaderList, Limits, Request, Status, server};
//!
//! let input = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
//!     Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
//!     Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n";
//! let (request, consumed) = match Request::parse(input, &Limits::default())? {
//!     Status::Complete(done) => done,
//!     Status::Partial => return Ok(()), // read more and call again
//! };
//! assert_eq!(server::detect_version(&request), server::Draft::Rfc6455);
//! let mut out = Vec::new();
//! match server::negotiate(&request, &["chat"]) {
//!     Ok(accepted) => accepted.write_response(&HeaderList::new(), None, &mut out)?,
//!     Err(rejection) => rejection.write_response(&mut out),
//! }
//! assert!(out.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
//! // input[consumed..] holds the first frames.
//! assert_eq!(consumed, input.len());
//! # Ok::<(), wsd_handshake::Error>(())
//! ```
//!
//! # Client
//!
//! ```
//! use url::Url;
//! use wsd_handshake::{ClientHandshake, ClientOptions, Limits, Response, Status};
//!
//! let url = Url::parse("wss://example.com/chat").unwrap();
//! let key = *b"0123456789abcdef"; // use 16 bytes from a secure RNG
//! let options = ClientOptions { protocols: vec!["chat".into()], ..ClientOptions::default() };
//! let handshake = ClientHandshake::new(&url, key, options)?;
//! let mut out = Vec::new();
//! handshake.write_request(&mut out);
//! assert!(out.starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com\r\n"));
//!
//! let mut reply = format!(
//!     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
//!      Sec-WebSocket-Accept: {}\r\nSec-WebSocket-Protocol: chat\r\n\r\n",
//!     handshake.expected_accept()
//! )
//! .into_bytes();
//! reply.extend_from_slice(b"\x81\x00"); // an empty text frame in the same read
//! let Status::Complete((response, consumed)) = Response::parse(&reply, &Limits::default())?
//! else {
//!     unreachable!("the whole head is there");
//! };
//! let negotiated = handshake.validate(&response)?;
//! assert_eq!(negotiated.protocol.as_deref(), Some("chat"));
//! assert_eq!(&reply[consumed..], b"\x81\x00"); // for the frame parser
//! # Ok::<(), wsd_handshake::Error>(())
//! ```
//!
//! # With your own HTTP stack (feature `http`)
//!
//! A server or client whose HTTP stack (hyper, axum, ...) parses and writes the heads converts its
//! `http` crate types instead of bytes: `Request::try_from(&http_request)`, [`server::upgrade`] (or
//! [`server::negotiate`] then [`Accepted::switching_protocols`] when the extension answer depends on
//! the offer), and `SwitchingProtocols::to_http_response` / `Rejection::to_http_response`. Clients
//! use `ClientHandshake::to_http_request` and `ClientHandshake::validate_http`. The data-level
//! pieces ([`SwitchingProtocols::headers`], [`Rejection::headers`], [`ClientHandshake::headers`],
//! [`ClientHandshake::validate_head`]) need no feature.
//!
//! ```
//! # #[cfg(feature = "http")] {
//! use wsd_handshake::{Request, server};
//!
//! // What hyper or axum hands a handler:
//! let request = http::Request::get("/chat")
//!     .header("host", "example.com")
//!     .header("upgrade", "websocket")
//!     .header("connection", "Upgrade")
//!     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
//!     .header("sec-websocket-version", "13")
//!     .header("sec-websocket-protocol", "chat")
//!     .body(())
//!     .unwrap();
//! let response: http::Response<()> = match Request::try_from(&request)
//!     .map_err(server::Rejection::from)
//!     .and_then(|ours| server::upgrade(&ours, &["chat"], None))
//! {
//!     Ok(answer) => answer.to_http_response().expect("no control characters"),
//!     Err(rejection) => rejection.to_http_response(request.version()),
//! };
//! assert_eq!(response.status(), 101);
//! assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! # }
//! ```
//!
//! # HTTP/2 and HTTP/3 (RFC 8441, RFC 9220)
//!
//! There a WebSocket is one stream opened by an extended `CONNECT` (`:protocol = websocket`), not a
//! `GET` with `Upgrade`. [`extended_connect`] checks such a request and builds the `200` (or the 4xx)
//! for servers, and builds the request and checks the answer for clients, on plain data
//! (pseudo-headers and headers) or, with the `http` feature, on the `http` crate's types. Its
//! subprotocol and extension rules are the HTTP/1.1 ones.
//!
//! ```
//! use wsd_handshake::Headers;
//! use wsd_handshake::extended_connect::{ConnectRequest, negotiate};
//!
//! let mut headers = Headers::new();
//! headers.push("sec-websocket-version", "13");
//! headers.push("sec-websocket-protocol", "chat, superchat");
//! let request = ConnectRequest {
//!     method: "CONNECT".into(),
//!     protocol: Some("websocket".into()),
//!     scheme: Some("https".into()),
//!     path: Some("/chat".into()),
//!     authority: Some("server.example.com".into()),
//!     headers,
//! };
//! let accepted = negotiate(&request, &["chat"]).expect("a valid request");
//! assert_eq!(accepted.response(None).headers(), [("sec-websocket-protocol", "chat")]);
//! ```
//!
//! # The legacy drafts (feature `drafts`)
//!
//! [`server::detect_version`] tells RFC 6455 requests from Hixie-75 and Hixie-76 ones without any
//! feature; [`negotiate`](server::negotiate) refuses the drafts' requests. With the `drafts`
//! feature, the `drafts` module checks and answers them, using `wsd-hixie` (and MD5) for the
//! Hixie-76 key challenge; without it neither is compiled.
//!
//! # Where this differs from `websocket-driver` (Node)
//!
//! Each item's docs say how; in short: RFC 6455 rules are checked in full on the server (HTTP/1.1,
//! the request target and `Host` per RFC 9112, key shape, token lists), 426 answers unsupported
//! versions, clients accept `Connection: keep-alive, Upgrade`, header values with control characters
//! are refused instead of sent, the
//! proxy accepts any 2xx and keeps the bytes after its response, IPv6 authorities get brackets, and
//! list headers are split in linear time.
#![forbid(unsafe_code)]
// Nothing derived from network input may panic: no unwrap or expect outside tests.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![warn(missing_docs, missing_debug_implementations)]

pub mod client;
#[cfg(feature = "drafts")]
pub mod drafts;
mod error;
pub mod extended_connect;
mod head;
mod headers;
#[cfg(feature = "http")]
mod http_crate;
mod negotiation;
mod proxy;
pub mod server;
mod uri;
mod url_util;

/// The `http` crate this crate's conversions use (feature `http`), so callers can name the same
/// version.
#[cfg(feature = "http")]
pub use ::http;
pub use client::{ClientHandshake, ClientOptions, Negotiated};
pub use error::{
    AuthorityError, Error, HeaderError, Malformed, RequestError, ResponseError, TargetError,
    UrlError,
};
pub use head::{Limits, Request, Response, Status};
pub use headers::{HeaderList, Headers};
pub use proxy::ProxyConnect;
pub use server::{Accepted, Draft, Rejection, SwitchingProtocols, reason_phrase};
/// The legacy-draft crate whose pieces [`drafts`] uses (feature `drafts`), so callers can
/// name the same version.
#[cfg(feature = "drafts")]
pub use wsd_hixie;
