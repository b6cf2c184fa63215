//! The Flow tab: the journey banner, the focus banner, the details panel of what is
//! selected, and the canvas. Apart from the window's frame so the tab's own controls (focus
//! and its hops) sit with the panels they steer.

use std::sync::Arc;

use super::EventLensApp;
use crate::engine::Snapshot;
use crate::ui::app::View;
use crate::ui::flow_scope::{self, Focus};
use crate::ui::{details_panel, empty_state, theme};

impl EventLensApp {
    /// The Flow tab inside `ui`.
    pub(super) fn show_flow(&mut self, ui: &mut egui::Ui, snapshot: &Arc<Snapshot>) {
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
        if let Some(focus) = self.flow.focus {
            egui::Panel::top("focus_banner").show(ui, |ui| {
                let name = snapshot.node(focus.node).map_or("a node no longer in the graph", |n| n.label.as_str());
                if let Some(focus) = focus_banner(ui, name, focus) {
                    self.flow.focus_on(focus, ui.ctx());
                }
            });
        }
        if !self.flow.opened().is_empty() {
            egui::Panel::top("opened_groups").show(ui, |ui| {
                ui.horizontal_wrapped(|ui| {
                    ui.label("Opened:");
                    let mut fold = None;
                    for group in self.flow.opened() {
                        if ui
                            .button(format!("Fold {}", group.name))
                            .on_hover_text("fold it back into one box")
                            .clicked()
                        {
                            fold = Some(group.clone());
                        }
                    }
                    if let Some(group) = fold {
                        self.flow.grouping.opened.remove(&group);
                    }
                });
            });
        }
        self.flow.side_panel_width = 0.0;
        if let Some(selection) = self.selection {
            let panel =
                egui::Panel::right("details").default_size(theme::SIDE_PANEL_WIDTH).resizable(true).show(ui, |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| match details_panel::show(ui, &snapshot, selection) {
                        details_panel::PanelAction::Close => self.selection = None,
                        details_panel::PanelAction::Focus(node) => {
                            let focus = Focus { node, hops: flow_scope::DEFAULT_FOCUS_HOPS };
                            self.flow.focus_on(Some(focus), ui.ctx());
                        }
                        details_panel::PanelAction::None => {}
                    });
                });
            self.flow.side_panel_width = panel.response.rect.width();
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

/// The focus banner: what is focused, how many hops, and the way back to the whole graph.
/// Returns the focus to change to, if the user changed it.
fn focus_banner(ui: &mut egui::Ui, name: &str, focus: Focus) -> Option<Option<Focus>> {
    let mut changed = None;
    ui.horizontal(|ui| {
        ui.label(format!("Focused on {name}, {} hops up- and downstream", focus.hops));
        if ui.small_button("−").on_hover_text("one hop fewer").clicked() && focus.hops > 0 {
            changed = Some(Some(Focus { hops: focus.hops - 1, ..focus }));
        }
        if ui.small_button("+").on_hover_text("one hop more").clicked() {
            changed = Some(Some(Focus { hops: focus.hops + 1, ..focus }));
        }
        if ui.button("Show all").clicked() {
            changed = Some(None);
        }
    });
    changed
}
