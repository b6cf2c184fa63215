//! Findings' memory stays bounded: applies a million synthetic spans (every one a new
//! message, key or call: the worst case for the detectors' tables) to a fresh findings model
//! and reports the heap it retains along the way, measured with dhat's counters. The heap
//! must level off once the tables are full. Prints one line per size; results in
//! docs/performance.md.

// A benchmark: it stops on errors with a message.
#![allow(missing_docs, clippy::expect_used)]

use eventlens::model::findings::{FindingsModel, FindingsSettings};
use eventlens::model::record::Record;

#[path = "common/findings_spans.rs"]
mod findings_spans;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let before = dhat::HeapStats::get().curr_bytes;
    let mut model = FindingsModel::new(FindingsSettings::default());
    let mut spans = 0_u64;
    for step in 1..=10 {
        // 100k spans a step, made and dropped step by step so only the model stays.
        for record in findings_spans::synthetic(100, 1_000) {
            if let Record::Spans(batch) = &record {
                model.apply_spans(&batch.spans, batch.received_unix_nano);
                spans += batch.spans.len() as u64;
            }
        }
        let retained = dhat::HeapStats::get().curr_bytes.saturating_sub(before);
        let counters = model.view().counters;
        println!(
            "findings_memory: {spans} spans applied, {:.1} MB retained, {} entries tracked, {} evicted (step {step})",
            retained as f64 / 1e6,
            counters.tracked,
            counters.evicted
        );
    }
}
