//! The engine thread: [`EngineThread`] starts it and stops it, [`EngineHandle`] is how the
//! UI and drivers read its snapshots and send it commands, and `EngineLoop` is the thread
//! itself: it applies commands and records within a time budget (`run`, `apply`, `command`)
//! and publishes a [`Snapshot`] at most every publish interval (`publish`). Recording is in
//! `recording.rs` and the timeline's cursor in `cursor.rs`, both on the same `EngineLoop`.

use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use super::command::Command;
use super::cursor::Playback;
use super::playback::{PlaybackMode, SessionLog};
use super::recording::FinishedRecording;
use super::snapshot::{MemoryUse, Snapshot};
use super::state::EngineState;
use super::{EngineConfig, EngineSummary, SourceBoard};
use crate::model::record::Record;
use crate::pipeline::clock::unix_nanos_now;
use crate::pipeline::counters::IngestCounters;
use crate::pipeline::queue::RecordReceiver;

/// How long the engine applies records before it looks at commands and snapshots again.
const APPLY_BUDGET: Duration = Duration::from_millis(20);

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
        let mut state = EngineState::threaded(config.journeys.clone(), config.findings.clone())?;
        state.set_message_budget(config.memory_budget.messages());
        state.set_graph_budget(config.memory_budget.graph());
        state.set_join_budget(config.memory_budget.joins());
        state.set_inbox_budget(config.memory_budget.helper_inbox());
        let log = (config.timeline_spans > 0).then(|| {
            SessionLog::new(config.timeline_spans).with_max_bytes(config.memory_budget.timeline()).starting_from(&state)
        });
        let join = std::thread::Builder::new().name("eventlens-engine".into()).spawn(move || {
            EngineLoop {
                state,
                log,
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
        match self.join.take().map(std::thread::JoinHandle::join) {
            Some(Ok(summary)) => summary,
            Some(Err(_)) => {
                // Its panic message is on standard error already; say whose it was, once.
                tracing::error!("the engine thread panicked; its session summary is lost");
                EngineSummary::default()
            }
            None => EngineSummary::default(),
        }
    }
}

impl Drop for EngineThread {
    fn drop(&mut self) {
        if self.join.is_some() {
            self.stop();
        }
    }
}

/// Everything the engine thread owns.
pub(super) struct EngineLoop {
    /// The head state: every record applied as it arrives.
    pub(super) state: EngineState,
    /// The timeline's records and checkpoints (none with `--timeline-spans 0`).
    pub(super) log: Option<SessionLog>,
    /// The last recording finished from the window (or stopped at a cap).
    pub(super) finished_recording: Option<FinishedRecording>,
    /// The outcome of the last Save as.
    pub(super) notice: Option<String>,
    pub(super) playback: Playback,
    records: RecordReceiver,
    commands: Receiver<Command>,
    counters: Arc<IngestCounters>,
    sources: SourceBoard,
    published: Arc<ArcSwap<Snapshot>>,
    pub(super) config: EngineConfig,
    /// Paused without a timeline: the published view is frozen.
    pub(super) paused: bool,
    version: u64,
    pub(super) summary: EngineSummary,
}

impl EngineLoop {
    fn run(mut self) -> EngineSummary {
        let mut last_publish = Instant::now();
        let mut dirty = true;
        let mut records_done = false;
        // Whether a snapshot was published after the records ended (see below).
        let mut published_after_end = false;
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
            // Rates decay even without new records, so publish at least once a second; but not
            // a session read to its end on its own clock, once that end is published (a
            // publish waits for the helper threads, so it holds everything): there nothing
            // moves until a command, and an idle window recomputes nothing.
            let still = self.config.session_clock && records_done && published_after_end;
            if last_publish.elapsed() >= self.config.publish_interval
                && (dirty || (!still && last_publish.elapsed() >= Duration::from_secs(1)))
            {
                self.publish();
                published_after_end = records_done;
                last_publish = Instant::now();
                dirty = false;
            }
        }
        self.publish();
        self.close_recording();
        let counters = self.state.model.counters();
        self.summary.spans = counters.spans;
        self.summary.graph_folded = counters.names_folded;
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

    /// The head's parts under the memory budget, as each measures what it keeps.
    fn memory_use(&self) -> MemoryUse {
        MemoryUse {
            budget: self.config.memory_budget.bytes,
            timeline: self.log.as_ref().map_or(0, |log| log.bytes_kept() as u64),
            timeline_checkpoints: self.log.as_ref().map_or(0, |log| log.checkpoint_bytes() as u64),
            journeys: self.state.journeys().counters().bytes,
            messages: self.state.kafka().browser.bytes() as u64,
        }
    }

    fn publish(&mut self) {
        self.check_recording();
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
                unix_nanos_now() / 1_000_000_000
            };
            self.state.snapshot(now)
        };
        snapshot.version = self.version;
        snapshot.notice = self.notice.clone();
        snapshot.paused = self.paused || self.playback.mode != PlaybackMode::Following;
        let cursor = if self.playback.mode == PlaybackMode::Following { self.end() } else { self.playback.cursor };
        snapshot.timeline = self.log.as_ref().map(|log| log.view(cursor, self.playback.mode)).unwrap_or_default();
        if snapshot.timeline.enabled {
            // Markers for the whole session, wherever the cursor is: the head's findings.
            let head = self.state.findings();
            snapshot.timeline.findings = head.findings.iter().map(|f| (f.first_seen_unix_nano, f.severity)).collect();
        }
        snapshot.ingest = self.counters.read();
        snapshot.sources = self.sources.lock().map(|s| s.clone()).unwrap_or_default();
        snapshot.recording = self.recording_status();
        snapshot.memory = self.memory_use();
        self.published.store(Arc::new(snapshot));
        if let Some(waker) = &self.config.waker {
            waker();
        }
    }
}
