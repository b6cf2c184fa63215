//! Jaeger's JSON trace format, as the Jaeger UI downloads a trace (and its HTTP API returns
//! it): `{"data":[{"traceID":…,"spans":[…],"processes":{…}}]}`. Processes become resources;
//! `CHILD_OF` references in the same trace become parents, other references span links;
//! typed tags become attributes (`span.kind` sets the kind, `error`/`otel.status_code` the
//! status); logs become events. Each span keeps what the OTLP conversion keeps, through the
//! same code: 128 tags, logs and links, 128 fields per log, the rest counted on the span.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

use crate::ingest::otlp::convert::{
    MAX_EVENT_ATTRIBUTES, MAX_RESOURCE_ATTRIBUTES, MAX_SPAN_ATTRIBUTES, MAX_SPAN_EVENTS, MAX_SPAN_LINKS,
    bounded_string, keep_first, try_keep_first,
};
use crate::model::ids::SpanRef;
use crate::model::record::Record;
use crate::model::span::{
    AttrValue, Attribute, Resource, ServiceName, Span, SpanEvent, SpanKind, SpanLink, StatusCode,
};

#[derive(Deserialize)]
struct Document {
    data: Vec<Trace>,
}

#[derive(Deserialize)]
struct Trace {
    spans: Vec<JaegerSpan>,
    #[serde(default)]
    processes: HashMap<String, Process>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct JaegerSpan {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    operation_name: String,
    #[serde(default)]
    references: Vec<Reference>,
    start_time: u64,
    #[serde(default)]
    duration: u64,
    #[serde(default)]
    tags: Vec<Tag>,
    #[serde(default)]
    logs: Vec<Log>,
    #[serde(rename = "processID", default)]
    process_id: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reference {
    ref_type: String,
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Deserialize)]
struct Tag {
    key: String,
    value: serde_json::Value,
}

#[derive(Deserialize)]
struct Log {
    timestamp: u64,
    #[serde(default)]
    fields: Vec<Tag>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Process {
    service_name: String,
    #[serde(default)]
    tags: Vec<Tag>,
}

fn value(v: serde_json::Value) -> AttrValue {
    match v {
        serde_json::Value::Bool(b) => AttrValue::BoolValue(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => AttrValue::IntValue(i),
            None => AttrValue::DoubleValue(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => AttrValue::StringValue(bounded_string(s)),
        other => AttrValue::StringValue(bounded_string(other.to_string())),
    }
}

fn attribute(tag: Tag) -> Attribute {
    Attribute { key: bounded_string(tag.key), value: value(tag.value) }
}

fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a serde_json::Value> {
    tags.iter().find(|t| t.key == key).map(|t| &t.value)
}

/// A process as a resource: its service and at most [`MAX_RESOURCE_ATTRIBUTES`] attributes
/// (`service.name` first, then its tags), as the OTLP conversion keeps. What is dropped is
/// not counted: the model's resource has no count, and an import has no request to count
/// it in.
fn resource(process: Process) -> Resource {
    let service_name = bounded_string(process.service_name);
    let service = ServiceName::new(&service_name);
    let name = Attribute { key: "service.name".into(), value: AttrValue::StringValue(service_name) };
    let mut not_counted = 0;
    let tags = keep_first(process.tags, MAX_RESOURCE_ATTRIBUTES - 1, &mut not_counted, attribute);
    Resource { service, attributes: std::iter::once(name).chain(tags).collect() }
}

/// One span, kept within the OTLP conversion's per-span limits and through the same code
/// ([`keep_first`]): at most 128 tags, logs and links, 128 fields per log, each string at
/// most 64 KiB; what is beyond a limit is counted in the span's dropped counts, never
/// converted (a bad id in a dropped reference is not looked at).
fn span(j: JaegerSpan, resource: Arc<Resource>) -> Result<Span, String> {
    let describe = |e: crate::model::ids::IdError| format!("span {}: {e}", j.span_id);
    let trace_id = super::trace_id_hex(&j.trace_id).map_err(describe)?;
    let span_id = super::span_id_hex(&j.span_id).map_err(describe)?;
    // The first `CHILD_OF` in the same trace is the parent; every other reference a link.
    let parent = j
        .references
        .iter()
        .position(|r| r.ref_type == "CHILD_OF" && super::trace_id_hex(&r.trace_id).is_ok_and(|t| t == trace_id));
    let parent_span_id =
        parent.map(|at| super::span_id_hex(&j.references[at].span_id)).transpose().map_err(describe)?;
    let others = j.references.into_iter().enumerate().filter(|(at, _)| Some(*at) != parent).map(|(_, r)| r);
    let mut dropped_links = 0;
    let links = try_keep_first(others, MAX_SPAN_LINKS, &mut dropped_links, |r| {
        let target = SpanRef { trace_id: super::trace_id_hex(&r.trace_id)?, span_id: super::span_id_hex(&r.span_id)? };
        Ok(SpanLink { target, attributes: Vec::new() })
    })
    .map_err(describe)?;
    // Read from all the tags, as the resource's service is from all its attributes.
    let kind = match tag(&j.tags, "span.kind").and_then(|v| v.as_str()) {
        Some("client") => SpanKind::Client,
        Some("server") => SpanKind::Server,
        Some("producer") => SpanKind::Producer,
        Some("consumer") => SpanKind::Consumer,
        Some("internal") => SpanKind::Internal,
        _ => SpanKind::Unspecified,
    };
    let otel_error = tag(&j.tags, "otel.status_code").and_then(|v| v.as_str()) == Some("ERROR");
    let failed =
        otel_error || tag(&j.tags, "error").is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"));
    let status_message = tag(&j.tags, "otel.status_description").and_then(|v| v.as_str()).unwrap_or_default();
    let status_message = bounded_string(status_message.to_owned());
    let (mut dropped_attributes, mut dropped_events) = (0, 0);
    let events = keep_first(j.logs, MAX_SPAN_EVENTS, &mut dropped_events, |log| {
        let name = tag(&log.fields, "event").and_then(|v| v.as_str()).unwrap_or("log").to_owned();
        SpanEvent {
            name: bounded_string(name),
            time_unix_nano: log.timestamp.saturating_mul(1_000),
            attributes: keep_first(log.fields, MAX_EVENT_ATTRIBUTES, &mut dropped_attributes, attribute),
        }
    });
    let attributes = keep_first(j.tags, MAX_SPAN_ATTRIBUTES, &mut dropped_attributes, attribute);
    let mut span = Span {
        trace_id,
        span_id,
        parent_span_id,
        name: bounded_string(j.operation_name),
        kind,
        start_unix_nano: j.start_time.saturating_mul(1_000),
        end_unix_nano: j.start_time.saturating_add(j.duration).saturating_mul(1_000),
        status: if failed { StatusCode::Error } else { StatusCode::Unset },
        status_message,
        resource,
        scope: Arc::from("jaeger"),
        attributes,
        events,
        links,
        dropped_attributes_count: dropped_attributes,
        dropped_events_count: dropped_events,
        dropped_links_count: dropped_links,
        messaging: None,
    };
    span.derive_messaging();
    Ok(span)
}

/// The records of a document (one per trace) and the span count.
pub fn records(value: serde_json::Value) -> Result<(Vec<Record>, usize), String> {
    let document: Document = serde_json::from_value(value).map_err(|e| format!("bad Jaeger trace JSON: {e}"))?;
    let mut records = Vec::new();
    let mut count = 0;
    for trace in document.data {
        let resources: HashMap<String, Arc<Resource>> =
            trace.processes.into_iter().map(|(id, process)| (id, Arc::new(resource(process)))).collect();
        let unknown = Arc::new(Resource { service: ServiceName::new("unknown_service"), attributes: Vec::new() });
        let mut spans = Vec::with_capacity(trace.spans.len());
        for j in trace.spans {
            let resource = Arc::clone(resources.get(&j.process_id).unwrap_or(&unknown));
            spans.push(span(j, resource)?);
        }
        if spans.is_empty() {
            continue;
        }
        count += spans.len();
        records.push(super::span_record(spans));
    }
    if records.is_empty() {
        return Err("no spans".into());
    }
    Ok((records, count))
}
