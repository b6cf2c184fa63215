//! The fuzz targets' bodies: each takes arbitrary bytes, runs them through one of EventLens's
//! decoders the way the program does, and panics only when the program would misbehave (a
//! panic inside EventLens, or a record it would write and then refuse to read back).
//!
//! Shared by the libFuzzer targets (`fuzz/fuzz_targets/*.rs`, nightly) and the replay test
//! (`tests/fuzz_corpora.rs`, stable `cargo test`, which includes this file as a module), so
//! every corpus input and regression runs through exactly what the fuzzer ran. Only crates
//! the main crate already depends on are used here, for the same reason.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use eventlens::capture::{CaptureItem, CaptureReader};
use eventlens::ingest::import::{cloudevents, jaeger, kcat, otlp_json, stream, zipkin};
use eventlens::ingest::otlp::convert::{
    ConvertedSpans, MAX_EVENT_ATTRIBUTES, MAX_LINK_ATTRIBUTES, MAX_SPAN_ATTRIBUTES, MAX_SPAN_EVENTS, MAX_SPAN_LINKS,
    convert_request,
};
use eventlens::model::findings::{FindingsModel, FindingsSettings, json_scan};
use eventlens::model::kafka::message::{
    KafkaMessage, MessageFilter, MessageHeader, is_dead_letter_topic, parse_traceparent,
};
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::model::span::Span;
use eventlens::ui::payload_view::{MessageIdentity, RenderedPayload, ShownPayload, hex_dump, view_payload};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message as _;

/// A target's body.
pub type Target = fn(&[u8]);

/// The targets, by name: what `tests/fuzz_corpora.rs` replays each folder of
/// `tests/data/fuzz/` through.
pub const TARGETS: &[(&str, Target)] = &[
    ("otlp_protobuf", otlp_protobuf),
    ("otlp_json", otlp_json),
    ("session_reader", session_reader),
    ("import", import),
    ("payload_view", payload_view),
    ("headers", headers),
    ("findings_payload", findings_payload),
];

/// An OTLP/protobuf `ExportTraceServiceRequest` as the gRPC and HTTP receivers and the
/// Kafka OTLP topic reader decode it, converted to spans.
pub fn otlp_protobuf(data: &[u8]) {
    if let Ok(request) = ExportTraceServiceRequest::decode(data) {
        check_converted(convert_request(request));
    }
}

/// An OTLP/JSON `ExportTraceServiceRequest` as the HTTP receiver, the Kafka OTLP topic
/// reader and `import` decode it, converted to spans.
pub fn otlp_json(data: &[u8]) {
    if let Ok(request) = serde_json::from_slice::<ExportTraceServiceRequest>(data) {
        check_converted(convert_request(request));
    }
}

/// The conversion keeps its limits, and the spans it accepts can be recorded and read back.
fn check_converted(converted: ConvertedSpans) {
    check_limits(&converted.spans);
    let _message = converted.rejection_message();
    if !converted.spans.is_empty() {
        let mut record =
            Record::Spans(SpanBatch { received_unix_nano: 1, source: SourceKind::OtlpHttp, spans: converted.spans });
        record.derive();
        round_trip(&record);
    }
}

/// A record as the session writer writes it (one JSON line) must read back as a record:
/// otherwise a recording silently loses it.
fn round_trip(record: &Record) {
    let line = match serde_json::to_string(record) {
        Ok(line) => line,
        Err(e) => panic!("a record does not serialize: {e}"),
    };
    if let Err(e) = serde_json::from_str::<Record>(&line) {
        panic!("a record written as {} bytes does not read back: {e}", line.len());
    }
}

/// A session file (`eventlens open`, `graph`, `journeys`, `findings`, `slice`) holding these
/// bytes, and another holding them compressed with zstd: every item is read to the end (the
/// bytes may themselves start with a zstd frame, so broken frames are covered too).
pub fn session_reader(data: &[u8]) {
    let path = scratch_file();
    read_session(&path, data);
    if let Ok(compressed) = zstd::encode_all(data, 1) {
        read_session(&path, &compressed);
    }
}

fn read_session(path: &Path, bytes: &[u8]) {
    let written = std::fs::File::create(path).and_then(|mut file| file.write_all(bytes));
    if let Err(e) = written {
        panic!("cannot write the scratch file {}: {e}", path.display());
    }
    let Ok(mut reader) = CaptureReader::open(path) else { return };
    let _header = reader.header();
    while let Ok(Some(item)) = reader.next_item() {
        let _progress = reader.progress();
        if let CaptureItem::Record(record) = item {
            round_trip(&record);
        }
    }
}

/// A file of this process and thread to hand the session reader (it reads paths only), in
/// memory where there is a `/dev/shm`.
fn scratch_file() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let dir = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
    dir.join(format!("eventlens-fuzz-{}-{:?}.session", std::process::id(), std::thread::current().id()))
}

/// Every span keeps within the per-span limits, whichever decoder made it.
fn check_limits(spans: &[Span]) {
    for span in spans {
        assert!(span.attributes.len() <= MAX_SPAN_ATTRIBUTES, "{} span attributes kept", span.attributes.len());
        assert!(span.events.len() <= MAX_SPAN_EVENTS, "{} events kept", span.events.len());
        assert!(span.links.len() <= MAX_SPAN_LINKS, "{} links kept", span.links.len());
        for event in &span.events {
            assert!(event.attributes.len() <= MAX_EVENT_ATTRIBUTES, "{} event attributes", event.attributes.len());
        }
        for link in &span.links {
            assert!(link.attributes.len() <= MAX_LINK_ATTRIBUTES, "{} link attributes", link.attributes.len());
        }
    }
}

/// Removes this thread's scratch file, if [`session_reader`] made one.
pub fn remove_scratch_file() {
    let _gone = std::fs::remove_file(scratch_file());
}

/// `eventlens import` over these bytes (the shape detection, JSON Lines or one document, the
/// time rule), then each format's decoder on the bytes as one JSON value, whatever its shape:
/// kcat, Jaeger, Zipkin, OTLP/JSON, CloudEvents.
pub fn import(data: &[u8]) {
    let imported = stream::import_reader(data, Path::new("(fuzz)"), &mut |record| {
        if let Record::Spans(batch) = &record {
            check_limits(&batch.spans);
        }
        round_trip(&record);
        Ok(())
    });
    if let Ok(summary) = imported {
        let _reported = summary.bad.reported().len();
    }
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let records = [
        kcat::record(&value).ok(),
        jaeger::records(value.clone()).ok().and_then(|(records, _)| records.into_iter().next()),
        zipkin::record(value.clone()).ok().map(|(record, _)| record),
        otlp_json::record(value.clone()).ok().map(|(record, _)| record),
        cloudevents::CloudEventReader::default().record(&value).ok(),
    ];
    for record in records.iter().flatten() {
        if let Record::Spans(batch) = record {
            check_limits(&batch.spans);
        }
        round_trip(record);
    }
}

/// The message browser's payload panel: the JSON / text / hex choice and the hex dump of the
/// whole input, then the panel drawn in a headless egui frame (wrapped to a width the first
/// byte picks, scrolled as far as the second byte says). The panel renders a payload above
/// 4 KiB on a thread of its own, with the same function; the frame is drawn with the first
/// 4 KiB, which it renders on the frame, so each run stays one thread.
pub fn payload_view(data: &[u8]) {
    let _view = view_payload(data);
    let _dump = hex_dump(data);
    let rendered = RenderedPayload::of(Some(data));
    let _kind = (rendered.kind, rendered.text.len());
    let on_frame = &data[..data.len().min(ON_FRAME_BYTES)];
    let width = 8.0 + f32::from(data.first().copied().unwrap_or(0)) * 4.0;
    let scroll = f32::from(data.get(1).copied().unwrap_or(0)) * 50.0;
    let input = egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(width, 600.0))),
        ..Default::default()
    };
    EGUI.with(|ctx| {
        let identity = MessageIdentity { browse: 1, topic: "t".into(), partition: 0, offset: 0, payload: None };
        let mut shown = ShownPayload::render(identity, Some(on_frame), ctx);
        // No painter takes the frame's textures, so they are dropped on purpose.
        ctx.run_ui(input, |ui| {
            egui::ScrollArea::vertical().vertical_scroll_offset(scroll).show(ui, |ui| shown.show(ui));
        })
        .drop_without_applying_deltas();
    });
}

/// The largest payload the panel renders on the frame (`RENDER_ON_FRAME_BYTES`).
const ON_FRAME_BYTES: usize = 4 * 1024;

thread_local! {
    /// One egui context for every frame, as the window keeps one (its fonts load once).
    static EGUI: egui::Context = egui::Context::default();
}

/// A Kafka message's headers (one per line, `name`, or `name` NUL `value`) and payload (what
/// follows the first empty line) through what reads them: `traceparent`, CloudEvents in
/// both modes, the dead-letter families (Kafka Connect, Kafka Streams, Spring with its binary
/// partition and offset), the dead-letter topic names, and the message search.
pub fn headers(data: &[u8]) {
    let (head, payload) = match data.windows(2).position(|w| w == b"\n\n") {
        Some(at) => (&data[..at], Some(data[at + 2..].to_vec())),
        None => (data, None),
    };
    let headers: Vec<MessageHeader> = head
        .split(|&b| b == b'\n')
        .map(|line| match line.iter().position(|&b| b == 0) {
            Some(at) => MessageHeader {
                key: String::from_utf8_lossy(&line[..at]).into_owned(),
                value: Some(line[at + 1..].to_vec()),
            },
            None => MessageHeader { key: String::from_utf8_lossy(line).into_owned(), value: None },
        })
        .collect();
    for header in &headers {
        let _topic = is_dead_letter_topic(&header.key);
        if let Some(text) = header.value.as_deref().and_then(|v| std::str::from_utf8(v).ok()) {
            let _span = parse_traceparent(text);
            let _topic = is_dead_letter_topic(text);
        }
    }
    let mut message = KafkaMessage {
        topic: "orders.DLT".into(),
        partition: 0,
        offset: 0,
        timestamp_ms: None,
        timestamp_type: Default::default(),
        key: headers.first().and_then(|h| h.value.clone()),
        size: payload.as_ref().map_or(0, Vec::len),
        headers,
        payload,
        links: Default::default(),
    };
    message.derive_links();
    if let Some(origin) = &message.links.dead_letter {
        let _family = origin.family.as_str();
    }
    let text = |at: usize| message.headers.get(at).and_then(|h| h.value.as_deref()).map(String::from_utf8_lossy);
    let filter = MessageFilter {
        key: text(0).map(|t| t.into_owned()),
        header: message.headers.get(1).map(|h| (h.key.clone(), text(1).map(|t| t.into_owned()))),
        payload: text(2).map(|t| t.into_owned()),
        json_field: message.headers.get(3).map(|h| (h.key.clone(), text(3).unwrap_or_default().into_owned())),
        trace_id: text(4).map(|t| t.into_owned()),
    };
    let _matches = filter.matches(&message);
    let mut record = Record::Kafka(eventlens::model::kafka::KafkaRecord {
        received_unix_nano: 1,
        cluster: "fuzz".into(),
        event: eventlens::model::kafka::KafkaEvent::Messages(eventlens::model::kafka::MessageBatch {
            browse: 0,
            topic: message.topic.clone(),
            messages: vec![message],
            progress: None,
        }),
    });
    record.derive();
    round_trip(&record);
}

/// A Kafka message's payload as the findings detectors and journeys read it: the one-pass
/// scan (`findings::json_scan`) and the journeys' event-type read (`model::json_field`) agree
/// with a parser that builds the value on what is a JSON object, and the payload goes through
/// every detector as messages of two keys, in and out of order, so the shape, ordering,
/// duplicate and poison paths all see it.
pub fn findings_payload(data: &[u8]) {
    // The journeys' one-field read and the findings' scan accept exactly what reading the
    // whole payload as a `Value` accepts, except that serde_json stops at 128 levels of
    // nesting and they do not.
    let parsed = (data.first() == Some(&b'{')).then(|| serde_json::from_slice::<serde_json::Value>(data));
    let too_deep = matches!(&parsed, Some(Err(e)) if e.to_string().contains("recursion limit"));
    let value = parsed.and_then(Result::ok).filter(serde_json::Value::is_object);
    let scanned = json_scan::scan(data, &["type", "seq", "version", "time", "eventId"]);
    if !too_deep {
        let by_value = value.as_ref().and_then(|v| v.get("type")?.as_str().map(str::to_owned));
        assert_eq!(eventlens::model::json_field::top_level_text(data, "type").map(|t| t.into_owned()), by_value);
        assert_eq!(scanned.is_some(), value.is_some(), "the scan and serde_json disagree");
    }
    if let (Some(scanned), Some(value)) = (&scanned, &value) {
        for (index, field) in ["type", "seq", "version", "time", "eventId"].into_iter().enumerate() {
            let expected = value.get(field).map(|v| match v {
                serde_json::Value::String(s) => json_scan::Scalar::Text(s.clone().into()),
                serde_json::Value::Number(n) => json_scan::Scalar::Number(n.clone()),
                serde_json::Value::Bool(b) => json_scan::Scalar::Bool(*b),
                _ => json_scan::Scalar::Other,
            });
            assert_eq!(scanned.field(index), expected.as_ref(), "field {field}");
        }
    }
    let settings = FindingsSettings { dedup_field: Some("eventId".into()), ..FindingsSettings::default() };
    let mut model = FindingsModel::new(settings);
    for (offset, key) in [(0, "a"), (2, "b"), (1, "a"), (1, "a"), (3, "b")].into_iter().cycle().take(15) {
        let mut message = KafkaMessage {
            topic: "orders".into(),
            partition: 0,
            offset,
            timestamp_ms: Some(offset),
            timestamp_type: Default::default(),
            key: Some(key.as_bytes().to_vec()),
            headers: Vec::new(),
            payload: Some(data.to_vec()),
            size: data.len(),
            links: Default::default(),
        };
        message.derive_links();
        model.apply_message(&message, u64::try_from(offset).unwrap_or(0));
    }
    let _findings = model.view().findings.len();
}
