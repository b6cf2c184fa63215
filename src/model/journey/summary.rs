//! What the journey list shows for each journey, and the list itself.
//!
//! The list is stored in fixed-size chunks behind `Arc`s, indexed by journey id, so a
//! snapshot shares it instead of copying a million rows: the engine writes into a chunk
//! (copying it only if a snapshot still holds it) and the UI reads whole chunks.

use std::collections::VecDeque;
use std::sync::Arc;

use serde::Serialize;

use crate::model::ids::TraceId;

/// A journey's identity. Ids grow with creation; when two journeys merge, the survivor keeps
/// its id and the other one's id is never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Default)]
pub struct JourneyId(pub u64);

impl std::fmt::Display for JourneyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Whether a journey did what the system was expected to do with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum JourneyStatus {
    /// Every consumer that reads the topics it was sent to processed it, without failures.
    #[default]
    Ok,
    /// Recent, and some expected consumer has not processed it yet: may still complete.
    InFlight,
    /// A message was produced and, after the grace period, a group that consumes its topic
    /// never processed it.
    Incomplete,
    /// A span failed (ERROR status or exception event).
    Failed,
}

impl JourneyStatus {
    /// The word used in the list and in searches (`status:failed`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::InFlight => "in flight",
            Self::Incomplete => "incomplete",
            Self::Failed => "failed",
        }
    }
}

/// One row of the journey list: everything the list shows, sorts and searches by.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JourneySummary {
    /// Identity.
    pub id: JourneyId,
    /// Earliest span start (or message timestamp), Unix ns.
    pub start_unix_nano: u64,
    /// Latest span end, Unix ns.
    pub end_unix_nano: u64,
    /// The service of the earliest span: where the event started.
    pub root_service: Arc<str>,
    /// CloudEvents type, else the configured payload field, else the root span's name.
    pub event_type: Arc<str>,
    /// Kafka message keys seen (span attributes or messages).
    pub keys: Arc<[Arc<str>]>,
    /// Message ids (`messaging.message.id`, CloudEvents `id`).
    pub message_ids: Arc<[Arc<str>]>,
    /// Trace ids the journey spans.
    pub trace_ids: Arc<[TraceId]>,
    /// Services it touched, sorted.
    pub services: Arc<[Arc<str>]>,
    /// Destinations (topics) it passed through, sorted.
    pub topics: Arc<[Arc<str>]>,
    /// Deliveries: distinct (destination, consumer) pairs.
    pub hops: u32,
    /// Spans.
    pub spans: u32,
    /// Kafka messages seen (by the browser or a sampler).
    pub messages: u32,
    /// Failed spans.
    pub failures: u32,
    /// The first failure's message.
    pub error: Option<Arc<str>>,
    /// Outcome.
    pub status: JourneyStatus,
    /// When the collector received the first and the newest of it, Unix ns: the timeline's
    /// cursor compares with them.
    #[serde(skip)]
    pub received_unix_nano: (u64, u64),
}

impl JourneySummary {
    /// Duration from first start to last end, ns.
    pub fn duration_nanos(&self) -> u64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano)
    }

    /// The first key, for the list's key column.
    pub fn key(&self) -> Option<&str> {
        self.keys.first().map(|k| &**k)
    }
}

/// A version no list has had: two lists' versions are equal only when one is a copy of the
/// other.
fn next_version() -> u64 {
    static VERSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    VERSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// What [`JourneyList::derive`] does with a row.
#[derive(Debug)]
pub enum DerivedRow {
    /// Keep it as it is.
    Keep,
    /// Leave it out.
    Drop,
    /// Put this row in its place.
    Replace(JourneySummary),
}

/// Rows per chunk: small enough that copying one on write is cheap, large enough that a
/// snapshot of a million rows is a thousand pointers.
pub const CHUNK_ROWS: usize = 1024;

/// Rows are shared, not owned: a chunk that a snapshot shares is copied when the engine
/// next changes one of its rows, and copying shared rows is a memcpy of pointers. It also
/// keeps a chunk small (8 KB), so the allocator reuses freed ones instead of mapping fresh
/// pages for each.
type Chunk = Vec<Option<Arc<JourneySummary>>>;

/// The journey list: summaries by id, oldest first.
#[derive(Clone, Debug, Default)]
pub struct JourneyList {
    chunks: VecDeque<Arc<Chunk>>,
    live_per_chunk: VecDeque<u32>,
    /// Id of the first slot of the first chunk.
    base: u64,
    live: usize,
    version: u64,
}

impl JourneyList {
    /// Journeys listed.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no journey is listed.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Changes whenever a row changes; lets the UI keep its sorted order otherwise. Unique
    /// across lists (the timeline swaps one list for another of the same length).
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The row of a journey.
    pub fn get(&self, id: JourneyId) -> Option<&JourneySummary> {
        let slot = id.0.checked_sub(self.base)? as usize;
        self.chunks.get(slot / CHUNK_ROWS)?.get(slot % CHUNK_ROWS)?.as_deref()
    }

    /// All rows, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &JourneySummary> {
        self.chunks.iter().flat_map(|c| c.iter().flatten().map(|r| &**r))
    }

    /// A copy of the list with each row kept, dropped or replaced as `row_at` says. Chunks
    /// whose rows are all kept are shared with this list rather than copied, so a list that
    /// differs from this one in a few places costs little more than those places.
    pub fn derive(&self, mut row_at: impl FnMut(&JourneySummary) -> DerivedRow) -> JourneyList {
        let mut out = JourneyList { base: self.base, version: next_version(), ..JourneyList::default() };
        let mut decisions: Vec<(usize, DerivedRow)> = Vec::new();
        let mut empty: Option<Arc<Chunk>> = None;
        for (chunk, live) in self.chunks.iter().zip(&self.live_per_chunk) {
            decisions.clear();
            for (index, row) in chunk.iter().enumerate() {
                match row.as_deref().map(&mut row_at) {
                    None | Some(DerivedRow::Keep) => {}
                    Some(change) => decisions.push((index, change)),
                }
            }
            if decisions.is_empty() {
                out.chunks.push_back(Arc::clone(chunk));
                out.live_per_chunk.push_back(*live);
                out.live += *live as usize;
                continue;
            }
            if decisions.len() == *live as usize && decisions.iter().all(|(_, d)| matches!(d, DerivedRow::Drop)) {
                // Every row left out: one empty chunk serves them all.
                let empty = empty.get_or_insert_with(|| Arc::new(vec![None; CHUNK_ROWS]));
                out.chunks.push_back(Arc::clone(empty));
                out.live_per_chunk.push_back(0);
                continue;
            }
            // Only the rows kept are copied.
            let mut rows: Chunk = vec![None; CHUNK_ROWS];
            let mut changes = decisions.drain(..).peekable();
            for (index, row) in chunk.iter().enumerate() {
                rows[index] = match changes.next_if(|(at, _)| *at == index) {
                    Some((_, DerivedRow::Replace(new))) => Some(Arc::new(new)),
                    Some(_) => None,
                    None => row.clone(),
                };
            }
            let live = rows.iter().flatten().count() as u32;
            out.chunks.push_back(Arc::new(rows));
            out.live_per_chunk.push_back(live);
            out.live += live as usize;
        }
        while out.live_per_chunk.back() == Some(&0) {
            out.chunks.pop_back();
            out.live_per_chunk.pop_back();
        }
        while out.live_per_chunk.front() == Some(&0) {
            out.chunks.pop_front();
            out.live_per_chunk.pop_front();
            out.base += CHUNK_ROWS as u64;
        }
        out
    }

    /// Sets (or replaces) a journey's row.
    pub fn set(&mut self, summary: JourneySummary) {
        let Some(slot) = summary.id.0.checked_sub(self.base) else { return };
        let (chunk, index) = (slot as usize / CHUNK_ROWS, slot as usize % CHUNK_ROWS);
        while self.chunks.len() <= chunk {
            self.chunks.push_back(Arc::new(vec![None; CHUNK_ROWS]));
            self.live_per_chunk.push_back(0);
        }
        let row = &mut Arc::make_mut(&mut self.chunks[chunk])[index];
        if row.is_none() {
            self.live += 1;
            self.live_per_chunk[chunk] += 1;
        }
        *row = Some(Arc::new(summary));
        self.version = next_version();
    }

    /// Removes a journey's row (merged away, evicted, or emptied by a split).
    pub fn remove(&mut self, id: JourneyId) {
        let Some(slot) = id.0.checked_sub(self.base) else { return };
        let (chunk, index) = (slot as usize / CHUNK_ROWS, slot as usize % CHUNK_ROWS);
        let Some(c) = self.chunks.get_mut(chunk) else { return };
        if c[index].is_none() {
            return;
        }
        Arc::make_mut(c)[index] = None;
        self.live -= 1;
        self.live_per_chunk[chunk] -= 1;
        self.version = next_version();
        while self.live_per_chunk.front() == Some(&0) && self.chunks.len() > 1 {
            self.chunks.pop_front();
            self.live_per_chunk.pop_front();
            self.base += CHUNK_ROWS as u64;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64) -> JourneySummary {
        JourneySummary {
            id: JourneyId(id),
            start_unix_nano: id,
            end_unix_nano: id + 10,
            root_service: "svc".into(),
            event_type: "E".into(),
            keys: Arc::new([]),
            message_ids: Arc::new([]),
            trace_ids: Arc::new([]),
            services: Arc::new([]),
            topics: Arc::new([]),
            hops: 0,
            spans: 1,
            messages: 0,
            failures: 0,
            error: None,
            status: JourneyStatus::Ok,
            received_unix_nano: (id, id),
        }
    }

    #[test]
    fn rows_are_found_by_id_and_empty_leading_chunks_are_dropped() {
        let mut list = JourneyList::default();
        for id in 0..3000 {
            list.set(row(id));
        }
        assert_eq!(list.len(), 3000);
        assert_eq!(list.get(JourneyId(2500)).map(|r| r.start_unix_nano), Some(2500));
        let shared = list.clone();
        for id in 0..CHUNK_ROWS as u64 {
            list.remove(JourneyId(id));
        }
        assert_eq!(list.len(), 3000 - CHUNK_ROWS);
        assert_eq!(list.chunks.len(), 2, "the emptied first chunk is dropped");
        assert!(list.get(JourneyId(5)).is_none());
        assert_eq!(list.iter().next().map(|r| r.id), Some(JourneyId(CHUNK_ROWS as u64)));
        // A derived list shares the chunks it does not change.
        let derived = list.derive(|r| match r.id.0 {
            2100 => DerivedRow::Drop,
            2101 => DerivedRow::Replace(JourneySummary { hops: 7, ..r.clone() }),
            _ => DerivedRow::Keep,
        });
        assert_eq!(derived.len(), list.len() - 1);
        assert_eq!(derived.get(JourneyId(2101)).map(|r| r.hops), Some(7));
        assert!(derived.get(JourneyId(2100)).is_none() && list.get(JourneyId(2100)).is_some());
        assert!(Arc::ptr_eq(&derived.chunks[0], &list.chunks[0]), "an unchanged chunk is shared");
        assert!(!Arc::ptr_eq(&derived.chunks[1], &list.chunks[1]));
        assert_ne!(derived.version(), list.version());
        let emptied = list.derive(|r| if r.id.0 >= 2048 { DerivedRow::Drop } else { DerivedRow::Keep });
        assert_eq!((emptied.len(), emptied.chunks.len()), (1024, 1), "trailing empty chunks go");
        let later = list.derive(|r| if r.id.0 < 2048 { DerivedRow::Drop } else { DerivedRow::Keep });
        assert_eq!((later.len(), later.chunks.len()), (952, 1), "and leading ones");
        assert_eq!(later.get(JourneyId(2048)).map(|r| r.id), Some(JourneyId(2048)));
        assert!(later.get(JourneyId(2047)).is_none());
        // Versions tell lists apart, not only changes to one list.
        let mut other = JourneyList::default();
        (0..3000 - CHUNK_ROWS as u64).for_each(|id| other.set(row(id)));
        assert_ne!(other.version(), list.version());
        // The clone a snapshot holds is untouched by later writes.
        assert_eq!(shared.len(), 3000);
        assert!(shared.get(JourneyId(5)).is_some());
    }
}
