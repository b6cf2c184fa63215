//! Opening a recorded session: the file source replays it through the engine with the
//! session's own clock and reports progress and outcome on the source board.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write;
use std::path::Path;

use eventlens::capture::CaptureWriter;
use eventlens::collector::{Collector, CollectorConfig};
use eventlens::engine::snapshot::SourceState;
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::testing::saga_spans;

const T0: u64 = 1_700_000_000_000_000_000;

fn write(path: &Path) {
    let spans = saga_spans();
    let mut writer = CaptureWriter::create(path, T0).unwrap();
    for (i, chunk) in spans.chunks(3).enumerate() {
        writer
            .append(&Record::Spans(SpanBatch {
                received_unix_nano: T0 + i as u64 * 1_000_000_000,
                source: SourceKind::OtlpGrpc,
                spans: chunk.to_vec(),
            }))
            .unwrap();
    }
    writer.finish().unwrap();
}

fn open(path: &Path) -> Collector {
    Collector::start(
        CollectorConfig {
            open: Some(path.to_owned()),
            publish_interval: Some(std::time::Duration::from_millis(20)),
            ..CollectorConfig::default()
        },
        None,
    )
    .unwrap()
}

fn finished(collector: &Collector) -> String {
    let s = common::wait_for(collector, "the file read", |s| {
        s.sources.iter().any(|x| matches!(x.state, SourceState::Finished(_) | SourceState::Failed(_)))
    });
    match &s.sources[0].state {
        SourceState::Finished(summary) => summary.clone(),
        other => panic!("not finished: {other:?}"),
    }
}

#[test]
fn a_session_replays_with_its_own_clock_plain_or_compressed() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["saga.jsonl", "saga.jsonl.zst"] {
        let path = dir.path().join(name);
        write(&path);
        let collector = open(&path);
        assert_eq!(finished(&collector), "3 records read");
        let s = common::wait_for(&collector, "spans applied", |s| s.model.spans == 7 && s.journeys.len() == 2);
        // Rates are computed just after the last record's receive second, not today.
        assert_eq!(s.now_second, T0 / 1_000_000_000 + 3, "{name}");
        assert_eq!(s.sources[0].name, "Session");
        assert_eq!(s.sources[0].address, path.display().to_string());
    }
}

#[test]
fn bad_lines_are_reported_and_a_newer_format_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.jsonl");
    write(&path);
    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(b"{\"kind\":\"spans\",\"rece").unwrap();
    let collector = open(&path);
    let summary = finished(&collector);
    assert!(summary.starts_with("3 records read; 1 lines skipped (first: line 5: "), "{summary}");
    common::wait_for(&collector, "spans applied", |s| s.model.spans == 7);

    let newer = dir.path().join("newer.jsonl");
    std::fs::write(
        &newer,
        "{\"format\":\"eventlens-session\",\"version\":99,\"created_unix_nano\":1,\"writer\":\"x\"}\n",
    )
    .unwrap();
    let collector = open(&newer);
    let s = common::wait_for(&collector, "refused", |s| {
        s.sources.first().is_some_and(|x| matches!(x.state, SourceState::Failed(_)))
    });
    let SourceState::Failed(why) = &s.sources[0].state else { unreachable!() };
    assert!(why.contains("version 99, newer than this EventLens reads"), "{why}");
}
