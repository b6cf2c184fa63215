//! Fault matrix: the disk filling while recording (issue 15). A clear error is shown, the
//! recording stops, the session goes on in memory, and the file keeps what was written
//! before the failure, readable up to its last complete record.
//!
//! A full disk without root: the file size limit (`RLIMIT_FSIZE`). A write that would take a
//! file past it writes what fits and then fails with `EFBIG` ("File too large"), as a full
//! disk fails with `ENOSPC`, once `SIGXFSZ` (which would otherwise kill the process) is
//! caught or ignored. The window's recording is tested in this process, under a limit set
//! for the test's duration and a `SIGXFSZ` handler; `eventlens record` in a child process
//! whose shell ignores `SIGXFSZ` and whose limit the test sets.

// File size limits and `SIGXFSZ` as Linux has them.
#![cfg(target_os = "linux")]
// Test helpers fail loudly on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use eventlens::capture::read_capture;
use eventlens::collector::CollectorConfig;
use eventlens::engine::command::Command as EngineCommand;
use eventlens::ingest::otlp::OtlpConfig;
use eventlens::model::record::Record;
use eventlens::testing::realistic_request;
use prost::Message;
use rustix::process::{Resource, Rlimit, Signal, getrlimit, prlimit, setrlimit};

const BIN: &str = env!("CARGO_BIN_EXE_eventlens");
/// Spans in each request: one request is one record of about 25 KB in the session file.
const SPANS: usize = 40;
/// The largest file the recording may write: the header and three records fit, the fourth
/// does not.
const FILE_LIMIT: u64 = 96 * 1024;

/// The process's file size limit, lowered for as long as this lives.
struct FileSizeLimit {
    before: Rlimit,
}

impl FileSizeLimit {
    fn lower_to(bytes: u64) -> Self {
        let before = getrlimit(Resource::Fsize);
        setrlimit(Resource::Fsize, Rlimit { current: Some(bytes), maximum: before.maximum }).expect("setrlimit");
        Self { before }
    }
}

impl Drop for FileSizeLimit {
    fn drop(&mut self) {
        setrlimit(Resource::Fsize, self.before).expect("the limit restored");
    }
}

/// Posts one request to OTLP/HTTP; a recording that failed must not change the answer.
fn post(url: &str, seed: u64) {
    let response = reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(realistic_request(SPANS, seed).encode_to_vec())
        .send()
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200, "the receiver takes spans whatever the recording does");
}

/// The spans in the records a session file holds, and the lines it skipped.
fn file_spans(path: &Path) -> (usize, u64, Vec<String>) {
    let capture = read_capture(path).expect("the file opens");
    let spans: usize = capture
        .records
        .iter()
        .map(|r| match r {
            Record::Spans(batch) => batch.spans.len(),
            Record::Kafka(_) | Record::Nats(_) | Record::Rabbitmq(_) => 0,
        })
        .sum();
    let skipped = capture.skipped.iter().map(|s| format!("line {}: {}", s.line, s.reason)).collect();
    (capture.records.len(), spans as u64, skipped)
}

/// The window's Record button over a disk that fills: the top bar says why the recording
/// stopped and names the file, the graph and the timeline keep taking spans, nothing panics,
/// and the file holds every record the status counts, each whole (it is cut back to the
/// last flush, so it does not end in a piece of a line).
#[test]
fn a_disk_that_fills_stops_the_windows_recording_with_its_error_and_the_session_goes_on() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("full.jsonl");
    // SIGXFSZ would kill the test: caught (by tokio's handler, which stays installed), the
    // write past the limit fails with EFBIG instead.
    let signals = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let _xfsz = signals
        .block_on(async {
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::from_raw(Signal::XFSZ.as_raw()))
        })
        .expect("SIGXFSZ caught");
    let limit = FileSizeLimit::lower_to(FILE_LIMIT);

    let collector = common::start_collector_with(CollectorConfig {
        otlp: Some(OtlpConfig { grpc: None, http: Some(common::loopback()), max_request_bytes: 4 << 20 }),
        publish_interval: Some(Duration::from_millis(20)),
        ..CollectorConfig::default()
    });
    let url = format!("http://{}/v1/traces", collector.http_addr.expect("http"));
    let engine = collector.engine().expect("engine");
    assert!(engine.send(EngineCommand::Record(Some(file.clone()))));
    common::wait_for(&collector, "the recording to start", |s| s.recording.as_ref().is_some_and(|r| r.active));

    // Requests one at a time, each applied before the next, until the disk is full.
    let mut sent = 0_u64;
    let snapshot = loop {
        post(&url, sent);
        sent += 1;
        let s = common::wait_for(&collector, "the request applied", |s| s.model.spans == sent * SPANS as u64);
        if s.recording.as_ref().is_some_and(|r| r.error.is_some()) || sent == 20 {
            break s;
        }
    };
    let status = snapshot.recording.clone().expect("a recording status");
    let error = status.error.clone().expect("the recording stopped with an error");
    assert!((3..=5).contains(&sent), "the limit is reached at the fourth record or so, not at {sent}");
    assert!(!status.active, "the recording stopped: {status:?}");
    assert_eq!(status.path, file.display().to_string(), "the top bar names the file that failed");
    assert!(
        error.contains(&file.display().to_string()) && error.contains("File too large"),
        "the error names the file and the cause: {error}"
    );

    // The session goes on: spans sent after the failure reach the graph and the timeline.
    let before = sent;
    for _ in 0..5 {
        post(&url, sent);
        sent += 1;
    }
    let after = common::wait_for(&collector, "the spans after the failure applied", |s| {
        s.model.spans == sent * SPANS as u64
            && s.timeline.bins.iter().map(|b| u64::from(b.spans)).sum::<u64>() == sent * SPANS as u64
    });
    let produced: u64 = after
        .edges
        .iter()
        .filter(|e| e.kind == eventlens::model::flow_graph::EdgeKind::Produces)
        .map(|e| e.counters.count)
        .sum();
    assert_eq!(produced, sent * SPANS.div_ceil(3) as u64, "every third span is a producer's");
    assert_eq!(after.recording.as_ref().and_then(|r| r.error.as_ref()), Some(&error), "the error stays shown");
    assert!(sent > before);

    let summary = collector.shutdown();
    drop(limit);
    assert_eq!(summary.spans, sent * SPANS as u64, "the engine applied everything and did not panic");
    assert_eq!(summary.recording_error.as_deref(), Some(error.as_str()), "the first error is the one reported");

    // The file: every record the status counted, whole; at most the one cut short skipped.
    let size = std::fs::metadata(&file).expect("file").len();
    assert!(size <= FILE_LIMIT, "{size}");
    let (records, spans, skipped) = file_spans(&file);
    assert_eq!(records as u64, status.records, "the status counts what the file holds; skipped: {skipped:?}");
    assert_eq!(spans, status.records * SPANS as u64);
    assert!(records >= 2, "records before the failure are kept: {records}");
    assert!(skipped.is_empty(), "cut back to its last complete record, nothing to skip: {skipped:?}");
}

/// `eventlens record` run by a shell that ignores `SIGXFSZ`, under a file size limit of
/// `limit` bytes; its OTLP/HTTP address.
fn record_with_file_limit(out: &Path, limit: u64) -> (std::process::Child, String) {
    let free_port = || std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let (grpc, http) = (free_port(), free_port());
    let child = Command::new("sh")
        .args(["-c", "trap '' XFSZ; exec \"$0\" \"$@\"", BIN, "record", "--out"])
        .arg(out)
        .args(["--otlp-grpc", &format!("127.0.0.1:{grpc}"), "--otlp-http", &format!("127.0.0.1:{http}")])
        .stderr(Stdio::piped())
        .spawn()
        .expect("record starts");
    // Limits carry over exec: set now, they are the recorder's before it writes a record.
    let pid = rustix::process::Pid::from_child(&child);
    prlimit(Some(pid), Resource::Fsize, Rlimit { current: Some(limit), maximum: Some(limit) }).expect("prlimit");
    (child, format!("http://127.0.0.1:{http}/v1/traces"))
}

/// `eventlens record` on a disk that fills, plain and compressed: it says which file failed
/// and why when it happens and again as it exits (with a failure status), takes and applies
/// every span sent after (its summary counts them), and the file opens up to its last
/// complete record.
#[test]
fn eventlens_record_on_a_disk_that_fills_says_so_keeps_going_and_leaves_a_readable_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    for name in ["full.jsonl", "full.jsonl.zst"] {
        let file = dir.path().join(name);
        // The compressed file shrinks about tenfold: a smaller limit fills it as soon.
        let limit = if name.ends_with(".zst") { 12 * 1024 } else { FILE_LIMIT };
        let (child, url) = record_with_file_limit(&file, limit);
        let requests = 12;
        for seed in 0..requests {
            common::post_when_ready(&url, realistic_request(SPANS, 1_000 + seed).encode_to_vec());
            // Each request its own record, and flushed (at a publish) before the next.
            std::thread::sleep(Duration::from_millis(150));
        }
        // Stopped as a user stops it, once the engine has applied the last request.
        std::thread::sleep(Duration::from_millis(300));
        rustix::process::kill_process(rustix::process::Pid::from_child(&child), Signal::INT).expect("SIGINT");
        let output = child.wait_with_output().expect("record exits");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "a recording that failed fails the command: {stderr}");
        let cause = format!("cannot write session file {}: File too large", file.display());
        assert!(
            stderr.contains(&format!("{cause} (os error 27); recording stopped")),
            "said when it happens: {stderr}"
        );
        assert!(stderr.contains(&format!("Error: {cause}")), "and as it exits: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let total = requests * SPANS as u64;
        let recorded = stderr
            .split("recorded ")
            .nth(1)
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or_else(|| panic!("a summary line: {stderr}"));
        assert!(
            stderr.contains(&format!("recorded {recorded} records ({total} spans) to {}", file.display())),
            "every span was applied, recorded or not: {stderr}"
        );
        assert!((1..requests).contains(&recorded), "{name}: {recorded} of {requests} recorded");

        assert!(std::fs::metadata(&file).expect("file").len() <= limit);
        let (records, spans, skipped) = file_spans(&file);
        assert_eq!(records as u64, recorded, "{name}: the summary counts what the file holds; skipped {skipped:?}");
        assert_eq!(spans, recorded * SPANS as u64);
        if name.ends_with(".zst") {
            // Cut at the end of a block: the frame is unfinished, as when the recorder is
            // killed, and says so.
            assert!(
                skipped.len() == 1 && skipped[0].contains("the compressed stream ends early"),
                "{name}: {skipped:?}"
            );
        } else {
            assert!(skipped.is_empty(), "{name}: cut back to its last complete record: {skipped:?}");
        }
    }
}
