//! The Brokers view: each watched NATS server's connection, its JetStream streams (messages,
//! sequences) and every consumer's pending and ack-pending counts with the depth status, and
//! each watched RabbitMQ broker's queues (`brokers_rabbitmq`). Selecting a consumer or a
//! queue draws its depth history.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use super::{depth_panel, theme};
use crate::engine::Snapshot;
use crate::model::nats::{ConsumerState, StreamState};

/// What the view remembers between frames: the consumer whose chart is drawn.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BrokersView {
    /// (server, stream, consumer) selected.
    pub selected: Option<(String, String, String)>,
    /// (broker, vhost, queue) selected.
    pub selected_queue: Option<(String, String, String)>,
}

type Row<'a> = (&'a String, &'a String, &'a StreamState, Option<(&'a String, &'a ConsumerState)>);

impl BrokersView {
    /// Draws each kind of broker watched: its servers' states, a table and the selected row's
    /// chart.
    pub fn show(&mut self, ui: &mut egui::Ui, snapshot: &Snapshot) {
        egui::ScrollArea::vertical().show(ui, |ui| {
            if !snapshot.nats.is_empty() {
                ui.heading("NATS JetStream");
                self.show_nats(ui, snapshot);
            }
            if !snapshot.rabbitmq.is_empty() {
                ui.heading("RabbitMQ");
                super::brokers_rabbitmq::show(ui, snapshot, &mut self.selected_queue);
            }
        });
    }

    fn show_nats(&mut self, ui: &mut egui::Ui, snapshot: &Snapshot) {
        ui.horizontal_wrapped(|ui| {
            for (name, server) in snapshot.nats.iter() {
                let state = RichText::new(format!("{name}: {}", server.connection.label()));
                let label = ui.label(state);
                if let Some(message) = &server.message {
                    label.on_hover_text(message);
                }
                if server.untracked > 0 {
                    ui.label(
                        RichText::new(format!("{} streams or consumers not kept", server.untracked))
                            .color(theme::STATE_WARN),
                    );
                }
                ui.separator();
            }
        });
        // One row per consumer, or per stream when it has none; sorted by the maps' keys.
        let rows: Vec<Row> = snapshot
            .nats
            .iter()
            .flat_map(|(server, s)| s.streams.iter().map(move |(name, stream)| (server, name, stream)))
            .flat_map(|(server, name, stream)| {
                let consumers: Vec<Row> = stream.consumers.iter().map(|c| (server, name, stream, Some(c))).collect();
                if consumers.is_empty() { vec![(server, name, stream, None)] } else { consumers }
            })
            .collect();
        if let Some((server, stream, consumer)) = &self.selected {
            let history = snapshot.nats.get(server).and_then(|s| s.streams.get(stream)?.consumers.get(consumer));
            match history {
                Some(c) => {
                    depth_panel::depth_chart(ui, &c.depth, &format!("{stream} → {consumer}"), depth_panel::NATS_SERIES)
                }
                None => self.selected = None,
            }
            ui.separator();
        }
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
        let mut clicked = None;
        TableBuilder::new(ui)
            .id_salt("nats_consumers")
            .vscroll(false)
            .striped(true)
            .resizable(true)
            .column(Column::auto().at_least(140.0))
            .column(Column::auto().at_least(90.0))
            .column(Column::auto().at_least(120.0))
            .column(Column::auto().at_least(70.0))
            .column(Column::auto().at_least(80.0))
            .column(Column::auto().at_least(80.0))
            .column(Column::remainder())
            .header(row_height, |mut header| {
                for h in ["Stream", "Messages", "Consumer", "Pending", "Ack pending", "Redelivered", "Status"] {
                    header.col(|ui| {
                        ui.strong(h);
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, rows.len(), |mut row| {
                    let Some((server, name, stream, consumer)) = rows.get(row.index()) else { return };
                    row.col(|ui| {
                        ui.label(format!("nats/{name}")).on_hover_text(format!(
                            "{server}\nsubjects: {}\nsequences {}–{}, {} bytes",
                            stream.info.subjects.join(", "),
                            stream.info.first_seq,
                            stream.info.last_seq,
                            stream.info.bytes
                        ));
                    });
                    row.col(|ui| {
                        ui.label(stream.info.messages.to_string());
                    });
                    let Some((consumer, c)) = consumer else {
                        row.col(|ui| {
                            ui.label(RichText::new("no consumers").color(theme::LABEL_DETAIL));
                        });
                        return;
                    };
                    row.col(|ui| {
                        let hover = match c.info.filter_subjects.as_slice() {
                            [] => "reads every subject of the stream\nclick to chart its depth".to_owned(),
                            filters => format!("reads {}\nclick to chart its depth", filters.join(", ")),
                        };
                        if ui.link(consumer.as_str()).on_hover_text(hover).clicked() {
                            clicked = Some(((*server).clone(), (*name).clone(), (*consumer).clone()));
                        }
                    });
                    row.col(|ui| {
                        ui.label(format!("{} (max {})", c.info.pending, c.depth.max_ready));
                    });
                    row.col(|ui| {
                        ui.label(format!("{} (max {})", c.info.ack_pending, c.depth.max_unacked));
                    });
                    row.col(|ui| {
                        ui.label(c.info.redelivered.to_string());
                    });
                    row.col(|ui| {
                        ui.label(depth_panel::status_text(c.depth.status));
                    });
                });
            });
        if clicked.is_some() {
            self.selected = clicked;
        }
    }
}
