//! Counters, rate windows and latency histograms for one graph element.
//!
//! Rates and sparklines come from a bounded per-second history; percentiles from an
//! HDR histogram (`hdrhistogram`), which gives fixed relative error in fixed memory.

use std::collections::VecDeque;

use hdrhistogram::Histogram;
use serde::Serialize;

/// How many seconds of per-second history each element keeps (ten minutes).
pub const HISTORY_SECONDS: usize = 600;

/// The rate windows shown everywhere, in seconds.
pub const RATE_WINDOWS: [u64; 3] = [1, 10, 60];

/// Latency is recorded in microseconds between 1 µs and one hour, two significant digits.
const LATENCY_MAX_MICROS: u64 = 3_600_000_000;

/// A latency distribution in microseconds.
#[derive(Clone, Debug)]
pub struct LatencyHistogram(Option<Histogram<u64>>);

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self(Histogram::new_with_bounds(1, LATENCY_MAX_MICROS, 2).ok())
    }
}

impl LatencyHistogram {
    /// Records one duration given in nanoseconds; out-of-range values are clamped.
    pub fn record_nanos(&mut self, nanos: u64) {
        if let Some(h) = &mut self.0 {
            h.saturating_record((nanos / 1_000).clamp(1, LATENCY_MAX_MICROS));
        }
    }

    /// Number of recorded values.
    pub fn len(&self) -> u64 {
        self.0.as_ref().map_or(0, Histogram::len)
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at a quantile (0..=1) in microseconds, `None` when empty.
    pub fn quantile_micros(&self, quantile: f64) -> Option<u64> {
        self.0.as_ref().filter(|h| !h.is_empty()).map(|h| h.median_equivalent(h.value_at_quantile(quantile)))
    }

    /// p50, p90, p99 and max in microseconds.
    pub fn summary(&self) -> Option<Percentiles> {
        let h = self.0.as_ref().filter(|h| !h.is_empty())?;
        // Report each bucket's middle value: closer to what was recorded than its upper edge.
        let at = |q| h.median_equivalent(h.value_at_quantile(q));
        Some(Percentiles { p50_us: at(0.5), p90_us: at(0.9), p99_us: at(0.99), max_us: at(1.0) })
    }

    fn reset(&mut self) {
        if let Some(h) = &mut self.0 {
            h.reset();
        }
    }
}

/// Percentiles of a latency distribution, in microseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Percentiles {
    /// Median.
    pub p50_us: u64,
    /// 90th percentile.
    pub p90_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// Largest value seen.
    pub max_us: u64,
}

/// One second of activity, for rates and sparklines.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct SecondPoint {
    /// Unix second.
    pub second: u64,
    /// Messages (or spans) in that second.
    pub count: u64,
    /// Failures in that second.
    pub failures: u64,
    /// Median latency of that second, µs.
    pub p50_us: Option<u64>,
    /// 99th percentile latency of that second, µs.
    pub p99_us: Option<u64>,
}

/// Counters, history and latency for one node or edge.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    count: u64,
    failures: u64,
    latency: LatencyHistogram,
    history: VecDeque<SecondPoint>,
    /// Latency of the newest second, folded into its [`SecondPoint`] when the second closes.
    current_second_latency: LatencyHistogram,
}

impl Stats {
    /// Records `messages` occurrences at Unix second `second`, one latency sample, and
    /// whether it failed (a failed batch counts as one failure).
    pub fn record(&mut self, second: u64, messages: u64, failed: bool, latency_nanos: Option<u64>) {
        self.count += messages;
        self.failures += u64::from(failed);
        if let Some(nanos) = latency_nanos {
            self.latency.record_nanos(nanos);
        }
        let index = self.index_for(second);
        let is_newest = index + 1 == self.history.len();
        if let (Some(nanos), true) = (latency_nanos, is_newest) {
            // Per-second percentiles are kept for the newest second only; a late sample
            // still counts in the totals above.
            self.current_second_latency.record_nanos(nanos);
        }
        let point = &mut self.history[index];
        point.count += messages;
        point.failures += u64::from(failed);
    }

    /// Writes the newest second's percentiles into its point; called when that second closes.
    fn close_newest_second(&mut self) {
        let p50 = self.current_second_latency.quantile_micros(0.5);
        let p99 = self.current_second_latency.quantile_micros(0.99);
        if let Some(last) = self.history.back_mut() {
            last.p50_us = p50;
            last.p99_us = p99;
        }
        self.current_second_latency.reset();
    }

    /// The history slot for `second`, creating it when needed. A second older than anything
    /// kept folds into the oldest slot so totals and history never disagree by much.
    fn index_for(&mut self, second: u64) -> usize {
        let newest = self.history.back().map(|p| p.second);
        match newest {
            Some(newest) if second == newest => self.history.len() - 1,
            Some(newest) if second < newest => {
                let pos = self.history.partition_point(|p| p.second < second);
                if self.history[pos].second == second || pos == 0 {
                    return pos;
                }
                self.history.insert(pos, SecondPoint::empty(second));
                if self.history.len() > HISTORY_SECONDS {
                    self.history.pop_front();
                    return pos - 1;
                }
                pos
            }
            _ => {
                self.close_newest_second();
                if self.history.len() == HISTORY_SECONDS {
                    self.history.pop_front();
                }
                self.history.push_back(SecondPoint::empty(second));
                self.history.len() - 1
            }
        }
    }

    /// Total messages.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Total failures.
    pub fn failures(&self) -> u64 {
        self.failures
    }

    /// The latency distribution.
    pub fn latency(&self) -> &LatencyHistogram {
        &self.latency
    }

    /// Messages per second over the `window` complete seconds before `now_second`. An element
    /// younger than the window is averaged over its age, so a new edge does not read low.
    pub fn rate(&self, now_second: u64, window: u64) -> f64 {
        let age = self.history.front().map_or(window, |first| now_second.saturating_sub(first.second));
        let window = window.min(age).max(1);
        let from = now_second.saturating_sub(window);
        let sum: u64 = self
            .history
            .iter()
            .rev()
            .take_while(|p| p.second >= from)
            .filter(|p| p.second < now_second)
            .map(|p| p.count)
            .sum();
        sum as f64 / window as f64
    }

    /// Rates over [`RATE_WINDOWS`].
    pub fn rates(&self, now_second: u64) -> [f64; 3] {
        RATE_WINDOWS.map(|w| self.rate(now_second, w))
    }

    /// The kept per-second history, oldest first, with the still-open newest second's
    /// percentiles filled in.
    pub fn history(&self) -> Vec<SecondPoint> {
        let mut points: Vec<SecondPoint> = self.history.iter().copied().collect();
        if let Some(last) = points.last_mut() {
            last.p50_us = self.current_second_latency.quantile_micros(0.5);
            last.p99_us = self.current_second_latency.quantile_micros(0.99);
        }
        points
    }

    /// Adds another element's counters into this one (used for derived totals).
    pub fn merge_counts_from(&mut self, other: &Stats) {
        self.count += other.count;
        self.failures += other.failures;
    }
}

impl SecondPoint {
    fn empty(second: u64) -> Self {
        Self { second, count: 0, failures: 0, p50_us: None, p99_us: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two significant digits: within 1%.
    fn assert_close(actual: Option<u64>, expected: u64) {
        let actual = actual.expect("a value");
        assert!(actual.abs_diff(expected) * 100 <= expected, "{actual} is not within 1% of {expected}");
    }

    #[test]
    fn counts_failures_and_rates() {
        let mut s = Stats::default();
        for second in 100..110 {
            s.record(second, 10, second == 105, Some(1_000_000));
        }
        assert_eq!(s.count(), 100);
        assert_eq!(s.failures(), 1);
        // Window of 10 complete seconds before 110 holds all 100 messages.
        assert!((s.rate(110, 10) - 10.0).abs() < f64::EPSILON);
        assert!((s.rate(110, 1) - 10.0).abs() < f64::EPSILON);
        // Nothing happened in the last second before 120.
        assert!(s.rate(120, 1).abs() < f64::EPSILON);
        // Ten seconds old: the 60 s rate averages over those ten seconds, not sixty.
        assert!((s.rate(110, 60) - 10.0).abs() < f64::EPSILON);
        assert_close(s.latency().quantile_micros(0.5), 1000);
    }

    #[test]
    fn late_records_land_in_their_second_and_history_is_bounded() {
        let mut s = Stats::default();
        s.record(10, 1, false, None);
        s.record(12, 1, false, None);
        s.record(11, 5, false, None);
        let seconds: Vec<(u64, u64)> = s.history().iter().map(|p| (p.second, p.count)).collect();
        assert_eq!(seconds, vec![(10, 1), (11, 5), (12, 1)]);
        for second in 0..(HISTORY_SECONDS as u64 * 2) {
            s.record(1000 + second, 1, false, None);
        }
        assert_eq!(s.history().len(), HISTORY_SECONDS);
    }

    #[test]
    fn per_second_percentiles_follow_the_newest_second() {
        let mut s = Stats::default();
        s.record(1, 1, false, Some(2_000_000));
        s.record(2, 1, false, Some(10_000));
        let points = s.history();
        assert_close(points[0].p50_us, 2000);
        assert_close(points[1].p50_us, 10);
    }
}
