//! The calling thread's CPU time, for benchmarks of the engine thread beside the journey
//! thread: time spent waiting for the journey thread is not the engine's cost.

use std::time::Duration;

/// CPU time the calling thread has used.
pub fn thread_cpu() -> Duration {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
    Duration::new(t.tv_sec as u64, t.tv_nsec as u32)
}
