//! The wall clock records are stamped with when they are received, and the engine's "now"
//! while it follows a live session. One function, so sources and the engine read the same
//! clock.

use std::time::SystemTime;

/// Now, in Unix nanoseconds.
pub fn unix_nanos_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}
