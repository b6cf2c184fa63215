//! How to reach a Kafka cluster: bootstrap servers, librdkafka properties (`-X key=value`,
//! as kcat takes them), groups to watch, and a file of named clusters for people who switch
//! between them. Secrets in properties never reach logs, recordings or the screen.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

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
            .finish()
    }
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

/// Errors reading the clusters file.
#[derive(Debug, thiserror::Error)]
pub enum ClusterFileError {
    /// The file could not be read.
    #[error("cannot read clusters file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid.
    #[error("clusters file {path} is not valid: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The TOML parser's message (with line and column).
        message: String,
    },
    /// No cluster of that name.
    #[error("no cluster named {name:?} in {path} (it has: {known})")]
    Unknown {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The names it has.
        known: String,
    },
}

/// The clusters file: `[clusters.NAME]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    #[serde(default)]
    clusters: BTreeMap<String, ClusterEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterEntry {
    bootstrap: String,
    #[serde(default)]
    properties: BTreeMap<String, String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default, with = "humantime_serde_opt")]
    poll_interval: Option<Duration>,
}

mod humantime_serde_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom)).transpose()
    }
}

/// Where the clusters file is by default: `$XDG_CONFIG_HOME/eventlens/clusters.toml`, else
/// `~/.config/eventlens/clusters.toml`.
pub fn default_clusters_file() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("eventlens").join("clusters.toml"))
}

/// Reads the cluster `name` from the clusters file at `path`.
pub fn load_named_cluster(path: &Path, name: &str) -> Result<KafkaConfig, ClusterFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ClusterFileError::Read { path: path.to_owned(), source })?;
    let file: ClusterFile =
        toml::from_str(&text).map_err(|e| ClusterFileError::Parse { path: path.to_owned(), message: e.to_string() })?;
    let known = file.clusters.keys().cloned().collect::<Vec<_>>().join(", ");
    let Some(entry) = file.clusters.get(name) else {
        return Err(ClusterFileError::Unknown { path: path.to_owned(), name: name.to_owned(), known });
    };
    let mut config = KafkaConfig::new(entry.bootstrap.clone());
    config.name = name.to_owned();
    config.properties = entry.properties.clone();
    config.groups = entry.groups.clone();
    config.poll_interval = entry.poll_interval.unwrap_or(DEFAULT_POLL_INTERVAL);
    Ok(config)
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
    fn named_clusters_load_and_unknown_names_list_the_known_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clusters.toml");
        std::fs::write(
            &path,
            "[clusters.staging]\nbootstrap = \"k1:9092,k2:9092\"\ngroups = [\"billing\"]\npoll_interval = \"2s\"\n\
             [clusters.staging.properties]\n\"security.protocol\" = \"SASL_SSL\"\n",
        )
        .unwrap();
        let c = load_named_cluster(&path, "staging").unwrap();
        assert_eq!(c.name, "staging");
        assert_eq!(c.bootstrap, "k1:9092,k2:9092");
        assert_eq!(c.groups, ["billing"]);
        assert_eq!(c.poll_interval, Duration::from_secs(2));
        assert_eq!(c.properties["security.protocol"], "SASL_SSL");
        let e = load_named_cluster(&path, "prod").unwrap_err().to_string();
        assert!(e.contains("no cluster named \"prod\"") && e.contains("staging"), "{e}");
        std::fs::write(&path, "[clusters.x]\nbootstrapp = 1\n").unwrap();
        let e = load_named_cluster(&path, "x").unwrap_err().to_string();
        assert!(e.contains("not valid") && e.contains("bootstrap"), "{e}");
    }
}
