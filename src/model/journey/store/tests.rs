//! The journey rules of issue 14, one test each, in every arrival order that matters: spans
//! shaped as the confluent-kafka and kafkajs instrumentations emit them.

use super::JourneyStore;
use crate::model::journey::expect::Expectations;
use crate::model::journey::{JourneyDetail, JourneySummary};
use crate::model::kafka::KafkaModel;
use crate::model::span::{Span, SpanKind};
use crate::testing::{span, span_id, trace_id};

const T0: u64 = 1_700_000_000_000_000_000;

fn send(service: &str, topic: &str, trace: u128, id: u64, key: &str) -> Span {
    span(service, &format!("{topic} send"), SpanKind::Producer)
        .ids(trace, id)
        .messaging("kafka", topic, "send")
        .attr("messaging.kafka.message.key", key)
        .at_ms(1_000 + id, 2)
        .build()
}

/// A `<topic> process` span linking one producer span, under `parent`.
fn process(service: &str, topic: &str, (trace, id): (u128, u64), parent: Option<u64>, to: (u128, u64)) -> Span {
    let mut b = span(service, &format!("{topic} process"), SpanKind::Consumer)
        .ids(trace, id)
        .messaging("kafka", topic, "process")
        .link(to.0, to.1)
        .at_ms(1_100 + id, 5);
    if let Some(p) = parent {
        b = b.parent(p);
    }
    b.build()
}

/// confluent-kafka's `recv`: a CONSUMER span with no attributes, under whatever was current.
fn recv(service: &str, (trace, id): (u128, u64), parent: Option<u64>) -> Span {
    let mut b = span(service, "recv", SpanKind::Consumer).ids(trace, id).at_ms(1_100 + id, 0);
    if let Some(p) = parent {
        b = b.parent(p);
    }
    b.build()
}

fn inner(service: &str, name: &str, (trace, id): (u128, u64), parent: u64) -> Span {
    span(service, name, SpanKind::Internal).ids(trace, id).parent(parent).at_ms(1_100 + id, 1).build()
}

fn store_of(spans: &[Span]) -> JourneyStore {
    let mut store = JourneyStore::default();
    for s in spans {
        store.add_span(s, T0);
    }
    store.refresh(&Expectations::default());
    store
}

fn rows(store: &JourneyStore) -> Vec<JourneySummary> {
    let mut rows: Vec<JourneySummary> = store.list().iter().cloned().collect();
    rows.sort_by(|a, b| a.keys.cmp(&b.keys));
    rows
}

/// A row as independent of ids and arrival order: (keys, spans, services, traces).
type Shape = (Vec<String>, u32, Vec<String>, Vec<String>);

/// What the rows say.
fn shape(store: &JourneyStore) -> Vec<Shape> {
    rows(store)
        .iter()
        .map(|r| {
            let mut traces: Vec<String> = r.trace_ids.iter().map(|t| t.to_hex()).collect();
            traces.sort();
            let texts = |v: &[std::sync::Arc<str>]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
            (texts(&r.keys), r.spans, texts(&r.services), traces)
        })
        .collect()
}

/// Every rotation and the reverse of each: children before parents, consumers before
/// producers, and the other way round.
fn orders(spans: &[Span]) -> Vec<Vec<Span>> {
    let mut out = Vec::new();
    for start in 0..spans.len() {
        let mut rotated = spans.to_vec();
        rotated.rotate_left(start);
        out.push(rotated.clone());
        rotated.reverse();
        out.push(rotated);
    }
    out
}

/// Two orders consumed by one thread polling in a loop: the process span of the first stays
/// current, so the next `recv` (and everything after it) lands in the same trace, 9.
fn leaked_loop() -> Vec<Span> {
    vec![
        send("checkout", "orders", 1, 1, "order-1"),
        send("checkout", "orders", 2, 1, "order-2"),
        recv("payments", (9, 1), None),
        process("payments", "orders", (9, 2), Some(1), (1, 1)),
        inner("payments", "charge card", (9, 3), 2),
        send("payments", "payments", 9, 4, "order-1"),
        recv("payments", (9, 5), Some(2)),
        process("payments", "orders", (9, 6), Some(5), (2, 1)),
        inner("payments", "charge card", (9, 7), 6),
        // Shipping polled in the same thread: its recv is a child of order 2's process span,
        // and the producer it links is in the same trace.
        recv("shipping", (9, 8), Some(6)),
        process("shipping", "payments", (9, 9), Some(8), (9, 4)),
    ]
}

#[test]
fn an_entry_belongs_to_its_producers_journey_whatever_its_leaked_parent() {
    let mut spans = leaked_loop();
    spans[5].parent_span_id = Some(span_id(2));
    let expected = shape(&store_of(&spans));
    let traces = |t: &[u128]| t.iter().map(|t| trace_id(*t).to_hex()).collect::<Vec<_>>();
    let services = |s: &[&str]| s.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        expected,
        [
            (vec!["order-1".to_owned()], 5, services(&["checkout", "payments", "shipping"]), traces(&[1, 9])),
            (vec!["order-2".to_owned()], 3, services(&["checkout", "payments"]), traces(&[2, 9])),
        ],
        "recv spans are never counted; order 2 is not merged into order 1"
    );
    for order in orders(&spans) {
        assert_eq!(shape(&store_of(&order)), expected);
    }
    let store = store_of(&spans);
    assert_eq!(store.journeys_of_trace(&trace_id(9)).len(), 2, "the loop's trace is in both");
}

#[test]
fn a_journey_of_receive_spans_alone_is_never_listed() {
    let store = store_of(&[recv("payments", (9, 1), None), recv("payments", (9, 2), Some(1))]);
    assert!(store.list().is_empty());
    assert_eq!(store.counters().spans, 2, "kept, to be shown as context");
    // A poll span with per-message process spans under it: the messages' journeys only.
    let poll = span("analytics", "poll orders", SpanKind::Client)
        .ids(8, 1)
        .messaging("kafka", "orders", "receive")
        .attr_int("messaging.batch.message_count", 2)
        .at_ms(1_090, 30)
        .build();
    let spans = vec![
        send("checkout", "orders", 1, 1, "order-1"),
        send("checkout", "orders", 2, 1, "order-2"),
        poll,
        process("analytics", "orders", (8, 2), Some(1), (1, 1)),
        process("analytics", "orders", (8, 3), Some(1), (2, 1)),
    ];
    for order in orders(&spans) {
        let store = store_of(&order);
        let rows = rows(&store);
        assert_eq!(rows.len(), 2, "{rows:#?}");
        assert!(rows.iter().all(|r| r.spans == 2 && r.hops == 1 && r.keys.len() == 1), "{rows:#?}");
    }
}

#[test]
fn a_poll_span_is_shown_in_each_journey_it_touches() {
    let poll = span("analytics", "poll orders", SpanKind::Client)
        .ids(8, 1)
        .messaging("kafka", "orders", "receive")
        .at_ms(1_090, 30)
        .build();
    let store = store_of(&[
        send("checkout", "orders", 1, 1, "order-1"),
        send("checkout", "orders", 2, 1, "order-2"),
        poll,
        process("analytics", "orders", (8, 2), Some(1), (1, 1)),
        process("analytics", "orders", (8, 3), Some(1), (2, 1)),
    ]);
    for row in rows(&store) {
        let detail = JourneyDetail::build(&store, row.id, &KafkaModel::default()).unwrap();
        let names: Vec<(&str, u16, bool, bool)> =
            detail.rows.iter().map(|r| (detail.span(r).name.as_str(), r.depth, r.context, r.via_link)).collect();
        // The producer, the poll under it (through the process span's link), the process span.
        assert_eq!(
            names,
            [("orders send", 0, false, false), ("poll orders", 1, true, true), ("orders process", 2, false, false)]
        );
        assert!(detail.rows[2].in_topic.is_some());
        // What the OTLP export takes: every row but batch consumers' (borrowed) ones.
        let exported = detail.rows.iter().filter(|r| !r.borrowed).count();
        assert_eq!((row.spans, exported), (2, 3), "the context is exported, not counted");
    }
}

#[test]
fn a_batch_still_links_the_journeys_it_consumed_without_merging_them() {
    // confluent-kafka's consume(): one process span linking every message, under a recv.
    let batch = span("analytics", "orders process", SpanKind::Consumer)
        .ids(7, 2)
        .parent(1)
        .messaging("kafka", "orders", "process")
        .link(1, 1)
        .link(2, 1)
        .link(3, 1)
        .at_ms(1_200, 5)
        .build();
    let spans = vec![
        send("checkout", "orders", 1, 1, "order-1"),
        send("checkout", "orders", 2, 1, "order-2"),
        send("checkout", "orders", 3, 1, "order-3"),
        recv("analytics", (7, 1), None),
        batch,
    ];
    for order in orders(&spans) {
        let store = store_of(&order);
        let rows = rows(&store);
        assert_eq!(rows.len(), 4, "three orders and the batch's own: {rows:#?}");
        let (batch_row, inputs) = rows.split_first().unwrap();
        assert_eq!((batch_row.keys.len(), batch_row.spans), (0, 1));
        let kafka = KafkaModel::default();
        let detail = JourneyDetail::build(&store, batch_row.id, &kafka).unwrap();
        assert_eq!(detail.batch_inputs.len(), 3);
        assert_eq!(detail.rows.iter().filter(|r| r.context).count(), 1, "its recv, as context");
        for input in inputs {
            assert_eq!((input.spans, input.hops), (1, 1), "delivered by the batch");
            let detail = JourneyDetail::build(&store, input.id, &kafka).unwrap();
            assert_eq!(detail.batch_consumers, [batch_row.id]);
            assert!(detail.rows.iter().any(|r| r.borrowed && r.via_link));
        }
    }
}

#[test]
fn a_message_waits_for_its_traceparent_span_and_a_duplicate_span_stays_put() {
    use crate::model::kafka::message::{KafkaMessage, TimestampType};
    let producer = send("checkout", "orders", 1, 1, "order-1");
    let mut message = KafkaMessage {
        topic: "orders".into(),
        partition: 0,
        offset: 3,
        timestamp_ms: Some(1_700_000_001_000),
        timestamp_type: TimestampType::CreateTime,
        key: Some(b"order-1".to_vec()),
        headers: Vec::new(),
        payload: None,
        size: 0,
        links: Default::default(),
    };
    message.links.trace = Some(producer.span_ref());
    let mut store = JourneyStore::default();
    store.add_message(&message, T0);
    store.add_span(&producer, T0);
    store.add_span(&producer, T0);
    store.refresh(&Expectations::default());
    let rows = rows(&store);
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].spans, rows[0].messages), (2, 1));
}

#[test]
fn the_oldest_journeys_go_when_the_bytes_pass_the_journeys_share() {
    use crate::model::journey::JourneySettings;
    // Each journey: one producer span with a 10 KB attribute (its body is stored encoded).
    let big = |n: u64| {
        span("checkout", "orders send", SpanKind::Producer)
            .ids(u128::from(n), 1)
            .messaging("kafka", "orders", "send")
            .attr("payload", &"x".repeat(10_000))
            .at_ms(1_000 + n, 2)
            .build()
    };
    let mut unbounded = JourneyStore::default();
    unbounded.add_span(&big(1), T0);
    let one = unbounded.counters().bytes as usize;
    assert!(one > 10_000, "a journey's bytes count what its spans carry: {one}");

    let settings = JourneySettings { max_bytes: one * 5 + one / 2, ..JourneySettings::default() };
    let mut store = JourneyStore::new(settings);
    for n in 1..=20 {
        store.add_span(&big(n), T0 + n);
        assert!(store.counters().bytes as usize <= one * 5 + one / 2, "within the share after journey {n}");
    }
    store.refresh(&Expectations::default());
    let counters = store.counters();
    assert_eq!((counters.journeys, counters.evicted), (5, 15), "{counters:?}");
    // The newest five are the ones kept.
    let mut traces: Vec<_> = store.list().iter().map(|j| j.trace_ids[0]).collect();
    traces.sort();
    assert_eq!(traces, (16..=20).map(trace_id).collect::<Vec<_>>());
}

#[test]
fn a_full_list_grows_by_half_its_length_and_a_merge_by_what_it_brings() {
    use super::grown_by_half;
    // Room left: nothing to reserve.
    assert_eq!(grown_by_half(3, 4, 1), 0);
    // Full: half the length again, at least what is asked.
    assert_eq!(grown_by_half(16, 16, 1), 8);
    assert_eq!(grown_by_half(1, 1, 1), 1);
    assert_eq!(grown_by_half(0, 0, 1), 1);
    // A merge bringing more than half: exactly what it brings.
    assert_eq!(grown_by_half(10, 10, 30), 30);
    // Appending one at a time, the spare room never passes half the length.
    let (mut len, mut capacity) = (0usize, 0usize);
    for _ in 0..10_000 {
        capacity += grown_by_half(len, capacity, 1);
        len += 1;
        assert!(capacity <= len + len / 2 + 1, "{len} in {capacity}");
    }
}
