//! The engine: the single writer. It owns the model, applies records from the sources,
//! writes the recording, and publishes read-only [`Snapshot`]s for the UI.

pub mod command;
pub mod journeys;
pub mod playback;
pub mod snapshot;

use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

pub use command::Command;
pub use journeys::Journeys;
pub use snapshot::Snapshot;

use crate::capture::recorder::{Checked, Recorder, RecordingLimits};
use crate::capture::writer::CaptureWriteError;
use crate::ingest::counters::IngestCounters;
use crate::ingest::queue::RecordReceiver;
use crate::model::flow_graph::{FlowModel, NodeKey};
use crate::model::journey::{Expectations, ExpectationsKey, JourneyDetail, JourneyId, JourneySettings, JourneyStore};
use crate::model::kafka::message::KafkaMessage;
use crate::model::kafka::{KafkaEvent, KafkaModel, KafkaRecord};
use crate::model::record::Record;
use crate::model::stats::Stats;
use playback::{PlaybackMode, SessionLog};
use snapshot::{RecordingStatus, SourceStatus};

/// `messaging.system` of Kafka topics and groups, as spans name it too.
pub const KAFKA_SYSTEM: &str = "kafka";

/// Above this many spans, a changing selected journey is laid out at most every
/// [`BIG_JOURNEY_RELAYOUT`].
const BIG_JOURNEY_SPANS: u32 = 10_000;
/// See [`BIG_JOURNEY_SPANS`].
const BIG_JOURNEY_RELAYOUT: Duration = Duration::from_secs(1);

/// How long the engine applies records before it looks at commands and snapshots again.
const APPLY_BUDGET: Duration = Duration::from_millis(20);

/// Called after each publish, e.g. to wake the UI.
pub type Waker = Arc<dyn Fn() + Send + Sync>;

/// Source states, written by whoever runs the sources and read at each publish.
pub type SourceBoard = Arc<Mutex<Vec<SourceStatus>>>;

/// The model plus the bookkeeping that only the engine thread touches. Also used directly
/// (without a thread) to build a graph from a file.
#[derive(Debug, Default)]
pub struct EngineState {
    /// The flow model.
    pub model: FlowModel,
    /// Kafka clusters, their groups and lag.
    pub kafka: KafkaModel,
    /// Per-event journeys (read through [`EngineState::journeys`]).
    journeys: Journeys,
    /// What journeys are judged against, as of the last record applied.
    expect: (ExpectationsKey, Arc<Expectations>),
    /// The Kafka model as last published; cloned again only when it changed.
    kafka_view: Arc<KafkaModel>,
    selected_journey: Option<JourneyId>,
    journey_view: Option<Arc<JourneyDetail>>,
    journey_built: Option<Instant>,
    /// The Kafka model version the layout's "consumed by" was read at.
    journey_kafka: u64,
    spans: Stats,
    last_received_second: u64,
}

impl EngineState {
    /// An empty state with these journey settings, assembling journeys on the caller's
    /// thread as each record is applied (files, tests).
    pub fn new(journeys: JourneySettings) -> Self {
        Self::with_journeys(Journeys::inline(journeys))
    }

    /// An empty state assembling journeys on a thread of their own, beside the models (the
    /// live engine; see [`journeys`]).
    pub fn threaded(journeys: JourneySettings) -> std::io::Result<Self> {
        Ok(Self::with_journeys(Journeys::spawn(journeys)?))
    }

    fn with_journeys(journeys: Journeys) -> Self {
        Self { journeys, ..Self::default() }
    }

    /// The journeys, for reading. With a journey thread they are as of the last
    /// [`EngineState::sync_journeys`] at least; hold the guard briefly.
    pub fn journeys(&self) -> std::sync::MutexGuard<'_, JourneyStore> {
        self.journeys.lock()
    }

    /// Applies one record (copying the messages the browser keeps; see
    /// [`EngineState::apply_owned`]).
    pub fn apply(&mut self, record: &Record) {
        self.apply_to_models(record);
        if !self.journeys.enabled() {
            return;
        }
        let expect = self.expectations();
        self.journeys.apply(record, &expect);
    }

    /// Applies a record the caller shares (the engine keeps it in its timeline): a journey
    /// thread takes it without a copy.
    pub fn apply_shared(&mut self, record: Arc<Record>) {
        self.apply_to_models(&record);
        if !self.journeys.enabled() {
            return;
        }
        let expect = self.expectations();
        self.journeys.apply_shared(record, &expect);
    }

    /// Applies a record it may consume: message batches move into the browser instead of
    /// being copied (unless a journey thread needs them too).
    pub fn apply_owned(&mut self, record: Record) {
        if !self.journeys.enabled() {
            return self.apply_to_models_owned(record);
        }
        if self.journeys.threaded() {
            return self.apply_shared(Arc::new(record));
        }
        // Added before the messages move; judged after the models took the record in.
        self.journeys.lock().add(&record);
        self.apply_to_models_owned(record);
        let expect = self.expectations();
        self.journeys.lock().judge(&expect);
    }

    fn apply_to_models_owned(&mut self, record: Record) {
        match record {
            Record::Kafka(k) => self.apply_kafka(k),
            Record::Spans(batch) => self.apply_spans(&batch),
        }
    }

    fn apply_to_models(&mut self, record: &Record) {
        match record {
            Record::Spans(batch) => self.apply_spans(batch),
            Record::Kafka(k) => self.apply_kafka(k.clone()),
        }
    }

    /// What journeys are judged against right after the record just applied. Journeys the
    /// record touched (and those whose grace period ran out) are judged then: judged later,
    /// at a snapshot, a status would depend on when snapshots happened to be taken, and a
    /// replayed session could differ from the live one. (Their rows are rebuilt at the
    /// snapshot.) Rebuilt only when a consumer or a committed offset may have changed.
    fn expectations(&mut self) -> Arc<Expectations> {
        let key = ExpectationsKey::of(&self.model, &self.kafka);
        if key != self.expect.0 {
            self.expect = (key, Arc::new(Expectations::of(&self.model, &self.kafka)));
        }
        Arc::clone(&self.expect.1)
    }

    /// Brings the journeys' list rows up to date with the last record applied (waiting for a
    /// journey thread to catch up).
    pub fn sync_journeys(&mut self) {
        if !self.journeys.enabled() {
            return;
        }
        let expect = self.expectations();
        self.journeys.sync(&expect);
    }

    fn apply_spans(&mut self, batch: &crate::model::record::SpanBatch) {
        let second = self.advance_clock(batch.received_unix_nano);
        for span in &batch.spans {
            self.model.apply_span(span, second);
        }
        self.spans.record(second, batch.spans.len() as u64, false, None);
    }

    /// Lays out `journey` for the waterfall in the next snapshots (or stops doing so).
    pub fn select_journey(&mut self, journey: Option<JourneyId>) {
        if self.selected_journey != journey {
            self.selected_journey = journey;
            self.journey_view = None;
        }
    }

    /// The selected journey's layout, rebuilt when the journey (or what the cluster says
    /// about its messages) changed.
    fn journey_detail(&mut self) -> Option<Arc<JourneyDetail>> {
        let id = self.selected_journey?;
        let store = self.journeys.lock();
        let current = store.list().get(id);
        let stale = match (&self.journey_view, current) {
            (Some(view), Some(row)) => {
                view.summary != *row || (!view.messages.is_empty() && self.journey_kafka != self.kafka.version())
            }
            (None, Some(_)) => true,
            (_, None) => {
                self.journey_view = None;
                return None;
            }
        };
        // Laying out a journey of 100k spans takes tens of milliseconds: while a big one keeps
        // changing, it is laid out again at most once a second.
        let throttled = self.journey_view.as_ref().is_some_and(|v| v.summary.spans > BIG_JOURNEY_SPANS)
            && self.journey_built.is_some_and(|t| t.elapsed() < BIG_JOURNEY_RELAYOUT);
        if stale && !throttled {
            self.journey_view = JourneyDetail::build(&store, id, &self.kafka).map(Arc::new);
            self.journey_built = Some(Instant::now());
            self.journey_kafka = self.kafka.version();
        }
        self.journey_view.clone()
    }

    /// Moves the session clock to a record's receive time; returns that time's Unix second.
    fn advance_clock(&mut self, received_unix_nano: u64) -> u64 {
        let second = received_unix_nano / 1_000_000_000;
        self.last_received_second = self.last_received_second.max(second);
        second
    }

    /// Applies a Kafka observation: joins its messages to spans, draws it in the flow graph,
    /// and hands it to the Kafka model.
    fn apply_kafka(&mut self, mut record: KafkaRecord) {
        self.advance_clock(record.received_unix_nano);
        if let KafkaEvent::Messages(batch) = &mut record.event {
            self.join_messages_to_spans(&mut batch.messages);
        }
        self.draw_kafka(&record);
        self.kafka.apply_owned(record);
    }

    /// Names the service that produced each message whose `traceparent` the model knows.
    fn join_messages_to_spans(&self, messages: &mut [KafkaMessage]) {
        for m in messages {
            let producer = m.links.trace.as_ref().and_then(|t| self.model.producer_of(t));
            m.links.produced_by = producer.map(NodeKey::label);
        }
    }

    /// Draws what an observation shows in the flow graph: topics as destinations, groups
    /// consuming them as consume edges (merged with the ones spans drew), dead-letter edges.
    fn draw_kafka(&mut self, record: &KafkaRecord) {
        let internal = |topic: &str| -> bool {
            let cluster = self.kafka.clusters().get(&record.cluster);
            cluster.and_then(|c| c.topics.get(topic)).is_some_and(|t| t.internal)
        };
        match &record.event {
            KafkaEvent::Metadata(m) => {
                for t in m.topics.iter().filter(|t| !t.internal) {
                    self.model.ensure_destination(KAFKA_SYSTEM, &t.name);
                }
            }
            KafkaEvent::Offsets(poll) => {
                let consumed: Vec<(&str, &str)> = poll
                    .commits
                    .iter()
                    .filter(|c| c.offset >= 0 && !internal(&c.topic))
                    .map(|c| (c.topic.as_str(), c.group.as_str()))
                    .collect();
                for (topic, group) in consumed {
                    self.model.ensure_group_consumes(KAFKA_SYSTEM, topic, group);
                }
            }
            KafkaEvent::Groups(listing) => {
                let assigned: Vec<(&str, &str)> = listing
                    .groups
                    .iter()
                    .flat_map(|g| {
                        g.members.iter().flatten().flat_map(move |m| m.assignment.iter().map(move |a| (a, g)))
                    })
                    .filter(|((topic, _), _)| !internal(topic))
                    .map(|((topic, _), g)| (topic.as_str(), g.name.as_str()))
                    .collect();
                for (topic, group) in assigned {
                    self.model.ensure_group_consumes(KAFKA_SYSTEM, topic, group);
                }
            }
            KafkaEvent::Messages(batch) => {
                let second = record.received_unix_nano / 1_000_000_000;
                for m in &batch.messages {
                    if let Some(origin) = &m.links.dead_letter {
                        self.model.record_dead_letter(
                            KAFKA_SYSTEM,
                            &origin.topic,
                            &m.topic,
                            m.partition,
                            m.offset,
                            second,
                        );
                    }
                }
            }
            KafkaEvent::Connection(_) => {}
        }
    }

    /// The newest receive time applied, in Unix seconds; the clock for replays.
    pub fn last_received_second(&self) -> u64 {
        self.last_received_second
    }

    /// A snapshot with rates computed at `now_second`.
    pub fn snapshot(&mut self, now_second: u64) -> Snapshot {
        if self.kafka_view.version() != self.kafka.version() {
            self.kafka_view = Arc::new(self.kafka.clone());
        }
        let (nodes, edges) = Snapshot::graph_from_model(&self.model, &self.kafka, now_second);
        self.sync_journeys();
        let (journeys, journey_counters) = {
            let store = self.journeys.lock();
            (store.list().clone(), store.counters())
        };
        Snapshot {
            structure_version: self.model.structure_version(),
            now_second,
            nodes,
            edges,
            // Exporters batch every few seconds; a 10 s window shows a steady rate.
            spans_per_second: self.spans.rate(now_second, 10),
            model: self.model.counters(),
            kafka: Arc::clone(&self.kafka_view),
            journeys,
            journey_counters,
            journey: self.journey_detail(),
            ..Snapshot::default()
        }
    }
}

/// Engine settings.
pub struct EngineConfig {
    /// How often a snapshot is published while records arrive.
    pub publish_interval: Duration,
    /// Where to record, if anywhere.
    pub recording: Option<Recorder>,
    /// Caps for recordings started from the window.
    pub recording_limits: RecordingLimits,
    /// Called after each publish.
    pub waker: Option<Waker>,
    /// Journey assembly and retention.
    pub journeys: JourneySettings,
    /// Compute rates at the newest record's receive time instead of the wall clock: for
    /// replaying a recorded session, whose records are from the past.
    pub session_clock: bool,
    /// Fields masked in every record before it is applied or recorded.
    pub redaction: crate::model::redact::Redaction,
    /// Spans the timeline keeps for scrubbing (0: no timeline; Pause then freezes the view).
    pub timeline_spans: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            publish_interval: Duration::from_millis(100),
            recording: None,
            recording_limits: RecordingLimits::default(),
            waker: None,
            journeys: JourneySettings::default(),
            session_clock: false,
            redaction: crate::model::redact::Redaction::default(),
            timeline_spans: playback::DEFAULT_TIMELINE_SPANS,
        }
    }
}

impl std::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("publish_interval", &self.publish_interval)
            .field("recording", &self.recording.as_ref().map(Recorder::path))
            .finish_non_exhaustive()
    }
}

/// What the engine reports when it stops.
#[derive(Debug, Clone, Default)]
pub struct EngineSummary {
    /// Records applied.
    pub records: u64,
    /// Spans applied.
    pub spans: u64,
    /// Records written to the recording.
    pub recorded: u64,
    /// The recording error, if writing failed.
    pub recording_error: Option<String>,
    /// Why the recording stopped early at one of its caps (not an error).
    pub recording_capped: Option<String>,
}

/// The UI's and drivers' handle to a running engine.
#[derive(Debug, Clone)]
pub struct EngineHandle {
    commands: Sender<Command>,
    snapshot: Arc<ArcSwap<Snapshot>>,
}

impl EngineHandle {
    /// The latest published snapshot; never blocks.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.load_full()
    }

    /// Sends a command; returns false when the engine has stopped or is too busy to take it.
    pub fn send(&self, command: Command) -> bool {
        self.commands.try_send(command).is_ok()
    }
}

/// The engine thread, owned by whoever started it.
#[derive(Debug)]
pub struct EngineThread {
    handle: EngineHandle,
    join: Option<JoinHandle<EngineSummary>>,
}

impl EngineThread {
    /// Starts the engine on its own named thread.
    pub fn spawn(
        records: RecordReceiver,
        counters: Arc<IngestCounters>,
        sources: SourceBoard,
        config: EngineConfig,
    ) -> std::io::Result<Self> {
        let (commands_tx, commands_rx) = crossbeam_channel::bounded(64);
        let snapshot = Arc::new(ArcSwap::from_pointee(Snapshot::default()));
        let published = Arc::clone(&snapshot);
        let state = EngineState::threaded(config.journeys.clone())?;
        let join = std::thread::Builder::new().name("eventlens-engine".into()).spawn(move || {
            EngineLoop {
                state,
                log: (config.timeline_spans > 0).then(|| SessionLog::new(config.timeline_spans)),
                finished_recording: None,
                notice: None,
                playback: Playback::default(),
                records,
                commands: commands_rx,
                counters,
                sources,
                published,
                config,
                paused: false,
                version: 0,
                summary: EngineSummary::default(),
            }
            .run()
        })?;
        Ok(Self { handle: EngineHandle { commands: commands_tx, snapshot }, join: Some(join) })
    }

    /// A handle for reading snapshots and sending commands.
    pub fn handle(&self) -> EngineHandle {
        self.handle.clone()
    }

    /// Asks the engine to finish and waits for it.
    pub fn shutdown(mut self) -> EngineSummary {
        self.stop()
    }

    fn stop(&mut self) -> EngineSummary {
        // A full command queue still stops the engine: it also ends when every sender is gone.
        let _sent = self.handle.commands.send_timeout(Command::Shutdown, Duration::from_secs(1));
        self.join.take().and_then(|j| j.join().ok()).unwrap_or_default()
    }
}

impl Drop for EngineThread {
    fn drop(&mut self) {
        if self.join.is_some() {
            self.stop();
        }
    }
}

/// What the timeline shows, when it is not following the newest state.
#[derive(Default)]
struct Playback {
    mode: PlaybackMode,
    cursor: u64,
    /// The state at the cursor: records applied (absolute) and the state.
    view: Option<(u64, EngineState)>,
    /// When playing: the wall time the cursor last moved.
    moved: Option<Instant>,
    /// The head's journeys as known at the cursor: (cursor, head list version, list).
    journeys: Option<(u64, u64, crate::model::journey::JourneyList)>,
    /// The selected journey at the cursor: (journey, cursor, head list version) and its layout.
    journey: Option<((JourneyId, u64, u64), Arc<JourneyDetail>)>,
}

struct EngineLoop {
    state: EngineState,
    log: Option<SessionLog>,
    /// The last recording finished from the window: its file and record count.
    finished_recording: Option<(String, u64)>,
    /// The outcome of the last Save as.
    notice: Option<String>,
    playback: Playback,
    records: RecordReceiver,
    commands: Receiver<Command>,
    counters: Arc<IngestCounters>,
    sources: SourceBoard,
    published: Arc<ArcSwap<Snapshot>>,
    config: EngineConfig,
    paused: bool,
    version: u64,
    summary: EngineSummary,
}

impl EngineLoop {
    fn run(mut self) -> EngineSummary {
        let mut last_publish = Instant::now();
        let mut dirty = true;
        let mut records_done = false;
        loop {
            let mut shutdown = false;
            while let Ok(command) = self.commands.try_recv() {
                shutdown |= self.command(command);
                dirty = true;
            }
            if shutdown {
                // Apply what the sources already queued, so a recording loses nothing accepted.
                while let Some(record) = self.records.try_recv() {
                    self.apply(record);
                }
                break;
            }
            let wait =
                self.config.publish_interval.saturating_sub(last_publish.elapsed()).max(Duration::from_millis(1));
            if records_done {
                // Every source has finished (a session file read to its end): the timeline and
                // the journey waterfall still take commands until the engine is shut down.
                match self.commands.recv_timeout(wait) {
                    Ok(command) => {
                        dirty = true;
                        if self.command(command) {
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => break,
                }
            } else {
                match self.records.recv_timeout(wait) {
                    Ok(record) => {
                        self.apply(record);
                        let started = Instant::now();
                        while started.elapsed() < APPLY_BUDGET {
                            let Some(record) = self.records.try_recv() else { break };
                            self.apply(record);
                        }
                        dirty = true;
                    }
                    Err(RecvTimeoutError::Timeout) => {}
                    Err(RecvTimeoutError::Disconnected) => {
                        records_done = true;
                        dirty = true;
                    }
                }
            }
            if self.advance_playback() {
                dirty = true;
            }
            // Rates decay even without new records, so publish at least once a second.
            if last_publish.elapsed() >= self.config.publish_interval
                && (dirty || last_publish.elapsed() >= Duration::from_secs(1))
            {
                self.publish();
                last_publish = Instant::now();
                dirty = false;
            }
        }
        self.publish();
        if let Some(writer) = self.config.recording.take() {
            match writer.finish() {
                Ok(records) => self.summary.recorded = records,
                Err(e) => {
                    self.summary.recording_error.get_or_insert(e.to_string());
                }
            }
        }
        self.summary.spans = self.state.model.counters().spans;
        self.summary
    }

    fn apply(&mut self, mut record: Record) {
        // Masked first: nothing named in the redaction list is shown, recorded or exported.
        self.config.redaction.apply(&mut record);
        // Written before it is applied: applying consumes message batches.
        let result = self.config.recording.as_mut().map(|w| w.append(&record));
        if let Some(Err(e)) = result {
            self.stop_recording(&e);
        }
        match &mut self.log {
            Some(log) => {
                let record = Arc::new(record);
                self.state.apply_shared(Arc::clone(&record));
                log.push(record, &self.state);
            }
            None => self.state.apply_owned(record),
        }
        self.summary.records += 1;
    }

    /// Applies a command; true for shutdown.
    fn command(&mut self, command: Command) -> bool {
        match command {
            Command::Pause => self.pause(),
            Command::Resume => self.follow(),
            Command::Seek(at) => self.seek(at),
            Command::Play { speed } => self.play(speed),
            Command::SelectJourney(id) => self.state.select_journey(id),
            Command::Record(Some(path)) => self.start_recording(&path),
            Command::Record(None) => self.finish_recording(),
            Command::SaveAs(path) => self.save_as(&path),
            Command::Shutdown => return true,
        }
        false
    }

    /// Starts a recording asked for from the window: the timeline's records so far, then
    /// everything that arrives. A recording already running goes on.
    fn start_recording(&mut self, path: &std::path::Path) {
        if self.config.recording.is_some() {
            return;
        }
        let written = self.write_log(path, self.config.recording_limits.clone()).and_then(|mut writer| {
            writer.flush_and_check(crate::ingest::otlp::unix_nanos_now())?;
            Ok(writer)
        });
        match written {
            Ok(writer) => {
                self.summary.recording_error = None;
                self.summary.recording_capped = None;
                self.finished_recording = None;
                self.config.recording = Some(writer);
            }
            Err(e) => {
                tracing::error!("{e}");
                self.summary.recording_error = Some(e.to_string());
            }
        }
    }

    /// A recording at `path` that starts where the timeline does: the log's records so far.
    fn write_log(&self, path: &std::path::Path, limits: RecordingLimits) -> Result<Recorder, CaptureWriteError> {
        let created = self
            .log
            .as_ref()
            .and_then(SessionLog::span)
            .map_or_else(crate::ingest::otlp::unix_nanos_now, |(start, _)| start);
        let mut recorder = Recorder::create(path, created, limits)?;
        for record in self.log.iter().flat_map(SessionLog::records) {
            recorder.append(record)?;
        }
        Ok(recorder)
    }

    /// Writes the timeline's records to `path`, beside any recording that runs.
    fn save_as(&mut self, path: &std::path::Path) {
        if self.log.is_none() {
            self.notice = Some("nothing to save: the timeline is off (--timeline-spans 0)".into());
            return;
        }
        let written = self.write_log(path, RecordingLimits::default()).and_then(Recorder::finish);
        self.notice = Some(match written {
            Ok(1) => format!("saved 1 record to {}", path.display()),
            Ok(records) => format!("saved {records} records to {}", path.display()),
            Err(e) => {
                tracing::error!("{e}");
                format!("not saved: {e}")
            }
        });
    }

    /// Finishes the recording, if one runs; the file stays shown as saved.
    fn finish_recording(&mut self) {
        let Some(writer) = self.config.recording.take() else { return };
        let path = writer.path().display().to_string();
        match writer.finish() {
            Ok(records) => {
                self.summary.recorded = records;
                self.finished_recording = Some((path, records));
            }
            Err(e) => self.summary.recording_error = Some(e.to_string()),
        }
    }

    /// The newest receive time kept, or 0.
    fn end(&self) -> u64 {
        self.log.as_ref().and_then(SessionLog::span).map_or(0, |(_, end)| end)
    }

    fn pause(&mut self) {
        match self.playback.mode {
            _ if self.log.is_none() => self.paused = true,
            PlaybackMode::Following => {
                self.playback.cursor = self.end();
                self.playback.mode = PlaybackMode::Paused;
            }
            PlaybackMode::Playing { .. } | PlaybackMode::Paused => self.playback.mode = PlaybackMode::Paused,
        }
    }

    fn follow(&mut self) {
        self.paused = false;
        self.playback = Playback::default();
    }

    fn seek(&mut self, at: u64) {
        let Some((start, end)) = self.log.as_ref().and_then(SessionLog::span) else { return };
        self.playback.cursor = at.clamp(start, end);
        if self.playback.mode == PlaybackMode::Following {
            self.playback.mode = PlaybackMode::Paused;
        }
        self.playback.moved = Some(Instant::now());
    }

    fn play(&mut self, speed: f32) {
        let Some((start, end)) = self.log.as_ref().and_then(SessionLog::span) else { return };
        if self.playback.mode == PlaybackMode::Following || self.playback.cursor >= end {
            self.playback.cursor = start;
        }
        self.playback.mode = PlaybackMode::Playing { speed: speed.clamp(0.1, 100.0) };
        self.playback.moved = Some(Instant::now());
    }

    /// Moves a playing cursor on; true when it moved.
    fn advance_playback(&mut self) -> bool {
        let PlaybackMode::Playing { speed } = self.playback.mode else { return false };
        let now = Instant::now();
        let elapsed = self.playback.moved.map_or(Duration::ZERO, |t| now.duration_since(t));
        self.playback.moved = Some(now);
        let step = (elapsed.as_nanos() as f64 * f64::from(speed)) as u64;
        self.playback.cursor = self.playback.cursor.saturating_add(step);
        if self.playback.cursor >= self.end() {
            self.follow();
        }
        step > 0
    }

    /// The selected journey as it stood at the cursor, laid out again only when the cursor,
    /// the selection or the journey changed.
    fn cursor_journey(&mut self) -> Option<Arc<JourneyDetail>> {
        let id = self.state.selected_journey?;
        let store = self.state.journeys();
        let key = (id, self.playback.cursor, store.list().version());
        if let Some((cached, detail)) = &self.playback.journey
            && *cached == key
        {
            return Some(Arc::clone(detail));
        }
        let kafka = self.playback.view.as_ref().map_or(&self.state.kafka, |(_, view)| &view.kafka);
        let mut detail = JourneyDetail::build_until(&store, id, kafka, Some(self.playback.cursor))?;
        drop(store);
        // Its row as the list at the cursor shows it (counts and status then).
        if let Some(row) = self.playback.journeys.as_ref().and_then(|(_, _, list)| list.get(id)) {
            detail.summary = row.clone();
        }
        let detail = Arc::new(detail);
        self.playback.journey = Some((key, Arc::clone(&detail)));
        Some(detail)
    }

    /// A snapshot of the state at the cursor, with the head's journeys as known then.
    fn cursor_snapshot(&mut self) -> Option<Snapshot> {
        let log = self.log.as_ref()?;
        if self.playback.mode == PlaybackMode::Following {
            return None;
        }
        let target = log.index_at(self.playback.cursor);
        let (applied, mut view) = log.state_at(target, self.playback.view.take());
        let mut snapshot = view.snapshot(self.playback.cursor / 1_000_000_000 + 1);
        self.playback.view = Some((applied, view));
        // Journeys come from the head (checkpoints do not carry them): each as the engine
        // knew it at the cursor, judged against the flow and Kafka models of that moment.
        self.state.sync_journeys();
        let head = self.state.journeys();
        let cursor = self.playback.cursor;
        let version = head.list().version();
        let cached = self.playback.journeys.as_ref().is_some_and(|(c, v, _)| *c == cursor && *v == version);
        if !cached && let Some((_, view)) = &self.playback.view {
            let expect = Expectations::of(&view.model, &view.kafka);
            self.playback.journeys = Some((cursor, version, head.list_at(cursor, &expect)));
        }
        let mut counters = head.counters();
        drop(head);
        if let Some((_, _, list)) = &self.playback.journeys {
            counters.journeys = list.len() as u64;
            counters.spans = list.iter().map(|j| u64::from(j.spans)).sum();
            snapshot.journeys = list.clone();
        }
        snapshot.journey_counters = counters;
        snapshot.journey = self.cursor_journey();
        Some(snapshot)
    }

    /// A recording that cannot be written stops; the session goes on and says why.
    fn stop_recording(&mut self, error: &CaptureWriteError) {
        tracing::error!("{error}; recording stopped");
        self.summary.recording_error = Some(error.to_string());
        if let Some(writer) = self.config.recording.take() {
            self.summary.recorded = writer.records();
        }
    }

    fn publish(&mut self) {
        let now = crate::ingest::otlp::unix_nanos_now();
        match self.config.recording.as_mut().map(|r| r.flush_and_check(now)) {
            Some(Err(e)) => self.stop_recording(&e),
            Some(Ok(Checked::Stopped(reason))) => {
                tracing::warn!("{reason}");
                if let Some(recorder) = self.config.recording.take() {
                    self.finished_recording = Some((recorder.path().display().to_string(), recorder.records()));
                    self.summary.recorded = recorder.records();
                }
                self.summary.recording_capped = Some(reason);
            }
            Some(Ok(Checked::Fine | Checked::Rotated)) | None => {}
        }
        self.version += 1;
        let previous = self.published.load_full();
        let mut snapshot = if let Some(at_cursor) = self.cursor_snapshot() {
            at_cursor
        } else if self.paused && previous.version > 0 {
            // Paused: keep showing the frozen graph, but live counters keep moving, and a
            // journey picked from the frozen list still opens.
            let mut frozen = (*previous).clone();
            self.state.sync_journeys();
            frozen.journey = self.state.journey_detail();
            frozen
        } else {
            // The second after the newest record, so that record's second counts (as in
            // `eventlens graph`).
            let now = if self.config.session_clock {
                self.state.last_received_second() + 1
            } else {
                crate::ingest::otlp::unix_nanos_now() / 1_000_000_000
            };
            self.state.snapshot(now)
        };
        snapshot.version = self.version;
        snapshot.notice = self.notice.clone();
        snapshot.paused = self.paused || self.playback.mode != PlaybackMode::Following;
        let cursor = if self.playback.mode == PlaybackMode::Following { self.end() } else { self.playback.cursor };
        snapshot.timeline = self.log.as_ref().map(|log| log.view(cursor, self.playback.mode)).unwrap_or_default();
        snapshot.ingest = self.counters.read();
        snapshot.sources = self.sources.lock().map(|s| s.clone()).unwrap_or_default();
        snapshot.recording = match (&self.config.recording, &self.summary.recording_error) {
            (Some(w), _) => Some(RecordingStatus {
                path: w.path().display().to_string(),
                active: true,
                records: w.records(),
                limits: w.limits(),
                error: None,
            }),
            (None, Some(error)) => Some(RecordingStatus {
                path: self.finished_recording.as_ref().map(|(p, _)| p.clone()).unwrap_or_default(),
                active: false,
                limits: None,
                records: self.summary.recorded,
                error: Some(error.clone()),
            }),
            (None, None) => self.finished_recording.as_ref().map(|(path, records)| RecordingStatus {
                path: path.clone(),
                active: false,
                records: *records,
                limits: None,
                error: self.summary.recording_capped.clone(),
            }),
        };
        self.published.store(Arc::new(snapshot));
        if let Some(waker) = &self.config.waker {
            waker();
        }
    }
}
