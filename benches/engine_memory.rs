//! Engine memory per span: applies realistic spans to a fresh engine and reports the heap
//! it retains, measured with dhat's allocation counters. Prints one line per size, without
//! and with journeys (which keep whole spans, up to their retention limits).

use eventlens::engine::EngineState;
use eventlens::ingest::otlp::convert::convert_request;
use eventlens::model::journey::JourneySettings;
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::testing::realistic_request;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    for (total, journeys) in [100_000usize, 500_000, 1_000_000].into_iter().flat_map(|t| [(t, false), (t, true)]) {
        let before = dhat::HeapStats::get().curr_bytes;
        let mut state = EngineState::new(JourneySettings { enabled: journeys, ..JourneySettings::default() });
        let mut applied = 0;
        let mut seed = 0;
        while applied < total {
            seed += 1;
            let spans = convert_request(realistic_request(512, seed)).spans;
            applied += spans.len();
            state.apply_owned(Record::Spans(SpanBatch {
                received_unix_nano: 1_700_000_000_000_000_000 + seed * 10_000_000,
                source: SourceKind::OtlpGrpc,
                spans,
            }));
            // As the engine does at each publish: rebuild the rows of changed journeys.
            if seed % 64 == 0 {
                state.sync_journeys();
            }
        }
        state.sync_journeys();
        let retained = dhat::HeapStats::get().curr_bytes.saturating_sub(before);
        let kept = state.journeys().counters();
        println!(
            "journeys={journeys} spans={applied} engine_bytes={retained} bytes_per_span={:.1} nodes={} edges={} journey_spans_kept={} bytes_per_kept_span={:.0}",
            retained as f64 / applied as f64,
            state.model().graph().node_count(),
            state.model().graph().edge_count(),
            kept.spans,
            if kept.spans > 0 { retained as f64 / kept.spans as f64 } else { 0.0 },
        );
        drop(state);
    }
}
