//! Journey assembly and search, through the engine state as every source feeds it.

mod common;

use eventlens::engine::EngineState;
use eventlens::model::journey::{
    Expectations, JourneyDetail, JourneyQuery, JourneySettings, JourneyStatus, JourneySummary,
};
use eventlens::model::kafka::message::{KafkaMessage, MessageHeader, TimestampType};
use eventlens::model::kafka::observation::MessageBatch;
use eventlens::model::kafka::{KafkaEvent, KafkaRecord};
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::model::span::{Span, SpanKind};
use eventlens::testing::{span, trace_id};

const SECOND: u64 = 1_000_000_000;
const T0: u64 = 1_700_000_000 * SECOND;

fn apply_at(state: &mut EngineState, received: u64, spans: Vec<Span>) {
    state.apply_owned(Record::Spans(SpanBatch { received_unix_nano: received, source: SourceKind::OtlpGrpc, spans }));
}

fn apply(state: &mut EngineState, spans: Vec<Span>) {
    apply_at(state, T0, spans);
}

fn journeys(state: &mut EngineState) -> Vec<JourneySummary> {
    state.snapshot(T0 / SECOND).journeys.iter().cloned().collect()
}

fn send(service: &str, topic: &str, trace: u128, id: u64, at_ms: u64) -> Span {
    span(service, &format!("{topic} send"), SpanKind::Producer)
        .ids(trace, id)
        .messaging("kafka", topic, "send")
        .at_ms(at_ms, 2)
        .build()
}

fn process(
    service: &str,
    topic: &str,
    group: &str,
    trace: u128,
    id: u64,
    at_ms: u64,
) -> eventlens::testing::SpanBuilder {
    span(service, &format!("{topic} process"), SpanKind::Consumer)
        .ids(trace, id)
        .messaging("kafka", topic, "process")
        .attr("messaging.consumer.group.name", group)
        .at_ms(at_ms, 5)
}

fn names(list: &[std::sync::Arc<str>]) -> Vec<&str> {
    list.iter().map(|s| &**s).collect()
}

fn only(list: &[JourneySummary]) -> &JourneySummary {
    assert_eq!(list.len(), 1, "expected one journey, got {list:#?}");
    &list[0]
}

#[test]
fn parent_child_hops_make_one_journey() {
    let mut state = EngineState::default();
    apply(
        &mut state,
        vec![
            span("orders", "POST /orders", SpanKind::Server).ids(1, 1).at_ms(1_000, 20).build(),
            span("orders", "orders send", SpanKind::Producer)
                .ids(1, 2)
                .parent(1)
                .messaging("kafka", "orders", "send")
                .attr("messaging.kafka.message.key", "order-42")
                .at_ms(1_010, 2)
                .build(),
            process("billing", "orders", "billing", 1, 3, 1_100).parent(2).build(),
        ],
    );
    let list = journeys(&mut state);
    let j = only(&list);
    assert_eq!(j.spans, 3);
    assert_eq!(j.hops, 1);
    assert_eq!(&*j.root_service, "orders");
    assert_eq!(&*j.event_type, "POST /orders");
    assert_eq!(j.key(), Some("order-42"));
    assert_eq!(names(&j.services), ["billing", "orders"]);
    assert_eq!(names(&j.topics), ["orders"]);
    assert_eq!(j.status, JourneyStatus::Ok);
    assert_eq!(j.duration_nanos(), 105_000_000);
}

/// orders -> topic orders -> billing (trace 2, linked) -> topic invoices -> mailer (trace 3, linked).
fn linked_chain() -> Vec<Span> {
    vec![
        send("orders", "orders", 1, 1, 1_000),
        process("billing", "orders", "billing", 2, 1, 1_050).link(1, 1).build(),
        send("billing", "invoices", 2, 2, 1_052).into_child_of(1),
        process("mailer", "invoices", "mailer", 3, 1, 1_200).link(2, 2).build(),
    ]
}

trait ChildOf {
    fn into_child_of(self, parent: u64) -> Span;
}

impl ChildOf for Span {
    fn into_child_of(mut self, parent: u64) -> Span {
        self.parent_span_id = Some(eventlens::testing::span_id(parent));
        self
    }
}

#[test]
fn links_join_traces_into_one_journey() {
    let mut state = EngineState::default();
    apply(&mut state, linked_chain());
    let list = journeys(&mut state);
    let j = only(&list);
    assert_eq!(j.trace_ids.len(), 3);
    assert_eq!(j.spans, 4);
    assert_eq!(j.hops, 2);
    assert_eq!(names(&j.services), ["billing", "mailer", "orders"]);
    assert_eq!(names(&j.topics), ["invoices", "orders"]);
    assert_eq!(&*j.root_service, "orders");
}

#[test]
fn late_and_out_of_order_spans_assemble_the_same_journey() {
    let mut in_order = EngineState::default();
    apply(&mut in_order, linked_chain());
    let expected = journeys(&mut in_order);

    let mut shuffled = EngineState::default();
    let mut spans = linked_chain();
    spans.reverse();
    // The consumers arrive first, one export at a time, with snapshots in between (the list
    // is live); the producer that ties them together arrives last.
    for s in spans {
        apply(&mut shuffled, vec![s]);
        journeys(&mut shuffled);
    }
    let got = journeys(&mut shuffled);
    let j = only(&got);
    let e = &expected[0];
    assert_eq!(
        (j.spans, j.hops, &j.services, &j.topics, &j.root_service, j.start_unix_nano, j.end_unix_nano),
        (e.spans, e.hops, &e.services, &e.topics, &e.root_service, e.start_unix_nano, e.end_unix_nano)
    );
    let mut a = j.trace_ids.to_vec();
    let mut b = e.trace_ids.to_vec();
    a.sort();
    b.sort();
    assert_eq!(a, b);
}

#[test]
fn a_batch_receive_links_fifty_journeys_without_merging_them() {
    let mut state = EngineState::default();
    let producers: Vec<Span> = (0..50).map(|i| send("orders", "orders", 100 + i, 1, 1_000 + i as u64)).collect();
    let mut batch = span("analytics", "orders receive", SpanKind::Consumer)
        .ids(999, 1)
        .messaging("kafka", "orders", "receive")
        .attr("messaging.consumer.group.name", "analytics")
        .at_ms(2_000, 40);
    for i in 0..50 {
        batch = batch.link(100 + i, 1);
    }
    // The batch's child writes one aggregate: work triggered by the batch stays in its journey.
    let aggregate = send("analytics", "stats", 999, 2, 2_030).into_child_of(1);
    apply(&mut state, producers);
    apply(&mut state, vec![batch.build(), aggregate]);

    let list = journeys(&mut state);
    assert_eq!(list.len(), 51, "fifty producer journeys and the batch's own");
    let batch_journey = list.iter().find(|j| j.trace_ids.contains(&trace_id(999))).unwrap();
    assert_eq!(batch_journey.spans, 2);
    assert_eq!(names(&batch_journey.services), ["analytics"]);
    for j in list.iter().filter(|j| j.id != batch_journey.id) {
        assert_eq!(j.spans, 1);
        assert_eq!(j.hops, 1, "the batch consumer delivered each one");
        assert_eq!(j.status, JourneyStatus::Ok);
    }
    let detail = JourneyDetail::build(&state.journeys(), batch_journey.id, state.kafka()).unwrap();
    assert_eq!(detail.batch_inputs.len(), 50);

    // A producer's waterfall shows the batch span that consumed it, with its time in topic.
    let first = list.iter().find(|j| j.trace_ids.contains(&trace_id(100))).unwrap();
    let detail = JourneyDetail::build(&state.journeys(), first.id, state.kafka()).unwrap();
    assert_eq!(detail.batch_consumers, vec![batch_journey.id]);
    assert_eq!(detail.rows.len(), 2);
    let consumer_row = detail.rows.iter().find(|r| r.borrowed).unwrap();
    assert!(consumer_row.via_link);
    assert_eq!(consumer_row.in_topic, Some((1_000 * 1_000_000, 2_000 * 1_000_000)));
}

/// Was `a_trace_that_becomes_a_batch_is_split_back_out`: a poll loop's trace used to become a
/// batch journey of its own once a second process span linked another message. Issue 14: a
/// process span linking one message belongs to that message's journey, whatever trace it is
/// in, so the loop's trace is in both messages' journeys and no batch journey is made.
#[test]
fn a_poll_loop_trace_is_in_the_journey_of_each_message_it_processed() {
    let mut state = EngineState::default();
    apply(&mut state, vec![send("orders", "orders", 1, 1, 1_000), send("orders", "orders", 2, 1, 1_001)]);
    // A poll loop: one trace whose process spans each link one message.
    apply(&mut state, vec![process("billing", "orders", "billing", 9, 1, 1_100).link(1, 1).build()]);
    assert_eq!(journeys(&mut state).len(), 2, "trace 9's span joined trace 1's journey");
    apply(&mut state, vec![process("billing", "orders", "billing", 9, 2, 1_101).link(2, 1).build()]);
    let list = journeys(&mut state);
    assert_eq!(list.len(), 2, "{list:#?}");
    for producer in [1, 2] {
        let j = list.iter().find(|j| j.trace_ids.contains(&trace_id(producer))).unwrap();
        let mut traces = j.trace_ids.to_vec();
        traces.sort();
        assert_eq!(traces, [trace_id(producer), trace_id(9)], "{j:#?}");
        assert_eq!((j.spans, j.hops), (2, 1));
    }
    let of_loop = state.journeys().journeys_of_trace(&trace_id(9));
    assert_eq!(of_loop.len(), 2);
}

#[test]
fn fan_out_to_four_groups_is_one_journey_with_four_hops() {
    let mut state = EngineState::default();
    let mut spans = vec![send("orders", "orders", 1, 1, 1_000)];
    for (i, s) in ["billing", "shipping", "analytics", "fraud"].iter().enumerate() {
        spans.push(process(s, "orders", s, 10 + i as u128, 1, 1_100).link(1, 1).build());
    }
    apply(&mut state, spans);
    let list = journeys(&mut state);
    let j = only(&list);
    assert_eq!(j.hops, 4);
    assert_eq!(names(&j.services), ["analytics", "billing", "fraud", "orders", "shipping"]);
    let detail = JourneyDetail::build(&state.journeys(), j.id, state.kafka()).unwrap();
    assert_eq!(detail.rows.iter().filter(|r| r.in_topic.is_some()).count(), 4);
    assert_eq!(detail.path.edges.len(), 5, "one produce and four consume edges: {:?}", detail.path.edges);
}

#[test]
fn a_saga_with_a_compensation_is_one_failed_journey() {
    let mut state = EngineState::default();
    apply(
        &mut state,
        vec![
            send("orders", "orders", 1, 1, 1_000),
            process("payments", "orders", "payments", 2, 1, 1_050).link(1, 1).error("card declined").build(),
            send("payments", "payment-failed", 2, 2, 1_060).into_child_of(1),
            process("orders", "payment-failed", "orders", 3, 1, 1_150).link(2, 2).build(),
            send("orders", "order-cancelled", 3, 2, 1_160).into_child_of(1),
        ],
    );
    let list = journeys(&mut state);
    let j = only(&list);
    assert_eq!(j.status, JourneyStatus::Failed);
    assert_eq!(j.error.as_deref(), Some("card declined"));
    assert_eq!(names(&j.topics), ["order-cancelled", "orders", "payment-failed"]);
    assert_eq!(j.hops, 2);
    let detail = JourneyDetail::build(&state.journeys(), j.id, state.kafka()).unwrap();
    // The critical path runs from the order to the cancellation.
    let critical: Vec<&str> = detail.rows.iter().filter(|r| r.critical).map(|r| detail.span(r).name.as_str()).collect();
    assert_eq!(
        critical,
        ["orders send", "orders process", "payment-failed send", "payment-failed process", "order-cancelled send"]
    );
}

fn message(topic: &str, offset: i64, key: &str, headers: &[(&str, &str)], payload: &str) -> KafkaMessage {
    let mut m = KafkaMessage {
        topic: topic.into(),
        partition: 0,
        offset,
        timestamp_ms: Some(1_700_000_001_000),
        timestamp_type: TimestampType::CreateTime,
        key: Some(key.as_bytes().to_vec()),
        headers: headers
            .iter()
            .map(|(k, v)| MessageHeader { key: (*k).into(), value: Some(v.as_bytes().to_vec()) })
            .collect(),
        payload: Some(payload.as_bytes().to_vec()),
        size: payload.len(),
        links: Default::default(),
    };
    m.derive_links();
    m
}

fn apply_messages(state: &mut EngineState, messages: Vec<KafkaMessage>) {
    state.apply_owned(Record::Kafka(KafkaRecord {
        received_unix_nano: T0,
        cluster: "local".into(),
        event: KafkaEvent::Messages(MessageBatch { browse: 1, topic: "orders".into(), messages, progress: None }),
    }));
}

#[test]
fn a_message_known_only_from_kafka_is_a_journey_and_traceparent_joins_spans() {
    let mut state = EngineState::default();
    apply(&mut state, vec![send("orders", "orders", 0xabc, 7, 1_000)]);
    let traceparent = format!("00-{}-{}-01", trace_id(0xabc), eventlens::testing::span_id(7));
    apply_messages(
        &mut state,
        vec![
            message("orders", 5, "order-5", &[], r#"{"type":"OrderPlaced","id":5}"#),
            message("orders", 6, "order-6", &[("traceparent", &traceparent)], "{}"),
        ],
    );
    // Browsing again adds nothing twice.
    apply_messages(&mut state, vec![message("orders", 5, "order-5", &[], r#"{"type":"OrderPlaced","id":5}"#)]);
    let list = journeys(&mut state);
    assert_eq!(list.len(), 2);
    let alone = list.iter().find(|j| j.key() == Some("order-5")).unwrap();
    assert_eq!((alone.spans, alone.messages), (0, 1));
    assert_eq!(&*alone.event_type, "OrderPlaced");
    assert_eq!(names(&alone.topics), ["orders"]);
    let joined = list.iter().find(|j| j.key() == Some("order-6")).unwrap();
    assert_eq!((joined.spans, joined.messages), (1, 1));
    let detail = JourneyDetail::build(&state.journeys(), alone.id, state.kafka()).unwrap();
    assert_eq!(detail.messages.len(), 1);
    assert_eq!(detail.messages[0].step.position(), "orders/0@5");
}

#[test]
fn a_message_no_consumer_group_processed_becomes_incomplete_after_the_grace_period() {
    let mut state = EngineState::default();
    // Earlier traffic shows billing and shipping both consume `orders`.
    apply(
        &mut state,
        vec![
            send("orders", "orders", 1, 1, 1_000),
            process("billing", "orders", "billing", 2, 1, 1_050).link(1, 1).build(),
            process("shipping", "orders", "shipping", 3, 1, 1_050).link(1, 1).build(),
        ],
    );
    // A second order only billing processed.
    apply(
        &mut state,
        vec![
            send("orders", "orders", 4, 1, 2_000),
            process("billing", "orders", "billing", 5, 1, 2_050).link(4, 1).build(),
        ],
    );
    let status = |state: &mut EngineState| {
        let list = journeys(state);
        let j = list.iter().find(|j| j.trace_ids.contains(&trace_id(4))).unwrap().clone();
        (j.status, list.len())
    };
    assert_eq!(status(&mut state), (JourneyStatus::InFlight, 2));
    let q = JourneyQuery::parse("status:inflight").unwrap();
    assert_eq!(journeys(&mut state).iter().filter(|j| q.matches(j)).count(), 1);
    // Time passes (the session clock is the receive time of what arrives).
    apply_at(&mut state, T0 + 31 * SECOND, vec![span("other", "tick", SpanKind::Internal).ids(50, 1).build()]);
    assert_eq!(status(&mut state), (JourneyStatus::Incomplete, 3));
}

#[test]
fn each_search_key_finds_the_right_journeys() {
    let mut state = EngineState::default();
    apply(
        &mut state,
        vec![
            span("orders", "orders send", SpanKind::Producer)
                .ids(1, 1)
                .messaging("kafka", "orders", "send")
                .attr("messaging.kafka.message.key", "order-1")
                .attr("messaging.message.id", "msg-1")
                .attr("cloudevents.event_type", "com.shop.OrderPlaced")
                .at_ms(1_000, 2)
                .build(),
            process("billing", "orders", "billing", 2, 1, 1_050).link(1, 1).error("boom").build(),
            span("search", "GET /search", SpanKind::Server).ids(3, 1).at_ms(5_000, 900).build(),
        ],
    );
    apply_messages(
        &mut state,
        vec![message("returns", 0, "order-9", &[("ce_id", "ce-9"), ("ce_type", "com.shop.ReturnRequested")], "{}")],
    );
    let list = journeys(&mut state);
    assert_eq!(list.len(), 3);
    let find = |q: &str| -> Vec<String> {
        let q = JourneyQuery::parse(q).unwrap();
        let mut found: Vec<String> = list.iter().filter(|j| q.matches(j)).map(|j| j.event_type.to_string()).collect();
        found.sort();
        found
    };
    let order = ["com.shop.OrderPlaced".to_owned()];
    assert_eq!(find(&format!("trace:{}", trace_id(2))), order);
    assert_eq!(find("id:msg-1"), order);
    assert_eq!(find("id:ce-9"), ["com.shop.ReturnRequested"]);
    assert_eq!(find("key:order-1"), order);
    assert_eq!(find("key:order-9"), ["com.shop.ReturnRequested"]);
    assert_eq!(find("type:orderplaced"), order);
    assert_eq!(find("type:GET"), ["GET /search"]);
    assert_eq!(find("service:billing"), order);
    assert_eq!(find("topic:returns"), ["com.shop.ReturnRequested"]);
    assert_eq!(find("status:failed"), order);
    assert_eq!(find("duration>500ms"), ["GET /search"]);
    assert_eq!(find("duration<100ms service:search"), Vec::<String>::new());
    assert_eq!(find("search"), ["GET /search"]);
}

#[test]
fn retention_evicts_the_oldest_journeys_and_counts_them() {
    let settings = JourneySettings { max_journeys: 10, ..JourneySettings::default() };
    let mut state = EngineState::new(settings);
    for i in 0..25 {
        apply(&mut state, vec![send("orders", "orders", 100 + i, 1, 1_000)]);
    }
    let snapshot = state.snapshot(T0 / SECOND);
    assert_eq!(snapshot.journeys.len(), 10);
    assert_eq!(snapshot.journey_counters.evicted, 15);
    let kept: Vec<u128> = snapshot.journeys.iter().map(|j| u128::from_be_bytes(j.trace_ids[0].0)).collect();
    assert_eq!(kept, (115..125).collect::<Vec<_>>(), "the newest are kept");
}

#[test]
fn a_collector_without_journeys_still_draws_the_graph() {
    use eventlens::collector::{Collector, CollectorConfig};
    use eventlens::ingest::otlp::OtlpConfig;

    let collector = Collector::start(
        CollectorConfig {
            otlp: Some(OtlpConfig {
                grpc: None,
                http: Some("127.0.0.1:0".parse().unwrap()),
                max_request_bytes: 1 << 20,
            }),
            publish_interval: Some(std::time::Duration::from_millis(20)),
            journeys: JourneySettings { enabled: false, ..JourneySettings::default() },
            ..CollectorConfig::default()
        },
        None,
    )
    .unwrap();
    let spans = eventlens::testing::saga_spans();
    common::post_spans(&collector, &spans);
    let engine = collector.engine().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while engine.snapshot().model.spans < spans.len() as u64 {
        assert!(std::time::Instant::now() < deadline, "spans not applied");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::thread::sleep(std::time::Duration::from_millis(60));
    let snapshot = engine.snapshot();
    assert!(snapshot.nodes.len() >= 5, "the graph is drawn");
    assert!(snapshot.journeys.is_empty());
    assert_eq!(snapshot.journey_counters.spans, 0);
}

#[test]
fn a_journey_at_a_moment_is_what_had_been_received_by_then() {
    let mut state = EngineState::default();
    // Billing is known to consume `orders` (so a sent order waits for it).
    apply_at(&mut state, T0, linked_chain()[..2].to_vec());
    // The order followed here arrives in three exports a second apart: sent, processed by
    // billing, and the invoice that processing triggered failed.
    apply_at(&mut state, T0 + SECOND, vec![send("orders", "orders", 3, 1, 1_000)]);
    apply_at(
        &mut state,
        T0 + 2 * SECOND,
        vec![process("billing", "orders", "billing", 4, 1, 1_100).link(3, 1).build()],
    );
    let invoice = span("billing", "render invoice", SpanKind::Internal).ids(4, 2).parent(1).at_ms(1_200, 10);
    apply_at(&mut state, T0 + 3 * SECOND, vec![invoice.error("template missing").build()]);
    journeys(&mut state);
    let head = state.journeys();
    let expect = Expectations::of(state.model(), state.kafka());
    let id = head.journey_of_trace(&trace_id(3)).unwrap();
    let at = |received: u64| head.summary_at(id, received, &expect);
    let now = head.list().get(id).unwrap().clone();
    assert_eq!((now.spans, now.status, now.error.as_deref()), (3, JourneyStatus::Failed, Some("template missing")));

    assert_eq!(at(T0 + SECOND - 1), None, "nothing had arrived");
    // Sent, not yet processed: in flight, one trace, no hop.
    let sent = at(T0 + SECOND).unwrap();
    assert_eq!((sent.spans, sent.hops, sent.status), (1, 0, JourneyStatus::InFlight));
    assert_eq!(sent.trace_ids.to_vec(), [trace_id(3)]);
    assert_eq!(names(&sent.services), ["orders"]);
    assert_eq!(sent.end_unix_nano, 1_002_000_000);
    // Processed by billing, the failure not reported yet.
    let processed = at(T0 + 2 * SECOND + SECOND / 2).unwrap();
    assert_eq!((processed.spans, processed.hops, processed.failures), (2, 1, 0));
    assert_eq!(processed.status, JourneyStatus::Ok);
    assert_eq!(processed.trace_ids.len(), 2);
    assert_eq!(names(&processed.services), ["billing", "orders"]);
    // Once everything had arrived, the row is the journey's own.
    assert_eq!(at(T0 + 3 * SECOND), Some(now));
}

#[test]
fn a_journey_waiting_for_a_consumer_was_in_flight_before_its_grace_ran_out() {
    let mut state = EngineState::default();
    apply(&mut state, linked_chain()[..2].to_vec());
    apply_at(&mut state, T0 + SECOND, vec![send("orders", "orders", 3, 1, 2_000)]);
    apply_at(&mut state, T0 + 40 * SECOND, vec![span("other", "tick", SpanKind::Internal).ids(50, 1).build()]);
    journeys(&mut state);
    let head = state.journeys();
    let expect = Expectations::of(state.model(), state.kafka());
    let id = head.journey_of_trace(&trace_id(3)).unwrap();
    assert_eq!(head.list().get(id).unwrap().status, JourneyStatus::Incomplete);
    let at = |received: u64| head.summary_at(id, received, &expect).unwrap().status;
    assert_eq!(at(T0 + 5 * SECOND), JourneyStatus::InFlight);
    assert_eq!(at(T0 + 35 * SECOND), JourneyStatus::Incomplete);
}
