//! The RabbitMQ source's loop: poll the management API on an interval (with backoff while
//! the broker is down or refuses the login) and send what it sees.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use super::config::RabbitConfig;
use super::read::{ManagementClient, ReadError};
use crate::ingest::source_thread::{backoff, show_connection};
use crate::model::kafka::observation::{ConnectionEvent, ConnectionState};
use crate::model::rabbitmq::{RabbitEvent, RabbitRecord};
use crate::model::record::Record;
use crate::pipeline::queue::RecordSender;
use crate::pipeline::sources::SourceBoard;

/// The engine is gone: stop.
struct Closed;

/// The loop's state: what it watches and what it last reported.
pub struct Watcher {
    name: String,
    poll_interval: Duration,
    client: Result<ManagementClient, String>,
    sender: RecordSender,
    board: SourceBoard,
    board_name: String,
    state: Option<ConnectionEvent>,
}

impl Watcher {
    /// A watcher for `config`, reporting to `board` as `board_name`.
    pub fn new(config: RabbitConfig, sender: RecordSender, board: SourceBoard, board_name: String) -> Self {
        let (name, poll_interval) = (config.name.clone(), config.poll_interval);
        let client = ManagementClient::new(config).map_err(|e| match e {
            ReadError::Refused(m) | ReadError::Down(m) => m,
        });
        Self { name, poll_interval, client, sender, board, board_name, state: None }
    }

    /// Runs until `stop` fires or the engine goes away.
    pub fn run(mut self, stop: &Receiver<()>) {
        let _ended = self.watch(stop);
    }

    fn watch(&mut self, stop: &Receiver<()>) -> Result<(), Closed> {
        self.set_state(ConnectionState::Connecting, None)?;
        let mut failures = 0u32;
        loop {
            let started = Instant::now();
            let outcome = match &self.client {
                Ok(client) => client.poll(),
                Err(message) => Err(ReadError::Down(message.clone())),
            };
            let pause = match outcome {
                Ok(poll) => {
                    failures = 0;
                    self.set_state(ConnectionState::Connected, None)?;
                    self.send(RabbitEvent::Management(poll))?;
                    self.poll_interval.saturating_sub(started.elapsed())
                }
                Err(e) => {
                    failures += 1;
                    let (state, message) = match e {
                        ReadError::Refused(m) => (ConnectionState::AuthFailed, m),
                        ReadError::Down(m) => (ConnectionState::BrokerDown, m),
                    };
                    self.set_state(state, Some(message))?;
                    backoff(self.poll_interval, failures)
                }
            };
            match stop.recv_timeout(pause) {
                Ok(()) | Err(RecvTimeoutError::Disconnected) => return Ok(()),
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }

    fn send(&self, event: RabbitEvent) -> Result<(), Closed> {
        let received_unix_nano = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        let record = RabbitRecord { received_unix_nano, server: self.name.clone(), event };
        self.sender.send_blocking(Record::Rabbitmq(record)).map_err(|_| Closed)
    }

    /// Records a connection change (once per change) and shows it on the source board.
    fn set_state(&mut self, state: ConnectionState, message: Option<String>) -> Result<(), Closed> {
        let event = ConnectionEvent { state, message };
        if self.state.as_ref() == Some(&event) {
            return Ok(());
        }
        show_connection(&self.board, &self.board_name, "RabbitMQ", &self.name, &event);
        self.send(RabbitEvent::Connection(event.clone()))?;
        self.state = Some(event);
        Ok(())
    }
}
