//! Colours, sizes and fonts: every visual constant of the UI lives here.

use egui::Color32;

/// Service node fill.
pub const SERVICE: Color32 = Color32::from_rgb(0x4a, 0x90, 0xd9);
/// Destination (topic/queue) node fill.
pub const DESTINATION: Color32 = Color32::from_rgb(0xe0, 0xa4, 0x3a);
/// Consumer group node fill.
pub const CONSUMER_GROUP: Color32 = Color32::from_rgb(0x9b, 0x6b, 0xd6);
/// Outline of a node that has failures.
pub const FAILURE: Color32 = Color32::from_rgb(0xe0, 0x4b, 0x4b);
/// Edge colour with no failures.
pub const EDGE_OK: Color32 = Color32::from_rgb(0x7a, 0x86, 0x94);
/// Edge colour for a small failure ratio, blended toward [`FAILURE`] as it grows.
pub const EDGE_WARN: Color32 = Color32::from_rgb(0xe8, 0x9a, 0x3c);
/// Selection outline.
pub const SELECTED: Color32 = Color32::from_rgb(0xff, 0xff, 0xff);
/// Labels on the canvas.
pub const LABEL: Color32 = Color32::from_rgb(0xdd, 0xdd, 0xdd);
/// Secondary text on the canvas (rates, failures).
pub const LABEL_DETAIL: Color32 = Color32::from_rgb(0xa0, 0xa8, 0xb0);
/// Good state in the top bar.
pub const STATE_OK: Color32 = Color32::from_rgb(0x5c, 0xb8, 0x5c);
/// Bad state in the top bar.
pub const STATE_BAD: Color32 = FAILURE;
/// Source state dot: still connecting, or a warning status.
pub const STATE_WARN: Color32 = EDGE_WARN;
/// The group's total in a lag chart.
pub const SERIES_LAG_TOTAL: Color32 = CONSUMER_GROUP;
/// A consumer's delivered-but-unacknowledged messages, beside its pending ones.
pub const SERIES_UNACKED: Color32 = STATE_WARN;
/// Height of a lag chart in the side panel.
pub const LAG_CHART_HEIGHT: f32 = 120.0;

/// The colour of a group's lag status (Burrow): green OK, orange WARN, red ERR.
pub fn lag_status_color(status: crate::model::kafka::GroupStatus) -> Color32 {
    use crate::model::kafka::GroupStatus;
    match status {
        GroupStatus::Ok => STATE_OK,
        GroupStatus::Warn => STATE_WARN,
        GroupStatus::Err => STATE_BAD,
        GroupStatus::NotFound => LABEL_DETAIL,
    }
}

/// The colour of a queue's or consumer's depth status (docs/brokers.md).
pub fn depth_status_color(status: crate::model::depth::DepthStatus) -> Color32 {
    use crate::model::depth::DepthStatus;
    match status {
        DepthStatus::Ok => STATE_OK,
        DepthStatus::Warn => STATE_WARN,
        DepthStatus::Stall | DepthStatus::Stop => STATE_BAD,
        DepthStatus::Unknown => LABEL_DETAIL,
    }
}

/// An info finding (worth knowing, nothing wrong yet).
pub const SEVERITY_INFO: Color32 = SERVICE;

/// The colour of a finding's severity: blue info, orange warning, red error.
pub fn severity_color(severity: crate::model::findings::Severity) -> Color32 {
    use crate::model::findings::Severity;
    match severity {
        Severity::Info => SEVERITY_INFO,
        Severity::Warning => STATE_WARN,
        Severity::Error => STATE_BAD,
    }
}

/// The colour of a schema change's compatibility verdict: green FULL, orange BACKWARD or
/// FORWARD, red NONE.
pub fn compatibility_color(compatibility: crate::model::findings::Compatibility) -> Color32 {
    use crate::model::findings::Compatibility;
    match compatibility {
        Compatibility::Full => STATE_OK,
        Compatibility::Backward | Compatibility::Forward => STATE_WARN,
        Compatibility::None => STATE_BAD,
    }
}

/// A field the new payload shape added, in a schema change's side-by-side shapes.
pub const SHAPE_ADDED: Color32 = STATE_OK;
/// A field the new payload shape lacks (also struck through).
pub const SHAPE_REMOVED: Color32 = FAILURE;
/// A field whose JSON types changed.
pub const SHAPE_CHANGED: Color32 = EDGE_WARN;
/// Width of the Findings tab's evidence panel.
pub const FINDING_PANEL_WIDTH: f32 = 460.0;

/// How much a dimmed (filtered out) element keeps of its colour.
pub const DIM_ALPHA: f32 = 0.18;

/// Sparkline series colours.
pub const SERIES_RATE: Color32 = SERVICE;
/// Failures series.
pub const SERIES_FAILURES: Color32 = FAILURE;
/// p50 series.
pub const SERIES_P50: Color32 = Color32::from_rgb(0x5c, 0xb8, 0x5c);
/// p99 series.
pub const SERIES_P99: Color32 = DESTINATION;

/// Service circle radius, canvas units.
pub const SERVICE_RADIUS: f32 = 22.0;
/// Destination box half-size, canvas units.
pub const DESTINATION_HALF: egui::Vec2 = egui::vec2(46.0, 16.0);
/// Consumer group diamond half-diagonal.
pub const GROUP_RADIUS: f32 = 24.0;
/// Label font size (the waterfall's names).
pub const LABEL_SIZE: f32 = 13.0;
/// Detail font size (the waterfall's numbers).
pub const DETAIL_SIZE: f32 = 11.0;
/// The flow graph's node names, canvas units (scaled by zoom).
pub const CANVAS_NAME_SIZE: f32 = 14.0;
/// The flow graph's rates, failures and lag, canvas units (scaled by zoom).
pub const CANVAS_DETAIL_SIZE: f32 = 12.0;
/// Distance between layers (columns), canvas units.
pub const LAYER_SPACING: f32 = 230.0;
/// How far each shape of a folded group's stack sits behind the one before, canvas units.
pub const FOLDED_OFFSET: f32 = 5.0;
/// Distance between nodes in one layer.
pub const ROW_SPACING: f32 = 100.0;
/// Thinnest and thickest edge, canvas units.
pub const EDGE_WIDTH: (f32, f32) = (1.5, 9.0);
/// The step by which an edge with a node in its way bows: how far off its chord the control
/// point moves, canvas units (the curve passes half as far off it).
pub const EDGE_BOW: f32 = 90.0;
/// Straight pieces a curved edge is drawn and hit-tested with.
pub const EDGE_SEGMENTS: usize = 24;
/// Arrow tip length.
pub const ARROW_SIZE: f32 = 10.0;
/// Dash and gap length for synchronous-call edges.
pub const DASH: (f32, f32) = (7.0, 5.0);
/// Room kept around the outermost nodes when fitting: labels sit below and beside nodes.
pub const FIT_MARGIN_TOP_LEFT: egui::Vec2 = egui::vec2(90.0, 40.0);
/// See [`FIT_MARGIN_TOP_LEFT`].
pub const FIT_MARGIN_BOTTOM_RIGHT: egui::Vec2 = egui::vec2(90.0, 70.0);
/// Fitting never zooms in further than this.
pub const MAX_FIT_ZOOM: f32 = 1.4;
/// Fitting never zooms out further than this: names and rates stay readable (at least
/// [`MIN_TEXT_SIZE`]) and the rest of a big graph scrolls.
pub const MIN_FIT_ZOOM: f32 = min_fit_zoom(MIN_TEXT_SIZE);

/// The least zoom at which rates drawn no smaller than `floor` points still show:
/// [`MIN_FIT_ZOOM`] at the window's floor.
pub const fn min_fit_zoom(floor: f32) -> f32 {
    floor / CANVAS_DETAIL_SIZE
}

/// The least text size in presentation mode, in its points: everything there is
/// [`PRESENTATION_ZOOM`] times larger, so this is [`MIN_TEXT_SIZE`] on screen, and a graph
/// that the enlargement would push out of the window can still be fitted whole.
pub const fn presentation_text_floor() -> f32 {
    MIN_TEXT_SIZE / PRESENTATION_ZOOM
}

/// No text on the canvas is drawn smaller than this, on screen (points), the size of egui's
/// own smallest text style: names are drawn at least this size, rates and lag are hidden
/// below it.
pub const MIN_TEXT_SIZE: f32 = 9.0;
/// Zoomed out further than this, nodes are too close for their names even at
/// [`MIN_TEXT_SIZE`]: names are hidden too (hovering a node still shows it).
pub const NAMES_MIN_ZOOM: f32 = 0.3;
/// How long nodes take to glide to a new layout.
pub const LAYOUT_ANIMATION_SECONDS: f64 = 0.3;
/// How long the view takes to glide to a fit (Fit, a focus, a graph that grew).
pub const FIT_ANIMATION_SECONDS: f64 = 0.3;
/// Diameter of a source's state dot in the top bar.
pub const STATE_DOT: f32 = 8.0;
/// Side panel width.
pub const SIDE_PANEL_WIDTH: f32 = 340.0;
/// Sparkline height.
pub const SPARKLINE_HEIGHT: f32 = 60.0;

/// Edge colour for a failure ratio in 0..=1: grey when clean, orange to red as it grows.
pub fn edge_color(failure_ratio: f32) -> Color32 {
    if failure_ratio <= 0.0 {
        return EDGE_OK;
    }
    // Full red at 20% failures and above.
    let t = (failure_ratio / 0.2).clamp(0.0, 1.0);
    lerp(EDGE_WARN, FAILURE, t)
}

/// Edge width for a message rate (per second), logarithmic so one busy edge doesn't hide the rest.
pub fn edge_width(rate: f64) -> f32 {
    let (min, max) = EDGE_WIDTH;
    (min + 1.8 * (1.0 + rate.max(0.0)).log10() as f32).min(max)
}

/// `color` faded for a filtered-out element.
pub fn dimmed(color: Color32) -> Color32 {
    color.gamma_multiply(DIM_ALPHA)
}

fn lerp(a: Color32, b: Color32, t: f32) -> Color32 {
    let mix = |x: u8, y: u8| (f32::from(x) + (f32::from(y) - f32::from(x)) * t).round() as u8;
    Color32::from_rgb(mix(a.r(), b.r()), mix(a.g(), b.g()), mix(a.b(), b.b()))
}

/// Width of a loading progress bar in the top bar.
pub const PROGRESS_WIDTH: f32 = 120.0;

/// Waterfall row height.
pub const WATERFALL_ROW: f32 = 22.0;
/// Width of the waterfall's label column (service and span name).
pub const WATERFALL_LABEL_WIDTH: f32 = 300.0;
/// Indent per nesting level in the waterfall.
pub const WATERFALL_INDENT: f32 = 12.0;
/// Height of the waterfall's minimap.
pub const MINIMAP_HEIGHT: f32 = 30.0;
/// A compensating event in a saga's rollback chain (the journey waterfall's strip).
pub const COMPENSATION: Color32 = Color32::from_rgb(0xd9, 0xa4, 0x41);
/// Time a message waited in a topic: drawn apart from the work done on it.
pub const IN_TOPIC: Color32 = Color32::from_rgb(0x6c, 0x5a, 0x3a);
/// Outline of spans on the critical path.
pub const CRITICAL: Color32 = Color32::from_rgb(0xff, 0xd5, 0x4f);
/// Where the waterfall's minimap shows the visible range.
pub const MINIMAP_VIEW: Color32 = Color32::from_rgba_premultiplied(0x18, 0x18, 0x18, 0x18);
/// A journey highlighted on the flow graph.
pub const JOURNEY_PATH: Color32 = CRITICAL;

/// Services' colours in the waterfall, picked by a stable hash of the name.
const SERVICE_PALETTE: [Color32; 8] = [
    Color32::from_rgb(0x4a, 0x90, 0xd9),
    Color32::from_rgb(0x5c, 0xb8, 0x5c),
    Color32::from_rgb(0x9b, 0x6b, 0xd6),
    Color32::from_rgb(0x3a, 0xb0, 0xb0),
    Color32::from_rgb(0xd9, 0x7a, 0x4a),
    Color32::from_rgb(0xc0, 0x6c, 0xa8),
    Color32::from_rgb(0x8c, 0xa0, 0x3c),
    Color32::from_rgb(0x6a, 0x7f, 0xc8),
];

/// A service's colour: the same service always gets the same one.
pub fn service_color(service: &str) -> Color32 {
    // FNV-1a: stable across runs and platforms, unlike the std hasher.
    let hash = service.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    SERVICE_PALETTE[(hash % SERVICE_PALETTE.len() as u64) as usize]
}

/// Space between groups of controls in a side panel.
pub const SECTION_GAP: f32 = 8.0;
/// Background of an exported graph picture (egui's dark panel colour).
pub const CANVAS_BACKGROUND: Color32 = Color32::from_rgb(0x1b, 0x1b, 0x1b);
/// Height of the timeline's density histogram.
pub const TIMELINE_HEIGHT: f32 = 36.0;
/// The timeline histogram's background.
pub const TIMELINE_BACKGROUND: Color32 = Color32::from_rgb(0x22, 0x25, 0x2a);
/// The timeline's density bars.
pub const TIMELINE_DENSITY: Color32 = Color32::from_rgb(0x4a, 0x5a, 0x70);
/// Radius of a findings badge on a node or edge, in canvas units.
pub const BADGE_RADIUS: f32 = 9.0;
/// Size of a findings badge's count.
pub const BADGE_TEXT_SIZE: f32 = 12.0;
/// Colour of a findings badge's count.
pub const BADGE_TEXT: Color32 = Color32::from_rgb(0x10, 0x10, 0x12);
/// Height of a finding's tick on the timeline, from its top edge.
pub const FINDING_MARK_HEIGHT: f32 = 9.0;
/// Width of a finding's tick.
pub const FINDING_MARK_WIDTH: f32 = 2.0;
/// Width of the playback speed picker.
pub const SPEED_WIDTH: f32 = 60.0;
/// Everything's scale in presentation mode (fonts, nodes, edges).
pub const PRESENTATION_ZOOM: f32 = 1.5;
/// The flow graph's shapes and labels in presentation mode, on top of the zoom (the graph is
/// fitted to the window, so the zoom alone would not make it larger).
pub const PRESENTATION_GRAPH_SCALE: f32 = 1.3;
/// Width of the Demo panel.
pub const DEMO_PANEL_WIDTH: f32 = 250.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edge_colour_and_width_follow_their_inputs() {
        assert_eq!(edge_color(0.0), EDGE_OK);
        assert_eq!(edge_color(0.5), FAILURE);
        assert_ne!(edge_color(0.05), EDGE_OK);
        assert!(edge_width(1000.0) > edge_width(1.0));
        assert!(edge_width(1e12) <= EDGE_WIDTH.1);
    }

    #[test]
    fn severities_have_distinct_colours() {
        use crate::model::findings::Severity;
        let [info, warning, error] = [Severity::Info, Severity::Warning, Severity::Error].map(severity_color);
        assert!(info != warning && warning != error && info != error);
        assert_eq!(error, STATE_BAD);
    }
}
