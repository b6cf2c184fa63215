//! What a new user sees before anything arrives: exactly how to send spans, and how the
//! watched Kafka clusters are doing.

use egui::RichText;

use crate::engine::snapshot::{Snapshot, SourceState};

/// Draws the instructions, with the addresses the receivers actually listen on.
pub fn show(ui: &mut egui::Ui, snapshot: &Snapshot) {
    let address = |name: &str| snapshot.sources.iter().find(|s| s.name == name).map(|s| s.address.clone());
    ui.vertical_centered(|ui| {
        ui.add_space(ui.available_height() * 0.2);
        ui.heading("Waiting for spans");
        ui.add_space(8.0);
        ui.label("Point any OpenTelemetry SDK or Collector at EventLens; the flow graph appears as spans arrive.");
        ui.add_space(12.0);
        match address("OTLP gRPC") {
            Some(addr) => {
                ui.label("OTLP over gRPC:");
                ui.code(format!("OTEL_EXPORTER_OTLP_ENDPOINT=http://{addr}"));
            }
            None => {
                ui.label("The OTLP/gRPC receiver is off.");
            }
        }
        ui.add_space(6.0);
        if let Some(addr) = address("OTLP HTTP") {
            ui.label("OTLP over HTTP (protobuf or JSON):");
            ui.code(format!("OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf OTEL_EXPORTER_OTLP_ENDPOINT=http://{addr}"));
        }
        for kafka in snapshot.sources.iter().filter(|s| s.name.starts_with("Kafka")) {
            ui.add_space(6.0);
            let state = match &kafka.state {
                SourceState::Listening => "connected; no topics yet".to_owned(),
                SourceState::Connecting => "connecting…".to_owned(),
                SourceState::Failed(why) => why.clone(),
                SourceState::Reading(percent) => format!("reading, {percent}%"),
                SourceState::Finished(summary) => summary.clone(),
            };
            ui.label(format!("{} at {}: {state}", kafka.name, kafka.address));
        }
        ui.add_space(12.0);
        ui.label(RichText::new("Services talking through Kafka, RabbitMQ, SQS, Pub/Sub or any broker show up as producers -> topics -> consumers.").weak());
        ui.label(RichText::new("To look at a recorded session instead: eventlens open FILE").weak());
        ui.label(RichText::new("Nothing to point at it yet? eventlens demo runs a whole event-driven shop inside EventLens.").weak());
    });
}
