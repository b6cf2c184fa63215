//! Kafka messages as tests build them, with their links derived as a reader's are.

use super::message::{KafkaMessage, MessageHeader};

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
