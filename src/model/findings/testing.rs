//! Spans and messages the detectors' tests are made of.

use crate::model::kafka::message::{KafkaMessage, MessageHeader};
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

/// A message with a text key and a payload.
pub fn message(topic: &str, partition: i32, offset: i64, key: &str, payload: &[u8]) -> KafkaMessage {
    let mut m = KafkaMessage {
        topic: topic.into(),
        partition,
        offset,
        timestamp_ms: Some(1_700_000_000_000 + offset),
        timestamp_type: Default::default(),
        key: Some(key.as_bytes().to_vec()),
        headers: Vec::new(),
        payload: Some(payload.to_vec()),
        size: payload.len(),
        links: Default::default(),
    };
    m.derive_links();
    m
}

/// The same with headers.
pub fn message_with_headers(
    topic: &str,
    partition: i32,
    offset: i64,
    key: &str,
    payload: &[u8],
    headers: &[(&str, &[u8])],
) -> KafkaMessage {
    let mut m = message(topic, partition, offset, key, payload);
    m.headers = headers.iter().map(|(k, v)| MessageHeader { key: (*k).into(), value: Some(v.to_vec()) }).collect();
    m.derive_links();
    m
}
