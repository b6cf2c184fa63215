//! Engine memory per span: applies spans to a fresh engine and reports the heap it retains,
//! measured with dhat's allocation counters, without and with journeys (which keep spans up
//! to their retention limits). Two sessions: realistic export requests
//! (`testing::realistic_request`, one or two spans a journey: the journeys' worst case) and
//! a session the built-in demo records first (whole orders, several spans a journey). For
//! each, what journeys add (with less without, at the same size) per span they keep.
//! Results in docs/performance.md.

// A benchmark: it stops on errors with a message.
#![allow(missing_docs, clippy::expect_used)]

use eventlens::engine::EngineState;
use eventlens::ingest::otlp::convert::convert_request;
use eventlens::model::journey::JourneySettings;
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::testing::realistic_request;

#[path = "common/demo_session.rs"]
mod demo_session;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// What one apply of a session retained.
struct Retained {
    spans: usize,
    bytes: usize,
    kept_spans: u64,
    journeys: u64,
    nodes: usize,
    edges: usize,
}

/// Applies the records `next` yields to a fresh engine, rebuilding the rows of changed
/// journeys every 64 records as the engine does at each publish.
fn retained(journeys: bool, mut next: impl FnMut() -> Option<Record>) -> Retained {
    let before = dhat::HeapStats::get().curr_bytes;
    let mut state = EngineState::new(JourneySettings { enabled: journeys, ..JourneySettings::default() });
    let mut spans = 0;
    let mut applied = 0u64;
    while let Some(record) = next() {
        if let Record::Spans(batch) = &record {
            spans += batch.spans.len();
        }
        state.apply_owned(record);
        applied += 1;
        if applied.is_multiple_of(64) {
            state.sync_journeys();
        }
    }
    state.sync_journeys();
    let bytes = dhat::HeapStats::get().curr_bytes.saturating_sub(before);
    let counters = state.journeys().counters();
    Retained {
        spans,
        bytes,
        kept_spans: counters.spans,
        journeys: counters.journeys,
        nodes: state.model().graph().node_count(),
        edges: state.model().graph().edge_count(),
    }
}

fn report(session: &str, without: &Retained, with: &Retained) {
    let added = with.bytes.saturating_sub(without.bytes);
    let per_kept = |b: usize| if with.kept_spans > 0 { b as f64 / with.kept_spans as f64 } else { 0.0 };
    println!(
        "{session}: spans={} without_journeys={} ({:.1} per span) with_journeys={} journeys_kept={} journey_spans_kept={} \
         bytes_per_kept_span={:.0} journeys_own_bytes={added} ({:.0} per kept span) nodes={} edges={}",
        with.spans,
        without.bytes,
        without.bytes as f64 / without.spans.max(1) as f64,
        with.bytes,
        with.journeys,
        with.kept_spans,
        per_kept(with.bytes),
        per_kept(added),
        with.nodes,
        with.edges,
    );
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    for total in [100_000usize, 500_000, 1_000_000] {
        let realistic = |journeys| {
            let (mut applied, mut seed) = (0, 0);
            retained(journeys, || {
                if applied >= total {
                    return None;
                }
                seed += 1;
                let spans = convert_request(realistic_request(512, seed)).spans;
                applied += spans.len();
                Some(Record::Spans(SpanBatch {
                    received_unix_nano: 1_700_000_000_000_000_000 + seed * 10_000_000,
                    source: SourceKind::OtlpGrpc,
                    spans,
                }))
            })
        };
        let (without, with) = (realistic(false), realistic(true));
        report(&format!("realistic_request {total}"), &without, &with);
    }
    let session = demo_session::demo_session();
    let demo = |journeys| {
        let mut records = session.iter().cloned();
        retained(journeys, || records.next())
    };
    let (without, with) = (demo(false), demo(true));
    report("demo_session", &without, &with);
}
