//! What judging a journey reads of the rest of the session: who is expected to consume each
//! destination, and the offsets consumer groups committed.
//!
//! Journeys are judged against the flow graph and the Kafka model as they stood right after
//! each record. Those models belong to the engine; journeys are assembled beside it, so the
//! engine hands over this small extract instead, rebuilt only when what it holds may have
//! changed ([`ExpectationsKey`]).

use std::collections::BTreeSet;

use rustc_hash::FxHashMap;

use crate::model::flow_graph::{FlowModel, NodeKey};
use crate::model::kafka::KafkaModel;

/// A destination's expected consumers: the consumer (a service or group node) and the
/// groups seen on its consume edge.
type Consumers = Vec<(NodeKey, BTreeSet<String>)>;

/// Expected consumers and committed offsets, as of one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Expectations {
    /// By messaging system, then destination (nested, so a lookup by `&str` allocates nothing).
    consumers: FxHashMap<String, FxHashMap<String, Consumers>>,
    /// By group, then topic, then partition.
    committed: FxHashMap<String, FxHashMap<String, FxHashMap<i32, i64>>>,
}

/// Identifies the model state an [`Expectations`] was built from: equal keys, equal
/// expectations.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ExpectationsKey {
    consumers: u64,
    clusters: u64,
}

impl ExpectationsKey {
    /// The key of the models' current state.
    pub fn of(flow: &FlowModel, kafka: &KafkaModel) -> Self {
        Self { consumers: flow.consumers_version(), clusters: kafka.clusters_version() }
    }
}

impl Expectations {
    /// Extracts what judging reads from the models.
    pub fn of(flow: &FlowModel, kafka: &KafkaModel) -> Self {
        let mut consumers: FxHashMap<String, FxHashMap<String, Consumers>> = FxHashMap::default();
        for (system, destination, consumer, groups) in flow.all_consumers() {
            let by_destination = consumers.entry(system.to_owned()).or_default();
            by_destination.entry(destination.to_owned()).or_default().push((consumer.clone(), groups.clone()));
        }
        let mut committed: FxHashMap<String, FxHashMap<String, FxHashMap<i32, i64>>> = FxHashMap::default();
        for (group, topic, partition, offset) in kafka.committed_offsets() {
            let by_topic = committed.entry(group.to_owned()).or_default();
            // A group watched in several clusters: the first cluster that has it wins.
            by_topic.entry(topic.to_owned()).or_default().entry(partition).or_insert(offset);
        }
        Self { consumers, committed }
    }

    /// Who consumes `destination` of `system`: each consumer and the groups seen on its edge.
    pub fn consumers_of(&self, system: &str, destination: &str) -> impl Iterator<Item = (&NodeKey, &BTreeSet<String>)> {
        let consumers = self.consumers.get(system).and_then(|d| d.get(destination));
        consumers.into_iter().flatten().map(|(k, g)| (k, g))
    }

    /// The offset `group` last committed on a partition.
    pub fn committed(&self, group: &str, topic: &str, partition: i32) -> Option<i64> {
        self.committed.get(group)?.get(topic)?.get(&partition).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kafka::observation::{CommittedOffset, OffsetPoll, Watermark};
    use crate::model::kafka::{KafkaEvent, KafkaRecord};
    use crate::model::span::SpanKind;
    use crate::testing::span;

    #[test]
    fn expectations_answer_as_the_models_do() {
        let mut flow = FlowModel::default();
        flow.ensure_group_consumes("kafka", "orders", "billing");
        flow.ensure_group_consumes("kafka", "orders", "shipping");
        let mut kafka = KafkaModel::default();
        kafka.apply(&KafkaRecord {
            received_unix_nano: 1_000_000_000,
            cluster: "local".into(),
            event: KafkaEvent::Offsets(OffsetPoll {
                commits: vec![CommittedOffset {
                    group: "billing".into(),
                    topic: "orders".into(),
                    partition: 0,
                    offset: 7,
                    oldest_unconsumed_ms: None,
                }],
                // Lag is kept only for partitions whose watermarks are known.
                watermarks: vec![Watermark { topic: "orders".into(), partition: 0, low: 0, high: 9 }],
            }),
        });
        let expect = Expectations::of(&flow, &kafka);
        let mut from_model: Vec<_> =
            flow.consumers_of("kafka", "orders").map(|(k, g)| (k.label(), g.clone())).collect();
        let mut extracted: Vec<_> =
            expect.consumers_of("kafka", "orders").map(|(k, g)| (k.label(), g.clone())).collect();
        from_model.sort();
        extracted.sort();
        assert_eq!(extracted.len(), 2);
        assert_eq!(extracted, from_model);
        assert_eq!(expect.consumers_of("kafka", "payments").count(), 0);
        assert_eq!(expect.committed("billing", "orders", 0), Some(7));
        assert_eq!(expect.committed("shipping", "orders", 0), None);
    }

    #[test]
    fn the_key_changes_when_a_consumer_or_an_offset_does() {
        let consume = |group: &str| {
            span("billing", "orders process", SpanKind::Consumer)
                .messaging("kafka", "orders", "process")
                .attr("messaging.consumer.group.name", group)
                .build()
        };
        let mut flow = FlowModel::default();
        let mut kafka = KafkaModel::default();
        let empty = ExpectationsKey::of(&flow, &kafka);
        flow.apply_span(&consume("billing"), 1);
        let added = ExpectationsKey::of(&flow, &kafka);
        assert_ne!(empty, added);
        // The same consumer again changes nothing.
        flow.apply_span(&consume("billing"), 1);
        assert_eq!(added, ExpectationsKey::of(&flow, &kafka));
        // A second group on the same edge changes no structure, but does change consumers.
        let structure = flow.structure_version();
        flow.apply_span(&consume("billing-replay"), 1);
        assert_eq!(structure, flow.structure_version());
        let grouped = ExpectationsKey::of(&flow, &kafka);
        assert_ne!(added, grouped);
        // An offset poll changes the key.
        kafka.apply(&KafkaRecord {
            received_unix_nano: 1,
            cluster: "local".into(),
            event: KafkaEvent::Offsets(OffsetPoll { watermarks: Vec::new(), commits: Vec::new() }),
        });
        assert_ne!(grouped, ExpectationsKey::of(&flow, &kafka));
    }
}
