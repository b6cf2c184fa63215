//! The flow graph canvas: mirrors the snapshot's nodes and edges into an egui_graphs graph,
//! keeps positions stable, and reports what the user clicked.
//!
//! Routing edges around nodes and placing their labels are in their own files: the route
//! cache in [`flow_routes`](super::flow_routes), label placement in
//! [`flow_labels`](super::flow_labels). This file keeps what the canvas holds and how it
//! follows the snapshot and the user.

use std::collections::{HashMap, HashSet};

use egui::Pos2;
use egui_graphs::{GraphChange, GraphView, MetadataFrame, SettingsInteraction, SettingsNavigation, SettingsStyle};
use petgraph::Directed;
use petgraph::stable_graph::{DefaultIx, EdgeIndex, NodeIndex};

use super::flow_labels;
use super::flow_layout::{FixedLayout, FixedLayoutState, LayerPlacer};
use super::flow_routes::RouteCache;
use super::flow_shapes::{EdgeView, FlowEdgeShape, FlowNodeShape, NodeView};
use super::theme;
use crate::engine::snapshot::{EdgeSnapshot, NodeSnapshot, Snapshot};
use crate::model::flow_graph::EdgeKind;
use crate::model::journey::JourneyPath;
use crate::model::kafka::GroupStatus;

/// The canvas graph: snapshot nodes and edges as egui_graphs draws them.
pub(super) type ViewGraph = egui_graphs::Graph<NodeView, EdgeView, Directed, DefaultIx, FlowNodeShape, FlowEdgeShape>;

/// A node as drawn: its canvas position and view.
pub type DrawnNode<'a> = (Pos2, &'a NodeView);
/// An edge as drawn: its endpoints' centres, its view and its target's view.
pub type DrawnEdge<'a> = (Pos2, Pos2, &'a EdgeView, &'a NodeView);

/// What is selected in the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selection {
    /// A node, by snapshot id.
    Node(u32),
    /// An edge, by snapshot id.
    Edge(u32),
}

/// The canvas state.
pub struct FlowView {
    graph: ViewGraph,
    nodes: HashMap<u32, NodeIndex>,
    edges: HashMap<u32, EdgeIndex>,
    placer: LayerPlacer,
    /// Nodes placed while they had no edge (so their layer was a guess) and not dragged since:
    /// they are placed once more when their first edge arrives.
    unanchored: HashSet<u32>,
    /// Fit the whole graph to the canvas every frame, until the user zooms or pans.
    pub auto_fit: bool,
    /// Shapes and text relative to the theme's sizes (presentation mode enlarges them).
    pub scale: f32,
    /// Each edge's bow, and the node positions and scale they were routed for: routing looks
    /// at every node for every edge, so it runs again only when a node moved, came or went,
    /// or the shapes changed size.
    routes: RouteCache,
}

impl Default for FlowView {
    fn default() -> Self {
        Self {
            graph: ViewGraph::new(),
            nodes: HashMap::new(),
            edges: HashMap::new(),
            placer: LayerPlacer::default(),
            unanchored: HashSet::new(),
            auto_fit: true,
            scale: 1.0,
            routes: RouteCache::default(),
        }
    }
}

impl std::fmt::Debug for FlowView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlowView").field("nodes", &self.nodes.len()).field("edges", &self.edges.len()).finish()
    }
}

/// "12.5/s · 3 failed", the canvas' compact counter line.
pub fn rate_text(rate: f64, failures: u64) -> String {
    let rate = if rate >= 100.0 { format!("{rate:.0}/s") } else { format!("{rate:.1}/s") };
    if failures > 0 { format!("{rate} · {failures} failed") } else { rate }
}

fn matches_filter(label: &str, filter: &str) -> bool {
    filter.is_empty() || label.to_lowercase().contains(&filter.to_lowercase())
}

fn node_view(
    n: &NodeSnapshot,
    filter: &str,
    selection: Option<Selection>,
    path: Option<&JourneyPath>,
    scale: f32,
) -> NodeView {
    let on_path = path.map(|p| p.nodes.contains(&n.key));
    NodeView {
        id: n.id,
        kind: n.kind,
        label: n.label.clone(),
        detail: rate_text(n.counters.rates[1], n.counters.failures),
        failing: n.counters.failures > 0,
        dimmed: !matches_filter(&n.label, filter) || on_path == Some(false),
        highlighted: selection == Some(Selection::Node(n.id)) || on_path == Some(true),
        scale,
        findings: n.findings,
    }
}

fn edge_view(e: &EdgeSnapshot, dimmed: bool, scale: f32) -> EdgeView {
    let c = &e.counters;
    let mut label =
        if e.kind == EdgeKind::Calls && c.count == 0 { String::new() } else { rate_text(c.rates[1], c.failures) };
    // Lag from the cluster: the worst group's, coloured by its status when not OK.
    let worst = e.lag.iter().max_by_key(|l| (l.status, l.offsets));
    if let Some(l) = worst {
        label.push_str(&format!(" · lag {}", l.offsets));
    }
    let color = match worst.map(|l| l.status) {
        Some(status @ (GroupStatus::Warn | GroupStatus::Err)) if e.failure_ratio() == 0.0 => {
            theme::lag_status_color(status)
        }
        _ => theme::edge_color(e.failure_ratio()),
    };
    EdgeView {
        id: e.id,
        kind: e.kind,
        width: theme::edge_width(c.rates[1]),
        color,
        label,
        dimmed,
        scale,
        bow: 0.0,
        label_t: 0.5,
        findings: e.findings,
    }
}

impl FlowView {
    /// Brings the canvas up to date with a snapshot: new nodes are placed, existing ones
    /// keep their (possibly dragged) positions, every payload is refreshed. With a journey's
    /// `path`, its nodes and edges are highlighted and the rest dimmed.
    pub fn sync(
        &mut self,
        snapshot: &Snapshot,
        filter: &str,
        selection: Option<Selection>,
        path: Option<&JourneyPath>,
    ) {
        self.remove_gone(snapshot);
        // Only edges that carry traffic anchor a node: a topic a cluster reported, with just a
        // group's lag on it, is placed again once spans show who writes and reads it.
        let connected: HashSet<u32> =
            snapshot.edges.iter().filter(|e| e.counters.count > 0).flat_map(|e| [e.from, e.to]).collect();
        let to_anchor: HashSet<u32> = self.unanchored.intersection(&connected).copied().collect();
        let needs_layers = !to_anchor.is_empty() || snapshot.nodes.iter().any(|n| !self.nodes.contains_key(&n.id));
        let layers = if needs_layers { LayerPlacer::layers(snapshot) } else { HashMap::new() };
        let layer_of = |id: u32| layers.get(&id).copied().unwrap_or(0);
        for n in &snapshot.nodes {
            let view = node_view(n, filter, selection, path, self.scale);
            match self.nodes.get(&n.id) {
                Some(&index) => {
                    let anchor_now = to_anchor.contains(&n.id);
                    let pos = anchor_now.then(|| self.placer.place(n.id, layer_of(n.id)));
                    if let Some(node) = self.graph.node_mut(index) {
                        *node.payload_mut() = view;
                        if let Some(pos) = pos {
                            node.set_location(pos);
                        }
                    }
                    if anchor_now {
                        self.unanchored.remove(&n.id);
                    }
                }
                None => {
                    let pos = self.placer.place(n.id, layer_of(n.id));
                    let index = self.graph.add_node_with_label_and_location(view, n.label.clone(), pos);
                    self.nodes.insert(n.id, index);
                    if !connected.contains(&n.id) {
                        self.unanchored.insert(n.id);
                    }
                }
            }
        }
        for e in &snapshot.edges {
            let off_path = path.is_some_and(|p| {
                let key = |id: u32| snapshot.node(id).map(|n| n.key.clone());
                match (key(e.from), key(e.to)) {
                    (Some(from), Some(to)) => !p.edges.contains(&(from, to)),
                    _ => true,
                }
            });
            let dimmed = off_path
                || [e.from, e.to]
                    .iter()
                    .any(|id| snapshot.node(*id).is_some_and(|n| !matches_filter(&n.label, filter)));
            let view = edge_view(e, dimmed, self.scale);
            match self.edges.get(&e.id) {
                Some(&index) => {
                    if let Some(edge) = self.graph.edge_mut(index) {
                        *edge.payload_mut() = view;
                    }
                }
                None => {
                    let (Some(&from), Some(&to)) = (self.nodes.get(&e.from), self.nodes.get(&e.to)) else {
                        continue;
                    };
                    let index = self.graph.add_edge(from, to, view);
                    self.edges.insert(e.id, index);
                }
            }
        }
        self.place_labels();
    }

    /// Routes every edge and places its label ([`flow_labels::place_labels`]).
    fn place_labels(&mut self) {
        flow_labels::place_labels(&mut self.graph, &self.edges, &mut self.routes, self.scale);
    }

    /// Lays every node out afresh, left to right, undoing drags and the order in which nodes
    /// happened to arrive: layers as [`LayerPlacer::layers`], and within a layer, nodes
    /// ordered by the mean row of their upstream neighbours (fewer crossings), then by name.
    pub fn arrange(&mut self, snapshot: &Snapshot) {
        let layers = LayerPlacer::layers(snapshot);
        let layer_of = |id: u32| layers.get(&id).copied().unwrap_or(0);
        let mut by_layer: std::collections::BTreeMap<usize, Vec<&crate::engine::snapshot::NodeSnapshot>> =
            std::collections::BTreeMap::new();
        for n in &snapshot.nodes {
            by_layer.entry(layer_of(n.id)).or_default().push(n);
        }
        self.placer = LayerPlacer::default();
        let mut row_of: HashMap<u32, f32> = HashMap::new();
        for (layer, mut nodes) in by_layer {
            let upstream_mean = |id: u32| {
                let rows: Vec<f32> =
                    snapshot.edges.iter().filter(|e| e.to == id).filter_map(|e| row_of.get(&e.from).copied()).collect();
                if rows.is_empty() { f32::MAX } else { rows.iter().sum::<f32>() / rows.len() as f32 }
            };
            nodes.sort_by(|a, b| {
                upstream_mean(a.id).total_cmp(&upstream_mean(b.id)).then_with(|| a.label.cmp(&b.label))
            });
            for n in nodes {
                let pos = self.placer.place(n.id, layer);
                row_of.insert(n.id, pos.y);
                if let Some(node) = self.nodes.get(&n.id).and_then(|i| self.graph.node_mut(*i)) {
                    node.set_location(pos);
                }
            }
        }
        self.unanchored.clear();
        self.auto_fit = true;
        self.place_labels();
    }

    /// Drops what the snapshot no longer has (a cluster's group placeholder merged into the
    /// service that spans name for it). Edges first: removing a node takes its edges along.
    fn remove_gone(&mut self, snapshot: &Snapshot) {
        if self.nodes.len() == snapshot.nodes.len() && self.edges.len() == snapshot.edges.len() {
            return;
        }
        let gone_edges: Vec<u32> = self.edges.keys().filter(|id| snapshot.edge(**id).is_none()).copied().collect();
        for id in gone_edges {
            if let Some(index) = self.edges.remove(&id) {
                self.graph.remove_edge(index);
            }
        }
        let gone_nodes: Vec<u32> = self.nodes.keys().filter(|id| snapshot.node(**id).is_none()).copied().collect();
        for id in gone_nodes {
            if let Some(index) = self.nodes.remove(&id) {
                self.graph.remove_node(index);
                self.unanchored.remove(&id);
                self.placer.free(id);
            }
        }
    }

    /// Draws the canvas; returns a new selection when the user clicked a node or an edge.
    pub fn show(&mut self, ui: &mut egui::Ui) -> Option<Selection> {
        let interaction = SettingsInteraction::new()
            .with_dragging_enabled(true)
            .with_hover_enabled(true)
            .with_node_clicking_enabled(true)
            .with_node_selection_enabled(true)
            .with_edge_clicking_enabled(true)
            .with_edge_selection_enabled(true);
        if self.auto_fit {
            self.fit(ui);
        }
        let navigation = SettingsNavigation::new().with_fit_to_screen_enabled(false).with_zoom_and_pan_enabled(true);
        let response = GraphView::<FixedLayoutState, FixedLayout>::new()
            .with_interactions(&interaction)
            .with_navigations(&navigation)
            .with_styles(&SettingsStyle::new().with_labels_always(true))
            .show(ui, &mut self.graph);
        let mut selection = None;
        for change in response.changes {
            match change {
                GraphChange::NodeClicked { node } | GraphChange::NodeSelected { node } => {
                    selection = self.graph.node(node).map(|n| Selection::Node(n.payload().id));
                }
                GraphChange::NodeMoved { node, .. } | GraphChange::NodeDragStarted { node } => {
                    // Where the user puts a node is final.
                    if let Some(n) = self.graph.node(node) {
                        self.unanchored.remove(&n.payload().id);
                    }
                }
                GraphChange::EdgeClicked { edge } | GraphChange::EdgeSelected { edge } => {
                    selection = self.graph.edge(edge).map(|e| Selection::Edge(e.payload().id));
                }
                _ => {}
            }
        }
        // egui_graphs reports its own fits and resizes as pans and zooms too, so the user's
        // navigation is read from the input: a zoom gesture over the canvas, or dragging the
        // background (not a node).
        let canvas = &response.response;
        let zoomed = canvas.hovered() && ui.input(|i| (i.zoom_delta() - 1.0).abs() > f32::EPSILON);
        let panned = canvas.dragged() && self.graph.dragged_node().is_none() && canvas.drag_delta().length() > 0.5;
        if zoomed || panned {
            self.auto_fit = false;
        }
        selection
    }

    /// Zooms and pans so every node and its labels fit the canvas, never zooming in past
    /// [`theme::MAX_FIT_ZOOM`] (one lone node should not fill the window).
    fn fit(&self, ui: &mut egui::Ui) {
        let mut nodes = self.graph.nodes_iter().map(|(_, n)| n.location());
        let Some(first) = nodes.next() else { return };
        let (min, max) = nodes.fold((first, first), |(min, max), p| (min.min(p), max.max(p)));
        let (min, max) = (min - theme::FIT_MARGIN_TOP_LEFT, max + theme::FIT_MARGIN_BOTTOM_RIGHT);
        let extent = (max - min).max(egui::Vec2::splat(1.0));
        let size = ui.available_size();
        let zoom = (size.x / extent.x).min(size.y / extent.y).min(theme::MAX_FIT_ZOOM);
        let center = min + (max - min) / 2.0;
        let mut meta = MetadataFrame::new(None).load(ui);
        meta.zoom = zoom;
        meta.pan = size / 2.0 - center.to_vec2() * zoom;
        meta.save(ui);
    }

    /// A node's position on the canvas (canvas units).
    pub fn node_location(&self, id: u32) -> Option<Pos2> {
        Some(self.graph.node(*self.nodes.get(&id)?)?.location())
    }

    /// Where a node was last drawn on screen.
    pub fn node_screen_pos(&self, id: u32) -> Option<Pos2> {
        let index = self.nodes.get(&id)?;
        self.graph.node(*index)?.display().screen_pos
    }

    /// What a node currently shows (label, dimming, highlight).
    pub fn node_view(&self, id: u32) -> Option<&NodeView> {
        Some(self.graph.node(*self.nodes.get(&id)?)?.payload())
    }

    /// The label an edge currently shows (rate, failures, lag).
    pub fn edge_label(&self, id: u32) -> Option<&str> {
        Some(self.graph.edge(*self.edges.get(&id)?)?.payload().label.as_str())
    }

    /// What the canvas holds, for export: each node's position and view, and each edge's
    /// endpoints (node centres), view and target node, in id order.
    pub fn drawn(&self) -> (Vec<DrawnNode<'_>>, Vec<DrawnEdge<'_>>) {
        let mut nodes: Vec<DrawnNode<'_>> = self.graph.nodes_iter().map(|(_, n)| (n.location(), n.payload())).collect();
        nodes.sort_by_key(|(_, v)| v.id);
        let mut edges: Vec<DrawnEdge<'_>> = self
            .graph
            .edges_iter()
            .filter_map(|(index, e)| {
                let (from, to) = self.graph.edge_endpoints(index)?;
                let (from, to) = (self.graph.node(from)?, self.graph.node(to)?);
                Some((from.location(), to.location(), e.payload(), to.payload()))
            })
            .collect();
        edges.sort_by_key(|(_, _, e, _)| e.id);
        (nodes, edges)
    }

    /// Number of nodes on the canvas.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineState;
    use crate::model::record::{Record, SourceKind, SpanBatch};
    use crate::model::span::{Span, SpanKind};
    use crate::testing::{consumer_linked, producer, span};

    fn apply(state: &mut EngineState, spans: Vec<Span>) -> Snapshot {
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
        let layers = LayerPlacer::layers(&snapshot);
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
    fn arranging_lays_everything_out_afresh_left_to_right() {
        let mut state = EngineState::default();
        let mut view = FlowView::default();
        // Billing is first seen producing, so it is placed in the first layer and stays there
        // when its consumption of orders shows up later.
        let first = apply(&mut state, vec![producer("billing", "kafka", "invoices", 2, 3)]);
        view.sync(&first, "", None, None);
        let snapshot = apply(
            &mut state,
            vec![
                producer("checkout", "kafka", "orders", 1, 1),
                consumer_linked("billing", "kafka", "orders", 2, 2, (1, 1)),
                consumer_linked("mailer", "kafka", "invoices", 3, 4, (2, 3)),
            ],
        );
        view.sync(&snapshot, "", None, None);
        assert_eq!(view.node_location(id(&snapshot, "billing")).expect("placed").x, 0.0);
        view.arrange(&snapshot);
        let x = |label| view.node_location(id(&snapshot, label)).expect("placed").x / theme::LAYER_SPACING;
        assert_eq!(
            ["checkout", "kafka/orders", "billing", "kafka/invoices", "mailer"].map(x),
            [0.0, 1.0, 2.0, 3.0, 4.0]
        );
        // Afresh: every node on the first row of its layer.
        assert!(snapshot.nodes.iter().all(|n| view.node_location(n.id).expect("placed").y == 0.0));
    }

    #[test]
    fn layers_run_left_to_right_and_placed_nodes_stay_put() {
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

        // A new producer upstream of checkout would put checkout in a later layer; it stays put.
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
}
