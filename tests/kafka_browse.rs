//! The message browser against a real Kafka-protocol broker (librdkafka's mock cluster and
//! the standalone broker): every start position, search by each filter with progress, live
//! tail, dead-letter provenance drawing the DLQ edge, and `traceparent` joining a message to
//! the span that produced it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::kafka::{produce, produce_with};
use eventlens::collector::Collector;
use eventlens::engine::Snapshot;
use eventlens::ingest::browse::{BrowseRequest, StartAt};
use eventlens::ingest::kafka::KafkaConfig;
use eventlens::model::flow_graph::EdgeKind;
use eventlens::model::kafka::message::MessageFilter;

const T0: i64 = 1_790_000_000_000;

fn collector(bootstrap: &str, otlp: bool) -> Collector {
    let mut kafka = KafkaConfig::new(bootstrap);
    kafka.poll_interval = Duration::from_millis(150);
    common::start_kafka_collector(kafka, otlp, None)
}

fn request(topic: &str, partition: Option<i32>, start: StartAt) -> BrowseRequest {
    BrowseRequest {
        topic: topic.into(),
        partition,
        start,
        filter: MessageFilter::default(),
        follow: false,
        limit: 100_000,
    }
}

/// Runs a browse to its end and returns (partition, offset) of what it kept.
fn browse(c: &Collector, request: BrowseRequest) -> (Vec<(i32, i64)>, std::sync::Arc<Snapshot>) {
    let before = c.engine().unwrap().snapshot().kafka.browser.browse;
    assert!(c.browsers()[0].start(request));
    let s = common::wait_for(c, "the browse to finish", |s| {
        s.kafka.browser.browse > before && s.kafka.browser.progress.done
    });
    let b = &s.kafka.browser;
    assert_eq!(b.progress.error, None);
    let mut rows: Vec<(i32, i64)> = (0..b.len()).map(|i| b.get(i).map(|m| (m.partition, m.offset)).unwrap()).collect();
    rows.sort_unstable();
    (rows, s)
}

fn timestamped(bootstrap: &str) {
    let times: Vec<i64> = (0..10).map(|i| T0 + i * 1000).collect();
    common::kafka::produce_at(bootstrap, "orders", 0, &times);
    produce(bootstrap, "orders", 1, 5, T0);
}

#[test]
fn messages_are_read_from_each_start_position() {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    mock.create_topic("orders", 2, 1).unwrap();
    timestamped(&b);
    let c = collector(&b, false);

    let (rows, s) = browse(&c, request("orders", None, StartAt::Earliest));
    assert_eq!(rows.len(), 15);
    let p = &s.kafka.browser.progress;
    assert_eq!((p.scanned, p.total, p.matched), (15, Some(15), 15));
    assert_eq!(browse(&c, request("orders", Some(0), StartAt::Latest(3))).0, vec![(0, 7), (0, 8), (0, 9)]);
    assert_eq!(browse(&c, request("orders", Some(0), StartAt::Offset(4))).0.len(), 6);
    let (rows, s) = browse(&c, request("orders", Some(1), StartAt::Latest(1)));
    assert_eq!(rows, vec![(1, 4)]);
    let m = s.kafka.browser.get(0).unwrap();
    assert_eq!((m.timestamp_ms, m.key.as_deref()), (Some(T0), Some(&b"k4"[..])));
    assert_eq!(m.payload.as_deref(), Some(&br#"{"order":4}"#[..]));
}

#[test]
fn a_browse_can_start_at_a_time() {
    // librdkafka's mock cluster does not look offsets up by time; the standalone broker does.
    let Some(broker) = common::kafka::Broker::start("a_browse_can_start_at_a_time") else { return };
    let b = broker.bootstrap();
    common::kafka::create_topic(&b, "orders", 2);
    timestamped(&b);
    let c = collector(&b, false);
    let (rows, _) = browse(&c, request("orders", Some(0), StartAt::Timestamp(T0 + 5_500)));
    assert_eq!(rows, vec![(0, 6), (0, 7), (0, 8), (0, 9)]);
    let (rows, _) = browse(&c, request("orders", None, StartAt::Timestamp(T0 + 8_000)));
    assert_eq!(rows, vec![(0, 8), (0, 9)], "partition 1 has nothing that late");
}

#[test]
fn searches_filter_by_key_header_payload_json_field_and_trace_id() {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    mock.create_topic("orders", 1, 1).unwrap();
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    produce_with(&b, "orders", 0, 20, T0, &[("tenant", "acme")]);
    produce_with(&b, "orders", 0, 3, T0, &[("tenant", "globex"), ("traceparent", tp)]);
    let c = collector(&b, false);
    let search = |filter: MessageFilter| {
        let mut r = request("orders", None, StartAt::Earliest);
        r.filter = filter;
        let (rows, s) = browse(&c, r);
        let p = &s.kafka.browser.progress;
        assert_eq!((p.scanned, p.total), (23, Some(23)), "the whole topic is scanned");
        assert_eq!(p.matched as usize, rows.len());
        rows
    };
    assert_eq!(search(MessageFilter { key: Some("k1".into()), ..Default::default() }).len(), 12, "k1, k10-k19, k1");
    let globex = search(MessageFilter { header: Some(("tenant".into(), Some("glob".into()))), ..Default::default() });
    assert_eq!(globex, vec![(0, 20), (0, 21), (0, 22)]);
    assert_eq!(search(MessageFilter { payload: Some("\"order\":7}".into()), ..Default::default() }), vec![(0, 7)]);
    let json = MessageFilter { json_field: Some(("order".into(), "2".into())), ..Default::default() };
    assert_eq!(search(json), vec![(0, 2), (0, 22)]);
    let trace = MessageFilter { trace_id: Some("4BF92F3577B34DA6A3CE929D0E0E4736".into()), ..Default::default() };
    assert_eq!(search(trace).len(), 3);
}

#[test]
fn live_tail_shows_messages_as_they_arrive_until_stopped() {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    mock.create_topic("orders", 1, 1).unwrap();
    produce(&b, "orders", 0, 5, T0);
    let c = collector(&b, false);
    let mut r = request("orders", None, StartAt::Latest(0));
    r.follow = true;
    assert!(c.browsers()[0].start(r));
    common::wait_for(&c, "the tail to start", |s| s.kafka.browser.browse > 0);
    std::thread::sleep(Duration::from_millis(300));
    produce(&b, "orders", 0, 3, T0);
    let s = common::wait_for(&c, "three new messages", |s| s.kafka.browser.len() == 3);
    assert!(!s.kafka.browser.progress.done);
    assert_eq!(s.kafka.browser.get(0).map(|m| m.offset), Some(5));
    assert!(c.browsers()[0].stop());
    common::wait_for(&c, "the tail to stop", |s| s.kafka.browser.progress.done);
}

#[test]
fn dead_letter_headers_draw_the_edge_back_to_the_failing_topic() {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    mock.create_topic("orders", 1, 1).unwrap();
    mock.create_topic("orders.DLQ", 1, 1).unwrap();
    produce(&b, "orders", 0, 10, T0);
    produce_with(&b, "orders.DLQ", 0, 2, T0, &[("__connect.errors.topic", "orders"), ("__connect.errors.offset", "3")]);
    let c = collector(&b, false);
    let dlq_edge = |s: &Snapshot| {
        let id = |label: &str| s.nodes.iter().find(|n| n.label == label).map(|n| n.id);
        let (from, to) = (id("kafka/orders")?, id("kafka/orders.DLQ")?);
        s.edges.iter().find(|e| e.from == from && e.to == to && e.kind == EdgeKind::DeadLetters).cloned()
    };
    let s = common::wait_for(&c, "the DLQ edge", |s| dlq_edge(s).is_some_and(|e| e.counters.count == 2));
    assert_eq!(dlq_edge(&s).unwrap().counters.failures, 2);
    produce_with(&b, "orders.DLQ", 0, 1, T0, &[("kafka_dlt-original-topic", "orders")]);
    // Later polls read only what is new: 3 in all, none counted twice.
    common::wait_for(&c, "the third dead letter", |s| dlq_edge(s).is_some_and(|e| e.counters.count == 3));
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(dlq_edge(&c.engine().unwrap().snapshot()).unwrap().counters.count, 3);
}

#[test]
fn traceparent_joins_a_message_to_the_span_that_produced_it() {
    use opentelemetry::KeyValue;
    use opentelemetry::trace::{Span as _, SpanKind, TraceContextExt as _, Tracer, TracerProvider as _};
    use opentelemetry_otlp::{SpanExporter, WithExportConfig};

    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    mock.create_topic("orders", 1, 1).unwrap();
    let c = collector(&b, true);
    let exporter = SpanExporter::builder()
        .with_http()
        .with_endpoint(format!("http://{}/v1/traces", c.http_addr.unwrap()))
        .build()
        .unwrap();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter)
        .with_resource(opentelemetry_sdk::Resource::builder().with_service_name("checkout").build())
        .build();
    let tracer = provider.tracer("checkout");
    let mut send = tracer
        .span_builder("orders send")
        .with_kind(SpanKind::Producer)
        .with_attributes(vec![
            KeyValue::new("messaging.system", "kafka"),
            KeyValue::new("messaging.destination.name", "orders"),
            KeyValue::new("messaging.operation.type", "send"),
        ])
        .start(&tracer);
    let cx = send.span_context().clone();
    let traceparent = format!("00-{}-{}-01", cx.trace_id(), cx.span_id());
    produce_with(&b, "orders", 0, 1, T0, &[("traceparent", &traceparent)]);
    send.end();
    provider.shutdown().unwrap();
    common::wait_for(&c, "the producer span", |s| s.model.spans == 1);
    let _ = opentelemetry::Context::current().span();

    let (_, s) = browse(&c, request("orders", None, StartAt::Earliest));
    let m = s.kafka.browser.get(0).unwrap();
    assert_eq!(m.links.trace.map(|t| t.span_id.to_hex()), Some(cx.span_id().to_string()));
    assert_eq!(s.kafka.browser.produced_by(0), Some("checkout"));
}
