//! Which service a broker-reported consumer is: the join between what a RabbitMQ or NATS
//! server says (a queue or stream has consumers, named by a connection or a durable name)
//! and what spans say (a service consumed from a destination).
//!
//! Spans rarely name the queue or stream a broker reports. RabbitMQ's conventions make a
//! consumer span's destination the exchange (the queue only on the default exchange), and
//! NATS spans name the subject, not the stream. Without this join one consumer shows twice:
//! the service the spans drew, and a consumer node the poll drew beside it. The rules, most
//! certain first (also in `docs/brokers.md`):
//!
//! 1. a service whose spans carry the consumer's name as their consumer group
//!    (`messaging.consumer.group.name`), or whose own name the consumer's client-provided
//!    connection name is;
//! 2. the one service spans show reading the queue or stream itself, or a destination that
//!    routes there and nowhere else (an exchange bound to this queue alone, a subject stored
//!    by this stream), when the caller says the destination's consumers are one service;
//! 3. among all services spans show reading it, directly or through a destination that
//!    routes to it, the one whose name is part of the queue's or consumer's name (queues and
//!    durable consumers are usually named after who reads them: `billing.orders`).
//!
//! Otherwise the consumer keeps a node of its own. A consumer drawn on its own before the
//! spans came is retired once a later poll finds its service.

use petgraph::Direction;
use petgraph::stable_graph::NodeIndex;
use petgraph::visit::EdgeRef;

use super::{EdgeKind, FlowModel, NodeKey, NodeKind, insert_missing};
use crate::model::nats::subject_matches;

/// A broker-reported consumer to place on the graph.
#[derive(Clone, Copy, Debug)]
pub(super) struct BrokerConsumer<'a> {
    /// `rabbitmq` or `nats`.
    pub system: &'a str,
    /// The queue's or stream's node name.
    pub destination: &'a str,
    /// The consumer's name: a client-provided connection name or the connection, a durable
    /// consumer's name.
    pub who: &'a str,
    /// Whether all of the destination's consumers are one service (a RabbitMQ queue's
    /// consumers compete for its messages; a stream's durable consumers each read all).
    pub one_service: bool,
    /// The subjects it reads of what routes to the destination (a JetStream consumer's
    /// filter, wildcards allowed); empty: all of it.
    pub filters: &'a [String],
}

impl FlowModel {
    /// Draws `consumer` on the consume edge to the service spans show it is (see the rules
    /// above), else on an edge to a consumer node of its own.
    pub(super) fn ensure_broker_consumer(&mut self, consumer: BrokerConsumer<'_>) {
        let destination = self.named_node(NodeKind::Destination, consumer.system, consumer.destination);
        let Some(service) = self.span_reader(destination, consumer) else {
            self.ensure_group_consumes(consumer.system, consumer.destination, consumer.who);
            return;
        };
        let edge = self.edge(destination, service, EdgeKind::Consumes);
        // The consumer's name on the edge: depths find it there, and the consumer node drawn
        // before the spans came sees it is covered.
        if insert_missing(&mut self.graph[edge].consumer_groups, consumer.who) {
            self.groups_version += 1;
        }
        insert_missing(&mut self.graph[destination].consumer_groups, consumer.who);
        self.retire_group_placeholder(consumer.system, consumer.who, service);
    }

    /// The service spans show `consumer` is, reading `destination` (its node).
    fn span_reader(&self, destination: NodeIndex, consumer: BrokerConsumer<'_>) -> Option<NodeIndex> {
        // (service, whether the spans read it here or through a destination routing only
        // here, the consumer groups on the spans' edge)
        let mut readers: Vec<(NodeIndex, bool, bool)> = Vec::new();
        let mut note = |from: NodeIndex, sure: bool| {
            for e in self.graph.edges_directed(from, Direction::Outgoing) {
                let (target, edge) = (&self.graph[e.target()], e.weight());
                let grouped = edge.consumer_groups.contains(consumer.who);
                // Spans' traffic, or this consumer's own edge: not an edge a poll drew for
                // another consumer of the same destination.
                let seen = edge.primary.count() + edge.secondary.count() > 0 || grouped;
                if edge.kind == EdgeKind::Consumes && seen && !target.retired && target.key.kind() == NodeKind::Service
                {
                    readers.push((e.target(), sure, grouped));
                }
            }
        };
        note(destination, true);
        for feeder in self.graph.edges_directed(destination, Direction::Incoming) {
            if feeder.weight().kind != EdgeKind::Routes || !reads(consumer.filters, &self.graph[feeder.source()].key) {
                continue;
            }
            let routes = self.graph.edges_directed(feeder.source(), Direction::Outgoing);
            let only_here = routes.filter(|r| r.weight().kind == EdgeKind::Routes).count() == 1;
            note(feeder.source(), only_here);
        }
        readers.sort_unstable();
        readers.dedup();
        let one = |mut found: Vec<NodeIndex>| {
            found.dedup();
            (found.len() == 1).then(|| found[0])
        };
        let named = readers
            .iter()
            .filter(|(s, _, grouped)| *grouped || self.graph[*s].key.is_consumer_named(consumer.who))
            .map(|(s, ..)| *s);
        if let Some(service) = one(named.collect()) {
            return Some(service);
        }
        if consumer.one_service
            && let Some(service) = one(readers.iter().filter(|(_, sure, _)| *sure).map(|(s, ..)| *s).collect())
        {
            return Some(service);
        }
        let within = |s: NodeIndex| {
            let NodeKey::Service { service } = &self.graph[s].key else { return false };
            let name = service.name.to_lowercase();
            // A name of a letter or two is part of too many others to say anything.
            name.len() >= 3 && [consumer.destination, consumer.who].iter().any(|n| n.to_lowercase().contains(&name))
        };
        one(readers.iter().map(|(s, ..)| *s).filter(|s| within(*s)).collect())
    }
}

/// Whether a consumer reading `filters` (none: everything) reads what `feeder` routes.
fn reads(filters: &[String], feeder: &NodeKey) -> bool {
    let NodeKey::Destination { name, .. } = feeder else { return false };
    filters_take(filters, name)
}

/// Whether subject `filters` (none: every subject) take `subject`.
pub(super) fn filters_take(filters: &[String], subject: &str) -> bool {
    filters.is_empty() || filters.iter().any(|f| subject_matches(f, subject))
}

#[cfg(test)]
mod tests;
