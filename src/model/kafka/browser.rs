//! The message browser's contents: the messages one browse (or search) has streamed in so
//! far, and its progress. Stored as the batches they arrived in, each behind an `Arc`, so a
//! snapshot shares them instead of copying; a batch the engine also keeps in its timeline is
//! shared with that record rather than copied out of it.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::message::KafkaMessage;
use crate::model::record::Record;
use crate::model::size::HeapSize;

/// The most messages one browse keeps; older ones are dropped (and counted).
pub const MAX_BROWSED: usize = 200_000;
/// The most bytes (estimated, [`HeapSize`]) one browse keeps unless the memory budget says
/// otherwise ([`MessageBrowser::set_max_bytes`]).
pub const DEFAULT_MAX_BROWSED_BYTES: usize = 512 * 1024 * 1024;

/// How far a browse has got.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrowseProgress {
    /// Messages read from the broker so far.
    pub scanned: u64,
    /// Messages to read in all (from start positions to the high watermarks at the start);
    /// `None` while tailing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
    /// Messages that passed the filter.
    pub matched: u64,
    /// The browse has read everything it was asked to (or was cancelled).
    pub done: bool,
    /// Why it stopped early, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The messages of one batch, as the browser holds them.
#[derive(Clone, Debug)]
pub enum BatchMessages {
    /// Moved in: the browser is their only holder.
    Owned(Arc<Vec<KafkaMessage>>),
    /// The record that carried them, which the timeline keeps too: one copy for both.
    Shared(Arc<Record>),
}

impl BatchMessages {
    /// The messages.
    pub fn get(&self) -> &[KafkaMessage] {
        match self {
            Self::Owned(messages) => messages,
            Self::Shared(record) => record.messages(),
        }
    }
}

/// One batch kept, with the services that produced its messages (by position) when the
/// engine found them by `traceparent`.
#[derive(Clone, Debug)]
struct Chunk {
    messages: BatchMessages,
    producers: Option<Arc<[Option<String>]>>,
}

/// Messages from one browse.
#[derive(Clone, Debug, Default)]
pub struct MessageBrowser {
    /// The browse these messages belong to (0: none yet).
    pub browse: u64,
    /// What is being browsed, for the title.
    pub topic: String,
    /// Progress as last reported.
    pub progress: BrowseProgress,
    chunks: Vec<Chunk>,
    starts: Vec<usize>,
    /// Each chunk's estimated bytes.
    chunk_bytes: Vec<usize>,
    len: usize,
    bytes: usize,
    /// The browser's share of the memory budget; 0 until set means the default.
    max_bytes: usize,
    evicted: u64,
}

impl MessageBrowser {
    /// Adds a batch of browse `browse`. A newer browse replaces the messages; batches of an
    /// older one (cancelled, still in flight) are ignored.
    pub fn push(&mut self, browse: u64, topic: &str, messages: Vec<KafkaMessage>, progress: Option<BrowseProgress>) {
        self.push_batch(browse, topic, BatchMessages::Owned(Arc::new(messages)), None, progress);
    }

    /// As [`MessageBrowser::push`], for messages held as `messages` (shared with the record
    /// that carried them, say), produced by `producers` (by position) when known.
    pub fn push_batch(
        &mut self,
        browse: u64,
        topic: &str,
        messages: BatchMessages,
        producers: Option<Arc<[Option<String>]>>,
        progress: Option<BrowseProgress>,
    ) {
        if browse < self.browse {
            return;
        }
        if browse > self.browse {
            *self = Self { browse, topic: topic.to_owned(), max_bytes: self.max_bytes, ..Self::default() };
        }
        if let Some(p) = progress {
            self.progress = p;
        }
        let count = messages.get().len();
        if count == 0 {
            return;
        }
        // A shared batch's bytes are the timeline's too: counted in both, the figure errs high.
        let bytes = messages.get().iter().map(HeapSize::total_bytes).sum::<usize>();
        self.starts.push(self.len + self.evicted as usize);
        self.len += count;
        self.bytes += bytes;
        self.chunk_bytes.push(bytes);
        self.chunks.push(Chunk { messages, producers });
        while (self.len > MAX_BROWSED || self.bytes > self.max_bytes()) && self.chunks.len() > 1 {
            let first = self.chunks.remove(0).messages.get().len();
            self.starts.remove(0);
            self.bytes -= self.chunk_bytes.remove(0);
            self.len -= first;
            self.evicted += first as u64;
        }
    }

    /// Keeps at most `bytes` of messages (estimated), the oldest dropped first: the browser's
    /// share of the memory budget.
    pub fn set_max_bytes(&mut self, bytes: usize) {
        self.max_bytes = bytes.max(1);
    }

    fn max_bytes(&self) -> usize {
        if self.max_bytes == 0 { DEFAULT_MAX_BROWSED_BYTES } else { self.max_bytes }
    }

    /// The estimated bytes of the messages kept.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Messages kept.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no message is kept.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Messages dropped to stay within [`MAX_BROWSED`] and the byte share.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// The `row`-th kept message, oldest first.
    pub fn get(&self, row: usize) -> Option<&KafkaMessage> {
        let (chunk, at) = self.locate(row)?;
        chunk.messages.get().get(at)
    }

    /// The service that produced the `row`-th kept message, when spans name it.
    pub fn produced_by(&self, row: usize) -> Option<&str> {
        let (chunk, at) = self.locate(row)?;
        chunk.producers.as_ref()?.get(at)?.as_deref()
    }

    /// The batch holding the `row`-th kept message, and its place there.
    fn locate(&self, row: usize) -> Option<(&Chunk, usize)> {
        let absolute = row + self.evicted as usize;
        let chunk = self.starts.partition_point(|&s| s <= absolute).checked_sub(1)?;
        Some((self.chunks.get(chunk)?, absolute - self.starts[chunk]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kafka::message::{MessageLinks, TimestampType};

    fn batch(offsets: std::ops::Range<i64>) -> Vec<KafkaMessage> {
        offsets
            .map(|offset| KafkaMessage {
                topic: "t".into(),
                partition: 0,
                offset,
                timestamp_ms: None,
                timestamp_type: TimestampType::NotAvailable,
                key: None,
                headers: vec![],
                payload: None,
                size: 0,
                links: MessageLinks::default(),
            })
            .collect()
    }

    #[test]
    fn rows_index_across_batches_and_a_newer_browse_replaces_an_older_one() {
        let mut b = MessageBrowser::default();
        b.push(1, "t", batch(0..3), None);
        b.push(1, "t", batch(3..5), Some(BrowseProgress { scanned: 5, ..Default::default() }));
        assert_eq!(b.len(), 5);
        assert_eq!(b.get(3).map(|m| m.offset), Some(3));
        assert_eq!(b.get(5), None);
        b.push(2, "u", batch(10..11), None);
        assert_eq!((b.len(), b.topic.as_str(), b.progress.scanned), (1, "u", 0));
        b.push(1, "t", batch(20..30), None);
        assert_eq!(b.len(), 1, "a late batch of a cancelled browse is ignored");
    }

    #[test]
    fn a_shared_batch_is_read_from_its_record_with_the_producers_beside_it() {
        let owned = batch(0..2);
        use crate::model::kafka::{KafkaEvent, KafkaRecord, MessageBatch};
        let record = Arc::new(Record::Kafka(KafkaRecord {
            received_unix_nano: 1,
            cluster: "c".into(),
            event: KafkaEvent::Messages(MessageBatch {
                browse: 1,
                topic: "t".into(),
                messages: batch(2..5),
                progress: None,
            }),
        }));
        let mut b = MessageBrowser::default();
        b.push(1, "t", owned, None);
        let producers: Arc<[Option<String>]> = vec![None, Some("orders-api".into()), None].into();
        b.push_batch(1, "t", BatchMessages::Shared(Arc::clone(&record)), Some(producers), None);
        assert_eq!(b.len(), 5);
        assert_eq!(b.get(3).map(|m| m.offset), Some(3));
        assert!(std::ptr::eq(b.get(2).unwrap(), &BatchMessages::Shared(Arc::clone(&record)).get()[0]), "not copied");
        assert_eq!(
            (b.produced_by(1), b.produced_by(2), b.produced_by(3)),
            (None, None, Some("orders-api")),
            "a batch moved in without producers names none"
        );
        assert_eq!(b.produced_by(5), None);
    }

    #[test]
    fn the_oldest_batches_go_beyond_the_cap() {
        let mut b = MessageBrowser::default();
        let per = MAX_BROWSED as i64 / 2;
        for i in 0..3 {
            b.push(1, "t", batch(i * per..(i + 1) * per), None);
        }
        assert_eq!(b.len(), MAX_BROWSED);
        assert_eq!(b.evicted(), per as u64);
        assert_eq!(b.get(0).map(|m| m.offset), Some(per));
        assert_eq!(b.get(MAX_BROWSED - 1).map(|m| m.offset), Some(3 * per - 1));
    }

    #[test]
    fn the_oldest_batches_go_beyond_the_byte_share_and_the_share_survives_a_new_browse() {
        let mut b = MessageBrowser::default();
        b.set_max_bytes(1_000_000);
        let big = |range: std::ops::Range<i64>| {
            let mut messages = batch(range);
            for m in &mut messages {
                m.payload = Some(vec![b'x'; 64 * 1024]);
            }
            messages
        };
        for i in 0..10 {
            b.push(1, "t", big(i * 4..(i + 1) * 4), None);
        }
        // Four 64 KiB messages a batch: three batches fit in a million bytes.
        assert!(b.bytes() <= 1_000_000, "{}", b.bytes());
        assert_eq!((b.len(), b.evicted()), (12, 28));
        assert_eq!(b.get(0).map(|m| m.offset), Some(28));
        b.push(2, "u", big(0..20), None);
        assert_eq!(b.len(), 20, "one batch is always kept");
        b.push(2, "u", big(20..21), None);
        assert_eq!(b.len(), 1, "the share still holds in the new browse");
    }
}
