//! `Request::parse` on arbitrary bytes, then `server::negotiate` and the answers.
//!
//! Layout: head-size and header-count limit selectors (1 byte each), a seed for
//! sampling prefixes (8), then the bytes. Checks: no panic; the every-prefix property
//! (`wsd_fuzz::check_head_prefixes`); an accepted request yields the accept value of
//! its key, a subprotocol it offered, and a 101 head that parses back; a refused one
//! yields an HTTP response that parses back with its status and message.
#![no_main]

use libfuzzer_sys::fuzz_target;
use wsd_fuzz::{Reader, check_head_prefixes, limits};
use wsd_handshake::{HeaderList, Limits, Request, Response, Status, server};

const PROTOCOLS: [&str; 2] = ["chat", "superchat"];

fn response_head(bytes: &[u8]) -> (Response, usize) {
    match Response::parse(
        bytes,
        &Limits {
            max_head_bytes: usize::MAX,
            max_headers: 1024,
        },
    ) {
        Ok(Status::Complete(done)) => done,
        other => panic!(
            "our own response does not parse: {other:?}\n{}",
            String::from_utf8_lossy(bytes)
        ),
    }
}

fuzz_target!(|input: &[u8]| {
    let mut r = Reader::new(input);
    let limits = limits(r.u8(), r.u8());
    let seed = r.u64();
    let data = r.rest();

    check_head_prefixes(data, seed, |bytes| Request::parse(bytes, &limits));
    let Ok(Status::Complete((request, consumed))) = Request::parse(data, &limits) else {
        return;
    };
    assert!(consumed <= data.len() && consumed <= limits.max_head_bytes);
    let _ = server::detect_version(&request);
    let _ = server::is_websocket_request(&request);

    let mut out = Vec::new();
    match server::negotiate(&request, &PROTOCOLS) {
        Ok(accepted) => {
            assert!(server::is_websocket_request(&request));
            let key = request
                .headers
                .get("Sec-WebSocket-Key")
                .expect("negotiated without a key");
            assert_eq!(accepted.accept, server::accept_key(&key));
            if let Some(protocol) = &accepted.protocol {
                assert!(PROTOCOLS.contains(&protocol.as_str()));
                assert!(
                    request
                        .headers
                        .tokens("Sec-WebSocket-Protocol")
                        .any(|t| t == protocol)
                );
            }
            if accepted
                .write_response(
                    &HeaderList::new(),
                    accepted.extensions_offer.as_deref(),
                    &mut out,
                )
                .is_ok()
            {
                let (response, n) = response_head(&out);
                assert_eq!((response.status, n), (101, out.len()));
                assert_eq!(
                    response.headers.get("Sec-WebSocket-Accept").as_deref(),
                    Some(accepted.accept.as_str())
                );
            }
        }
        Err(rejection) => {
            rejection.write_response(&mut out);
            let (response, n) = response_head(&out);
            assert_eq!(response.status, rejection.status);
            assert_eq!(&out[n..], rejection.message.as_bytes());
        }
    }
});
