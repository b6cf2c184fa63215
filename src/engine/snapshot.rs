//! The read-only view of the model that the UI draws from.
//!
//! Built by the engine a few times a second and handed out as an `Arc`, so the UI never
//! waits for the engine and never sees a half-applied batch.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use petgraph::visit::{EdgeRef, IntoEdgeReferences};
use serde::Serialize;

use crate::engine::KAFKA_SYSTEM;
use crate::model::flow_graph::{EdgeKind, FlowModel, FlowModelCounters, NodeKey, NodeKind};
use crate::model::journey::{JourneyCounters, JourneyDetail, JourneyList};
use crate::model::kafka::{GroupStatus, KafkaModel};
use crate::model::nats::ServerState;
use crate::model::rabbitmq::BrokerState;

pub use super::broker_snapshot::{Brokers, ConsumerDepth, QueueDepth};
use crate::model::stats::{Percentiles, SecondPoint, Stats};
use crate::pipeline::counters::IngestTotals;
// Sources report on the board in `crate::pipeline`; these paths stay for the UI and tests.
pub use crate::pipeline::sources::{SourceState, SourceStatus};

/// What nodes and edges both carry.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Counters {
    /// Messages (edges, destinations), spans (services) or calls (call edges).
    pub count: u64,
    /// Failures.
    pub failures: u64,
    /// Rates over 1 s, 10 s, 60 s.
    pub rates: [f64; 3],
    /// Latency percentiles: span durations (services, edges), time in topic (destinations).
    pub latency: Option<Percentiles>,
    /// Time in topic percentiles (destinations, consume edges).
    pub time_in_topic: Option<Percentiles>,
    /// Consumer groups seen.
    pub consumer_groups: Vec<String>,
    /// Partitions seen.
    pub partitions: Vec<String>,
    /// Per-second history for sparklines.
    #[serde(skip)]
    pub history: Vec<SecondPoint>,
    /// Per-second time in topic percentiles, for the sparkline.
    #[serde(skip)]
    pub time_in_topic_history: Vec<SecondPoint>,
}

/// A node as the UI sees it.
#[derive(Clone, Debug, Serialize)]
pub struct NodeSnapshot {
    /// Stable id (the graph's node index).
    pub id: u32,
    /// Identity.
    pub key: NodeKey,
    /// Coarse kind.
    pub kind: NodeKind,
    /// Display label.
    pub label: String,
    /// Counters.
    #[serde(flatten)]
    pub counters: Counters,
    /// A RabbitMQ queue's depth, consumers, rates and status, as its broker last reported.
    pub queue: Option<QueueDepth>,
    /// The findings about this node (a topic's, a service's).
    #[serde(skip)]
    pub findings: super::finding_badges::FindingBadge,
}

/// An edge as the UI sees it.
#[derive(Clone, Debug, Serialize)]
pub struct EdgeSnapshot {
    /// Stable id (the graph's edge index).
    pub id: u32,
    /// Source node id.
    pub from: u32,
    /// Target node id.
    pub to: u32,
    /// Kind.
    pub kind: EdgeKind,
    /// Counters.
    #[serde(flatten)]
    pub counters: Counters,
    /// Consumer lag of each group on a consume edge from a Kafka topic, by group name.
    pub lag: Vec<GroupLag>,
    /// Depth of each JetStream consumer on a consume edge from a NATS stream, by name.
    pub depth: Vec<ConsumerDepth>,
    /// The binding keys of an exchange's route to a queue or exchange (RabbitMQ), sorted.
    pub routing_keys: Vec<String>,
    /// On a consume edge out of a RabbitMQ queue: the queue's depth status (its consumers
    /// share it), for the edge's colour.
    #[serde(skip)]
    pub queue_status: Option<crate::model::depth::DepthStatus>,
    /// The findings about this edge's consumer on its topic.
    #[serde(skip)]
    pub findings: super::finding_badges::FindingBadge,
}

/// A group's lag on the topic of a consume edge, as the cluster reports it.
#[derive(Clone, Debug, Serialize)]
pub struct GroupLag {
    /// Group.
    pub group: String,
    /// Lag in offsets at the last poll, summed over partitions.
    pub offsets: u64,
    /// Largest `offsets` this session.
    pub max_offsets: u64,
    /// Age of the oldest unconsumed message at the last poll, ms.
    pub time_ms: Option<u64>,
    /// Largest `time_ms` this session.
    pub max_time_ms: Option<u64>,
    /// Burrow-style status over the group's partitions of this topic.
    pub status: GroupStatus,
}

impl Counters {
    fn new(
        stats: &Stats,
        time_in_topic: &Stats,
        groups: &BTreeSet<String>,
        partitions: &BTreeSet<String>,
        now_second: u64,
    ) -> Self {
        Self {
            count: stats.count(),
            failures: stats.failures(),
            rates: stats.rates(now_second),
            latency: stats.latency().summary(),
            time_in_topic: time_in_topic.latency().summary(),
            consumer_groups: groups.iter().cloned().collect(),
            partitions: partitions.iter().cloned().collect(),
            history: stats.history(),
            time_in_topic_history: time_in_topic.history(),
        }
    }
}

impl EdgeSnapshot {
    /// Failures over messages, 0 when empty.
    pub fn failure_ratio(&self) -> f32 {
        let c = &self.counters;
        if c.count == 0 { 0.0 } else { (c.failures as f64 / c.count as f64) as f32 }
    }
}

/// The recording in progress.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RecordingStatus {
    /// File being written (or written, once finished).
    pub path: String,
    /// True while records are being written; false once the recording was finished.
    pub active: bool,
    /// Records written so far.
    pub records: u64,
    /// Its caps in words, when it has any.
    pub limits: Option<String>,
    /// Set when writing failed; recording stopped then.
    pub error: Option<String>,
}

/// What the parts under the memory budget keep, as each measures it
/// ([`crate::model::size::HeapSize`]), beside the budget: how well the budget holds, for the
/// window and for tests that load the engine (`tests/fault_overload.rs`). The flow graph and
/// the findings detectors keep within theirs by folding and shortening, and are not here.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct MemoryUse {
    /// The whole budget (`--memory-budget`), in bytes.
    pub budget: u64,
    /// The timeline's records (with its checkpoints, 33% of the budget).
    pub timeline: u64,
    /// The timeline's checkpoints: copies of the models, each measured when taken.
    pub timeline_checkpoints: u64,
    /// Journeys: their stored spans and messages (26%).
    pub journeys: u64,
    /// The message browser: one browse's messages (17%).
    pub messages: u64,
}

impl MemoryUse {
    /// The parts together.
    pub fn total(&self) -> u64 {
        self.timeline + self.timeline_checkpoints + self.journeys + self.messages
    }
}

/// Everything the UI draws.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Snapshot {
    /// Increments with every publish.
    pub version: u64,
    /// Increments when nodes or edges were added.
    pub structure_version: u64,
    /// The Unix second rates are computed at.
    pub now_second: u64,
    /// Nodes, by id.
    pub nodes: Vec<NodeSnapshot>,
    /// Edges, by id.
    pub edges: Vec<EdgeSnapshot>,
    /// Ingest counters.
    pub ingest: IngestTotals,
    /// Spans applied per second, averaged over the last 10 s.
    pub spans_per_second: f64,
    /// Model bookkeeping.
    pub model: FlowModelCounters,
    /// Sources and their states.
    pub sources: Vec<SourceStatus>,
    /// True while live updates are paused.
    pub paused: bool,
    /// The recording, if one is being written.
    pub recording: Option<RecordingStatus>,
    /// Kafka clusters: topics, groups, lag and its history.
    #[serde(skip)]
    pub kafka: Arc<KafkaModel>,
    /// NATS servers: JetStream streams, consumers and their depth history, by server.
    #[serde(skip)]
    pub nats: Arc<BTreeMap<String, ServerState>>,
    /// RabbitMQ brokers: exchanges, queues, bindings, consumers and depth history, by broker.
    #[serde(skip)]
    pub rabbitmq: Arc<BTreeMap<String, BrokerState>>,
    /// The journey list (chunks shared with the engine, not copied).
    #[serde(skip)]
    pub journeys: JourneyList,
    /// Journeys kept and evicted.
    pub journey_counters: JourneyCounters,
    /// What the parts under the memory budget keep (the head's, wherever the cursor is).
    pub memory: MemoryUse,
    /// The selected journey, laid out for the waterfall.
    #[serde(skip)]
    pub journey: Option<Arc<JourneyDetail>>,
    /// What the engine last had to say about a request (Save as), for the window.
    pub notice: Option<String>,
    /// The session's timeline: its span, density, cursor and playback mode.
    #[serde(skip)]
    pub timeline: super::playback::TimelineView,
    /// Findings as of the state shown (the head, or the timeline's cursor), worst first.
    pub findings: Arc<crate::model::findings::FindingsView>,
}

impl Snapshot {
    /// Builds the graph part of a snapshot from the model at `now_second`.
    pub fn graph_from_model(
        model: &FlowModel,
        kafka: &KafkaModel,
        brokers: &Brokers<'_>,
        now_second: u64,
    ) -> (Vec<NodeSnapshot>, Vec<EdgeSnapshot>) {
        let graph = model.graph();
        let mut edges: Vec<EdgeSnapshot> = graph
            .edge_references()
            .filter(|e| !graph[e.source()].retired && !graph[e.target()].retired)
            .map(|e| {
                let w = e.weight();
                let lag = match (&graph[e.source()].key, w.kind) {
                    (NodeKey::Destination { system, name }, EdgeKind::Consumes) if system == KAFKA_SYSTEM => w
                        .consumer_groups
                        .iter()
                        .filter_map(|group| {
                            let t = kafka.topic_lag(group, name)?;
                            Some(GroupLag {
                                group: group.clone(),
                                offsets: t.offsets,
                                max_offsets: t.max_offsets,
                                time_ms: t.time_ms,
                                max_time_ms: t.max_time_ms,
                                status: t.status,
                            })
                        })
                        .collect(),
                    _ => Vec::new(),
                };
                let depth = brokers.consumer_depths(&graph[e.source()].key, w);
                let routing_keys = brokers.routing_keys(&graph[e.source()].key, &graph[e.target()].key, w.kind);
                EdgeSnapshot {
                    lag,
                    depth,
                    routing_keys,
                    queue_status: match w.kind {
                        EdgeKind::Consumes => brokers.queue_status(&graph[e.source()].key),
                        _ => None,
                    },
                    findings: Default::default(),
                    id: e.id().index() as u32,
                    from: e.source().index() as u32,
                    to: e.target().index() as u32,
                    kind: w.kind,
                    counters: Counters::new(
                        w.headline(),
                        &w.time_in_topic,
                        &w.consumer_groups,
                        &w.partitions,
                        now_second,
                    ),
                }
            })
            .collect();
        edges.sort_by_key(|e| e.id);
        let mut nodes: Vec<NodeSnapshot> = graph
            .node_indices()
            .filter(|&index| !graph[index].retired)
            .map(|index| {
                let n = &graph[index];
                let kind = n.key.kind();
                let mut counters =
                    Counters::new(&n.stats, &n.time_in_topic, &n.consumer_groups, &n.partitions, now_second);
                if kind == NodeKind::Destination {
                    // A destination's traffic is what its producers wrote into it, and its
                    // latency is how long messages waited in it.
                    let incoming: Vec<&Stats> = graph
                        .edges_directed(index, petgraph::Direction::Incoming)
                        .filter(|e| e.weight().kind == EdgeKind::Produces)
                        .map(|e| e.weight().headline())
                        .collect();
                    counters.count = incoming.iter().map(|s| s.count()).sum();
                    counters.failures = incoming.iter().map(|s| s.failures()).sum();
                    counters.rates = [0.0; 3];
                    for s in &incoming {
                        for (total, r) in counters.rates.iter_mut().zip(s.rates(now_second)) {
                            *total += r;
                        }
                    }
                    counters.history = merge_histories(incoming.iter().map(|s| s.history()));
                    counters.latency = counters.time_in_topic;
                }
                NodeSnapshot {
                    id: index.index() as u32,
                    key: n.key.clone(),
                    kind,
                    label: n.key.label(),
                    counters,
                    queue: brokers.queue_depth(&n.key),
                    findings: Default::default(),
                }
            })
            .collect();
        nodes.sort_by_key(|n| n.id);
        (nodes, edges)
    }

    /// The node with this id.
    pub fn node(&self, id: u32) -> Option<&NodeSnapshot> {
        self.nodes.binary_search_by_key(&id, |n| n.id).ok().map(|i| &self.nodes[i])
    }

    /// The edge with this id.
    pub fn edge(&self, id: u32) -> Option<&EdgeSnapshot> {
        self.edges.binary_search_by_key(&id, |e| e.id).ok().map(|i| &self.edges[i])
    }

    /// True when no node has been seen yet (the UI then shows how to send spans).
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }
}

/// Sums several per-second histories second by second (percentiles are not summable and
/// are left out).
fn merge_histories(histories: impl Iterator<Item = Vec<SecondPoint>>) -> Vec<SecondPoint> {
    let mut by_second: std::collections::BTreeMap<u64, SecondPoint> = std::collections::BTreeMap::new();
    for history in histories {
        for p in history {
            let e = by_second.entry(p.second).or_insert(SecondPoint {
                second: p.second,
                count: 0,
                failures: 0,
                p50_us: None,
                p99_us: None,
            });
            e.count += p.count;
            e.failures += p.failures;
        }
    }
    by_second.into_values().collect()
}
