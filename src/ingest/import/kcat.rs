//! Kafka messages as `kcat -C -J` prints them, one JSON envelope per line:
//! `{"topic":…,"partition":…,"offset":…,"tstype":"create","ts":…,"broker":…,
//! "headers":["name","value",…],"key":…,"payload":…}`.

use crate::model::kafka::message::{KafkaMessage, MessageHeader, TimestampType};
use crate::model::record::Record;

/// The cluster name imported messages are filed under.
pub const CLUSTER: &str = "imported";

/// The record of one envelope; its receive time is the message timestamp (without one, or
/// with a negative one, the previous record's: the time rule of [`super::stream`]).
pub fn record(v: &serde_json::Value) -> Result<Record, String> {
    let topic = v.get("topic").and_then(|t| t.as_str()).ok_or("`topic` is not a string")?.to_owned();
    let partition = v
        .get("partition")
        .and_then(serde_json::Value::as_i64)
        .and_then(|p| i32::try_from(p).ok())
        .ok_or("`partition` is not a number")?;
    let offset = v.get("offset").and_then(serde_json::Value::as_i64).ok_or("`offset` is not a number")?;
    let timestamp_ms = v.get("ts").and_then(serde_json::Value::as_i64).filter(|ts| *ts >= 0);
    let timestamp_type = match v.get("tstype").and_then(|t| t.as_str()) {
        Some("create") => TimestampType::CreateTime,
        Some("logappend") => TimestampType::LogAppendTime,
        _ => TimestampType::NotAvailable,
    };
    let text = |name: &str| v.get(name).and_then(|x| x.as_str()).map(|s| s.as_bytes().to_vec());
    let headers = match v.get("headers") {
        Some(serde_json::Value::Array(items)) => {
            if items.len() % 2 != 0 {
                return Err("`headers` must alternate names and values".into());
            }
            items
                .chunks(2)
                .map(|pair| {
                    let key = pair[0].as_str().ok_or("a header name is not a string")?.to_owned();
                    Ok(MessageHeader { key, value: pair[1].as_str().map(|s| s.as_bytes().to_vec()) })
                })
                .collect::<Result<Vec<_>, String>>()?
        }
        _ => Vec::new(),
    };
    let payload = text("payload");
    let message = KafkaMessage {
        size: payload.as_ref().map_or(0, Vec::len),
        topic: topic.clone(),
        partition,
        offset,
        timestamp_ms,
        timestamp_type,
        key: text("key"),
        headers,
        payload,
        links: Default::default(),
    };
    Ok(super::message_record(message))
}
