//! What a NATS server's JetStream polls draw, apart from spans: streams as destinations, a
//! routes edge from each subject spans named (`nats/orders.created`) to the stream that
//! stores it, and each stream's consumers as consume edges: to the service spans show it is
//! (see [`broker_readers`](super::broker_readers)), else to a consumer node of its own. The
//! consumers' depths are not kept here but in `model::nats`; snapshots join the two.

use petgraph::visit::EdgeRef;

use super::broker_readers::{BrokerConsumer, filters_take};
use super::{EdgeKind, FlowModel, NodeKey, NodeKind};
use crate::model::nats::{ConsumerInfo, NATS_SYSTEM, NatsEvent, NatsRecord, StreamInfo, subject_matches};

impl FlowModel {
    /// Draws what a JetStream poll shows: each stream, and an edge to each of its consumers.
    pub fn draw_nats(&mut self, record: &NatsRecord) {
        let NatsEvent::JetStream(poll) = &record.event else { return };
        for stream in &poll.streams {
            self.ensure_destination(NATS_SYSTEM, &stream.name);
        }
        // Subjects first: the spans reading them read the streams.
        self.link_subjects(&poll.streams);
        for stream in &poll.streams {
            let subjects = self.subjects_of(&stream.name);
            for consumer in &stream.consumers {
                // Each durable consumer reads every message it filters for: one service
                // each, so the stream's readers are one service only for what no other
                // consumer reads.
                let reads = |c: &ConsumerInfo, subject: &str| filters_take(&c.filter_subjects, subject);
                let mine: Vec<&String> = subjects.iter().filter(|s| reads(consumer, s)).collect();
                let alone = !mine.is_empty()
                    && mine.iter().all(|s| stream.consumers.iter().filter(|c| reads(c, s)).count() == 1);
                self.ensure_broker_consumer(BrokerConsumer {
                    system: NATS_SYSTEM,
                    destination: &stream.name,
                    who: &consumer.name,
                    one_service: stream.consumers.len() == 1 || alone,
                    filters: &consumer.filter_subjects,
                });
            }
        }
    }

    /// The subjects spans drew that are routed to `stream`, sorted.
    fn subjects_of(&self, stream: &str) -> Vec<String> {
        let Some(node) = self.destinations.get(NATS_SYSTEM).and_then(|d| d.get(stream)) else { return Vec::new() };
        let mut subjects: Vec<String> = self
            .graph
            .edges_directed(*node, petgraph::Direction::Incoming)
            .filter(|e| e.weight().kind == EdgeKind::Routes)
            .filter_map(|e| match &self.graph[e.source()].key {
                NodeKey::Destination { name, .. } => Some(name.clone()),
                _ => None,
            })
            .collect();
        subjects.sort();
        subjects
    }

    /// Links each subject node spans drew to the stream whose subjects take it (the first
    /// such stream by name), so a span's subject and the server's stream meet on the graph.
    fn link_subjects(&mut self, streams: &[StreamInfo]) {
        let Some(names) = self.destinations.get(NATS_SYSTEM) else { return };
        let mut links: Vec<(&String, &str)> = names
            .keys()
            .filter(|name| !streams.iter().any(|s| &s.name == *name))
            .filter_map(|name| {
                let stream = streams.iter().find(|s| s.subjects.iter().any(|f| subject_matches(f, name)))?;
                Some((name, stream.name.as_str()))
            })
            .collect();
        // Sorted: the hash map's order must not decide which edge gets which id.
        links.sort();
        let links: Vec<(String, String)> = links.into_iter().map(|(a, b)| (a.clone(), b.to_owned())).collect();
        for (subject, stream) in links {
            let from = self.named_node(NodeKind::Destination, NATS_SYSTEM, &subject);
            let to = self.named_node(NodeKind::Destination, NATS_SYSTEM, &stream);
            self.edge(from, to, EdgeKind::Routes);
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

    #[test]
    fn a_subject_spans_name_is_routed_to_the_stream_that_stores_it() {
        let mut model = FlowModel::new(JoinLimits::default());
        model.apply_span(&crate::testing::producer("checkout", "nats", "orders.created", 1, 1), 0);
        model.apply_span(&crate::testing::producer("checkout", "nats", "audit.log", 2, 2), 0);
        let stream = StreamInfo { name: "ORDERS".into(), subjects: vec!["orders.>".into()], ..StreamInfo::default() };
        let record = NatsRecord {
            received_unix_nano: 0,
            server: "nats://localhost:4222".into(),
            event: NatsEvent::JetStream(JetStreamPoll { streams: vec![stream] }),
        };
        model.draw_nats(&record);
        model.draw_nats(&record);
        let g = model.graph();
        let mut routes: Vec<(String, String)> = g
            .edge_indices()
            .filter(|&e| g[e].kind == crate::model::flow_graph::EdgeKind::Routes)
            .filter_map(|e| g.edge_endpoints(e).map(|(a, b)| (g[a].key.label(), g[b].key.label())))
            .collect();
        routes.sort();
        assert_eq!(routes, [("nats/orders.created".to_owned(), "nats/ORDERS".to_owned())]);
    }
}
