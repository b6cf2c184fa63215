//! What the Kafka source observed, as records the engine applies and recordings keep.
//!
//! Each record says what one poll saw: the connection, the cluster's metadata, its groups,
//! and offsets (watermarks and commits). Lag is not in the record; the model computes it, so
//! a replay re-evaluates lag exactly as the live session did.

use serde::{Deserialize, Serialize};

use super::browser::BrowseProgress;
use super::message::KafkaMessage;

/// One observation of one cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KafkaRecord {
    /// When EventLens observed it, Unix nanoseconds.
    pub received_unix_nano: u64,
    /// The cluster's name: the configured name, else its bootstrap servers.
    pub cluster: String,
    /// What was observed.
    pub event: KafkaEvent,
}

/// What a poll observed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum KafkaEvent {
    /// The connection changed state.
    Connection(ConnectionEvent),
    /// Brokers and topics.
    Metadata(ClusterMetadata),
    /// Consumer groups and their members.
    Groups(GroupListing),
    /// Watermarks and committed offsets.
    Offsets(OffsetPoll),
    /// Messages read: sampled by the poller (`browse` 0) or streamed to the browser.
    Messages(MessageBatch),
}

/// Messages read in one go.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MessageBatch {
    /// The browse they belong to; 0 for the poller's samples (of dead-letter topics).
    pub browse: u64,
    /// The topic browsed.
    pub topic: String,
    /// The messages, in the order read.
    pub messages: Vec<KafkaMessage>,
    /// The browse's progress after this batch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<BrowseProgress>,
}

/// A connection state change.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionEvent {
    /// The new state.
    pub state: ConnectionState,
    /// The broker's or client's message, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// How EventLens's connection to a cluster stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Not yet answered.
    #[default]
    Connecting,
    /// Metadata and offsets are being read.
    Connected,
    /// No broker answers; retried with backoff.
    BrokerDown,
    /// The cluster refused the credentials; retried with backoff in case they change.
    AuthFailed,
}

impl ConnectionState {
    /// Words for the top bar.
    pub fn label(self) -> &'static str {
        match self {
            Self::Connecting => "connecting",
            Self::Connected => "connected",
            Self::BrokerDown => "broker down",
            Self::AuthFailed => "auth failed",
        }
    }
}

/// Brokers and topics.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterMetadata {
    /// Brokers, by id.
    pub brokers: Vec<BrokerInfo>,
    /// Topics, by name (internal ones included and marked).
    pub topics: Vec<TopicInfo>,
}

/// One broker.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerInfo {
    /// Broker id.
    pub id: i32,
    /// host:port.
    pub address: String,
}

/// One topic.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicInfo {
    /// Name.
    pub name: String,
    /// True for the cluster's own topics (`__consumer_offsets`, names starting with `__`).
    pub internal: bool,
    /// Partitions, by id.
    pub partitions: Vec<PartitionInfo>,
}

/// One partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionInfo {
    /// Partition id.
    pub id: i32,
    /// Leader broker id, -1 when leaderless.
    pub leader: i32,
}

/// Consumer groups, as listed or as EventLens was told of them.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupListing {
    /// Groups, by name.
    pub groups: Vec<GroupInfo>,
    /// Why listing groups failed, when the cluster refused it (ACLs, limited brokers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub list_refused: Option<String>,
}

/// Where EventLens learned of a group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupOrigin {
    /// The cluster listed it (ListGroups).
    Listed,
    /// Named with `--group`.
    Configured,
    /// Seen in spans (`messaging.consumer.group.name`).
    Spans,
}

impl GroupOrigin {
    /// Words for the UI.
    pub fn label(self) -> &'static str {
        match self {
            Self::Listed => "listed by the cluster",
            Self::Configured => "named with --group",
            Self::Spans => "learned from spans",
        }
    }
}

/// One consumer group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// Group id.
    pub name: String,
    /// Where it came from.
    pub origin: GroupOrigin,
    /// The coordinator's state (Stable, Empty, PreparingRebalance, ...), when described.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Members, when described; `None` when the cluster would not describe the group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<Vec<GroupMember>>,
    /// Why the group's committed offsets could not be read at the last poll (ACLs, say).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offsets_error: Option<String>,
}

/// One member of a group.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMember {
    /// Member id given by the coordinator.
    pub id: String,
    /// The client's `client.id`.
    pub client_id: String,
    /// The client's host as the broker saw it.
    pub host: String,
    /// Partitions assigned to the member, as (topic, partitions).
    pub assignment: Vec<(String, Vec<i32>)>,
}

/// One poll of offsets.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OffsetPoll {
    /// Low and high watermarks per partition.
    pub watermarks: Vec<Watermark>,
    /// Committed offsets per group and partition.
    pub commits: Vec<CommittedOffset>,
}

/// A partition's watermarks.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Watermark {
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// Earliest offset still in the log.
    pub low: i64,
    /// The offset the next message will get (log end offset).
    pub high: i64,
}

/// A group's committed offset on one partition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedOffset {
    /// Group.
    pub group: String,
    /// Topic.
    pub topic: String,
    /// Partition.
    pub partition: i32,
    /// The next offset the group will read.
    pub offset: i64,
    /// Timestamp (Unix ms) of the record at `offset`, the oldest message the group has not
    /// consumed; `None` when there is none (no lag) or it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_unconsumed_ms: Option<i64>,
}
