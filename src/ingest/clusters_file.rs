//! The clusters file (`--cluster NAME`, `--clusters-file FILE`): named Kafka clusters
//! (`[clusters.NAME]`), RabbitMQ brokers (`[rabbitmq.NAME]`) and NATS servers (`[nats.NAME]`),
//! for people who switch between them. A name stands for one of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::ingest::kafka::config::{DEFAULT_POLL_INTERVAL, KafkaConfig, TailConfig};
use crate::ingest::nats::NatsConfig;
use crate::ingest::rabbitmq::RabbitConfig;

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
    /// Two tables use the name.
    #[error("{name:?} names more than one cluster in {path} ({tables}): rename one")]
    Ambiguous {
        /// The file.
        path: PathBuf,
        /// The name asked for.
        name: String,
        /// The tables that have it.
        tables: String,
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

/// The clusters file: `[clusters.NAME]` (Kafka), `[rabbitmq.NAME]` and `[nats.NAME]` tables.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    #[serde(default)]
    clusters: BTreeMap<String, ClusterEntry>,
    #[serde(default)]
    rabbitmq: BTreeMap<String, RabbitEntry>,
    #[serde(default)]
    nats: BTreeMap<String, NatsEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RabbitEntry {
    /// The management API's URL (credentials may be in it).
    url: String,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, with = "humantime_serde_opt")]
    poll_interval: Option<Duration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NatsEntry {
    /// The server's URL (credentials may be in it).
    url: String,
    #[serde(default)]
    creds: Option<PathBuf>,
    #[serde(default)]
    nkey: Option<PathBuf>,
    /// A user (or a token, without `password`), as `nats --user`.
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    tlsca: Option<PathBuf>,
    #[serde(default)]
    tlscert: Option<PathBuf>,
    #[serde(default)]
    tlskey: Option<PathBuf>,
    #[serde(default, with = "humantime_serde_opt")]
    poll_interval: Option<Duration>,
}

/// What a name in the clusters file stands for.
#[derive(Debug)]
pub enum Named {
    /// A `[clusters.NAME]` table.
    Kafka(KafkaConfig),
    /// A `[rabbitmq.NAME]` table.
    Rabbitmq(RabbitConfig),
    /// A `[nats.NAME]` table.
    Nats(NatsConfig),
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
    /// `tail = false` turns tailing off for this cluster.
    #[serde(default)]
    tail: Option<bool>,
    /// Tail only the topics this regular expression matches.
    #[serde(default)]
    tail_topics: Option<String>,
}

mod humantime_serde_opt {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let text: Option<String> = Option::deserialize(d)?;
        text.map(|t| humantime::parse_duration(&t).map_err(serde::de::Error::custom)).transpose()
    }
}

/// Where the clusters file is by default: on Linux `$XDG_CONFIG_HOME/eventlens/clusters.toml`,
/// else `~/.config/eventlens/clusters.toml` (each platform's config folder elsewhere; see
/// [`crate::pipeline::folders`]).
pub fn default_clusters_file() -> Option<PathBuf> {
    crate::pipeline::folders::clusters_file()
}

/// Reads the cluster, broker or server `name` from the clusters file at `path`.
pub fn load_named(path: &Path, name: &str) -> Result<Named, ClusterFileError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| ClusterFileError::Read { path: path.to_owned(), source })?;
    let file: ClusterFile =
        toml::from_str(&text).map_err(|e| ClusterFileError::Parse { path: path.to_owned(), message: e.to_string() })?;
    let invalid = |message: String| ClusterFileError::Parse { path: path.to_owned(), message };
    let found = [
        file.clusters.get(name).map(|e| kafka(name, e).map(Named::Kafka).map_err(invalid)),
        file.rabbitmq.get(name).map(|e| rabbitmq(name, e).map(Named::Rabbitmq).map_err(invalid)),
        file.nats.get(name).map(|e| nats(name, e).map(Named::Nats).map_err(invalid)),
    ];
    let tables: Vec<&str> =
        ["clusters", "rabbitmq", "nats"].into_iter().zip(&found).filter(|(_, f)| f.is_some()).map(|(t, _)| t).collect();
    if tables.len() > 1 {
        return Err(ClusterFileError::Ambiguous {
            path: path.to_owned(),
            name: name.to_owned(),
            tables: tables.join(", "),
        });
    }
    found.into_iter().flatten().next().unwrap_or_else(|| {
        let mut names: Vec<&String> =
            file.clusters.keys().chain(file.rabbitmq.keys()).chain(file.nats.keys()).collect();
        names.sort();
        let known = names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ");
        Err(ClusterFileError::Unknown { path: path.to_owned(), name: name.to_owned(), known })
    })
}

fn kafka(name: &str, entry: &ClusterEntry) -> Result<KafkaConfig, String> {
    let mut config = KafkaConfig::new(entry.bootstrap.clone());
    config.name = name.to_owned();
    config.properties = entry.properties.clone();
    config.groups = entry.groups.clone();
    config.poll_interval = entry.poll_interval.unwrap_or(DEFAULT_POLL_INTERVAL);
    config.tail = TailConfig::new(entry.tail.unwrap_or(true), entry.tail_topics.as_deref())
        .map_err(|e| format!("cluster {name:?}: tail_topics is not a valid regular expression: {e}"))?;
    Ok(config)
}

fn rabbitmq(name: &str, entry: &RabbitEntry) -> Result<RabbitConfig, String> {
    let mut config = RabbitConfig::new(&entry.url).map_err(|e| format!("rabbitmq {name:?}: {e}"))?;
    if let Some(user) = &entry.user {
        config.user.clone_from(user);
    }
    if let Some(password) = &entry.password {
        config.password.clone_from(password);
    }
    if let Some(poll) = entry.poll_interval {
        config.poll_interval = poll;
    }
    Ok(config)
}

fn nats(name: &str, entry: &NatsEntry) -> Result<NatsConfig, String> {
    let mut config = NatsConfig::new(&entry.url).map_err(|e| format!("nats {name:?}: {e}"))?;
    config.creds.clone_from(&entry.creds);
    config.nkey.clone_from(&entry.nkey);
    if entry.password.is_some() && entry.user.is_none() {
        return Err(format!("nats {name:?}: password needs user"));
    }
    config.log_in(entry.user.as_deref(), entry.password.as_deref());
    config.tls_ca.clone_from(&entry.tlsca);
    config.tls_client = match (&entry.tlscert, &entry.tlskey) {
        (Some(cert), Some(key)) => Some((cert.clone(), key.clone())),
        (None, None) => None,
        _ => return Err(format!("nats {name:?}: tlscert and tlskey go together")),
    };
    if let Some(poll) = entry.poll_interval {
        config.poll_interval = poll;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kafka_named(path: &Path, name: &str) -> Result<KafkaConfig, ClusterFileError> {
        match load_named(path, name)? {
            Named::Kafka(c) => Ok(c),
            other => panic!("{other:?}"),
        }
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
        let c = kafka_named(&path, "staging").unwrap();
        assert_eq!(c.name, "staging");
        assert_eq!(c.bootstrap, "k1:9092,k2:9092");
        assert_eq!(c.groups, ["billing"]);
        assert_eq!(c.poll_interval, Duration::from_secs(2));
        assert_eq!(c.properties["security.protocol"], "SASL_SSL");
        let e = kafka_named(&path, "prod").unwrap_err().to_string();
        assert!(e.contains("no cluster named \"prod\"") && e.contains("staging"), "{e}");
        std::fs::write(&path, "[clusters.x]\nbootstrapp = 1\n").unwrap();
        let e = kafka_named(&path, "x").unwrap_err().to_string();
        assert!(e.contains("not valid") && e.contains("bootstrap"), "{e}");
    }

    #[test]
    fn the_clusters_file_configures_tailing_per_cluster() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clusters.toml");
        std::fs::write(
            &path,
            "[clusters.a]\nbootstrap = \"k:9092\"\n\
             [clusters.b]\nbootstrap = \"k:9092\"\ntail = false\n\
             [clusters.c]\nbootstrap = \"k:9092\"\ntail_topics = \"orders.*\"\n\
             [clusters.d]\nbootstrap = \"k:9092\"\ntail_topics = \"orders(\"\n",
        )
        .unwrap();
        assert_eq!(kafka_named(&path, "a").unwrap().tail, TailConfig::default());
        assert!(!kafka_named(&path, "b").unwrap().tail.enabled);
        let c = kafka_named(&path, "c").unwrap().tail;
        assert!(c.enabled && c.selects("orders.v2") && !c.selects("payments"));
        let e = kafka_named(&path, "d").unwrap_err().to_string();
        assert!(e.contains("\"d\"") && e.contains("tail_topics"), "{e}");
    }

    #[test]
    fn brokers_and_servers_are_named_beside_kafka_clusters() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clusters.toml");
        std::fs::write(
            &path,
            "[clusters.kafka-prod]\nbootstrap = \"k:9092\"\n\
             [rabbitmq.rabbit-prod]\nurl = \"https://rabbit:15671\"\nuser = \"monitor\"\npassword = \"s3cret\"\npoll_interval = \"10s\"\n\
             [nats.nats-prod]\nurl = \"tls://nats:4222\"\ncreds = \"/etc/app.creds\"\nnkey = \"/etc/app.nk\"\nuser = \"watcher\"\npassword = \"p4ss\"\n\
             [nats.kafka-prod]\nurl = \"nats:4222\"\n",
        )
        .unwrap();
        let Named::Rabbitmq(r) = load_named(&path, "rabbit-prod").unwrap() else { panic!("a broker") };
        assert_eq!(
            (r.name.as_str(), r.user.as_str(), r.password.as_str()),
            ("https://rabbit:15671", "monitor", "s3cret")
        );
        assert_eq!(r.poll_interval, Duration::from_secs(10));
        let Named::Nats(n) = load_named(&path, "nats-prod").unwrap() else { panic!("a server") };
        assert_eq!((n.name.as_str(), n.creds.as_deref()), ("tls://nats:4222", Some(Path::new("/etc/app.creds"))));
        assert_eq!(n.nkey.as_deref(), Some(Path::new("/etc/app.nk")));
        let login = Some(crate::ingest::nats::config::UrlAuth::UserPassword("watcher".into(), "p4ss".into()));
        assert!(n.auth == login);
        let e = load_named(&path, "kafka-prod").unwrap_err().to_string();
        assert!(e.contains("more than one") && e.contains("clusters, nats"), "{e}");
        let e = load_named(&path, "nope").unwrap_err().to_string();
        assert!(e.contains("kafka-prod, nats-prod, rabbit-prod"), "{e}");
    }

    #[test]
    fn a_nats_password_without_a_user_is_refused_with_the_servers_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("clusters.toml");
        std::fs::write(&path, "[nats.lonely]\nurl = \"nats:4222\"\npassword = \"p4ss\"\n").unwrap();
        let e = load_named(&path, "lonely").unwrap_err().to_string();
        assert!(e.contains("\"lonely\"") && e.contains("password needs user"), "{e}");
    }
}
