//! The NATS source: watches a server's JetStream streams and consumers through the JetStream
//! API (async-nats), polled like Kafka's offsets, and sends what it sees to the engine as
//! records. It never consumes, acknowledges or creates anything.
//!
//! Each server gets one named thread running a small tokio runtime: the poll loop on the
//! thread itself, async-nats's connection on the runtime's one worker.

pub mod browse;
pub mod config;
pub mod read;
pub mod watch;

pub use config::NatsConfig;

use crate::ingest::source_thread::{self, SourceThread};
use crate::pipeline::queue::RecordSender;
use crate::pipeline::sources::SourceBoard;

/// A running NATS source. Dropping it stops the poller.
#[derive(Debug)]
pub struct NatsSource {
    thread: SourceThread,
}

impl NatsSource {
    /// Starts watching a server on its own thread.
    pub fn spawn(config: NatsConfig, sender: RecordSender, board: SourceBoard) -> std::io::Result<Self> {
        let name = format!("NATS {}", config.name);
        source_thread::register(&board, &name, &config.name);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("eventlens-nats-io")
            .enable_all()
            .build()?;
        let watcher = watch::Watcher::new(config, sender, board, name);
        let thread = SourceThread::spawn("eventlens-nats", move |stop| runtime.block_on(watcher.run(&stop)))?;
        Ok(Self { thread })
    }

    /// Stops polling and waits for the thread.
    pub fn stop(&mut self) {
        self.thread.stop();
    }
}
