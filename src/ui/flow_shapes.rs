//! How flow graph nodes and edges are drawn: shape by node kind, edge width by rate,
//! colour by failure ratio, dashed synchronous calls, labels with rate and failures.

use egui::epaint::{CircleShape, PathShape, RectShape, TextShape};
use egui::{Color32, CornerRadius, FontFamily, FontId, Pos2, Rect, Shape, Stroke, StrokeKind, Vec2};
use egui_graphs::{DisplayEdge, DisplayNode, DrawContext, EdgeProps, Node, NodeProps};
use petgraph::EdgeType;
use petgraph::stable_graph::IndexType;

use super::theme;
use crate::engine::finding_badges::FindingBadge;
use crate::model::flow_graph::{EdgeKind, NodeKind};

/// The payload of a drawn node, refreshed from each snapshot.
#[derive(Clone, Debug)]
pub struct NodeView {
    /// Snapshot node id.
    pub id: u32,
    /// Kind, for the shape.
    pub kind: NodeKind,
    /// Name.
    pub label: String,
    /// Rate and failures line.
    pub detail: String,
    /// Whether it has failures (red outline).
    pub failing: bool,
    /// Filtered out by the filter box.
    pub dimmed: bool,
    /// Part of the highlighted selection.
    pub highlighted: bool,
    /// Size of the shape and text relative to the theme's (larger when presenting).
    pub scale: f32,
    /// The least text size drawn, in points (see [`text_sizes`]).
    pub text_floor: f32,
    /// The findings about this node: a badge at its corner.
    pub findings: FindingBadge,
    /// How many nodes it folds, when it is a group's box (drawn as a stack); 0 for a node.
    pub folded: usize,
    /// The width of the wider of its two lines of text (name, rates) at the theme's sizes,
    /// canvas units at scale 1 ([`TextWidths`](super::flow_text::TextWidths)).
    pub text_width: f32,
}

/// The payload of a drawn edge, refreshed from each snapshot.
#[derive(Clone, Debug)]
pub struct EdgeView {
    /// Snapshot edge id.
    pub id: u32,
    /// Kind, for the dash pattern.
    pub kind: EdgeKind,
    /// Stroke width from the rate.
    pub width: f32,
    /// Colour from the failure ratio.
    pub color: Color32,
    /// Rate and failures text.
    pub label: String,
    /// Filtered out.
    pub dimmed: bool,
    /// Size of the stroke and text relative to the theme's (larger when presenting).
    pub scale: f32,
    /// The least text size drawn, in points (see [`text_sizes`]).
    pub text_floor: f32,
    /// How far the edge bows out of the straight line to pass clear of other nodes (0:
    /// straight; see [`route_edge`]); [`FlowView`](super::flow_view::FlowView) picks it.
    pub bow: f32,
    /// Where along the edge (0 to 1) its label sits: the middle unless that would cover
    /// another label or a node ([`FlowView`](super::flow_view::FlowView) picks it too).
    pub label_t: f32,
    /// No place along the edge leaves its label clear of nodes and other labels: it is not
    /// drawn (a secondary label hides before it covers a name), unless the edge is selected.
    pub label_hidden: bool,
    /// The findings about this edge's consumer: a badge before its label.
    pub findings: FindingBadge,
    /// Selected in the window (its panel is open), however it was selected.
    pub highlighted: bool,
    /// The width of its label at the theme's detail size, canvas units at scale 1
    /// ([`TextWidths`](super::flow_text::TextWidths)).
    pub label_width: f32,
}

/// A findings badge centred at `at` (screen): a disc in the worst finding's colour with the
/// count in it; nothing when there are no findings.
pub fn badge_shapes(ctx: &egui::Context, at: Pos2, badge: FindingBadge, (zoom, floor): (f32, f32)) -> Vec<Shape> {
    let Some(worst) = badge.worst.filter(|_| badge.count > 0) else { return Vec::new() };
    let radius = theme::BADGE_RADIUS * zoom;
    let disc = CircleShape { center: at, radius, fill: theme::severity_color(worst), stroke: Stroke::NONE }.into();
    // Too small to read: the disc alone still says there are findings, in their colour.
    let Some(size) = text_sizes(zoom, floor).badge else { return vec![disc] };
    let text = if badge.count > 99 { "99+".to_owned() } else { badge.count.to_string() };
    let galley =
        ctx.fonts_mut(|f| f.layout_no_wrap(text, FontId::new(size, FontFamily::Proportional), theme::BADGE_TEXT));
    let corner = at - galley.size() / 2.0;
    vec![disc, TextShape::new(corner, galley, theme::BADGE_TEXT).into()]
}

/// The on-screen sizes of the canvas' text at `zoom` (the view's zoom times its scale),
/// `None` where it is not drawn. No text is drawn below `floor` points:
/// [`theme::MIN_TEXT_SIZE`] in the window, less in presentation mode, whose points are
/// larger ([`theme::presentation_text_floor`]), so the least size on screen is the same.
/// Names are drawn at least that size, and hidden only when zoomed out past
/// [`theme::NAMES_MIN_ZOOM`] (in proportion to the floor), where nodes are too close for them;
/// secondary text (rates, lag, badge counts) hides first, as soon as it would be smaller than
/// the floor.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TextSizes {
    /// Node names.
    pub name: Option<f32>,
    /// Rates, failures and lag, under nodes and on edges.
    pub detail: Option<f32>,
    /// The count in a findings badge.
    pub badge: Option<f32>,
}

/// See [`TextSizes`].
pub fn text_sizes(zoom: f32, floor: f32) -> TextSizes {
    // A hair of tolerance: a fit at the least readable zoom lands on the minimum exactly.
    let at_least = |size: f32| (size >= floor - 1e-3).then_some(size.max(floor));
    let names_from = theme::NAMES_MIN_ZOOM * floor / theme::MIN_TEXT_SIZE;
    TextSizes {
        name: (zoom >= names_from).then(|| (theme::CANVAS_NAME_SIZE * zoom).max(floor)),
        detail: at_least(theme::CANVAS_DETAIL_SIZE * zoom),
        badge: at_least(theme::BADGE_TEXT_SIZE * zoom),
    }
}

/// The canvas-unit box `edge`'s label takes when it sits at `t` along the edge from `a` to
/// `b` (node centres; the text is drawn just above the point), as wide as its measured text.
pub fn edge_label_rect(edge: &EdgeView, a: Pos2, b: Pos2, t: f32) -> Rect {
    let at = edge_point(a, edge_control(a, b, edge.bow), b, t);
    let size = Vec2::new(edge.label_width, theme::CANVAS_DETAIL_SIZE * 1.3) * edge.scale;
    Rect::from_center_size(at - Vec2::new(0.0, size.y / 2.0 + 2.0), size)
}

/// The canvas-unit box a node and the two lines of text under it take.
pub fn node_rect(center: Pos2, view: &NodeView) -> Rect {
    let h = half_extent(view.kind) * view.scale;
    let text = view.text_width * view.scale;
    let below = (theme::CANVAS_NAME_SIZE + theme::CANVAS_DETAIL_SIZE + 8.0) * view.scale;
    Rect::from_min_max(
        Pos2::new(center.x - h.x.max(text / 2.0), center.y - h.y),
        Pos2::new(center.x + h.x.max(text / 2.0), center.y + h.y + below),
    )
}

/// A node's drawing state.
#[derive(Clone, Debug)]
pub struct FlowNodeShape {
    view: NodeView,
    pos: Pos2,
    selected: bool,
    hovered: bool,
    /// Where the node was last drawn on screen, for tests and tooltips.
    pub screen_pos: Option<Pos2>,
}

impl From<NodeProps<NodeView>> for FlowNodeShape {
    fn from(props: NodeProps<NodeView>) -> Self {
        Self {
            pos: props.location(),
            selected: props.selected,
            hovered: props.hovered,
            view: props.payload,
            screen_pos: None,
        }
    }
}

/// Half the width and height of a node of `kind` at the theme's size.
pub fn half_extent(kind: NodeKind) -> Vec2 {
    match kind {
        NodeKind::Service => Vec2::splat(theme::SERVICE_RADIUS),
        NodeKind::Destination => theme::DESTINATION_HALF,
        NodeKind::ConsumerGroup => Vec2::splat(theme::GROUP_RADIUS),
    }
}

/// Where a line leaving a node of `kind` (half extent `h`) at `center` in direction `dir`
/// crosses its outline: a circle, a box, or a diamond.
pub fn boundary_point(center: Pos2, kind: NodeKind, h: Vec2, dir: Vec2) -> Pos2 {
    let dir = dir.normalized();
    let reach = match kind {
        NodeKind::Service => h.x,
        NodeKind::Destination => (h.x / dir.x.abs().max(1e-6)).min(h.y / dir.y.abs().max(1e-6)),
        NodeKind::ConsumerGroup => h.x / (dir.x.abs() + dir.y.abs()).max(1e-6),
    };
    center + dir * reach
}

/// The control point of the quadratic curve an edge from `a` to `b` (node centres, canvas
/// units) is drawn along when it bows by `bow` (see [`route_edge`]), or `None` for a
/// straight edge. A positive bow is up for a left-to-right edge and down for a feedback
/// edge, so a loop's two directions stay apart.
pub fn edge_control(a: Pos2, b: Pos2, bow: f32) -> Option<Pos2> {
    if bow == 0.0 {
        return None;
    }
    let d = b - a;
    let up = Vec2::new(d.y, -d.x).normalized();
    Some(a + d * 0.5 + up * bow)
}

/// The distance from a point to the nearest of `obstacles`, for [`route_edge`].
pub fn distance_to(obstacles: &[Rect]) -> impl Fn(Pos2) -> f32 + '_ {
    move |p| obstacles.iter().map(|r| r.distance_to_pos(p)).fold(f32::MAX, f32::min)
}

/// How far an edge is kept from the nodes it passes.
pub const CLEARANCE: f32 = 6.0;
/// The furthest [`route_edge`] bows an edge.
pub const MAX_BOW: f32 = 3.0 * theme::EDGE_BOW;

/// How an edge from `a` to `b` bows to stay clear of the obstacles (the other nodes and the
/// text under them) that `distance` measures a point's distance to (it may stop looking
/// beyond [`CLEARANCE`]): straight if nothing is in the way, else the first of growing bows,
/// each way, that clears them; if none does, the one that comes least close. Nodes of the
/// layers between sit on the same rows as the ends, so a straight edge that skips a layer
/// would run through them and over their own edges' labels.
pub fn route_edge(a: Pos2, b: Pos2, distance: impl Fn(Pos2) -> f32) -> f32 {
    let clearance = |bow: f32| {
        // Sampled along straight edges too, so a node halfway along one is seen.
        edge_samples(a, edge_control(a, b, bow), b).into_iter().map(&distance).fold(f32::MAX, f32::min)
    };
    let bows = [0.0, 1.0, -1.0, 2.0, -2.0, 3.0, -3.0].map(|k| k * theme::EDGE_BOW);
    debug_assert!(bows.iter().all(|b| b.abs() <= MAX_BOW));
    let mut best = (f32::MIN, 0.0);
    for bow in bows {
        let clear = clearance(bow);
        if clear >= CLEARANCE {
            return bow;
        }
        if clear > best.0 {
            best = (clear, bow);
        }
    }
    best.1
}

/// The point at `t` (0 to 1) along an edge from `a` to `b` through `control`.
pub fn edge_point(a: Pos2, control: Option<Pos2>, b: Pos2, t: f32) -> Pos2 {
    match control {
        None => a + (b - a) * t,
        Some(c) => {
            let u = 1.0 - t;
            (a.to_vec2() * (u * u) + c.to_vec2() * (2.0 * u * t) + b.to_vec2() * (t * t)).to_pos2()
        }
    }
}

/// The points an edge is drawn through: its two ends, or the curve in short pieces.
pub fn edge_polyline(a: Pos2, control: Option<Pos2>, b: Pos2) -> Vec<Pos2> {
    match control {
        None => vec![a, b],
        Some(_) => edge_samples(a, control, b),
    }
}

/// Evenly spaced points along an edge, straight or curved.
fn edge_samples(a: Pos2, control: Option<Pos2>, b: Pos2) -> Vec<Pos2> {
    (0..=theme::EDGE_SEGMENTS).map(|i| edge_point(a, control, b, i as f32 / theme::EDGE_SEGMENTS as f32)).collect()
}

impl FlowNodeShape {
    fn half_extent(&self) -> Vec2 {
        half_extent(self.view.kind) * self.view.scale
    }

    fn fill(&self) -> Color32 {
        let base = match self.view.kind {
            NodeKind::Service => theme::SERVICE,
            NodeKind::Destination => theme::DESTINATION,
            NodeKind::ConsumerGroup => theme::CONSUMER_GROUP,
        };
        if self.view.dimmed { theme::dimmed(base) } else { base }
    }
}

impl<E: Clone, Ty: EdgeType, Ix: IndexType> DisplayNode<NodeView, E, Ty, Ix> for FlowNodeShape {
    fn closest_boundary_point(&self, dir: Vec2) -> Pos2 {
        boundary_point(self.pos, self.view.kind, self.half_extent(), dir)
    }

    fn shapes(&mut self, ctx: &DrawContext) -> Vec<Shape> {
        let center = ctx.meta.canvas_to_screen_pos(self.pos);
        self.screen_pos = Some(center);
        // Off screen: nothing to lay out or draw (a big graph is mostly off screen).
        let reach = node_rect(Pos2::ZERO, &self.view);
        let on_screen = Rect::from_min_max(
            center + reach.min.to_vec2() * ctx.meta.zoom,
            center + reach.max.to_vec2() * ctx.meta.zoom,
        );
        if !ctx.painter.clip_rect().intersects(on_screen.expand(theme::MIN_TEXT_SIZE * 8.0)) {
            return Vec::new();
        }
        let half = self.half_extent() * ctx.meta.zoom;
        let fill = self.fill();
        let stroke = if self.selected || self.view.highlighted {
            Stroke::new(3.0, theme::SELECTED)
        } else if self.view.failing && !self.view.dimmed {
            Stroke::new(2.5, theme::FAILURE)
        } else if self.hovered {
            Stroke::new(1.5, theme::SELECTED)
        } else {
            Stroke::NONE
        };
        let outline = |center: Pos2, fill: Color32, stroke: Stroke| -> Shape {
            match self.view.kind {
                NodeKind::Service => CircleShape { center, radius: half.x, fill, stroke }.into(),
                NodeKind::Destination => RectShape::new(
                    Rect::from_center_size(center, half * 2.0),
                    CornerRadius::same(6),
                    fill,
                    stroke,
                    StrokeKind::Outside,
                )
                .into(),
                NodeKind::ConsumerGroup => PathShape::convex_polygon(
                    vec![
                        center + Vec2::new(0.0, -half.y),
                        center + Vec2::new(half.x, 0.0),
                        center + Vec2::new(0.0, half.y),
                        center + Vec2::new(-half.x, 0.0),
                    ],
                    fill,
                    stroke,
                )
                .into(),
            }
        };
        let mut shapes = Vec::with_capacity(5);
        if self.view.folded > 0 {
            // A folded group: a stack of its members' shape.
            let back = Stroke::new(1.0, theme::CANVAS_BACKGROUND);
            for step in [2.0, 1.0] {
                let offset = Vec2::new(theme::FOLDED_OFFSET, -theme::FOLDED_OFFSET) * step * ctx.meta.zoom;
                shapes.push(outline(center + offset, theme::dimmed(fill), back));
            }
        }
        shapes.push(outline(center, fill, stroke));
        let text_color = if self.view.dimmed { theme::dimmed(theme::LABEL) } else { theme::LABEL };
        let detail_color = if self.view.dimmed { theme::dimmed(theme::LABEL_DETAIL) } else { theme::LABEL_DETAIL };
        let sizes = text_sizes(self.view.scale * ctx.meta.zoom, self.view.text_floor);
        let mut below = center.y + half.y + 3.0;
        if let Some(size) = sizes.name {
            let label = ctx.ctx.fonts_mut(|f| {
                f.layout_no_wrap(self.view.label.clone(), FontId::new(size, FontFamily::Proportional), text_color)
            });
            let height = label.size().y;
            shapes.push(TextShape::new(Pos2::new(center.x - label.size().x / 2.0, below), label, text_color).into());
            below += height + 2.0;
        }
        if !self.view.dimmed {
            let corner = center + Vec2::new(half.x, -half.y);
            let zoom = (self.view.scale * ctx.meta.zoom, self.view.text_floor);
            shapes.extend(badge_shapes(ctx.ctx, corner, self.view.findings, zoom));
        }
        if let Some(size) = sizes.detail.filter(|_| sizes.name.is_some()) {
            let detail = ctx.ctx.fonts_mut(|f| {
                f.layout_no_wrap(self.view.detail.clone(), FontId::new(size, FontFamily::Proportional), detail_color)
            });
            shapes
                .push(TextShape::new(Pos2::new(center.x - detail.size().x / 2.0, below), detail, detail_color).into());
        }
        shapes
    }

    fn update(&mut self, props: &NodeProps<NodeView>) {
        self.pos = props.location();
        self.selected = props.selected;
        self.hovered = props.hovered;
        self.view = props.payload.clone();
    }

    fn is_inside(&self, pos: Pos2) -> bool {
        let d = pos - self.pos;
        let h = self.half_extent();
        match self.view.kind {
            NodeKind::Service => d.length() <= h.x,
            NodeKind::Destination => d.x.abs() <= h.x && d.y.abs() <= h.y,
            NodeKind::ConsumerGroup => d.x.abs() + d.y.abs() <= h.x,
        }
    }
}

/// An edge's drawing state.
#[derive(Clone, Debug)]
pub struct FlowEdgeShape {
    view: EdgeView,
    selected: bool,
}

impl From<EdgeProps<EdgeView>> for FlowEdgeShape {
    fn from(props: EdgeProps<EdgeView>) -> Self {
        Self { view: props.payload, selected: props.selected }
    }
}

/// Where an edge bowing by `bow` leaves `start` and reaches `end` (canvas units), and the
/// control point it bows through, if any.
fn endpoints<Ty: EdgeType, Ix: IndexType>(
    start: &Node<NodeView, EdgeView, Ty, Ix, FlowNodeShape>,
    end: &Node<NodeView, EdgeView, Ty, Ix, FlowNodeShape>,
    bow: f32,
) -> (Pos2, Option<Pos2>, Pos2) {
    let (a, b) = (start.location(), end.location());
    let control = edge_control(a, b, bow);
    let from = <FlowNodeShape as DisplayNode<NodeView, EdgeView, Ty, Ix>>::closest_boundary_point(
        start.display(),
        control.unwrap_or(b) - a,
    );
    let to = <FlowNodeShape as DisplayNode<NodeView, EdgeView, Ty, Ix>>::closest_boundary_point(
        end.display(),
        control.unwrap_or(a) - b,
    );
    (from, control, to)
}

impl<Ty: EdgeType, Ix: IndexType> DisplayEdge<NodeView, EdgeView, Ty, Ix, FlowNodeShape> for FlowEdgeShape {
    fn shapes(
        &mut self,
        start: &Node<NodeView, EdgeView, Ty, Ix, FlowNodeShape>,
        end: &Node<NodeView, EdgeView, Ty, Ix, FlowNodeShape>,
        ctx: &DrawContext,
    ) -> Vec<Shape> {
        let (from, control, to) = endpoints(start, end, self.view.bow);
        let screen = |p: Pos2| ctx.meta.canvas_to_screen_pos(p);
        let (from, control, to) = (screen(from), control.map(screen), screen(to));
        let zoom = ctx.meta.zoom * self.view.scale;
        // Off screen (the curve stays within its ends' and control point's box, the label
        // just above it): nothing to draw.
        let reach = Rect::from_points(&[from, to, control.unwrap_or(from)]).expand(theme::MIN_TEXT_SIZE * 8.0);
        if !ctx.painter.clip_rect().intersects(reach) {
            return Vec::new();
        }
        let color = if self.view.dimmed { theme::dimmed(self.view.color) } else { self.view.color };
        let selected = self.selected || self.view.highlighted;
        let width = (self.view.width + if selected { 2.0 } else { 0.0 }) * zoom;
        let stroke = Stroke::new(width, if selected { theme::SELECTED } else { color });
        let dir = (to - control.unwrap_or(from)).normalized();
        let tip_base = to - dir * theme::ARROW_SIZE * zoom;
        let mut points = edge_polyline(from, control, to);
        if let Some(last) = points.last_mut() {
            *last = tip_base;
        }
        let mut shapes = if self.view.kind == EdgeKind::Calls {
            Shape::dashed_line(&points, stroke, theme::DASH.0 * zoom, theme::DASH.1 * zoom)
        } else {
            vec![Shape::line(points, stroke)]
        };
        let normal = Vec2::new(-dir.y, dir.x) * theme::ARROW_SIZE * 0.5 * zoom;
        shapes.push(Shape::convex_polygon(vec![to, tip_base + normal, tip_base - normal], stroke.color, Stroke::NONE));
        let shown = !self.view.label.is_empty() && (!self.view.label_hidden || self.view.highlighted);
        let label_size = text_sizes(zoom, self.view.text_floor).detail.filter(|_| shown);
        if let Some(size) = label_size {
            let text_color = if self.view.dimmed { theme::dimmed(theme::LABEL_DETAIL) } else { theme::LABEL_DETAIL };
            let galley = ctx.ctx.fonts_mut(|f| {
                f.layout_no_wrap(self.view.label.clone(), FontId::new(size, FontFamily::Proportional), text_color)
            });
            let mid = edge_point(from, control, to, self.view.label_t);
            let at = Pos2::new(mid.x - galley.size().x / 2.0, mid.y - galley.size().y - 2.0 - width / 2.0);
            if !self.view.dimmed {
                let badge = at + Vec2::new(-theme::BADGE_RADIUS * zoom - 2.0, galley.size().y / 2.0);
                shapes.extend(badge_shapes(ctx.ctx, badge, self.view.findings, (zoom, self.view.text_floor)));
            }
            shapes.push(TextShape::new(at, galley, text_color).into());
        } else if !self.view.dimmed {
            let at = edge_point(from, control, to, 0.5);
            shapes.extend(badge_shapes(ctx.ctx, at, self.view.findings, (zoom, self.view.text_floor)));
        }
        shapes
    }

    fn update(&mut self, props: &EdgeProps<EdgeView>) {
        self.view = props.payload.clone();
        self.selected = props.selected;
    }

    fn is_inside(
        &self,
        start: &Node<NodeView, EdgeView, Ty, Ix, FlowNodeShape>,
        end: &Node<NodeView, EdgeView, Ty, Ix, FlowNodeShape>,
        pos: Pos2,
    ) -> bool {
        let (a, control, b) = endpoints(start, end, self.view.bow);
        let reach = self.view.width / 2.0 + 4.0;
        edge_polyline(a, control, b).windows(2).any(|piece| {
            let ab = piece[1] - piece[0];
            let t = ((pos - piece[0]).dot(ab) / ab.length_sq().max(1e-6)).clamp(0.0, 1.0);
            (pos - (piece[0] + ab * t)).length() <= reach
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::findings::Severity;

    #[test]
    fn no_text_size_is_below_the_minimum_and_rates_hide_before_names() {
        for floor in [theme::MIN_TEXT_SIZE, theme::presentation_text_floor()] {
            let mut saw = (false, false, false);
            for step in 1..=400 {
                let zoom = step as f32 / 100.0;
                let sizes = text_sizes(zoom, floor);
                for size in [sizes.name, sizes.detail, sizes.badge].into_iter().flatten() {
                    assert!(size >= floor, "{size} at zoom {zoom}");
                }
                // Rates never show without the name they belong to.
                assert!(sizes.detail.is_none() || sizes.name.is_some(), "zoom {zoom}");
                saw.0 |= sizes.name.is_some() && sizes.detail.is_none();
                saw.1 |= sizes.name.is_none();
                saw.2 |= sizes.detail.is_some();
            }
            assert_eq!(saw, (true, true, true), "names alone, nothing, and everything each at some zoom");
            // At the zoom a fit never goes below, everything reads.
            let least = theme::min_fit_zoom(floor);
            assert!(text_sizes(least, floor).detail.is_some() && text_sizes(least, floor).badge.is_some());
        }
        // On screen, presentation mode's floor is the window's minimum.
        let on_screen = theme::presentation_text_floor() * theme::PRESENTATION_ZOOM;
        assert!((on_screen - theme::MIN_TEXT_SIZE).abs() < 1e-4);
    }

    #[test]
    fn a_badge_shows_the_count_in_the_worst_findings_colour_and_nothing_without_findings() {
        let ctx = egui::Context::default();
        let mut shapes = Vec::new();
        let mut output = ctx.run_ui(egui::RawInput::default(), |ui| {
            let badge = FindingBadge { count: 3, worst: Some(Severity::Error) };
            shapes = badge_shapes(ui.ctx(), Pos2::new(10.0, 10.0), badge, (1.0, theme::MIN_TEXT_SIZE));
            assert!(
                badge_shapes(ui.ctx(), Pos2::ZERO, FindingBadge::default(), (1.0, theme::MIN_TEXT_SIZE)).is_empty()
            );
        });
        // No renderer takes the font atlas here.
        output.textures_delta.clear();
        let fill = shapes.iter().find_map(|s| match s {
            Shape::Circle(c) => Some(c.fill),
            _ => None,
        });
        assert_eq!(fill, Some(theme::severity_color(Severity::Error)));
        let text = shapes.iter().find_map(|s| match s {
            Shape::Text(t) => Some(t.galley.text().to_owned()),
            _ => None,
        });
        assert_eq!(text.as_deref(), Some("3"));
    }

    const LAYER: f32 = theme::LAYER_SPACING;

    #[test]
    fn an_edge_bows_only_when_a_node_is_in_its_way_and_then_clear_of_it() {
        let service = |at: Pos2| Rect::from_center_size(at, Vec2::splat(2.0 * theme::SERVICE_RADIUS));
        let (a, b) = (Pos2::new(0.0, 0.0), Pos2::new(3.0 * LAYER, 0.0));
        assert_eq!(route_edge(a, b, distance_to(&[])), 0.0);
        // Something off the line: still straight.
        assert_eq!(route_edge(a, b, distance_to(&[service(Pos2::new(LAYER, theme::ROW_SPACING))])), 0.0);

        // Nodes on the line, in the layers between: the edge bows up, clear of them.
        let between = [service(Pos2::new(LAYER, 0.0)), service(Pos2::new(2.0 * LAYER, 0.0))];
        let bow = route_edge(a, b, distance_to(&between));
        assert!(bow > 0.0, "{bow}");
        let control = edge_control(a, b, bow).expect("it bows");
        assert!(control.y < 0.0, "left to right bows up");
        for p in edge_polyline(a, Some(control), b) {
            assert!(between.iter().all(|r| r.distance_to_pos(p) > 0.0), "{p:?} runs through a node");
        }
        // With the row above taken too, it bows down instead.
        let above = [service(Pos2::new(LAYER, -45.0)), service(Pos2::new(2.0 * LAYER, -45.0))];
        let both: Vec<Rect> = between.iter().chain(&above).copied().collect();
        assert!(route_edge(a, b, distance_to(&both)) < 0.0);
        // The way back (a feedback loop) bows the other way round.
        assert!(edge_control(b, a, bow).is_some_and(|c| c.y > 0.0));

        let points = edge_polyline(a, Some(control), b);
        assert_eq!(points.len(), theme::EDGE_SEGMENTS + 1);
        assert_eq!((points[0], points[theme::EDGE_SEGMENTS]), (a, b));
        assert_eq!(edge_polyline(a, None, b), vec![a, b]);
        assert_eq!(edge_control(a, b, 0.0), None);
    }
}
