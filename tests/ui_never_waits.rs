//! The window never waits (issue 15): opening a session file (even one nobody has written
//! yet), replacing a session whose engine is busy, showing 64 KiB payloads and a message with
//! a 64 KiB key and a thousand headers, copying a journey of thousands of spans as OTLP JSON
//! and as Mermaid, starting a recording in a folder that takes long to create, and exporting
//! the graph as SVG and PNG all happen while frames keep coming, and every frame is laid out
//! in under 50 ms.
//!
//! What is timed is the app's frame: `EventLensApp::show`, as eframe would call it, less the
//! time its thread waited for a CPU (Linux's `schedstat`; the machines running this are
//! shared, and a frame the scheduler kept waiting did not wait for anything of its own,
//! while a frame blocked in `open` or `join` is asleep, not waiting for a CPU, and counts
//! whole). The harness's own work around it (its accessibility tree, rendering the
//! screenshot Export PNG asks for, which eframe does on the GPU) is not the app's and is left
//! out. So are the frames of a warm-up (the first graph, the first message): egui rasterizes
//! each glyph the first time it is drawn at a size, which for the monospace font's ASCII took
//! about 100 ms of one frame in a debug build, once per process, whatever the payload.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

// The binary's allocator (src/main.rs), so the window is timed as users run it. With glibc's
// allocator instead, this thread's heap grows a page at a time through `mprotect`, which
// waits on the kernel's lock over the process's memory map while the engine, readers and
// journey thread allocate beside it: frames then slept 20-55 ms in `mprotect` alone.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eventlens::capture::CaptureWriter;
use eventlens::collector::{Collector, CollectorConfig};
use eventlens::model::kafka::message::{KafkaMessage, MessageHeader, TimestampType};
use eventlens::model::kafka::{KafkaEvent, KafkaRecord, MessageBatch};
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::model::span::{Span, SpanKind};
use eventlens::testing::{consumer_linked, producer, span};
use eventlens::ui::EventLensApp;
use eventlens::ui::app::View;

/// The longest a frame may take: generous, on a debug build of a shared machine.
const FRAME_BUDGET: Duration = Duration::from_millis(50);
const T0: u64 = 1_763_817_600_000_000_000;
/// 64 KiB: the most of a payload a message keeps.
const BIG: usize = 64 * 1024;
/// The spans of the one large journey: serializing it takes longer than a frame.
const JOURNEY_SPANS: u64 = 20_001;
/// Its trace, apart from the small journeys' (numbered from 1).
const JOURNEY_TRACE: u128 = 1 << 100;
/// How deep the recording folder is: creating it level by level walks its path each time,
/// which stands in for a slow disk or a hung mount.
const FOLDER_LEVELS: usize = 1_000;

/// Each frame's time, with what the test was doing then.
struct Frames {
    phase: &'static str,
    /// The phase, the frame's time less its wait for a CPU, and that wait.
    times: Vec<(&'static str, Duration, Duration)>,
}

impl Default for Frames {
    /// The frames the harness steps as it is built are the first of the warm-up.
    fn default() -> Self {
        Self { phase: WARM_UP, times: Vec::new() }
    }
}

/// How long the calling thread has waited for a CPU while runnable (the second field of
/// `/proc/thread-self/schedstat`); zero where the kernel does not say.
fn cpu_wait() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|stat| stat.split_whitespace().nth(1)?.parse().ok())
        .map_or(Duration::ZERO, Duration::from_nanos)
}

type Timed = (Harness<'static, EventLensApp>, Arc<Mutex<Frames>>);

/// A window over `app` whose every frame is timed.
fn timed_harness(app: EventLensApp) -> Timed {
    let frames = Arc::new(Mutex::new(Frames::default()));
    let record = Arc::clone(&frames);
    let harness = Harness::builder().with_size([1280.0, 800.0]).build_ui_state(
        move |ui, app: &mut EventLensApp| {
            let (started, waited_before) = (Instant::now(), cpu_wait());
            app.show(ui);
            let (took, waited) = (started.elapsed(), cpu_wait().saturating_sub(waited_before));
            let mut frames = record.lock().unwrap();
            let phase = frames.phase;
            frames.times.push((phase, took.saturating_sub(waited), waited));
        },
        app,
    );
    (harness, frames)
}

/// Steps frames until `done` holds (panicking after `within`), a few ms apart as a window's
/// repaints would be.
fn step_until(
    (harness, frames): &mut Timed,
    phase: &'static str,
    within: Duration,
    mut done: impl FnMut(&Harness<'static, EventLensApp>) -> bool,
) {
    frames.lock().unwrap().phase = phase;
    let deadline = Instant::now() + within;
    loop {
        harness.step();
        within_budget(&frames.lock().unwrap());
        if done(harness) {
            return;
        }
        assert!(Instant::now() < deadline, "{phase}: not done within {within:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Fails on the first frame (but the warm-up's) over [`FRAME_BUDGET`], naming its phase.
fn within_budget(frames: &Frames) {
    let slow = frames.times.iter().find(|(phase, took, _)| *phase != WARM_UP && *took > FRAME_BUDGET);
    if let Some((phase, took, waited)) = slow {
        panic!("a frame took {took:?} (besides {waited:?} waiting for a CPU) while {phase}: over {FRAME_BUDGET:?}");
    }
}

fn steps(timed: &mut Timed, phase: &'static str, n: usize) {
    let mut left = n;
    step_until(timed, phase, Duration::from_secs(60), move |_| {
        left -= 1;
        left == 0
    });
}

/// A file dropped on the window, as the desktop hands it over.
#[derive(Debug)]
struct Dropped(PathBuf);

impl egui::DroppedFile for Dropped {
    fn path(&self) -> &Path {
        &self.0
    }

    fn bytes(&self) -> Result<Vec<u8>, String> {
        Err("EventLens reads dropped files by path".into())
    }
}

/// Drops `path` on the window: the next frame opens it (and is timed).
fn drop_file(harness: &mut Harness<'static, EventLensApp>, path: &Path) {
    harness.input_mut().dropped_files.push(Arc::new(Dropped(path.to_owned())));
}

fn shows(harness: &Harness<'static, EventLensApp>, text: &str) -> bool {
    harness.query_by_label_contains(text).is_some()
}

fn message(offset: i64, payload: Vec<u8>) -> KafkaMessage {
    KafkaMessage {
        topic: "orders".into(),
        partition: 0,
        offset,
        timestamp_ms: Some(1_763_817_600_000),
        timestamp_type: TimestampType::CreateTime,
        key: Some(format!("order-{offset}").into_bytes()),
        headers: Vec::new(),
        size: payload.len(),
        payload: Some(payload),
        links: Default::default(),
    }
}

/// A message whose key is 64 KiB and which carries a thousand headers.
fn message_with_a_big_key_and_many_headers(offset: i64) -> KafkaMessage {
    let headers = (0..1_000)
        .map(|i| MessageHeader { key: format!("x-header-{i}"), value: Some(format!("value {i} of many").into_bytes()) })
        .collect();
    KafkaMessage {
        // Its last line says it is the end (the table shows only a key's start).
        key: Some((0..BIG - 9).map(|i| b"key-0123456789/"[i % 15]).chain(*b"\n-KEY-END").collect()),
        headers,
        ..message(offset, b"small".to_vec())
    }
}

/// One journey of [`JOURNEY_SPANS`] spans: a gateway's request, and under it orders sent to
/// five topics by seven services, each consumed by another.
fn big_journey() -> Vec<Span> {
    let services = ["checkout", "billing", "payments", "shipping", "inventory", "pricing", "notifications"];
    let topics = ["orders", "payments", "shipments", "stock", "prices"];
    let mut spans =
        vec![span("gateway", "POST /orders", SpanKind::Server).ids(JOURNEY_TRACE, 1).at_ms(1_000, 900).build()];
    for i in 0..(JOURNEY_SPANS - 1) / 2 {
        let (id, at) = (2 + 2 * i, 1_001 + i / 10);
        let topic = topics[(i % 5) as usize];
        let order = format!("order-{i}");
        spans.push(
            span(services[(i % 7) as usize], "send", SpanKind::Producer)
                .ids(JOURNEY_TRACE, id)
                .parent(1)
                .messaging("kafka", topic, "send")
                .attr("order.id", &order)
                .attr_int("order.lines", (i % 9) as i64)
                .at_ms(at, 1)
                .build(),
        );
        spans.push(
            span(services[((i + 3) % 7) as usize], "process", SpanKind::Consumer)
                .ids(JOURNEY_TRACE, id + 1)
                .parent(id)
                .messaging("kafka", topic, "process")
                .attr("order.id", &order)
                .at_ms(at + 5, 2)
                .build(),
        );
    }
    spans
}

/// What the warm-up shows: every printable ASCII character, in the payload's monospace.
const EVERY_ASCII: &str =
    " !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~";
/// Frames of this phase are not held to the budget (see the top of the file).
const WARM_UP: &str = "warming up egui's glyphs";

/// A browse of four messages (64 KiB of binary, 64 KiB of JSON, a line of ASCII, a 64 KiB
/// key with a thousand headers), the large journey, then `batches` records of 50 producer and
/// 50 consumer spans (58 KB each): tens of MB for the engine to chew.
fn write_session(path: &Path, batches: u64) {
    let binary: Vec<u8> = (0..BIG).map(|i| (i * 7 % 256) as u8).collect();
    let mut json = b"[".to_vec();
    let mut i = 0;
    while json.len() < BIG - 64 {
        json.extend_from_slice(format!(r#"{{"order":{i},"sku":"A-{i}","qty":{}}},"#, i % 9).as_bytes());
        i += 1;
    }
    json.extend_from_slice(br#"{"last":true}]"#);
    let mut writer = CaptureWriter::create(path, T0).unwrap();
    writer
        .append(&Record::Kafka(KafkaRecord {
            received_unix_nano: T0,
            cluster: "local".into(),
            event: KafkaEvent::Messages(MessageBatch {
                browse: 1,
                topic: "orders".into(),
                messages: vec![
                    message(0, binary),
                    message(1, json),
                    message(2, EVERY_ASCII.as_bytes().to_vec()),
                    message_with_a_big_key_and_many_headers(3),
                ],
                progress: None,
            }),
        }))
        .unwrap();
    writer
        .append(&Record::Spans(SpanBatch {
            received_unix_nano: T0,
            source: SourceKind::OtlpGrpc,
            spans: big_journey(),
        }))
        .unwrap();
    for b in 0..batches {
        let spans = (0..50u64)
            .flat_map(|i| {
                let (trace, id) = (u128::from(b * 50 + i + 1), (b * 50 + i) * 2 + 1);
                let topic = ["orders", "payments", "shipments"][(i % 3) as usize];
                [
                    producer(["checkout", "billing"][(i % 2) as usize], "kafka", topic, trace, id),
                    consumer_linked(
                        ["payments", "shipping"][(i % 2) as usize],
                        "kafka",
                        topic,
                        trace,
                        id + 1,
                        (trace, id),
                    ),
                ]
            })
            .collect();
        let at = T0 + b * 1_000_000;
        writer
            .append(&Record::Spans(SpanBatch { received_unix_nano: at, source: SourceKind::OtlpGrpc, spans }))
            .unwrap();
    }
    writer.finish().unwrap();
}

fn open_collector(path: &Path) -> Collector {
    common::start_collector_with(CollectorConfig {
        open: Some(path.to_owned()),
        timeline_spans: Some(eventlens::engine::playback::OPEN_TIMELINE_SPANS),
        ..CollectorConfig::default()
    })
}

/// A pipe standing where a session file would be: opening it waits until something writes
/// to it, as a file on a hung network mount would. The writer comes after `delay`, and
/// writes `content` twice (the header is checked, then the file is read).
#[cfg(unix)]
fn slow_pipe(dir: &Path, content: Vec<u8>, delay: Duration) -> PathBuf {
    use std::io::Write as _;
    let path = dir.join("slow.jsonl");
    let made = std::process::Command::new("mkfifo").arg(&path).status().expect("mkfifo runs");
    assert!(made.success(), "mkfifo {path:?}");
    let fifo = path.clone();
    std::thread::Builder::new()
        .name("test-pipe-writer".into())
        .spawn(move || {
            std::thread::sleep(delay);
            for _ in 0..2 {
                // A reader that closed early (the header check) is no error here.
                if let Ok(mut pipe) = std::fs::OpenOptions::new().write(true).open(&fifo) {
                    let _ = pipe.write_all(&content);
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        })
        .unwrap();
    path
}

/// Steps until the clipboard gets a text, and the notice says `said`: that text.
fn copy(timed: &mut Timed, phase: &'static str, said: &str) -> String {
    let mut copied = None;
    step_until(timed, phase, Duration::from_secs(30), |h| {
        copied = copied.take().or_else(|| {
            h.output().platform_output.commands.iter().find_map(|c| match c {
                egui::OutputCommand::CopyText(text) => Some(text.clone()),
                _ => None,
            })
        });
        copied.is_some() && shows(h, said)
    });
    copied.unwrap()
}

#[test]
fn frames_stay_under_50_ms_while_the_window_opens_shows_copies_records_and_exports() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("first.jsonl"), dir.path().join("second.jsonl"));
    write_session(&first, 1_000);
    // The same file under another name: a session of its own, without writing it twice.
    std::fs::hard_link(&first, &second).unwrap();
    // Where recordings and exports go: not there yet, and slow to create.
    let exports = (0..FOLDER_LEVELS).fold(dir.path().to_owned(), |path, _| path.join("a"));

    // The first session replays a big file: its engine is busy when the window replaces it.
    let collector = open_collector(&first);
    let engine = collector.engine().unwrap();
    let app = EventLensApp::new(engine, Some(collector)).with_recording_dir(exports.clone());
    let mut timed = timed_harness(app);
    step_until(&mut timed, WARM_UP, Duration::from_secs(30), |h| h.state().snapshot().model.spans > 0);
    steps(&mut timed, WARM_UP, 3);
    // Enough of it that stopping it takes a while (dropping its journeys and timeline).
    step_until(&mut timed, "replaying the first session", Duration::from_secs(60), |h| {
        h.state().snapshot().model.spans > 40_000
    });
    assert!(timed.0.state().snapshot().model.spans < 100_000, "still replaying when it is replaced");

    // Opening the second session and stopping the first happen off the frame.
    drop_file(&mut timed.0, &second);
    step_until(&mut timed, "opening the second session", Duration::from_secs(30), |h| {
        shows(h, &format!("opened {}", second.display()))
    });

    // 64 KiB payloads, rendered once per message however many frames show them.
    step_until(&mut timed, "replaying the second session", Duration::from_secs(30), |h| {
        h.state().snapshot().kafka.browser.len() == 4
    });
    timed.0.state_mut().set_view(View::Messages);
    timed.0.state_mut().browser_mut().selected = Some(2);
    step_until(&mut timed, WARM_UP, Duration::from_secs(10), |h| shows(h, "Payload (text, "));
    steps(&mut timed, WARM_UP, 5);
    for (index, kind) in [(0, "binary"), (1, "JSON"), (0, "binary")] {
        timed.0.state_mut().browser_mut().selected = Some(index);
        step_until(&mut timed, "showing a 64 KiB payload", Duration::from_secs(10), |h| {
            shows(h, &format!("Payload ({kind}, "))
        });
        steps(&mut timed, "showing a 64 KiB payload", 20);
    }
    timed.0.get_by_label_contains("00000000  00 07 0e 15");

    // A 64 KiB key and a thousand headers: rendered once, and only the rows in view laid out.
    timed.0.state_mut().browser_mut().selected = Some(3);
    step_until(&mut timed, "showing a 64 KiB key and 1,000 headers", Duration::from_secs(10), |h| {
        shows(h, "Headers (1000)") && shows(h, "x-header-0: value 0 of many")
    });
    steps(&mut timed, "showing a 64 KiB key and 1,000 headers", 20);
    // Below the headers and the key's 1,000 or so rows, the payload: scrolled to, the key's
    // last row is in view.
    timed.0.get_by_label(&format!("Key ({BIG} bytes)"));
    timed.0.get_by_label_contains("Payload (text, 5 bytes)").scroll_to_me();
    step_until(&mut timed, "showing a 64 KiB key and 1,000 headers", Duration::from_secs(10), |h| shows(h, "-KEY-END"));
    steps(&mut timed, "showing a 64 KiB key and 1,000 headers", 20);
    timed.0.state_mut().browser_mut().selected = None;

    // Copying a journey of thousands of spans: serialized off the frame, on the clipboard
    // when it is done.
    let listed = |h: &Harness<'static, EventLensApp>| {
        h.state().snapshot().journeys.iter().find(|j| u64::from(j.spans) == JOURNEY_SPANS).map(|j| j.id)
    };
    step_until(&mut timed, "listing a journey of 20,001 spans", Duration::from_secs(30), |h| listed(h).is_some());
    let journey = listed(&timed.0).unwrap();
    // Searched for, as a user would: the list of all 50,001 journeys is filtered and sorted
    // on the frame that first shows it (about 40 ms in a debug build), which is not what
    // this part is about.
    timed.0.state_mut().journey_list_mut().search = "service:gateway".into();
    timed.0.state_mut().set_view(View::Journeys);
    steps(&mut timed, "listing journeys", 5);
    timed.0.state_mut().select_journey(Some(journey));
    step_until(&mut timed, "showing a journey of 20,001 spans", Duration::from_secs(30), |h| {
        shows(h, "Copy as OTLP JSON")
    });
    steps(&mut timed, "showing a journey of 20,001 spans", 5);
    timed.0.get_by_role_and_label(Role::Button, "Copy as OTLP JSON").click();
    let json = copy(&mut timed, "copying a journey as OTLP JSON", "copied as OTLP JSON");
    let request: serde_json::Value = serde_json::from_str(&json).unwrap();
    let spans: usize = request["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["scopeSpans"].as_array().unwrap())
        .map(|s| s["spans"].as_array().unwrap().len())
        .sum();
    assert_eq!(spans as u64, JOURNEY_SPANS);
    timed.0.get_by_role_and_label(Role::Button, "Copy as Mermaid").click();
    let mermaid = copy(&mut timed, "copying a journey as Mermaid", "copied as Mermaid");
    assert!(mermaid.starts_with("sequenceDiagram\n"));
    assert_eq!(
        mermaid.lines().filter(|l| l.contains("->>")).count() as u64,
        JOURNEY_SPANS - 1,
        "a line per send and per delivery"
    );
    timed.0.state_mut().select_journey(None);

    // Record picks its file (creating the folder) off the frame, then the recording starts.
    timed.0.state_mut().set_view(View::Flow);
    steps(&mut timed, "showing the graph", 5);
    timed.0.get_by_role_and_label(Role::Button, "Record").click();
    steps(&mut timed, "starting a recording", 1);
    timed.0.get_by_label_contains("starting the recording…");
    step_until(&mut timed, "starting a recording", Duration::from_secs(60), |h| {
        h.state()
            .snapshot()
            .recording
            .as_ref()
            .is_some_and(|r| r.active && r.path.starts_with(&*exports.to_string_lossy()))
    });
    timed.0.get_by_role_and_label(Role::Button, "Stop recording").click();
    step_until(&mut timed, "finishing a recording", Duration::from_secs(60), |h| {
        h.state().snapshot().recording.as_ref().is_some_and(|r| !r.active && r.error.is_none() && r.records > 0)
    });

    // Exports are rendered and written off the frame; the outcome comes back as the notice.
    timed.0.get_by_role_and_label(Role::Button, "Export SVG").click();
    step_until(&mut timed, "exporting SVG", Duration::from_secs(30), |h| shows(h, "graph saved to"));
    timed.0.get_by_role_and_label(Role::Button, "Export PNG").click();
    step_until(&mut timed, "exporting PNG", Duration::from_secs(30), |h| shows(h, ".png"));
    let mut written: Vec<String> = std::fs::read_dir(&exports)
        .unwrap()
        .map(|e| e.unwrap().path().extension().unwrap().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, ["png", "svg", "zst"]);

    // A session file that takes its time to open: the window shows it is opening meanwhile.
    #[cfg(unix)]
    {
        let small = dir.path().join("small.jsonl");
        write_session(&small, 1);
        let pipe = slow_pipe(dir.path(), std::fs::read(&small).unwrap(), Duration::from_millis(500));
        drop_file(&mut timed.0, &pipe);
        steps(&mut timed, "opening a slow file", 2);
        assert!(timed.0.state().is_opening());
        timed.0.get_by_label_contains(&format!("opening {}", pipe.display()));
        step_until(&mut timed, "opening a slow file", Duration::from_secs(30), |h| {
            shows(h, &format!("opened {}", pipe.display()))
        });
    }

    let frames = timed.1.lock().unwrap();
    let timed: Vec<_> = frames.times.iter().filter(|(phase, ..)| *phase != WARM_UP).collect();
    let slowest = timed.iter().max_by_key(|(_, took, _)| *took).unwrap();
    let waited: Duration = timed.iter().map(|(.., waited)| *waited).sum();
    eprintln!(
        "{} frames timed over a session of {} MB, the slowest {:?} ({}); {waited:?} waiting for a CPU left out",
        timed.len(),
        std::fs::metadata(&first).unwrap().len() / 1_000_000,
        slowest.1,
        slowest.0
    );
    // Each phase's slowest frame, in the order the phases came.
    let mut phases: Vec<(&str, Duration)> = Vec::new();
    for (phase, took, _) in &timed {
        match phases.iter_mut().find(|(p, _)| p == phase) {
            Some((_, slowest)) => *slowest = (*slowest).max(*took),
            None => phases.push((phase, *took)),
        }
    }
    for (phase, slowest) in phases {
        eprintln!("  {phase}: slowest {slowest:?}");
    }
}
