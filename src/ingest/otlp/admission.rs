//! Admission before decoding: what both OTLP receivers check before they read a request's
//! body, so a flood of requests (or of stalled ones) cannot hold more memory than a budget.
//!
//! - **Bytes in flight**, across both receivers: a request reserves its declared length (or
//!   the request limit, when it declares none, as gRPC never does) before its body is read,
//!   and gives it back when it has been answered. Past the budget, or while the engine's
//!   queue is full, it is refused at once with the protocol's "retry later" answer (HTTP 503
//!   with `Retry-After`, gRPC `UNAVAILABLE` with `RetryInfo`), its body never read.
//! - **Connections**, per receiver: at most [`AdmissionLimits::max_connections`] open at
//!   once, kept below the process's file-descriptor limit so a crowd of idle connections
//!   cannot leave none for a valid exporter; one past it is closed at once and counted.
//! - **Time**: an HTTP connection must send a request's headers within
//!   [`AdmissionLimits::header_timeout`] (also the limit on an idle keep-alive connection),
//!   and a request's body within [`AdmissionLimits::body_timeout`]. A gRPC connection must
//!   send a request within the header timeout of opening (the HTTP/2 preface included) and
//!   of its last answer, or it is closed (`grpc_connection`).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Refusal;
use crate::pipeline::counters::IngestCounters;
use crate::pipeline::queue::RecordSender;

/// Bytes a request may hold in flight across both receivers, by default.
pub const DEFAULT_MAX_INFLIGHT_BYTES: usize = 64 * 1024 * 1024;
/// How long a connection may take to send a request's headers (HTTP) or a first request
/// (gRPC), or stay idle with no request open.
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a request may take to send its body.
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections each receiver keeps open at most, when the descriptor limit allows.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;
/// The unit the byte budget counts in (a semaphore's permits are `u32`).
const UNIT: usize = 1024;

/// The limits, set once when the receivers start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AdmissionLimits {
    /// Bytes of requests in flight across both receivers.
    pub max_inflight_bytes: usize,
    /// Open connections per receiver.
    pub max_connections: usize,
    /// Time to send a request's headers (HTTP) or a first request (gRPC), and the most a
    /// connection of either receiver may sit with no request open.
    pub header_timeout: Duration,
    /// Time to send a request's body.
    pub body_timeout: Duration,
}

impl Default for AdmissionLimits {
    fn default() -> Self {
        Self {
            max_inflight_bytes: DEFAULT_MAX_INFLIGHT_BYTES,
            max_connections: connections_within_descriptors(DEFAULT_MAX_CONNECTIONS),
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
        }
    }
}

/// `wanted` connections per receiver, fewer when the process's soft descriptor limit would
/// not hold two receivers' worth plus a reserve for files, Kafka and the window.
pub fn connections_within_descriptors(wanted: usize) -> usize {
    const RESERVE: usize = 128;
    match descriptor_limit() {
        Some(limit) => wanted.min(limit.saturating_sub(RESERVE) / 2).max(8),
        None => wanted,
    }
}

#[cfg(unix)]
fn descriptor_limit() -> Option<usize> {
    let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
    limit.current.map(|n| usize::try_from(n).unwrap_or(usize::MAX))
}

#[cfg(not(unix))]
fn descriptor_limit() -> Option<usize> {
    None
}

/// The budgets both receivers share.
#[derive(Debug)]
pub struct Admission {
    limits: AdmissionLimits,
    bytes: Arc<Semaphore>,
    units: usize,
}

/// A request's reservation; given back when dropped (after the request was answered).
#[derive(Debug)]
pub struct Ticket {
    _bytes: OwnedSemaphorePermit,
}

impl Admission {
    /// Budgets with these limits.
    pub fn new(limits: AdmissionLimits) -> Self {
        let units = limits.max_inflight_bytes.div_ceil(UNIT).clamp(1, Semaphore::MAX_PERMITS);
        Self { limits, bytes: Arc::new(Semaphore::new(units)), units }
    }

    /// The limits in force.
    pub fn limits(&self) -> AdmissionLimits {
        self.limits
    }

    /// Admits a request of `bytes` (its declared length, or the request limit) before its
    /// body is read: refused (and counted) when the engine's queue is full or the bytes in
    /// flight would pass the budget. A request larger than the whole budget is let in alone.
    pub fn admit(&self, bytes: usize, sender: &RecordSender, counters: &IngestCounters) -> Result<Ticket, Refusal> {
        if sender.is_full() {
            IngestCounters::add(&counters.requests_refused, 1);
            return Err(Refusal::Busy);
        }
        let wanted = u32::try_from(bytes.div_ceil(UNIT).clamp(1, self.units)).unwrap_or(u32::MAX);
        match Arc::clone(&self.bytes).try_acquire_many_owned(wanted) {
            Ok(permit) => Ok(Ticket { _bytes: permit }),
            Err(_) => {
                IngestCounters::add(&counters.requests_refused, 1);
                Err(Refusal::Busy)
            }
        }
    }

    /// Bytes reserved by requests in flight now.
    pub fn inflight_bytes(&self) -> usize {
        (self.units - self.bytes.available_permits()) * UNIT
    }
}

/// One receiver's open connections.
#[derive(Clone, Debug)]
pub struct ConnectionLimit {
    open: Arc<Semaphore>,
}

impl ConnectionLimit {
    /// At most `max` open connections.
    pub fn new(max: usize) -> Self {
        Self { open: Arc::new(Semaphore::new(max.clamp(1, Semaphore::MAX_PERMITS))) }
    }

    /// A place for one more connection, held while it is open; `None` (counted) when full.
    pub fn enter(&self, counters: &IngestCounters) -> Option<OwnedSemaphorePermit> {
        let permit = Arc::clone(&self.open).try_acquire_owned().ok();
        if permit.is_none() {
            IngestCounters::add(&counters.connections_refused, 1);
        }
        permit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::{Record, SourceKind, SpanBatch};
    use crate::pipeline::queue::{QueueLimits, record_queue};

    #[test]
    fn requests_past_the_byte_budget_are_refused_until_one_is_answered() {
        let (sender, _receiver) = record_queue(QueueLimits::default());
        let counters = IngestCounters::default();
        let admission = Admission::new(AdmissionLimits { max_inflight_bytes: 10 * UNIT, ..AdmissionLimits::default() });
        let first = admission.admit(6 * UNIT, &sender, &counters).unwrap();
        assert_eq!(admission.inflight_bytes(), 6 * UNIT);
        assert_eq!(admission.admit(6 * UNIT, &sender, &counters).unwrap_err(), Refusal::Busy);
        let small = admission.admit(UNIT, &sender, &counters).unwrap();
        drop(first);
        let second = admission.admit(6 * UNIT, &sender, &counters).unwrap();
        // Larger than the whole budget: waits for an empty house, then goes in alone.
        assert!(admission.admit(100 * UNIT, &sender, &counters).is_err());
        drop((small, second));
        assert!(admission.admit(100 * UNIT, &sender, &counters).is_ok());
        assert_eq!(counters.read().requests_refused, 2);
    }

    #[test]
    fn a_full_queue_refuses_before_any_byte_is_read() {
        let (sender, _receiver) = record_queue(QueueLimits { records: 1, items: 10 });
        let counters = IngestCounters::default();
        let admission = Admission::new(AdmissionLimits::default());
        assert!(admission.admit(UNIT, &sender, &counters).is_ok());
        let batch = SpanBatch { received_unix_nano: 1, source: SourceKind::OtlpHttp, spans: Vec::new() };
        sender.try_send(Record::Spans(batch)).unwrap();
        assert_eq!(admission.admit(UNIT, &sender, &counters).unwrap_err(), Refusal::Busy);
        assert_eq!(admission.inflight_bytes(), 0);
    }

    #[test]
    fn connections_past_the_limit_are_refused_and_counted() {
        let counters = IngestCounters::default();
        let limit = ConnectionLimit::new(2);
        let (a, b) = (limit.enter(&counters), limit.enter(&counters));
        assert!(a.is_some() && b.is_some());
        assert!(limit.enter(&counters).is_none());
        drop(a);
        assert!(limit.enter(&counters).is_some());
        assert_eq!(counters.read().connections_refused, 1);
    }

    #[test]
    fn the_connection_limit_stays_below_the_descriptor_limit() {
        let n = connections_within_descriptors(usize::MAX);
        if let Some(fds) = descriptor_limit() {
            assert!(n <= (fds.saturating_sub(128) / 2).max(8), "{n} connections for {fds} descriptors");
        }
        assert!(n >= 8);
    }
}
