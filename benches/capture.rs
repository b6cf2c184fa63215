//! Session files: write throughput (records/s, MB/s) plain and zstd, bytes per span on disk,
//! and opening a 1M-record file in the collector: time to the first frame (target: at most
//! 2 s) and to the whole file read. Results in docs/performance.md.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use eventlens::capture::CaptureWriter;
use eventlens::collector::{Collector, CollectorConfig};
use eventlens::ingest::otlp::convert::convert_request;
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::testing::realistic_request;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const T0: u64 = 1_763_817_600_000_000_000;

/// `n` records of `spans` realistic spans each (messaging attributes, resources, links).
fn records(n: usize, spans: usize) -> Vec<Record> {
    (0..n)
        .map(|i| {
            let converted = convert_request(realistic_request(spans, i as u64));
            Record::Spans(SpanBatch {
                received_unix_nano: T0 + i as u64 * 1_000_000,
                source: SourceKind::OtlpGrpc,
                spans: converted.spans,
            })
        })
        .collect()
}

fn write_all(path: &Path, records: &[Record]) -> u64 {
    let mut writer = CaptureWriter::create(path, T0).unwrap();
    for (i, r) in records.iter().enumerate() {
        writer.append(r).unwrap();
        // The engine flushes at every publish (10 a second); here every 1 000 records.
        if i % 1_000 == 999 {
            writer.flush().unwrap();
        }
    }
    writer.finish().unwrap()
}

fn write(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let batch = records(2_000, 8);
    let spans: usize = batch.iter().map(Record::item_count).sum();
    let mut group = c.benchmark_group("write session file");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.sample_size(20);
    for name in ["plain.jsonl", "compressed.jsonl.zst"] {
        let path = dir.path().join(name);
        group.bench_function(name, |b| {
            b.iter_batched(|| (), |()| write_all(&path, &batch), BatchSize::PerIteration);
        });
        let bytes = std::fs::metadata(&path).unwrap().len();
        println!("{name}: {} bytes for {spans} spans: {:.0} bytes per span", bytes, bytes as f64 / spans as f64);
    }
    group.finish();
}

/// Opens a file in the collector; returns (first frame, whole file).
fn open(path: &Path, records: u64) -> (Duration, Duration) {
    let started = Instant::now();
    let collector = Collector::start(
        CollectorConfig {
            otlp: None,
            open: Some(path.to_owned()),
            publish_interval: Some(Duration::from_millis(100)),
            ..CollectorConfig::default()
        },
        None,
    )
    .unwrap();
    let engine = collector.engine().unwrap();
    let mut first = None;
    loop {
        let snapshot = engine.snapshot();
        if first.is_none() && !snapshot.nodes.is_empty() {
            first = Some(started.elapsed());
        }
        if snapshot.model.spans >= records {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let whole = started.elapsed();
    drop(collector);
    (first.unwrap_or(whole), whole)
}

fn open_large(_c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    // 1M records of one span each, written in chunks to keep memory flat.
    const RECORDS: usize = 1_000_000;
    for name in ["large.jsonl", "large.jsonl.zst"] {
        let path = dir.path().join(name);
        let mut writer = CaptureWriter::create(&path, T0).unwrap();
        for chunk in 0..RECORDS / 10_000 {
            for (i, mut r) in records(10_000, 1).into_iter().enumerate() {
                if let Record::Spans(b) = &mut r {
                    b.received_unix_nano = T0 + (chunk * 10_000 + i) as u64 * 100_000;
                }
                writer.append(&r).unwrap();
            }
            writer.flush().unwrap();
        }
        writer.finish().unwrap();
        let bytes = std::fs::metadata(&path).unwrap().len();
        let (first, whole) = open(&path, RECORDS as u64);
        println!(
            "open {name} ({RECORDS} records, {:.0} MB): first frame after {:.0} ms, whole file after {:.1} s",
            bytes as f64 / 1e6,
            first.as_secs_f64() * 1e3,
            whole.as_secs_f64()
        );
    }
}

criterion_group!(benches, write, open_large);
criterion_main!(benches);
