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
