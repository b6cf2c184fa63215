//! Spans and messages the detectors' tests are made of.

pub use crate::model::kafka::testing::{message, message_with_headers};
use crate::model::span::{Span, SpanKind};
use crate::testing::span;

/// A process span of `group` on `topic` at `partition`@`offset`, failed or not.
pub fn process_span(group: &str, topic: &str, partition: i32, offset: i64, failed: bool) -> Span {
    let builder = span(group, &format!("process {topic}"), SpanKind::Consumer)
        .ids(u128::from(offset.unsigned_abs()) + 1, offset.unsigned_abs() + 1)
        .messaging("kafka", topic, "process")
        .attr("messaging.consumer.group.name", group)
        .attr("messaging.destination.partition.id", &partition.to_string())
        .attr_int("messaging.kafka.offset", offset);
    if failed { builder.error("cannot process").build() } else { builder.build() }
}
