//! `extended_connect::negotiate` on arbitrary pseudo-headers and headers, and a
//! `ClientConnect` built from the same authority and path.
//!
//! Layout: a presence byte (bit 0 `:protocol`, 1 `:scheme`, 2 `:path`, 3 `:authority`),
//! then fields separated by NUL bytes: `:method`, `:protocol`, `:scheme`, `:path`,
//! `:authority`, then header names and values in turn (read as Latin-1, as the parsers
//! read non-UTF-8 values). Checks: no panic; an accepted request is a `CONNECT` for
//! `websocket` with a version of 13, lower-case field names and a subprotocol the client
//! offered; a refusal is a 400, or a 501 exactly for another `:protocol`, names the
//! version when that was the reason, and carries its reason's text; and whatever
//! request our `ClientConnect` builds from a URL, our server accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;
use url::Url;
use wsd_fuzz::Reader;
use wsd_handshake::extended_connect::{ClientConnect, ConnectRequest, PROTOCOL, negotiate};
use wsd_handshake::{ClientOptions, Headers, RequestError};

const PROTOCOLS: [&str; 2] = ["chat", "superchat"];

fn text(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

fuzz_target!(|input: &[u8]| {
    let mut r = Reader::new(input);
    let present = r.u8();
    let mut fields = r.rest().split(|&b| b == 0).map(text);
    let mut next = || fields.next().unwrap_or_default();
    let method = next();
    let mut pseudo = |bit: u8| {
        let value = next();
        (present & (1 << bit) != 0).then_some(value)
    };
    let (protocol, scheme, path, authority) = (pseudo(0), pseudo(1), pseudo(2), pseudo(3));
    let mut headers = Headers::new();
    let rest: Vec<String> = fields.collect();
    for pair in rest.chunks(2) {
        headers.push(pair[0].clone(), pair.get(1).cloned().unwrap_or_default());
    }
    let request = ConnectRequest {
        method,
        protocol,
        scheme,
        path,
        authority,
        headers,
    };

    match negotiate(&request, &PROTOCOLS) {
        Ok(accepted) => {
            assert_eq!(request.method, "CONNECT");
            assert!(
                request
                    .protocol
                    .as_deref()
                    .is_some_and(|p| p.eq_ignore_ascii_case(PROTOCOL))
            );
            assert!(request.path.as_deref().is_some_and(|p| p.starts_with('/')));
            assert!(request.authority.as_deref().is_some_and(|a| !a.is_empty()));
            assert_eq!(
                request
                    .headers
                    .get("sec-websocket-version")
                    .as_deref()
                    .map(str::trim),
                Some("13")
            );
            assert!(
                request
                    .headers
                    .iter()
                    .all(|(n, _)| !n.bytes().any(|b| b.is_ascii_uppercase()))
            );
            if let Some(chosen) = &accepted.protocol {
                assert!(PROTOCOLS.contains(&chosen.as_str()));
                assert!(
                    request
                        .headers
                        .tokens("sec-websocket-protocol")
                        .any(|t| t == chosen)
                );
            }
            let response = accepted.response(accepted.extensions_offer.as_deref());
            assert!(
                response
                    .headers()
                    .iter()
                    .all(|(n, _)| n.starts_with("sec-websocket-"))
            );
        }
        Err(rejection) => {
            let reason = rejection
                .reason
                .clone()
                .expect("negotiate names its reason");
            let other_protocol = matches!(reason, RequestError::ProtocolNotWebSocket(_));
            assert_eq!(rejection.status, if other_protocol { 501 } else { 400 });
            assert_eq!(rejection.message, reason.to_string());
            let names_version = rejection
                .headers()
                .iter()
                .any(|(n, _)| *n == "Sec-WebSocket-Version");
            assert_eq!(
                names_version,
                matches!(reason, RequestError::UnsupportedVersion(_))
            );
        }
    }

    // What our client sends for the same authority and path, our server accepts.
    let scheme = if present & 0x10 != 0 { "wss" } else { "ws" };
    let url = format!(
        "{scheme}://{}{}",
        request.authority.as_deref().unwrap_or_default(),
        request.path.as_deref().unwrap_or_default()
    );
    let Ok(url) = Url::parse(&url) else { return };
    let options = ClientOptions {
        protocols: vec!["superchat".to_owned(), "chat".to_owned()],
        ..ClientOptions::default()
    };
    let Ok(client) = ClientConnect::new(&url, options) else {
        return;
    };
    let accepted = negotiate(client.request(), &PROTOCOLS)
        .unwrap_or_else(|r| panic!("our own request for {url} was refused: {r}"));
    assert_eq!(accepted.protocol.as_deref(), Some("superchat"));
    let response = accepted.response(None);
    assert_eq!(
        client
            .validate(200, &response.to_headers())
            .map(|n| n.protocol),
        Ok(Some("superchat".to_owned()))
    );
});
