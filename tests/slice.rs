//! `eventlens slice`: a time slice of a session file, as a user runs it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use eventlens::capture::read_capture;
use eventlens::model::kafka::KafkaEvent;
use eventlens::model::record::Record;

const BIN: &str = env!("CARGO_BIN_EXE_eventlens");
const T0: u64 = 1_763_817_600_000_000_000;
const SECOND: u64 = 1_000_000_000;

/// A ten-second session written by hand in the documented format: the cluster's connection
/// and metadata at the start, an offsets poll every second, a producer span every second.
fn session(dir: &Path) -> std::path::PathBuf {
    let mut lines = vec![
        format!(r#"{{"format":"eventlens-session","version":2,"created_unix_nano":{T0}}}"#),
        format!(
            r#"{{"kind":"kafka","received_unix_nano":{T0},"cluster":"c","event":{{"type":"connection","state":"connected"}}}}"#
        ),
        format!(
            r#"{{"kind":"kafka","received_unix_nano":{T0},"cluster":"c","event":{{"type":"metadata","brokers":[{{"id":1,"address":"127.0.0.1:9092"}}],"topics":[{{"name":"orders","internal":false,"partitions":[{{"id":0,"leader":1}}]}}]}}}}"#
        ),
    ];
    for second in 0..10u64 {
        let at = T0 + second * SECOND;
        lines.push(format!(
            r#"{{"kind":"kafka","received_unix_nano":{at},"cluster":"c","event":{{"type":"offsets","watermarks":[{{"topic":"orders","partition":0,"low":0,"high":{second}}}],"commits":[]}}}}"#
        ));
        lines.push(format!(
            r#"{{"kind":"spans","received_unix_nano":{},"source":"otlp-grpc","spans":[{{"trace_id":"0af7651916cd43dd8448eb211c8031{second:02x}","span_id":"b7ad6b71692033{second:02x}","name":"send orders","kind":"producer","start_unix_nano":{at},"end_unix_nano":{},"resource":{{"service":{{"name":"checkout"}},"attributes":[]}},"attributes":[{{"key":"messaging.system","value":{{"stringValue":"kafka"}}}},{{"key":"messaging.destination.name","value":{{"stringValue":"orders"}}}},{{"key":"messaging.operation.type","value":{{"stringValue":"send"}}}}]}}]}}"#,
            at + 1,
            at + 1000
        ));
    }
    let path = dir.join("session.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn slice(input: &Path, out: &Path, range: &[&str]) -> Output {
    Command::new(BIN).arg("slice").arg(input).args(range).arg("--out").arg(out).output().expect("slice runs")
}

#[test]
fn a_slice_holds_its_range_and_starts_with_the_kafka_state_in_force() {
    let dir = tempfile::tempdir().unwrap();
    let input = session(dir.path());
    let out = dir.path().join("slice.jsonl.zst");
    let output = slice(&input, &out, &["--from", "3s", "--to", "6s"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("6 records written"), "{stderr}");
    assert!(stderr.contains("3 Kafka state records carried"), "{stderr}");

    let capture = read_capture(&out).unwrap();
    assert_eq!(capture.header.created_unix_nano, T0 + 3 * SECOND);
    let times: Vec<u64> = capture.records.iter().map(|r| (r.received_unix_nano() - T0) / 1_000_000).collect();
    // Carried state first, stamped at the start; then the range, the end excluded.
    assert_eq!(times, [3000, 3000, 3000, 3000, 3000, 4000, 4000, 5000, 5000]);
    let kinds: Vec<&str> = capture.records[..3]
        .iter()
        .map(|r| match r {
            Record::Kafka(k) => match &k.event {
                KafkaEvent::Connection(_) => "connection",
                KafkaEvent::Metadata(_) => "metadata",
                KafkaEvent::Offsets(_) => "offsets",
                _ => "other",
            },
            Record::Spans(_) => "spans",
            Record::Nats(_) => "nats",
            Record::Rabbitmq(_) => "rabbitmq",
        })
        .collect();
    assert_eq!(kinds, ["connection", "metadata", "offsets"]);
    let spans = capture.records.iter().filter(|r| matches!(r, Record::Spans(_))).count();
    assert_eq!(spans, 3);

    // The slice is a session like any other: its graph has the producer and topic.
    let graph = Command::new(BIN).arg("graph").arg(&out).output().unwrap();
    assert!(String::from_utf8_lossy(&graph.stdout).contains("kafka/orders"));

    // Open-ended, and by RFC 3339 time.
    let tail = dir.path().join("tail.jsonl");
    let output = slice(&input, &tail, &["--from", "2025-11-22T13:20:08Z"]);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(read_capture(&tail).unwrap().records.iter().filter(|r| matches!(r, Record::Spans(_))).count(), 2);
}

#[test]
fn bad_ranges_and_broken_files_are_explained() {
    let dir = tempfile::tempdir().unwrap();
    let input = session(dir.path());
    let out = dir.path().join("slice.jsonl");
    let stderr = |o: Output| {
        assert!(!o.status.success());
        String::from_utf8_lossy(&o.stderr).into_owned()
    };
    assert!(stderr(slice(&input, &out, &["--from", "6s", "--to", "3s"])).contains("ends before it starts"));
    assert!(stderr(slice(&input, &out, &["--from", "1h"])).contains("no record of the session"));
    assert!(stderr(slice(&input, &out, &["--from", "yesterday"])).contains("neither a duration"));

    // A file cut short mid-line: the slice keeps what was good and says what it skipped.
    let mut text = std::fs::read_to_string(&input).unwrap();
    text.truncate(text.len() - 40);
    std::fs::write(&input, text).unwrap();
    let output = slice(&input, &out, &["--from", "8s"]);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{err}");
    assert!(err.contains("skipped"), "{err}");
    assert!(err.contains("3 records written"), "{err}");
}
