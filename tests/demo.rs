//! `eventlens demo --headless` as a user runs it: the in-process shop (mock Kafka cluster,
//! services exporting spans over OTLP/gRPC) recorded to a session file, then read back.

// Test helpers fail loudly on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::process::Command;

use eventlens::capture::read_capture;
use eventlens::model::record::Record;
use eventlens::model::span::{AttrValue, Span, find_attr};

const BIN: &str = env!("CARGO_BIN_EXE_eventlens");

/// Runs the headless demo for `seconds` with `scenarios` and returns the session file.
fn run_demo(dir: &Path, seconds: u32, scenarios: &[&str]) -> std::path::PathBuf {
    let out = dir.join("demo.jsonl");
    let mut command = Command::new(BIN);
    command.args(["demo", "--headless", "--duration", &format!("{seconds}s"), "--out"]).arg(&out);
    for scenario in scenarios {
        command.args(["--scenario", scenario]);
    }
    let output = command.output().expect("demo runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "demo failed: {stderr}");
    assert!(stderr.contains("demo stopped"), "{stderr}");
    out
}

/// `eventlens findings FILE --format json`: the findings list.
fn findings(file: &Path) -> Vec<serde_json::Value> {
    let output =
        Command::new(BIN).arg("findings").arg(file).args(["--format", "json"]).output().expect("findings runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).expect("findings JSON");
    document["findings"].as_array().cloned().expect("a findings list")
}

/// The findings of `kind` at `topic` (and `group`, when given).
fn found<'a>(
    findings: &'a [serde_json::Value],
    kind: &str,
    topic: &str,
    group: Option<&str>,
) -> Vec<&'a serde_json::Value> {
    findings
        .iter()
        .filter(|f| f["kind"] == kind && f["topic"] == topic && group.is_none_or(|g| f["group"] == g))
        .collect()
}

/// The kinds the demo's scenarios inject; the steady shop has none of them.
const INJECTED: [&str; 6] = ["duplicate", "out_of_order", "schema_change", "poison_message", "dead_letter", "lag"];

fn graph(file: &Path) -> serde_json::Value {
    let output = Command::new(BIN).arg("graph").arg(file).output().expect("graph runs");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("graph JSON")
}

/// `from -kind-> to` for every edge of the graph.
fn edges(graph: &serde_json::Value) -> BTreeSet<String> {
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} -{}-> {}",
                e["from_name"].as_str().unwrap(),
                e["kind"].as_str().unwrap(),
                e["to_name"].as_str().unwrap()
            )
        })
        .collect()
}

fn edge<'a>(graph: &'a serde_json::Value, from: &str, to: &str) -> &'a serde_json::Value {
    graph["edges"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["from_name"] == from && e["to_name"] == to)
        .unwrap_or_else(|| panic!("no edge {from} -> {to}"))
}

fn spans(file: &Path) -> Vec<Span> {
    read_capture(file)
        .expect("session opens")
        .records
        .into_iter()
        .filter_map(|r| match r {
            Record::Spans(batch) => Some(batch.spans),
            Record::Kafka(_) | Record::Nats(_) | Record::Rabbitmq(_) => None,
        })
        .flatten()
        .collect()
}

fn text(span: &Span, key: &str) -> Option<String> {
    match find_attr(&span.attributes, key) {
        Some(AttrValue::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

/// Inventory's process spans per message id: more than one means a duplicate delivery.
fn inventory_deliveries(spans: &[Span]) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for span in spans.iter().filter(|s| s.service().name == "inventory" && s.name == "process orders") {
        if let Some(id) = text(span, "messaging.message.id") {
            *seen.entry(id).or_insert(0) += 1;
        }
    }
    seen
}

/// Messages of `orders` inventory processed again after a successful attempt (the rewind),
/// by partition and offset; redeliveries of a failed message are retries, not duplicates.
fn processed_again_after_success(spans: &[Span]) -> u64 {
    let mut attempts: HashMap<(String, i64), Vec<(u64, bool)>> = HashMap::new();
    for span in spans.iter().filter(|s| s.service().name == "inventory" && s.name == "process orders") {
        let partition = text(span, "messaging.destination.partition.id").expect("partition");
        let offset = find_attr(&span.attributes, "messaging.kafka.offset").and_then(AttrValue::as_i64).expect("offset");
        attempts.entry((partition, offset)).or_default().push((span.start_unix_nano, span.is_failure()));
    }
    for tries in attempts.values_mut() {
        tries.sort_unstable();
    }
    attempts.values().filter(|tries| tries.windows(2).any(|w| !w[0].1)).count() as u64
}

fn out_of_order(spans: &[Span]) -> usize {
    spans.iter().filter(|s| find_attr(&s.attributes, "shop.out_of_order") == Some(&AttrValue::BoolValue(true))).count()
}

/// Nodes and edges with their counts, failures and lag, in id order.
fn graph_summary(snapshot: &eventlens::engine::Snapshot) -> Vec<String> {
    let nodes = snapshot.nodes.iter().map(|n| format!("{} {} {}", n.label, n.counters.count, n.counters.failures));
    let edges = snapshot.edges.iter().map(|e| {
        let lag: Vec<_> = e.lag.iter().map(|l| (l.group.clone(), l.offsets, l.max_offsets, l.status)).collect();
        format!("{}>{} {:?} {} {} {lag:?}", e.from, e.to, e.kind, e.counters.count, e.counters.failures)
    });
    nodes.chain(edges).collect()
}

fn scrubbing_matches_straight_replay(file: &Path) {
    use eventlens::engine::EngineState;
    use eventlens::engine::playback::SessionLog;

    let records = read_capture(file).unwrap().records;
    let mut head = EngineState::default();
    // Dense checkpoints, so most points below start from a checkpoint copy.
    let mut log = SessionLog::new(usize::MAX).with_checkpoint_every(25);
    for record in records.iter().cloned() {
        head.apply(&record);
        log.push(std::sync::Arc::new(record), &head);
    }
    assert!(log.checkpoints() > 2, "{}", log.checkpoints());
    let total = records.len() as u64;
    for step in 1..=12u64 {
        let n = total * step / 12;
        let mut straight = EngineState::default();
        for record in &records[..n as usize] {
            straight.apply(record);
        }
        let (at, mut scrubbed) = log.state_at(n, None);
        assert_eq!(at, n);
        let second = straight.last_received_second() + 1;
        assert_eq!(
            graph_summary(&scrubbed.snapshot(second)),
            graph_summary(&straight.snapshot(second)),
            "at record {n}"
        );
    }
}

/// Journeys assembled and findings detected on threads of their own, as the live engine
/// does, list exactly what journeys assembled and findings detected inline do, at every point
/// of the session.
fn threaded_journeys_match_inline(file: &Path) {
    use eventlens::engine::EngineState;
    use eventlens::model::findings::FindingsSettings;
    use eventlens::model::journey::{JourneySettings, JourneyStatus, JourneySummary};

    let records = read_capture(file).unwrap().records;
    let mut inline = EngineState::new(JourneySettings::default());
    let mut threaded = EngineState::threaded(JourneySettings::default(), FindingsSettings::default()).unwrap();
    let rows = |state: &mut EngineState| -> Vec<JourneySummary> {
        let second = state.last_received_second() + 1;
        state.snapshot(second).journeys.iter().cloned().collect()
    };
    let total = records.len();
    for (i, record) in records.into_iter().enumerate() {
        inline.apply(&record);
        threaded.apply_shared(std::sync::Arc::new(record));
        if (i + 1) % (total / 8).max(1) == 0 || i + 1 == total {
            let (expected, got) = (rows(&mut inline), rows(&mut threaded));
            assert!(expected == got, "journeys differ after record {i}");
            let (expected, got) = (inline.findings(), threaded.findings());
            assert_eq!(expected, got, "findings differ after record {i}");
        }
    }
    let findings = threaded.findings();
    assert!(!findings.findings.is_empty(), "the demo session has findings: {findings:#?}");
    let list = rows(&mut threaded);
    let count = |status: JourneyStatus| list.iter().filter(|j| j.status == status).count();
    assert!(list.len() > 50, "{}", list.len());
    assert!(count(JourneyStatus::Ok) > 0 && count(JourneyStatus::Failed) > 0, "{list:#?}");
}

#[test]
fn steady_demo_draws_the_whole_shop() {
    let dir = tempfile::tempdir().unwrap();
    let file = run_demo(dir.path(), 8, &[]);
    let graph = graph(&file);
    let edges = edges(&graph);
    for expected in [
        "shop/checkout -calls-> shop/pricing",
        "shop/checkout -produces-> kafka/orders",
        "kafka/orders -consumes-> shop/inventory",
        "kafka/orders -consumes-> shop/payments",
        "kafka/orders -consumes-> shop/analytics",
        "shop/inventory -produces-> kafka/inventory",
        "shop/payments -produces-> kafka/payments",
        "kafka/payments -consumes-> shop/shipping",
        "kafka/payments -consumes-> shop/notifications",
        // The saga: checkout reads declines and cancels the order.
        "kafka/payments -consumes-> shop/checkout",
        "shop/shipping -produces-> kafka/shipments",
        "kafka/shipments -consumes-> shop/notifications",
        "shop/notifications -produces-> kafka/notifications",
        "kafka/inventory -consumes-> shop/analytics",
        "kafka/shipments -consumes-> shop/analytics",
        "kafka/notifications -consumes-> shop/analytics",
    ] {
        assert!(edges.contains(expected), "missing {expected} in {edges:#?}");
    }
    // Lag comes from the mock cluster itself, for groups learned from the spans.
    let lag = &edge(&graph, "kafka/orders", "shop/payments")["lag"][0];
    assert_eq!(lag["group"], "payments");
    assert!(lag["status"].is_string());

    // The customers' emails are masked before they are recorded.
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(!recorded.contains("@example.com"), "an email was recorded");
    let spans = spans(&file);
    let request = spans.iter().find(|s| s.name == "POST /orders").expect("checkout's request span");
    assert_eq!(text(request, "shop.customer.email").as_deref(), Some("***"));
    // The compensation: a declined payment makes checkout publish OrderCancelled from its
    // process span, and inventory release the stock.
    let checkout_process: BTreeSet<_> = spans
        .iter()
        .filter(|s| s.service().name == "checkout" && s.name == "process payments")
        .map(|s| s.span_id)
        .collect();
    assert!(
        spans
            .iter()
            .any(|s| s.name == "send orders" && s.parent_span_id.is_some_and(|p| checkout_process.contains(&p))),
        "no OrderCancelled sent from checkout's process span"
    );
    assert!(spans.iter().any(|s| s.service().name == "inventory" && s.name == "release stock"));
    assert!(spans.iter().any(|s| s.name == "POST /charges" && s.status_message == "card declined"));
    // Replay: the timeline's state at any point (a checkpoint copy plus the records since)
    // is the state of applying that many records straight.
    scrubbing_matches_straight_replay(&file);
    // No scenario, no duplicates and nothing out of order.
    let deliveries = inventory_deliveries(&spans);
    assert!(deliveries.len() > 50, "{}", deliveries.len());
    assert!(deliveries.values().all(|n| *n == 1), "duplicates without the scenario");
    assert_eq!(out_of_order(&spans), 0);
    // EventLens names no injected problem in a steady shop, only what it is built of: the
    // saga rolling back declined payments, payments calling its gateway while processing.
    let findings = findings(&file);
    let injected: Vec<_> = findings.iter().filter(|f| INJECTED.iter().any(|k| f["kind"] == *k)).collect();
    assert!(injected.is_empty(), "{injected:#?}");
    assert_eq!(found(&findings, "sync_coupling", "orders", None).len(), 1, "{findings:#?}");
}

#[test]
fn a_minute_of_the_steady_demo_has_none_of_the_injected_problems() {
    let dir = tempfile::tempdir().unwrap();
    let file = run_demo(dir.path(), 60, &[]);
    let findings = findings(&file);
    let injected: Vec<_> = findings.iter().filter(|f| INJECTED.iter().any(|k| f["kind"] == *k)).collect();
    assert!(injected.is_empty(), "{injected:#?}");
    // And so a pipeline failing on warnings passes.
    let status = Command::new(BIN).arg("findings").arg(&file).args(["--fail-on", "warning"]).status().unwrap();
    assert_eq!(status.code(), Some(0));
}

#[test]
fn a_schema_change_is_named_with_both_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let file = run_demo(dir.path(), 20, &["schema-change"]);
    let findings = findings(&file);
    // OrderPlaced v2 renamed total_cents (then v1 came back when the scenario was lifted):
    // computed from the tailed payloads, with both shapes.
    let schema = found(&findings, "schema_change", "orders", None);
    assert!(!schema.is_empty(), "{findings:#?}");
    assert!(schema.iter().all(|f| f["event_type"] == "OrderPlaced"), "{schema:#?}");
    let renamed = |f: &&serde_json::Value| {
        let shape = &f["evidence"]["shape"];
        let names = |side: &str| shape[side].as_array().map(|a| a.iter().map(|p| p.to_string()).collect::<Vec<_>>());
        names("added").zip(names("removed")).is_some_and(|(added, removed)| {
            let both: Vec<String> = added.into_iter().chain(removed).collect();
            both.iter().any(|p| p.contains("total_cents")) && both.iter().any(|p| p.contains("amount_cents"))
        })
    };
    assert!(schema.iter().any(renamed), "{schema:#?}");
    assert!(schema.iter().any(|f| f["evidence"]["shape"]["compatibility"] == "NONE"), "{schema:#?}");
    // payments dead-letters what it cannot read.
    let dead = found(&findings, "dead_letter", "orders.DLQ", Some("payments"));
    assert_eq!(dead.len(), 1, "{findings:#?}");
}

#[test]
fn a_stopped_consumer_is_named() {
    let dir = tempfile::tempdir().unwrap();
    // STOP rests on a window of ten polls (a second apart) without progress: the scenario
    // runs for the first 15 s.
    let file = run_demo(dir.path(), 30, &["stopped-consumer"]);
    let findings = findings(&file);
    let stopped = found(&findings, "lag", "payments", Some("notifications"));
    assert_eq!(stopped.len(), 1, "{findings:#?}");
    assert_eq!(stopped[0]["severity"], "error");
    assert!(stopped[0]["summary"].as_str().is_some_and(|s| s.contains("STOP")), "{stopped:#?}");
}

#[test]
fn scenarios_show_their_effects_and_shipping_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let file = run_demo(dir.path(), 20, &["slow-consumer", "duplicates", "out-of-order", "poison"]);
    let graph = graph(&file);
    let edges = edges(&graph);
    for expected in ["kafka/orders -dead_letters-> kafka/orders.DLQ", "shop/inventory -produces-> kafka/orders.DLQ"] {
        assert!(edges.contains(expected), "missing {expected} in {edges:#?}");
    }
    // Slow shipping for the first half: its lag grew; lifted for the second: it drained.
    let lag = &edge(&graph, "kafka/payments", "shop/shipping")["lag"][0];
    let (now, max) = (lag["offsets"].as_i64().unwrap(), lag["max_offsets"].as_i64().unwrap());
    assert!(max >= 20, "shipping's lag never grew: {lag}");
    assert!(now * 4 <= max, "shipping's lag did not drain: {lag}");

    let spans = spans(&file);
    let duplicated = inventory_deliveries(&spans).values().filter(|n| **n > 1).count();
    assert!(duplicated > 0, "no duplicate deliveries");
    assert!(out_of_order(&spans) > 0, "no out-of-order events");
    assert!(spans.iter().any(|s| s.service().name == "inventory" && s.status_message.contains("poison message")));
    threaded_journeys_match_inline(&file);

    // EventLens names each injected problem itself (it reads no hint the demo writes).
    let findings = findings(&file);
    let duplicates = found(&findings, "duplicate", "orders", Some("inventory"));
    assert_eq!(duplicates.len(), 1, "{findings:#?}");
    assert_eq!(duplicates[0]["count"].as_u64(), Some(processed_again_after_success(&spans)), "{duplicates:#?}");
    let reordered = found(&findings, "out_of_order", "orders", None);
    assert_eq!(reordered.len(), 1, "{findings:#?}");
    assert!(reordered[0]["summary"].as_str().is_some_and(|s| s.contains("inventory")), "{reordered:#?}");
    let poison = found(&findings, "poison_message", "orders", Some("inventory"));
    assert_eq!(poison.len(), 1, "{findings:#?}");
    assert_eq!(poison[0]["count"].as_u64().map(|c| c % 3), Some(0), "three failed attempts each: {poison:#?}");
    assert_eq!(found(&findings, "dead_letter", "orders.DLQ", Some("inventory")).len(), 1, "{findings:#?}");
    assert_eq!(found(&findings, "lag", "payments", Some("shipping")).len(), 1, "{findings:#?}");
}
