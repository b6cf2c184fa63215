//! The Demo panel, driven headless with egui_kittest over the running demo shop: its
//! controls change what the shop does, and so what the engine receives.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::ui::settle;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eventlens::collector::CollectorConfig;
use eventlens::demo::{DemoBroker, DemoControls, DemoServices};
use eventlens::engine::Snapshot;
use eventlens::ingest::otlp::{DEFAULT_MAX_REQUEST_BYTES, OtlpConfig};
use eventlens::ui::EventLensApp;

/// Whether payments has dead-lettered anything: only version-2 orders make it.
fn payments_dead_letters(snapshot: &Snapshot) -> bool {
    let id = |label: &str| snapshot.nodes.iter().find(|n| n.label == label).map(|n| n.id);
    match (id("shop/payments"), id("kafka/orders.DLQ")) {
        (Some(payments), Some(dlq)) => snapshot.edges.iter().any(|e| e.from == payments && e.to == dlq),
        _ => false,
    }
}

#[test]
fn demo_panel_controls_steer_the_shop() {
    let broker = DemoBroker::start().unwrap();
    let collector = common::start_collector_with(CollectorConfig {
        otlp: Some(OtlpConfig {
            grpc: Some(common::loopback()),
            http: None,
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        }),
        kafka: vec![eventlens::demo::kafka_config(&broker)],
        publish_interval: Some(Duration::from_millis(50)),
        ..CollectorConfig::default()
    });
    let controls = Arc::new(DemoControls::default());
    controls.set_poison_percent(0);
    let services = DemoServices::start(&broker, collector.grpc_addr.unwrap(), Arc::clone(&controls)).unwrap();
    common::wait_for(&collector, "payments charging orders", |s| {
        s.nodes.iter().any(|n| n.label == "shop/payments" && n.counters.count > 20)
    });
    assert!(!payments_dead_letters(&collector.engine().unwrap().snapshot()));

    let app = EventLensApp::new(collector.engine().unwrap(), None).with_demo(Some(Arc::clone(&controls)));
    let mut harness =
        Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    settle(&mut harness);
    harness.get_by_label("Demo shop");

    // The schema change: payments cannot read version 2 and dead-letters it.
    harness.get_by_label("OrderPlaced v2").click();
    settle(&mut harness);
    assert!(DemoControls::get(&controls.schema_v2));
    common::wait_for(&collector, "payments dead-lettering v2 orders", payments_dead_letters);

    harness.get_by_label("Slow shipping").click();
    harness.get_by_label("Stop notifications").click();
    harness.get_by_label("Out-of-order updates").click();
    settle(&mut harness);
    assert!(DemoControls::get(&controls.slow_shipping));
    assert!(DemoControls::get(&controls.notifications_stopped));
    assert!(DemoControls::get(&controls.out_of_order));
    harness.get_by_label("Slow shipping").click();
    settle(&mut harness);
    assert!(!DemoControls::get(&controls.slow_shipping));

    // The two sliders show the current settings.
    harness.get_by_value("20 orders/s");
    harness.get_by_value("5% declined");

    services.stop();
    drop(collector);
}
