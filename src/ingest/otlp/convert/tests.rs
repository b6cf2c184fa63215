//! The per-span limits: what is kept, what is counted, and that the work is the kept part's.

use opentelemetry_proto::tonic::common::v1::{ArrayValue, KeyValueList};
use opentelemetry_proto::tonic::resource::v1::Resource as OtlpResource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans};

use super::*;

fn value(value: any_value::Value) -> Option<AnyValue> {
    Some(AnyValue { value: Some(value) })
}

fn int(key: impl Into<String>, i: i64) -> KeyValue {
    KeyValue { key: key.into(), value: value(any_value::Value::IntValue(i)), ..Default::default() }
}

fn text(key: impl Into<String>, s: impl Into<String>) -> KeyValue {
    KeyValue { key: key.into(), value: value(any_value::Value::StringValue(s.into())), ..Default::default() }
}

fn ints(prefix: &str, n: usize) -> Vec<KeyValue> {
    (0..n).map(|i| int(format!("{prefix}.{i}"), i as i64)).collect()
}

fn link(n: u64, attributes: usize) -> otlp::span::Link {
    otlp::span::Link {
        trace_id: (u128::from(n) + 1).to_be_bytes().to_vec(),
        span_id: (n + 1).to_be_bytes().to_vec(),
        attributes: ints("link", attributes),
        dropped_attributes_count: 1,
        ..Default::default()
    }
}

fn event(n: u64, attributes: usize) -> otlp::span::Event {
    otlp::span::Event {
        name: format!("event {n}"),
        time_unix_nano: n,
        attributes: ints("event", attributes),
        dropped_attributes_count: 1,
    }
}

fn otlp_span() -> otlp::Span {
    otlp::Span {
        trace_id: 7u128.to_be_bytes().to_vec(),
        span_id: 9u64.to_be_bytes().to_vec(),
        name: "orders process".into(),
        kind: 5,
        start_time_unix_nano: 1,
        end_time_unix_nano: 2,
        ..Default::default()
    }
}

fn request(resource: Vec<KeyValue>, spans: Vec<otlp::Span>) -> ExportTraceServiceRequest {
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(OtlpResource { attributes: resource, ..Default::default() }),
            scope_spans: vec![ScopeSpans { spans, ..Default::default() }],
            ..Default::default()
        }],
    }
}

fn convert_one(span: otlp::Span) -> Span {
    let mut converted = convert_request(request(vec![text("service.name", "payments")], vec![span]));
    assert_eq!(converted.rejected, 0, "{:?}", converted.first_error);
    converted.spans.pop().expect("one span")
}

fn values_converted() -> u64 {
    VALUES_CONVERTED.with(std::cell::Cell::get)
}

#[test]
fn a_span_with_100000_links_and_320000_attributes_keeps_128_of_each_and_counts_the_rest() {
    let mut span = otlp_span();
    span.attributes = ints("attr", 320_000);
    span.attributes.insert(0, text("messaging.system", "kafka"));
    span.attributes.insert(1, text("messaging.destination.name", "orders"));
    // The first 200 links carry 200 attributes each; the rest carry none.
    span.links = (0..100_000).map(|n| link(n, if n < 200 { 200 } else { 0 })).collect();
    span.events = (0..1_000).map(|n| event(n, 150)).collect();
    // What the sender's SDK had already dropped.
    (span.dropped_attributes_count, span.dropped_events_count, span.dropped_links_count) = (5, 6, 7);

    let span = convert_one(span);

    assert_eq!((span.attributes.len(), span.links.len(), span.events.len()), (128, 128, 128));
    assert!(span.links.iter().all(|l| l.attributes.len() == MAX_LINK_ATTRIBUTES));
    assert!(span.events.iter().all(|e| e.attributes.len() == MAX_EVENT_ATTRIBUTES));
    // The first ones are kept, in order, and what the graph reads from them is still read.
    assert_eq!(span.attributes[2].key, "attr.0");
    assert_eq!(span.links[127].target.span_id, SpanId(128u64.to_be_bytes()));
    assert_eq!(span.events[127].name, "event 127");
    assert!(span.messaging.is_some());

    let span_attributes = 320_002 - 128;
    let link_attributes = 128 * (200 - 128 + 1);
    let event_attributes = 128 * (150 - 128 + 1);
    assert_eq!(span.dropped_attributes_count, 5 + span_attributes + link_attributes + event_attributes);
    assert_eq!(span.dropped_events_count, 6 + 1_000 - 128);
    assert_eq!(span.dropped_links_count, 7 + 100_000 - 128);
    // Lists are built to their kept size, never left holding the request's capacity.
    assert!(span.attributes.capacity() <= MAX_SPAN_ATTRIBUTES);
    assert!(span.links.capacity() <= MAX_SPAN_LINKS);
}

#[test]
fn only_kept_values_are_converted_whatever_a_span_carries() {
    // Linear: the attributes beyond the limits are counted, never converted, so a span costs
    // what it keeps (at most 128 + 128 x 128 x 2 values) plus one step per dropped item.
    let cost = |attributes: usize, links: usize, events: usize| {
        let mut span = otlp_span();
        span.attributes = ints("attr", attributes);
        span.links = (0..links as u64).map(|n| link(n, 3)).collect();
        span.events = (0..events as u64).map(|n| event(n, 3)).collect();
        let before = values_converted();
        let span = convert_one(span);
        (values_converted() - before, span.dropped_attributes_count, span.dropped_links_count)
    };
    // Each count starts with the resource's service.name.
    let (small, _, _) = cost(100, 100, 100);
    assert_eq!(small, 1 + 100 + 100 * 3 + 100 * 3);
    let (large, dropped_attributes, dropped_links) = cost(320_000, 100_000, 10_000);
    assert_eq!(large, 1 + 128 + 128 * 3 + 128 * 3, "values converted for a span thousands of times larger");
    assert_eq!(dropped_attributes, 320_000 - 128 + 2 * 128);
    assert_eq!(dropped_links, 100_000 - 128);
}

#[test]
fn a_bad_id_in_a_dropped_link_is_not_looked_at_but_one_in_a_kept_link_rejects_the_span() {
    let mut span = otlp_span();
    span.links = (0..200).map(|n| link(n, 0)).collect();
    span.links[150].span_id = vec![1, 2, 3];
    assert_eq!(convert_one(span.clone()).dropped_links_count, 200 - 128);

    span.links[100].trace_id = vec![1];
    let converted = convert_request(request(Vec::new(), vec![span]));
    assert_eq!(converted.rejected, 1);
    assert!(
        converted.rejection_message().contains("link trace id must be 16 bytes"),
        "{}",
        converted.rejection_message()
    );
}

#[test]
fn long_values_are_cut_at_a_character_boundary_and_give_their_memory_back() {
    let mut span = otlp_span();
    // 3 bytes a character: 64 KiB is not a boundary.
    let long = "€".repeat(400_000);
    span.attributes = vec![
        text("long", long.clone()),
        text(long.clone(), "key too long"),
        KeyValue {
            key: "bytes".into(),
            value: value(any_value::Value::BytesValue(vec![7; 1 << 20])),
            ..Default::default()
        },
        KeyValue {
            key: "array".into(),
            value: value(any_value::Value::ArrayValue(ArrayValue {
                values: (0..100_000).map(|i| AnyValue { value: Some(any_value::Value::IntValue(i)) }).collect(),
            })),
            ..Default::default()
        },
        KeyValue {
            key: "kvlist".into(),
            value: value(any_value::Value::KvlistValue(KeyValueList { values: ints("entry", 100_000) })),
            ..Default::default()
        },
    ];
    span.name = long.clone();
    let span = convert_one(span);

    let AttrValue::StringValue(cut) = &span.attributes[0].value else { panic!("a string") };
    assert_eq!(cut.len(), MAX_ATTRIBUTE_VALUE_BYTES - MAX_ATTRIBUTE_VALUE_BYTES % 3);
    assert!(cut.capacity() <= MAX_ATTRIBUTE_VALUE_BYTES);
    assert!(long.starts_with(cut.as_str()));
    assert_eq!(span.attributes[1].key.len(), cut.len());
    assert_eq!(span.name.len(), cut.len());
    assert!(matches!(&span.attributes[2].value, AttrValue::BytesValue(b) if b.len() == MAX_ATTRIBUTE_VALUE_BYTES));
    assert!(matches!(&span.attributes[3].value, AttrValue::ArrayValue(a) if a.len() == MAX_VALUE_ELEMENTS));
    assert!(matches!(&span.attributes[4].value, AttrValue::KvlistValue(a) if a.len() == MAX_VALUE_ELEMENTS));
    // Cut, not dropped: nothing is counted.
    assert_eq!(span.dropped_attributes_count, 0);
}

#[test]
fn attributes_without_a_value_are_neither_kept_nor_counted() {
    let empty = |key: &str| KeyValue { key: key.into(), value: None, ..Default::default() };
    let mut span = otlp_span();
    span.attributes = ints("attr", 128);
    span.attributes.insert(3, empty("before the limit"));
    span.attributes.push(empty("beyond the limit"));
    span.attributes.push(int("beyond", 1));
    let span = convert_one(span);
    assert_eq!((span.attributes.len(), span.dropped_attributes_count), (128, 1));
}

#[test]
fn a_long_resource_keeps_its_service_and_128_attributes_and_counts_the_rest() {
    let mut resource = ints("host.label", 300);
    resource.push(text("service.namespace", "shop"));
    resource.push(text("service.name", "payments"));
    let converted = convert_request(request(resource, vec![otlp_span(), otlp_span()]));
    let span = &converted.spans[0];
    assert_eq!(span.service().to_string(), "shop/payments");
    assert_eq!(span.resource.attributes.len(), MAX_RESOURCE_ATTRIBUTES);
    assert_eq!(converted.dropped_resource_attributes, 302 - 128);
    // The spans' own counts are theirs alone.
    assert_eq!(span.dropped_attributes_count, 0);
}

#[test]
fn dropped_counts_survive_a_recording_and_files_without_them_read_as_zero() {
    let mut span = otlp_span();
    span.attributes = ints("attr", 130);
    span.dropped_links_count = 3;
    let span = convert_one(span);
    let json = serde_json::to_value(&span).expect("written");
    assert_eq!(json["dropped_attributes_count"], 2);
    assert_eq!(json["dropped_links_count"], 3);
    assert!(json.get("dropped_events_count").is_none(), "zero is not written: {json}");
    let mut read: Span = serde_json::from_value(json.clone()).expect("read back");
    read.derive_messaging();
    assert_eq!(read, span);

    let mut old = json;
    for key in ["dropped_attributes_count", "dropped_links_count"] {
        old.as_object_mut().expect("an object").remove(key);
    }
    let old: Span = serde_json::from_value(old).expect("an older file's span");
    assert_eq!((old.dropped_attributes_count, old.dropped_events_count, old.dropped_links_count), (0, 0, 0));
}
