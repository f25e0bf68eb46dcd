//! Decoder tests: one per framing rule, split-at-every-byte, and round trips.

use super::*;
use crate::CloseCode;
use crate::header::encode_frame;
use alloc::vec;
use alloc::vec::Vec;
use proptest::prelude::*;

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

fn server() -> DecoderConfig {
    DecoderConfig::new(Role::Server)
}

fn client() -> DecoderConfig {
    DecoderConfig::new(Role::Client)
}

/// A masked frame (as a client sends it).
fn masked(fin: bool, opcode: OpCode, rsv: Rsv, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(fin, opcode, rsv, payload, Some(KEY), &mut out);
    out
}

/// An unmasked frame (as a server sends it).
fn plain(fin: bool, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_frame(fin, opcode, Rsv::NONE, payload, None, &mut out);
    out
}

/// What decoding `wire` yields: the frames (opcode, fin, payload), then the error or
/// the number of bytes left over.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Outcome {
    frames: Vec<(OpCode, bool, Vec<u8>)>,
    end: Result<usize, ProtocolError>,
}

/// Decodes `wire` fed in pieces of `step` bytes, draining every frame after each piece.
fn run(config: DecoderConfig, wire: &[u8], step: usize) -> Outcome {
    run_with(config, wire, step, false)
}

/// As [`run`], trying [`FrameDecoder::decode_message_in_place`] before every
/// [`FrameDecoder::decode`] when `in_place` is set, as a reader of borrowed
/// messages does.
fn run_with(config: DecoderConfig, wire: &[u8], step: usize, in_place: bool) -> Outcome {
    let mut decoder = FrameDecoder::new(config);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for piece in wire.chunks(step.max(1)) {
        buf.extend_from_slice(piece);
        loop {
            if in_place {
                let whole = match decoder.decode_message_in_place(&mut buf, usize::MAX) {
                    Ok(whole) => whole,
                    Err(e) => {
                        return Outcome {
                            frames,
                            end: Err(e),
                        };
                    }
                };
                if let Some((message, used)) = whole {
                    frames.push(match message {
                        WholeMessage::Text(text) => (OpCode::Text, true, text.as_bytes().to_vec()),
                        WholeMessage::Binary(data) => (OpCode::Binary, true, data.to_vec()),
                    });
                    buf.advance(used);
                    continue;
                }
            }
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => {
                    frames.push((frame.opcode, frame.fin, frame.payload.to_vec()));
                }
                Ok(None) => break,
                Err(e) => {
                    return Outcome {
                        frames,
                        end: Err(e),
                    };
                }
            }
        }
    }
    Outcome {
        frames,
        end: Ok(buf.len()),
    }
}

/// Checks that `wire` ends in `expected` (an error, or none), and that feeding it in
/// every piece size gives exactly the same outcome as feeding it whole.
fn check(config: DecoderConfig, wire: &[u8], expected: Result<(), ProtocolError>) -> Outcome {
    let whole = run(config, wire, wire.len());
    match (&whole.end, &expected) {
        (Err(got), Err(want)) => assert_eq!(got, want, "wire {wire:x?}"),
        (Ok(_), Ok(())) => {}
        (got, want) => panic!("wire {wire:x?}: got {got:?}, want {want:?}"),
    }
    for step in 1..wire.len().min(20) {
        assert_eq!(run(config, wire, step), whole, "step {step}");
        assert_eq!(
            run_with(config, wire, step, true),
            whole,
            "in place, step {step}"
        );
    }
    let in_place = run_with(config, wire, wire.len(), true);
    assert_eq!(in_place, whole, "in place, whole");
    whole
}

#[test]
fn a_frame_longer_than_asked_for_is_left_to_decode_in_place() {
    let mut decoder = FrameDecoder::new(server());
    let mut buf = BytesMut::from(&masked(true, OpCode::Binary, Rsv::NONE, &[9; 200])[..]);
    assert_eq!(decoder.decode_message_in_place(&mut buf, 199), Ok(None));
    let len = buf.len();
    let (message, used) = decoder
        .decode_message_in_place(&mut buf, 200)
        .unwrap()
        .unwrap();
    assert_eq!((message, used), (WholeMessage::Binary(&[9; 200]), len));
}

#[test]
fn server_receives_masked_text() {
    let outcome = check(
        server(),
        &masked(true, OpCode::Text, Rsv::NONE, b"Hello"),
        Ok(()),
    );
    assert_eq!(
        outcome.frames,
        vec![(OpCode::Text, true, b"Hello".to_vec())]
    );
}

#[test]
fn client_receives_rfc_example_frames() {
    let wire = [
        0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f, 0x89, 0x00,
    ];
    let outcome = check(client(), &wire, Ok(()));
    assert_eq!(outcome.frames.len(), 3);
    assert_eq!(outcome.frames[2].0, OpCode::Ping);
}

#[test]
fn reserved_opcodes_are_protocol_errors() {
    for op in [3u8, 4, 5, 6, 7, 11, 12, 13, 14, 15] {
        let wire = [0x80 | op, 0x80, 1, 2, 3, 4];
        let out = check(server(), &wire, Err(ProtocolError::ReservedOpcode(op)));
        assert_eq!(out.end.unwrap_err().close_code(), CloseCode::PROTOCOL_ERROR);
    }
}

#[test]
fn rsv_bits_without_an_owning_extension_are_protocol_errors() {
    for rsv in [Rsv::RSV1, Rsv::RSV2, Rsv::RSV3, Rsv::ALL] {
        check(
            server(),
            &masked(true, OpCode::Text, rsv, b"x"),
            Err(ProtocolError::ReservedBits(rsv)),
        );
    }
}

#[test]
fn rsv_bits_owned_by_an_extension_are_allowed_on_first_frames_only() {
    let mut config = server();
    config.allowed_rsv = Rsv::RSV1;
    let out = check(
        config,
        &masked(true, OpCode::Binary, Rsv::RSV1, b"x"),
        Ok(()),
    );
    assert_eq!(out.frames.len(), 1);
    // Not another bit.
    check(
        config,
        &masked(true, OpCode::Binary, Rsv::RSV1 | Rsv::RSV2, b"x"),
        Err(ProtocolError::ReservedBits(Rsv::RSV2)),
    );
    // Not on a continuation.
    let mut wire = masked(false, OpCode::Binary, Rsv::RSV1, b"x");
    wire.extend(masked(true, OpCode::Continuation, Rsv::RSV1, b"y"));
    check(config, &wire, Err(ProtocolError::ReservedBits(Rsv::RSV1)));
    // Not on a control frame.
    check(
        config,
        &masked(true, OpCode::Ping, Rsv::RSV1, b""),
        Err(ProtocolError::ReservedBits(Rsv::RSV1)),
    );
}

#[test]
fn control_frames_must_be_short_and_final() {
    check(
        server(),
        &masked(false, OpCode::Ping, Rsv::NONE, b""),
        Err(ProtocolError::FragmentedControlFrame(OpCode::Ping)),
    );
    check(
        server(),
        &masked(true, OpCode::Pong, Rsv::NONE, &[0; 126]),
        Err(ProtocolError::ControlFrameTooLong(OpCode::Pong, 126)),
    );
    let out = check(
        server(),
        &masked(true, OpCode::Ping, Rsv::NONE, &[7; 125]),
        Ok(()),
    );
    assert_eq!(out.frames[0].2.len(), 125);
}

#[test]
fn a_64_bit_length_with_the_top_bit_set_is_a_protocol_error() {
    let wire = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    check(server(), &wire, Err(ProtocolError::LengthTopBitSet));
}

#[test]
fn server_rejects_unmasked_frames_unless_told_not_to() {
    let wire = plain(true, OpCode::Text, b"hi");
    check(server(), &wire, Err(ProtocolError::UnmaskedFrame));
    let mut lenient = server();
    lenient.require_masking = false;
    let out = check(lenient, &wire, Ok(()));
    assert_eq!(out.frames[0].2, b"hi");
}

#[test]
fn client_rejects_masked_frames() {
    check(
        client(),
        &masked(true, OpCode::Text, Rsv::NONE, b"hi"),
        Err(ProtocolError::MaskedFrame),
    );
}

#[test]
fn continuation_without_a_message_is_a_protocol_error() {
    check(
        server(),
        &masked(true, OpCode::Continuation, Rsv::NONE, b"x"),
        Err(ProtocolError::UnexpectedContinuation),
    );
}

#[test]
fn a_new_data_frame_inside_a_fragmented_message_is_a_protocol_error() {
    let mut wire = masked(false, OpCode::Text, Rsv::NONE, b"a");
    wire.extend(masked(true, OpCode::Binary, Rsv::NONE, b"b"));
    check(
        server(),
        &wire,
        Err(ProtocolError::UnfinishedMessage(OpCode::Binary)),
    );
}

#[test]
fn control_frames_may_interleave_with_fragments() {
    let mut wire = masked(false, OpCode::Text, Rsv::NONE, b"a");
    wire.extend(masked(true, OpCode::Ping, Rsv::NONE, b"p"));
    wire.extend(masked(true, OpCode::Continuation, Rsv::NONE, b"b"));
    let out = check(server(), &wire, Ok(()));
    let ops: Vec<OpCode> = out.frames.iter().map(|f| f.0).collect();
    assert_eq!(ops, [OpCode::Text, OpCode::Ping, OpCode::Continuation]);
}

#[test]
fn a_frame_over_max_length_fails_from_its_header_before_the_payload_arrives() {
    let mut config = server();
    config.max_length = 10;
    // Only the 2 + 4 header bytes of an 11-byte frame: the error is already known.
    let wire = masked(true, OpCode::Binary, Rsv::NONE, &[0; 11]);
    let out = run(config, &wire[..6], 6);
    assert_eq!(
        out.end,
        Err(ProtocolError::MessageTooLong {
            limit: 10,
            length: 11
        })
    );
    assert_eq!(
        out.end.unwrap_err().close_code(),
        CloseCode::MESSAGE_TOO_BIG
    );
}

#[test]
fn a_message_over_max_length_across_fragments_fails_at_the_fragment_that_crosses() {
    let mut config = server();
    config.max_length = 10;
    let mut wire = masked(false, OpCode::Binary, Rsv::NONE, &[0; 6]);
    wire.extend(masked(false, OpCode::Continuation, Rsv::NONE, &[0; 4]));
    wire.extend(masked(true, OpCode::Continuation, Rsv::NONE, &[0; 1]));
    let out = check(
        config,
        &wire,
        Err(ProtocolError::MessageTooLong {
            limit: 10,
            length: 11,
        }),
    );
    assert_eq!(out.frames.len(), 2);
}

#[test]
fn a_2_pow_63_byte_header_is_rejected_without_allocating() {
    // Largest legal 64-bit length: too long for any max_length, decided from 10 bytes.
    let wire = [0x82, 0x7F, 0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];
    let out = run(client(), &wire, 10);
    assert!(matches!(out.end, Err(ProtocolError::MessageTooLong { .. })));
}

#[test]
fn invalid_utf8_fails_at_the_fragment_that_carries_it() {
    let mut wire = masked(false, OpCode::Text, Rsv::NONE, b"valid ");
    wire.extend(masked(
        false,
        OpCode::Continuation,
        Rsv::NONE,
        &[0xC0, 0x80],
    ));
    wire.extend(masked(true, OpCode::Continuation, Rsv::NONE, b"never read"));
    let out = check(server(), &wire, Err(ProtocolError::InvalidUtf8));
    assert_eq!(out.frames.len(), 1);
    assert_eq!(
        out.end.unwrap_err().close_code(),
        CloseCode::INVALID_PAYLOAD
    );
}

#[test]
fn invalid_utf8_fails_before_the_rest_of_its_frame_arrives() {
    // Autobahn 6.4.3: the bad bytes sit in the middle of a frame that is still
    // arriving; the error must not wait for the frame's end.
    let mut payload = b"hello ".to_vec();
    payload.extend([0xF4, 0x90, 0x80, 0x80]);
    payload.extend(b" the end never comes".iter());
    let wire = masked(true, OpCode::Text, Rsv::NONE, &payload);
    let header_len = 6;
    let out = run(server(), &wire[..header_len + 8], 4);
    assert_eq!(out.end, Err(ProtocolError::InvalidUtf8));
}

#[test]
fn a_code_point_split_across_fragments_is_accepted() {
    let euro = "€".as_bytes();
    let mut wire = masked(false, OpCode::Text, Rsv::NONE, &euro[..1]);
    wire.extend(masked(false, OpCode::Continuation, Rsv::NONE, &euro[1..2]));
    wire.extend(masked(true, OpCode::Continuation, Rsv::NONE, &euro[2..]));
    check(server(), &wire, Ok(()));
}

#[test]
fn a_text_message_ending_mid_code_point_is_invalid() {
    let euro = "€".as_bytes();
    let mut wire = masked(false, OpCode::Text, Rsv::NONE, b"a");
    wire.extend(masked(true, OpCode::Continuation, Rsv::NONE, &euro[..2]));
    check(server(), &wire, Err(ProtocolError::InvalidUtf8));
}

#[test]
fn text_transformed_by_an_extension_is_left_to_the_caller() {
    let mut config = server();
    config.allowed_rsv = Rsv::RSV1;
    // Compressed bytes are not UTF-8, and that is fine at this layer.
    let out = check(
        config,
        &masked(true, OpCode::Text, Rsv::RSV1, &[0xFF, 0xC0]),
        Ok(()),
    );
    assert_eq!(out.frames[0].2, [0xFF, 0xC0]);
}

#[test]
fn frame_reports_the_message_opcode_for_continuations() {
    let mut wire = masked(false, OpCode::Binary, Rsv::NONE, b"a");
    wire.extend(masked(true, OpCode::Continuation, Rsv::NONE, b"b"));
    let mut decoder = FrameDecoder::new(server());
    let mut buf = BytesMut::from(&wire[..]);
    let first = decoder.decode(&mut buf).unwrap().unwrap();
    assert_eq!(first.message_opcode, OpCode::Binary);
    assert!(decoder.in_message());
    let second = decoder.decode(&mut buf).unwrap().unwrap();
    assert_eq!(
        (second.opcode, second.message_opcode),
        (OpCode::Continuation, OpCode::Binary)
    );
    assert!(!decoder.in_message());
}

#[derive(Debug, Clone)]
struct ArbFrame {
    opcode: OpCode,
    fin: bool,
    payload: Vec<u8>,
}

/// A valid sequence of frames: messages (possibly fragmented, text is UTF-8, split at
/// arbitrary byte offsets) with control frames interleaved.
fn frame_sequence() -> impl Strategy<Value = Vec<ArbFrame>> {
    let message = (
        any::<bool>(),
        "\\PC{0,40}",
        proptest::collection::vec(any::<u8>(), 0..300),
        proptest::collection::vec(0usize..300, 0..3),
        proptest::option::of(proptest::collection::vec(any::<u8>(), 0..125)),
    );
    proptest::collection::vec(message, 0..6).prop_map(|messages| {
        let mut frames = Vec::new();
        for (is_text, text, binary, cuts, ping) in messages {
            let (opcode, data) = if is_text {
                (OpCode::Text, text.into_bytes())
            } else {
                (OpCode::Binary, binary)
            };
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            cuts.dedup();
            let mut start = 0;
            let mut pieces = Vec::new();
            for cut in cuts {
                pieces.push(data[start..cut].to_vec());
                start = cut;
            }
            pieces.push(data[start..].to_vec());
            let count = pieces.len();
            for (i, piece) in pieces.into_iter().enumerate() {
                frames.push(ArbFrame {
                    opcode: if i == 0 { opcode } else { OpCode::Continuation },
                    fin: i + 1 == count,
                    payload: piece,
                });
                if let (0, Some(ping)) = (i, &ping) {
                    frames.push(ArbFrame {
                        opcode: OpCode::Ping,
                        fin: true,
                        payload: ping.clone(),
                    });
                }
            }
        }
        frames
    })
}

proptest! {
    #[test]
    fn encode_then_decode_gives_the_same_frames_for_both_roles(
        frames in frame_sequence(),
        step in 1usize..64,
        key in any::<[u8; 4]>(),
    ) {
        for role in [Role::Server, Role::Client] {
            let mut wire = Vec::new();
            for f in &frames {
                let mask = (role == Role::Server).then_some(key);
                encode_frame(f.fin, f.opcode, Rsv::NONE, &f.payload, mask, &mut wire);
            }
            let out = run(DecoderConfig::new(role), &wire, step);
            prop_assert_eq!(out.end, Ok(0));
            let expected: Vec<(OpCode, bool, Vec<u8>)> =
                frames.iter().map(|f| (f.opcode, f.fin, f.payload.clone())).collect();
            prop_assert_eq!(&out.frames, &expected);
            let in_place = run_with(DecoderConfig::new(role), &wire, step, true);
            prop_assert_eq!(in_place.end, Ok(0));
            prop_assert_eq!(in_place.frames, expected);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_split_feeding_agrees(
        wire in proptest::collection::vec(any::<u8>(), 0..200),
        step in 1usize..16,
        role in prop_oneof![Just(Role::Server), Just(Role::Client)],
    ) {
        let mut config = DecoderConfig::new(role);
        config.max_length = 1000;
        let whole = run(config, &wire, wire.len().max(1));
        prop_assert_eq!(run(config, &wire, step), whole.clone());
        prop_assert_eq!(run_with(config, &wire, step, true), whole.clone());
        prop_assert_eq!(run_with(config, &wire, wire.len().max(1), true), whole);
    }
}
