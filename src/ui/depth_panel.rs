//! Queue depth in the side panel and the Brokers view: a JetStream consumer's pending and
//! ack-pending counts with their history chart, coloured by the depth status.

use egui::RichText;
use egui_plot::{Legend, Line, Plot, PlotPoints};

use super::theme;
use crate::engine::snapshot::{EdgeSnapshot, Snapshot};
use crate::model::depth::{DepthHistory, DepthStatus};
use crate::model::flow_graph::NodeKey;
use crate::model::nats::NATS_SYSTEM;

/// A depth status, coloured.
pub fn status_text(status: DepthStatus) -> RichText {
    RichText::new(status.as_str()).color(theme::depth_status_color(status)).strong()
}

/// The consumers' depths on a consume edge out of a NATS stream, each with its chart.
pub fn edge_depth(ui: &mut egui::Ui, snapshot: &Snapshot, edge: &EdgeSnapshot) {
    let stream = match snapshot.node(edge.from).map(|n| &n.key) {
        Some(NodeKey::Destination { system, name }) if system == NATS_SYSTEM => name,
        _ => return,
    };
    if edge.depth.is_empty() {
        return;
    }
    ui.separator();
    ui.strong("Consumer depth");
    egui::Grid::new("edge_depth").num_columns(5).striped(true).show(ui, |ui| {
        for h in ["Consumer", "Pending", "Ack pending", "Redelivered", "Status"] {
            ui.label(RichText::new(h).weak());
        }
        ui.end_row();
        for d in &edge.depth {
            ui.label(&d.consumer);
            ui.label(format!("{} (max {})", d.pending, d.max_pending));
            ui.label(format!("{} (max {})", d.ack_pending, d.max_ack_pending));
            ui.label(d.redelivered.to_string());
            ui.label(status_text(d.status)).on_hover_text("the depth rules over the last polls (docs/brokers.md)");
            ui.end_row();
        }
    });
    for d in &edge.depth {
        let history =
            snapshot.nats.values().find_map(|s| Some(&s.streams.get(stream)?.consumers.get(&d.consumer)?.depth));
        if let Some(history) = history {
            depth_chart(ui, history, &format!("{stream} → {}", d.consumer));
        }
    }
}

/// Pending and unacknowledged over the session, seconds before the last poll.
pub fn depth_chart(ui: &mut egui::Ui, history: &DepthHistory, title: &str) {
    let newest = history.latest().map_or(0, |s| s.at_ms);
    let x = |at_ms: u64| (at_ms as f64 - newest as f64) / 1000.0;
    ui.label(format!("Depth of {title} (messages; seconds before the last poll)"));
    Plot::new(("depth_chart", title))
        .height(theme::LAG_CHART_HEIGHT)
        .include_y(0.0)
        .allow_scroll(false)
        .legend(Legend::default())
        .show(ui, |plot| {
            let pending: Vec<[f64; 2]> = history.samples().map(|s| [x(s.at_ms), s.ready as f64]).collect();
            plot.line(Line::new("pending", PlotPoints::from(pending)).color(theme::SERIES_LAG_TOTAL).width(2.0));
            let unacked: Vec<[f64; 2]> = history.samples().map(|s| [x(s.at_ms), s.unacked as f64]).collect();
            plot.line(Line::new("ack pending", PlotPoints::from(unacked)).color(theme::SERIES_UNACKED).width(1.5));
        });
}
