//! The RabbitMQ part of the Brokers view: each broker's connection and virtual hosts, every
//! queue with its type, ready and unacked counts, consumers (hover: who, on which channel),
//! rates and depth status (hover: its arguments), and every exchange with its type and
//! bindings. Clicking a queue charts its depth.

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
            let vhosts = if broker.vhosts.is_empty() {
                String::new()
            } else {
                format!(" · vhosts {}", broker.vhosts.join(", "))
            };
            let label = ui.label(format!("{name}: {}{vhosts}", broker.connection.label()));
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
                    let mut hover = (*broker).clone();
                    if let Some(dlx) = &q.info.dead_letter_exchange {
                        hover.push_str(&format!("\ndead letters go to exchange {dlx}"));
                    }
                    for (argument, value) in &q.info.arguments {
                        hover.push_str(&format!("\n{argument} = {value}"));
                    }
                    hover.push_str("\nclick to chart its depth");
                    let link = ui.link(text).on_hover_text(hover);
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
                    let who: Vec<String> = snapshot
                        .rabbitmq
                        .get(*broker)
                        .into_iter()
                        .flat_map(|b| b.consumers.iter())
                        .filter(|c| &c.vhost == vhost && &c.queue == name)
                        .map(|c| {
                            if c.channel.is_empty() {
                                c.who().to_owned()
                            } else {
                                format!("{} on channel {}", c.who(), c.channel)
                            }
                        })
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
    exchanges(ui, snapshot);
}

/// Every exchange with its type and where its bindings route, folded away by default.
fn exchanges(ui: &mut egui::Ui, snapshot: &Snapshot) {
    let count: usize = snapshot.rabbitmq.values().map(|b| b.exchanges.len()).sum();
    egui::CollapsingHeader::new(format!("Exchanges ({count})")).id_salt("rabbitmq_exchanges").show(ui, |ui| {
        egui::Grid::new("rabbitmq_exchanges_grid").striped(true).show(ui, |ui| {
            for h in ["Exchange", "Type", "Routes to"] {
                ui.strong(h);
            }
            ui.end_row();
            for broker in snapshot.rabbitmq.values() {
                for ((vhost, name), kind) in &broker.exchanges {
                    ui.label(destination_name(vhost, name));
                    ui.label(kind);
                    let routes: Vec<String> = broker
                        .bindings
                        .iter()
                        .filter(|b| &b.vhost == vhost && &b.source == name)
                        .map(|b| format!("{} ({})", destination_name(vhost, &b.destination), b.routing_key))
                        .collect();
                    ui.label(routes.join(", "));
                    ui.end_row();
                }
            }
        });
    });
}
