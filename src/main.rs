//! The `eventlens` command line: `main` parses it (its definitions are in `cli.rs`), sets up
//! logging, and runs the subcommand asked for.

mod cli;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use eventlens::collector::{Collector, CollectorConfig};
use eventlens::export::graph::{GraphFormat, render, replay_file};
use eventlens::ingest::otlp::OtlpConfig;
use eventlens::ui::EventLensApp;

use cli::{Cli, Command, DemoArgs, FailOn, JourneyFormat, ReceiverArgs};

// Ingest allocates per attribute; mimalloc roughly halves that cost (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The application id: the window's (Wayland app id, X11 class), the desktop entry's file
/// name and `StartupWMClass`, the icon's and the metainfo's (see packaging/), so desktops
/// match the window to its entry and icon.
const APP_ID: &str = "io.github.eventlens.EventLens";

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "eventlens=info,warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli =
        <Cli as clap::FromArgMatches>::from_arg_matches(&cli::command().get_matches()).unwrap_or_else(|e| e.exit());
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
        Some(Command::Findings { file, format, fail_on }) => {
            run_findings(&file, format, fail_on, cli.receivers.findings_settings())
        }
        Some(Command::Completions { shell }) => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cli::command(), "eventlens", &mut out);
            write_stdout(&out)
        }
        Some(Command::Man) => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cli::command()).render(&mut out).context("cannot render the man page")?;
            write_stdout(&out)
        }
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
            .with_app_id(APP_ID)
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
    report_skipped(file, &replayed.skipped, "skipped");
    print_text(&format!("{}\n", render(&replayed.snapshot, format)))?;
    Ok(())
}

fn run_journeys(
    file: &std::path::Path,
    trace: Option<String>,
    key: Option<String>,
    format: JourneyFormat,
) -> anyhow::Result<()> {
    use eventlens::export::journey::{to_mermaid_sequence, to_otlp_json, to_summary_json};
    use eventlens::model::ids::TraceId;
    use eventlens::model::journey::JourneyDetail;

    let (mut state, skipped) = eventlens::export::graph::replay_state(file)?;
    report_skipped(file, &skipped, "skipped");
    state.snapshot(state.last_received_second() + 1);
    let journeys = state.journeys();
    let ids = match (&trace, &key) {
        (Some(t), _) => {
            let id = TraceId::from_hex(t).map_err(|e| anyhow::anyhow!("--trace {t}: {e}"))?;
            journeys.journeys_of_trace(&id)
        }
        (None, Some(k)) => journeys.list().iter().filter(|j| j.keys.iter().any(|x| **x == **k)).map(|j| j.id).collect(),
        (None, None) => journeys.list().iter().map(|j| j.id).collect::<Vec<_>>(),
    };
    if ids.is_empty() {
        anyhow::bail!("no journey in {} matches", file.display());
    }
    for id in ids {
        let detail = || JourneyDetail::build(&journeys, id, state.kafka());
        match format {
            JourneyFormat::Json => {
                if let Some(detail) = detail()
                    && !print_text(&format!("{}\n", to_otlp_json(&detail)?))?
                {
                    break;
                }
            }
            JourneyFormat::Mermaid => {
                if let Some(detail) = detail()
                    && !print_text(&format!("{}\n", to_mermaid_sequence(&detail)))?
                {
                    break;
                }
            }
            JourneyFormat::Summary => {
                if let Some(row) = journeys.list().get(id)
                    && !print_text(&format!("{}\n", to_summary_json(row)?))?
                {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// Writes generated text to standard output; a closed pipe is an error, not a panic.
fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes).and_then(|()| stdout.flush()).context("cannot write to standard output")
}

/// Writes output text; `Ok(false)` once the reader has closed the pipe (`eventlens journeys
/// FILE | head`): the caller stops quietly, as other command-line tools do, instead of
/// panicking as `println!` would.
fn print_text(text: &str) -> anyhow::Result<bool> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(text.as_bytes()).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e).context("cannot write to standard output"),
    }
}

fn run_findings(
    file: &std::path::Path,
    format: eventlens::export::findings::FindingsFormat,
    fail_on: Option<FailOn>,
    settings: eventlens::model::findings::FindingsSettings,
) -> anyhow::Result<()> {
    let (view, skipped) = eventlens::export::findings::replay_findings(file, settings)?;
    report_skipped(file, &skipped, "skipped");
    let mut text = eventlens::export::findings::render(&view, format);
    if format == eventlens::export::findings::FindingsFormat::Json {
        text.push('\n');
    }
    print_text(&text)?;
    if let Some(level) = fail_on {
        let level = level.into();
        let failing = view.at_least(level).count();
        if failing > 0 {
            eprintln!("{failing} findings at or above {}", level.as_str());
            std::process::exit(3);
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
    report_skipped(file, &summary.skipped, "skipped");
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
    use eventlens::capture::CaptureWriter;
    // Created at the first record, whose time the header takes: nothing imported, no file.
    let mut writer: Option<CaptureWriter> = None;
    let imported = eventlens::ingest::import::import_file(input, |record| {
        let writer = match &mut writer {
            Some(writer) => writer,
            None => writer.insert(CaptureWriter::create(out, record.received_unix_nano())?),
        };
        Ok(writer.append(&record)?)
    })?;
    report_skipped(input, &imported.bad, "not imported");
    let Some(writer) = writer else {
        anyhow::bail!("nothing in {} could be imported", input.display());
    };
    let records = writer.finish()?;
    eprintln!(
        "{}: {records} records ({} spans, {} Kafka messages) written to {}; {} lines not imported",
        input.display(),
        imported.spans,
        imported.messages,
        out.display(),
        imported.bad.total()
    );
    Ok(())
}

/// Prints the first skipped lines of `file` by number and reason, then how many there were
/// in all when more were only counted.
fn report_skipped(file: &std::path::Path, skipped: &eventlens::capture::SkippedLines, what: &str) {
    for line in skipped {
        eprintln!("{}: line {} {what}: {}", file.display(), line.line, line.reason);
    }
    if skipped.unreported() > 0 {
        eprintln!(
            "{}: {} lines {what} in all (only the first {} listed)",
            file.display(),
            skipped.total(),
            skipped.reported().len()
        );
    }
}
