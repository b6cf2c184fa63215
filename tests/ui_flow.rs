//! The window, driven headless with egui_kittest against a real collector.

// Test helpers fail loudly on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::ui::{click_at, settle};

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eventlens::collector::Collector;
use eventlens::testing::realistic_request;
use eventlens::ui::EventLensApp;
use eventlens::ui::flow_view::Selection;
use prost::Message;

fn harness(collector: &Collector) -> Harness<'static, EventLensApp> {
    let app = EventLensApp::new(collector.engine().expect("engine"), None);
    Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app)
}

fn send_spans(collector: &Collector) {
    let url = format!("http://{}/v1/traces", collector.http_addr.expect("http"));
    let response = reqwest::blocking::Client::new()
        .post(url)
        .header("content-type", "application/x-protobuf")
        .body(realistic_request(90, 11).encode_to_vec())
        .send()
        .expect("sent");
    assert_eq!(response.status().as_u16(), 200);
    common::wait_for(collector, "spans applied", |s| s.model.spans == 90);
}

#[test]
fn empty_state_tells_how_to_send_spans() {
    let collector = common::start_collector(1 << 20);
    let mut harness = harness(&collector);
    settle(&mut harness);
    harness.get_by_label("Waiting for spans");
    let grpc = format!("OTEL_EXPORTER_OTLP_ENDPOINT=http://{}", collector.grpc_addr.expect("grpc"));
    harness.get_by_label(&grpc);
    harness
        .get_by_label_contains(&format!("OTEL_EXPORTER_OTLP_ENDPOINT=http://{}", collector.http_addr.expect("http")));
    harness.get_by_label_contains("eventlens demo runs a whole event-driven shop");
}

#[test]
fn nodes_appear_and_selecting_one_opens_its_panel() {
    let collector = common::start_collector(1 << 20);
    let mut harness = harness(&collector);
    settle(&mut harness);
    send_spans(&collector);
    settle(&mut harness);
    assert!(harness.query_by_label("Waiting for spans").is_none());
    assert_eq!(harness.state().flow_view().node_count(), 6);

    let orders = harness.state().snapshot().nodes.iter().find(|n| n.label == "kafka/orders").expect("orders").id;
    let pos = harness.state().flow_view().node_screen_pos(orders).expect("orders drawn");
    click_at(&mut harness, pos);
    assert_eq!(harness.state().selection(), Some(Selection::Node(orders)));
    assert!(harness.state().flow_view().auto_fit, "a click is not navigation");
    harness.get_by_label("Time in topic");
    harness.get_by_label("Messages and failures per second");
    assert!(harness.state().flow_view().node_view(orders).expect("view").highlighted);

    harness.get_by_role_and_label(Role::Button, "Close").click();
    settle(&mut harness);
    assert_eq!(harness.state().selection(), None);

    // Dragging the background pans: the view stops fitting itself until Fit is pressed.
    let empty = egui::pos2(640.0, 700.0);
    harness.drag_at(empty);
    harness.run_steps(1);
    harness.hover_at(empty + egui::vec2(60.0, 20.0));
    harness.run_steps(1);
    harness.drop_at(empty + egui::vec2(60.0, 20.0));
    settle(&mut harness);
    assert!(!harness.state().flow_view().auto_fit, "a background drag is navigation");
    harness.get_by_role_and_label(Role::Button, "Fit").click();
    settle(&mut harness);
    assert!(harness.state().flow_view().auto_fit);
}

#[test]
fn an_idle_graph_is_not_redrawn_continuously() {
    let collector = common::start_collector(1 << 20);
    // Frames of a 60 Hz display (kittest's default quarter of a second would turn the
    // window's own 250 ms idle check into an immediate one).
    let app = EventLensApp::new(collector.engine().expect("engine"), None);
    let mut harness = Harness::builder()
        .with_size([1280.0, 800.0])
        .with_step_dt(1.0 / 60.0)
        .build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    send_spans(&collector);
    settle(&mut harness);
    assert_eq!(harness.state().flow_view().node_count(), 6);
    // The view glides to fit the grown graph for a moment (at most a second of frames)...
    for _ in 0..60 {
        harness.run_steps(1);
        if !harness.ctx.requested_repaint_last_pass() {
            break;
        }
    }
    // ...then nothing moves and nothing new arrives: no frame asks for the next one at once
    // (new snapshots wake the window with a short delay, input repaints by itself).
    for _ in 0..3 {
        harness.run_steps(1);
        assert!(!harness.ctx.requested_repaint_last_pass(), "{:?}", harness.ctx.repaint_causes());
    }
}

#[test]
fn filter_dims_other_nodes_and_pause_freezes_the_view() {
    let collector = common::start_collector(1 << 20);
    let mut harness = harness(&collector);
    send_spans(&collector);
    settle(&mut harness);

    harness.get_by_role(Role::TextInput).focus();
    harness.run_steps(1);
    harness.get_by_role(Role::TextInput).type_text("orders");
    settle(&mut harness);
    assert_eq!(harness.get_by_role(Role::TextInput).value().as_deref(), Some("orders"));
    let snapshot = harness.state().snapshot().clone();
    for node in &snapshot.nodes {
        let dimmed = harness.state().flow_view().node_view(node.id).expect("view").dimmed;
        assert_eq!(dimmed, !node.label.contains("orders"), "{}", node.label);
    }

    harness.get_by_role_and_label(Role::Button, "Pause").click();
    for _ in 0..50 {
        settle(&mut harness);
        if harness.state().snapshot().paused {
            break;
        }
    }
    assert!(harness.state().snapshot().paused);
    harness.get_by_role_and_label(Role::Button, "Resume");
}

#[test]
fn clicking_an_edge_opens_its_panel() {
    let collector = common::start_collector(1 << 20);
    let mut harness = harness(&collector);
    send_spans(&collector);
    settle(&mut harness);
    let snapshot = harness.state().snapshot().clone();
    let id = |label: &str| snapshot.nodes.iter().find(|n| n.label == label).expect("node").id;
    let (checkout, orders) = (id("shop/checkout"), id("kafka/orders"));
    let edge = snapshot.edges.iter().find(|e| e.from == checkout && e.to == orders).expect("edge").id;
    let view = harness.state().flow_view();
    let (a, b) = (view.node_screen_pos(checkout).expect("drawn"), view.node_screen_pos(orders).expect("drawn"));
    let middle = a + (b - a) * 0.5;
    click_at(&mut harness, middle);
    assert_eq!(harness.state().selection(), Some(Selection::Edge(edge)));
    harness.get_by_label("shop/checkout -> kafka/orders");
    harness.get_by_label("shop/checkout produces to kafka/orders");
    assert!(harness.state().flow_view().edge_view(edge).expect("drawn").highlighted);
    // Selected from elsewhere than the canvas, an edge is drawn selected too.
    let other = snapshot.edges.iter().find(|e| e.id != edge).expect("another edge").id;
    harness.state_mut().select(Some(Selection::Edge(other)));
    settle(&mut harness);
    let view = harness.state().flow_view();
    assert!(view.edge_view(other).expect("drawn").highlighted);
    assert!(!view.edge_view(edge).expect("drawn").highlighted);
}

#[test]
fn presentation_mode_hides_the_chrome_enlarges_everything_and_comes_back() {
    let collector = common::start_collector(1 << 20);
    let mut harness = harness(&collector);
    send_spans(&collector);
    settle(&mut harness);
    let zoom = harness.ctx.zoom_factor();

    harness.get_by_role_and_label(Role::Button, "Present").click();
    settle(&mut harness);
    assert!(harness.state().presenting());
    assert!(harness.query_by_label("Pause").is_none(), "the top bar is hidden");
    assert!(harness.query_by_label("Journeys (0)").is_none(), "the view tabs are hidden");
    assert!(harness.ctx.zoom_factor() > zoom);
    let first = harness.state().snapshot().nodes[0].id;
    assert!(harness.state().flow_view().node_view(first).expect("drawn").scale > 1.0, "the graph is enlarged");

    // F11 toggles it; so does the button at the bottom; Esc leaves it.
    harness.key_press(egui::Key::F11);
    settle(&mut harness);
    assert!(!harness.state().presenting());
    assert_eq!(harness.ctx.zoom_factor(), zoom);
    assert_eq!(harness.state().flow_view().node_view(first).expect("drawn").scale, 1.0);
    harness.get_by_role_and_label(Role::Button, "Pause");
    harness.key_press(egui::Key::F11);
    settle(&mut harness);
    assert!(harness.state().presenting());
    harness.key_press(egui::Key::Escape);
    settle(&mut harness);
    assert!(!harness.state().presenting());
    harness.get_by_role_and_label(Role::Button, "Present").click();
    settle(&mut harness);
    harness.get_by_label("Leave presentation (F11 / Esc)").click();
    settle(&mut harness);
    assert!(!harness.state().presenting());
}

/// A window over `collector` with spans shown, saving exports into `dir`.
fn exporting_harness(collector: &Collector, dir: &std::path::Path) -> Harness<'static, EventLensApp> {
    let app = EventLensApp::new(collector.engine().expect("engine"), None).with_recording_dir(dir.to_owned());
    let mut harness =
        Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    send_spans(collector);
    settle(&mut harness);
    harness
}

/// The one file an export wrote to `dir`, which the window names. Exports are written off the
/// frame: frames run until the window says the file was saved (at most 20 s, for a loaded
/// machine).
fn the_saved_file(harness: &mut Harness<'static, EventLensApp>, dir: &std::path::Path) -> std::path::PathBuf {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let files: Vec<_> = std::fs::read_dir(dir).expect("dir").map(|e| e.expect("entry").path()).collect();
        assert!(files.len() <= 1, "{files:?}");
        if let [file] = files.as_slice()
            && harness.query_by_label_contains(&format!("graph saved to {}", file.display())).is_some()
        {
            return file.clone();
        }
        assert!(std::time::Instant::now() < deadline, "no export saved within 20 s: {files:?}");
        settle(harness);
    }
}

#[test]
fn export_svg_saves_the_graph_as_drawn() {
    let (collector, dir) = (common::start_collector(1 << 20), tempfile::tempdir().expect("tempdir"));
    let mut harness = exporting_harness(&collector, dir.path());
    harness.get_by_role_and_label(Role::Button, "Export SVG").click();
    settle(&mut harness);
    let file = the_saved_file(&mut harness, dir.path());
    let svg = std::fs::read_to_string(&file).expect("svg");
    assert!(svg.starts_with("<svg"));
    for node in &harness.state().snapshot().nodes {
        assert!(svg.contains(&format!(">{}<", node.label)), "{} missing", node.label);
    }
}

#[test]
fn export_png_saves_the_graph_as_shown() {
    let (collector, dir) = (common::start_collector(1 << 20), tempfile::tempdir().expect("tempdir"));
    let mut harness = exporting_harness(&collector, dir.path());
    harness.get_by_role_and_label(Role::Button, "Export PNG").click();
    for _ in 0..10 {
        settle(&mut harness);
    }
    let file = the_saved_file(&mut harness, dir.path());
    let png = image::open(&file).expect("a PNG").to_rgba8();
    // The graph's canvas: below the bars, narrower than the window, and not blank.
    assert!(
        png.width() > 1000 && png.width() <= 1280 && png.height() > 500 && png.height() < 800,
        "{:?}",
        png.dimensions()
    );
    let first = *png.get_pixel(0, 0);
    assert!(png.pixels().any(|p| *p != first), "the picture shows something");
}

#[test]
fn focus_shows_a_node_and_its_neighbourhood_and_the_filter_can_hide() {
    let collector = common::start_collector(1 << 20);
    let mut harness = harness(&collector);
    send_spans(&collector);
    settle(&mut harness);
    let snapshot = harness.state().snapshot().clone();
    let all = snapshot.nodes.len();
    assert_eq!(harness.state().flow_view().node_count(), all);
    let orders = snapshot.nodes.iter().find(|n| n.label == "kafka/orders").expect("orders").id;
    let neighbours: std::collections::HashSet<u32> = snapshot
        .edges
        .iter()
        .filter_map(|e| match (e.from == orders, e.to == orders) {
            (true, false) => Some(e.to),
            (false, true) => Some(e.from),
            _ => None,
        })
        .collect();
    assert!(!neighbours.is_empty() && neighbours.len() + 1 < all, "{neighbours:?} of {all}");

    // Focus from the node's panel, then down to the node alone and one hop out again.
    harness.state_mut().select(Some(Selection::Node(orders)));
    settle(&mut harness);
    harness.get_by_role_and_label(Role::Button, "Focus").click();
    settle(&mut harness);
    harness.get_by_label_contains("Focused on kafka/orders, 2 hops");
    for _ in 0..2 {
        harness.get_by_role_and_label(Role::Button, "−").click();
        settle(&mut harness);
    }
    assert_eq!(harness.state().flow_view().node_count(), 1);
    harness.get_by_role_and_label(Role::Button, "+").click();
    settle(&mut harness);
    assert_eq!(harness.state().flow_view().node_count(), neighbours.len() + 1);
    harness.get_by_role_and_label(Role::Button, "Show all").click();
    settle(&mut harness);
    assert_eq!(harness.state().flow_view().node_count(), all);

    // The filter hides what it does not match once asked to, and dims it again after.
    harness.get_by_role(Role::TextInput).focus();
    harness.run_steps(1);
    harness.get_by_role(Role::TextInput).type_text("orders");
    harness.get_by_label("Hide others").click();
    settle(&mut harness);
    let matching = snapshot.nodes.iter().filter(|n| n.label.contains("orders")).count();
    assert!(matching > 0 && matching < all);
    assert_eq!(harness.state().flow_view().node_count(), matching);
    harness.get_by_label("Hide others").click();
    settle(&mut harness);
    assert_eq!(harness.state().flow_view().node_count(), all);
}

#[test]
fn the_auto_layout_switch_pins_the_graph_and_lets_it_follow_the_layout_again() {
    let collector = common::start_collector(1 << 20);
    let mut harness = harness(&collector);
    send_spans(&collector);
    settle(&mut harness);
    assert!(harness.state().flow_view().follows_layout());
    harness.get_by_label("Auto layout").click();
    settle(&mut harness);
    assert!(!harness.state().flow_view().follows_layout(), "switched off: nodes stay where they are");

    // Back on, a node the user dragged returns to its place in the layout.
    harness.get_by_label("Auto layout").click();
    settle(&mut harness);
    let orders = harness.state().snapshot().nodes.iter().find(|n| n.label == "kafka/orders").expect("orders").id;
    let placed = harness.state().flow_view().node_location(orders).expect("placed");
    let at = harness.state().flow_view().node_screen_pos(orders).expect("drawn");
    harness.drag_at(at);
    harness.run_steps(1);
    for step in 1..=4 {
        harness.hover_at(at + egui::vec2(0.0, 30.0 * step as f32));
        harness.run_steps(1);
    }
    harness.drop_at(at + egui::vec2(0.0, 120.0));
    settle(&mut harness);
    assert!(!harness.state().flow_view().follows_layout(), "a drag pins the graph");
    assert_ne!(harness.state().flow_view().node_location(orders), Some(placed));
    harness.get_by_label("Auto layout").click();
    settle(&mut harness);
    assert!(harness.state().flow_view().follows_layout());
    assert_eq!(harness.state().flow_view().node_location(orders), Some(placed));
}
