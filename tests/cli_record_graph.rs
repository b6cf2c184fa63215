//! `eventlens record` and `eventlens graph` as a user runs them: real processes, real ports.

// Test helpers fail loudly on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use eventlens::testing::realistic_request;
use prost::Message;

const BIN: &str = env!("CARGO_BIN_EXE_eventlens");

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

fn start_record(out: &Path, extra: &[&str]) -> (Child, String) {
    let (grpc, http) = (free_port(), free_port());
    let child = Command::new(BIN)
        .args(["record", "--out"])
        .arg(out)
        .args(["--otlp-grpc", &format!("127.0.0.1:{grpc}"), "--otlp-http", &format!("127.0.0.1:{http}")])
        .args(extra)
        .stderr(Stdio::piped())
        .spawn()
        .expect("record starts");
    (child, format!("http://127.0.0.1:{http}/v1/traces"))
}

fn graph(file: &Path, format: &str) -> Output {
    Command::new(BIN).arg("graph").arg(file).args(["--format", format]).output().expect("graph runs")
}

fn stdout(output: &Output) -> String {
    assert!(output.status.success(), "failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout.clone()).expect("utf-8")
}

#[test]
fn record_for_a_duration_then_graph_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("session.jsonl");
    let (child, url) = start_record(&file, &["--duration", "3s"]);
    common::post_when_ready(&url, realistic_request(90, 7).encode_to_vec());
    let output = child.wait_with_output().expect("record exits");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("90 spans"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let text = std::fs::read_to_string(&file).expect("session file");
    let mut lines = text.lines();
    let header: serde_json::Value = serde_json::from_str(lines.next().expect("header")).expect("header JSON");
    assert_eq!(header["format"], "eventlens-session");
    assert_eq!(header["version"], eventlens::capture::FORMAT_VERSION);
    assert_eq!(lines.count(), 1, "one record for one request");

    let json: serde_json::Value = serde_json::from_str(&stdout(&graph(&file, "json"))).expect("graph JSON");
    let mut names: Vec<&str> =
        json["nodes"].as_array().expect("nodes").iter().map(|n| n["name"].as_str().expect("name")).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        vec!["kafka/orders", "kafka/payments", "kafka/shipments", "shop/checkout", "shop/payments", "shop/shipping"]
    );
    assert_eq!(json["spans"], 90);
    let edges = json["edges"].as_array().expect("edges");
    let produced: u64 =
        edges.iter().filter(|e| e["kind"] == "produces").map(|e| e["count"].as_u64().expect("count")).sum();
    let consumed: u64 =
        edges.iter().filter(|e| e["kind"] == "consumes").map(|e| e["count"].as_u64().expect("count")).sum();
    assert_eq!((produced, consumed), (30, 30));
    for e in edges.iter().filter(|e| e["kind"] == "produces") {
        assert!(e["latency_us"]["p50_us"].as_u64().is_some(), "latency percentiles on {e}");
    }

    let dot = stdout(&graph(&file, "dot"));
    assert!(dot.starts_with("digraph eventlens {"), "{dot}");
    assert!(dot.contains("[label=\"kafka/orders\", shape=box]"), "{dot}");
    let mermaid = stdout(&graph(&file, "mermaid"));
    assert!(mermaid.starts_with("flowchart LR"), "{mermaid}");
    assert!(mermaid.contains("[(\"kafka/orders\")]"), "{mermaid}");
}

#[test]
fn record_stops_cleanly_on_sigint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("interrupted.jsonl");
    let (child, url) = start_record(&file, &[]);
    common::post_when_ready(&url, realistic_request(9, 8).encode_to_vec());
    common::post_when_ready(&url, realistic_request(9, 9).encode_to_vec());
    // Let the engine apply both before the interrupt; what it applied must be on disk.
    std::thread::sleep(Duration::from_millis(300));
    let status = Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill");
    assert!(status.success());
    let output = child.wait_with_output().expect("record exits");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_str(&stdout(&graph(&file, "json"))).expect("graph JSON");
    assert_eq!(json["spans"], 18);
}

/// Fault matrix: the recorder killed with SIGKILL (no chance to finish the file) leaves a
/// session that opens up to its last complete record; a torn last line is skipped and said,
/// not fatal.
#[test]
fn a_recorder_killed_with_sigkill_leaves_a_file_that_opens_to_its_last_complete_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("killed.jsonl");
    let (mut child, url) = start_record(&file, &[]);
    for seed in 0..3 {
        common::post_when_ready(&url, realistic_request(9, 20 + seed).encode_to_vec());
    }
    // Recordings flush about once a second: wait until all three records are on disk.
    let deadline = Instant::now() + Duration::from_secs(15);
    // Complete records only: lines ended by their newline, the header aside.
    let records =
        |file: &Path| std::fs::read(file).map_or(0, |t| t.iter().filter(|b| **b == b'\n').count().saturating_sub(1));
    while records(&file) < 3 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(records(&file), 3, "three records flushed before the kill");
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reaped");
    assert!(!status.success(), "killed, not exited: {status}");
    // A write the kill cut in half: the last line without its end.
    let mut torn = std::fs::OpenOptions::new().append(true).open(&file).expect("append");
    torn.write_all(br#"{"kind":"spans","received_unix_nano":17638176"#).expect("torn line");
    drop(torn);
    let output = graph(&file, "json");
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("graph JSON");
    assert_eq!(json["spans"], 27, "every complete record is there");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("line 5 skipped"), "the torn line is reported by number: {stderr}");
}

fn write_session(path: &Path, lines: &[String]) {
    let mut f = std::fs::File::create(path).expect("create");
    for line in lines {
        writeln!(f, "{line}").expect("write");
    }
}

fn record_line(seed: u64) -> String {
    let converted = eventlens::ingest::otlp::convert::convert_request(realistic_request(3, seed));
    let record = eventlens::model::record::Record::Spans(eventlens::model::record::SpanBatch {
        received_unix_nano: 1_700_000_000_000_000_000 + seed,
        source: eventlens::model::record::SourceKind::OtlpHttp,
        spans: converted.spans,
    });
    serde_json::to_string(&record).expect("record JSON")
}

#[test]
fn broken_files_open_up_to_their_last_good_record_or_say_why_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let header = serde_json::to_string(&eventlens::capture::CaptureHeader::new(1)).expect("header");

    // Cut short mid-line, as a crash leaves it: the good records still open.
    let truncated = dir.path().join("truncated.jsonl");
    let last = record_line(3);
    write_session(&truncated, &[header.clone(), record_line(1), record_line(2), last[..last.len() / 2].to_owned()]);
    let output = graph(&truncated, "json");
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("graph JSON");
    assert_eq!(json["spans"], 6);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("line 4 skipped"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // A newer format version is refused with a clear message.
    let newer = dir.path().join("newer.jsonl");
    write_session(&newer, &[header.replace("\"version\":2", "\"version\":99"), record_line(1)]);
    let output = graph(&newer, "json");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("version 99") && stderr.contains("upgrade EventLens"), "{stderr}");

    // Not a session at all.
    let other = dir.path().join("other.jsonl");
    write_session(&other, &["{\"hello\": 1}".to_owned()]);
    let output = graph(&other, "json");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("not an EventLens session file"));
}

/// The worked example in docs/capture-format.md must produce what the doc says it does.
#[test]
fn the_documented_example_session_graphs_as_documented() {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/capture-format.md")).expect("doc");
    let section = doc.split("## Worked example").nth(1).expect("worked example section");
    let example = section.split("```json\n").nth(1).and_then(|s| s.split("```").next()).expect("json block");
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("example.jsonl");
    std::fs::write(&file, example).expect("write");
    let output = graph(&file, "json");
    assert!(output.stderr.is_empty(), "{}", String::from_utf8_lossy(&output.stderr));
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("graph JSON");
    let edges = json["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 2);
    let consume = edges.iter().find(|e| e["kind"] == "consumes").expect("consume edge");
    assert_eq!((consume["from_name"].as_str(), consume["to_name"].as_str()), (Some("kafka/orders"), Some("payments")));
    assert_eq!((consume["count"].as_u64(), consume["failures"].as_u64()), (Some(1), Some(1)));
    let waited = consume["time_in_topic_us"]["p50_us"].as_u64().expect("time in topic");
    assert!(waited.abs_diff(300_000) <= 3_000, "{waited}");
}

#[test]
fn record_refuses_a_file_it_cannot_write() {
    let (grpc, http) = (free_port(), free_port());
    let output = Command::new(BIN)
        .args(["record", "--out", "/dev/full", "--duration", "1s"])
        .args(["--otlp-grpc", &format!("127.0.0.1:{grpc}"), "--otlp-http", &format!("127.0.0.1:{http}")])
        .output()
        .expect("record runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot write session file /dev/full"), "{stderr}");
}

#[test]
fn a_taken_port_is_reported_plainly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port();
    let dir = tempfile::tempdir().expect("tempdir");
    // Receiver options work before the subcommand too.
    let output = Command::new(BIN)
        .args(["--otlp-grpc", &format!("127.0.0.1:{port}")])
        .args(["--otlp-http", &format!("127.0.0.1:{}", free_port())])
        .arg("record")
        .arg("--out")
        .arg(dir.path().join("s.jsonl"))
        .args(["--duration", "1s"])
        .output()
        .expect("record runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("cannot listen for OTLP/gRPC on 127.0.0.1:{port}")), "{stderr}");
}

#[test]
fn a_compressed_recording_reads_back_whole_and_up_to_its_last_flush_when_killed() {
    let dir = tempfile::tempdir().expect("tempdir");

    // Stopped cleanly: the zstd frame is closed and everything reads back.
    let clean = dir.path().join("clean.jsonl.zst");
    let (child, url) = start_record(&clean, &[]);
    common::post_when_ready(&url, realistic_request(9, 8).encode_to_vec());
    std::thread::sleep(Duration::from_millis(300));
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().expect("kill").success());
    assert!(child.wait_with_output().expect("record exits").status.success());
    let bytes = std::fs::read(&clean).expect("file");
    assert_eq!(bytes[..4], [0x28, 0xb5, 0x2f, 0xfd], "a zstd frame");
    let text = String::from_utf8(zstd::decode_all(bytes.as_slice()).expect("a complete frame")).expect("utf-8");
    assert!(text.starts_with(r#"{"format":"eventlens-session""#), "JSON Lines inside: {text:.80}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&graph(&clean, "json"))).expect("graph JSON");
    assert_eq!(json["spans"], 9);

    // Killed outright: what was flushed at the engine's publishes still reads, and the cut is
    // reported.
    let killed = dir.path().join("killed.jsonl.zst");
    let (mut child, url) = start_record(&killed, &[]);
    common::post_when_ready(&url, realistic_request(9, 8).encode_to_vec());
    common::post_when_ready(&url, realistic_request(9, 9).encode_to_vec());
    std::thread::sleep(Duration::from_millis(500));
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    let output = graph(&killed, "json");
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("graph JSON");
    assert_eq!(json["spans"], 18);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("the compressed stream ends early"), "{stderr}");
}

#[test]
fn a_recording_ring_keeps_the_newest_files_and_a_capped_recording_stops() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("ring.jsonl");
    let (child, url) = start_record(&file, &["--duration", "4s", "--record-max-size", "20KB", "--record-ring", "2"]);
    // Each request is ~25 KB on disk as JSON: every publish after one starts a new file.
    for seed in 0..6 {
        common::post_when_ready(&url, realistic_request(40, 100 + seed).encode_to_vec());
        std::thread::sleep(Duration::from_millis(250));
    }
    let output = child.wait_with_output().expect("record exits");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let mut files: Vec<String> = std::fs::read_dir(dir.path())
        .expect("dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "only the newest two are kept: {files:?}");
    assert!(files.iter().all(|f| f.starts_with("ring-0") && f.ends_with(".jsonl")), "{files:?}");
    assert!(files[1] > files[0] && files[1].as_str() >= "ring-0004.jsonl", "{files:?}");
    for f in &files {
        let capture = eventlens::capture::read_capture(&dir.path().join(f)).expect("each file opens");
        assert!(capture.skipped.is_empty(), "{f}: {:?}", capture.skipped);
    }

    // Without a ring, the recording stops at the cap; the process and the session go on.
    let file = dir.path().join("capped.jsonl");
    let (child, url) = start_record(&file, &["--duration", "3s", "--record-max-size", "20KB"]);
    for seed in 0..3 {
        common::post_when_ready(&url, realistic_request(40, 200 + seed).encode_to_vec());
        std::thread::sleep(Duration::from_millis(250));
    }
    let output = child.wait_with_output().expect("record exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("reached its size cap (stops at 20.0 kB)"), "{stderr}");
    let capture = eventlens::capture::read_capture(&file).expect("opens");
    assert_eq!(capture.records.len(), 1, "the request that crossed the cap is the last one kept");

    // A ring without a cap makes no sense, and says so.
    let output = Command::new(BIN)
        .args(["record", "--out"])
        .arg(dir.path().join("x.jsonl"))
        .args(["--record-ring", "3"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("--record-ring needs a cap"));
    // A size that is not one is refused by name.
    let output = Command::new(BIN)
        .args(["record", "--out"])
        .arg(dir.path().join("x.jsonl"))
        .args(["--record-max-size", "lots"])
        .output()
        .expect("runs");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("invalid value 'lots' for '--record-max-size <SIZE>'"), "{stderr}");
}
