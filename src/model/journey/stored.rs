//! Spans as journeys keep them: the fields assembly and layout need, plus the rest encoded in
//! one compact byte buffer.
//!
//! A normalized span owns some twenty heap strings (about 2.3 KB retained for a typical
//! messaging span). Journeys keep hundreds of thousands of spans, so they keep them encoded:
//! one allocation of a few dozen bytes each, the strings that repeat (keys, names, topics)
//! written as ids into the store's [`Dictionary`], decoded only when a journey is laid out or
//! exported. The encoding is private to this module (a process never reads another's).

use std::sync::Arc;

pub use crate::model::codec::DecodeError;
use crate::model::codec::{Reader, Writer};
use crate::model::dictionary::Dictionary;
use crate::model::ids::{SpanId, SpanRef, TraceId};
use crate::model::span::{Resource, Span, SpanKind, StatusCode};

/// A span kept by a journey: what assembly, retention and the timeline's cursor read without
/// decoding, and the rest in the body. Kept small (64 bytes) because a journey holds its
/// spans in a growing array: every byte here is paid again in the array's spare room.
#[derive(Clone, Debug)]
pub struct StoredSpan {
    /// Trace id.
    pub trace_id: TraceId,
    /// Span id.
    pub span_id: SpanId,
    /// Start, Unix ns.
    pub start_unix_nano: u64,
    /// When the collector received it, Unix ns (0 until the store sets it): what the
    /// timeline's cursor compares with.
    pub received_unix_nano: u64,
    /// The emitting resource (shared by its export's spans).
    resource: Arc<Resource>,
    /// Everything else, scope and links included, encoded.
    body: Box<[u8]>,
}

impl StoredSpan {
    /// What it takes in memory (estimated): itself and its encoded body; the resource is
    /// shared by a request's spans and not counted.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.body.len()
    }

    /// Encodes a span through `scratch` (reused between spans, so the only allocation is the
    /// exact-size body), its repeated strings into `dictionary`.
    pub fn encode_with(span: &Span, scratch: &mut Vec<u8>, dictionary: &mut Dictionary) -> Self {
        scratch.clear();
        let mut out = Writer(std::mem::take(scratch));
        // How many links, up to 255: read without decoding (see `links_several`).
        out.byte(u8::try_from(span.links.len()).unwrap_or(u8::MAX));
        match span.parent_span_id {
            Some(id) => {
                out.byte(1);
                out.raw(&id.0);
            }
            None => out.byte(0),
        }
        dictionary.put(&mut out, &span.name);
        dictionary.put(&mut out, &span.scope);
        out.byte(span.kind.to_otlp() as u8);
        out.u64(span.end_unix_nano);
        out.byte(span.status.to_otlp() as u8);
        out.str(&span.status_message);
        dictionary.put_lists(&mut out, span);
        // What the span's source dropped past its limits (a byte each when nothing was).
        out.u64(u64::from(span.dropped_attributes_count));
        out.u64(u64::from(span.dropped_events_count));
        out.u64(u64::from(span.dropped_links_count));
        Self {
            trace_id: span.trace_id,
            span_id: span.span_id,
            start_unix_nano: span.start_unix_nano,
            received_unix_nano: 0,
            resource: Arc::clone(&span.resource),
            body: {
                let body: Box<[u8]> = out.0.as_slice().into();
                *scratch = out.0;
                body
            },
        }
    }

    /// True when the span links to more than one span (a batch consumer may): known without
    /// decoding, so a look-up for batch spans decodes only those.
    pub fn links_several(&self) -> bool {
        self.body.first().is_some_and(|n| *n > 1)
    }

    /// The span's address.
    pub fn span_ref(&self) -> SpanRef {
        SpanRef { trace_id: self.trace_id, span_id: self.span_id }
    }

    /// Decodes the whole span, with its messaging facts derived again, against the dictionary
    /// it was encoded with.
    pub fn decode(&self, dictionary: &Dictionary) -> Result<Span, DecodeError> {
        let mut r = Reader::new(&self.body);
        r.byte()?;
        let parent_span_id = match r.byte()? {
            0 => None,
            1 => Some(SpanId(r.array()?)),
            _ => return Err(DecodeError("parent")),
        };
        let name = dictionary.get(&mut r)?;
        let scope = dictionary.get_shared(&mut r)?;
        let kind = SpanKind::from_otlp(i32::from(r.byte()?));
        let end_unix_nano = r.u64()?;
        let status = StatusCode::from_otlp(i32::from(r.byte()?)).ok_or(DecodeError("status"))?;
        let status_message = r.string()?;
        let (attributes, events, links) = dictionary.get_lists(&mut r, self.start_unix_nano)?;
        let mut count = || r.u64().and_then(|n| u32::try_from(n).map_err(|_| DecodeError("dropped count")));
        let (dropped_attributes_count, dropped_events_count, dropped_links_count) = (count()?, count()?, count()?);
        let mut span = Span {
            trace_id: self.trace_id,
            span_id: self.span_id,
            parent_span_id,
            name,
            kind,
            start_unix_nano: self.start_unix_nano,
            end_unix_nano,
            status,
            status_message,
            resource: Arc::clone(&self.resource),
            scope,
            attributes,
            events,
            links,
            dropped_attributes_count,
            dropped_events_count,
            dropped_links_count,
            messaging: None,
        };
        span.derive_messaging();
        Ok(span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::span::{AttrValue, Attribute};
    use crate::testing::{realistic_spans, saga_spans, span};

    #[test]
    fn spans_round_trip_exactly() {
        let mut spans = realistic_spans(300, 5);
        spans.extend(saga_spans());
        let mut odd = span("svc", "every value", SpanKind::Internal).exception("boom").link(7, 1).link(8, 2).build();
        odd.attributes = vec![
            Attribute { key: "neg".into(), value: AttrValue::IntValue(-3) },
            Attribute { key: "min".into(), value: AttrValue::IntValue(i64::MIN) },
            Attribute { key: "pi".into(), value: AttrValue::DoubleValue(3.25) },
            Attribute { key: "b".into(), value: AttrValue::BoolValue(true) },
            Attribute { key: "raw".into(), value: AttrValue::BytesValue(vec![0, 255, 7]) },
            Attribute {
                key: "nested".into(),
                value: AttrValue::ArrayValue(vec![
                    AttrValue::StringValue("ü".into()),
                    AttrValue::KvlistValue(vec![Attribute { key: "k".into(), value: AttrValue::IntValue(1 << 40) }]),
                ]),
            },
        ];
        odd.dropped_attributes_count = 320;
        odd.dropped_events_count = 7;
        odd.dropped_links_count = u32::MAX;
        spans.push(odd);
        let mut dictionary = Dictionary::new(usize::MAX);
        // Twice: the second time, what repeats is written as ids.
        for s in spans.iter().chain(&spans) {
            let stored = StoredSpan::encode_with(s, &mut Vec::new(), &mut dictionary);
            assert_eq!(stored.decode(&dictionary).as_ref(), Ok(s));
            assert_eq!(stored.links_several(), s.links.len() > 1);
        }
        assert!(dictionary.interned() > 10, "{}", dictionary.interned());
    }

    #[test]
    fn a_stored_span_is_as_small_as_its_doc_says() {
        assert_eq!(std::mem::size_of::<StoredSpan>(), 64);
    }

    #[test]
    fn a_corrupt_body_is_an_error_not_a_panic() {
        let s = saga_spans().remove(2);
        let mut dictionary = Dictionary::new(usize::MAX);
        let whole = StoredSpan::encode_with(&s, &mut Vec::new(), &mut dictionary);
        let mut stored = whole.clone();
        for cut in 0..whole.body.len() {
            stored.body = whole.body[..cut].into();
            assert!(stored.decode(&dictionary).is_err(), "cut at {cut}");
        }
    }
}
