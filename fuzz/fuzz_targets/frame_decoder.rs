//! `FrameDecoder` on arbitrary bytes, for both roles and random configurations.
//!
//! Layout: role and flags (1 byte), max_length selector (1), split seed (8), then the
//! stream. Checks: no panic; the stream decoded in random splits gives exactly the
//! frames, error and leftover of the stream decoded whole (the decoder's documented
//! promise); accepted frames obey the configuration; every prefix of a header decodes
//! to `Partial` or to the whole header's answer. The same bytes also go through
//! `CloseFrame::parse` and, in chunks, `Utf8Validator` against `std::str::from_utf8`.
#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use wsd_frame::{
    CloseFrame, DecoderConfig, Frame, FrameDecoder, FrameHeader, OpCode, ProtocolError, Role, Rsv,
    Status, Utf8Validator,
};
use wsd_fuzz::{Reader, max_length, split};

/// Frames decoded, the error that stopped decoding, and the bytes left.
type Outcome = (Vec<Frame>, Option<ProtocolError>, BytesMut);

fn decode_chunks(config: DecoderConfig, chunks: &[&[u8]]) -> Outcome {
    let mut decoder = FrameDecoder::new(config);
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(e) => return (frames, Some(e), buf),
            }
        }
    }
    (frames, None, buf)
}

fn check_frames(config: &DecoderConfig, frames: &[Frame]) {
    let mut message: Option<(OpCode, bool, Vec<u8>)> = None;
    for frame in frames {
        assert!(config.allowed_rsv.contains(frame.rsv), "{frame:?}");
        if frame.opcode.is_control() {
            assert!(frame.fin && frame.payload.len() <= 125, "{frame:?}");
            assert_eq!(frame.message_opcode, frame.opcode);
            continue;
        }
        let (opcode, plain, data) = message.get_or_insert_with(|| {
            assert_ne!(frame.opcode, OpCode::Continuation, "continuation first");
            (frame.opcode, frame.rsv.is_empty(), Vec::new())
        });
        assert_eq!(frame.message_opcode, *opcode);
        if frame.opcode != OpCode::Continuation {
            assert!(data.is_empty(), "a new message inside another");
        } else {
            assert!(frame.rsv.is_empty(), "RSV on a continuation");
        }
        data.extend_from_slice(&frame.payload);
        assert!(
            data.len() as u64 <= config.max_length,
            "message over max_length"
        );
        if frame.fin {
            if *opcode == OpCode::Text && *plain {
                assert!(std::str::from_utf8(data).is_ok(), "invalid UTF-8 accepted");
            }
            message = None;
        }
    }
}

fn check_header_prefixes(data: &[u8]) {
    let whole = FrameHeader::decode(data);
    for cut in 0..data.len().min(wsd_frame::MAX_HEADER_LEN + 1) {
        let prefix = FrameHeader::decode(&data[..cut]);
        match (&whole, &prefix) {
            (_, Ok(Status::Partial)) => {
                if let Ok(Status::Complete((_, len))) = whole {
                    assert!(cut < len, "prefix {cut} of a {len}-byte header is partial");
                }
            }
            (Ok(Status::Complete((header, len))), Ok(Status::Complete((h, l)))) => {
                assert!(cut >= *len && h == header && l == len);
            }
            (Err(e), Err(p)) => assert_eq!(e, p),
            _ => panic!("prefix {cut}: {prefix:?}, whole: {whole:?}"),
        }
    }
}

fn check_utf8(data: &[u8], seed: u64) {
    let mut validator = Utf8Validator::new();
    let mut ok = true;
    for chunk in split(data, seed) {
        if validator.feed(chunk).is_err() {
            ok = false;
            break;
        }
    }
    ok = ok && validator.finish().is_ok();
    assert_eq!(ok, std::str::from_utf8(data).is_ok());
}

fuzz_target!(|input: &[u8]| {
    let mut r = Reader::new(input);
    let flags = r.u8();
    let mut config = DecoderConfig::new(if flags & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    });
    config.require_masking = flags & 2 == 0;
    config.allowed_rsv = Rsv::from_header_byte(flags);
    config.max_length = max_length(r.u8(), DecoderConfig::DEFAULT_MAX_LENGTH);
    let seed = r.u64();
    let data = r.rest();

    let whole = decode_chunks(config, &[data]);
    let split_outcome = decode_chunks(config, &split(data, seed));
    assert_eq!(
        whole.0, split_outcome.0,
        "frames differ between whole and split input"
    );
    assert_eq!(
        whole.1, split_outcome.1,
        "errors differ between whole and split input"
    );
    if whole.1.is_none() {
        assert_eq!(whole.2, split_outcome.2, "leftover bytes differ");
    }
    check_frames(&config, &whole.0);

    check_header_prefixes(data);
    let _ = CloseFrame::parse(data);
    check_utf8(data, seed);
});
