//! The topics view: every topic of the watched clusters with its partitions, offsets,
//! write rate and the groups reading it with their lag; a button opens it in the browser.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use super::theme;
use crate::engine::Snapshot;

/// What the user asked for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct TopicsAction {
    /// Browse this (cluster, topic).
    pub browse: Option<(String, String)>,
}

/// Draws the table; `show_internal` toggles the cluster's own topics.
pub fn show(ui: &mut egui::Ui, snapshot: &Snapshot, show_internal: &mut bool) -> TopicsAction {
    let mut action = TopicsAction::default();
    ui.horizontal(|ui| {
        ui.checkbox(show_internal, "show internal topics");
        for (name, c) in snapshot.kafka.clusters() {
            ui.separator();
            let brokers =
                if c.brokers.len() == 1 { "1 broker".to_owned() } else { format!("{} brokers", c.brokers.len()) };
            ui.label(format!("{name}: {} ({brokers})", c.connection.state.label()));
            if let Some(refused) = &c.list_refused {
                ui.label(RichText::new("groups not listable").color(theme::STATE_WARN))
                    .on_hover_text(format!("{refused}; groups come from --group and from spans"));
            }
        }
    });
    let rows: Vec<(&String, &String, &crate::model::kafka::TopicState)> = snapshot
        .kafka
        .clusters()
        .iter()
        .flat_map(|(cn, c)| c.topics.iter().map(move |(tn, t)| (cn, tn, t)))
        .filter(|(_, _, t)| *show_internal || !t.internal)
        .collect();
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    TableBuilder::new(ui)
        .striped(true)
        .resizable(true)
        .column(Column::auto().at_least(160.0))
        .column(Column::auto().at_least(40.0))
        .column(Column::auto().at_least(90.0))
        .column(Column::auto().at_least(70.0))
        .column(Column::auto().at_least(60.0))
        .column(Column::remainder())
        .header(row_height, |mut header| {
            for h in ["Topic", "Partitions", "Earliest / latest", "Retained", "msgs/s", "Groups (lag, status)"] {
                header.col(|ui| {
                    ui.strong(h);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, rows.len(), |mut row| {
                let Some((cluster, name, topic)) = rows.get(row.index()) else { return };
                row.col(|ui| {
                    if ui.link(name.as_str()).on_hover_text("browse its messages").clicked() {
                        action.browse = Some(((*cluster).clone(), (*name).clone()));
                    }
                });
                row.col(|ui| {
                    ui.label(topic.partitions.len().to_string());
                });
                row.col(|ui| {
                    let low: i64 = topic.partitions.values().map(|p| p.low).sum();
                    let high: i64 = topic.partitions.values().map(|p| p.high).sum();
                    ui.label(format!("{low} / {high}"));
                });
                row.col(|ui| {
                    ui.label(topic.retained_messages().to_string());
                });
                row.col(|ui| {
                    ui.label(format!("{:.1}", topic.messages_per_second()));
                });
                row.col(|ui| {
                    let Some(c) = snapshot.kafka.clusters().get(*cluster) else { return };
                    for (group, g) in c.groups.iter().filter(|(_, g)| g.topics.contains_key(*name)) {
                        let Some(l) = g.topics.get(*name) else { continue };
                        ui.label(
                            RichText::new(format!("{group} {} {}", l.offsets, l.status.as_str()))
                                .color(theme::lag_status_color(l.status)),
                        );
                    }
                });
            });
        });
    action
}
