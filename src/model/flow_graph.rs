//! The flow graph: services, destinations and consumer groups, joined by produce, consume
//! and synchronous-call edges, built incrementally from spans.
//!
//! Joining rules (see `docs/architecture.md`):
//! - A producer span (`create`/`send`) adds Service -> Destination.
//! - A consumer span (`receive`/`process`) adds Destination -> Service; its destination comes
//!   from its own attributes, else from the producer it links to (span links first, the parent
//!   as a fallback). Time in topic is the consumer's start minus the linked producer's start.
//! - A CLIENT span whose child SERVER span belongs to another service adds Service -> Service.
//!   Messaging spans never do, so two services that only talk through a topic stay apart.
//!
//! Either side of a join may arrive first; the waiting side is kept in a bounded table.

use std::collections::BTreeSet;

use petgraph::stable_graph::{EdgeIndex, NodeIndex, StableGraph};
use petgraph::visit::EdgeRef;
use rustc_hash::FxHashMap;
use serde::Serialize;
use smallvec::SmallVec;

use super::bounded_index::BoundedIndex;
use super::ids::SpanRef;
use super::messaging::{Messaging, MessagingOperation, MessagingRole};
use super::span::{ServiceName, Span, SpanKind};
use super::stats::Stats;

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
    /// moved to the second (from dead-letter provenance headers).
    DeadLetters,
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

#[derive(Clone, Copy, Debug)]
struct ProducerMemo {
    producer: NodeIndex,
    destination: NodeIndex,
    start_unix_nano: u64,
}

#[derive(Clone, Copy, Debug)]
struct ClientMemo {
    service: NodeIndex,
    duration_nanos: u64,
    failed: bool,
}

#[derive(Clone, Copy, Debug)]
struct ServerWaiting {
    service: NodeIndex,
    failed: bool,
    second: u64,
}

/// A consumer span waiting for the producer it links to.
#[derive(Clone, Debug)]
enum ConsumerWaiting {
    /// The consume edge is recorded; only time in topic waits.
    TimeInTopic { edge: EdgeIndex, destination: NodeIndex, consumer_start: u64, second: u64 },
    /// The consumer had no destination attribute: the whole consume waits.
    Consume(Box<PendingConsume>),
}

#[derive(Clone, Debug)]
struct PendingConsume {
    consumer: NodeIndex,
    messaging: Messaging,
    messages: u64,
    failed: bool,
    duration_nanos: u64,
    consumer_start: u64,
    second: u64,
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
}

/// Nodes named by (system, name): destinations and consumer groups. Nested so a lookup can
/// borrow both strings from the span instead of building an owned key.
type NamedNodes = FxHashMap<String, FxHashMap<String, NodeIndex>>;

/// The flow graph and the join state that builds it.
#[derive(Debug, Clone)]
pub struct FlowModel {
    graph: StableGraph<FlowNode, FlowEdge>,
    services: FxHashMap<ServiceName, NodeIndex>,
    destinations: NamedNodes,
    groups: NamedNodes,
    edges: FxHashMap<(NodeIndex, NodeIndex, EdgeKind), EdgeIndex>,
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
    dead_letter_offsets: FxHashMap<(EdgeIndex, i32), i64>,
}

impl Default for FlowModel {
    fn default() -> Self {
        Self::new(JoinLimits::default())
    }
}

impl FlowModel {
    /// An empty model with the given join memory limits.
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
        }
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

    /// The node for a key, if present.
    pub fn node_index(&self, key: &NodeKey) -> Option<NodeIndex> {
        let named = |map: &NamedNodes, system: &str, name: &str| map.get(system)?.get(name).copied();
        match key {
            NodeKey::Service { service } => self.services.get(service).copied(),
            NodeKey::Destination { system, name } => named(&self.destinations, system, name),
            NodeKey::ConsumerGroup { system, group } => named(&self.groups, system, group),
        }
    }

    /// Bookkeeping counters.
    pub fn counters(&self) -> FlowModelCounters {
        FlowModelCounters {
            spans: self.spans_applied,
            unjoined_evicted: self.waiting_consumers.evicted(),
            producers_evicted: self.producers.evicted(),
        }
    }

    /// Applies one span received at Unix second `second`.
    pub fn apply_span(&mut self, span: &Span, second: u64) {
        self.spans_applied += 1;
        let failed = span.is_failure();
        let this = self.actor_node(span);
        let is_entry = matches!(span.kind, SpanKind::Server | SpanKind::Consumer) || span.parent_span_id.is_none();
        self.graph[this].stats.record(second, 1, failed, is_entry.then(|| span.duration_nanos()));

        match &span.messaging {
            Some(m) => match m.operation.role() {
                MessagingRole::Produce => self.apply_produce(span, m, this, failed, second),
                MessagingRole::Consume => self.apply_consume(span, m, this, failed, second),
                MessagingRole::Settle => {}
            },
            None => match span.kind {
                SpanKind::Client => self.apply_client(span, this, failed),
                SpanKind::Server => self.apply_server(span, this, failed, second),
                _ => {}
            },
        }
    }

    /// The node that did the work: the service, or the consumer group when the consuming
    /// service did not name itself.
    fn actor_node(&mut self, span: &Span) -> NodeIndex {
        if span.service().is_unknown()
            && let Some(m) = &span.messaging
            && m.operation.role() == MessagingRole::Consume
            && let Some(group) = &m.consumer_group
        {
            let index = self.named_node(NodeKind::ConsumerGroup, &m.system, group);
            if self.graph[index].retired {
                // The group now has traffic of its own, under no service name.
                self.graph[index].retired = false;
                self.structure_version += 1;
            }
            return index;
        }
        if let Some(&index) = self.services.get(span.service()) {
            return index;
        }
        let index = self.add_node(NodeKey::Service { service: span.service().clone() });
        self.services.insert(span.service().clone(), index);
        index
    }

    /// A destination or consumer group node, looked up without allocating: this runs for
    /// every messaging span.
    fn named_node(&mut self, kind: NodeKind, system: &str, name: &str) -> NodeIndex {
        if let Some(&index) = self.named_map(kind).get(system).and_then(|names| names.get(name)) {
            return index;
        }
        let key = match kind {
            NodeKind::Destination => NodeKey::Destination { system: system.to_owned(), name: name.to_owned() },
            _ => NodeKey::ConsumerGroup { system: system.to_owned(), group: name.to_owned() },
        };
        let index = self.add_node(key);
        self.named_map(kind).entry(system.to_owned()).or_default().insert(name.to_owned(), index);
        index
    }

    fn named_map(&mut self, kind: NodeKind) -> &mut NamedNodes {
        if kind == NodeKind::Destination { &mut self.destinations } else { &mut self.groups }
    }

    fn add_node(&mut self, key: NodeKey) -> NodeIndex {
        self.structure_version += 1;
        self.graph.add_node(FlowNode {
            key,
            stats: Stats::default(),
            time_in_topic: Stats::default(),
            consumer_groups: BTreeSet::new(),
            partitions: BTreeSet::new(),
            retired: false,
        })
    }

    fn edge(&mut self, from: NodeIndex, to: NodeIndex, kind: EdgeKind) -> EdgeIndex {
        if let Some(&index) = self.edges.get(&(from, to, kind)) {
            return index;
        }
        let index = self.graph.add_edge(from, to, FlowEdge::new(kind));
        self.edges.insert((from, to, kind), index);
        self.structure_version += 1;
        index
    }

    fn destination_node(&mut self, m: &Messaging, name: &str) -> NodeIndex {
        self.named_node(NodeKind::Destination, &m.system, name)
    }

    fn apply_produce(&mut self, span: &Span, m: &Messaging, producer: NodeIndex, failed: bool, second: u64) {
        let Some(name) = &m.destination else { return };
        let destination = self.destination_node(m, name);
        let edge = self.edge(producer, destination, EdgeKind::Produces);
        let messages = m.batch_message_count.unwrap_or(1).max(1);
        let e = &mut self.graph[edge];
        let stats = if m.operation == MessagingOperation::Create { &mut e.secondary } else { &mut e.primary };
        stats.record(second, messages, failed, Some(span.duration_nanos()));
        if let Some(p) = &m.partition {
            insert_missing(&mut e.partitions, p);
            insert_missing(&mut self.graph[destination].partitions, p);
        }
        let memo = ProducerMemo { producer, destination, start_unix_nano: span.start_unix_nano };
        self.producers.insert(span.span_ref(), memo);
        self.resolve_waiting_consumers(span.span_ref(), memo);
    }

    /// The producers a consumer span points at: its links, then its parent as a fallback.
    fn producer_refs(span: &Span) -> SmallVec<[SpanRef; 2]> {
        let mut refs: SmallVec<[SpanRef; 2]> = span.links.iter().map(|l| l.target).collect();
        if refs.is_empty()
            && let Some(parent) = span.parent_ref()
        {
            refs.push(parent);
        }
        refs
    }

    fn apply_consume(&mut self, span: &Span, m: &Messaging, consumer: NodeIndex, failed: bool, second: u64) {
        let refs = Self::producer_refs(span);
        let messages = m.batch_message_count.unwrap_or(refs.len().max(1) as u64).max(1);
        let destination = match &m.destination {
            Some(name) => Some(self.destination_node(m, name)),
            None => refs.iter().find_map(|r| self.producers.get(r)).map(|p| p.destination),
        };
        let Some(destination) = destination else {
            // Destination unknown until the first producer arrives.
            let Some(&first) = refs.first() else { return };
            let pending = PendingConsume {
                consumer,
                messaging: m.clone(),
                messages,
                failed,
                duration_nanos: span.duration_nanos(),
                consumer_start: span.start_unix_nano,
                second,
            };
            self.waiting_consumers
                .entry_or_insert_with(first, SmallVec::new)
                .push(ConsumerWaiting::Consume(Box::new(pending)));
            return;
        };
        let edge = self.record_consume(destination, consumer, m, messages, failed, span.duration_nanos(), second);
        for r in refs {
            match self.producers.get(&r).copied() {
                Some(p) => {
                    self.record_time_in_topic(edge, destination, p.start_unix_nano, span.start_unix_nano, second);
                }
                None => {
                    self.waiting_consumers.entry_or_insert_with(r, SmallVec::new).push(ConsumerWaiting::TimeInTopic {
                        edge,
                        destination,
                        consumer_start: span.start_unix_nano,
                        second,
                    })
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn record_consume(
        &mut self,
        destination: NodeIndex,
        consumer: NodeIndex,
        m: &Messaging,
        messages: u64,
        failed: bool,
        duration_nanos: u64,
        second: u64,
    ) -> EdgeIndex {
        let edge = self.edge(destination, consumer, EdgeKind::Consumes);
        let e = &mut self.graph[edge];
        let stats = if m.operation == MessagingOperation::Receive { &mut e.secondary } else { &mut e.primary };
        stats.record(second, messages, failed, Some(duration_nanos));
        if let Some(group) = &m.consumer_group
            && insert_missing(&mut e.consumer_groups, group)
        {
            self.groups_version += 1;
        }
        if let Some(p) = &m.partition {
            insert_missing(&mut e.partitions, p);
        }
        let d = &mut self.graph[destination];
        if let Some(group) = &m.consumer_group {
            insert_missing(&mut d.consumer_groups, group);
        }
        if let Some(p) = &m.partition {
            insert_missing(&mut d.partitions, p);
        }
        if let Some(group) = &m.consumer_group
            && !self.groups.is_empty()
        {
            self.retire_group_placeholder(&m.system, group, consumer);
        }
        edge
    }

    fn record_time_in_topic(
        &mut self,
        edge: EdgeIndex,
        destination: NodeIndex,
        producer_start: u64,
        consumer_start: u64,
        second: u64,
    ) {
        let waited = consumer_start.saturating_sub(producer_start);
        self.graph[edge].time_in_topic.record(second, 0, false, Some(waited));
        self.graph[destination].time_in_topic.record(second, 0, false, Some(waited));
    }

    fn resolve_waiting_consumers(&mut self, producer: SpanRef, memo: ProducerMemo) {
        let Some(waiting) = self.waiting_consumers.remove(&producer) else { return };
        for w in waiting {
            match w {
                ConsumerWaiting::TimeInTopic { edge, destination, consumer_start, second } => {
                    self.record_time_in_topic(edge, destination, memo.start_unix_nano, consumer_start, second);
                }
                ConsumerWaiting::Consume(p) => {
                    let edge = self.record_consume(
                        memo.destination,
                        p.consumer,
                        &p.messaging,
                        p.messages,
                        p.failed,
                        p.duration_nanos,
                        p.second,
                    );
                    self.record_time_in_topic(edge, memo.destination, memo.start_unix_nano, p.consumer_start, p.second);
                }
            }
        }
    }

    /// Who produced the message a span context (e.g. a `traceparent` header) points at,
    /// while that producer span is remembered.
    pub fn producer_of(&self, span: &SpanRef) -> Option<&NodeKey> {
        self.producers.get(span).map(|p| &self.graph[p.producer].key)
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

    /// Ensures a destination node exists, e.g. a topic the cluster reports before any span
    /// names it.
    pub fn ensure_destination(&mut self, system: &str, name: &str) -> NodeIndex {
        self.named_node(NodeKind::Destination, system, name)
    }

    /// Ensures the graph shows `group` consuming `topic`, as a cluster reports it: the
    /// consume edge spans drew to the group's service when there is one, else an edge to a
    /// node of the group's own.
    pub fn ensure_group_consumes(&mut self, system: &str, topic: &str, group: &str) -> EdgeIndex {
        let destination = self.named_node(NodeKind::Destination, system, topic);
        let from_spans = self
            .graph
            .edges_directed(destination, petgraph::Direction::Outgoing)
            .find(|e| {
                let w = e.weight();
                w.kind == EdgeKind::Consumes && w.consumer_groups.contains(group) && !self.graph[e.target()].retired
            })
            .map(|e| e.id());
        if let Some(edge) = from_spans {
            return edge;
        }
        let node = self.named_node(NodeKind::ConsumerGroup, system, group);
        if self.graph[node].retired {
            // Spans name a service for the group, but not on this topic: draw the group.
            self.graph[node].retired = false;
            self.structure_version += 1;
        }
        let edge = self.edge(destination, node, EdgeKind::Consumes);
        if insert_missing(&mut self.graph[edge].consumer_groups, group) {
            self.groups_version += 1;
        }
        insert_missing(&mut self.graph[destination].consumer_groups, group);
        edge
    }

    /// Counts a dead-lettered message: `to` holds it, `from` is where it failed. Each
    /// (partition, offset) of `to` counts once, however often it is read.
    pub fn record_dead_letter(&mut self, system: &str, from: &str, to: &str, partition: i32, offset: i64, second: u64) {
        let source = self.named_node(NodeKind::Destination, system, from);
        let dlq = self.named_node(NodeKind::Destination, system, to);
        let edge = self.edge(source, dlq, EdgeKind::DeadLetters);
        let seen = self.dead_letter_offsets.entry((edge, partition)).or_insert(-1);
        if offset <= *seen {
            return;
        }
        *seen = offset;
        self.graph[edge].primary.record(second, 1, true, None);
    }

    /// Retires a group's placeholder node once services are seen consuming for it on every
    /// topic it is drawn on, unless the placeholder carries traffic of its own.
    fn retire_group_placeholder(&mut self, system: &str, group: &str, consumer: NodeIndex) {
        let Some(&node) = self.groups.get(system).and_then(|g| g.get(group)) else { return };
        let n = &self.graph[node];
        if node == consumer || n.retired || n.stats.count() > 0 {
            return;
        }
        let covered = |topic: NodeIndex| {
            self.graph.edges_directed(topic, petgraph::Direction::Outgoing).any(|e| {
                e.target() != node
                    && e.weight().kind == EdgeKind::Consumes
                    && e.weight().consumer_groups.contains(group)
            })
        };
        let all_covered = self.graph.edges_directed(node, petgraph::Direction::Incoming).all(|e| covered(e.source()));
        if all_covered {
            self.graph[node].retired = true;
            self.structure_version += 1;
        }
    }

    fn apply_client(&mut self, span: &Span, client: NodeIndex, failed: bool) {
        let memo = ClientMemo { service: client, duration_nanos: span.duration_nanos(), failed };
        self.clients.insert(span.span_ref(), memo);
        if let Some(servers) = self.waiting_servers.remove(&span.span_ref()) {
            for s in servers {
                self.record_call(memo, s);
            }
        }
    }

    fn apply_server(&mut self, span: &Span, server: NodeIndex, failed: bool, second: u64) {
        let Some(parent) = span.parent_ref() else { return };
        let waiting = ServerWaiting { service: server, failed, second };
        match self.clients.get(&parent).copied() {
            Some(client) => self.record_call(client, waiting),
            None => self.waiting_servers.entry_or_insert_with(parent, SmallVec::new).push(waiting),
        }
    }

    fn record_call(&mut self, client: ClientMemo, server: ServerWaiting) {
        if client.service == server.service {
            return;
        }
        let edge = self.edge(client.service, server.service, EdgeKind::Calls);
        self.graph[edge].primary.record(server.second, 1, client.failed || server.failed, Some(client.duration_nanos));
    }
}

/// Adds `value` to `set` unless present, allocating only when it is new.
/// Inserts `value` unless present (without allocating then); true when it was inserted.
fn insert_missing(set: &mut BTreeSet<String>, value: &str) -> bool {
    if set.contains(value) {
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
