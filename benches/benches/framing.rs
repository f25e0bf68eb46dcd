//! Framing micro benchmarks: masking against memcpy of the same buffer, and parsing
//! masked frames of 16 B, 1 KiB, 64 KiB and 1 MiB.
//!
//! Run with `cargo bench -p wsd-bench --bench framing`; compare the masking and
//! memcpy throughputs of the same size in one run (the machine is shared and noisy).

use bytes::BytesMut;
use criterion::{
    BatchSize, BenchmarkId, Criterion, Throughput, black_box, criterion_group, criterion_main,
};
use wsd_bench::{KEY, masked_frames};
use wsd_frame::{DecoderConfig, FrameDecoder, Role, apply_mask, apply_mask_bytewise};

const SIZES: [usize; 4] = [16, 1 << 10, 64 << 10, 1 << 20];

fn masking(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for size in SIZES {
        let source = vec![0xA5u8; size];
        let mut buf = vec![0u8; size];
        group.throughput(Throughput::Bytes(size as u64));
        group.bench_with_input(BenchmarkId::new("memcpy", size), &size, |b, _| {
            b.iter(|| buf.copy_from_slice(black_box(&source)))
        });
        group.bench_with_input(BenchmarkId::new("words", size), &size, |b, _| {
            b.iter(|| apply_mask(black_box(&mut buf), KEY, 0))
        });
        group.bench_with_input(BenchmarkId::new("bytewise", size), &size, |b, _| {
            b.iter(|| apply_mask_bytewise(black_box(&mut buf), KEY, 0))
        });
    }
    group.finish();
}

fn parsing(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_masked");
    for size in SIZES {
        // About 1 MiB of frames per iteration, so every size does comparable work.
        let count = ((1 << 20) / size).max(1);
        let wire = masked_frames(size, count);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(size), &wire, |b, wire| {
            // The copy of the wire into a fresh buffer (what a socket read does) is
            // set up outside the measurement: only parsing and unmasking count.
            b.iter_batched(
                || BytesMut::from(&wire[..]),
                |mut buf| {
                    let mut decoder = FrameDecoder::new(DecoderConfig::new(Role::Server));
                    let mut frames = 0;
                    while let Ok(Some(frame)) = decoder.decode(&mut buf) {
                        black_box(&frame.payload);
                        frames += 1;
                    }
                    assert_eq!(frames, count);
                    buf
                },
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, masking, parsing);
criterion_main!(benches);
