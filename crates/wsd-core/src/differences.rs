//! # Differences from `websocket-driver` (Node)
//!
//! wsd is a port of the Node library [`websocket-driver`], with its extension framework
//! (websocket-extensions) and `permessage-deflate`. It behaves like them, except where
//! RFC 6455 or RFC 7692 asks for something else, where they have a bug, or where Rust
//! or a sans-I/O design calls for another shape. This page lists every such place, so
//! it can be read as the guide for moving an application or its tests from Node to
//! wsd. Each entry is pinned by a unit test beside the code it describes. Versions are
//! `websocket-driver` 0.7.4 to 0.8.0 unless an entry names one.
//!
//! [`websocket-driver`]: https://www.npmjs.com/package/websocket-driver
//!
//! # The API, call by call
//!
//! | `websocket-driver` | wsd |
//! |---|---|
//! | `http(request, options)` | [`Connection::accept`](crate::Connection::accept) |
//! | `server(options)`, event `connect` | [`Connection::server`](crate::Connection::server), [`Event::Request`](crate::Event::Request) |
//! | `client(url, options)` | [`Connection::client`](crate::Connection::client) |
//! | `isWebSocket(request)` | `wsd_handshake::server::is_websocket_request` |
//! | `io.write(bytes)` / `parse(bytes)` | [`handle_input`](crate::Connection::handle_input), then [`poll_event`](crate::Connection::poll_event) until `None` |
//! | `io.on('data')` | [`pending_output`](crate::Connection::pending_output) + [`consume_output`](crate::Connection::consume_output) |
//! | `io.end()` | [`handle_eof`](crate::Connection::handle_eof) |
//! | `text(s)`, `binary(b)`, `messages.write(m)` | [`send_text`](crate::Connection::send_text), [`send_binary`](crate::Connection::send_binary), [`send`](crate::Connection::send) |
//! | `ping(msg, callback)` | [`ping`](crate::Connection::ping) returns a [`PingId`](crate::PingId); [`Event::Pong`](crate::Event::Pong) names it in `answers` |
//! | `pong(msg)` | [`pong`](crate::Connection::pong) |
//! | `close(reason, code)` | [`close(code, reason)`](crate::Connection::close): the order is swapped and both are required |
//! | `setHeader(name, value)`, `addExtension(ext)` | [`set_header`](crate::Connection::set_header), [`add_extension`](crate::Connection::add_extension), or `Options::headers` and `Options::extensions` |
//! | `proxy(url)` | `wsd_handshake::ProxyConnect`, or the adapters' proxy functions |
//! | `readyState`, `getState()` | [`state`](crate::Connection::state), a [`ReadyState`](crate::ReadyState): `Idle` is -1 (`null`) |
//! | `version`, `protocol`, `url` | [`version`](crate::Connection::version) (a [`Version`](crate::Version); `as_str()` gives the Node strings such as `"hybi-13"`), [`protocol`](crate::Connection::protocol), [`url`](crate::Connection::url) |
//! | `statusCode`, `headers` (client) | [`status`](crate::Connection::status), [`response_headers`](crate::Connection::response_headers) |
//! | `method`, `url`, `headers` (server driver) | [`request`](crate::Connection::request) |
//! | events `open`, `message`, `ping`, `pong`, `error`, `close` | [`Event`](crate::Event)`::{Open, Message, Ping, Pong, Error, Close}` |
//! | options `maxLength`, `protocols`, `requireMasking`, `allowDrafts` | [`Options`](crate::Options)`::{max_length, protocols, require_masking, allow_drafts}` |
//!
//! - Where `websocket-driver` returns `false`, wsd returns `Err(Error::Usage(..))`
//!   saying why ([`Usage`](crate::Usage)); input methods return nothing, and peer
//!   errors arrive as events, as there.
//! - Nothing is emitted from inside a call: events wait in the connection until
//!   [`poll_event`](crate::Connection::poll_event), and input is parsed only then, one
//!   event at a time, so an application's answer to one message leaves before the
//!   close frame of a later protocol error.
//! - Text messages are [`Message::Text`](crate::Message::Text) (validated UTF-8),
//!   binary ones [`Message::Binary`](crate::Message::Binary); ping and pong payloads
//!   are bytes (`websocket-driver` decodes them to strings, replacing bad UTF-8).
//! - There is no `io`/`messages` stream pair and no `pause`: the adapters
//!   (`wsd-tokio`, `wsd-async-std`, `wsd-smol`) give backpressure through their
//!   `Stream` and `Sink`.
//! - Options are a typed struct, so there is no "Unrecognized option" error. wsd adds
//!   [`handshake_timeout`](crate::Options::handshake_timeout),
//!   [`close_timeout`](crate::Options::close_timeout),
//!   [`keepalive`](crate::Options::keepalive),
//!   [`idle_timeout`](crate::Options::idle_timeout),
//!   [`limits`](crate::Options::limits), [`origin`](crate::Options::origin),
//!   [`mask_seed`](crate::Options::mask_seed), [`headers`](crate::Options::headers) and
//!   [`extensions`](crate::Options::extensions).
//! - A client always masks: there is no `masking: false` (RFC 6455 section 5.1 says a
//!   client must).
//! - [`Options::max_length`](crate::Options::max_length) is taken as given: 0 allows
//!   only empty messages (`websocket-driver` reads any falsy value as the default).
//! - A server that should answer plain HTTP calls
//!   [`respond`](crate::Connection::respond) (`websocket-driver` leaves the socket to
//!   the application). The bytes after a request head stay in the connection, for the
//!   frames or the Hixie-76 key; there is no `body` property.
//! - `websocket-driver`'s server driver (`server()`) always says `connecting`, never
//!   sends an unsolicited `pong`, and has only the request target as `url`; wsd's
//!   server connection is one [`Connection`](crate::Connection) whose state, `pong` and
//!   `url` work as for any other. Its `url` is `ws://` or `wss://`, the `Host` header
//!   and the target; `wss://` when a proxy's forwarding header says so (the headers
//!   and values `isSecureRequest` reads) or when the adapter calls
//!   [`set_secure_transport`](crate::Connection::set_secure_transport), because a
//!   sans-I/O connection has no socket to ask.
//! - [`protocol`](crate::Connection::protocol) and
//!   [`version`](crate::Connection::version) are known once
//!   [`start`](crate::Connection::start) has accepted the request (`websocket-driver`'s
//!   `http()` driver knows both from its constructor).
//! - A client's [`set_header`](crate::Connection::set_header) after `start` fails
//!   (`websocket-driver` returns `true` although the request is already written).
//! - Outgoing control frames are checked: a ping, pong or close payload over 125 bytes,
//!   or a close code that may not be sent (1005, 1006, 1015, outside the ranges), is a
//!   usage error (`websocket-driver` sends them as given).
//! - A ping id is remembered for the 32 most recent pings that no pong answered yet;
//!   two pings with one payload are answered oldest first, one pong each
//!   (`websocket-driver` keeps one callback per payload, the latest).
//!
//! # Opening handshake
//!
//! Server:
//! - Besides `websocket-driver`'s checks, the request must be HTTP/1.1 or later, have
//!   a `Host` header and a `Sec-WebSocket-Key` that is base64 for 16 bytes
//!   (RFC 6455 section 4.2.1).
//! - The request target and `Host` are checked as RFC 9112 section 3.2 asks, so a
//!   proxy in front cannot read the head differently: a target that is neither
//!   origin-form (`/path?query`) nor absolute-form (`*`, `../x`), two `Host`
//!   headers, or a `Host` that is not `host[:port]` (spaces, an unclosed `[::1`, a
//!   port that is not a number, userinfo) get `400 Bad Request`
//!   (`websocket-driver` accepts them).
//! - An unsupported or missing `Sec-WebSocket-Version` gets `426 Upgrade Required` with
//!   `Sec-WebSocket-Version: 13` (RFC 6455 section 4.4), not 400; legacy-draft requests
//!   get it too unless [`allow_drafts`](crate::Options::allow_drafts) is on.
//! - Every 4xx carries `Connection: close`.
//! - `Upgrade` and `Connection` are token lists, as RFC 9110 section 7.8 defines
//!   them: `Upgrade: websocket, h2c` and tabs around commas are accepted
//!   (`isWebSocket` wants exactly `websocket` and splits on spaces and commas only).
//!   Splitting runs in linear time (`websocket-driver`'s takes quadratic time on long
//!   runs of spaces).
//! - Custom headers cannot replace the handshake's own (`Upgrade`,
//!   `Sec-WebSocket-Accept`, ...), and names or values with control characters (CR,
//!   LF, NUL, anything but tab) are refused instead of being written.
//! - A request head that is not HTTP, or is larger than
//!   [`Limits`](crate::Limits) (16 KiB and 128 headers by default, checked as bytes
//!   arrive), is answered `400 Bad Request` at once, without
//!   [`Event::Request`](crate::Event::Request) (`websocket-driver` emits `connect`,
//!   and its `start()` then answers `Not a WebSocket request`; its limit is 80 KB,
//!   checked after each chunk).
//! - Frames that arrive before `start` wait in the buffer (`websocket-driver` parses
//!   them at once and throws on a data frame; its drafts emit messages while still
//!   connecting).
//! - A `Sec-WebSocket-Extensions` header with obsolete line folding (`a,\r\n b`) is a
//!   syntax error (websocket-extensions 0.2.0 accepts it).
//!
//! Client:
//! - `Connection: keep-alive, Upgrade` in the 101 is accepted (`websocket-driver`
//!   wants the value `Upgrade` alone).
//! - A 101 with `Content-Length` has no body: the bytes after its head are frames
//!   (`websocket-driver`'s HTTP parser eats that many bytes).
//! - A server frame that is masked fails the connection with 1002 (RFC 6455
//!   section 5.1; `websocket-driver` accepts it).
//! - `Host` leaves out the scheme's default port, as `websocket-driver` 0.8.0 does;
//!   URL userinfo is percent-decoded, and a user without a password is sent as
//!   `user:` (0.7.x sends `user`, 0.8.0 nothing).
//! - HTTP CONNECT proxies: any 2xx opens the tunnel (`websocket-driver`: exactly
//!   200), and the bytes after the proxy's response head are kept for the tunnel
//!   (`websocket-driver` drops them); IPv6 hosts get brackets, as in 0.8.0.
//!
//! Both:
//! - The opening handshake times out after
//!   [`handshake_timeout`](crate::Options::handshake_timeout) (10 s by default):
//!   [`Error::HandshakeTimeout`](crate::Error::HandshakeTimeout), then a close with
//!   1006. `websocket-driver` has no timers.
//! - A connection that closes before it opened ([`close`](crate::Connection::close),
//!   or a failed handshake) drops the queued commands, as there, and the `Close`
//!   event's reason says how many.
//!
//! # Frames
//!
//! - A close frame without a code is reported as 1005 (RFC 6455 section 7.1.5) and
//!   answered with an empty close frame (`websocket-driver`: 1000).
//! - An unmasked frame from a client fails with 1002 (RFC 6455 section 7.4.1;
//!   `websocket-driver`: 1003).
//! - Text is checked as UTF-8 as its bytes arrive, at any size, so a bad byte fails
//!   the connection (1007) before the message is complete (`websocket-driver` checks
//!   whole messages and skips the check from about 4 MB on).
//! - A 64-bit length with its most significant bit set fails with 1002 (RFC 6455
//!   section 5.2; `websocket-driver` reports the length as too large, 1009).
//! - When one frame breaks several rules the first one found may differ: wsd checks
//!   the opcode before the RSV bits, because which bits are allowed depends on the
//!   opcode (`websocket-driver` names the RSV bits for RSV1 on opcode 3). The close
//!   code is 1002 either way.
//! - Close frames are validated instead of rewritten: a code that may not be sent
//!   (999, 1004-1006, 1015, 1016-2999, 5000 and up) or a one-byte payload fails with
//!   1002 and an [`Event::Error`](crate::Event::Error) that says why, and a reason that
//!   is not UTF-8 fails with 1007 (RFC 6455 section 8.1); 1012-1014, registered after
//!   RFC 6455, are valid. `websocket-driver` replaces all of these with 1002 and
//!   closes without an error event.
//! - A failing extension closes with the code it names: corrupt compressed data is
//!   1007, a message too large once inflated 1009 (as there), an extension's own
//!   failure 1011 (`websocket-driver`: 1010 for all, or the error's `type` in 0.8.0).
//!   Extensions run synchronously, so the order of messages and the close frame
//!   needs no pipeline to keep it.
//! - The permessage-deflate extension's own differences are in `wsd-deflate`'s docs.
//!
//! # Closing
//!
//! - The closing handshake times out after
//!   [`close_timeout`](crate::Options::close_timeout) (10 s by default) with a close
//!   of 1006 (`websocket-driver` waits in `closing` forever).
//! - Opt-in timers `websocket-driver` does not have: keepalive pings
//!   ([`Options::keepalive`](crate::Options::keepalive): a peer silent for the
//!   timeout after our ping fails the connection with 1011 "keepalive ping
//!   timeout", as python `websockets` does) and an idle timeout
//!   ([`Options::idle_timeout`](crate::Options::idle_timeout): no text or binary
//!   message either way for that long starts a close with 1001). Both are off by
//!   default, so a connection without them behaves as there.
//! - A protocol error while closing still ends the connection (`websocket-driver`
//!   ignores errors in `closing`).
//! - Messages that arrive after our [`close`](crate::Connection::close), before the
//!   peer's close frame, are still delivered: the peer sent them before it saw ours
//!   (`websocket-driver` drops them, its extension pipeline being closed). Pings in
//!   that time are answered, as there.
//! - [`handle_eof`](crate::Connection::handle_eof) without a close frame ends the
//!   connection with a `Close` event of 1006 once the buffered input is read
//!   (`websocket-driver`'s `io.end()` emits no `close`).
//! - After our close frame nothing but pongs is written; our own `send`, `ping` and
//!   `pong` fail (`websocket-driver` still writes control frames given to `frame()`).
//!
//! # Legacy drafts (Hixie-75 and Hixie-76)
//!
//! - Off by default, as in `websocket-driver` 0.8.0, and compiled in only with the
//!   `drafts` feature of `wsd-core`: without it
//!   [`allow_drafts`](crate::Options::allow_drafts) does nothing and a draft's request
//!   is refused as any request without RFC 6455's headers is.
//! - A frame over `max_length` is an [`Event::Error`](crate::Event::Error), then a close
//!   of 1009 (`websocket-driver` closes silently, and 0.7.x goes on decoding the rest
//!   of the chunk). Nothing is decoded after a close or an error.
//! - Invalid UTF-8 in a text frame fails the connection with 1007 (`websocket-driver`
//!   decodes it with U+FFFD).
//! - Binary messages, pings and pongs given to a server before it knew the request
//!   was a draft are dropped when it opens (the draft cannot carry them; once open,
//!   they are refused with a usage error), and the text messages among them are
//!   sent in order.
//! - Sentinel frames of a type other than `0x00` are dropped, as the drafts say
//!   (`websocket-driver` delivers them as text).
//! - `Close` events carry codes: 1005 for the peer's `0xFF 0x00`, the code given to
//!   `close`, 1009 or 1007 for a failure (`websocket-driver`: `null`).
//! - The response head is written as UTF-8: a request header that held Latin-1 bytes
//!   (the `Origin`) comes back UTF-8 encoded (`websocket-driver` writes the Hixie-76
//!   head as Latin-1, which echoes the bytes as they came).
//! - Length-prefixed frames are skipped exactly and keys whose quotient does not fit
//!   in 32 bits are refused with a 400, as in 0.8.0 (0.7.x stops at a `0xFF` inside a
//!   skipped frame and throws on such keys).
//!
//! # Error texts
//!
//! [`Error`](crate::Error)'s `Display`, the `Close` event's reason after a failure, the
//! reason in the close frame we send, and the body of a 400 use `websocket-driver`'s
//! words where it has them: `Unrecognized frame opcode: 3`, `Received unmasked frame
//! but masking is required`, `WebSocket frame length too large`, `Could not decode a
//! text frame as UTF-8`, `Received fragmented control frame: opcode = 9`, `Received
//! control frame having too long payload: 126`, `Received unexpected continuation
//! frame`, `Received new data frame but previous continuous frame is unfinished`,
//! `One or more reserved bits are on: reserved1 = 1, reserved2 = 0, reserved3 = 0`,
//! `Error during WebSocket handshake: Unexpected response code: 404`, `Unsupported
//! WebSocket version: 8`, `Missing handshake request header: Sec-WebSocket-Key`,
//! `Missing required header: Sec-WebSocket-Key2`, `Client sent invalid
//! Sec-WebSocket-Key headers`, `Invalid Sec-WebSocket-Extensions header: ...`,
//! `Error during WebSocket handshake: Server sent an extension response for unknown
//! extension "x"`, and `<extension>: <message>` for extension failures. Where they
//! differ:
//! - Some add detail after those words: `Not a WebSocket request: no Upgrade header`,
//!   `'Upgrade' header value "h2c" is not 'WebSocket'`, `Sec-WebSocket-Accept
//!   mismatch: expected ..., received ...`, `Sec-WebSocket-Protocol mismatch: ...`,
//!   `Invalid Sec-WebSocket-Extensions header: expected ';' or ',' at byte 3` (in
//!   place of the header itself).
//! - Some are worded anew: a missing `Sec-WebSocket-Version` is `Missing handshake
//!   request header: Sec-WebSocket-Version` (`Unsupported WebSocket version:
//!   undefined`), a missing `Sec-WebSocket-Accept` is `'Sec-WebSocket-Accept' header is
//!   missing` (`Sec-WebSocket-Accept mismatch`), a `Connection` header without the
//!   token is `'Connection' header value "..." has no 'Upgrade' token`, a malformed
//!   response head is `Error during WebSocket handshake: malformed HTTP head: ...`
//!   (`... Parse Error`), and refused extension parameters are `unacceptable parameters
//!   for extension x (params): why` (`Server sent unacceptable extension parameters:
//!   x; params`).
//! - A client that receives a malformed `Sec-WebSocket-Extensions` header reports
//!   `Invalid Sec-WebSocket-Extensions header: ...` without the `Error during
//!   WebSocket handshake: ` prefix, as a server does.
//! - The reserved-bits text lists the bits no extension owns, not every bit of the
//!   frame.
//! - Failures `websocket-driver` does not detect have texts of their own: close frames
//!   with a bad code or reason, masked frames from a server, the 64-bit length, the
//!   timeouts, and the end of the transport without a close frame.
//! - Errors are values with a kind ([`Error::kind`](crate::Error::kind)) and a
//!   `source()` chain, so an application can match on the variant instead of the text.
