//! The demo's Kafka-protocol broker: librdkafka's mock cluster, inside the process.
//!
//! The mock cluster is a C object that must be dropped on the thread that made it, so it
//! lives on its own thread until the demo stops; everything else talks to it over its
//! bootstrap address, as to any broker.

use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use crossbeam_channel::bounded;

/// The shop's topics: name and partition count.
pub const TOPICS: &[(&str, i32)] =
    &[("orders", 6), ("payments", 3), ("inventory", 3), ("shipments", 3), ("notifications", 3), ("orders.DLQ", 1)];

/// A running mock cluster.
#[derive(Debug)]
pub struct DemoBroker {
    bootstrap: String,
    stop: Option<crossbeam_channel::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl DemoBroker {
    /// Starts a three-broker mock cluster with the shop's topics.
    pub fn start() -> anyhow::Result<Self> {
        let (ready_tx, ready_rx) = bounded::<Result<String, String>>(1);
        let (stop_tx, stop_rx) = bounded::<()>(1);
        let thread = std::thread::Builder::new()
            .name("eventlens-demo-broker".into())
            .spawn(move || {
                let cluster = match rdkafka::mocking::MockCluster::new(3) {
                    Ok(cluster) => cluster,
                    Err(e) => {
                        let _gone = ready_tx.send(Err(format!("cannot start the mock cluster: {e}")));
                        return;
                    }
                };
                for (topic, partitions) in TOPICS {
                    if let Err(e) = cluster.create_topic(topic, *partitions, 1) {
                        let _gone = ready_tx.send(Err(format!("cannot create topic {topic}: {e}")));
                        return;
                    }
                }
                let _gone = ready_tx.send(Ok(cluster.bootstrap_servers()));
                // Until the demo stops (or is dropped, which closes the channel).
                let _stopped = stop_rx.recv();
            })
            .context("cannot start the demo broker thread")?;
        let bootstrap = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .context("the demo broker did not start")?
            .map_err(anyhow::Error::msg)?;
        Ok(Self { bootstrap, stop: Some(stop_tx), thread: Some(thread) })
    }

    /// The cluster's bootstrap servers.
    pub fn bootstrap(&self) -> &str {
        &self.bootstrap
    }
}

impl Drop for DemoBroker {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _joined = thread.join();
        }
    }
}
