//! What the flow model holds in memory: the bytes a node and an edge are counted at against
//! the graph's share of the memory budget ([`NODE_BYTES`], [`EDGE_BYTES`]), and [`HeapSize`]
//! for a node, an edge and the whole model (with its join memories), which the timeline counts
//! its checkpoints by. Apart from the model's logic because it only measures.
//!
//! Nearly all of a node or edge is its statistics: a [`Stats`](crate::model::stats::Stats)
//! makes its latency histogram (13 KB) at the first latency recorded, keeps up to 128
//! samples of the newest second, and up to ten minutes of per-second history (14 KB once
//! full). The constants count a node and an edge as they are once that history is full, so
//! the graph never outgrows its share as a session ages.

use std::collections::BTreeSet;
use std::mem::size_of;

use petgraph::stable_graph::{EdgeIndex, NodeIndex};
use smallvec::SmallVec;

use super::joins::{ClientMemo, ConsumerWaiting, ProducerMemo, ServerWaiting};
use super::kafka::DeadLetterPartition;
use super::{EdgeKey, FlowEdge, FlowModel, FlowNode, JoinLimits, NodeKey};
use crate::model::ids::SpanRef;
use crate::model::size::{HISTOGRAM_BYTES, HISTORY_BYTES, HeapSize, SAMPLES_BYTES};
use crate::model::span::ServiceName;

/// A node's or edge's names (its key, a few consumer groups and partitions) and its entries
/// in the maps that find it, at most; a test checks the figure.
const NAMES_BYTES: usize = 1_024;

/// One statistic in full use: its histogram, its newest second's samples and a full history.
const FULL_STATS_BYTES: usize = HISTOGRAM_BYTES + SAMPLES_BYTES + HISTORY_BYTES;

/// What a node is counted at against the graph's share: one of its two
/// [`Stats`](crate::model::stats::Stats) in full use (a service's spans, or a destination's
/// time in topic; the other stays empty and allocates nothing), and its names. About 30 KB.
pub const NODE_BYTES: usize = size_of::<FlowNode>() + FULL_STATS_BYTES + NAMES_BYTES;

/// What an edge is counted at: two of its three [`Stats`](crate::model::stats::Stats) in
/// full use (its messages, and time in topic on a consume edge) and its names. About 57 KB.
/// An edge whose spans are both receives and processes fills its third as well; that is
/// rare, and counted when the graph is measured, not here.
pub const EDGE_BYTES: usize = size_of::<FlowEdge>() + 2 * FULL_STATS_BYTES + NAMES_BYTES;

/// A hash map's or B-tree's own bytes per entry beyond its key and value (control bytes,
/// spare capacity, node links), roughly.
const ENTRY_OVERHEAD: usize = 16;

fn names(set: &BTreeSet<String>) -> usize {
    set.iter().map(|name| size_of::<String>() + name.capacity() + ENTRY_OVERHEAD).sum()
}

impl HeapSize for ServiceName {
    fn heap_bytes(&self) -> usize {
        self.name.capacity() + self.namespace.as_ref().map_or(0, String::capacity)
    }
}

impl HeapSize for NodeKey {
    fn heap_bytes(&self) -> usize {
        match self {
            Self::Service { service } => service.heap_bytes(),
            Self::Destination { system, name } => system.capacity() + name.capacity(),
            Self::ConsumerGroup { system, group } => system.capacity() + group.capacity(),
        }
    }
}

impl HeapSize for FlowNode {
    fn heap_bytes(&self) -> usize {
        self.key.heap_bytes()
            + self.stats.heap_bytes()
            + self.time_in_topic.heap_bytes()
            + names(&self.consumer_groups)
            + names(&self.partitions)
    }
}

impl HeapSize for FlowEdge {
    fn heap_bytes(&self) -> usize {
        self.primary.heap_bytes()
            + self.secondary.heap_bytes()
            + self.time_in_topic.heap_bytes()
            + names(&self.consumer_groups)
            + names(&self.partitions)
    }
}

/// What a waiting list spilled to the heap: a join memory holds this beyond its two
/// generations' tables as allocated (a table is sized for its peak, up to twice its entries).
fn spilled<T: smallvec::Array>(list: &SmallVec<T>) -> usize {
    if list.spilled() { list.capacity() * size_of::<T::Item>() } else { 0 }
}

/// The fewest keys a join memory keeps, however small the budget.
pub const MIN_JOIN_KEYS: usize = 1_024;

impl JoinLimits {
    /// About the most the join memories take when full, by the model's measure: each key a
    /// slot (key, value, control byte) in tables sized for up to twice the keys held.
    pub fn full_bytes(&self) -> usize {
        let slots = |keys: usize, slot: usize| 2 * keys * (slot + 1);
        slots(self.producers, size_of::<(SpanRef, ProducerMemo)>())
            + slots(self.clients, size_of::<(SpanRef, ClientMemo)>())
            + slots(self.pending, size_of::<(SpanRef, SmallVec<[ConsumerWaiting; 1]>)>())
            + slots(self.pending, size_of::<(SpanRef, SmallVec<[ServerWaiting; 1]>)>())
    }

    /// The default limits, scaled down (never up) so the memories take at most `bytes` when
    /// full, each keeping at least [`MIN_JOIN_KEYS`]. Every timeline checkpoint copies them,
    /// so a small memory budget needs smaller ones. A scaled limit is rounded down to a power
    /// of two, as the defaults are: a generation of half of it then fills a table of exactly
    /// its limit's slots, which is what [`JoinLimits::full_bytes`] counts (other sizes
    /// round their tables up, by up to 14% more).
    pub fn within(bytes: usize) -> Self {
        let default = Self::default();
        let full = default.full_bytes();
        if full <= bytes {
            return default;
        }
        let scaled = |keys: usize| {
            let keys = keys as u128 * bytes as u128 / full as u128;
            let keys = usize::try_from(keys).unwrap_or(usize::MAX).max(MIN_JOIN_KEYS);
            // The largest power of two not above it.
            1 << keys.ilog2()
        };
        Self {
            producers: scaled(default.producers),
            clients: scaled(default.clients),
            pending: scaled(default.pending),
        }
    }
}

impl FlowModel {
    /// The bytes the join memories hold, as [`HeapSize::heap_bytes`] counts them.
    fn join_bytes(&self) -> usize {
        self.producers.heap_bytes_with(|_| 0)
            + self.clients.heap_bytes_with(|_| 0)
            + self.waiting_consumers.heap_bytes_with(spilled)
            + self.waiting_servers.heap_bytes_with(spilled)
    }

    /// The bytes of [`HeapSize::heap_bytes`] that `self` shares with `other`: the old
    /// generations of the join memories they both hold, when one is a copy of the other or
    /// both are copies of one model taken close together (the timeline's checkpoints).
    pub fn shared_bytes(&self, other: &Self) -> usize {
        self.producers.shared_bytes_with(&other.producers, |_| 0)
            + self.clients.shared_bytes_with(&other.clients, |_| 0)
            + self.waiting_consumers.shared_bytes_with(&other.waiting_consumers, spilled)
            + self.waiting_servers.shared_bytes_with(&other.waiting_servers, spilled)
            + self.budget.remembered_shared_bytes(&other.budget)
    }
}

impl HeapSize for FlowModel {
    /// The graph (each node and edge as it is, statistics, names, petgraph's links), the maps
    /// that find nodes and edges, the join memories and the overflow bookkeeping. A consume
    /// waiting for its producer is counted inline; the names a boxed one keeps are not.
    fn heap_bytes(&self) -> usize {
        let graph = &self.graph;
        let nodes: usize = graph
            .node_indices()
            .map(|index| graph[index].total_bytes() + 2 * size_of::<EdgeIndex>() + ENTRY_OVERHEAD)
            .sum();
        let edges: usize = graph
            .edge_indices()
            .map(|index| graph[index].total_bytes() + 2 * (size_of::<EdgeIndex>() + size_of::<NodeIndex>()))
            .sum();
        let services: usize =
            self.services.keys().map(|service| service.total_bytes() + size_of::<NodeIndex>() + ENTRY_OVERHEAD).sum();
        let named: usize = [&self.destinations, &self.groups]
            .into_iter()
            .flat_map(|systems| systems.iter())
            .map(|(system, names)| {
                size_of::<String>()
                    + system.capacity()
                    + names
                        .keys()
                        .map(|name| size_of::<String>() + name.capacity() + size_of::<NodeIndex>() + ENTRY_OVERHEAD)
                        .sum::<usize>()
            })
            .sum();
        let edge_keys = self.edges.len() * (size_of::<EdgeKey>() + size_of::<EdgeIndex>() + ENTRY_OVERHEAD);
        let joins = self.join_bytes();
        let dead_letters = self.dead_letter_offsets.len() * (size_of::<DeadLetterPartition>() + 8 + ENTRY_OVERHEAD);
        let folded = self.budget.remembered_bytes();
        nodes + edges + services + named + edge_keys + joins + dead_letters + folded
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::span::SpanKind;
    use crate::testing::{consumer_linked, producer, span};

    /// A producer and a consumer of a topic, every second for longer than the
    /// history keeps, so every statistic in use is full.
    fn busy_model() -> FlowModel {
        let mut model = FlowModel::default();
        for second in 0..700u64 {
            let mut sent = producer("checkout-service-with-a-long-name", "kafka", "orders.v1.created", 1, second + 1);
            sent.start_unix_nano = second * 1_000_000_000;
            sent.end_unix_nano = sent.start_unix_nano + 2_000_000;
            model.apply_span(&sent, second);
            let mut read = consumer_linked("billing", "kafka", "orders.v1.created", 2, second + 1, (1, second + 1));
            read.start_unix_nano = sent.start_unix_nano + 5_000_000;
            read.end_unix_nano = read.start_unix_nano + 1_000_000;
            if let Some(m) = &mut read.messaging {
                m.consumer_group = Some("billing-group".into());
                m.partition = Some((second % 12).to_string());
            }
            model.apply_span(&read, second);
        }
        model
    }

    #[test]
    fn a_full_node_and_edge_are_within_what_they_are_counted_at() {
        let model = busy_model();
        let graph = model.graph();
        let largest_node = graph.node_indices().map(|i| graph[i].total_bytes()).max().unwrap();
        let largest_edge = graph.edge_indices().map(|i| graph[i].total_bytes()).max().unwrap();
        // The full service node and the consume edge with twelve partitions.
        assert!(largest_node <= NODE_BYTES, "{largest_node} > {NODE_BYTES}");
        assert!(largest_edge <= EDGE_BYTES, "{largest_edge} > {EDGE_BYTES}");
        // And the constants are not far above what a full one holds.
        assert!(NODE_BYTES - largest_node < NAMES_BYTES + 1_024, "{largest_node} vs {NODE_BYTES}");
        assert!(EDGE_BYTES - largest_edge < NAMES_BYTES + 1_024, "{largest_edge} vs {EDGE_BYTES}");
        // A node as made holds one histogram (its span's latency) and a second of history.
        let mut fresh = FlowModel::default();
        fresh.apply_span(&span("lonely", "work", SpanKind::Internal).build(), 1);
        let node = fresh.graph().node_indices().next().unwrap();
        let made = fresh.graph()[node].total_bytes();
        assert!((HISTOGRAM_BYTES..HISTOGRAM_BYTES + NAMES_BYTES + 1_024).contains(&made), "{made}");
        // The whole model: its elements plus maps and join memories.
        let elements: usize = graph.node_indices().map(|i| graph[i].total_bytes()).sum::<usize>()
            + graph.edge_indices().map(|i| graph[i].total_bytes()).sum::<usize>();
        assert!(model.heap_bytes() > elements);
        assert!(model.heap_bytes() < elements + 700 * 2 * 200, "{}", model.heap_bytes());
    }

    #[test]
    fn join_limits_within_a_budget_scale_down_and_hold_it_when_full() {
        let default = JoinLimits::default();
        let full = default.full_bytes();
        assert!((30 << 20..60 << 20).contains(&full), "{full}");
        assert_eq!(JoinLimits::within(usize::MAX).producers, default.producers);
        let tiny = JoinLimits::within(1);
        assert_eq!((tiny.producers, tiny.clients, tiny.pending), (MIN_JOIN_KEYS, MIN_JOIN_KEYS, MIN_JOIN_KEYS));
        // A sixteenth of the defaults' bytes: a sixteenth of each limit; a little less, the
        // next power of two down (a thirty-second).
        let budget = full / 16;
        let limits = JoinLimits::within(budget);
        assert_eq!((limits.producers, limits.clients), (default.producers / 16, default.clients / 16));
        let less = JoinLimits::within(budget - 1);
        assert_eq!((less.producers, less.pending), (default.producers / 32, default.pending / 32));
        // Filled past its limits (producers remembered, consumers waiting for others), the
        // model's join memories stay within the bytes they were given.
        let mut model = FlowModel::new(limits);
        for id in 1..=100_000u64 {
            model.apply_span(&producer("checkout", "kafka", "orders", 1, id), 1);
            model.apply_span(&consumer_linked("billing", "kafka", "orders", 2, id, (3, id)), 1);
        }
        let held = (model.producers.len(), model.waiting_consumers.len());
        assert!((limits.producers / 2..=limits.producers).contains(&held.0), "{held:?}");
        assert!((limits.pending / 2..=limits.pending).contains(&held.1), "{held:?}");
        let joins = model.join_bytes();
        assert!(joins <= budget, "{joins} > {budget}");
    }

    #[test]
    fn join_memories_count_the_tables_they_allocated_not_their_entries() {
        // Consumers whose producers have not arrived wait; their producers then arrive and
        // empty the waiting list, whose table stays as large as it grew (and a checkpoint's
        // copy of the model allocates as much again).
        let mut model = FlowModel::default();
        for id in 1..=5_000u64 {
            model.apply_span(&consumer_linked("billing", "kafka", "orders", 2, id, (1, id)), 1);
        }
        let while_waiting = model.waiting_consumers.heap_bytes_with(|_| 0);
        for id in 1..=5_000u64 {
            model.apply_span(&producer("checkout", "kafka", "orders", 1, id), 1);
        }
        assert!(model.waiting_consumers.is_empty());
        let allocated = model.waiting_consumers.heap_bytes_with(|_| 0) + model.producers.heap_bytes_with(|_| 0);
        assert!(allocated >= while_waiting);
        assert!(model.heap_bytes() >= allocated, "{} < {allocated}", model.heap_bytes());
    }
}
