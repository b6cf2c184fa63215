//! The Demo panel: the built-in shop's knobs (rate and the scenarios), shown beside every
//! view while `eventlens demo` runs. Each control says where its effect shows up.
//!
//! The controls are atomics the simulated services read; writing them from a frame never
//! blocks, and they steer the simulated world, not EventLens's model.

use egui::RichText;

use super::theme;
use crate::demo::DemoControls;
use crate::demo::controls::RATE_RANGE;

/// Draws the panel's controls.
pub fn show(ui: &mut egui::Ui, controls: &DemoControls) {
    ui.heading("Demo shop");
    ui.label(RichText::new("Seven services talking through an in-process Kafka cluster.").color(theme::LABEL_DETAIL));
    ui.add_space(theme::SECTION_GAP);

    let mut rate = controls.rate();
    let slider = egui::Slider::new(&mut rate, RATE_RANGE).logarithmic(true).suffix(" orders/s").max_decimals(0);
    if ui.add(slider).on_hover_text("Orders checkout places per second").changed() {
        controls.set_rate(rate);
    }

    ui.add_space(theme::SECTION_GAP);
    ui.label(RichText::new("Scenarios").strong());
    let mut failures = controls.payment_failure_percent();
    if ui
        .add(egui::Slider::new(&mut failures, 0..=100).suffix("% declined"))
        .on_hover_text("Payments declines this share: PaymentFailed, then checkout cancels the order (saga)")
        .changed()
    {
        controls.set_payment_failure_percent(failures);
    }
    let mut poison = controls.poison_percent();
    if ui
        .add(egui::Slider::new(&mut poison, 0..=100).suffix("% poison"))
        .on_hover_text("Unreadable orders: inventory retries three times, then sends them to orders.DLQ")
        .changed()
    {
        controls.set_poison_percent(poison);
    }
    flag(ui, &controls.slow_shipping, "Slow shipping", "Shipping's lag on payments grows; it drains when turned off");
    flag(
        ui,
        &controls.notifications_stopped,
        "Stop notifications",
        "Notifications leaves its group: its partitions go to STOP",
    );
    flag(
        ui,
        &controls.out_of_order,
        "Out-of-order updates",
        "Every fourth OrderUpdated is published before its OrderPlaced",
    );
    flag(
        ui,
        &controls.schema_v2,
        "OrderPlaced v2",
        "Renames total_cents to amount_cents: payments fails and dead-letters the orders",
    );
    if ui
        .button("Duplicate deliveries")
        .on_hover_text("Inventory re-reads its last 20 messages per partition: each is processed twice")
        .clicked()
    {
        controls.request_duplicates();
    }
}

fn flag(ui: &mut egui::Ui, flag: &std::sync::atomic::AtomicBool, label: &str, hover: &str) {
    let mut on = DemoControls::get(flag);
    if ui.checkbox(&mut on, label).on_hover_text(hover).changed() {
        DemoControls::set(flag, on);
    }
}
