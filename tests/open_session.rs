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

#[test]
fn a_session_replays_with_its_own_clock_plain_or_compressed() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["saga.jsonl", "saga.jsonl.zst"] {
        let path = dir.path().join(name);
        write(&path);
        let collector = open(&path);
        assert_eq!(common::file_read(&collector), "3 records read");
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
    let summary = common::file_read(&collector);
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

fn write_big(path: &Path) {
    let spans = saga_spans();
    let mut writer = CaptureWriter::create(path, T0).unwrap();
    for i in 0..40_000u64 {
        writer
            .append(&Record::Spans(SpanBatch {
                received_unix_nano: T0 + i * 1_000_000,
                source: SourceKind::OtlpGrpc,
                spans: spans.clone(),
            }))
            .unwrap();
    }
    writer.finish().unwrap();
}

fn stopped_after(summary: &str) -> u64 {
    summary
        .strip_prefix("stopped after ")
        .and_then(|r| r.strip_suffix(" records"))
        .unwrap_or_else(|| panic!("{summary}"))
        .parse()
        .unwrap()
}

#[test]
fn stopping_a_read_keeps_what_was_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl.zst");
    write_big(&path);
    let collector = open(&path);
    common::wait_for(&collector, "reading", |s| s.model.spans > 0);
    collector.file_stop().expect("a file is being read").cancel();
    let summary = common::file_read(&collector);
    let read = stopped_after(&summary);
    assert!(read < 40_000, "{summary}");
    common::wait_for(&collector, "what was read applied", |s| s.model.spans == read * 7);
}

#[test]
fn the_top_bar_shows_the_reading_progress_and_stops_it() {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use eventlens::ui::EventLensApp;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jsonl.zst");
    write_big(&path);
    let collector = open(&path);
    common::wait_for(&collector, "reading", |s| s.model.spans > 0);
    let app = EventLensApp::new(collector.engine().unwrap(), None).with_file_stop(collector.file_stop());
    let mut harness =
        Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    common::ui::settle(&mut harness);
    harness.get_by_label_contains(&format!("Session {}", path.display()));
    harness.get_by_label("Stop reading").click();
    common::ui::settle(&mut harness);
    let read = stopped_after(&common::file_read(&collector));
    assert!(read < 40_000);
}

#[test]
fn a_session_read_to_its_end_is_published_again_only_when_something_changes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("saga.jsonl.zst");
    write(&path);
    let collector = open(&path);
    common::wait_for(&collector, "spans applied", |s| s.model.spans == 7 && s.journeys.len() == 2);
    // On the session's clock nothing decays: once the end is published, the engine stops
    // publishing, and an idle window stops following snapshots.
    std::thread::sleep(std::time::Duration::from_millis(1_500));
    let engine = collector.engine().unwrap();
    let settled = engine.snapshot().version;
    std::thread::sleep(std::time::Duration::from_millis(2_500));
    assert_eq!(engine.snapshot().version, settled, "nothing changed, nothing published");
    // A command is published at once.
    assert!(engine.send(eventlens::engine::Command::Pause));
    let paused = common::wait_for(&collector, "the pause published", |s| s.paused);
    assert!(paused.version > settled);
}
