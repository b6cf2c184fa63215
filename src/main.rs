//! The `eventlens` command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use eventlens::model::journey::JourneySettings;

use eventlens::collector::{Collector, CollectorConfig};
use eventlens::export::graph::{GraphFormat, render, replay_file};
use eventlens::ingest::kafka::KafkaConfig;
use eventlens::ingest::kafka::config::{default_clusters_file, load_named_cluster, parse_property};
use eventlens::ingest::kafka::otlp_topic::{self, OtlpEncoding, OtlpTopicConfig};
use eventlens::ingest::otlp::{DEFAULT_GRPC_ADDR, DEFAULT_HTTP_ADDR, DEFAULT_MAX_REQUEST_BYTES, OtlpConfig};
use eventlens::ui::EventLensApp;

// Ingest allocates per attribute; mimalloc roughly halves that cost (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// See event chains across services, topics and consumers, live and on replay.
#[derive(Debug, Parser)]
#[command(name = "eventlens", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    receivers: ReceiverArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Open the window with the receivers listening (the default).
    Gui,
    /// Run the collector without a window, writing what it receives (accepted spans, what
    /// watched Kafka clusters showed) to a session file.
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
        /// Only the journey of this trace id (32 hex digits).
        #[arg(long, conflicts_with = "key")]
        trace: Option<String>,
        /// Only journeys carrying this Kafka message key.
        #[arg(long)]
        key: Option<String>,
        /// `json`: one OTLP JSON export request per journey and line; `mermaid`: one
        /// sequence diagram per journey.
        #[arg(long, value_enum, default_value = "json")]
        format: JourneyFormat,
    },
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
struct DemoArgs {
    /// Start in a scenario (repeatable). Without a window and with --duration, each
    /// scenario runs for the first half and is then lifted, so the recording shows the
    /// effect and the recovery.
    #[arg(long, value_enum, value_name = "NAME")]
    scenario: Vec<eventlens::demo::Scenario>,
    /// Orders per second (1 to 5000).
    #[arg(long, default_value_t = eventlens::demo::controls::DEFAULT_RATE)]
    rate: f64,
    /// Run without a window (with --out, records the session).
    #[arg(long)]
    headless: bool,
    /// Stop after this long (e.g. 10s); without it, run until the window closes or Ctrl-C.
    #[arg(long)]
    duration: Option<humantime::Duration>,
    /// Record the session to this file (`.zst` to compress).
    #[arg(long, short)]
    out: Option<PathBuf>,
}

/// Journey output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum JourneyFormat {
    /// OTLP JSON, one `ExportTraceServiceRequest` per line.
    Json,
    /// Mermaid sequence diagrams.
    Mermaid,
}

/// Receiver options, accepted before or after the subcommand (`gui`, `record`).
#[derive(Debug, Args, Clone)]
struct ReceiverArgs {
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
    /// Mask this field wherever it appears: JSON payload fields of Kafka messages (at any
    /// depth), message headers, span attributes (whole key or its last dotted segment).
    /// Masked before anything is shown, recorded or exported. Repeatable, or comma-separated.
    #[arg(long, global = true, value_name = "FIELD", value_delimiter = ',')]
    redact: Vec<String>,
    /// Spans the timeline keeps for scrubbing back (the oldest go first; about 1 KB each);
    /// 0 turns the timeline off (Pause then freezes the view). `open` keeps 2,000,000 unless
    /// told otherwise.
    #[arg(long, global = true, value_name = "N", default_value_t = eventlens::engine::playback::DEFAULT_TIMELINE_SPANS)]
    timeline_spans: usize,
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
    /// Largest accepted OTLP request in bytes (compressed or not).
    #[arg(long, global = true, value_name = "BYTES", default_value_t = DEFAULT_MAX_REQUEST_BYTES)]
    max_request_bytes: usize,
    /// Watch a Kafka cluster: its bootstrap servers, HOST:PORT[,HOST:PORT]. Repeat for
    /// several clusters.
    #[arg(long, global = true, value_name = "SERVERS", help_heading = "Kafka")]
    kafka: Vec<String>,
    /// Watch a named cluster from the clusters file. Repeatable.
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
}

impl ReceiverArgs {
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

    fn collector_config(&self) -> anyhow::Result<CollectorConfig> {
        let mut kafka = Vec::new();
        for bootstrap in &self.kafka {
            let mut config = KafkaConfig::new(bootstrap.clone());
            config.properties.extend(self.property.iter().cloned());
            kafka.push(config);
        }
        if !self.cluster.is_empty() {
            let file = self
                .clusters_file
                .clone()
                .or_else(default_clusters_file)
                .context("no clusters file: pass --clusters-file (HOME is not set)")?;
            for name in &self.cluster {
                kafka.push(load_named_cluster(&file, name)?);
            }
        }
        for config in &mut kafka {
            config.groups.extend(self.group.iter().cloned());
            if let Some(poll) = self.kafka_poll {
                config.poll_interval = poll.into();
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
            ..CollectorConfig::default()
        })
    }
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "eventlens=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.command {
        None | Some(Command::Gui) => run_gui(cli.receivers.collector_config()?),
        Some(Command::Open { file }) => {
            let mut config = CollectorConfig { otlp: None, open: Some(file), ..cli.receivers.collector_config()? };
            if cli.receivers.timeline_spans == eventlens::engine::playback::DEFAULT_TIMELINE_SPANS {
                config.timeline_spans = Some(eventlens::engine::playback::OPEN_TIMELINE_SPANS);
            }
            run_gui(config)
        }
        Some(Command::Record { out, duration }) => run_record(&cli.receivers, out, duration.map(Into::into)),
        Some(Command::Import { input, out }) => run_import(&input, &out),
        Some(Command::Demo(args)) => run_demo(&cli.receivers, &args),
        Some(Command::Slice { file, from, to, out }) => run_slice(&file, from, to, &out),
        Some(Command::Graph { file, format }) => run_graph(&file, format),
        Some(Command::Journeys { file, trace, key, format }) => run_journeys(&file, trace, key, format),
    }
}

fn run_demo(receivers: &ReceiverArgs, args: &DemoArgs) -> anyhow::Result<()> {
    use eventlens::demo::{DemoBroker, DemoControls, DemoServices};

    let broker = DemoBroker::start()?;
    let mut config = receivers.collector_config()?;
    // Ephemeral loopback ports: the demo never clashes with a collector already running.
    let loopback = SocketAddr::from(([127, 0, 0, 1], 0));
    config.otlp =
        Some(OtlpConfig { grpc: Some(loopback), http: Some(loopback), max_request_bytes: receivers.max_request_bytes });
    config.kafka.push(eventlens::demo::kafka_config(&broker));
    // The shop's orders carry a customer's email and card number: masked, as an example.
    config.redaction = eventlens::model::redact::Redaction::new(
        receivers.redact.iter().map(String::as_str).chain(eventlens::demo::REDACTED_FIELDS.iter().copied()),
    );
    config.recording = args.out.clone();
    let controls = Arc::new(DemoControls::default());
    controls.set_rate(args.rate);
    for scenario in &args.scenario {
        controls.apply(*scenario);
    }
    let start_services = |collector: &Collector| -> anyhow::Result<DemoServices> {
        let grpc = collector.grpc_addr.context("the OTLP/gRPC receiver did not start")?;
        DemoServices::start(&broker, grpc, Arc::clone(&controls))
    };
    if !args.headless {
        let mut services = None;
        let result = run_window(config, |collector| {
            services = Some(start_services(collector)?);
            Ok(Some(Arc::clone(&controls)))
        });
        if let Some(services) = services {
            services.stop();
        }
        return result;
    }

    let collector = Collector::start(config, None)?;
    let services = start_services(&collector)?;
    eprintln!(
        "demo shop running at {} orders/s{}; {}",
        controls.rate(),
        args.out.as_ref().map(|o| format!(", recording to {}", o.display())).unwrap_or_default(),
        match args.duration {
            Some(d) => format!("stopping after {d}"),
            None => "Ctrl-C to stop".to_owned(),
        }
    );
    let waiter = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    waiter.block_on(async {
        match args.duration.map(Duration::from) {
            Some(d) => {
                tokio::select! {
                    () = tokio::time::sleep(d / 2) => {}
                    _ = tokio::signal::ctrl_c() => return,
                }
                for scenario in &args.scenario {
                    controls.lift(*scenario);
                }
                if !args.scenario.is_empty() {
                    eprintln!("scenarios lifted");
                }
                tokio::select! {
                    () = tokio::time::sleep(d - d / 2) => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            None => {
                let _interrupted = tokio::signal::ctrl_c().await;
            }
        }
    });
    services.stop();
    // The last exported spans reach the engine before it stops.
    std::thread::sleep(Duration::from_millis(300));
    let summary = collector.shutdown();
    drop(broker);
    eprintln!("demo stopped: {} records ({} spans)", summary.recorded, summary.spans);
    match summary.recording_error {
        Some(e) => Err(anyhow::anyhow!(e)),
        None => Ok(()),
    }
}

fn run_gui(config: CollectorConfig) -> anyhow::Result<()> {
    run_window(config, |_| Ok(None))
}

/// Opens the window over a collector started from `config`; `before` runs once the
/// collector is up (the demo starts its services there) and may hand the app demo controls.
fn run_window(
    config: CollectorConfig,
    before: impl FnOnce(&Collector) -> anyhow::Result<Option<Arc<eventlens::demo::DemoControls>>>,
) -> anyhow::Result<()> {
    // The receivers bind before the window opens, so a taken port is reported plainly.
    let egui_ctx: Arc<OnceLock<egui::Context>> = Arc::new(OnceLock::new());
    let waker_ctx = Arc::clone(&egui_ctx);
    let waker = Arc::new(move || {
        if let Some(ctx) = waker_ctx.get() {
            ctx.request_repaint_after(Duration::from_millis(10));
        }
    });
    let collector = Collector::start(config, Some(waker))?;
    let demo = before(&collector)?;
    let engine = collector.engine().context("engine not running")?;
    let browsers = collector.browsers();
    let file_stop = collector.file_stop();
    let icon = eframe::icon_data::from_png_bytes(include_bytes!("../assets/icon.png")).context("bad window icon")?;
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("EventLens")
            .with_app_id("eventlens")
            .with_inner_size([1280.0, 800.0])
            .with_icon(Arc::new(icon)),
        ..Default::default()
    };
    eframe::run_native(
        "EventLens",
        options,
        Box::new(move |cc| {
            let _already_set = egui_ctx.set(cc.egui_ctx.clone());
            Ok(Box::new(
                EventLensApp::new(engine, Some(collector))
                    .with_browsers(browsers)
                    .with_file_stop(file_stop)
                    .with_demo(demo),
            ))
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

fn run_record(receivers: &ReceiverArgs, out: PathBuf, duration: Option<Duration>) -> anyhow::Result<()> {
    let mut config = receivers.collector_config()?;
    config.recording = Some(out.clone());
    let collector = Collector::start(config, None)?;
    let listening: Vec<String> = [("gRPC", collector.grpc_addr), ("HTTP", collector.http_addr)]
        .iter()
        .filter_map(|(name, addr)| addr.map(|a| format!("OTLP {name} on {a}")))
        .collect();
    eprintln!(
        "recording to {} ({}); {}",
        out.display(),
        if listening.is_empty() { "no receivers".to_owned() } else { listening.join(", ") },
        match duration {
            Some(d) => format!("stopping after {}", humantime::format_duration(d)),
            None => "Ctrl-C to stop".to_owned(),
        }
    );
    let waiter = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    waiter.block_on(async {
        match duration {
            Some(d) => tokio::select! {
                _ = tokio::time::sleep(d) => {}
                _ = tokio::signal::ctrl_c() => {}
            },
            None => {
                let _interrupted = tokio::signal::ctrl_c().await;
            }
        }
    });
    let summary = collector.shutdown();
    eprintln!("recorded {} records ({} spans) to {}", summary.recorded, summary.spans, out.display());
    if let Some(capped) = &summary.recording_capped {
        eprintln!("{capped}");
    }
    match summary.recording_error {
        Some(e) => Err(anyhow::anyhow!(e)),
        None => Ok(()),
    }
}

fn run_graph(file: &std::path::Path, format: GraphFormat) -> anyhow::Result<()> {
    let replayed = replay_file(file)?;
    for skipped in &replayed.skipped {
        eprintln!("{}: line {} skipped: {}", file.display(), skipped.line, skipped.reason);
    }
    println!("{}", render(&replayed.snapshot, format));
    Ok(())
}

fn run_journeys(
    file: &std::path::Path,
    trace: Option<String>,
    key: Option<String>,
    format: JourneyFormat,
) -> anyhow::Result<()> {
    use eventlens::export::journey::{to_mermaid_sequence, to_otlp_json};
    use eventlens::model::ids::TraceId;
    use eventlens::model::journey::JourneyDetail;

    let (mut state, skipped) = eventlens::export::graph::replay_state(file)?;
    for s in &skipped {
        eprintln!("{}: line {} skipped: {}", file.display(), s.line, s.reason);
    }
    state.snapshot(state.last_received_second() + 1);
    let journeys = state.journeys();
    let ids = match (&trace, &key) {
        (Some(t), _) => {
            let id = TraceId::from_hex(t).map_err(|e| anyhow::anyhow!("--trace {t}: {e}"))?;
            journeys.journey_of_trace(&id).into_iter().collect()
        }
        (None, Some(k)) => journeys.list().iter().filter(|j| j.keys.iter().any(|x| **x == **k)).map(|j| j.id).collect(),
        (None, None) => journeys.list().iter().map(|j| j.id).collect::<Vec<_>>(),
    };
    if ids.is_empty() {
        anyhow::bail!("no journey in {} matches", file.display());
    }
    for id in ids {
        let Some(detail) = JourneyDetail::build(&journeys, id, &state.kafka) else { continue };
        match format {
            JourneyFormat::Json => println!("{}", to_otlp_json(&detail)?),
            JourneyFormat::Mermaid => println!("{}", to_mermaid_sequence(&detail)),
        }
    }
    Ok(())
}

fn run_slice(
    file: &std::path::Path,
    from: Option<eventlens::capture::slice::SliceBound>,
    to: Option<eventlens::capture::slice::SliceBound>,
    out: &std::path::Path,
) -> anyhow::Result<()> {
    let summary = eventlens::capture::slice::slice(file, out, from, to)
        .with_context(|| format!("cannot slice {}", file.display()))?;
    for skipped in &summary.skipped {
        eprintln!("{}: line {} skipped: {}", file.display(), skipped.line, skipped.reason);
    }
    eprintln!(
        "{}: {} records written to {} ({} Kafka state records carried to its start)",
        file.display(),
        summary.records,
        out.display(),
        summary.carried
    );
    Ok(())
}

fn run_import(input: &std::path::Path, out: &std::path::Path) -> anyhow::Result<()> {
    let imported = eventlens::ingest::import::import_file(input)?;
    for bad in &imported.bad {
        eprintln!("{}: line {} not imported: {}", input.display(), bad.line, bad.reason);
    }
    if imported.records.is_empty() {
        anyhow::bail!("nothing in {} could be imported", input.display());
    }
    let created = imported.records.iter().map(eventlens::model::record::Record::received_unix_nano).min().unwrap_or(0);
    let mut writer = eventlens::capture::CaptureWriter::create(out, created)?;
    for record in &imported.records {
        writer.append(record)?;
    }
    let records = writer.finish()?;
    eprintln!(
        "{}: {records} records ({} spans, {} Kafka messages) written to {}; {} lines not imported",
        input.display(),
        imported.spans,
        imported.messages,
        out.display(),
        imported.bad.len()
    );
    Ok(())
}
