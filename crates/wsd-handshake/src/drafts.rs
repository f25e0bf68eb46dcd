//! The server side of the legacy Hixie-75 and Hixie-76 handshakes (feature `drafts`).
//!
//! Browsers spoke these drafts before RFC 6455. A request that [`detect_version`] finds
//! to be one goes to [`negotiate`], which checks it as `websocket-driver` (Node) does and
//! builds the draft's `101` head with `wsd-hixie`'s [`ResponseHead`]. Hixie-76 then waits
//! for the 8 key bytes that follow the head ([`wsd_hixie::BODY_LEN`]) and writes the
//! [`Challenge`]'s answer; Hixie-75 opens at once. The frames are `wsd-hixie`'s too.
//!
//! The drafts have no masking and are unsafe on the open web, which is why they are
//! behind a feature.
//!
//! ```
//! use wsd_handshake::wsd_hixie::Draft;
//! use wsd_handshake::{HeaderList, Headers, Request, drafts, server};
//!
//! let mut headers = Headers::new();
//! for (name, value) in [
//!     ("Host", "example.com"),
//!     ("Connection", "Upgrade"),
//!     ("Upgrade", "WebSocket"),
//!     ("Sec-WebSocket-Key1", "4 @1  46546xW%0l 1 5"),
//!     ("Sec-WebSocket-Key2", "12998 5 Y3 1  .P00"),
//!     ("Origin", "http://example.com"),
//! ] {
//!     headers.push(name, value);
//! }
//! let request = Request { method: "GET".into(), target: "/demo".into(), version: 1, headers };
//! assert_eq!(server::detect_version(&request), server::Draft::Hixie76);
//!
//! let no_protocols: &[&str] = &[];
//! let accepted = drafts::negotiate(
//!     &request,
//!     Draft::Hixie76,
//!     no_protocols,
//!     "ws://example.com/demo",
//!     &HeaderList::new(),
//! )
//! .expect("a valid Hixie-76 request");
//! assert!(accepted.head.starts_with(b"HTTP/1.1 101 WebSocket Protocol Handshake\r\n"));
//! // The 8 bytes after the request head are the third key.
//! let challenge = accepted.challenge.expect("Hixie-76 has a challenge");
//! assert_eq!(&challenge.answer(b"^n:ds[4U"), b"8jKS'y:G*Co,Wxa-");
//! ```
//!
//! [`detect_version`]: crate::server::detect_version

use wsd_hixie::{Challenge, Draft, ResponseHead};

use crate::head::Request;
use crate::headers::HeaderList;
use crate::server::{Rejection, is_websocket_request};

/// A legacy-draft request the server accepts: the head to write and what follows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The draft's `101` response head, ending with the blank line.
    pub head: Vec<u8>,
    /// The subprotocol chosen: the first one the request offered that the server
    /// supports.
    pub protocol: Option<String>,
    /// Hixie-76: the key challenge, to be answered once the 8 bytes after the request
    /// head have arrived ([`Challenge::answer`]). `None` for Hixie-75, which opens once
    /// the head is written.
    pub challenge: Option<Challenge>,
}

/// Checks a Hixie-75 or Hixie-76 request and builds the `101` answer.
///
/// `protocols` are the subprotocols the server supports; the request offers its own in
/// `WebSocket-Protocol` (Hixie-75) or `Sec-WebSocket-Protocol` (Hixie-76), separated by
/// commas or spaces. `location` is the URL the request asked for (`ws://` or `wss://`,
/// the `Host` header and the target), which the head repeats. `custom` headers are
/// written after the draft's own.
///
/// A refusal carries `websocket-driver`'s (Node) texts, first failure first: 400 `Not a
/// WebSocket request` when the request does not ask to upgrade, then (Hixie-76) 400
/// `Missing required header: Sec-WebSocket-Key1` (or `Key2`) or `Client sent invalid
/// Sec-WebSocket-Key headers`; 500 when a custom header cannot be written in the draft's
/// head.
pub fn negotiate<S: AsRef<str>>(
    request: &Request,
    draft: Draft,
    protocols: &[S],
    location: &str,
    custom: &HeaderList,
) -> Result<Accepted, Rejection> {
    if !is_websocket_request(request) {
        return Err(Rejection::bad_request("Not a WebSocket request"));
    }
    let challenge = match draft {
        Draft::Hixie76 => Some(challenge(request).map_err(Rejection::bad_request)?),
        Draft::Hixie75 => None,
    };
    let protocol_header = match draft {
        Draft::Hixie75 => "websocket-protocol",
        Draft::Hixie76 => "sec-websocket-protocol",
    };
    let protocol = request.headers.get(protocol_header).and_then(|offered| {
        offered
            .split([',', ' '])
            .map(str::trim)
            .find(|p| protocols.iter().any(|ours| ours.as_ref() == *p))
            .map(str::to_owned)
    });
    let origin = request.headers.get("origin");
    let extra: Vec<(String, String)> = custom
        .iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let mut head = Vec::new();
    ResponseHead {
        origin: origin.as_deref(),
        location,
        protocol: protocol.as_deref(),
        headers: &extra,
    }
    .write(draft, &mut head)
    .map_err(|e| Rejection {
        status: 500,
        message: e.to_string(),
        reason: None,
    })?;
    Ok(Accepted {
        head,
        protocol,
        challenge,
    })
}

/// The Hixie-76 key challenge, or `websocket-driver`'s (Node) text for what is wrong
/// with the keys, in its order.
fn challenge(request: &Request) -> Result<Challenge, &'static str> {
    let key1 = request.headers.get("sec-websocket-key1");
    let key2 = request.headers.get("sec-websocket-key2");
    match (key1, key2) {
        (None, _) => Err("Missing required header: Sec-WebSocket-Key1"),
        (_, None) => Err("Missing required header: Sec-WebSocket-Key2"),
        (Some(key1), Some(key2)) => Challenge::from_keys(key1.as_bytes(), key2.as_bytes())
            .map_err(|_| "Client sent invalid Sec-WebSocket-Key headers"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::headers::Headers;

    const KEY1: &str = "4 @1  46546xW%0l 1 5";
    const KEY2: &str = "12998 5 Y3 1  .P00";

    fn request(headers: &[(&str, &str)]) -> Request {
        let mut list = Headers::new();
        for (name, value) in [
            ("Host", "example.com"),
            ("Connection", "Upgrade"),
            ("Upgrade", "WebSocket"),
        ]
        .iter()
        .chain(headers)
        {
            list.push(*name, *value);
        }
        Request {
            method: "GET".into(),
            target: "/demo".into(),
            version: 1,
            headers: list,
        }
    }

    fn negotiated(
        request: &Request,
        draft: Draft,
        protocols: &[&str],
    ) -> Result<Accepted, Rejection> {
        negotiate(
            request,
            draft,
            protocols,
            "ws://example.com/demo",
            &HeaderList::new(),
        )
    }

    #[test]
    fn hixie_75_has_no_challenge_and_answers_with_its_own_head() {
        let accepted = negotiated(&request(&[]), Draft::Hixie75, &[]).unwrap();
        assert_eq!(accepted.challenge, None);
        assert_eq!(
            accepted.head,
            b"HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\n\
              Connection: Upgrade\r\nWebSocket-Location: ws://example.com/demo\r\n\r\n"
        );
    }

    #[test]
    fn hixie_76_carries_the_challenge_of_its_keys() {
        let keys = [("Sec-WebSocket-Key1", KEY1), ("Sec-WebSocket-Key2", KEY2)];
        let accepted = negotiated(&request(&keys), Draft::Hixie76, &[]).unwrap();
        assert_eq!(
            accepted.challenge,
            Some(Challenge::from_keys(KEY1, KEY2).unwrap())
        );
    }

    #[test]
    fn a_request_that_does_not_upgrade_is_refused_before_its_keys_are_read() {
        let mut plain = request(&[]);
        plain.headers = Headers::new();
        let refused = negotiated(&plain, Draft::Hixie76, &[]).unwrap_err();
        assert_eq!(
            (refused.status, refused.message.as_str()),
            (400, "Not a WebSocket request")
        );
    }

    #[test]
    fn hixie_76_key_problems_get_websocket_driver_s_texts() {
        let cases: [(&[(&str, &str)], &str); 3] = [
            (
                &[("Sec-WebSocket-Key2", KEY2)],
                "Missing required header: Sec-WebSocket-Key1",
            ),
            (
                &[("Sec-WebSocket-Key1", KEY1)],
                "Missing required header: Sec-WebSocket-Key2",
            ),
            (
                &[
                    ("Sec-WebSocket-Key1", "no digits"),
                    ("Sec-WebSocket-Key2", KEY2),
                ],
                "Client sent invalid Sec-WebSocket-Key headers",
            ),
        ];
        for (headers, message) in cases {
            let refused = negotiated(&request(headers), Draft::Hixie76, &[]).unwrap_err();
            assert_eq!((refused.status, refused.message.as_str()), (400, message));
        }
    }

    #[test]
    fn the_first_offered_protocol_the_server_supports_is_chosen_from_the_draft_s_header() {
        let offer = [("WebSocket-Protocol", "a, chat b")];
        let accepted = negotiated(&request(&offer), Draft::Hixie75, &["b", "chat"]).unwrap();
        assert_eq!(accepted.protocol.as_deref(), Some("chat"));
        assert!(accepted.head.ends_with(b"WebSocket-Protocol: chat\r\n\r\n"));
        // Hixie-76 reads the `Sec-` header, not the Hixie-75 one.
        let keys = [
            ("Sec-WebSocket-Key1", KEY1),
            ("Sec-WebSocket-Key2", KEY2),
            ("WebSocket-Protocol", "chat"),
        ];
        let accepted = negotiated(&request(&keys), Draft::Hixie76, &["chat"]).unwrap();
        assert_eq!(accepted.protocol, None);
    }

    #[test]
    fn custom_headers_follow_the_draft_s_own() {
        let mut custom = HeaderList::new();
        custom.set("Set-Cookie", "a=1").unwrap();
        let accepted = negotiate(
            &request(&[]),
            Draft::Hixie75,
            &[] as &[&str],
            "ws://x/",
            &custom,
        )
        .unwrap();
        assert!(
            accepted
                .head
                .ends_with(b"WebSocket-Location: ws://x/\r\nSet-Cookie: a=1\r\n\r\n")
        );
    }
}
