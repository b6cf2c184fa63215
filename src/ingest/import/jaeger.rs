//! Jaeger's JSON trace format, as the Jaeger UI downloads a trace (and its HTTP API returns
//! it): `{"data":[{"traceID":…,"spans":[…],"processes":{…}}]}`. Processes become resources;
//! `CHILD_OF` references in the same trace become parents, other references span links;
//! typed tags become attributes (`span.kind` sets the kind, `error`/`otel.status_code` the
//! status); logs become events.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Deserialize;

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

fn value(v: &serde_json::Value) -> AttrValue {
    match v {
        serde_json::Value::Bool(b) => AttrValue::BoolValue(*b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => AttrValue::IntValue(i),
            None => AttrValue::DoubleValue(n.as_f64().unwrap_or_default()),
        },
        serde_json::Value::String(s) => AttrValue::StringValue(s.clone()),
        other => AttrValue::StringValue(other.to_string()),
    }
}

fn attributes(tags: &[Tag]) -> Vec<Attribute> {
    tags.iter().map(|t| Attribute { key: t.key.clone(), value: value(&t.value) }).collect()
}

fn tag<'a>(tags: &'a [Tag], key: &str) -> Option<&'a serde_json::Value> {
    tags.iter().find(|t| t.key == key).map(|t| &t.value)
}

/// The records of a document (one per trace) and the span count.
pub fn records(value: serde_json::Value) -> Result<(Vec<Record>, usize), String> {
    let document: Document = serde_json::from_value(value).map_err(|e| format!("bad Jaeger trace JSON: {e}"))?;
    let mut records = Vec::new();
    let mut count = 0;
    for trace in document.data {
        let resources: HashMap<&str, Arc<Resource>> = trace
            .processes
            .iter()
            .map(|(id, p)| {
                let mut attrs = vec![Attribute {
                    key: "service.name".into(),
                    value: AttrValue::StringValue(p.service_name.clone()),
                }];
                attrs.extend(attributes(&p.tags));
                (id.as_str(), Arc::new(Resource { service: ServiceName::new(&p.service_name), attributes: attrs }))
            })
            .collect();
        let unknown = Arc::new(Resource { service: ServiceName::new("unknown_service"), attributes: Vec::new() });
        let mut spans = Vec::with_capacity(trace.spans.len());
        for j in &trace.spans {
            let describe = |e: crate::model::ids::IdError| format!("span {}: {e}", j.span_id);
            let trace_id = super::trace_id_hex(&j.trace_id).map_err(describe)?;
            let span_id = super::span_id_hex(&j.span_id).map_err(describe)?;
            let mut parent_span_id = None;
            let mut links = Vec::new();
            for r in &j.references {
                let target = SpanRef {
                    trace_id: super::trace_id_hex(&r.trace_id).map_err(describe)?,
                    span_id: super::span_id_hex(&r.span_id).map_err(describe)?,
                };
                if r.ref_type == "CHILD_OF" && target.trace_id == trace_id && parent_span_id.is_none() {
                    parent_span_id = Some(target.span_id);
                } else {
                    links.push(SpanLink { target, attributes: Vec::new() });
                }
            }
            let kind = match tag(&j.tags, "span.kind").and_then(|v| v.as_str()) {
                Some("client") => SpanKind::Client,
                Some("server") => SpanKind::Server,
                Some("producer") => SpanKind::Producer,
                Some("consumer") => SpanKind::Consumer,
                Some("internal") => SpanKind::Internal,
                _ => SpanKind::Unspecified,
            };
            let otel_error = tag(&j.tags, "otel.status_code").and_then(|v| v.as_str()) == Some("ERROR");
            let failed = otel_error
                || tag(&j.tags, "error").is_some_and(|v| v.as_bool() == Some(true) || v.as_str() == Some("true"));
            let status_message =
                tag(&j.tags, "otel.status_description").and_then(|v| v.as_str()).unwrap_or_default().to_owned();
            let mut span = Span {
                trace_id,
                span_id,
                parent_span_id,
                name: j.operation_name.clone(),
                kind,
                start_unix_nano: j.start_time.saturating_mul(1_000),
                end_unix_nano: j.start_time.saturating_add(j.duration).saturating_mul(1_000),
                status: if failed { StatusCode::Error } else { StatusCode::Unset },
                status_message,
                resource: Arc::clone(resources.get(j.process_id.as_str()).unwrap_or(&unknown)),
                scope: Arc::from("jaeger"),
                attributes: attributes(&j.tags),
                events: j
                    .logs
                    .iter()
                    .map(|l| SpanEvent {
                        name: tag(&l.fields, "event").and_then(|v| v.as_str()).unwrap_or("log").to_owned(),
                        time_unix_nano: l.timestamp.saturating_mul(1_000),
                        attributes: attributes(&l.fields),
                    })
                    .collect(),
                links,
                dropped_attributes_count: 0,
                dropped_events_count: 0,
                dropped_links_count: 0,
                messaging: None,
            };
            span.derive_messaging();
            spans.push(span);
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
