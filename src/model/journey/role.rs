//! What a span does to journey assembly, read from the span alone (its kind, messaging
//! attributes and links), so a span's part never depends on what arrived before it.
//!
//! The rules, and the instrumentations they were checked against, are in `docs/journeys.md`:
//! a consumer span that links one message's producer belongs to that message's journey
//! whatever its parent is ([`SpanRole::Entry`]); a span linking several messages is a batch
//! that links their journeys without merging them ([`SpanRole::Batch`]); a receive or poll
//! span that only carries per-message spans is batch context, cut from its parent
//! ([`SpanRole::Receive`]); every other span belongs with its parent ([`SpanRole::Inner`]).

use smallvec::SmallVec;

use crate::model::ids::SpanRef;
use crate::model::messaging::{MessagingOperation, MessagingRole};
use crate::model::span::{Span, SpanKind};

/// How a span takes part in journey assembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpanRole {
    /// Belongs to its parent's journey (a root starts one). `link`: the one span of another
    /// trace it links to, when it is not a consumer span; its journey joins that span's too.
    Inner {
        /// The span of another trace it links to.
        link: Option<SpanRef>,
    },
    /// A consumer-side span (CONSUMER kind, or a receive/process operation) linking exactly
    /// one span: the message's producer. It belongs to that span's journey, whatever its
    /// parent is, and the spans under it follow. The producer may be in the same trace (a
    /// context leaked from one message's process span into the next poll puts the next
    /// message's producer and consumer in one trace).
    Entry(SpanRef),
    /// Links two or more spans (of other traces, unless it is a consumer span): a batch
    /// consumer. It and the spans under it
    /// keep a journey of their own, recorded as a consumer of each journey it links to.
    Batch,
    /// A receive or poll span without links (`messaging.operation` `receive`, or a CONSUMER
    /// span with no attributes at all): batch context, cut from its parent. It is shown in
    /// the journeys of the spans under it and never counted, listed or merged on its own.
    Receive,
}

impl SpanRole {
    /// Reads a span's role.
    pub fn of(span: &Span) -> Self {
        let linked = linked_spans(span);
        match linked.as_slice() {
            [] if is_receive(span) => Self::Receive,
            [] => Self::Inner { link: None },
            [one] if is_consumer(span) => Self::Entry(*one),
            [one] => Self::Inner { link: Some(*one) },
            _ => Self::Batch,
        }
    }

    /// True for a span that ignores its parent: it starts a part of a journey of its own.
    pub fn cuts_parent(self) -> bool {
        !matches!(self, Self::Inner { .. })
    }
}

/// A receive/poll span: the `receive` operation, or an attribute-less CONSUMER span (the
/// confluent-kafka instrumentation's `recv`).
fn is_receive(span: &Span) -> bool {
    span.messaging.as_ref().is_some_and(|m| m.operation == MessagingOperation::Receive)
        || (span.kind == SpanKind::Consumer && span.attributes.is_empty())
}

/// The spans a span's links name: distinct, not itself, and for a span that is not a
/// consumer's only those of other traces (only a consumer's links say which message it
/// handles, even within its own trace). Two or more: a batch span's inputs.
pub fn linked_spans(span: &Span) -> SmallVec<[SpanRef; 4]> {
    let me = span.span_ref();
    let consumer = is_consumer(span);
    let mut out: SmallVec<[SpanRef; 4]> = SmallVec::new();
    for t in span.links.iter().map(|l| l.target) {
        if t != me && !out.contains(&t) && (consumer || t.trace_id != me.trace_id) {
            out.push(t);
        }
    }
    out
}

/// A consumer-side span: CONSUMER kind, or a receive/process operation.
fn is_consumer(span: &Span) -> bool {
    span.kind == SpanKind::Consumer
        || span.messaging.as_ref().is_some_and(|m| m.operation.role() == MessagingRole::Consume)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{span, span_id, trace_id};

    fn target(trace: u128, id: u64) -> SpanRef {
        SpanRef { trace_id: trace_id(trace), span_id: span_id(id) }
    }

    #[test]
    fn each_role_is_read_from_the_span_alone() {
        let process = || span("billing", "orders process", SpanKind::Consumer).ids(9, 1);
        // A process span linking one producer is its message's entry, whatever its parent.
        let entry = process().parent(4).messaging("kafka", "orders", "process").link(1, 2).build();
        assert_eq!(SpanRole::of(&entry), SpanRole::Entry(target(1, 2)));
        // Two links to one span are one message; a link to itself does not count.
        let twice = process().link(1, 2).link(1, 2).link(9, 1).build();
        assert_eq!(SpanRole::of(&twice), SpanRole::Entry(target(1, 2)));
        // A producer in the same trace (a leaked context) is a producer all the same.
        let same_trace = process().parent(5).link(9, 3).build();
        assert_eq!(SpanRole::of(&same_trace), SpanRole::Entry(target(9, 3)));
        let batch = process().messaging("kafka", "orders", "process").link(1, 2).link(2, 2).build();
        assert_eq!(SpanRole::of(&batch), SpanRole::Batch);
        // kafkajs' eachBatch `poll` (CLIENT, receive) and confluent-kafka's bare `recv`.
        let poll = span("analytics", "poll orders", SpanKind::Client).messaging("kafka", "orders", "receive").build();
        assert_eq!(SpanRole::of(&poll), SpanRole::Receive);
        let recv = span("payments", "recv", SpanKind::Consumer).parent(3).build();
        assert_eq!(SpanRole::of(&recv), SpanRole::Receive);
        // A process span without a link (kafkajs' eachMessage: a child of the producer).
        let child = process().parent(2).messaging("kafka", "orders", "process").build();
        assert_eq!(SpanRole::of(&child), SpanRole::Inner { link: None });
        // A non-consumer span following another trace joins it, with its parent.
        let follows = span("jobs", "run", SpanKind::Internal).ids(5, 1).parent(3).link(1, 1).build();
        assert_eq!(SpanRole::of(&follows), SpanRole::Inner { link: Some(target(1, 1)) });
        assert!(SpanRole::Receive.cuts_parent() && SpanRole::Batch.cuts_parent());
        assert!(!SpanRole::Inner { link: None }.cuts_parent());
    }

    #[test]
    fn linked_spans_are_distinct_and_only_a_consumer_s_count_within_its_trace() {
        let consumer = span("billing", "orders process", SpanKind::Consumer).ids(9, 3);
        let linked = consumer.link(1, 2).link(1, 2).link(9, 3).link(9, 2).build();
        assert_eq!(linked_spans(&linked).as_slice(), [target(1, 2), target(9, 2)]);
        let internal = span("jobs", "run", SpanKind::Internal).ids(9, 3).link(9, 2).link(9, 4).build();
        assert!(linked_spans(&internal).is_empty());
        assert_eq!(SpanRole::of(&internal), SpanRole::Inner { link: None });
    }
}
