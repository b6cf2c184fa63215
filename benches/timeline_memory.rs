//! The timeline log's memory per span: the heap a [`SessionLog`] retains for span batches
//! (target: at most 200 bytes a span), against the records as they arrived (what the log kept
//! before it packed them), measured with dhat's allocation counters in the same run. Two
//! sessions: realistic export requests (`testing::realistic_request`, 512 spans each) and the
//! span batches of a session the built-in demo records first. Results in
//! docs/performance.md.

// A benchmark: it stops on errors with a message.
#![allow(missing_docs, clippy::expect_used)]

use std::sync::Arc;

use eventlens::engine::EngineState;
use eventlens::engine::playback::SessionLog;
use eventlens::ingest::otlp::convert::convert_request;
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::testing::realistic_request;

#[path = "common/demo_session.rs"]
mod demo_session;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

const REALISTIC_SPANS: usize = 500_000;

fn heap() -> usize {
    dhat::HeapStats::get().curr_bytes
}

fn spans_in(records: &[Record]) -> usize {
    records.iter().map(|r| if let Record::Spans(b) = r { b.spans.len() } else { 0 }).sum()
}

/// Prints what `records` cost kept as they arrived and kept by the log.
fn measure(name: &str, records: &[Record]) {
    let spans = spans_in(records);
    let start = heap();
    // Copies allocate each string at its length, as the receivers' decoding does.
    let arrived: Vec<Arc<Record>> = records.iter().cloned().map(Arc::new).collect();
    let as_arrived = heap().saturating_sub(start);
    // The log takes checkpoints of the state it is given; an empty one keeps them to a few
    // kilobytes, so what is measured is the log's records and dictionary.
    let head = EngineState::default();
    let mut log = SessionLog::new(usize::MAX);
    for record in &arrived {
        log.push(Arc::clone(record), &head);
    }
    drop(arrived);
    let packed = heap().saturating_sub(start);
    println!(
        "timeline_memory {name}: {spans} spans in {} records; as they arrived {as_arrived} bytes ({:.0} per span); \
         the log {packed} bytes ({:.0} per span, {:.1}x smaller; its own estimate {} bytes, {} checkpoints, {} inline \
         for a full dictionary)",
        log.len(),
        as_arrived as f64 / spans as f64,
        packed as f64 / spans as f64,
        as_arrived as f64 / packed.max(1) as f64,
        log.bytes_kept(),
        log.checkpoints(),
        log.inline_when_full(),
    );
}

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let mut records = Vec::new();
    let mut spans = 0;
    let mut seed = 0;
    while spans < REALISTIC_SPANS {
        seed += 1;
        let batch = convert_request(realistic_request(512, seed)).spans;
        spans += batch.len();
        records.push(Record::Spans(SpanBatch {
            received_unix_nano: 1_700_000_000_000_000_000 + seed * 10_000_000,
            source: SourceKind::OtlpGrpc,
            spans: batch,
        }));
    }
    measure("realistic_request", &records);
    drop(records);
    let demo: Vec<Record> =
        demo_session::demo_session().into_iter().filter(|r| matches!(r, Record::Spans(_))).collect();
    measure("demo_session", &demo);
}
