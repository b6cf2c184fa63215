//! The RabbitMQ source against a real broker (Debian's rabbitmq-server with the management
//! plugin) on 127.0.0.1, with real consumers (pika): exchanges, bindings, queues, consumers
//! and dead-letter exchanges in the graph; exact ready, unacked and consumer counts (the
//! numbers the broker's own API reports); the depth statuses; a recording replayed; a
//! refused login; the broker restarted mid-session; and a consumer traced by the official
//! pika instrumentation meeting the broker's consumer on one node.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use common::rabbitmq::RabbitServer;
use common::{start_collector_with, wait_for, wait_within};
use eventlens::collector::{Collector, CollectorConfig};
use eventlens::engine::Snapshot;
use eventlens::engine::snapshot::{QueueDepth, SourceState};
use eventlens::export::graph::replay_file;
use eventlens::ingest::otlp::OtlpConfig;
use eventlens::ingest::rabbitmq::RabbitConfig;
use eventlens::model::depth::DepthStatus;
use eventlens::model::findings::{FindingKind, Severity};
use eventlens::model::flow_graph::EdgeKind;
use reqwest::Method;
use serde_json::json;

/// One broker for this binary's tests, taken one test at a time.
fn broker(test: &str) -> Option<MutexGuard<'static, RabbitServer>> {
    static BROKER: OnceLock<Option<Mutex<RabbitServer>>> = OnceLock::new();
    let shared = BROKER.get_or_init(|| RabbitServer::start(test).map(Mutex::new)).as_ref()?;
    Some(shared.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
}

fn collector(url: &str, recording: Option<std::path::PathBuf>) -> Collector {
    let mut rabbitmq = RabbitConfig::new(url).unwrap();
    rabbitmq.poll_interval = Duration::from_millis(200);
    start_collector_with(CollectorConfig {
        publish_interval: Some(Duration::from_millis(20)),
        rabbitmq: vec![rabbitmq],
        recording,
        ..CollectorConfig::default()
    })
}

fn queue(s: &Snapshot, name: &str) -> Option<QueueDepth> {
    s.nodes.iter().find(|n| n.label == format!("rabbitmq/{name}"))?.queue.clone()
}

/// (ready, unacked, consumers) of a queue as the broker's API reports it.
fn reported(server: &RabbitServer, vhost: &str, name: &str) -> (u64, u64, u64) {
    let q = server.api_get(&format!("queues/{}/{name}", vhost.replace('/', "%2F"))).unwrap();
    let n = |k: &str| q[k].as_u64().unwrap_or(0);
    (n("messages_ready"), n("messages_unacknowledged"), n("consumers"))
}

/// Waits until the broker's API itself shows `want` for a queue (its statistics lag).
fn until_reported(server: &RabbitServer, vhost: &str, name: &str, want: (u64, u64, u64)) {
    for _ in 0..200 {
        if reported(server, vhost, name) == want {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{name}: the broker reports {:?}, not {want:?}", reported(server, vhost, name));
}

fn declare_shop(server: &RabbitServer, vhost: &str) {
    let v = vhost.replace('/', "%2F");
    server.api_send(Method::PUT, &format!("vhosts/{v}"), json!({}));
    server.api_send(
        Method::PUT,
        &format!("permissions/{v}/guest"),
        json!({"configure": ".*", "write": ".*", "read": ".*"}),
    );
    server.api_send(Method::PUT, &format!("exchanges/{v}/orders"), json!({"type": "topic", "durable": true}));
    server.api_send(Method::PUT, &format!("exchanges/{v}/orders.dlx"), json!({"type": "fanout", "durable": true}));
    let billing = json!({"durable": true, "arguments": {"x-dead-letter-exchange": "orders.dlx"}});
    server.api_send(Method::PUT, &format!("queues/{v}/billing"), billing);
    server.api_send(Method::PUT, &format!("queues/{v}/audit"), json!({"durable": true}));
    server.api_send(Method::PUT, &format!("queues/{v}/billing.dead"), json!({"durable": true}));
    server.api_send(Method::POST, &format!("bindings/{v}/e/orders/q/billing"), json!({"routing_key": "order.*"}));
    server.api_send(Method::POST, &format!("bindings/{v}/e/orders/q/audit"), json!({"routing_key": "order.#"}));
    server.api_send(Method::POST, &format!("bindings/{v}/e/orders.dlx/q/billing.dead"), json!({"routing_key": ""}));
}

fn publish(server: &RabbitServer, vhost: &str, n: usize) {
    let v = vhost.replace('/', "%2F");
    for i in 0..n {
        let message = json!({"properties": {}, "routing_key": "order.created", "payload": format!("{{\"order\":{i}}}"), "payload_encoding": "string"});
        server.api_send(Method::POST, &format!("exchanges/{v}/orders/publish"), message);
    }
}

#[test]
fn queues_bindings_consumers_and_exact_depths_reach_the_graph_and_the_recording() {
    let Some(server) = broker("queues_bindings_consumers_and_exact_depths_reach_the_graph_and_the_recording") else {
        return;
    };
    declare_shop(&server, "/");
    publish(&server, "/", 6);
    // billing-svc takes two messages and never acknowledges them; nobody reads audit.
    let _holder = server.consumer("billing", "hold", "billing-svc", 2);
    until_reported(&server, "/", "billing", (4, 2, 1));
    until_reported(&server, "/", "audit", (6, 0, 0));

    let dir = tempfile::tempdir().unwrap();
    let recording = dir.path().join("rabbitmq.jsonl");
    let collector = collector(&server.url(), Some(recording.clone()));
    let s = wait_for(&collector, "billing stalled and audit stopped", |s| {
        queue(s, "billing").is_some_and(|q| q.status == DepthStatus::Stall)
            && queue(s, "audit").is_some_and(|q| q.status == DepthStatus::Stop)
    });
    let billing = queue(&s, "billing").unwrap();
    assert_eq!((billing.ready, billing.unacked, u64::from(billing.consumers)), reported(&server, "/", "billing"));
    let audit = queue(&s, "audit").unwrap();
    assert_eq!((audit.ready, audit.unacked, u64::from(audit.consumers)), reported(&server, "/", "audit"));
    assert_eq!((billing.kind.as_str(), billing.max_ready, billing.max_unacked), ("classic", 4, 2));
    // What else the poll read, as the broker's API lists it: vhosts, a queue's arguments,
    // the consumer's channel, exchange types.
    let state = s.rabbitmq.values().next().expect("the broker");
    assert!(state.vhosts.contains(&"/".to_owned()), "{:?}", state.vhosts);
    let queue_state = &state.queues[&("/".to_owned(), "billing".to_owned())];
    assert_eq!(queue_state.info.arguments.get("x-dead-letter-exchange").map(String::as_str), Some("orders.dlx"));
    let listed = server.api_get("consumers/%2F").unwrap();
    let billing_consumer = listed.as_array().unwrap().iter().find(|c| c["queue"]["name"] == "billing").unwrap();
    let channel = billing_consumer["channel_details"]["name"].as_str().expect("the API names the channel").to_owned();
    assert!(state.consumers.iter().any(|c| c.queue == "billing" && c.channel == channel), "{:?}", state.consumers);
    assert_eq!(state.exchange_named("orders"), Some("topic"));
    // Both are named as lag findings, as a Kafka group's would be, and badge their queues.
    let finding = |queue: &str| {
        s.findings
            .findings
            .iter()
            .find(|f| f.kind == FindingKind::Lag && f.location.topic.as_deref() == Some(queue))
            .cloned()
    };
    let stalled = finding("billing").expect("billing's finding");
    assert_eq!(stalled.severity, Severity::Error);
    assert!(stalled.summary.ends_with("now STALL with 6 messages waiting (4 ready, 2 unacked)"), "{}", stalled.summary);
    assert!(finding("audit").is_some_and(|f| f.summary.contains("now STOP")));
    assert!(s.nodes.iter().any(|n| n.label == "rabbitmq/billing" && n.findings.count > 0), "the queue carries a badge");

    let label = |id: u32| s.node(id).map(|n| n.label.clone()).unwrap_or_default();
    // The default vhost's part: the other tests of this binary use the broker too, in any
    // order, and leave their vhosts (`shop`, `cli`) behind, whose names carry the vhost.
    let in_default_vhost = |name: &str| name.strip_prefix("rabbitmq/").is_some_and(|rest| !rest.contains('/'));
    let mut edges: Vec<(String, String, EdgeKind, Vec<String>)> = s
        .edges
        .iter()
        .map(|e| (label(e.from), label(e.to), e.kind, e.routing_keys.clone()))
        .filter(|(from, _, _, _)| in_default_vhost(from))
        .collect();
    edges.sort();
    let edge = |from: &str, to: &str, kind, keys: &[&str]| {
        (format!("rabbitmq/{from}"), to.to_owned(), kind, keys.iter().map(|k| (*k).to_owned()).collect::<Vec<_>>())
    };
    assert_eq!(
        edges,
        [
            edge("billing", "rabbitmq consumer billing-svc", EdgeKind::Consumes, &[]),
            edge("billing", "rabbitmq/orders.dlx", EdgeKind::DeadLetters, &[]),
            edge("orders", "rabbitmq/audit", EdgeKind::Routes, &["order.#"]),
            edge("orders", "rabbitmq/billing", EdgeKind::Routes, &["order.*"]),
            edge("orders.dlx", "rabbitmq/billing.dead", EdgeKind::Routes, &[""]),
        ]
    );

    // A consumer that acknowledges drains audit: OK once it is empty.
    let _drainer = server.consumer("audit", "ack", "audit-svc", 10);
    let s = wait_for(&collector, "audit drained", |s| {
        queue(s, "audit").is_some_and(|q| q.ready == 0 && q.consumers == 1 && q.status == DepthStatus::Ok)
    });
    assert_eq!(queue(&s, "audit").map(|q| q.max_ready), Some(6));
    let summary = collector.shutdown();
    assert!(summary.recorded > 0, "{summary:?}");

    let replayed = replay_file(&recording).unwrap().snapshot;
    let billing = queue(&replayed, "billing").expect("billing in the replay");
    assert_eq!((billing.ready, billing.unacked, billing.status), (4, 2, DepthStatus::Stall));
    assert_eq!(queue(&replayed, "audit").map(|q| (q.ready, q.status)), Some((0, DepthStatus::Ok)));
}

#[test]
fn a_vhost_names_its_queues_and_a_rejecting_consumer_fills_the_dead_letter_queue() {
    let Some(server) = broker("a_vhost_names_its_queues") else { return };
    declare_shop(&server, "shop");
    let _rejecter = server.consumer_in("shop", "billing", "reject", "billing-svc", 10);
    publish(&server, "shop", 3);
    until_reported(&server, "shop", "billing.dead", (3, 0, 0));
    let collector = collector(&server.url(), None);
    let s = wait_for(&collector, "the dead letters", |s| queue(s, "shop/billing.dead").is_some_and(|q| q.ready == 3));
    assert!(s.edges.iter().any(|e| {
        e.kind == EdgeKind::DeadLetters
            && s.node(e.from).is_some_and(|n| n.label == "rabbitmq/shop/billing")
            && s.node(e.to).is_some_and(|n| n.label == "rabbitmq/shop/orders.dlx")
    }));
    let billing = queue(&s, "shop/billing").unwrap();
    assert_eq!((billing.ready, billing.unacked, billing.consumers), (0, 0, 1));
}

#[test]
fn a_refused_login_says_auth_failed_and_a_restarted_broker_is_polled_again() {
    let Some(mut server) = broker("a_refused_login_says_auth_failed") else { return };
    declare_shop(&server, "/");
    let wrong = server.url().replacen("http://", "http://guest:wrong-pass@", 1);
    let refused = collector(&wrong, None);
    let s = wait_for(&refused, "auth failed", |s| {
        s.sources.iter().any(|x| matches!(&x.state, SourceState::Failed(m) if m.starts_with("auth failed")))
    });
    assert!(!format!("{:?}", s.sources).contains("wrong-pass"));
    drop(refused);

    let collector = collector(&server.url(), None);
    let board = format!("RabbitMQ {}", server.url());
    let source = |s: &Snapshot| s.sources.iter().find(|x| x.name == board).map(|x| x.state.clone());
    wait_for(&collector, "connected", |s| source(s) == Some(SourceState::Listening));
    server.stop();
    wait_for(
        &collector,
        "broker down",
        |s| matches!(source(s), Some(SourceState::Failed(m)) if m.starts_with("broker down")),
    );
    server.restart();
    // Durable queues come back; the source polls them again within its backoff.
    wait_within(&collector, "polls after the restart", Duration::from_secs(60), |s| {
        source(s) == Some(SourceState::Listening) && queue(s, "billing").is_some()
    });
}

#[test]
fn record_watches_a_broker_and_graph_reports_its_queues() {
    let Some(server) = broker("record_watches_a_broker_and_graph_reports_its_queues") else { return };
    declare_shop(&server, "cli");
    publish(&server, "cli", 2);
    until_reported(&server, "cli", "audit", (2, 0, 0));
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rabbitmq.jsonl");
    let url = server.url().replacen("http://", "http://guest:guest@", 1);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_eventlens"))
        .args(["--no-otlp", "record", "--duration", "2s", "--rabbitmq", &url, "--rabbitmq-poll", "200ms", "--out"])
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(recorded.contains("\"kind\":\"rabbitmq\"") && !recorded.contains("guest:guest"));

    let graph = |format: &str| common::graph_output(&file, format);
    let doc: serde_json::Value = serde_json::from_str(&graph("json")).unwrap();
    let node = |name: &str| doc["nodes"].as_array().unwrap().iter().find(|n| n["name"] == name).cloned();
    let audit = node("rabbitmq/cli/audit").expect("the queue");
    let q = &audit["queue"];
    assert_eq!((q["ready"].as_u64(), q["unacked"].as_u64(), q["consumers"].as_u64()), (Some(2), Some(0), Some(0)));
    assert_eq!(
        (q["type"].as_str(), q["status"].as_str(), q["max_ready"].as_u64()),
        (Some("classic"), Some("STOP"), Some(2))
    );
    let orders = node("rabbitmq/cli/orders").expect("the exchange");
    assert!(orders.get("queue").is_none(), "an exchange has no depth");
    assert_eq!(orders["exchange"]["type"], "topic");
    assert!(audit.get("exchange").is_none(), "a queue is no exchange");
    let route =
        doc["edges"].as_array().unwrap().iter().find(|e| e["kind"] == "routes" && e["to_name"] == "rabbitmq/cli/audit");
    assert_eq!(route.map(|e| e["routing_keys"].clone()), Some(json!(["order.#"])));
    let dot = graph("dot");
    assert!(dot.contains("binding order.#") && dot.contains("2 ready, 0 unacked (STOP)"), "{dot}");
}

#[test]
fn a_consumer_traced_by_the_official_pika_instrumentation_is_one_node_with_its_queue() {
    let Some(server) = broker("a_consumer_traced_by_the_official_pika_instrumentation_is_one_node_with_its_queue")
    else {
        return;
    };
    // The ledger reads the payments exchange through a queue of its own, bound to nothing
    // else; its connection has no name, so only the spans can say whose it is.
    let v = "%2F";
    // In the default vhost (the spans cannot name another), removed again after the test
    // whatever it finds, so the other tests of this broker do not meet it.
    struct Removed<'a>(&'a RabbitServer);
    impl Drop for Removed<'_> {
        fn drop(&mut self) {
            self.0.api_send(Method::DELETE, "queues/%2F/q-7f3a", json!({}));
            self.0.api_send(Method::DELETE, "exchanges/%2F/payments", json!({}));
        }
    }
    server.api_send(Method::PUT, &format!("exchanges/{v}/payments"), json!({"type": "topic", "durable": true}));
    server.api_send(Method::PUT, &format!("queues/{v}/q-7f3a"), json!({"durable": true}));
    server.api_send(Method::POST, &format!("bindings/{v}/e/payments/q/q-7f3a"), json!({"routing_key": "payment.*"}));

    let mut rabbitmq = RabbitConfig::new(&server.url()).unwrap();
    rabbitmq.poll_interval = Duration::from_millis(200);
    let collector = start_collector_with(CollectorConfig {
        otlp: Some(OtlpConfig { grpc: Some(common::loopback()), http: None, max_request_bytes: 4 << 20 }),
        publish_interval: Some(Duration::from_millis(20)),
        rabbitmq: vec![rabbitmq],
        ..CollectorConfig::default()
    });
    let _removed = Removed(&server);
    let otlp = collector.grpc_addr.expect("gRPC receiver").to_string();
    let _ledger = server.traced_consumer("q-7f3a", "ledger", &otlp);
    for i in 0..3 {
        let message = json!({"properties": {}, "routing_key": "payment.done", "payload": format!("{{\"payment\":{i}}}"), "payload_encoding": "string"});
        server.api_send(Method::POST, &format!("exchanges/{v}/payments/publish"), message);
    }
    let s = wait_for(&collector, "the ledger's spans and its queue's consumer on one node", |s| {
        let label = |id: u32| s.node(id).map(|n| n.label.as_str()).unwrap_or_default();
        let consumes = |from: &str, to: &str| {
            s.edges.iter().any(|e| e.kind == EdgeKind::Consumes && label(e.from) == from && label(e.to) == to)
        };
        consumes("rabbitmq/payments", "ledger") && consumes("rabbitmq/q-7f3a", "ledger")
    });
    let label = |id: u32| s.node(id).map(|n| n.label.clone()).unwrap_or_default();
    let from_queue: Vec<String> =
        s.edges.iter().filter(|e| label(e.from) == "rabbitmq/q-7f3a").map(|e| label(e.to)).collect();
    assert_eq!(from_queue, ["ledger"], "no consumer node beside the service");
    assert!(!s.nodes.iter().any(|n| n.label.starts_with("rabbitmq consumer 127.0.0.1")), "{:?}", s.nodes);
    // The queue's status rides on the edge to the service.
    let edge = s.edges.iter().find(|e| label(e.from) == "rabbitmq/q-7f3a").expect("the queue's edge");
    assert!(edge.queue_status.is_some(), "{edge:?}");
    collector.shutdown();
}
