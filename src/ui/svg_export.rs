//! The flow graph as an SVG document, as the canvas lays it out (positions, shapes, colours,
//! labels): a vector picture for slides and design documents.

use std::fmt::Write as _;

use egui::{Color32, Pos2, Vec2};

use super::flow_shapes::{EdgeView, NodeView, boundary_point, edge_control, edge_point, half_extent};
use super::flow_view::FlowView;
use super::theme;
use crate::model::flow_graph::{EdgeKind, NodeKind};

/// Room around the drawing for labels.
const MARGIN: f32 = 80.0;

fn hex(color: Color32) -> String {
    format!("#{:02x}{:02x}{:02x}", color.r(), color.g(), color.b())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// The canvas as laid out, copied out of the view so it can be written as SVG off the
/// frame: copying is a clone per node and edge, rendering formats every shape and label.
#[derive(Clone, Debug, Default)]
pub struct FlowPicture {
    nodes: Vec<(Pos2, NodeView)>,
    /// Each edge's endpoints, view and target's kind (its arrow stops at the target's edge).
    edges: Vec<(Pos2, Pos2, EdgeView, NodeKind)>,
}

impl FlowPicture {
    /// What `view` draws now, in id order.
    pub fn of(view: &FlowView) -> Self {
        let (nodes, edges) = view.drawn();
        Self {
            nodes: nodes.into_iter().map(|(pos, node)| (pos, node.clone())).collect(),
            edges: edges.into_iter().map(|(from, to, edge, target)| (from, to, edge.clone(), target.kind)).collect(),
        }
    }

    /// The picture as an SVG document.
    pub fn svg(&self) -> String {
        let (mut min, mut max) = (Pos2::new(f32::MAX, f32::MAX), Pos2::new(f32::MIN, f32::MIN));
        for (pos, _) in &self.nodes {
            min = min.min(*pos);
            max = max.max(*pos);
        }
        if self.nodes.is_empty() {
            (min, max) = (Pos2::ZERO, Pos2::ZERO);
        }
        let origin = min - Vec2::splat(MARGIN);
        let size = (max - min) + Vec2::splat(2.0 * MARGIN);
        let at = |p: Pos2| p - origin.to_vec2();
        let mut svg = String::new();
        let _ = writeln!(
            svg,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{:.0}" height="{:.0}" viewBox="0 0 {:.0} {:.0}" font-family="sans-serif">"#,
            size.x, size.y, size.x, size.y
        );
        let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="{}"/>"#, hex(theme::CANVAS_BACKGROUND));
        for (from, to, edge, target) in &self.edges {
            write_edge(&mut svg, at(*from), at(*to), edge, *target);
        }
        for (pos, node) in &self.nodes {
            write_node(&mut svg, at(*pos), node);
        }
        svg.push_str("</svg>\n");
        svg
    }
}

/// The graph the view holds, as SVG.
pub fn flow_svg(view: &FlowView) -> String {
    FlowPicture::of(view).svg()
}

fn write_edge(svg: &mut String, from: Pos2, to: Pos2, edge: &EdgeView, target: NodeKind) {
    // The same geometry as the canvas: long edges bow through a control point.
    let control = edge_control(from, to, edge.bow);
    let tip = boundary_point(to, target, half_extent(target), control.unwrap_or(from) - to);
    let dir = (tip - control.unwrap_or(from)).normalized();
    let base = tip - dir * theme::ARROW_SIZE;
    let normal = Vec2::new(-dir.y, dir.x) * theme::ARROW_SIZE * 0.5;
    let color = hex(edge.color);
    let dash = if edge.kind == EdgeKind::Calls {
        format!(r#" stroke-dasharray="{} {}""#, theme::DASH.0, theme::DASH.1)
    } else {
        String::new()
    };
    let _ = match control {
        None => writeln!(
            svg,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="{:.1}"{dash}/>"#,
            from.x, from.y, base.x, base.y, edge.width
        ),
        Some(c) => writeln!(
            svg,
            r#"<path d="M {:.1} {:.1} Q {:.1} {:.1} {:.1} {:.1}" fill="none" stroke="{color}" stroke-width="{:.1}"{dash}/>"#,
            from.x, from.y, c.x, c.y, base.x, base.y, edge.width
        ),
    };
    let (a, b) = (base + normal, base - normal);
    let _ = writeln!(
        svg,
        r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{color}"/>"#,
        tip.x, tip.y, a.x, a.y, b.x, b.y
    );
    // As on the canvas: a label with no free place along its edge is left out.
    if !edge.label.is_empty() && (!edge.label_hidden || edge.highlighted) {
        let mid = edge_point(from, control, to, edge.label_t);
        let _ = writeln!(
            svg,
            r#"<text x="{:.1}" y="{:.1}" font-size="{}" fill="{}" text-anchor="middle">{}</text>"#,
            mid.x,
            mid.y - 4.0,
            theme::CANVAS_DETAIL_SIZE,
            hex(theme::LABEL_DETAIL),
            escape(&edge.label)
        );
    }
}

fn write_node(svg: &mut String, c: Pos2, node: &NodeView) {
    let h = half_extent(node.kind);
    let (fill, stroke) = match node.kind {
        NodeKind::Service => (theme::SERVICE, theme::FAILURE),
        NodeKind::Destination => (theme::DESTINATION, theme::FAILURE),
        NodeKind::ConsumerGroup => (theme::CONSUMER_GROUP, theme::FAILURE),
    };
    let outline = if node.failing { format!(r#" stroke="{}" stroke-width="2.5""#, hex(stroke)) } else { String::new() };
    let fill = hex(fill);
    let _ = match node.kind {
        NodeKind::Service => {
            writeln!(svg, r#"<circle cx="{:.1}" cy="{:.1}" r="{:.1}" fill="{fill}"{outline}/>"#, c.x, c.y, h.x)
        }
        NodeKind::Destination => writeln!(
            svg,
            r#"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" rx="6" fill="{fill}"{outline}/>"#,
            c.x - h.x,
            c.y - h.y,
            2.0 * h.x,
            2.0 * h.y
        ),
        NodeKind::ConsumerGroup => writeln!(
            svg,
            r#"<polygon points="{:.1},{:.1} {:.1},{:.1} {:.1},{:.1} {:.1},{:.1}" fill="{fill}"{outline}/>"#,
            c.x,
            c.y - h.y,
            c.x + h.x,
            c.y,
            c.x,
            c.y + h.y,
            c.x - h.x,
            c.y
        ),
    };
    let below = c.y + h.y + 3.0 + theme::CANVAS_NAME_SIZE;
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" font-size="{}" fill="{}" text-anchor="middle">{}</text>"#,
        c.x,
        below,
        theme::CANVAS_NAME_SIZE,
        hex(theme::LABEL),
        escape(&node.label)
    );
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" font-size="{}" fill="{}" text-anchor="middle">{}</text>"#,
        c.x,
        below + theme::CANVAS_DETAIL_SIZE + 2.0,
        theme::CANVAS_DETAIL_SIZE,
        hex(theme::LABEL_DETAIL),
        escape(&node.detail)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EngineState;
    use crate::model::record::{Record, SourceKind, SpanBatch};
    use crate::model::span::SpanKind;
    use crate::testing::{consumer_linked, producer, span};

    /// The SVG of the canvas laid out for these spans.
    fn svg_of(spans: Vec<crate::model::span::Span>) -> String {
        let mut state = EngineState::default();
        state.apply(&Record::Spans(SpanBatch { received_unix_nano: 0, source: SourceKind::File, spans }));
        let mut view = FlowView::default();
        view.sync(&state.snapshot(1), "", None, None);
        flow_svg(&view)
    }

    #[test]
    fn the_svg_has_every_node_edge_and_label_where_the_canvas_puts_them() {
        let mut client = span("checkout", "GET /price", SpanKind::Client).ids(9, 90).build();
        client.status = crate::model::span::StatusCode::Error;
        let server = span("pricing <svc>", "GET /price", SpanKind::Server).ids(9, 91).parent(90).build();
        let svg = svg_of(vec![
            producer("checkout", "kafka", "orders", 1, 1),
            consumer_linked("billing", "kafka", "orders", 2, 2, (1, 1)),
            client,
            server,
        ]);
        assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert!(svg.trim_end().ends_with("</svg>"));
        for label in [">checkout<", ">kafka/orders<", ">billing<", ">pricing &lt;svc&gt;<"] {
            assert!(svg.contains(label), "{label} missing");
        }
        assert_eq!(svg.matches("<circle").count(), 3, "three services");
        assert_eq!(svg.matches("<rect x=").count(), 1, "one topic");
        assert_eq!(svg.matches("<line").count(), 3, "three edges");
        assert_eq!(svg.matches("stroke-dasharray").count(), 1, "the call is dashed");
        assert!(svg.contains(&format!("stroke=\"{}\"", hex(theme::FAILURE))), "the failing client is outlined");
    }

    #[test]
    fn an_edge_that_skips_layers_is_a_curve_as_on_the_canvas() {
        // checkout -> orders -> billing -> invoices, and checkout reading invoices too: its
        // consume edge runs from the last layer back to the first.
        let svg = svg_of(vec![
            producer("checkout", "kafka", "orders", 1, 1),
            consumer_linked("billing", "kafka", "orders", 2, 2, (1, 1)),
            producer("billing", "kafka", "invoices", 2, 3),
            consumer_linked("checkout", "kafka", "invoices", 3, 4, (2, 3)),
        ]);
        assert_eq!(svg.matches("<line").count(), 3, "{svg}");
        assert_eq!(svg.matches("<path d=\"M").count(), 1, "{svg}");
    }
}
