//! What the RabbitMQ source observed, as records the engine applies and recordings keep: one
//! record per poll of one broker's management API. Depth status and rates are not in the
//! record; the model derives them, so a replay derives them exactly as the live session did.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::model::kafka::observation::ConnectionEvent;

/// One observation of one broker.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RabbitRecord {
    /// When EventLens observed it, Unix nanoseconds.
    pub received_unix_nano: u64,
    /// The broker's name in EventLens: its management URL, without credentials.
    pub server: String,
    /// What was observed.
    pub event: RabbitEvent,
}

/// What a poll observed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum RabbitEvent {
    /// The connection changed state (the same states as a Kafka cluster's).
    Connection(ConnectionEvent),
    /// Exchanges, queues, bindings and consumers.
    Management(ManagementPoll),
}

/// Everything one poll of the management API listed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementPoll {
    /// The virtual hosts, sorted (an empty one shows here only). Absent from recordings made
    /// before vhosts were listed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vhosts: Vec<String>,
    /// Exchanges, by vhost and name (the default exchange left out).
    pub exchanges: Vec<ExchangeInfo>,
    /// Queues, by vhost and name.
    pub queues: Vec<QueueInfo>,
    /// Bindings of exchanges to queues and exchanges (the default exchange's left out).
    pub bindings: Vec<BindingInfo>,
    /// Consumers, by queue.
    pub consumers: Vec<ConsumerInfo>,
}

/// One exchange.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExchangeInfo {
    /// Virtual host.
    pub vhost: String,
    /// Name.
    pub name: String,
    /// `direct`, `fanout`, `topic`, `headers`, ...
    pub kind: String,
}

/// One queue.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueInfo {
    /// Virtual host.
    pub vhost: String,
    /// Name.
    pub name: String,
    /// `classic`, `quorum` or `stream`.
    pub kind: String,
    /// Messages ready for delivery (`messages_ready`).
    pub ready: u64,
    /// Delivered and not yet acknowledged (`messages_unacknowledged`).
    pub unacked: u64,
    /// Consumers attached.
    pub consumers: u32,
    /// Messages published into it, since the broker started (`message_stats.publish`).
    pub published: u64,
    /// Messages delivered or fetched (`message_stats.deliver_get`).
    pub delivered: u64,
    /// Acknowledgements, plus deliveries that needed none (`ack` + `deliver_no_ack` +
    /// `get_no_ack`): what moves when consumers make progress.
    pub acked: u64,
    /// Messages delivered again (`message_stats.redeliver`).
    pub redelivered: u64,
    /// Where rejected and expired messages go: the `x-dead-letter-exchange` argument, else
    /// the `dead-letter-exchange` of the policy in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_exchange: Option<String>,
    /// Its arguments (`x-max-length`, `x-message-ttl`, `x-queue-type`, ...), each value as
    /// JSON text (strings as they are).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub arguments: BTreeMap<String, String>,
}

/// One binding.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BindingInfo {
    /// Virtual host.
    pub vhost: String,
    /// The exchange.
    pub source: String,
    /// The queue or exchange bound.
    pub destination: String,
    /// True when `destination` is an exchange.
    pub to_exchange: bool,
    /// The routing key (or pattern).
    pub routing_key: String,
}

/// One consumer.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsumerInfo {
    /// Virtual host.
    pub vhost: String,
    /// The queue it consumes.
    pub queue: String,
    /// The consumer tag.
    pub tag: String,
    /// The connection, as the broker names it (`host:port -> host:port`).
    pub connection: String,
    /// The channel, as the broker names it (`host:port -> host:port (1)`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub channel: String,
    /// The name the client gave its connection (`connection_name`), when it gave one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// True when it acknowledges manually.
    pub ack_required: bool,
    /// Its prefetch (0: unlimited).
    pub prefetch: u32,
}

impl ConsumerInfo {
    /// Who it is on the graph: the client-provided connection name, else the connection.
    pub fn who(&self) -> &str {
        self.client_name.as_deref().unwrap_or(&self.connection)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recording_line_the_capture_format_shows_reads_back_whole() {
        let doc = include_str!("../../../docs/capture-format.md");
        let line = doc.lines().find(|l| l.starts_with(r#"{"kind":"rabbitmq""#)).expect("the example line");
        let record: RabbitRecord = serde_json::from_str(line).expect("it parses");
        let RabbitEvent::Management(poll) = record.event else { panic!("a management poll") };
        assert_eq!(poll.vhosts, ["/"]);
        let billing = &poll.queues[0];
        assert_eq!(billing.arguments.get("x-max-length").map(String::as_str), Some("1000"));
        assert_eq!(poll.consumers[0].channel, "127.0.0.1:58246 -> 127.0.0.1:5672 (1)");
        assert_eq!(poll.exchanges[0].kind, "topic");
        // What recordings made before these were read still reads: empty.
        let older =
            line.replace(r#""vhosts":["/"],"#, "").replace(r#","channel":"127.0.0.1:58246 -> 127.0.0.1:5672 (1)""#, "");
        let record: RabbitRecord = serde_json::from_str(&older).expect("an older line parses");
        let RabbitEvent::Management(poll) = record.event else { panic!("a management poll") };
        assert!(poll.vhosts.is_empty() && poll.consumers[0].channel.is_empty());
    }
}
