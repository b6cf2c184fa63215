//! `eventlens import`: OTLP/JSON and kcat -J files become session files; bad lines are
//! reported with their numbers and the rest is imported; Jaeger and Zipkin spans keep the
//! OTLP receivers' per-span limits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use eventlens::export::journey::otlp_request;
use eventlens::ingest::import::import_text;
use eventlens::model::record::Record;
use eventlens::testing::{saga_spans, span_id, trace_id};

const BIN: &str = env!("CARGO_BIN_EXE_eventlens");

#[test]
fn the_published_otlp_example_trace_imports() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/otlp-example-trace.json")).unwrap();
    let imported = import_text(&text).unwrap();
    assert!(imported.bad.is_empty(), "{:?}", imported.bad);
    assert_eq!((imported.records.len(), imported.spans), (1, 1));
    let Record::Spans(batch) = &imported.records[0] else { panic!("spans") };
    assert_eq!(batch.spans[0].service().name, "my.service");
    assert_eq!(batch.spans[0].trace_id.to_hex(), "5b8efff798038103d269b633813fc60c");
    assert_eq!(batch.received_unix_nano, batch.spans[0].end_unix_nano);
}

fn kcat_line(offset: i64, key: &str, headers: &str) -> String {
    format!(
        r#"{{"topic":"orders","partition":0,"offset":{offset},"tstype":"create","ts":1700000001000,"broker":1,"headers":[{headers}],"key":"{key}","payload":"{{\"type\":\"OrderPlaced\"}}"}}"#
    )
}

fn mixed_file() -> String {
    let spans = saga_spans();
    let refs: Vec<_> = spans.iter().collect();
    let otlp = serde_json::to_string(&otlp_request(&refs)).unwrap();
    let traceparent = format!("\"traceparent\",\"00-{}-{}-01\"", trace_id(1), span_id(2));
    [
        otlp,
        kcat_line(7, "order-7", &traceparent),
        "this is not json".to_owned(),
        r#"{"hello":"world"}"#.to_owned(),
        kcat_line(8, "order-8", r#""only-a-name""#),
        kcat_line(9, "order-9", ""),
    ]
    .join("\n")
}

#[test]
fn mixed_lines_import_and_bad_ones_are_numbered() {
    let imported = import_text(&mixed_file()).unwrap();
    assert_eq!((imported.spans, imported.messages), (7, 2));
    let bad: Vec<(usize, &str)> = imported.bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
    assert_eq!(bad.len(), 3, "{bad:?}");
    assert!(bad[0].0 == 3 && bad[0].1.starts_with("not JSON"), "{bad:?}");
    assert!(bad[1].0 == 4 && bad[1].1.starts_with("not an OTLP export request"), "{bad:?}");
    assert!(bad[2].0 == 5 && bad[2].1.contains("alternate names and values"), "{bad:?}");
    let Record::Kafka(k) = &imported.records[1] else { panic!("a message") };
    assert_eq!(k.received_unix_nano, 1_700_000_001_000_000_000);
}

#[test]
fn import_writes_a_session_that_graphs_and_joins_messages_to_journeys() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("mixed.jsonl");
    std::fs::write(&input, mixed_file()).unwrap();
    let out = dir.path().join("imported.jsonl.zst");
    let run = Command::new(BIN).arg("import").arg(&input).arg("-o").arg(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("line 3 not imported: not JSON"), "{stderr}");
    assert!(stderr.contains("3 records (7 spans, 2 Kafka messages)"), "{stderr}");

    let graph = Command::new(BIN).arg("graph").arg(&out).output().unwrap();
    assert!(graph.status.success());
    let json: serde_json::Value = serde_json::from_slice(&graph.stdout).unwrap();
    assert_eq!(json["spans"], 7);

    // The message carrying the order's traceparent joined the order's journey; the other is
    // a journey of its own.
    let journeys =
        Command::new(BIN).arg("journeys").arg(&out).args(["--key", "order-9", "--format", "mermaid"]).output().unwrap();
    assert!(journeys.status.success(), "{}", String::from_utf8_lossy(&journeys.stderr));
    assert!(String::from_utf8_lossy(&journeys.stdout).contains("Note over p0: orders/0@9"));
    let order =
        Command::new(BIN).arg("journeys").arg(&out).args(["--key", "order-7", "--format", "mermaid"]).output().unwrap();
    let text = String::from_utf8_lossy(&order.stdout);
    assert!(text.contains("orders/0@7") && text.contains("failed: card declined"), "{text}");

    let nothing = dir.path().join("nothing.jsonl");
    std::fs::write(&nothing, "nope\n").unwrap();
    let run = Command::new(BIN).arg("import").arg(&nothing).arg("-o").arg(dir.path().join("x.jsonl")).output().unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("nothing in"));
}

/// Zipkin v2, as its documentation's example shows it: a Brave-instrumented producer and its
/// consumer (64-bit trace id, `kafka.topic` tags), one failing.
const ZIPKIN: &str = r#"[
  {"traceId":"5af7183fb1d4cf5f","id":"352bff9a74ca9ad2","name":"send","kind":"PRODUCER","timestamp":1700000000000000,"duration":2000,
   "localEndpoint":{"serviceName":"orders"},"tags":{"kafka.topic":"orders"}},
  {"traceId":"5af7183fb1d4cf5f","parentId":"352bff9a74ca9ad2","id":"6b221d5bc9e6496c","name":"poll","kind":"CONSUMER","timestamp":1700000000250000,"duration":15000,
   "localEndpoint":{"serviceName":"billing"},"tags":{"kafka.topic":"orders","error":"card declined"},
   "annotations":[{"timestamp":1700000000251000,"value":"retry"}]}
]"#;

#[test]
fn zipkin_v2_spans_import_with_their_topics() {
    let imported = import_text(ZIPKIN).unwrap();
    assert!(imported.bad.is_empty(), "{:?}", imported.bad);
    assert_eq!(imported.spans, 2);
    let Record::Spans(batch) = &imported.records[0] else { panic!("spans") };
    let consumer = &batch.spans[1];
    assert_eq!(consumer.trace_id.to_hex(), "00000000000000005af7183fb1d4cf5f");
    assert_eq!(consumer.parent_span_id.map(|p| p.to_hex()).as_deref(), Some("352bff9a74ca9ad2"));
    assert_eq!(consumer.service().name, "billing");
    assert_eq!(consumer.status_message, "card declined");
    assert_eq!(consumer.events[0].name, "retry");
    assert_eq!(consumer.duration_nanos(), 15_000_000);
    assert_eq!(consumer.messaging.as_ref().and_then(|m| m.destination.as_deref()), Some("orders"));

    let mut state = eventlens::engine::EngineState::default();
    state.apply_owned(imported.records.into_iter().next().unwrap());
    let snapshot = state.snapshot(0);
    let labels: Vec<&str> = snapshot.nodes.iter().map(|n| n.label.as_str()).collect();
    assert_eq!(labels, ["orders", "kafka/orders", "billing"]);
    assert_eq!(snapshot.journeys.iter().next().map(|j| (j.spans, j.hops, j.failures)), Some((2, 1, 1)));

    let bad = import_text(r#"[{"traceId":"xyz","id":"1","timestamp":1}]"#).unwrap();
    assert!(bad.bad.reported()[0].reason.contains("not valid hex"), "{:?}", bad.bad);
}

/// A Jaeger UI download in the shape Jaeger's documentation and API use: a producer and, in a
/// second trace, its consumer pointing back with FOLLOWS_FROM; the consumer failed.
const JAEGER: &str = r#"{"data":[
 {"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spans":[
   {"traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spanID":"00f067aa0ba902b7","operationName":"orders send","references":[],
    "startTime":1700000000000000,"duration":2000,"processID":"p1",
    "tags":[{"key":"span.kind","type":"string","value":"producer"},{"key":"messaging.system","type":"string","value":"kafka"},
            {"key":"messaging.destination.name","type":"string","value":"orders"},{"key":"messaging.operation.type","type":"string","value":"send"}],
    "logs":[]}],
  "processes":{"p1":{"serviceName":"orders","tags":[{"key":"host.name","type":"string","value":"node-7"}]}}},
 {"traceID":"a3ce929d0e0e47364bf92f3577b34da6","spans":[
   {"traceID":"a3ce929d0e0e47364bf92f3577b34da6","spanID":"b7ad6b7169203331","operationName":"orders process",
    "references":[{"refType":"FOLLOWS_FROM","traceID":"4bf92f3577b34da6a3ce929d0e0e4736","spanID":"00f067aa0ba902b7"}],
    "startTime":1700000000200000,"duration":5000,"processID":"p1",
    "tags":[{"key":"span.kind","type":"string","value":"consumer"},{"key":"messaging.system","type":"string","value":"kafka"},
            {"key":"messaging.destination.name","type":"string","value":"orders"},{"key":"messaging.operation.type","type":"string","value":"process"},
            {"key":"otel.status_code","type":"string","value":"ERROR"},{"key":"otel.status_description","type":"string","value":"card declined"},
            {"key":"retries","type":"int64","value":2}],
    "logs":[{"timestamp":1700000000201000,"fields":[{"key":"event","type":"string","value":"exception"},{"key":"exception.message","type":"string","value":"card declined"}]}]}],
  "processes":{"p1":{"serviceName":"billing","tags":[]}}}
]}"#;

#[test]
fn a_jaeger_download_imports_as_one_journey_across_its_traces() {
    let imported = import_text(JAEGER).unwrap();
    assert!(imported.bad.is_empty(), "{:?}", imported.bad);
    assert_eq!((imported.records.len(), imported.spans), (2, 2));
    let Record::Spans(consumer) = &imported.records[1] else { panic!("spans") };
    let c = &consumer.spans[0];
    assert_eq!(c.service().name, "billing");
    assert_eq!(c.links[0].target.span_id.to_hex(), "00f067aa0ba902b7");
    assert_eq!((c.status_message.as_str(), c.events[0].name.as_str()), ("card declined", "exception"));
    assert!(
        c.attributes.iter().any(|a| a.key == "retries" && a.value == eventlens::model::span::AttrValue::IntValue(2))
    );

    let mut state = eventlens::engine::EngineState::default();
    for record in imported.records {
        state.apply_owned(record);
    }
    let snapshot = state.snapshot(0);
    let labels: Vec<&str> = snapshot.nodes.iter().map(|n| n.label.as_str()).collect();
    assert_eq!(labels, ["orders", "kafka/orders", "billing"]);
    let journeys: Vec<_> = snapshot.journeys.iter().map(|j| (j.trace_ids.len(), j.hops, j.failures)).collect();
    assert_eq!(journeys, [(2, 1, 1)]);
}

#[test]
fn cloudevents_become_messages_with_binary_mode_headers() {
    use eventlens::model::kafka::KafkaEvent;
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/cloudevents.jsonl")).unwrap();
    let imported = import_text(&text).unwrap();
    let bad: Vec<(usize, &str)> = imported.bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
    assert_eq!(bad.len(), 2, "{bad:?}");
    assert!(bad[0].0 == 3 && bad[0].1.contains("`id` is missing"), "{bad:?}");
    assert!(bad[1].0 == 4 && bad[1].1.contains("not an RFC 3339 time"), "{bad:?}");
    assert_eq!(imported.messages, 3);
    let messages: Vec<_> = imported
        .records
        .iter()
        .map(|r| match r {
            Record::Kafka(k) => match &k.event {
                KafkaEvent::Messages(b) => (k.received_unix_nano, b.messages[0].clone()),
                _ => panic!("messages"),
            },
            Record::Spans(_) | Record::Nats(_) | Record::Rabbitmq(_) => panic!("messages"),
        })
        .collect();
    let (received, placed) = &messages[0];
    assert_eq!(*received, 1_522_949_460_000_000_000);
    assert_eq!((placed.topic.as_str(), placed.offset), ("shop/orders", 0));
    assert_eq!(placed.key.as_deref(), Some(&b"ord-1"[..]));
    assert_eq!(placed.payload.as_deref(), Some(&br#"{"order_id":"ord-1","total_cents":1250}"#[..]));
    let cloud = placed.links.cloud_event.as_ref().expect("read back as a CloudEvent");
    assert_eq!(
        (cloud.id.as_deref(), cloud.event_type.as_deref()),
        (Some("A234-1234-1234"), Some("com.example.order.placed"))
    );
    assert_eq!(
        placed.links.trace.as_ref().expect("traceparent joins the trace").trace_id.to_hex(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    let (_, thrift) = &messages[1];
    assert_eq!((thrift.topic.as_str(), thrift.payload.as_deref()), ("mycontext", Some(&b"hello thrift"[..])));
    assert!(thrift.headers.iter().any(|h| h.key == "ce_comexampleothervalue" && h.value.as_deref() == Some(&b"5"[..])));
    assert!(thrift.headers.iter().any(|h| h.key == "content-type"));
    // No `time`: the previous event's; offsets count per topic.
    let (received, shipped) = &messages[2];
    assert_eq!(*received, 1_522_949_461_000_000_000);
    assert_eq!((shipped.offset, shipped.payload.as_deref()), (1, Some(&b"shipped"[..])));
}

/// A Jaeger span carrying 1,000 of everything keeps what the OTLP receivers keep (128 tags,
/// logs and links, 128 fields per log) and counts the rest on the span, as the receivers do.
#[test]
fn a_jaeger_span_with_1000_tags_logs_and_references_keeps_128_of_each_and_counts_the_rest() {
    use serde_json::json;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let other = "a3ce929d0e0e47364bf92f3577b34da6";
    let mut tags = vec![
        json!({"key": "span.kind", "type": "string", "value": "consumer"}),
        json!({"key": "messaging.system", "type": "string", "value": "kafka"}),
        json!({"key": "messaging.destination.name", "type": "string", "value": "orders"}),
    ];
    tags.extend((0..997).map(|i| json!({"key": format!("tag.{i}"), "type": "int64", "value": i})));
    // The first 200 logs carry 150 fields each, the rest one.
    let logs: Vec<_> = (0..1_000)
        .map(|i| {
            let mut fields = vec![json!({"key": "event", "type": "string", "value": format!("log {i}")})];
            let extra = if i < 200 { 149 } else { 0 };
            fields.extend((0..extra).map(|f| json!({"key": format!("field.{f}"), "type": "int64", "value": f})));
            json!({"timestamp": 1_700_000_000_000_000_u64 + i, "fields": fields})
        })
        .collect();
    // The parent is the 501st reference; a bad id beyond the kept 128 links is not looked at.
    let references: Vec<_> = (0..1_000_u64)
        .map(|i| match i {
            500 => json!({"refType": "CHILD_OF", "traceID": trace, "spanID": "00f067aa0ba902b7"}),
            900 => json!({"refType": "FOLLOWS_FROM", "traceID": other, "spanID": "not hex"}),
            _ => json!({"refType": "FOLLOWS_FROM", "traceID": other, "spanID": format!("{:016x}", i + 1)}),
        })
        .collect();
    let process_tags: Vec<_> =
        (0..1_000).map(|i| json!({"key": format!("host.{i}"), "type": "string", "value": "node-7"})).collect();
    let document = json!({"data": [{"traceID": trace, "spans": [{
        "traceID": trace, "spanID": "b7ad6b7169203331", "operationName": "orders process",
        "references": references, "startTime": 1_700_000_000_000_000_u64, "duration": 5_000,
        "processID": "p1", "tags": tags, "logs": logs,
    }], "processes": {"p1": {"serviceName": "billing", "tags": process_tags}}}]});

    let imported = import_text(&document.to_string()).unwrap();
    assert!(imported.bad.is_empty(), "{:?}", imported.bad);
    let Record::Spans(batch) = &imported.records[0] else { panic!("spans") };
    let span = &batch.spans[0];
    assert_eq!((span.attributes.len(), span.events.len(), span.links.len()), (128, 128, 128));
    assert!(span.events.iter().all(|e| e.attributes.len() == 128));
    assert_eq!(span.parent_span_id.map(|p| p.to_hex()).as_deref(), Some("00f067aa0ba902b7"));
    // The first ones are kept, in order, and what the graph reads from them is still read.
    assert_eq!((span.attributes[3].key.as_str(), span.events[127].name.as_str()), ("tag.0", "log 127"));
    assert_eq!(span.links[127].target.span_id.to_hex(), format!("{:016x}", 127 + 1));
    assert_eq!(span.messaging.as_ref().and_then(|m| m.destination.as_deref()), Some("orders"));
    let log_fields = 128 * (150 - 128);
    assert_eq!(span.dropped_attributes_count, 1_000 - 128 + log_fields);
    assert_eq!(span.dropped_events_count, 1_000 - 128);
    assert_eq!(span.dropped_links_count, 999 - 128, "every reference but the parent is a link");
    assert_eq!(span.resource.attributes.len(), 128, "service.name and the first 127 process tags");
    // The counts go into the session file.
    let line = serde_json::to_string(&imported.records[0]).unwrap();
    assert!(line.contains(r#""dropped_links_count":871"#), "{}", &line[line.len() - 200..]);
}

/// A Zipkin span with 1,000 tags and 1,000 annotations keeps 128 attributes (the first 126
/// tags by key and the two its `kafka.topic` tag makes) and 128 events, and counts the rest.
#[test]
fn a_zipkin_span_with_1000_tags_and_annotations_keeps_128_of_each_and_counts_the_rest() {
    use serde_json::json;
    let mut tags: serde_json::Map<String, serde_json::Value> =
        (0..999).map(|i| (format!("a.{i:04}"), json!(i.to_string()))).collect();
    // Sorts after the kept tags: dropped as an attribute, still read for the topic.
    tags.insert("kafka.topic".into(), json!("orders"));
    let annotations: Vec<_> = (0..1_000_u64)
        .map(|i| json!({"timestamp": 1_700_000_000_000_000_u64 + i, "value": format!("note {i}")}))
        .collect();
    let spans = json!([{
        "traceId": "5af7183fb1d4cf5f", "id": "6b221d5bc9e6496c", "name": "poll", "kind": "CONSUMER",
        "timestamp": 1_700_000_000_250_000_u64, "duration": 15_000,
        "localEndpoint": {"serviceName": "billing"}, "tags": tags, "annotations": annotations,
    }]);

    let imported = import_text(&spans.to_string()).unwrap();
    assert!(imported.bad.is_empty(), "{:?}", imported.bad);
    let Record::Spans(batch) = &imported.records[0] else { panic!("spans") };
    let span = &batch.spans[0];
    assert_eq!((span.attributes.len(), span.events.len()), (128, 128));
    assert_eq!(
        (span.attributes[125].key.as_str(), span.attributes[127].key.as_str()),
        ("a.0125", "messaging.destination.name")
    );
    assert_eq!(span.events[127].name, "note 127");
    assert_eq!(span.messaging.as_ref().and_then(|m| m.destination.as_deref()), Some("orders"));
    assert_eq!(span.dropped_attributes_count, 1_000 - 126);
    assert_eq!(span.dropped_events_count, 1_000 - 128);
    assert_eq!(span.dropped_links_count, 0);
}

/// A span's dropped counts survive an OTLP/JSON export of spans (`otlp_request`, under
/// `journeys --format json` and Copy as OTLP JSON) under OTLP's field names, and come back
/// when the export is imported.
#[test]
fn dropped_counts_survive_an_otlp_json_export_and_its_import() {
    let mut spans = saga_spans();
    (spans[1].dropped_attributes_count, spans[1].dropped_events_count, spans[1].dropped_links_count) = (320, 872, 99);
    let refs: Vec<_> = spans.iter().collect();
    let json = serde_json::to_value(otlp_request(&refs)).unwrap();
    let exported: Vec<&serde_json::Value> = json["resourceSpans"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["scopeSpans"].as_array().unwrap())
        .flat_map(|s| s["spans"].as_array().unwrap())
        .collect();
    let id = spans[1].span_id;
    let dropped = exported
        .iter()
        .find(|s| s["spanId"] == serde_json::Value::String(id.to_hex()))
        .unwrap_or_else(|| panic!("span {} in {json}", id.to_hex()));
    assert_eq!(
        (&dropped["droppedAttributesCount"], &dropped["droppedEventsCount"], &dropped["droppedLinksCount"]),
        (&serde_json::json!(320), &serde_json::json!(872), &serde_json::json!(99)),
        "{dropped}"
    );

    let imported = import_text(&json.to_string()).unwrap();
    let Record::Spans(batch) = &imported.records[0] else { panic!("spans") };
    let back = batch.spans.iter().find(|s| s.span_id == id).unwrap();
    assert_eq!((back.dropped_attributes_count, back.dropped_events_count, back.dropped_links_count), (320, 872, 99));
    assert!(batch.spans.iter().filter(|s| s.span_id != id).all(|s| s.dropped_attributes_count == 0));
}
