//! The flow graph's layered layout, after Sugiyama et al. (1981) as Graphviz's `dot` does
//! it, in four steps:
//!
//! 1. **Layers**: a node's layer is its longest path from a source, after feedback loops
//!    (a saga's compensation flowing back) are cut with petgraph's greedy feedback arc set;
//!    a destination is never in the first layer, since a producer writes to it.
//! 2. **Order**: edges that skip layers get a virtual node in each layer they cross, then
//!    each layer is ordered by the barycentre of its neighbours in the layer before (and,
//!    sweeping back, after) to cut crossings; the order with the fewest crossings is kept.
//! 3. **Rows**: each node is pulled towards the mean row of its neighbours, keeping its
//!    layer's order and one row between nodes (an isotonic regression solved exactly by
//!    pool-adjacent-violators), so long chains run straight.
//! 4. **Bands**: when there are more layers than fit the window at a readable size, the
//!    layers wrap into bands, one under the other, instead of shrinking the picture; every
//!    other band runs back, right to left, so the flow turns where a band ends rather than
//!    crossing the picture back to its start.
//!
//! Laid out again as the graph grows, the previous layout seeds the next one: nodes already
//! placed keep their relative order and only new nodes are ordered in among them, so the
//! picture a user has learned changes as little as it can. Plain numbers in and out (no
//! egui), so it is tested and measured on its own.

use std::collections::HashMap;

use petgraph::graph::{DiGraph, NodeIndex};

mod rows;

/// Sweeps of the ordering step (down and back up count as two).
const ORDER_SWEEPS: usize = 12;
/// Rows between bands.
const BAND_GAP: f32 = 1.5;

/// A node to lay out: its id, and whether it is a destination (never in the first layer).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayoutNode {
    /// The snapshot's node id.
    pub id: u32,
    /// A topic, queue or other destination.
    pub destination: bool,
}

/// Where a node goes: its column and row (in layer and row units; rows may be fractional).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Cell {
    /// Left to right, from 0, within its band.
    pub column: usize,
    /// Top to bottom, from 0, bands included.
    pub row: f32,
}

/// A layout: each node's layer and row before wrapping, kept to seed the next one.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Layered {
    /// Each node's layer and row (before bands).
    placed: HashMap<u32, (usize, f32)>,
    /// How many layers there are.
    layers: usize,
    /// Layers per band.
    per_band: usize,
}

/// Layers per band when `layers` wrap into bands of at most `most`: as even as they can be
/// (nine layers in bands of seven go five and four, not seven and two).
fn band_size(layers: usize, most: usize) -> usize {
    let bands = layers.div_ceil(most.max(1)).max(1);
    layers.div_ceil(bands).max(1)
}

impl Layered {
    /// Lays out `nodes` joined by `edges` (from, to; ids not in `nodes` are ignored) in bands
    /// of at most `per_band` layers, seeded with `previous` when there is one: nodes it
    /// placed keep their relative order.
    pub fn new(nodes: &[LayoutNode], edges: &[(u32, u32)], previous: Option<&Layered>, per_band: usize) -> Self {
        let layer = layers(nodes, edges);
        let count = layer.values().max().map_or(0, |l| l + 1);
        let per_band = band_size(count, per_band);
        let mut g = Virtual::build(nodes, edges, &layer, per_band);
        let seed = |v: usize| g.id[v].and_then(|id| previous.and_then(|p| p.placed.get(&id)).map(|(_, row)| *row));
        let seeded: Vec<Option<f32>> = (0..g.layer.len()).map(seed).collect();
        g.order(&seeded);
        let rows = g.rows();
        let placed = g.id.iter().enumerate().filter_map(|(v, id)| id.map(|id| (id, (g.layer[v], rows[v])))).collect();
        Self { placed, layers: g.by_layer.len(), per_band }
    }

    /// How many layers the graph has.
    pub fn layer_count(&self) -> usize {
        self.layers
    }

    /// Each node's cell, the layers wrapped into bands.
    pub fn cells(&self) -> HashMap<u32, Cell> {
        let per_band = self.per_band;
        let bands = self.layers.div_ceil(per_band).max(1);
        // Each band starts under the lowest row of the one above.
        let mut height = vec![0.0_f32; bands];
        for (layer, row) in self.placed.values() {
            let band = layer / per_band;
            height[band] = height[band].max(*row);
        }
        let mut top = vec![0.0_f32; bands];
        for band in 1..bands {
            top[band] = top[band - 1] + height[band - 1] + 1.0 + BAND_GAP;
        }
        self.placed
            .iter()
            .map(|(id, (layer, row))| {
                let (band, at) = (layer / per_band, layer % per_band);
                // Every other band runs back, right to left, so the flow turns at the end of
                // a band instead of crossing the picture back to its start.
                let column = if band % 2 == 1 { per_band - 1 - at } else { at };
                (*id, Cell { column, row: top[band] + row })
            })
            .collect()
    }

    /// A node's layer, if it was laid out.
    pub fn layer_of(&self, id: u32) -> Option<usize> {
        self.placed.get(&id).map(|(layer, _)| *layer)
    }
}

/// Longest-path layers, feedback loops cut first (see the module's step 1).
pub fn layers(nodes: &[LayoutNode], edges: &[(u32, u32)]) -> HashMap<u32, usize> {
    let mut graph = DiGraph::<usize, ()>::with_capacity(nodes.len(), edges.len());
    let index: HashMap<u32, NodeIndex> = nodes.iter().enumerate().map(|(i, n)| (n.id, graph.add_node(i))).collect();
    for (from, to) in edges {
        if let (Some(a), Some(b)) = (index.get(from), index.get(to))
            && a != b
        {
            graph.update_edge(*a, *b, ());
        }
    }
    let cut: Vec<_> =
        petgraph::algo::greedy_feedback_arc_set(&graph).map(|e| petgraph::visit::EdgeRef::id(&e)).collect();
    for edge in cut {
        graph.remove_edge(edge);
    }
    let mut layer: Vec<usize> = nodes.iter().map(|n| usize::from(n.destination)).collect();
    // Without its feedback arcs the graph is acyclic; were it not, nodes keep their base layer.
    if let Ok(sorted) = petgraph::algo::toposort(&graph, None) {
        for v in sorted {
            let here = layer[graph[v]];
            let targets: Vec<usize> = graph.neighbors(v).map(|w| graph[w]).collect();
            for w in targets {
                layer[w] = layer[w].max(here + 1);
            }
        }
    }
    nodes.iter().zip(layer).map(|(n, l)| (n.id, l)).collect()
}

/// The graph with a virtual node wherever an edge crosses a layer, as the ordering and row
/// steps work on it.
struct Virtual {
    /// Each node's id (`None` for a virtual node).
    id: Vec<Option<u32>>,
    layer: Vec<usize>,
    /// Neighbours in the layer before and after.
    up: Vec<Vec<usize>>,
    down: Vec<Vec<usize>>,
    /// Each layer's nodes, in order (without the loose ones).
    by_layer: Vec<Vec<usize>>,
    /// Layers per band.
    per_band: usize,
    /// Nodes with no edge to order or align by (a topic a cluster listed that nobody uses
    /// yet): they wait under the rest of their band.
    loose: Vec<usize>,
}

impl Virtual {
    /// The graph to order, with layers in bands of `per_band`: an edge from one band to
    /// another is drawn across the turn and takes no part in the ordering (virtual nodes for
    /// it would only take rows in its first band).
    fn build(nodes: &[LayoutNode], edges: &[(u32, u32)], layers: &HashMap<u32, usize>, per_band: usize) -> Self {
        let mut g = Self {
            id: Vec::new(),
            layer: Vec::new(),
            up: Vec::new(),
            down: Vec::new(),
            by_layer: Vec::new(),
            per_band: per_band.max(1),
            loose: Vec::new(),
        };
        // Nodes in id order, so a layout from scratch does not depend on arrival order.
        let mut sorted: Vec<u32> = nodes.iter().map(|n| n.id).collect();
        sorted.sort_unstable();
        sorted.dedup();
        let mut index = HashMap::with_capacity(sorted.len());
        for id in sorted {
            let v = g.add(Some(id), layers.get(&id).copied().unwrap_or(0));
            index.insert(id, v);
        }
        let mut seen = std::collections::HashSet::new();
        for (from, to) in edges {
            let (Some(&a), Some(&b)) = (index.get(from), index.get(to)) else { continue };
            // A feedback edge is laid out as if it ran forward; one within a layer adds nothing.
            let (a, b) = if g.layer[a] <= g.layer[b] { (a, b) } else { (b, a) };
            let across = g.layer[a] / per_band != g.layer[b] / per_band;
            if g.layer[a] == g.layer[b] || across || !seen.insert((a, b)) {
                continue;
            }
            let mut last = a;
            for l in g.layer[a] + 1..g.layer[b] {
                let dummy = g.add(None, l);
                g.link(last, dummy);
                last = dummy;
            }
            g.link(last, b);
        }
        g.loose = (0..g.id.len()).filter(|&v| g.up[v].is_empty() && g.down[v].is_empty()).collect();
        let loose: std::collections::HashSet<usize> = g.loose.iter().copied().collect();
        for layer in &mut g.by_layer {
            layer.retain(|v| !loose.contains(v));
        }
        g
    }

    fn add(&mut self, id: Option<u32>, layer: usize) -> usize {
        let v = self.id.len();
        self.id.push(id);
        self.layer.push(layer);
        self.up.push(Vec::new());
        self.down.push(Vec::new());
        if self.by_layer.len() <= layer {
            self.by_layer.resize_with(layer + 1, Vec::new);
        }
        self.by_layer[layer].push(v);
        v
    }

    fn link(&mut self, a: usize, b: usize) {
        self.down[a].push(b);
        self.up[b].push(a);
    }

    /// Orders every layer (step 2). Seeded nodes (those with a previous row) keep their
    /// order by that row; the others are ordered in by barycentre.
    fn order(&mut self, seeded: &[Option<f32>]) {
        let any_seed = seeded.iter().any(Option::is_some);
        // First order: seeded nodes by their old row, the rest by barycentre as they come.
        let mut position = vec![0.0_f32; self.id.len()];
        for l in 0..self.by_layer.len() {
            let mut layer = std::mem::take(&mut self.by_layer[l]);
            let key: Vec<(usize, f32)> =
                layer.iter().map(|&v| (v, barycentre(&self.up[v], &position).unwrap_or(f32::MAX))).collect();
            let key: HashMap<usize, f32> = key.into_iter().collect();
            layer.sort_by(|a, b| key[a].total_cmp(&key[b]));
            self.by_layer[l] = merge_seeded(layer, seeded, &key);
            for (i, &v) in self.by_layer[l].iter().enumerate() {
                position[v] = i as f32;
            }
        }
        let mut best = (self.crossings(), self.by_layer.clone());
        for sweep in 0..ORDER_SWEEPS {
            let downward = sweep % 2 == 0;
            let layers: Vec<usize> =
                if downward { (1..self.by_layer.len()).collect() } else { (0..self.by_layer.len()).rev().collect() };
            for l in layers {
                let layer = std::mem::take(&mut self.by_layer[l]);
                let key: HashMap<usize, f32> = layer
                    .iter()
                    .map(|&v| {
                        let next = if downward { &self.up[v] } else { &self.down[v] };
                        (v, barycentre(next, &position).unwrap_or(position[v]))
                    })
                    .collect();
                let mut free = layer.clone();
                // A stable sort: ties keep their order, so a settled layout stays put.
                free.sort_by(|a, b| key[a].total_cmp(&key[b]));
                self.by_layer[l] = if any_seed { merge_seeded(free, seeded, &key) } else { free };
                for (i, &v) in self.by_layer[l].iter().enumerate() {
                    position[v] = i as f32;
                }
            }
            let crossings = self.crossings();
            if crossings < best.0 {
                best = (crossings, self.by_layer.clone());
            }
            if best.0 == 0 {
                break;
            }
        }
        self.by_layer = best.1;
    }

    /// Edge crossings between every pair of neighbouring layers.
    fn crossings(&self) -> usize {
        let mut position = vec![0_usize; self.id.len()];
        for layer in &self.by_layer {
            for (i, &v) in layer.iter().enumerate() {
                position[v] = i;
            }
        }
        let mut total = 0;
        for pair in self.by_layer.windows(2) {
            let mut ends: Vec<(usize, usize)> = pair[0]
                .iter()
                .flat_map(|&a| self.down[a].iter().map(move |&b| (a, b)))
                .map(|(a, b)| (position[a], position[b]))
                .collect();
            ends.sort_unstable();
            // Crossings are the inversions of the lower ends, counted with a Fenwick tree.
            let mut tree = vec![0_usize; pair[1].len() + 1];
            for (seen, (_, b)) in ends.iter().enumerate() {
                let mut at_most = 0;
                let mut i = b + 1;
                while i > 0 {
                    at_most += tree[i];
                    i &= i - 1;
                }
                total += seen - at_most;
                let mut i = b + 1;
                while i < tree.len() {
                    tree[i] += 1;
                    i += i & i.wrapping_neg();
                }
            }
        }
        total
    }
}

/// The mean of `of`'s values in `at`; `None` when `of` is empty.
fn barycentre(of: &[usize], at: &[f32]) -> Option<f32> {
    (!of.is_empty()).then(|| of.iter().map(|&v| at[v]).sum::<f32>() / of.len() as f32)
}

/// The order of `layer` in which the seeded nodes keep their order by seed and the others
/// (already sorted by `key`) go in among them by `key`.
fn merge_seeded(layer: Vec<usize>, seeded: &[Option<f32>], key: &HashMap<usize, f32>) -> Vec<usize> {
    let (mut fixed, free): (Vec<usize>, Vec<usize>) = layer.into_iter().partition(|&v| seeded[v].is_some());
    if fixed.is_empty() || free.is_empty() {
        if free.is_empty() {
            fixed.sort_by(|a, b| seeded[*a].unwrap_or(0.0).total_cmp(&seeded[*b].unwrap_or(0.0)));
            return fixed;
        }
        return free;
    }
    fixed.sort_by(|a, b| seeded[*a].unwrap_or(0.0).total_cmp(&seeded[*b].unwrap_or(0.0)));
    let mut out = Vec::with_capacity(fixed.len() + free.len());
    let (mut f, mut n) = (fixed.into_iter().peekable(), free.into_iter().peekable());
    loop {
        match (f.peek(), n.peek()) {
            (Some(a), Some(b)) if key[b] < key[a] => out.extend(n.next()),
            (Some(_), _) => out.extend(f.next()),
            (None, Some(_)) => out.extend(n.next()),
            (None, None) => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service to lay out (the row step's tests share these).
    pub(super) fn node(id: u32) -> LayoutNode {
        LayoutNode { id, destination: false }
    }

    /// A destination to lay out.
    pub(super) fn topic(id: u32) -> LayoutNode {
        LayoutNode { id, destination: true }
    }

    #[test]
    fn a_chain_runs_straight_and_a_fan_sits_around_its_source() {
        // 1 -> 10 -> 2 -> 11 -> 3, and 2 also -> 12 (a fan out of 2).
        let nodes = [node(1), topic(10), node(2), topic(11), node(3), topic(12)];
        let edges = [(1, 10), (10, 2), (2, 11), (11, 3), (2, 12)];
        let layout = Layered::new(&nodes, &edges, None, usize::MAX);
        let cells = layout.cells();
        assert_eq!(layout.layer_count(), 5);
        assert_eq!([1, 10, 2].map(|id| cells[&id].column), [0, 1, 2]);
        assert_eq!([1, 10, 2].map(|id| cells[&id].row), [cells[&1].row; 3], "{cells:?}");
        assert_eq!(cells[&11].row, cells[&3].row);
        // 2 sits between the two topics it writes to.
        let (low, high) = (cells[&11].row.min(cells[&12].row), cells[&11].row.max(cells[&12].row));
        assert!(low < cells[&2].row && cells[&2].row < high, "{cells:?}");
    }

    #[test]
    fn ordering_removes_the_crossings_id_order_makes() {
        // Two pipelines, 1 -> 20 -> 3 and 2 -> 10 -> 4: in id order both pairs of layers cross.
        let nodes = [node(1), node(2), topic(20), topic(10), node(3), node(4)];
        let edges = [(1, 20), (2, 10), (10, 4), (20, 3)];
        let mut g = Virtual::build(&nodes, &edges, &layers(&nodes, &edges), usize::MAX);
        assert_eq!(g.crossings(), 2);
        g.order(&[None; 6]);
        assert_eq!(g.crossings(), 0);
        let cells = Layered::new(&nodes, &edges, None, usize::MAX).cells();
        let below = |a: u32, b: u32| cells[&a].row < cells[&b].row;
        assert_eq!(below(1, 2), below(20, 10));
        assert_eq!(below(20, 10), below(3, 4));
    }

    #[test]
    fn a_long_edge_keeps_a_row_of_its_own_in_the_layers_it_crosses() {
        // 1 -> 10 -> 2 -> 11, 4 -> 10, and 1 -> 11 directly (crossing layers 1 and 2).
        let nodes = [node(1), topic(10), node(2), topic(11), node(4)];
        let edges = [(1, 10), (10, 2), (2, 11), (4, 10), (1, 11)];
        let mut g = Virtual::build(&nodes, &edges, &layers(&nodes, &edges), usize::MAX);
        g.order(&[None; 7]);
        assert_eq!(g.by_layer.iter().map(Vec::len).collect::<Vec<_>>(), [2, 2, 2, 1]);
        let rows = g.rows();
        for layer in &g.by_layer {
            let mut at: Vec<f32> = layer.iter().map(|&v| rows[v]).collect();
            at.sort_by(f32::total_cmp);
            assert!(at.windows(2).all(|w| w[1] - w[0] >= 1.0 - 1e-4), "{at:?}");
        }
        assert!(rows.iter().all(|r| *r >= 0.0));
    }

    #[test]
    fn a_seeded_layout_keeps_placed_nodes_in_their_order() {
        let nodes = [node(1), topic(10), node(2), node(3), topic(11), node(4)];
        let edges = [(1, 10), (10, 2), (3, 11), (11, 4)];
        let first = Layered::new(&nodes, &edges, None, usize::MAX);
        let before = first.cells();
        // A new pipeline arrives whose producer's id sorts first.
        let mut more = nodes.to_vec();
        more.extend([node(0), topic(9), node(5)]);
        let mut more_edges = edges.to_vec();
        more_edges.extend([(0, 9), (9, 5)]);
        let second = Layered::new(&more, &more_edges, Some(&first), usize::MAX);
        let after = second.cells();
        for (a, b) in [(1, 3), (10, 11), (2, 4)] {
            assert_eq!(before[&a].row < before[&b].row, after[&a].row < after[&b].row, "{a} and {b} swapped");
        }
        assert_eq!(after[&0].column, 0);
        assert_eq!(after[&9].column, 1);
    }

    #[test]
    fn loops_are_cut_and_long_graphs_wrap_into_bands() {
        // A saga loop: 1 -> 10 -> 2 -> 11 -> 1.
        let nodes = [node(1), topic(10), node(2), topic(11)];
        let edges = [(1, 10), (10, 2), (2, 11), (11, 1)];
        let layout = Layered::new(&nodes, &edges, None, usize::MAX);
        let mut used: Vec<usize> = [1, 10, 2, 11].iter().filter_map(|id| layout.layer_of(*id)).collect();
        used.sort_unstable();
        used.dedup();
        // One layer each, however the loop was cut (were it not, longest paths would never end).
        assert_eq!(used.len(), 4);
        assert!(layout.layer_count() <= 5);
        // A chain of 9 in bands of at most 4: three bands of three, each under the one before,
        // the middle one running back.
        let chain: Vec<LayoutNode> = (0..9).map(node).collect();
        let links: Vec<(u32, u32)> = (0..8).map(|i| (i, i + 1)).collect();
        let cells = Layered::new(&chain, &links, None, 4).cells();
        assert_eq!((0..9).map(|i| cells[&i].column).collect::<Vec<_>>(), [0, 1, 2, 2, 1, 0, 0, 1, 2]);
        assert!(cells[&3].row > cells[&2].row && cells[&6].row > cells[&5].row);
        assert_eq!(cells[&3].row, cells[&5].row);
    }

    #[test]
    fn destinations_never_start_a_layer_and_unknown_ends_are_ignored() {
        let nodes = [topic(10), node(2)];
        let layout = Layered::new(&nodes, &[(10, 2), (99, 2)], None, usize::MAX);
        assert_eq!(layout.layer_of(10), Some(1));
        assert_eq!(layout.layer_of(2), Some(2));
        assert_eq!(layout.layer_of(99), None);
        // A layout of nothing is empty.
        assert_eq!(Layered::new(&[], &[], None, 3).cells(), HashMap::new());
    }
}
