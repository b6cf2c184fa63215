//! The bounded queue from sources to the engine.
//!
//! Bounded twice: by the number of records and by the number of spans they hold, since one
//! OTLP request may carry one span or twenty thousand. A source never blocks on it: when it
//! is full the source refuses the request with the protocol's "try again later" answer,
//! which is how backpressure reaches the sender instead of growing memory here.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, TrySendError};

use crate::model::record::Record;

/// Queue limits.
#[derive(Clone, Copy, Debug)]
pub struct QueueLimits {
    /// Records in flight.
    pub records: usize,
    /// Spans (items) in flight across those records.
    pub items: usize,
}

impl Default for QueueLimits {
    fn default() -> Self {
        Self { records: 1024, items: 200_000 }
    }
}

/// Why a record was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The engine is behind; retry later.
    #[error("the engine's queue is full")]
    Full,
    /// The engine has stopped.
    #[error("the engine has stopped")]
    Closed,
}

/// The sending side, cloned into every source.
#[derive(Clone, Debug)]
pub struct RecordSender {
    tx: Sender<Record>,
    queued_items: Arc<AtomicUsize>,
    max_items: usize,
    /// Items in the last record offered: what the next request likely holds, so a receiver
    /// can refuse before decoding one that would not fit.
    recent_items: Arc<AtomicUsize>,
}

/// The engine's side.
#[derive(Debug)]
pub struct RecordReceiver {
    rx: Receiver<Record>,
    queued_items: Arc<AtomicUsize>,
}

/// A new queue with the given limits.
pub fn record_queue(limits: QueueLimits) -> (RecordSender, RecordReceiver) {
    let (tx, rx) = crossbeam_channel::bounded(limits.records.max(1));
    let queued_items = Arc::new(AtomicUsize::new(0));
    (
        RecordSender {
            tx,
            queued_items: Arc::clone(&queued_items),
            max_items: limits.items.max(1),
            recent_items: Arc::new(AtomicUsize::new(0)),
        },
        RecordReceiver { rx, queued_items },
    )
}

impl RecordSender {
    /// Queues a record without blocking.
    pub fn try_send(&self, record: Record) -> Result<(), QueueError> {
        let items = record.item_count();
        self.recent_items.store(items, Ordering::Relaxed);
        let before = self.queued_items.fetch_add(items, Ordering::AcqRel);
        // An empty queue takes any record, so one huge request cannot starve forever.
        if before > 0 && before + items > self.max_items {
            self.queued_items.fetch_sub(items, Ordering::AcqRel);
            return Err(QueueError::Full);
        }
        self.tx.try_send(record).map_err(|e| {
            self.queued_items.fetch_sub(items, Ordering::AcqRel);
            match e {
                TrySendError::Full(_) => QueueError::Full,
                TrySendError::Disconnected(_) => QueueError::Closed,
            }
        })
    }

    /// Whether a record would be refused now: the receivers ask before they read a request's
    /// body, so a busy engine costs a sender no upload. A record as large as the last one
    /// offered counts as the next one's size: with same-size requests, the queue is full
    /// when one more would not fit, not only once the items reach the cap (which same-size
    /// requests rarely hit exactly, so they were refused only after decoding).
    pub fn is_full(&self) -> bool {
        let queued = self.queued_items.load(Ordering::Acquire);
        let next = self.recent_items.load(Ordering::Relaxed);
        self.tx.is_full() || queued >= self.max_items || (queued > 0 && queued + next > self.max_items)
    }

    /// Queues a record, waiting for room; for file readers, which must lose nothing.
    pub fn send_blocking(&self, record: Record) -> Result<(), QueueError> {
        let items = record.item_count();
        self.queued_items.fetch_add(items, Ordering::AcqRel);
        self.tx.send(record).map_err(|_| {
            self.queued_items.fetch_sub(items, Ordering::AcqRel);
            QueueError::Closed
        })
    }
}

impl RecordReceiver {
    /// Waits up to `timeout` for the next record.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<Record, RecvTimeoutError> {
        let record = self.rx.recv_timeout(timeout)?;
        self.queued_items.fetch_sub(record.item_count(), Ordering::AcqRel);
        Ok(record)
    }

    /// The next record if one is waiting.
    pub fn try_recv(&self) -> Option<Record> {
        let record = self.rx.try_recv().ok()?;
        self.queued_items.fetch_sub(record.item_count(), Ordering::AcqRel);
        Some(record)
    }

    /// Spans waiting in the queue.
    pub fn queued_items(&self) -> usize {
        self.queued_items.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::{SourceKind, SpanBatch};

    fn batch(n: usize) -> Record {
        let span = crate::testing::span_fixture();
        Record::Spans(SpanBatch { received_unix_nano: 0, source: SourceKind::File, spans: vec![span; n] })
    }

    #[test]
    fn full_by_items_then_drains() {
        let (tx, rx) = record_queue(QueueLimits { records: 10, items: 5 });
        tx.try_send(batch(4)).unwrap();
        assert_eq!(tx.try_send(batch(2)), Err(QueueError::Full));
        assert_eq!(rx.try_recv().map(|r| r.item_count()), Some(4));
        assert_eq!(rx.queued_items(), 0);
        tx.try_send(batch(2)).unwrap();
    }

    #[test]
    fn full_by_records_and_closed() {
        let (tx, rx) = record_queue(QueueLimits { records: 1, items: 100 });
        tx.try_send(batch(1)).unwrap();
        assert_eq!(tx.try_send(batch(1)), Err(QueueError::Full));
        drop(rx);
        assert_eq!(tx.try_send(batch(1)), Err(QueueError::Closed));
    }

    #[test]
    fn full_before_decoding_when_a_request_like_the_last_would_not_fit() {
        let (tx, rx) = record_queue(QueueLimits { records: 100, items: 10 });
        assert!(!tx.is_full(), "an empty queue takes anything");
        tx.try_send(batch(4)).unwrap();
        assert!(!tx.is_full(), "4 + 4 fit in 10");
        tx.try_send(batch(4)).unwrap();
        // 8 queued, below the cap of 10, but another request of 4 would be refused.
        assert!(tx.is_full());
        assert_eq!(tx.try_send(batch(4)), Err(QueueError::Full));
        // A smaller request still fits (8 + 2); then the queue is at its cap.
        tx.try_send(batch(2)).unwrap();
        assert!(tx.is_full(), "10 queued");
        while rx.try_recv().is_some() {}
        assert!(!tx.is_full());
    }
}
