//! Spans as journeys keep them: the fields assembly and layout need, plus the rest encoded in
//! one compact byte buffer.
//!
//! A normalized span owns some twenty heap strings (about 2.3 KB retained for a typical
//! messaging span). Journeys keep hundreds of thousands of spans, so they keep them encoded:
//! one allocation of a few hundred bytes each, decoded only when a journey is laid out or
//! exported. The encoding is private to this module (a process never reads another's).

use std::sync::Arc;

use smallvec::SmallVec;

use crate::model::ids::{SpanId, SpanRef, TraceId};
use crate::model::span::{AttrValue, Attribute, Resource, Span, SpanEvent, SpanKind, SpanLink, StatusCode};

/// A span kept by a journey.
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
    /// Spans it links to.
    pub links: SmallVec<[SpanRef; 1]>,
    /// The emitting resource (shared by its export's spans).
    pub resource: Arc<Resource>,
    /// Instrumentation scope.
    pub scope: Arc<str>,
    body: Box<[u8]>,
}

/// The encoded part did not decode: a bug, reported instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a stored span did not decode: {0}")]
pub struct DecodeError(&'static str);

impl StoredSpan {
    /// What it takes in memory (estimated): itself, its encoded body and spilled links; the
    /// resource and scope are shared by a request's spans and not counted.
    pub fn bytes(&self) -> usize {
        let links = if self.links.spilled() { self.links.capacity() * std::mem::size_of::<SpanRef>() } else { 0 };
        std::mem::size_of::<Self>() + self.body.len() + links
    }

    /// Encodes a span.
    pub fn encode(span: &Span) -> Self {
        Self::encode_with(span, &mut Vec::new())
    }

    /// Encodes a span through `scratch` (reused between spans, so the only allocation is the
    /// exact-size body).
    pub fn encode_with(span: &Span, scratch: &mut Vec<u8>) -> Self {
        scratch.clear();
        let mut out = Writer(std::mem::take(scratch));
        out.opt_span_id(span.parent_span_id);
        out.str(&span.name);
        out.byte(span.kind.to_otlp() as u8);
        out.u64(span.end_unix_nano);
        out.byte(match span.status {
            StatusCode::Unset => 0,
            StatusCode::Ok => 1,
            StatusCode::Error => 2,
        });
        out.str(&span.status_message);
        out.attributes(&span.attributes);
        out.len(span.events.len());
        for e in &span.events {
            out.str(&e.name);
            out.u64(e.time_unix_nano);
            out.attributes(&e.attributes);
        }
        out.len(span.links.len());
        for l in &span.links {
            out.0.extend_from_slice(&l.target.trace_id.0);
            out.0.extend_from_slice(&l.target.span_id.0);
            out.attributes(&l.attributes);
        }
        // What the span's source dropped past its limits (a byte each when nothing was).
        out.u64(u64::from(span.dropped_attributes_count));
        out.u64(u64::from(span.dropped_events_count));
        out.u64(u64::from(span.dropped_links_count));
        Self {
            trace_id: span.trace_id,
            span_id: span.span_id,
            start_unix_nano: span.start_unix_nano,
            received_unix_nano: 0,
            links: span.links.iter().map(|l| l.target).collect(),
            resource: Arc::clone(&span.resource),
            scope: Arc::clone(&span.scope),
            body: {
                let body: Box<[u8]> = out.0.as_slice().into();
                *scratch = out.0;
                body
            },
        }
    }

    /// The span's address.
    pub fn span_ref(&self) -> SpanRef {
        SpanRef { trace_id: self.trace_id, span_id: self.span_id }
    }

    /// Decodes the whole span, with its messaging facts derived again.
    pub fn decode(&self) -> Result<Span, DecodeError> {
        let mut r = Reader { bytes: &self.body, at: 0 };
        let parent_span_id = r.opt_span_id()?;
        let name = r.string()?;
        let kind = SpanKind::from_otlp(i32::from(r.byte()?));
        let end_unix_nano = r.u64()?;
        let status = match r.byte()? {
            0 => StatusCode::Unset,
            1 => StatusCode::Ok,
            2 => StatusCode::Error,
            _ => return Err(DecodeError("status")),
        };
        let status_message = r.string()?;
        let attributes = r.attributes()?;
        let mut events = Vec::with_capacity(r.len()?);
        for _ in 0..events.capacity() {
            events.push(SpanEvent { name: r.string()?, time_unix_nano: r.u64()?, attributes: r.attributes()? });
        }
        let mut links = Vec::with_capacity(r.len()?);
        for _ in 0..links.capacity() {
            let trace_id = TraceId(r.array()?);
            let span_id = SpanId(r.array()?);
            links.push(SpanLink { target: SpanRef { trace_id, span_id }, attributes: r.attributes()? });
        }
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
            scope: Arc::clone(&self.scope),
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

struct Writer(Vec<u8>);

impl Writer {
    fn byte(&mut self, b: u8) {
        self.0.push(b);
    }

    fn u64(&mut self, mut v: u64) {
        // LEB128: small numbers (lengths, counts) take one byte.
        loop {
            let low = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                self.0.push(low);
                return;
            }
            self.0.push(low | 0x80);
        }
    }

    fn len(&mut self, n: usize) {
        self.u64(n as u64);
    }

    fn str(&mut self, s: &str) {
        self.len(s.len());
        self.0.extend_from_slice(s.as_bytes());
    }

    fn opt_span_id(&mut self, id: Option<SpanId>) {
        match id {
            Some(id) => {
                self.byte(1);
                self.0.extend_from_slice(&id.0);
            }
            None => self.byte(0),
        }
    }

    fn attributes(&mut self, attributes: &[Attribute]) {
        self.len(attributes.len());
        for a in attributes {
            self.str(&a.key);
            self.value(&a.value);
        }
    }

    fn value(&mut self, v: &AttrValue) {
        match v {
            AttrValue::StringValue(s) => {
                self.byte(0);
                self.str(s);
            }
            AttrValue::BoolValue(b) => {
                self.byte(1);
                self.byte(u8::from(*b));
            }
            AttrValue::IntValue(i) => {
                self.byte(2);
                // Zig-zag, so small negative numbers stay short.
                self.u64(((*i << 1) ^ (*i >> 63)) as u64);
            }
            AttrValue::DoubleValue(d) => {
                self.byte(3);
                self.0.extend_from_slice(&d.to_le_bytes());
            }
            AttrValue::BytesValue(b) => {
                self.byte(4);
                self.len(b.len());
                self.0.extend_from_slice(b);
            }
            AttrValue::ArrayValue(items) => {
                self.byte(5);
                self.len(items.len());
                items.iter().for_each(|i| self.value(i));
            }
            AttrValue::KvlistValue(kv) => {
                self.byte(6);
                self.attributes(kv);
            }
        }
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|e| *e <= self.bytes.len()).ok_or(DecodeError("truncated"))?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn byte(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        self.take(N)?.try_into().map_err(|_| DecodeError("id"))
    }

    fn u64(&mut self) -> Result<u64, DecodeError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let b = self.byte()?;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError("varint"))
    }

    fn len(&mut self) -> Result<usize, DecodeError> {
        let n = usize::try_from(self.u64()?).map_err(|_| DecodeError("length"))?;
        // Every element takes at least a byte: a length beyond the rest is corrupt.
        if n > self.bytes.len() - self.at { Err(DecodeError("length")) } else { Ok(n) }
    }

    fn string(&mut self) -> Result<String, DecodeError> {
        let n = self.len()?;
        String::from_utf8(self.take(n)?.to_vec()).map_err(|_| DecodeError("utf-8"))
    }

    fn opt_span_id(&mut self) -> Result<Option<SpanId>, DecodeError> {
        match self.byte()? {
            0 => Ok(None),
            1 => Ok(Some(SpanId(self.array()?))),
            _ => Err(DecodeError("parent")),
        }
    }

    fn attributes(&mut self) -> Result<Vec<Attribute>, DecodeError> {
        let mut out = Vec::with_capacity(self.len()?);
        for _ in 0..out.capacity() {
            out.push(Attribute { key: self.string()?, value: self.value()? });
        }
        Ok(out)
    }

    fn value(&mut self) -> Result<AttrValue, DecodeError> {
        Ok(match self.byte()? {
            0 => AttrValue::StringValue(self.string()?),
            1 => AttrValue::BoolValue(self.byte()? != 0),
            2 => {
                let z = self.u64()?;
                AttrValue::IntValue(((z >> 1) as i64) ^ -((z & 1) as i64))
            }
            3 => AttrValue::DoubleValue(f64::from_le_bytes(self.array()?)),
            4 => {
                let n = self.len()?;
                AttrValue::BytesValue(self.take(n)?.to_vec())
            }
            5 => {
                let mut items = Vec::with_capacity(self.len()?);
                for _ in 0..items.capacity() {
                    items.push(self.value()?);
                }
                AttrValue::ArrayValue(items)
            }
            6 => AttrValue::KvlistValue(self.attributes()?),
            _ => return Err(DecodeError("value tag")),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::otlp::convert::convert_request;
    use crate::testing::{realistic_request, saga_spans, span};

    #[test]
    fn spans_round_trip_exactly() {
        let mut spans = convert_request(realistic_request(300, 5)).spans;
        spans.extend(saga_spans());
        let mut odd = span("svc", "every value", SpanKind::Internal).exception("boom").build();
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
        for s in &spans {
            let stored = StoredSpan::encode(s);
            assert_eq!(stored.decode().as_ref(), Ok(s));
            assert_eq!(stored.links.len(), s.links.len());
        }
    }

    #[test]
    fn a_corrupt_body_is_an_error_not_a_panic() {
        let s = saga_spans().remove(2);
        let mut stored = StoredSpan::encode(&s);
        for cut in 0..stored.body.len() {
            stored.body = StoredSpan::encode(&s).body[..cut].into();
            assert!(stored.decode().is_err(), "cut at {cut}");
        }
    }
}
