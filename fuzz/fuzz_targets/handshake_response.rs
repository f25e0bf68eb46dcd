//! `Response::parse` on arbitrary bytes, then a client's `validate` and the proxy's
//! `read_response` on the same bytes.
//!
//! Layout: head-size and header-count limit selectors (1 byte each), a seed for
//! sampling prefixes (8), then the bytes. Checks: no panic; the every-prefix property
//! (`wsd_fuzz::check_head_prefixes`); `ProxyConnect::read_response` agrees with
//! `Response::parse` (2xx passes, anything else is `ProxyRefused` with the same
//! head); a response the client accepts is a 101 with the expected accept value and
//! a subprotocol the client offered.
#![no_main]

use libfuzzer_sys::fuzz_target;
use url::Url;
use wsd_fuzz::{Reader, check_head_prefixes, limits, seeds};
use wsd_handshake::{ClientHandshake, ClientOptions, Error, ProxyConnect, Response, Status};

fuzz_target!(|input: &[u8]| {
    let mut r = Reader::new(input);
    let limits = limits(r.u8(), r.u8());
    let seed = r.u64();
    let data = r.rest();

    check_head_prefixes(data, seed, |bytes| Response::parse(bytes, &limits));
    let parsed = Response::parse(data, &limits);

    let target = Url::parse("ws://example.com/chat").unwrap();
    let proxy = ProxyConnect::new(&target, &Url::parse("http://proxy.example").unwrap()).unwrap();
    match (&parsed, proxy.read_response(data, &limits)) {
        (Ok(Status::Complete((response, _))), Err(Error::ProxyRefused(refused))) => {
            assert!(!(200..300).contains(&response.status));
            assert_eq!(response, &*refused);
        }
        (Ok(Status::Complete(head)), Ok(Status::Complete(tunnel))) => {
            assert!((200..300).contains(&head.0.status));
            assert_eq!(head, &tunnel);
        }
        (parsed, proxied) => assert_eq!(parsed, &proxied),
    }

    let Ok(Status::Complete((response, consumed))) = parsed else {
        return;
    };
    assert!(consumed <= data.len());
    let options = ClientOptions {
        protocols: vec!["chat".into()],
        ..ClientOptions::default()
    };
    let handshake = ClientHandshake::new(&target, seeds::CLIENT_KEY, options).unwrap();
    if let Ok(negotiated) = handshake.validate(&response) {
        assert_eq!(response.status, 101);
        assert_eq!(
            response.headers.get("Sec-WebSocket-Accept").as_deref(),
            Some(handshake.expected_accept())
        );
        if let Some(protocol) = negotiated.protocol {
            assert_eq!(protocol, "chat");
        }
    }
});
