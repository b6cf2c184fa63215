//! Broker-reported consumers meeting the services spans drew, for RabbitMQ and NATS.

use crate::model::flow_graph::{EdgeKind, FlowModel, JoinLimits};
use crate::model::nats::{self, JetStreamPoll, NatsEvent, NatsRecord, StreamInfo};
use crate::model::rabbitmq::{BindingInfo, ConsumerInfo, ManagementPoll, QueueInfo, RabbitEvent, RabbitRecord};
use crate::model::span::{Span, SpanKind};
use crate::testing::span;

/// What the official pika instrumentation sends for a delivery: a consumer span whose
/// destination is the exchange (the routing key, on the default exchange), no queue.
fn receive(service: &str, system: &str, destination: &str, id: u64) -> Span {
    span(service, &format!("{destination} receive"), SpanKind::Consumer)
        .ids(u128::from(id), id)
        .attr("messaging.system", system)
        .attr("messaging.destination", destination)
        .attr("messaging.operation", "receive")
        .build()
}

fn rabbit(queues: &[&str], bindings: &[(&str, &str)], consumers: &[(&str, Option<&str>)]) -> RabbitRecord {
    let poll = ManagementPoll {
        queues: queues
            .iter()
            .map(|q| QueueInfo { vhost: "/".into(), name: (*q).into(), ..QueueInfo::default() })
            .collect(),
        bindings: bindings
            .iter()
            .map(|(source, destination)| BindingInfo {
                vhost: "/".into(),
                source: (*source).into(),
                destination: (*destination).into(),
                ..BindingInfo::default()
            })
            .collect(),
        consumers: consumers
            .iter()
            .enumerate()
            .map(|(i, (queue, name))| ConsumerInfo {
                vhost: "/".into(),
                queue: (*queue).into(),
                connection: format!("127.0.0.1:{} -> 127.0.0.1:5672", 50_000 + i),
                client_name: name.map(Into::into),
                ..ConsumerInfo::default()
            })
            .collect(),
        ..ManagementPoll::default()
    };
    RabbitRecord {
        received_unix_nano: 0,
        server: "http://localhost:15672".into(),
        event: RabbitEvent::Management(poll),
    }
}

/// The nodes shown (retired ones left out), by label, sorted.
fn shown(model: &FlowModel) -> Vec<String> {
    let mut labels: Vec<String> = model.graph().node_weights().filter(|n| !n.retired).map(|n| n.key.label()).collect();
    labels.sort();
    labels
}

/// The consume edges to shown nodes, with the consumer names on them.
fn consumes(model: &FlowModel) -> Vec<(String, String, Vec<String>)> {
    let g = model.graph();
    let mut edges: Vec<_> = g
        .edge_indices()
        .filter(|e| g[*e].kind == EdgeKind::Consumes)
        .filter_map(|e| {
            let (a, b) = g.edge_endpoints(e)?;
            (!g[b].retired)
                .then(|| (g[a].key.label(), g[b].key.label(), g[e].consumer_groups.iter().cloned().collect()))
        })
        .collect();
    edges.sort();
    edges
}

fn names(names: &[&str]) -> Vec<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[test]
fn a_queue_read_on_the_default_exchange_meets_its_service_whichever_came_first() {
    // Spans first: the poll draws the consumer on the service's edge, no node of its own.
    let mut model = FlowModel::new(JoinLimits::default());
    model.apply_span(&receive("billing", "rabbitmq", "invoices", 1), 0);
    model.draw_rabbitmq(&rabbit(&["invoices"], &[], &[("invoices", None), ("invoices", None)]));
    assert_eq!(shown(&model), ["billing", "rabbitmq/invoices"]);
    let who = ["127.0.0.1:50000 -> 127.0.0.1:5672", "127.0.0.1:50001 -> 127.0.0.1:5672"];
    assert_eq!(consumes(&model), [("rabbitmq/invoices".into(), "billing".into(), names(&who))]);

    // The poll first: its consumer nodes give way to the service at the next poll.
    let mut model = FlowModel::new(JoinLimits::default());
    let poll = rabbit(&["invoices"], &[], &[("invoices", None)]);
    model.draw_rabbitmq(&poll);
    assert_eq!(shown(&model), ["rabbitmq consumer 127.0.0.1:50000 -> 127.0.0.1:5672", "rabbitmq/invoices"]);
    model.apply_span(&receive("billing", "rabbitmq", "invoices", 1), 0);
    model.draw_rabbitmq(&poll);
    assert_eq!(shown(&model), ["billing", "rabbitmq/invoices"]);
}

#[test]
fn an_exchange_bound_to_one_queue_says_whose_the_queues_consumers_are() {
    let mut model = FlowModel::new(JoinLimits::default());
    model.apply_span(&receive("shipping", "rabbitmq", "orders", 1), 0);
    model.draw_rabbitmq(&rabbit(&["q-7f3a"], &[("orders", "q-7f3a")], &[("q-7f3a", None)]));
    assert_eq!(shown(&model), ["rabbitmq/orders", "rabbitmq/q-7f3a", "shipping"]);
    let edges = consumes(&model);
    assert!(
        edges.iter().any(|(from, to, who)| from == "rabbitmq/q-7f3a" && to == "shipping" && who.len() == 1),
        "{edges:?}"
    );
}

#[test]
fn behind_a_fanout_only_a_name_says_whose_a_queue_is_and_an_unknown_reader_keeps_its_node() {
    let mut model = FlowModel::new(JoinLimits::default());
    // Spans show billing reading the exchange; the audit consumer is not instrumented.
    model.apply_span(&receive("billing", "rabbitmq", "orders", 1), 0);
    let poll = rabbit(
        &["billing.orders", "audit.orders"],
        &[("orders", "billing.orders"), ("orders", "audit.orders")],
        &[("billing.orders", None), ("audit.orders", Some("audit-worker"))],
    );
    model.draw_rabbitmq(&poll);
    let edges = consumes(&model);
    assert!(edges.iter().any(|(from, to, _)| from == "rabbitmq/billing.orders" && to == "billing"), "{edges:?}");
    assert!(
        edges.iter().any(|(from, to, _)| from == "rabbitmq/audit.orders" && to == "rabbitmq consumer audit-worker"),
        "{edges:?}"
    );
    assert!(!edges.iter().any(|(from, to, _)| from == "rabbitmq/audit.orders" && to == "billing"), "{edges:?}");
}

#[test]
fn a_connection_named_after_a_service_is_that_service_among_several_readers() {
    let mut model = FlowModel::new(JoinLimits::default());
    model.apply_span(&receive("billing", "rabbitmq", "orders", 1), 0);
    model.apply_span(&receive("ledger", "rabbitmq", "orders", 2), 0);
    let poll = rabbit(&["q1", "q2"], &[("orders", "q1"), ("orders", "q2")], &[("q1", Some("ledger")), ("q2", None)]);
    model.draw_rabbitmq(&poll);
    let edges = consumes(&model);
    assert!(edges.iter().any(|(from, to, _)| from == "rabbitmq/q1" && to == "ledger"), "{edges:?}");
    // Two readers and nothing naming either: q2's consumer stays apart.
    assert!(
        edges.iter().any(|(from, to, _)| from == "rabbitmq/q2" && to.starts_with("rabbitmq consumer")),
        "{edges:?}"
    );
}

fn jetstream(consumers: &[&str]) -> NatsRecord {
    let stream = StreamInfo {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        consumers: consumers.iter().map(|c| nats::ConsumerInfo { name: (*c).into(), ..Default::default() }).collect(),
        ..StreamInfo::default()
    };
    NatsRecord {
        received_unix_nano: 0,
        server: "nats://localhost:4222".into(),
        event: NatsEvent::JetStream(JetStreamPoll { streams: vec![stream] }),
    }
}

#[test]
fn a_streams_only_consumer_is_the_service_spans_show_reading_its_subjects() {
    let mut model = FlowModel::new(JoinLimits::default());
    model.apply_span(&receive("shipping", "nats", "orders.created", 1), 0);
    model.draw_nats(&jetstream(&["ship"]));
    assert_eq!(shown(&model), ["nats/ORDERS", "nats/orders.created", "shipping"]);
    let edges = consumes(&model);
    assert!(edges.contains(&("nats/ORDERS".into(), "shipping".into(), names(&["ship"]))), "{edges:?}");
}

#[test]
fn of_several_durable_consumers_a_group_or_a_name_says_which_is_the_service() {
    let mut model = FlowModel::new(JoinLimits::default());
    model.apply_span(&receive("shipping", "nats", "orders.created", 1), 0);
    let grouped = span("billing", "orders.paid process", SpanKind::Consumer)
        .ids(2, 2)
        .messaging("nats", "orders.paid", "process")
        .attr("messaging.consumer.group.name", "payments-durable")
        .build();
    model.apply_span(&grouped, 0);
    model.draw_nats(&jetstream(&["shipping-worker", "payments-durable", "audit"]));
    let edges = consumes(&model);
    assert!(
        edges
            .iter()
            .any(|(from, to, who)| from == "nats/ORDERS" && to == "shipping" && who == &names(&["shipping-worker"])),
        "{edges:?}"
    );
    assert!(
        edges.iter().any(|(from, to, who)| from == "nats/ORDERS"
            && to == "billing"
            && who.contains(&"payments-durable".to_owned())),
        "{edges:?}"
    );
    // Nothing says who audit is.
    assert!(shown(&model).contains(&"nats consumer audit".to_owned()));
    assert!(!shown(&model).contains(&"nats consumer shipping-worker".to_owned()));
}

#[test]
fn a_durable_consumers_filter_says_which_subjects_readers_it_can_be() {
    let durable = |name: &str, filter: Option<&str>| nats::ConsumerInfo {
        name: name.into(),
        filter_subjects: filter.map(|f| vec![f.to_owned()]).unwrap_or_default(),
        ..Default::default()
    };
    let poll = |consumers: Vec<nats::ConsumerInfo>| {
        let stream =
            StreamInfo { name: "ORDERS".into(), subjects: vec!["orders.>".into()], consumers, ..StreamInfo::default() };
        NatsRecord {
            received_unix_nano: 0,
            server: "nats://localhost:4222".into(),
            event: NatsEvent::JetStream(JetStreamPoll { streams: vec![stream] }),
        }
    };
    let spans = |model: &mut FlowModel| {
        model.apply_span(&receive("shipping", "nats", "orders.created", 1), 0);
        model.apply_span(&receive("billing", "nats", "orders.paid", 2), 0);
    };
    // Each reads one subject, and each subject one service reads.
    let mut model = FlowModel::new(JoinLimits::default());
    spans(&mut model);
    model.draw_nats(&poll(vec![durable("c1", Some("orders.created")), durable("c2", Some("orders.paid"))]));
    let edges = consumes(&model);
    assert!(edges.contains(&("nats/ORDERS".into(), "shipping".into(), names(&["c1"]))), "{edges:?}");
    assert!(edges.contains(&("nats/ORDERS".into(), "billing".into(), names(&["c2"]))), "{edges:?}");

    // A consumer of everything might be shipping as well as c1 might: neither is said to be.
    let mut model = FlowModel::new(JoinLimits::default());
    spans(&mut model);
    model.draw_nats(&poll(vec![durable("c1", Some("orders.created")), durable("c3", None)]));
    let shown = shown(&model);
    assert!(
        shown.contains(&"nats consumer c1".to_owned()) && shown.contains(&"nats consumer c3".to_owned()),
        "{shown:?}"
    );
}
