//! The source board: each source's name, address and state, written by whoever runs the
//! sources (the collector, the Kafka threads, the file reader) and read by the engine at each
//! publish for the top bar. Here rather than in the engine so sources can report without
//! reaching into the engine.

use std::sync::{Arc, Mutex};

use serde::Serialize;

/// Source states, written by whoever runs the sources and read at each publish.
pub type SourceBoard = Arc<Mutex<Vec<SourceStatus>>>;

/// The state of one source, as shown in the top bar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SourceStatus {
    /// What it is, e.g. "OTLP gRPC".
    pub name: String,
    /// Where it listens or reads.
    pub address: String,
    /// Its state.
    pub state: SourceState,
}

/// Whether a source is working.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum SourceState {
    /// Listening and accepting (receivers), or connected and reading (clusters).
    Listening,
    /// Not yet connected.
    Connecting,
    /// Stopped with an error.
    Failed(String),
    /// Reading a file: percent of its bytes read.
    Reading(u8),
    /// Read a whole file; what it held.
    Finished(String),
}
