//! `eventlens journeys FILE`: journeys printed headless as OTLP JSON and Mermaid.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

use eventlens::capture::CaptureWriter;
use eventlens::ingest::otlp::convert::convert_request;
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::testing::{saga_spans, trace_id};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;

const BIN: &str = env!("CARGO_BIN_EXE_eventlens");

fn session(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("saga.jsonl");
    let mut writer = CaptureWriter::create(&path, 1_700_000_000_000_000_000).unwrap();
    writer
        .append(&Record::Spans(SpanBatch {
            received_unix_nano: 1_700_000_002_000_000_000,
            source: SourceKind::OtlpHttp,
            spans: saga_spans(),
        }))
        .unwrap();
    writer.flush().unwrap();
    path
}

fn journeys(file: &Path, args: &[&str]) -> Output {
    Command::new(BIN).arg("journeys").arg(file).args(args).output().unwrap()
}

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn a_journey_by_key_prints_as_otlp_json_that_reads_back_as_the_same_spans() {
    let dir = tempfile::tempdir().unwrap();
    let file = session(dir.path());
    let out = stdout(&journeys(&file, &["--key", "order-7", "--format", "json"]));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1, "one journey: {out}");
    let request: ExportTraceServiceRequest = serde_json::from_str(lines[0]).unwrap();
    let mut spans = convert_request(request).spans;
    spans.sort_by_key(|s| (s.trace_id, s.span_id));
    let mut expected: Vec<_> = saga_spans().into_iter().filter(|s| s.service().name != "search").collect();
    expected.sort_by_key(|s| (s.trace_id, s.span_id));
    assert_eq!(spans, expected, "the export loses nothing");
}

#[test]
fn a_journey_by_trace_prints_as_a_mermaid_sequence() {
    let dir = tempfile::tempdir().unwrap();
    let file = session(dir.path());
    // Trace 3 is the compensation's hop: it finds the whole journey.
    let out = stdout(&journeys(&file, &["--trace", &trace_id(3).to_hex(), "--format", "mermaid"]));
    let expected = "\
sequenceDiagram
    title OrderPlaced #1
    participant p0 as orders
    participant p1 as kafka/orders
    participant p2 as payments
    participant p3 as kafka/payment-failed
    participant p4 as kafka/order-cancelled
    p0->>p1: orders send
    p1->>p2: orders process after 190.0 ms in topic
    Note over p2: failed: card declined
    p2->>p3: payment-failed send
    p3->>p0: payment-failed process after 185.0 ms in topic
    p0->>p4: order-cancelled send
";
    assert_eq!(out.trim_end(), expected.trim_end());
}

#[test]
fn all_journeys_print_one_per_line_and_no_match_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = session(dir.path());
    assert_eq!(stdout(&journeys(&file, &[])).lines().count(), 2);
    let missing = journeys(&file, &["--key", "order-404"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no journey"), "{missing:?}");
    let bad = journeys(&file, &["--trace", "xyz"]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not valid hex"), "{bad:?}");
}

#[test]
fn the_summary_is_one_json_object_per_journey_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = session(dir.path());
    let out = stdout(&journeys(&file, &["--format", "summary"]));
    let rows: Vec<serde_json::Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(rows.len(), 2, "{out}");
    let order = rows.iter().find(|r| r["key"] == "order-7").expect("the order's journey");
    let mut traces: Vec<&str> = order["trace_ids"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    traces.sort();
    let mut expected = [trace_id(1).to_hex(), trace_id(2).to_hex(), trace_id(3).to_hex()];
    expected.sort();
    assert_eq!(traces, expected);
    assert_eq!(order["root_service"], "orders");
    assert_eq!(order["event_type"], "OrderPlaced");
    assert_eq!(order["keys"], serde_json::json!(["order-7"]));
    assert_eq!(order["services"], serde_json::json!(["orders", "payments"]));
    assert_eq!(order["topics"], serde_json::json!(["order-cancelled", "orders", "payment-failed"]));
    assert_eq!((order["hops"].as_u64(), order["spans"].as_u64()), (Some(2), Some(6)));
    assert_eq!(
        (&order["status"], &order["error"]),
        (&serde_json::json!("failed"), &serde_json::json!("card declined"))
    );
    // The saga starts 1 s after the epoch and its last span ends 420 ms later.
    assert_eq!(order["start_unix_nano"], 1_000_000_000_u64);
    assert_eq!(order["start"], "1970-01-01T00:00:01.000000000Z");
    assert_eq!(order["duration_nanos"], 420_000_000_u64);
    let search = rows.iter().find(|r| r["key"].is_null()).expect("the search's journey");
    assert_eq!((&search["status"], search["hops"].as_u64()), (&serde_json::json!("ok"), Some(0)));
    // --trace finds the journeys of a trace; --key those of a key.
    let by_trace = stdout(&journeys(&file, &["--trace", &trace_id(9).to_hex(), "--format", "summary"]));
    assert_eq!(by_trace.lines().count(), 1);
    assert!(by_trace.contains("\"root_service\":\"search\""), "{by_trace}");
}

/// `eventlens journeys FILE | head -1`: the reader closing the pipe ends the command quietly
/// and successfully, rather than with a panic (as `println!` would).
#[test]
fn a_closed_pipe_ends_the_output_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.jsonl");
    let mut writer = CaptureWriter::create(&path, 1_700_000_000_000_000_000).unwrap();
    // 20,000 journeys, one server span each: far more output than a pipe's buffer holds.
    let spans = (1..=20_000_u64)
        .map(|n| {
            eventlens::testing::span("search", "GET /search", eventlens::model::span::SpanKind::Server)
                .ids(u128::from(n), 1)
                .build()
        })
        .collect();
    writer
        .append(&Record::Spans(SpanBatch {
            received_unix_nano: 1_700_000_002_000_000_000,
            source: SourceKind::File,
            spans,
        }))
        .unwrap();
    writer.flush().unwrap();
    let mut child = Command::new(BIN)
        .arg("journeys")
        .arg(&path)
        .args(["--format", "summary"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("{\"id\":"), "{first}");
    // The reader is gone (dropped with its BufReader): the rest goes nowhere.
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{:?}: {stderr}", output.status);
    assert!(!stderr.contains("panicked"), "{stderr}");
}
