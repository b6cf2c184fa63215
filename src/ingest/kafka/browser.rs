//! The message browser's reader: on request it reads a topic (one partition or all) from a
//! chosen position, filters, and streams what matches to the engine in batches with its
//! progress, until it reaches the end it saw at the start, is cancelled, or (live tail)
//! forever. It never commits and never joins a group.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, TryRecvError};
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::{Offset, TopicPartitionList};

use super::config::KafkaConfig;
use super::context::WatchContext;
use super::poller::{READER_GROUP, client_config};
use super::reader::to_message;
use crate::ingest::browse::{BrowseCommand, BrowseHandle, BrowseKind, BrowseRequest, StartAt, next_browse_id};
use crate::model::kafka::browser::BrowseProgress;
use crate::model::kafka::message::KafkaMessage;
use crate::model::kafka::observation::MessageBatch;
use crate::model::kafka::{KafkaEvent, KafkaRecord};
use crate::model::record::Record;
use crate::pipeline::clock::unix_nanos_now;
use crate::pipeline::queue::RecordSender;

const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Matches sent per batch at most, and how long a batch may wait.
const BATCH_MESSAGES: usize = 2_000;
const BATCH_WAIT: Duration = Duration::from_millis(100);

/// A running browser reader; dropping it stops the thread.
#[derive(Debug)]
pub struct BrowserSource {
    shutdown: Arc<AtomicBool>,
    handle: Option<BrowseHandle>,
    join: Option<JoinHandle<()>>,
}

impl BrowserSource {
    /// Starts the reader thread for a cluster.
    pub fn spawn(config: KafkaConfig, sender: RecordSender) -> std::io::Result<Self> {
        let (tx, rx) = crossbeam_channel::bounded(8);
        let handle = BrowseHandle::new(config.name.clone(), BrowseKind::Kafka, tx);
        let shutdown = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&shutdown);
        let join = std::thread::Builder::new()
            .name("eventlens-kafka-browse".into())
            .spawn(move || Reader { shutdown: flag, config, sender, consumer: None }.run(&rx))?;
        Ok(Self { shutdown, handle: Some(handle), join: Some(join) })
    }

    /// The handle the UI sends requests through.
    pub fn handle(&self) -> Option<BrowseHandle> {
        self.handle.clone()
    }

    /// Stops the reader (ending any browse) and waits for it.
    pub fn stop(&mut self) {
        // The UI may still hold handles: a flag, not the channel, ends the thread.
        self.shutdown.store(true, Ordering::Relaxed);
        self.handle = None;
        if let Some(join) = self.join.take()
            && join.join().is_err()
        {
            tracing::error!("the Kafka message reader's thread panicked; its browse ended");
        }
    }
}

impl Drop for BrowserSource {
    fn drop(&mut self) {
        self.stop();
    }
}

struct Reader {
    shutdown: Arc<AtomicBool>,
    config: KafkaConfig,
    sender: RecordSender,
    consumer: Option<BaseConsumer<WatchContext>>,
}

/// How a browse ended.
enum Ended {
    Finished,
    Interrupted(BrowseCommand),
    Closed,
}

impl Reader {
    fn run(mut self, commands: &Receiver<BrowseCommand>) {
        let mut next = None;
        while !self.shutdown.load(Ordering::Relaxed) {
            let command = match next.take() {
                Some(c) => c,
                None => match commands.recv_timeout(Duration::from_millis(200)) {
                    Ok(c) => c,
                    Err(RecvTimeoutError::Timeout) => continue,
                    Err(RecvTimeoutError::Disconnected) => return,
                },
            };
            let BrowseCommand::Start(request) = command else { continue };
            match self.browse(&request, commands) {
                Ended::Finished => {}
                Ended::Interrupted(c) => next = Some(c),
                Ended::Closed => return,
            }
        }
    }

    fn consumer(&mut self) -> Result<&BaseConsumer<WatchContext>, KafkaError> {
        if self.consumer.is_none() {
            let mut c = client_config(&self.config, Some(READER_GROUP));
            c.set("enable.partition.eof", "true");
            // Below the log start, read from it (time lookups probe such offsets).
            c.set("auto.offset.reset", "earliest");
            self.consumer = Some(c.create_with_context(WatchContext::default())?);
        }
        self.consumer.as_ref().ok_or(KafkaError::ClientCreation("no consumer".into()))
    }

    fn send(&self, browse: u64, topic: &str, messages: Vec<KafkaMessage>, progress: &BrowseProgress) -> bool {
        let batch = MessageBatch { browse, topic: topic.to_owned(), messages, progress: Some(progress.clone()) };
        let record = KafkaRecord {
            received_unix_nano: unix_nanos_now(),
            cluster: self.config.name.clone(),
            event: KafkaEvent::Messages(batch),
        };
        self.sender.send_blocking(Record::Kafka(record)).is_ok()
    }

    fn browse(&mut self, request: &BrowseRequest, commands: &Receiver<BrowseCommand>) -> Ended {
        let browse = next_browse_id();
        let mut progress = BrowseProgress::default();
        let config = self.config.clone();
        let plan = match self.consumer().and_then(|c| plan(&config, c, request)) {
            Ok(plan) => plan,
            Err(e) => {
                progress.done = true;
                progress.error = Some(format!("cannot read {}: {e}", request.topic));
                return if self.send(browse, &request.topic, Vec::new(), &progress) {
                    Ended::Finished
                } else {
                    Ended::Closed
                };
            }
        };
        progress.total = (!request.follow).then(|| plan.values().map(|(s, e)| (e - s).max(0) as u64).sum());
        if !self.send(browse, &request.topic, Vec::new(), &progress) {
            return Ended::Closed;
        }
        let Some(consumer) = &self.consumer else { return Ended::Finished };
        let mut tpl = TopicPartitionList::new();
        let added = plan.iter().try_for_each(|(&p, &(start, _))| {
            tpl.add_partition_offset(&request.topic, p, Offset::Offset(start))
                .map_err(|e| format!("cannot start partition {p} at offset {start}: {e}"))
        });
        if let Err(e) = added.and_then(|()| consumer.assign(&tpl).map_err(|e| e.to_string())) {
            progress.done = true;
            progress.error = Some(format!("cannot assign partitions: {e}"));
            return if self.send(browse, &request.topic, Vec::new(), &progress) {
                Ended::Finished
            } else {
                Ended::Closed
            };
        }
        let mut remaining: BTreeSet<i32> = plan.iter().filter(|(_, (s, e))| s < e).map(|(p, _)| *p).collect();
        let mut batch = Vec::with_capacity(BATCH_MESSAGES);
        let mut last_flush = Instant::now();
        let ended = loop {
            if self.shutdown.load(Ordering::Relaxed) {
                break Ended::Finished;
            }
            match commands.try_recv() {
                Ok(BrowseCommand::Stop) | Err(TryRecvError::Disconnected) => break Ended::Finished,
                Ok(c) => break Ended::Interrupted(c),
                Err(TryRecvError::Empty) => {}
            }
            if !request.follow && remaining.is_empty() {
                break Ended::Finished;
            }
            if progress.matched >= request.limit as u64 {
                progress.error = Some(format!("stopped at {} matches", request.limit));
                break Ended::Finished;
            }
            match consumer.poll(Duration::from_millis(50)) {
                None => {}
                Some(Err(KafkaError::PartitionEOF(p))) => {
                    remaining.remove(&p);
                }
                Some(Err(e)) => {
                    // librdkafka keeps retrying; say why nothing arrives meanwhile.
                    tracing::debug!("browse {}: {e}", request.topic);
                    progress.error = Some(e.to_string());
                }
                Some(Ok(m)) => {
                    progress.error = None;
                    let p = rdkafka::message::Message::partition(&m);
                    let offset = rdkafka::message::Message::offset(&m);
                    let end = plan.get(&p).map_or(i64::MAX, |&(_, e)| e);
                    if !request.follow && offset >= end {
                        remaining.remove(&p);
                        continue;
                    }
                    progress.scanned += 1;
                    if !request.follow && offset + 1 >= end {
                        remaining.remove(&p);
                    }
                    let message = to_message(&m);
                    if request.filter.matches(&message) {
                        progress.matched += 1;
                        batch.push(message);
                    }
                }
            }
            if batch.len() >= BATCH_MESSAGES || last_flush.elapsed() >= BATCH_WAIT {
                if !self.send(browse, &request.topic, take_batch(&mut batch), &progress) {
                    return Ended::Closed;
                }
                last_flush = Instant::now();
            }
        };
        if let Err(e) = consumer.unassign() {
            // The next browse assigns afresh; this one's partitions only linger until then.
            tracing::debug!("the message reader could not unassign {}: {e}", request.topic);
        }
        progress.done = true;
        if !self.send(browse, &request.topic, take_batch(&mut batch), &progress) {
            return Ended::Closed;
        }
        ended
    }
}

/// (start, end) offsets per partition: start from the request, end the high watermark now.
fn plan(
    config: &KafkaConfig,
    consumer: &BaseConsumer<WatchContext>,
    request: &BrowseRequest,
) -> Result<BTreeMap<i32, (i64, i64)>, KafkaError> {
    let metadata = consumer.fetch_metadata(Some(&request.topic), REQUEST_TIMEOUT)?;
    let partitions: Vec<i32> = metadata
        .topics()
        .iter()
        .filter(|t| t.name() == request.topic && t.error().is_none())
        .flat_map(|t| t.partitions().iter().map(|p| p.id()))
        .filter(|p| request.partition.is_none_or(|wanted| wanted == *p))
        .collect();
    if partitions.is_empty() {
        return Err(KafkaError::MetadataFetch(rdkafka::types::RDKafkaErrorCode::UnknownTopicOrPartition));
    }
    let mut plan = BTreeMap::new();
    let mut by_time = TopicPartitionList::new();
    for p in partitions {
        let (low, high) = consumer.fetch_watermarks(&request.topic, p, REQUEST_TIMEOUT)?;
        let start = match request.start {
            StartAt::Earliest => low,
            StartAt::Latest(n) => (high - i64::try_from(n).unwrap_or(i64::MAX)).max(low),
            StartAt::Offset(o) => o.clamp(low, high),
            StartAt::Timestamp(t) => {
                by_time.add_partition_offset(&request.topic, p, Offset::Offset(t))?;
                high
            }
        };
        plan.insert(p, (start, high));
    }
    if by_time.count() > 0 {
        let StartAt::Timestamp(target) = request.start else { return Ok(plan) };
        let answers = consumer.offsets_for_times(by_time, REQUEST_TIMEOUT)?;
        for e in answers.elements() {
            let p = e.partition();
            let Some(&(_, high)) = plan.get(&p) else { continue };
            let answer = match e.offset() {
                Offset::Offset(o) => o.min(high),
                _ => high,
            };
            let start = verified_time_offset(config, &request.topic, p, high, target, answer);
            if let Some(entry) = plan.get_mut(&p) {
                entry.0 = start;
            }
        }
    }
    Ok(plan)
}

/// The first offset whose timestamp is at or after `target`. Takes the broker's answer when
/// the records around it agree, else searches by reading single records (some brokers'
/// time lookup is wrong); assumes timestamps grow with offsets, as Kafka's time index does.
/// The search starts at offset 0 rather than the reported log start (which such brokers get
/// wrong too): reading below the log start yields its first record, which keeps the search
/// correct.
fn verified_time_offset(config: &KafkaConfig, topic: &str, partition: i32, high: i64, target: i64, answer: i64) -> i64 {
    let at_or_after = |offset: i64| -> Option<bool> {
        if offset >= high {
            return Some(true);
        }
        record_timestamp(config, topic, partition, offset).map(|ts| ts >= target)
    };
    let answer_ok = at_or_after(answer) == Some(true) && (answer == 0 || at_or_after(answer - 1) == Some(false));
    if answer_ok {
        return answer;
    }
    let (mut lo, mut hi) = (0, high);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match at_or_after(mid) {
            Some(true) => hi = mid,
            Some(false) => lo = mid + 1,
            None => {
                lo = answer;
                break;
            }
        }
    }
    lo
}

/// The timestamp of the record at `offset` (or the next one present), read by a client of
/// its own, so nothing fetched for an earlier probe can answer this one.
fn record_timestamp(config: &KafkaConfig, topic: &str, partition: i32, offset: i64) -> Option<i64> {
    let mut c = client_config(config, Some(READER_GROUP));
    c.set("auto.offset.reset", "earliest");
    let consumer: BaseConsumer<WatchContext> = c.create_with_context(WatchContext::default()).ok()?;
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, partition, Offset::Offset(offset)).ok()?;
    consumer.assign(&tpl).ok()?;
    let deadline = Instant::now() + REQUEST_TIMEOUT;
    while Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(50))
            && rdkafka::message::Message::offset(&m) >= offset
        {
            return rdkafka::message::Message::timestamp(&m).to_millis();
        }
    }
    None
}

/// The batch read so far, at its exact size (the timeline and the browser keep it, and count
/// it by its messages), and a new one with room for a whole batch: filled by pushes, a batch
/// grew by doubling, copying every message it held and leaving up to half its room unused.
fn take_batch(batch: &mut Vec<KafkaMessage>) -> Vec<KafkaMessage> {
    if batch.is_empty() {
        // Progress alone: the room stays for the next messages.
        return Vec::new();
    }
    let mut full = std::mem::replace(batch, Vec::with_capacity(BATCH_MESSAGES));
    full.shrink_to_fit();
    full
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kafka::testing::message;

    #[test]
    fn a_batch_leaves_at_its_size_and_the_next_has_room_for_a_whole_one() {
        let mut batch = Vec::with_capacity(BATCH_MESSAGES);
        assert!(take_batch(&mut batch).is_empty());
        assert_eq!(batch.capacity(), BATCH_MESSAGES, "an empty send keeps the room");
        batch.extend((0..3).map(|offset| message("orders", 0, offset, "k", b"{}")));
        let sent = take_batch(&mut batch);
        assert_eq!((sent.len(), sent.capacity()), (3, 3));
        assert!(batch.is_empty() && batch.capacity() >= BATCH_MESSAGES);
    }
}
