//! The journey views, driven headless with egui_kittest: spans go through a real collector's
//! OTLP/HTTP receiver, the window is the real app.

// Test helpers fail loudly on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ui::settle;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eventlens::collector::Collector;
use eventlens::engine::EngineState;
use eventlens::model::journey::JourneyDetail;
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::model::span::Span;
use eventlens::testing::saga_spans;
use eventlens::ui::EventLensApp;
use eventlens::ui::app::View;
use eventlens::ui::waterfall::WaterfallView;

fn harness(collector: &Collector) -> Harness<'static, EventLensApp> {
    let app = EventLensApp::new(collector.engine().expect("engine"), None);
    Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app)
}

fn send(collector: &Collector, spans: &[Span]) {
    common::post_spans(collector, spans);
    let n = spans.len() as u64;
    common::wait_for(collector, "journeys listed", |s| s.model.spans == n && s.journeys.len() == 2);
}

#[test]
fn selecting_a_journey_opens_its_waterfall_with_topic_bars_backlinks_and_the_path_on_the_graph() {
    let collector = common::start_collector(1 << 20);
    send(&collector, &saga_spans());
    let mut harness = harness(&collector);
    settle(&mut harness);
    harness.get_by_role_and_label(Role::Button, "Journeys (2)").click();
    settle(&mut harness);
    assert_eq!(harness.state().view(), View::Journeys);
    harness.get_by_label("Select a journey to see its waterfall");

    // The failed order is in the list; clicking its row opens the waterfall.
    harness.get_by_label("OrderPlaced").click();
    for _ in 0..20 {
        settle(&mut harness);
        if harness.query_all_by_label_contains("in topic").next().is_some() {
            break;
        }
    }
    let selected = harness.state().selected_journey().expect("a journey is selected");
    assert_eq!(harness.state().snapshot().journeys.get(selected).map(|j| j.spans), Some(6));
    assert_eq!(harness.state_mut().waterfall_mut().visible_rows().len(), 6);
    // Both async hops show their time in topic.
    harness.get_by_label("in topic orders: 190 ms");
    harness.get_by_label("in topic payment-failed: 185 ms");
    harness.get_by_label_contains("failed: card declined");

    // The producer's span details list the consumer in another trace that links to it.
    harness.get_by_label("orders orders send 3.00 ms").click();
    settle(&mut harness);
    harness.get_by_label("Linked from (1)");
    let backlink = harness.get_by_label_contains("payments  orders process  (trace");
    backlink.click();
    settle(&mut harness);
    harness.get_by_label("Linked from (0)");
    harness.get_by_label("ERROR card declined");

    // Collapsing the root hides its subtree.
    let root = {
        let snapshot = harness.state().snapshot().journey.clone().expect("laid out");
        snapshot.spans[snapshot.rows[0].span as usize].span_ref()
    };
    let detail = harness.state().snapshot().journey.clone().expect("laid out");
    harness.state_mut().waterfall_mut().toggle(&detail, root);
    assert_eq!(harness.state_mut().waterfall_mut().visible_rows().len(), 1);

    // On the graph, the journey's path is highlighted and the rest dimmed.
    harness.get_by_role_and_label(Role::Button, "Show on graph").click();
    settle(&mut harness);
    assert_eq!(harness.state().view(), View::Flow);
    let snapshot = harness.state().snapshot().clone();
    for node in &snapshot.nodes {
        let view = harness.state().flow_view().node_view(node.id).expect("view");
        let on_path = node.label != "search";
        assert_eq!((view.highlighted, view.dimmed), (on_path, !on_path), "{}", node.label);
    }
    harness.get_by_role_and_label(Role::Button, "Clear").click();
    settle(&mut harness);
    let view = harness.state().flow_view();
    assert!(snapshot.nodes.iter().all(|n| !view.node_view(n.id).expect("view").dimmed));
}

/// A collector that received the saga, and the window on its Journeys tab listing both journeys.
fn journeys_window() -> (Collector, Harness<'static, EventLensApp>) {
    let collector = common::start_collector(1 << 20);
    send(&collector, &saga_spans());
    let mut harness = harness(&collector);
    harness.state_mut().set_view(View::Journeys);
    settle(&mut harness);
    assert_eq!(harness.state().journey_rows(), 2);
    (collector, harness)
}

#[test]
fn the_list_searches_and_follows_the_graph_selection() {
    let (_collector, mut harness) = journeys_window();
    harness.state_mut().journey_list_mut().search = "status:failed".into();
    settle(&mut harness);
    assert_eq!(harness.state().journey_rows(), 1);
    harness.state_mut().journey_list_mut().search = "status:nope".into();
    settle(&mut harness);
    harness.get_by_label_contains("unknown status `nope`");
    harness.state_mut().journey_list_mut().search.clear();

    // Selecting the search service in the graph limits the list to journeys through it.
    let search = harness.state().snapshot().nodes.iter().find(|n| n.label == "search").expect("node").id;
    harness.state_mut().select(Some(eventlens::ui::flow_view::Selection::Node(search)));
    settle(&mut harness);
    assert_eq!(harness.state().journey_rows(), 1);
    harness.get_by_label("GET /search");
    harness.get_by_label("only through search").click();
    settle(&mut harness);
    assert_eq!(harness.state().journey_rows(), 2);
}

/// A snapshot image of the waterfall (rendered on the CPU), so a change in how journeys are
/// drawn shows up in review.
#[test]
fn waterfall_snapshot() {
    let mut state = EngineState::default();
    state.apply_owned(Record::Spans(SpanBatch {
        received_unix_nano: 1_700_000_000_000_000_000,
        source: SourceKind::OtlpGrpc,
        spans: saga_spans(),
    }));
    let snapshot = state.snapshot(0);
    let order = snapshot.journeys.iter().find(|j| j.key() == Some("order-7")).expect("order journey").id;
    let detail = std::sync::Arc::new(JourneyDetail::build(&state.journeys(), order, state.kafka()).expect("detail"));
    let mut view = WaterfallView::default();
    view.sync(&detail);
    let mut harness = Harness::builder().with_size([1000.0, 260.0]).build_ui_state(
        move |ui, view: &mut WaterfallView| {
            view.show(ui, &detail, &eventlens::model::findings::FindingsView::default())
        },
        view,
    );
    harness.run();
    harness.snapshot("journey_waterfall");
}

#[test]
fn the_list_holds_still_under_the_pointer() {
    let (collector, mut harness) = journeys_window();
    harness.hover_at(egui::pos2(300.0, 110.0));
    settle(&mut harness);
    harness.get_by_label_contains("held while pointing");

    // A new journey arrives while the pointer is over the list: the rows stay put.
    let more = [eventlens::testing::span("search", "GET /more", eventlens::model::span::SpanKind::Server)
        .ids(77, 1)
        .at_ms(9_000, 5)
        .build()];
    common::post_spans(&collector, &more);
    common::wait_for(&collector, "third journey", |s| s.journeys.len() == 3);
    settle(&mut harness);
    assert_eq!(harness.state().journey_rows(), 2);

    harness.hover_at(egui::pos2(640.0, 700.0));
    settle(&mut harness);
    assert_eq!(harness.state().journey_rows(), 3);
}
