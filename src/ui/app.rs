//! The eframe application: takes the newest snapshot each frame and lays out the panels.

use std::sync::Arc;
use std::time::Duration;

use egui::RichText;

use super::flow_view::{FlowView, Selection};
use super::journey_list::{JourneyListView, Through};
use super::message_browser::{self, MessageBrowserView};
use super::span_details::{self, SpanAction};
use super::waterfall::WaterfallView;
use super::{demo_panel, details_panel, empty_state, theme, top_bar, topics_view};
use crate::collector::Collector;
use crate::engine::{Command, EngineHandle, Snapshot};
use crate::ingest::kafka::browser::BrowseHandle;
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
    journeys: JourneyListView,
    waterfall: WaterfallView,
    journey: Option<JourneyId>,
    synced: Option<(u64, String, Option<Selection>, Option<JourneyId>)>,
    /// Stops the session file reader (`eventlens open`).
    file_stop: Option<tokio_util::sync::CancellationToken>,
    /// The timeline's controls.
    timeline: super::timeline::TimelineControls,
    /// Where the graph canvas was drawn last frame (for Export PNG).
    canvas: Option<egui::Rect>,
    /// An Export PNG waiting for its screenshot: where to save it.
    png_request: Option<std::path::PathBuf>,
    /// The Open and Save as dialogs.
    dialogs: super::file_dialogs::FileDialogs,
    /// The outcome of the last export, shown under the top bar.
    notice: Option<String>,
    /// Where the Record button writes (default: the user's data folder).
    recording_dir: Option<std::path::PathBuf>,
    /// Presentation mode: the zoom factor to restore when it ends.
    presenting: Option<f32>,
    /// The built-in demo's knobs, while `eventlens demo` runs.
    demo: Option<Arc<crate::demo::DemoControls>>,
    /// Keeps sources and engine alive as long as the window (replaced when a session file is
    /// dropped on the window).
    collector: Option<Collector>,
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
            journeys: JourneyListView::default(),
            waterfall: WaterfallView::default(),
            journey: None,
            file_stop: None,
            demo: None,
            presenting: None,
            timeline: super::timeline::TimelineControls::default(),
            recording_dir: None,
            notice: None,
            dialogs: super::file_dialogs::FileDialogs::default(),
            canvas: None,
            png_request: None,
            synced: None,
            collector,
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

    /// Opens a session file in place of the current session (a file dropped on the window):
    /// a new collector replays it, and every view starts afresh.
    pub fn open_session(&mut self, ctx: &egui::Context, path: std::path::PathBuf) {
        // Only a readable session replaces the current one (its header says so at once).
        if let Err(e) = crate::capture::CaptureReader::open(&path) {
            self.notice = Some(format!("cannot open {}: {e}", path.display()));
            return;
        }
        let ctx = ctx.clone();
        let waker: crate::engine::Waker = Arc::new(move || ctx.request_repaint_after(Duration::from_millis(10)));
        let config = crate::collector::CollectorConfig {
            otlp: None,
            open: Some(path.clone()),
            timeline_spans: Some(crate::engine::playback::OPEN_TIMELINE_SPANS),
            ..crate::collector::CollectorConfig::default()
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
                self.synced = None;
                self.view = View::Flow;
                self.demo = None;
                self.notice = Some(format!("opened {}", path.display()));
            }
            Err(e) => self.notice = Some(format!("cannot open {}: {e:#}", path.display())),
        }
    }

    /// Saves the screenshot an Export PNG asked for, cropped to the graph, once it arrives.
    fn save_screenshot(&mut self, ui: &egui::Ui) {
        if self.png_request.is_none() {
            return;
        }
        let shot = ui.input(|i| {
            i.events.iter().find_map(|e| match e {
                egui::Event::Screenshot { image, .. } => Some((Arc::clone(image), i.pixels_per_point)),
                _ => None,
            })
        });
        let (Some((image, pixels_per_point)), Some(path)) = (shot, self.png_request.take()) else { return };
        let cropped = match self.canvas {
            Some(rect) => image.region(&rect, Some(pixels_per_point)),
            None => (*image).clone(),
        };
        let [width, height] = cropped.size;
        let bytes: Vec<u8> = cropped.pixels.iter().flat_map(|p| p.to_array()).collect();
        let saved = image::RgbaImage::from_raw(width as u32, height as u32, bytes)
            .ok_or_else(|| "the screenshot has the wrong size".to_owned())
            .and_then(|picture| picture.save(&path).map_err(|e| e.to_string()));
        self.notice = Some(match saved {
            Ok(()) => format!("graph saved to {}", path.display()),
            Err(e) => format!("cannot save the graph: {e}"),
        });
    }

    /// Sends a command to the engine, logging when it could not take it.
    fn command(&self, command: Command) {
        let what = format!("{command:?}");
        if !self.engine.send(command) {
            tracing::warn!("the engine did not take {what}");
        }
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
            self.flow.arrange(&self.snapshot);
        }
        self.flow.auto_fit = true;
        self.flow.scale = if on { theme::PRESENTATION_GRAPH_SCALE } else { 1.0 };
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
            self.snapshot = newest;
        }
        let unchanged = self.synced.as_ref().is_some_and(|(version, filter, selection, journey)| {
            *version == self.snapshot.version
                && *filter == self.filter
                && *selection == self.selection
                && *journey == self.journey
        });
        if !unchanged {
            let shown = self.shown_journey().cloned();
            self.flow.sync(&self.snapshot, &self.filter, self.selection, shown.as_ref().map(|d| &d.path));
            self.synced = Some((self.snapshot.version, self.filter.clone(), self.selection, self.journey));
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
        let (dropped, hovering) =
            ui.input(|i| (i.raw.dropped_files.first().map(|f| f.path().to_owned()), !i.raw.hovered_files.is_empty()));
        if let Some(path) = dropped {
            self.open_session(ui.ctx(), path);
        }
        self.save_screenshot(ui);
        match self.dialogs.poll() {
            Some((super::file_dialogs::DialogPurpose::Open, path)) => self.open_session(ui.ctx(), path),
            Some((super::file_dialogs::DialogPurpose::SaveAs, path)) => self.command(Command::SaveAs(path)),
            None => {}
        }
        if hovering {
            egui::Area::new(egui::Id::new("drop_hint")).anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO).show(
                ui.ctx(),
                |ui| {
                    egui::Frame::popup(ui.style()).show(ui, |ui| ui.heading("Drop a session file to open it"));
                },
            );
        }
        self.refresh();
        let snapshot = Arc::clone(&self.snapshot);
        let (f11, escape) = ui.input(|i| (i.key_pressed(egui::Key::F11), i.key_pressed(egui::Key::Escape)));
        if f11 || (escape && self.presenting()) {
            let on = !self.presenting();
            self.set_presenting(ui.ctx(), on);
        }
        if self.presenting() {
            self.show_presentation(ui, &snapshot);
            return;
        }
        let actions = egui::Panel::top("top_bar").show(ui, |ui| top_bar::show(ui, &snapshot, &mut self.filter)).inner;
        if actions.toggle_pause {
            self.command(if snapshot.paused { Command::Resume } else { Command::Pause });
        }
        if actions.record {
            let recording = snapshot.recording.as_ref().is_some_and(|r| r.active);
            match (recording, super::recording::new_session_path(self.recording_dir.as_deref())) {
                (true, _) => self.command(Command::Record(None)),
                (false, Ok(path)) => self.command(Command::Record(Some(path))),
                (false, Err(e)) => tracing::error!("cannot record: {e}"),
            }
        }
        if actions.fit {
            self.flow.auto_fit = true;
        }
        if actions.open {
            self.dialogs.show(super::file_dialogs::DialogPurpose::Open, ui.ctx());
        }
        if actions.save_as {
            self.dialogs.show(super::file_dialogs::DialogPurpose::SaveAs, ui.ctx());
        }
        if actions.export_png {
            match super::recording::new_path(self.recording_dir.as_deref(), "eventlens-graph", "png") {
                Ok(path) => {
                    self.png_request = Some(path);
                    ui.ctx().send_viewport_cmd(egui::ViewportCommand::Screenshot(egui::UserData::default()));
                }
                Err(e) => self.notice = Some(format!("cannot save the graph: {e}")),
            }
        }
        if actions.export_svg {
            let svg = super::svg_export::flow_svg(&self.flow);
            self.notice = Some(
                match super::recording::new_path(self.recording_dir.as_deref(), "eventlens-graph", "svg")
                    .and_then(|path| std::fs::write(&path, svg).map(|()| path))
                {
                    Ok(path) => format!("graph saved to {}", path.display()),
                    Err(e) => format!("cannot save the graph: {e}"),
                },
            );
        }
        if actions.arrange {
            self.flow.arrange(&snapshot);
        }
        if actions.present {
            self.set_presenting(ui.ctx(), true);
        }
        if actions.stop_reading
            && let Some(stop) = &self.file_stop
        {
            stop.cancel();
        }
        {
            let kafka = !snapshot.kafka.clusters().is_empty() || self.browser.is_available();
            egui::Panel::top("views").show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.selectable_value(&mut self.view, View::Flow, "Flow");
                    ui.selectable_value(
                        &mut self.view,
                        View::Journeys,
                        format!("Journeys ({})", snapshot.journeys.len()),
                    );
                    if kafka {
                        ui.selectable_value(&mut self.view, View::Topics, "Topics");
                    }
                    if self.browser.is_available() {
                        ui.selectable_value(&mut self.view, View::Messages, "Messages");
                    }
                    for notice in [&self.notice, &snapshot.notice].into_iter().flatten() {
                        ui.separator();
                        ui.label(egui::RichText::new(notice).color(theme::LABEL_DETAIL));
                    }
                });
            });
        }
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
        match self.view {
            View::Flow => self.show_flow(ui, &snapshot),
            View::Journeys => self.show_journeys(ui, &snapshot),
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
                        match crate::export::journey::to_otlp_json(detail) {
                            Ok(json) => ui.ctx().copy_text(json),
                            Err(e) => tracing::warn!("journey export failed: {e}"),
                        }
                    }
                    if ui.button("Copy as Mermaid").clicked() {
                        ui.ctx().copy_text(crate::export::journey::to_mermaid_sequence(detail));
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
                self.waterfall.show(ui, detail);
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

    fn show_flow(&mut self, ui: &mut egui::Ui, snapshot: &Arc<Snapshot>) {
        let snapshot = Arc::clone(snapshot);
        if let Some(detail) = self.shown_journey().cloned() {
            egui::Panel::top("journey_banner").show(ui, |ui| {
                ui.horizontal(|ui| {
                    ui.colored_label(
                        theme::JOURNEY_PATH,
                        format!("Journey {} {}", detail.summary.event_type, detail.summary.id),
                    );
                    ui.label(format!("{} services · {} hops", detail.summary.services.len(), detail.summary.hops));
                    if ui.button("Waterfall").clicked() {
                        self.view = View::Journeys;
                    }
                    if ui.button("Clear").clicked() {
                        self.select_journey(None);
                    }
                });
            });
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
            self.canvas = Some(ui.max_rect());
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
