//! The findings detectors' measure of their memory (`FindingsModel::heap_bytes`, issue 15's
//! memory budget) against what dhat's counting allocator sees them keep, on the detectors' worst
//! case: every span a new message, key and call, and every message a new key with a JSON
//! payload, failures and a few schema changes. The measure must not undercount what grows
//! with input, and the state must stay within what `FindingsSettings::within_bytes` promises.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use eventlens::model::findings::{FindingsModel, FindingsSettings, TRACKED_BYTES};
use eventlens::model::kafka::message::KafkaMessage;
use eventlens::model::record::Record;

#[path = "../benches/common/findings_spans.rs"]
mod findings_spans;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Bytes allocated and not yet freed (dhat's counters; the test runs alone in its binary).
fn live() -> usize {
    dhat::HeapStats::get().curr_bytes
}

fn message(n: i64) -> KafkaMessage {
    // Three shapes, the later ones changes; a key per message; a sequence and a time.
    let extra = match n % 3 {
        0 => String::new(),
        1 => r#","coupon":"SPRING""#.to_owned(),
        _ => format!(r#","note":"{}""#, "x".repeat(40)),
    };
    let payload = format!(
        r#"{{"type":"OrderPlaced","order_id":"o-{n}","seq":{n},"time":"2026-12-01T10:00:00Z","total":{n}{extra}}}"#
    );
    let mut m = KafkaMessage {
        topic: format!("orders-{}", n % 4),
        partition: (n % 6) as i32,
        offset: n,
        timestamp_ms: Some(1_700_000_000_000 + n),
        timestamp_type: Default::default(),
        key: Some(format!("order-{n}").into_bytes()),
        headers: Vec::new(),
        size: payload.len(),
        payload: Some(payload.into_bytes()),
        links: Default::default(),
    };
    m.derive_links();
    m
}

/// Feeds `model` the worst case until every memory is full, then returns the bytes the
/// allocator says it keeps.
fn fill(max_tracked: usize) -> (usize, FindingsModel) {
    let before = live();
    let mut model = FindingsModel::new(FindingsSettings { max_tracked, ..FindingsSettings::default() });
    let factor: usize = std::env::var("ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(16);
    let rounds = (max_tracked * factor).div_ceil(900);
    for round in 0..rounds {
        for record in findings_spans::synthetic(1, 300) {
            if let Record::Spans(mut batch) = record {
                for span in &mut batch.spans {
                    // New ids each round, so the memories keep filling.
                    span.trace_id.0[0] = (round % 251) as u8;
                    span.trace_id.0[1] = (round / 251) as u8;
                    span.span_id.0[0] = (round % 251) as u8;
                    span.span_id.0[1] = (round / 251) as u8;
                    if span.name.starts_with("process") && round % 7 == 0 {
                        span.status = eventlens::model::span::StatusCode::Error;
                    }
                    model.apply_span(span, batch.received_unix_nano);
                }
            }
        }
        for n in 0..300 {
            let m = message((round * 300 + n) as i64);
            model.apply_message(&m, 1);
        }
    }
    (live().saturating_sub(before), model)
}

#[test]
fn the_measure_follows_what_the_detectors_keep_and_stays_within_its_promise() {
    let _profiler = dhat::Profiler::builder().testing().build();
    for max_tracked in [5_000, 20_000] {
        let (kept, model) = fill(max_tracked);
        let measured = model.heap_bytes();
        let counters = model.view().counters;
        println!(
            "max_tracked {max_tracked}: allocator {kept} bytes, measured {measured} bytes ({:.2}), \
             tracked {}, evicted {}; {} bytes per unit of max_tracked",
            measured as f64 / kept as f64,
            counters.tracked,
            counters.evicted,
            kept / max_tracked,
        );
        assert!(counters.evicted > 0, "the memories were filled past their bound");
        // What it holds beyond the measure (fixed-count maps, event types, allocator slack) is
        // small: the measure sees at least 80% of it, and never reports more than 125%.
        assert!(measured as f64 >= 0.8 * kept as f64, "measured {measured} of {kept}");
        assert!(measured as f64 <= 1.25 * kept as f64, "measured {measured} of {kept}");
        assert!(kept <= max_tracked * TRACKED_BYTES, "{kept} over {max_tracked} x {TRACKED_BYTES}");
    }
}
