//! Queue depth: what RabbitMQ's queues and NATS JetStream's consumers have waiting, its
//! history, and a status by rules adapted from Burrow's (see `docs/brokers.md`). Depth is to
//! these brokers what lag is to Kafka; the rules read the same way as `lag`'s.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

/// Samples a depth's status is judged over: the newest ones, as Burrow's window.
pub const STATUS_WINDOW: usize = 10;

/// Samples kept per queue or consumer: an hour at the default 5 s poll at full resolution.
/// Past it the older half is thinned to every other sample (the deeper of each pair, so a
/// peak stays on the chart), counted in [`DepthHistory::dropped`]: the whole session stays,
/// the further back the coarser, in a bounded history.
pub const HISTORY_SAMPLES: usize = 720;

/// One poll's view of a queue or a consumer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepthSample {
    /// When it was polled, Unix ms.
    pub at_ms: u64,
    /// Messages waiting to be delivered (RabbitMQ `messages_ready`, JetStream `num_pending`).
    pub ready: u64,
    /// Delivered and not yet acknowledged (`messages_unacknowledged`, `num_ack_pending`).
    pub unacked: u64,
    /// A counter that moves forward with every acknowledgement (the ack floor's stream
    /// sequence, a queue's ack total): the rules read progress from it, not its value.
    pub acked: u64,
    /// Consumers attached and taking messages at the poll.
    pub consumers: u32,
}

impl DepthSample {
    /// Everything not yet acknowledged.
    pub fn depth(&self) -> u64 {
        self.ready + self.unacked
    }
}

/// A queue's or consumer's status over the newest [`STATUS_WINDOW`] samples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DepthStatus {
    /// Too few samples to judge.
    #[default]
    Unknown,
    /// Empty, or consumers present and the depth not growing.
    Ok,
    /// The depth grew at every poll of the window while consumers acknowledged: falling behind.
    Warn,
    /// Consumers present, messages ready, and not one acknowledgement over the window.
    Stall,
    /// Messages ready and no consumer at all.
    Stop,
}

impl DepthStatus {
    /// Upper-case name, as Burrow writes its statuses.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "UNKNOWN",
            Self::Ok => "OK",
            Self::Warn => "WARN",
            Self::Stall => "STALL",
            Self::Stop => "STOP",
        }
    }

    /// Judges the newest samples (oldest first). STOP needs one sample; the others two.
    pub fn of(window: &[DepthSample]) -> Self {
        let Some(last) = window.last() else { return Self::Unknown };
        if last.depth() == 0 {
            return Self::Ok;
        }
        if last.consumers == 0 && last.ready > 0 {
            return Self::Stop;
        }
        let Some(first) = window.first().filter(|_| window.len() >= 2) else { return Self::Unknown };
        let acked = last.acked > first.acked;
        if !acked && last.ready > 0 {
            return Self::Stall;
        }
        let growing = window.windows(2).all(|w| w[1].depth() > w[0].depth());
        if growing && acked { Self::Warn } else { Self::Ok }
    }
}

/// A depth's samples this session (at most [`HISTORY_SAMPLES`], older ones thinned), its
/// maxima and status.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct DepthHistory {
    samples: VecDeque<DepthSample>,
    /// Largest `ready` this session.
    pub max_ready: u64,
    /// Largest `unacked` this session.
    pub max_unacked: u64,
    /// Samples thinned out of the older half past [`HISTORY_SAMPLES`].
    pub dropped: u64,
    /// The status after the newest sample.
    pub status: DepthStatus,
}

impl DepthHistory {
    /// Adds a poll's sample and judges the window again.
    pub fn push(&mut self, sample: DepthSample) {
        if self.samples.len() == HISTORY_SAMPLES {
            self.thin_older_half();
        }
        self.max_ready = self.max_ready.max(sample.ready);
        self.max_unacked = self.max_unacked.max(sample.unacked);
        self.samples.push_back(sample);
        let from = self.samples.len().saturating_sub(STATUS_WINDOW);
        self.status = DepthStatus::of(&self.samples.make_contiguous()[from..]);
    }

    /// Keeps the deeper sample of each pair in the older half: the history halves its
    /// resolution there. The first sample stays, so the chart starts at the first poll; the
    /// newest half, which the status window reads, stays whole.
    fn thin_older_half(&mut self) {
        let half = self.samples.len() / 2;
        // In place: each pair's deeper sample moves to the front of the older half, and the
        // slots left behind are removed at once.
        let mut kept = 1;
        for pair in (1..half).step_by(2) {
            let second = (pair + 1).min(half - 1);
            let deeper = if self.samples[second].depth() >= self.samples[pair].depth() { second } else { pair };
            self.samples[kept] = self.samples[deeper];
            kept += 1;
        }
        self.dropped += (half - kept) as u64;
        self.samples.drain(kept..half);
    }

    /// The newest sample.
    pub fn latest(&self) -> Option<&DepthSample> {
        self.samples.back()
    }

    /// The samples kept, oldest first.
    pub fn samples(&self) -> impl ExactSizeIterator<Item = &DepthSample> {
        self.samples.iter()
    }

    /// Bytes held on the heap.
    pub fn heap_bytes(&self) -> usize {
        self.samples.capacity() * std::mem::size_of::<DepthSample>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(i: u64, ready: u64, unacked: u64, acked: u64, consumers: u32) -> DepthSample {
        DepthSample { at_ms: i * 5_000, ready, unacked, acked, consumers }
    }

    #[test]
    fn an_empty_queue_is_ok_whoever_consumes_it() {
        assert_eq!(DepthStatus::of(&[at(0, 0, 0, 0, 0)]), DepthStatus::Ok);
    }

    #[test]
    fn ready_messages_and_no_consumer_stop_at_the_first_poll() {
        assert_eq!(DepthStatus::of(&[at(0, 3, 0, 0, 0)]), DepthStatus::Stop);
        // Unacked with nobody attached is not STOP: the server will redeliver them.
        assert_eq!(DepthStatus::of(&[at(0, 0, 3, 0, 0)]), DepthStatus::Unknown);
    }

    #[test]
    fn consumers_that_never_acknowledge_stall_the_queue() {
        let window = [at(0, 10, 2, 7, 1), at(1, 10, 2, 7, 1), at(2, 12, 2, 7, 1)];
        assert_eq!(DepthStatus::of(&window), DepthStatus::Stall);
    }

    #[test]
    fn growing_at_every_poll_while_acknowledging_warns() {
        let window = [at(0, 10, 1, 5, 2), at(1, 14, 1, 9, 2), at(2, 20, 1, 12, 2)];
        assert_eq!(DepthStatus::of(&window), DepthStatus::Warn);
        // One poll where it shrank and the consumers are keeping up.
        let window = [at(0, 10, 1, 5, 2), at(1, 8, 1, 9, 2), at(2, 20, 1, 12, 2)];
        assert_eq!(DepthStatus::of(&window), DepthStatus::Ok);
    }

    #[test]
    fn a_sample_is_as_large_as_docs_brokers_md_says() {
        assert_eq!(std::mem::size_of::<DepthSample>(), 40);
    }

    #[test]
    fn history_keeps_its_bound_reaches_back_to_the_first_poll_and_keeps_the_peaks() {
        let mut history = DepthHistory::default();
        // Ten hours at the default poll; one spike early on.
        let polls = HISTORY_SAMPLES as u64 * 10;
        for i in 0..polls {
            let ready = if i == 101 { 50_000 } else { i };
            history.push(at(i, ready, 1, i, 1));
            assert!(history.samples().len() <= HISTORY_SAMPLES);
        }
        assert_eq!(history.dropped + history.samples().len() as u64, polls, "every sample kept or counted");
        let times: Vec<u64> = history.samples().map(|s| s.at_ms).collect();
        assert!(times.windows(2).all(|w| w[0] < w[1]), "in order");
        assert_eq!(times[0], 0, "it reaches back to the first poll");
        assert!(history.samples().any(|s| s.ready == 50_000), "the early spike is still charted");
        // The newest half is whole: the last 360 polls, every one.
        let newest: Vec<u64> = times[times.len() - HISTORY_SAMPLES / 2..].to_vec();
        let expected: Vec<u64> =
            ((polls - HISTORY_SAMPLES as u64 / 2)..polls).map(|i| at(i, 0, 0, 0, 0).at_ms).collect();
        assert_eq!(newest, expected);
        assert_eq!(history.max_ready, 50_000);
        assert_eq!(history.status, DepthStatus::Warn);
    }
}
