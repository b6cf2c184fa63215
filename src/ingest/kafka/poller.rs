//! The offsets poller: on an interval it reads a cluster's metadata, its consumer groups,
//! watermarks and committed offsets, and the timestamp of each group's oldest unconsumed
//! record, tails what is new in its topics and samples its dead-letter topics (see
//! [`super::tail`]), and sends what it saw as [`KafkaRecord`]s. It never joins a group and
//! never commits: committed offsets are read with OffsetFetch through a client that carries
//! the group's id but never subscribes, and messages through a client that only assigns.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};

use super::config::KafkaConfig;
use super::context::WatchContext;
use super::tail::{self, DeadLetterSampler, TailBounds, TailState};
use super::{GroupHints, assignment};
use crate::ingest::source_thread::{backoff, show_connection};
use crate::model::kafka::message::KafkaMessage;
use crate::model::kafka::observation::{
    BrokerInfo, ClusterMetadata, CommittedOffset, ConnectionEvent, ConnectionState, GroupInfo, GroupListing,
    GroupMember, GroupOrigin, KafkaEvent, KafkaRecord, OffsetPoll, PartitionInfo, TopicInfo, Watermark,
};
use crate::model::record::Record;
use crate::pipeline::clock::unix_nanos_now;
use crate::pipeline::queue::RecordSender;
use crate::pipeline::sources::SourceBoard;

/// How long one broker request may take before the cluster counts as unreachable.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the targeted fetches for lag in time may take per poll.
const TIMESTAMP_FETCH_BUDGET: Duration = Duration::from_secs(2);

/// The group id of the client that reads records (lag in time, samples, the tail): librdkafka
/// needs one to assign partitions. It never joins or commits, so no such group appears.
pub const READER_GROUP: &str = "eventlens-reader";

/// Why a poll could not finish.
#[derive(Debug, thiserror::Error)]
pub enum PollError {
    /// A client could not be created (bad property, usually).
    #[error("cannot create a Kafka client: {0}")]
    Client(KafkaError),
    /// The cluster did not answer.
    #[error("{0}")]
    Unreachable(String),
    /// The cluster answered, but refused the credentials or the access.
    #[error("{0}")]
    Refused(String),
    /// The engine is gone.
    #[error("the engine stopped")]
    Closed,
}

/// Builds the librdkafka configuration for one client of this cluster.
pub fn client_config(config: &KafkaConfig, group: Option<&str>) -> ClientConfig {
    let mut c = ClientConfig::new();
    for (k, v) in &config.properties {
        c.set(k, v);
    }
    c.set("bootstrap.servers", &config.bootstrap);
    c.set("client.id", "eventlens");
    // Never commit, never store offsets: EventLens only reads.
    c.set("enable.auto.commit", "false");
    c.set("enable.auto.offset.store", "false");
    c.set("enable.partition.eof", "false");
    if let Some(group) = group {
        c.set("group.id", group);
    }
    c
}

pub(super) struct Poller {
    config: KafkaConfig,
    sender: RecordSender,
    board: SourceBoard,
    board_name: String,
    hints: GroupHints,
    context: WatchContext,
    admin: Option<BaseConsumer<WatchContext>>,
    sampler: Option<BaseConsumer<WatchContext>>,
    group_clients: BTreeMap<String, BaseConsumer<WatchContext>>,
    state: Option<ConnectionEvent>,
    last_metadata: Option<ClusterMetadata>,
    last_groups: Option<GroupListing>,
    /// Record timestamps by (topic, partition, offset), kept while the offset is current.
    timestamps: HashMap<(String, i32, i64), i64>,
    /// Where the sampling of each dead-letter partition stands.
    dead_letters: DeadLetterSampler,
    /// Where the tail of each partition stands.
    tail: TailState,
    /// Messages the tail skipped this session, for whoever shows it.
    tail_skipped: Arc<AtomicU64>,
    /// Why a group's committed offsets could not be read at the last poll.
    offsets_errors: BTreeMap<String, String>,
}

impl Poller {
    pub(super) fn new(
        config: KafkaConfig,
        sender: RecordSender,
        board: SourceBoard,
        board_name: String,
        hints: GroupHints,
    ) -> Self {
        Self {
            config,
            sender,
            board,
            board_name,
            hints,
            context: WatchContext::default(),
            admin: None,
            sampler: None,
            group_clients: BTreeMap::new(),
            state: None,
            last_metadata: None,
            last_groups: None,
            timestamps: HashMap::new(),
            dead_letters: DeadLetterSampler::default(),
            tail: TailState::default(),
            tail_skipped: Arc::new(AtomicU64::new(0)),
            offsets_errors: BTreeMap::new(),
        }
    }

    /// The count of messages the tail skipped, updated at each poll.
    pub(super) fn tail_skipped(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.tail_skipped)
    }

    /// Polls until `stop` fires or the engine goes away; backs off while the cluster is down.
    pub(super) fn run(mut self, stop: &Receiver<()>) {
        self.set_state(ConnectionState::Connecting, None);
        let mut failures = 0u32;
        loop {
            let started = Instant::now();
            let wait = match self.poll_once() {
                Ok(()) => {
                    failures = 0;
                    self.config.poll_interval.saturating_sub(started.elapsed())
                }
                Err(PollError::Closed) => return,
                Err(e) => {
                    failures = failures.saturating_add(1);
                    let (state, message) = self.failure_state(&e);
                    self.set_state(state, Some(message));
                    backoff(self.config.poll_interval, failures)
                }
            };
            match stop.recv_timeout(wait) {
                Err(RecvTimeoutError::Timeout) => {}
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return,
            }
        }
    }

    fn failure_state(&self, error: &PollError) -> (ConnectionState, String) {
        let last = self.context.last_error.lock().ok().and_then(|mut l| l.take());
        match (error, last) {
            (PollError::Client(e), _) => (ConnectionState::BrokerDown, format!("cannot create a client: {e}")),
            (PollError::Refused(m), last) => {
                (ConnectionState::AuthFailed, last.map_or_else(|| m.clone(), |(_, reason)| format!("{m} ({reason})")))
            }
            (_, Some((ConnectionState::AuthFailed, reason))) => (ConnectionState::AuthFailed, reason),
            (_, Some((state, reason))) => (state, reason),
            (e, None) => (ConnectionState::BrokerDown, e.to_string()),
        }
    }

    fn client(&self, group: Option<&str>) -> Result<BaseConsumer<WatchContext>, PollError> {
        client_config(&self.config, group).create_with_context(self.context.clone()).map_err(PollError::Client)
    }

    fn poll_once(&mut self) -> Result<(), PollError> {
        let admin = match self.admin.take() {
            Some(admin) => admin,
            None => self.client(None)?,
        };
        let result = self.poll_with(&admin);
        self.admin = Some(admin);
        result
    }

    fn poll_with(&mut self, admin: &BaseConsumer<WatchContext>) -> Result<(), PollError> {
        // Serve librdkafka's callbacks (errors, logs) queued since the last poll.
        serve_callbacks(admin, "the cluster's client");
        let metadata = admin.fetch_metadata(None, REQUEST_TIMEOUT).map_err(|e| {
            // Serve the error callbacks that explain the failure (e.g. SASL's reason).
            serve_callbacks(admin, "the cluster's client");
            if is_auth_error(&e) {
                PollError::Refused(format!("the cluster refused access: {e}"))
            } else {
                PollError::Unreachable(format!("cannot read metadata: {e}"))
            }
        })?;
        let metadata = ClusterMetadata {
            brokers: metadata
                .brokers()
                .iter()
                .map(|b| BrokerInfo { id: b.id(), address: format!("{}:{}", b.host(), b.port()) })
                .collect(),
            topics: {
                let mut topics: Vec<TopicInfo> = metadata
                    .topics()
                    .iter()
                    .filter(|t| t.error().is_none())
                    .map(|t| TopicInfo {
                        name: t.name().to_owned(),
                        internal: tail::is_internal_topic(t.name()),
                        partitions: t
                            .partitions()
                            .iter()
                            .map(|p| PartitionInfo { id: p.id(), leader: p.leader() })
                            .collect(),
                    })
                    .collect();
                topics.sort_by(|a, b| a.name.cmp(&b.name));
                topics
            },
        };
        if let Ok(mut last) = self.context.last_error.lock() {
            *last = None;
        }
        self.set_state(ConnectionState::Connected, None);
        if self.last_metadata.as_ref() != Some(&metadata) {
            self.send(KafkaEvent::Metadata(metadata.clone()))?;
            self.last_metadata = Some(metadata.clone());
        }

        let listing = self.list_groups(admin);
        if self.last_groups.as_ref() != Some(&listing) {
            self.send(KafkaEvent::Groups(listing.clone()))?;
            self.last_groups = Some(listing.clone());
        }

        let topics: Vec<&TopicInfo> = metadata.topics.iter().filter(|t| !t.internal).collect();
        let watermarks = read_watermarks(admin, &topics)?;
        let mut commits = self.committed_offsets(&listing, &topics)?;
        if self.config.lag_in_time {
            self.fill_oldest_unconsumed(&mut commits, &watermarks)?;
        }
        self.read_messages(&watermarks)?;
        self.send(KafkaEvent::Offsets(OffsetPoll { watermarks, commits }))
    }

    /// The client that reads records, made on first use.
    fn reader(&mut self) -> Result<&BaseConsumer<WatchContext>, PollError> {
        let reader = match self.sampler.take() {
            Some(reader) => reader,
            None => self.client(Some(READER_GROUP))?,
        };
        let reader: &BaseConsumer<WatchContext> = self.sampler.insert(reader);
        Ok(reader)
    }

    /// Samples what is new in dead-letter topics (their provenance headers draw the edge back
    /// to the topic the messages failed in) and tails the other topics, within bounds.
    fn read_messages(&mut self, watermarks: &[Watermark]) -> Result<(), PollError> {
        let samples = self.dead_letters.plan(watermarks);
        if !samples.is_empty() {
            let messages = tail::read_samples(self.reader()?, &samples);
            self.dead_letters.advance(&samples, &messages);
            self.send_batches(messages)?;
        }
        let ranges = self.tail.plan(watermarks, &self.config.tail, TailBounds::DEFAULT);
        self.tail_skipped.store(self.tail.skipped(), Ordering::Relaxed);
        if !ranges.is_empty() {
            let (messages, progress) = tail::read_tail(self.reader()?, &ranges, TailBounds::DEFAULT);
            self.tail.advance(&progress);
            self.send_batches(messages)?;
        }
        Ok(())
    }

    /// Sends messages the poller read, a batch per topic.
    fn send_batches(&self, messages: Vec<KafkaMessage>) -> Result<(), PollError> {
        tail::batches(messages).into_iter().try_for_each(|batch| self.send(KafkaEvent::Messages(batch)))
    }

    /// Groups the cluster lists and describes; else (or also) groups named with `--group`
    /// and groups seen in spans.
    fn list_groups(&self, admin: &BaseConsumer<WatchContext>) -> GroupListing {
        let mut listing = GroupListing::default();
        match admin.fetch_group_list(None, REQUEST_TIMEOUT) {
            Ok(list) => {
                for g in list.groups() {
                    let members = g
                        .members()
                        .iter()
                        .map(|m| GroupMember {
                            id: m.id().to_owned(),
                            client_id: m.client_id().to_owned(),
                            host: m.client_host().to_owned(),
                            assignment: m.assignment().and_then(assignment::decode).unwrap_or_default(),
                        })
                        .collect::<Vec<_>>();
                    listing.groups.push(GroupInfo {
                        name: g.name().to_owned(),
                        origin: GroupOrigin::Listed,
                        state: Some(g.state().to_owned()),
                        members: Some(members),
                        offsets_error: self.offsets_errors.get(g.name()).cloned(),
                    });
                }
            }
            Err(e) => listing.list_refused = Some(e.to_string()),
        }
        let known: BTreeSet<String> = listing.groups.iter().map(|g| g.name.clone()).collect();
        let configured = self.config.groups.iter().map(|g| (g.clone(), GroupOrigin::Configured));
        let hinted = (self.hints)().into_iter().map(|g| (g, GroupOrigin::Spans));
        let mut extra: BTreeMap<String, GroupOrigin> = BTreeMap::new();
        for (name, origin) in configured.chain(hinted) {
            if !known.contains(&name) {
                extra.entry(name).or_insert(origin);
            }
        }
        listing.groups.extend(extra.into_iter().map(|(name, origin)| GroupInfo {
            offsets_error: self.offsets_errors.get(&name).cloned(),
            name,
            origin,
            state: None,
            members: None,
        }));
        listing.groups.sort_by(|a, b| a.name.cmp(&b.name));
        listing
    }

    /// Committed offsets of every known group on every partition it has committed to.
    fn committed_offsets(
        &mut self,
        listing: &GroupListing,
        topics: &[&TopicInfo],
    ) -> Result<Vec<CommittedOffset>, PollError> {
        let names: BTreeSet<&str> = listing.groups.iter().map(|g| g.name.as_str()).collect();
        self.group_clients.retain(|name, _| names.contains(name.as_str()));
        let mut tpl = TopicPartitionList::new();
        for t in topics {
            for p in &t.partitions {
                tpl.add_partition(&t.name, p.id);
            }
        }
        let mut commits = Vec::new();
        if tpl.count() == 0 {
            return Ok(commits);
        }
        for name in names {
            if !self.group_clients.contains_key(name) {
                let client = self.client(Some(name))?;
                self.group_clients.insert(name.to_owned(), client);
            }
            let Some(client) = self.group_clients.get(name) else { continue };
            serve_callbacks(client, name);
            let committed = match client.committed_offsets(tpl.clone(), REQUEST_TIMEOUT) {
                Ok(c) => {
                    self.offsets_errors.remove(name);
                    c
                }
                Err(e) => {
                    // Shown with the group at the next poll: no lag without a reason.
                    tracing::debug!("cannot read committed offsets of group {name}: {e}");
                    self.offsets_errors.insert(name.to_owned(), e.to_string());
                    continue;
                }
            };
            for e in committed.elements() {
                if let Offset::Offset(offset) = e.offset() {
                    commits.push(CommittedOffset {
                        group: name.to_owned(),
                        topic: e.topic().to_owned(),
                        partition: e.partition(),
                        offset,
                        oldest_unconsumed_ms: None,
                    });
                }
            }
        }
        Ok(commits)
    }

    /// Reads the timestamp of the record at each lagging committed offset: the oldest
    /// message the group has not consumed. One targeted fetch per (partition, offset), cached
    /// while the offset stays put.
    fn fill_oldest_unconsumed(
        &mut self,
        commits: &mut [CommittedOffset],
        watermarks: &[Watermark],
    ) -> Result<(), PollError> {
        let high: HashMap<(&str, i32), i64> =
            watermarks.iter().map(|w| ((w.topic.as_str(), w.partition), w.high)).collect();
        let wanted: BTreeSet<(String, i32, i64)> = commits
            .iter()
            .filter(|c| high.get(&(c.topic.as_str(), c.partition)).is_some_and(|&h| h > c.offset))
            .map(|c| (c.topic.clone(), c.partition, c.offset))
            .collect();
        self.timestamps.retain(|k, _| wanted.contains(k));
        let missing: Vec<(String, i32, i64)> =
            wanted.iter().filter(|k| !self.timestamps.contains_key(*k)).cloned().collect();
        if !missing.is_empty() {
            let found = fetch_timestamps(self.reader()?, &missing);
            self.timestamps.extend(found);
        }
        for c in commits {
            c.oldest_unconsumed_ms = self.timestamps.get(&(c.topic.clone(), c.partition, c.offset)).copied();
        }
        Ok(())
    }

    fn send(&self, event: KafkaEvent) -> Result<(), PollError> {
        let record = KafkaRecord { received_unix_nano: unix_nanos_now(), cluster: self.config.name.clone(), event };
        self.sender.send_blocking(Record::Kafka(record)).map_err(|_| PollError::Closed)
    }

    /// Records a connection change (once per change) and shows it on the source board.
    fn set_state(&mut self, state: ConnectionState, message: Option<String>) {
        let event = ConnectionEvent { state, message };
        if self.state.as_ref() == Some(&event) {
            return;
        }
        show_connection(&self.board, &self.board_name, "Kafka", &self.config.name, &event);
        // A dropped connection record is not worth blocking on; the board already shows it.
        let _ = self.send(KafkaEvent::Connection(event.clone()));
        self.state = Some(event);
    }
}

/// Serves librdkafka's callbacks (errors, logs) queued on a client that reads no messages.
fn serve_callbacks(client: &BaseConsumer<WatchContext>, which: &str) {
    if let Some(Err(e)) = client.poll(Duration::ZERO) {
        tracing::debug!("Kafka client of {which}: {e}");
    }
}

/// Whether an error means the cluster refused who we are, rather than being unreachable.
fn is_auth_error(error: &KafkaError) -> bool {
    use rdkafka::error::RDKafkaErrorCode as Code;
    matches!(
        error.rdkafka_error_code(),
        Some(
            Code::Authentication
                | Code::SaslAuthenticationFailed
                | Code::ClusterAuthorizationFailed
                | Code::TopicAuthorizationFailed
                | Code::GroupAuthorizationFailed
        )
    )
}

/// Low and high watermarks of every partition: two batched ListOffsets lookups (earliest and
/// latest, one request per leader each) rather than two round trips per partition; a
/// partition the batch could not answer is asked on its own.
fn read_watermarks(admin: &BaseConsumer<WatchContext>, topics: &[&TopicInfo]) -> Result<Vec<Watermark>, PollError> {
    let batch = |position: Offset| -> HashMap<(String, i32), i64> {
        let mut tpl = TopicPartitionList::new();
        for t in topics {
            for p in &t.partitions {
                if let Err(e) = tpl.add_partition_offset(&t.name, p.id, position) {
                    tracing::debug!("cannot ask for the {position:?} offset of {}/{}: {e}", t.name, p.id);
                }
            }
        }
        let Ok(answer) = admin.offsets_for_times(tpl, REQUEST_TIMEOUT).inspect_err(|e| {
            tracing::debug!("batched {position:?} offsets lookup failed, asking each partition: {e}");
        }) else {
            return HashMap::new();
        };
        answer
            .elements()
            .iter()
            .filter(|e| e.error().is_ok())
            .filter_map(|e| match e.offset() {
                Offset::Offset(o) => Some(((e.topic().to_owned(), e.partition()), o)),
                _ => None,
            })
            .collect()
    };
    let (lows, highs) = (batch(Offset::Beginning), batch(Offset::End));
    let mut watermarks = Vec::new();
    for t in topics {
        for p in &t.partitions {
            let key = (t.name.clone(), p.id);
            let (low, high) = match (lows.get(&key), highs.get(&key)) {
                (Some(&low), Some(&high)) => (low, high),
                _ => admin.fetch_watermarks(&t.name, p.id, REQUEST_TIMEOUT).map_err(|e| {
                    PollError::Unreachable(format!("cannot read watermarks of {}/{}: {e}", t.name, p.id))
                })?,
            };
            watermarks.push(Watermark { topic: t.name.clone(), partition: p.id, low, high });
        }
    }
    Ok(watermarks)
}

/// Fetches one record at each (topic, partition, offset), a partition at a time per round
/// (a partition can be assigned at only one offset at once).
fn fetch_timestamps(
    sampler: &BaseConsumer<WatchContext>,
    wanted: &[(String, i32, i64)],
) -> HashMap<(String, i32, i64), i64> {
    let mut found = HashMap::new();
    let mut rounds: Vec<Vec<&(String, i32, i64)>> = Vec::new();
    let mut seen: HashMap<(&str, i32), usize> = HashMap::new();
    for w in wanted {
        let round = seen.entry((w.0.as_str(), w.1)).or_insert(0);
        if rounds.len() <= *round {
            rounds.push(Vec::new());
        }
        rounds[*round].push(w);
        *round += 1;
    }
    let deadline = Instant::now() + TIMESTAMP_FETCH_BUDGET;
    for round in rounds {
        let mut tpl = TopicPartitionList::new();
        for (topic, partition, offset) in &round {
            if let Err(e) = tpl.add_partition_offset(topic, *partition, Offset::Offset(*offset)) {
                tracing::debug!("cannot ask for the record at {topic}/{partition} offset {offset}: {e}");
            }
        }
        if let Err(e) = sampler.assign(&tpl) {
            tracing::debug!("cannot assign partitions for lag in time: {e}");
            continue;
        }
        let mut pending: HashMap<(String, i32), i64> = round.iter().map(|(t, p, o)| ((t.clone(), *p), *o)).collect();
        while !pending.is_empty() && Instant::now() < deadline {
            match sampler.poll(Duration::from_millis(100)) {
                Some(Ok(m)) => {
                    let key = (m.topic().to_owned(), m.partition());
                    if let Some(offset) = pending.get(&key).copied()
                        && m.offset() >= offset
                    {
                        pending.remove(&key);
                        if let Some(ts) = m.timestamp().to_millis() {
                            found.insert((key.0, key.1, offset), ts);
                        }
                    }
                }
                Some(Err(e)) => tracing::debug!("fetch for lag in time: {e}"),
                None => {}
            }
        }
        if let Err(e) = sampler.unassign() {
            tracing::debug!("cannot unassign the partitions read for lag in time: {e}");
        }
    }
    found
}

/// The cluster's line on the source board: "Kafka" beside its address, plus its name when
/// it has one of its own (a named cluster).
pub fn board_name(config: &KafkaConfig) -> String {
    if config.name == config.bootstrap { "Kafka".to_owned() } else { format!("Kafka {}", config.name) }
}

impl std::fmt::Debug for Poller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Poller").field("config", &self.config).finish_non_exhaustive()
    }
}
