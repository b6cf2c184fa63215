//! One poll of the management HTTP API: exchanges, queues, bindings, consumers and the
//! connections' client-provided names, read as JSON and turned into the model's records.
//! Only `GET`s: nothing is declared, consumed or acknowledged.

use std::collections::HashMap;
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::config::RabbitConfig;
use crate::model::rabbitmq::{BindingInfo, ConsumerInfo, ExchangeInfo, ManagementPoll, QueueInfo};

/// How long one request may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a poll failed.
#[derive(Debug)]
pub enum ReadError {
    /// The broker answered 401 or 403: the login is refused or lacks the monitoring tag.
    Refused(String),
    /// It could not be reached, or answered with something else than what was asked.
    Down(String),
}

/// A management API client for one broker.
pub struct ManagementClient {
    http: reqwest::blocking::Client,
    config: RabbitConfig,
}

impl ManagementClient {
    /// A client with [`REQUEST_TIMEOUT`] on every request.
    pub fn new(config: RabbitConfig) -> Result<Self, ReadError> {
        let http = reqwest::blocking::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .user_agent(concat!("eventlens/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ReadError::Down(format!("cannot make an HTTP client: {e}")))?;
        Ok(Self { http, config })
    }

    /// Reads everything one poll records, each list sorted so equal states make equal
    /// records.
    pub fn poll(&self) -> Result<ManagementPoll, ReadError> {
        let exchanges: Vec<WireExchange> = self.get("exchanges?columns=vhost,name,type")?;
        let queues: Vec<WireQueue> = self.get(
            "queues?columns=vhost,name,type,messages_ready,messages_unacknowledged,consumers,arguments,\
             effective_policy_definition,message_stats",
        )?;
        let bindings: Vec<WireBinding> =
            self.get("bindings?columns=vhost,source,destination,destination_type,routing_key")?;
        let consumers: Vec<WireConsumer> =
            self.get("consumers?columns=queue,consumer_tag,channel_details,ack_required,prefetch_count")?;
        let connections: Vec<WireConnection> = self.get("connections?columns=name,client_properties")?;
        let vhosts: Vec<WireVhost> = self.get("vhosts?columns=name")?;
        let names: HashMap<String, String> =
            connections.into_iter().filter_map(|c| Some((c.name, c.client_properties.connection_name?))).collect();
        let mut poll = ManagementPoll {
            vhosts: vhosts.into_iter().map(|v| v.name).collect(),
            exchanges: exchanges
                .into_iter()
                .filter(|e| !e.name.is_empty())
                .map(|e| ExchangeInfo { vhost: e.vhost, name: e.name, kind: e.kind })
                .collect(),
            queues: queues.into_iter().map(WireQueue::into_info).collect(),
            bindings: bindings
                .into_iter()
                .filter(|b| !b.source.is_empty())
                .map(|b| BindingInfo {
                    vhost: b.vhost,
                    source: b.source,
                    destination: b.destination,
                    to_exchange: b.destination_type == "exchange",
                    routing_key: b.routing_key,
                })
                .collect(),
            consumers: consumers
                .into_iter()
                .map(|c| ConsumerInfo {
                    client_name: names.get(&c.channel_details.connection_name).cloned(),
                    vhost: c.queue.vhost,
                    queue: c.queue.name,
                    tag: c.consumer_tag,
                    connection: c.channel_details.connection_name,
                    channel: c.channel_details.name,
                    ack_required: c.ack_required,
                    prefetch: c.prefetch_count,
                })
                .collect(),
        };
        poll.vhosts.sort();
        poll.exchanges.sort_by(|a, b| (&a.vhost, &a.name).cmp(&(&b.vhost, &b.name)));
        poll.queues.sort_by(|a, b| (&a.vhost, &a.name).cmp(&(&b.vhost, &b.name)));
        poll.bindings.sort_by(|a, b| {
            (&a.vhost, &a.source, &a.destination, &a.routing_key).cmp(&(
                &b.vhost,
                &b.source,
                &b.destination,
                &b.routing_key,
            ))
        });
        poll.consumers.sort_by(|a, b| (&a.vhost, &a.queue, &a.tag).cmp(&(&b.vhost, &b.queue, &b.tag)));
        Ok(poll)
    }

    fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ReadError> {
        let url = format!("{}/api/{path}", self.config.name);
        let response = self
            .http
            .get(&url)
            .basic_auth(&self.config.user, Some(&self.config.password))
            .send()
            .map_err(|e| ReadError::Down(error_text(&e)))?;
        let status = response.status();
        if status == reqwest::StatusCode::UNAUTHORIZED {
            return Err(ReadError::Refused(format!("user {:?} was refused (401)", self.config.user)));
        }
        if status == reqwest::StatusCode::FORBIDDEN {
            return Err(ReadError::Refused(format!(
                "user {:?} may not read the management API (403): it needs the monitoring tag",
                self.config.user
            )));
        }
        if !status.is_success() {
            return Err(ReadError::Down(format!("GET /api/{path} answered {status}")));
        }
        let body = response.bytes().map_err(|e| ReadError::Down(error_text(&e)))?;
        serde_json::from_slice(&body)
            .map_err(|e| ReadError::Down(format!("GET /api/{}: not what the management API returns: {e}", short(path))))
    }
}

/// The error's words with its causes (the URL in them holds no credentials: those go in a
/// header).
fn error_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text
}

fn short(path: &str) -> &str {
    path.split('?').next().unwrap_or(path)
}

#[derive(Deserialize)]
struct WireExchange {
    vhost: String,
    name: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct WireQueue {
    vhost: String,
    name: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    messages_ready: u64,
    #[serde(default)]
    messages_unacknowledged: u64,
    #[serde(default)]
    consumers: u32,
    #[serde(default)]
    arguments: HashMap<String, serde_json::Value>,
    /// An object, or `[]` when no policy applies (some broker versions write an empty
    /// definition so).
    #[serde(default)]
    effective_policy_definition: Option<serde_json::Value>,
    #[serde(default)]
    message_stats: Option<WireStats>,
}

#[derive(Deserialize, Default)]
struct WireStats {
    #[serde(default)]
    publish: u64,
    #[serde(default)]
    deliver_get: u64,
    #[serde(default)]
    ack: u64,
    #[serde(default)]
    deliver_no_ack: u64,
    #[serde(default)]
    get_no_ack: u64,
    #[serde(default)]
    redeliver: u64,
}

impl WireQueue {
    fn into_info(self) -> QueueInfo {
        let text = |v: Option<&serde_json::Value>| v.and_then(serde_json::Value::as_str).map(str::to_owned);
        let dead_letter_exchange = text(self.arguments.get("x-dead-letter-exchange"))
            .or_else(|| text(self.effective_policy_definition.as_ref()?.as_object()?.get("dead-letter-exchange")));
        let stats = self.message_stats.unwrap_or_default();
        let arguments = self
            .arguments
            .into_iter()
            .map(|(k, v)| match v {
                serde_json::Value::String(s) => (k, s),
                other => (k, other.to_string()),
            })
            .collect();
        QueueInfo {
            vhost: self.vhost,
            name: self.name,
            kind: self.kind,
            ready: self.messages_ready,
            unacked: self.messages_unacknowledged,
            consumers: self.consumers,
            published: stats.publish,
            delivered: stats.deliver_get,
            acked: stats.ack + stats.deliver_no_ack + stats.get_no_ack,
            redelivered: stats.redeliver,
            dead_letter_exchange,
            arguments,
        }
    }
}

#[derive(Deserialize)]
struct WireBinding {
    vhost: String,
    source: String,
    destination: String,
    destination_type: String,
    #[serde(default)]
    routing_key: String,
}

#[derive(Deserialize)]
struct WireConsumer {
    queue: WireQueueName,
    #[serde(default)]
    consumer_tag: String,
    channel_details: WireChannel,
    #[serde(default)]
    ack_required: bool,
    #[serde(default)]
    prefetch_count: u32,
}

#[derive(Deserialize)]
struct WireQueueName {
    vhost: String,
    name: String,
}

#[derive(Deserialize)]
struct WireChannel {
    #[serde(default)]
    connection_name: String,
    #[serde(default)]
    name: String,
}

#[derive(Deserialize)]
struct WireVhost {
    name: String,
}

#[derive(Deserialize)]
struct WireConnection {
    name: String,
    #[serde(default)]
    client_properties: WireClientProperties,
}

#[derive(Deserialize, Default)]
struct WireClientProperties {
    #[serde(default)]
    connection_name: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_queue_reads_its_counters_and_its_dead_letter_exchange_from_arguments_or_policy() {
        let listed = r#"[
            {"vhost":"/","name":"billing","type":"quorum","messages_ready":4,"messages_unacknowledged":2,
             "consumers":1,"arguments":{"x-dead-letter-exchange":"orders.dlx","x-max-length":1000},"effective_policy_definition":{},
             "message_stats":{"publish":9,"deliver_get":5,"ack":1,"deliver_no_ack":2,"get_no_ack":1,"redeliver":3}},
            {"vhost":"shop","name":"audit","arguments":{},"effective_policy_definition":{"dead-letter-exchange":"dlx"}},
            {"vhost":"/","name":"fresh","type":"classic","arguments":{},"effective_policy_definition":[]}
        ]"#;
        let queues: Vec<WireQueue> = serde_json::from_str(listed).unwrap();
        let infos: Vec<QueueInfo> = queues.into_iter().map(WireQueue::into_info).collect();
        let billing = &infos[0];
        assert_eq!((billing.kind.as_str(), billing.ready, billing.unacked, billing.consumers), ("quorum", 4, 2, 1));
        assert_eq!((billing.published, billing.delivered, billing.acked, billing.redelivered), (9, 5, 4, 3));
        assert_eq!(billing.dead_letter_exchange.as_deref(), Some("orders.dlx"));
        let arguments: Vec<(&str, &str)> = billing.arguments.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(arguments, [("x-dead-letter-exchange", "orders.dlx"), ("x-max-length", "1000")]);
        // No statistics yet (a queue nothing went through): zeros, and the policy's DLX.
        assert_eq!((infos[1].ready, infos[1].acked), (0, 0));
        assert_eq!(infos[1].dead_letter_exchange.as_deref(), Some("dlx"));
        assert_eq!(infos[2].dead_letter_exchange, None);
    }

    #[test]
    fn what_is_not_the_management_api_is_refused_with_the_reason() {
        let Err(e) = serde_json::from_str::<Vec<WireQueue>>(r#"{"error":"Object Not Found"}"#) else {
            panic!("an error object is not a list of queues")
        };
        assert!(e.to_string().contains("expected a sequence"), "{e}");
        assert!(serde_json::from_str::<Vec<WireConsumer>>(r#"[{"queue":{"name":"q"}}]"#).is_err());
    }
}
