//! permessage-deflate between our own client and server, every knob arbitrary on
//! both sides (level, memLevel, strategy, context takeover, window bits, what each
//! asks of the other, what each accepts, a client's alternative offer): the client's
//! offer header goes through the server's `Extensions::server_negotiate`, the answer
//! through the client's `client_activate`, and messages then flow both ways,
//! interleaved, through the two pipelines.
//!
//! Checks: our client's offer is one our server can read; whatever our server
//! answers, our client accepts (unless it is configured to refuse a request the
//! server may make unasked), and both sides end with the same extensions; every
//! message arrives intact, in either direction, with any context takeover and window
//! (zlib's 8-bit window is the classic trap); a message is refused by a `max_length`
//! one byte under its size.
#![no_main]

use std::sync::Arc;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use wsd_deflate::{DeflateConfig, PerMessageDeflate, Strategy};
use wsd_extensions::{Extensions, Message};
use wsd_frame::OpCode;

#[derive(Arbitrary, Debug)]
struct Knobs {
    level: u8,
    mem_level: u8,
    strategy: u8,
    no_context_takeover: bool,
    max_window_bits: Option<u8>,
    request_no_context_takeover: bool,
    request_max_window_bits: Option<u8>,
    accept_no_context_takeover: bool,
    min_window_bits: Option<u8>,
}

/// A window size in 8..=15.
fn bits(n: u8) -> u8 {
    8 + n % 8
}

impl Knobs {
    fn config(&self) -> DeflateConfig {
        let strategies = [
            Strategy::Default,
            Strategy::Filtered,
            Strategy::HuffmanOnly,
            Strategy::Rle,
            Strategy::Fixed,
        ];
        let mut config = DeflateConfig::new()
            .level(u32::from(self.level % 10))
            .mem_level(1 + self.mem_level % 9)
            .strategy(strategies[usize::from(self.strategy) % strategies.len()])
            .no_context_takeover(self.no_context_takeover)
            .request_no_context_takeover(self.request_no_context_takeover)
            .accept_no_context_takeover(self.accept_no_context_takeover);
        if let Some(n) = self.max_window_bits {
            config = config.max_window_bits(bits(n));
        }
        if let Some(n) = self.request_max_window_bits {
            config = config.request_max_window_bits(bits(n));
        }
        if let Some(n) = self.min_window_bits {
            config = config.min_window_bits(bits(n));
        }
        config
    }
}

#[derive(Arbitrary, Debug)]
struct Case {
    client: Knobs,
    alternative: Option<Knobs>,
    server: Knobs,
    /// From the client (or the server), text (or binary), the bytes.
    messages: Vec<(bool, bool, Vec<u8>)>,
}

fn registry(extension: PerMessageDeflate) -> Extensions {
    let mut registry = Extensions::new();
    registry
        .add(Arc::new(extension))
        .expect("one extension registers");
    registry
}

fuzz_target!(|case: Case| {
    let Ok(mut client) = case.client.config().build() else {
        return;
    };
    if let Some(alternative) = &case.alternative {
        let Ok(with) = client.with_alternative(alternative.config()) else {
            return;
        };
        client = with;
    }
    let Ok(server) = case.server.config().build() else {
        return;
    };
    let client = registry(client);
    let server = registry(server);

    let offer = client.client_offer_header();
    let (answer, mut server_pipe) = server
        .server_negotiate(offer.as_deref())
        .unwrap_or_else(|e| panic!("our server cannot read our offer {offer:?}: {e}"));
    let mut client_pipe = match client.client_activate(answer.as_deref()) {
        Ok(pipe) => pipe,
        Err(e) => {
            // RFC 7692 lets a server ask a client for `client_no_context_takeover` or
            // a smaller window unasked; a client configured to refuse that fails the
            // handshake. Nothing else may make it refuse our server's answer.
            let text = answer.as_deref().unwrap_or_default();
            let refuses = |knobs: &Knobs| {
                (!knobs.accept_no_context_takeover && text.contains("client_no_context_takeover"))
                    || (knobs.min_window_bits.is_some() && text.contains("client_max_window_bits="))
            };
            assert!(
                refuses(&case.client) || case.alternative.as_ref().is_some_and(refuses),
                "our client refuses {answer:?} to {offer:?}: {e}"
            );
            return;
        }
    };
    assert_eq!(
        client_pipe.names().collect::<Vec<_>>(),
        server_pipe.names().collect::<Vec<_>>(),
        "offer {offer:?}, answer {answer:?}"
    );

    let count = case.messages.len();
    for (i, (from_client, text, data)) in case.messages.into_iter().enumerate() {
        let opcode = if text { OpCode::Text } else { OpCode::Binary };
        let (sender, receiver) = if from_client {
            (&mut client_pipe, &mut server_pipe)
        } else {
            (&mut server_pipe, &mut client_pipe)
        };
        let sent = sender
            .encode(Message::new(opcode, data.clone()))
            .expect("compression does not fail");
        if i + 1 == count && !data.is_empty() && !receiver.is_empty() {
            // One byte under the size: refused (and the session is done with).
            let tight = receiver.decode(sent, data.len() - 1);
            assert!(
                tight.is_err(),
                "{} bytes through a limit of {}",
                data.len(),
                data.len() - 1
            );
            break;
        }
        let received = receiver
            .decode(sent, data.len())
            .unwrap_or_else(|e| panic!("message {i} ({} bytes) does not decode: {e}", data.len()));
        assert_eq!(received.opcode, opcode);
        assert_eq!(received.data, data, "message {i}");
    }
});
