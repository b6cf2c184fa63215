//! OTLP trace requests -> model spans.
//!
//! The request is consumed, so attribute strings move into the model instead of being
//! copied. Each span is validated on its own: a span with a malformed id is rejected and
//! counted (OTLP's `partial_success`), the rest of the batch goes on.
//!
//! Each span keeps at most what the OpenTelemetry SDKs keep by default: 128 attributes, 128
//! events, 128 links, 128 attributes per event and per link (the limits below). One request
//! may carry a single span with 320,000 attributes or 100,000 links; kept whole, it held
//! ~28 MB and cost seconds in the graph, whose work per span grows with its links. What is
//! beyond a limit is dropped and counted in the span's own `dropped_*_count`, added to what
//! the sender's SDK already dropped, and the conversion only counts what it drops, so its
//! work stays linear in what the request carries.

use std::sync::Arc;

use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1 as otlp;

use crate::model::ids::{IdError, SpanId, SpanRef, TraceId};
use crate::model::messaging::Messaging;
use crate::model::span::{
    AttrValue, Attribute, Resource, ServiceName, Span, SpanEvent, SpanKind, SpanLink, StatusCode,
};

/// Attributes one span keeps (the SDKs' default `AttributeCountLimit`); the first ones
/// are kept, as an SDK keeps the first ones set.
pub const MAX_SPAN_ATTRIBUTES: usize = 128;
/// Events one span keeps (the SDKs' default `EventCountLimit`).
pub const MAX_SPAN_EVENTS: usize = 128;
/// Links one span keeps (the SDKs' default `LinkCountLimit`). Batch consumers link one span
/// per message received, and SDKs cap them here too.
pub const MAX_SPAN_LINKS: usize = 128;
/// Attributes one event keeps (the SDKs' default `AttributePerEventCountLimit`).
pub const MAX_EVENT_ATTRIBUTES: usize = 128;
/// Attributes one link keeps (the SDKs' default `AttributePerLinkCountLimit`).
pub const MAX_LINK_ATTRIBUTES: usize = 128;
/// Attributes one resource keeps. SDKs set no limit, but a resource is shared by every span
/// of its request, so one with 320,000 attributes would cost as much as such a span. Its
/// drops are counted in [`ConvertedSpans::dropped_resource_attributes`] (the model's
/// resource has no count of its own); `service.name` and `service.namespace` are read
/// wherever they are in the list.
pub const MAX_RESOURCE_ATTRIBUTES: usize = 128;
/// Longest string or bytes value (and attribute key) kept, in bytes: 64 KiB. The SDKs'
/// `AttributeValueLengthLimit` is unbounded by default; this one is generous (a stack trace
/// fits) and a longer value is cut at a character boundary, as the SDKs truncate, not
/// dropped.
pub const MAX_ATTRIBUTE_VALUE_BYTES: usize = 64 * 1024;
/// Elements an array value or entries a key/value list value keeps, at each level of
/// nesting; the rest are cut off, as a long string is.
pub const MAX_VALUE_ELEMENTS: usize = 128;

/// The outcome of converting one export request.
#[derive(Debug, Default)]
pub struct ConvertedSpans {
    /// Spans that passed validation.
    pub spans: Vec<Span>,
    /// How many spans were rejected.
    pub rejected: u64,
    /// The first rejection's reason, for the `partial_success` message.
    pub first_error: Option<String>,
    /// Resource attributes dropped, by the senders (OTLP's count) or beyond
    /// [`MAX_RESOURCE_ATTRIBUTES`], over all the request's resources; what spans drop is
    /// counted in each span.
    pub dropped_resource_attributes: u64,
}

impl ConvertedSpans {
    /// The message for OTLP's `partial_success.error_message`.
    pub fn rejection_message(&self) -> String {
        match &self.first_error {
            Some(first) if self.rejected > 1 => {
                format!("{} spans rejected; first: {first}", self.rejected)
            }
            Some(first) => format!("1 span rejected: {first}"),
            None => String::new(),
        }
    }
}

/// Converts a whole request, validating each span.
pub fn convert_request(request: ExportTraceServiceRequest) -> ConvertedSpans {
    let mut out = ConvertedSpans::default();
    for resource_spans in request.resource_spans {
        let mut dropped = 0;
        let resource = Arc::new(convert_resource(resource_spans.resource, &mut dropped));
        out.dropped_resource_attributes += u64::from(dropped);
        for scope_spans in resource_spans.scope_spans {
            let scope: Arc<str> = scope_spans.scope.map(|s| bounded_string(s.name)).unwrap_or_default().into();
            for span in scope_spans.spans {
                match convert_span(span, &resource, &scope) {
                    Ok(span) => out.spans.push(span),
                    Err(err) => {
                        out.rejected += 1;
                        out.first_error.get_or_insert(err);
                    }
                }
            }
        }
    }
    out
}

fn convert_resource(
    resource: Option<opentelemetry_proto::tonic::resource::v1::Resource>,
    dropped: &mut u32,
) -> Resource {
    let mut name = None;
    let mut namespace = None;
    let mut attributes = Vec::new();
    if let Some(resource) = resource {
        *dropped = resource.dropped_attributes_count;
        attributes.reserve(resource.attributes.len().min(MAX_RESOURCE_ATTRIBUTES));
        for kv in resource.attributes {
            // The service is read from the whole list (the first of each, as a lookup
            // would find it), so a long resource does not lose its name.
            let slot = match kv.key.as_str() {
                "service.name" if name.is_none() => Some(&mut name),
                "service.namespace" if namespace.is_none() => Some(&mut namespace),
                _ => None,
            };
            if let Some(slot) = slot {
                *slot = kv.value.as_ref().and_then(scalar_text);
            }
            keep_attribute(&mut attributes, kv, MAX_RESOURCE_ATTRIBUTES, dropped);
        }
    }
    let service = ServiceName {
        name: name.unwrap_or_else(|| "unknown_service".to_owned()),
        namespace: namespace.filter(|ns| !ns.is_empty()),
    };
    Resource { service, attributes }
}

fn convert_span(span: otlp::Span, resource: &Arc<Resource>, scope: &Arc<str>) -> Result<Span, String> {
    let describe = |e: IdError| format!("span {:?}: {e}", span.name);
    let trace_id = TraceId::from_bytes(&span.trace_id).map_err(describe)?;
    let span_id = SpanId::from_bytes(&span.span_id).map_err(describe)?;
    let parent_span_id = if span.parent_span_id.is_empty() {
        None
    } else {
        Some(SpanId::from_bytes(&span.parent_span_id).map_err(|e| describe(e).replace("span id", "parent span id"))?)
    };
    // What the sender's SDK dropped, and then what is dropped here.
    let mut dropped_attributes = span.dropped_attributes_count;
    let mut dropped_events = span.dropped_events_count;
    let mut dropped_links = span.dropped_links_count;

    // Links beyond the limit are not looked at, so a bad id in a dropped link does not
    // reject the span.
    let links = try_keep_first(span.links, MAX_SPAN_LINKS, &mut dropped_links, |link| -> Result<_, String> {
        let target = TraceId::from_bytes(&link.trace_id)
            .and_then(|trace_id| Ok(SpanRef { trace_id, span_id: SpanId::from_bytes(&link.span_id)? }))
            .map_err(|e| format!("span {:?}: link {e}", span.name))?;
        dropped_attributes = dropped_attributes.saturating_add(link.dropped_attributes_count);
        let attributes = convert_attributes(link.attributes, MAX_LINK_ATTRIBUTES, &mut dropped_attributes);
        Ok(SpanLink { target, attributes })
    })?;
    let events = keep_first(span.events, MAX_SPAN_EVENTS, &mut dropped_events, |event| {
        dropped_attributes = dropped_attributes.saturating_add(event.dropped_attributes_count);
        SpanEvent {
            name: bounded_string(event.name),
            time_unix_nano: event.time_unix_nano,
            attributes: convert_attributes(event.attributes, MAX_EVENT_ATTRIBUTES, &mut dropped_attributes),
        }
    });

    let kind = SpanKind::from_otlp(span.kind);
    let attributes = convert_attributes(span.attributes, MAX_SPAN_ATTRIBUTES, &mut dropped_attributes);
    let messaging = Messaging::from_attributes(kind, &attributes);
    let (status, status_message) = match span.status {
        Some(s) => (StatusCode::from_otlp(s.code).unwrap_or_default(), bounded_string(s.message)),
        None => (StatusCode::Unset, String::new()),
    };
    Ok(Span {
        trace_id,
        span_id,
        parent_span_id,
        name: bounded_string(span.name),
        kind,
        start_unix_nano: span.start_time_unix_nano,
        end_unix_nano: span.end_time_unix_nano,
        status,
        status_message,
        resource: Arc::clone(resource),
        scope: Arc::clone(scope),
        attributes,
        events,
        links,
        dropped_attributes_count: dropped_attributes,
        dropped_events_count: dropped_events,
        dropped_links_count: dropped_links,
        messaging,
    })
}

/// Converts the first `limit` attributes that hold a value and counts the rest in `dropped`.
/// The list is built anew, never collected in place: a `Vec` collected from the request's
/// would keep the capacity of all 320,000.
fn convert_attributes(attributes: Vec<KeyValue>, limit: usize, dropped: &mut u32) -> Vec<Attribute> {
    let mut kept = Vec::with_capacity(attributes.len().min(limit));
    for kv in attributes {
        keep_attribute(&mut kept, kv, limit, dropped);
    }
    kept
}

/// Adds one attribute to `kept` while it is below `limit`; beyond it, counts it in
/// `dropped` without converting it. An attribute without a value is neither kept nor
/// counted, below the limit or beyond it: there is nothing to keep. (Attributes skip
/// [`keep_first`] for this, and because a resource's are read one by one for its service.)
fn keep_attribute(kept: &mut Vec<Attribute>, kv: KeyValue, limit: usize, dropped: &mut u32) {
    if kept.len() >= limit {
        if kv.value.as_ref().is_some_and(holds_value) {
            *dropped = dropped.saturating_add(1);
        }
        return;
    }
    if let Some(value) = kv.value.and_then(convert_value) {
        kept.push(Attribute { key: bounded_string(kv.key), value });
    }
}

/// The first `limit` of `items`, each made by `keep`, with the number of the rest added to
/// `dropped`. The limits on a span's links and events are applied with it here, and every
/// per-span limit of the Jaeger and Zipkin imports (`ingest::import`), so they keep and count
/// alike: the items beyond the limit are counted, never passed to `keep`, so the work is what
/// is kept plus one step per dropped item, and the list is built at its kept size (never
/// collected in place, which would keep the capacity of all the items).
pub(crate) fn keep_first<T, U>(
    items: impl IntoIterator<Item = T>,
    limit: usize,
    dropped: &mut u32,
    mut keep: impl FnMut(T) -> U,
) -> Vec<U> {
    let Ok(kept) = try_keep_first(items, limit, dropped, |item| Ok::<U, std::convert::Infallible>(keep(item)));
    kept
}

/// As [`keep_first`], for items whose making may fail (a link with a bad id rejects its
/// span); an item beyond the limit is not made, so it cannot fail.
pub(crate) fn try_keep_first<T, U, E>(
    items: impl IntoIterator<Item = T>,
    limit: usize,
    dropped: &mut u32,
    mut keep: impl FnMut(T) -> Result<U, E>,
) -> Result<Vec<U>, E> {
    let mut items = items.into_iter();
    let mut kept = Vec::with_capacity(items.size_hint().1.unwrap_or(limit).min(limit));
    for item in items.by_ref().take(limit) {
        kept.push(keep(item)?);
    }
    let beyond = u32::try_from(items.count()).unwrap_or(u32::MAX);
    *dropped = dropped.saturating_add(beyond);
    Ok(kept)
}

/// Whether [`convert_value`] would make a value of it.
fn holds_value(value: &AnyValue) -> bool {
    !matches!(value.value, None | Some(any_value::Value::StringValueStrindex(_)))
}

#[cfg(test)]
thread_local! {
    /// Values converted on this thread: the tests check the work per span by this count.
    static VALUES_CONVERTED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn convert_value(value: AnyValue) -> Option<AttrValue> {
    #[cfg(test)]
    VALUES_CONVERTED.with(|n| n.set(n.get() + 1));
    Some(match value.value? {
        any_value::Value::StringValue(s) => AttrValue::StringValue(bounded_string(s)),
        any_value::Value::BoolValue(b) => AttrValue::BoolValue(b),
        any_value::Value::IntValue(i) => AttrValue::IntValue(i),
        any_value::Value::DoubleValue(d) => AttrValue::DoubleValue(d),
        any_value::Value::BytesValue(mut b) => {
            if b.len() > MAX_ATTRIBUTE_VALUE_BYTES {
                b.truncate(MAX_ATTRIBUTE_VALUE_BYTES);
                b.shrink_to_fit();
            }
            AttrValue::BytesValue(b)
        }
        any_value::Value::ArrayValue(a) => {
            let mut values = Vec::with_capacity(a.values.len().min(MAX_VALUE_ELEMENTS));
            values.extend(a.values.into_iter().take(MAX_VALUE_ELEMENTS).filter_map(convert_value));
            AttrValue::ArrayValue(values)
        }
        any_value::Value::KvlistValue(kv) => {
            let mut entries = Vec::with_capacity(kv.values.len().min(MAX_VALUE_ELEMENTS));
            entries.extend(
                kv.values
                    .into_iter()
                    .take(MAX_VALUE_ELEMENTS)
                    .filter_map(|kv| Some(Attribute { key: bounded_string(kv.key), value: convert_value(kv.value?)? })),
            );
            AttrValue::KvlistValue(entries)
        }
        // Dictionary references only appear in the profiles signal.
        any_value::Value::StringValueStrindex(_) => return None,
    })
}

/// A scalar value as text, as [`AttrValue::as_text`] gives it, without converting (or
/// copying more than [`MAX_ATTRIBUTE_VALUE_BYTES`] of) the value.
fn scalar_text(value: &AnyValue) -> Option<String> {
    let scalar = match value.value.as_ref()? {
        any_value::Value::StringValue(s) => return s.get(..floor_char_boundary(s)).map(str::to_owned),
        any_value::Value::BoolValue(b) => AttrValue::BoolValue(*b),
        any_value::Value::IntValue(i) => AttrValue::IntValue(*i),
        any_value::Value::DoubleValue(d) => AttrValue::DoubleValue(*d),
        _ => return None,
    };
    scalar.as_text()
}

/// The longest prefix of `text` of at most [`MAX_ATTRIBUTE_VALUE_BYTES`] that ends at a
/// character boundary, as a byte length.
fn floor_char_boundary(text: &str) -> usize {
    if text.len() <= MAX_ATTRIBUTE_VALUE_BYTES {
        return text.len();
    }
    // A character is at most 4 bytes, so a boundary is at most 3 bytes back.
    (0..=MAX_ATTRIBUTE_VALUE_BYTES).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0)
}

/// `text` cut to at most [`MAX_ATTRIBUTE_VALUE_BYTES`] at a character boundary, its
/// allocation shrunk so the cut-off part is given back.
pub(crate) fn bounded_string(mut text: String) -> String {
    if text.len() > MAX_ATTRIBUTE_VALUE_BYTES {
        text.truncate(floor_char_boundary(&text));
        text.shrink_to_fit();
    }
    text
}

#[cfg(test)]
mod tests;
