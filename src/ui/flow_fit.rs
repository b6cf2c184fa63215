//! Fitting the flow graph to the canvas, and gliding the view there rather than jumping.
//!
//! A view that jumps loses the reader: after Fit, a focus or a graph that grew, they have to
//! find again what they were looking at. The view glides for
//! [`theme::FIT_ANIMATION_SECONDS`], zooming evenly (by ratio, not by difference) while the
//! point at the canvas' centre travels straight to its new place, the way map viewers move.
//! The first fit of a canvas jumps: there is nothing to follow yet.

use egui::{Pos2, Rect, Vec2};

use super::theme;

/// A view of the canvas: screen = canvas × `zoom` + `pan`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewTransform {
    /// Screen points per canvas unit.
    pub zoom: f32,
    /// Where the canvas' origin is, relative to the widget's top left.
    pub pan: Vec2,
}

impl ViewTransform {
    /// The canvas point shown at `screen` (relative to the widget).
    fn canvas_at(self, screen: Vec2) -> Vec2 {
        (screen - self.pan) / self.zoom
    }

    /// Whether the two differ by less than anyone could see.
    fn close_to(self, other: Self) -> bool {
        (self.zoom / other.zoom - 1.0).abs() < 1e-3 && (self.pan - other.pan).length() < 0.5
    }
}

/// The view that shows `bounds` (canvas units, margins included) in a widget of `size`:
/// as large as fits, between `zooms` (the least at which names read, the most for a lone
/// node), centred along each side that fits and from its start along a side that does not
/// (the rest scrolls).
pub fn fit_transform(bounds: Rect, size: Vec2, (least, most): (f32, f32)) -> ViewTransform {
    let extent = bounds.size().max(Vec2::splat(1.0));
    let whole = (size.x / extent.x).min(size.y / extent.y);
    let zoom = whole.clamp(least, most);
    let along = |size: f32, min: f32, max: f32| {
        if (max - min) * zoom <= size { size / 2.0 - (min + max) / 2.0 * zoom } else { -min * zoom }
    };
    let pan = Vec2::new(along(size.x, bounds.min.x, bounds.max.x), along(size.y, bounds.min.y, bounds.max.y));
    ViewTransform { zoom, pan }
}

/// The smallest rectangle holding `points`; `None` when there are none.
pub fn bounds_of(mut points: impl Iterator<Item = Pos2>) -> Option<Rect> {
    let first = points.next()?;
    Some(points.fold(Rect::from_min_max(first, first), |r, p| r.union(Rect::from_min_max(p, p))))
}

/// The view on its way to a fit.
#[derive(Clone, Copy, Debug)]
struct Glide {
    from: ViewTransform,
    to: ViewTransform,
    started: f64,
}

/// Moves the view to where fitting wants it, over a short glide.
#[derive(Clone, Debug, Default)]
pub struct ViewMotion {
    glide: Option<Glide>,
    /// Whether the canvas was fitted before: the first fit jumps.
    fitted: bool,
}

impl ViewMotion {
    /// The view to draw at `now` (seconds, egui's clock), going from `current` to `target`
    /// in a widget of `size`, and whether it is still moving (ask for another frame). A
    /// target that changes on the way starts a new glide from where the view is.
    pub fn toward(
        &mut self,
        current: ViewTransform,
        target: ViewTransform,
        size: Vec2,
        now: f64,
    ) -> (ViewTransform, bool) {
        if !std::mem::replace(&mut self.fitted, true) {
            return (target, false);
        }
        let glide = match self.glide {
            Some(glide) if glide.to.close_to(target) => glide,
            _ if current.close_to(target) => {
                self.glide = None;
                return (target, false);
            }
            _ => *self.glide.insert(Glide { from: current, to: target, started: now }),
        };
        let t = ((now - glide.started) / theme::FIT_ANIMATION_SECONDS).clamp(0.0, 1.0) as f32;
        if t >= 1.0 {
            self.glide = None;
            return (target, false);
        }
        (between(glide.from, glide.to, ease_out(t), size / 2.0), true)
    }

    /// The user took the view over (zoomed or panned): the glide ends where it is.
    pub fn stop(&mut self) {
        self.glide = None;
    }

    /// Whether the view is gliding.
    pub fn moving(&self) -> bool {
        self.glide.is_some()
    }
}

/// Fast at first, settling gently: the view's glide and the nodes' (`flow_placement`).
pub(super) fn ease_out(t: f32) -> f32 {
    1.0 - (1.0 - t).powi(3)
}

/// The view `t` of the way from `from` to `to`: the zoom by equal ratios, the canvas point
/// at the widget's `centre` in a straight line.
fn between(from: ViewTransform, to: ViewTransform, t: f32, centre: Vec2) -> ViewTransform {
    let zoom = from.zoom * (to.zoom / from.zoom).powf(t);
    let (a, b) = (from.canvas_at(centre), to.canvas_at(centre));
    let looked_at = a + (b - a) * t;
    ViewTransform { zoom, pan: centre - looked_at * zoom }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIZE: Vec2 = Vec2::new(1000.0, 600.0);

    fn view(zoom: f32, x: f32, y: f32) -> ViewTransform {
        ViewTransform { zoom, pan: Vec2::new(x, y) }
    }

    #[test]
    fn the_first_fit_jumps_and_a_later_one_glides_there_and_stops() {
        let mut motion = ViewMotion::default();
        let (start, target) = (view(1.0, 0.0, 0.0), view(0.5, 200.0, 100.0));
        assert_eq!(motion.toward(start, target, SIZE, 0.0), (target, false));

        // The user zoomed in; Fit glides back.
        let zoomed = view(2.0, -300.0, -100.0);
        let (first, moving) = motion.toward(zoomed, target, SIZE, 10.0);
        assert!(moving && first.close_to(zoomed), "it starts where the view is: {first:?}");
        let mut last = first;
        let mut t = 10.0;
        while t < 10.0 + theme::FIT_ANIMATION_SECONDS {
            t += 0.05;
            let (now, moving) = motion.toward(last, target, SIZE, t);
            // The zoom only ever falls toward the target, never past it.
            assert!(now.zoom <= last.zoom + 1e-6 && now.zoom >= target.zoom - 1e-6, "{now:?} after {last:?}");
            last = now;
            if !moving {
                break;
            }
        }
        assert_eq!(last, target);
        assert!(!motion.moving());
        // Arrived: nothing more to draw.
        assert_eq!(motion.toward(target, target, SIZE, t + 1.0), (target, false));
    }

    #[test]
    fn halfway_the_zoom_is_the_geometric_mean_and_the_centre_point_is_halfway() {
        let (from, to) = (view(4.0, 0.0, 0.0), view(1.0, 500.0, 300.0));
        let centre = SIZE / 2.0;
        let mid = between(from, to, 0.5, centre);
        assert!((mid.zoom - 2.0).abs() < 1e-5, "{mid:?}");
        let expected = (from.canvas_at(centre) + to.canvas_at(centre)) / 2.0;
        assert!((mid.canvas_at(centre) - expected).length() < 1e-3);
    }

    #[test]
    fn a_target_that_moves_on_the_way_is_followed_from_where_the_view_is() {
        let mut motion = ViewMotion::default();
        let a = view(1.0, 0.0, 0.0);
        motion.toward(a, a, SIZE, 0.0);
        let (b, c) = (view(0.5, 100.0, 0.0), view(0.25, 300.0, 50.0));
        let (on_way, _) = motion.toward(a, b, SIZE, 1.0);
        let (later, moving) = motion.toward(on_way, b, SIZE, 1.1);
        assert!(moving);
        // The graph grew: the new glide starts at the view drawn, not back at `a`.
        let (next, moving) = motion.toward(later, c, SIZE, 1.15);
        assert!(moving && next.close_to(later), "{next:?} against {later:?}");
        motion.stop();
        assert!(!motion.moving());
    }

    #[test]
    fn a_fit_centres_what_fits_and_starts_what_does_not_at_its_top_left() {
        let small = Rect::from_min_max(Pos2::new(0.0, 0.0), Pos2::new(100.0, 50.0));
        let fit = fit_transform(small, SIZE, (0.5, 1.4));
        assert_eq!(fit.zoom, 1.4);
        assert!((fit.pan.x - (500.0 - 50.0 * 1.4)).abs() < 1e-3);
        let wide = Rect::from_min_max(Pos2::new(-100.0, 0.0), Pos2::new(10_000.0, 100.0));
        let fit = fit_transform(wide, SIZE, (0.5, 1.4));
        assert_eq!(fit.zoom, 0.5);
        assert_eq!(fit.pan.x, 50.0, "its left edge at the widget's");
        assert_eq!(
            bounds_of([Pos2::new(1.0, 5.0), Pos2::new(-2.0, 3.0)].into_iter()),
            Some(Rect::from_min_max(Pos2::new(-2.0, 3.0), Pos2::new(1.0, 5.0)))
        );
        assert_eq!(bounds_of(std::iter::empty()), None);
    }
}
