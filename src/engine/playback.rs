//! Scrubbing through a session: the records the engine applied, kept in order, with periodic
//! checkpoints of the model, so the state at any moment is one checkpoint clone plus a short
//! replay away.
//!
//! The engine's head state applies every record as it arrives (and the recording goes on);
//! the timeline shows a second state, at the cursor, built from the log. Checkpoints hold the
//! flow and Kafka models but not the journeys (the heavy part): the journeys at the cursor are
//! the head's, each cut to the spans and messages received by then
//! ([`crate::model::journey::JourneyStore::summary_at`]). The timeline's share of the memory
//! budget covers the records and the checkpoints together: a checkpoint is counted at the
//! bytes of the flow model it copies, measured when it is taken.
//!
//! Span batches are kept packed ([`packed`]): a seek decodes the ones it replays. Other
//! records (Kafka, NATS and RabbitMQ observations) are kept as they were applied, shared with
//! the message browser.

mod packed;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use self::packed::{PackScratch, PackedSpans};
use super::EngineState;
use crate::model::codec::DecodeError;
use crate::model::dictionary::Dictionary;
use crate::model::record::Record;
use crate::model::size::HeapSize;

/// Default cap on the spans a live timeline keeps (older records and checkpoints are dropped
/// first, so the timeline then starts later). A kept span costs about a hundred bytes packed
/// (it was a kilobyte unpacked, and the cap 250,000); seeking in a million stays within
/// 100 ms (`benches/seek.rs`).
pub const DEFAULT_TIMELINE_SPANS: usize = 1_000_000;
/// The cap when a session file is opened: the whole file is usually wanted on the timeline.
pub const OPEN_TIMELINE_SPANS: usize = 2_000_000;
/// A checkpoint is taken after this many spans ...
const CHECKPOINT_SPANS: usize = 20_000;
/// ... or records, whichever comes first ...
const CHECKPOINT_RECORDS: usize = 2_000;
/// ... once the time since the last one is this many times what checkpoints cost lately, so
/// they take at most about a twenty-first of the engine's time. A checkpoint copies the
/// flow model and the findings memories, but of their join memories only the young
/// generations (the old ones are shared, see `BoundedIndex`): a few megabytes where it was
/// tens. With at most [`MAX_CHECKPOINTS`] kept evenly spread, a seek in 1M records took
/// 16-19 ms at twenty against 32-37 ms before at five (`benches/seek.rs`).
const CHECKPOINT_COST_RATIO: u32 = 20;
/// Checkpoints kept; beyond it the one whose neighbours are closest goes, so they stay
/// evenly spread. Each holds a copy of the flow model (its graph and join indexes); their
/// bytes count against the log's share with the records'.
const MAX_CHECKPOINTS: usize = 32;
/// Bins of the density histogram sent to the UI.
pub const TIMELINE_BINS: usize = 600;
/// Seconds the per-second density covers at most, ending at the newest record: 7 days, so
/// 604,800 bins of 12 bytes (7 MB) at worst. Receive times come from files anyone may write
/// (a record at 0 then one today, or one in the year 2200), so the span between two of them
/// must never size the index; records older than this window stay in the log and are counted
/// in the window's first bin.
pub const MAX_DENSITY_SECONDS: u64 = 7 * 24 * 3600;
const NANOS_PER_SECOND: u64 = 1_000_000_000;

/// How the shown state relates to the newest.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub enum PlaybackMode {
    /// The newest state, live.
    #[default]
    Following,
    /// Held at the cursor (new records are still applied and recorded).
    Paused,
    /// The cursor moves at `speed` times real time; at the newest record it follows.
    Playing {
        /// 0.1 to 100.
        speed: f32,
    },
}

/// The fastest and slowest playback speeds.
pub const SPEEDS: [f32; 7] = [0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 100.0];

/// One bin of the timeline's density histogram.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TimelineBin {
    /// Spans received in the bin.
    pub spans: u32,
    /// Of which failures.
    pub failures: u32,
    /// Records (span batches and Kafka observations) received.
    pub records: u32,
}

impl TimelineBin {
    /// Both bins' counts together.
    fn plus(self, other: Self) -> Self {
        Self {
            spans: self.spans.saturating_add(other.spans),
            failures: self.failures.saturating_add(other.failures),
            records: self.records.saturating_add(other.records),
        }
    }
}

/// The timeline as the UI draws it.
#[derive(Clone, Debug, Default)]
pub struct TimelineView {
    /// Whether the engine keeps a timeline at all.
    pub enabled: bool,
    /// The first kept record's receive time, Unix nanoseconds.
    pub start_unix_nano: u64,
    /// The newest record's receive time.
    pub end_unix_nano: u64,
    /// The moment shown.
    pub cursor_unix_nano: u64,
    /// Following, paused or playing.
    pub mode: PlaybackMode,
    /// Density from `start` on, [`TimelineView::bin_nanos`] per bin.
    pub bins: Arc<[TimelineBin]>,
    /// Width of a bin.
    pub bin_nanos: u64,
    /// Records dropped from the front to stay within the cap.
    pub dropped_records: u64,
    /// When each finding of the whole session was first seen, and how bad it is (markers).
    pub findings: Arc<[(u64, crate::model::findings::Severity)]>,
}

impl TimelineView {
    /// The bin a moment falls in.
    pub fn bin_of(&self, unix_nano: u64) -> usize {
        (unix_nano.saturating_sub(self.start_unix_nano) / self.bin_nanos.max(1)) as usize
    }

    /// The start of the first bin after the cursor's that holds failures.
    pub fn next_failure(&self) -> Option<u64> {
        let from = self.bin_of(self.cursor_unix_nano) + 1;
        let bin = (from..self.bins.len()).find(|b| self.bins[*b].failures > 0)?;
        Some(self.start_unix_nano + bin as u64 * self.bin_nanos)
    }

    /// The start of the last bin before the cursor's that holds failures.
    pub fn previous_failure(&self) -> Option<u64> {
        let to = self.bin_of(self.cursor_unix_nano).min(self.bins.len());
        let bin = (0..to).rev().find(|b| self.bins[*b].failures > 0)?;
        Some(self.start_unix_nano + bin as u64 * self.bin_nanos)
    }
}

/// What was pushed since the last checkpoint: any of them can make the next one due.
#[derive(Clone, Copy, Debug, Default)]
struct SinceCheckpoint {
    spans: usize,
    records: usize,
    bytes: usize,
}

/// When the last checkpoint was taken and what checkpoints cost lately: the next waits a
/// multiple of that.
#[derive(Clone, Copy, Debug)]
struct LastCheckpoint {
    at: Instant,
    /// The checkpoints' cost, smoothed (each new one weighs a quarter). A checkpoint copies
    /// the join memories' young generations, which grow from nothing to half their capacity
    /// and start again: one checkpoint's own cost would space the next by where in that cycle
    /// it fell, bunching cheap ones together and leaving long stretches a seek replays.
    cost: Duration,
}

impl LastCheckpoint {
    fn after(previous: Option<Self>, cost: Duration) -> Self {
        let cost = previous.map_or(cost, |last| (last.cost * 3 + cost) / 4);
        Self { at: Instant::now(), cost }
    }
}

struct Checkpoint {
    /// Records applied (absolute index) when it was taken.
    applied: u64,
    state: EngineState,
    /// What it holds ([`EngineState::timeline_bytes`]) less what the checkpoint before it
    /// holds too: checkpoints taken close together share the join memories' old generations,
    /// and the log counts each once.
    bytes: usize,
}

impl Checkpoint {
    fn of(applied: u64, head: &EngineState, previous: Option<&Checkpoint>) -> Self {
        let state = head.timeline_copy();
        let mut checkpoint = Self { applied, bytes: 0, state };
        checkpoint.measure(previous);
        checkpoint
    }

    /// Measures what it holds beyond `previous` (the checkpoint before it, if any). Shared
    /// parts are shared by checkpoints in a row, so counting each beside the one before it
    /// counts every part once.
    fn measure(&mut self, previous: Option<&Checkpoint>) {
        let shared = previous.map_or(0, |p| self.state.timeline_shared_bytes(&p.state));
        self.bytes = self.state.timeline_bytes().saturating_sub(shared);
    }
}

/// A record as the log keeps it.
#[derive(Debug)]
enum Kept {
    /// A span batch, packed.
    Spans(PackedSpans),
    /// Any other record, shared with the browser and the helper threads.
    Shared(Arc<Record>),
}

/// The kept records, their receive times, checkpoints and per-second density.
pub struct SessionLog {
    records: VecDeque<Kept>,
    /// What the packed span batches refer to.
    dictionary: Dictionary,
    /// Reused while packing.
    scratch: PackScratch,
    /// Packed records that did not decode (a bug: logged, skipped, counted).
    undecodable: AtomicU64,
    /// Receive times, made non-decreasing (a late record counts at the newest time).
    times: VecDeque<u64>,
    spans: VecDeque<u32>,
    /// Each record's estimated size ([`HeapSize`]).
    bytes: VecDeque<usize>,
    /// Absolute index of `records[0]`.
    first_index: u64,
    spans_kept: usize,
    max_spans: usize,
    bytes_kept: usize,
    /// The log's share of the memory budget: records of every kind count, by their size,
    /// and checkpoints by theirs.
    max_bytes: usize,
    checkpoints: VecDeque<Checkpoint>,
    /// The checkpoints' bytes together.
    checkpoint_bytes: usize,
    /// What was pushed since the last checkpoint.
    since_checkpoint: SinceCheckpoint,
    /// Records between checkpoints, at least.
    checkpoint_records: usize,
    /// When the last checkpoint was taken and what it cost.
    last_checkpoint: Option<LastCheckpoint>,
    cost_ratio: u32,
    /// Per-second density from `first_second`, at most [`MAX_DENSITY_SECONDS`] long.
    seconds: VecDeque<TimelineBin>,
    first_second: u64,
    dropped: u64,
}

impl std::fmt::Debug for SessionLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionLog")
            .field("records", &self.records.len())
            .field("checkpoints", &self.checkpoints.len())
            .finish_non_exhaustive()
    }
}

impl SessionLog {
    /// An empty log keeping at most `max_spans` spans.
    pub fn new(max_spans: usize) -> Self {
        Self {
            records: VecDeque::new(),
            dictionary: Dictionary::within(usize::MAX),
            scratch: PackScratch::default(),
            undecodable: AtomicU64::new(0),
            times: VecDeque::new(),
            spans: VecDeque::new(),
            bytes: VecDeque::new(),
            first_index: 0,
            spans_kept: 0,
            max_spans,
            bytes_kept: 0,
            max_bytes: usize::MAX,
            checkpoints: VecDeque::new(),
            checkpoint_bytes: 0,
            since_checkpoint: SinceCheckpoint::default(),
            checkpoint_records: CHECKPOINT_RECORDS,
            last_checkpoint: None,
            cost_ratio: CHECKPOINT_COST_RATIO,
            seconds: VecDeque::new(),
            first_second: 0,
            dropped: 0,
        }
        .starting_from(&EngineState::default())
    }

    /// Starts the log (before its first record) from `head`, which carries the settings its
    /// states are built with (the graph's budget among them), so a state rebuilt from the
    /// start folds the same names as the head did.
    #[must_use]
    pub fn starting_from(mut self, head: &EngineState) -> Self {
        let start = Checkpoint::of(self.first_index + self.records.len() as u64, head, None);
        self.checkpoint_bytes = start.bytes;
        self.checkpoints = VecDeque::from([start]);
        self
    }

    /// Keeps at most `bytes` of records and checkpoints (their estimated size), oldest dropped
    /// first: the log's share of the memory budget. Spans, message batches and polls all
    /// count, and so do the copies of the model the checkpoints hold.
    #[must_use]
    pub fn with_max_bytes(mut self, bytes: usize) -> Self {
        self.max_bytes = bytes.max(1);
        self.dictionary = Dictionary::within(self.max_bytes);
        self
    }

    /// The estimated bytes of the records kept, with the dictionary the packed ones use.
    pub fn bytes_kept(&self) -> usize {
        self.bytes_kept + self.dictionary.bytes()
    }

    /// Strings and resources packed inline because the dictionary was full (the log then
    /// takes more bytes per span, and so keeps fewer).
    pub fn inline_when_full(&self) -> u64 {
        self.dictionary.inline_when_full()
    }

    /// Packed records that did not decode (each one logged): zero unless there is a bug.
    pub fn undecodable(&self) -> u64 {
        self.undecodable.load(Ordering::Relaxed)
    }

    /// The measured bytes of the checkpoints kept.
    pub fn checkpoint_bytes(&self) -> usize {
        self.checkpoint_bytes
    }

    /// Takes checkpoints after `records` records (default 2,000), cost permitting: denser
    /// checkpoints make seeks shorter and cost memory.
    pub fn with_checkpoint_every(mut self, records: usize) -> Self {
        self.checkpoint_records = records.max(1);
        self
    }

    /// Checkpoints whatever they cost (tests that count them must not depend on timing).
    #[cfg(test)]
    fn eager(mut self) -> Self {
        self.cost_ratio = 0;
        self
    }

    /// Records kept.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True before the first record.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// The kept records, oldest first; span batches are decoded.
    pub fn records(&self) -> impl Iterator<Item = Result<Cow<'_, Record>, DecodeError>> {
        self.records.iter().map(|kept| self.record(kept))
    }

    /// A kept record as it was applied; one that does not decode is counted (the caller logs
    /// it, saying what is left out).
    fn record<'a>(&'a self, kept: &'a Kept) -> Result<Cow<'a, Record>, DecodeError> {
        match kept {
            Kept::Spans(packed) => packed.unpack(&self.dictionary).map(Cow::Owned).inspect_err(|_| {
                self.undecodable.fetch_add(1, Ordering::Relaxed);
            }),
            Kept::Shared(record) => Ok(Cow::Borrowed(&**record)),
        }
    }

    /// Checkpoints kept.
    pub fn checkpoints(&self) -> usize {
        self.checkpoints.len()
    }

    /// Where the timeline starts and ends: the first kept receive time (or, when older
    /// records fall before the density window, the window's start, so a record stamped 1970
    /// does not stretch the timeline over decades) and the newest.
    pub fn span(&self) -> Option<(u64, u64)> {
        let first = *self.times.front()?;
        let window = if self.seconds.is_empty() { 0 } else { self.first_second.saturating_mul(NANOS_PER_SECOND) };
        Some((first.max(window), *self.times.back()?))
    }

    /// Keeps `record`, which `head` has just applied; takes a checkpoint of `head` when due.
    pub fn push(&mut self, record: Arc<Record>, head: &EngineState) {
        let (spans, failures) = match &*record {
            Record::Spans(batch) => {
                (batch.spans.len() as u32, batch.spans.iter().filter(|s| s.is_failure()).count() as u32)
            }
            Record::Kafka(_) | Record::Nats(_) | Record::Rabbitmq(_) => (0, 0),
        };
        let at = record.received_unix_nano().max(self.times.back().copied().unwrap_or(0));
        self.count(at, spans, failures);
        let (kept, bytes) = match &*record {
            Record::Spans(batch) => {
                let packed = PackedSpans::pack(batch, &mut self.dictionary, &mut self.scratch);
                let bytes = packed.bytes();
                (Kept::Spans(packed), bytes)
            }
            Record::Kafka(_) | Record::Nats(_) | Record::Rabbitmq(_) => {
                let bytes = record.total_bytes();
                (Kept::Shared(record), bytes)
            }
        };
        self.records.push_back(kept);
        self.times.push_back(at);
        self.spans.push_back(spans);
        self.bytes.push_back(bytes);
        self.spans_kept += spans as usize;
        self.bytes_kept += bytes;
        self.since_checkpoint.spans += spans as usize;
        self.since_checkpoint.records += 1;
        self.since_checkpoint.bytes += bytes;
        // A checkpoint every eighth of the byte share too, so the oldest can be dropped in
        // steps whatever kind of record fills the log (message batches carry no spans).
        let due = self.since_checkpoint.spans >= CHECKPOINT_SPANS
            || self.since_checkpoint.records >= self.checkpoint_records
            || self.since_checkpoint.bytes >= self.max_bytes / 8;
        // The clock is read only once a checkpoint is due (a push is otherwise a few hundred
        // nanoseconds).
        let affordable = || self.last_checkpoint.is_none_or(|last| last.at.elapsed() >= last.cost * self.cost_ratio);
        // Over budget with nothing to drop up to: a checkpoint whatever it costs, once the
        // records since the last one are worth dropping (an eighth of the share), so a model
        // whose copy alone is near the share is not copied again at every record.
        let stuck = self.bytes_kept() + self.checkpoint_bytes > self.max_bytes
            && self.checkpoints.len() < 2
            && self.since_checkpoint.bytes >= self.max_bytes / 8;
        if (due && affordable()) || (stuck && self.since_checkpoint.records > 0) {
            let started = Instant::now();
            self.checkpoint(head);
            self.last_checkpoint = Some(LastCheckpoint::after(self.last_checkpoint, started.elapsed()));
        }
        self.enforce_cap();
    }

    /// Counts a record at `at` in the per-second density. `at` never goes back (`push` makes
    /// receive times non-decreasing), so only the front of the window can fall out: its
    /// seconds are folded into the window's first second that holds records, never
    /// allocated one by one, whatever the jump.
    fn count(&mut self, at: u64, spans: u32, failures: u32) {
        let second = at / NANOS_PER_SECOND;
        if self.seconds.is_empty() {
            self.first_second = second;
        }
        let window_start = second.saturating_sub(MAX_DENSITY_SECONDS - 1);
        if window_start > self.first_second {
            let gone = usize::try_from(window_start - self.first_second).unwrap_or(usize::MAX).min(self.seconds.len());
            let before = self.seconds.drain(..gone).fold(TimelineBin::default(), TimelineBin::plus);
            self.first_second = window_start;
            // Empty seconds at the front carry nothing: the window starts at its first records.
            while self.seconds.front().is_some_and(|bin| *bin == TimelineBin::default()) {
                self.seconds.pop_front();
                self.first_second += 1;
            }
            if self.seconds.is_empty() {
                self.first_second = second;
                self.seconds.push_back(TimelineBin::default());
            }
            if let Some(first) = self.seconds.front_mut() {
                *first = first.plus(before);
            }
        }
        // At most MAX_DENSITY_SECONDS - 1 after `first_second`, whatever `at` was.
        let index =
            usize::try_from(second.saturating_sub(self.first_second).min(MAX_DENSITY_SECONDS - 1)).unwrap_or_default();
        if self.seconds.len() <= index {
            self.seconds.resize(index + 1, TimelineBin::default());
        }
        if let Some(bin) = self.seconds.get_mut(index) {
            *bin = bin.plus(TimelineBin { spans, failures, records: 1 });
        }
    }

    fn checkpoint(&mut self, head: &EngineState) {
        let checkpoint = Checkpoint::of(self.first_index + self.records.len() as u64, head, self.checkpoints.back());
        self.checkpoint_bytes += checkpoint.bytes;
        self.checkpoints.push_back(checkpoint);
        self.since_checkpoint = SinceCheckpoint::default();
        if self.checkpoints.len() > MAX_CHECKPOINTS {
            self.thin_checkpoints();
        }
    }

    /// Drops the checkpoint whose neighbours are closest together, so the longest stretch a
    /// seek replays grows as little as it can. Never the first (the log's start) nor the
    /// newest.
    fn thin_checkpoints(&mut self) {
        let closest = (1..self.checkpoints.len().saturating_sub(1))
            .min_by_key(|&i| self.checkpoints[i + 1].applied - self.checkpoints[i - 1].applied);
        let Some(closest) = closest else { return };
        if let Some(dropped) = self.checkpoints.remove(closest) {
            self.checkpoint_bytes = self.checkpoint_bytes.saturating_sub(dropped.bytes);
            // The one after it now follows another: what they share is not what it shared.
            self.remeasure(closest);
        }
    }

    /// Measures the checkpoint at `index` again beside the one now before it (none, for the
    /// first), after the one that was before it went.
    fn remeasure(&mut self, index: usize) {
        let (before, rest) = self.checkpoints.make_contiguous().split_at_mut(index);
        let Some(checkpoint) = rest.first_mut() else { return };
        let counted = checkpoint.bytes;
        checkpoint.measure(before.last());
        self.checkpoint_bytes = self.checkpoint_bytes.saturating_sub(counted) + checkpoint.bytes;
    }

    /// Drops the oldest records up to the second checkpoint, and the first checkpoint, while
    /// over the span cap or the byte share (records and checkpoints together).
    fn enforce_cap(&mut self) {
        while (self.spans_kept > self.max_spans || self.bytes_kept() + self.checkpoint_bytes > self.max_bytes)
            && self.checkpoints.len() >= 2
        {
            let Some(cut) = self.checkpoints.get(1).map(|c| c.applied) else { break };
            while self.first_index < cut {
                let Some(spans) = self.spans.pop_front() else { break };
                self.bytes_kept -= self.bytes.pop_front().unwrap_or(0);
                self.records.pop_front();
                self.times.pop_front();
                self.spans_kept -= spans as usize;
                self.first_index += 1;
                self.dropped += 1;
            }
            if let Some(first) = self.checkpoints.pop_front() {
                self.checkpoint_bytes = self.checkpoint_bytes.saturating_sub(first.bytes);
                self.remeasure(0);
            }
            if let Some(start) = self.times.front() {
                let second = start / NANOS_PER_SECOND;
                while self.first_second < second && !self.seconds.is_empty() {
                    self.seconds.pop_front();
                    self.first_second += 1;
                }
            }
        }
    }

    /// Absolute index just past the last record received at or before `unix_nano`.
    pub fn index_at(&self, unix_nano: u64) -> u64 {
        self.first_index + self.times.partition_point(|t| *t <= unix_nano) as u64
    }

    /// The state after `target` records (absolute), reusing `current` when it is on the way.
    pub fn state_at(&self, target: u64, current: Option<(u64, EngineState)>) -> (u64, EngineState) {
        let target = target.clamp(self.first_index, self.first_index + self.records.len() as u64);
        let checkpoint = self.checkpoints.iter().rev().find(|c| c.applied <= target);
        let (mut applied, mut state) = match (current, checkpoint) {
            // Going forward from where the cursor is beats cloning an older checkpoint.
            (Some((at, state)), Some(c)) if at <= target && at >= c.applied && at >= self.first_index => (at, state),
            (Some((at, state)), None) if at <= target && at >= self.first_index => (at, state),
            (_, Some(c)) => (c.applied, c.state.timeline_copy()),
            (_, None) => (self.first_index, EngineState::default().timeline_copy()),
        };
        while applied < target {
            let Some(kept) = self.records.get((applied - self.first_index) as usize) else { break };
            match self.record(kept) {
                Ok(Cow::Owned(record)) => state.apply_owned(record),
                Ok(Cow::Borrowed(record)) => state.apply(record),
                Err(e) => tracing::error!(record = applied, "{e}; the timeline's state skips it"),
            }
            applied += 1;
        }
        (applied, state)
    }

    /// The timeline for the UI, with the density folded into at most [`TIMELINE_BINS`] bins.
    pub fn view(&self, cursor_unix_nano: u64, mode: PlaybackMode) -> TimelineView {
        let Some((start, end)) = self.span() else {
            return TimelineView { enabled: true, mode, ..TimelineView::default() };
        };
        let per_bin = self.seconds.len().div_ceil(TIMELINE_BINS).max(1);
        let mut bins = vec![TimelineBin::default(); self.seconds.len().div_ceil(per_bin)];
        for (i, second) in self.seconds.iter().enumerate() {
            if let Some(bin) = bins.get_mut(i / per_bin) {
                *bin = bin.plus(*second);
            }
        }
        TimelineView {
            enabled: true,
            // Bins start on whole seconds.
            start_unix_nano: self.first_second.saturating_mul(NANOS_PER_SECOND),
            end_unix_nano: end.max(start),
            cursor_unix_nano: cursor_unix_nano.clamp(start, end),
            mode,
            bins: bins.into(),
            bin_nanos: per_bin as u64 * NANOS_PER_SECOND,
            dropped_records: self.dropped,
            // The engine adds the head's findings: the log does not know them.
            findings: Arc::from([]),
        }
    }
}

#[cfg(test)]
mod tests;
