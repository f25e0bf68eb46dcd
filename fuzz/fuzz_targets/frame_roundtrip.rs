//! Frames built from structured input, written with `encode_frame` (masked with a
//! random key when the receiver is a server) and read back by a `FrameDecoder` in
//! random splits: exactly the frames written come out, and nothing else.
//!
//! The generator only builds streams the decoder must accept: data messages whose
//! fragments may have control frames between them, text that is UTF-8 unless an
//! extension's RSV bit marks it as transformed, RSV bits only on first fragments and
//! only among the allowed ones. Also checks the word-wide `apply_mask` against the
//! byte-wise one at every offset.
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wsd_frame::{
    DecoderConfig, Frame, FrameDecoder, FrameHeader, OpCode, Role, Rsv, Status, apply_mask,
    apply_mask_bytewise, encode_frame,
};
use wsd_fuzz::split;

#[derive(Arbitrary, Debug)]
struct Case {
    /// The receiver: a server expects masked frames, a client unmasked ones.
    to_server: bool,
    /// Servers only: accept unmasked frames, and send some.
    lax_masking: bool,
    /// The RSV bits extensions own (top three bits of the byte).
    allowed_rsv: u8,
    split_seed: u64,
    messages: Vec<DataMessage>,
}

#[derive(Arbitrary, Debug)]
struct DataMessage {
    text: Option<String>,
    binary: Vec<u8>,
    /// RSV bits for the first frame, masked by the allowed ones.
    rsv: u8,
    /// Fragment lengths; the last fragment takes what is left.
    cuts: Vec<u8>,
    /// Control frames, each after the fragment with the index given (mod count).
    controls: Vec<(u8, Control)>,
    /// One key per frame, cycled.
    masks: Vec<([u8; 4], bool)>,
}

#[derive(Arbitrary, Debug)]
struct Control {
    kind: u8,
    payload: Vec<u8>,
}

fuzz_target!(|case: Case| {
    let role = if case.to_server {
        Role::Server
    } else {
        Role::Client
    };
    let mut config = DecoderConfig::new(role);
    config.require_masking = !case.lax_masking;
    config.allowed_rsv = Rsv::from_header_byte(case.allowed_rsv);

    let mut wire = Vec::new();
    let mut expected = Vec::new();
    let mut frame_no = 0usize;
    for message in &case.messages {
        // The requested bits that are allowed (Rsv has no `&`).
        let wanted = Rsv::from_header_byte(message.rsv);
        let rsv = wanted.difference(wanted.difference(config.allowed_rsv));
        // Untransformed text must be UTF-8; with an RSV bit any bytes may be "text".
        let (opcode, data): (OpCode, Vec<u8>) = match &message.text {
            Some(text) if rsv.is_empty() => (OpCode::Text, text.clone().into_bytes()),
            Some(_) => (OpCode::Text, message.binary.clone()),
            None => (OpCode::Binary, message.binary.clone()),
        };
        let mut fragments = Vec::new();
        let mut rest = &data[..];
        for &cut in &message.cuts {
            let (head, tail) = rest.split_at(usize::from(cut).min(rest.len()));
            fragments.push(head);
            rest = tail;
        }
        fragments.push(rest);
        let count = fragments.len();
        for (i, fragment) in fragments.iter().enumerate() {
            let fin = i + 1 == count;
            let (opcode, rsv) = if i == 0 {
                (opcode, rsv)
            } else {
                (OpCode::Continuation, Rsv::NONE)
            };
            let mask = pick_mask(&case, message, &mut frame_no);
            encode_frame(fin, opcode, rsv, fragment, mask, &mut wire);
            expected.push(Frame {
                fin,
                rsv,
                opcode,
                message_opcode: if i == 0 {
                    opcode
                } else {
                    expected_opcode(&expected)
                },
                payload: BytesMut::from(*fragment),
            });
            for (after, control) in &message.controls {
                if usize::from(*after) % count != i || fin {
                    continue;
                }
                let opcode =
                    [OpCode::Ping, OpCode::Pong, OpCode::Close][usize::from(control.kind % 3)];
                let payload = &control.payload[..control.payload.len().min(125)];
                let mask = pick_mask(&case, message, &mut frame_no);
                encode_frame(true, opcode, Rsv::NONE, payload, mask, &mut wire);
                expected.push(Frame {
                    fin: true,
                    rsv: Rsv::NONE,
                    opcode,
                    message_opcode: opcode,
                    payload: BytesMut::from(payload),
                });
            }
        }
    }

    // Each header re-decodes to itself.
    let Ok(Status::Complete((first, _))) = FrameHeader::decode(&wire) else {
        assert!(wire.is_empty());
        return;
    };
    let (bytes, len) = first.encode();
    assert_eq!(
        FrameHeader::decode(&bytes[..len]),
        Ok(Status::Complete((first, len)))
    );

    let mut decoder = FrameDecoder::new(config);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for chunk in split(&wire, case.split_seed) {
        buf.extend_from_slice(chunk);
        while let Some(frame) = decoder
            .decode(&mut buf)
            .expect("a valid stream is accepted")
        {
            got.push(frame);
        }
    }
    assert!(buf.is_empty() && !decoder.in_message());
    assert_eq!(got, expected);

    // The word-wide mask equals the byte-wise one at every starting offset.
    for (offset, key) in [
        (0usize, [1u8, 2, 3, 4]),
        (1, [0xff, 0, 0x80, 7]),
        (3, [9, 9, 9, 9]),
    ] {
        let mut fast = wire.clone();
        let mut slow = wire.clone();
        apply_mask(&mut fast, key, offset);
        apply_mask_bytewise(&mut slow, key, offset);
        assert_eq!(fast, slow);
    }
});

/// The message opcode of the fragment just before a continuation.
fn expected_opcode(expected: &[Frame]) -> OpCode {
    expected
        .iter()
        .rev()
        .find(|frame| frame.opcode.is_data())
        .map_or(OpCode::Binary, |frame| frame.message_opcode)
}

/// The mask for the next frame: always one towards a strict server, never one towards
/// a client, either towards a lax server.
fn pick_mask(case: &Case, message: &DataMessage, frame_no: &mut usize) -> Option<[u8; 4]> {
    let (key, unmasked) = if message.masks.is_empty() {
        ([0x37, 0xfa, 0x21, 0x3d], false)
    } else {
        message.masks[*frame_no % message.masks.len()]
    };
    *frame_no += 1;
    match (case.to_server, case.lax_masking) {
        (false, _) => None,
        (true, true) if unmasked => None,
        (true, _) => Some(key),
    }
}
