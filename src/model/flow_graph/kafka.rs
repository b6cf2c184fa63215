//! The edges a Kafka cluster's own reports draw, apart from spans: topics the cluster lists
//! ([`FlowModel::ensure_destination`]), groups it reports consuming a topic
//! ([`FlowModel::ensure_group_consumes`]), dead-letter provenance read from messages
//! ([`FlowModel::record_dead_letter`]), and retiring a group's placeholder node once spans
//! show the service behind it. [`FlowModel::draw_kafka`] reads one Kafka observation and
//! draws all of these. Apart from the joins because they follow a cluster's polls, not spans,
//! and share none of the join state.

use petgraph::stable_graph::{EdgeIndex, NodeIndex};
use petgraph::visit::EdgeRef;

use super::overflow::{Tier, name_hash};
use super::{EdgeKind, FlowModel, NodeKind, insert_missing};
use crate::model::kafka::{KafkaEvent, KafkaModel, KafkaRecord};

/// `messaging.system` of Kafka topics and groups, as spans name it too.
pub const KAFKA_SYSTEM: &str = "kafka";

/// Where dead-lettered messages were counted: an edge and a partition of its dead-letter
/// destination, named too (by its hash), since past the graph's share several dead-letter
/// topics share the edge into their overflow node and their offsets must not mix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct DeadLetterPartition {
    edge: EdgeIndex,
    topic: u64,
    partition: i32,
}

impl FlowModel {
    /// Draws what a Kafka observation shows: topics as destinations, groups consuming them
    /// as consume edges (merged with the ones spans drew), dead-letter edges. `kafka` is the
    /// Kafka model before it takes the observation in (it says which topics are internal).
    pub fn draw_kafka(&mut self, record: &KafkaRecord, kafka: &KafkaModel) {
        let internal = |topic: &str| -> bool {
            let cluster = kafka.clusters().get(&record.cluster);
            cluster.and_then(|c| c.topics.get(topic)).is_some_and(|t| t.internal)
        };
        match &record.event {
            KafkaEvent::Metadata(m) => {
                for t in m.topics.iter().filter(|t| !t.internal) {
                    self.ensure_destination(KAFKA_SYSTEM, &t.name);
                }
            }
            KafkaEvent::Offsets(poll) => {
                let consumed: Vec<(&str, &str)> = poll
                    .commits
                    .iter()
                    .filter(|c| c.offset >= 0 && !internal(&c.topic))
                    .map(|c| (c.topic.as_str(), c.group.as_str()))
                    .collect();
                for (topic, group) in consumed {
                    self.ensure_group_consumes(KAFKA_SYSTEM, topic, group);
                }
            }
            KafkaEvent::Groups(listing) => {
                let assigned: Vec<(&str, &str)> = listing
                    .groups
                    .iter()
                    .flat_map(|g| {
                        g.members.iter().flatten().flat_map(move |m| m.assignment.iter().map(move |a| (a, g)))
                    })
                    .filter(|((topic, _), _)| !internal(topic))
                    .map(|((topic, _), g)| (topic.as_str(), g.name.as_str()))
                    .collect();
                for (topic, group) in assigned {
                    self.ensure_group_consumes(KAFKA_SYSTEM, topic, group);
                }
            }
            KafkaEvent::Messages(batch) => {
                let second = record.received_unix_nano / 1_000_000_000;
                for m in &batch.messages {
                    if let Some(origin) = &m.links.dead_letter {
                        self.record_dead_letter(KAFKA_SYSTEM, &origin.topic, &m.topic, m.partition, m.offset, second);
                    }
                }
            }
            KafkaEvent::Connection(_) => {}
        }
    }

    /// Ensures a destination node exists, e.g. a topic the cluster reports before any span
    /// names it. Such a topic takes a node of its own only while the graph is within half its
    /// share, so however many topics a cluster lists, the ones spans name still find room;
    /// past that it folds into the system's overflow node until traffic names it.
    pub fn ensure_destination(&mut self, system: &str, name: &str) -> NodeIndex {
        self.named_node_within(NodeKind::Destination, system, name, Tier::Listed)
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
        let topic = name_hash(NodeKind::Destination, system, to, None);
        let seen = self.dead_letter_offsets.entry(DeadLetterPartition { edge, topic, partition }).or_insert(-1);
        if offset <= *seen {
            return;
        }
        *seen = offset;
        self.graph[edge].primary.record(second, 1, true, None);
    }

    /// Retires a group's placeholder node once services are seen consuming for it on every
    /// topic it is drawn on, unless the placeholder carries traffic of its own.
    pub(super) fn retire_group_placeholder(&mut self, system: &str, group: &str, consumer: NodeIndex) {
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
}
