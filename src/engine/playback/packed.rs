//! The timeline's span batches kept packed: a few dozen bytes a span instead of the kilobyte a
//! normalized span holds in some twenty heap strings.
//!
//! A batch becomes one byte buffer. Strings that repeat (attribute keys, span names, scopes,
//! topics, services) are written as ids into the log's [`Dictionary`]; resources are kept once
//! there too. Ids, times (as differences) and numbers are packed. A seek decodes a batch back
//! into the same [`Record`] the head applied, so the state at the cursor is the head's.
//!
//! The format is private to the engine: session files keep their own, and a process never
//! reads another's packed records.

use std::sync::Arc;

use crate::model::codec::{DecodeError, Reader, Writer};
use crate::model::dictionary::Dictionary;
use crate::model::ids::{SpanId, TraceId};
use crate::model::record::{Record, SourceKind, SpanBatch};
use crate::model::span::{Resource, Span, SpanKind, StatusCode};

/// Buffers reused from one packed batch to the next: the body, and the resource's encoding
/// the dictionary looks it up by. Grown from nothing in every batch, the encoding cost a few
/// allocations a record, a tenth of applying with the timeline (`benches/seek.rs`).
#[derive(Debug, Default)]
pub struct PackScratch {
    body: Writer,
    resource: Writer,
}

/// A span batch packed against the log's [`Dictionary`].
#[derive(Debug)]
pub struct PackedSpans {
    received_unix_nano: u64,
    source: SourceKind,
    spans: u32,
    body: Box<[u8]>,
}

const HAS_PARENT: u8 = 1;
const HAS_STATUS_MESSAGE: u8 = 1 << 1;
const HAS_DROPPED: u8 = 1 << 2;
const STATUS_SHIFT: u8 = 3;
const KIND_SHIFT: u8 = 5;

impl PackedSpans {
    /// Packs `batch`, adding what repeats to `dictionary`; `scratch` is reused between batches.
    pub fn pack(batch: &SpanBatch, dictionary: &mut Dictionary, scratch: &mut PackScratch) -> Self {
        let out = &mut scratch.body;
        out.0.clear();
        // Within a batch the spans' resources are alive, so a pointer names one; its
        // reference, once written, is copied from where it was written.
        let mut last_resource: Option<(*const Resource, std::ops::Range<usize>)> = None;
        let mut previous_start = batch.received_unix_nano;
        for span in &batch.spans {
            match &last_resource {
                Some((ptr, written)) if std::ptr::eq(*ptr, Arc::as_ptr(&span.resource)) => {
                    out.0.extend_from_within(written.clone());
                }
                _ => {
                    let start = out.0.len();
                    dictionary.put_resource(out, &span.resource, &mut scratch.resource);
                    last_resource = Some((Arc::as_ptr(&span.resource), start..out.0.len()));
                }
            }
            dictionary.put(out, &span.scope);
            out.raw(&span.trace_id.0);
            out.raw(&span.span_id.0);
            let dropped = span.dropped_attributes_count | span.dropped_events_count | span.dropped_links_count;
            let flags = (u8::from(span.parent_span_id.is_some()) * HAS_PARENT)
                | (u8::from(!span.status_message.is_empty()) * HAS_STATUS_MESSAGE)
                | (u8::from(dropped != 0) * HAS_DROPPED)
                | ((span.status.to_otlp() as u8) << STATUS_SHIFT)
                | ((span.kind.to_otlp() as u8) << KIND_SHIFT);
            out.byte(flags);
            if let Some(parent) = span.parent_span_id {
                out.raw(&parent.0);
            }
            // Differences wrap, so any pair of times comes back exactly.
            out.i64(span.start_unix_nano.wrapping_sub(previous_start) as i64);
            out.i64(span.end_unix_nano.wrapping_sub(span.start_unix_nano) as i64);
            previous_start = span.start_unix_nano;
            dictionary.put(out, &span.name);
            if !span.status_message.is_empty() {
                out.str(&span.status_message);
            }
            dictionary.put_lists(out, span);
            if dropped != 0 {
                out.u64(u64::from(span.dropped_attributes_count));
                out.u64(u64::from(span.dropped_events_count));
                out.u64(u64::from(span.dropped_links_count));
            }
        }
        let body: Box<[u8]> = out.0.as_slice().into();
        Self {
            received_unix_nano: batch.received_unix_nano,
            source: batch.source,
            spans: batch.spans.len() as u32,
            body,
        }
    }

    /// What it takes in memory.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>() + self.body.len()
    }

    /// The batch again, exactly as packed, its spans' messaging facts derived again.
    pub fn unpack(&self, dictionary: &Dictionary) -> Result<Record, DecodeError> {
        let mut r = Reader::new(&self.body);
        let mut spans = Vec::with_capacity(self.spans as usize);
        let mut previous_start = self.received_unix_nano;
        for _ in 0..self.spans {
            let resource = dictionary.get_resource(&mut r)?;
            let scope = dictionary.get_shared(&mut r)?;
            let trace_id = TraceId(r.array()?);
            let span_id = SpanId(r.array()?);
            let flags = r.byte()?;
            let parent_span_id = if flags & HAS_PARENT != 0 { Some(SpanId(r.array()?)) } else { None };
            let start_unix_nano = previous_start.wrapping_add(r.i64()? as u64);
            let end_unix_nano = start_unix_nano.wrapping_add(r.i64()? as u64);
            previous_start = start_unix_nano;
            let name = dictionary.get(&mut r)?;
            let status_message = if flags & HAS_STATUS_MESSAGE != 0 { r.string()? } else { String::new() };
            let (attributes, events, links) = dictionary.get_lists(&mut r, start_unix_nano)?;
            let mut count = || r.u64().and_then(|n| u32::try_from(n).map_err(|_| DecodeError("dropped count")));
            let dropped = if flags & HAS_DROPPED != 0 { [count()?, count()?, count()?] } else { [0; 3] };
            let status =
                StatusCode::from_otlp(i32::from((flags >> STATUS_SHIFT) & 0b11)).ok_or(DecodeError("status"))?;
            let mut span = Span {
                trace_id,
                span_id,
                parent_span_id,
                name,
                kind: SpanKind::from_otlp(i32::from(flags >> KIND_SHIFT)),
                start_unix_nano,
                end_unix_nano,
                status,
                status_message,
                resource,
                scope,
                attributes,
                events,
                links,
                dropped_attributes_count: dropped[0],
                dropped_events_count: dropped[1],
                dropped_links_count: dropped[2],
                messaging: None,
            };
            span.derive_messaging();
            spans.push(span);
        }
        if !r.is_done() {
            return Err(DecodeError("trailing bytes"));
        }
        Ok(Record::Spans(SpanBatch { received_unix_nano: self.received_unix_nano, source: self.source, spans }))
    }
}

#[cfg(test)]
mod tests;
