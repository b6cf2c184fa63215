//! The message browser's reader for JetStream: on request it reads a stream from a chosen
//! sequence, one message at a time through `STREAM.MSG.GET` (the next message at or after a
//! sequence, so deleted ones are stepped over), filters, and streams what matches to the
//! engine in batches with its progress, until the last sequence it saw at the start, a
//! cancel, or (live tail) forever. Non-destructive: no consumer is created, nothing is
//! acknowledged, and the stream needs no `allow_direct`.
//!
//! A JetStream message is shown as a Kafka one is: `topic` is the stream, `partition` 0,
//! `offset` the stream sequence, `key` the subject, the timestamp the server's. A key filter
//! that is a subject pattern (`orders.*`, `orders.>`) is asked of the server (the next
//! message at or after a sequence on a matching subject); other key text matches subjects
//! containing it, here.

use std::time::{Duration, Instant};

use async_nats::jetstream::{self, stream};
use crossbeam_channel::{Receiver, TryRecvError};

use super::config::NatsConfig;
use super::watch::connect;
use crate::ingest::browse::{BrowseCommand, BrowseHandle, BrowseKind, BrowseRequest, StartAt, next_browse_id};
use crate::ingest::source_thread::SourceThread;
use crate::model::kafka::browser::BrowseProgress;
use crate::model::kafka::message::{KafkaMessage, MessageFilter, MessageHeader, PAYLOAD_KEEP_BYTES, TimestampType};
use crate::model::kafka::observation::MessageBatch;
use crate::model::nats::{NatsEvent, NatsRecord};
use crate::model::record::Record;
use crate::pipeline::clock::unix_nanos_now;
use crate::pipeline::queue::RecordSender;

/// Matches sent per batch at most, and how long a batch may wait.
const BATCH_MESSAGES: usize = 500;
const BATCH_WAIT: Duration = Duration::from_millis(100);
/// How often a live tail asks for new messages once it has read them all.
const TAIL_WAIT: Duration = Duration::from_millis(250);

/// A running JetStream reader; dropping it stops the thread.
#[derive(Debug)]
pub struct NatsBrowser {
    handle: BrowseHandle,
    thread: SourceThread,
}

impl NatsBrowser {
    /// Starts the reader thread for a server (connecting at its first browse).
    pub fn spawn(config: NatsConfig, sender: RecordSender) -> std::io::Result<Self> {
        let (tx, commands) = crossbeam_channel::bounded(8);
        let handle = BrowseHandle::new(config.name.clone(), BrowseKind::Nats, tx);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("eventlens-nats-browse-io")
            .enable_all()
            .build()?;
        let reader = Reader { config, sender, client: None };
        let thread =
            SourceThread::spawn("eventlens-nats-browse", move |stop| runtime.block_on(reader.run(&commands, &stop)))?;
        Ok(Self { handle, thread })
    }

    /// The handle the UI sends requests through.
    pub fn handle(&self) -> BrowseHandle {
        self.handle.clone()
    }

    /// Stops the reader (ending any browse) and waits for it.
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}

struct Reader {
    config: NatsConfig,
    sender: RecordSender,
    client: Option<async_nats::Client>,
}

/// How a browse ended.
enum Ended {
    Finished,
    Interrupted(Box<BrowseRequest>),
    Closed,
}

impl Reader {
    async fn run(mut self, commands: &Receiver<BrowseCommand>, stop: &Receiver<()>) {
        let mut next = None;
        loop {
            if !matches!(stop.try_recv(), Err(TryRecvError::Empty)) {
                return;
            }
            let request = match next.take() {
                Some(r) => r,
                None => match commands.try_recv() {
                    Ok(BrowseCommand::Start(r)) => r,
                    Ok(BrowseCommand::Stop) => continue,
                    Err(TryRecvError::Empty) => {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    Err(TryRecvError::Disconnected) => return,
                },
            };
            match self.browse(&request, commands, stop).await {
                Ended::Finished => {}
                Ended::Interrupted(r) => next = Some(r),
                Ended::Closed => return,
            }
        }
    }

    async fn browse(
        &mut self,
        request: &BrowseRequest,
        commands: &Receiver<BrowseCommand>,
        stop: &Receiver<()>,
    ) -> Ended {
        let id = next_browse_id();
        let mut progress = BrowseProgress::default();
        let stream = match self.stream(&request.topic).await {
            Ok(s) => s,
            Err(e) => return self.finish(id, request, Vec::new(), progress, Some(e)),
        };
        let (first, mut last) = (stream.cached_info().state.first_sequence, stream.cached_info().state.last_sequence);
        let mut seq = match start_sequence(&stream, request.start, first, last).await {
            Ok(seq) => seq,
            Err(e) => return self.finish(id, request, Vec::new(), progress, Some(e)),
        };
        if !request.follow {
            progress.total = Some((last + 1).saturating_sub(seq));
        }
        // A subject pattern in the key filter is the server's to apply: it hands over only
        // the messages on matching subjects. Other text is matched here, against every subject.
        let (subject, filter) = match request.filter.key.as_deref().filter(|k| is_subject_pattern(k)) {
            Some(pattern) => (pattern.to_owned(), MessageFilter { key: None, ..request.filter.clone() }),
            None => (">".to_owned(), request.filter.clone()),
        };
        let mut batch = Vec::new();
        let mut flushed = Instant::now();
        loop {
            match commands.try_recv() {
                Ok(BrowseCommand::Stop) | Err(TryRecvError::Disconnected) => break,
                Ok(BrowseCommand::Start(next)) => {
                    self.finish(id, request, batch, progress, None);
                    return Ended::Interrupted(next);
                }
                Err(TryRecvError::Empty) => {}
            }
            if !matches!(stop.try_recv(), Err(TryRecvError::Empty)) {
                break;
            }
            if progress.matched as usize >= request.limit {
                break;
            }
            if seq > last {
                if !request.follow {
                    break;
                }
                tokio::time::sleep(TAIL_WAIT).await;
                last = match newest_sequence(&stream).await {
                    Ok(l) => l,
                    Err(e) => return self.finish(id, request, batch, progress, Some(e)),
                };
            } else {
                match stream.get_first_raw_message_by_subject(&subject, seq).await {
                    Ok(message) => {
                        seq = message.sequence + 1;
                        progress.scanned += 1;
                        let message = to_message(&request.topic, &message);
                        if filter.matches(&message) {
                            progress.matched += 1;
                            batch.push(message);
                        }
                    }
                    // Nothing at or after `seq`: the rest was deleted meanwhile.
                    Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => seq = last + 1,
                    Err(e) => return self.finish(id, request, batch, progress, Some(e.to_string())),
                }
            }
            if batch.len() >= BATCH_MESSAGES || (!batch.is_empty() && flushed.elapsed() >= BATCH_WAIT) {
                if !self.send(id, &request.topic, std::mem::take(&mut batch), &progress) {
                    return Ended::Closed;
                }
                flushed = Instant::now();
            }
        }
        self.finish(id, request, batch, progress, None)
    }

    /// The stream, connecting first when not connected.
    async fn stream(&mut self, name: &str) -> Result<stream::Stream, String> {
        let client = match &self.client {
            Some(c) => c.clone(),
            None => {
                let c = connect(&self.config).await.map_err(|(_, why)| why)?;
                self.client = Some(c.clone());
                c
            }
        };
        jetstream::new(client).get_stream(name).await.map_err(|e| format!("stream {name}: {e}"))
    }

    fn send(&self, browse: u64, topic: &str, messages: Vec<KafkaMessage>, progress: &BrowseProgress) -> bool {
        let batch = MessageBatch { browse, topic: topic.to_owned(), messages, progress: Some(progress.clone()) };
        let record = NatsRecord {
            received_unix_nano: unix_nanos_now(),
            server: self.config.name.clone(),
            event: NatsEvent::Messages(batch),
        };
        self.sender.send_blocking(Record::Nats(record)).is_ok()
    }

    /// Sends what is left, marked done (with the error, if one ended it).
    fn finish(
        &self,
        browse: u64,
        request: &BrowseRequest,
        messages: Vec<KafkaMessage>,
        mut progress: BrowseProgress,
        error: Option<String>,
    ) -> Ended {
        progress.done = true;
        progress.error = error;
        if self.send(browse, &request.topic, messages, &progress) { Ended::Finished } else { Ended::Closed }
    }
}

/// The stream's newest sequence now.
async fn newest_sequence(stream: &stream::Stream) -> Result<u64, String> {
    let mut stream = stream.clone();
    stream.info().await.map(|i| i.state.last_sequence).map_err(|e| e.to_string())
}

/// Where a browse starts, within `[first, last + 1]`.
async fn start_sequence(stream: &stream::Stream, start: StartAt, first: u64, last: u64) -> Result<u64, String> {
    Ok(match start {
        StartAt::Earliest => first,
        StartAt::Latest(n) => (last + 1).saturating_sub(n).max(first),
        StartAt::Offset(o) => u64::try_from(o).unwrap_or(0).clamp(first, last + 1),
        StartAt::Timestamp(ms) => {
            // The first message at or after `ms`: sequences grow with time, so bisect.
            let (mut lo, mut hi) = (first, last + 1);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                match stream.get_first_raw_message_by_subject(">", mid).await {
                    Ok(m) if unix_ms(&m) >= ms => hi = mid,
                    Ok(m) => lo = m.sequence + 1,
                    Err(e) if e.kind() == stream::RawMessageErrorKind::NoMessageFound => hi = mid,
                    Err(e) => return Err(e.to_string()),
                }
            }
            lo
        }
    })
}

fn unix_ms(m: &jetstream::message::StreamMessage) -> i64 {
    (m.time.unix_timestamp_nanos() / 1_000_000) as i64
}

/// A JetStream message as the browser shows messages (see the module's doc).
fn to_message(stream: &str, m: &jetstream::message::StreamMessage) -> KafkaMessage {
    let mut headers: Vec<MessageHeader> = m
        .headers
        .iter()
        .flat_map(|(name, values)| {
            let key: &str = name.as_ref();
            values
                .iter()
                .map(move |v| MessageHeader { key: key.to_owned(), value: Some(v.as_str().as_bytes().to_vec()) })
        })
        .collect();
    headers.sort_by(|a, b| a.key.cmp(&b.key));
    let payload = &m.payload[..m.payload.len().min(PAYLOAD_KEEP_BYTES)];
    let mut message = KafkaMessage {
        topic: stream.to_owned(),
        partition: 0,
        offset: i64::try_from(m.sequence).unwrap_or(i64::MAX),
        timestamp_ms: Some(unix_ms(m)),
        timestamp_type: TimestampType::LogAppendTime,
        key: Some(m.subject.as_str().as_bytes().to_vec()),
        headers,
        payload: Some(payload.to_vec()),
        size: m.payload.len(),
        links: Default::default(),
    };
    message.derive_links();
    message
}

/// Whether `text` is a NATS subject pattern with a wildcard: dot-separated tokens, none
/// empty or holding a space, at least one `*` and `>` only as the last.
fn is_subject_pattern(text: &str) -> bool {
    let tokens: Vec<&str> = text.split('.').collect();
    let well_formed = tokens.iter().enumerate().all(|(i, t)| {
        !t.is_empty()
            && !t.contains(char::is_whitespace)
            && (*t == "*" || *t == ">" || !t.contains(['*', '>']))
            && (*t != ">" || i == tokens.len() - 1)
    });
    well_formed && tokens.iter().any(|t| *t == "*" || *t == ">")
}

#[cfg(test)]
mod tests {
    use super::is_subject_pattern;

    #[test]
    fn only_well_formed_subjects_with_a_wildcard_are_patterns() {
        for pattern in ["orders.*", "orders.>", "*.paid", "*", ">", "eu.*.created.>"] {
            assert!(is_subject_pattern(pattern), "{pattern}");
        }
        for text in ["orders.created", "paid", "orders.>.x", "orders..*", "order*", "orders.* x", ""] {
            assert!(!is_subject_pattern(text), "{text}");
        }
    }
}
