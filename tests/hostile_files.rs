//! Files from strangers (issue 15): receive times anywhere in `u64`, lines without end, lines
//! that are not UTF-8, millions of bad lines, doubles JSON cannot hold. Each must load what
//! it can, say what it skipped, and stay bounded. The assertions are on lengths and counts,
//! never on timings or memory use.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::io::Write as _;
use std::path::Path;
use std::process::Command;

use eventlens::capture::{CaptureItem, CaptureReader, CaptureWriter, MAX_LINE_BYTES, read_capture, replay_records};
use eventlens::collector::{Collector, CollectorConfig};
use eventlens::engine::playback::{MAX_DENSITY_SECONDS, OPEN_TIMELINE_SPANS, TIMELINE_BINS};
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::model::span::{AttrValue, Attribute, find_attr};
use eventlens::testing::producer;

const BIN: &str = env!("CARGO_BIN_EXE_eventlens");
const SECOND: u64 = 1_000_000_000;
const NOW: u64 = 1_763_817_600 * SECOND;
const YEAR_2200: u64 = 7_258_118_400 * SECOND;

/// A fixed-seed linear congruential generator (Knuth's MMIX constants): the same "random"
/// times on every run, without a dependency.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 11
    }
}

fn one_span(at: u64, id: u64) -> Record {
    let mut span = producer("checkout", "kafka", "orders", u128::from(id), id);
    span.start_unix_nano = at;
    span.end_unix_nano = at.saturating_add(1_000_000);
    Record::Spans(SpanBatch { received_unix_nano: at, source: SourceKind::OtlpGrpc, spans: vec![span] })
}

fn session(path: &Path, records: impl IntoIterator<Item = Record>) {
    let mut writer = CaptureWriter::create(path, NOW).unwrap();
    for record in records {
        writer.append(&record).unwrap();
    }
    writer.finish().unwrap();
}

#[test]
fn a_session_of_wild_receive_times_opens_with_a_bounded_timeline() {
    const RECORDS: u64 = 100_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wild.jsonl.zst");
    let mut rng = Lcg(15);
    session(
        &path,
        (0..RECORDS).map(|i| {
            let r = rng.next();
            // Then, whatever the seed: no time, today, the year 2200, and back to today.
            let first = [0, NOW, YEAR_2200, NOW].get(i as usize).copied();
            let at = first.unwrap_or(match r % 6 {
                0 => 0,
                1 => YEAR_2200 + r % (1_000 * SECOND),
                2 => NOW - (r % 1_000_000) * SECOND,
                3 => NOW + i * 1_000_000,
                4 => u64::MAX - r % SECOND,
                _ => r,
            });
            one_span(at, i + 1)
        }),
    );
    // As `eventlens open` starts it.
    let collector = Collector::start(
        CollectorConfig {
            open: Some(path.clone()),
            timeline_spans: Some(OPEN_TIMELINE_SPANS),
            publish_interval: Some(std::time::Duration::from_millis(50)),
            ..CollectorConfig::default()
        },
        None,
    )
    .unwrap();
    assert_eq!(common::file_read(&collector), format!("{RECORDS} records read"));
    let s = common::wait_for(&collector, "every span applied", |s| s.model.spans == RECORDS);
    let timeline = &s.timeline;
    assert!(timeline.enabled);
    assert!(timeline.bins.len() <= TIMELINE_BINS, "{}", timeline.bins.len());
    assert!(timeline.end_unix_nano - timeline.start_unix_nano <= MAX_DENSITY_SECONDS * SECOND);
    assert_eq!(timeline.dropped_records, 0, "every record is kept");
    let counted: u64 = timeline.bins.iter().map(|b| u64::from(b.records)).sum();
    assert_eq!(counted, RECORDS, "every record is counted in some bin");
}

#[test]
fn lines_that_are_too_long_or_not_utf8_are_skipped_and_numbered() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.jsonl");
    session(&path, [one_span(NOW, 1), one_span(NOW + SECOND, 2)]);
    let mut file = std::fs::OpenOptions::new().append(true).open(&path).unwrap();
    // Line 4: a record with an invalid UTF-8 byte in a string; line 5: one line longer than
    // the limit; line 6: a good record again.
    let good = serde_json::to_string(&one_span(NOW + 2 * SECOND, 3)).unwrap();
    let mut not_utf8 = good.clone().into_bytes();
    not_utf8[good.find("checkout").unwrap() + 5] = 0xff;
    file.write_all(&not_utf8).unwrap();
    file.write_all(b"\n").unwrap();
    file.write_all(&vec![b'x'; MAX_LINE_BYTES + 10]).unwrap();
    file.write_all(b"\n").unwrap();
    file.write_all(good.as_bytes()).unwrap();
    file.write_all(b"\n").unwrap();
    drop(file);

    let mut records = 0;
    let skipped = replay_records(&path, |_| records += 1).unwrap();
    assert_eq!((records, skipped.total()), (3, 2));
    let lines: Vec<_> = skipped.iter().map(|s| (s.line, s.reason.as_str())).collect();
    assert!(lines[0].0 == 4 && lines[0].1.starts_with("not UTF-8"), "{lines:?}");
    assert!(lines[1].0 == 5 && lines[1].1.starts_with("longer than 16 MiB"), "{lines:?}");

    // `eventlens graph` says the same, and graphs the rest.
    let graph = Command::new(BIN).arg("graph").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&graph.stderr);
    assert!(graph.status.success(), "{stderr}");
    assert!(stderr.contains("line 4 skipped: not UTF-8") && stderr.contains("line 5 skipped: longer than"), "{stderr}");
    let json: serde_json::Value = serde_json::from_slice(&graph.stdout).unwrap();
    assert_eq!(json["spans"], 3);
}

#[test]
fn a_compressed_line_without_end_is_skipped_and_reading_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.jsonl.zst");
    let mut writer = CaptureWriter::create(&path, NOW).unwrap();
    writer.append(&one_span(NOW, 1)).unwrap();
    writer.finish().unwrap();
    // A second frame: 64 MiB of one byte (a few kilobytes compressed), then a good line.
    let mut encoder = zstd::stream::write::Encoder::new(Vec::new(), 1).unwrap();
    let chunk = vec![b'a'; 1 << 20];
    for _ in 0..64 {
        encoder.write_all(&chunk).unwrap();
    }
    encoder.write_all(b"\n").unwrap();
    encoder.write_all(serde_json::to_string(&one_span(NOW + SECOND, 2)).unwrap().as_bytes()).unwrap();
    encoder.write_all(b"\n").unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 1 << 20, "{}", bomb.len());
    std::fs::OpenOptions::new().append(true).open(&path).unwrap().write_all(&bomb).unwrap();

    let mut reader = CaptureReader::open(&path).unwrap();
    let mut items = Vec::new();
    while let Some(item) = reader.next_item().unwrap() {
        items.push(match item {
            CaptureItem::Record(r) => format!("record at {}", r.received_unix_nano()),
            CaptureItem::Skipped(s) => format!("line {} skipped", s.line),
        });
    }
    assert_eq!(items, [format!("record at {NOW}"), "line 3 skipped".into(), format!("record at {}", NOW + SECOND)]);
}

#[cfg(unix)]
#[test]
fn an_endless_file_is_refused_at_its_first_line() {
    let err = CaptureReader::open(Path::new("/dev/zero")).unwrap_err();
    assert!(err.to_string().contains("first line is longer than"), "{err}");
}

#[test]
fn millions_of_bad_lines_make_one_summary() {
    const BAD: usize = 200_000;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.jsonl");
    session(&path, [one_span(NOW, 1)]);
    let mut file = std::io::BufWriter::new(std::fs::OpenOptions::new().append(true).open(&path).unwrap());
    for _ in 0..BAD {
        file.write_all(b"{not json\n").unwrap();
    }
    file.into_inner().unwrap();
    let capture = read_capture(&path).unwrap();
    assert_eq!((capture.records.len(), capture.skipped.total()), (1, BAD as u64));
    assert_eq!(capture.skipped.reported().len(), eventlens::capture::lines::REPORTED_SKIPPED_LINES);

    let graph = Command::new(BIN).arg("graph").arg(&path).output().unwrap();
    let stderr = String::from_utf8_lossy(&graph.stderr);
    assert!(graph.status.success(), "{stderr}");
    assert!(stderr.lines().count() <= 6, "{stderr}");
    assert!(stderr.contains(&format!("{BAD} lines skipped in all")), "{stderr}");
}

#[test]
fn a_span_with_nan_and_infinite_attributes_survives_recording_and_replay() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nan.jsonl");
    let mut record = one_span(NOW, 1);
    let Record::Spans(batch) = &mut record else { unreachable!() };
    for (key, value) in [("ratio", f64::NAN), ("limit", f64::INFINITY), ("floor", f64::NEG_INFINITY), ("x", 1.5)] {
        batch.spans[0].attributes.push(Attribute { key: key.into(), value: AttrValue::DoubleValue(value) });
    }
    session(&path, [record]);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(r#"{"doubleValue":"NaN"}"#) && text.contains(r#"{"doubleValue":"-Infinity"}"#), "{text}");

    let capture = read_capture(&path).unwrap();
    assert!(capture.skipped.is_empty(), "{:?}", capture.skipped);
    let Some(Record::Spans(batch)) = capture.records.first() else { panic!("the span is lost") };
    let attrs = &batch.spans[0].attributes;
    let double = |key| match find_attr(attrs, key) {
        Some(AttrValue::DoubleValue(v)) => *v,
        other => panic!("{key}: {other:?}"),
    };
    assert!(double("ratio").is_nan());
    assert_eq!((double("limit"), double("floor"), double("x")), (f64::INFINITY, f64::NEG_INFINITY, 1.5));

    // Files written before this fix hold `null` there: the span replays, the value as NaN.
    let old = dir.path().join("old.jsonl");
    std::fs::write(&old, text.replace(r#""NaN""#, "null")).unwrap();
    let capture = read_capture(&old).unwrap();
    assert!(capture.skipped.is_empty(), "{:?}", capture.skipped);
    assert_eq!(capture.records.len(), 1);
}

#[test]
fn an_import_with_a_line_that_is_not_utf8_imports_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("kcat.jsonl");
    let line = |offset: u64, ts: &str| {
        format!(r#"{{"topic":"orders","partition":0,"offset":{offset}{ts},"key":"k","payload":"p"}}"#).into_bytes()
    };
    // The first message has no `ts`: it takes the first time the file tells, not 0.
    let mut text = line(1, "");
    text.extend_from_slice(b"\n{\"topic\":\"or\xffders\"}\n");
    text.extend(line(2, r#","ts":1700000000000"#));
    text.push(b'\n');
    std::fs::write(&input, text).unwrap();
    let out = dir.path().join("out.jsonl");
    let run = Command::new(BIN).arg("import").arg(&input).arg("-o").arg(&out).output().unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("line 2 not imported: not UTF-8"), "{stderr}");
    assert!(stderr.contains("2 records (0 spans, 2 Kafka messages)"), "{stderr}");
    let capture = read_capture(&out).unwrap();
    let times: Vec<u64> = capture.records.iter().map(Record::received_unix_nano).collect();
    assert_eq!(times, [1_700_000_000_000 * 1_000_000; 2]);
    assert_eq!(capture.header.created_unix_nano, times[0]);
}
