//! Counters, rate windows and latency histograms for one graph element.
//!
//! Rates and sparklines come from a bounded per-second history; percentiles from an
//! HDR histogram (`hdrhistogram`), which gives fixed relative error in fixed memory.
//!
//! Every node and edge of the flow graph holds two or three of these, so their size decides
//! how large a graph the memory budget's share holds. A histogram is made at the first
//! latency recorded (an element's time-in-topic statistics often never get one), the newest
//! second's percentiles come from a bounded sample instead of a second histogram (which
//! was cleared, 26 KB, every second), and a second of history takes 24 bytes.

use std::collections::VecDeque;

use hdrhistogram::Histogram;
use serde::Serialize;

use super::size::{HISTOGRAM_BYTES, HeapSize};

/// How many seconds of per-second history each element keeps (ten minutes).
pub const HISTORY_SECONDS: usize = 600;

/// The rate windows shown everywhere, in seconds.
pub const RATE_WINDOWS: [u64; 3] = [1, 10, 60];

/// Latency is recorded in microseconds between 1 µs and one hour, two significant digits.
const LATENCY_MAX_MICROS: u64 = 3_600_000_000;

/// Latency samples kept for the newest second's percentiles, at most (see [`SecondSamples`]).
pub const SECOND_SAMPLES: usize = 128;

/// Bytes of one kept second of history.
pub const HISTORY_POINT_BYTES: usize = std::mem::size_of::<Second>();

/// A latency distribution in microseconds, allocated at its first sample.
#[derive(Clone, Debug, Default)]
pub struct LatencyHistogram(Option<Histogram<u32>>);

impl LatencyHistogram {
    /// Records one duration given in nanoseconds; out-of-range values are clamped.
    pub fn record_nanos(&mut self, nanos: u64) {
        let histogram = match &mut self.0 {
            Some(histogram) => histogram,
            // The bounds are constants hdrhistogram accepts; were they refused, latency
            // would stay unrecorded rather than fail the span.
            None => match Histogram::new_with_bounds(1, LATENCY_MAX_MICROS, 2) {
                Ok(histogram) => self.0.insert(histogram),
                Err(_) => return,
            },
        };
        histogram.saturating_record(micros_of(nanos));
    }

    /// Number of recorded values.
    pub fn len(&self) -> u64 {
        self.0.as_ref().map_or(0, Histogram::len)
    }

    /// True when nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// True once a sample made the histogram (what [`crate::model::size`] counts).
    pub fn is_allocated(&self) -> bool {
        self.0.is_some()
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
}

fn micros_of(nanos: u64) -> u64 {
    (nanos / 1_000).clamp(1, LATENCY_MAX_MICROS)
}

/// The newest second's latency samples, for that second's p50 and p99: every sample up to
/// [`SECOND_SAMPLES`]; past that, every other one kept is dropped and from then on one in
/// two (then four, eight...) is kept, so a busy second is sampled evenly in bounded memory.
/// Percentiles of a second with at most [`SECOND_SAMPLES`] samples are exact.
#[derive(Clone, Debug, Default)]
struct SecondSamples {
    micros: Vec<u32>,
    /// Keep one sample in `stride` (0 and 1 both mean all).
    stride: u32,
    /// Samples passed over since the last one kept.
    passed: u32,
}

impl SecondSamples {
    fn record(&mut self, nanos: u64) {
        if self.stride > 1 {
            self.passed += 1;
            if self.passed < self.stride {
                return;
            }
            self.passed = 0;
        }
        if self.micros.len() == SECOND_SAMPLES {
            let mut index = 0;
            self.micros.retain(|_| {
                index += 1;
                index % 2 == 1
            });
            self.stride = self.stride.max(1) * 2;
        }
        // At most an hour in microseconds, which fits 32 bits.
        self.micros.push(u32::try_from(micros_of(nanos)).unwrap_or(u32::MAX));
    }

    /// The median and 99th percentile by nearest rank, `None` without samples.
    fn percentiles(&self) -> (Option<u64>, Option<u64>) {
        if self.micros.is_empty() {
            return (None, None);
        }
        let mut sorted = self.micros.clone();
        sorted.sort_unstable();
        let at = |q: f64| {
            // Nearest rank: the smallest sample with at least `q` of them at or below it.
            let rank = (q * sorted.len() as f64).ceil() as usize;
            sorted.get(rank.clamp(1, sorted.len()) - 1).map(|m| u64::from(*m))
        };
        (at(0.5), at(0.99))
    }

    fn clear(&mut self) {
        self.micros.clear();
        self.stride = 1;
        self.passed = 0;
    }

    fn heap_bytes(&self) -> usize {
        self.micros.capacity() * std::mem::size_of::<u32>()
    }
}

/// One kept second, as [`Stats`] stores it; read out as a [`SecondPoint`].
#[derive(Clone, Copy, Debug)]
struct Second {
    second: u64,
    count: u32,
    failures: u32,
    /// Percentiles in microseconds, [`Second::NONE`] when the second had no latency.
    p50_us: u32,
    p99_us: u32,
}

impl Second {
    const NONE: u32 = u32::MAX;

    fn empty(second: u64) -> Self {
        Self { second, count: 0, failures: 0, p50_us: Self::NONE, p99_us: Self::NONE }
    }

    fn point(self) -> SecondPoint {
        let micros = |m: u32| (m != Self::NONE).then_some(u64::from(m));
        SecondPoint {
            second: self.second,
            count: u64::from(self.count),
            failures: u64::from(self.failures),
            p50_us: micros(self.p50_us),
            p99_us: micros(self.p99_us),
        }
    }
}

/// A percentile for a [`Second`]: at most an hour in microseconds, which fits below
/// [`Second::NONE`].
fn stored(micros: Option<u64>) -> u32 {
    micros.and_then(|m| u32::try_from(m).ok()).map_or(Second::NONE, |m| m.min(Second::NONE - 1))
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
    history: VecDeque<Second>,
    /// Latency samples of the newest second, folded into its point when the second closes.
    newest_second: SecondSamples,
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
            self.newest_second.record(nanos);
        }
        let point = &mut self.history[index];
        point.count = point.count.saturating_add(u32::try_from(messages).unwrap_or(u32::MAX));
        point.failures = point.failures.saturating_add(u32::from(failed));
    }

    /// Writes the newest second's percentiles into its point; called when that second closes.
    fn close_newest_second(&mut self) {
        let (p50, p99) = self.newest_second.percentiles();
        if let Some(last) = self.history.back_mut() {
            last.p50_us = stored(p50);
            last.p99_us = stored(p99);
        }
        self.newest_second.clear();
    }

    /// Room for one more second: the ring buffer doubles until it holds
    /// [`HISTORY_SECONDS`], and never grows past it.
    fn make_room(&mut self) {
        let capacity = self.history.capacity();
        if self.history.len() == capacity && capacity < HISTORY_SECONDS {
            self.history.reserve_exact(capacity.max(4).min(HISTORY_SECONDS - capacity));
        }
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
                if self.history.len() == HISTORY_SECONDS {
                    // Full: the oldest second goes to make room, and `pos` moves down.
                    self.history.pop_front();
                    self.history.insert(pos - 1, Second::empty(second));
                    return pos - 1;
                }
                self.make_room();
                self.history.insert(pos, Second::empty(second));
                pos
            }
            _ => {
                self.close_newest_second();
                if self.history.len() == HISTORY_SECONDS {
                    self.history.pop_front();
                }
                self.make_room();
                self.history.push_back(Second::empty(second));
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
            .map(|p| u64::from(p.count))
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
        let mut points: Vec<SecondPoint> = self.history.iter().map(|s| s.point()).collect();
        if let Some(last) = points.last_mut() {
            (last.p50_us, last.p99_us) = self.newest_second.percentiles();
        }
        points
    }

    /// Adds another element's counters into this one (used for derived totals).
    pub fn merge_counts_from(&mut self, other: &Stats) {
        self.count += other.count;
        self.failures += other.failures;
    }
}

impl HeapSize for Stats {
    /// Its histogram once made, the newest second's samples and its history's ring buffer, at
    /// their capacities.
    fn heap_bytes(&self) -> usize {
        let histogram = if self.latency.is_allocated() { HISTOGRAM_BYTES } else { 0 };
        histogram + self.newest_second.heap_bytes() + self.history.capacity() * HISTORY_POINT_BYTES
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

    #[test]
    fn a_busy_second_is_sampled_evenly_in_bounded_memory() {
        let mut s = Stats::default();
        // 10,000 samples of 1..=10,000 µs in one second, in a shuffled order.
        for i in 0..10_000_u64 {
            let micros = (i * 7_919) % 10_000 + 1;
            s.record(1, 1, false, Some(micros * 1_000));
        }
        assert!(s.newest_second.micros.capacity() <= SECOND_SAMPLES);
        s.record(2, 1, false, Some(1_000));
        let first = s.history()[0];
        let p50 = first.p50_us.expect("a median");
        let p99 = first.p99_us.expect("a 99th percentile");
        assert!(p50.abs_diff(5_000) <= 500, "p50 {p50}");
        assert!(p99.abs_diff(9_900) <= 200, "p99 {p99}");
        // A quiet second's percentiles are exact: nearest rank over all its samples.
        for micros in [30, 10, 20] {
            s.record(3, 1, false, Some(micros * 1_000));
        }
        let third = s.history()[2];
        assert_eq!((third.p50_us, third.p99_us), (Some(20), Some(30)));
    }
}
