//! The eframe application: takes the newest snapshot each frame and lays out the panels.

use std::sync::Arc;
use std::time::Duration;

use super::flow_view::{FlowView, Selection};
use super::message_browser::{self, MessageBrowserView};
use super::{details_panel, empty_state, theme, top_bar, topics_view};
use crate::collector::Collector;
use crate::engine::{Command, EngineHandle, Snapshot};
use crate::ingest::kafka::browser::BrowseHandle;

/// How often the UI looks for a new snapshot while nothing else wakes it.
const IDLE_REPAINT: Duration = Duration::from_millis(250);

/// The main view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The flow graph.
    Flow,
    /// Kafka topics.
    Topics,
    /// The message browser.
    Messages,
}

/// The whole window's state.
pub struct EventLensApp {
    view: View,
    browser: MessageBrowserView,
    show_internal_topics: bool,
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
            view: View::Flow,
            browser: MessageBrowserView::new(Vec::new()),
            show_internal_topics: false,
            snapshot: engine.snapshot(),
            engine,
            flow: FlowView::default(),
            selection: None,
            filter: String::new(),
            synced: None,
            _collector: collector,
        }
    }

    /// Lets the message browser read from these clusters.
    pub fn with_browsers(mut self, browsers: Vec<BrowseHandle>) -> Self {
        self.browser = MessageBrowserView::new(browsers);
        self
    }

    /// The main view shown.
    pub fn view(&self) -> View {
        self.view
    }

    /// The message browser (for tests: its controls).
    pub fn browser_mut(&mut self) -> &mut MessageBrowserView {
        &mut self.browser
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
        if !snapshot.kafka.clusters().is_empty() || self.browser.is_available() {
            egui::Panel::top("views").show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut self.view, View::Flow, "Flow");
                    ui.selectable_value(&mut self.view, View::Topics, "Topics");
                    if self.browser.is_available() {
                        ui.selectable_value(&mut self.view, View::Messages, "Messages");
                    }
                });
            });
        }
        match self.view {
            View::Flow => self.show_flow(ui, &snapshot),
            View::Topics => {
                egui::CentralPanel::default().show(ui, |ui| {
                    let action = topics_view::show(ui, &snapshot, &mut self.show_internal_topics);
                    if let Some((_, topic)) = action.browse
                        && self.browser.is_available()
                    {
                        self.browser.topic = topic;
                        self.browser.partition = None;
                        self.view = View::Messages;
                    }
                });
            }
            View::Messages => {
                if let Some(m) = self.browser.selected_message(&snapshot) {
                    let mut close = false;
                    egui::Panel::right("message").default_size(theme::SIDE_PANEL_WIDTH * 1.3).resizable(true).show(
                        ui,
                        |ui| {
                            egui::ScrollArea::vertical().show(ui, |ui| close = message_browser::message_panel(ui, m));
                        },
                    );
                    if close {
                        self.browser.selected = None;
                    }
                }
                egui::CentralPanel::default().show(ui, |ui| self.browser.show(ui, &snapshot));
            }
        }
        ui.ctx().request_repaint_after(IDLE_REPAINT);
    }

    fn show_flow(&mut self, ui: &mut egui::Ui, snapshot: &Arc<Snapshot>) {
        let snapshot = Arc::clone(snapshot);
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
