//! The timeline: a recorded session scrubbed, played and stepped through, in the engine and in
//! the window (egui_kittest); a live session paused and scrubbed while it keeps recording.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::time::Duration;

use common::ui::settle;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eventlens::collector::{Collector, CollectorConfig};
use eventlens::engine::playback::PlaybackMode;
use eventlens::engine::{Command, Snapshot};
use eventlens::ui::EventLensApp;

const T0: u64 = 1_763_817_600_000_000_000;
const SECOND: u64 = 1_000_000_000;

/// Ten seconds, one producer span a second; the one at 6 s fails.
fn session(dir: &Path) -> std::path::PathBuf {
    let mut lines = vec![format!(r#"{{"format":"eventlens-session","version":2,"created_unix_nano":{T0}}}"#)];
    for second in 0..10u64 {
        let at = T0 + second * SECOND;
        let status = if second == 6 { r#","status":"error","status_message":"broker refused""# } else { "" };
        lines.push(format!(
            r#"{{"kind":"spans","received_unix_nano":{at},"source":"otlp-grpc","spans":[{{"trace_id":"0af7651916cd43dd8448eb211c8031{second:02x}","span_id":"b7ad6b71692033{second:02x}","name":"send orders","kind":"producer","start_unix_nano":{at},"end_unix_nano":{}{status},"resource":{{"service":{{"name":"checkout"}},"attributes":[]}},"attributes":[{{"key":"messaging.system","value":{{"stringValue":"kafka"}}}},{{"key":"messaging.destination.name","value":{{"stringValue":"orders"}}}},{{"key":"messaging.operation.type","value":{{"stringValue":"send"}}}}]}}]}}"#,
            at + 1000
        ));
    }
    let path = dir.join("session.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

fn open(file: &Path) -> Collector {
    common::open_session(file)
}

/// A live collector with an OTLP/HTTP receiver, recording to `recording` if given.
fn live(recording: Option<std::path::PathBuf>) -> Collector {
    use eventlens::ingest::otlp::{DEFAULT_MAX_REQUEST_BYTES, OtlpConfig};
    common::start_collector_with(CollectorConfig {
        otlp: Some(OtlpConfig {
            grpc: None,
            http: Some(common::loopback()),
            max_request_bytes: DEFAULT_MAX_REQUEST_BYTES,
        }),
        recording,
        publish_interval: Some(Duration::from_millis(20)),
        ..CollectorConfig::default()
    })
}

/// Posts `n` checkout producer spans, ids from `first`.
fn post_checkout(collector: &Collector, first: u64, n: u64) {
    let spans: Vec<_> = (first..first + n)
        .map(|i| eventlens::testing::producer("checkout", "kafka", "orders", u128::from(i), i))
        .collect();
    common::post_spans(collector, &spans);
}

/// Spans the checkout node has counted in the shown state.
fn checkout(snapshot: &Snapshot) -> u64 {
    snapshot.nodes.iter().find(|n| n.label == "checkout").map_or(0, |n| n.counters.count)
}

#[test]
fn seeking_playing_and_following_show_the_state_at_the_cursor() {
    let dir = tempfile::tempdir().unwrap();
    let collector = open(&session(dir.path()));
    let engine = collector.engine().unwrap();
    common::wait_for(&collector, "the whole file", |s| checkout(s) == 10);
    let timeline = engine.snapshot().timeline.clone();
    assert_eq!((timeline.start_unix_nano, timeline.end_unix_nano), (T0, T0 + 9 * SECOND));
    assert_eq!(timeline.mode, PlaybackMode::Following);
    assert_eq!(timeline.bins.len(), 10);
    assert_eq!(timeline.bins[6].failures, 1);

    assert!(engine.send(Command::Seek(T0 + 3 * SECOND + SECOND / 2)));
    let s =
        common::wait_for(&collector, "state at 3.5 s", |s| s.timeline.mode == PlaybackMode::Paused && checkout(s) == 4);
    assert_eq!(s.timeline.cursor_unix_nano, T0 + 3 * SECOND + SECOND / 2);
    assert!(s.paused);
    assert_eq!(s.journeys.len(), 4, "journeys begun by the cursor");
    // Backwards, then past the failure.
    assert!(engine.send(Command::Seek(T0 + SECOND)));
    common::wait_for(&collector, "state at 1 s", |s| checkout(s) == 2);
    assert!(engine.send(Command::Seek(T0 + 7 * SECOND)));
    let s = common::wait_for(&collector, "state at 7 s", |s| checkout(s) == 8);
    assert_eq!(s.nodes.iter().find(|n| n.label == "checkout").unwrap().counters.failures, 1);

    // Play from the cursor at 100x: it reaches the end and follows.
    assert!(engine.send(Command::Play { speed: 100.0 }));
    common::wait_for(&collector, "playing", |s| matches!(s.timeline.mode, PlaybackMode::Playing { .. }));
    common::wait_for(&collector, "following again", |s| {
        s.timeline.mode == PlaybackMode::Following && checkout(s) == 10
    });
    assert!(engine.send(Command::Pause));
    let s = common::wait_for(&collector, "paused at the end", |s| s.timeline.mode == PlaybackMode::Paused);
    assert_eq!((s.timeline.cursor_unix_nano, checkout(&s)), (T0 + 9 * SECOND, 10));
    assert!(engine.send(Command::Resume));
    common::wait_for(&collector, "following", |s| s.timeline.mode == PlaybackMode::Following);
}

#[test]
fn the_timeline_drags_plays_steps_to_failures_and_follows() {
    let dir = tempfile::tempdir().unwrap();
    let collector = open(&session(dir.path()));
    common::wait_for(&collector, "the whole file", |s| checkout(s) == 10);
    let app = EventLensApp::new(collector.engine().unwrap(), None);
    let mut harness =
        Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    settle(&mut harness);
    harness.get_by_label("Following");
    let wait = |harness: &mut Harness<'static, EventLensApp>, done: &dyn Fn(&Snapshot) -> bool| {
        for _ in 0..100 {
            settle(harness);
            if done(harness.state().snapshot()) {
                return;
            }
        }
        panic!("the window never showed it: {:?}", harness.state().snapshot().timeline);
    };

    // Drag the cursor to about a third of the way: the graph shows that moment.
    let rect = harness.get_by_label("Timeline").rect();
    let at = egui::pos2(rect.left() + rect.width() * 0.35, rect.center().y);
    harness.drag_at(at);
    harness.run_steps(1);
    harness.drop_at(at);
    wait(&mut harness, &|s| s.timeline.mode == PlaybackMode::Paused);
    let shown = checkout(harness.state().snapshot());
    assert!((3..=5).contains(&shown), "the view follows the cursor: {shown}");
    harness.get_by_label("Paused");

    harness.get_by_label("Next failure").click();
    wait(&mut harness, &|s| s.timeline.cursor_unix_nano == T0 + 6 * SECOND);
    assert_eq!(checkout(harness.state().snapshot()), 7);
    // The journeys tab counts the journeys of that moment too.
    harness.get_by_label("Journeys (7)");
    harness.get_by_label("Previous failure");

    // Speed, then Play: it plays at that speed and reaches the end.
    harness.get_by_value("1x").click();
    settle(&mut harness);
    harness.get_by_label("100x").click();
    settle(&mut harness);
    harness.get_by_label("Play").click();
    wait(&mut harness, &|s| s.timeline.mode == PlaybackMode::Following);
    assert_eq!(checkout(harness.state().snapshot()), 10);
    harness.get_by_label("Journeys (10)");

    harness.get_by_label("Timeline").click();
    wait(&mut harness, &|s| s.timeline.mode == PlaybackMode::Paused);
    harness.get_by_label("Follow").click();
    wait(&mut harness, &|s| s.timeline.mode == PlaybackMode::Following);
}

#[test]
fn a_live_session_pauses_and_scrubs_back_while_it_keeps_recording() {
    let dir = tempfile::tempdir().unwrap();
    let collector = live(Some(dir.path().join("live.jsonl")));
    let engine = collector.engine().unwrap();
    let post = |first, n| post_checkout(&collector, first, n);
    post(1, 3);
    common::wait_for(&collector, "three spans", |s| checkout(s) == 3);
    std::thread::sleep(Duration::from_millis(1_100));
    post(4, 2);
    let s = common::wait_for(&collector, "five spans", |s| checkout(s) == 5);
    let recorded = s.recording.as_ref().unwrap().records;

    assert!(engine.send(Command::Pause));
    common::wait_for(&collector, "paused", |s| s.timeline.mode == PlaybackMode::Paused);
    post(6, 4);
    // New spans are applied and recorded, but the view holds.
    let s = common::wait_for(&collector, "recorded while paused", |s| s.recording.as_ref().unwrap().records > recorded);
    assert_eq!(checkout(&s), 5);
    assert_eq!(s.ingest.spans_accepted, 9);

    // Scrub back to the first batch: it arrived in the timeline's first second, the second
    // batch more than a second later.
    let start = s.timeline.start_unix_nano;
    assert!(engine.send(Command::Seek(start + SECOND - 1)));
    common::wait_for(&collector, "the first batch alone", |s| checkout(s) == 3);
    assert!(engine.send(Command::Resume));
    let live =
        common::wait_for(&collector, "everything", |s| s.timeline.mode == PlaybackMode::Following && checkout(s) == 9);

    // Its recording replays into the same graph.
    drop(collector);
    let replayed = eventlens::export::graph::replay_file(&dir.path().join("live.jsonl")).unwrap();
    let counts =
        |s: &Snapshot| s.edges.iter().map(|e| (e.kind, e.counters.count, e.counters.failures)).collect::<Vec<_>>();
    assert_eq!(counts(&replayed.snapshot), counts(&live));
    assert_eq!(checkout(&replayed.snapshot), 9);
}

#[test]
fn the_record_button_saves_what_the_timeline_holds_and_what_follows() {
    use eventlens::model::record::Record;

    let dir = tempfile::tempdir().unwrap();
    let collector = live(None);
    let post = |first, n| post_checkout(&collector, first, n);
    post(1, 3);
    common::wait_for(&collector, "three spans", |s| checkout(s) == 3);
    let app = EventLensApp::new(collector.engine().unwrap(), None).with_recording_dir(dir.path().to_owned());
    let mut harness =
        Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    settle(&mut harness);

    harness.get_by_label("Record").click();
    settle(&mut harness);
    common::wait_for(&collector, "recording", |s| s.recording.as_ref().is_some_and(|r| r.active));
    post(4, 2);
    common::wait_for(&collector, "five spans", |s| checkout(s) == 5);
    settle(&mut harness);
    harness.get_by_label_contains("REC ");
    harness.get_by_label("Stop recording").click();
    settle(&mut harness);
    let s = common::wait_for(&collector, "saved", |s| s.recording.as_ref().is_some_and(|r| !r.active));
    let path = std::path::PathBuf::from(&s.recording.as_ref().unwrap().path);
    assert!(path.starts_with(dir.path()) && path.to_string_lossy().ends_with(".jsonl.zst"), "{path:?}");
    settle(&mut harness);
    harness.get_by_label_contains("saved ");
    harness.get_by_label("Record");

    let capture = eventlens::capture::read_capture(&path).unwrap();
    assert!(capture.skipped.is_empty());
    let spans: usize = capture
        .records
        .iter()
        .filter_map(|r| match r {
            Record::Spans(b) => Some(b.spans.len()),
            Record::Kafka(_) | Record::Nats(_) | Record::Rabbitmq(_) => None,
        })
        .sum();
    assert_eq!(spans, 5, "the spans from before the button and after it");
}

/// A file dropped on the window, as the windowing integration hands it to egui.
#[derive(Debug)]
struct Dropped(std::path::PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        std::fs::read(&self.0).map_err(|e| e.to_string())
    }
}

#[test]
fn a_session_file_dropped_on_the_window_replaces_the_session() {
    let dir = tempfile::tempdir().unwrap();
    let file = session(dir.path());
    let collector = live(None);
    post_checkout(&collector, 100, 2);
    common::wait_for(&collector, "the live spans", |s| checkout(s) == 2);
    let app = EventLensApp::new(collector.engine().unwrap(), Some(collector));
    let mut harness =
        Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    settle(&mut harness);
    assert_eq!(checkout(harness.state().snapshot()), 2);

    harness.input_mut().dropped_files.push(std::sync::Arc::new(Dropped(file.clone())));
    for _ in 0..100 {
        settle(&mut harness);
        if checkout(harness.state().snapshot()) == 10 {
            break;
        }
    }
    let snapshot = harness.state().snapshot().clone();
    assert_eq!(checkout(&snapshot), 10, "the file's ten spans, and not the live session's two");
    assert!(snapshot.sources.iter().any(|s| s.name == "Session"), "{:?}", snapshot.sources);
    harness.get_by_label_contains(&format!("opened {}", file.display()));
    // The timeline is the file's.
    assert_eq!(snapshot.timeline.start_unix_nano, T0);

    // A file that is not a session says why and leaves the session as it was.
    let junk = dir.path().join("junk.txt");
    std::fs::write(&junk, "hello").unwrap();
    harness.input_mut().dropped_files.push(std::sync::Arc::new(Dropped(junk)));
    for _ in 0..20 {
        settle(&mut harness);
    }
    assert_eq!(checkout(harness.state().snapshot()), 10);
    harness.get_by_label_contains("cannot open");
    harness.get_by_label_contains("is not an EventLens session file");
}

#[test]
fn save_as_writes_what_the_timeline_holds_and_a_recording_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let collector = live(Some(dir.path().join("running.jsonl")));
    let engine = collector.engine().unwrap();
    post_checkout(&collector, 1, 4);
    common::wait_for(&collector, "four spans", |s| checkout(s) == 4);
    let saved = dir.path().join("saved.jsonl.zst");
    assert!(engine.send(Command::SaveAs(saved.clone())));
    let spans = |path: &Path| {
        eventlens::capture::read_capture(path)
            .map(|c| c.records.iter().map(eventlens::model::record::Record::item_count).sum::<usize>())
            .unwrap_or(0)
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while spans(&saved) < 4 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(spans(&saved), 4, "what the timeline held when asked");
    // The running recording is untouched and keeps taking records.
    post_checkout(&collector, 5, 1);
    let s = common::wait_for(&collector, "five spans", |s| checkout(s) == 5);
    assert!(s.recording.as_ref().is_some_and(|r| r.active && r.path.ends_with("running.jsonl")));
    assert_eq!(spans(&saved), 4, "the saved file does not grow");

    // An unwritable target is reported, and nothing else changes.
    assert!(s.notice.as_ref().is_some_and(|n| n.starts_with("saved 1 record to")), "{:?}", s.notice);
    assert!(engine.send(Command::SaveAs(dir.path().join("missing/dir/x.jsonl"))));
    let s =
        common::wait_for(&collector, "the error", |s| s.notice.as_ref().is_some_and(|n| n.starts_with("not saved")));
    assert!(s.notice.as_ref().unwrap().contains("missing/dir/x.jsonl"));
    assert!(s.recording.as_ref().is_some_and(|r| r.active && r.error.is_none()), "the recording goes on");
}

#[test]
fn the_journey_at_the_cursor_is_what_had_been_received_by_then() {
    let dir = tempfile::tempdir().unwrap();
    let span = |trace: &str, id: &str, name: &str, kind: &str, start: u64, end: u64, extra: &str| {
        format!(
            r#"{{"trace_id":"{trace}","span_id":"{id}","name":"{name}","kind":"{kind}","start_unix_nano":{start},"end_unix_nano":{end},"resource":{{"service":{{"name":"svc-{kind}"}},"attributes":[]}},"attributes":[{{"key":"messaging.system","value":{{"stringValue":"kafka"}}}},{{"key":"messaging.destination.name","value":{{"stringValue":"orders"}}}}]{extra}}}"#
        )
    };
    let producer = span(
        "0af7651916cd43dd8448eb211c80319c",
        "b7ad6b7169203331",
        "send orders",
        "producer",
        T0 + SECOND,
        T0 + SECOND + 1_000,
        "",
    );
    // The consumer starts at 5 s and runs until 8 s, linked to the producer.
    let link = r#","links":[{"trace_id":"0af7651916cd43dd8448eb211c80319c","span_id":"b7ad6b7169203331"}]"#;
    let consumer = span(
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "00f067aa0ba902b7",
        "process orders",
        "consumer",
        T0 + 5 * SECOND,
        T0 + 8 * SECOND,
        link,
    );
    let lines = [
        format!(r#"{{"format":"eventlens-session","version":2,"created_unix_nano":{T0}}}"#),
        format!(r#"{{"kind":"spans","received_unix_nano":{},"source":"otlp-grpc","spans":[{producer}]}}"#, T0 + SECOND),
        format!(
            r#"{{"kind":"spans","received_unix_nano":{},"source":"otlp-grpc","spans":[{consumer}]}}"#,
            T0 + 8 * SECOND
        ),
    ];
    let file = dir.path().join("journey.jsonl");
    std::fs::write(&file, lines.join("\n") + "\n").unwrap();
    let collector = open(&file);
    let engine = collector.engine().unwrap();
    let s = common::wait_for(&collector, "one journey of two spans", |s| s.journeys.iter().any(|j| j.spans == 2));
    let id = s.journeys.iter().next().unwrap().id;
    assert!(engine.send(Command::SelectJourney(Some(id))));
    let rows = |s: &Snapshot| s.journey.as_ref().map_or(0, |j| j.rows.len());
    common::wait_for(&collector, "the whole journey", |s| rows(s) == 2);

    // At 3 s only the producer had been reported: the list's row, its counts and the
    // waterfall say so.
    assert!(engine.send(Command::Seek(T0 + 3 * SECOND)));
    let s =
        common::wait_for(&collector, "the journey at 3 s", |s| s.timeline.mode == PlaybackMode::Paused && rows(s) == 1);
    let row = s.journeys.get(id).unwrap();
    assert_eq!((row.spans, row.hops, row.end_unix_nano), (1, 0, T0 + SECOND + 1_000));
    assert_eq!(s.journey_counters.spans, 1);
    assert_eq!(&s.journey.as_ref().unwrap().summary, row);
    // At 6.5 s the consumer was running, but it is reported when it ends (received at 8 s):
    // not shown yet, as it was not then.
    assert!(engine.send(Command::Seek(T0 + 6 * SECOND + SECOND / 2)));
    let s = common::wait_for(&collector, "the journey at 6.5 s", |s| {
        s.timeline.cursor_unix_nano == T0 + 6 * SECOND + SECOND / 2
    });
    assert_eq!((rows(&s), s.journeys.get(id).unwrap().hops), (1, 0));
    assert!(engine.send(Command::Seek(T0 + 8 * SECOND)));
    let s = common::wait_for(&collector, "the journey at 8 s", |s| rows(s) == 2);
    let row = s.journeys.get(id).unwrap();
    assert_eq!((row.spans, row.hops, row.end_unix_nano), (2, 1, T0 + 8 * SECOND));
    assert!(engine.send(Command::Resume));
    common::wait_for(&collector, "following", |s| s.timeline.mode == PlaybackMode::Following && rows(s) == 2);
}

/// The journeys a snapshot lists, oldest first.
fn journey_rows(s: &Snapshot) -> Vec<eventlens::model::journey::JourneySummary> {
    s.journeys.iter().cloned().collect()
}

/// Edge counts of the shown graph.
fn edge_counts(s: &Snapshot) -> Vec<(u32, u32, u64, u64)> {
    s.edges.iter().map(|e| (e.from, e.to, e.counters.count, e.counters.failures)).collect()
}

#[test]
fn a_recorded_session_replays_the_same_graph_and_journeys_at_every_moment() {
    use eventlens::model::span::SpanKind;
    use eventlens::testing::span;

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.jsonl");
    let collector = live(Some(file.clone()));
    let engine = collector.engine().unwrap();
    let now_ms = || eventlens::ingest::otlp::unix_nanos_now() / 1_000_000;
    let send = |trace: u128, at: u64| {
        span("checkout", "send orders", SpanKind::Producer)
            .ids(trace, 1)
            .messaging("kafka", "orders", "send")
            .at_ms(at, 2)
            .build()
    };
    let process = |service: &str, trace: u128, from: u128, at: u64| {
        span(service, "process orders", SpanKind::Consumer)
            .ids(trace, 1)
            .messaging("kafka", "orders", "process")
            .attr("messaging.consumer.group.name", service)
            .link(from, 1)
            .at_ms(at, 300)
    };
    // Orders sent and processed across four exports 150 ms apart, each export of spans that
    // ended just before it (consumers run 300 ms, over the previous export); the last fails.
    let mut exports = 0;
    for order in 0..4u128 {
        let t = now_ms() - 350;
        let mut spans = vec![send(10 * order + 1, t)];
        if order > 0 {
            spans.push(process("billing", 10 * order + 2, 10 * (order - 1) + 1, t).build());
        }
        if order == 3 {
            spans.push(process("audit", 10 * order + 3, 10 * order + 1, t + 1).error("schema mismatch").build());
        }
        common::post_spans(&collector, &spans);
        exports += 1;
        std::thread::sleep(Duration::from_millis(150));
    }
    let live_end =
        common::wait_for(&collector, "every export", |s| s.recording.as_ref().is_some_and(|r| r.records == exports));

    // Each moment an export arrived, and halfway between: seek the live session there.
    let times: Vec<u64> =
        eventlens::capture::read_capture(&file).unwrap().records.iter().map(|r| r.received_unix_nano()).collect();
    assert_eq!(times.len(), 4);
    let between = times.windows(2).map(|w| w[0] + (w[1] - w[0]) / 2);
    let mut moments: Vec<u64> = times.iter().copied().chain(between).collect();
    moments.sort_unstable();
    let states = |collector: &Collector| -> Vec<_> {
        let engine = collector.engine().unwrap();
        moments
            .iter()
            .map(|at| {
                assert!(engine.send(Command::Seek(*at)));
                let s = common::wait_for(collector, "the seek", |s| {
                    s.timeline.mode == PlaybackMode::Paused && s.timeline.cursor_unix_nano == *at
                });
                (edge_counts(&s), journey_rows(&s))
            })
            .collect()
    };
    let seen_live = states(&collector);
    // The states differ from moment to moment (the comparison below is not of empty lists).
    assert_eq!(seen_live[0].1.len(), 1);
    assert!(seen_live.last().unwrap().1.iter().any(|j| j.status == eventlens::model::journey::JourneyStatus::Failed));
    assert!(seen_live.windows(2).any(|w| w[0].1 != w[1].1));
    assert!(engine.send(Command::Resume));
    common::wait_for(&collector, "following", |s| s.timeline.mode == PlaybackMode::Following);
    drop(collector);

    let replay = open(&file);
    let replay_end = common::wait_for(&replay, "the whole file", |s| s.journeys.len() == live_end.journeys.len());
    assert_eq!(journey_rows(&replay_end), journey_rows(&live_end));
    let replayed = states(&replay);
    for (at, (live, replayed)) in moments.iter().zip(seen_live.iter().zip(&replayed)) {
        assert_eq!(live, replayed, "at {at}");
    }
}

/// `n` seconds, one producer span a second, each to a topic of its own (`reply-0`, ...).
fn topics_session(dir: &Path, n: u64) -> std::path::PathBuf {
    let mut lines = vec![format!(r#"{{"format":"eventlens-session","version":2,"created_unix_nano":{T0}}}"#)];
    for i in 0..n {
        let at = T0 + i * SECOND;
        lines.push(format!(
            r#"{{"kind":"spans","received_unix_nano":{at},"source":"otlp-grpc","spans":[{{"trace_id":"{:032x}","span_id":"{:016x}","name":"send","kind":"producer","start_unix_nano":{at},"end_unix_nano":{},"resource":{{"service":{{"name":"checkout"}},"attributes":[]}},"attributes":[{{"key":"messaging.system","value":{{"stringValue":"kafka"}}}},{{"key":"messaging.destination.name","value":{{"stringValue":"reply-{i}"}}}},{{"key":"messaging.operation.type","value":{{"stringValue":"send"}}}}]}}]}}"#,
            i + 1,
            i + 1,
            at + 1000
        ));
    }
    let path = dir.join("topics.jsonl");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path
}

/// The overflow node of Kafka topics in a snapshot, if the graph folded any.
fn folded_topics(s: &Snapshot) -> Option<String> {
    s.nodes.iter().map(|n| n.label.clone()).find(|label| label.ends_with("more topics)"))
}

#[test]
fn past_its_memory_share_the_graph_folds_topics_at_every_moment_and_the_top_bar_says_so() {
    use eventlens::model::flow_graph::NODE_BYTES;
    use eventlens::model::size::MemoryBudget;
    let dir = tempfile::tempdir().unwrap();
    let collector = common::start_collector_with(CollectorConfig {
        otlp: None,
        open: Some(topics_session(dir.path(), 300)),
        publish_interval: Some(Duration::from_millis(20)),
        // The graph's share (5%) holds about forty nodes.
        memory_budget: Some(MemoryBudget { bytes: (40 * NODE_BYTES * 20) as u64 }),
        ..CollectorConfig::default()
    });
    let engine = collector.engine().unwrap();
    let s = common::wait_for(&collector, "the whole file", |s| s.model.spans == 300);
    let folded = s.model.names_folded;
    assert!(folded > 250, "{folded}");
    assert_eq!(folded_topics(&s), Some(format!("kafka/({folded} more topics)")));
    assert!(s.nodes.len() < 40, "{}", s.nodes.len());

    // The state at the cursor is rebuilt from the timeline's start: it folds as the head did.
    assert!(engine.send(Command::Seek(T0 + 149 * SECOND)));
    let at = common::wait_for(&collector, "the state at 150 s", |s| {
        s.timeline.mode == PlaybackMode::Paused && s.model.spans == 150
    });
    let then = at.model.names_folded;
    assert!(then > 100 && then < folded, "{then}");
    assert_eq!(folded_topics(&at), Some(format!("kafka/({then} more topics)")));
    assert!(engine.send(Command::Resume));
    common::wait_for(&collector, "following", |s| s.timeline.mode == PlaybackMode::Following);

    let app = EventLensApp::new(engine, None);
    let mut harness =
        Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    settle(&mut harness);
    let s = harness.state().snapshot().clone();
    harness.get_by_label(&format!("{} folded (graph)", s.model.names_folded + s.model.edges_folded));
}
