//! Left-to-right layered placement that never moves a node once placed.
//!
//! A node's layer is its longest path from a source at the moment it first appears
//! (producers, then topics, then consumers, then the topics they write to...). Its row is
//! the next free one in that layer. Later arrivals never shift earlier nodes, so the picture
//! a user has learned stays put while the system grows; dragging overrides it.

use std::collections::{BTreeSet, HashMap, HashSet};

use egui::Pos2;
use egui_graphs::{DisplayEdge, DisplayNode, Graph, Layout, LayoutState};
use petgraph::EdgeType;
use petgraph::stable_graph::IndexType;
use serde::{Deserialize, Serialize};

use super::theme;
use crate::engine::snapshot::Snapshot;
use crate::model::flow_graph::NodeKind;

/// Remembers which rows are taken in each layer, and by which node.
#[derive(Debug, Default, Clone)]
pub struct LayerPlacer {
    taken: HashMap<usize, BTreeSet<usize>>,
    cell_of: HashMap<u32, (usize, usize)>,
}

impl LayerPlacer {
    /// Longest-path layers for every node id of the snapshot. Feedback loops (a saga's
    /// compensation flowing back to the service that started it) are broken first with
    /// petgraph's greedy feedback arc set, so a loop does not stretch the picture; the cut
    /// edges are still drawn, pointing back. A destination always has a producer upstream,
    /// so it starts in layer 1 even when its consumers' spans arrive before its producers'.
    pub fn layers(snapshot: &Snapshot) -> HashMap<u32, usize> {
        let mut layer: HashMap<u32, usize> =
            snapshot.nodes.iter().map(|n| (n.id, usize::from(n.kind == NodeKind::Destination))).collect();
        let mut graph = petgraph::graph::DiGraph::<(), usize>::new();
        let index: HashMap<u32, petgraph::graph::NodeIndex> =
            snapshot.nodes.iter().map(|n| (n.id, graph.add_node(()))).collect();
        for (i, e) in snapshot.edges.iter().enumerate() {
            if let (Some(from), Some(to)) = (index.get(&e.from), index.get(&e.to)) {
                graph.add_edge(*from, *to, i);
            }
        }
        let cut: HashSet<usize> =
            petgraph::algo::greedy_feedback_arc_set(&graph).map(|e| *petgraph::visit::EdgeRef::weight(&e)).collect();
        let limit = snapshot.nodes.len();
        for _ in 0..limit {
            let mut changed = false;
            for (_, e) in snapshot.edges.iter().enumerate().filter(|(i, _)| !cut.contains(i)) {
                let from = layer.get(&e.from).copied().unwrap_or(0);
                let to = layer.entry(e.to).or_insert(0);
                if *to < from + 1 && from < limit {
                    *to = from + 1;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        layer
    }

    /// The position for node `id` in `layer`: the first free row there. A node placed again
    /// gives its old row back first, so re-placed topics leave no holes.
    pub fn place(&mut self, id: u32, layer: usize) -> Pos2 {
        self.free(id);
        let taken = self.taken.entry(layer).or_default();
        let row = (0..).find(|r| !taken.contains(r)).unwrap_or(0);
        taken.insert(row);
        self.cell_of.insert(id, (layer, row));
        Pos2::new(layer as f32 * theme::LAYER_SPACING, row as f32 * theme::ROW_SPACING)
    }

    /// Gives node `id`'s row back (it was removed or is placed again).
    pub fn free(&mut self, id: u32) {
        if let Some((layer, row)) = self.cell_of.remove(&id)
            && let Some(taken) = self.taken.get_mut(&layer)
        {
            taken.remove(&row);
        }
    }
}

/// The layout state egui_graphs persists; there is nothing to persist.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct FixedLayoutState;

impl LayoutState for FixedLayoutState {}

/// A layout that leaves node positions as [`LayerPlacer`] (or the user's drag) set them.
#[derive(Debug, Default)]
pub struct FixedLayout;

impl Layout<FixedLayoutState> for FixedLayout {
    fn from_state(_state: FixedLayoutState) -> impl Layout<FixedLayoutState> {
        FixedLayout
    }

    fn next<N, E, Ty, Ix, Dn, De>(&mut self, _g: &mut Graph<N, E, Ty, Ix, Dn, De>, _ui: &egui::Ui)
    where
        N: Clone,
        E: Clone,
        Ty: EdgeType,
        Ix: IndexType,
        Dn: DisplayNode<N, E, Ty, Ix>,
        De: DisplayEdge<N, E, Ty, Ix, Dn>,
    {
    }

    fn state(&self) -> FixedLayoutState {
        FixedLayoutState
    }
}
