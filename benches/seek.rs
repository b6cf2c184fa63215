//! Seeking on the timeline: the state at a random moment of a 1M-record session (target:
//! at most 100 ms), built from the nearest checkpoint, with and without the snapshot the UI
//! is then sent. Also what building the timeline costs while the records are applied.
//! Results in docs/performance.md.

#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use eventlens::engine::EngineState;
use eventlens::engine::playback::SessionLog;
use eventlens::model::journey::{Expectations, JourneySettings};
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::testing::{consumer_linked, producer};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const RECORDS: u64 = 1_000_000;
/// Records applied to one state before the other takes the same.
const BLOCK: usize = 10_000;
const T0: u64 = 1_763_817_600_000_000_000;

/// Record `i`: a producer or the consumer linked to the previous one, over a dozen services
/// and topics, 1 000 records a second.
fn record(i: u64) -> Record {
    let (service, topic) = (format!("svc-{}", i % 12), format!("topic-{}", i % 6));
    let span = if i.is_multiple_of(2) {
        producer(&service, "kafka", &topic, u128::from(i + 1), i + 1)
    } else {
        consumer_linked(
            &service,
            "kafka",
            &format!("topic-{}", (i - 1) % 6),
            u128::from(i + 1),
            i + 1,
            (u128::from(i), i),
        )
    };
    Record::Spans(SpanBatch { received_unix_nano: T0 + i * 1_000_000, source: SourceKind::File, spans: vec![span] })
}

fn seek(c: &mut Criterion) {
    let mut head = EngineState::new(JourneySettings { enabled: false, ..JourneySettings::default() });
    let mut plain = EngineState::new(JourneySettings { enabled: false, ..JourneySettings::default() });
    let mut log = SessionLog::new(usize::MAX);
    // Both states take the same blocks in turn, so the machine's drift (large here) weighs on
    // both alike; the records are built before the clock starts (the engine receives them
    // built) and dropped inside it. The clock the log spaces its checkpoints by also runs
    // while blocks are built and the other state applies, so it takes more checkpoints than
    // an engine doing only this would: the figure errs against the timeline.
    let (mut without, mut with) = (Duration::ZERO, Duration::ZERO);
    for block in (0..RECORDS).step_by(BLOCK) {
        let plain_block: Vec<Record> = (block..block + BLOCK as u64).map(record).collect();
        let started = Instant::now();
        for r in plain_block {
            plain.apply(&r);
        }
        without += started.elapsed();
        let shared_block: Vec<Arc<Record>> = (block..block + BLOCK as u64).map(|i| Arc::new(record(i))).collect();
        let started = Instant::now();
        for r in shared_block {
            head.apply_shared(Arc::clone(&r));
            log.push(r, &head);
        }
        with += started.elapsed();
    }
    println!(
        "applying {RECORDS} records: {:.2} s without the timeline, {:.2} s with it ({:.2}x; {} checkpoints; the log \
         {:.0} bytes a span by its own estimate, checkpoints {:.1} MB)",
        without.as_secs_f64(),
        with.as_secs_f64(),
        with.as_secs_f64() / without.as_secs_f64(),
        log.checkpoints(),
        log.bytes_kept() as f64 / RECORDS as f64,
        log.checkpoint_bytes() as f64 / 1e6,
    );

    let started = Instant::now();
    let decoded = log.records().filter(Result::is_ok).count();
    let decoding = started.elapsed();
    println!(
        "decoding the log's {decoded} records: {:.2} s ({:.2} us a record)",
        decoding.as_secs_f64(),
        decoding.as_secs_f64() * 1e6 / decoded as f64
    );

    // Targets spread over the session, in an order that jumps back and forth.
    let targets: Vec<u64> = (0..64u64).map(|k| (k * 7_919 * 15_485) % RECORDS).collect();
    let mut group = c.benchmark_group("seek in 1M records");
    group.sample_size(30);
    let mut next = 0;
    group.bench_function("state at a random moment", |b| {
        b.iter(|| {
            next = (next + 1) % targets.len();
            log.state_at(targets[next], None).0
        });
    });
    group.bench_function("state and snapshot at a random moment", |b| {
        b.iter(|| {
            next = (next + 1) % targets.len();
            let (_, mut state) = log.state_at(targets[next], None);
            let at = T0 / 1_000_000_000 + targets[next] / 1_000 + 1;
            state.snapshot(at).nodes.len()
        });
    });
    // The journey list at the cursor: the head's journeys (at their retention limit), each
    // cut to what had been received by then.
    let mut journeys = EngineState::default();
    for i in 0..RECORDS {
        journeys.apply(&record(i));
    }
    journeys.sync_journeys();
    let head = journeys.journeys();
    println!("journeys kept: {}", head.list().len());
    group.bench_function("journey list at a random moment", |b| {
        b.iter(|| {
            next = (next + 1) % targets.len();
            let (_, state) = log.state_at(targets[next], None);
            let at = T0 + targets[next] * 1_000_000;
            let expect = Expectations::of(state.model(), state.kafka());
            head.list_at(at, &expect).len()
        });
    });
    group.finish();
}

criterion_group!(benches, seek);
criterion_main!(benches);
