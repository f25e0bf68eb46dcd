//! Extensions driven through whole connections: a toy extension that transforms
//! every message, negotiated by a client and a server, and each way it can fail
//! (on send, on receive, in the handshake, in the options).

use std::sync::Arc;

use wsd_extensions::{
    Extension, ExtensionError, Message as ExtMessage, NegotiationError, Params, RegistryError,
    Session,
};

use super::*;

/// `x-reverse`: owns RSV2 and sends every data message with its bytes reversed.
/// Its session refuses to encode the text `refuse me` (1011) and to decode a
/// payload holding the byte 0xFF (1007), so each failure can be provoked.
#[derive(Debug, Default)]
struct Reverse {
    /// Server side: the parameters to answer with (none by default).
    answer: Params,
}

#[derive(Debug)]
struct ReverseSession;

const NAME: &str = "x-reverse";
const REFUSED_TEXT: &str = "refuse me";

impl Extension for Reverse {
    fn name(&self) -> &str {
        NAME
    }

    fn rsv(&self) -> Rsv {
        Rsv::RSV2
    }

    fn client_offers(&self) -> Vec<Params> {
        vec![Params::new()]
    }

    fn client_activate(&self, response: &Params) -> Result<Box<dyn Session>, NegotiationError> {
        if !response.is_empty() {
            return Err(NegotiationError::rejected(
                NAME,
                response,
                "takes no parameters",
            ));
        }
        Ok(Box::new(ReverseSession))
    }

    fn server_accept(
        &self,
        offers: &[Params],
    ) -> Result<Option<(Params, Box<dyn Session>)>, NegotiationError> {
        match offers.iter().find(|offer| !offer.is_empty()) {
            Some(offer) => Err(NegotiationError::rejected(
                NAME,
                offer,
                "takes no parameters",
            )),
            None => Ok(Some((self.answer.clone(), Box::new(ReverseSession)))),
        }
    }
}

fn reversed(data: &[u8]) -> Bytes {
    data.iter().rev().copied().collect::<Vec<u8>>().into()
}

impl Session for ReverseSession {
    fn decode(&mut self, message: ExtMessage, _: usize) -> Result<ExtMessage, ExtensionError> {
        if !message.rsv.contains(Rsv::RSV2) {
            return Ok(message);
        }
        if message.data.contains(&0xFF) {
            return Err(ExtensionError::invalid_data("0xFF cannot be reversed"));
        }
        Ok(ExtMessage {
            opcode: message.opcode,
            rsv: message.rsv.difference(Rsv::RSV2),
            data: reversed(&message.data),
        })
    }

    fn encode(&mut self, message: ExtMessage) -> Result<ExtMessage, ExtensionError> {
        if message.data == REFUSED_TEXT.as_bytes() {
            return Err(ExtensionError::internal("refused to encode"));
        }
        Ok(ExtMessage {
            opcode: message.opcode,
            rsv: message.rsv | Rsv::RSV2,
            data: reversed(&message.data),
        })
    }
}

fn with_reverse() -> Options {
    let mut options = options();
    options.extensions.push(Arc::new(Reverse::default()));
    options
}

/// A client and a server that both negotiated `x-reverse`.
fn reversing_pair() -> Pair {
    let pair = Pair::new(with_reverse(), with_reverse());
    assert_eq!(pair.client.extensions().collect::<Vec<_>>(), [NAME]);
    assert_eq!(pair.server.extensions().collect::<Vec<_>>(), [NAME]);
    pair
}

/// A client frame with the given RSV bits, masked.
fn masked_rsv(opcode: OpCode, fin: bool, rsv: Rsv, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(fin, opcode, rsv, payload, Some(KEY), &mut out);
    out
}

/// A server with `x-reverse`, open after the request offered it.
fn reversing_server() -> Connection {
    let mut server = Connection::server(with_reverse());
    let request = edited(
        REQUEST,
        "\r\n\r\n",
        &format!("\r\nSec-WebSocket-Extensions: {NAME}\r\n\r\n"),
    );
    let (started, head) = start_on(&mut server, &request);
    started.unwrap();
    assert!(
        head.contains(&format!("\r\nSec-WebSocket-Extensions: {NAME}\r\n")),
        "{head}"
    );
    assert_eq!(server.poll_event(), Some(Event::Open));
    server
}

#[test]
fn messages_go_out_transformed_with_the_extension_s_rsv_bit_and_come_back_whole() {
    let mut pair = reversing_pair();
    pair.client.send_text("hello").unwrap();
    let wire = pair.client.poll_transmit_vec();
    // FIN | RSV2 | text, then a masked 5-byte payload that unmasks to "olleh".
    assert_eq!(wire[0], 0x80 | 0x20 | 0x1);
    let mut payload = wire[6..].to_vec();
    wsd_frame::apply_mask(&mut payload, wire[2..6].try_into().unwrap(), 0);
    assert_eq!(payload, b"olleh");
    pair.server.handle_input(&wire);
    assert_eq!(
        events(&mut pair.server),
        [Event::Message(Message::text("hello"))]
    );

    // The other way, through `send` with owned data, unmasked.
    pair.server.send(Message::binary(vec![1u8, 2, 3])).unwrap();
    let wire = pair.server.poll_transmit_vec();
    assert_eq!(wire, [0x80 | 0x20 | 0x2, 3, 3, 2, 1]);
    pair.client.handle_input(&wire);
    assert_eq!(
        events(&mut pair.client),
        [Event::Message(Message::binary(vec![1u8, 2, 3]))]
    );
}

#[test]
fn a_fragmented_message_is_decoded_once_whole_with_the_rsv_bits_of_its_first_frame() {
    let mut server = reversing_server();
    // "olleh" in two fragments: RSV2 on the first frame only, as RFC 7692 does it.
    let mut wire = masked_rsv(OpCode::Text, false, Rsv::RSV2, b"ol");
    wire.extend(masked_rsv(OpCode::Continuation, true, Rsv::NONE, b"leh"));
    server.handle_input(&wire);
    assert_eq!(
        events(&mut server),
        [Event::Message(Message::text("hello"))]
    );
    // A message without the bit passes through the session untouched.
    server.handle_input(&masked_rsv(OpCode::Binary, true, Rsv::NONE, b"as is"));
    assert_eq!(
        events(&mut server),
        [Event::Message(Message::binary(&b"as is"[..]))]
    );
}

#[test]
fn text_that_is_not_utf8_once_decoded_fails_with_1007() {
    let mut server = reversing_server();
    // "é" is C3 A9; reversed on the wire it is A9 C3, which the frame decoder cannot
    // check (RSV2 says it is transformed), and decoding turns back into "é". Sent
    // unreversed, it decodes to A9 C3, which is not UTF-8.
    server.handle_input(&masked_rsv(OpCode::Text, true, Rsv::RSV2, "é".as_bytes()));
    let evs = events(&mut server);
    assert_eq!(evs[0], Event::Error(Error::InvalidUtf8), "{evs:?}");
    assert_eq!(
        evs[1],
        Event::Close {
            code: CloseCode::INVALID_PAYLOAD,
            reason: "Could not decode a text frame as UTF-8".into()
        }
    );
    let mut close = Vec::new();
    CloseFrame::encode_payload(
        CloseCode::INVALID_PAYLOAD,
        "Could not decode a text frame as UTF-8",
        &mut close,
    );
    assert_eq!(server.poll_transmit_vec(), plain(OpCode::Close, &close));
}

#[test]
fn a_message_the_extension_cannot_decode_closes_with_its_code_and_its_name_in_the_reason() {
    let mut server = reversing_server();
    server.handle_input(&masked_rsv(OpCode::Binary, true, Rsv::RSV2, &[1, 0xFF]));
    let evs = events(&mut server);
    let reason = "x-reverse: 0xFF cannot be reversed";
    let Event::Error(Error::Extension(error)) = &evs[0] else {
        panic!("{evs:?}")
    };
    assert_eq!(
        (error.close_code(), error.extension(), error.to_string()),
        (CloseCode::INVALID_PAYLOAD, Some(NAME), reason.to_owned())
    );
    assert_eq!(
        evs[1],
        Event::Close {
            code: CloseCode::INVALID_PAYLOAD,
            reason: reason.into()
        }
    );
    assert_eq!(server.state(), ReadyState::Closed);
    // The names of the extensions are still known once closed.
    assert_eq!(server.extensions().collect::<Vec<_>>(), [NAME]);
}

#[test]
fn a_message_the_extension_refuses_to_encode_fails_the_connection_with_1011() {
    let mut pair = reversing_pair();
    let error = pair.client.send_text(REFUSED_TEXT).unwrap_err();
    let Error::Extension(refusal) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(refusal.close_code(), CloseCode::INTERNAL_ERROR);
    assert_eq!(error.to_string(), "x-reverse: refused to encode");
    // The refused message never reaches the wire; the close frame does.
    let (_, server_events) = pair.pump();
    assert_eq!(
        server_events,
        [Event::Close {
            code: CloseCode::INTERNAL_ERROR,
            reason: "x-reverse: refused to encode".into()
        }]
    );
    assert_eq!(
        pair.client.close_reason(),
        Some((CloseCode::INTERNAL_ERROR, "x-reverse: refused to encode"))
    );
    assert!(matches!(
        pair.client.send_text("later"),
        Err(Error::Usage(Usage::Closed))
    ));
}

#[test]
fn a_queued_message_the_extension_refuses_stops_the_rest_of_the_queue_on_open() {
    let mut client = Connection::client("ws://example.com/chat", with_reverse()).unwrap();
    client.send_text(REFUSED_TEXT).unwrap();
    client.send_text("never sent").unwrap();
    client.start().unwrap();
    let mut server = Connection::server(with_reverse());
    server.handle_input(&client.poll_transmit_vec());
    assert_eq!(server.poll_event(), Some(Event::Request));
    server.start().unwrap();
    client.handle_input(&server.poll_transmit_vec());
    let evs = events(&mut client);
    assert!(
        matches!(
            evs[..],
            [
                Event::Open,
                Event::Error(Error::Extension(_)),
                Event::Close {
                    code: CloseCode::INTERNAL_ERROR,
                    ..
                }
            ]
        ),
        "{evs:?}"
    );
    // Only the close frame went out: the second message was not sent after the
    // failure.
    server.handle_input(&client.poll_transmit_vec());
    let evs = events(&mut server);
    assert!(
        matches!(
            evs[..],
            [
                Event::Open,
                Event::Close {
                    code: CloseCode::INTERNAL_ERROR,
                    ..
                }
            ]
        ),
        "{evs:?}"
    );
}

#[test]
fn control_messages_sent_as_messages_do_what_their_commands_do_and_skip_the_extension() {
    let mut pair = reversing_pair();
    pair.client
        .send(Message::Ping(Bytes::from_static(b"pi")))
        .unwrap();
    pair.client
        .send(Message::Pong(Bytes::from_static(b"po")))
        .unwrap();
    let (client_events, server_events) = pair.pump();
    assert_eq!(
        server_events,
        [
            Event::Ping(Bytes::from_static(b"pi")),
            Event::Pong {
                payload: Bytes::from_static(b"po"),
                answers: None
            }
        ]
    );
    // The ping sent through `send` is remembered like one from `ping`.
    assert_eq!(
        client_events,
        [Event::Pong {
            payload: Bytes::from_static(b"pi"),
            answers: Some(PingId(0))
        }]
    );
    pair.client
        .send(Message::Close(Some(crate::CloseFrame::new(
            CloseCode::GOING_AWAY,
            "bye",
        ))))
        .unwrap();
    let (_, server_events) = pair.pump();
    assert_eq!(
        server_events,
        [Event::Close {
            code: CloseCode::GOING_AWAY,
            reason: "bye".into()
        }]
    );

    // `Close(None)` is a normal closure without a reason.
    let mut pair = reversing_pair();
    pair.server.send(Message::Close(None)).unwrap();
    let (client_events, _) = pair.pump();
    assert_eq!(
        client_events,
        [Event::Close {
            code: CloseCode::NORMAL,
            reason: String::new()
        }]
    );
}

#[test]
fn extensions_can_be_added_until_start_and_only_once_per_name() {
    let mut client = Connection::client("ws://example.com/", options()).unwrap();
    client.add_extension(Arc::new(Reverse::default())).unwrap();
    let duplicate = client.add_extension(Arc::new(Reverse::default()));
    assert!(
        matches!(
            &duplicate,
            Err(Error::Usage(Usage::Extension(RegistryError::DuplicateName(name)))) if name == NAME
        ),
        "{duplicate:?}"
    );
    client.start().unwrap();
    // Registered is not negotiated: nothing is active before the 101.
    assert!(client.extensions().next().is_none());
    let request = String::from_utf8(client.poll_transmit_vec()).unwrap();
    assert!(
        request.contains(&format!("\r\nSec-WebSocket-Extensions: {NAME}\r\n")),
        "{request}"
    );
    let late = client.add_extension(Arc::new(Reverse::default()));
    assert_eq!(late, Err(Error::Usage(Usage::AfterStart)));
}

#[test]
fn two_extensions_with_one_name_in_the_options_fail_the_connection_at_once() {
    let mut options = with_reverse();
    options.extensions.push(Arc::new(Reverse::default()));
    assert!(options.validate().is_err());
    let mut server = Connection::server(options);
    let evs = events(&mut server);
    assert!(
        matches!(
            &evs[..],
            [
                Event::Error(Error::Usage(Usage::Extension(_))),
                Event::Close { .. }
            ]
        ),
        "{evs:?}"
    );
    assert_eq!(server.state(), ReadyState::Closed);
    // A connection that never opened wrote nothing.
    assert!(server.poll_transmit_vec().is_empty());
}

#[test]
fn a_server_extension_that_answers_an_unwritable_parameter_gets_a_500() {
    let mut options = options();
    options.extensions.push(Arc::new(Reverse {
        answer: Params::new().with_value("note", "line\nbreak"),
    }));
    let request = edited(
        REQUEST,
        "\r\n\r\n",
        &format!("\r\nSec-WebSocket-Extensions: {NAME}\r\n\r\n"),
    );
    let mut server = Connection::server(options);
    let (started, response) = start_on(&mut server, &request);
    let error = started.unwrap_err();
    let Error::Handshake(cause) = &error else {
        panic!("{error:?}")
    };
    assert!(
        response.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{response}"
    );
    // The body is the handshake layer's text; the event has the driver's prefix.
    assert!(
        response.ends_with(&format!("\r\n\r\n{cause}")),
        "{response}"
    );
    assert_eq!(
        error.to_string(),
        format!("Error during WebSocket handshake: {cause}")
    );
    assert!(!response.contains("101"), "{response}");
    assert_eq!(server.state(), ReadyState::Closed);
}

#[test]
fn a_client_fails_when_the_server_answers_its_extension_with_parameters_it_refuses() {
    let mut client = Connection::client("ws://example.com/chat", with_reverse()).unwrap();
    client.start().unwrap();
    // A server whose `x-reverse` answers with a parameter the client never asked for.
    let mut server_options = options();
    server_options.extensions.push(Arc::new(Reverse {
        answer: Params::new().with_flag("extra"),
    }));
    let mut server = Connection::server(server_options);
    let (started, head) = start_on(&mut server, &client.poll_transmit_vec());
    started.unwrap();
    assert!(
        head.contains("\r\nSec-WebSocket-Extensions: x-reverse; extra\r\n"),
        "{head}"
    );
    client.handle_input(head.as_bytes());
    let evs = events(&mut client);
    let text = "Error during WebSocket handshake: \
                unacceptable parameters for extension x-reverse (extra): takes no parameters";
    assert_eq!(evs[0].to_owned_string(), text);
    assert_eq!(
        evs[1],
        Event::Close {
            code: CloseCode::PROTOCOL_ERROR,
            reason: text.into()
        }
    );
    assert!(client.extensions().next().is_none());
}
