//! Zipkin v2 JSON: a document (or line) holding an array of spans, as Zipkin's API and UI
//! download return them. Tags become attributes, annotations events; the `error` tag marks
//! a failure; Brave's `kafka.topic` tag on PRODUCER/CONSUMER spans becomes the messaging
//! destination, so the flow graph sees the topic.
//!
//! Each span keeps what the OTLP conversion keeps, through the same code: 128 attributes and
//! 128 events, the rest counted on the span. Tags are a JSON object, whose keys an import
//! reads sorted (it decodes each line into a `serde_json::Value` first, which sorts them), so
//! the first 128 tags by key are kept.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::Deserialize;

use crate::ingest::otlp::convert::{MAX_SPAN_ATTRIBUTES, MAX_SPAN_EVENTS, bounded_string, keep_first};
use crate::model::record::Record;
use crate::model::span::{AttrValue, Attribute, Resource, ServiceName, Span, SpanEvent, SpanKind, StatusCode};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ZipkinSpan {
    trace_id: String,
    id: String,
    #[serde(default)]
    parent_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    timestamp: u64,
    #[serde(default)]
    duration: u64,
    #[serde(default)]
    local_endpoint: Option<Endpoint>,
    /// Sorted by key, the order an import reads them in (and keeps the first 128 of).
    #[serde(default)]
    tags: BTreeMap<String, String>,
    #[serde(default)]
    annotations: Vec<Annotation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Endpoint {
    #[serde(default)]
    service_name: Option<String>,
}

#[derive(Deserialize)]
struct Annotation {
    timestamp: u64,
    value: String,
}

fn string(key: String, value: String) -> Attribute {
    Attribute { key: bounded_string(key), value: AttrValue::StringValue(bounded_string(value)) }
}

/// The record of one array of spans and its span count.
pub fn record(value: serde_json::Value) -> Result<(Record, usize), String> {
    let spans: Vec<ZipkinSpan> = serde_json::from_value(value).map_err(|e| format!("bad Zipkin v2 spans: {e}"))?;
    let mut resources: HashMap<String, Arc<Resource>> = HashMap::new();
    let mut out = Vec::with_capacity(spans.len());
    for (i, z) in spans.into_iter().enumerate() {
        let describe = |e: crate::model::ids::IdError| format!("span {i}: {e}");
        let trace_id = super::trace_id_hex(&z.trace_id).map_err(describe)?;
        let span_id = super::span_id_hex(&z.id).map_err(describe)?;
        let parent_span_id = z.parent_id.as_deref().map(super::span_id_hex).transpose().map_err(describe)?;
        let service = z.local_endpoint.and_then(|e| e.service_name).unwrap_or_else(|| "unknown_service".into());
        let service = bounded_string(service);
        let resource = Arc::clone(resources.entry(service.clone()).or_insert_with(|| {
            Arc::new(Resource {
                service: ServiceName::new(&service),
                attributes: vec![string("service.name".into(), service.clone())],
            })
        }));
        let kind = match z.kind.as_deref() {
            Some("CLIENT") => SpanKind::Client,
            Some("SERVER") => SpanKind::Server,
            Some("PRODUCER") => SpanKind::Producer,
            Some("CONSUMER") => SpanKind::Consumer,
            _ => SpanKind::Internal,
        };
        // Read from all the tags, whether kept or not.
        let error = z.tags.get("error").map(|message| bounded_string(message.clone()));
        let messaging = match z.tags.get("kafka.topic") {
            Some(topic) if matches!(kind, SpanKind::Producer | SpanKind::Consumer) => vec![
                string("messaging.system".into(), "kafka".into()),
                string("messaging.destination.name".into(), topic.clone()),
            ],
            _ => Vec::new(),
        };
        // The tags, then what they say about messaging, together within the limit.
        let (mut dropped_attributes, mut dropped_events) = (0, 0);
        let room = MAX_SPAN_ATTRIBUTES - messaging.len();
        let mut attributes = keep_first(z.tags, room, &mut dropped_attributes, |(k, v)| string(k, v));
        attributes.extend(messaging);
        let events = keep_first(z.annotations, MAX_SPAN_EVENTS, &mut dropped_events, |a| SpanEvent {
            name: bounded_string(a.value),
            time_unix_nano: a.timestamp.saturating_mul(1_000),
            attributes: Vec::new(),
        });
        let mut span = Span {
            trace_id,
            span_id,
            parent_span_id,
            name: bounded_string(z.name.unwrap_or_default()),
            kind,
            start_unix_nano: z.timestamp.saturating_mul(1_000),
            end_unix_nano: z.timestamp.saturating_add(z.duration).saturating_mul(1_000),
            status: if error.is_some() { StatusCode::Error } else { StatusCode::Unset },
            status_message: error.unwrap_or_default(),
            resource,
            scope: Arc::from("zipkin"),
            attributes,
            events,
            links: Vec::new(),
            dropped_attributes_count: dropped_attributes,
            dropped_events_count: dropped_events,
            dropped_links_count: 0,
            messaging: None,
        };
        span.derive_messaging();
        out.push(span);
    }
    if out.is_empty() {
        return Err("no spans".into());
    }
    let count = out.len();
    Ok((super::span_record(out), count))
}
