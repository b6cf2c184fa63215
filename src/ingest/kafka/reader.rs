//! Reading records from a cluster without joining or committing anything, into
//! [`KafkaMessage`]s: shared by the message browser and the dead-letter sampler.

use rdkafka::Timestamp;
use rdkafka::message::{BorrowedMessage, Headers, Message};

use crate::model::kafka::message::{KafkaMessage, MessageHeader, MessageLinks, PAYLOAD_KEEP_BYTES, TimestampType};

/// Copies what EventLens keeps of a record, with its header links derived.
pub fn to_message(m: &BorrowedMessage<'_>) -> KafkaMessage {
    let (timestamp_ms, timestamp_type) = match m.timestamp() {
        Timestamp::CreateTime(t) => (Some(t), TimestampType::CreateTime),
        Timestamp::LogAppendTime(t) => (Some(t), TimestampType::LogAppendTime),
        Timestamp::NotAvailable => (None, TimestampType::NotAvailable),
    };
    let headers = m
        .headers()
        .map(|h| {
            h.iter().map(|h| MessageHeader { key: h.key.to_owned(), value: h.value.map(<[u8]>::to_vec) }).collect()
        })
        .unwrap_or_default();
    let payload = m.payload().map(|p| p[..p.len().min(PAYLOAD_KEEP_BYTES)].to_vec());
    let mut message = KafkaMessage {
        topic: m.topic().to_owned(),
        partition: m.partition(),
        offset: m.offset(),
        timestamp_ms,
        timestamp_type,
        key: m.key().map(<[u8]>::to_vec),
        headers,
        payload,
        size: m.payload_len(),
        links: MessageLinks::default(),
    };
    message.derive_links();
    message
}
