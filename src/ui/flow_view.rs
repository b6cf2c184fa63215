//! The flow graph canvas: mirrors the snapshot's nodes and edges into an egui_graphs graph,
//! keeps positions stable, and reports what the user clicked.
//!
//! Routing edges around nodes and placing their labels are in their own files: the route
//! cache in [`flow_routes`](super::flow_routes), label placement in
//! [`flow_labels`](super::flow_labels). This file keeps what the canvas holds and how it
//! follows the snapshot and the user.

use std::collections::{HashMap, HashSet};

use egui::{Pos2, Rect};
use egui_graphs::{GraphChange, GraphView, MetadataFrame, SettingsInteraction, SettingsNavigation, SettingsStyle};
use petgraph::Directed;
use petgraph::stable_graph::{DefaultIx, EdgeIndex, NodeIndex};

use super::flow_fit::{self, ViewMotion, ViewTransform};
use super::flow_labels;
use super::flow_layout::{FixedLayout, FixedLayoutState};
use super::flow_placement::{LayoutInput, Placement, Step};
use super::flow_routes::RouteCache;
use super::flow_scope::{self, Focus, GroupKey, Grouping, ShownEdge, ShownNode, matches_filter};
use super::flow_shapes::{EdgeView, FlowEdgeShape, FlowNodeShape, NodeView};
use super::flow_text::{TextSize, TextWidths};
use super::theme;
use crate::engine::snapshot::Snapshot;
use crate::model::depth::DepthStatus;
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
    pub(super) graph: ViewGraph,
    pub(super) nodes: HashMap<u32, NodeIndex>,
    pub(super) edges: HashMap<u32, EdgeIndex>,
    /// Where nodes go: the layered layout as the graph grows, until the user drags one.
    pub(super) placement: Placement,
    /// Fit the whole graph to the canvas every frame, until the user zooms or pans.
    pub auto_fit: bool,
    /// Shapes and text relative to the theme's sizes (presentation mode enlarges them).
    pub scale: f32,
    /// The least text size drawn, in points: [`theme::MIN_TEXT_SIZE`], or
    /// [`theme::presentation_text_floor`] in presentation mode (the same on screen).
    pub text_floor: f32,
    /// The width the details panel takes from the canvas while it is open: layers wrap into
    /// bands as wide as the canvas without it, so selecting a node does not re-wrap the
    /// graph (it scrolls instead, its text as large as before).
    pub side_panel_width: f32,
    /// Hide the nodes the filter does not match, rather than dim them.
    pub hide_unmatched: bool,
    /// Show only a node and what is within some hops of it.
    pub focus: Option<Focus>,
    /// Whether groups fold into boxes, and which are open.
    pub grouping: Grouping,
    /// The folded groups shown, by node id (a click opens one).
    folded: HashMap<u32, GroupKey>,
    /// The groups the user opened that would fold, for the way back.
    opened: Vec<GroupKey>,
    /// Whether groups fold in what is shown.
    folds: bool,
    /// What the last layout was of.
    pub(super) layout_input: LayoutInput,
    /// Each edge's bow, and the node positions and scale they were routed for: routing looks
    /// at every node for every edge, so it runs again only when a node moved, came or went,
    /// or the shapes changed size.
    routes: RouteCache,
    /// How wide labels are: measured with the window's fonts once a frame was drawn.
    widths: TextWidths,
    /// The view on its way to a fit.
    view_motion: ViewMotion,
    /// The node the context menu was opened on.
    menu_node: Option<u32>,
}

impl Default for FlowView {
    fn default() -> Self {
        Self {
            graph: ViewGraph::new(),
            nodes: HashMap::new(),
            edges: HashMap::new(),
            placement: Placement::default(),
            auto_fit: true,
            scale: 1.0,
            text_floor: theme::MIN_TEXT_SIZE,
            side_panel_width: 0.0,
            hide_unmatched: false,
            focus: None,
            grouping: Grouping::default(),
            folded: HashMap::new(),
            opened: Vec::new(),
            folds: false,
            layout_input: LayoutInput::default(),
            routes: RouteCache::default(),
            widths: TextWidths::default(),
            view_motion: ViewMotion::default(),
            menu_node: None,
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

/// `unmatched`: no member of the node matches the filter box.
fn node_view(
    n: &ShownNode<'_>,
    unmatched: bool,
    selection: Option<Selection>,
    path: Option<&JourneyPath>,
    (scale, text_floor): (f32, f32),
    widths: &TextWidths,
) -> NodeView {
    let on_path = path.map(|p| n.members.iter().any(|m| p.nodes.contains(&m.key)));
    let mut detail = rate_text(n.rate, n.failures);
    // A RabbitMQ queue's depth, summed over the members (one, unless folded).
    let queues = n.members.iter().filter_map(|m| m.queue.as_ref());
    let (queued, ready) = queues.fold((false, 0), |(_, ready), q| (true, ready + q.ready + q.unacked));
    if queued {
        detail.push_str(&format!(" · {ready} queued"));
    }
    let text_width = widths.node(&n.label, &detail);
    NodeView {
        id: n.id,
        kind: n.kind,
        label: n.label.clone(),
        detail,
        failing: n.failures > 0,
        dimmed: unmatched || on_path == Some(false),
        highlighted: selection == Some(Selection::Node(n.id)) || on_path == Some(true),
        scale,
        text_floor,
        findings: n.findings,
        folded: if n.group.is_some() { n.members.len() } else { 0 },
        text_width,
    }
}

fn edge_view(
    e: &ShownEdge<'_>,
    (dimmed, highlighted): (bool, bool),
    (scale, text_floor): (f32, f32),
    widths: &TextWidths,
) -> EdgeView {
    let mut label = match e.kind {
        EdgeKind::Calls if e.count == 0 => String::new(),
        // An exchange's route: its binding keys (what decides which messages take it).
        EdgeKind::Routes => {
            let keys: Vec<&str> = e.members.iter().flat_map(|m| m.routing_keys.iter().map(String::as_str)).collect();
            keys.join(", ")
        }
        _ => rate_text(e.rate, e.failures),
    };
    // Lag from the cluster: the worst group's, coloured by its status when not OK.
    if let Some(l) = e.lag {
        label.push_str(&format!(" · lag {}", l.offsets));
    }
    // Depth from a NATS server: the worst consumer's, the same way.
    let depth = e.members.iter().flat_map(|m| m.depth.iter()).max_by_key(|d| (d.status, d.pending + d.ack_pending));
    if let Some(d) = depth {
        label.push_str(&format!(" · pending {}", d.pending + d.ack_pending));
    }
    // Else a RabbitMQ queue's status, on the edges to its consumers.
    let queue = e.members.iter().filter_map(|m| m.queue_status).max();
    let color = match (e.lag.map(|l| l.status), depth.map(|d| d.status).or(queue)) {
        _ if e.failure_ratio() > 0.0 => theme::edge_color(e.failure_ratio()),
        (Some(status @ (GroupStatus::Warn | GroupStatus::Err)), _) => theme::lag_status_color(status),
        (_, Some(status @ (DepthStatus::Warn | DepthStatus::Stall | DepthStatus::Stop))) => {
            theme::depth_status_color(status)
        }
        _ => theme::edge_color(e.failure_ratio()),
    };
    EdgeView {
        id: e.id,
        kind: e.kind,
        label_width: widths.width(&label, TextSize::Detail),
        width: theme::edge_width(e.rate),
        color,
        label,
        dimmed,
        scale,
        text_floor,
        bow: 0.0,
        label_t: 0.5,
        label_hidden: false,
        findings: e.findings,
        highlighted,
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
        let scoped = flow_scope::scoped(snapshot, filter, self.hide_unmatched, self.focus, &self.grouping);
        let mut changed = self.remove_gone(&scoped);
        let mut added = Vec::new();
        let mut dimmed_by_filter = HashSet::new();
        for n in &scoped.nodes {
            let unmatched = !n.members.iter().any(|m| matches_filter(&m.label, filter));
            if unmatched {
                dimmed_by_filter.insert(n.id);
            }
            let view = node_view(n, unmatched, selection, path, (self.scale, self.text_floor), &self.widths);
            match self.nodes.get(&n.id) {
                Some(&index) => {
                    if let Some(node) = self.graph.node_mut(index) {
                        *node.payload_mut() = view;
                    }
                }
                None => {
                    let index = self.graph.add_node_with_label_and_location(view, n.label.clone(), Pos2::ZERO);
                    self.nodes.insert(n.id, index);
                    added.push(n.id);
                }
            }
        }
        changed |= !added.is_empty();
        for e in &scoped.edges {
            let off_path = path.is_some_and(|p| {
                let key = |id: u32| snapshot.node(id).map(|n| &n.key);
                !e.members.iter().any(|m| match (key(m.from), key(m.to)) {
                    (Some(from), Some(to)) => p.edges.iter().any(|(a, b)| a == from && b == to),
                    _ => false,
                })
            });
            let dimmed = off_path || dimmed_by_filter.contains(&e.from) || dimmed_by_filter.contains(&e.to);
            let highlighted = selection == Some(Selection::Edge(e.id));
            let view = edge_view(e, (dimmed, highlighted), (self.scale, self.text_floor), &self.widths);
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
                    changed = true;
                }
            }
        }
        self.folded = scoped.nodes.iter().filter_map(|n| Some((n.id, n.group.clone()?))).collect();
        self.opened = scoped.opened;
        self.folds = scoped.folds;
        if changed {
            self.layout_input = LayoutInput::of(&scoped.nodes, &scoped.edges);
            self.placement.follow(&mut self.graph, &self.nodes, &self.layout_input, &added);
        }
        // While nodes glide, edges are routed once they arrive.
        if !self.placement.animating() {
            self.place_labels();
        }
    }

    /// Routes every edge and places its label ([`flow_labels::place_labels`]).
    fn place_labels(&mut self) {
        flow_labels::place_labels(&mut self.graph, &self.edges, &mut self.routes, self.scale);
    }

    /// Lays every node out afresh, undoing drags and the order in which nodes happened to
    /// arrive, and follows the layout again as the graph grows (see
    /// [`flow_placement`](super::flow_placement)).
    pub fn arrange(&mut self) {
        self.placement.arrange(&mut self.graph, &self.nodes, &self.layout_input);
        self.auto_fit = true;
        if !self.placement.animating() {
            self.place_labels();
        }
    }

    /// Whether nodes follow the layout by themselves (until the user drags one).
    pub fn follows_layout(&self) -> bool {
        self.placement.auto
    }

    /// Lets nodes follow the layout again, moving as little as they can, or pins them where
    /// they are (see [`Placement::set_auto`]).
    pub fn set_follows_layout(&mut self, on: bool) {
        self.placement.set_auto(on, &mut self.graph, &self.nodes, &self.layout_input);
        if !self.placement.animating() {
            self.place_labels();
        }
    }

    /// Drops what is no longer shown: what the snapshot no longer has (a cluster's group
    /// placeholder merged into the service that spans name for it), what the filter or focus
    /// hides, what folded into a group or came out of one. Edges first: removing a node
    /// takes its edges along. True when anything was dropped.
    fn remove_gone(&mut self, scoped: &flow_scope::Scoped<'_>) -> bool {
        let node_ids: HashSet<u32> = scoped.nodes.iter().map(|n| n.id).collect();
        let edge_ids: HashSet<u32> = scoped.edges.iter().map(|e| e.id).collect();
        let gone_edges: Vec<u32> = self.edges.keys().filter(|id| !edge_ids.contains(id)).copied().collect();
        let mut gone = !gone_edges.is_empty();
        for id in gone_edges {
            if let Some(index) = self.edges.remove(&id) {
                self.graph.remove_edge(index);
            }
        }
        let gone_nodes: Vec<u32> = self.nodes.keys().filter(|id| !node_ids.contains(id)).copied().collect();
        gone |= !gone_nodes.is_empty();
        for id in gone_nodes {
            if let Some(index) = self.nodes.remove(&id) {
                self.graph.remove_node(index);
                self.placement.forget(id);
            }
        }
        gone
    }

    /// Whether groups fold in what is shown (so the Group box shows what is in effect).
    pub fn folds(&self) -> bool {
        self.folds
    }

    /// The groups the user opened that would otherwise fold.
    pub fn opened(&self) -> &[GroupKey] {
        &self.opened
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
        // Layers wrap into bands as wide as the canvas holds at a readable size.
        let width = ui.available_width() + self.side_panel_width;
        let margins = theme::FIT_MARGIN_TOP_LEFT.x + theme::FIT_MARGIN_BOTTOM_RIGHT.x;
        let spacing = theme::LAYER_SPACING * self.scale;
        let per_band = ((width / self.min_fit_zoom() - margins) / spacing).max(0.0) as usize + 1;
        self.placement.wake_with(ui.ctx());
        if !self.widths.measured() {
            self.widths.measure_with(ui.ctx());
            self.remeasure();
        }
        let laid_out = self.placement.poll(&mut self.graph, &self.nodes, &self.layout_input);
        let moved = self.placement.fit_window((per_band, self.scale), &mut self.graph, &self.nodes, &self.layout_input)
            || laid_out;
        match self.placement.step(&mut self.graph, ui.input(|i| i.time)) {
            Step::Moving => ui.ctx().request_repaint(),
            Step::Arrived => self.place_labels(),
            // Moved at once (before the first frame): routes and labels follow now.
            Step::Still if moved => self.place_labels(),
            Step::Still => {}
        }
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
                    let id = self.graph.node(node).map(|n| n.payload().id);
                    // A folded group opens; a node is selected.
                    match id.and_then(|id| self.folded.get(&id)) {
                        Some(group) => {
                            self.grouping.opened.insert(group.clone());
                        }
                        None => selection = id.map(Selection::Node),
                    }
                }
                GraphChange::NodeMoved { node, .. } | GraphChange::NodeDragStarted { node } => {
                    // Where the user puts a node is final.
                    if let Some(n) = self.graph.node(node) {
                        self.placement.user_moved(n.payload().id);
                    }
                }
                // A double click shows the node and its neighbourhood alone.
                GraphChange::NodeDoubleClicked { node } => {
                    let id = self.graph.node(node).map(|n| n.payload().id);
                    if let Some(id) = id.filter(|id| !self.folded.contains_key(id)) {
                        self.focus_on(Some(Focus { node: id, hops: flow_scope::DEFAULT_FOCUS_HOPS }), ui.ctx());
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
        self.hover_card(canvas);
        self.context_menu(canvas);
        let zoomed = canvas.hovered() && ui.input(|i| (i.zoom_delta() - 1.0).abs() > f32::EPSILON);
        let panned = canvas.dragged() && self.graph.dragged_node().is_none() && canvas.drag_delta().length() > 0.5;
        if zoomed || panned {
            self.auto_fit = false;
            self.view_motion.stop();
        }
        selection
    }

    /// Measures the text of what the canvas holds again (the fonts came after it was
    /// synced), and places the labels by the new widths.
    fn remeasure(&mut self) {
        let indices: Vec<NodeIndex> = self.nodes.values().copied().collect();
        for index in indices {
            if let Some(node) = self.graph.node_mut(index) {
                let view = node.payload_mut();
                view.text_width = self.widths.node(&view.label, &view.detail);
            }
        }
        let indices: Vec<EdgeIndex> = self.edges.values().copied().collect();
        for index in indices {
            if let Some(edge) = self.graph.edge_mut(index) {
                let view = edge.payload_mut();
                view.label_width = self.widths.width(&view.label, TextSize::Detail);
            }
        }
        if !self.placement.animating() {
            self.place_labels();
        }
    }

    /// Shows `focus` (or the whole graph), fitted, from the next frame on: the canvas' own
    /// controls, the node panel's Focus and the focus banner all come here.
    pub fn focus_on(&mut self, focus: Option<Focus>, ctx: &egui::Context) {
        self.focus = focus;
        self.auto_fit = true;
        ctx.request_repaint();
    }

    /// The canvas' right-click menu: focus on the node clicked, the whole graph back, fit.
    fn context_menu(&mut self, canvas: &egui::Response) {
        if canvas.secondary_clicked() {
            let hovered = self.graph.hovered_node().and_then(|i| self.graph.node(i)).map(|n| n.payload().id);
            self.menu_node = hovered.filter(|id| !self.folded.contains_key(id));
        }
        let mut chosen = None;
        canvas.context_menu(|ui| {
            if let Some(id) = self.menu_node {
                let hops = flow_scope::DEFAULT_FOCUS_HOPS;
                let text = format!("Focus here ({hops} hops up- and downstream)");
                if ui.button(text).clicked() {
                    chosen = Some(Some(Focus { node: id, hops }));
                }
            }
            if self.focus.is_some() && ui.button("Show all").clicked() {
                chosen = Some(None);
            }
            if ui.button("Fit").clicked() {
                self.auto_fit = true;
            }
        });
        if let Some(focus) = chosen {
            self.focus_on(focus, &canvas.ctx);
        }
    }

    /// A hovered node's full name and numbers, whatever the zoom hides.
    fn hover_card(&self, canvas: &egui::Response) {
        let Some(node) = self.graph.hovered_node().and_then(|i| self.graph.node(i)) else { return };
        let view = node.payload();
        canvas.clone().on_hover_ui_at_pointer(|ui| {
            ui.strong(&view.label);
            ui.label(&view.detail);
        });
    }

    /// The least zoom at which rates stay readable: [`theme::MIN_FIT_ZOOM`] for shapes and
    /// text at the theme's size, less when they are enlarged or the text floor is lower
    /// (presentation mode, whose points are larger).
    fn min_fit_zoom(&self) -> f32 {
        theme::min_fit_zoom(self.text_floor) / self.scale.max(f32::EPSILON)
    }

    /// Zooms and pans so the graph fits the canvas, between [`theme::MIN_FIT_ZOOM`] (names
    /// and rates stay readable; a bigger graph shows from its top left and the rest scrolls)
    /// and [`theme::MAX_FIT_ZOOM`] (one lone node should not fill the window), gliding there
    /// ([`flow_fit`](super::flow_fit)). Fits where nodes are going, so an animation does not
    /// make the view swim.
    fn fit(&mut self, ui: &mut egui::Ui) {
        let targets =
            self.graph.nodes_iter().map(|(index, n)| self.placement.target(index).unwrap_or_else(|| n.location()));
        let Some(bounds) = flow_fit::bounds_of(targets) else { return };
        // The margins hold the labels under and beside the outer nodes, as large as the shapes.
        let bounds = Rect::from_min_max(
            bounds.min - theme::FIT_MARGIN_TOP_LEFT * self.scale,
            bounds.max + theme::FIT_MARGIN_BOTTOM_RIGHT * self.scale,
        );
        let size = ui.available_size();
        let target = flow_fit::fit_transform(bounds, size, (self.min_fit_zoom(), theme::MAX_FIT_ZOOM));
        let mut meta = MetadataFrame::new(None).load(ui);
        let current = ViewTransform { zoom: meta.zoom, pan: meta.pan };
        let (view, moving) = self.view_motion.toward(current, target, size, ui.input(|i| i.time));
        if moving {
            ui.ctx().request_repaint();
        }
        meta.zoom = view.zoom;
        meta.pan = view.pan;
        meta.save(ui);
    }

    /// A node's position on the canvas (canvas units); while nodes glide to a new layout,
    /// where the node is going.
    pub fn node_location(&self, id: u32) -> Option<Pos2> {
        let index = *self.nodes.get(&id)?;
        self.placement.target(index).or_else(|| Some(self.graph.node(index)?.location()))
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

    /// What an edge currently shows (label, colour, dimming, highlight).
    pub fn edge_view(&self, id: u32) -> Option<&EdgeView> {
        Some(self.graph.edge(*self.edges.get(&id)?)?.payload())
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

    /// The id of the node drawn with `label` (a group's box has an id of its own).
    pub fn node_id_by_label(&self, label: &str) -> Option<u32> {
        self.graph.nodes_iter().map(|(_, n)| n.payload()).find(|v| v.label == label).map(|v| v.id)
    }

    /// Number of nodes on the canvas.
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }
}
