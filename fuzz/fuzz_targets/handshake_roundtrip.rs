//! The HTTP/1.1 opening handshake between our own client and server: a
//! `ClientHandshake` for an arbitrary URL, subprotocols, origin, extension offer and
//! extra headers writes its request; `Request::parse` and `server::negotiate` (with
//! arbitrary subprotocols of its own) answer it; `Response::parse` and
//! `ClientHandshake::validate` read the answer.
//!
//! Checks: whatever our client agrees to send, our server accepts, and what our
//! server answers, our client accepts, with the same subprotocol (the first of the
//! client's that the server knows) and the same extensions; the request and the
//! response parse whole, with no byte left over; the `Host` and target come from the
//! URL. The url crate (WHATWG) and the server (RFC 3986, RFC 9112) disagree on what a
//! host or target may hold, which is where such pairs break.
#![no_main]

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsd_handshake::client::{ClientHandshake, ClientOptions, parse_url};
use wsd_handshake::{HeaderList, Limits, Request, Response, Status, server};

#[derive(Arbitrary, Debug)]
struct Case {
    secure: bool,
    userinfo: Option<String>,
    host: String,
    port: Option<u16>,
    path: String,
    query: Option<String>,
    key: [u8; 16],
    client_protocols: Vec<String>,
    server_protocols: Vec<String>,
    origin: Option<String>,
    extensions: Option<String>,
    /// The server answers this `Sec-WebSocket-Extensions` when the client offered any.
    extensions_answer: bool,
    headers: Vec<(String, String)>,
}

/// No size limit, and more headers than a case can make. (The parser allocates room
/// for `max_headers` up front, so `usize::MAX` would not do.)
fn no_limits() -> Limits {
    Limits {
        max_head_bytes: usize::MAX,
        max_headers: 4096,
    }
}

fuzz_target!(|case: Case| {
    let url = format!(
        "{}://{}{}{}{}{}",
        if case.secure { "wss" } else { "ws" },
        case.userinfo.map(|u| format!("{u}@")).unwrap_or_default(),
        case.host,
        case.port.map(|p| format!(":{p}")).unwrap_or_default(),
        case.path,
        case.query.map(|q| format!("?{q}")).unwrap_or_default(),
    );
    let Ok(url) = parse_url(&url) else {
        return;
    };
    let mut headers = HeaderList::new();
    for (name, value) in &case.headers {
        // Refused names and values are the list's business (and its own tests').
        let _ = headers.set(name, value);
    }
    let options = ClientOptions {
        protocols: case.client_protocols.clone(),
        origin: case.origin.clone(),
        headers,
        extensions: case.extensions.clone(),
    };
    let Ok(client) = ClientHandshake::new(&url, case.key, options) else {
        return;
    };
    let mut request_bytes = Vec::new();
    client.write_request(&mut request_bytes);
    let request = match Request::parse(&request_bytes, &no_limits()) {
        Ok(Status::Complete((request, n))) => {
            assert_eq!(n, request_bytes.len(), "bytes after our request");
            request
        }
        other => panic!(
            "our request does not parse: {other:?}\n{}",
            String::from_utf8_lossy(&request_bytes)
        ),
    };
    assert_eq!(request.target, client.target());
    let accepted = server::negotiate(&request, &case.server_protocols).unwrap_or_else(|e| {
        panic!(
            "our server refuses our request: {e:?}\n{}",
            String::from_utf8_lossy(&request_bytes)
        )
    });
    let expected_protocol = case
        .client_protocols
        .iter()
        .find(|p| case.server_protocols.contains(p));
    assert_eq!(accepted.protocol.as_ref(), expected_protocol, "subprotocol");

    // The extensions layer's answer: the offer itself, as an echo would be.
    let answer = accepted
        .extensions_offer
        .clone()
        .filter(|_| case.extensions_answer);
    let mut response_bytes = Vec::new();
    accepted
        .write_response(&HeaderList::new(), answer.as_deref(), &mut response_bytes)
        .expect("the server writes its 101");
    let response = match Response::parse(&response_bytes, &no_limits()) {
        Ok(Status::Complete((response, n))) => {
            assert_eq!(n, response_bytes.len(), "bytes after our response");
            response
        }
        other => panic!("our response does not parse: {other:?}"),
    };
    let negotiated = client.validate(&response).unwrap_or_else(|e| {
        panic!(
            "our client refuses our server's answer: {e:?}\n{}",
            String::from_utf8_lossy(&response_bytes)
        )
    });
    assert_eq!(negotiated.protocol, accepted.protocol);
    let trimmed = answer
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(str::to_owned);
    assert_eq!(negotiated.extensions, trimmed, "extensions");
});
