//! The NATS source's loop: connect (with backoff while the server is down or refuses the
//! credentials), poll JetStream on an interval, and send what it sees. async-nats reconnects
//! a dropped connection by itself; polls that fail meanwhile say the server is down.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::{ConnectErrorKind, ConnectOptions, jetstream};
use crossbeam_channel::{Receiver, TryRecvError};

use super::config::{NatsConfig, UrlAuth};
use super::read;
use crate::ingest::source_thread::{backoff, show_connection};
use crate::model::kafka::observation::{ConnectionEvent, ConnectionState};
use crate::model::nats::{NatsEvent, NatsRecord};
use crate::model::record::Record;
use crate::pipeline::queue::RecordSender;
use crate::pipeline::sources::SourceBoard;

/// How long a connection attempt or a JetStream request may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// How often a wait looks at the stop signal.
const STOP_CHECK: Duration = Duration::from_millis(100);

/// The loop's state: what it watches and what it last reported.
pub struct Watcher {
    config: NatsConfig,
    sender: RecordSender,
    board: SourceBoard,
    board_name: String,
    state: Option<ConnectionEvent>,
}

/// Why the loop ended.
enum Stop {
    /// Asked to stop.
    Asked,
    /// The engine is gone.
    Closed,
}

impl Watcher {
    /// A watcher for `config`, reporting to `board` as `board_name`.
    pub fn new(config: NatsConfig, sender: RecordSender, board: SourceBoard, board_name: String) -> Self {
        Self { config, sender, board, board_name, state: None }
    }

    /// Runs until `stop` fires or the engine goes away.
    pub async fn run(mut self, stop: &Receiver<()>) {
        let _ended = self.watch(stop).await;
    }

    async fn watch(&mut self, stop: &Receiver<()>) -> Result<(), Stop> {
        self.set_state(ConnectionState::Connecting, None)?;
        let mut failures = 0u32;
        let client = loop {
            match connect(&self.config).await {
                Ok(client) => break client,
                Err((state, message)) => {
                    failures += 1;
                    self.set_state(state, Some(message))?;
                    wait(stop, backoff(self.config.poll_interval, failures)).await?;
                }
            }
        };
        let js = jetstream::new(client.clone());
        failures = 0;
        loop {
            let started = Instant::now();
            let pause = match tokio::time::timeout(REQUEST_TIMEOUT * 4, read::jetstream(&js)).await {
                Ok(Ok(poll)) => {
                    failures = 0;
                    self.set_state(ConnectionState::Connected, None)?;
                    // Every poll, changed or not: the depth rules read progress between polls, so a
                    // quiet poll is a sample too.
                    self.send(NatsEvent::JetStream(poll))?;
                    self.config.poll_interval.saturating_sub(started.elapsed())
                }
                outcome => {
                    failures += 1;
                    let message = match outcome {
                        Ok(Err(e)) => e.to_string(),
                        _ => "JetStream did not answer in time".to_owned(),
                    };
                    let state = match client.connection_state() {
                        async_nats::connection::State::Connected => ConnectionState::Connected,
                        _ => ConnectionState::BrokerDown,
                    };
                    self.set_state(state, Some(message))?;
                    backoff(self.config.poll_interval, failures)
                }
            };
            wait(stop, pause).await?;
        }
    }

    fn send(&self, event: NatsEvent) -> Result<(), Stop> {
        let record = NatsRecord { received_unix_nano: now_unix_nano(), server: self.config.name.clone(), event };
        // This thread is the source's own: waiting for room here holds up only its next poll
        // (async-nats's connection runs on the runtime's worker thread).
        self.sender.send_blocking(Record::Nats(record)).map_err(|_| Stop::Closed)
    }

    /// Records a connection change (once per change) and shows it on the source board.
    fn set_state(&mut self, state: ConnectionState, message: Option<String>) -> Result<(), Stop> {
        let event = ConnectionEvent { state, message };
        if self.state.as_ref() == Some(&event) {
            return Ok(());
        }
        show_connection(&self.board, &self.board_name, "NATS", &self.config.name, &event);
        self.send(NatsEvent::Connection(event.clone()))?;
        self.state = Some(event);
        Ok(())
    }
}

/// Connects to `config`'s server with its credentials and TLS files; on failure, the state
/// to report (auth failed or broker down) and why.
pub async fn connect(config: &NatsConfig) -> Result<async_nats::Client, (ConnectionState, String)> {
    let mut options = ConnectOptions::new()
        .name("eventlens")
        .connection_timeout(REQUEST_TIMEOUT)
        .request_timeout(Some(REQUEST_TIMEOUT));
    match &config.auth {
        Some(UrlAuth::UserPassword(user, password)) => {
            options = options.user_and_password(user.clone(), password.clone());
        }
        Some(UrlAuth::Token(token)) => options = options.token(token.clone()),
        None => {}
    }
    if let Some(creds) = &config.creds {
        options = options.credentials_file(creds).await.map_err(|e| {
            (ConnectionState::AuthFailed, format!("cannot read the credentials file {}: {e}", creds.display()))
        })?;
    }
    if let Some(file) = &config.nkey {
        // The seed signs the server's challenge; only its first line counts, as the tools read it.
        let seed = std::fs::read_to_string(file).map_err(|e| {
            (ConnectionState::AuthFailed, format!("cannot read the NKey seed file {}: {e}", file.display()))
        })?;
        let seed = seed.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or_default().to_owned();
        options = options.nkey(seed);
    }
    if let Some(ca) = &config.tls_ca {
        options = options.add_root_certificates(ca.clone());
    }
    if let Some((cert, key)) = &config.tls_client {
        options = options.add_client_certificate(cert.clone(), key.clone());
    }
    options.connect(config.name.as_str()).await.map_err(|e| {
        let state = match e.kind() {
            ConnectErrorKind::Authentication | ConnectErrorKind::AuthorizationViolation => ConnectionState::AuthFailed,
            _ => ConnectionState::BrokerDown,
        };
        (state, e.to_string())
    })
}

/// Waits `pause`, returning early with [`Stop::Asked`] when the stop signal fires.
async fn wait(stop: &Receiver<()>, pause: Duration) -> Result<(), Stop> {
    let until = Instant::now() + pause;
    loop {
        match stop.try_recv() {
            Ok(()) | Err(TryRecvError::Disconnected) => return Err(Stop::Asked),
            Err(TryRecvError::Empty) => {}
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(());
        }
        tokio::time::sleep(left.min(STOP_CHECK)).await;
    }
}

fn now_unix_nano() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
}
