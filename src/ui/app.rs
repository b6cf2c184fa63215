//! The eframe application: takes the newest snapshot each frame and lays out the panels.

use std::sync::Arc;
use std::time::Duration;

use super::flow_view::{FlowView, Selection};
use super::{details_panel, empty_state, theme, top_bar};
use crate::collector::Collector;
use crate::engine::{Command, EngineHandle, Snapshot};

/// How often the UI looks for a new snapshot while nothing else wakes it.
const IDLE_REPAINT: Duration = Duration::from_millis(250);

/// The whole window's state.
pub struct EventLensApp {
    engine: EngineHandle,
    snapshot: Arc<Snapshot>,
    flow: FlowView,
    selection: Option<Selection>,
    filter: String,
    synced: Option<(u64, String, Option<Selection>)>,
    /// Keeps sources and engine alive as long as the window.
    _collector: Option<Collector>,
}

impl std::fmt::Debug for EventLensApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventLensApp").field("selection", &self.selection).finish_non_exhaustive()
    }
}

impl EventLensApp {
    /// An app over a running engine; `collector` (if given) is stopped when the app drops.
    pub fn new(engine: EngineHandle, collector: Option<Collector>) -> Self {
        Self {
            snapshot: engine.snapshot(),
            engine,
            flow: FlowView::default(),
            selection: None,
            filter: String::new(),
            synced: None,
            _collector: collector,
        }
    }

    /// The current selection.
    pub fn selection(&self) -> Option<Selection> {
        self.selection
    }

    /// Selects a node or edge, as a click would.
    pub fn select(&mut self, selection: Option<Selection>) {
        self.selection = selection;
    }

    /// The snapshot being shown.
    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// The canvas (for tests: where nodes are drawn).
    pub fn flow_view(&self) -> &FlowView {
        &self.flow
    }

    /// Takes the newest snapshot and refreshes the canvas when anything it shows changed.
    pub fn refresh(&mut self) {
        let newest = self.engine.snapshot();
        if newest.version != self.snapshot.version {
            self.snapshot = newest;
        }
        let unchanged = self.synced.as_ref().is_some_and(|(version, filter, selection)| {
            *version == self.snapshot.version && *filter == self.filter && *selection == self.selection
        });
        if !unchanged {
            self.flow.sync(&self.snapshot, &self.filter, self.selection);
            self.synced = Some((self.snapshot.version, self.filter.clone(), self.selection));
        }
    }

    /// Lays out the whole window inside `ui`.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.refresh();
        let snapshot = Arc::clone(&self.snapshot);
        let actions = egui::Panel::top("top_bar").show(ui, |ui| top_bar::show(ui, &snapshot, &mut self.filter)).inner;
        if actions.toggle_pause {
            let command = if snapshot.paused { Command::Resume } else { Command::Pause };
            if !self.engine.send(command) {
                tracing::warn!("the engine did not take {command:?}");
            }
        }
        if actions.fit {
            self.flow.auto_fit = true;
        }
        if let Some(selection) = self.selection {
            egui::Panel::right("details").default_size(theme::SIDE_PANEL_WIDTH).resizable(true).show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    if details_panel::show(ui, &snapshot, selection) == details_panel::PanelAction::Close {
                        self.selection = None;
                    }
                });
            });
        }
        egui::CentralPanel::default().show(ui, |ui| {
            if snapshot.is_empty() {
                empty_state::show(ui, &snapshot);
            } else if let Some(clicked) = self.flow.show(ui) {
                self.selection = Some(clicked);
            }
        });
        ui.ctx().request_repaint_after(IDLE_REPAINT);
    }
}

impl eframe::App for EventLensApp {
    fn logic(&mut self, _ctx: &egui::Context, _frame: &mut eframe::Frame) {
        self.refresh();
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}
