//! Where the flow canvas puts its nodes. Until the user drags one, the whole graph follows
//! the layered layout ([`flow_layered`](super::flow_layered)) as it grows: each change lays
//! it out again seeded with the layout before, and nodes glide to their new places in a
//! short animation rather than jump. Once the user has dragged a node, the positions are
//! theirs: nothing already placed moves, and a new node goes in its layer's column under
//! the nodes there. Arrange lays everything out afresh and follows the layout again.

use std::collections::{HashMap, HashSet};

use egui::Pos2;
use petgraph::stable_graph::NodeIndex;

use super::flow_layered::{Cell, Layered, LayoutNode, layers};
use super::flow_scope::{ShownEdge, ShownNode};
use super::flow_view::ViewGraph;
use super::theme;
use crate::model::flow_graph::NodeKind;

/// What the layout takes: the shown nodes and edges (see [`flow_scope`](super::flow_scope)),
/// and which nodes have an edge carrying traffic.
#[derive(Clone, Debug, Default)]
pub struct LayoutInput {
    /// Nodes, by id.
    pub nodes: Vec<LayoutNode>,
    /// Edges, from and to.
    pub edges: Vec<(u32, u32)>,
    /// Nodes with an edge that carried messages.
    pub connected: HashSet<u32>,
}

impl LayoutInput {
    /// The layout's view of what the canvas shows.
    pub fn of(nodes: &[ShownNode<'_>], edges: &[ShownEdge<'_>]) -> Self {
        Self {
            nodes: nodes
                .iter()
                .map(|n| LayoutNode { id: n.id, destination: n.kind == NodeKind::Destination })
                .collect(),
            edges: edges.iter().map(|e| (e.from, e.to)).collect(),
            connected: edges.iter().filter(|e| e.count > 0).flat_map(|e| [e.from, e.to]).collect(),
        }
    }
}

/// A cell's place on the canvas, for shapes `scale` times the theme's size (presentation
/// mode enlarges them, and the spacing with them).
pub fn position(cell: Cell, scale: f32) -> Pos2 {
    Pos2::new(cell.column as f32 * theme::LAYER_SPACING, cell.row * theme::ROW_SPACING) * scale
}

/// Nodes on their way from one place to another.
#[derive(Debug)]
struct Animation {
    /// Each moving node's start and end.
    moves: HashMap<NodeIndex, (Pos2, Pos2)>,
    /// When it started (the first frame drawn after it was set up).
    started: Option<f64>,
}

/// What a frame of the animation did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Nothing is moving.
    Still,
    /// Nodes moved and will move on next frame.
    Moving,
    /// The last nodes reached their places this frame.
    Arrived,
}

/// The canvas' placement state.
#[derive(Debug)]
pub struct Placement {
    /// Follow the layered layout as the graph changes; off once the user drags a node.
    pub auto: bool,
    /// The last layout, which seeds the next.
    layered: Option<Layered>,
    /// Layers per band (see [`Layered::cells`]).
    per_band: usize,
    /// The shapes' scale, which the spacing follows.
    scale: f32,
    animation: Option<Animation>,
    /// Whether the canvas was drawn yet: the first placement does not animate.
    shown: bool,
    /// With `auto` off, nodes placed while they had no edge (their layer a guess) and not
    /// dragged since: placed once more when their first edge arrives.
    unanchored: HashSet<u32>,
}

impl Default for Placement {
    fn default() -> Self {
        Self {
            auto: true,
            layered: None,
            per_band: usize::MAX,
            scale: 1.0,
            animation: None,
            shown: false,
            unanchored: HashSet::new(),
        }
    }
}

impl Placement {
    /// Places what changed in what the canvas shows (`input`): with `auto`, lays the whole
    /// graph out again (seeded with the last layout); without, places the `added` nodes and
    /// the unanchored ones that now have an edge carrying traffic, leaving the rest where
    /// they are.
    pub fn follow(
        &mut self,
        graph: &mut ViewGraph,
        nodes: &HashMap<u32, NodeIndex>,
        input: &LayoutInput,
        added: &[u32],
    ) {
        if self.auto {
            self.layered = Some(Layered::new(&input.nodes, &input.edges, self.layered.as_ref(), self.per_band));
            self.move_to_layout(graph, nodes, added);
            return;
        }
        let connected = &input.connected;
        let mut to_place: Vec<u32> = self.unanchored.intersection(connected).copied().collect();
        to_place.extend(added.iter().copied());
        if to_place.is_empty() {
            return;
        }
        to_place.sort_unstable();
        to_place.dedup();
        let layer = layers(&input.nodes, &input.edges);
        for id in to_place {
            let Some(&index) = nodes.get(&id) else { continue };
            let spacing = theme::LAYER_SPACING * self.scale;
            let column_x = layer.get(&id).copied().unwrap_or(0) as f32 * spacing;
            // Under the lowest node already in that column.
            let lowest = graph
                .nodes_iter()
                .filter(|(i, n)| *i != index && (n.location().x - column_x).abs() < spacing / 2.0)
                .map(|(_, n)| n.location().y)
                .fold(None, |low: Option<f32>, y| Some(low.map_or(y, |l| l.max(y))));
            let y = lowest.map_or(0.0, |y| y + theme::ROW_SPACING * self.scale);
            if let Some(node) = graph.node_mut(index) {
                node.set_location(Pos2::new(column_x, y));
            }
            if connected.contains(&id) {
                self.unanchored.remove(&id);
            } else {
                self.unanchored.insert(id);
            }
        }
    }

    /// Lays every node out afresh (undoing drags and the order of arrival) and follows the
    /// layout again from now on.
    pub fn arrange(&mut self, graph: &mut ViewGraph, nodes: &HashMap<u32, NodeIndex>, input: &LayoutInput) {
        self.auto = true;
        self.unanchored.clear();
        self.layered = Some(Layered::new(&input.nodes, &input.edges, None, self.per_band));
        self.move_to_layout(graph, nodes, &[]);
    }

    /// Fits the layout to the window: bands of at most `per_band` layers (from its width),
    /// spacing for shapes `scale` times the theme's. When that changes how the layers wrap,
    /// lays `input` out again; when it changes where nodes go, moves them. True when nodes
    /// moved (at once before the first frame, so no animation will say when they arrive).
    pub fn fit_window(
        &mut self,
        (per_band, scale): (usize, f32),
        graph: &mut ViewGraph,
        nodes: &HashMap<u32, NodeIndex>,
        input: &LayoutInput,
    ) -> bool {
        let per_band = per_band.max(2);
        let rescaled = (scale - self.scale).abs() > f32::EPSILON;
        if per_band == self.per_band && !rescaled {
            return false;
        }
        let layers = self.layered.as_ref().map_or(0, Layered::layer_count);
        let wraps = |most: usize| layers.div_ceil(most);
        let rewrapped = wraps(per_band) != wraps(self.per_band);
        self.per_band = per_band;
        self.scale = scale;
        if !self.auto || self.layered.is_none() {
            return false;
        }
        if rewrapped {
            self.layered = Some(Layered::new(&input.nodes, &input.edges, self.layered.as_ref(), per_band));
        }
        if rewrapped || rescaled {
            self.move_to_layout(graph, nodes, &[]);
            return true;
        }
        false
    }

    /// Sends every node to its cell in the layout: at once the first time and for `added`
    /// nodes, else in an animation.
    fn move_to_layout(&mut self, graph: &mut ViewGraph, nodes: &HashMap<u32, NodeIndex>, added: &[u32]) {
        let Some(layered) = &self.layered else { return };
        let cells = layered.cells();
        let added: HashSet<u32> = added.iter().copied().collect();
        let mut moves = HashMap::new();
        for (id, cell) in cells {
            let Some(&index) = nodes.get(&id) else { continue };
            let Some(node) = graph.node_mut(index) else { continue };
            let to = position(cell, self.scale);
            // From where it is now: mid-way, if an earlier animation is still running.
            let from = node.location();
            if !self.shown || added.contains(&id) {
                node.set_location(to);
            } else if from != to {
                moves.insert(index, (from, to));
            }
        }
        self.animation = (!moves.is_empty()).then_some(Animation { moves, started: None });
    }

    /// Moves the animated nodes to where they are at `now` (seconds, egui's clock).
    pub fn step(&mut self, graph: &mut ViewGraph, now: f64) -> Step {
        self.shown = true;
        let Some(animation) = &mut self.animation else { return Step::Still };
        let started = *animation.started.get_or_insert(now);
        let t = (((now - started) / theme::LAYOUT_ANIMATION_SECONDS).clamp(0.0, 1.0)) as f32;
        // Ease out: fast at first, settling gently.
        let eased = 1.0 - (1.0 - t).powi(3);
        for (index, (from, to)) in &animation.moves {
            if let Some(node) = graph.node_mut(*index) {
                node.set_location(from.lerp(*to, eased));
            }
        }
        if t < 1.0 {
            return Step::Moving;
        }
        self.animation = None;
        Step::Arrived
    }

    /// Where a node is going (during an animation), or `None` when it is not moving.
    pub fn target(&self, index: NodeIndex) -> Option<Pos2> {
        self.animation.as_ref()?.moves.get(&index).map(|(_, to)| *to)
    }

    /// Whether nodes are moving.
    pub fn animating(&self) -> bool {
        self.animation.is_some()
    }

    /// The user dragged a node: where they put it is final, and the layout no longer moves
    /// anything by itself.
    pub fn user_moved(&mut self, id: u32) {
        self.auto = false;
        self.animation = None;
        self.unanchored.remove(&id);
    }

    /// A node left the graph.
    pub fn forget(&mut self, id: u32) {
        self.unanchored.remove(&id);
    }
}

#[cfg(test)]
pub(super) mod tests {
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
        let x =
            |view: &FlowView, label| view.node_location(id(&snapshot, label)).expect("placed").x / theme::LAYER_SPACING;
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
        let x =
            |view: &FlowView, snapshot: &Snapshot, label| view.node_location(id(snapshot, label)).expect("placed").x;
        assert_eq!(x(&view, &first, "checkout"), 0.0);
        assert_eq!(x(&view, &first, "kafka/orders"), theme::LAYER_SPACING);
        assert_eq!(x(&view, &first, "billing"), 2.0 * theme::LAYER_SPACING);
        view.placement.user_moved(id(&first, "billing"));

        // A new producer upstream of checkout would put checkout in a later layer; it stays
        // put, and the new nodes go into their layers' columns, under what is there.
        let before = view.node_location(id(&first, "checkout"));
        let second = apply(
            &mut state,
            vec![
                producer("gateway", "kafka", "carts", 3, 3),
                consumer_linked("checkout", "kafka", "carts", 4, 4, (3, 3)),
            ],
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
            vec![
                span("billing", "process", SpanKind::Consumer)
                    .ids(2, 2)
                    .messaging("kafka", "orders", "process")
                    .build(),
            ],
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
}
