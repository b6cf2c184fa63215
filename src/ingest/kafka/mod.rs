//! The Kafka source: watches a cluster's topics, groups, watermarks and committed offsets
//! through librdkafka (rdkafka), tails what is new in its topics, and sends what it sees to
//! the engine as records.
//!
//! Each cluster gets one named thread that polls on an interval with blocking librdkafka
//! calls; librdkafka runs its own broker threads underneath.

pub mod assignment;
pub mod browser;
pub mod config;
pub mod context;
pub mod otlp_topic;
pub mod poller;
pub mod reader;
pub mod tail;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::ingest::source_thread::{self, SourceThread};
pub use config::KafkaConfig;

use crate::pipeline::queue::RecordSender;
use crate::pipeline::sources::SourceBoard;

/// Consumer groups learned elsewhere (from spans), asked for at every poll so their lag is
/// read even when the cluster will not list groups.
pub type GroupHints = Arc<dyn Fn() -> Vec<String> + Send + Sync>;

/// A running Kafka source. Dropping it stops the poller.
#[derive(Debug)]
pub struct KafkaSource {
    thread: SourceThread,
    tail_skipped: Arc<AtomicU64>,
}

impl KafkaSource {
    /// Starts watching a cluster on its own thread.
    pub fn spawn(
        config: KafkaConfig,
        sender: RecordSender,
        board: SourceBoard,
        hints: GroupHints,
    ) -> std::io::Result<Self> {
        let name = poller::board_name(&config);
        source_thread::register(&board, &name, &config.bootstrap);
        let poller = poller::Poller::new(config, sender, board, name, hints);
        let tail_skipped = poller.tail_skipped();
        Ok(Self { thread: SourceThread::spawn("eventlens-kafka", move |stop| poller.run(&stop))?, tail_skipped })
    }

    /// New messages the tail passed over this session, because their partitions fell further
    /// behind than a poll's bound (or retention deleted them first); see [`tail`].
    pub fn tail_skipped(&self) -> u64 {
        self.tail_skipped.load(Ordering::Relaxed)
    }

    /// Stops polling and waits for the thread.
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}
