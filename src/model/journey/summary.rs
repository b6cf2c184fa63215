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

/// Rows per chunk: small enough that copying one on write is cheap, large enough that a
/// snapshot of a million rows is a thousand pointers.
pub const CHUNK_ROWS: usize = 1024;

type Chunk = Vec<Option<JourneySummary>>;

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
        self.chunks.get(slot / CHUNK_ROWS)?.get(slot % CHUNK_ROWS)?.as_ref()
    }

    /// All rows, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &JourneySummary> {
        self.chunks.iter().flat_map(|c| c.iter().flatten())
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
        *row = Some(summary);
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
        // Versions tell lists apart, not only changes to one list.
        let mut other = JourneyList::default();
        (0..3000 - CHUNK_ROWS as u64).for_each(|id| other.set(row(id)));
        assert_ne!(other.version(), list.version());
        // The clone a snapshot holds is untouched by later writes.
        assert_eq!(shared.len(), 3000);
        assert!(shared.get(JourneyId(5)).is_some());
    }
}
