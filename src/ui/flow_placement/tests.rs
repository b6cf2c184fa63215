//! The placement's tests: the layout following the graph, arranging, dragging, wrapping
//! and laying out off the frame.

use super::*;
use crate::engine::EngineState;
use crate::engine::snapshot::Snapshot;
use crate::model::record::{Record, SourceKind, SpanBatch};
use crate::model::span::{Span, SpanKind};
use crate::testing::{consumer_linked, producer, span};
use crate::ui::flow_view::FlowView;

/// `spans` applied to `state` as one batch, and the snapshot after it (shared with the
/// label placement's tests).
pub(in crate::ui) fn apply(state: &mut EngineState, spans: Vec<Span>) -> Snapshot {
    state.apply(&Record::Spans(SpanBatch { received_unix_nano: 0, source: SourceKind::File, spans }));
    state.snapshot(1)
}

fn id(snapshot: &Snapshot, label: &str) -> u32 {
    snapshot.nodes.iter().find(|n| n.label == label).map(|n| n.id).expect("node")
}

#[test]
fn a_saga_loop_does_not_stretch_the_layers() {
    // checkout -> orders -> payments -> payments topic -> checkout (the compensation).
    let mut state = EngineState::default();
    let snapshot = apply(
        &mut state,
        vec![
            producer("checkout", "kafka", "orders", 1, 1),
            consumer_linked("payments", "kafka", "orders", 2, 2, (1, 1)),
            producer("payments", "kafka", "payments", 2, 3),
            consumer_linked("checkout", "kafka", "payments", 4, 4, (2, 3)),
            consumer_linked("shipping", "kafka", "payments", 5, 5, (2, 3)),
        ],
    );
    let scoped = crate::ui::flow_scope::scoped(&snapshot, "", false, None, &Default::default());
    let input = LayoutInput::of(&scoped.nodes, &scoped.edges);
    let layers = layers(&input.nodes, &input.edges);
    let layer = |label| layers[&id(&snapshot, label)];
    assert_eq!(layer("shipping"), layer("kafka/payments") + 1);
    // Without cutting the loop, longest paths would run on up to the node count.
    assert!(layers.values().all(|l| *l <= 4), "{layers:?}");
    let mut view = FlowView::default();
    view.sync(&snapshot, "", None, None);
    let mut cells: Vec<_> = snapshot.nodes.iter().map(|n| view.node_location(n.id).expect("placed")).collect();
    cells.dedup();
    assert_eq!(cells.len(), snapshot.nodes.len(), "two nodes in one cell");
}

#[test]
fn the_layout_follows_the_graph_and_arranging_lays_it_out_afresh() {
    let mut state = EngineState::default();
    let mut view = FlowView::default();
    // Billing is first seen producing, so it starts in the first layer; once its
    // consumption of orders shows up, the layout moves it after orders.
    let first = apply(&mut state, vec![producer("billing", "kafka", "invoices", 2, 3)]);
    view.sync(&first, "", None, None);
    assert_eq!(view.node_location(id(&first, "billing")).expect("placed").x, 0.0);
    let snapshot = apply(
        &mut state,
        vec![
            producer("checkout", "kafka", "orders", 1, 1),
            consumer_linked("billing", "kafka", "orders", 2, 2, (1, 1)),
            consumer_linked("mailer", "kafka", "invoices", 3, 4, (2, 3)),
        ],
    );
    view.sync(&snapshot, "", None, None);
    let x = |view: &FlowView, label| view.node_location(id(&snapshot, label)).expect("placed").x / theme::LAYER_SPACING;
    let chain = ["checkout", "kafka/orders", "billing", "kafka/invoices", "mailer"];
    assert_eq!(chain.map(|l| x(&view, l)), [0.0, 1.0, 2.0, 3.0, 4.0]);
    // A chain runs straight: one row.
    let rows: Vec<f32> = chain.iter().map(|l| view.node_location(id(&snapshot, l)).expect("placed").y).collect();
    assert!(rows.iter().all(|y| *y == rows[0]), "{rows:?}");

    // Once the user has moved a node, nothing moves by itself; arranging lays it all
    // out afresh and follows the layout again.
    view.placement.user_moved(id(&snapshot, "billing"));
    let billing = view.nodes[&id(&snapshot, "billing")];
    view.graph.node_mut(billing).expect("billing").set_location(Pos2::new(900.0, 700.0));
    view.sync(&snapshot, "", None, None);
    assert_eq!(view.node_location(id(&snapshot, "billing")), Some(Pos2::new(900.0, 700.0)));
    assert!(!view.follows_layout());
    view.arrange();
    assert!(view.follows_layout());
    assert_eq!(chain.map(|l| x(&view, l)), [0.0, 1.0, 2.0, 3.0, 4.0]);
}

#[test]
fn once_the_user_moved_a_node_new_nodes_go_in_and_placed_ones_stay_put() {
    let mut state = EngineState::default();
    let mut view = FlowView::default();
    let first = apply(
        &mut state,
        vec![
            producer("checkout", "kafka", "orders", 1, 1),
            consumer_linked("billing", "kafka", "orders", 2, 2, (1, 1)),
        ],
    );
    view.sync(&first, "", None, None);
    let x = |view: &FlowView, snapshot: &Snapshot, label| view.node_location(id(snapshot, label)).expect("placed").x;
    assert_eq!(x(&view, &first, "checkout"), 0.0);
    assert_eq!(x(&view, &first, "kafka/orders"), theme::LAYER_SPACING);
    assert_eq!(x(&view, &first, "billing"), 2.0 * theme::LAYER_SPACING);
    view.placement.user_moved(id(&first, "billing"));

    // A new producer upstream of checkout would put checkout in a later layer; it stays
    // put, and the new nodes go into their layers' columns, under what is there.
    let before = view.node_location(id(&first, "checkout"));
    let second = apply(
        &mut state,
        vec![producer("gateway", "kafka", "carts", 3, 3), consumer_linked("checkout", "kafka", "carts", 4, 4, (3, 3))],
    );
    view.sync(&second, "", None, None);
    assert_eq!(view.node_location(id(&second, "checkout")), before);
    assert_eq!(view.node_location(id(&second, "gateway")), Some(Pos2::new(0.0, theme::ROW_SPACING)));
    assert_eq!(x(&view, &second, "kafka/carts"), theme::LAYER_SPACING);
}

#[test]
fn nodes_glide_to_a_new_layout_once_the_canvas_is_shown() {
    let mut state = EngineState::default();
    let mut view = FlowView::default();
    let first = apply(&mut state, vec![producer("billing", "kafka", "invoices", 2, 3)]);
    view.sync(&first, "", None, None);
    // Drawn once: from now on, moves are animated.
    assert_eq!(view.placement.step(&mut view.graph, 10.0), Step::Still);
    let second = apply(
        &mut state,
        vec![
            producer("checkout", "kafka", "orders", 1, 1),
            consumer_linked("billing", "kafka", "orders", 2, 2, (1, 1)),
        ],
    );
    view.sync(&second, "", None, None);
    let billing = id(&second, "billing");
    let target = Pos2::new(2.0 * theme::LAYER_SPACING, 0.0);
    assert_eq!(view.node_location(billing), Some(target), "where it is going");
    let drawn = |view: &FlowView| view.graph.node(view.nodes[&billing]).expect("billing").location();
    assert_eq!(drawn(&view), Pos2::ZERO, "still where it was");
    assert_eq!(view.placement.step(&mut view.graph, 20.0), Step::Moving);
    assert_eq!(view.placement.step(&mut view.graph, 20.0 + theme::LAYOUT_ANIMATION_SECONDS / 2.0), Step::Moving);
    let halfway = drawn(&view);
    assert!(halfway.x > 0.0 && halfway.x < target.x, "{halfway:?}");
    assert_eq!(view.placement.step(&mut view.graph, 20.0 + theme::LAYOUT_ANIMATION_SECONDS), Step::Arrived);
    assert_eq!(drawn(&view), target);
    // New nodes appear in place, without gliding in from elsewhere.
    assert_eq!(view.graph.node(view.nodes[&id(&second, "checkout")]).expect("checkout").location(), Pos2::ZERO);
}

#[test]
fn a_topic_seen_first_from_its_consumer_still_sits_after_its_producers() {
    let mut state = EngineState::default();
    let mut view = FlowView::default();
    let first = apply(
        &mut state,
        vec![span("billing", "process", SpanKind::Consumer).ids(2, 2).messaging("kafka", "orders", "process").build()],
    );
    view.sync(&first, "", None, None);
    let second = apply(&mut state, vec![producer("checkout", "kafka", "orders", 1, 1)]);
    view.sync(&second, "", None, None);
    let x = |label| view.node_location(id(&second, label)).expect("placed").x;
    assert_eq!(
        (x("checkout"), x("kafka/orders"), x("billing")),
        (0.0, theme::LAYER_SPACING, 2.0 * theme::LAYER_SPACING)
    );
}

#[test]
fn a_topic_known_only_from_its_cluster_is_placed_again_when_spans_show_its_producer() {
    use crate::model::kafka::observation::{CommittedOffset, OffsetPoll, Watermark};
    use crate::model::kafka::{KafkaEvent, KafkaRecord};
    let mut state = EngineState::default();
    let mut view = FlowView::default();
    // The cluster reports a group lagging on orders before any span names either.
    let poll = OffsetPoll {
        watermarks: vec![Watermark { topic: "payments".into(), partition: 0, low: 0, high: 9 }],
        commits: vec![CommittedOffset {
            group: "shipping".into(),
            topic: "payments".into(),
            partition: 0,
            offset: 2,
            oldest_unconsumed_ms: None,
        }],
    };
    let event = KafkaEvent::Offsets(poll);
    state.apply(&Record::Kafka(KafkaRecord { received_unix_nano: 0, cluster: "c".into(), event }));
    let first = state.snapshot(1);
    view.sync(&first, "", None, None);
    assert_eq!(view.node_location(id(&first, "kafka/payments")).expect("placed").x, theme::LAYER_SPACING);
    // Spans: checkout -> orders -> payments -> payments topic.
    let second = apply(
        &mut state,
        vec![
            producer("checkout", "kafka", "orders", 1, 1),
            consumer_linked("payments", "kafka", "orders", 2, 2, (1, 1)),
            producer("payments", "kafka", "payments", 2, 3),
        ],
    );
    view.sync(&second, "", None, None);
    assert_eq!(view.node_location(id(&second, "payments")).expect("placed").x, 2.0 * theme::LAYER_SPACING);
    assert_eq!(
        view.node_location(id(&second, "kafka/payments")).expect("placed").x,
        3.0 * theme::LAYER_SPACING,
        "the topic moves right of its producer once, as a lone node would"
    );
}

#[test]
fn a_lone_node_is_placed_again_when_its_first_edge_arrives() {
    let mut state = EngineState::default();
    let mut view = FlowView::default();
    // The server span arrives first: pricing has no edge yet.
    let first = apply(&mut state, vec![span("pricing", "GET", SpanKind::Server).ids(5, 2).parent(1).build()]);
    view.sync(&first, "", None, None);
    assert_eq!(view.node_location(id(&first, "pricing")).expect("placed").x, 0.0);
    let second = apply(&mut state, vec![span("checkout", "GET", SpanKind::Client).ids(5, 1).build()]);
    view.sync(&second, "", None, None);
    assert_eq!(view.node_location(id(&second, "pricing")).expect("placed").x, theme::LAYER_SPACING);
    assert_eq!(view.node_location(id(&second, "checkout")).expect("placed").x, 0.0);
}

#[test]
fn enlarged_shapes_get_spacing_to_match() {
    let mut state = EngineState::default();
    let mut view = FlowView::default();
    let snapshot = apply(
        &mut state,
        vec![
            producer("checkout", "kafka", "orders", 1, 1),
            consumer_linked("billing", "kafka", "orders", 2, 2, (1, 1)),
        ],
    );
    view.sync(&snapshot, "", None, None);
    let billing = id(&snapshot, "billing");
    let before = view.node_location(billing).expect("placed");
    assert_eq!(before.x, 2.0 * theme::LAYER_SPACING);
    let input = view.layout_input.clone();
    view.placement.fit_window((usize::MAX, 1.3), &mut view.graph, &view.nodes, &input);
    assert_eq!(view.node_location(billing), Some(before * 1.3));
}

/// `chains` producers, each sending to a topic of its own that a consumer reads: three
/// nodes a chain.
fn chains(chains: u64) -> Vec<Span> {
    (0..chains)
        .flat_map(|i| {
            let topic = format!("topic-{i}");
            [
                producer(&format!("producer-{i}"), "kafka", &topic, 1, 2 * i + 1),
                consumer_linked(&format!("consumer-{i}"), "kafka", &topic, 2, 2 * i + 2, (1, 2 * i + 1)),
            ]
        })
        .collect()
}

#[test]
fn a_large_graph_is_laid_out_off_the_frame_and_its_nodes_go_where_a_layout_on_the_spot_puts_them() {
    let mut state = EngineState::default();
    let snapshot = apply(&mut state, chains(200));

    // Without a window to wake, the layout is made on the spot.
    let mut on_the_spot = FlowView::default();
    on_the_spot.sync(&snapshot, "", None, None);
    assert!(!on_the_spot.placement.laying_out());

    let mut view = FlowView::default();
    view.placement.wake_with(&egui::Context::default());
    view.sync(&snapshot, "", None, None);
    assert!(view.placement.laying_out(), "laid out on the frame");
    // Meanwhile each node shown waits in its layer's column, no two in one place.
    let shown: Vec<u32> = view.layout_input.nodes.iter().map(|n| n.id).collect();
    assert!(shown.len() > LAYOUT_ON_FRAME_NODES, "{} nodes shown", shown.len());
    let mut waiting: Vec<(i64, i64)> =
        shown.iter().map(|id| view.node_location(*id).expect("placed")).map(|p| (p.x as i64, p.y as i64)).collect();
    waiting.sort_unstable();
    waiting.dedup();
    assert_eq!(waiting.len(), shown.len(), "two waiting nodes in one place");

    let input = view.layout_input.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !view.placement.poll(&mut view.graph, &view.nodes, &input) {
        assert!(std::time::Instant::now() < deadline, "no layout within 30 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    assert!(!view.placement.laying_out());
    for id in shown {
        assert_eq!(view.node_location(id), on_the_spot.node_location(id), "node {id}");
    }
}

#[test]
fn a_layout_that_comes_after_the_user_dragged_a_node_moves_nothing() {
    let mut state = EngineState::default();
    let snapshot = apply(&mut state, chains(200));
    let mut view = FlowView::default();
    view.placement.wake_with(&egui::Context::default());
    view.sync(&snapshot, "", None, None);
    let dragged = snapshot.nodes[0].id;
    let before: Vec<_> = snapshot.nodes.iter().map(|n| view.node_location(n.id)).collect();
    view.placement.user_moved(dragged);
    let input = view.layout_input.clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while view.placement.laying_out() {
        assert!(!view.placement.poll(&mut view.graph, &view.nodes, &input), "nodes sent to the layout");
        assert!(std::time::Instant::now() < deadline, "no layout within 30 s");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    let after: Vec<_> = snapshot.nodes.iter().map(|n| view.node_location(n.id)).collect();
    assert_eq!(before, after);
}

#[test]
fn the_auto_layout_switch_pins_nodes_and_turned_back_on_returns_a_dragged_one_to_its_place() {
    let mut state = EngineState::default();
    let mut view = FlowView::default();
    let snapshot = apply(
        &mut state,
        vec![
            producer("checkout", "kafka", "orders", 1, 1),
            consumer_linked("billing", "kafka", "orders", 2, 2, (1, 1)),
        ],
    );
    view.sync(&snapshot, "", None, None);
    let billing = id(&snapshot, "billing");
    let laid_out = view.node_location(billing).expect("placed");

    // The user drags billing away: the layout stops moving nodes by itself.
    let index = view.nodes[&billing];
    let dragged = laid_out + egui::vec2(40.0, 300.0);
    view.graph.node_mut(index).expect("drawn").set_location(dragged);
    view.placement.user_moved(billing);
    assert!(!view.follows_layout());

    // Switching it off again changes nothing; on, billing goes back where the layout has it.
    view.set_follows_layout(false);
    assert_eq!(view.node_location(billing), Some(dragged));
    view.set_follows_layout(true);
    assert!(view.follows_layout());
    assert_eq!(view.node_location(billing), Some(laid_out));

    // Switched off in the middle of a glide, nodes arrive at once and stay there.
    view.placement.step(&mut view.graph, 0.0);
    view.graph.node_mut(index).expect("drawn").set_location(dragged);
    view.arrange();
    assert!(view.placement.animating(), "once shown, nodes glide back");
    view.set_follows_layout(false);
    assert!(!view.placement.animating());
    assert_eq!(view.graph.node(index).expect("drawn").location(), laid_out);
}
