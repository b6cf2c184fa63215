//! The flow canvas' route cache: each edge's bow (how far it curves out of the straight line
//! to pass clear of other nodes, see [`flow_shapes::route_edge`](super::flow_shapes::route_edge)),
//! kept with the node positions and the scale it was routed for. Routing looks at every node
//! for every edge, so it runs again only when a node moved, came or went, or the shapes
//! changed size. Apart from the canvas so what invalidates a route is in one place.

use std::collections::HashMap;

use egui::Pos2;
use petgraph::stable_graph::{EdgeIndex, NodeIndex};

/// What edges were routed for: every node's position, and the shapes' scale.
#[derive(Clone, Debug, PartialEq)]
struct RoutedFor {
    /// Every node's position, by node index.
    positions: Vec<(NodeIndex, Pos2)>,
    /// The shapes' scale.
    scale: f32,
}

/// Each edge's bow, and the node positions and scale they were routed for.
#[derive(Debug)]
pub struct RouteCache {
    routed_for: RoutedFor,
    bows: HashMap<EdgeIndex, f32>,
}

impl Default for RouteCache {
    fn default() -> Self {
        Self { routed_for: RoutedFor { positions: Vec::new(), scale: 1.0 }, bows: HashMap::new() }
    }
}

impl RouteCache {
    /// Keeps the bows when the nodes (`positions`, sorted by index) and the shapes' `scale`
    /// are what they were routed for; else forgets them all, to be routed again.
    pub fn keep_if_routed_for(&mut self, positions: Vec<(NodeIndex, Pos2)>, scale: f32) {
        let routed_for = RoutedFor { positions, scale };
        if routed_for != self.routed_for {
            self.routed_for = routed_for;
            self.bows = HashMap::new();
        }
    }

    /// The bow of `edge`: as routed before, or routed now by `route`.
    pub fn bow(&mut self, edge: EdgeIndex, route: impl FnOnce() -> f32) -> f32 {
        *self.bows.entry(edge).or_insert_with(route)
    }
}
