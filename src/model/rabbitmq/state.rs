//! The state of each watched RabbitMQ broker, built from its polls: the newest view of its
//! exchanges, queues, bindings and consumers, and each queue's depth history, status and
//! rates.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::Serialize;

use super::observation::{BindingInfo, ConsumerInfo, ManagementPoll, QueueInfo, RabbitEvent, RabbitRecord};
use crate::model::depth::{DepthHistory, DepthSample};
use crate::model::findings::depth::DepthRow;
use crate::model::kafka::observation::ConnectionState;

/// Queues kept per broker; more are counted in [`BrokerState::untracked`], not kept.
pub const MAX_QUEUES: usize = 5_000;
/// Exchanges, bindings and consumers kept per broker, each; more are counted, not kept.
pub const MAX_OTHERS: usize = 20_000;

/// Every watched broker, by name.
#[derive(Clone, Debug, Default)]
pub struct RabbitModel {
    servers: Arc<BTreeMap<String, BrokerState>>,
    version: u64,
}

/// One broker.
#[derive(Clone, Debug, Default, Serialize)]
pub struct BrokerState {
    /// How the connection stands.
    pub connection: ConnectionState,
    /// The broker's or client's last error message, when there is one.
    pub message: Option<String>,
    /// Exchange types, by (vhost, name).
    pub exchanges: BTreeMap<(String, String), String>,
    /// The virtual hosts, at the last poll.
    pub vhosts: Vec<String>,
    /// Queues, by (vhost, name).
    pub queues: BTreeMap<(String, String), QueueState>,
    /// Bindings, as the last poll listed them.
    pub bindings: Vec<BindingInfo>,
    /// Consumers, as the last poll listed them.
    pub consumers: Vec<ConsumerInfo>,
    /// Queues, exchanges, bindings and consumers past the bounds at the last poll.
    pub untracked: u64,
}

/// One queue: the newest view, its depth over the session and its rates.
#[derive(Clone, Debug, Default, Serialize)]
pub struct QueueState {
    /// The newest poll's view.
    pub info: QueueInfo,
    /// Ready plus unacknowledged over the session, with maxima and status.
    pub depth: DepthHistory,
    /// Per second between the last two polls.
    pub rates: QueueRates,
}

/// A queue's message rates between two polls, per second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct QueueRates {
    /// Published into it.
    pub publish: f64,
    /// Delivered or fetched.
    pub deliver: f64,
    /// Acknowledged (or delivered without needing one).
    pub ack: f64,
    /// Delivered again.
    pub redeliver: f64,
}

impl RabbitModel {
    /// Takes in one observation.
    pub fn apply(&mut self, record: &RabbitRecord) {
        let at_ms = record.received_unix_nano / 1_000_000;
        let servers = Arc::make_mut(&mut self.servers);
        let server = servers.entry(record.server.clone()).or_default();
        match &record.event {
            RabbitEvent::Connection(c) => {
                server.connection = c.state;
                server.message = c.message.clone();
            }
            RabbitEvent::Management(poll) => {
                server.connection = ConnectionState::Connected;
                server.message = None;
                server.take_poll(poll, at_ms);
            }
        }
        self.version += 1;
    }

    /// Brokers, by name, shared with snapshots (not copied).
    pub fn servers(&self) -> &Arc<BTreeMap<String, BrokerState>> {
        &self.servers
    }

    /// Changes with every observation taken in.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// A queue by its destination name (see [`super::destination_name`]), on whichever
    /// broker reports it first.
    pub fn queue(&self, destination: &str) -> Option<&QueueState> {
        self.servers.values().find_map(|s| s.queue_named(destination))
    }

    /// Every queue's depth at its newest poll, for the findings.
    pub fn depth_rows(&self) -> Vec<DepthRow> {
        let queues = self.servers.values().flat_map(|s| s.queues.iter());
        queues
            .filter_map(|((vhost, name), q)| {
                let latest = q.depth.latest()?;
                Some(DepthRow {
                    destination: super::destination_name(vhost, name),
                    consumer: None,
                    status: q.depth.status,
                    ready: latest.ready,
                    unacked: latest.unacked,
                    at_ms: latest.at_ms,
                })
            })
            .collect()
    }

    /// Bytes held on the heap, roughly: the depth histories and the listings.
    pub fn heap_bytes(&self) -> usize {
        self.servers
            .values()
            .map(|s| {
                s.queues
                    .values()
                    .map(|q| q.depth.heap_bytes() + size_of::<QueueState>() + q.info.arguments.len() * 64)
                    .sum::<usize>()
                    + s.bindings.capacity() * size_of::<BindingInfo>()
                    + s.consumers.capacity() * size_of::<ConsumerInfo>()
                    + (s.exchanges.len() + s.vhosts.len()) * 64
            })
            .sum()
    }
}

/// Whether (vhost, name) is `destination`, without building the name.
fn is_named(vhost: &str, name: &str, destination: &str) -> bool {
    if vhost == "/" {
        return name == destination;
    }
    destination.strip_prefix(vhost).and_then(|rest| rest.strip_prefix('/')).is_some_and(|rest| rest == name)
}

impl BrokerState {
    /// A queue by its destination name (see [`super::destination_name`]).
    pub fn queue_named(&self, destination: &str) -> Option<&QueueState> {
        self.queues.iter().find(|((vhost, name), _)| is_named(vhost, name, destination)).map(|(_, q)| q)
    }

    /// An exchange's type (`topic`, `fanout`, ...) by its destination name.
    pub fn exchange_named(&self, destination: &str) -> Option<&str> {
        let mut exchanges = self.exchanges.iter();
        exchanges.find(|((vhost, name), _)| is_named(vhost, name, destination)).map(|(_, kind)| kind.as_str())
    }

    fn take_poll(&mut self, poll: &ManagementPoll, at_ms: u64) {
        let over = |n: usize, max: usize| n.saturating_sub(max) as u64;
        self.untracked = over(poll.queues.len(), MAX_QUEUES)
            + over(poll.exchanges.len(), MAX_OTHERS)
            + over(poll.bindings.len(), MAX_OTHERS)
            + over(poll.consumers.len(), MAX_OTHERS)
            + over(poll.vhosts.len(), MAX_OTHERS);
        self.exchanges = poll
            .exchanges
            .iter()
            .take(MAX_OTHERS)
            .map(|e| ((e.vhost.clone(), e.name.clone()), e.kind.clone()))
            .collect();
        self.bindings = poll.bindings.iter().take(MAX_OTHERS).cloned().collect();
        self.vhosts = poll.vhosts.iter().take(MAX_OTHERS).cloned().collect();
        self.consumers = poll.consumers.iter().take(MAX_OTHERS).cloned().collect();
        let listed = &poll.queues[..poll.queues.len().min(MAX_QUEUES)];
        self.queues.retain(|(vhost, name), _| listed.iter().any(|q| &q.vhost == vhost && &q.name == name));
        for info in listed {
            let queue = self.queues.entry((info.vhost.clone(), info.name.clone())).or_default();
            if let Some(previous) = queue.depth.latest() {
                queue.rates = rates(&queue.info, info, at_ms.saturating_sub(previous.at_ms));
            }
            queue.depth.push(DepthSample {
                at_ms,
                ready: info.ready,
                unacked: info.unacked,
                acked: info.acked,
                consumers: info.consumers,
            });
            queue.info = info.clone();
        }
    }
}

/// Rates between two views `elapsed_ms` apart; a counter that went back (the broker
/// restarted) counts from zero.
fn rates(before: &QueueInfo, now: &QueueInfo, elapsed_ms: u64) -> QueueRates {
    if elapsed_ms == 0 {
        return QueueRates::default();
    }
    let per_second = |a: u64, b: u64| {
        let moved = if b >= a { b - a } else { b };
        moved as f64 * 1000.0 / elapsed_ms as f64
    };
    QueueRates {
        publish: per_second(before.published, now.published),
        deliver: per_second(before.delivered, now.delivered),
        ack: per_second(before.acked, now.acked),
        redeliver: per_second(before.redelivered, now.redelivered),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::depth::DepthStatus;

    fn poll(at_s: u64, queue: QueueInfo) -> RabbitRecord {
        RabbitRecord {
            received_unix_nano: at_s * 1_000_000_000,
            server: "http://127.0.0.1:15672".into(),
            event: RabbitEvent::Management(ManagementPoll { queues: vec![queue], ..ManagementPoll::default() }),
        }
    }

    fn billing(ready: u64, unacked: u64, consumers: u32, published: u64, acked: u64) -> QueueInfo {
        QueueInfo {
            vhost: "/".into(),
            name: "billing".into(),
            kind: "classic".into(),
            ready,
            unacked,
            consumers,
            published,
            acked,
            ..QueueInfo::default()
        }
    }

    #[test]
    fn statuses_follow_the_depth_rules_and_rates_the_counters() {
        let mut model = RabbitModel::default();
        model.apply(&poll(0, billing(5, 0, 0, 5, 0)));
        assert_eq!(model.queue("billing").map(|q| q.depth.status), Some(DepthStatus::Stop));
        model.apply(&poll(5, billing(5, 2, 1, 7, 0)));
        assert_eq!(model.queue("billing").map(|q| q.depth.status), Some(DepthStatus::Stall));
        model.apply(&poll(10, billing(9, 2, 1, 17, 6)));
        let q = model.queue("billing").unwrap();
        assert_eq!(q.depth.status, DepthStatus::Warn, "grew at every poll while acknowledging");
        assert_eq!((q.rates.publish, q.rates.ack), (2.0, 1.2));
        assert_eq!((q.depth.max_ready, q.depth.max_unacked), (9, 2));
    }

    #[test]
    fn a_vhost_other_than_the_default_is_part_of_the_name() {
        let mut model = RabbitModel::default();
        let mut queue = billing(1, 0, 0, 1, 0);
        queue.vhost = "shop".into();
        model.apply(&poll(0, queue));
        assert!(model.queue("billing").is_none());
        assert!(model.queue("shop/billing").is_some());
        assert_eq!(super::super::destination_name("shop", "billing"), "shop/billing");
    }
}
