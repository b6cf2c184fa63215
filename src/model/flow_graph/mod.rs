//! The flow graph: services, destinations and consumer groups, joined by produce, consume,
//! synchronous-call and dead-letter edges, built incrementally from spans and from what Kafka
//! clusters report.
//!
//! This file holds the public types (node keys, kinds, nodes, edges, limits, counters), the
//! [`FlowModel`] struct with its accessors and queries, and the helpers that add nodes and
//! edges. How spans become edges is in `joins.rs` (the join memories and the four join
//! rules); the edges a Kafka cluster's own reports draw are in `kafka.rs` (with
//! [`FlowModel::draw_kafka`], which draws one Kafka observation, and [`KAFKA_SYSTEM`]). They
//! are apart because the joins are the hot path (every span) with state of their own, while
//! the Kafka edges follow a cluster's polls and touch only nodes and edges. The graph's bound
//! (its share of the memory budget) and the overflow nodes new names fold into past it are in
//! `overflow.rs`; what a node, an edge and the whole model hold in memory ([`NODE_BYTES`],
//! [`EDGE_BYTES`], `HeapSize` for the model) is in `memory.rs`.

use std::collections::BTreeSet;

use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableGraph};
use petgraph::visit::EdgeRef;
use rustc_hash::FxHashMap;
use serde::Serialize;
use smallvec::SmallVec;

use self::joins::{ClientMemo, ConsumerWaiting, ProducerMemo, ServerWaiting};
use self::kafka::DeadLetterPartition;
use self::overflow::{GraphBudget, Tier};
use super::bounded_index::BoundedIndex;
use super::ids::SpanRef;
use super::size::MemoryBudget;
use super::span::ServiceName;
use super::stats::Stats;

mod broker_readers;
mod joins;
mod kafka;
mod memory;
mod nats;
mod overflow;
mod rabbitmq;

pub use self::kafka::KAFKA_SYSTEM;
pub use self::memory::{EDGE_BYTES, NODE_BYTES};

/// The most names one node or edge keeps in each of its sets (consumer groups, partitions):
/// an overflow node gathers the groups of every name folded into it, and a hostile sender
/// may name endless partitions, so the sets are bounded like the nodes. Far above what one
/// topic or consume edge has in practice.
pub const MAX_NAMES_PER_SET: usize = 1_024;

/// What a node stands for; also its identity in the graph.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NodeKey {
    /// A service, from `service.name` (+ `service.namespace`).
    Service {
        /// The service.
        #[serde(flatten)]
        service: ServiceName,
    },
    /// A topic, queue or stream on a messaging system.
    Destination {
        /// `messaging.system`.
        system: String,
        /// Destination name (or template).
        name: String,
    },
    /// A consumer group whose consuming service is unknown.
    ConsumerGroup {
        /// `messaging.system`.
        system: String,
        /// Group name.
        group: String,
    },
}

impl NodeKey {
    /// The node's coarse kind.
    pub fn kind(&self) -> NodeKind {
        match self {
            Self::Service { .. } => NodeKind::Service,
            Self::Destination { .. } => NodeKind::Destination,
            Self::ConsumerGroup { .. } => NodeKind::ConsumerGroup,
        }
    }

    /// Whether a consumer's `name` (a service label, or a consumer group's name) is this
    /// node: journeys ask it for every topic they were sent to after every record, so
    /// nothing is built to compare.
    pub fn is_consumer_named(&self, name: &str) -> bool {
        match self {
            Self::Service { service } => match &service.namespace {
                None => service.name == name,
                Some(ns) => name
                    .strip_prefix(ns.as_str())
                    .and_then(|rest| rest.strip_prefix('/'))
                    .is_some_and(|rest| rest == service.name),
            },
            Self::ConsumerGroup { group, .. } => group == name,
            Self::Destination { .. } => false,
        }
    }

    /// The label users read: `orders-svc`, `kafka/orders`, `group billing`.
    pub fn label(&self) -> String {
        match self {
            Self::Service { service } => service.to_string(),
            Self::Destination { system, name } => format!("{system}/{name}"),
            // JetStream has consumers where Kafka has groups.
            Self::ConsumerGroup { system, group }
                if system == crate::model::nats::NATS_SYSTEM || system == crate::model::rabbitmq::RABBITMQ_SYSTEM =>
            {
                format!("{system} consumer {group}")
            }
            Self::ConsumerGroup { system, group } => format!("{system} group {group}"),
        }
    }
}

/// The coarse kind of a node, for shapes and layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeKind {
    /// A service.
    Service,
    /// A topic or queue.
    Destination,
    /// A consumer group with no known service.
    ConsumerGroup,
}

/// The kind of an edge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// Service -> Destination.
    Produces,
    /// Destination -> Service (or consumer group).
    Consumes,
    /// Service -> Service, a synchronous call.
    Calls,
    /// Destination -> dead-letter destination: messages that failed in the first were
    /// moved to the second (from dead-letter provenance headers, or a RabbitMQ queue's
    /// dead-letter exchange).
    DeadLetters,
    /// Destination -> destination: an exchange routes to a queue or exchange bound to it
    /// (RabbitMQ bindings).
    Routes,
}

/// A node with its counters.
#[derive(Clone, Debug)]
pub struct FlowNode {
    /// Identity.
    pub key: NodeKey,
    /// Spans of a service; unused for destinations, whose totals derive from their edges.
    pub stats: Stats,
    /// Time in topic of messages consumed from a destination (latency and per-second history;
    /// its counts stay zero).
    pub time_in_topic: Stats,
    /// Consumer groups seen on or through this node.
    pub consumer_groups: BTreeSet<String>,
    /// Partitions seen on or through this node.
    pub partitions: BTreeSet<String>,
    /// A consumer group placeholder drawn from a Kafka cluster, retired once spans showed
    /// which service consumes for the group. Kept (not removed) so node ids are never reused;
    /// snapshots leave it and its edges out.
    pub retired: bool,
}

/// An edge with its counters.
#[derive(Clone, Debug)]
pub struct FlowEdge {
    /// Edge kind.
    pub kind: EdgeKind,
    /// Counters from the operation that counts messages once: `send` for produce edges,
    /// `process` for consume edges, the client span for calls.
    pub primary: Stats,
    /// Counters from the companion operation (`create`, `receive`), used when no primary
    /// operation was seen, so instrumentations emitting both are not counted twice.
    pub secondary: Stats,
    /// Time in topic for consume edges (latency and per-second history; counts stay zero).
    pub time_in_topic: Stats,
    /// Consumer groups on a consume edge.
    pub consumer_groups: BTreeSet<String>,
    /// Partitions seen on the edge.
    pub partitions: BTreeSet<String>,
}

impl FlowEdge {
    fn new(kind: EdgeKind) -> Self {
        Self {
            kind,
            primary: Stats::default(),
            secondary: Stats::default(),
            time_in_topic: Stats::default(),
            consumer_groups: BTreeSet::new(),
            partitions: BTreeSet::new(),
        }
    }

    /// The counters that represent this edge: primary when it has any, else secondary.
    pub fn headline(&self) -> &Stats {
        if self.primary.count() > 0 || self.secondary.count() == 0 { &self.primary } else { &self.secondary }
    }
}

/// How many producer and client spans are remembered for joins, and how many waiting
/// consumers and servers. Bounds the model's memory whatever the session length.
#[derive(Clone, Copy, Debug)]
pub struct JoinLimits {
    /// Producer spans remembered (for consumers that link to them).
    pub producers: usize,
    /// Client spans remembered (for server spans that are their children).
    pub clients: usize,
    /// Consumers and servers waiting for their producer or client.
    pub pending: usize,
}

impl Default for JoinLimits {
    fn default() -> Self {
        Self { producers: 262_144, clients: 65_536, pending: 65_536 }
    }
}

/// Counters about the model's own bookkeeping, shown so nothing is lost silently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct FlowModelCounters {
    /// Spans applied.
    pub spans: u64,
    /// Consumers whose producer never arrived before being forgotten.
    pub unjoined_evicted: u64,
    /// Producer memories forgotten to stay within limits.
    pub producers_evicted: u64,
    /// Names (services, destinations, consumer groups) that got no node of their own because
    /// the graph was at its share of the memory budget, folded into an overflow node instead.
    pub names_folded: u64,
    /// Edges that got no edge of their own past the graph's share, drawn to (or between)
    /// overflow nodes instead.
    pub edges_folded: u64,
}

/// Nodes named by (system, name): destinations and consumer groups. Nested so a lookup can
/// borrow both strings from the span instead of building an owned key.
type NamedNodes = FxHashMap<String, FxHashMap<String, NodeIndex>>;

/// An edge's identity: at most one edge of each kind runs from one node to another.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct EdgeKey {
    from: NodeIndex,
    to: NodeIndex,
    kind: EdgeKind,
}

/// The flow graph and the join state that builds it.
#[derive(Debug, Clone)]
pub struct FlowModel {
    graph: StableGraph<FlowNode, FlowEdge>,
    services: FxHashMap<ServiceName, NodeIndex>,
    destinations: NamedNodes,
    groups: NamedNodes,
    edges: FxHashMap<EdgeKey, EdgeIndex>,
    producers: BoundedIndex<SpanRef, ProducerMemo>,
    clients: BoundedIndex<SpanRef, ClientMemo>,
    // Nearly always one waiter per key: inline, so waiting costs no allocation.
    waiting_consumers: BoundedIndex<SpanRef, SmallVec<[ConsumerWaiting; 1]>>,
    waiting_servers: BoundedIndex<SpanRef, SmallVec<[ServerWaiting; 1]>>,
    spans_applied: u64,
    structure_version: u64,
    /// Bumped when a consume edge gains a group (see [`FlowModel::consumers_version`]).
    groups_version: u64,
    /// Highest dead-letter offset counted per (edge, partition).
    dead_letter_offsets: FxHashMap<DeadLetterPartition, i64>,
    /// The graph's share of the memory budget, and the overflow nodes past it.
    budget: GraphBudget,
}

impl Default for FlowModel {
    fn default() -> Self {
        Self::new(JoinLimits::default())
    }
}

impl FlowModel {
    /// An empty model with the given join memory limits, its nodes and edges within the
    /// default memory budget's share for the graph (see [`FlowModel::with_max_bytes`]).
    pub fn new(limits: JoinLimits) -> Self {
        Self {
            graph: StableGraph::new(),
            services: FxHashMap::default(),
            destinations: FxHashMap::default(),
            groups: FxHashMap::default(),
            edges: FxHashMap::default(),
            producers: BoundedIndex::new(limits.producers),
            clients: BoundedIndex::new(limits.clients),
            waiting_consumers: BoundedIndex::new(limits.pending),
            waiting_servers: BoundedIndex::new(limits.pending),
            spans_applied: 0,
            structure_version: 0,
            groups_version: 0,
            dead_letter_offsets: FxHashMap::default(),
            budget: GraphBudget::new(MemoryBudget::default().graph()),
        }
    }

    /// The same model with its nodes and edges kept within `bytes` (the graph's share of the
    /// memory budget, [`MemoryBudget::graph`]), each counted at [`NODE_BYTES`] or
    /// [`EDGE_BYTES`]. Past it new names fold into overflow nodes (see `overflow.rs`).
    #[must_use]
    pub fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.set_max_bytes(bytes);
        self
    }

    /// Keeps the nodes and edges added from now on within `bytes` (see
    /// [`FlowModel::with_max_bytes`]); what the graph holds already stays.
    pub fn set_max_bytes(&mut self, bytes: usize) {
        self.budget.set_max_bytes(bytes);
    }

    /// Replaces the join memories with empty ones of `limits` (see [`JoinLimits::within`]).
    /// Set before any record is applied: what the memories held is forgotten.
    pub fn set_join_limits(&mut self, limits: JoinLimits) {
        self.producers = BoundedIndex::new(limits.producers);
        self.clients = BoundedIndex::new(limits.clients);
        self.waiting_consumers = BoundedIndex::new(limits.pending);
        self.waiting_servers = BoundedIndex::new(limits.pending);
    }

    /// The bytes the graph's nodes and edges may take: its share of the memory budget.
    pub fn max_bytes(&self) -> usize {
        self.budget.max_bytes()
    }

    /// The bytes the nodes and edges are counted at so far ([`NODE_BYTES`] each node,
    /// [`EDGE_BYTES`] each edge): what is held against [`FlowModel::max_bytes`].
    pub fn counted_bytes(&self) -> usize {
        self.budget.bytes()
    }

    /// The graph, for reading.
    pub fn graph(&self) -> &StableGraph<FlowNode, FlowEdge> {
        &self.graph
    }

    /// Changes whenever a node or edge is added; lets readers skip re-layout otherwise.
    pub fn structure_version(&self) -> u64 {
        self.structure_version
    }

    /// Changes whenever what [`FlowModel::consumers_of`] answers may have changed (a node or
    /// edge added or retired, a group seen on a consume edge); journeys' expectations are
    /// rebuilt only then.
    pub fn consumers_version(&self) -> u64 {
        // Both only grow, so their sum changes whenever either does.
        self.structure_version + self.groups_version
    }

    /// The node for a key, if present (an overflow node's key is its current name).
    pub fn node_index(&self, key: &NodeKey) -> Option<NodeIndex> {
        let named = |map: &NamedNodes, system: &str, name: &str| map.get(system)?.get(name).copied();
        let found = match key {
            NodeKey::Service { service } => self.services.get(service).copied(),
            NodeKey::Destination { system, name } => named(&self.destinations, system, name),
            NodeKey::ConsumerGroup { system, group } => named(&self.groups, system, group),
        };
        found.or_else(|| self.budget.overflow_nodes().find(|&index| self.graph[index].key == *key))
    }

    /// Whether a node is an overflow node (names folded past the graph's share), and how many
    /// names it holds then.
    pub fn folded_into(&self, index: NodeIndex) -> Option<u64> {
        self.budget.folded_into(index)
    }

    /// Bookkeeping counters.
    pub fn counters(&self) -> FlowModelCounters {
        FlowModelCounters {
            spans: self.spans_applied,
            unjoined_evicted: self.waiting_consumers.evicted(),
            producers_evicted: self.producers.evicted(),
            names_folded: self.budget.names_folded(),
            edges_folded: self.budget.edges_folded(),
        }
    }

    /// A destination or consumer group node, looked up without allocating: this runs for
    /// every messaging span. A new name past the graph's share folds into the overflow node
    /// of its kind and system.
    fn named_node(&mut self, kind: NodeKind, system: &str, name: &str) -> NodeIndex {
        self.named_node_within(kind, system, name, Tier::Named)
    }

    /// [`FlowModel::named_node`], a new name taking a node of its own only within `tier`'s
    /// part of the share.
    fn named_node_within(&mut self, kind: NodeKind, system: &str, name: &str, tier: Tier) -> NodeIndex {
        if let Some(&index) = self.named_map(kind).get(system).and_then(|names| names.get(name)) {
            return index;
        }
        let folded = overflow::name_hash(kind, system, name, None);
        if !self.budget.admits(NODE_BYTES, tier) {
            return self.fold_name(kind, system, folded);
        }
        self.unfold(folded);
        let key = match kind {
            NodeKind::Destination => NodeKey::Destination { system: system.to_owned(), name: name.to_owned() },
            _ => NodeKey::ConsumerGroup { system: system.to_owned(), group: name.to_owned() },
        };
        let index = self.add_node(key);
        self.named_map(kind).entry(system.to_owned()).or_default().insert(name.to_owned(), index);
        index
    }

    /// A service's node; past the graph's share a new service folds into the services'
    /// overflow node.
    fn service_node(&mut self, service: &ServiceName) -> NodeIndex {
        if let Some(&index) = self.services.get(service) {
            return index;
        }
        let folded = overflow::name_hash(NodeKind::Service, "", &service.name, service.namespace.as_deref());
        if !self.budget.admits(NODE_BYTES, Tier::Named) {
            return self.fold_name(NodeKind::Service, "", folded);
        }
        self.unfold(folded);
        let index = self.add_node(NodeKey::Service { service: service.clone() });
        self.services.insert(service.clone(), index);
        index
    }

    fn named_map(&mut self, kind: NodeKind) -> &mut NamedNodes {
        if kind == NodeKind::Destination { &mut self.destinations } else { &mut self.groups }
    }

    /// Adds a node, counted against the graph's share (its callers decide whether it may:
    /// named nodes within the share, overflow nodes past it; see `overflow.rs`).
    fn add_node(&mut self, key: NodeKey) -> NodeIndex {
        self.structure_version += 1;
        self.budget.count_element(NODE_BYTES);
        self.graph.add_node(FlowNode {
            key,
            stats: Stats::default(),
            time_in_topic: Stats::default(),
            consumer_groups: BTreeSet::new(),
            partitions: BTreeSet::new(),
            retired: false,
        })
    }

    /// Adds an edge, counted against the graph's share (its caller, [`FlowModel::edge`] in
    /// `overflow.rs`, decides whether it may).
    fn add_edge(&mut self, key: EdgeKey) -> EdgeIndex {
        let index = self.graph.add_edge(key.from, key.to, FlowEdge::new(key.kind));
        self.edges.insert(key, index);
        self.structure_version += 1;
        self.budget.count_element(EDGE_BYTES);
        index
    }

    /// Who consumes a destination: for each consume edge, the consumer (a service or group
    /// node; see [`NodeKey::is_consumer_named`]) and the groups seen on the edge. Journeys use
    /// it to tell which deliveries a message should have had.
    pub fn consumers_of(&self, system: &str, name: &str) -> impl Iterator<Item = (&NodeKey, &BTreeSet<String>)> {
        let node = self.destinations.get(system).and_then(|m| m.get(name)).copied();
        node.into_iter()
            .flat_map(|node| self.graph.edges_directed(node, petgraph::Direction::Outgoing))
            .filter(|e| e.weight().kind == EdgeKind::Consumes && !self.graph[e.target()].retired)
            .map(|e| (&self.graph[e.target()].key, &e.weight().consumer_groups))
    }

    /// Every destination with its consumers, as [`FlowModel::consumers_of`] gives them:
    /// (system, destination, consumer, groups).
    pub fn all_consumers(&self) -> impl Iterator<Item = (&str, &str, &NodeKey, &BTreeSet<String>)> {
        self.destinations.iter().flat_map(move |(system, names)| {
            names.keys().flat_map(move |name| {
                self.consumers_of(system, name).map(move |(key, groups)| (system.as_str(), name.as_str(), key, groups))
            })
        })
    }
}

/// Inserts `value` unless present (without allocating then) or the set holds
/// [`MAX_NAMES_PER_SET`] names already; true when it was inserted.
fn insert_missing(set: &mut BTreeSet<String>, value: &str) -> bool {
    if set.len() >= MAX_NAMES_PER_SET || set.contains(value) {
        return false;
    }
    set.insert(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, namespace: Option<&str>) -> NodeKey {
        NodeKey::Service { service: ServiceName { name: name.into(), namespace: namespace.map(Into::into) } }
    }

    #[test]
    fn consumers_are_matched_by_their_label_without_building_it() {
        assert!(service("billing", None).is_consumer_named("billing"));
        assert!(!service("billing", None).is_consumer_named("shop/billing"));
        let namespaced = service("billing", Some("shop"));
        assert!(namespaced.is_consumer_named("shop/billing"));
        assert_eq!(namespaced.label(), "shop/billing");
        for other in ["billing", "shop/bill", "shopbilling", "shop/billing2", "shop//billing", "x/billing"] {
            assert!(!namespaced.is_consumer_named(other), "{other}");
        }
        let group = NodeKey::ConsumerGroup { system: "kafka".into(), group: "audit".into() };
        assert!(group.is_consumer_named("audit"));
        assert!(!NodeKey::Destination { system: "kafka".into(), name: "audit".into() }.is_consumer_named("audit"));
    }
}
