//! What every polling broker source (Kafka, NATS) shares: its own named thread with a stop
//! signal (stopped and joined on request or on drop), its line on the source board, and the
//! backoff between failed polls.

use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use crate::model::kafka::observation::{ConnectionEvent, ConnectionState};
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
            let name = join.thread().name().unwrap_or("a broker source").to_owned();
            if join.join().is_err() {
                tracing::error!(thread = name, "a broker source thread panicked; what it watched is no longer updated");
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

/// Logs a broker source's connection change (`what`: "Kafka", "NATS", ...) and shows it on
/// the board: connecting, listening, or failed with the reason (a connected source with a
/// message, such as a refused JetStream request, counts as failed too).
pub fn show_connection(board: &SourceBoard, board_name: &str, what: &str, name: &str, event: &ConnectionEvent) {
    let state = event.state;
    match &event.message {
        Some(m) => tracing::warn!("{what} {name}: {} ({m})", state.label()),
        None => tracing::info!("{what} {name}: {}", state.label()),
    }
    let board_state = match (state, &event.message) {
        (ConnectionState::Connecting, _) => SourceState::Connecting,
        (ConnectionState::Connected, None) => SourceState::Listening,
        (_, message) => SourceState::Failed(format!("{}: {}", state.label(), message.clone().unwrap_or_default())),
    };
    set_state(board, board_name, board_state);
}

/// The longest wait between polls of a broker that does not answer.
pub const MAX_BACKOFF: Duration = Duration::from_secs(60);

/// Waits `interval * 2^(failures-1)`, capped at [`MAX_BACKOFF`] (and never below the interval).
pub fn backoff(interval: Duration, failures: u32) -> Duration {
    let factor = 1u32 << failures.saturating_sub(1).min(6);
    interval.saturating_mul(factor).min(MAX_BACKOFF.max(interval))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let s = Duration::from_secs(5);
        assert_eq!(backoff(s, 1), s);
        assert_eq!(backoff(s, 2), Duration::from_secs(10));
        assert_eq!(backoff(s, 4), Duration::from_secs(40));
        assert_eq!(backoff(s, 9), Duration::from_secs(60));
        assert_eq!(backoff(Duration::from_secs(120), 3), Duration::from_secs(120));
    }
}
