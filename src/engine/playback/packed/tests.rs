use super::*;
use crate::model::size::HeapSize;
use crate::model::span::{AttrValue, Attribute};
use crate::testing::{realistic_spans, saga_spans, span};

fn batch(spans: Vec<Span>) -> SpanBatch {
    SpanBatch { received_unix_nano: 1_700_000_000_000_000_000, source: SourceKind::OtlpGrpc, spans }
}

/// A span with every kind of value, events, dropped counts, a status message, and an end
/// before its start (clocks do that).
fn odd_span() -> Span {
    let mut odd = span("svc", "every value", SpanKind::Internal).exception("boom").build();
    odd.attributes = vec![
        Attribute { key: "neg".into(), value: AttrValue::IntValue(-3) },
        Attribute { key: "min".into(), value: AttrValue::IntValue(i64::MIN) },
        Attribute { key: "pi".into(), value: AttrValue::DoubleValue(3.25) },
        Attribute { key: "nan".into(), value: AttrValue::DoubleValue(f64::INFINITY) },
        Attribute { key: "b".into(), value: AttrValue::BoolValue(true) },
        Attribute { key: "raw".into(), value: AttrValue::BytesValue(vec![0, 255, 7]) },
        Attribute { key: "long".into(), value: AttrValue::StringValue("x".repeat(500)) },
        Attribute {
            key: "nested".into(),
            value: AttrValue::ArrayValue(vec![
                AttrValue::StringValue("ü".into()),
                AttrValue::KvlistValue(vec![Attribute { key: "k".into(), value: AttrValue::IntValue(1 << 40) }]),
            ]),
        },
    ];
    odd.status = StatusCode::Error;
    odd.status_message = "it broke".into();
    odd.end_unix_nano = odd.start_unix_nano - 5;
    odd.dropped_attributes_count = 320;
    odd.dropped_events_count = 7;
    odd.dropped_links_count = u32::MAX;
    odd
}

fn spans() -> Vec<Span> {
    let mut spans = realistic_spans(300, 5);
    spans.extend(saga_spans());
    spans.push(odd_span());
    spans
}

#[test]
fn batches_come_back_exactly_as_they_were_packed() {
    let mut dictionary = Dictionary::new(usize::MAX);
    let mut scratch = PackScratch::default();
    // Twice, so the second round writes what repeats as ids.
    for round in 0..2 {
        let original = batch(spans());
        let packed = PackedSpans::pack(&original, &mut dictionary, &mut scratch);
        assert_eq!(packed.unpack(&dictionary), Ok(Record::Spans(original)), "round {round}");
    }
    // One span a batch too (the first span's start is a difference from the receive time).
    for s in spans() {
        let original = batch(vec![s]);
        let packed = PackedSpans::pack(&original, &mut dictionary, &mut scratch);
        assert_eq!(packed.unpack(&dictionary), Ok(Record::Spans(original)));
    }
}

#[test]
fn what_repeats_is_written_as_ids_and_what_never_repeats_stays_out_of_the_dictionary() {
    let mut dictionary = Dictionary::new(usize::MAX);
    let mut scratch = PackScratch::default();
    let original = batch(realistic_spans(300, 5));
    let sizes: Vec<usize> =
        (0..3).map(|_| PackedSpans::pack(&original, &mut dictionary, &mut scratch).bytes()).collect();
    // The first batch meets every string once (a string is interned at its second sighting),
    // the next ones find all that repeats in the dictionary.
    assert!(sizes[1] < sizes[0], "{sizes:?}");
    assert_eq!(sizes[1], sizes[2]);
    let unpacked = Record::Spans(original).total_bytes();
    assert!(sizes[1] * 8 < unpacked, "{sizes:?} against {unpacked} unpacked");
    let interned = dictionary.interned();
    // Strings that never repeat are not interned.
    for i in 0..1_000 {
        let mut s = span("svc", "unique", SpanKind::Internal).build();
        s.attributes.push(Attribute { key: "id".into(), value: AttrValue::StringValue(format!("id-{i}")) });
        PackedSpans::pack(&batch(vec![s]), &mut dictionary, &mut scratch);
    }
    // The new span name, key and service came in; no id did.
    assert!(dictionary.interned() <= interned + 8, "{} against {interned}", dictionary.interned());
}

#[test]
fn a_full_dictionary_writes_inline_counts_it_and_loses_nothing() {
    let mut dictionary = Dictionary::new(2_000);
    let mut scratch = PackScratch::default();
    let mut packed = Vec::new();
    for _ in 0..3 {
        let original = batch(spans());
        packed.push((PackedSpans::pack(&original, &mut dictionary, &mut scratch), original));
    }
    assert!(dictionary.bytes() <= 2_000, "{}", dictionary.bytes());
    assert!(dictionary.inline_when_full() > 0);
    for (p, original) in packed {
        assert_eq!(p.unpack(&dictionary), Ok(Record::Spans(original)));
    }
}

#[test]
fn a_corrupt_body_is_an_error_not_a_panic() {
    let mut dictionary = Dictionary::new(usize::MAX);
    let mut scratch = PackScratch::default();
    let original = batch(vec![saga_spans().remove(2), odd_span()]);
    let whole = PackedSpans::pack(&original, &mut dictionary, &mut scratch);
    for cut in 0..whole.body.len() {
        let cut = PackedSpans { body: whole.body[..cut].into(), ..whole };
        assert!(cut.unpack(&dictionary).is_err(), "cut at {}", cut.body.len());
    }
    // An id the dictionary does not hold.
    let mut w = Writer::default();
    w.u64(1_000 << 1);
    assert_eq!(dictionary.get(&mut Reader::new(&w.0)), Err(DecodeError("string id")));
    let mut body = Writer::default();
    body.u64(1_000 << 1);
    let unknown = PackedSpans { body: body.0.into(), ..whole };
    assert_eq!(unknown.unpack(&dictionary), Err(DecodeError("resource id")));
}
