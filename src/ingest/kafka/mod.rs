//! The Kafka source: watches a cluster's topics, groups, watermarks and committed offsets
//! through librdkafka (rdkafka) and sends what it sees to the engine as records.
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

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::Sender;

pub use config::KafkaConfig;

use crate::engine::SourceBoard;
use crate::engine::snapshot::{SourceState, SourceStatus};
use crate::ingest::queue::RecordSender;

/// Consumer groups learned elsewhere (from spans), asked for at every poll so their lag is
/// read even when the cluster will not list groups.
pub type GroupHints = Arc<dyn Fn() -> Vec<String> + Send + Sync>;

/// A running Kafka source. Dropping it stops the poller.
#[derive(Debug)]
pub struct KafkaSource {
    stop: Option<Sender<()>>,
    join: Option<JoinHandle<()>>,
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
        if let Ok(mut sources) = board.lock() {
            sources.push(SourceStatus {
                name: name.clone(),
                address: config.bootstrap.clone(),
                state: SourceState::Connecting,
            });
        }
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        let poller = poller::Poller::new(config, sender, board, name, hints);
        let join = std::thread::Builder::new().name("eventlens-kafka".into()).spawn(move || poller.run(&stop_rx))?;
        Ok(Self { stop: Some(stop_tx), join: Some(join) })
    }

    /// Stops polling and waits for the thread (at most one in-flight broker request).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.try_send(());
        }
        if let Some(join) = self.join.take() {
            let _ = join.join();
        }
    }
}

impl Drop for KafkaSource {
    fn drop(&mut self) {
        self.stop();
    }
}
