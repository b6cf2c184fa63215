//! The layout's third step: each node's row. Nodes are pulled towards the mean row of their
//! neighbours, keeping their layer's order and one row between them (an isotonic
//! regression, solved exactly by pool-adjacent-violators); chain links are straightened;
//! each band then starts at row 0 with no tall empty stretch, and nodes without edges wait
//! under it. Apart from the ordering because it is geometry of its own, tested on its own.

use std::collections::HashMap;

use super::Virtual;

/// Passes of the row step, at most (it stops once nothing moves).
const ROW_PASSES: usize = 60;
/// A row step pass that moves no node further than this has settled.
const ROW_SETTLED: f32 = 1e-3;
/// The tallest empty stretch of rows left between nodes of a band.
const MAX_EMPTY_ROWS: f32 = 1.5;

impl Virtual {
    /// Each node's row (step 3).
    pub(super) fn rows(&self) -> Vec<f32> {
        let mut row = vec![0.0_f32; self.id.len()];
        for layer in &self.by_layer {
            for (i, &v) in layer.iter().enumerate() {
                row[v] = i as f32;
            }
        }
        let layers = self.by_layer.len();
        for pass in 0..ROW_PASSES {
            // Sweeping down then up, each node pulled towards all its neighbours: a chain
            // settles straight, and a node between a fan's ends sits midway.
            let order: Vec<usize> = if pass % 2 == 0 { (0..layers).collect() } else { (0..layers).rev().collect() };
            let mut moved = 0.0_f32;
            for l in order {
                let layer = &self.by_layer[l];
                let wanted: Vec<f32> = layer
                    .iter()
                    .map(|&v| {
                        let (up, down) = (&self.up[v], &self.down[v]);
                        let n = up.len() + down.len();
                        if n == 0 { row[v] } else { up.iter().chain(down).map(|&w| row[w]).sum::<f32>() / n as f32 }
                    })
                    .collect();
                for (v, r) in layer.iter().zip(spaced(&wanted)) {
                    moved = moved.max((row[*v] - r).abs());
                    row[*v] = r;
                }
            }
            if moved < ROW_SETTLED {
                break;
            }
        }
        // Then links of a chain (the only edge out of one node and the only one into the
        // next) are straightened wherever the spacing allows.
        for downward in [true, false] {
            let order: Vec<usize> = if downward { (0..layers).collect() } else { (0..layers).rev().collect() };
            for l in order {
                let layer = &self.by_layer[l];
                let wanted: Vec<f32> = layer
                    .iter()
                    .map(|&v| {
                        let (toward, back) = if downward { (&self.up, &self.down) } else { (&self.down, &self.up) };
                        match toward[v].as_slice() {
                            [w] if back[*w].len() == 1 => row[*w],
                            _ => row[v],
                        }
                    })
                    .collect();
                for (v, r) in layer.iter().zip(spaced(&wanted)) {
                    row[*v] = r;
                }
            }
        }
        self.compact(&mut row);
        row
    }

    /// Within each band: starts its rows at 0, closes empty stretches taller than
    /// [`MAX_EMPTY_ROWS`] (rows drift apart where nothing ties them, such as two unconnected
    /// parts of a graph), and puts the loose nodes on rows of their own under the rest.
    fn compact(&self, row: &mut [f32]) {
        let layers = self.by_layer.len().max(self.loose.iter().map(|&v| self.layer[v] + 1).max().unwrap_or(0));
        for band in 0..layers.div_ceil(self.per_band) {
            let in_band = band * self.per_band..((band + 1) * self.per_band).min(layers);
            let members: Vec<usize> =
                self.by_layer.get(in_band.clone()).into_iter().flatten().flatten().copied().collect();
            let mut taken: Vec<f32> = members.iter().map(|&v| row[v]).collect();
            taken.sort_by(f32::total_cmp);
            taken.dedup_by(|a, b| (*a - *b).abs() < 1e-4);
            // Each taken row's new place: gaps kept up to the most allowed.
            let mut moved_to = Vec::with_capacity(taken.len());
            for (i, r) in taken.iter().enumerate() {
                let to = match i {
                    0 => 0.0,
                    _ => moved_to[i - 1] + (r - taken[i - 1]).min(MAX_EMPTY_ROWS),
                };
                moved_to.push(to);
            }
            for &v in &members {
                let i = taken.partition_point(|t| *t < row[v] - 1e-4);
                row[v] = moved_to.get(i).copied().unwrap_or(0.0);
            }
            let bottom = moved_to.last().copied().unwrap_or(-1.0);
            let mut next_in: HashMap<usize, f32> = HashMap::new();
            for &v in self.loose.iter().filter(|&&v| in_band.contains(&self.layer[v])) {
                let next = next_in.entry(self.layer[v]).or_insert(bottom + 1.0);
                row[v] = *next;
                *next += 1.0;
            }
        }
    }
}

/// Rows as close as they can be to `wanted` (least squares) in the same order and at least
/// one apart: with `z[i] = row[i] - i` it is an isotonic regression of `wanted[i] - i`,
/// which pool-adjacent-violators solves exactly.
fn spaced(wanted: &[f32]) -> Vec<f32> {
    // Blocks of pooled values: (mean, count).
    let mut blocks: Vec<(f32, usize)> = Vec::with_capacity(wanted.len());
    for (i, w) in wanted.iter().enumerate() {
        blocks.push((w - i as f32, 1));
        while blocks.len() > 1 {
            let (b, a) = (blocks[blocks.len() - 1], blocks[blocks.len() - 2]);
            if a.0 <= b.0 {
                break;
            }
            blocks.pop();
            let n = a.1 + b.1;
            if let Some(last) = blocks.last_mut() {
                *last = ((a.0 * a.1 as f32 + b.0 * b.1 as f32) / n as f32, n);
            }
        }
    }
    let mut out = Vec::with_capacity(wanted.len());
    for (mean, count) in blocks {
        for _ in 0..count {
            let i = out.len();
            out.push(mean + i as f32);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::Layered;
    use super::super::tests::{node, topic};
    use super::*;

    #[test]
    fn rows_keep_order_and_spacing_and_follow_what_is_wanted() {
        assert_eq!(spaced(&[0.0, 3.0, 5.0]), vec![0.0, 3.0, 5.0]);
        // Two nodes wanting the same row share it out evenly around it.
        assert_eq!(spaced(&[2.0, 2.0]), vec![1.5, 2.5]);
        // Order is kept even when wanted otherwise.
        let rows = spaced(&[4.0, 0.0, 1.0]);
        assert!(rows.windows(2).all(|w| w[1] - w[0] >= 1.0 - 1e-5), "{rows:?}");
    }

    #[test]
    fn a_node_without_edges_waits_under_the_rest_and_parts_stay_close() {
        // A listed topic nobody uses yet (9), seeded first as it arrived first; and a fan
        // (1 -> 10, 11, 12, 13) beside a lone chain (2 -> 14) that nothing ties to it.
        let nodes = [topic(9), node(1), topic(10), topic(11), topic(12), topic(13), node(2), topic(14)];
        let edges = [(1, 10), (1, 11), (1, 12), (1, 13), (2, 14)];
        let first = Layered::new(&nodes[..1], &[], None, usize::MAX);
        let cells = Layered::new(&nodes, &edges, Some(&first), usize::MAX).cells();
        let used: Vec<f32> = [1, 10, 11, 12, 13, 2, 14].map(|id| cells[&id].row).to_vec();
        let bottom = used.iter().copied().fold(f32::MIN, f32::max);
        assert_eq!(cells[&9].row, bottom + 1.0, "{cells:?}");
        assert_eq!(used.iter().copied().fold(f32::MAX, f32::min), 0.0);
        // No empty stretch taller than the most allowed between the two parts.
        let mut rows = used.clone();
        rows.sort_by(f32::total_cmp);
        assert!(rows.windows(2).all(|w| w[1] - w[0] <= MAX_EMPTY_ROWS + 1e-4), "{rows:?}");
    }
}
