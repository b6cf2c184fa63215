//! Journey costs: one headless egui frame of a 100k-span waterfall and of a 1M-journey list
//! (target: ≤ 8 ms of CPU each), and the engine's apply cost per span with and without
//! journey assembly (target: within 20%), on synthetic batches (the worst case: a trace per
//! span) and on a session the built-in demo records first (10 s at 100 orders/s, poison
//! messages included).
//!
//! Journeys are measured three ways: assembled inline (on the applying thread, as files are
//! read), and on the journey thread as the live engine runs them: the engine thread's own
//! CPU time (`thread_engine_cpu`, what the target is about; `benches/journey_thread.rs`
//! measures it interleaved, which this machine's drift between variants needs) and the wall
//! time until the journey thread has caught up (`thread_pipeline`, how fast the two keep up
//! together). Results in docs/performance.md.

// A benchmark: it stops on errors with a message.
#![allow(missing_docs, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use eventlens::engine::EngineState;
use eventlens::ingest::otlp::convert::convert_request;
use eventlens::model::journey::{
    JourneyDetail, JourneyId, JourneyList, JourneySettings, JourneyStatus, JourneySummary,
};
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::model::span::{Span, SpanKind};
use eventlens::testing::{realistic_request, span, trace_id};
use eventlens::ui::journey_list::JourneyListView;
use eventlens::ui::waterfall::WaterfallView;

#[path = "common/demo_session.rs"]
mod demo_session;
#[path = "common/frame.rs"]
mod frame;
#[path = "common/thread_cpu.rs"]
mod thread_cpu;

use demo_session::demo_session;
use frame::frame;
use thread_cpu::thread_cpu;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const T0_MS: u64 = 1_700_000_000_000;

/// Where journeys are assembled in a measured run.
#[derive(Clone, Copy)]
enum Mode {
    /// Not at all.
    Without,
    /// On the applying thread.
    Inline,
    /// On the journey thread, as in the live engine.
    Thread,
}

impl Mode {
    fn state(self) -> EngineState {
        let settings = JourneySettings { enabled: !matches!(self, Self::Without), ..JourneySettings::default() };
        match self {
            Self::Thread => EngineState::threaded(settings, eventlens::model::findings::FindingsSettings::default())
                .expect("journey thread"),
            Self::Without | Self::Inline => EngineState::new(settings),
        }
    }
}

/// How a run is timed.
#[derive(Clone, Copy)]
enum Clock {
    /// Wall time until the journeys are up to date.
    Wall,
    /// The applying (engine) thread's CPU time.
    EngineCpu,
}

/// The variants measured: (name, mode, clock).
const VARIANTS: [(&str, Mode, Clock); 4] = [
    ("without_journeys", Mode::Without, Clock::Wall),
    ("with_journeys_inline", Mode::Inline, Clock::Wall),
    ("with_journeys_thread_engine_cpu", Mode::Thread, Clock::EngineCpu),
    ("with_journeys_thread_pipeline", Mode::Thread, Clock::Wall),
];

/// Applies `records`, then brings the journey rows up to date (as a publish does), timed
/// by `clock`.
fn timed(state: &mut EngineState, records: Vec<Arc<Record>>, clock: Clock) -> Duration {
    let (cpu, wall) = (thread_cpu(), Instant::now());
    for record in records {
        state.apply_shared(record);
    }
    state.sync_journeys();
    match clock {
        Clock::EngineCpu => thread_cpu() - cpu,
        Clock::Wall => wall.elapsed(),
    }
}

/// A batch job's journey: one trace, a root, 1 000 batches of 99 items each, over 10 s.
fn big_journey() -> Vec<Span> {
    let mut spans = vec![span("scheduler", "nightly job", SpanKind::Internal).ids(1, 1).at_ms(T0_MS, 10_000).build()];
    let mut id = 2u64;
    for b in 0..1_000u64 {
        let batch_id = id;
        spans.push(
            span("loader", "load batch", SpanKind::Internal)
                .ids(1, batch_id)
                .parent(1)
                .at_ms(T0_MS + b * 10, 9)
                .build(),
        );
        id += 1;
        for i in 0..99u64 {
            let mut s = span(if i % 3 == 0 { "enricher" } else { "writer" }, "write item", SpanKind::Client)
                .ids(1, id)
                .parent(batch_id)
                .at_ms(T0_MS + b * 10, 1)
                .build();
            // Items spread inside their batch, some under a millisecond (sub-pixel bars).
            s.start_unix_nano += i * 90_000;
            s.end_unix_nano = s.start_unix_nano + 50_000 + (i % 7) * 40_000;
            spans.push(s);
            id += 1;
        }
    }
    spans
}

fn waterfall(c: &mut Criterion) {
    let mut state = EngineState::new(JourneySettings { max_spans: 2_000_000, ..JourneySettings::default() });
    state.apply_owned(Record::Spans(SpanBatch {
        received_unix_nano: T0_MS * 1_000_000,
        source: SourceKind::OtlpGrpc,
        spans: big_journey(),
    }));
    let snapshot = state.snapshot(0);
    let id = snapshot.journeys.iter().next().map(|j| j.id).unwrap_or_default();
    let detail =
        Arc::new(JourneyDetail::build(&state.journeys(), id, state.kafka()).unwrap_or_else(|| panic!("no detail")));
    assert_eq!(detail.rows.len(), 100_001);
    let mut view = WaterfallView::default();
    let no_findings = eventlens::model::findings::FindingsView::default();
    view.sync(&detail);
    let ctx = egui::Context::default();
    frame(&ctx, |ui| view.show(ui, &detail, &no_findings));
    let mut group = c.benchmark_group("journey_frame");
    group.bench_function("waterfall_100k_spans", |b| b.iter(|| frame(&ctx, |ui| view.show(ui, &detail, &no_findings))));
    // Zoomed into the middle: most bars are culled, the rest are wide with labels.
    view.window = (0.5, 0.501);
    group.bench_function("waterfall_100k_spans_zoomed", |b| {
        b.iter(|| frame(&ctx, |ui| view.show(ui, &detail, &no_findings)))
    });
    group.bench_function("waterfall_layout_100k_spans", |b| {
        b.iter(|| JourneyDetail::build(&state.journeys(), id, state.kafka()).map(|d| d.rows.len()))
    });
    group.finish();
}

fn list(c: &mut Criterion) {
    let services: Arc<[Arc<str>]> = vec![Arc::<str>::from("orders"), "billing".into(), "shipping".into()].into();
    let topics: Arc<[Arc<str>]> = vec![Arc::<str>::from("orders")].into();
    let (orders, placed): (Arc<str>, Arc<str>) = ("orders".into(), "OrderPlaced".into());
    let mut list = JourneyList::default();
    for i in 0..1_000_000u64 {
        list.set(JourneySummary {
            id: JourneyId(i + 1),
            start_unix_nano: T0_MS * 1_000_000 + i * 1_000_000,
            end_unix_nano: T0_MS * 1_000_000 + i * 1_000_000 + (i % 997) * 100_000,
            root_service: Arc::clone(&orders),
            event_type: Arc::clone(&placed),
            keys: vec![Arc::<str>::from(format!("order-{i}"))].into(),
            message_ids: Arc::new([]),
            trace_ids: vec![trace_id(u128::from(i) + 1)].into(),
            services: Arc::clone(&services),
            topics: Arc::clone(&topics),
            hops: 2,
            spans: 5,
            messages: 0,
            failures: u32::from(i % 50 == 0),
            error: None,
            status: if i % 50 == 0 { JourneyStatus::Failed } else { JourneyStatus::Ok },
            received_unix_nano: (T0_MS * 1_000_000 + i * 1_000_000, T0_MS * 1_000_000 + i * 1_000_000),
        });
    }
    let mut view = JourneyListView::default();
    let ctx = egui::Context::default();
    frame(&ctx, |ui| {
        view.show(ui, &list, None, None, 0);
    });
    let mut group = c.benchmark_group("journey_frame");
    group.bench_function("list_1m_journeys", |b| {
        b.iter(|| {
            frame(&ctx, |ui| {
                view.show(ui, &list, None, None, 0);
            })
        })
    });
    group.sample_size(10);
    group.bench_function("list_1m_search_and_sort", |b| {
        let mut n = 0u64;
        b.iter(|| {
            n += 1;
            view.search = if n.is_multiple_of(2) { "status:failed".into() } else { String::new() };
            view.update(&list, None);
            view.rows().len()
        })
    });
    group.finish();
}

fn apply(c: &mut Criterion) {
    const BATCH: usize = 512;
    let batch = |seed: u64| {
        Record::Spans(SpanBatch {
            received_unix_nano: T0_MS * 1_000_000 + seed * 1_000_000,
            source: SourceKind::OtlpGrpc,
            spans: convert_request(realistic_request(BATCH, seed)).spans,
        })
    };
    let mut group = c.benchmark_group("apply_512_spans");
    group.throughput(Throughput::Elements(BATCH as u64));
    for (name, mode, clock) in VARIANTS {
        let mut state = mode.state();
        let mut seed = 0u64;
        // Steady state: join indexes full, journeys at their retention limit, and the trace
        // index grown to the size its churn settles at (it doubles once more after the
        // retention limit is reached, when its deleted slots first run out).
        while state.model().counters().spans < 2_500_000 {
            seed += 1;
            state.apply_shared(Arc::new(batch(seed)));
        }
        state.sync_journeys();
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let records: Vec<Arc<Record>> = (0..iters)
                    .map(|_| {
                        seed += 1;
                        Arc::new(batch(seed))
                    })
                    .collect();
                timed(&mut state, records, clock)
            })
        });
    }
    group.finish();
}

fn apply_demo(c: &mut Criterion) {
    let records = demo_session();
    let spans: usize = records.iter().map(|r| if let Record::Spans(b) = r { b.spans.len() } else { 0 }).sum();
    println!("demo session: {} records, {spans} spans", records.len());
    let mut group = c.benchmark_group("apply_demo_session");
    group.throughput(Throughput::Elements(spans as u64));
    group.sample_size(20);
    let shared: Vec<Arc<Record>> = records.into_iter().map(Arc::new).collect();
    for (name, mode, clock) in VARIANTS {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| (0..iters).map(|_| timed(&mut mode.state(), shared.clone(), clock)).sum())
        });
    }
    group.finish();
}

criterion_group!(benches, waterfall, list, apply, apply_demo);
criterion_main!(benches);
