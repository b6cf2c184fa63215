//! The RabbitMQ source: watches a broker's exchanges, queues, bindings and consumers through
//! the management HTTP API (the `rabbitmq_management` plugin), polled like Kafka's offsets,
//! and sends what it sees to the engine as records. It only reads: nothing is declared,
//! consumed or acknowledged.
//!
//! Each broker gets one named thread making blocking HTTP requests.

pub mod config;
pub mod read;
pub mod watch;

pub use config::RabbitConfig;

use crate::ingest::source_thread::{self, SourceThread};
use crate::pipeline::queue::RecordSender;
use crate::pipeline::sources::SourceBoard;

/// A running RabbitMQ source. Dropping it stops the poller.
#[derive(Debug)]
pub struct RabbitSource {
    thread: SourceThread,
}

impl RabbitSource {
    /// Starts watching a broker on its own thread.
    pub fn spawn(config: RabbitConfig, sender: RecordSender, board: SourceBoard) -> std::io::Result<Self> {
        let name = format!("RabbitMQ {}", config.name);
        source_thread::register(&board, &name, &config.name);
        let watcher = watch::Watcher::new(config, sender, board, name);
        Ok(Self { thread: SourceThread::spawn("eventlens-rabbitmq", move |stop| watcher.run(&stop))? })
    }

    /// Stops polling and waits for the thread.
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}
