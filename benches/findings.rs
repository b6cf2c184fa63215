//! Findings' cost: the engine's apply cost per span with and without the findings detectors
//! (target: at most 15% more), on a session the built-in demo records first (10 s at 100
//! orders/s with poison messages, its Kafka topics tailed) and on synthetic process spans
//! (every span a new message, a new key and a call under the consumer: the detectors' worst
//! case). Journeys are off in all, so the ratio is the detectors' alone.
//!
//! Three variants: `without_findings`; `with_findings_inline`, the detectors on the engine's
//! thread (what a file replay and the timeline's cursor pay: the detectors' whole CPU cost);
//! `with_findings_thread`, the detectors on the `eventlens-findings` helper as the live engine
//! runs them, timed on the engine's thread up to the last record handed over (what the engine,
//! the single writer, pays per span; the helper works on the other core meanwhile), then
//! synced untimed. Results in docs/performance.md; memory is in
//! `benches/findings_memory.rs`.

// A benchmark: it stops on errors with a message.
#![allow(missing_docs, clippy::expect_used)]

use std::sync::Arc;
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

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Without,
    Inline,
    Thread,
}

fn state(variant: Variant) -> EngineState {
    let journeys = JourneySettings { enabled: false, ..JourneySettings::default() };
    let findings = FindingsSettings { enabled: variant != Variant::Without, ..FindingsSettings::default() };
    match variant {
        Variant::Thread => EngineState::threaded(journeys, findings).expect("findings thread"),
        _ => EngineState::new(journeys).with_findings(findings),
    }
}

fn spans_in(records: &[Record]) -> u64 {
    records.iter().map(|r| if let Record::Spans(b) = r { b.spans.len() as u64 } else { 0 }).sum()
}

/// The records shared, as the engine holds them (its timeline keeps each one too).
fn shared(records: &[Record]) -> Vec<Arc<Record>> {
    records.iter().cloned().map(Arc::new).collect()
}

fn apply_all(records: &[Arc<Record>], variant: Variant) -> Duration {
    let mut state = state(variant);
    let started = Instant::now();
    for record in records {
        state.apply_shared(Arc::clone(record));
    }
    let took = started.elapsed();
    std::hint::black_box(state.findings());
    took
}

fn bench(c: &mut Criterion) {
    let sets = [("demo_session", demo_session::demo_session()), ("synthetic", synthetic(200, 300))];
    for (name, records) in &sets {
        let spans = spans_in(records);
        let records = &shared(records);
        let mut group = c.benchmark_group(format!("findings_apply_{name}"));
        group.throughput(Throughput::Elements(spans));
        group.sample_size(20);
        let variants = [
            ("without_findings", Variant::Without),
            ("with_findings_inline", Variant::Inline),
            ("with_findings_thread", Variant::Thread),
        ];
        for (label, variant) in variants {
            group.bench_function(label, |b| {
                b.iter_custom(|iters| (0..iters).map(|_| apply_all(records, variant)).sum());
            });
        }
        group.finish();
        // The ratios in one run, best of 15 each, interleaved (this machine drifts).
        let mut best = [Duration::MAX; 3];
        for _ in 0..15 {
            for (i, (_, variant)) in variants.iter().enumerate() {
                best[i] = best[i].min(apply_all(records, *variant));
            }
        }
        let per_span = |d: Duration| d.as_secs_f64() * 1e6 / spans as f64;
        let ratio = |d: Duration| d.as_secs_f64() / best[0].as_secs_f64();
        println!(
            "findings_apply_{name}: {spans} spans, without {:.3} us/span, inline {:.3} us/span (ratio {:.2}), \
             engine thread with the helper {:.3} us/span (ratio {:.2})",
            per_span(best[0]),
            per_span(best[1]),
            ratio(best[1]),
            per_span(best[2]),
            ratio(best[2]),
        );
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
