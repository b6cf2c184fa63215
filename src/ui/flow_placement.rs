//! Where the flow canvas puts its nodes. Until the user drags one, the whole graph follows
//! the layered layout ([`flow_layered`](super::flow_layered)) as it grows: each change lays
//! it out again seeded with the layout before, and nodes glide to their new places in a
//! short animation rather than jump. Once the user has dragged a node, the positions are
//! theirs: nothing already placed moves, and a new node goes in its layer's column under
//! the nodes there. Arrange lays everything out afresh and follows the layout again.
//!
//! Laying out a graph of thousands of nodes takes longer than a frame, so once the window
//! has given a way to wake it ([`Placement::wake_with`]) a graph of more than
//! [`LAYOUT_ON_FRAME_NODES`] is laid out on an `eventlens-layout` thread: meanwhile new nodes
//! wait in their layer's column, and the nodes glide to the layout when it comes. Without a
//! window (the SVG export, tests), layouts are made where they are asked for.

use std::collections::{HashMap, HashSet};

use egui::Pos2;
use petgraph::stable_graph::NodeIndex;

use super::background::{Job, JobState, LAYOUT_THREAD};
use super::flow_layered::{Cell, Layered, LayoutNode, layers};
use super::flow_scope::{ShownEdge, ShownNode};
use super::flow_view::ViewGraph;
use super::theme;
use crate::model::flow_graph::NodeKind;

/// Graphs up to this many nodes are laid out on the frame (a few milliseconds in a debug
/// build); larger ones on a thread of their own.
pub const LAYOUT_ON_FRAME_NODES: usize = 256;

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
    /// Wakes the window when a layout made off the frame is ready; `None` lays out on the
    /// spot.
    waker: Option<egui::Context>,
    /// A layout being made off the frame.
    pending: Option<Job<Layered>>,
    /// The graph changed while `pending` was being made: lay it out again when it comes
    /// (afresh, when `Some(true)`).
    wanted: Option<bool>,
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
            waker: None,
            pending: None,
            wanted: None,
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
            self.lay_out(graph, nodes, input, false, added);
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
        self.place_in_columns(graph, nodes, input, &to_place);
        for id in to_place {
            if connected.contains(&id) {
                self.unanchored.remove(&id);
            } else {
                self.unanchored.insert(id);
            }
        }
    }

    /// Puts each of `ids` in its layer's column, under the lowest node already there.
    fn place_in_columns(
        &self,
        graph: &mut ViewGraph,
        nodes: &HashMap<u32, NodeIndex>,
        input: &LayoutInput,
        ids: &[u32],
    ) {
        if ids.is_empty() {
            return;
        }
        let placing: HashSet<NodeIndex> = ids.iter().filter_map(|id| nodes.get(id).copied()).collect();
        let spacing = theme::LAYER_SPACING * self.scale;
        let column = |x: f32| (x / spacing).round() as i64;
        // The lowest node of each column, found once.
        let mut lowest: HashMap<i64, f32> = HashMap::new();
        for (index, node) in graph.nodes_iter() {
            if !placing.contains(&index) {
                let y = lowest.entry(column(node.location().x)).or_insert(f32::MIN);
                *y = y.max(node.location().y);
            }
        }
        let layer = layers(&input.nodes, &input.edges);
        for id in ids {
            let Some(&index) = nodes.get(id) else { continue };
            let at = layer.get(id).copied().unwrap_or(0) as i64;
            let y = lowest.get(&at).map_or(0.0, |y| y + theme::ROW_SPACING * self.scale);
            lowest.insert(at, y);
            if let Some(node) = graph.node_mut(index) {
                node.set_location(Pos2::new(at as f32 * spacing, y));
            }
        }
    }

    /// Lets layouts of large graphs be made off the frame, waking `ctx` when one is ready.
    pub fn wake_with(&mut self, ctx: &egui::Context) {
        if self.waker.is_none() {
            self.waker = Some(ctx.clone());
        }
    }

    /// Whether a layout is being made off the frame.
    pub fn laying_out(&self) -> bool {
        self.pending.is_some()
    }

    /// Lays `input` out (`fresh`: from scratch, else seeded with the last layout) and sends
    /// the nodes there; `added` nodes go at once. A large graph is laid out off the frame
    /// (see the top of this file): `added` nodes then wait in their layer's column.
    fn lay_out(
        &mut self,
        graph: &mut ViewGraph,
        nodes: &HashMap<u32, NodeIndex>,
        input: &LayoutInput,
        fresh: bool,
        added: &[u32],
    ) {
        let Some(ctx) = self.waker.clone().filter(|_| input.nodes.len() > LAYOUT_ON_FRAME_NODES) else {
            self.lay_out_here(graph, nodes, input, fresh, added);
            return;
        };
        self.place_in_columns(graph, nodes, input, added);
        if self.pending.is_some() {
            self.wanted = Some(fresh || self.wanted.unwrap_or(false));
            return;
        }
        let seed = if fresh { None } else { self.layered.clone() };
        let (layout_nodes, edges, per_band) = (input.nodes.clone(), input.edges.clone(), self.per_band);
        let spawned =
            Job::spawn(LAYOUT_THREAD, &ctx, move || Layered::new(&layout_nodes, &edges, seed.as_ref(), per_band));
        match spawned {
            Ok(job) => self.pending = Some(job),
            Err(e) => {
                tracing::warn!("cannot start a thread to lay the graph out ({e}); laid out on the frame");
                self.lay_out_here(graph, nodes, input, fresh, &[]);
            }
        }
    }

    /// As [`Placement::lay_out`], on the calling thread.
    fn lay_out_here(
        &mut self,
        graph: &mut ViewGraph,
        nodes: &HashMap<u32, NodeIndex>,
        input: &LayoutInput,
        fresh: bool,
        added: &[u32],
    ) {
        let seed = if fresh { None } else { self.layered.as_ref() };
        self.layered = Some(Layered::new(&input.nodes, &input.edges, seed, self.per_band));
        self.move_to_layout(graph, nodes, added);
    }

    /// Takes a layout made off the frame once it is ready, sending the nodes there (and
    /// starting the next one if the graph changed meanwhile); never waits. True when nodes
    /// were sent to a new layout.
    pub fn poll(&mut self, graph: &mut ViewGraph, nodes: &HashMap<u32, NodeIndex>, input: &LayoutInput) -> bool {
        let Some(job) = &self.pending else { return false };
        let layered = match job.poll() {
            JobState::Pending => return false,
            JobState::Done(layered) => layered,
            JobState::Lost => {
                // Its panic is on standard error; the next change lays the graph out again.
                tracing::warn!("the graph's layout thread ended without a layout");
                self.pending = None;
                return false;
            }
        };
        self.pending = None;
        // The user dragged a node meanwhile: their positions stay.
        if !self.auto {
            self.wanted = None;
            return false;
        }
        self.layered = Some(layered);
        self.move_to_layout(graph, nodes, &[]);
        if let Some(fresh) = self.wanted.take() {
            self.lay_out(graph, nodes, input, fresh, &[]);
        }
        true
    }

    /// Lays every node out afresh (undoing drags and the order of arrival) and follows the
    /// layout again from now on.
    pub fn arrange(&mut self, graph: &mut ViewGraph, nodes: &HashMap<u32, NodeIndex>, input: &LayoutInput) {
        self.auto = true;
        self.unanchored.clear();
        self.lay_out(graph, nodes, input, true, &[]);
    }

    /// Turns following the layout on or off, as the canvas' Auto layout switch does. On: the
    /// graph is laid out again seeded with the last layout, so nodes move as little as they
    /// can (dragged ones go back into the layout). Off: nodes on their way arrive at once and
    /// stay where they are until the user moves them, as after a drag.
    pub fn set_auto(&mut self, on: bool, graph: &mut ViewGraph, nodes: &HashMap<u32, NodeIndex>, input: &LayoutInput) {
        if on == self.auto {
            return;
        }
        self.auto = on;
        if on {
            self.unanchored.clear();
            self.lay_out(graph, nodes, input, false, &[]);
        } else if let Some(animation) = self.animation.take() {
            for (index, (_, to)) in animation.moves {
                if let Some(node) = graph.node_mut(index) {
                    node.set_location(to);
                }
            }
        }
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
            self.lay_out(graph, nodes, input, false, &[]);
            return !self.laying_out();
        }
        if rescaled {
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
        let eased = super::flow_fit::ease_out(t);
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
pub(super) mod tests;
