//! Findings' cost: the engine's apply cost per span with and without the findings detectors
//! (target: at most 15% more), on a session the built-in demo records first (10 s at 100
//! orders/s with poison messages, its Kafka topics tailed) and on synthetic process spans
//! (every span a new message, a new key and a call under the consumer: the detectors' worst
//! case). Journeys are off in both, so the ratio is the detectors' alone. Results in
//! docs/performance.md; memory is in `benches/findings_memory.rs`.

// A benchmark: it stops on errors with a message.
#![allow(missing_docs, clippy::expect_used)]

use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eventlens::engine::EngineState;
use eventlens::model::findings::FindingsSettings;
use eventlens::model::journey::JourneySettings;
use eventlens::model::record::Record;

#[path = "common/demo_session.rs"]
mod demo_session;
#[path = "common/findings_spans.rs"]
mod findings_spans;

use findings_spans::synthetic;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn state(findings: bool) -> EngineState {
    EngineState::new(JourneySettings { enabled: false, ..JourneySettings::default() })
        .with_findings(FindingsSettings { enabled: findings, ..FindingsSettings::default() })
}

fn spans_in(records: &[Record]) -> u64 {
    records.iter().map(|r| if let Record::Spans(b) = r { b.spans.len() as u64 } else { 0 }).sum()
}

fn apply_all(records: &[Record], findings: bool) -> Duration {
    let mut state = state(findings);
    let started = Instant::now();
    for record in records {
        state.apply(record);
    }
    let took = started.elapsed();
    std::hint::black_box(state.findings());
    took
}

fn bench(c: &mut Criterion) {
    let sets = [("demo_session", demo_session::demo_session()), ("synthetic", synthetic(200, 300))];
    for (name, records) in &sets {
        let spans = spans_in(records);
        let mut group = c.benchmark_group(format!("findings_apply_{name}"));
        group.throughput(Throughput::Elements(spans));
        group.sample_size(20);
        for (variant, findings) in [("without_findings", false), ("with_findings", true)] {
            group.bench_function(variant, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| apply_all(records, findings)).sum());
            });
        }
        group.finish();
        // The ratio in one run, best of 15 each, interleaved (this machine drifts).
        let (mut without, mut with) = (Duration::MAX, Duration::MAX);
        for _ in 0..15 {
            without = without.min(apply_all(records, false));
            with = with.min(apply_all(records, true));
        }
        println!(
            "findings_apply_{name}: {spans} spans, without {:.3} us/span, with {:.3} us/span, ratio {:.2}",
            without.as_secs_f64() * 1e6 / spans as f64,
            with.as_secs_f64() * 1e6 / spans as f64,
            with.as_secs_f64() / without.as_secs_f64()
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
