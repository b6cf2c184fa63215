//! The flow graph at the size where real systems are: one headless egui frame of a graph of
//! about 2,000 nodes and 5,000 edges (target: ≤ 8 ms of CPU), fitted as it opens and zoomed
//! out to the whole graph; following a new snapshot of the same graph (rates changed, as
//! every second); and laying it out from scratch (target: ≤ 200 ms). Results in
//! docs/performance.md.
//!
//! The graph is `testing::generated_flow`: producers, two ranks of consumers and the topics
//! between them, in twelve teams.

// A benchmark: it stops on errors with a message.
#![allow(missing_docs, clippy::expect_used)]

use criterion::{Criterion, criterion_group, criterion_main};
use egui_graphs::MetadataFrame;
use eventlens::engine::{EngineState, Snapshot};
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::testing::generated_flow;
use eventlens::ui::flow_view::FlowView;

#[path = "common/frame.rs"]
mod frame;

use frame::frame;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The second the generated spans fall in (`testing::producer` starts them at 1 s).
const SECOND: u64 = 1_700_000_001;

fn big_graph() -> (EngineState, Snapshot) {
    let mut state = EngineState::default();
    // Each node and edge is counted at what its statistics hold once full (about 165 and
    // 276 KB), so a graph this size needs more than the default budget's share for the
    // graph: as with `--memory`.
    state.set_graph_budget(4 << 30);
    state.apply_owned(Record::Spans(SpanBatch {
        received_unix_nano: SECOND * 1_000_000_000,
        source: SourceKind::File,
        spans: generated_flow(2_000, 5_000, 7),
    }));
    let snapshot = state.snapshot(SECOND + 1);
    (state, snapshot)
}

fn flow(c: &mut Criterion) {
    let (mut state, snapshot) = big_graph();
    println!("flow_frame: {} nodes, {} edges", snapshot.nodes.len(), snapshot.edges.len());
    let ctx = egui::Context::default();
    // Node by node: a graph this big opens folded into teams, which a user may undo.
    let mut view = FlowView::default();
    view.grouping.on = Some(false);
    view.sync(&snapshot, "", None, None);
    frame(&ctx, |ui| {
        view.show(ui);
    });
    let mut group = c.benchmark_group("flow_frame");
    group.sample_size(20);
    group.bench_function("frame_2000_nodes_fitted", |b| {
        b.iter(|| {
            frame(&ctx, |ui| {
                view.show(ui);
            })
        })
    });
    view.auto_fit = false;
    let whole = |ui: &mut egui::Ui| {
        let mut meta = MetadataFrame::new(None).load(ui);
        meta.zoom = 0.05;
        meta.pan = egui::vec2(20.0, 20.0);
        meta.save(ui);
    };
    group.bench_function("frame_2000_nodes_whole", |b| {
        b.iter(|| {
            frame(&ctx, |ui| {
                whole(ui);
                view.show(ui);
            })
        })
    });
    let later = state.snapshot(SECOND + 2);
    let mut flip = false;
    group.bench_function("sync_2000_nodes_rates_changed", |b| {
        b.iter(|| {
            flip = !flip;
            view.sync(if flip { &later } else { &snapshot }, "", None, None);
        })
    });
    group.bench_function("layout_2000_nodes_from_scratch", |b| {
        b.iter(|| {
            // Every node is new: the whole graph is laid out, its edges routed and labelled.
            let mut fresh = FlowView::default();
            fresh.grouping.on = Some(false);
            fresh.sync(&snapshot, "", None, None);
            fresh.node_count()
        })
    });
    // As it opens: folded into twelve teams' boxes and one of topics.
    let mut folded = FlowView::default();
    folded.sync(&snapshot, "", None, None);
    assert_eq!(folded.node_count(), 13);
    group.bench_function("sync_2000_nodes_folded", |b| {
        b.iter(|| {
            flip = !flip;
            folded.sync(if flip { &later } else { &snapshot }, "", None, None);
        })
    });
    group.finish();
}

criterion_group!(benches, flow);
criterion_main!(benches);
