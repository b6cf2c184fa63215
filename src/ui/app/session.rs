//! Opening a session in the window: a session file dropped on it or chosen with Open…
//! replaces the running session (a new [`Collector`] replays it and every view starts
//! afresh), and the Open and Save as dialogs' answers are taken up here.
//!
//! None of it waits on the frame. The file's header is checked and the new collector
//! started on an `eventlens-open` thread (the file may be on a hung mount or be a pipe
//! nobody writes to yet); the window keeps showing the current session, with "opening…",
//! until the answer comes. The replaced collector is stopped on an `eventlens-retire`
//! thread ([`Retirements`](crate::ui::background::Retirements)).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::{EventLensApp, View};
use crate::collector::{Collector, CollectorConfig};
use crate::engine::{Command, EngineHandle};
use crate::ui::background::{Job, JobState, OPEN_THREAD};
use crate::ui::file_dialogs::DialogPurpose;
use crate::ui::findings_view::FindingsTab;
use crate::ui::flow_view::FlowView;
use crate::ui::journey_list::JourneyListView;
use crate::ui::message_browser::MessageBrowserView;
use crate::ui::waterfall::WaterfallView;

/// A session file being opened off the frame.
#[derive(Debug)]
pub(super) struct Opening {
    /// The file, for the notice.
    pub(super) path: PathBuf,
    job: Job<Result<OpenedSession, String>>,
}

/// A session whose header was good and whose collector is running.
struct OpenedSession {
    collector: Collector,
    engine: EngineHandle,
}

impl std::fmt::Debug for OpenedSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpenedSession").finish_non_exhaustive()
    }
}

/// Checks the file's header and starts a collector replaying it; runs on the open thread.
fn open_file(path: &Path, ctx: egui::Context) -> Result<OpenedSession, String> {
    // Only a readable session replaces the current one (its header says so at once).
    crate::capture::CaptureReader::open(path).map_err(|e| e.to_string())?;
    let waker: crate::engine::Waker = Arc::new(move || ctx.request_repaint_after(Duration::from_millis(10)));
    let config = CollectorConfig {
        otlp: None,
        open: Some(path.to_owned()),
        timeline_spans: Some(crate::engine::playback::OPEN_TIMELINE_SPANS),
        ..CollectorConfig::default()
    };
    let collector = Collector::start(config, Some(waker)).map_err(|e| format!("{e:#}"))?;
    let engine = collector.engine().ok_or_else(|| "its engine did not start".to_owned())?;
    Ok(OpenedSession { collector, engine })
}

impl EventLensApp {
    /// Opens a session file in place of the current session (a file dropped on the window or
    /// chosen with Open…): its header is checked and a new collector started off the frame;
    /// once that is done, the new collector replays it and every view starts afresh. A file
    /// asked for while another is still opening replaces that one.
    pub fn open_session(&mut self, ctx: &egui::Context, path: PathBuf) {
        let (file, ctx_for_open) = (path.clone(), ctx.clone());
        match Job::spawn(OPEN_THREAD, ctx, move || open_file(&file, ctx_for_open)) {
            // A file still opening is let go of: its thread drops what it started.
            Ok(job) => self.opening = Some(Opening { path, job }),
            Err(e) => self.notice = Some(format!("cannot open {}: no thread to open it on ({e})", path.display())),
        }
    }

    /// Whether a session file is being opened (the current session is shown until then).
    pub fn is_opening(&self) -> bool {
        self.opening.is_some()
    }

    /// Takes up the opened session once its thread has answered; never waits.
    pub(super) fn poll_opening(&mut self) {
        let Some(opening) = &self.opening else { return };
        let answer = match opening.job.poll() {
            JobState::Pending => return,
            JobState::Done(answer) => answer,
            JobState::Lost => Err("opening it failed unexpectedly".to_owned()),
        };
        let Some(Opening { path, .. }) = self.opening.take() else { return };
        match answer {
            Ok(opened) => self.swap_session(opened, &path),
            Err(e) => self.notice = Some(format!("cannot open {}: {e}", path.display())),
        }
    }

    /// Shows the opened session in place of the current one, whose collector stops on a
    /// thread of its own.
    fn swap_session(&mut self, opened: OpenedSession, path: &Path) {
        let OpenedSession { collector, engine } = opened;
        self.file_stop = collector.file_stop();
        if let Some(replaced) = self.collector.replace(collector) {
            let shown_error = self.snapshot.recording.as_ref().and_then(|r| r.error.clone());
            self.retired.retire(replaced, shown_error);
        }
        self.releases.release(std::mem::replace(&mut self.snapshot, engine.snapshot()));
        self.engine = engine;
        // A recording asked of the replaced session is not started on this one.
        self.recording_start = None;
        self.browser = MessageBrowserView::new(Vec::new());
        self.flow = FlowView::default();
        self.selection = None;
        self.journey = None;
        self.journeys = JourneyListView::default();
        self.waterfall = WaterfallView::default();
        self.findings = FindingsTab::default();
        self.synced = None;
        self.view = View::Flow;
        self.demo = None;
        self.notice = Some(format!("opened {}", path.display()));
    }

    /// Opens a session file dropped on the window; true while files are dragged over it.
    pub(super) fn take_dropped_file(&mut self, ui: &egui::Ui) -> bool {
        let (dropped, hovering) =
            ui.input(|i| (i.raw.dropped_files.first().map(|f| f.path().to_owned()), !i.raw.hovered_files.is_empty()));
        if let Some(path) = dropped {
            self.open_session(ui.ctx(), path);
        }
        hovering
    }

    /// Takes up the answer of an Open or Save as dialog, once the user has given it.
    pub(super) fn poll_dialogs(&mut self, ctx: &egui::Context) {
        match self.dialogs.poll() {
            Some((DialogPurpose::Open, path)) => self.open_session(ctx, path),
            Some((DialogPurpose::SaveAs, path)) => self.command(Command::SaveAs(path)),
            None => {}
        }
    }
}

/// Says what letting go of the dragged files will do.
pub(super) fn show_drop_hint(ui: &egui::Ui) {
    egui::Area::new(egui::Id::new("drop_hint")).anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO).show(
        ui.ctx(),
        |ui| {
            egui::Frame::popup(ui.style()).show(ui, |ui| ui.heading("Drop a session file to open it"));
        },
    );
}

/// "opening FILE…", beside the notices while a session file opens.
pub(super) fn show_opening(ui: &mut egui::Ui, opening: &Opening) {
    ui.spinner();
    ui.label(egui::RichText::new(format!("opening {}…", opening.path.display())).color(crate::ui::theme::LABEL_DETAIL));
}
