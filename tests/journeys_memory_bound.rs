//! The journey store's count of its bytes (`JourneyCounters::bytes`, what the memory budget's
//! journeys share is held to) against what dhat's counting allocator sees the store keep: its
//! stored spans and messages, and also each journey's record, totals and list row, and the
//! indexes from spans and messages to journeys. The count must not undercount what grows with
//! input, or the budget's share is a fiction.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use eventlens::model::journey::{Expectations, JourneySettings, JourneyStore};
use eventlens::model::kafka::message::{KafkaMessage, MessageHeader};
use eventlens::model::kafka::observation::MessageBatch;
use eventlens::model::kafka::{KafkaEvent, KafkaRecord};
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::model::span::{Span, SpanKind};
use eventlens::testing::span;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

/// Bytes allocated and not yet freed (dhat's counters; the test runs alone in its binary).
fn live() -> usize {
    dhat::HeapStats::get().curr_bytes
}

/// One order's chain: the checkout request, its send, the consumer's process span with a
/// call under it, and the message as the Kafka source read it (its `traceparent` naming the
/// send).
fn order(n: u64) -> (Vec<Span>, KafkaMessage) {
    let trace = u128::from(n) + 1;
    let key = format!("order-{n}");
    let spans = vec![
        span("checkout", "POST /orders", SpanKind::Server).ids(trace, n * 4 + 1).build(),
        span("checkout", "send orders", SpanKind::Producer)
            .ids(trace, n * 4 + 2)
            .parent(n * 4 + 1)
            .messaging("kafka", "orders", "send")
            .attr("messaging.kafka.message.key", &key)
            .build(),
        span("payments", "process orders", SpanKind::Consumer)
            .ids(trace, n * 4 + 3)
            .parent(n * 4 + 2)
            .messaging("kafka", "orders", "process")
            .attr("messaging.consumer.group.name", "payments")
            .attr("messaging.destination.partition.id", "0")
            .attr_int("messaging.kafka.offset", n as i64)
            .build(),
        span("payments", "POST /charges", SpanKind::Client)
            .ids(trace, n * 4 + 4)
            .parent(n * 4 + 3)
            .attr("server.address", "payment-gateway")
            .build(),
    ];
    let traceparent = format!("00-{trace:032x}-{:016x}-01", n * 4 + 2);
    let payload = format!(r#"{{"type":"OrderPlaced","order_id":"{key}","total":{n}}}"#);
    let mut message = KafkaMessage {
        topic: "orders".into(),
        partition: 0,
        offset: n as i64,
        timestamp_ms: Some(1_700_000_000_000 + n as i64),
        timestamp_type: Default::default(),
        key: Some(key.into_bytes()),
        headers: vec![MessageHeader { key: "traceparent".into(), value: Some(traceparent.into_bytes()) }],
        size: payload.len(),
        payload: Some(payload.into_bytes()),
        links: Default::default(),
    };
    message.derive_links();
    (spans, message)
}

/// Adds `orders` orders in batches of 100, judged after each as the engine does, and returns
/// the bytes the allocator says the store keeps.
fn fill(store: &mut JourneyStore, orders: u64) -> usize {
    let before = live();
    let expect = Expectations::default();
    for batch in 0..orders.div_ceil(100) {
        let (mut spans, mut messages) = (Vec::new(), Vec::new());
        for n in batch * 100..((batch + 1) * 100).min(orders) {
            let (s, m) = order(n);
            spans.extend(s);
            messages.push(m);
        }
        let at = 1_700_000_000_000_000_000 + batch * 1_000_000;
        store.add(&Record::Spans(SpanBatch { received_unix_nano: at, source: SourceKind::OtlpGrpc, spans }));
        store.add(&Record::Kafka(KafkaRecord {
            received_unix_nano: at,
            cluster: "local".into(),
            event: KafkaEvent::Messages(MessageBatch { browse: 0, topic: "orders".into(), messages, progress: None }),
        }));
        store.judge(&expect);
    }
    store.refresh(&expect);
    live().saturating_sub(before)
}

/// One test: dhat counts for one profiler at a time in the process.
#[test]
fn the_count_follows_what_the_store_keeps_and_holds_it_to_its_share() {
    let _profiler = dhat::Profiler::builder().testing().build();
    the_count_follows_what_the_store_keeps();
    a_store_held_to_its_share_stays_within_it_as_the_allocator_sees_it();
}

/// The count against the allocator, unbounded, at two sizes.
fn the_count_follows_what_the_store_keeps() {
    for orders in [2_000, 8_000] {
        let mut store = JourneyStore::new(JourneySettings::default());
        let kept = fill(&mut store, orders);
        let counters = store.counters();
        let counted = counters.bytes as usize;
        println!(
            "{orders} orders: {} journeys, {} spans; allocator {kept} bytes, counted {counted} ({:.2}); \
             {} bytes per journey",
            counters.journeys,
            counters.spans,
            counted as f64 / kept as f64,
            kept / counters.journeys.max(1) as usize,
        );
        assert!(counters.journeys >= orders / 2, "the orders made journeys: {counters:?}");
        // Allocator slack and the interner's few names are not counted: the count sees at least
        // 80% of what is kept, and never reports more than 125%.
        assert!(counted as f64 >= 0.8 * kept as f64, "counted {counted} of {kept}");
        assert!(counted as f64 <= 1.25 * kept as f64, "counted {counted} of {kept}");
    }
}

/// A store held to 4 MiB keeps, as the allocator sees it, about that.
fn a_store_held_to_its_share_stays_within_it_as_the_allocator_sees_it() {
    let max_bytes = 4 << 20;
    let mut store = JourneyStore::new(JourneySettings { max_bytes, ..JourneySettings::default() });
    let kept = fill(&mut store, 8_000);
    let counters = store.counters();
    println!("held to {max_bytes}: allocator {kept} bytes, counted {}, evicted {}", counters.bytes, counters.evicted);
    assert!(counters.evicted > 0, "8,000 orders (about 21 MB) do not fit in 4 MiB: {counters:?}");
    assert!(counters.bytes as usize <= max_bytes, "{counters:?}");
    // Tables keep their slots after evictions and the allocator rounds up: a quarter more.
    assert!(kept <= max_bytes * 5 / 4, "the allocator sees {kept} bytes against a share of {max_bytes}");
}
