//! The graph's bound and its overflow nodes.
//!
//! Every node and edge is counted at what it holds once its statistics are full
//! ([`NODE_BYTES`](super::NODE_BYTES), [`EDGE_BYTES`], from `memory.rs`), and the graph keeps
//! within its share of the memory budget ([`GraphBudget`]): a temporary reply queue, a
//! per-request topic or a name from a stranger's header each would otherwise add a node of its
//! own, forever. Past the share a new name gets no node: a destination folds into one overflow
//! node per messaging system (`kafka/(312 more topics)`), a consumer group into one per
//! system, a service into `(N more services)`, and its traffic is counted there, so totals
//! stay right. A new edge past it goes to the overflow node of its target (or, when even that
//! edge finds no room, between the two ends' overflow nodes). Nodes and edges already drawn
//! keep working as before.
//!
//! Apart from `mod.rs` because it is a concern of its own (what happens past the bound) with
//! state of its own (the overflow nodes and the names already counted), touched only when a
//! name or an edge is new.

use std::hash::{DefaultHasher, Hasher};

use petgraph::stable_graph::{EdgeIndex, NodeIndex};
use rustc_hash::FxHashMap;

use super::memory::EDGE_BYTES;
use super::{EdgeKey, EdgeKind, FlowModel, NodeKey, NodeKind};
use crate::model::bounded_index::BoundedIndex;
use crate::model::span::ServiceName;

/// Folded names and edges remembered, so each is counted once (a hash and an overflow node
/// each, about 2 MB in all); one forgotten and seen again is counted again.
pub(super) const FOLDED_REMEMBERED: usize = 65_536;
/// Messaging systems with overflow nodes of their own, per kind: names of further systems
/// fold into one overflow node shared by all of them ([`OTHER_SYSTEMS`]), so the overflow
/// nodes are bounded too.
const MAX_OVERFLOW_SYSTEMS: usize = 8;
/// The system the shared overflow node is filed under.
const OTHER_SYSTEMS: &str = "(other systems)";

/// Which part of the graph's share a new node or edge may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Tier {
    /// A topic a cluster lists, before any traffic: up to half the share, so the names spans
    /// bring still find room however many topics a cluster has.
    Listed,
    /// A name spans, groups or dead-letter headers bring, or an edge between named nodes: up
    /// to seven eighths of the share.
    Named,
    /// An edge to or from an overflow node: up to the whole share (the last eighth is kept for
    /// these, so folded traffic can still show who sent it and who read it).
    Overflow,
}

/// The graph's share of the memory budget, what its nodes and edges are counted at so far,
/// and the overflow nodes past it.
#[derive(Clone, Debug)]
pub(super) struct GraphBudget {
    max_bytes: usize,
    /// Nodes times [`NODE_BYTES`](super::NODE_BYTES) plus edges times [`EDGE_BYTES`].
    bytes: usize,
    /// The services' overflow node, once one was needed.
    services: Option<NodeIndex>,
    /// Destinations' overflow nodes by system.
    destinations: FxHashMap<String, NodeIndex>,
    /// Consumer groups' overflow nodes by system.
    groups: FxHashMap<String, NodeIndex>,
    /// Names folded into each overflow node (its name says how many).
    folded_into: FxHashMap<NodeIndex, u64>,
    /// Hashes of the names and edges counted as folded; a name's value is the overflow node
    /// it was counted in.
    remembered: BoundedIndex<u64, Option<NodeIndex>>,
    names_folded: u64,
    edges_folded: u64,
}

impl GraphBudget {
    /// Within `max_bytes`, nothing counted yet.
    pub(super) fn new(max_bytes: usize) -> Self {
        Self {
            max_bytes,
            bytes: 0,
            services: None,
            destinations: FxHashMap::default(),
            groups: FxHashMap::default(),
            folded_into: FxHashMap::default(),
            remembered: BoundedIndex::new(FOLDED_REMEMBERED),
            names_folded: 0,
            edges_folded: 0,
        }
    }

    pub(super) fn set_max_bytes(&mut self, bytes: usize) {
        self.max_bytes = bytes;
    }

    pub(super) fn max_bytes(&self) -> usize {
        self.max_bytes
    }

    pub(super) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(super) fn names_folded(&self) -> u64 {
        self.names_folded
    }

    pub(super) fn edges_folded(&self) -> u64 {
        self.edges_folded
    }

    /// The bytes the hashes remembered as folded hold, as allocated.
    pub(super) fn remembered_bytes(&self) -> usize {
        self.remembered.heap_bytes_with(|_| 0)
    }

    /// What of [`GraphBudget::remembered_bytes`] `other` holds too (a copy of this budget).
    pub(super) fn remembered_shared_bytes(&self, other: &Self) -> usize {
        self.remembered.shared_bytes_with(&other.remembered, |_| 0)
    }

    /// Names folded into `index` when it is an overflow node.
    pub(super) fn folded_into(&self, index: NodeIndex) -> Option<u64> {
        self.folded_into.get(&index).copied()
    }

    /// The overflow nodes made so far.
    pub(super) fn overflow_nodes(&self) -> impl Iterator<Item = NodeIndex> + '_ {
        self.folded_into.keys().copied()
    }

    /// Whether one more element of `bytes` fits in `tier`'s part of the share.
    pub(super) fn admits(&self, bytes: usize, tier: Tier) -> bool {
        let limit = match tier {
            Tier::Listed => self.max_bytes / 2,
            Tier::Named => self.max_bytes - self.max_bytes / 8,
            Tier::Overflow => self.max_bytes,
        };
        self.bytes.saturating_add(bytes) <= limit
    }

    /// Counts a node or edge just added.
    pub(super) fn count_element(&mut self, bytes: usize) {
        self.bytes = self.bytes.saturating_add(bytes);
    }

    fn is_overflow(&self, index: NodeIndex) -> bool {
        self.folded_into.contains_key(&index)
    }
}

/// A name's identity among folded names: its kind, system and name (and a service's
/// namespace). A collision of two names counts them once, which a 64-bit hash makes rare.
pub(super) fn name_hash(kind: NodeKind, system: &str, name: &str, namespace: Option<&str>) -> u64 {
    let mut hasher = DefaultHasher::new();
    hasher.write_u8(kind as u8);
    hasher.write(system.as_bytes());
    hasher.write_u8(0xff);
    hasher.write(name.as_bytes());
    if let Some(namespace) = namespace {
        hasher.write_u8(0xfe);
        hasher.write(namespace.as_bytes());
    }
    hasher.finish()
}

/// An edge's identity among folded edges (the edge it would have been).
fn edge_hash(key: EdgeKey) -> u64 {
    let mut hasher = DefaultHasher::new();
    hasher.write_u8(0xfd);
    hasher.write_usize(key.from.index());
    hasher.write_usize(key.to.index());
    hasher.write_u8(key.kind as u8);
    hasher.finish()
}

/// What a system's destinations are called in an overflow node's name.
fn destinations_word(system: &str) -> &'static str {
    match system {
        "kafka" | "pulsar" | "rocketmq" | "gcp_pubsub" | "aws_sns" | "eventgrid" | "eventhubs" => "topics",
        "rabbitmq" | "aws_sqs" | "activemq" | "jms" | "servicebus" => "queues",
        _ => "destinations",
    }
}

/// An overflow node's key: its name says how many names it holds.
fn overflow_key(kind: NodeKind, system: &str, folded: u64) -> NodeKey {
    let name = |what: &str| if folded == 0 { format!("(more {what})") } else { format!("({folded} more {what})") };
    match kind {
        NodeKind::Service => NodeKey::Service { service: ServiceName::new(name("services")) },
        NodeKind::Destination => {
            NodeKey::Destination { system: system.to_owned(), name: name(destinations_word(system)) }
        }
        NodeKind::ConsumerGroup => NodeKey::ConsumerGroup { system: system.to_owned(), group: name("groups") },
    }
}

impl FlowModel {
    /// The edge of `kind` from `from` to `to`. A new one takes its place within the share;
    /// past it the traffic goes to the edge with the destination end (the target of a call)
    /// folded into its overflow node, where the traffic of folded names already is; when that
    /// one finds no room either, to the edge between the overflow nodes of both ends (those
    /// are few, so always drawn). Counted once per edge it would have been.
    pub(super) fn edge(&mut self, from: NodeIndex, to: NodeIndex, kind: EdgeKind) -> EdgeIndex {
        let key = EdgeKey { from, to, kind };
        if let Some(&index) = self.edges.get(&key) {
            return index;
        }
        if self.edge_fits(key) {
            return self.add_edge(key);
        }
        let hash = edge_hash(key);
        if self.budget.remembered.get(&hash).is_none() {
            self.budget.remembered.insert(hash, None);
            self.budget.edges_folded += 1;
        }
        let folded = if kind == EdgeKind::Consumes {
            EdgeKey { from: self.overflow_of(from), to, kind }
        } else {
            EdgeKey { from, to: self.overflow_of(to), kind }
        };
        if let Some(&index) = self.edges.get(&folded) {
            return index;
        }
        if self.edge_fits(folded) {
            return self.add_edge(folded);
        }
        let between = EdgeKey { from: self.overflow_of(from), to: self.overflow_of(to), kind };
        match self.edges.get(&between) {
            Some(&index) => index,
            None => self.add_edge(between),
        }
    }

    /// Whether a new edge fits: between named nodes within their part of the share, touching
    /// one overflow node within the whole share, between two overflow nodes always.
    fn edge_fits(&self, key: EdgeKey) -> bool {
        match (self.budget.is_overflow(key.from), self.budget.is_overflow(key.to)) {
            (false, false) => self.budget.admits(EDGE_BYTES, Tier::Named),
            (true, true) => true,
            _ => self.budget.admits(EDGE_BYTES, Tier::Overflow),
        }
    }

    /// Folds a new name (`hash`, from [`name_hash`]) into the overflow node of its kind and
    /// system, counting it the first time.
    pub(super) fn fold_name(&mut self, kind: NodeKind, system: &str, hash: u64) -> NodeIndex {
        let overflow = self.overflow_node(kind, system);
        if self.budget.remembered.get(&hash).is_none() {
            self.budget.remembered.insert(hash, Some(overflow));
            self.budget.names_folded += 1;
            *self.budget.folded_into.entry(overflow).or_default() += 1;
            self.rename_overflow(overflow);
        }
        overflow
    }

    /// A name that was folded (a topic a cluster listed, past half the share) takes a node of
    /// its own now that traffic names it: it no longer counts among the folded.
    pub(super) fn unfold(&mut self, hash: u64) {
        if self.budget.names_folded == 0 {
            return;
        }
        let Some(Some(overflow)) = self.budget.remembered.remove(&hash) else { return };
        self.budget.names_folded -= 1;
        if let Some(folded) = self.budget.folded_into.get_mut(&overflow) {
            *folded = folded.saturating_sub(1);
        }
        self.rename_overflow(overflow);
    }

    /// The overflow node a node's new edges go to past the share: itself if it is one, else
    /// the one of its kind and system.
    fn overflow_of(&mut self, index: NodeIndex) -> NodeIndex {
        if self.budget.is_overflow(index) {
            return index;
        }
        let (kind, system) = match &self.graph[index].key {
            NodeKey::Service { .. } => (NodeKind::Service, String::new()),
            NodeKey::Destination { system, .. } => (NodeKind::Destination, system.clone()),
            NodeKey::ConsumerGroup { system, .. } => (NodeKind::ConsumerGroup, system.clone()),
        };
        self.overflow_node(kind, &system)
    }

    /// The overflow node for names of `kind` on `system`, made when first needed. Made past
    /// the share: there are at most 1 + 2 × 9 of them.
    fn overflow_node(&mut self, kind: NodeKind, system: &str) -> NodeIndex {
        let map = match kind {
            NodeKind::Service => {
                if let Some(index) = self.budget.services {
                    return index;
                }
                let index = self.add_overflow_node(overflow_key(kind, system, 0));
                self.budget.services = Some(index);
                return index;
            }
            NodeKind::Destination => &self.budget.destinations,
            NodeKind::ConsumerGroup => &self.budget.groups,
        };
        if let Some(&index) = map.get(system) {
            return index;
        }
        let system = if map.len() >= MAX_OVERFLOW_SYSTEMS { OTHER_SYSTEMS } else { system };
        if let Some(&index) = map.get(system) {
            return index;
        }
        let index = self.add_overflow_node(overflow_key(kind, system, 0));
        let map = if kind == NodeKind::Destination { &mut self.budget.destinations } else { &mut self.budget.groups };
        map.insert(system.to_owned(), index);
        index
    }

    fn add_overflow_node(&mut self, key: NodeKey) -> NodeIndex {
        let index = self.add_node(key);
        self.budget.folded_into.insert(index, 0);
        index
    }

    /// Names an overflow node after the names it holds.
    fn rename_overflow(&mut self, index: NodeIndex) {
        let folded = self.budget.folded_into.get(&index).copied().unwrap_or_default();
        let node = &mut self.graph[index];
        node.key = match &node.key {
            NodeKey::Service { .. } => overflow_key(NodeKind::Service, "", folded),
            NodeKey::Destination { system, .. } => overflow_key(NodeKind::Destination, system, folded),
            NodeKey::ConsumerGroup { system, .. } => overflow_key(NodeKind::ConsumerGroup, system, folded),
        };
    }
}

#[cfg(test)]
mod tests {
    use petgraph::visit::{EdgeRef, IntoEdgeReferences};

    use std::collections::BTreeSet;

    use super::*;
    use crate::model::flow_graph::NODE_BYTES;
    use crate::model::size::HeapSize;
    use crate::model::span::SpanKind;
    use crate::testing::{consumer_linked, producer, span};

    fn topic(name: &str) -> NodeKey {
        NodeKey::Destination { system: "kafka".into(), name: name.into() }
    }

    /// Messages counted on the edges of `kind`, all of them.
    fn total(model: &FlowModel, kind: EdgeKind) -> u64 {
        let graph = model.graph();
        graph.edge_references().filter(|e| e.weight().kind == kind).map(|e| e.weight().headline().count()).sum()
    }

    /// Messages on the edges of `kind` into or out of `node`.
    fn through(model: &FlowModel, node: NodeIndex, kind: EdgeKind) -> u64 {
        let graph = model.graph();
        graph
            .edge_references()
            .filter(|e| e.weight().kind == kind && (e.source() == node || e.target() == node))
            .map(|e| e.weight().headline().count())
            .sum()
    }

    fn overflow_nodes(model: &FlowModel) -> Vec<NodeIndex> {
        model.graph().node_indices().filter(|&i| model.folded_into(i).is_some()).collect()
    }

    #[test]
    fn ten_thousand_topics_stay_within_the_bound_and_fold_into_one_node_with_their_traffic() {
        let share = 100 * NODE_BYTES;
        let mut model = FlowModel::default().with_max_bytes(share);
        for i in 0..10_000u64 {
            let name = format!("reply-{i}");
            model.apply_span(&producer("checkout", "kafka", &name, u128::from(i), 1), 1);
            model.apply_span(&consumer_linked("billing", "kafka", &name, u128::from(i), 2, (u128::from(i), 1)), 1);
        }
        let graph = model.graph();
        let overflow = overflow_nodes(&model);
        assert_eq!(overflow.len(), 1, "one overflow node: kafka's topics");
        let folded_node = overflow[0];
        let own =
            graph.node_indices().filter(|&i| i != folded_node && graph[i].key.kind() == NodeKind::Destination).count()
                as u64;
        assert!((10..100).contains(&own), "{own} topics with a node of their own");
        // At the bound a topic may have taken a node with no room left for its edges: its
        // traffic went to the overflow node too.
        let without = |kind: EdgeKind, direction: petgraph::Direction| {
            graph
                .node_indices()
                .filter(|&i| i != folded_node && graph[i].key.kind() == NodeKind::Destination)
                .filter(|&i| !graph.edges_directed(i, direction).any(|e| e.weight().kind == kind))
                .count() as u64
        };
        let unsent = without(EdgeKind::Produces, petgraph::Direction::Incoming);
        let unread = without(EdgeKind::Consumes, petgraph::Direction::Outgoing);
        assert!(unsent + unread <= 2, "{unsent} {unread}");
        // Within the bound: what is counted and what is measured.
        assert!(graph.node_count() <= 100, "{}", graph.node_count());
        assert!(model.counted_bytes() <= share + NODE_BYTES + EDGE_BYTES, "{}", model.counted_bytes());
        let measured: usize = graph.node_indices().map(|i| graph[i].total_bytes()).sum::<usize>()
            + graph.edge_indices().map(|i| graph[i].total_bytes()).sum::<usize>();
        assert!(measured <= model.counted_bytes(), "{measured}");
        // The overflow node is named after what it holds and carries their traffic.
        let folded = 10_000 - own;
        assert_eq!(graph[folded_node].key.label(), format!("kafka/({folded} more topics)"));
        assert_eq!(model.counters().names_folded, folded);
        assert_eq!(model.folded_into(folded_node), Some(folded));
        assert_eq!(through(&model, folded_node, EdgeKind::Produces), folded + unsent);
        assert_eq!(through(&model, folded_node, EdgeKind::Consumes), folded + unread);
        assert_eq!((total(&model, EdgeKind::Produces), total(&model, EdgeKind::Consumes)), (10_000, 10_000));
        // Known names still resolve to their own nodes, and keep counting there.
        let first = model.node_index(&topic("reply-0")).unwrap();
        assert_eq!(model.folded_into(first), None);
        model.apply_span(&producer("checkout", "kafka", "reply-0", 20_000, 1), 2);
        assert_eq!(through(&model, first, EdgeKind::Produces), 2);
        assert_eq!(model.node_index(&topic("reply-9999")), None);
        assert_eq!(model.node_index(&model.graph()[folded_node].key), Some(folded_node));
        // A folded name seen again is not counted again; its traffic still lands there.
        model.apply_span(&producer("checkout", "kafka", "reply-9999", 20_001, 1), 2);
        assert_eq!(model.counters().names_folded, folded);
        assert_eq!(through(&model, folded_node, EdgeKind::Produces), folded + unsent + 1);
        assert!(model.heap_bytes() > model.counted_bytes() / 2);
    }

    #[test]
    fn services_and_groups_fold_per_kind_and_system() {
        let mut model = FlowModel::default().with_max_bytes(8 * NODE_BYTES);
        for i in 0..500u64 {
            model.apply_span(&span(&format!("worker-{i}"), "work", SpanKind::Internal).build(), 1);
        }
        let services = overflow_nodes(&model);
        assert_eq!(services.len(), 1);
        let folded = model.counters().names_folded;
        assert_eq!(model.graph()[services[0]].key.label(), format!("({folded} more services)"));
        assert_eq!(model.graph()[services[0]].stats.count(), folded, "their spans are counted there");
        assert_eq!(folded + model.graph().node_count() as u64 - 1, 500);
        // Many systems: eight have overflow nodes of their own, the rest share one.
        for i in 0..20u64 {
            model.ensure_group_consumes(&format!("system-{i}"), "t", "g");
        }
        let destinations = overflow_nodes(&model)
            .into_iter()
            .filter(|&i| model.graph()[i].key.kind() == NodeKind::Destination)
            .map(|i| model.graph()[i].key.label())
            .collect::<BTreeSet<_>>();
        assert_eq!(destinations.len(), MAX_OVERFLOW_SYSTEMS + 1, "{destinations:?}");
        assert!(destinations.contains("(other systems)/(12 more destinations)"), "{destinations:?}");
    }

    #[test]
    fn topics_a_cluster_lists_leave_room_for_the_ones_spans_name() {
        let mut model = FlowModel::default().with_max_bytes(40 * NODE_BYTES);
        for i in 0..1_000 {
            model.ensure_destination("kafka", &format!("listed-{i}"));
        }
        let listed = model.graph().node_count() as u64 - 1;
        assert!(listed <= 20, "{listed}: at most half the share");
        assert_eq!(model.counters().names_folded, 1_000 - listed);
        // Traffic on a topic that was folded gives it a node: it is no longer counted folded.
        model.apply_span(&producer("checkout", "kafka", "listed-999", 1, 1), 1);
        let own = model.node_index(&topic("listed-999")).unwrap();
        assert_eq!(model.folded_into(own), None);
        assert_eq!(model.counters().names_folded, 1_000 - listed - 1);
        let overflow = overflow_nodes(&model)[0];
        assert_eq!(model.graph()[overflow].key.label(), format!("kafka/({} more topics)", 1_000 - listed - 1));
    }

    #[test]
    fn edges_past_the_bound_go_to_the_overflow_node_of_their_target() {
        // Room for the nodes, not for every pair of them.
        let mut model = FlowModel::default().with_max_bytes(60 * NODE_BYTES);
        for i in 0..6 {
            model.apply_span(&span(&format!("svc-{i}"), "start", SpanKind::Internal).build(), 1);
            model.ensure_destination("kafka", &format!("topic-{i}"));
        }
        let mut id = 0;
        for s in 0..6 {
            for t in 0..6 {
                id += 1;
                model.apply_span(&producer(&format!("svc-{s}"), "kafka", &format!("topic-{t}"), id, 1), 1);
            }
        }
        let counters = model.counters();
        assert_eq!(counters.names_folded, 0);
        assert!(counters.edges_folded > 0 && counters.edges_folded < 36, "{counters:?}");
        assert_eq!(total(&model, EdgeKind::Produces), 36, "every message is on an edge");
        let overflow = overflow_nodes(&model);
        assert_eq!(overflow.len(), 1);
        assert_eq!(model.graph()[overflow[0]].key.label(), "kafka/(more topics)");
        assert_eq!(through(&model, overflow[0], EdgeKind::Produces), counters.edges_folded);
        // The same pair again is not counted again.
        model.apply_span(&producer("svc-5", "kafka", "topic-5", 99, 1), 1);
        assert_eq!(model.counters().edges_folded, counters.edges_folded);
    }
}
