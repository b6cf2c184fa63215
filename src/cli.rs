//! The command line's definitions (clap): the subcommands ([`Command`]), the options every
//! subcommand takes ([`ReceiverArgs`]) and what they make of them (the collector's
//! configuration, the findings settings, the recording caps), `eventlens demo`'s options, and
//! the value parsers and output formats. `main.rs` runs what they ask for.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use eventlens::collector::CollectorConfig;
use eventlens::export::graph::GraphFormat;
use eventlens::ingest::clusters_file::{Named, default_clusters_file, load_named};
use eventlens::ingest::kafka::KafkaConfig;
use eventlens::ingest::kafka::config::{TopicPattern, parse_property, parse_topic_pattern};
use eventlens::ingest::kafka::otlp_topic::{self, OtlpEncoding, OtlpTopicConfig};
use eventlens::ingest::nats::NatsConfig;
use eventlens::ingest::otlp::{DEFAULT_GRPC_ADDR, DEFAULT_HTTP_ADDR, DEFAULT_MAX_REQUEST_BYTES, OtlpConfig};
use eventlens::ingest::rabbitmq::RabbitConfig;
use eventlens::model::journey::JourneySettings;

/// Subcommands that read or write files only, and the options every subcommand takes that
/// each of them uses: the others (receivers, Kafka, the timeline, recording) are hidden from
/// their help, where they would only mislead.
const FILE_COMMANDS: [(&str, &[&str]); 7] = [
    ("import", &[]),
    ("slice", &[]),
    ("graph", &[]),
    ("journeys", &[]),
    ("findings", &["no_findings", "dedup_field", "key_field", "order_field", "event_type_field"]),
    ("completions", &[]),
    ("man", &[]),
];

/// The command line as parsed, documented and completed: [`Cli`]'s definition with the
/// options each file command ignores hidden from its help (see [`FILE_COMMANDS`]).
pub fn command() -> clap::Command {
    let mut command = <Cli as clap::CommandFactory>::command();
    // Global options reach the subcommands when the command is built; hide them after.
    command.build();
    for (name, used) in FILE_COMMANDS {
        command = command.mut_subcommand(name, |sub| {
            sub.mut_args(|arg| {
                if arg.is_global_set() && !used.contains(&arg.get_id().as_str()) { arg.hide(true) } else { arg }
            })
        });
    }
    command
}

/// See event chains across services, topics and consumers, live and on replay.
#[derive(Debug, Parser)]
#[command(name = "eventlens", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub receivers: ReceiverArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open the window with the receivers listening (the default).
    Gui,
    /// Run the collector without a window, writing what it receives (accepted spans, what
    /// watched Kafka clusters, RabbitMQ brokers and NATS servers showed) to a session file.
    Record {
        /// The session file to write (JSON Lines; see docs/capture-format.md).
        #[arg(long, short)]
        out: PathBuf,
        /// Stop after this long (e.g. 30s, 5m); without it, run until Ctrl-C.
        #[arg(long)]
        duration: Option<humantime::Duration>,
    },
    /// Open the window on a recorded session file (plain or .zst): the file is replayed
    /// through the engine, with its own clock; no receivers are started.
    Open {
        /// The session file.
        file: PathBuf,
    },
    /// Convert a file other tools wrote into a session file: OTLP/JSON export requests (the
    /// OpenTelemetry Collector's file exporter, one per line, or one document) and Kafka
    /// messages as `kcat -C -J` prints them. Bad lines are reported, the rest imported.
    Import {
        /// The file to import.
        input: PathBuf,
        /// The session file to write (`.zst` to compress).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Run the built-in demo: an event-driven shop (a mock Kafka cluster, seven services
    /// instrumented with OpenTelemetry) inside the process, shown live. No broker or
    /// collector of your own is needed. Its receivers take ephemeral loopback ports unless
    /// --otlp-grpc / --otlp-http name others. See docs/demo.md.
    Demo(DemoArgs),
    /// Write a time slice of a session file as a new session file: the records received
    /// between --from and --to, with the Kafka state in force at the start carried in.
    Slice {
        /// The session file.
        file: PathBuf,
        /// Start: an offset from the session's start (`90s`, `2m30s`) or an RFC 3339 time
        /// (`2026-11-22T14:03:00Z`). Default: the session's start.
        #[arg(long, value_parser = parse_bound)]
        from: Option<eventlens::capture::slice::SliceBound>,
        /// End (excluded), in the same forms. Default: the session's end.
        #[arg(long, value_parser = parse_bound)]
        to: Option<eventlens::capture::slice::SliceBound>,
        /// The session file to write (`.zst` to compress).
        #[arg(long, short)]
        out: PathBuf,
    },
    /// Print the flow graph of a session file.
    Graph {
        /// The session file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: GraphFormat,
    },
    /// Print the journeys of a session file: all of them, or those of one trace or key.
    Journeys {
        /// The session file.
        file: PathBuf,
        /// Only the journeys of this trace id (32 hex digits).
        #[arg(long, conflicts_with = "key")]
        trace: Option<String>,
        /// Only journeys carrying this Kafka message key.
        #[arg(long)]
        key: Option<String>,
        /// `json`: one OTLP JSON export request per journey and line; `mermaid`: one
        /// sequence diagram per journey; `summary`: one JSON object per journey and line
        /// (id, traces, root service, event type, keys, services, topics, hops, spans,
        /// status, start, duration).
        #[arg(long, value_enum, default_value = "json")]
        format: JourneyFormat,
    },
    /// Print what EventLens finds wrong in a session file: duplicates, out-of-order events,
    /// schema changes, dead letters, poison messages, retries, compensation, synchronous
    /// coupling and lag (see docs/findings.md). With --fail-on, exits with status 3 when a
    /// finding at or above that severity exists, so a pipeline can fail on a recorded run.
    Findings {
        /// The session file.
        file: PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value = "text")]
        format: eventlens::export::findings::FindingsFormat,
        /// Exit with status 3 when a finding at or above this severity exists.
        #[arg(long, value_enum)]
        fail_on: Option<FailOn>,
    },
    /// Print the shell completions of this command line (bash, zsh, fish, powershell) to
    /// standard output, e.g. `eventlens completions bash > ~/.local/share/bash-completion/completions/eventlens`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the man page (roff) to standard output, e.g. `eventlens man | man -l -`.
    Man,
}

/// The severity `eventlens findings --fail-on` fails at.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum FailOn {
    /// Any finding.
    Info,
    /// Warnings and errors.
    Warning,
    /// Errors only.
    Error,
}

impl From<FailOn> for eventlens::model::findings::Severity {
    fn from(f: FailOn) -> Self {
        match f {
            FailOn::Info => Self::Info,
            FailOn::Warning => Self::Warning,
            FailOn::Error => Self::Error,
        }
    }
}

/// A slice bound: a duration from the session's start, or an RFC 3339 moment.
fn parse_bound(text: &str) -> Result<eventlens::capture::slice::SliceBound, String> {
    use eventlens::capture::slice::SliceBound;
    if let Ok(offset) = humantime::parse_duration(text) {
        return Ok(SliceBound::Offset(offset));
    }
    let moment = chrono::DateTime::parse_from_rfc3339(text)
        .map_err(|_| format!("{text:?} is neither a duration (90s, 2m30s) nor an RFC 3339 time"))?;
    moment
        .timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .map(SliceBound::At)
        .ok_or_else(|| format!("{text:?} is out of range"))
}

/// `eventlens demo` options.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Start in a scenario (repeatable). Without a window and with --duration, each
    /// scenario runs for the first half and is then lifted, so the recording shows the
    /// effect and the recovery.
    #[arg(long, value_enum, value_name = "NAME")]
    pub scenario: Vec<eventlens::demo::Scenario>,
    /// Orders per second (1 to 5000).
    #[arg(long, default_value_t = eventlens::demo::controls::DEFAULT_RATE)]
    pub rate: f64,
    /// Run without a window (with --out, records the session).
    #[arg(long)]
    pub headless: bool,
    /// Stop after this long (e.g. 10s); without it, run until the window closes or Ctrl-C.
    #[arg(long)]
    pub duration: Option<humantime::Duration>,
    /// Record the session to this file (`.zst` to compress).
    #[arg(long, short)]
    pub out: Option<PathBuf>,
}

/// Journey output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum JourneyFormat {
    /// OTLP JSON, one `ExportTraceServiceRequest` per line.
    Json,
    /// Mermaid sequence diagrams.
    Mermaid,
    /// One JSON object per journey and line: its list row (see docs/journeys.md).
    Summary,
}

/// Receiver options, accepted before or after the subcommand (`gui`, `record`).
#[derive(Debug, Args, Clone)]
pub struct ReceiverArgs {
    /// OTLP/gRPC listen address. Loopback by default; another address is reachable from
    /// other hosts and is logged as such.
    #[arg(long, global = true, value_name = "ADDR", default_value = DEFAULT_GRPC_ADDR)]
    otlp_grpc: SocketAddr,
    /// OTLP/HTTP listen address.
    #[arg(long, global = true, value_name = "ADDR", default_value = DEFAULT_HTTP_ADDR)]
    otlp_http: SocketAddr,
    /// Do not start the OTLP receivers.
    #[arg(long, global = true)]
    no_otlp: bool,
    /// Do not assemble journeys (they run on a thread of their own, which costs about three
    /// times the engine's CPU per span; see docs/performance.md).
    #[arg(long, global = true, help_heading = "Journeys")]
    no_journeys: bool,
    /// Most journeys kept; the oldest are evicted first.
    #[arg(long, global = true, value_name = "N", default_value_t = 200_000, help_heading = "Journeys")]
    max_journeys: usize,
    /// Most spans kept in journeys; the oldest journeys are evicted first.
    #[arg(long, global = true, value_name = "N", default_value_t = 500_000, help_heading = "Journeys")]
    max_journey_spans: usize,
    /// The JSON payload field naming a message's event type when it is not a CloudEvent.
    #[arg(long, global = true, value_name = "FIELD", default_value = "type", help_heading = "Journeys")]
    event_type_field: String,
    /// Do not look for findings (duplicates, out-of-order events, schema changes, ...).
    #[arg(long, global = true, help_heading = "Findings")]
    no_findings: bool,
    /// A JSON payload field that identifies an event, for duplicates (e.g. eventId);
    /// CloudEvents `id` is read without it.
    #[arg(long, global = true, value_name = "FIELD", help_heading = "Findings")]
    dedup_field: Option<String>,
    /// A JSON payload field holding the ordering key, when the record key is not it.
    #[arg(long, global = true, value_name = "FIELD", help_heading = "Findings")]
    key_field: Option<String>,
    /// JSON payload fields holding a sequence number or version, tried in order
    /// [default: seq, sequence, version]. Repeatable, or comma-separated.
    #[arg(long, global = true, value_name = "FIELD", value_delimiter = ',', help_heading = "Findings")]
    order_field: Vec<String>,
    /// Mask this field wherever it appears: JSON payload fields of Kafka messages (at any
    /// depth), message headers, span attributes (whole key or its last dotted segment).
    /// Masked before anything is shown, recorded or exported. Repeatable, or comma-separated.
    #[arg(long, global = true, value_name = "FIELD", value_delimiter = ',')]
    pub redact: Vec<String>,
    /// Spans the timeline keeps for scrubbing back (the oldest go first; about 100 bytes each);
    /// 0 turns the timeline off (Pause then freezes the view). `open` keeps 2,000,000 unless
    /// told otherwise.
    #[arg(long, global = true, value_name = "N", default_value_t = eventlens::engine::playback::DEFAULT_TIMELINE_SPANS)]
    pub timeline_spans: usize,
    /// Cap each recording file at this size on disk (500MB, 2GiB): then recording stops,
    /// or with --record-ring a new file starts.
    #[arg(long, global = true, value_name = "SIZE", help_heading = "Recording")]
    record_max_size: Option<bytesize::ByteSize>,
    /// Cap each recording file at this age (30m, 2h), likewise.
    #[arg(long, global = true, value_name = "DURATION", help_heading = "Recording")]
    record_max_duration: Option<humantime::Duration>,
    /// At a cap, start a new numbered file (NAME-0002.jsonl.zst, ...) and keep only the newest
    /// N files.
    #[arg(long, global = true, value_name = "N", help_heading = "Recording")]
    record_ring: Option<usize>,
    /// The memory budget (1GiB, 512MB) over what grows with input: the timeline keeps 33% of
    /// it (records and checkpoints; the flow graph's join memories are sized to an eighth of
    /// it), journeys 26%, the message browser 17%, the oldest dropped first and counted; the
    /// flow graph 5%, past which new names fold into overflow nodes;
    /// the findings detectors 3%, their memories shortened to fit; what waits for the engine
    /// 10% and for its helper threads 1% each.
    /// Default: a quarter of the machine's memory, at most 4 GiB.
    #[arg(long, global = true, value_name = "SIZE")]
    memory_budget: Option<bytesize::ByteSize>,
    /// Largest accepted OTLP request in bytes (compressed or not).
    #[arg(long, global = true, value_name = "BYTES", default_value_t = DEFAULT_MAX_REQUEST_BYTES)]
    pub max_request_bytes: usize,
    /// Watch a Kafka cluster: its bootstrap servers, HOST:PORT[,HOST:PORT]. Repeat for
    /// several clusters.
    #[arg(long, global = true, value_name = "SERVERS", help_heading = "Kafka")]
    kafka: Vec<String>,
    /// Watch a named Kafka cluster, RabbitMQ broker or NATS server from the clusters file
    /// ([clusters.NAME], [rabbitmq.NAME], [nats.NAME]). Repeatable.
    #[arg(long, global = true, value_name = "NAME", help_heading = "Kafka")]
    cluster: Vec<String>,
    /// The clusters file [default: $XDG_CONFIG_HOME/eventlens/clusters.toml or
    /// ~/.config/eventlens/clusters.toml].
    #[arg(long, global = true, value_name = "FILE", help_heading = "Kafka")]
    clusters_file: Option<PathBuf>,
    /// A librdkafka property for the clusters given with --kafka, as kcat takes it
    /// (security.protocol=SASL_SSL, sasl.username=..., ssl.ca.location=...). Repeatable.
    #[arg(short = 'X', global = true, value_name = "KEY=VALUE", value_parser = parse_property, help_heading = "Kafka")]
    property: Vec<(String, String)>,
    /// A consumer group to watch even when the cluster will not list groups. Repeatable.
    #[arg(long, global = true, value_name = "GROUP", help_heading = "Kafka")]
    group: Vec<String>,
    /// How often watermarks and committed offsets are polled [default: 5s, or the
    /// clusters file's poll_interval].
    #[arg(long, global = true, value_name = "DURATION", help_heading = "Kafka")]
    kafka_poll: Option<humantime::Duration>,
    /// Tail only the topics whose whole name matches this regular expression [default: every
    /// non-internal topic, or the clusters file's tail_topics].
    #[arg(long, global = true, value_name = "REGEX", value_parser = parse_topic_pattern, help_heading = "Kafka")]
    tail_topics: Option<TopicPattern>,
    /// Do not tail topics' new messages (dead-letter topics are still sampled; findings on
    /// payloads then see only what is browsed).
    #[arg(long, global = true, help_heading = "Kafka")]
    no_tail: bool,
    /// Read OTLP spans from this topic of the (first) Kafka cluster, as the OpenTelemetry
    /// Collector's kafka exporter writes them.
    #[arg(long, global = true, value_name = "TOPIC", help_heading = "Kafka")]
    otlp_kafka_topic: Option<String>,
    /// Encoding of the span messages.
    #[arg(long, global = true, value_enum, default_value = "otlp_proto", help_heading = "Kafka")]
    otlp_kafka_encoding: OtlpEncoding,
    /// The consumer group EventLens reads the span topic as.
    #[arg(long, global = true, value_name = "GROUP", default_value = otlp_topic::DEFAULT_GROUP, help_heading = "Kafka")]
    otlp_kafka_group: String,
    /// Watch a NATS server's JetStream streams and consumers: nats://[USER:PASS@]HOST:4222
    /// (tls:// for TLS). Repeat for several servers.
    #[arg(long, global = true, value_name = "URL", help_heading = "NATS")]
    nats: Vec<String>,
    /// A credentials file (JWT and NKey seed) for the --nats servers, as `nats --creds`.
    #[arg(long, global = true, value_name = "FILE", help_heading = "NATS")]
    nats_creds: Option<PathBuf>,
    /// A user for the --nats servers (a token without --nats-password), as `nats --user`;
    /// wins over credentials in the URL.
    #[arg(long, global = true, value_name = "USER", help_heading = "NATS")]
    nats_user: Option<String>,
    /// The --nats-user's password, as `nats --password`.
    #[arg(long, global = true, value_name = "PASSWORD", requires = "nats_user", help_heading = "NATS")]
    nats_password: Option<String>,
    /// A file holding an NKey seed for the --nats servers, as `nats --nkey`.
    #[arg(long, global = true, value_name = "FILE", help_heading = "NATS")]
    nats_nkey: Option<PathBuf>,
    /// A CA certificate to trust for the --nats servers, as `nats --tlsca`.
    #[arg(long, global = true, value_name = "FILE", help_heading = "NATS")]
    nats_tlsca: Option<PathBuf>,
    /// A client certificate for the --nats servers, as `nats --tlscert` (with --nats-tlskey).
    #[arg(long, global = true, value_name = "FILE", requires = "nats_tlskey", help_heading = "NATS")]
    nats_tlscert: Option<PathBuf>,
    /// The client certificate's private key, as `nats --tlskey`.
    #[arg(long, global = true, value_name = "FILE", requires = "nats_tlscert", help_heading = "NATS")]
    nats_tlskey: Option<PathBuf>,
    /// How often JetStream's streams and consumers are polled.
    #[arg(long, global = true, value_name = "DURATION", default_value = "5s", help_heading = "NATS")]
    nats_poll: humantime::Duration,
    /// Watch a RabbitMQ broker through its management API:
    /// http[s]://[USER:PASS@]HOST:15672 (guest:guest when no user is given). Repeatable.
    #[arg(long, global = true, value_name = "URL", help_heading = "RabbitMQ")]
    rabbitmq: Vec<String>,
    /// How often exchanges, queues, bindings and consumers are polled.
    #[arg(long, global = true, value_name = "DURATION", default_value = "5s", help_heading = "RabbitMQ")]
    rabbitmq_poll: humantime::Duration,
}

impl ReceiverArgs {
    pub fn findings_settings(&self) -> eventlens::model::findings::FindingsSettings {
        let defaults = eventlens::model::findings::FindingsSettings::default();
        eventlens::model::findings::FindingsSettings {
            enabled: !self.no_findings,
            dedup_field: self.dedup_field.clone(),
            key_field: self.key_field.clone(),
            order_fields: if self.order_field.is_empty() {
                defaults.order_fields.clone()
            } else {
                self.order_field.clone()
            },
            event_type_field: self.event_type_field.clone(),
            ..defaults
        }
    }

    fn recording_limits(&self) -> anyhow::Result<eventlens::capture::recorder::RecordingLimits> {
        let limits = eventlens::capture::recorder::RecordingLimits {
            max_bytes: self.record_max_size.map(|s| s.as_u64()),
            max_duration: self.record_max_duration.map(Into::into),
            ring: self.record_ring,
        };
        if limits.ring.is_some() && limits.is_unlimited() {
            anyhow::bail!("--record-ring needs a cap to rotate at: add --record-max-size or --record-max-duration");
        }
        if limits.ring == Some(0) {
            anyhow::bail!("--record-ring keeps at least one file");
        }
        Ok(limits)
    }

    fn nats_configs(&self) -> anyhow::Result<Vec<NatsConfig>> {
        self.nats
            .iter()
            .map(|url| {
                let mut config = NatsConfig::new(url).map_err(anyhow::Error::msg)?;
                config.creds.clone_from(&self.nats_creds);
                config.nkey.clone_from(&self.nats_nkey);
                config.log_in(self.nats_user.as_deref(), self.nats_password.as_deref());
                config.tls_ca.clone_from(&self.nats_tlsca);
                config.tls_client = self.nats_tlscert.clone().zip(self.nats_tlskey.clone());
                config.poll_interval = self.nats_poll.into();
                Ok(config)
            })
            .collect()
    }

    fn rabbitmq_configs(&self) -> anyhow::Result<Vec<RabbitConfig>> {
        self.rabbitmq
            .iter()
            .map(|url| {
                let mut config = RabbitConfig::new(url).map_err(anyhow::Error::msg)?;
                config.poll_interval = self.rabbitmq_poll.into();
                Ok(config)
            })
            .collect()
    }

    pub fn collector_config(&self) -> anyhow::Result<CollectorConfig> {
        let mut kafka = Vec::new();
        for bootstrap in &self.kafka {
            let mut config = KafkaConfig::new(bootstrap.clone());
            config.properties.extend(self.property.iter().cloned());
            kafka.push(config);
        }
        let (mut nats, mut rabbitmq) = (self.nats_configs()?, self.rabbitmq_configs()?);
        if !self.cluster.is_empty() {
            let file = self
                .clusters_file
                .clone()
                .or_else(default_clusters_file)
                .context("no clusters file: pass --clusters-file (HOME is not set)")?;
            for name in &self.cluster {
                match load_named(&file, name)? {
                    Named::Kafka(config) => kafka.push(config),
                    Named::Rabbitmq(config) => rabbitmq.push(config),
                    Named::Nats(config) => nats.push(config),
                }
            }
        }
        for config in &mut kafka {
            config.groups.extend(self.group.iter().cloned());
            if let Some(poll) = self.kafka_poll {
                config.poll_interval = poll.into();
            }
            if self.no_tail {
                config.tail.enabled = false;
            }
            if let Some(topics) = &self.tail_topics {
                config.tail.topics = Some(topics.clone());
            }
            tracing::info!("watching Kafka {} with properties {:?}", config.name, config.redacted_properties());
        }
        let otlp_kafka = match &self.otlp_kafka_topic {
            Some(topic) => Some(OtlpTopicConfig {
                cluster: kafka
                    .first()
                    .cloned()
                    .context("--otlp-kafka-topic needs a cluster: add --kafka or --cluster")?,
                topic: topic.clone(),
                group: self.otlp_kafka_group.clone(),
                encoding: self.otlp_kafka_encoding,
            }),
            None => None,
        };
        Ok(CollectorConfig {
            otlp_kafka,
            otlp: (!self.no_otlp).then_some(OtlpConfig {
                grpc: Some(self.otlp_grpc),
                http: Some(self.otlp_http),
                max_request_bytes: self.max_request_bytes,
            }),
            kafka,
            nats,
            rabbitmq,
            journeys: JourneySettings {
                enabled: !self.no_journeys,
                max_journeys: self.max_journeys,
                max_spans: self.max_journey_spans,
                event_type_field: Some(self.event_type_field.clone()).filter(|f| !f.is_empty()),
                ..JourneySettings::default()
            },
            redaction: eventlens::model::redact::Redaction::new(&self.redact),
            timeline_spans: Some(self.timeline_spans),
            recording_limits: self.recording_limits()?,
            findings: self.findings_settings(),
            memory_budget: self.memory_budget.map(|b| eventlens::model::size::MemoryBudget { bytes: b.as_u64() }),
            ..CollectorConfig::default()
        })
    }
}
