//! The canvas' layout plumbing for egui_graphs: positions are set by the flow view (from
//! [`flow_layered`](super::flow_layered), or by the user's drag), so the layout egui_graphs
//! runs every frame does nothing.

use egui_graphs::{DisplayEdge, DisplayNode, Graph, Layout, LayoutState};
use petgraph::EdgeType;
use petgraph::stable_graph::IndexType;
use serde::{Deserialize, Serialize};

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
