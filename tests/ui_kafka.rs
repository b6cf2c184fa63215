//! The Kafka parts of the window, driven headless with egui_kittest against a collector
//! watching librdkafka's in-process mock cluster.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ui::{click_at, settle};

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eventlens::collector::{Collector, CollectorConfig};
use eventlens::ingest::kafka::KafkaConfig;
use eventlens::ui::EventLensApp;
use eventlens::ui::app::View;
use eventlens::ui::flow_view::Selection;

#[test]
fn a_consume_edge_shows_lag_per_group_with_its_chart_and_a_topic_its_partitions() {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    mock.create_topic("orders", 2, 1).unwrap();
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
    common::kafka::produce(&b, "orders", 0, 12, now - 30_000);
    common::kafka::produce(&b, "orders", 1, 3, now);
    common::kafka::commit(&b, "billing", "orders", 0, 2);
    common::kafka::commit(&b, "billing", "orders", 1, 3);
    let mut kafka = KafkaConfig::new(b.clone());
    kafka.poll_interval = Duration::from_millis(100);
    kafka.groups = vec!["billing".into()];
    let collector: Collector = common::start_collector_with(CollectorConfig {
        publish_interval: Some(Duration::from_millis(20)),
        kafka: vec![kafka],
        ..CollectorConfig::default()
    });
    common::wait_for(&collector, "lag 10", |s| s.edges.iter().any(|e| e.lag.iter().any(|l| l.offsets == 10)));

    let app = EventLensApp::new(collector.engine().unwrap(), None).with_browsers(collector.browsers());
    let mut harness =
        Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    settle(&mut harness);
    harness.get_by_label_contains(&format!("Kafka {b}"));

    let snapshot = harness.state().snapshot().clone();
    let id = |label: &str| snapshot.nodes.iter().find(|n| n.label == label).expect(label).id;
    let (orders, group) = (id("kafka/orders"), id("kafka group billing"));
    let edge = snapshot.edges.iter().find(|e| e.from == orders && e.to == group).unwrap().id;
    let view = harness.state().flow_view();
    let (a, z) = (view.node_screen_pos(orders).unwrap(), view.node_screen_pos(group).unwrap());
    assert!(view.edge_label(edge).unwrap().contains("lag 10"), "the canvas shows lag on the edge");
    click_at(&mut harness, a + (z - a) * 0.5);
    assert_eq!(harness.state().selection(), Some(Selection::Edge(edge)));
    harness.get_by_label("Consumer lag");
    harness.get_by_label("Oldest unconsumed");
    harness.get_by_label_contains("Lag of billing on orders");
    // Max lag 10, and the oldest unconsumed message (partition 0, offset 2) is 30-odd s old.
    harness.get_by_label_contains("10 / 3");

    // The panel narrowed the canvas: ask where the topic is drawn now.
    let a = harness.state().flow_view().node_screen_pos(orders).unwrap();
    click_at(&mut harness, a);
    assert_eq!(harness.state().selection(), Some(Selection::Node(orders)));
    harness.get_by_label_contains("2 partitions · 15 messages retained");
    harness.get_by_label("Groups reading it");

    // The Topics view lists it with its group; its name opens it in the browser.
    harness.get_by_label("Topics").click();
    settle(&mut harness);
    assert_eq!(harness.state().view(), View::Topics);
    harness.get_by_label("0 / 15");
    harness.get_by_label_contains("billing 10");
    harness.get_by_label("orders").click();
    settle(&mut harness);
    assert_eq!(harness.state().view(), View::Messages);
    harness.get_by_value("orders");
}

#[test]
fn the_message_browser_reads_a_topic_and_decodes_json_text_and_binary_payloads() {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    mock.create_topic("orders", 1, 1).unwrap();
    common::kafka::produce_with(&b, "orders", 0, 2, 1_790_000_000_000, &[("ce_type", "OrderPlaced")]);
    common::kafka::produce_bytes(&b, "orders", &[b"plain text note".to_vec(), vec![0, 1, 2, 0xff, b'A']]);
    let mut kafka = KafkaConfig::new(b.clone());
    kafka.poll_interval = Duration::from_millis(100);
    let collector: Collector = common::start_collector_with(CollectorConfig {
        publish_interval: Some(Duration::from_millis(20)),
        kafka: vec![kafka],
        ..CollectorConfig::default()
    });
    common::wait_for(&collector, "the topic", |s| s.nodes.iter().any(|n| n.label == "kafka/orders"));
    let app = EventLensApp::new(collector.engine().unwrap(), None).with_browsers(collector.browsers());
    let mut harness =
        Harness::builder().with_size([1400.0, 900.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    settle(&mut harness);

    harness.get_by_label("Messages").click();
    settle(&mut harness);
    harness.get_by_value("pick one").click();
    settle(&mut harness);
    harness.get_by_label("orders").click();
    settle(&mut harness);
    harness.get_by_value("last N").click();
    settle(&mut harness);
    harness.get_by_label("from earliest").click();
    settle(&mut harness);
    harness.get_by_label("Read").click();
    for _ in 0..50 {
        settle(&mut harness);
        if harness.state().snapshot().kafka.browser.progress.done {
            break;
        }
    }
    settle(&mut harness);
    harness.get_by_label_contains("scanned 4 of 4, 4 matched");
    assert_eq!(harness.get_all_by_label_contains("(1790000000000, CreateTime)").count(), 2);

    harness.get_by_label(r#"{"order":1}"#).click();
    settle(&mut harness);
    assert_eq!(harness.state_mut().browser_mut().selected, Some(1), "clicking a row selects it");
    harness.get_by_label("orders / 0 @ 1");
    harness.get_by_label_contains("Payload (JSON, 11 bytes)");
    harness.get_by_label_contains("\"order\": 1");
    harness.get_by_label_contains("CloudEvent OrderPlaced");

    harness.get_by_label("plain text note").click();
    settle(&mut harness);
    harness.get_by_label_contains("Payload (text, 15 bytes)");

    // The binary message's row, by its offset cell.
    harness.get_by_label("3").click();
    settle(&mut harness);
    harness.get_by_label_contains("Payload (binary, 5 bytes)");
    harness.get_by_label_contains("00 01 02 ff 41");
}
