//! The state of the Kafka clusters EventLens watches, built from [`KafkaRecord`]s: topics
//! with their watermarks and rates, groups with their members, and lag per group and
//! partition with its history and status.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use super::browser::{BatchMessages, MessageBrowser};
use super::lag::{GroupStatus, LagSample, LagSettings, LagStatus, PartitionLag};
use super::observation::{
    BrokerInfo, ConnectionEvent, GroupMember, GroupOrigin, KafkaEvent, KafkaRecord, MessageBatch, OffsetPoll, TopicInfo,
};
use crate::model::record::Record;

/// Every watched cluster, by name.
#[derive(Clone, Debug, Default)]
pub struct KafkaModel {
    /// Behind an `Arc` so a snapshot shares it: browsing (which changes only the browser)
    /// does not copy the clusters' lag histories at every publish.
    clusters: Arc<BTreeMap<String, ClusterState>>,
    /// What the message browser shows.
    pub browser: MessageBrowser,
    settings: LagSettings,
    version: u64,
    /// Bumped by every record but message batches (see [`KafkaModel::clusters_version`]).
    clusters_version: u64,
}

impl KafkaModel {
    /// Applies one observation it may consume: message batches move into the browser.
    pub fn apply_owned(&mut self, record: KafkaRecord) {
        match record.event {
            KafkaEvent::Messages(batch) => {
                if !self.clusters.contains_key(&record.cluster) {
                    Arc::make_mut(&mut self.clusters).entry(record.cluster).or_default();
                }
                if batch.browse > 0 {
                    self.browser.push(batch.browse, &batch.topic, batch.messages, batch.progress);
                }
                self.version += 1;
            }
            _ => self.apply(&record),
        }
    }

    /// Applies a record the caller shares (the engine's timeline keeps it): message batches
    /// are kept by sharing the record, with `producers` (by position) the services the engine
    /// found for them; other observations are applied as [`KafkaModel::apply`] does.
    pub fn apply_shared(&mut self, record: &Arc<Record>, producers: Option<Arc<[Option<String>]>>) {
        let Record::Kafka(kafka) = &**record else { return };
        let KafkaEvent::Messages(batch) = &kafka.event else { return self.apply(kafka) };
        if !self.clusters.contains_key(&kafka.cluster) {
            Arc::make_mut(&mut self.clusters).entry(kafka.cluster.clone()).or_default();
        }
        if batch.browse > 0 {
            let messages = BatchMessages::Shared(Arc::clone(record));
            self.browser.push_batch(batch.browse, &batch.topic, messages, producers, batch.progress.clone());
        }
        self.version += 1;
    }

    /// Shows a batch another broker's reader browsed (a JetStream stream's messages) in the
    /// message browser, without touching the clusters.
    pub fn browsed(&mut self, batch: &MessageBatch) {
        if batch.browse > 0 {
            self.browser.push(batch.browse, &batch.topic, batch.messages.clone(), batch.progress.clone());
            self.version += 1;
        }
    }

    /// Applies one observation.
    pub fn apply(&mut self, record: &KafkaRecord) {
        if matches!(record.event, KafkaEvent::Messages(_)) {
            return self.apply_owned(record.clone());
        }
        let now_ms = record.received_unix_nano / 1_000_000;
        let cluster = Arc::make_mut(&mut self.clusters).entry(record.cluster.clone()).or_default();
        match &record.event {
            KafkaEvent::Connection(c) => cluster.connection = c.clone(),
            KafkaEvent::Metadata(m) => {
                cluster.brokers = m.brokers.clone();
                cluster.apply_topics(&m.topics);
            }
            KafkaEvent::Groups(g) => {
                cluster.list_refused = g.list_refused.clone();
                for info in &g.groups {
                    let group = cluster.groups.entry(info.name.clone()).or_default();
                    group.origin = Some(group.origin.map_or(info.origin, |o| o.min(info.origin)));
                    if info.state.is_some() {
                        group.state = info.state.clone();
                    }
                    if info.members.is_some() {
                        group.members = info.members.clone();
                    }
                    group.offsets_error = info.offsets_error.clone();
                }
            }
            KafkaEvent::Offsets(poll) => cluster.apply_offsets(poll, now_ms, self.settings),
            // Taken by `apply_owned` above.
            KafkaEvent::Messages(_) => {}
        }
        self.version += 1;
        self.clusters_version += 1;
    }

    /// The clusters, by name.
    pub fn clusters(&self) -> &BTreeMap<String, ClusterState> {
        &self.clusters
    }

    /// The bytes the clusters hold (their map, topics, groups and lag histories; see
    /// [`memory`](super::memory)), as a copy of the model that does not share them would.
    pub fn clusters_heap_bytes(&self) -> usize {
        use crate::model::size::HeapSize;
        self.clusters
            .iter()
            .map(|(name, c)| name.capacity() + std::mem::size_of::<(String, ClusterState)>() * 3 / 2 + c.heap_bytes())
            .sum()
    }

    /// The clusters, shared: a reader on another thread (the findings helper) keeps them as
    /// of this moment while the model goes on (the next change copies them).
    pub fn shared_clusters(&self) -> Arc<BTreeMap<String, ClusterState>> {
        Arc::clone(&self.clusters)
    }

    /// Changes with every applied record; lets readers skip rebuilding views.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// Changes whenever the clusters (groups, offsets, topics) may have changed, not when
    /// only the message browser did; lets readers of committed offsets skip rebuilding.
    pub fn clusters_version(&self) -> u64 {
        self.clusters_version
    }

    /// Every offset a group last committed, from the latest poll (the next message the group
    /// will process): (group, topic, partition, offset), clusters in name order.
    pub fn committed_offsets(&self) -> impl Iterator<Item = (&str, &str, i32, i64)> {
        self.clusters.values().flat_map(|c| {
            c.groups.iter().flat_map(|(group, state)| {
                state.partitions.iter().filter_map(move |((topic, partition), lag)| {
                    lag.latest().map(|s| (group.as_str(), topic.as_str(), *partition, s.offset))
                })
            })
        })
    }

    /// A group's lag on a topic in whichever cluster has it.
    pub fn topic_lag(&self, group: &str, topic: &str) -> Option<&TopicLag> {
        self.clusters.values().find_map(|c| c.groups.get(group)?.topics.get(topic))
    }
}

/// One cluster.
#[derive(Clone, Debug, Default)]
pub struct ClusterState {
    /// The connection's state and message.
    pub connection: ConnectionEvent,
    /// Brokers.
    pub brokers: Vec<BrokerInfo>,
    /// Topics, by name.
    pub topics: BTreeMap<String, TopicState>,
    /// Groups, by name.
    pub groups: BTreeMap<String, GroupState>,
    /// Why the cluster refused to list groups, if it did.
    pub list_refused: Option<String>,
    /// When offsets were last polled, Unix ms.
    pub last_poll_ms: Option<u64>,
}

/// One topic.
#[derive(Clone, Debug, Default)]
pub struct TopicState {
    /// A cluster topic (`__consumer_offsets`, ...), hidden by default.
    pub internal: bool,
    /// Partitions, by id.
    pub partitions: BTreeMap<i32, PartitionState>,
}

impl TopicState {
    /// Messages per second written to the topic, from the last two watermark polls.
    pub fn messages_per_second(&self) -> f64 {
        self.partitions.values().map(|p| p.messages_per_second).sum()
    }

    /// Messages currently in the log (high minus low watermarks).
    pub fn retained_messages(&self) -> u64 {
        self.partitions.values().map(|p| (p.high - p.low).max(0) as u64).sum()
    }
}

/// One partition of a topic.
#[derive(Clone, Debug, Default)]
pub struct PartitionState {
    /// Leader broker id.
    pub leader: i32,
    /// Earliest offset.
    pub low: i64,
    /// Log end offset.
    pub high: i64,
    /// Rate from the last two watermark polls.
    pub messages_per_second: f64,
    polled_at_ms: Option<u64>,
}

/// One consumer group.
#[derive(Clone, Debug, Default)]
pub struct GroupState {
    /// Where EventLens learned of it (the most authoritative source wins).
    pub origin: Option<GroupOrigin>,
    /// Coordinator state, when described.
    pub state: Option<String>,
    /// Members, when described.
    pub members: Option<Vec<GroupMember>>,
    /// Why its committed offsets could not be read, if they could not.
    pub offsets_error: Option<String>,
    /// Lag per (topic, partition).
    pub partitions: BTreeMap<(String, i32), PartitionLag>,
    /// Lag summed per topic.
    pub topics: BTreeMap<String, TopicLag>,
}

impl GroupState {
    /// The group's status: the worst of its partitions.
    pub fn status(&self) -> GroupStatus {
        GroupStatus::of(self.partitions.values().map(PartitionLag::status))
    }

    /// Lag summed over every topic, at the last poll.
    pub fn total_lag(&self) -> u64 {
        self.topics.values().map(|t| t.offsets).sum()
    }
}

/// A group's lag on one topic, summed over its partitions.
#[derive(Clone, Debug, Default)]
pub struct TopicLag {
    /// Lag in offsets at the last poll.
    pub offsets: u64,
    /// Age of the oldest unconsumed message at the last poll, over all partitions.
    pub time_ms: Option<u64>,
    /// Largest `offsets` seen.
    pub max_offsets: u64,
    /// Largest `time_ms` seen.
    pub max_time_ms: Option<u64>,
    /// The worst partition status.
    pub status: GroupStatus,
    /// (poll time Unix ms, summed lag), oldest first, bounded like partition histories.
    pub history: VecDeque<(u64, u64)>,
}

impl ClusterState {
    fn apply_topics(&mut self, topics: &[TopicInfo]) {
        for t in topics {
            let topic = self.topics.entry(t.name.clone()).or_default();
            topic.internal = t.internal;
            for p in &t.partitions {
                topic.partitions.entry(p.id).or_default().leader = p.leader;
            }
        }
    }

    fn apply_offsets(&mut self, poll: &OffsetPoll, now_ms: u64, settings: LagSettings) {
        self.last_poll_ms = Some(now_ms);
        for w in &poll.watermarks {
            let p = self.topics.entry(w.topic.clone()).or_default().partitions.entry(w.partition).or_default();
            p.messages_per_second = match p.polled_at_ms {
                Some(before) if now_ms > before => (w.high - p.high).max(0) as f64 * 1000.0 / (now_ms - before) as f64,
                _ => 0.0,
            };
            p.low = w.low;
            p.high = w.high;
            p.polled_at_ms = Some(now_ms);
        }
        let mut touched: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for c in &poll.commits {
            // A negative offset means the group has not committed on this partition.
            if c.offset < 0 {
                continue;
            }
            let Some(high) = self.topics.get(&c.topic).and_then(|t| t.partitions.get(&c.partition)).map(|p| p.high)
            else {
                continue;
            };
            let lag = (high - c.offset).max(0) as u64;
            let lag_ms = if lag == 0 {
                Some(0)
            } else {
                c.oldest_unconsumed_ms.map(|ts| now_ms.saturating_sub(ts.max(0) as u64))
            };
            let group = self.groups.entry(c.group.clone()).or_default();
            let members_active = group.members.as_deref().map(|m| owned_by_a_member(m, &c.topic, c.partition));
            let sample = LagSample { at_ms: now_ms, offset: c.offset, high, lag, lag_ms };
            group.partitions.entry((c.topic.clone(), c.partition)).or_default().push(sample, members_active, settings);
            touched.entry(c.group.as_str()).or_default().push(c.topic.as_str());
        }
        for (group_name, topics) in touched {
            let Some(group) = self.groups.get_mut(group_name) else { continue };
            for topic in topics {
                if group.topics.get(topic).and_then(|t| t.history.back()).is_some_and(|&(at, _)| at == now_ms) {
                    continue;
                }
                let partitions = group
                    .partitions
                    .range((topic.to_owned(), i32::MIN)..=(topic.to_owned(), i32::MAX))
                    .map(|(_, lag)| lag);
                let mut offsets = 0;
                let mut time_ms: Option<u64> = None;
                let mut statuses: Vec<LagStatus> = Vec::new();
                for lag in partitions {
                    if let Some(s) = lag.latest() {
                        offsets += s.lag;
                        time_ms = time_ms.max(s.lag_ms);
                    }
                    statuses.push(lag.status());
                }
                let t = group.topics.entry(topic.to_owned()).or_default();
                t.offsets = offsets;
                t.time_ms = time_ms;
                t.max_offsets = t.max_offsets.max(offsets);
                t.max_time_ms = t.max_time_ms.max(time_ms);
                t.status = GroupStatus::of(statuses);
                if t.history.len() >= settings.history {
                    t.history.pop_front();
                }
                t.history.push_back((now_ms, offsets));
            }
        }
    }
}

/// Whether a member consumes this partition: by the decoded assignments when the group has
/// any (a partition no member owns is not being read), else whether the group has members.
fn owned_by_a_member(members: &[GroupMember], topic: &str, partition: i32) -> bool {
    if members.iter().all(|m| m.assignment.is_empty()) {
        return !members.is_empty();
    }
    members.iter().any(|m| m.assignment.iter().any(|(t, ps)| t == topic && ps.contains(&partition)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::kafka::observation::{
        ClusterMetadata, CommittedOffset, GroupInfo, GroupListing, PartitionInfo, Watermark,
    };

    fn record(at_ms: u64, event: KafkaEvent) -> KafkaRecord {
        KafkaRecord { received_unix_nano: at_ms * 1_000_000, cluster: "local".into(), event }
    }

    fn offsets(high: [i64; 2], committed: [i64; 2], oldest_ms: Option<i64>) -> KafkaEvent {
        KafkaEvent::Offsets(OffsetPoll {
            watermarks: (0..2)
                .map(|p| Watermark { topic: "orders".into(), partition: p, low: 0, high: high[p as usize] })
                .collect(),
            commits: (0..2)
                .map(|p| CommittedOffset {
                    group: "billing".into(),
                    topic: "orders".into(),
                    partition: p,
                    offset: committed[p as usize],
                    oldest_unconsumed_ms: oldest_ms,
                })
                .collect(),
        })
    }

    #[test]
    fn lag_is_high_watermark_minus_commit_summed_per_topic() {
        let mut m = KafkaModel::default();
        let meta = ClusterMetadata {
            brokers: vec![],
            topics: vec![TopicInfo {
                name: "orders".into(),
                internal: false,
                partitions: vec![PartitionInfo { id: 0, leader: 1 }, PartitionInfo { id: 1, leader: 1 }],
            }],
        };
        m.apply(&record(0, KafkaEvent::Metadata(meta)));
        m.apply(&record(1_000, offsets([10, 20], [4, 20], Some(400))));
        let lag = m.topic_lag("billing", "orders").unwrap();
        assert_eq!(lag.offsets, 6);
        assert_eq!(lag.time_ms, Some(600));
        m.apply(&record(3_000, offsets([30, 20], [30, 20], None)));
        let lag = m.topic_lag("billing", "orders").unwrap();
        assert_eq!((lag.offsets, lag.max_offsets), (0, 6));
        assert_eq!((lag.time_ms, lag.max_time_ms), (Some(0), Some(600)));
        assert_eq!(lag.history, VecDeque::from([(1_000, 6), (3_000, 0)]));
        let topic = &m.clusters()["local"].topics["orders"];
        assert_eq!(topic.messages_per_second(), 10.0, "20 messages in 2 s on partition 0");
        assert_eq!(topic.retained_messages(), 50);
    }

    #[test]
    fn a_group_keeps_its_most_authoritative_origin() {
        let mut m = KafkaModel::default();
        let listing = |origin, members: Option<Vec<GroupMember>>| {
            KafkaEvent::Groups(GroupListing {
                groups: vec![GroupInfo { name: "billing".into(), origin, state: None, members, offsets_error: None }],
                list_refused: None,
            })
        };
        m.apply(&record(0, listing(GroupOrigin::Spans, None)));
        m.apply(&record(1, listing(GroupOrigin::Listed, Some(vec![]))));
        m.apply(&record(2, listing(GroupOrigin::Spans, None)));
        let g = &m.clusters()["local"].groups["billing"];
        assert_eq!(g.origin, Some(GroupOrigin::Listed));
        assert_eq!(g.members, Some(vec![]), "an undescribed listing keeps the known members");
    }

    #[test]
    fn a_stuck_partition_is_stall_when_a_member_owns_it_and_stop_when_none_does() {
        let mut m = KafkaModel::default();
        let member = GroupMember {
            id: "m1".into(),
            client_id: "billing-1".into(),
            host: "/10.0.0.1".into(),
            assignment: vec![("orders".into(), vec![1])],
        };
        let listing = GroupListing {
            groups: vec![GroupInfo {
                name: "billing".into(),
                origin: GroupOrigin::Listed,
                state: Some("Stable".into()),
                members: Some(vec![member]),
                offsets_error: None,
            }],
            list_refused: None,
        };
        m.apply(&record(0, KafkaEvent::Groups(listing)));
        for (i, high) in [10, 12, 14].into_iter().enumerate() {
            m.apply(&record(1_000 * (i as u64 + 1), offsets([high, high], [4, 4], None)));
        }
        let g = &m.clusters()["local"].groups["billing"];
        assert_eq!(g.partitions[&("orders".to_owned(), 0)].status(), LagStatus::Stop, "no member owns partition 0");
        assert_eq!(g.partitions[&("orders".to_owned(), 1)].status(), LagStatus::Stall, "its owner does not move");
    }

    #[test]
    fn uncommitted_partitions_have_no_lag() {
        let mut m = KafkaModel::default();
        m.apply(&record(0, offsets([10, 20], [-1001, -1001], None)));
        assert!(m.topic_lag("billing", "orders").is_none());
    }
}
