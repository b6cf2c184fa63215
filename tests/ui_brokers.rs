//! The NATS parts of the window, driven headless with egui_kittest against a collector
//! watching a real `nats-server -js`: the consume edge's depth on the canvas and in the side
//! panel, and the Brokers view with a consumer's depth chart.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use async_nats::jetstream::{self, consumer, stream};
use common::nats::NatsServer;
use common::ui::{click_at, settle};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eventlens::collector::{Collector, CollectorConfig};
use eventlens::ingest::nats::NatsConfig;
use eventlens::model::depth::DepthStatus;
use eventlens::ui::EventLensApp;
use eventlens::ui::app::View;
use eventlens::ui::flow_view::Selection;

/// A stream with 7 messages and a durable pull consumer nothing has read from.
fn payments_stream(url: &str) {
    let runtime = common::exporter_runtime();
    runtime.block_on(async {
        let js = jetstream::new(async_nats::connect(url).await.unwrap());
        let config = stream::Config {
            name: "PAYMENTS".into(),
            subjects: vec!["payments.*".into()],
            ..stream::Config::default()
        };
        let stream = js.create_stream(config).await.unwrap();
        for i in 0..7 {
            js.publish("payments.captured", format!("{i}").into()).await.unwrap().await.unwrap();
        }
        let config =
            consumer::pull::Config { durable_name: Some("ledger".into()), ..consumer::pull::Config::default() };
        stream.create_consumer(config).await.unwrap();
    });
}

#[test]
fn a_stream_consumer_edge_shows_its_depth_and_the_brokers_view_lists_it() {
    let Some(server) = NatsServer::start("a_stream_consumer_edge_shows_its_depth_and_the_brokers_view_lists_it") else {
        return;
    };
    payments_stream(&server.url());
    let mut nats = NatsConfig::new(&server.url()).unwrap();
    nats.poll_interval = Duration::from_millis(100);
    let collector: Collector = common::start_collector_with(CollectorConfig {
        publish_interval: Some(Duration::from_millis(20)),
        nats: vec![nats],
        ..CollectorConfig::default()
    });
    common::wait_for(&collector, "ledger's depth", |s| s.edges.iter().any(|e| e.depth.iter().any(|d| d.pending == 7)));

    let app = EventLensApp::new(collector.engine().unwrap(), None).with_browsers(collector.browsers());
    let mut harness =
        Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    settle(&mut harness);
    harness.get_by_label_contains(&format!("NATS {}", server.url()));

    let snapshot = harness.state().snapshot().clone();
    let id = |label: &str| snapshot.nodes.iter().find(|n| n.label == label).expect(label).id;
    let (stream, ledger) = (id("nats/PAYMENTS"), id("nats consumer ledger"));
    let edge = snapshot.edges.iter().find(|e| e.from == stream && e.to == ledger).unwrap().id;
    let view = harness.state().flow_view();
    assert!(view.edge_label(edge).unwrap().contains("pending 7"), "the canvas shows the depth on the edge");
    let (a, z) = (view.node_screen_pos(stream).unwrap(), view.node_screen_pos(ledger).unwrap());
    click_at(&mut harness, a + (z - a) * 0.5);
    assert_eq!(harness.state().selection(), Some(Selection::Edge(edge)));
    harness.get_by_label("Consumer depth");
    harness.get_by_label("7 (max 7)");
    harness.get_by_label("STOP");
    harness.get_by_label_contains("Depth of PAYMENTS → ledger");

    harness.get_by_label("Brokers").click();
    settle(&mut harness);
    assert_eq!(harness.state().view(), View::Brokers);
    harness.get_by_label("nats/PAYMENTS");
    harness.get_by_label(&format!("{}: connected", server.url()));
    harness.get_by_label("ledger").click();
    settle(&mut harness);
    harness.get_by_label_contains("Depth of PAYMENTS → ledger");

    // The message browser reads the server's streams: by stream, no partitions. (The tab;
    // the Brokers table has a column of that name too.)
    harness.get_all_by_label("Messages").next().unwrap().click();
    settle(&mut harness);
    assert_eq!(harness.state().view(), View::Messages);
    harness.get_by_label("Stream");
    assert!(harness.query_by_label("all partitions").is_none(), "a stream has no partitions to pick");
    // Read from its start: a stream's messages go by sequence and subject, not by partition,
    // offset and key.
    harness.state_mut().browser_mut().topic = "PAYMENTS".into();
    harness.state_mut().browser_mut().start = eventlens::ui::message_browser::StartKind::Offset;
    settle(&mut harness);
    harness.get_by_value("from sequence");
    harness.state_mut().browser_mut().start = eventlens::ui::message_browser::StartKind::Earliest;
    harness.get_by_label("Read").click();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while harness.state().snapshot().kafka.browser.len() < 7 {
        assert!(std::time::Instant::now() < deadline, "the stream's 7 messages were not read");
        settle(&mut harness);
    }
    for column in ["Sequence", "Subject", "Timestamp", "Payload"] {
        harness.get_by_label(column);
    }
    for kafka_only in ["P", "Offset", "Key"] {
        assert!(harness.query_by_label(kafka_only).is_none(), "a Kafka column, {kafka_only:?}, over a stream");
    }
    harness.state_mut().browser_mut().selected = Some(0);
    settle(&mut harness);
    harness.get_by_label("PAYMENTS @ 1");
    harness.get_by_label(&format!("Subject ({} bytes)", "payments.captured".len()));
}

#[test]
fn a_rabbitmq_queue_shows_its_depth_on_the_canvas_in_the_panel_and_in_the_brokers_view() {
    use common::rabbitmq::RabbitServer;
    use reqwest::Method;
    use serde_json::json;
    let Some(server) = RabbitServer::start("a_rabbitmq_queue_shows_its_depth") else { return };
    server.api_send(Method::PUT, "exchanges/%2F/orders", json!({"type": "topic"}));
    server.api_send(Method::PUT, "queues/%2F/billing", json!({}));
    server.api_send(Method::POST, "bindings/%2F/e/orders/q/billing", json!({"routing_key": "order.*"}));
    for _ in 0..5 {
        let message =
            json!({"properties": {}, "routing_key": "order.paid", "payload": "{}", "payload_encoding": "string"});
        server.api_send(Method::POST, "exchanges/%2F/orders/publish", message);
    }
    let _holder = server.consumer("billing", "hold", "billing-svc", 2);
    let mut rabbitmq = eventlens::ingest::rabbitmq::RabbitConfig::new(&server.url()).unwrap();
    rabbitmq.poll_interval = Duration::from_millis(200);
    let collector: Collector = common::start_collector_with(CollectorConfig {
        publish_interval: Some(Duration::from_millis(20)),
        rabbitmq: vec![rabbitmq],
        ..CollectorConfig::default()
    });
    common::wait_for(&collector, "billing's depth", |s| {
        s.nodes.iter().any(|n| n.queue.as_ref().is_some_and(|q| q.ready == 3 && q.unacked == 2 && q.consumers == 1))
    });

    let app = EventLensApp::new(collector.engine().unwrap(), None);
    let mut harness =
        Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    settle(&mut harness);
    let billing = harness.state().flow_view().node_id_by_label("rabbitmq/billing").expect("the queue on the canvas");
    let view = harness.state().flow_view();
    assert!(view.node_view(billing).unwrap().detail.ends_with("· 5 queued"), "{:?}", view.node_view(billing));
    let route = harness.state().snapshot().edges.iter().find(|e| e.to == billing).map(|e| e.id).unwrap();
    assert_eq!(view.edge_label(route), Some("order.*"), "a route is labelled with its binding key");
    // The edge to the queue's consumer takes the queue's status colour (STALL).
    let consumer = harness.state().flow_view().node_id_by_label("rabbitmq consumer billing-svc").unwrap();
    let (_, drawn_edges) = view.drawn();
    let to_consumer = drawn_edges.iter().find(|(_, _, _, to)| to.id == consumer).map(|(_, _, e, _)| e.color);
    assert_eq!(to_consumer, Some(eventlens::ui::theme::depth_status_color(DepthStatus::Stall)));
    let at = view.node_screen_pos(billing).unwrap();
    click_at(&mut harness, at);
    assert_eq!(harness.state().selection(), Some(Selection::Node(billing)));
    harness.get_by_label("Queue (classic)");
    harness.get_by_label("3 (max 3)");
    harness.get_by_label_contains("Depth of billing");

    harness.get_by_label("Brokers").click();
    settle(&mut harness);
    assert_eq!(harness.state().view(), View::Brokers);
    harness.get_by_label("RabbitMQ");
    harness.get_by_label(&format!("{}: connected · vhosts /", server.url()));
    assert!(harness.query_by_label_contains("Depth of billing").is_none(), "no chart before a queue is picked");
    harness.get_by_label("billing").click();
    settle(&mut harness);
    harness.get_by_label_contains("Depth of billing");
    // The exchanges, folded away until asked for.
    assert!(harness.query_by_label("billing (order.*)").is_none());
    harness.get_by_label_contains("Exchanges (").click();
    settle(&mut harness);
    harness.get_by_label("billing (order.*)");
    assert!(harness.query_all_by_label("topic").count() >= 2, "orders and the broker's own amq.topic");

    // The stalled queue is a lag finding; its evidence draws the queue's depth.
    harness.get_by_label_contains("Findings").click();
    settle(&mut harness);
    assert_eq!(harness.state().view(), View::Findings);
    assert!(harness.query_by_label_contains("Depth of billing").is_none(), "no chart before a finding is picked");
    harness.get_by_label_contains("now STALL with 5 messages waiting").click();
    settle(&mut harness);
    harness.get_by_label_contains("Depth of billing");
}
