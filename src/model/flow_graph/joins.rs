//! How spans become edges: the join memories and the four join rules.
//!
//! - A producer span (`create`/`send`) adds Service -> Destination.
//! - A consumer span (`receive`/`process`) adds Destination -> Service; its destination comes
//!   from its own attributes, else from the producer it links to (span links first, the parent
//!   as a fallback). Time in topic is the consumer's start minus the linked producer's start.
//! - A CLIENT span whose child SERVER span belongs to another service adds Service -> Service.
//!   Messaging spans never do, so two services that only talk through a topic stay apart.
//! - A consumer span of an unnamed service that names its consumer group is the group's work,
//!   drawn on a node of the group's own.
//!
//! Either side of a join may arrive first; the waiting side is kept in a bounded table
//! ([`JoinLimits`](super::JoinLimits)). Apart from the model's public types because this is
//! the per-span hot path with state (memories, waiters) that nothing else reads.

use petgraph::stable_graph::{EdgeIndex, NodeIndex};
use smallvec::SmallVec;

use super::{EdgeKind, FlowModel, NodeKey, NodeKind, insert_missing};
use crate::model::ids::SpanRef;
use crate::model::messaging::{Messaging, MessagingOperation, MessagingRole};
use crate::model::span::{Span, SpanKind};

/// A producer span remembered for the consumers that link to it.
#[derive(Clone, Copy, Debug)]
pub(super) struct ProducerMemo {
    producer: NodeIndex,
    destination: NodeIndex,
    start_unix_nano: u64,
}

/// A client span remembered for the server spans that are its children.
#[derive(Clone, Copy, Debug)]
pub(super) struct ClientMemo {
    service: NodeIndex,
    duration_nanos: u64,
    failed: bool,
}

/// A server span waiting for its client (parent) span.
#[derive(Clone, Copy, Debug)]
pub(super) struct ServerWaiting {
    service: NodeIndex,
    failed: bool,
    second: u64,
}

/// A consumer span waiting for the producer it links to.
#[derive(Clone, Debug)]
pub(super) enum ConsumerWaiting {
    /// The consume edge is recorded; only time in topic waits.
    TimeInTopic { edge: EdgeIndex, destination: NodeIndex, consumer_start: u64, second: u64 },
    /// The consumer had no destination attribute: the whole consume waits.
    Consume(Box<PendingConsume>),
}

/// A consume whose destination is known only once its producer arrives.
#[derive(Clone, Debug)]
pub(super) struct PendingConsume {
    consumer: NodeIndex,
    messaging: Messaging,
    messages: u64,
    failed: bool,
    duration_nanos: u64,
    consumer_start: u64,
    second: u64,
}

impl FlowModel {
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
        self.service_node(span.service())
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
