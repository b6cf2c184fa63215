//! Consumer lag of one group on one partition: its history, and its status by Burrow's
//! sliding-window rules, adapted to polled offsets (see `docs/lag.md`).

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// One observation of a group's position on a partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LagSample {
    /// When it was observed, Unix ms.
    pub at_ms: u64,
    /// The committed offset.
    pub offset: i64,
    /// The partition's high watermark at the same poll.
    pub high: i64,
    /// `high - offset`, never negative (watermarks and commits are read a moment apart).
    pub lag: u64,
    /// Age of the oldest unconsumed message in ms; 0 with no lag, `None` when unknown.
    pub lag_ms: Option<u64>,
}

/// A partition's status, after Burrow's evaluation rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LagStatus {
    /// Fewer samples than the evaluation needs.
    #[default]
    Unknown,
    /// Caught up at some point in the window, or lag shrinking.
    Ok,
    /// Committing forward, but lag never shrank over the window: falling behind.
    Warn,
    /// Members are in the group, yet the offset did not move while there was lag.
    Stall,
    /// No progress over the window while there was lag, and no member is consuming.
    Stop,
    /// The committed offset went backwards.
    Rewind,
}

impl LagStatus {
    /// Upper-case name, as Burrow writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Ok => "OK",
            Self::Warn => "WARN",
            Self::Stall => "STALL",
            Self::Stop => "STOP",
            Self::Rewind => "REWIND",
        }
    }
}

/// A group's status: the worst of its partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupStatus {
    /// No committed offsets seen yet.
    #[default]
    NotFound,
    /// Every partition is OK (or not yet evaluated).
    Ok,
    /// Some partition is WARN.
    Warn,
    /// Some partition is STALL, STOP or REWIND.
    Err,
}

impl GroupStatus {
    /// The group's status from its partitions' statuses.
    pub fn of(partitions: impl IntoIterator<Item = LagStatus>) -> Self {
        partitions.into_iter().fold(Self::NotFound, |worst, p| {
            let this = match p {
                LagStatus::Unknown | LagStatus::Ok => Self::Ok,
                LagStatus::Warn => Self::Warn,
                LagStatus::Stall | LagStatus::Stop | LagStatus::Rewind => Self::Err,
            };
            worst.max(this)
        })
    }

    /// Upper-case name, as Burrow writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotFound => "NOTFOUND",
            Self::Ok => "OK",
            Self::Warn => "WARN",
            Self::Err => "ERR",
        }
    }
}

/// How lag is evaluated and kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LagSettings {
    /// Samples in the evaluation window (Burrow's `intervals`, default 10).
    pub window: usize,
    /// Samples kept per partition for the history chart (a day at the default 5 s poll).
    pub history: usize,
}

impl Default for LagSettings {
    fn default() -> Self {
        Self { window: 10, history: 17_280 }
    }
}

/// The fewest samples a status is evaluated from; below it the status is `Unknown`.
pub const MIN_SAMPLES: usize = 3;

/// One group's lag on one partition over the session.
#[derive(Clone, Debug, Default)]
pub struct PartitionLag {
    history: VecDeque<LagSample>,
    status: LagStatus,
    evicted: u64,
    max_lag: u64,
    max_lag_ms: Option<u64>,
}

impl crate::model::size::HeapSize for PartitionLag {
    /// Its history's ring buffer as allocated (the most of a group's memory: up to
    /// [`LagSettings::history`] samples).
    fn heap_bytes(&self) -> usize {
        self.history.capacity() * std::mem::size_of::<LagSample>()
    }
}

impl PartitionLag {
    /// Adds a sample and re-evaluates the status. `members_active` says whether a member of
    /// the group owns this partition (`None` when the cluster would not describe the group).
    pub fn push(&mut self, sample: LagSample, members_active: Option<bool>, settings: LagSettings) {
        if self.history.len() >= settings.history.max(settings.window) {
            self.history.pop_front();
            self.evicted += 1;
        }
        self.max_lag = self.max_lag.max(sample.lag);
        self.max_lag_ms = self.max_lag_ms.max(sample.lag_ms);
        self.history.push_back(sample);
        let start = self.history.len().saturating_sub(settings.window);
        let (a, b) = self.history.as_slices();
        let window: Vec<LagSample> = a.iter().chain(b).skip(start).copied().collect();
        self.status = evaluate(&window, members_active);
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<&LagSample> {
        self.history.back()
    }

    /// All kept samples, oldest first.
    pub fn history(&self) -> &VecDeque<LagSample> {
        &self.history
    }

    /// The status after the newest sample.
    pub fn status(&self) -> LagStatus {
        self.status
    }

    /// The largest lag seen this session, in offsets.
    pub fn max_lag(&self) -> u64 {
        self.max_lag
    }

    /// The largest lag seen this session, in ms.
    pub fn max_lag_ms(&self) -> Option<u64> {
        self.max_lag_ms
    }

    /// Samples dropped from the history to stay within its bound.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }
}

/// Burrow's rules over a window of samples, oldest first. With polled (rather than
/// streamed) commits, "the offset did not move" is all that can be seen; whether anyone is
/// still consuming comes from the group's members: a member owning the partition makes it
/// STALL, none (or unknown) makes it STOP.
pub fn evaluate(window: &[LagSample], members_active: Option<bool>) -> LagStatus {
    let Some(last) = window.last() else { return LagStatus::Unknown };
    // Rule 1, and Burrow's fix for idle partitions: no lag now, or at any point, is OK.
    if last.lag == 0 || window.iter().any(|s| s.lag == 0) {
        return LagStatus::Ok;
    }
    if window.len() < MIN_SAMPLES {
        return LagStatus::Unknown;
    }
    if window.windows(2).any(|w| w[1].offset < w[0].offset) {
        return LagStatus::Rewind;
    }
    let first = window[0];
    if first.offset == last.offset {
        // Rules 2 and 4: no progress over the whole window with lag outstanding.
        return if members_active == Some(true) { LagStatus::Stall } else { LagStatus::Stop };
    }
    // Rule 3: moving, but lag never shrank between two samples.
    if window.windows(2).all(|w| w[1].lag >= w[0].lag) && last.lag > first.lag {
        return LagStatus::Warn;
    }
    LagStatus::Ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(points: &[(i64, u64)]) -> Vec<LagSample> {
        points
            .iter()
            .enumerate()
            .map(|(i, &(offset, lag))| LagSample {
                at_ms: i as u64 * 1000,
                offset,
                high: offset + lag as i64,
                lag,
                lag_ms: None,
            })
            .collect()
    }

    #[test]
    fn any_zero_lag_is_ok() {
        assert_eq!(evaluate(&window(&[(10, 5), (10, 0), (10, 7), (10, 9)]), None), LagStatus::Ok);
        // An idle, caught-up partition never commits again: still OK, not STOP.
        assert_eq!(evaluate(&window(&[(10, 0), (10, 0), (10, 0)]), None), LagStatus::Ok);
    }

    #[test]
    fn too_few_samples_is_unknown() {
        assert_eq!(evaluate(&window(&[(10, 5), (10, 6)]), None), LagStatus::Unknown);
    }

    #[test]
    fn offset_going_back_is_rewind() {
        assert_eq!(evaluate(&window(&[(10, 5), (12, 5), (3, 14)]), Some(true)), LagStatus::Rewind);
    }

    #[test]
    fn no_progress_is_stall_with_members_and_stop_without() {
        let w = window(&[(10, 5), (10, 8), (10, 9)]);
        assert_eq!(evaluate(&w, Some(true)), LagStatus::Stall);
        assert_eq!(evaluate(&w, Some(false)), LagStatus::Stop);
        assert_eq!(evaluate(&w, None), LagStatus::Stop);
    }

    #[test]
    fn moving_but_falling_behind_is_warn_and_catching_up_is_ok() {
        assert_eq!(evaluate(&window(&[(10, 5), (12, 8), (15, 8), (20, 12)]), Some(true)), LagStatus::Warn);
        assert_eq!(evaluate(&window(&[(10, 5), (12, 8), (15, 6), (20, 12)]), Some(true)), LagStatus::Ok);
    }

    #[test]
    fn group_status_is_the_worst_partition() {
        assert_eq!(GroupStatus::of([]), GroupStatus::NotFound);
        assert_eq!(GroupStatus::of([LagStatus::Ok, LagStatus::Unknown]), GroupStatus::Ok);
        assert_eq!(GroupStatus::of([LagStatus::Ok, LagStatus::Warn]), GroupStatus::Warn);
        assert_eq!(GroupStatus::of([LagStatus::Warn, LagStatus::Stop, LagStatus::Ok]), GroupStatus::Err);
    }

    #[test]
    fn history_is_bounded_and_keeps_the_maximum() {
        let settings = LagSettings { window: 3, history: 4 };
        let mut p = PartitionLag::default();
        for (i, lag) in [3u64, 9, 4, 2, 1, 0].into_iter().enumerate() {
            let sample =
                LagSample { at_ms: i as u64, offset: i as i64, high: i as i64 + lag as i64, lag, lag_ms: None };
            p.push(sample, Some(true), settings);
        }
        assert_eq!(p.history().len(), 4);
        assert_eq!(p.evicted(), 2);
        assert_eq!(p.max_lag(), 9);
        assert_eq!(p.latest().map(|s| s.lag), Some(0));
        assert_eq!(p.status(), LagStatus::Ok);
    }
}
