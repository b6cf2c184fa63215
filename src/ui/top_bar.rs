//! The top bar: sources and their state, throughput, rejected and dropped counts, pause,
//! filter, fit.

use egui::RichText;

use super::theme;
use crate::engine::snapshot::{Snapshot, SourceState};

/// What the user asked for in the top bar this frame.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct TopBarActions {
    /// Pause or resume was pressed.
    pub toggle_pause: bool,
    /// Fit to screen was pressed.
    pub fit: bool,
    /// Stop reading the session file was pressed.
    pub stop_reading: bool,
    /// Record or Stop recording was pressed.
    pub record: bool,
    /// Arrange (lay the graph out afresh) was pressed.
    pub arrange: bool,
    /// Open… was pressed.
    pub open: bool,
    /// Save as… was pressed.
    pub save_as: bool,
    /// Export SVG was pressed.
    pub export_svg: bool,
    /// Export PNG was pressed.
    pub export_png: bool,
    /// Presentation mode was asked for.
    pub present: bool,
    /// The Auto layout switch was turned on or off.
    pub follow_layout: Option<bool>,
}

/// The canvas' options the bar edits in place.
#[derive(Debug)]
pub struct CanvasOptions<'a> {
    /// The filter box.
    pub filter: &'a mut String,
    /// Whether the filter hides what it does not match, rather than dim it.
    pub hide: &'a mut bool,
    /// Whether groups fold into boxes (`None`: by the graph's size).
    pub group: &'a mut Option<bool>,
    /// Whether they fold now, what the box shows.
    pub folds: bool,
    /// Whether nodes follow the layout by themselves (off once the user drags one).
    pub follows_layout: bool,
}

/// Draws the bar; the canvas' `options` are edited in place.
pub fn show(ui: &mut egui::Ui, snapshot: &Snapshot, options: &mut CanvasOptions<'_>) -> TopBarActions {
    let mut actions = TopBarActions::default();
    ui.horizontal_wrapped(|ui| {
        ui.strong("EventLens");
        ui.separator();
        if snapshot.sources.is_empty() {
            ui.label(RichText::new("no receivers").color(theme::STATE_BAD));
        }
        for source in &snapshot.sources {
            let (color, tip, words) = match &source.state {
                SourceState::Listening => (theme::STATE_OK, "working".to_owned(), None),
                SourceState::Connecting => (theme::STATE_WARN, "connecting".to_owned(), Some("connecting")),
                SourceState::Failed(e) => (theme::STATE_BAD, e.clone(), Some(e.split(':').next().unwrap_or("failed"))),
                SourceState::Reading(_) => (theme::STATE_WARN, "reading the file".to_owned(), None),
                SourceState::Finished(summary) => (theme::STATE_OK, summary.clone(), None),
            };
            state_dot(ui, color).on_hover_text(&tip);
            // A broker source's name holds its address already ("NATS nats://host:4222").
            let text = if source.name.ends_with(&source.address) {
                source.name.clone()
            } else {
                format!("{} {}", source.name, source.address)
            };
            ui.label(text).on_hover_text(&tip);
            if let Some(words) = words {
                ui.label(RichText::new(words).color(color)).on_hover_text(tip);
            }
            if let SourceState::Reading(percent) = source.state {
                ui.add(
                    egui::ProgressBar::new(f32::from(percent) / 100.0)
                        .desired_width(theme::PROGRESS_WIDTH)
                        .show_percentage(),
                );
                if ui.button("Stop reading").on_hover_text("Keep what was read so far").clicked() {
                    actions.stop_reading = true;
                }
            }
        }
        ui.separator();
        ui.label(format!("{:.0} spans/s", snapshot.spans_per_second))
            .on_hover_text("spans received per second, averaged over the last 10 s");
        let ingest = snapshot.ingest;
        ui.label(format!("{} accepted", ingest.spans_accepted));
        let bad = |n: u64, what: &str| {
            let text = RichText::new(format!("{n} {what}"));
            if n > 0 { text.color(theme::STATE_BAD) } else { text }
        };
        ui.label(bad(ingest.spans_rejected, "rejected")).on_hover_text("spans refused as invalid (e.g. malformed ids)");
        ui.label(bad(ingest.spans_dropped, "dropped"))
            .on_hover_text("spans refused because EventLens was behind; senders were told to retry");
        ui.label(bad(ingest.requests_rejected, "bad requests"))
            .on_hover_text("requests refused whole: undecodable, oversize, wrong content type");
        let (timeline_dropped, browser_dropped) = (snapshot.timeline.dropped_records, snapshot.kafka.browser.evicted());
        if timeline_dropped + browser_dropped > 0 {
            ui.label(RichText::new(format!("{} dropped (memory)", timeline_dropped + browser_dropped)).weak())
                .on_hover_text(format!(
                    "to stay within the memory budget (--memory-budget), the oldest went first: {timeline_dropped} \
                     timeline records and {browser_dropped} browsed messages"
                ));
        }
        let (names_folded, edges_folded) = (snapshot.model.names_folded, snapshot.model.edges_folded);
        if names_folded + edges_folded > 0 {
            ui.label(RichText::new(format!("{} folded (graph)", names_folded + edges_folded)).weak()).on_hover_text(
                format!(
                    "the flow graph is at its share of the memory budget (--memory-budget): {names_folded} new \
                     services, topics and groups are counted on overflow nodes such as \"kafka/(N more topics)\", \
                     and {edges_folded} new edges are drawn to them; their traffic is counted there"
                ),
            );
        }
        if ingest.requests_refused > 0 || ingest.connections_refused > 0 {
            ui.label(bad(ingest.requests_refused + ingest.connections_refused, "refused")).on_hover_text(format!(
                "{} requests refused before they were read because EventLens was behind (senders were told \
                 to retry); {} connections closed because a receiver held its maximum",
                ingest.requests_refused, ingest.connections_refused
            ));
        }
        ui.separator();
        let recording = snapshot.recording.as_ref().is_some_and(|r| r.active);
        let (label, hover) = if recording {
            ("Stop recording", "finish the session file")
        } else {
            ("Record", "record to a session file: what the timeline holds so far, then everything that arrives")
        };
        if ui.button(label).on_hover_text(hover).clicked() {
            actions.record = true;
        }
        if ui.button("Open…").on_hover_text("open a session file in place of this session").clicked() {
            actions.open = true;
        }
        if ui.button("Save as…").on_hover_text("save what the timeline holds as a session file").clicked() {
            actions.save_as = true;
        }
        if let Some(recording) = &snapshot.recording {
            match &recording.error {
                None if recording.active => {
                    let limits = recording.limits.as_ref().map(|l| format!("; {l}")).unwrap_or_default();
                    ui.label(
                        RichText::new(format!("REC {} ({} records{limits})", recording.path, recording.records))
                            .color(theme::STATE_BAD),
                    )
                }
                None => ui.label(format!("saved {} ({} records)", recording.path, recording.records)),
                Some(e) => ui.label(RichText::new(format!("recording stopped: {e}")).color(theme::STATE_BAD)),
            };
        }
        ui.separator();
        let pause_label = if snapshot.paused { "Resume" } else { "Pause" };
        if ui.button(pause_label).on_hover_text("freeze the view; ingest and recording go on").clicked() {
            actions.toggle_pause = true;
        }
        if ui.button("Fit").on_hover_text("fit the graph to the window").clicked() {
            actions.fit = true;
        }
        if ui.button("Arrange").on_hover_text("lay the graph out afresh, left to right").clicked() {
            actions.arrange = true;
        }
        let mut follows = options.follows_layout;
        if ui
            .checkbox(&mut follows, "Auto layout")
            .on_hover_text(
                "nodes move to the layout as the graph grows; dragging a node turns this off and pins every \
                 node where it is",
            )
            .changed()
        {
            actions.follow_layout = Some(follows);
        }
        ui.add(egui::TextEdit::singleline(options.filter).hint_text("filter nodes").desired_width(160.0));
        ui.checkbox(options.hide, "Hide others")
            .on_hover_text("hide the nodes the filter does not match, rather than dim them");
        let mut folds = options.folds;
        if ui
            .checkbox(&mut folds, "Group")
            .on_hover_text(
                "fold services by namespace and topics by messaging system into boxes; click a box to open it",
            )
            .changed()
        {
            *options.group = Some(folds);
        }
        if ui.button("Export SVG").on_hover_text("save the flow graph as drawn, as an SVG picture").clicked() {
            actions.export_svg = true;
        }
        if ui.button("Export PNG").on_hover_text("save the flow graph as shown, as a PNG picture").clicked() {
            actions.export_png = true;
        }
        if ui.button("Present").on_hover_text("presentation mode: full screen, larger, no chrome (F11)").clicked() {
            actions.present = true;
        }
    });
    actions
}

/// A small filled circle: a source's state at a glance.
fn state_dot(ui: &mut egui::Ui, color: egui::Color32) -> egui::Response {
    let (rect, response) = ui.allocate_exact_size(egui::Vec2::splat(theme::STATE_DOT), egui::Sense::hover());
    ui.painter().circle_filled(rect.center(), theme::STATE_DOT / 2.0, color);
    response
}
