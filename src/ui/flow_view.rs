//! The flow graph canvas: mirrors the snapshot's nodes and edges into an egui_graphs graph,
//! keeps positions stable, and reports what the user clicked.

use std::collections::HashMap;

use egui::Pos2;
use egui_graphs::{GraphChange, GraphView, SettingsInteraction, SettingsNavigation, SettingsStyle};
use petgraph::Directed;
use petgraph::stable_graph::{DefaultIx, EdgeIndex, NodeIndex};

use super::flow_layout::{FixedLayout, FixedLayoutState, LayerPlacer};
use super::flow_shapes::{EdgeView, FlowEdgeShape, FlowNodeShape, NodeView};
use super::theme;
use crate::engine::snapshot::{EdgeSnapshot, NodeSnapshot, Snapshot};
use crate::model::flow_graph::EdgeKind;

type ViewGraph = egui_graphs::Graph<NodeView, EdgeView, Directed, DefaultIx, FlowNodeShape, FlowEdgeShape>;

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
    /// Fit the whole graph to the canvas every frame, until the user zooms or pans.
    pub auto_fit: bool,
}

impl Default for FlowView {
    fn default() -> Self {
        Self {
            graph: ViewGraph::new(),
            nodes: HashMap::new(),
            edges: HashMap::new(),
            placer: LayerPlacer::default(),
            auto_fit: true,
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

fn node_view(n: &NodeSnapshot, filter: &str, selection: Option<Selection>) -> NodeView {
    NodeView {
        id: n.id,
        kind: n.kind,
        label: n.label.clone(),
        detail: rate_text(n.rates[1], n.failures),
        failing: n.failures > 0,
        dimmed: !matches_filter(&n.label, filter),
        highlighted: selection == Some(Selection::Node(n.id)),
    }
}

fn edge_view(e: &EdgeSnapshot, dimmed: bool) -> EdgeView {
    let label =
        if e.kind == EdgeKind::Calls && e.count == 0 { String::new() } else { rate_text(e.rates[1], e.failures) };
    EdgeView {
        id: e.id,
        kind: e.kind,
        width: theme::edge_width(e.rates[1]),
        color: theme::edge_color(e.failure_ratio()),
        label,
        dimmed,
    }
}

impl FlowView {
    /// Brings the canvas up to date with a snapshot: new nodes are placed, existing ones
    /// keep their (possibly dragged) positions, every payload is refreshed.
    pub fn sync(&mut self, snapshot: &Snapshot, filter: &str, selection: Option<Selection>) {
        let has_new_nodes = snapshot.nodes.iter().any(|n| !self.nodes.contains_key(&n.id));
        let layers = if has_new_nodes { LayerPlacer::layers(snapshot) } else { HashMap::new() };
        for n in &snapshot.nodes {
            let view = node_view(n, filter, selection);
            match self.nodes.get(&n.id) {
                Some(&index) => {
                    if let Some(node) = self.graph.node_mut(index) {
                        *node.payload_mut() = view;
                    }
                }
                None => {
                    let pos = self.placer.place(layers.get(&n.id).copied().unwrap_or(0));
                    let index = self.graph.add_node_with_label_and_location(view, n.label.clone(), pos);
                    self.nodes.insert(n.id, index);
                }
            }
        }
        for e in &snapshot.edges {
            let dimmed =
                [e.from, e.to].iter().any(|id| snapshot.node(*id).is_some_and(|n| !matches_filter(&n.label, filter)));
            let view = edge_view(e, dimmed);
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
        let navigation = SettingsNavigation::new()
            .with_fit_to_screen_enabled(self.auto_fit)
            .with_zoom_and_pan_enabled(true)
            .with_fit_to_screen_padding(0.15);
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
                GraphChange::EdgeClicked { edge } | GraphChange::EdgeSelected { edge } => {
                    selection = self.graph.edge(edge).map(|e| Selection::Edge(e.payload().id));
                }
                GraphChange::Zoomed { .. } | GraphChange::Panned { .. } => self.auto_fit = false,
                _ => {}
            }
        }
        selection
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

    /// Number of nodes on the canvas.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}
