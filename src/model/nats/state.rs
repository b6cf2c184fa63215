//! The JetStream state of each watched server, built from its polls: the newest view of each
//! stream and consumer, and each consumer's depth history and status.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::observation::{ConsumerInfo, JetStreamPoll, NatsEvent, NatsRecord, StreamInfo};
use crate::model::depth::{DepthHistory, DepthSample};
use crate::model::findings::depth::DepthRow;
use crate::model::kafka::observation::ConnectionState;

/// Streams kept per server; more are counted in [`ServerState::untracked`], not kept.
pub const MAX_STREAMS: usize = 2_000;
/// Consumers kept per stream; more are counted in [`ServerState::untracked`], not kept.
pub const MAX_CONSUMERS: usize = 1_000;

/// Every watched NATS server, by name.
#[derive(Clone, Debug, Default)]
pub struct NatsModel {
    servers: Arc<BTreeMap<String, ServerState>>,
    version: u64,
}

/// One server's JetStream.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ServerState {
    /// How the connection stands.
    pub connection: ConnectionState,
    /// The server's or client's last error message, when there is one.
    pub message: Option<String>,
    /// Streams, by name.
    pub streams: BTreeMap<String, StreamState>,
    /// Streams and consumers past [`MAX_STREAMS`] and [`MAX_CONSUMERS`] at the last poll.
    pub untracked: u64,
}

/// One stream.
#[derive(Clone, Debug, Default, Serialize)]
pub struct StreamState {
    /// The newest poll's view (its consumers are in `consumers`).
    pub info: StreamInfo,
    /// Consumers, by name.
    pub consumers: BTreeMap<String, ConsumerState>,
}

/// One consumer: the newest view, and its depth over the session.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ConsumerState {
    /// The newest poll's view.
    pub info: ConsumerInfo,
    /// Pending plus ack-pending over the session, with maxima and status.
    pub depth: DepthHistory,
}

impl NatsModel {
    /// Takes in one observation.
    pub fn apply(&mut self, record: &NatsRecord) {
        let at_ms = record.received_unix_nano / 1_000_000;
        let servers = Arc::make_mut(&mut self.servers);
        let server = servers.entry(record.server.clone()).or_default();
        match &record.event {
            NatsEvent::Connection(c) => {
                server.connection = c.state;
                server.message = c.message.clone();
            }
            NatsEvent::JetStream(poll) => {
                server.connection = ConnectionState::Connected;
                server.message = None;
                server.take_poll(poll, at_ms);
            }
            // The message browser's, not the server state's.
            NatsEvent::Messages(_) => return,
        }
        self.version += 1;
    }

    /// Servers, by name, shared with snapshots (not copied).
    pub fn servers(&self) -> &Arc<BTreeMap<String, ServerState>> {
        &self.servers
    }

    /// Changes with every observation taken in.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// A consumer of a stream, on whichever server reports that stream first by name.
    pub fn consumer(&self, stream: &str, consumer: &str) -> Option<&ConsumerState> {
        self.servers.values().find_map(|s| s.streams.get(stream)?.consumers.get(consumer))
    }

    /// Every consumer's depth at its newest poll, for the findings.
    pub fn depth_rows(&self) -> Vec<DepthRow> {
        let streams = self.servers.values().flat_map(|s| s.streams.iter());
        let consumers = streams.flat_map(|(stream, s)| s.consumers.iter().map(move |(name, c)| (stream, name, c)));
        consumers
            .filter_map(|(stream, name, c)| {
                let latest = c.depth.latest()?;
                Some(DepthRow {
                    destination: stream.clone(),
                    consumer: Some(name.clone()),
                    status: c.depth.status,
                    ready: latest.ready,
                    unacked: latest.unacked,
                    at_ms: latest.at_ms,
                })
            })
            .collect()
    }

    /// Bytes held on the heap, roughly: the depth histories dominate.
    pub fn heap_bytes(&self) -> usize {
        let consumers = self.servers.values().flat_map(|s| s.streams.values()).flat_map(|s| s.consumers.values());
        consumers.map(|c| c.depth.heap_bytes() + std::mem::size_of::<ConsumerState>()).sum()
    }
}

impl ServerState {
    fn take_poll(&mut self, poll: &JetStreamPoll, at_ms: u64) {
        let mut untracked = poll.streams.len().saturating_sub(MAX_STREAMS) as u64;
        let listed: Vec<&StreamInfo> = poll.streams.iter().take(MAX_STREAMS).collect();
        self.streams.retain(|name, _| listed.iter().any(|s| &s.name == name));
        for info in listed {
            let stream = self.streams.entry(info.name.clone()).or_default();
            stream.info = StreamInfo { consumers: Vec::new(), ..info.clone() };
            untracked += info.consumers.len().saturating_sub(MAX_CONSUMERS) as u64;
            let consumers = &info.consumers[..info.consumers.len().min(MAX_CONSUMERS)];
            stream.consumers.retain(|name, _| consumers.iter().any(|c| &c.name == name));
            for c in consumers {
                let state = stream.consumers.entry(c.name.clone()).or_default();
                let sample = DepthSample {
                    at_ms,
                    ready: c.pending,
                    unacked: c.ack_pending,
                    acked: c.ack_floor_stream_seq,
                    consumers: u32::from(active(state.depth.latest().map(|_| &state.info), c)),
                };
                state.info = c.clone();
                state.depth.push(sample);
            }
        }
        self.untracked = untracked;
    }
}

/// Whether something is consuming: a push consumer's subscriber, waiting pull requests, or
/// deliveries or acknowledgements since the previous poll (a pull consumer between fetches).
fn active(previous: Option<&ConsumerInfo>, now: &ConsumerInfo) -> bool {
    let moved = previous.is_some_and(|p| {
        now.delivered_stream_seq > p.delivered_stream_seq || now.ack_floor_stream_seq > p.ack_floor_stream_seq
    });
    now.push_bound || now.waiting > 0 || moved
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::depth::DepthStatus;
    use crate::model::kafka::observation::ConnectionEvent;

    fn poll(at_s: u64, consumer: ConsumerInfo) -> NatsRecord {
        let stream = StreamInfo {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            messages: 10,
            consumers: vec![consumer],
            ..StreamInfo::default()
        };
        NatsRecord {
            received_unix_nano: at_s * 1_000_000_000,
            server: "nats://127.0.0.1:4222".into(),
            event: NatsEvent::JetStream(JetStreamPoll { streams: vec![stream] }),
        }
    }

    fn billing(pending: u64, ack_pending: u64, delivered: u64, floor: u64) -> ConsumerInfo {
        ConsumerInfo {
            name: "billing".into(),
            durable: true,
            pending,
            ack_pending,
            delivered_stream_seq: delivered,
            ack_floor_stream_seq: floor,
            ..ConsumerInfo::default()
        }
    }

    #[test]
    fn a_consumer_that_takes_messages_and_never_acks_stalls() {
        let mut model = NatsModel::default();
        model.apply(&poll(0, billing(10, 0, 0, 0)));
        assert_eq!(model.consumer("ORDERS", "billing").map(|c| c.depth.status), Some(DepthStatus::Stop));
        model.apply(&poll(5, billing(7, 3, 3, 0)));
        model.apply(&poll(10, billing(4, 6, 6, 0)));
        let c = model.consumer("ORDERS", "billing").map(|c| (c.depth.status, c.depth.max_unacked));
        assert_eq!(c, Some((DepthStatus::Stall, 6)));
        model.apply(&poll(15, billing(0, 0, 10, 10)));
        assert_eq!(model.consumer("ORDERS", "billing").map(|c| c.depth.status), Some(DepthStatus::Ok));
    }

    #[test]
    fn streams_and_consumers_gone_from_a_poll_are_gone_from_the_model() {
        let mut model = NatsModel::default();
        model.apply(&poll(0, billing(1, 0, 0, 0)));
        let mut other = billing(0, 0, 0, 0);
        other.name = "audit".into();
        model.apply(&poll(5, other));
        assert!(model.consumer("ORDERS", "billing").is_none());
        assert!(model.consumer("ORDERS", "audit").is_some());
        let down = NatsRecord {
            received_unix_nano: 6_000_000_000,
            server: "nats://127.0.0.1:4222".into(),
            event: NatsEvent::Connection(ConnectionEvent {
                state: ConnectionState::BrokerDown,
                message: Some("connection refused".into()),
            }),
        };
        model.apply(&down);
        let server = model.servers().values().next().map(|s| (s.connection, s.streams.len()));
        assert_eq!(server, Some((ConnectionState::BrokerDown, 1)), "what it last saw stays shown");
    }
}
