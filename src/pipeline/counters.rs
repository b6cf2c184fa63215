//! Ingest counters shared by every source and read by the engine for display.
//!
//! Sources must count what they reject or drop even when the engine is too busy to hear
//! from them, so these are atomics rather than records on the engine's queue.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;

/// Live counters, updated by sources.
#[derive(Debug, Default)]
pub struct IngestCounters {
    /// Spans accepted and queued for the engine.
    pub spans_accepted: AtomicU64,
    /// Spans rejected as invalid (e.g. ids of the wrong length).
    pub spans_rejected: AtomicU64,
    /// Spans dropped because the engine's queue was full.
    pub spans_dropped: AtomicU64,
    /// Requests refused whole (undecodable, oversize, unsupported type, bad encoding).
    pub requests_rejected: AtomicU64,
    /// Requests answered with success or partial success.
    pub requests_accepted: AtomicU64,
    /// Requests refused before their body was read because EventLens was behind (its queue
    /// full, or the bytes in flight at their budget); senders were told to retry.
    pub requests_refused: AtomicU64,
    /// Connections closed at once because a receiver held its maximum.
    pub connections_refused: AtomicU64,
}

impl IngestCounters {
    /// Adds `n` to a counter.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// A consistent-enough copy for display.
    pub fn read(&self) -> IngestTotals {
        IngestTotals {
            spans_accepted: self.spans_accepted.load(Ordering::Relaxed),
            spans_rejected: self.spans_rejected.load(Ordering::Relaxed),
            spans_dropped: self.spans_dropped.load(Ordering::Relaxed),
            requests_rejected: self.requests_rejected.load(Ordering::Relaxed),
            requests_accepted: self.requests_accepted.load(Ordering::Relaxed),
            requests_refused: self.requests_refused.load(Ordering::Relaxed),
            connections_refused: self.connections_refused.load(Ordering::Relaxed),
        }
    }
}

/// A copy of [`IngestCounters`] at one moment.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct IngestTotals {
    /// Spans accepted.
    pub spans_accepted: u64,
    /// Spans rejected as invalid.
    pub spans_rejected: u64,
    /// Spans dropped because the engine's queue was full.
    pub spans_dropped: u64,
    /// Requests refused whole.
    pub requests_rejected: u64,
    /// Requests accepted (fully or partly).
    pub requests_accepted: u64,
    /// Requests refused before decoding because EventLens was behind.
    pub requests_refused: u64,
    /// Connections closed at once because a receiver was full.
    pub connections_refused: u64,
}
