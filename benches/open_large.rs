//! `eventlens open` of a 10M-span capture: how soon the window shows the session, whether
//! the process stays within its memory budget while the file reads on, and how the window's
//! frames fare meanwhile (targets: the first frame with the session's graph within 2 s, and
//! within the budget; issue 20).
//!
//! The capture is generated once (realistic export requests of 512 spans, as the ingest
//! benchmarks send, one a second of session time: 10M spans over about 5.4 hours) and kept in
//! the target directory (`bench-data/`), about 370 MB of zstd. The session is then opened as
//! `eventlens open` opens it (no receivers, the timeline's open-sized cap, the budget given)
//! and an `EventLensApp` draws headless 1280×800 frames, one every 16 ms, until the file is
//! read: the first frame, the first frame whose graph has nodes, every frame's time, and the
//! process's resident memory (`VmRSS` at each frame, `VmHWM` at the end) against the budget.
//!
//! `OPEN_LARGE_SPANS` (default 10000000) and `OPEN_LARGE_BUDGET_MIB` (default 1024) change
//! the size and the budget. Results in docs/performance.md.

// A benchmark: it stops on errors with a message.
#![allow(missing_docs, clippy::expect_used)]

use std::path::PathBuf;
use std::time::{Duration, Instant};

use eventlens::capture::CaptureWriter;
use eventlens::collector::{Collector, CollectorConfig};
use eventlens::engine::playback::OPEN_TIMELINE_SPANS;
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::model::size::MemoryBudget;
use eventlens::pipeline::sources::SourceState;
use eventlens::testing::realistic_spans;
use eventlens::ui::EventLensApp;

#[path = "common/frame.rs"]
mod frame;
#[path = "../tests/common/resident.rs"]
mod resident;

use resident::resident;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Spans a request carries, as the ingest benchmarks send them.
const PER_REQUEST: usize = 512;
/// The session's start: `realistic_request`'s first span.
const T0: u64 = 1_700_000_000_000_000_000;
/// How often the window draws while the file reads.
const FRAME_EVERY: Duration = Duration::from_millis(16);

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The capture of `spans` spans, written first if it is not there yet.
fn capture(spans: u64) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"), PathBuf::from);
    let dir = target.join("bench-data");
    let path = dir.join(format!("open-{spans}-spans.jsonl.zst"));
    if path.exists() {
        return path;
    }
    std::fs::create_dir_all(&dir).expect("bench-data directory");
    let started = Instant::now();
    // Written aside and renamed when whole, so a cut run never leaves a short capture.
    let partial = dir.join(format!("open-{spans}-spans.partial.jsonl.zst"));
    let mut writer = CaptureWriter::create(&partial, T0).expect("create the capture");
    for request in 0..spans.div_ceil(PER_REQUEST as u64) {
        let count = (spans - request * PER_REQUEST as u64).min(PER_REQUEST as u64) as usize;
        let spans = realistic_spans(count, request);
        // The request's spans start about `request` seconds in (see `realistic_request`).
        let received = spans.iter().map(|s| s.end_unix_nano).max().unwrap_or(T0);
        writer
            .append(&Record::Spans(SpanBatch { received_unix_nano: received, source: SourceKind::OtlpGrpc, spans }))
            .expect("append to the capture");
    }
    writer.finish().expect("finish the capture");
    std::fs::rename(&partial, &path).expect("rename the capture");
    let bytes = std::fs::metadata(&path).map_or(0, |m| m.len());
    println!("open_large: wrote {spans} spans, {} MB, in {:.0?}", bytes / 1_000_000, started.elapsed());
    path
}

fn mib(bytes: u64) -> u64 {
    bytes / (1024 * 1024)
}

fn main() {
    let spans = setting("OPEN_LARGE_SPANS", 10_000_000);
    let budget = MemoryBudget { bytes: setting("OPEN_LARGE_BUDGET_MIB", 1024) * 1024 * 1024 };
    let path = capture(spans);
    let file_mb = std::fs::metadata(&path).map_or(0, |m| m.len()) / 1_000_000;
    let (rss_before, _) = resident();

    // As `eventlens open FILE` starts: no receivers, the open-sized timeline, the budget.
    let started = Instant::now();
    let collector = Collector::start(
        CollectorConfig {
            open: Some(path.clone()),
            timeline_spans: Some(OPEN_TIMELINE_SPANS),
            memory_budget: Some(budget),
            ..CollectorConfig::default()
        },
        None,
    )
    .expect("start the collector");
    let engine = collector.engine().expect("the engine");
    let mut app = EventLensApp::new(engine, Some(collector));
    let ctx = egui::Context::default();

    let (mut first_frame, mut first_graph) = (None, None);
    let mut frames: Vec<Duration> = Vec::new();
    let (mut peak_rss, mut peak_parts) = (0_u64, 0_u64);
    let mut spans_shown: u64;
    // Resident memory and the measured parts at each tenth of the file read.
    let mut tenths: Vec<(u8, u64, u64)> = Vec::new();
    let finished = loop {
        let drawn = Instant::now();
        frame::frame(&ctx, |ui| app.show(ui));
        let took = drawn.elapsed();
        first_frame.get_or_insert(started.elapsed());
        let snapshot = app.snapshot();
        if first_graph.is_none() && !snapshot.nodes.is_empty() {
            first_graph = Some((started.elapsed(), snapshot.model.spans));
        } else if first_graph.is_some() {
            frames.push(took);
        }
        spans_shown = snapshot.model.spans;
        peak_parts = peak_parts.max(snapshot.memory.total());
        peak_rss = peak_rss.max(resident().0);
        let read = snapshot.sources.iter().find_map(|s| match s.state {
            SourceState::Reading(percent) => Some(percent),
            _ => None,
        });
        if let Some(percent) = read
            && percent / 10 > tenths.last().map_or(0, |t| t.0 / 10)
        {
            tenths.push((percent, resident().0, snapshot.memory.total()));
        }
        let state = snapshot.sources.iter().map(|s| s.state.clone()).find(|s| !matches!(s, SourceState::Reading(_)));
        match state {
            Some(SourceState::Finished(what)) => break what,
            Some(SourceState::Failed(why)) => panic!("the capture did not read: {why}"),
            _ => {}
        }
        std::thread::sleep(FRAME_EVERY.saturating_sub(took));
    };
    let read_in = started.elapsed();
    let (_, hwm) = resident();
    frames.sort_unstable();
    let at = |q: f64| frames.get(((frames.len() as f64 - 1.0) * q) as usize).copied().unwrap_or_default();
    let (first_frame, (first_graph, first_spans)) =
        (first_frame.expect("a frame"), first_graph.expect("a frame with the graph"));
    println!(
        "open_large: {spans} spans, {file_mb} MB of zstd, budget {} MiB: first frame after {first_frame:.1?}, \
         first frame with the graph after {first_graph:.1?} ({first_spans} spans applied); read whole in \
         {read_in:.1?} ({:.0} spans/s; {what}); {} frames while reading: median {:.1?}, p99 {:.1?}, slowest \
         {:.1?}; the engine's measured parts at most {} MiB; resident at most {} MiB sampled, VmHWM {} MiB \
         ({} MiB before opening); {spans_shown} spans in the graph's count",
        mib(budget.bytes),
        spans as f64 / read_in.as_secs_f64(),
        frames.len(),
        at(0.5),
        at(0.99),
        frames.last().copied().unwrap_or_default(),
        mib(peak_parts),
        mib(peak_rss),
        mib(hwm),
        mib(rss_before),
        what = finished,
    );
    for (percent, rss, parts) in tenths {
        println!("  at {percent}% read: resident {} MiB, measured parts {} MiB", mib(rss), mib(parts));
    }
}
