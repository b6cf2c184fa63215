//! The flow graph on a laptop's screen: a recorded demo session and a generated 500-node
//! system laid out at 1280×800, with and without the details panel (snapshot images, so a
//! change in how the graph reads shows up in review), text never drawn below its minimum
//! size, a hovered node naming itself when the zoom hides its name, label boxes as wide as
//! their text, and the canvas' own controls: Fit gliding, a double click and the right-click
//! menu focusing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use egui_graphs::MetadataFrame;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eventlens::engine::{EngineState, Snapshot};
use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::testing::generated_flow;
use eventlens::ui::flow_view::{FlowView, Selection};
use eventlens::ui::{details_panel, flow_shapes, theme};

/// The demo shop recorded for 6 s at 10 orders/s with poison messages (`eventlens demo
/// --headless --duration 6s --rate 10 --scenario poison`): its thirteen nodes as the demo
/// shows them, the same on every run.
fn demo() -> Arc<Snapshot> {
    let capture = eventlens::capture::read_capture(Path::new("tests/data/demo-session.jsonl.zst")).unwrap();
    let mut state = EngineState::default();
    for record in capture.records {
        state.apply_owned(record);
    }
    let second = state.last_received_second();
    Arc::new(state.snapshot(second + 1))
}

fn generated(nodes: usize, edges: usize) -> Arc<Snapshot> {
    let mut state = EngineState::default();
    // Each node and edge is counted at what its statistics hold once full (about 30 and
    // 58 KB): a graph this size may need more than a small machine's default share, as
    // `--memory-budget` gives.
    state.set_graph_budget(1 << 30);
    state.apply_owned(Record::Spans(SpanBatch {
        received_unix_nano: 1_700_000_001_000_000_000,
        source: SourceKind::File,
        spans: generated_flow(nodes, edges, 3),
    }));
    Arc::new(state.snapshot(1_700_000_002))
}

fn id(snapshot: &Snapshot, label: &str) -> u32 {
    snapshot.nodes.iter().find(|n| n.label == label).map(|n| n.id).expect(label)
}

/// The canvas at 1280×800 as the window lays it out, with the details panel of `selected`
/// open beside it when there is one.
fn canvas(snapshot: &Arc<Snapshot>, selected: Option<u32>) -> Harness<'static, FlowView> {
    canvas_folding(snapshot, selected, None)
}

/// [`canvas`], with groups folding as `fold` says (`None`: by size).
fn canvas_folding(snapshot: &Arc<Snapshot>, selected: Option<u32>, fold: Option<bool>) -> Harness<'static, FlowView> {
    let mut view = FlowView::default();
    view.grouping.on = fold;
    view.sync(snapshot, "", selected.map(Selection::Node), None);
    let snapshot = Arc::clone(snapshot);
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_ui_state(
        move |ui, view: &mut FlowView| {
            view.side_panel_width = 0.0;
            if let Some(id) = selected {
                let panel = egui::Panel::right("details").default_size(theme::SIDE_PANEL_WIDTH).show(ui, |ui| {
                    details_panel::show(ui, &snapshot, Selection::Node(id));
                });
                view.side_panel_width = panel.response.rect.width();
            }
            egui::CentralPanel::default().show(ui, |ui| {
                view.show(ui);
            });
        },
        view,
    );
    harness.run_steps(4);
    harness
}

/// The zoom the canvas is drawn at, from two nodes a layer apart on screen.
fn zoom(view: &FlowView, a: u32, b: u32) -> f32 {
    let (sa, sb) = (view.node_screen_pos(a).expect("drawn"), view.node_screen_pos(b).expect("drawn"));
    let (ca, cb) = (view.node_location(a).expect("placed"), view.node_location(b).expect("placed"));
    (sb.x - sa.x) / (cb.x - ca.x)
}

#[test]
fn the_demo_graph_reads_at_1280_by_800() {
    let snapshot = demo();
    assert_eq!(snapshot.nodes.len(), 13);
    let (checkout, orders) = (id(&snapshot, "shop/checkout"), id(&snapshot, "kafka/orders"));
    let mut harness = canvas(&snapshot, None);
    harness.snapshot("flow_demo");
    let open = zoom(harness.state(), checkout, orders);
    assert!(open >= theme::MIN_FIT_ZOOM - 1e-3, "names and rates readable: zoom {open}");
    // Nine layers are more than the width holds at that size: they wrap into two bands,
    // the second under the first and running back, so shipping's topic sits under shipping
    // and the flow ends with analytics on the left.
    let location = |label| harness.state().node_location(id(&snapshot, label)).expect("placed");
    assert_eq!(location("shop/checkout").x, 0.0);
    assert_eq!(location("kafka/shipments").x, location("shop/shipping").x);
    assert!(location("kafka/shipments").y > location("shop/shipping").y);
    assert!(location("shop/analytics").x < location("kafka/shipments").x);
    // No label drawn covers a node, its text or another label (by the same estimate of
    // their boxes the placement uses); what found no room is hidden, not drawn over.
    let (nodes, edges) = harness.state().drawn();
    let node_boxes: Vec<egui::Rect> = nodes.iter().map(|(at, view)| flow_shapes::node_rect(*at, view)).collect();
    let labels: Vec<egui::Rect> = edges
        .iter()
        .filter(|(_, _, e, _)| !e.label.is_empty() && !e.label_hidden)
        .map(|(a, b, e, _)| flow_shapes::edge_label_rect(e, *a, *b, e.label_t))
        .collect();
    assert!(labels.len() * 2 > edges.len(), "most labels show: {} of {}", labels.len(), edges.len());
    // Boxes that only touch do not cover each other.
    let covers = |a: &egui::Rect, b: &egui::Rect| a.intersect(*b).is_positive();
    for (i, label) in labels.iter().enumerate() {
        assert!(!node_boxes.iter().any(|n| covers(n, label)), "a label over a node: {label:?}");
        assert!(!labels[i + 1..].iter().any(|other| covers(other, label)), "two labels over each other");
    }
    // The first band is on screen whole.
    for label in ["shop/checkout", "kafka/orders", "shop/payments", "kafka/payments", "shop/shipping"] {
        let at = harness.state().node_screen_pos(id(&snapshot, label)).expect("drawn");
        assert!(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0)).contains(at), "{label}");
    }
}

#[test]
fn the_side_panel_neither_shrinks_nor_rewraps_the_demo_graph() {
    let snapshot = demo();
    let (checkout, orders) = (id(&snapshot, "shop/checkout"), id(&snapshot, "kafka/orders"));
    let without = canvas(&snapshot, None);
    let mut harness = canvas(&snapshot, Some(id(&snapshot, "shop/payments")));
    harness.snapshot("flow_demo_side_panel");
    let with_panel = zoom(harness.state(), checkout, orders);
    assert!(with_panel >= theme::MIN_FIT_ZOOM - 1e-3, "the panel does not shrink the text: zoom {with_panel}");
    for node in &snapshot.nodes {
        assert_eq!(harness.state().node_location(node.id), without.state().node_location(node.id), "{}", node.label);
    }
}

#[test]
fn presentation_mode_fits_a_graph_its_enlargement_would_push_out_of_1280_by_800() {
    // Thirty nodes: the whole graph fits the window's 853×533 presentation points only
    // below the zoom at which the window's own minimum text size would stop it.
    let snapshot = generated(30, 45);
    let present = |floor: f32| {
        let mut view = FlowView::default();
        view.scale = theme::PRESENTATION_GRAPH_SCALE;
        view.text_floor = floor;
        view.sync(&snapshot, "", None, None);
        let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_ui_state(
            |ui, view: &mut FlowView| {
                egui::CentralPanel::default().show(ui, |ui| {
                    view.show(ui);
                });
            },
            view,
        );
        harness.ctx.set_zoom_factor(theme::PRESENTATION_ZOOM);
        harness.run_steps(6);
        // The window in presentation points: everything is larger, so it holds less.
        let window = egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0) / theme::PRESENTATION_ZOOM);
        let outside: Vec<&str> = snapshot
            .nodes
            .iter()
            .filter(|n| !harness.state().node_screen_pos(n.id).is_some_and(|at| window.contains(at)))
            .map(|n| n.label.as_str())
            .collect();
        // Two nodes in different layers give the zoom.
        let a = snapshot.nodes[0].id;
        let x = |id: u32| harness.state().node_location(id).expect("placed").x;
        let b = snapshot.nodes.iter().map(|n| n.id).find(|&b| (x(b) - x(a)).abs() > 1.0).expect("two layers");
        (outside, zoom(harness.state(), a, b))
    };
    let (outside, zoom) = present(theme::presentation_text_floor());
    assert!(outside.is_empty(), "nodes out of the window: {outside:?}");
    // Its rates are no smaller on screen than the window's least text.
    let on_screen = theme::CANVAS_DETAIL_SIZE * theme::PRESENTATION_GRAPH_SCALE * zoom * theme::PRESENTATION_ZOOM;
    assert!(on_screen >= theme::MIN_TEXT_SIZE - 1e-3, "rates {on_screen} px");
    // With the window's floor in presentation points, the enlarged graph did not fit.
    let (outside, _) = present(theme::MIN_TEXT_SIZE);
    assert!(!outside.is_empty(), "the graph fits without the lower floor: the test shows nothing");
}

#[test]
fn a_500_node_system_opens_readable_from_its_start_and_scrolls() {
    let snapshot = generated(500, 1_200);
    assert!(snapshot.nodes.len() >= 490 && snapshot.edges.len() >= 1_000, "{}", snapshot.edges.len());
    // Unfolded: node by node.
    let mut harness = canvas_folding(&snapshot, None, Some(false));
    let view = harness.state();
    // Layers run left to right: a producer is in the first column, a relay after its topic.
    let producer = id(&snapshot, "team-0/producer-0");
    let topic = id(&snapshot, "kafka/topic-0");
    assert_eq!(view.node_location(producer).expect("placed").x, 0.0);
    assert_eq!(view.node_location(topic).expect("placed").x, theme::LAYER_SPACING);
    let z = zoom(harness.state(), producer, topic);
    assert!(z >= theme::MIN_FIT_ZOOM - 1e-3, "zoom {z}");
    // The graph is far taller than the window: it opens at its top left, the rest scrolls.
    let top = snapshot.nodes.iter().filter_map(|n| view.node_location(n.id)).fold(f32::MAX, |m, p| m.min(p.y));
    let drawn_top = snapshot
        .nodes
        .iter()
        .filter(|n| view.node_location(n.id).is_some_and(|p| p.y == top))
        .filter_map(|n| view.node_screen_pos(n.id))
        .fold(f32::MAX, |m, p| m.min(p.y));
    assert!((0.0..200.0).contains(&drawn_top), "the top row is on screen, near the top: {drawn_top}");
    let below = snapshot.nodes.iter().filter_map(|n| view.node_screen_pos(n.id)).filter(|p| p.y > 800.0).count();
    assert!(below > 100, "most of it is below, to scroll to: {below}");
    harness.snapshot("flow_generated_500");
}

/// Every text drawn in one frame of the demo canvas at `zoom`, with its size.
fn texts_at(snapshot: &Snapshot, zoom: f32) -> Vec<(String, f32)> {
    fn walk(shape: &egui::Shape, out: &mut Vec<(String, f32)>) {
        match shape {
            egui::Shape::Text(text) => {
                // The smallest of its sections' sizes (the canvas draws one size per text).
                let size = text.galley.job.sections.iter().map(|s| s.format.font_id.size).fold(f32::MAX, f32::min);
                out.push((text.galley.text().to_owned(), size));
            }
            egui::Shape::Vec(shapes) => shapes.iter().for_each(|s| walk(s, out)),
            _ => {}
        }
    }
    let ctx = egui::Context::default();
    let mut view = FlowView::default();
    view.sync(snapshot, "", None, None);
    view.auto_fit = false;
    let orders = id(snapshot, "kafka/orders");
    let input = || egui::RawInput {
        screen_rect: Some(egui::Rect::from_min_size(egui::Pos2::ZERO, egui::vec2(1280.0, 800.0))),
        ..Default::default()
    };
    let mut out = Vec::new();
    for _ in 0..3 {
        let mut frame = ctx.run_ui(input(), |ui| {
            // kafka/orders at the middle of the window, whatever the zoom (the first frame
            // wraps the layers for the window's width, which moves it).
            let at = view.node_location(orders).expect("placed");
            let mut meta = MetadataFrame::new(None).load(ui);
            meta.zoom = zoom;
            meta.pan = egui::vec2(640.0, 400.0) - at.to_vec2() * zoom;
            meta.save(ui);
            view.show(ui);
        });
        // No renderer takes the font atlas here.
        frame.textures_delta.clear();
        out.clear();
        frame.shapes.iter().for_each(|clipped| walk(&clipped.shape, &mut out));
    }
    out
}

#[test]
fn no_text_on_the_canvas_is_drawn_below_the_minimum_size() {
    let snapshot = demo();
    for zoom in [0.05, 0.2, 0.29, 0.31, 0.5, 0.8, 0.92, 1.0, 1.5, 3.0] {
        let texts = texts_at(&snapshot, zoom);
        for (text, size) in &texts {
            assert!(*size >= theme::MIN_TEXT_SIZE, "{text:?} at {size} points, zoom {zoom}");
        }
        let names = texts.iter().filter(|(t, _)| snapshot.nodes.iter().any(|n| n.label == *t)).count();
        let rates = texts.iter().filter(|(t, _)| t.ends_with("/s") || t.contains("/s ·")).count();
        match zoom {
            // Zoomed far out, nodes are too close for names: none are drawn.
            z if z < theme::NAMES_MIN_ZOOM => assert_eq!((names, rates), (0, 0), "zoom {z}"),
            // Names stay (at the minimum size) after rates have gone.
            z if z < theme::MIN_FIT_ZOOM => assert!(names > 5 && rates == 0, "zoom {z}: {texts:?}"),
            z => assert!(names > 0 && rates > 0, "zoom {z}: {texts:?}"),
        }
    }
}

#[test]
fn hovering_a_node_names_it_when_the_zoom_hides_its_name() {
    let snapshot = demo();
    let payments = id(&snapshot, "shop/payments");
    let mut view = FlowView::default();
    view.sync(&snapshot, "", None, None);
    view.auto_fit = false;
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_ui_state(
        |ui, view: &mut FlowView| {
            let mut meta = MetadataFrame::new(None).load(ui);
            meta.zoom = 0.2;
            meta.pan = egui::vec2(40.0, 40.0);
            meta.save(ui);
            view.show(ui);
        },
        view,
    );
    harness.run_steps(2);
    assert!(harness.query_by_label("shop/payments").is_none());
    let at = harness.state().node_screen_pos(payments).expect("drawn");
    harness.hover_at(at);
    harness.run_steps(3);
    harness.get_by_label("shop/payments");
}

#[test]
fn a_500_node_system_opens_folded_into_teams_and_a_box_opens_on_a_click() {
    let snapshot = generated(500, 1_200);
    let mut harness = canvas(&snapshot, None);
    // Twelve teams' services and one box of topics.
    assert_eq!(harness.state().node_count(), 13);
    assert!(harness.state().folds());
    harness.snapshot("flow_generated_500_folded");
    let topics = snapshot.nodes.iter().filter(|n| n.label.starts_with("kafka/")).count();
    let kafka = harness.state().node_id_by_label(&format!("kafka · {topics} destinations")).expect("the topics' box");
    let at = harness.state().node_screen_pos(kafka).expect("drawn");
    harness.drag_at(at);
    harness.run_steps(1);
    harness.drop_at(at);
    harness.run_steps(1);
    // The canvas is synced again by its owner after a click (the window does it on the
    // next frame); here, by hand.
    let mut view = std::mem::take(harness.state_mut());
    view.sync(&snapshot, "", None, None);
    assert_eq!(view.node_count(), 12 + topics, "the topics, one by one, between the teams");
    assert_eq!(view.opened().len(), 1);
}

/// The canvas, and a zoom to set before the next frame (as a user's gesture would).
#[derive(Default)]
struct Canvas {
    view: FlowView,
    set_zoom: Option<f32>,
}

/// [`canvas`] at 60 frames a second (a double click is two clicks within 0.3 s; kittest's
/// default frame is 0.25 s), without the first frames run.
fn canvas_at_60_hz(snapshot: &Arc<Snapshot>) -> Harness<'static, Canvas> {
    let mut canvas = Canvas::default();
    canvas.view.sync(snapshot, "", None, None);
    Harness::builder().with_size([1280.0, 800.0]).with_step_dt(1.0 / 60.0).build_ui_state(
        |ui, canvas: &mut Canvas| {
            if let Some(zoom) = canvas.set_zoom.take() {
                let mut meta = MetadataFrame::new(None).load(ui);
                meta.zoom = zoom;
                meta.save(ui);
            }
            egui::CentralPanel::default().show(ui, |ui| {
                canvas.view.show(ui);
            });
        },
        canvas,
    )
}

fn press(harness: &Harness<'static, Canvas>, pos: egui::Pos2, button: egui::PointerButton, pressed: bool) {
    harness.event(egui::Event::PointerButton { pos, button, pressed, modifiers: egui::Modifiers::NONE });
}

/// Moves there, then presses and releases the secondary button, a frame apart: the canvas'
/// menu opens.
fn right_click(harness: &mut Harness<'static, Canvas>, at: egui::Pos2) {
    harness.hover_at(at);
    harness.run_steps(1);
    press(harness, at, egui::PointerButton::Secondary, true);
    harness.run_steps(1);
    press(harness, at, egui::PointerButton::Secondary, false);
    harness.run_steps(2);
}

#[test]
fn fit_glides_to_the_graph_instead_of_jumping() {
    let snapshot = demo();
    let (checkout, orders) = (id(&snapshot, "shop/checkout"), id(&snapshot, "kafka/orders"));
    let mut harness = canvas_at_60_hz(&snapshot);
    harness.run_steps(30);
    let fitted = zoom(&harness.state().view, checkout, orders);

    // The user zooms in far; Fit brings the view back over a few frames, never past it.
    harness.state_mut().view.auto_fit = false;
    harness.state_mut().set_zoom = Some(3.0);
    harness.run_steps(2);
    assert!((zoom(&harness.state().view, checkout, orders) - 3.0).abs() < 1e-3);
    harness.state_mut().view.auto_fit = true;
    let mut seen = Vec::new();
    for _ in 0..40 {
        harness.run_steps(1);
        seen.push(zoom(&harness.state().view, checkout, orders));
    }
    let between = seen.iter().filter(|z| **z < 3.0 - 1e-2 && **z > fitted + 1e-2).count();
    assert!(between >= 5, "the zoom passed through the values between: {seen:?}");
    assert!(seen.windows(2).all(|w| w[1] <= w[0] + 1e-4), "it only ever zooms out: {seen:?}");
    assert!((seen[seen.len() - 1] - fitted).abs() < 1e-3, "it arrives at the fit: {seen:?}");
}

#[test]
fn a_double_click_focuses_on_a_node_and_the_canvas_menu_focuses_and_shows_all() {
    let snapshot = demo();
    let orders = id(&snapshot, "kafka/orders");
    let mut harness = canvas_at_60_hz(&snapshot);
    harness.run_steps(30);
    let at = harness.state().view.node_screen_pos(orders).expect("drawn");
    harness.hover_at(at);
    harness.run_steps(1);
    for _ in 0..2 {
        press(&harness, at, egui::PointerButton::Primary, true);
        harness.run_steps(1);
        press(&harness, at, egui::PointerButton::Primary, false);
        harness.run_steps(1);
    }
    let focus = harness.state().view.focus.expect("focused by the double click");
    assert_eq!((focus.node, focus.hops), (orders, 2));
    // The window syncs the canvas with its focus on the next frame; here, by hand.
    harness.state_mut().view.sync(&snapshot, "", None, None);
    let focused = harness.state().view.node_count();
    assert!(focused < snapshot.nodes.len(), "{focused} of {}", snapshot.nodes.len());

    // Right-click on the background: the whole graph back.
    harness.run_steps(30);
    let empty = egui::pos2(640.0, 780.0);
    right_click(&mut harness, empty);
    assert!(harness.query_by_label_contains("Focus here").is_none(), "no node under the click");
    harness.get_by_label("Show all").click();
    harness.run_steps(2);
    assert_eq!(harness.state().view.focus, None);
    harness.state_mut().view.sync(&snapshot, "", None, None);
    assert_eq!(harness.state().view.node_count(), snapshot.nodes.len());

    // Right-click on a node: focus on it from the menu.
    harness.run_steps(30);
    let payments = id(&snapshot, "shop/payments");
    let at = harness.state().view.node_screen_pos(payments).expect("drawn");
    right_click(&mut harness, at);
    harness.get_by_label("Focus here (2 hops up- and downstream)").click();
    harness.run_steps(2);
    assert_eq!(harness.state().view.focus.map(|f| f.node), Some(payments));
    assert!(harness.state().view.auto_fit, "the focused nodes are fitted");
}

#[test]
fn label_boxes_are_as_wide_as_their_text_in_the_windows_fonts() {
    let snapshot = demo();
    let harness = canvas(&snapshot, None);
    let ctx = harness.ctx.clone();
    let width = |text: &str, size: f32| {
        ctx.fonts_mut(|f| {
            f.layout_no_wrap(text.to_owned(), egui::FontId::proportional(size), egui::Color32::WHITE).size().x
        })
    };
    let close = |ours: f32, egui: f32| (ours - egui).abs() <= egui * 0.05 + 1.0;
    let (nodes, edges) = harness.state().drawn();
    for (_, view) in &nodes {
        let text = width(&view.label, theme::CANVAS_NAME_SIZE).max(width(&view.detail, theme::CANVAS_DETAIL_SIZE));
        assert!(close(view.text_width, text), "{}: {} against {text}", view.label, view.text_width);
    }
    for (_, _, view, _) in &edges {
        let text = width(&view.label, theme::CANVAS_DETAIL_SIZE);
        assert!(close(view.label_width, text), "{}: {} against {text}", view.label, view.label_width);
    }
    // Not the character count: "shop/shipping" and "kafka/orders" differ by one character
    // and by more than that in width.
    let estimate = |text: &str| text.chars().count() as f32 * theme::CANVAS_NAME_SIZE * 0.55;
    assert!(nodes.iter().any(|(_, v)| (v.text_width - estimate(&v.label).max(estimate(&v.detail))).abs() > 5.0));
}
