//! The eframe application: takes the newest snapshot each frame and lays out the panels.
//!
//! This file holds [`EventLensApp`]'s state, its public API (for `main` and the tests), the
//! per-frame refresh and the layout of the window and its views. What the user asks of the
//! window beside the views is in files of its own: opening a session in place of the running
//! one (`app/session.rs`), exporting the graph as SVG or PNG (`app/exports.rs`), copying a
//! journey as OTLP JSON or Mermaid (`app/copies.rs`), and keys, top bar buttons and engine
//! commands (`app/actions.rs`).

mod actions;
mod copies;
mod exports;
mod flow_tab;
mod session;

use std::sync::Arc;
use std::time::Duration;

use egui::RichText;

use super::flow_scope::{Focus, Grouping};
use super::flow_view::{FlowView, Selection};
use super::journey_list::{JourneyListView, Through};
use super::message_browser::MessageBrowserView;
use super::span_details::{self, SpanAction};
use super::waterfall::WaterfallView;
use super::{demo_panel, empty_state, theme, top_bar, topics_view};
use crate::collector::Collector;
use crate::engine::{Command, EngineHandle, Snapshot};
use crate::ingest::browse::BrowseHandle;
use crate::model::flow_graph::NodeKey;
use crate::model::journey::JourneyId;

/// How often the UI looks for a new snapshot while nothing else wakes it.
const IDLE_REPAINT: Duration = Duration::from_millis(250);

/// The main view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The flow graph.
    Flow,
    /// Journeys: the list, a waterfall, span details.
    Journeys,
    /// Findings: the failure modes EventLens named, with their evidence.
    Findings,
    /// Kafka topics.
    Topics,
    /// NATS JetStream streams and consumers, RabbitMQ queues, with their depth.
    Brokers,
    /// The message browser.
    Messages,
}

/// The state the flow view was last synced with: the snapshot, the filter, the selection
/// and the shown journey.
#[derive(Debug)]
struct FlowSynced {
    version: u64,
    filter: String,
    hide: bool,
    focus: Option<Focus>,
    grouping: Grouping,
    selection: Option<Selection>,
    journey: Option<JourneyId>,
}

/// The whole window's state.
pub struct EventLensApp {
    view: View,
    browser: MessageBrowserView,
    show_internal_topics: bool,
    brokers: super::brokers_view::BrokersView,
    engine: EngineHandle,
    snapshot: Arc<Snapshot>,
    flow: FlowView,
    selection: Option<Selection>,
    filter: String,
    journeys: JourneyListView,
    waterfall: WaterfallView,
    journey: Option<JourneyId>,
    /// The Findings tab's filters, sort and selection.
    findings: super::findings_view::FindingsTab,
    /// What the flow view was last synced with; synced again only when it changes.
    synced: Option<FlowSynced>,
    /// Stops the session file reader (`eventlens open`).
    file_stop: Option<tokio_util::sync::CancellationToken>,
    /// The timeline's controls.
    timeline: super::timeline::TimelineControls,
    /// Where the graph canvas was drawn last frame (for Export PNG).
    canvas: Option<egui::Rect>,
    /// An Export PNG waits for its screenshot.
    png_requested: bool,
    /// Exports being written off the frame.
    exports: Vec<super::background::Job<exports::Exported>>,
    /// The Open and Save as dialogs.
    dialogs: super::file_dialogs::FileDialogs,
    /// The outcome of the last export, shown under the top bar.
    notice: Option<String>,
    /// Where the Record button writes (default: the user's data folder).
    recording_dir: Option<std::path::PathBuf>,
    /// A Record click whose file is being picked off the frame.
    recording_start: Option<actions::RecordingStart>,
    /// A journey being serialized for the clipboard off the frame.
    copying: Option<copies::Copying>,
    /// Presentation mode: the zoom factor to restore when it ends.
    presenting: Option<f32>,
    /// The built-in demo's knobs, while `eventlens demo` runs.
    demo: Option<Arc<crate::demo::DemoControls>>,
    /// Keeps sources and engine alive as long as the window (replaced when a session file is
    /// dropped on the window).
    collector: Option<Collector>,
    /// A session file being opened off the frame, to replace this session.
    opening: Option<session::Opening>,
    /// Replaced sessions stopping off the frame.
    retired: super::background::Retirements,
    /// Replaced snapshots freed off the frame.
    releases: super::background::Releases,
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
            brokers: super::brokers_view::BrokersView::default(),
            snapshot: engine.snapshot(),
            engine,
            flow: FlowView::default(),
            selection: None,
            filter: String::new(),
            journeys: JourneyListView::default(),
            waterfall: WaterfallView::default(),
            journey: None,
            findings: super::findings_view::FindingsTab::default(),
            file_stop: None,
            demo: None,
            presenting: None,
            timeline: super::timeline::TimelineControls::default(),
            recording_dir: None,
            recording_start: None,
            copying: None,
            notice: None,
            dialogs: super::file_dialogs::FileDialogs::default(),
            canvas: None,
            png_requested: false,
            exports: Vec::new(),
            synced: None,
            collector,
            opening: None,
            retired: super::background::Retirements::default(),
            releases: super::background::Releases::default(),
        }
    }

    /// Lets the message browser read from these clusters.
    pub fn with_browsers(mut self, browsers: Vec<BrowseHandle>) -> Self {
        self.browser = MessageBrowserView::new(browsers);
        self
    }

    /// Lets the top bar's "Stop reading" stop the session file reader.
    pub fn with_file_stop(mut self, stop: Option<tokio_util::sync::CancellationToken>) -> Self {
        self.file_stop = stop;
        self
    }

    /// Records from the Record button into this folder instead of the default one.
    pub fn with_recording_dir(mut self, dir: std::path::PathBuf) -> Self {
        self.recording_dir = Some(dir);
        self
    }

    /// Shows the Demo panel steering these controls.
    pub fn with_demo(mut self, controls: Option<Arc<crate::demo::DemoControls>>) -> Self {
        self.demo = controls;
        self
    }

    /// Whether presentation mode is on.
    pub fn presenting(&self) -> bool {
        self.presenting.is_some()
    }

    /// Turns presentation mode on or off: full screen, everything larger (egui's zoom), the
    /// chrome (bars, panels) hidden, the graph fitted again. For design reviews on a
    /// projector.
    pub fn set_presenting(&mut self, ctx: &egui::Context, on: bool) {
        if on == self.presenting() {
            return;
        }
        if on {
            self.presenting = Some(ctx.zoom_factor());
            ctx.set_zoom_factor(theme::PRESENTATION_ZOOM);
        } else if let Some(zoom) = self.presenting.take() {
            ctx.set_zoom_factor(zoom);
        }
        ctx.send_viewport_cmd(egui::ViewportCommand::Fullscreen(on));
        if on {
            // Left to right, as laid out from scratch: for a projector.
            self.flow.arrange();
        }
        self.flow.auto_fit = true;
        self.flow.scale = if on { theme::PRESENTATION_GRAPH_SCALE } else { 1.0 };
        // Text as small on screen as the window allows, so the graph can be fitted whole.
        self.flow.text_floor = if on { theme::presentation_text_floor() } else { theme::MIN_TEXT_SIZE };
        // The canvas takes the new scale at its next sync.
        self.synced = None;
    }

    /// The main view shown.
    pub fn view(&self) -> View {
        self.view
    }

    /// The message browser (for tests: its controls).
    pub fn browser_mut(&mut self) -> &mut MessageBrowserView {
        &mut self.browser
    }

    /// Switches the main view, as its tab would.
    pub fn set_view(&mut self, view: View) {
        self.view = view;
    }

    /// Selects a journey (or none), as a click in the list would: the engine lays it out,
    /// the waterfall shows it and the flow graph highlights its path.
    pub fn select_journey(&mut self, journey: Option<JourneyId>) {
        if self.journey != journey {
            self.journey = journey;
            if !self.engine.send(Command::SelectJourney(journey)) {
                tracing::warn!("the engine did not take the journey selection");
            }
        }
    }

    /// The selected journey.
    pub fn selected_journey(&self) -> Option<JourneyId> {
        self.journey
    }

    /// The journey list's state (for tests: its search and rows).
    pub fn journey_list_mut(&mut self) -> &mut JourneyListView {
        &mut self.journeys
    }

    /// How many journeys the list shows (after search and graph selection).
    pub fn journey_rows(&self) -> usize {
        self.journeys.rows().len()
    }

    /// The waterfall's state (for tests: visible rows, selected span).
    pub fn waterfall_mut(&mut self) -> &mut WaterfallView {
        &mut self.waterfall
    }

    /// What the graph selection limits the journey list to.
    fn through(&self) -> Option<Through> {
        let key = |id: u32| self.snapshot.node(id).map(|n| &n.key);
        match self.selection? {
            Selection::Node(id) => match key(id)? {
                NodeKey::Service { service } => Some(Through::Service(service.to_string())),
                NodeKey::Destination { name, .. } => Some(Through::Topic(name.clone())),
                NodeKey::ConsumerGroup { .. } => None,
            },
            Selection::Edge(id) => {
                let e = self.snapshot.edge(id)?;
                match (key(e.from)?, key(e.to)?) {
                    (NodeKey::Service { service }, NodeKey::Destination { name, .. })
                    | (NodeKey::Destination { name, .. }, NodeKey::Service { service }) => {
                        Some(Through::Hop { service: service.to_string(), topic: name.clone() })
                    }
                    (NodeKey::Destination { name, .. }, _) | (_, NodeKey::Destination { name, .. }) => {
                        Some(Through::Topic(name.clone()))
                    }
                    _ => None,
                }
            }
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
            // The replaced one may be the last holder of a large journey: freed off the frame.
            self.releases.release(std::mem::replace(&mut self.snapshot, newest));
        }
        let unchanged = self.synced.as_ref().is_some_and(|s| {
            s.version == self.snapshot.version
                && s.filter == self.filter
                && s.hide == self.flow.hide_unmatched
                && s.focus == self.flow.focus
                && s.grouping == self.flow.grouping
                && s.selection == self.selection
                && s.journey == self.journey
        });
        if !unchanged {
            let shown = self.shown_journey().cloned();
            self.flow.sync(&self.snapshot, &self.filter, self.selection, shown.as_ref().map(|d| &d.path));
            self.synced = Some(FlowSynced {
                version: self.snapshot.version,
                filter: self.filter.clone(),
                hide: self.flow.hide_unmatched,
                focus: self.flow.focus,
                grouping: self.flow.grouping.clone(),
                selection: self.selection,
                journey: self.journey,
            });
        }
        if let Some(detail) = self.shown_journey().cloned() {
            self.waterfall.sync(&detail);
        }
    }

    /// The selected journey's layout, once the engine has published it.
    fn shown_journey(&self) -> Option<&Arc<crate::model::journey::JourneyDetail>> {
        self.snapshot.journey.as_ref().filter(|d| Some(d.summary.id) == self.journey)
    }

    /// Lays out the whole window inside `ui`.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let hovering = self.take_dropped_file(ui);
        self.save_screenshot(ui);
        self.poll_dialogs(ui.ctx());
        self.poll_opening();
        self.poll_exports();
        self.poll_recording_start();
        self.poll_copying(ui.ctx());
        if hovering {
            session::show_drop_hint(ui);
        }
        self.refresh();
        let snapshot = Arc::clone(&self.snapshot);
        self.presentation_keys(ui);
        if self.presenting() {
            self.show_presentation(ui, &snapshot);
            return;
        }
        let actions = egui::Panel::top("top_bar")
            .show(ui, |ui| {
                let (folds, follows_layout) = (self.flow.folds(), self.flow.follows_layout());
                let mut options = top_bar::CanvasOptions {
                    filter: &mut self.filter,
                    hide: &mut self.flow.hide_unmatched,
                    group: &mut self.flow.grouping.on,
                    folds,
                    follows_layout,
                };
                top_bar::show(ui, &snapshot, &mut options)
            })
            .inner;
        self.top_bar_actions(ui.ctx(), &snapshot, &actions);
        self.show_tabs(ui, &snapshot);
        if snapshot.timeline.enabled && snapshot.timeline.end_unix_nano > 0 {
            let command =
                egui::Panel::bottom("timeline").show(ui, |ui| self.timeline.show(ui, &snapshot.timeline)).inner;
            if let Some(command) = command {
                self.command(command);
            }
        }
        if let Some(controls) = &self.demo {
            egui::Panel::left("demo").default_size(theme::DEMO_PANEL_WIDTH).resizable(true).show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| demo_panel::show(ui, controls));
            });
        }
        self.show_view(ui, &snapshot);
        ui.ctx().request_repaint_after(IDLE_REPAINT);
    }

    /// The tabs of the main views, with the notices beside them.
    fn show_tabs(&mut self, ui: &mut egui::Ui, snapshot: &Snapshot) {
        let kafka = !snapshot.kafka.clusters().is_empty() || self.browser.is_available();
        egui::Panel::top("views").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.selectable_value(&mut self.view, View::Flow, "Flow");
                ui.selectable_value(&mut self.view, View::Journeys, format!("Journeys ({})", snapshot.journeys.len()));
                let findings = super::findings_view::tab_title(&snapshot.findings);
                ui.selectable_value(&mut self.view, View::Findings, findings);
                if kafka {
                    ui.selectable_value(&mut self.view, View::Topics, "Topics");
                }
                if !snapshot.nats.is_empty() || !snapshot.rabbitmq.is_empty() {
                    ui.selectable_value(&mut self.view, View::Brokers, "Brokers");
                }
                if self.browser.is_available() {
                    ui.selectable_value(&mut self.view, View::Messages, "Messages");
                }
                if let Some(opening) = &self.opening {
                    ui.separator();
                    session::show_opening(ui, opening);
                }
                self.show_recording_start(ui);
                if let Some(copying) = &self.copying {
                    ui.separator();
                    copies::show_copying(ui, copying);
                }
                for notice in [&self.notice, &snapshot.notice].into_iter().flatten() {
                    ui.separator();
                    ui.label(egui::RichText::new(notice).color(theme::LABEL_DETAIL));
                }
            });
        });
    }

    /// The main view chosen in the tabs.
    fn show_view(&mut self, ui: &mut egui::Ui, snapshot: &Arc<Snapshot>) {
        match self.view {
            View::Flow => self.show_flow(ui, snapshot),
            View::Journeys => self.show_journeys(ui, snapshot),
            View::Findings => self.findings.show(ui, snapshot).apply(self),
            View::Topics => {
                egui::CentralPanel::default().show(ui, |ui| {
                    let action = topics_view::show(ui, snapshot, &mut self.show_internal_topics);
                    if let Some((_, topic)) = action.browse
                        && self.browser.is_available()
                    {
                        self.browser.topic = topic;
                        self.browser.partition = None;
                        self.view = View::Messages;
                    }
                });
            }
            View::Brokers => {
                egui::CentralPanel::default().show(ui, |ui| self.brokers.show(ui, snapshot));
            }
            View::Messages => {
                if let Some(m) = self.browser.selected_message(snapshot) {
                    let (mut close, browse) = (false, snapshot.kafka.browser.browse);
                    egui::Panel::right("message").default_size(theme::SIDE_PANEL_WIDTH * 1.3).resizable(true).show(
                        ui,
                        |ui| {
                            egui::ScrollArea::vertical()
                                .show(ui, |ui| close = self.browser.message_panel(ui, m, browse));
                        },
                    );
                    if close {
                        self.browser.selected = None;
                    }
                }
                egui::CentralPanel::default().show(ui, |ui| self.browser.show(ui, snapshot));
            }
        }
    }

    fn show_journeys(&mut self, ui: &mut egui::Ui, snapshot: &Arc<Snapshot>) {
        let detail = self.shown_journey().cloned();
        if let (Some(detail), Some(span)) = (&detail, self.waterfall.selected) {
            egui::Panel::right("span").default_size(theme::SIDE_PANEL_WIDTH * 1.2).resizable(true).show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| match span_details::show(ui, detail, span) {
                    SpanAction::None => {}
                    SpanAction::Close => self.waterfall.selected = None,
                    SpanAction::Select(other) => self.waterfall.selected = Some(other),
                });
            });
        }
        let through = self.through();
        let clicked = egui::Panel::top("journey_list")
            .resizable(true)
            .default_size(ui.available_height() * 0.42)
            .show(ui, |ui| {
                self.journeys.show(
                    ui,
                    &snapshot.journeys,
                    through.as_ref(),
                    self.journey,
                    snapshot.journey_counters.evicted,
                )
            })
            .inner;
        if let Some(id) = clicked {
            self.select_journey(Some(id));
        }
        egui::CentralPanel::default().show(ui, |ui| match &detail {
            Some(detail) => {
                ui.horizontal(|ui| {
                    if ui.button("Show on graph").clicked() {
                        self.view = View::Flow;
                    }
                    if ui.button("Copy as OTLP JSON").clicked() {
                        self.copy_journey(ui.ctx(), detail, copies::CopyFormat::OtlpJson);
                    }
                    if ui.button("Copy as Mermaid").clicked() {
                        self.copy_journey(ui.ctx(), detail, copies::CopyFormat::Mermaid);
                    }
                    if !detail.batch_inputs.is_empty() {
                        ui.label(format!("batch of {} journeys", detail.batch_inputs.len()));
                    }
                    if !detail.batch_consumers.is_empty() {
                        ui.label(format!("consumed in {} batch journey(s)", detail.batch_consumers.len()));
                    }
                });
                for m in &detail.messages {
                    let consumed = if m.consumed_by.is_empty() { "—".to_owned() } else { m.consumed_by.join(", ") };
                    let waiting = if m.waiting.is_empty() {
                        String::new()
                    } else {
                        format!(" · not yet: {}", m.waiting.join(", "))
                    };
                    ui.label(format!(
                        "message {} key {} · consumed by {consumed}{waiting}",
                        m.step.position(),
                        m.step.key.as_deref().unwrap_or("—")
                    ));
                }
                self.waterfall.show(ui, detail, &snapshot.findings);
            }
            None if self.journey.is_some() => {
                ui.label("Laying the journey out…");
            }
            None => {
                ui.centered_and_justified(|ui| {
                    ui.label(RichText::new("Select a journey to see its waterfall").color(theme::LABEL_DETAIL));
                });
            }
        });
    }

    /// The current view alone, with one small way out.
    fn show_presentation(&mut self, ui: &mut egui::Ui, snapshot: &Arc<Snapshot>) {
        let mut leave = false;
        egui::Panel::bottom("presentation").show(ui, |ui| {
            ui.horizontal(|ui| {
                ui.label(RichText::new("EventLens").color(theme::LABEL_DETAIL));
                if ui.small_button("Leave presentation (F11 / Esc)").clicked() {
                    leave = true;
                }
            });
        });
        match self.view {
            View::Journeys => self.show_journeys(ui, snapshot),
            _ => {
                egui::CentralPanel::default().show(ui, |ui| {
                    if snapshot.is_empty() {
                        empty_state::show(ui, snapshot);
                    } else if let Some(clicked) = self.flow.show(ui) {
                        self.selection = Some(clicked);
                    }
                });
            }
        }
        if leave {
            self.set_presenting(ui.ctx(), false);
        }
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
