//! Journeys with the instrumentations people really run (issue 14): the fixtures of
//! `tests/fixtures/instrumented/` (a four-service shop on confluent-kafka with the official
//! Python instrumentation, exporting OTLP/gRPC, and on kafkajs with the official Node
//! instrumentation, exporting OTLP/HTTP protobuf) run against a `noida-db` broker and a live
//! collector watching it. Every order must be exactly one journey holding every service that
//! processed it, failed exactly when its payment was declined; no journey may be made of batch
//! containers; and the flow graph keeps the edges it always had. The session is then read back
//! with `eventlens journeys FILE --format summary`, which must say the same. The project's own
//! demo is held to the same rule.
//!
//! Without the fixtures' packages (and outside CI) a test skips and says how to install them;
//! `.ci/run` installs them and points `EVENTLENS_PYTHON` at its venv's interpreter.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::collections::BTreeSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::kafka::Broker;
use eventlens::collector::Collector;
use eventlens::engine::Snapshot;
use eventlens::ingest::kafka::KafkaConfig;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_eventlens");
const ORDERS: u32 = 10;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/instrumented")
}

/// Says why a test cannot run here and skips it, or fails it under CI (`CI` set), where
/// `.ci/run` installed everything.
fn unavailable<T>(test: &str, why: &str, how: &str) -> Option<T> {
    if std::env::var_os("CI").is_some() {
        panic!("{test}: {why}; .ci/run installs it");
    }
    // Straight to the terminal: the test harness hides what passing tests print.
    let _ = writeln!(std::io::stderr(), "SKIPPED {test}: {why}. To run it: {how}");
    None
}

/// The interpreter with the Python fixture's packages: `EVENTLENS_PYTHON`, else `python3`.
fn python(test: &str) -> Option<String> {
    let python = std::env::var("EVENTLENS_PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let check = "import confluent_kafka, opentelemetry.sdk, opentelemetry.instrumentation.confluent_kafka, \
                 opentelemetry.exporter.otlp.proto.grpc.trace_exporter";
    let ok = Command::new(&python).args(["-c", check]).stderr(Stdio::null()).status().is_ok_and(|s| s.success());
    if ok {
        return Some(python);
    }
    unavailable(
        test,
        &format!("{python} lacks the packages of tests/fixtures/instrumented/python/requirements.txt"),
        "python3 -m venv target/fixtures-venv && target/fixtures-venv/bin/pip install -r \
         tests/fixtures/instrumented/python/requirements.txt, then EVENTLENS_PYTHON=target/fixtures-venv/bin/python",
    )
}

/// `node` (or `EVENTLENS_NODE`), when the Node fixture's packages are installed.
fn node(test: &str) -> Option<String> {
    let node = std::env::var("EVENTLENS_NODE").unwrap_or_else(|_| "node".to_owned());
    let check = "for (const m of ['kafkajs', '@opentelemetry/sdk-node', '@opentelemetry/instrumentation-kafkajs', \
                 '@opentelemetry/exporter-trace-otlp-proto']) require.resolve(m)";
    let ok = Command::new(&node)
        .args(["-e", check])
        .current_dir(fixtures().join("node"))
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if ok {
        return Some(node);
    }
    unavailable(
        test,
        &format!("{node} or the packages of tests/fixtures/instrumented/node (node_modules) are missing"),
        "cd tests/fixtures/instrumented/node && npm ci",
    )
}

/// A broker and a collector watching it (polled often, so tails and commits come quickly),
/// recording to `dir`.
fn broker_and_collector(test: &str, dir: &Path) -> Option<(Broker, Collector)> {
    let broker = Broker::start(test)?;
    let mut kafka = KafkaConfig::new(broker.bootstrap());
    kafka.poll_interval = Duration::from_millis(500);
    let collector = common::start_kafka_collector(kafka, true, Some(dir.join("session.jsonl")));
    Some((broker, collector))
}

/// What a fixture says it did: its orders and the ones it declined.
struct Shop {
    orders: Vec<String>,
    failed: BTreeSet<String>,
}

/// Runs a fixture to its end and reads its closing line.
fn run_shop(mut command: Command) -> Shop {
    let output = command.stdin(Stdio::null()).output().expect("the fixture runs");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the fixture failed: {stdout}\n{stderr}");
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).expect("a closing line");
    let result: Value = serde_json::from_str(line).expect("JSON");
    let keys = |field: &str| -> Vec<String> {
        result[field].as_array().expect(field).iter().map(|k| k.as_str().expect("a key").to_owned()).collect()
    };
    let shop = Shop { orders: keys("order_keys"), failed: keys("expected_failed").into_iter().collect() };
    assert_eq!(shop.orders.len(), ORDERS as usize, "{line}");
    assert_eq!(keys("failed").into_iter().collect::<BTreeSet<_>>(), shop.failed, "{line}");
    shop
}

/// A journey as these tests compare it, from a live list row or a `--format summary` line.
#[derive(Debug)]
struct Journey {
    keys: Vec<String>,
    /// Service names without their namespace (the Python shop's is `shop`).
    services: Vec<String>,
    trace_ids: Vec<String>,
    hops: u64,
    spans: u64,
    status: String,
}

impl Journey {
    fn of_line(line: &Value) -> Self {
        let texts = |field: &str| -> Vec<String> {
            line[field].as_array().expect(field).iter().map(|v| v.as_str().expect(field).to_owned()).collect()
        };
        Self {
            keys: texts("keys"),
            services: texts("services").iter().map(|s| unqualified(s)).collect(),
            trace_ids: texts("trace_ids"),
            hops: line["hops"].as_u64().expect("hops"),
            spans: line["spans"].as_u64().expect("spans"),
            status: line["status"].as_str().expect("status").to_owned(),
        }
    }

    fn of_snapshot(s: &Snapshot) -> Vec<Self> {
        s.journeys
            .iter()
            .map(|j| {
                Self::of_line(&serde_json::from_str(&eventlens::export::journey::to_summary_json(j).unwrap()).unwrap())
            })
            .collect()
    }
}

/// A label without the Python shop's service namespace.
fn unqualified(label: &str) -> String {
    label.strip_prefix("shop/").unwrap_or(label).to_owned()
}

/// Every order exactly one journey, with every service that processed it and failed exactly
/// when its payment was declined; no other journey.
fn check_journeys(journeys: &[Journey], shop: &Shop) -> Result<(), String> {
    let mut wrong = Vec::new();
    for j in journeys.iter().filter(|j| j.keys.is_empty()) {
        wrong.push(format!("a journey of no order (batch containers?): {j:?}"));
    }
    for key in &shop.orders {
        let of: Vec<&Journey> = journeys.iter().filter(|j| j.keys.contains(key)).collect();
        let [j] = of[..] else {
            wrong.push(format!("{key} is in {} journeys: {of:?}", of.len()));
            continue;
        };
        let failed = shop.failed.contains(key);
        // Declined: payments sends nothing, so neither shipping nor analytics' payments hop.
        let (services, hops, spans): (&[&str], u64, u64) = if failed {
            (&["analytics", "checkout", "payments"], 2, 5)
        } else {
            (&["analytics", "checkout", "payments", "shipping"], 4, 9)
        };
        let status_right = match j.status.as_str() {
            "failed" => failed,
            // Waiting, at most, for a group's commit to be judged again.
            "ok" | "in_flight" => !failed,
            _ => false,
        };
        if j.keys != [key.clone()] || j.services != services || (j.hops, j.spans) != (hops, spans) || !status_right {
            wrong.push(format!(
                "{key} (declined: {failed}): {j:?}, expected services {services:?}, {hops} hops, {spans} spans"
            ));
        }
    }
    if wrong.is_empty() { Ok(()) } else { Err(wrong.join("\n")) }
}

/// The flow graph's edges: (from, to, kind, messages, failures), services unqualified.
fn edges(s: &Snapshot) -> BTreeSet<(String, String, String, u64, u64)> {
    let label =
        |id: u32| s.nodes.iter().find(|n| n.id == id).map_or_else(|| format!("#{id}"), |n| unqualified(&n.label));
    s.edges
        .iter()
        .map(|e| (label(e.from), label(e.to), format!("{:?}", e.kind), e.counters.count, e.counters.failures))
        .collect()
}

/// The edges both shops always drew (before issue 14 too), with 10 orders, 2 declined.
fn expected_edges() -> BTreeSet<(String, String, String, u64, u64)> {
    [
        ("checkout", "kafka/orders", "Produces", 10, 0),
        ("payments", "kafka/payments", "Produces", 8, 0),
        ("kafka/orders", "payments", "Consumes", 10, 2),
        ("kafka/orders", "analytics", "Consumes", 10, 0),
        ("kafka/payments", "shipping", "Consumes", 8, 0),
        ("kafka/payments", "analytics", "Consumes", 8, 0),
        ("kafka/orders", "kafka group payments", "Consumes", 0, 0),
        ("kafka/orders", "kafka group analytics", "Consumes", 0, 0),
        ("kafka/payments", "kafka group analytics", "Consumes", 0, 0),
        ("kafka/payments", "kafka group shipping", "Consumes", 0, 0),
    ]
    .into_iter()
    .map(|(a, b, k, n, f)| (a.to_owned(), b.to_owned(), k.to_owned(), n, f))
    .collect()
}

/// Waits until the live journeys and graph are as expected (spans, tailed messages and
/// commits arrive over a few polls), then reads the recorded session back as summary lines and
/// checks them the same way. Returns the summary's journeys.
fn check_session(collector: Collector, dir: &Path, shop: &Shop) -> Vec<Journey> {
    let engine = collector.engine().expect("engine");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let s = engine.snapshot();
        let graph = edges(&s);
        let journeys = check_journeys(&Journey::of_snapshot(&s), shop);
        if journeys.is_ok() && graph == expected_edges() {
            break;
        }
        if Instant::now() > deadline {
            let expected = expected_edges();
            let missing: Vec<_> = expected.difference(&graph).collect();
            let extra: Vec<_> = graph.difference(&expected).collect();
            panic!("live journeys: {journeys:?}\nedges missing: {missing:?}\nedges not expected: {extra:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    collector.shutdown();
    let output = Command::new(BIN)
        .arg("journeys")
        .arg(dir.join("session.jsonl"))
        .args(["--format", "summary"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let journeys: Vec<Journey> = String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .map(|l| Journey::of_line(&serde_json::from_str(l).expect("a JSON line")))
        .collect();
    if let Err(e) = check_journeys(&journeys, shop) {
        panic!("read back from the session:\n{e}");
    }
    journeys
}

fn python_shop(test: &str, layout: &str) -> Option<Vec<Journey>> {
    let python = python(test)?;
    let dir = tempfile::tempdir().unwrap();
    let (_broker, collector) = broker_and_collector(test, dir.path())?;
    let mut command = Command::new(python);
    command
        .arg(fixtures().join("python/shop.py"))
        .args(["--bootstrap", &_broker.bootstrap()])
        .args(["--otlp-endpoint", &collector.grpc_addr.expect("gRPC receiver").to_string()])
        .args(["--orders", &ORDERS.to_string(), "--layout", layout, "--timeout", "60"]);
    let shop = run_shop(command);
    Some(check_session(collector, dir.path(), &shop))
}

#[test]
fn python_confluent_kafka_one_consumer_per_thread() {
    python_shop("python_confluent_kafka_one_consumer_per_thread", "threads");
}

#[test]
fn python_confluent_kafka_one_thread_polling_every_consumer() {
    let Some(journeys) = python_shop("python_confluent_kafka_one_thread_polling_every_consumer", "loop") else {
        return;
    };
    // The layout this is about: contexts leaked from one message's process span into the next
    // poll put several orders' consumer spans in one trace, which is in each of their journeys.
    let mut traces: Vec<&String> = journeys.iter().flat_map(|j| &j.trace_ids).collect();
    let all = traces.len();
    traces.sort();
    traces.dedup();
    assert!(traces.len() < all, "no trace is shared by two orders' journeys: {journeys:?}");
}

#[test]
fn node_kafkajs_each_message_and_each_batch() {
    let test = "node_kafkajs_each_message_and_each_batch";
    let Some(node) = node(test) else { return };
    let dir = tempfile::tempdir().unwrap();
    let Some((broker, collector)) = broker_and_collector(test, dir.path()) else { return };
    let mut command = Command::new(node);
    command
        .arg(fixtures().join("node/shop.js"))
        .current_dir(fixtures().join("node"))
        .args(["--bootstrap", &broker.bootstrap()])
        .args(["--otlp-endpoint", &format!("http://{}", collector.http_addr.expect("HTTP receiver"))])
        .args(["--orders", &ORDERS.to_string(), "--timeout", "60"]);
    let shop = run_shop(command);
    check_session(collector, dir.path(), &shop);
}

#[test]
fn the_demo_s_orders_are_one_journey_each() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("demo.jsonl");
    let demo = Command::new(BIN).args(["demo", "--headless", "--duration", "8s", "--out"]).arg(&file).output().unwrap();
    assert!(demo.status.success(), "{}", String::from_utf8_lossy(&demo.stderr));
    let output = Command::new(BIN).arg("journeys").arg(&file).args(["--format", "summary"]).output().unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let lines: Vec<Value> =
        String::from_utf8(output.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut journeys_of: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    // A message whose producer's span never reached the session (the demo stopped before that
    // service's exporter flushed) is a journey of its own, spans or not: left out here.
    for line in lines.iter().filter(|l| l["spans"].as_u64() > Some(0)) {
        for key in line["keys"].as_array().unwrap().iter().filter_map(Value::as_str).filter(|k| k.starts_with("ord-")) {
            *journeys_of.entry(key.to_owned()).or_default() += 1;
        }
    }
    assert!(journeys_of.len() >= 20, "the demo placed orders: {journeys_of:?}");
    let split: Vec<_> = journeys_of.iter().filter(|(_, n)| **n != 1).collect();
    assert!(split.is_empty(), "orders in several journeys: {split:?}");
    for line in &lines {
        let keys = line["keys"].as_array().unwrap();
        assert!(keys.len() <= 1, "one journey, several orders: {line}");
    }
}
