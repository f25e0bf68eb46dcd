//! Differential: `FrameDecoder`, fed in random splits, against the byte-at-a-time
//! reference decoder of `wsd_fuzz::rfc6455`, written from RFC 6455 section 5.2 alone.
//!
//! Layout (as `frame_decoder`'s, so the two share seeds): role and flags (1 byte),
//! max_length selector (1), split seed (8), then the stream. Both decoders must
//! accept the same frames, with the same header fields and the same unmasked
//! payloads, and stop at the same frame; when they stop, the decoder's error must be
//! one of the rules the model saw broken (the RFC orders none of them). At every
//! frame start `FrameHeader::decode` must read the header the model read; every
//! close payload must get the model's verdict from `CloseFrame::parse`; and at the
//! end of the stream the decoders must agree on where they are (inside a message or
//! not, waiting for a payload of which length). The stream is read a third time as
//! an echo server reads it, whole messages in place (`decode_message_in_place`, up to
//! a size taken from the split seed) and the rest by `decode`: same frames, same error.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wsd_frame::{
    CloseFrame, DecoderConfig, Frame, FrameDecoder, FrameHeader, ProtocolError, Role, Rsv, Status,
    WholeMessage,
};
use wsd_fuzz::rfc6455::{self, CloseViolation, Violation};
use wsd_fuzz::{Reader, max_length, split};

/// The model's name for one of the decoder's errors.
fn violation(error: &ProtocolError) -> Violation {
    match error {
        ProtocolError::ReservedOpcode(op) => Violation::ReservedOpcode(*op),
        ProtocolError::ReservedBits(bits) => Violation::ReservedBits(bits.bits()),
        ProtocolError::FragmentedControlFrame(op) => Violation::FragmentedControl(op.as_u8()),
        ProtocolError::ControlFrameTooLong(op, len) => Violation::ControlTooLong(op.as_u8(), *len),
        ProtocolError::LengthTopBitSet => Violation::LengthTopBit,
        ProtocolError::UnmaskedFrame => Violation::Unmasked,
        ProtocolError::MaskedFrame => Violation::Masked,
        ProtocolError::UnexpectedContinuation => Violation::UnexpectedContinuation,
        ProtocolError::UnfinishedMessage(op) => Violation::Unfinished(op.as_u8()),
        ProtocolError::MessageTooLong { limit, length } => Violation::TooLong {
            limit: *limit,
            length: *length,
        },
        ProtocolError::InvalidUtf8 => Violation::InvalidUtf8,
        other => panic!("the frame decoder does not read close payloads, yet: {other:?}"),
    }
}

fn close_violation(error: &ProtocolError) -> CloseViolation {
    match error {
        ProtocolError::CloseFrameTooShort => CloseViolation::TooShort,
        ProtocolError::InvalidCloseCode(code) => CloseViolation::Code(*code),
        ProtocolError::InvalidCloseReason => CloseViolation::Reason,
        other => panic!("CloseFrame::parse failed with {other:?}"),
    }
}

/// The header-only rules: `FrameHeader::decode` reports these by itself.
fn is_header_rule(violation: &Violation) -> bool {
    matches!(
        violation,
        Violation::ReservedOpcode(_)
            | Violation::FragmentedControl(_)
            | Violation::ControlTooLong(..)
            | Violation::LengthTopBit
    )
}

fn same_frame(model: &rfc6455::Frame, frame: &Frame) {
    assert_eq!(
        (
            model.fin,
            model.rsv,
            model.opcode,
            model.message_opcode,
            model.payload.as_slice()
        ),
        (
            frame.fin,
            frame.rsv.bits(),
            frame.opcode.as_u8(),
            frame.message_opcode.as_u8(),
            &frame.payload[..]
        ),
        "frame at offset {}",
        model.offset
    );
}

fn same_header(model: &rfc6455::Frame, data: &[u8]) {
    let Ok(Status::Complete((header, len))) = FrameHeader::decode(&data[model.offset..]) else {
        panic!("the model read a header at {}", model.offset);
    };
    assert_eq!(
        (
            header.fin,
            header.rsv.bits(),
            header.opcode.as_u8(),
            header.mask,
            header.payload_len,
            len
        ),
        (
            model.fin,
            model.rsv,
            model.opcode,
            model.mask,
            model.payload_len,
            model.header_len
        ),
        "header at offset {}",
        model.offset
    );
}

fn same_close(payload: &[u8]) {
    let ours = CloseFrame::parse(payload);
    match (rfc6455::parse_close(payload), ours) {
        (Ok(None), Ok(frame)) => assert_eq!((frame.code, frame.reason), (None, "")),
        (Ok(Some((code, reason))), Ok(frame)) => {
            assert_eq!(frame.code.map(|c| c.0), Some(code));
            assert_eq!(frame.reason, reason);
        }
        (Err(broken), Err(error)) => assert!(
            broken.contains(&close_violation(&error)),
            "close payload {payload:x?}: {error:?} is none of {broken:?}"
        ),
        (model, ours) => panic!("close payload {payload:x?}: model {model:?}, ours {ours:?}"),
    }
}

/// What a frame is, for comparing the two ways of reading it.
type Seen = (bool, u8, u8, u8, Vec<u8>);

fn seen(frame: &Frame) -> Seen {
    (
        frame.fin,
        frame.rsv.bits(),
        frame.opcode.as_u8(),
        frame.message_opcode.as_u8(),
        frame.payload.to_vec(),
    )
}

/// `data` fed in the splits of `seed`, read as an echo server reads it: each whole
/// message of at most `max_in_place` bytes in place, the rest by `decode`.
fn read_in_place(
    config: DecoderConfig,
    data: &[u8],
    seed: u64,
    max_in_place: usize,
) -> (Vec<Seen>, Option<ProtocolError>) {
    let mut decoder = FrameDecoder::new(config);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in split(data, seed) {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode_message_in_place(&mut buf, max_in_place) {
                Ok(Some((message, used))) => {
                    frames.push(match message {
                        WholeMessage::Text(text) => (true, 0, 1, 1, text.as_bytes().to_vec()),
                        WholeMessage::Binary(data) => (true, 0, 2, 2, data.to_vec()),
                    });
                    let _ = buf.split_to(used);
                    continue;
                }
                Ok(None) => {}
                Err(e) => return (frames, Some(e)),
            }
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(seen(&frame)),
                Ok(None) => break,
                Err(e) => return (frames, Some(e)),
            }
        }
    }
    (frames, None)
}

fuzz_target!(|input: &[u8]| {
    let mut r = Reader::new(input);
    let flags = r.u8();
    let server = flags & 1 == 0;
    let mut config = DecoderConfig::new(if server { Role::Server } else { Role::Client });
    config.require_masking = flags & 2 == 0;
    config.allowed_rsv = Rsv::from_header_byte(flags);
    config.max_length = max_length(r.u8(), DecoderConfig::DEFAULT_MAX_LENGTH);
    let seed = r.u64();
    let data = r.rest();
    // From the split seed's top byte, so the layout stays `frame_decoder`'s.
    let max_in_place = usize::from((seed >> 56) as u8) << 4;

    let mut model = rfc6455::Decoder::new(rfc6455::Config {
        server,
        require_masking: config.require_masking,
        max_length: config.max_length,
        allowed_rsv: config.allowed_rsv.bits(),
    });
    let mut expected = Vec::new();
    let mut broken = None;
    for &byte in data {
        match model.push(byte) {
            rfc6455::Step::More => {}
            rfc6455::Step::Frame(frame) => expected.push(frame),
            rfc6455::Step::Fail(rules) => {
                broken = Some(rules);
                break;
            }
        }
    }

    let mut decoder = FrameDecoder::new(config);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut error = None;
    'feed: for chunk in split(data, seed) {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break 'feed;
                }
            }
        }
    }

    let (in_place, in_place_error) = read_in_place(config, data, seed, max_in_place);
    assert_eq!(
        in_place,
        frames.iter().map(seen).collect::<Vec<_>>(),
        "read in place up to {max_in_place} bytes"
    );
    assert_eq!(in_place_error, error, "the error, read in place");
    assert_eq!(
        frames.len(),
        expected.len(),
        "frames accepted: ours {frames:?}, the model's {expected:?}; error {error:?}, model {broken:?}"
    );
    for (model, frame) in expected.iter().zip(&frames) {
        same_frame(model, frame);
        same_header(model, data);
        if model.opcode == 0x8 {
            same_close(&model.payload);
        }
    }
    // Where the next frame starts (the failing one, if any).
    let next = expected
        .last()
        .map_or(0, |f| f.offset + f.header_len + f.payload.len());
    match (&error, &broken) {
        (None, None) => {
            assert_eq!(decoder.in_message(), model.in_message(), "in a message");
            assert_eq!(
                decoder.payload_len().map(|n| n as u64),
                model.payload_len(),
                "the payload being read"
            );
        }
        (Some(error), Some(rules)) => {
            let found = violation(error);
            assert!(
                rules.contains(&found),
                "ours failed with {error:?}, which is none of the model's {rules:?}"
            );
            // The header rules are `FrameHeader::decode`'s own.
            let header = FrameHeader::decode(&data[next..]);
            if rules.iter().any(is_header_rule) {
                let Err(e) = header else {
                    panic!("FrameHeader::decode at {next}: {header:?}, the model: {rules:?}");
                };
                assert!(rules.contains(&violation(&e)) && is_header_rule(&violation(&e)));
            } else {
                assert!(
                    header.is_ok(),
                    "FrameHeader::decode at {next}: {header:?}, the model: {rules:?}"
                );
            }
        }
        (ours, model) => panic!(
            "after {} frames: ours stopped with {ours:?}, the model with {model:?}",
            frames.len()
        ),
    }
});
