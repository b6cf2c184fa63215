//! How to reach a Kafka cluster: bootstrap servers, librdkafka properties (`-X key=value`,
//! as kcat takes them), groups to watch and which topics to tail (named clusters come from
//! [`crate::ingest::clusters_file`]). Secrets in properties never reach logs, recordings or
//! the screen.

use std::collections::BTreeMap;
use std::time::Duration;

use regex::Regex;

/// Default offsets poll interval.
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// One cluster to watch.
#[derive(Clone, PartialEq, Eq)]
pub struct KafkaConfig {
    /// Display name: the named cluster's name, else the bootstrap servers.
    pub name: String,
    /// `bootstrap.servers`.
    pub bootstrap: String,
    /// librdkafka properties passed through (security.protocol, sasl.*, ssl.*, ...).
    pub properties: BTreeMap<String, String>,
    /// Groups to watch even when the cluster will not list them.
    pub groups: Vec<String>,
    /// How often watermarks and committed offsets are polled.
    pub poll_interval: Duration,
    /// Read the timestamp of the oldest unconsumed record for lag in time.
    pub lag_in_time: bool,
    /// Which topics' new messages the poller reads at each poll.
    pub tail: TailConfig,
}

impl KafkaConfig {
    /// A cluster reached at `bootstrap` with default settings.
    pub fn new(bootstrap: impl Into<String>) -> Self {
        let bootstrap = bootstrap.into();
        Self {
            name: bootstrap.clone(),
            bootstrap,
            properties: BTreeMap::new(),
            groups: Vec::new(),
            poll_interval: DEFAULT_POLL_INTERVAL,
            lag_in_time: true,
            tail: TailConfig::default(),
        }
    }

    /// The properties with secret values replaced, for logs and the UI.
    pub fn redacted_properties(&self) -> BTreeMap<String, String> {
        self.properties
            .iter()
            .map(|(k, v)| (k.clone(), if is_secret(k) { REDACTED.to_owned() } else { v.clone() }))
            .collect()
    }
}

impl std::fmt::Debug for KafkaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KafkaConfig")
            .field("name", &self.name)
            .field("bootstrap", &self.bootstrap)
            .field("properties", &self.redacted_properties())
            .field("groups", &self.groups)
            .field("poll_interval", &self.poll_interval)
            .field("lag_in_time", &self.lag_in_time)
            .field("tail", &self.tail)
            .finish()
    }
}

/// Which topics the poller tails: it reads what is new on each of their partitions at every
/// poll (bounded per topic, see `ingest::kafka::tail`), with a client that never joins a
/// group and never commits. Internal topics (`__*`) are never tailed; dead-letter topics are
/// sampled on their own terms whatever this says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TailConfig {
    /// Tail at all (true unless `--no-tail`, or `tail = false` in the clusters file).
    pub enabled: bool,
    /// Only the topics this matches (`--tail-topics`, `tail_topics`); `None`: every
    /// non-internal topic.
    pub topics: Option<TopicPattern>,
    /// Topics never tailed: the span topic `--otlp-kafka-topic` reads (its messages are
    /// spans, read on their own path).
    pub exclude: Vec<String>,
}

impl Default for TailConfig {
    fn default() -> Self {
        Self { enabled: true, topics: None, exclude: Vec::new() }
    }
}

impl TailConfig {
    /// Tailing on or off, for the topics `topics` matches (all when `None`). An invalid
    /// expression is an error: see [`TopicPattern::new`].
    pub fn new(enabled: bool, topics: Option<&str>) -> Result<Self, regex::Error> {
        Ok(Self { enabled, topics: topics.map(TopicPattern::new).transpose()?, exclude: Vec::new() })
    }

    /// Whether this configuration tails `topic`, going by its switch and its pattern only
    /// (the tail also leaves out internal and dead-letter topics).
    pub fn selects(&self, topic: &str) -> bool {
        self.enabled
            && self.topics.as_ref().is_none_or(|p| p.matches(topic))
            && !self.exclude.iter().any(|t| t == topic)
    }
}

/// A regular expression over topic names (the `regex` crate's syntax), compiled once when
/// the configuration is built. A topic matches when its whole name does, as in Kafka's own
/// pattern subscriptions: `orders.*` is every topic whose name starts with `orders`, and
/// `orders|payments` is those two topics.
#[derive(Clone)]
pub struct TopicPattern {
    /// The expression as given.
    text: String,
    /// The expression anchored at both ends.
    regex: Regex,
}

impl TopicPattern {
    /// Compiles `text`. An invalid expression is an error whose message points at the fault
    /// in `text` as given.
    pub fn new(text: &str) -> Result<Self, regex::Error> {
        // Checked on its own first: anchoring could make an invalid expression valid
        // (`a)|(b`), and the error's positions should be those of the text as given.
        Regex::new(text)?;
        let regex = Regex::new(&format!("^(?:{text})$"))?;
        Ok(Self { text: text.to_owned(), regex })
    }

    /// The expression as given.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `topic`'s whole name matches.
    pub fn matches(&self, topic: &str) -> bool {
        self.regex.is_match(topic)
    }
}

impl PartialEq for TopicPattern {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for TopicPattern {}

impl std::fmt::Debug for TopicPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("TopicPattern").field(&self.text).finish()
    }
}

/// Parses `--tail-topics REGEX` (a clap value parser, as [`parse_property`] is for `-X`).
pub fn parse_topic_pattern(text: &str) -> Result<TopicPattern, String> {
    TopicPattern::new(text).map_err(|e| format!("not a valid regular expression over topic names: {e}"))
}

/// What a secret value is shown as.
pub const REDACTED: &str = "[redacted]";

/// True for librdkafka properties whose values are credentials.
pub fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "secret", "jaas", "token"].iter().any(|word| key.contains(word)) || key == "ssl.key.pem"
}

/// Parses one `-X key=value`.
pub fn parse_property(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((k, v)) if !k.trim().is_empty() => Ok((k.trim().to_owned(), v.to_owned())),
        _ => Err(format!("expected key=value (a librdkafka property), got {text:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_redacted_in_debug_output() {
        let mut c = KafkaConfig::new("b:9092");
        c.properties.insert("sasl.password".into(), "hunter2".into());
        c.properties.insert("sasl.username".into(), "alice".into());
        c.properties.insert("sasl.oauthbearer.client.secret".into(), "s3".into());
        let shown = format!("{c:?}");
        assert!(!shown.contains("hunter2") && !shown.contains("s3\""), "{shown}");
        assert!(shown.contains("alice"));
    }

    #[test]
    fn properties_parse_like_kcat() {
        assert_eq!(parse_property("security.protocol=SASL_SSL"), Ok(("security.protocol".into(), "SASL_SSL".into())));
        assert_eq!(parse_property("sasl.jaas.config=a=b"), Ok(("sasl.jaas.config".into(), "a=b".into())));
        assert!(parse_property("novalue").is_err());
    }

    #[test]
    fn tailing_is_on_for_every_topic_unless_configured_otherwise() {
        let c = KafkaConfig::new("b:9092");
        assert!(c.tail.enabled && c.tail.topics.is_none());
        assert!(c.tail.selects("orders"));
        assert!(!TailConfig::new(false, None).unwrap().selects("orders"));
    }

    #[test]
    fn tail_topics_match_whole_names() {
        let t = TailConfig::new(true, Some("orders.*|payments")).unwrap();
        assert_eq!(t.topics.as_ref().map(TopicPattern::as_str), Some("orders.*|payments"));
        assert!(t.selects("orders") && t.selects("orders.v2") && t.selects("payments"));
        assert!(!t.selects("old-orders") && !t.selects("payments-v2") && !t.selects("shipments"));
        assert_eq!(t, TailConfig::new(true, Some("orders.*|payments")).unwrap());
        assert_ne!(t, TailConfig::default());
        assert!(format!("{t:?}").contains("orders.*|payments"));
    }

    #[test]
    fn an_invalid_tail_pattern_is_a_clear_error() {
        assert!(TailConfig::new(true, Some("orders(")).is_err());
        // Anchoring must not make an invalid expression valid.
        assert!(TopicPattern::new("a)|(b").is_err());
        let e = parse_topic_pattern("orders[").unwrap_err();
        assert!(e.contains("not a valid regular expression") && e.contains("orders["), "{e}");
    }
}
