//! The Kafka options on the command line: `record --kafka` with `-X` and `--group` against a
//! real Kafka-protocol broker (librdkafka's mock cluster on loopback), `graph` reporting the
//! lag it recorded, and named clusters from a clusters file.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_eventlens");

#[test]
fn record_watches_a_cluster_and_graph_reports_its_lag() {
    let mock = rdkafka::mocking::MockCluster::new(1).unwrap();
    let b = mock.bootstrap_servers();
    mock.create_topic("orders", 1, 1).unwrap();
    common::kafka::produce(&b, "orders", 0, 12, 1_790_000_000_000);
    common::kafka::commit(&b, "billing", "orders", 0, 5);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("kafka.jsonl");
    let output = Command::new(BIN)
        .args(["--no-otlp", "record", "--duration", "3s", "--kafka", &b, "--group", "billing"])
        .args(["--kafka-poll", "200ms", "-X", "sasl.password=hunter2", "-X", "client.rack=r1"])
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("[redacted]") && !stderr.contains("hunter2"), "secrets stay out of logs: {stderr}");
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(!recorded.contains("hunter2") && recorded.contains("\"kind\":\"kafka\""));

    let output = Command::new(BIN).arg("graph").arg(&file).args(["--format", "json"]).output().unwrap();
    assert!(output.status.success());
    let doc: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let edge = doc["edges"].as_array().unwrap().iter().find(|e| e["kind"] == "consumes").expect("consume edge");
    assert_eq!(edge["from_name"], "kafka/orders");
    assert_eq!(edge["to_name"], "kafka group billing");
    assert_eq!(edge["lag"][0]["offsets"], 7);
    let dot = Command::new(BIN).arg("graph").arg(&file).args(["--format", "dot"]).output().unwrap();
    assert!(String::from_utf8_lossy(&dot.stdout).contains("lag 7"));
}

#[test]
fn named_clusters_come_from_the_clusters_file_and_unknown_names_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let clusters = dir.path().join("clusters.toml");
    std::fs::write(&clusters, "[clusters.local]\nbootstrap = \"127.0.0.1:1\"\n").unwrap();
    let output = Command::new(BIN)
        .args(["--no-otlp", "record", "--duration", "1s", "--cluster", "staging", "--clusters-file"])
        .arg(&clusters)
        .arg("--out")
        .arg(dir.path().join("x.jsonl"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no cluster named \"staging\"") && stderr.contains("local"), "{stderr}");

    // A named cluster that does not answer: the session runs and records that it is down.
    let file = dir.path().join("down.jsonl");
    let output = Command::new(BIN)
        .args(["--no-otlp", "record", "--duration", "7s", "--cluster", "local", "--clusters-file"])
        .arg(&clusters)
        .arg("--out")
        .arg(&file)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let recorded = std::fs::read_to_string(&file).unwrap();
    assert!(recorded.contains("\"cluster\":\"local\"") && recorded.contains("\"state\":\"broker_down\""), "{recorded}");
}

#[test]
fn bad_kafka_options_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("x.jsonl");
    let run = |args: &[&str]| {
        let output = Command::new(BIN).args(args).arg("--out").arg(&out).output().unwrap();
        assert!(!output.status.success(), "{args:?} should fail");
        String::from_utf8_lossy(&output.stderr).into_owned()
    };
    let e = run(&["--no-otlp", "record", "--otlp-kafka-topic", "otlp_spans"]);
    assert!(e.contains("--otlp-kafka-topic needs a cluster"), "{e}");
    let e = run(&["--no-otlp", "record", "--kafka", "127.0.0.1:1", "-X", "novalue"]);
    assert!(e.contains("expected key=value"), "{e}");
    let e = run(&["--no-otlp", "record", "--kafka", "127.0.0.1:1", "--kafka-poll", "soon"]);
    assert!(e.contains("--kafka-poll"), "{e}");
}
