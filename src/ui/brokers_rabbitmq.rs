//! The RabbitMQ part of the Brokers view: each broker's connection, and every queue with its
//! type, ready and unacked counts, consumers (hover: who), rates and depth status. Clicking a
//! queue charts its depth.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use super::{depth_panel, theme};
use crate::engine::Snapshot;
use crate::model::rabbitmq::{QueueState, destination_name};

type Row<'a> = (&'a String, &'a (String, String), &'a QueueState);

/// Draws the brokers' states, the queues table and the selected queue's chart; `selected`
/// is (broker, vhost, queue).
pub fn show(ui: &mut egui::Ui, snapshot: &Snapshot, selected: &mut Option<(String, String, String)>) {
    ui.horizontal_wrapped(|ui| {
        for (name, broker) in snapshot.rabbitmq.iter() {
            let label = ui.label(format!("{name}: {}", broker.connection.label()));
            if let Some(message) = &broker.message {
                label.on_hover_text(message);
            }
            if broker.untracked > 0 {
                let text = format!("{} queues, exchanges, bindings or consumers not kept", broker.untracked);
                ui.label(RichText::new(text).color(theme::STATE_WARN));
            }
            ui.separator();
        }
    });
    if let Some((broker, vhost, queue)) = selected.clone() {
        let state = snapshot.rabbitmq.get(&broker).and_then(|b| b.queues.get(&(vhost.clone(), queue.clone())));
        match state {
            Some(q) => depth_panel::depth_chart(ui, &q.depth, &destination_name(&vhost, &queue), ("ready", "unacked")),
            None => *selected = None,
        }
        ui.separator();
    }
    let rows: Vec<Row> =
        snapshot.rabbitmq.iter().flat_map(|(broker, b)| b.queues.iter().map(move |(k, q)| (broker, k, q))).collect();
    let row_height = ui.text_style_height(&egui::TextStyle::Body) + 6.0;
    let mut clicked = None;
    TableBuilder::new(ui)
        .id_salt("rabbitmq_queues")
        .vscroll(false)
        .striped(true)
        .resizable(true)
        .column(Column::auto().at_least(160.0))
        .column(Column::auto().at_least(60.0))
        .column(Column::auto().at_least(80.0))
        .column(Column::auto().at_least(80.0))
        .column(Column::auto().at_least(70.0))
        .column(Column::auto().at_least(150.0))
        .column(Column::remainder())
        .header(row_height, |mut header| {
            for h in ["Queue", "Type", "Ready", "Unacked", "Consumers", "Publish / ack / redeliver", "Status"] {
                header.col(|ui| {
                    ui.strong(h);
                });
            }
        })
        .body(|body| {
            body.rows(row_height, rows.len(), |mut row| {
                let Some((broker, (vhost, name), q)) = rows.get(row.index()) else { return };
                row.col(|ui| {
                    let text = destination_name(vhost, name);
                    let link = ui.link(text).on_hover_text(match &q.info.dead_letter_exchange {
                        Some(dlx) => format!("{broker}\ndead letters go to exchange {dlx}\nclick to chart its depth"),
                        None => format!("{broker}\nclick to chart its depth"),
                    });
                    if link.clicked() {
                        clicked = Some(((*broker).clone(), vhost.clone(), name.clone()));
                    }
                });
                row.col(|ui| {
                    ui.label(&q.info.kind);
                });
                row.col(|ui| {
                    ui.label(format!("{} (max {})", q.info.ready, q.depth.max_ready));
                });
                row.col(|ui| {
                    ui.label(format!("{} (max {})", q.info.unacked, q.depth.max_unacked));
                });
                row.col(|ui| {
                    let who: Vec<&str> = snapshot
                        .rabbitmq
                        .get(*broker)
                        .into_iter()
                        .flat_map(|b| b.consumers.iter())
                        .filter(|c| &c.vhost == vhost && &c.queue == name)
                        .map(|c| c.who())
                        .collect();
                    let label = ui.label(q.info.consumers.to_string());
                    if !who.is_empty() {
                        label.on_hover_text(who.join("\n"));
                    }
                });
                row.col(|ui| {
                    let r = &q.rates;
                    ui.label(format!("{:.1} / {:.1} / {:.1} per s", r.publish, r.ack, r.redeliver));
                });
                row.col(|ui| {
                    ui.label(depth_panel::status_text(q.depth.status));
                });
            });
        });
    if clicked.is_some() {
        *selected = clicked;
    }
}
