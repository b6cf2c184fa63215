//! The flow model's joining rules, span by span, including arrival orders and every
//! messaging system the conventions name (and the unregistered ones instrumentations emit).

// Test helpers fail loudly on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use eventlens::engine::{EngineState, Snapshot};
use eventlens::model::flow_graph::{EdgeKind, NodeKind};
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::model::span::{Span, SpanKind};
use eventlens::testing::{consumer_linked, producer, span};

fn graph_of(spans: Vec<Span>) -> Snapshot {
    let mut state = EngineState::default();
    // One span per record, in the order given: arrival order matters for joins.
    for (i, span) in spans.into_iter().enumerate() {
        state.apply(&Record::Spans(SpanBatch {
            received_unix_nano: 1_700_000_000_000_000_000 + i as u64 * 1_000_000,
            source: SourceKind::File,
            spans: vec![span],
        }));
    }
    state.snapshot(state.last_received_second() + 1)
}

/// Edges as (from label, to label, kind, count, failures), sorted.
fn edges(snapshot: &Snapshot) -> Vec<(String, String, EdgeKind, u64, u64)> {
    let label = |id| snapshot.node(id).unwrap().label.clone();
    let mut out: Vec<_> = snapshot
        .edges
        .iter()
        .map(|e| (label(e.from), label(e.to), e.kind, e.counters.count, e.counters.failures))
        .collect();
    out.sort();
    out
}

fn e(from: &str, to: &str, kind: EdgeKind, count: u64, failures: u64) -> (String, String, EdgeKind, u64, u64) {
    (from.to_owned(), to.to_owned(), kind, count, failures)
}

#[test]
fn every_messaging_system_forms_producer_topic_consumer() {
    let systems = [
        "kafka",
        "rabbitmq",
        "aws_sqs",
        "gcp_pubsub",
        "eventhubs",
        "eventgrid",
        "servicebus",
        "pulsar",
        "rocketmq",
        "activemq",
        "jms",
        // Unregistered values that instrumentations emit.
        "aws_sns",
        "aws_kinesis",
        "AmazonSNS",
        "nats",
    ];
    for system in systems {
        let snapshot = graph_of(vec![
            producer("orders", system, "events", 1, 1),
            consumer_linked("billing", system, "events", 2, 2, (1, 1)),
        ]);
        let dest = format!("{system}/events");
        let mut expected =
            vec![e(&dest, "billing", EdgeKind::Consumes, 1, 0), e("orders", &dest, EdgeKind::Produces, 1, 0)];
        expected.sort();
        assert_eq!(edges(&snapshot), expected, "{system}");
        let consume = snapshot.edges.iter().find(|e| e.kind == EdgeKind::Consumes).unwrap();
        let waited = consume.counters.time_in_topic.expect("time in topic").p50_us;
        assert!(waited.abs_diff(250_000) <= 2_500, "{system}: {waited} µs");
    }
}

#[test]
fn consumer_arriving_before_its_producer_still_joins() {
    let snapshot = graph_of(vec![
        consumer_linked("billing", "kafka", "orders", 2, 2, (1, 1)),
        producer("checkout", "kafka", "orders", 1, 1),
    ]);
    let consume = snapshot.edges.iter().find(|e| e.kind == EdgeKind::Consumes).unwrap();
    assert_eq!(consume.counters.count, 1);
    assert!(consume.counters.time_in_topic.is_some(), "time in topic filled in when the producer arrives");
}

#[test]
fn consumer_without_destination_takes_it_from_its_producer_in_either_order() {
    let bare_consumer = |trace, id| {
        span("billing", "handle", SpanKind::Consumer)
            .ids(trace, id)
            .attr("messaging.system", "kafka")
            .attr("messaging.consumer.group.name", "billing-group")
            .link(1, 1)
            .at_ms(1_100, 1)
            .build()
    };
    for spans in [
        vec![producer("checkout", "kafka", "orders", 1, 1), bare_consumer(2, 2)],
        vec![bare_consumer(2, 2), producer("checkout", "kafka", "orders", 1, 1)],
    ] {
        let snapshot = graph_of(spans);
        assert_eq!(
            edges(&snapshot),
            vec![
                e("checkout", "kafka/orders", EdgeKind::Produces, 1, 0),
                e("kafka/orders", "billing", EdgeKind::Consumes, 1, 0)
            ]
        );
        let consume = snapshot.edges.iter().find(|e| e.kind == EdgeKind::Consumes).unwrap();
        assert_eq!(consume.counters.consumer_groups, vec!["billing-group".to_owned()]);
    }
}

#[test]
fn parent_child_is_the_fallback_join_and_never_makes_a_service_edge() {
    // Older instrumentations: the consumer span is a child of the producer span, no links.
    let snapshot = graph_of(vec![
        producer("checkout", "rabbitmq", "orders", 7, 1),
        span("billing", "orders deliver", SpanKind::Consumer)
            .ids(7, 2)
            .parent(1)
            .attr("messaging.system", "rabbitmq")
            .attr("messaging.destination", "orders")
            .attr("messaging.operation", "deliver")
            .at_ms(1_040, 1)
            .build(),
    ]);
    assert_eq!(
        edges(&snapshot),
        vec![
            e("checkout", "rabbitmq/orders", EdgeKind::Produces, 1, 0),
            e("rabbitmq/orders", "billing", EdgeKind::Consumes, 1, 0)
        ]
    );
    let consume = snapshot.edges.iter().find(|e| e.kind == EdgeKind::Consumes).unwrap();
    assert!(consume.counters.time_in_topic.is_some());
}

#[test]
fn batch_receive_counts_each_linked_message() {
    let mut spans: Vec<Span> = (1..=50).map(|i| producer("checkout", "kafka", "orders", i, i as u64)).collect();
    let mut batch = span("billing", "orders receive", SpanKind::Consumer)
        .ids(99, 99)
        .messaging("kafka", "orders", "receive")
        .attr_int("messaging.batch.message_count", 50)
        .at_ms(2_000, 10);
    for i in 1..=50 {
        batch = batch.link(i, i as u64);
    }
    spans.push(batch.build());
    let snapshot = graph_of(spans);
    assert_eq!(
        edges(&snapshot),
        vec![
            e("checkout", "kafka/orders", EdgeKind::Produces, 50, 0),
            e("kafka/orders", "billing", EdgeKind::Consumes, 50, 0)
        ]
    );
}

#[test]
fn create_and_send_for_the_same_messages_are_not_counted_twice() {
    let snapshot = graph_of(vec![
        span("checkout", "create", SpanKind::Producer).ids(1, 1).messaging("kafka", "orders", "create").build(),
        span("checkout", "create", SpanKind::Producer).ids(1, 2).messaging("kafka", "orders", "create").build(),
        span("checkout", "send", SpanKind::Client)
            .ids(1, 3)
            .messaging("kafka", "orders", "send")
            .attr_int("messaging.batch.message_count", 2)
            .build(),
    ]);
    assert_eq!(edges(&snapshot), vec![e("checkout", "kafka/orders", EdgeKind::Produces, 2, 0)]);
}

#[test]
fn synchronous_calls_join_client_and_server_in_either_order() {
    let client = || span("checkout", "GET /price", SpanKind::Client).ids(5, 10).error("timeout").build();
    let server = || span("pricing", "GET /price", SpanKind::Server).ids(5, 11).parent(10).build();
    for spans in [vec![client(), server()], vec![server(), client()]] {
        assert_eq!(edges(&graph_of(spans)), vec![e("checkout", "pricing", EdgeKind::Calls, 1, 1)]);
    }
    // A call inside one service is no edge.
    let internal = graph_of(vec![
        span("checkout", "call", SpanKind::Client).ids(6, 1).build(),
        span("checkout", "serve", SpanKind::Server).ids(6, 2).parent(1).build(),
    ]);
    assert!(internal.edges.is_empty());
}

#[test]
fn failures_come_from_error_status_or_exception_events() {
    let snapshot = graph_of(vec![
        producer("checkout", "kafka", "orders", 1, 1),
        producer("checkout", "kafka", "orders", 1, 2),
        span("billing", "process", SpanKind::Consumer)
            .ids(2, 1)
            .messaging("kafka", "orders", "process")
            .link(1, 1)
            .exception("boom")
            .build(),
        span("billing", "process", SpanKind::Consumer)
            .ids(2, 2)
            .messaging("kafka", "orders", "process")
            .link(1, 2)
            .error("bad payload")
            .build(),
    ]);
    assert_eq!(
        edges(&snapshot),
        vec![
            e("checkout", "kafka/orders", EdgeKind::Produces, 2, 0),
            e("kafka/orders", "billing", EdgeKind::Consumes, 2, 2)
        ]
    );
}

#[test]
fn an_unnamed_consumer_becomes_its_consumer_group() {
    let snapshot = graph_of(vec![
        producer("checkout", "kafka", "orders", 1, 1),
        span("unknown_service:java", "process", SpanKind::Consumer)
            .ids(2, 2)
            .messaging("kafka", "orders", "process")
            .attr("messaging.consumer.group.name", "fraud-check")
            .link(1, 1)
            .build(),
    ]);
    let group = snapshot.nodes.iter().find(|n| n.kind == NodeKind::ConsumerGroup).expect("group node");
    assert_eq!(group.label, "kafka group fraud-check");
    assert_eq!(edges(&snapshot)[1], e("kafka/orders", "kafka group fraud-check", EdgeKind::Consumes, 1, 0));
}

#[test]
fn namespaces_qualify_services() {
    let mut s = span("checkout", "send", SpanKind::Producer).messaging("kafka", "orders", "send").build();
    let mut resource = (*s.resource).clone();
    resource.service.namespace = Some("shop".into());
    s.resource = std::sync::Arc::new(resource);
    let snapshot = graph_of(vec![s]);
    assert!(snapshot.nodes.iter().any(|n| n.label == "shop/checkout" && n.kind == NodeKind::Service));
}

#[test]
fn join_memory_is_bounded_and_evictions_are_counted() {
    use eventlens::model::flow_graph::{FlowModel, JoinLimits};
    let mut model = FlowModel::new(JoinLimits { producers: 10, clients: 10, pending: 10 });
    for i in 1..=100u64 {
        // Consumers whose producers never come.
        model.apply_span(&consumer_linked("billing", "kafka", "orders", 1, i, (2, i)), 1);
    }
    assert_eq!(model.counters().unjoined_evicted, 90);
    for i in 1..=100u64 {
        model.apply_span(&producer("checkout", "kafka", "orders", 3, i), 1);
    }
    assert_eq!(model.counters().producers_evicted, 90);
}

#[test]
fn past_its_memory_share_the_graph_folds_new_topics_into_one_node_per_system() {
    use eventlens::model::flow_graph::NODE_BYTES;
    let mut state = EngineState::default();
    state.set_graph_budget(40 * NODE_BYTES);
    for i in 0..2_000u64 {
        let topic = format!("reply-{i}");
        state.apply(&Record::Spans(SpanBatch {
            received_unix_nano: 1_700_000_000_000_000_000 + i * 1_000_000,
            source: SourceKind::File,
            spans: vec![
                producer("checkout", "kafka", &topic, u128::from(i), 1),
                consumer_linked("billing", "kafka", &topic, u128::from(i), 2, (u128::from(i), 1)),
            ],
        }));
    }
    let snapshot = state.snapshot(state.last_received_second() + 1);
    assert!(snapshot.nodes.len() < 40, "{}", snapshot.nodes.len());
    let folded = snapshot.model.names_folded;
    assert!(folded > 1_900, "{folded}");
    let overflow = snapshot.nodes.iter().find(|n| n.label.ends_with("more topics)")).expect("an overflow node");
    assert_eq!(overflow.label, format!("kafka/({folded} more topics)"));
    assert_eq!(overflow.kind, NodeKind::Destination);
    assert!(overflow.counters.count >= folded, "{} messages", overflow.counters.count);
    // Every message is still counted, on a topic of its own or on the overflow node.
    let destinations: u64 =
        snapshot.nodes.iter().filter(|n| n.kind == NodeKind::Destination).map(|n| n.counters.count).sum();
    assert_eq!(destinations, 2_000);
    let consumed: u64 = snapshot.edges.iter().filter(|e| e.kind == EdgeKind::Consumes).map(|e| e.counters.count).sum();
    assert_eq!(consumed, 2_000);
    // Topics named before the bound keep their nodes.
    assert!(snapshot.nodes.iter().any(|n| n.label == "kafka/reply-0"));
    // `eventlens graph --format json` says how many were folded.
    let json: serde_json::Value = serde_json::from_str(&eventlens::export::graph::to_json(&snapshot)).unwrap();
    assert_eq!(json["names_folded"], folded);
}
