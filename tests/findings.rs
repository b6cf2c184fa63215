//! Findings against a real Kafka-protocol broker (`noida-db`): each detector is driven by a
//! scripted session that produces exactly its problem, beside a clean chain in the same
//! session that must yield no finding of that kind. Message-based detectors read real
//! messages through the collector's tail; span-based ones get spans describing real reads of
//! real messages (their partitions and offsets come from an rdkafka consumer, and "processed
//! again" is a real seek back). Last, `eventlens findings` on recorded sessions, as a
//! pipeline runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::kafka::{Broker, commit, create_topic, produce};
use common::post_spans;
use eventlens::collector::Collector;
use eventlens::engine::Snapshot;
use eventlens::ingest::kafka::KafkaConfig;
use eventlens::model::findings::{Compatibility, Finding, FindingKind, MessageRef, Severity, ShapeField};
use eventlens::model::kafka::LagStatus;
use eventlens::model::span::SpanKind;
use eventlens::testing::{SpanBuilder, span, trace_id};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Header, Message, OwnedHeaders};
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

const BIN: &str = env!("CARGO_BIN_EXE_eventlens");
/// Offsets poll (and so tail) interval: short, so a scripted step shows within a second.
const POLL: Duration = Duration::from_millis(200);
/// How long a finding may take to show (polls on a busy machine, broker timeouts).
const WAIT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------------------
// Reading findings.

/// The findings of one kind.
fn findings_of(s: &Snapshot, kind: FindingKind) -> Vec<&Finding> {
    s.findings.findings.iter().filter(|f| f.kind == kind).collect()
}

/// The findings of one kind on a topic.
fn on_topic<'a>(s: &'a Snapshot, kind: FindingKind, topic: &str) -> Vec<&'a Finding> {
    findings_of(s, kind).into_iter().filter(|f| f.location.topic.as_deref() == Some(topic)).collect()
}

/// The findings of one kind for a consumer group.
fn of_group<'a>(s: &'a Snapshot, kind: FindingKind, group: &str) -> Vec<&'a Finding> {
    findings_of(s, kind).into_iter().filter(|f| f.location.group.as_deref() == Some(group)).collect()
}

/// The findings of one kind for a service.
fn of_service<'a>(s: &'a Snapshot, kind: FindingKind, service: &str) -> Vec<&'a Finding> {
    findings_of(s, kind).into_iter().filter(|f| f.location.service.as_deref() == Some(service)).collect()
}

/// A message's place in the log.
fn place(topic: &str, partition: i32, offset: i64) -> MessageRef {
    MessageRef { topic: topic.to_owned(), partition, offset }
}

/// Waits until `done` holds for the engine's snapshot, or panics showing the findings.
fn wait_findings(c: &Collector, what: &str, done: impl Fn(&Snapshot) -> bool) -> Arc<Snapshot> {
    let engine = c.engine().expect("engine running");
    let deadline = Instant::now() + WAIT;
    loop {
        let s = engine.snapshot();
        if done(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}; findings: {:#?}", s.findings.findings);
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------
// The collector and its polls.

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64
}

/// The cluster at `bootstrap`, polled (and tailed) every [`POLL`].
fn watch(bootstrap: &str) -> KafkaConfig {
    let mut c = KafkaConfig::new(bootstrap);
    c.poll_interval = POLL;
    c
}

fn collector(bootstrap: &str, otlp: bool) -> Collector {
    common::start_kafka_collector(watch(bootstrap), otlp, None)
}

fn last_poll(s: &Snapshot, bootstrap: &str) -> Option<u64> {
    s.kafka.clusters().get(bootstrap).and_then(|c| c.last_poll_ms)
}

fn high_watermark(s: &Snapshot, bootstrap: &str, topic: &str, partition: i32) -> Option<i64> {
    s.kafka.clusters().get(bootstrap)?.topics.get(topic)?.partitions.get(&partition).map(|p| p.high)
}

/// Waits for the collector's next offsets poll.
fn next_poll(c: &Collector, bootstrap: &str) -> Arc<Snapshot> {
    let before = last_poll(&c.engine().expect("engine running").snapshot(), bootstrap);
    common::wait_within(c, "the next poll", WAIT, |s| last_poll(s, bootstrap) > before)
}

/// Waits until the collector has read a partition's messages up to `high`. A poll sends what
/// it tailed before the watermarks it planned the read by, so once the engine shows `high`
/// the messages below it were applied; one more poll covers a read a bound cut short.
fn wait_tailed(c: &Collector, bootstrap: &str, topic: &str, partition: i32, high: i64) -> Arc<Snapshot> {
    common::wait_within(c, &format!("{topic}/{partition} read up to offset {high}"), WAIT, |s| {
        high_watermark(s, bootstrap, topic, partition) >= Some(high)
    });
    next_poll(c, bootstrap)
}

// ---------------------------------------------------------------------------------------
// Producing and reading real messages.

/// A message to produce.
#[derive(Clone, Debug)]
struct Msg {
    topic: String,
    partition: i32,
    key: Option<String>,
    payload: Vec<u8>,
    headers: Vec<(String, Vec<u8>)>,
}

/// A message to partition 0 of `topic`.
fn msg(topic: &str, key: Option<&str>, payload: impl Into<Vec<u8>>) -> Msg {
    Msg {
        topic: topic.to_owned(),
        partition: 0,
        key: key.map(str::to_owned),
        payload: payload.into(),
        headers: Vec::new(),
    }
}

impl Msg {
    fn on_partition(mut self, partition: i32) -> Self {
        self.partition = partition;
        self
    }

    fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    /// Binary-mode CloudEvent headers.
    fn cloud_event(self, id: &str, event_type: &str) -> Self {
        self.header("ce_id", id)
            .header("ce_type", event_type)
            .header("ce_specversion", "1.0")
            .header("ce_source", "/tests")
    }
}

/// Produces `messages` in order (one request in flight, so the log keeps that order) and
/// waits until the broker has them.
fn send(bootstrap: &str, messages: &[Msg]) {
    let producer: BaseProducer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("linger.ms", "0")
        .set("max.in.flight.requests.per.connection", "1")
        .create()
        .unwrap();
    for m in messages {
        let mut headers = OwnedHeaders::new();
        for (name, value) in &m.headers {
            headers = headers.insert(Header { key: name.as_str(), value: Some(value.as_slice()) });
        }
        let mut record =
            BaseRecord::<str, [u8]>::to(&m.topic).partition(m.partition).payload(m.payload.as_slice()).headers(headers);
        if let Some(key) = &m.key {
            record = record.key(key.as_str());
        }
        producer.send(record).map_err(|(e, _)| e).unwrap();
    }
    producer.flush(Duration::from_secs(10)).unwrap();
}

/// A message as a consumer read it.
#[derive(Clone, Debug)]
struct Read {
    topic: String,
    partition: i32,
    offset: i64,
    key: Option<String>,
    payload: Vec<u8>,
}

impl Read {
    fn place(&self) -> MessageRef {
        place(&self.topic, self.partition, self.offset)
    }
}

/// A consumer of `group` that reads assigned partitions and never commits.
fn reader(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .create()
        .unwrap()
}

/// Reads `n` messages of a partition from offset `from` (assigning the partition there: a
/// seek back when it was read past already).
fn read_from(consumer: &BaseConsumer, topic: &str, partition: i32, from: i64, n: usize) -> Vec<Read> {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(from)).unwrap();
    consumer.assign(&tpl).unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut out: Vec<Read> = Vec::new();
    let mut last_error = None;
    while out.len() < n {
        assert!(
            Instant::now() < deadline,
            "read {} of {n} messages of {topic}/{partition} from offset {from}; last error: {last_error:?}",
            out.len()
        );
        match consumer.poll(Duration::from_millis(100)) {
            // Only the next offset expected: nothing left over from an earlier assignment.
            Some(Ok(m))
                if m.topic() == topic && m.partition() == partition && m.offset() == from + out.len() as i64 =>
            {
                out.push(Read {
                    topic: m.topic().to_owned(),
                    partition: m.partition(),
                    offset: m.offset(),
                    key: m.key().map(|k| String::from_utf8_lossy(k).into_owned()),
                    payload: m.payload().unwrap_or_default().to_vec(),
                });
            }
            Some(Ok(_)) | None => {}
            Some(Err(e)) => last_error = Some(e),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Spans describing the processing.

/// Fresh (trace, span) ids, one trace per span.
#[derive(Default)]
struct Ids(u64);

impl Ids {
    fn fresh(&mut self) -> (u128, u64) {
        self.0 += 1;
        (1_000 + u128::from(self.0), self.0)
    }
}

/// A process span of `service`, consumer group `group`, for the message `m`, started now.
fn process_span(service: &str, group: &str, m: &Read, (trace, id): (u128, u64)) -> SpanBuilder {
    let builder = span(service, &format!("{} process", m.topic), SpanKind::Consumer)
        .ids(trace, id)
        .messaging("kafka", &m.topic, "process")
        .attr("messaging.consumer.group.name", group)
        .attr("messaging.destination.partition.id", &m.partition.to_string())
        .attr_int("messaging.kafka.offset", m.offset)
        .at_ms(now_ms(), 5);
    match &m.key {
        Some(key) => builder.attr("messaging.kafka.message.key", key),
        None => builder,
    }
}

// ---------------------------------------------------------------------------------------
// The detectors.

#[test]
fn duplicate_a_group_processing_messages_again_and_an_event_written_twice() {
    let Some(broker) = Broker::start("duplicate_a_group_processing_messages_again_and_an_event_written_twice") else {
        return;
    };
    let b = broker.bootstrap();
    create_topic(&b, "orders", 1);
    create_topic(&b, "payments", 1);
    let orders: Vec<Msg> = (0..10)
        .map(|i| {
            let key = format!("o-{i}");
            msg("orders", Some(key.as_str()), format!(r#"{{"type":"OrderPlaced","order_id":"{key}"}}"#))
        })
        .collect();
    send(&b, &orders);
    let c = collector(&b, true);

    // inventory processes offsets 0..10, then seeks back to 5 and processes 5..10 again.
    let inventory = reader(&b, "inventory");
    let first = read_from(&inventory, "orders", 0, 0, 10);
    let again = read_from(&inventory, "orders", 0, 5, 5);
    assert_eq!(again.iter().map(|m| m.offset).collect::<Vec<_>>(), (5..10).collect::<Vec<i64>>());
    // billing processes each message once.
    let billing = read_from(&reader(&b, "billing"), "orders", 0, 0, 10);
    let mut ids = Ids::default();
    let mut spans: Vec<_> = first
        .iter()
        .chain(&again)
        .map(|m| process_span("inventory-svc", "inventory", m, ids.fresh()).build())
        .collect();
    spans.extend(billing.iter().map(|m| process_span("billing-svc", "billing", m, ids.fresh()).build()));
    post_spans(&c, &spans);

    // One CloudEvent written twice (at offsets 0 and 2), another once.
    send(
        &b,
        &[
            msg("payments", None, r#"{"amount_cents":1200}"#).cloud_event("evt-1", "PaymentCaptured"),
            msg("payments", None, r#"{"amount_cents":800}"#).cloud_event("evt-2", "PaymentCaptured"),
            msg("payments", None, r#"{"amount_cents":1200}"#).cloud_event("evt-1", "PaymentCaptured"),
        ],
    );

    wait_findings(&c, "duplicates by inventory and on payments", |s| {
        of_group(s, FindingKind::Duplicate, "inventory").iter().any(|f| f.count == 5)
            && on_topic(s, FindingKind::Duplicate, "payments").iter().any(|f| f.count == 1)
    });
    let s = wait_tailed(&c, &b, "payments", 0, 3);

    let all = findings_of(&s, FindingKind::Duplicate);
    assert_eq!(all.len(), 2, "{all:#?}");
    let inventory = of_group(&s, FindingKind::Duplicate, "inventory");
    assert_eq!(inventory.len(), 1, "{inventory:#?}");
    let f = inventory[0];
    assert_eq!(f.location.topic.as_deref(), Some("orders"));
    assert_eq!(f.count, 5, "offsets 5..10 processed twice");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.evidence.messages, again.iter().map(Read::place).collect::<Vec<_>>());
    assert_eq!(f.evidence.traces.len(), 5, "the journeys of the second attempts");
    assert!(f.summary.contains("group inventory"), "{}", f.summary);
    assert!(of_group(&s, FindingKind::Duplicate, "billing").is_empty(), "each message once is no duplicate");

    let payments = on_topic(&s, FindingKind::Duplicate, "payments");
    assert_eq!(payments.len(), 1, "{payments:#?}");
    let f = payments[0];
    assert_eq!(f.count, 1, "evt-1 written twice; evt-2 once");
    assert_eq!((f.location.group.as_deref(), f.location.service.as_deref()), (None, None), "every consumer's problem");
    assert_eq!(f.evidence.messages, [place("payments", 0, 0), place("payments", 0, 2)]);
}

#[test]
fn out_of_order_a_key_written_against_its_sequence_and_a_key_on_two_partitions() {
    let Some(broker) = Broker::start("out_of_order_a_key_written_against_its_sequence_and_a_key_on_two_partitions")
    else {
        return;
    };
    let b = broker.bootstrap();
    create_topic(&b, "clean", 1);
    create_topic(&b, "orders", 1);
    create_topic(&b, "spread", 2);
    let c = collector(&b, true);

    // In order by each of the three sources: sequence, the event's own time, creation first.
    send(
        &b,
        &[
            msg("clean", Some("c-1"), r#"{"type":"CartOpened","seq":1}"#),
            msg("clean", Some("c-1"), r#"{"type":"ItemAdded","seq":2}"#),
            msg("clean", Some("c-2"), r#"{"type":"CartOpened","seq":1}"#),
            msg("clean", Some("c-2"), r#"{"type":"ItemAdded","seq":2}"#),
            msg("clean", Some("c-3"), r#"{"type":"AccountCreated"}"#),
            msg("clean", Some("c-3"), r#"{"type":"AccountUpdated"}"#),
            msg("clean", Some("c-4"), r#"{"type":"Ping","time":"2026-01-01T10:00:00Z"}"#),
            msg("clean", Some("c-4"), r#"{"type":"Ping","time":"2026-01-01T10:00:05Z"}"#),
        ],
    );
    // o-1's update is written before the placement it follows; o-2 is in order.
    send(
        &b,
        &[
            msg("orders", Some("o-1"), r#"{"type":"OrderUpdated","seq":2}"#),
            msg("orders", Some("o-1"), r#"{"type":"OrderPlaced","seq":1}"#),
            msg("orders", Some("o-2"), r#"{"type":"OrderPlaced","seq":1}"#),
            msg("orders", Some("o-2"), r#"{"type":"OrderUpdated","seq":2}"#),
        ],
    );
    // s-1 is written to both partitions; s-2 stays on partition 0.
    send(
        &b,
        &[
            msg("spread", Some("s-1"), r#"{"type":"ShipmentCreated","seq":1}"#).on_partition(0),
            msg("spread", Some("s-2"), r#"{"type":"ShipmentCreated","seq":1}"#).on_partition(0),
            msg("spread", Some("s-1"), r#"{"type":"ShipmentUpdated","seq":2}"#).on_partition(1),
            msg("spread", Some("s-2"), r#"{"type":"ShipmentUpdated","seq":2}"#).on_partition(0),
        ],
    );
    // inventory reads orders: the finding names the group that processes them out of order.
    let reads = read_from(&reader(&b, "inventory"), "orders", 0, 0, 4);
    let mut ids = Ids::default();
    let spans: Vec<_> =
        reads.iter().map(|m| process_span("inventory-svc", "inventory", m, ids.fresh()).build()).collect();
    post_spans(&c, &spans);

    wait_findings(&c, "out-of-order findings on orders and spread", |s| {
        on_topic(s, FindingKind::OutOfOrder, "orders").iter().any(|f| f.summary.contains("inventory"))
            && !on_topic(s, FindingKind::OutOfOrder, "spread").is_empty()
    });
    let s = wait_tailed(&c, &b, "clean", 0, 8);

    let orders = on_topic(&s, FindingKind::OutOfOrder, "orders");
    assert_eq!(orders.len(), 1, "{orders:#?}");
    let f = orders[0];
    assert_eq!(f.count, 1, "one key affected");
    assert_eq!(f.severity, Severity::Warning);
    assert_eq!(f.evidence.keys, ["o-1"]);
    assert_eq!(f.evidence.messages, [place("orders", 0, 0), place("orders", 0, 1)]);
    assert!(f.summary.contains("groups inventory"), "{}", f.summary);

    assert!(on_topic(&s, FindingKind::OutOfOrder, "clean").is_empty(), "{:#?}", s.findings.findings);

    let spread = on_topic(&s, FindingKind::OutOfOrder, "spread");
    assert_eq!(spread.len(), 1, "{spread:#?}");
    assert_eq!(spread[0].count, 1);
    assert_eq!(spread[0].evidence.keys, ["s-1"]);
    assert!(spread[0].summary.contains("more than one partition"), "{}", spread[0].summary);

    assert_eq!(findings_of(&s, FindingKind::OutOfOrder).len(), 2);
}

/// The field paths of a shape, in order.
fn paths(fields: &[ShapeField]) -> Vec<String> {
    fields.iter().map(|f| f.path.clone()).collect()
}

#[test]
fn schema_change_a_renamed_field_with_the_consumer_that_began_failing() {
    let Some(broker) = Broker::start("schema_change_a_renamed_field_with_the_consumer_that_began_failing") else {
        return;
    };
    let b = broker.bootstrap();
    create_topic(&b, "orders", 1);
    let c = collector(&b, true);
    let placed = |i: u32| {
        msg("orders", None, format!(r#"{{"type":"OrderPlaced","order_id":"o-{i}","total_cents":{}}}"#, 1_000 + i))
    };
    let shipped =
        |i: u32| msg("orders", None, format!(r#"{{"type":"OrderShipped","order_id":"o-{i}","carrier":"dhl"}}"#));
    // Offsets 0..24: the established shapes of both event types.
    let v1: Vec<Msg> = (0..12).flat_map(|i| [placed(i), shipped(i)]).collect();
    send(&b, &v1);

    // checkout's producer span, whose trace the new shape's messages carry.
    let (trace, span_id) = (77_u128, 1_u64);
    post_spans(
        &c,
        &[span("checkout", "orders send", SpanKind::Producer)
            .ids(trace, span_id)
            .messaging("kafka", "orders", "send")
            .at_ms(now_ms(), 2)
            .build()],
    );
    let traceparent = format!("00-{}-{}-01", trace_id(trace).to_hex(), eventlens::testing::span_id(span_id).to_hex());
    // Offsets 24..27: total_cents renamed to amount_cents, currency added. Then 27..30:
    // OrderShipped as before.
    let v2: Vec<Msg> = (12..15)
        .map(|i| {
            msg(
                "orders",
                None,
                format!(r#"{{"type":"OrderPlaced","order_id":"o-{i}","amount_cents":{},"currency":"EUR"}}"#, 1_000 + i),
            )
            .header("traceparent", traceparent.as_str())
        })
        .collect();
    send(&b, &v2);
    send(&b, &(12..15).map(shipped).collect::<Vec<_>>());

    // payments fails on the new messages (its spans start now, after their timestamps);
    // shipping processes them fine.
    let reads = read_from(&reader(&b, "payments"), "orders", 0, 0, 30);
    let new_shape: Vec<&Read> =
        reads.iter().filter(|m| String::from_utf8_lossy(&m.payload).contains("amount_cents")).collect();
    assert_eq!(new_shape.iter().map(|m| m.offset).collect::<Vec<_>>(), [24, 25, 26]);
    let mut ids = Ids::default();
    let mut spans: Vec<_> = new_shape
        .iter()
        .map(|m| process_span("payments-svc", "payments", m, ids.fresh()).error("KeyError: 'total_cents'").build())
        .collect();
    spans.extend(new_shape.iter().map(|m| process_span("shipping-svc", "shipping", m, ids.fresh()).build()));
    post_spans(&c, &spans);

    wait_findings(&c, "a schema change of OrderPlaced failing payments", |s| {
        findings_of(s, FindingKind::SchemaChange)
            .iter()
            .any(|f| f.count == 3 && f.evidence.shape.as_deref().is_some_and(|d| !d.failing_consumers.is_empty()))
    });
    let s = wait_tailed(&c, &b, "orders", 0, 30);

    let all = findings_of(&s, FindingKind::SchemaChange);
    assert_eq!(all.len(), 1, "{all:#?}");
    let f = all[0];
    assert_eq!(f.location.topic.as_deref(), Some("orders"));
    assert_eq!(f.location.event_type.as_deref(), Some("OrderPlaced"));
    assert_eq!(f.count, 3, "messages of the new shape");
    assert_eq!(f.severity, Severity::Error, "a consumer began failing with it");
    let shape = f.evidence.shape.as_deref().expect("both shapes");
    assert_eq!(shape.added, ["amount_cents", "currency"]);
    assert_eq!(shape.removed, ["total_cents"]);
    assert!(shape.changed.is_empty(), "{:?}", shape.changed);
    assert_eq!(shape.compatibility, Compatibility::None, "a required field renamed");
    assert_eq!(shape.failing_consumers, ["payments"]);
    assert_eq!(shape.produced_by.as_deref(), Some("checkout"));
    assert_eq!(shape.first_before, Some(place("orders", 0, 0)));
    assert_eq!(shape.first_after, Some(new_shape[0].place()));
    assert_eq!(paths(&shape.before), ["order_id", "total_cents", "type"]);
    assert_eq!(paths(&shape.after), ["amount_cents", "currency", "order_id", "type"]);
    assert!(shape.before.iter().chain(&shape.after).all(|f| f.presence_percent == 100));
    assert!(f.evidence.traces.contains(&trace_id(trace).to_hex()), "{:?}", f.evidence.traces);
    assert!(f.summary.contains("failing since: payments"), "{}", f.summary);

    assert!(
        s.findings.findings.iter().all(|f| f.location.event_type.as_deref() != Some("OrderShipped")),
        "a steady shape is no change: {:#?}",
        s.findings.findings
    );
}

const SPRING_EXCEPTION: &str = "org.springframework.kafka.listener.ListenerExecutionFailedException";
const CONNECT_EXCEPTION: &str = "org.apache.kafka.connect.errors.DataException";
const STREAMS_EXCEPTION: &str = "org.apache.kafka.common.errors.SerializationException";

/// A dead letter as Spring Kafka's `DeadLetterPublishingRecoverer` writes it: the original
/// partition and offset as big-endian binary.
fn spring_dead_letter(dlq: &str, original_offset: i64) -> Msg {
    let key = format!("o-{original_offset}");
    msg(dlq, Some(key.as_str()), format!(r#"{{"order_id":"{key}"}}"#))
        .header("kafka_dlt-original-topic", "orders")
        .header("kafka_dlt-original-partition", 0_i32.to_be_bytes())
        .header("kafka_dlt-original-offset", original_offset.to_be_bytes())
        .header("kafka_dlt-original-consumer-group", "payments")
        .header("kafka_dlt-exception-fqcn", SPRING_EXCEPTION)
        .header("kafka_dlt-exception-message", "card declined")
}

#[test]
fn dead_letter_spring_connect_and_streams_provenance() {
    let Some(broker) = Broker::start("dead_letter_spring_connect_and_streams_provenance") else { return };
    let b = broker.bootstrap();
    for topic in ["orders", "clicks", "payments", "orders.DLQ", "sink-dlq", "streams-dlq"] {
        create_topic(&b, topic, 1);
    }
    let normal: Vec<Msg> = (0..5)
        .flat_map(|i| {
            let key = format!("o-{i}");
            [
                msg("orders", Some(key.as_str()), format!(r#"{{"order_id":"{key}"}}"#)),
                msg("clicks", None, format!(r#"{{"click":{i}}}"#)),
                msg("payments", None, format!(r#"{{"payment":{i}}}"#)),
            ]
        })
        .collect();
    send(&b, &normal);
    let c = collector(&b, false);

    let mut dead = vec![
        spring_dead_letter("orders.DLQ", 1),
        spring_dead_letter("orders.DLQ", 2),
        spring_dead_letter("orders.DLQ", 3),
    ];
    for offset in [3, 4] {
        dead.push(
            msg("sink-dlq", None, "not a record")
                .header("__connect.errors.topic", "clicks")
                .header("__connect.errors.partition", "0")
                .header("__connect.errors.offset", offset.to_string())
                .header("__connect.errors.connector.name", "s3-sink")
                .header("__connect.errors.exception.class.name", CONNECT_EXCEPTION)
                .header("__connect.errors.exception.message", "Converting byte[] to Kafka Connect data failed"),
        );
    }
    dead.push(
        msg("streams-dlq", None, "\u{1}\u{2}garbage")
            .header("__streams.errors.topic", "payments")
            .header("__streams.errors.partition", "0")
            .header("__streams.errors.offset", "2")
            .header("__streams.errors.exception", STREAMS_EXCEPTION)
            .header("__streams.errors.message", "bad bytes"),
    );
    send(&b, &dead);

    let count = |s: &Snapshot, topic: &str| on_topic(s, FindingKind::DeadLetter, topic).first().map(|f| f.count);
    wait_findings(&c, "dead letters of the three families", |s| {
        count(s, "orders.DLQ") == Some(3) && count(s, "sink-dlq") == Some(2) && count(s, "streams-dlq") == Some(1)
    });
    wait_tailed(&c, &b, "orders", 0, 5);
    // A few more polls: nothing is counted twice.
    next_poll(&c, &b);
    let s = next_poll(&c, &b);

    let all = findings_of(&s, FindingKind::DeadLetter);
    assert_eq!(all.len(), 3, "{all:#?}");
    assert!(all.iter().all(|f| f.severity == Severity::Error));

    let spring = on_topic(&s, FindingKind::DeadLetter, "orders.DLQ");
    assert_eq!(spring.len(), 1);
    let f = spring[0];
    assert_eq!((f.count, f.location.group.as_deref()), (3, Some("payments")));
    assert_eq!(f.evidence.error.as_deref(), Some(format!("{SPRING_EXCEPTION}: card declined").as_str()));
    assert_eq!(f.evidence.chain, ["orders", "orders.DLQ"]);
    assert_eq!(f.evidence.messages, [place("orders", 0, 1), place("orders", 0, 2), place("orders", 0, 3)]);
    assert!(f.evidence.payload.as_deref().is_some_and(|p| p.contains("order_id")), "{:?}", f.evidence.payload);
    assert!(f.summary.contains("from orders") && f.summary.contains("spring"), "{}", f.summary);

    let connect = on_topic(&s, FindingKind::DeadLetter, "sink-dlq");
    assert_eq!(connect.len(), 1);
    let f = connect[0];
    assert_eq!((f.count, f.location.group.as_deref()), (2, Some("s3-sink")));
    assert_eq!(
        f.evidence.error.as_deref(),
        Some(format!("{CONNECT_EXCEPTION}: Converting byte[] to Kafka Connect data failed").as_str())
    );
    assert_eq!(f.evidence.chain, ["clicks", "sink-dlq"]);
    assert_eq!(f.evidence.messages, [place("clicks", 0, 3), place("clicks", 0, 4)]);
    assert!(f.summary.contains("kafka-connect"), "{}", f.summary);

    let streams = on_topic(&s, FindingKind::DeadLetter, "streams-dlq");
    assert_eq!(streams.len(), 1);
    let f = streams[0];
    assert_eq!((f.count, f.location.group.as_deref()), (1, None));
    assert_eq!(f.evidence.error.as_deref(), Some(format!("{STREAMS_EXCEPTION}: bad bytes").as_str()));
    assert_eq!(f.evidence.chain, ["payments", "streams-dlq"]);
    assert_eq!(f.evidence.messages, [place("payments", 0, 2)]);

    for topic in ["orders", "clicks", "payments"] {
        assert!(on_topic(&s, FindingKind::DeadLetter, topic).is_empty(), "{topic} is no dead-letter topic");
    }
}

const POISON: &str = "order o-2; qty=three";
const PARSE_ERROR: &str = "JsonParseException: Unrecognized token 'order'";

#[test]
fn poison_message_a_group_failing_on_one_message_again_and_again() {
    let Some(broker) = Broker::start("poison_message_a_group_failing_on_one_message_again_and_again") else {
        return;
    };
    let b = broker.bootstrap();
    create_topic(&b, "orders", 1);
    send(
        &b,
        &[
            msg("orders", Some("o-1"), r#"{"type":"OrderPlaced","order_id":"o-1"}"#),
            msg("orders", Some("o-2"), POISON),
            msg("orders", Some("o-3"), r#"{"type":"OrderPlaced","order_id":"o-3"}"#),
        ],
    );
    let c = collector(&b, true);
    // The payload is shown from the log: the collector has read it before the failures.
    wait_tailed(&c, &b, "orders", 0, 3);

    // inventory fails on offset 1, seeks back to it twice more, fails each time, then moves on.
    let inventory = reader(&b, "inventory");
    let first = read_from(&inventory, "orders", 0, 0, 3);
    let second = read_from(&inventory, "orders", 0, 1, 1);
    let third = read_from(&inventory, "orders", 0, 1, 1);
    let poison = first[1].clone();
    assert_eq!(poison.payload, POISON.as_bytes());
    let mut ids = Ids::default();
    let mut spans = vec![
        process_span("inventory-svc", "inventory", &first[0], ids.fresh()).build(),
        process_span("inventory-svc", "inventory", &first[1], ids.fresh()).error(PARSE_ERROR).build(),
        process_span("inventory-svc", "inventory", &second[0], ids.fresh()).error(PARSE_ERROR).build(),
        process_span("inventory-svc", "inventory", &third[0], ids.fresh()).error(PARSE_ERROR).build(),
        process_span("inventory-svc", "inventory", &first[2], ids.fresh()).build(),
    ];
    // shipping fails once on offset 2, seeks back to it and succeeds.
    let shipping = reader(&b, "shipping");
    let all = read_from(&shipping, "orders", 0, 0, 3);
    let again = read_from(&shipping, "orders", 0, 2, 1);
    spans.extend([
        process_span("shipping-svc", "shipping", &all[0], ids.fresh()).build(),
        process_span("shipping-svc", "shipping", &all[1], ids.fresh()).build(),
        process_span("shipping-svc", "shipping", &all[2], ids.fresh()).error("carrier timed out").build(),
        process_span("shipping-svc", "shipping", &again[0], ids.fresh()).build(),
    ]);
    post_spans(&c, &spans);

    let s = wait_findings(&c, "a poison message for inventory and a retry by shipping", |s| {
        !of_group(s, FindingKind::PoisonMessage, "inventory").is_empty()
            && !of_group(s, FindingKind::Retry, "shipping").is_empty()
    });

    let poisons = findings_of(&s, FindingKind::PoisonMessage);
    assert_eq!(poisons.len(), 1, "{poisons:#?}");
    let f = poisons[0];
    assert_eq!((f.location.topic.as_deref(), f.location.group.as_deref()), (Some("orders"), Some("inventory")));
    assert_eq!(f.count, 3, "failed attempts");
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.evidence.messages, [poison.place()]);
    assert_eq!(f.evidence.payload.as_deref(), Some(POISON));
    assert_eq!(f.evidence.error.as_deref(), Some(PARSE_ERROR));
    assert!(f.summary.contains("3 failed attempts"), "{}", f.summary);

    assert!(of_group(&s, FindingKind::PoisonMessage, "shipping").is_empty(), "one failure is no poison");
    let retries = of_group(&s, FindingKind::Retry, "shipping");
    assert_eq!(retries.len(), 1, "{retries:#?}");
    assert_eq!(retries[0].count, 1);
    assert_eq!(retries[0].evidence.messages, [place("orders", 0, 2)]);
    assert!(findings_of(&s, FindingKind::Duplicate).is_empty(), "attempts after failures are no duplicates");
}

#[test]
fn retry_a_redelivery_after_a_failure_and_a_retry_topic() {
    let Some(broker) = Broker::start("retry_a_redelivery_after_a_failure_and_a_retry_topic") else { return };
    let b = broker.bootstrap();
    create_topic(&b, "orders", 1);
    create_topic(&b, "orders-retry", 1);
    let orders: Vec<Msg> = (0..3)
        .map(|i| {
            let key = format!("o-{i}");
            msg("orders", Some(key.as_str()), format!(r#"{{"type":"OrderPlaced","order_id":"{key}"}}"#))
        })
        .collect();
    send(&b, &orders);
    send(
        &b,
        &[
            msg("orders-retry", Some("o-7"), r#"{"type":"OrderPlaced","order_id":"o-7"}"#),
            msg("orders-retry", Some("o-8"), r#"{"type":"OrderPlaced","order_id":"o-8"}"#),
        ],
    );
    let c = collector(&b, true);

    // shipping fails on offset 1, seeks back to it and succeeds.
    let shipping = reader(&b, "shipping");
    let first = read_from(&shipping, "orders", 0, 0, 3);
    let again = read_from(&shipping, "orders", 0, 1, 1);
    let mut ids = Ids::default();
    let mut spans = vec![
        process_span("shipping-svc", "shipping", &first[0], ids.fresh()).build(),
        process_span("shipping-svc", "shipping", &first[1], ids.fresh()).error("carrier timed out").build(),
        process_span("shipping-svc", "shipping", &again[0], ids.fresh()).build(),
        process_span("shipping-svc", "shipping", &first[2], ids.fresh()).build(),
    ];
    // billing processes each once, without failing.
    let billing = read_from(&reader(&b, "billing"), "orders", 0, 0, 3);
    spans.extend(billing.iter().map(|m| process_span("billing-svc", "billing", m, ids.fresh()).build()));
    // notifications processes what a non-blocking retry put on orders-retry.
    let retried = read_from(&reader(&b, "notifications"), "orders-retry", 0, 0, 2);
    spans.extend(retried.iter().map(|m| process_span("notifications-svc", "notifications", m, ids.fresh()).build()));
    post_spans(&c, &spans);

    let s = wait_findings(&c, "retries by shipping and notifications", |s| {
        of_group(s, FindingKind::Retry, "shipping").iter().any(|f| f.count == 1)
            && of_group(s, FindingKind::Retry, "notifications").iter().any(|f| f.count == 2)
    });

    assert_eq!(findings_of(&s, FindingKind::Retry).len(), 2, "{:#?}", s.findings.findings);
    let shipping = of_group(&s, FindingKind::Retry, "shipping");
    assert_eq!(shipping.len(), 1);
    let f = shipping[0];
    assert_eq!(f.location.topic.as_deref(), Some("orders"));
    assert_eq!(f.count, 1, "one message retried");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.evidence.messages, [place("orders", 0, 1)]);
    assert!(f.summary.contains("processed again after failing"), "{}", f.summary);

    let notifications = of_group(&s, FindingKind::Retry, "notifications");
    assert_eq!(notifications.len(), 1);
    assert_eq!(notifications[0].location.topic.as_deref(), Some("orders"), "filed under the topic it retries");
    assert!(notifications[0].summary.contains("retry topics of orders"), "{}", notifications[0].summary);

    for group in ["billing", "shipping"] {
        assert!(of_group(&s, FindingKind::Duplicate, group).is_empty(), "{group}");
    }
    assert!(of_group(&s, FindingKind::Retry, "billing").is_empty());
    assert!(findings_of(&s, FindingKind::PoisonMessage).is_empty());
}

#[test]
fn compensation_a_failed_payment_rolled_back_across_topics() {
    let Some(broker) = Broker::start("compensation_a_failed_payment_rolled_back_across_topics") else { return };
    let b = broker.bootstrap();
    for topic in ["payments", "orders", "inventory"] {
        create_topic(&b, topic, 1);
    }
    let c = collector(&b, false);
    // Written one after another (apart in time: the detector orders events by their
    // timestamps). k3 goes well; k2 is cancelled without any failure; k1 fails and rolls back.
    let steps = [
        msg("orders", Some("k3"), r#"{"type":"OrderPlaced","order_id":"k3"}"#),
        msg("payments", Some("k3"), r#"{"order_id":"k3"}"#).cloud_event("pay-3", "PaymentCaptured"),
        msg("orders", Some("k2"), r#"{"type":"OrderCancelled","order_id":"k2"}"#),
        msg("payments", Some("k1"), r#"{"order_id":"k1","reason":"card declined"}"#)
            .cloud_event("pay-1", "PaymentFailed"),
        msg("orders", Some("k1"), r#"{"type":"OrderCancelled","order_id":"k1"}"#),
        msg("inventory", Some("k1"), r#"{"sku":"A-1","qty":2}"#).cloud_event("inv-1", "StockReleased"),
    ];
    for step in steps {
        send(&b, &[step]);
        std::thread::sleep(Duration::from_millis(30));
    }

    wait_findings(&c, "a saga rolled back", |s| {
        findings_of(s, FindingKind::Compensation).iter().any(|f| f.evidence.chain.len() == 3)
    });
    let s = wait_tailed(&c, &b, "orders", 0, 3);

    let all = findings_of(&s, FindingKind::Compensation);
    assert_eq!(all.len(), 1, "{all:#?}");
    let f = all[0];
    assert_eq!(f.count, 1, "k1 rolled back; k2 was cancelled without a failure");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.location.topic.as_deref(), Some("payments"));
    assert_eq!(f.location.event_type.as_deref(), Some("PaymentFailed"));
    assert_eq!(f.evidence.chain, ["PaymentFailed", "OrderCancelled", "StockReleased"]);
    assert_eq!(f.evidence.keys, ["k1"]);
    assert!(f.summary.contains("PaymentFailed → OrderCancelled → StockReleased"), "{}", f.summary);
}

#[test]
fn sync_coupling_a_call_made_while_processing_an_event() {
    let Some(broker) = Broker::start("sync_coupling_a_call_made_while_processing_an_event") else { return };
    let b = broker.bootstrap();
    create_topic(&b, "orders", 1);
    send(&b, &[msg("orders", Some("o-1"), r#"{"type":"OrderPlaced","order_id":"o-1"}"#)]);
    let c = collector(&b, true);
    let m = read_from(&reader(&b, "payments"), "orders", 0, 0, 1).remove(0);
    let now = now_ms();

    // checkout calls pricing from an HTTP handler: not under a consumer.
    post_spans(
        &c,
        &[
            span("checkout", "GET /prices", SpanKind::Client)
                .ids(8, 2)
                .parent(1)
                .attr("server.address", "pricing")
                .at_ms(now, 3)
                .build(),
            span("checkout", "POST /orders", SpanKind::Server).ids(8, 1).at_ms(now, 10).build(),
        ],
    );
    // payments calls the gateway (two levels down) and its database while processing orders;
    // children are exported before their parents.
    post_spans(
        &c,
        &[
            span("payments", "POST /charges", SpanKind::Client)
                .ids(7, 3)
                .parent(2)
                .attr("server.address", "payment-gateway")
                .attr("http.request.method", "POST")
                .at_ms(now + 1, 3)
                .build(),
            span("payments", "UPDATE payments", SpanKind::Client)
                .ids(7, 4)
                .parent(1)
                .attr("db.system.name", "postgresql")
                .attr("server.address", "payments-db")
                .at_ms(now + 4, 1)
                .build(),
            span("payments", "charge", SpanKind::Internal).ids(7, 2).parent(1).at_ms(now, 5).build(),
            process_span("payments", "payments", &m, (7, 1)).build(),
        ],
    );

    let s = wait_findings(&c, "coupling of payments to the gateway", |s| {
        !of_service(s, FindingKind::SyncCoupling, "payments").is_empty()
    });

    let all = findings_of(&s, FindingKind::SyncCoupling);
    assert_eq!(all.len(), 1, "{all:#?}");
    let f = all[0];
    assert_eq!((f.location.topic.as_deref(), f.location.service.as_deref()), (Some("orders"), Some("payments")));
    assert_eq!(f.count, 1, "one call; the database call is left out");
    assert_eq!(f.severity, Severity::Info);
    assert_eq!(f.evidence.chain, ["orders", "payments", "payment-gateway"]);
    assert_eq!(f.evidence.traces, [trace_id(7).to_hex()]);
    assert!(of_service(&s, FindingKind::SyncCoupling, "checkout").is_empty(), "a call from an HTTP handler");
}

fn lag_samples(s: &Snapshot, bootstrap: &str, group: &str, topic: &str) -> usize {
    s.kafka
        .clusters()
        .get(bootstrap)
        .and_then(|c| c.groups.get(group))
        .and_then(|g| g.partitions.get(&(topic.to_owned(), 0)))
        .map_or(0, |p| p.history().len())
}

fn lag_status(s: &Snapshot, bootstrap: &str, group: &str, topic: &str) -> Option<LagStatus> {
    let g = s.kafka.clusters().get(bootstrap)?.groups.get(group)?;
    Some(g.partitions.get(&(topic.to_owned(), 0))?.status())
}

#[test]
fn lag_a_group_that_stopped_committing_and_one_that_keeps_up() {
    let Some(broker) = Broker::start("lag_a_group_that_stopped_committing_and_one_that_keeps_up") else { return };
    let b = broker.bootstrap();
    create_topic(&b, "orders", 1);
    produce(&b, "orders", 0, 50, now_ms() as i64);
    // slow committed offset 0 and no member consumes; steady is at the end.
    commit(&b, "slow", "orders", 0, 0);
    commit(&b, "steady", "orders", 0, 50);
    let c = collector(&b, false);

    // More keep coming; steady commits up to the end each time, slow never does.
    let mut high = 50;
    for _ in 0..5 {
        std::thread::sleep(Duration::from_millis(300));
        produce(&b, "orders", 0, 10, now_ms() as i64);
        high += 10;
        commit(&b, "steady", "orders", 0, high);
    }

    let s = wait_findings(&c, "a STOP lag finding for slow, steady evaluated", |s| {
        let stopped = |f: &&Finding| f.evidence.lag.as_ref().is_some_and(|l| l.status == "STOP");
        of_group(s, FindingKind::Lag, "slow").iter().any(stopped) && lag_samples(s, &b, "steady", "orders") >= 5
    });

    let slow = of_group(&s, FindingKind::Lag, "slow");
    assert_eq!(slow.len(), 1, "{slow:#?}");
    let f = slow[0];
    assert_eq!(f.location.topic.as_deref(), Some("orders"));
    assert_eq!(f.severity, Severity::Error);
    assert_eq!(f.count, 1, "one partition turned bad, once");
    let lag = f.evidence.lag.as_ref().expect("lag numbers");
    assert_eq!(lag.partitions, [0]);
    assert!(lag.offsets >= 50, "{lag:?}");
    assert_eq!(lag.time_to_clear_s, None, "not draining");
    assert!(f.summary.contains("STOP"), "{}", f.summary);

    assert_eq!(lag_status(&s, &b, "steady", "orders"), Some(LagStatus::Ok));
    assert!(of_group(&s, FindingKind::Lag, "steady").is_empty(), "{:#?}", s.findings.findings);
    assert_eq!(findings_of(&s, FindingKind::Lag).len(), 1);
}

// ---------------------------------------------------------------------------------------
// `eventlens findings FILE` on recordings.

fn findings_cli(file: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("findings").arg(file).args(args).output().expect("eventlens findings runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_findings_command_reads_a_recording_and_fails_a_pipeline_on_warnings() {
    let Some(broker) = Broker::start("the_findings_command_reads_a_recording_and_fails_a_pipeline_on_warnings") else {
        return;
    };
    let b = broker.bootstrap();
    let dir = tempfile::tempdir().unwrap();

    // A clean session first (alone on the broker: a later collector's tail reads what is there).
    create_topic(&b, "clean", 1);
    let clean_file = dir.path().join("clean.jsonl");
    let c = common::start_kafka_collector(watch(&b), false, Some(clean_file.clone()));
    let clean: Vec<Msg> =
        (1..=5).map(|seq| msg("clean", Some("c-1"), format!(r#"{{"type":"ItemAdded","seq":{seq}}}"#))).collect();
    send(&b, &clean);
    let s = wait_tailed(&c, &b, "clean", 0, 5);
    assert!(s.findings.findings.is_empty(), "{:#?}", s.findings.findings);
    drop(c);
    let out = findings_cli(&clean_file, &["--fail-on", "warning"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), "no findings");
    let out = findings_cli(&clean_file, &["--format", "json", "--fail-on", "info"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(doc["findings"], serde_json::json!([]));

    // Then a session with a dead letter (error), an out-of-order key and a duplicate event
    // (warnings).
    for topic in ["orders", "payments", "orders.DLQ"] {
        create_topic(&b, topic, 1);
    }
    let file = dir.path().join("session.jsonl");
    let c = common::start_kafka_collector(watch(&b), false, Some(file.clone()));
    send(
        &b,
        &[
            msg("orders", Some("o-1"), r#"{"type":"OrderUpdated","seq":2}"#),
            msg("orders", Some("o-1"), r#"{"type":"OrderPlaced","seq":1}"#),
            msg("orders", Some("o-2"), r#"{"type":"OrderPlaced","seq":1}"#),
            msg("payments", None, r#"{"amount_cents":500}"#).cloud_event("evt-1", "PaymentCaptured"),
            msg("payments", None, r#"{"amount_cents":500}"#).cloud_event("evt-1", "PaymentCaptured"),
        ],
    );
    send(&b, &[spring_dead_letter("orders.DLQ", 0), spring_dead_letter("orders.DLQ", 1)]);
    wait_findings(&c, "the three findings", |s| {
        let count = |kind, topic| on_topic(s, kind, topic).first().map(|f| f.count);
        count(FindingKind::DeadLetter, "orders.DLQ") == Some(2)
            && count(FindingKind::OutOfOrder, "orders") == Some(1)
            && count(FindingKind::Duplicate, "payments") == Some(1)
    });
    wait_tailed(&c, &b, "payments", 0, 2);
    let live = wait_tailed(&c, &b, "orders", 0, 3);
    assert_eq!(live.findings.findings.len(), 3, "{:#?}", live.findings.findings);
    drop(c);

    let out = findings_cli(&file, &["--format", "json", "--fail-on", "warning"]);
    assert_eq!(out.status.code(), Some(3), "stdout {}\nstderr {}", stdout(&out), stderr(&out));
    assert!(stderr(&out).contains("3 findings at or above warning"), "{}", stderr(&out));
    let doc: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let findings = doc["findings"].as_array().expect("a findings array");
    let kinds: Vec<&str> = findings.iter().map(|f| f["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["dead_letter", "duplicate", "out_of_order"], "worst first, then by kind");
    for f in findings {
        for field in ["kind", "severity", "count", "topic", "summary", "first_seen_unix_nano", "last_seen_unix_nano"] {
            assert!(f.get(field).is_some(), "{field} missing in {f}");
        }
        assert!(f["evidence"].is_object(), "{f}");
        assert!(f["first_seen_unix_nano"].as_u64().unwrap() <= f["last_seen_unix_nano"].as_u64().unwrap());
        for absent in ["service", "key", "partition", "offset"] {
            assert!(f.get(absent).is_none(), "{absent} does not apply: {f}");
        }
    }
    let dead = &findings[0];
    assert_eq!((dead["severity"].as_str(), dead["count"].as_u64()), (Some("error"), Some(2)));
    assert_eq!((dead["topic"].as_str(), dead["group"].as_str()), (Some("orders.DLQ"), Some("payments")));
    assert_eq!(dead["evidence"]["chain"], serde_json::json!(["orders", "orders.DLQ"]));
    assert_eq!(
        dead["evidence"]["messages"],
        serde_json::json!([
            {"topic": "orders", "partition": 0, "offset": 0},
            {"topic": "orders", "partition": 0, "offset": 1}
        ])
    );
    assert_eq!(dead["evidence"]["error"].as_str(), Some(format!("{SPRING_EXCEPTION}: card declined").as_str()));
    let duplicate = &findings[1];
    assert_eq!((duplicate["severity"].as_str(), duplicate["count"].as_u64()), (Some("warning"), Some(1)));
    assert_eq!(duplicate["topic"].as_str(), Some("payments"));
    assert!(duplicate.get("group").is_none(), "{duplicate}");
    let out_of_order = &findings[2];
    assert_eq!((out_of_order["severity"].as_str(), out_of_order["count"].as_u64()), (Some("warning"), Some(1)));
    assert_eq!(out_of_order["topic"].as_str(), Some("orders"));
    assert_eq!(out_of_order["evidence"]["keys"], serde_json::json!(["o-1"]));
    let counters = &doc["counters"];
    assert!(counters["tracked"].as_u64().is_some_and(|t| t > 0), "{counters}");
    assert_eq!((counters["evicted"].as_u64(), counters["findings_dropped"].as_u64()), (Some(0), Some(0)));
    // The recording gives the findings the live session showed.
    assert_eq!(doc["findings"], serde_json::to_value(&live.findings.findings).unwrap());

    let out = findings_cli(&file, &["--fail-on", "error"]);
    assert_eq!(out.status.code(), Some(3), "the dead letter is an error: {}", stderr(&out));

    let out = findings_cli(&file, &["--format", "text"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "one line per finding:\n{text}");
    for (line, kind) in lines.iter().zip(["dead_letter", "duplicate", "out_of_order"]) {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(words.get(1).copied(), Some(kind), "{line}");
    }
    assert!(lines[0].starts_with("error") && lines[0].contains("orders.DLQ · group payments"), "{}", lines[0]);
    assert!(lines[1].starts_with("warning") && lines[2].starts_with("warning"), "{text}");
}
