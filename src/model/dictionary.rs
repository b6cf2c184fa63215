//! Strings and resources that repeat, kept once and written as ids: what makes spans kept in
//! memory small (the timeline's packed batches, the journeys' stored spans).
//!
//! A string is interned the second time it is met, so ids and timestamps that never repeat
//! stay inline instead of filling the dictionary. Entries are never removed (any kept span
//! may name one); the dictionary is bounded in bytes and, once full, strings are written
//! inline and counted.

use std::hash::BuildHasher;
use std::sync::Arc;

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use super::codec::{DecodeError, Reader, Writer, read_attributes, write_attributes};
use super::ids::{SpanId, SpanRef, TraceId};
use super::span::{Attribute, Resource, ServiceName, Span, SpanEvent, SpanLink};

/// A span's lists, decoded: attributes, events and links.
pub type SpanLists = (Vec<Attribute>, Vec<SpanEvent>, Vec<SpanLink>);

/// Bytes an entry costs the dictionary beyond its text: the shared string's header, its slot
/// in the list and in the lookup table.
const ENTRY_BYTES: usize = 64;
/// The most any dictionary holds ([`Dictionary::within`]).
const MAX_BYTES: usize = 64 << 20;
/// Strings longer than this are always written inline: long values (payload excerpts, SQL,
/// stack traces) rarely repeat.
const MAX_INTERNED_LEN: usize = 96;
/// Strings seen once are remembered (by hash) up to this many, so a string is interned at its
/// second sighting: an id or a timestamp that never repeats stays inline instead of filling
/// the dictionary.
const SEEN_ONCE: usize = 1 << 16;

/// Strings and resources that kept spans refer to by id. It only grows (a kept span may name
/// any entry), up to its byte bound; past it, new strings are written inline.
#[derive(Debug, Default)]
pub struct Dictionary {
    strings: Vec<Arc<str>>,
    ids: FxHashMap<Arc<str>, u32>,
    /// Hashes of strings met once and not interned yet.
    seen_once: FxHashSet<u64>,
    resources: Vec<Arc<Resource>>,
    /// Resources by their encoding.
    resource_ids: FxHashMap<Box<[u8]>, u32>,
    bytes: usize,
    max_bytes: usize,
    /// Strings and resources written inline because the dictionary was full.
    inline_when_full: u64,
}

impl Dictionary {
    /// An empty dictionary holding at most `max_bytes`.
    pub fn new(max_bytes: usize) -> Self {
        Self { max_bytes, ..Self::default() }
    }

    /// The dictionary of a store whose share of the memory budget is `share` bytes: an eighth
    /// of it, and 64 MiB at most (what any session's repeated strings fit in).
    pub fn within(share: usize) -> Self {
        Self::new(MAX_BYTES.min(share / 8))
    }

    /// What it holds, estimated.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Strings interned.
    pub fn interned(&self) -> usize {
        self.strings.len()
    }

    /// Strings and resources written inline because it was full.
    pub fn inline_when_full(&self) -> u64 {
        self.inline_when_full
    }

    fn has_room(&mut self, bytes: usize) -> bool {
        let room = self.bytes + bytes + ENTRY_BYTES <= self.max_bytes;
        if !room {
            self.inline_when_full += 1;
        }
        room
    }

    /// Writes `s` as a reference: an id (even) or, inline, its length (odd) and bytes.
    pub fn put(&mut self, out: &mut Writer, s: &str) {
        if let Some(id) = self.ids.get(s) {
            out.u64(u64::from(*id) << 1);
            return;
        }
        if s.len() <= MAX_INTERNED_LEN && self.seen_before(s) && self.has_room(s.len()) {
            let id = self.strings.len() as u32;
            let shared: Arc<str> = Arc::from(s);
            self.strings.push(Arc::clone(&shared));
            self.ids.insert(shared, id);
            self.bytes += s.len() + ENTRY_BYTES;
            out.u64(u64::from(id) << 1);
            return;
        }
        out.u64(((s.len() as u64) << 1) | 1);
        out.raw(s.as_bytes());
    }

    /// True when `s` was met before (and forgets it); else remembers it.
    fn seen_before(&mut self, s: &str) -> bool {
        let hash = FxBuildHasher.hash_one(s);
        if self.seen_once.remove(&hash) {
            return true;
        }
        if self.seen_once.len() >= SEEN_ONCE {
            self.seen_once.clear();
        }
        self.seen_once.insert(hash);
        false
    }

    /// Reads a reference [`Dictionary::put`] wrote.
    pub fn get(&self, r: &mut Reader<'_>) -> Result<String, DecodeError> {
        Ok(match self.string(r)? {
            Text::Interned(s) => String::from(&**s),
            Text::Inline(s) => s.to_owned(),
        })
    }

    /// A shared string (the scope) from a reference.
    pub fn get_shared(&self, r: &mut Reader<'_>) -> Result<Arc<str>, DecodeError> {
        Ok(match self.string(r)? {
            Text::Interned(s) => Arc::clone(s),
            Text::Inline(s) => Arc::from(s),
        })
    }

    fn string<'s, 'b>(&'s self, r: &mut Reader<'b>) -> Result<Text<'s, 'b>, DecodeError> {
        match reference(r)? {
            Reference::Id(id) => self.strings.get(id).map(Text::Interned).ok_or(DecodeError("string id")),
            Reference::Inline(bytes) => std::str::from_utf8(bytes).map(Text::Inline).map_err(|_| DecodeError("utf-8")),
        }
    }

    /// Writes a span's attributes, events (their times relative to the span's start) and
    /// links, their strings through the dictionary: the part of a span both kept forms share.
    pub fn put_lists(&mut self, out: &mut Writer, span: &Span) {
        let mut put = |w: &mut Writer, s: &str| self.put(w, s);
        write_attributes(out, &span.attributes, &mut put);
        out.len(span.events.len());
        for e in &span.events {
            put(out, &e.name);
            out.i64(e.time_unix_nano.wrapping_sub(span.start_unix_nano) as i64);
            write_attributes(out, &e.attributes, &mut put);
        }
        out.len(span.links.len());
        for l in &span.links {
            out.raw(&l.target.trace_id.0);
            out.raw(&l.target.span_id.0);
            write_attributes(out, &l.attributes, &mut put);
        }
    }

    /// Reads what [`Dictionary::put_lists`] wrote for a span that started at `start_unix_nano`.
    pub fn get_lists(&self, r: &mut Reader<'_>, start_unix_nano: u64) -> Result<SpanLists, DecodeError> {
        let mut get = |r: &mut Reader<'_>| self.get(r);
        let attributes = read_attributes(r, &mut get)?;
        let mut events = Vec::with_capacity(r.length()?);
        for _ in 0..events.capacity() {
            let name = get(r)?;
            let time_unix_nano = start_unix_nano.wrapping_add(r.i64()? as u64);
            events.push(SpanEvent { name, time_unix_nano, attributes: read_attributes(r, &mut get)? });
        }
        let mut links = Vec::with_capacity(r.length()?);
        for _ in 0..links.capacity() {
            let target = SpanRef { trace_id: TraceId(r.array()?), span_id: SpanId(r.array()?) };
            links.push(SpanLink { target, attributes: read_attributes(r, &mut get)? });
        }
        Ok((attributes, events, links))
    }

    /// Writes a resource as an id (even) or, when the dictionary is full, inline (odd).
    pub fn put_resource(&mut self, out: &mut Writer, resource: &Resource, scratch: &mut Writer) {
        scratch.0.clear();
        scratch.str(&resource.service.name);
        match &resource.service.namespace {
            Some(ns) => {
                scratch.byte(1);
                scratch.str(ns);
            }
            None => scratch.byte(0),
        }
        write_attributes(scratch, &resource.attributes, &mut |w, s| w.str(s));
        if let Some(id) = self.resource_ids.get(scratch.0.as_slice()) {
            out.u64(u64::from(*id) << 1);
            return;
        }
        let len = scratch.0.len();
        if self.has_room(len * 2 + std::mem::size_of::<Resource>()) {
            let id = self.resources.len() as u32;
            self.resources.push(Arc::new(resource.clone()));
            self.resource_ids.insert(scratch.0.as_slice().into(), id);
            self.bytes += len * 2 + std::mem::size_of::<Resource>() + ENTRY_BYTES;
            out.u64(u64::from(id) << 1);
            return;
        }
        out.u64(((len as u64) << 1) | 1);
        out.raw(&scratch.0);
    }

    /// Reads a resource [`Dictionary::put_resource`] wrote.
    pub fn get_resource(&self, r: &mut Reader<'_>) -> Result<Arc<Resource>, DecodeError> {
        let bytes = match reference(r)? {
            Reference::Id(id) => return self.resources.get(id).cloned().ok_or(DecodeError("resource id")),
            Reference::Inline(bytes) => bytes,
        };
        let mut inner = Reader::new(bytes);
        let name = inner.string()?;
        let namespace = match inner.byte()? {
            0 => None,
            1 => Some(inner.string()?),
            _ => return Err(DecodeError("namespace")),
        };
        let attributes = read_attributes(&mut inner, &mut Reader::string)?;
        Ok(Arc::new(Resource { service: ServiceName { name, namespace }, attributes }))
    }
}

/// What a reference names: an entry (its id written even) or bytes written inline after it
/// (their length written odd).
enum Reference<'a> {
    Id(usize),
    Inline(&'a [u8]),
}

fn reference<'a>(r: &mut Reader<'a>) -> Result<Reference<'a>, DecodeError> {
    let v = r.u64()?;
    let n = usize::try_from(v >> 1).map_err(|_| DecodeError("reference"))?;
    Ok(if v & 1 == 0 { Reference::Id(n) } else { Reference::Inline(r.take(n)?) })
}

/// A string a reference names.
enum Text<'s, 'b> {
    Interned(&'s Arc<str>),
    Inline(&'b str),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(dictionary: &mut Dictionary, s: &str) -> (Vec<u8>, String) {
        let mut w = Writer::default();
        dictionary.put(&mut w, s);
        let back = dictionary.get(&mut Reader::new(&w.0)).unwrap();
        (w.0, back)
    }

    #[test]
    fn a_string_is_interned_at_its_second_sighting_and_long_ones_never() {
        let mut dictionary = Dictionary::new(usize::MAX);
        let (first, back) = round_trip(&mut dictionary, "messaging.destination.name");
        assert_eq!((first.len(), back.as_str()), (27, "messaging.destination.name"));
        let (second, back) = round_trip(&mut dictionary, "messaging.destination.name");
        assert_eq!((second, back.as_str()), (vec![0], "messaging.destination.name"));
        let long = "x".repeat(MAX_INTERNED_LEN + 1);
        round_trip(&mut dictionary, &long);
        let (inline, back) = round_trip(&mut dictionary, &long);
        assert_eq!((inline.len() > MAX_INTERNED_LEN, back), (true, long));
        assert_eq!(dictionary.interned(), 1);
    }

    #[test]
    fn resources_are_kept_once_by_value() {
        let mut dictionary = Dictionary::new(usize::MAX);
        let resource = Resource { service: ServiceName::new("checkout"), attributes: Vec::new() };
        let mut scratch = Writer::default();
        let (mut a, mut b) = (Writer::default(), Writer::default());
        dictionary.put_resource(&mut a, &resource, &mut scratch);
        dictionary.put_resource(&mut b, &resource.clone(), &mut scratch);
        assert_eq!(a.0, b.0);
        let back = dictionary.get_resource(&mut Reader::new(&b.0)).unwrap();
        assert_eq!(*back, resource);
        assert_eq!(dictionary.get_resource(&mut Reader::new(&[2])), Err(DecodeError("resource id")));
    }
}
