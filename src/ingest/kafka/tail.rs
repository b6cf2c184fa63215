//! What the poller reads of the messages themselves: the **tail** of every non-internal topic
//! (what is new on each partition since the last poll, for findings, journeys and recordings)
//! and **samples** of dead-letter topics (whose provenance headers draw the edge back to the
//! topic the messages failed in, read as they were before the tail existed).
//!
//! Both use the poller's reader client: it assigns partitions at explicit offsets and polls;
//! it never subscribes (so joins no group) and never commits (`enable.auto.commit=false`,
//! `enable.auto.offset.store=false`). What they read is sent as batches with `browse` 0.
//!
//! The tail is bounded per topic and poll. A read a bound cuts short goes on where it stopped;
//! a partition further behind than [`TAIL_MAX_MESSAGES_PER_TOPIC`] skips ahead to its latest
//! [`TAIL_FIRST_READ`] messages, and what it skips is counted.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::config::TailConfig;
use super::context::WatchContext;
use super::reader::to_message;
use crate::model::kafka::message::{KafkaMessage, is_dead_letter_topic};
use crate::model::kafka::observation::{MessageBatch, Watermark};

/// How many of a partition's latest messages the tail reads when it first sees it, and where
/// a partition too far behind starts again: recent payloads to judge at once, no history.
pub const TAIL_FIRST_READ: i64 = 200;
/// The most messages one poll reads of one topic, shared among its partitions, and how far a
/// partition may fall behind before it skips ahead: a busy topic cannot flood the engine's
/// queue or the recording (2,000 per 5 s poll is 400 messages a second).
pub const TAIL_MAX_MESSAGES_PER_TOPIC: u64 = 2_000;
/// The most payload bytes one poll reads of one topic (a larger first message is still read):
/// payloads cost bandwidth, memory and recording space (4 MiB per 5 s poll is < 1 MiB/s).
pub const TAIL_MAX_BYTES_PER_TOPIC: usize = 4 << 20;
/// How long one tail read may take: the poll's offsets record waits for it.
const TAIL_READ_BUDGET: Duration = Duration::from_secs(2);
/// How long a tail read waits after the last message it kept. A partition ending in
/// transaction markers never delivers its last offsets; the consumer's position passes them.
const TAIL_IDLE: Duration = Duration::from_millis(500);
/// How long one poll for a message may block.
const POLL_WAIT: Duration = Duration::from_millis(100);
/// How many of a dead-letter partition's latest messages the first sample reads.
const DEAD_LETTER_FIRST_SAMPLE: i64 = 500;
/// The most messages one dead-letter sample reads.
const DEAD_LETTER_MAX_READ: usize = 2_000;
/// How long one dead-letter sample may take.
const DEAD_LETTER_READ_BUDGET: Duration = Duration::from_secs(2);

/// Whether a topic is the cluster's own (`__consumer_offsets`, `__transaction_state`, ...).
pub fn is_internal_topic(name: &str) -> bool {
    name.starts_with("__")
}

/// Whether the tail reads `topic`: selected, neither internal nor dead-letter (sampled instead).
fn is_tailed(topic: &str, config: &TailConfig) -> bool {
    config.selects(topic) && !is_internal_topic(topic) && !is_dead_letter_topic(topic)
}

/// Messages the poller read, as one batch per topic.
pub(super) fn batches(messages: Vec<KafkaMessage>) -> Vec<MessageBatch> {
    let mut by_topic: BTreeMap<String, Vec<KafkaMessage>> = BTreeMap::new();
    for m in messages {
        by_topic.entry(m.topic.clone()).or_default().push(m);
    }
    by_topic.into_iter().map(|(topic, messages)| MessageBatch { browse: 0, topic, messages, progress: None }).collect()
}

/// The tail's bounds: [`TailBounds::DEFAULT`] in use, smaller ones in tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct TailBounds {
    first_read: i64,
    max_messages: u64,
    max_bytes: usize,
}

impl TailBounds {
    /// [`TAIL_FIRST_READ`], [`TAIL_MAX_MESSAGES_PER_TOPIC`], [`TAIL_MAX_BYTES_PER_TOPIC`].
    pub(super) const DEFAULT: Self = Self {
        first_read: TAIL_FIRST_READ,
        max_messages: TAIL_MAX_MESSAGES_PER_TOPIC,
        max_bytes: TAIL_MAX_BYTES_PER_TOPIC,
    };
}

/// One partition's part of a tail read: offsets `from` up to (not including) `to`, the high
/// watermark or less where the topic's message bound is shared among partitions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct TailRange {
    topic: String,
    partition: i32,
    from: i64,
    to: i64,
}

/// Where the tail of each partition stands, and how many messages it skipped.
#[derive(Debug, Default)]
pub(super) struct TailState {
    /// The next offset to read, per tailed (topic, partition).
    next: HashMap<(String, i32), i64>,
    /// New messages passed over this session: by partitions too far behind, or deleted by
    /// retention before the tail read them.
    skipped: u64,
}

impl TailState {
    /// Messages skipped this session.
    pub(super) fn skipped(&self) -> u64 {
        self.skipped
    }

    /// This poll's reads: each tailed partition from where its last read stopped (its latest
    /// `first_read` messages the first time) to its high watermark, each topic's message bound
    /// shared fairly among its partitions. A partition further behind than the bound skips
    /// ahead to its latest `first_read` messages, counting what it skips.
    pub(super) fn plan(&mut self, watermarks: &[Watermark], config: &TailConfig, bounds: TailBounds) -> Vec<TailRange> {
        let mut by_topic: BTreeMap<&str, Vec<(i32, i64, u64)>> = BTreeMap::new();
        let mut tailed: HashSet<(&str, i32)> = HashSet::new();
        for w in watermarks.iter().filter(|w| is_tailed(&w.topic, config)) {
            tailed.insert((w.topic.as_str(), w.partition));
            let latest = (w.high - bounds.first_read).max(w.low);
            let key = (w.topic.clone(), w.partition);
            let from = match self.next.get(&key).copied() {
                // First seen, or its offsets went back (truncated, or the topic re-created).
                None => latest,
                Some(next) if next > w.high => latest,
                Some(next) => {
                    let mut from = next.max(w.low);
                    if u64::try_from(w.high - from).unwrap_or(0) > bounds.max_messages {
                        from = from.max(latest);
                    }
                    let skipped = u64::try_from(from - next).unwrap_or(0);
                    if skipped > 0 {
                        tracing::debug!("tail of {}/{}: skipped {skipped} messages", w.topic, w.partition);
                        self.skipped = self.skipped.saturating_add(skipped);
                    }
                    from
                }
            };
            self.next.insert(key, from);
            if from < w.high {
                let want = u64::try_from(w.high - from).unwrap_or(0);
                by_topic.entry(w.topic.as_str()).or_default().push((w.partition, from, want));
            }
        }
        self.next.retain(|(topic, partition), _| tailed.contains(&(topic.as_str(), *partition)));
        let mut ranges = Vec::new();
        for (topic, partitions) in by_topic {
            let wants: Vec<u64> = partitions.iter().map(|&(_, _, want)| want).collect();
            for (&(partition, from, _), share) in partitions.iter().zip(fair_shares(&wants, bounds.max_messages)) {
                if share > 0 {
                    let to = from.saturating_add(i64::try_from(share).unwrap_or(i64::MAX));
                    ranges.push(TailRange { topic: topic.to_owned(), partition, from, to });
                }
            }
        }
        ranges
    }

    /// Moves each partition read on to where the read stopped.
    pub(super) fn advance(&mut self, progress: &TailProgress) {
        for (topic, t) in &progress.topics {
            for (&partition, p) in &t.partitions {
                if let Some(next) = self.next.get_mut(&(topic.clone(), partition)) {
                    *next = (*next).max(p.stop);
                }
            }
        }
    }
}

/// Shares `budget` among wants, smallest first: each gets its want or an equal share of what
/// is left, whichever is less, so no budget goes unused while a want is unmet.
fn fair_shares(wants: &[u64], budget: u64) -> Vec<u64> {
    let mut order: Vec<usize> = (0..wants.len()).collect();
    order.sort_by_key(|&i| wants[i]);
    let mut shares = vec![0; wants.len()];
    let mut left = budget;
    for (done, &i) in order.iter().enumerate() {
        let share = wants[i].min(left / (wants.len() - done) as u64);
        shares[i] = share;
        left -= share;
    }
    shares
}

/// What one tail read kept so far: messages and payload bytes per topic, and per partition
/// where it stands and whether it is still read.
#[derive(Debug)]
pub(super) struct TailProgress {
    bounds: TailBounds,
    topics: HashMap<String, TopicProgress>,
}

/// Partitions a read stopped reading, to pause.
type Stopped = Vec<(String, i32)>;

#[derive(Debug, Default)]
struct TopicProgress {
    messages: u64,
    bytes: usize,
    partitions: HashMap<i32, PartitionProgress>,
}

#[derive(Debug)]
struct PartitionProgress {
    /// The offset to stop before.
    to: i64,
    /// The next offset to read: past the last message kept, or past transaction markers.
    stop: i64,
    /// False once the partition reached `to` or its topic a bound.
    reading: bool,
}

impl TailProgress {
    fn new(ranges: &[TailRange], bounds: TailBounds) -> Self {
        let mut topics: HashMap<String, TopicProgress> = HashMap::new();
        for r in ranges {
            let p = PartitionProgress { to: r.to, stop: r.from, reading: r.from < r.to };
            topics.entry(r.topic.clone()).or_default().partitions.insert(r.partition, p);
        }
        Self { bounds, topics }
    }

    fn reading(&self) -> bool {
        self.topics.values().any(|t| t.partitions.values().any(|p| p.reading))
    }

    /// Takes in a message read; returns whether to keep it. Partitions it stops (their end
    /// reached, or their topic's bound) are added to `stopped`.
    fn on_message(&mut self, topic: &str, partition: i32, offset: i64, bytes: usize, stopped: &mut Stopped) -> bool {
        let bounds = self.bounds;
        let Some(t) = self.topics.get_mut(topic) else { return false };
        let Some(p) = t.partitions.get_mut(&partition) else { return false };
        if !p.reading || offset < p.stop {
            return false;
        }
        if offset >= p.to {
            // Past the end: what was left before it holds no message (transaction markers).
            (p.stop, p.reading) = (p.to, false);
            stopped.push((topic.to_owned(), partition));
            return false;
        }
        if t.messages > 0 && t.bytes.saturating_add(bytes) > bounds.max_bytes {
            cut(topic, t, stopped);
            return false;
        }
        t.messages += 1;
        t.bytes = t.bytes.saturating_add(bytes);
        p.stop = offset + 1;
        if p.stop >= p.to {
            p.reading = false;
            stopped.push((topic.to_owned(), partition));
        }
        if t.messages >= bounds.max_messages || t.bytes >= bounds.max_bytes {
            cut(topic, t, stopped);
        }
        true
    }

    /// Takes in the consumer's position on a partition still read: it passes transaction
    /// markers, which are never delivered.
    fn on_position(&mut self, topic: &str, partition: i32, position: i64) {
        if let Some(p) = self.topics.get_mut(topic).and_then(|t| t.partitions.get_mut(&partition))
            && p.reading
            && position > p.stop
        {
            p.stop = position.min(p.to);
            p.reading = p.stop < p.to;
        }
    }
}

/// Stops reading every partition of a topic that reached a bound.
fn cut(topic: &str, t: &mut TopicProgress, stopped: &mut Stopped) {
    for (&partition, p) in t.partitions.iter_mut().filter(|(_, p)| p.reading) {
        p.reading = false;
        stopped.push((topic.to_owned(), partition));
    }
}

/// Reads the planned ranges: assigns them at their offsets, polls until every partition
/// reached its end or its topic a bound, nothing came for [`TAIL_IDLE`] or
/// [`TAIL_READ_BUDGET`] ran out, and unassigns. Partitions done early are paused meanwhile,
/// so their backlog is not fetched for nothing. Returns the messages kept and where each
/// partition stopped, for [`TailState::advance`].
pub(super) fn read_tail(
    consumer: &BaseConsumer<WatchContext>,
    ranges: &[TailRange],
    bounds: TailBounds,
) -> (Vec<KafkaMessage>, TailProgress) {
    let mut progress = TailProgress::new(ranges, bounds);
    let mut out = Vec::new();
    let mut tpl = TopicPartitionList::new();
    for r in ranges {
        if let Err(e) = tpl.add_partition_offset(&r.topic, r.partition, Offset::Offset(r.from)) {
            tracing::debug!("cannot tail {}/{} from offset {}: {e}", r.topic, r.partition, r.from);
        }
    }
    if let Err(e) = consumer.assign(&tpl) {
        tracing::debug!("cannot assign {} partitions to tail: {e}", tpl.count());
        return (out, progress);
    }
    let started = Instant::now();
    let mut last_kept: Option<Instant> = None;
    let (mut stopped, mut paused) = (Vec::new(), TopicPartitionList::new());
    while progress.reading()
        && started.elapsed() < TAIL_READ_BUDGET
        && last_kept.is_none_or(|t| t.elapsed() < TAIL_IDLE)
    {
        match consumer.poll(POLL_WAIT) {
            Some(Ok(m)) if progress.on_message(m.topic(), m.partition(), m.offset(), m.payload_len(), &mut stopped) => {
                out.push(to_message(&m));
                last_kept = Some(Instant::now());
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => tracing::debug!("tail read: {e}"),
            None => {}
        }
        pause(consumer, &mut stopped, &mut paused);
    }
    match consumer.position() {
        Ok(positions) => {
            for e in positions.elements() {
                if let Offset::Offset(position) = e.offset() {
                    progress.on_position(e.topic(), e.partition(), position);
                }
            }
        }
        Err(e) => tracing::debug!("cannot read the tail's positions; the next read starts past the last message: {e}"),
    }
    // A pause outlives the assignment: the client's other reads must find the partitions fetching.
    if paused.count() > 0
        && let Err(e) = consumer.resume(&paused)
    {
        tracing::debug!("cannot resume {} tailed partitions after the read: {e}", paused.count());
    }
    if let Err(e) = consumer.unassign() {
        tracing::debug!("cannot unassign the tailed partitions: {e}");
    }
    (out, progress)
}

/// Pauses the partitions in `stopped` (emptying it), remembering them in `paused`.
fn pause(consumer: &BaseConsumer<WatchContext>, stopped: &mut Stopped, paused: &mut TopicPartitionList) {
    if stopped.is_empty() {
        return;
    }
    let mut tpl = TopicPartitionList::new();
    for (topic, partition) in stopped.drain(..) {
        tpl.add_partition(&topic, partition);
        paused.add_partition(&topic, partition);
    }
    if let Err(e) = consumer.pause(&tpl) {
        tracing::debug!("cannot pause {} tailed partitions that are done: {e}", tpl.count());
    }
}

/// Where the sampling of each dead-letter partition stands: each poll reads what is new (its
/// latest [`DEAD_LETTER_FIRST_SAMPLE`] messages the first time), at most
/// [`DEAD_LETTER_MAX_READ`] messages in all.
#[derive(Debug, Default)]
pub(super) struct DeadLetterSampler {
    /// The next offset to sample, per dead-letter (topic, partition).
    next: HashMap<(String, i32), i64>,
}

/// A (topic, partition, from, to) range to sample.
pub(super) type SampleRange = (String, i32, i64, i64);

impl DeadLetterSampler {
    /// This poll's samples: what is new in each dead-letter partition.
    pub(super) fn plan(&self, watermarks: &[Watermark]) -> Vec<SampleRange> {
        let mut wanted = Vec::new();
        for w in watermarks.iter().filter(|w| is_dead_letter_topic(&w.topic)) {
            let key = (w.topic.clone(), w.partition);
            let from = self.next.get(&key).copied().unwrap_or((w.high - DEAD_LETTER_FIRST_SAMPLE).max(w.low));
            if from < w.high {
                wanted.push((w.topic.clone(), w.partition, from.max(w.low), w.high));
            }
        }
        wanted
    }

    /// Moves each sampled partition on past what was read (to its end when nothing was).
    pub(super) fn advance(&mut self, wanted: &[SampleRange], messages: &[KafkaMessage]) {
        for (topic, partition, _, high) in wanted {
            let read_to =
                messages.iter().filter(|m| &m.topic == topic && m.partition == *partition).map(|m| m.offset + 1).max();
            // Stop at what was read; anything unread is tried again next poll.
            self.next.insert((topic.clone(), *partition), read_to.unwrap_or(*high).min(*high));
        }
    }
}

/// Reads messages of (topic, partition, from, to) ranges, within the sample's budget.
pub(super) fn read_samples(consumer: &BaseConsumer<WatchContext>, ranges: &[SampleRange]) -> Vec<KafkaMessage> {
    let mut tpl = TopicPartitionList::new();
    for (topic, partition, from, _) in ranges {
        if let Err(e) = tpl.add_partition_offset(topic, *partition, Offset::Offset(*from)) {
            tracing::debug!("cannot sample dead-letter partition {topic}/{partition} from offset {from}: {e}");
        }
    }
    let mut out = Vec::new();
    if let Err(e) = consumer.assign(&tpl) {
        tracing::debug!("cannot assign dead-letter partitions: {e}");
        return out;
    }
    let mut pending: HashMap<(String, i32), i64> = ranges.iter().map(|(t, p, _, to)| ((t.clone(), *p), *to)).collect();
    let deadline = Instant::now() + DEAD_LETTER_READ_BUDGET;
    while !pending.is_empty() && Instant::now() < deadline && out.len() < DEAD_LETTER_MAX_READ {
        match consumer.poll(POLL_WAIT) {
            Some(Ok(m)) => {
                let key = (m.topic().to_owned(), m.partition());
                let Some(&to) = pending.get(&key) else { continue };
                if m.offset() < to {
                    out.push(to_message(&m));
                }
                if m.offset() + 1 >= to {
                    pending.remove(&key);
                }
            }
            Some(Err(e)) => tracing::debug!("dead-letter sample: {e}"),
            None => {}
        }
    }
    if let Err(e) = consumer.unassign() {
        tracing::debug!("cannot unassign the dead-letter partitions: {e}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::kafka::KafkaConfig;
    use crate::ingest::kafka::poller::{READER_GROUP, client_config};

    const SMALL: TailBounds = TailBounds { first_read: 10, max_messages: 50, max_bytes: 1_000 };

    fn w(topic: &str, partition: i32, low: i64, high: i64) -> Watermark {
        Watermark { topic: topic.into(), partition, low, high }
    }

    fn r(topic: &str, partition: i32, from: i64, to: i64) -> TailRange {
        TailRange { topic: topic.into(), partition, from, to }
    }

    fn plan(s: &mut TailState, marks: &[Watermark]) -> Vec<TailRange> {
        s.plan(marks, &TailConfig::default(), SMALL)
    }

    /// Reads every range to its end, as a read no bound cut.
    fn read_all(s: &mut TailState, ranges: &[TailRange]) {
        let mut progress = TailProgress::new(ranges, SMALL);
        ranges.iter().for_each(|r| progress.on_position(&r.topic, r.partition, r.to));
        s.advance(&progress);
    }

    #[test]
    fn the_first_read_takes_the_latest_messages_then_what_is_new() {
        let mut s = TailState::default();
        let ranges = plan(&mut s, &[w("orders", 0, 0, 100), w("orders", 1, 95, 100), w("empty", 0, 7, 7)]);
        assert_eq!(ranges, vec![r("orders", 0, 90, 100), r("orders", 1, 95, 100)]);
        read_all(&mut s, &ranges);
        // An empty partition is remembered too: what comes next is new, not history.
        let ranges = plan(&mut s, &[w("orders", 0, 0, 130), w("orders", 1, 95, 100), w("empty", 0, 7, 9)]);
        assert_eq!(ranges, vec![r("empty", 0, 7, 9), r("orders", 0, 100, 130)]);
        // A read cut short goes on where it stopped.
        let mut progress = TailProgress::new(&ranges, SMALL);
        for offset in 100..110 {
            assert!(progress.on_message("orders", 0, offset, 10, &mut Vec::new()));
        }
        s.advance(&progress);
        assert_eq!(plan(&mut s, &[w("orders", 0, 0, 130)]), vec![r("orders", 0, 110, 130)]);
        assert_eq!(s.skipped(), 0);
    }

    #[test]
    fn a_partition_too_far_behind_skips_ahead_and_counts_what_it_skipped() {
        let mut s = TailState::default();
        let ranges = plan(&mut s, &[w("orders", 0, 0, 100)]);
        read_all(&mut s, &ranges);
        // 51 new messages, more than the bound of 50: only the latest 10 are read.
        let ranges = plan(&mut s, &[w("orders", 0, 0, 151)]);
        assert_eq!((ranges.clone(), s.skipped()), (vec![r("orders", 0, 141, 151)], 41));
        read_all(&mut s, &ranges);
        // Exactly the bound behind reads it all.
        let ranges = plan(&mut s, &[w("orders", 0, 0, 201)]);
        assert_eq!((ranges.clone(), s.skipped()), (vec![r("orders", 0, 151, 201)], 41));
        read_all(&mut s, &ranges);
        // Retention deleted what was not read yet: skipped too.
        assert_eq!((plan(&mut s, &[w("orders", 0, 205, 210)]), s.skipped()), (vec![r("orders", 0, 205, 210)], 45));
        // Offsets that went back (a re-created topic) start again, skipping nothing.
        assert_eq!((plan(&mut s, &[w("orders", 0, 0, 3)]), s.skipped()), (vec![r("orders", 0, 0, 3)], 45));
    }

    #[test]
    fn a_topics_message_bound_is_shared_fairly_among_its_partitions() {
        let mut s = TailState::default();
        let marks = [w("orders", 0, 0, 100), w("orders", 1, 0, 5), w("orders", 2, 0, 100)];
        let ranges = s.plan(&marks, &TailConfig::default(), TailBounds { first_read: 40, ..SMALL });
        assert_eq!(ranges, vec![r("orders", 0, 60, 82), r("orders", 1, 0, 5), r("orders", 2, 60, 83)]);
        assert_eq!(fair_shares(&[100, 100, 100], 10), vec![3, 3, 4]);
        assert_eq!(fair_shares(&[1, 2], 10), vec![1, 2]);
    }

    #[test]
    fn internal_and_dead_letter_topics_are_not_tailed() {
        let mut s = TailState::default();
        let marks = [w("__consumer_offsets", 0, 0, 9), w("orders.DLQ", 0, 0, 9), w("orders", 0, 0, 9)];
        assert_eq!(plan(&mut s, &marks), vec![r("orders", 0, 0, 9)]);
        for name in ["orders.DLQ", "orders-dlt", "payments_dlq", "orders.dead-letter", "DeadLetterQueue"] {
            assert!(is_dead_letter_topic(name), "{name}");
        }
        assert!(!is_dead_letter_topic("dlq-metrics") && !is_internal_topic("orders"));
    }

    #[test]
    fn the_pattern_chooses_the_topics_and_nothing_is_tailed_when_off() {
        let mut s = TailState::default();
        let marks = [w("orders", 0, 0, 9), w("orders.v2", 0, 0, 9), w("payments", 0, 0, 9)];
        let ranges = s.plan(&marks, &TailConfig::new(true, Some("orders.*")).unwrap(), SMALL);
        assert_eq!(ranges, vec![r("orders", 0, 0, 9), r("orders.v2", 0, 0, 9)]);
        let ranges = s.plan(&marks, &TailConfig::new(true, Some("payments")).unwrap(), SMALL);
        assert_eq!((ranges, s.next.len()), (vec![r("payments", 0, 0, 9)], 1));
        assert!(s.plan(&marks, &TailConfig::new(false, None).unwrap(), SMALL).is_empty());
        assert!(s.next.is_empty());
    }

    #[test]
    fn a_read_stops_a_topic_at_a_bound_and_goes_on_there_next_poll() {
        let mut s = TailState::default();
        let ranges = plan(&mut s, &[w("orders", 0, 0, 10), w("orders", 1, 0, 10), w("payments", 0, 0, 10)]);
        let mut progress = TailProgress::new(&ranges, SMALL);
        let mut stopped = Vec::new();
        assert!(progress.on_message("orders", 0, 0, 600, &mut stopped));
        assert!(progress.on_message("orders", 1, 0, 300, &mut stopped));
        // 600 + 300 + 200 would pass 1,000 bytes: not kept, and the topic stops.
        assert!(!progress.on_message("orders", 0, 1, 200, &mut stopped));
        stopped.sort();
        assert_eq!(stopped, [("orders".to_owned(), 0), ("orders".to_owned(), 1)]);
        assert!(!progress.on_message("orders", 1, 1, 1, &mut stopped));
        // Other topics read on; a first message larger than the bound is kept.
        assert!(progress.on_message("payments", 0, 0, 5_000, &mut stopped) && !progress.reading());
        s.advance(&progress);
        let next = |topic: &str, p: i32| s.next[&(topic.to_owned(), p)];
        assert_eq!((next("orders", 0), next("orders", 1), next("payments", 0), s.skipped()), (1, 1, 1, 0));
        // And at its message bound.
        let mut progress = TailProgress::new(&[r("orders", 0, 0, 10)], TailBounds { max_messages: 3, ..SMALL });
        assert!((0..3).all(|offset| progress.on_message("orders", 0, offset, 1, &mut Vec::new())));
        assert!(!progress.reading() && !progress.on_message("orders", 0, 3, 1, &mut Vec::new()));
    }

    #[test]
    fn partitions_end_at_their_range_even_past_undelivered_offsets() {
        let mut progress = TailProgress::new(&[r("orders", 0, 0, 3), r("orders", 1, 0, 5)], SMALL);
        let mut stopped = Vec::new();
        assert!((0..3).all(|offset| progress.on_message("orders", 0, offset, 1, &mut stopped)));
        assert_eq!(stopped, [("orders".to_owned(), 0)]);
        // Offsets 3 and 4 were transaction markers: 5 is past the end.
        assert!(progress.on_message("orders", 1, 2, 1, &mut stopped));
        assert!(!progress.on_message("orders", 1, 5, 1, &mut stopped) && !progress.reading());
        // The consumer's position past markers ends a partition no message ended.
        let mut s = TailState::default();
        let ranges = plan(&mut s, &[w("orders", 0, 0, 9)]);
        let mut progress = TailProgress::new(&ranges, SMALL);
        progress.on_position("orders", 0, 9);
        assert!(!progress.reading());
        s.advance(&progress);
        assert!(plan(&mut s, &[w("orders", 0, 0, 9)]).is_empty());
    }

    #[test]
    fn dead_letter_samples_read_what_is_new_and_batches_go_by_topic() {
        let mut d = DeadLetterSampler::default();
        let marks = [w("orders.DLQ", 0, 0, 800), w("orders", 0, 0, 800)];
        let wanted = d.plan(&marks);
        assert_eq!(wanted, [("orders.DLQ".to_owned(), 0, 300, 800)]);
        d.advance(&wanted, &[]);
        assert!(d.plan(&marks).is_empty());
        assert_eq!(d.plan(&[w("orders.DLQ", 0, 0, 802)]), [("orders.DLQ".to_owned(), 0, 800, 802)]);
        assert!(batches(Vec::new()).is_empty());
    }

    #[test]
    fn the_reader_client_never_commits_whatever_the_properties_say() {
        let mut config = KafkaConfig::new("b:9092");
        config.properties.insert("enable.auto.commit".into(), "true".into());
        config.properties.insert("enable.auto.offset.store".into(), "true".into());
        let c = client_config(&config, Some(READER_GROUP));
        assert_eq!(c.get("enable.auto.commit"), Some("false"));
        assert_eq!(c.get("enable.auto.offset.store"), Some("false"));
        assert_eq!(c.get("group.id"), Some(READER_GROUP));
    }
}
