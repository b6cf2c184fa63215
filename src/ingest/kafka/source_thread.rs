//! What every Kafka-side source shares: its own named thread with a stop signal (stopped and
//! joined on request or on drop), and its line on the source board.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender};

use crate::pipeline::sources::{SourceBoard, SourceState, SourceStatus};

/// A source's thread. The body gets the stop signal's receiver and should return soon after
/// it fires (or disconnects).
#[derive(Debug)]
pub struct SourceThread {
    stop: Option<Sender<()>>,
    join: Option<JoinHandle<()>>,
}

impl SourceThread {
    /// Starts `body` on a thread called `name`.
    pub fn spawn(name: &str, body: impl FnOnce(Receiver<()>) + Send + 'static) -> std::io::Result<Self> {
        let (stop_tx, stop_rx) = crossbeam_channel::bounded(1);
        let join = std::thread::Builder::new().name(name.to_owned()).spawn(move || body(stop_rx))?;
        Ok(Self { stop: Some(stop_tx), join: Some(join) })
    }

    /// Signals the thread and waits for it (at most one in-flight broker request).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            // Full: already told; disconnected: already ended. Either way it is stopping.
            let _told = stop.try_send(());
        }
        if let Some(join) = self.join.take() {
            let name = join.thread().name().unwrap_or("a Kafka source").to_owned();
            if join.join().is_err() {
                tracing::error!(thread = name, "a Kafka source thread panicked; what it watched is no longer updated");
            }
        }
    }
}

impl Drop for SourceThread {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Adds a source to the board, connecting.
pub fn register(board: &SourceBoard, name: &str, address: &str) {
    if let Ok(mut sources) = board.lock() {
        sources.push(SourceStatus {
            name: name.to_owned(),
            address: address.to_owned(),
            state: SourceState::Connecting,
        });
    }
}

/// Sets a source's state on the board.
pub fn set_state(board: &SourceBoard, name: &str, state: SourceState) {
    if let Ok(mut sources) = board.lock()
        && let Some(source) = sources.iter_mut().find(|s| s.name == name)
    {
        source.state = state;
    }
}
