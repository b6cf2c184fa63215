//! Ingest throughput: OTLP protobuf decode, then normalize into model spans, then apply to
//! the engine's model, for batches of 512 realistic spans. See docs/performance.md.

// criterion_group! generates an undocumented function.
#![allow(missing_docs)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use eventlens::engine::EngineState;
use eventlens::ingest::otlp::convert::convert_request;
use eventlens::model::journey::JourneySettings;
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::testing::realistic_request;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;

// The allocator the eventlens binary uses, so these numbers are the product's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const BATCH: usize = 512;

/// Where journeys are assembled.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Journeys {
    /// On the journey thread, as in the live engine.
    Thread,
    /// On the applying thread.
    Inline,
    /// Not at all.
    Off,
}

fn encoded_batches(count: u64) -> Vec<Vec<u8>> {
    (0..count).map(|seed| realistic_request(BATCH, seed).encode_to_vec()).collect()
}

fn batch_record(seed: u64, spans: Vec<eventlens::model::span::Span>) -> Record {
    Record::Spans(SpanBatch {
        received_unix_nano: 1_700_000_000_000_000_000 + seed * 1_000_000,
        source: SourceKind::OtlpGrpc,
        spans,
    })
}

fn record(seed: u64) -> Record {
    batch_record(seed, convert_request(realistic_request(BATCH, seed)).spans)
}

fn ingest(c: &mut Criterion) {
    let batches = encoded_batches(64);
    let mut group = c.benchmark_group("ingest_512_spans");
    group.throughput(Throughput::Elements(BATCH as u64));

    let mut i = 0;
    group.bench_function("decode", |b| {
        b.iter(|| {
            i = (i + 1) % batches.len();
            ExportTraceServiceRequest::decode(batches[i].as_slice()).map(|r| r.resource_spans.len())
        });
    });

    group.bench_function("decode_normalize", |b| {
        b.iter(|| {
            i = (i + 1) % batches.len();
            let request = ExportTraceServiceRequest::decode(batches[i].as_slice()).unwrap_or_default();
            convert_request(request).spans.len()
        });
    });

    // A long-lived engine in steady state, as after hours of a session: 2.5M spans applied
    // first, so every join index is at capacity and each insert evicts (the costliest case),
    // and journeys are at their retention limit with their trace index at its settled size.
    // Journeys are assembled as the live engine does (on the journey thread, rows rebuilt
    // every 64 batches as at 10 publishes/s), inline as files are read, or not at all.
    let variants = [
        ("decode_normalize_apply", Journeys::Thread),
        ("decode_normalize_apply_journeys_inline", Journeys::Inline),
        ("decode_normalize_apply_no_journeys", Journeys::Off),
    ];
    for (name, journeys) in variants {
        let settings = JourneySettings { enabled: journeys != Journeys::Off, ..JourneySettings::default() };
        let mut state = match journeys {
            Journeys::Thread => {
                EngineState::threaded(settings, eventlens::model::findings::FindingsSettings::default())
                    .unwrap_or_else(|e| panic!("journey thread: {e}"))
            }
            Journeys::Inline | Journeys::Off => EngineState::new(settings),
        };
        let mut seed = 0u64;
        while state.model().counters().spans < 2_500_000 {
            seed += 1;
            state.apply_owned(record(seed));
        }
        state.sync_journeys();
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    seed += 1;
                    (seed, realistic_request(BATCH, seed).encode_to_vec())
                },
                |(seed, bytes)| {
                    let request = ExportTraceServiceRequest::decode(bytes.as_slice()).unwrap_or_default();
                    state.apply_owned(batch_record(seed, convert_request(request).spans));
                    if seed % 64 == 0 {
                        state.sync_journeys();
                    }
                },
                BatchSize::SmallInput,
            );
        });
    }
    group.finish();
}

criterion_group!(benches, ingest);
criterion_main!(benches);
