//! What a NATS server's JetStream polls draw, apart from spans: streams as destinations and
//! each stream's consumers as consume edges, merged with the edges spans drew when a span's
//! consumer group (`messaging.consumer.group.name`) is the consumer's name. The consumers'
//! depths are not kept here but in `model::nats`; snapshots join the two.

use super::FlowModel;
use crate::model::nats::{NATS_SYSTEM, NatsEvent, NatsRecord};

impl FlowModel {
    /// Draws what a JetStream poll shows: each stream, and an edge to each of its consumers.
    pub fn draw_nats(&mut self, record: &NatsRecord) {
        let NatsEvent::JetStream(poll) = &record.event else { return };
        for stream in &poll.streams {
            self.ensure_destination(NATS_SYSTEM, &stream.name);
            for consumer in &stream.consumers {
                self.ensure_group_consumes(NATS_SYSTEM, &stream.name, &consumer.name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::model::flow_graph::{FlowModel, JoinLimits, NodeKey};
    use crate::model::nats::{ConsumerInfo, JetStreamPoll, NatsEvent, NatsRecord, StreamInfo};

    #[test]
    fn a_stream_and_its_consumers_are_drawn_once_however_often_polled() {
        let mut model = FlowModel::new(JoinLimits::default());
        let consumer = |name: &str| ConsumerInfo { name: name.into(), ..ConsumerInfo::default() };
        let stream = StreamInfo {
            name: "ORDERS".into(),
            consumers: vec![consumer("billing"), consumer("audit")],
            ..StreamInfo::default()
        };
        let record = NatsRecord {
            received_unix_nano: 0,
            server: "nats://localhost:4222".into(),
            event: NatsEvent::JetStream(JetStreamPoll { streams: vec![stream] }),
        };
        model.draw_nats(&record);
        model.draw_nats(&record);
        let labels: Vec<String> = model.graph().node_weights().map(|n| n.key.label()).collect();
        assert_eq!(labels, ["nats/ORDERS", "nats consumer billing", "nats consumer audit"]);
        assert_eq!(model.graph().edge_count(), 2);
        let stream = NodeKey::Destination { system: "nats".into(), name: "ORDERS".into() };
        assert!(model.node_index(&stream).is_some());
    }
}
