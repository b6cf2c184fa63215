//! What the NATS and RabbitMQ models add to a snapshot's nodes and edges: a JetStream
//! consumer's depth on its consume edge, a RabbitMQ queue's depth on its node, and an
//! exchange route's binding keys. Read from the models at each snapshot, not kept in the graph.

use std::collections::HashMap;

use serde::Serialize;

use crate::model::depth::DepthStatus;
use crate::model::flow_graph::{EdgeKind, FlowEdge, NodeKey};
use crate::model::nats::{ConsumerState, NATS_SYSTEM, NatsModel, subject_matches};
use crate::model::rabbitmq::{QueueState, RABBITMQ_SYSTEM, RabbitModel, destination_name};

/// The broker models a snapshot reads beside the flow graph: the NATS model, and the
/// RabbitMQ brokers indexed by the destination names the graph uses.
#[derive(Debug)]
pub struct Brokers<'a> {
    nats: &'a NatsModel,
    rabbitmq: &'a RabbitIndex,
}

/// The RabbitMQ brokers' queues (as snapshots show them) and binding keys by destination
/// name. Rebuilt only when the model changed: snapshots come ten times a second, polls every
/// few seconds.
#[derive(Debug, Default)]
pub struct RabbitIndex {
    version: Option<u64>,
    queues: HashMap<String, QueueDepth>,
    routes: HashMap<(String, String), Vec<String>>,
}

impl RabbitIndex {
    /// Brings the index up to `rabbitmq` (the first broker to report a name wins, as in the
    /// graph, where one name is one node).
    pub fn refresh(&mut self, rabbitmq: &RabbitModel) {
        if self.version == Some(rabbitmq.version()) {
            return;
        }
        self.version = Some(rabbitmq.version());
        self.queues.clear();
        self.routes.clear();
        for server in rabbitmq.servers().values() {
            for ((vhost, name), q) in &server.queues {
                self.queues.entry(destination_name(vhost, name)).or_insert_with(|| QueueDepth::of(q));
            }
            for b in &server.bindings {
                let key = (destination_name(&b.vhost, &b.source), destination_name(&b.vhost, &b.destination));
                self.routes.entry(key).or_default().push(b.routing_key.clone());
            }
        }
        for keys in self.routes.values_mut() {
            keys.sort();
            keys.dedup();
        }
    }
}

/// A JetStream consumer's depth on the stream of a consume edge, as its server reports it.
#[derive(Clone, Debug, Serialize)]
pub struct ConsumerDepth {
    /// The consumer's name.
    pub consumer: String,
    /// Messages not yet delivered to it, at the last poll.
    pub pending: u64,
    /// Delivered and not yet acknowledged, at the last poll.
    pub ack_pending: u64,
    /// Messages delivered more than once, at the last poll.
    pub redelivered: u64,
    /// Largest `pending` this session.
    pub max_pending: u64,
    /// Largest `ack_pending` this session.
    pub max_ack_pending: u64,
    /// Status by the depth rules (`docs/brokers.md`).
    pub status: DepthStatus,
}

impl ConsumerDepth {
    fn of(name: &str, state: &ConsumerState) -> Self {
        Self {
            consumer: name.to_owned(),
            pending: state.info.pending,
            ack_pending: state.info.ack_pending,
            redelivered: state.info.redelivered,
            max_pending: state.depth.max_ready,
            max_ack_pending: state.depth.max_unacked,
            status: state.depth.status,
        }
    }
}

/// A RabbitMQ queue's depth, as its broker last reported it.
#[derive(Clone, Debug, Serialize)]
pub struct QueueDepth {
    /// `classic`, `quorum` or `stream`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Messages ready for delivery.
    pub ready: u64,
    /// Delivered and not yet acknowledged.
    pub unacked: u64,
    /// Consumers attached.
    pub consumers: u32,
    /// Largest `ready` this session.
    pub max_ready: u64,
    /// Largest `unacked` this session.
    pub max_unacked: u64,
    /// Published into it per second, between the last two polls.
    pub publish_rate: f64,
    /// Acknowledged per second, between the last two polls.
    pub ack_rate: f64,
    /// Delivered again per second, between the last two polls.
    pub redeliver_rate: f64,
    /// Status by the depth rules (`docs/brokers.md`).
    pub status: DepthStatus,
}

impl QueueDepth {
    fn of(q: &QueueState) -> Self {
        Self {
            kind: q.info.kind.clone(),
            ready: q.info.ready,
            unacked: q.info.unacked,
            consumers: q.info.consumers,
            max_ready: q.depth.max_ready,
            max_unacked: q.depth.max_unacked,
            publish_rate: q.rates.publish,
            ack_rate: q.rates.ack,
            redeliver_rate: q.rates.redeliver,
            status: q.depth.status,
        }
    }
}

impl<'a> Brokers<'a> {
    /// The models a snapshot reads (`rabbitmq` refreshed first).
    pub fn new(nats: &'a NatsModel, rabbitmq: &'a RabbitIndex) -> Self {
        Self { nats, rabbitmq }
    }

    /// The depth of each JetStream consumer on a consume edge out of a NATS stream.
    pub(super) fn consumer_depths(&self, from: &NodeKey, edge: &FlowEdge) -> Vec<ConsumerDepth> {
        match (from, edge.kind) {
            (NodeKey::Destination { system, name }, EdgeKind::Consumes) if system == NATS_SYSTEM => edge
                .consumer_groups
                .iter()
                .filter_map(|c| Some(ConsumerDepth::of(c, self.nats.consumer(name, c)?)))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The binding keys of a RabbitMQ route from exchange `from` to `to`, or the subject
    /// filters of NATS stream `to` that take subject `from`, sorted.
    pub(super) fn routing_keys(&self, from: &NodeKey, to: &NodeKey, kind: EdgeKind) -> Vec<String> {
        match (from, to) {
            (NodeKey::Destination { system, name: subject }, NodeKey::Destination { name: stream, .. })
                if kind == EdgeKind::Routes && system == NATS_SYSTEM =>
            {
                let info = self.nats.servers().values().find_map(|s| s.streams.get(stream));
                let filters = info.into_iter().flat_map(|s| s.info.subjects.iter());
                filters.filter(|f| subject_matches(f, subject)).cloned().collect()
            }
            (NodeKey::Destination { system, name: from }, NodeKey::Destination { name: to, .. })
                if kind == EdgeKind::Routes && system == RABBITMQ_SYSTEM =>
            {
                self.rabbitmq.routes.get(&(from.clone(), to.clone())).cloned().unwrap_or_default()
            }
            _ => Vec::new(),
        }
    }

    /// A RabbitMQ queue's depth status, when the node is one a watched broker reports.
    pub(super) fn queue_status(&self, key: &NodeKey) -> Option<DepthStatus> {
        match key {
            NodeKey::Destination { system, name } if system == RABBITMQ_SYSTEM => {
                self.rabbitmq.queues.get(name).map(|q| q.status)
            }
            _ => None,
        }
    }

    /// A RabbitMQ queue's depth, when the node is one a watched broker reports.
    pub(super) fn queue_depth(&self, key: &NodeKey) -> Option<QueueDepth> {
        match key {
            NodeKey::Destination { system, name } if system == RABBITMQ_SYSTEM => {
                self.rabbitmq.queues.get(name).cloned()
            }
            _ => None,
        }
    }
}
