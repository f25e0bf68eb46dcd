//! `wsd_extensions::parse_header` on arbitrary strings, and a permessage-deflate
//! server negotiating whatever parses.
//!
//! The whole input is the header value (lossy UTF-8, since headers reach the parser as
//! `&str`). Checks: no panic; a parsed header serialises to a value that parses to the
//! same offers, and serialising again changes nothing; a server's answer parses.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use wsd_deflate::PerMessageDeflate;
use wsd_extensions::{Extensions, is_token, parse_header, serialize_header};

fuzz_target!(|input: &[u8]| {
    let value = String::from_utf8_lossy(input);
    let Ok(offers) = parse_header(&value) else {
        return;
    };
    for offer in &offers {
        assert!(is_token(&offer.name));
        assert!(offer.params.iter().all(|(name, _)| is_token(name)));
    }
    let text = serialize_header(&offers);
    let reparsed = parse_header(&text).unwrap_or_else(|e| panic!("{text:?} does not parse: {e}"));
    assert_eq!(reparsed, offers, "{text:?}");
    assert_eq!(serialize_header(&reparsed), text);

    let mut server = Extensions::new();
    server.add(Arc::new(PerMessageDeflate::new())).unwrap();
    if let Ok((Some(answer), pipeline)) = server.server_negotiate(Some(&value)) {
        let answers = parse_header(&answer).expect("the server's answer parses");
        assert_eq!(answers.len(), 1);
        assert_eq!(pipeline.names().count(), 1);
    }
});
