//! A warning that repeats per item (a message it cannot decode, a broker it cannot reach,
//! retried every second): logged the first time, then at most once per interval with how
//! many occurrences went unlogged, so a flood of one problem costs a line per interval and
//! no occurrence goes uncounted.

use std::time::{Duration, Instant};

/// How often a repeating warning is logged at most, by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(30);

/// One kind of repeating warning: its counts, and when it was last logged.
#[derive(Clone, Debug)]
pub struct Repeated {
    interval: Duration,
    last_logged: Option<Instant>,
    unlogged: u64,
    total: u64,
}

impl Default for Repeated {
    fn default() -> Self {
        Self::new(DEFAULT_INTERVAL)
    }
}

impl Repeated {
    /// Logged at most once per `interval`.
    pub fn new(interval: Duration) -> Self {
        Self { interval, last_logged: None, unlogged: 0, total: 0 }
    }

    /// Counts one occurrence at `now`. `Some(n)` when it is to be logged, `n` being the
    /// occurrences since the last logged one that were not; `None` to stay quiet.
    pub fn occur(&mut self, now: Instant) -> Option<u64> {
        self.total += 1;
        if self.last_logged.is_some_and(|at| now.duration_since(at) < self.interval) {
            self.unlogged += 1;
            return None;
        }
        self.last_logged = Some(now);
        Some(std::mem::take(&mut self.unlogged))
    }

    /// Every occurrence counted, logged or not.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// " (and N more since)" for a log line, empty when none went unlogged.
    pub fn suffix(unlogged: u64) -> String {
        if unlogged == 0 { String::new() } else { format!(" (and {unlogged} more like it since)") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_is_logged_then_one_per_interval_with_what_was_held_back() {
        let mut r = Repeated::new(Duration::from_secs(10));
        let start = Instant::now();
        assert_eq!(r.occur(start), Some(0));
        for i in 1..=5 {
            assert_eq!(r.occur(start + Duration::from_secs(i)), None);
        }
        assert_eq!(r.occur(start + Duration::from_secs(11)), Some(5));
        assert_eq!(r.occur(start + Duration::from_secs(12)), None);
        assert_eq!(r.total(), 8);
        assert_eq!(Repeated::suffix(5), " (and 5 more like it since)");
        assert_eq!(Repeated::suffix(0), "");
    }
}
