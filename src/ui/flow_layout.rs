//! Left-to-right layered placement that never moves a node once placed.
//!
//! A node's layer is its longest path from a source at the moment it first appears
//! (producers, then topics, then consumers, then the topics they write to...). Its row is
//! the next free one in that layer. Later arrivals never shift earlier nodes, so the picture
//! a user has learned stays put while the system grows; dragging overrides it.

use std::collections::HashMap;

use egui::Pos2;
use egui_graphs::{DisplayEdge, DisplayNode, Graph, Layout, LayoutState};
use petgraph::EdgeType;
use petgraph::stable_graph::IndexType;
use serde::{Deserialize, Serialize};

use super::theme;
use crate::engine::snapshot::Snapshot;
use crate::model::flow_graph::NodeKind;

/// Remembers which rows are taken in each layer.
#[derive(Debug, Default, Clone)]
pub struct LayerPlacer {
    rows_used: HashMap<usize, usize>,
}

impl LayerPlacer {
    /// Longest-path layers for every node id of the snapshot (cycles are cut off at the
    /// node count, so a feedback loop cannot push layers out forever). A destination always
    /// has a producer upstream, so it starts in layer 1 even when its consumers' spans
    /// arrive before its producers'.
    pub fn layers(snapshot: &Snapshot) -> HashMap<u32, usize> {
        let mut layer: HashMap<u32, usize> =
            snapshot.nodes.iter().map(|n| (n.id, usize::from(n.kind == NodeKind::Destination))).collect();
        let limit = snapshot.nodes.len();
        for _ in 0..limit {
            let mut changed = false;
            for e in &snapshot.edges {
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

    /// The position for a new node in `layer`.
    pub fn place(&mut self, layer: usize) -> Pos2 {
        let row = self.rows_used.entry(layer).or_insert(0);
        let pos = Pos2::new(layer as f32 * theme::LAYER_SPACING, *row as f32 * theme::ROW_SPACING);
        *row += 1;
        pos
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
