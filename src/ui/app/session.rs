//! Opening a session in the window: a session file dropped on it or chosen with Open…
//! replaces the running session (a new [`Collector`] replays it and every view starts
//! afresh), and the Open and Save as dialogs' answers are taken up here.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use super::{EventLensApp, View};
use crate::collector::{Collector, CollectorConfig};
use crate::engine::Command;
use crate::ui::file_dialogs::DialogPurpose;
use crate::ui::findings_view::FindingsTab;
use crate::ui::flow_view::FlowView;
use crate::ui::journey_list::JourneyListView;
use crate::ui::message_browser::MessageBrowserView;
use crate::ui::waterfall::WaterfallView;

impl EventLensApp {
    /// Opens a session file in place of the current session (a file dropped on the window):
    /// a new collector replays it, and every view starts afresh.
    pub fn open_session(&mut self, ctx: &egui::Context, path: PathBuf) {
        // Only a readable session replaces the current one (its header says so at once).
        if let Err(e) = crate::capture::CaptureReader::open(&path) {
            self.notice = Some(format!("cannot open {}: {e}", path.display()));
            return;
        }
        let ctx = ctx.clone();
        let waker: crate::engine::Waker = Arc::new(move || ctx.request_repaint_after(Duration::from_millis(10)));
        let config = CollectorConfig {
            otlp: None,
            open: Some(path.clone()),
            timeline_spans: Some(crate::engine::playback::OPEN_TIMELINE_SPANS),
            ..CollectorConfig::default()
        };
        let started = Collector::start(config, Some(waker))
            .and_then(|c| c.engine().map(|engine| (c, engine)).ok_or_else(|| anyhow::anyhow!("no engine")));
        match started {
            Ok((collector, engine)) => {
                self.file_stop = collector.file_stop();
                // The previous session's sources and engine stop here.
                self.collector = Some(collector);
                self.snapshot = engine.snapshot();
                self.engine = engine;
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
            Err(e) => self.notice = Some(format!("cannot open {}: {e:#}", path.display())),
        }
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
