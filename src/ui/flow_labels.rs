//! Where each edge's label goes on the flow canvas. Every edge is first given its route (its
//! bow, from [`RouteCache`], routed clear of other nodes by [`flow_shapes::route_edge`]);
//! its label then goes at the middle of the edge, or along it where it covers no node or
//! label already placed. Apart from the canvas because it is geometry over the whole graph,
//! run only when something moved, not part of following the snapshot.

use std::collections::HashMap;

use egui::{Pos2, Rect};
use petgraph::stable_graph::{EdgeIndex, NodeIndex};

use super::flow_routes::RouteCache;
use super::flow_shapes;
use super::flow_view::ViewGraph;

/// Routes every edge clear of the other nodes ([`flow_shapes::route_edge`]), then picks
/// where along it its label goes: the middle, unless that covers a node or a label
/// already placed (edges into one node converge, a feedback edge runs along its forward
/// one); then the first free of a few points either side of it. When none is free the
/// label is hidden (drawn only while its edge is selected): rates and lag give way before
/// they cover a node's name or another label.
pub(super) fn place_labels(
    graph: &mut ViewGraph,
    edges: &HashMap<u32, EdgeIndex>,
    routes: &mut RouteCache,
    scale: f32,
) {
    const CANDIDATES: [f32; 7] = [0.5, 0.38, 0.62, 0.28, 0.72, 0.2, 0.8];
    let mut positions: Vec<(NodeIndex, Pos2)> = graph.nodes_iter().map(|(i, n)| (i, n.location())).collect();
    positions.sort_unstable_by_key(|(i, _)| *i);
    routes.keep_if_routed_for(positions, scale);
    let mut nodes = RectGrid::default();
    let mut node_of = Vec::new();
    for (index, n) in graph.nodes_iter() {
        nodes.insert(flow_shapes::node_rect(n.location(), n.payload()));
        node_of.push(index);
    }
    let mut taken = nodes.clone();
    let mut edges: Vec<(u32, EdgeIndex)> = edges.iter().map(|(id, index)| (*id, *index)).collect();
    edges.sort_unstable();
    for (_, index) in edges {
        let Some((from, to)) = graph.edge_endpoints(index) else { continue };
        let (Some(a), Some(b)) = (graph.node(from).map(|n| n.location()), graph.node(to).map(|n| n.location())) else {
            continue;
        };
        let bow = routes.bow(index, || {
            // Only the nodes near each point looked at can be within the clearance.
            let ends = |i: usize| node_of[i] == from || node_of[i] == to;
            flow_shapes::route_edge(a, b, |p| nodes.distance(p, flow_shapes::CLEARANCE, ends))
        });
        let Some(edge) = graph.edge_mut(index) else { continue };
        let view = edge.payload_mut();
        view.bow = bow;
        if view.label.is_empty() {
            continue;
        }
        let rect_at = |t: f32| flow_shapes::edge_label_rect(view, a, b, t);
        // The first that covers nothing, else the one that covers least.
        let covered = |t: f32| {
            let rect = rect_at(t);
            taken.near(rect).map(|(_, r)| r.intersect(rect)).filter(|i| i.is_positive()).map(|i| i.area()).sum::<f32>()
        };
        let free = CANDIDATES.into_iter().find(|t| covered(*t) == 0.0);
        let placed = free.map(rect_at);
        view.label_hidden = free.is_none();
        view.label_t = free.unwrap_or(0.5);
        if let Some(rect) = placed {
            taken.insert(rect);
        }
    }
}

/// Rectangles filed by the grid cells they touch, so "what is near here" looks at a few
/// rather than all of them (a graph of 2,000 nodes and 5,000 labels took 0.1 s otherwise).
#[derive(Clone, Debug, Default)]
struct RectGrid {
    rects: Vec<Rect>,
    cells: HashMap<(i32, i32), Vec<usize>>,
}

impl RectGrid {
    /// Cell size, canvas units: about a node and its text.
    const CELL: f32 = 200.0;

    fn span(rect: Rect) -> impl Iterator<Item = (i32, i32)> {
        let cell = |v: f32| (v / Self::CELL).floor() as i32;
        let (x0, x1, y0, y1) = (cell(rect.min.x), cell(rect.max.x), cell(rect.min.y), cell(rect.max.y));
        (x0..=x1).flat_map(move |x| (y0..=y1).map(move |y| (x, y)))
    }

    fn insert(&mut self, rect: Rect) {
        let index = self.rects.len();
        self.rects.push(rect);
        for cell in Self::span(rect) {
            self.cells.entry(cell).or_default().push(index);
        }
    }

    /// The distance from `p` to the nearest rectangle not `excluded`, looking no further
    /// than `radius` (what lies beyond counts as `radius` away).
    fn distance(&self, p: Pos2, radius: f32, excluded: impl Fn(usize) -> bool) -> f32 {
        Self::span(Rect::from_center_size(p, egui::Vec2::splat(2.0 * radius)))
            .filter_map(|c| self.cells.get(&c))
            .flatten()
            .filter(|i| !excluded(**i))
            .map(|i| self.rects[*i].distance_to_pos(p))
            .fold(radius, f32::min)
    }

    /// Every rectangle filed in a cell `rect` touches, once each, with its index.
    fn near(&self, rect: Rect) -> impl Iterator<Item = (usize, Rect)> + '_ {
        let mut seen: Vec<usize> = Self::span(rect).filter_map(|c| self.cells.get(&c)).flatten().copied().collect();
        seen.sort_unstable();
        seen.dedup();
        seen.into_iter().map(|i| (i, self.rects[i]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineState;
    use crate::testing::{consumer_linked, producer};
    use crate::ui::flow_placement::tests::apply;
    use crate::ui::flow_view::FlowView;

    #[test]
    fn edge_labels_move_along_their_edges_rather_than_cover_each_other() {
        // billing both reads and writes `orders`: the two edges between them run along the
        // same line, so their middles coincide.
        let mut state = EngineState::default();
        let snapshot = apply(
            &mut state,
            vec![
                producer("checkout", "kafka", "orders", 1, 1),
                consumer_linked("billing", "kafka", "orders", 2, 2, (1, 1)),
                producer("billing", "kafka", "orders", 2, 3),
            ],
        );
        let mut view = FlowView::default();
        view.sync(&snapshot, "", None, None);
        let (_, edges) = view.drawn();
        assert_eq!(edges.len(), 3);
        let rects: Vec<Rect> = edges
            .iter()
            .map(|(a, b, e, _)| {
                assert!(!e.label.is_empty());
                flow_shapes::edge_label_rect(e, *a, *b, e.label_t)
            })
            .collect();
        for (i, r) in rects.iter().enumerate() {
            for other in &rects[i + 1..] {
                assert!(!r.intersects(*other), "{rects:?}");
            }
        }
        assert!(edges.iter().any(|(_, _, e, _)| e.label_t != 0.5), "one label moved");
    }

    #[test]
    fn a_label_with_no_free_place_hides_rather_than_covers_a_node() {
        let mut state = EngineState::default();
        let snapshot = apply(&mut state, vec![producer("checkout", "kafka", "orders", 1, 1)]);
        let mut view = FlowView::default();
        view.sync(&snapshot, "", None, None);
        let indices: Vec<NodeIndex> = view.graph.nodes_iter().map(|(i, _)| i).collect();
        let start = view.graph.node(indices[0]).map(|n| n.location()).unwrap();
        let hidden = |view: &mut FlowView, gap: f32| {
            view.graph.node_mut(indices[1]).unwrap().set_location(start + egui::vec2(gap, 0.0));
            place_labels(&mut view.graph, &view.edges, &mut RouteCache::default(), 1.0);
            let (_, edges) = view.drawn();
            assert_eq!(edges.len(), 1);
            edges[0].2.label_hidden
        };
        // The topic right beside its producer: every point along the short edge is under one
        // of the two nodes or their text.
        assert!(hidden(&mut view, 50.0), "a label over a node is hidden");
        // Apart again, the label shows.
        assert!(!hidden(&mut view, 400.0));
    }
}
