//! Work the window hands off so that a frame never waits for it: opening a session file
//! (which may sit on a slow disk, a hung network mount or a pipe), writing an export,
//! rendering a large payload, and stopping a session the window let go of (which joins its
//! sources' and engine's threads).
//!
//! Each [`Job`] runs on a named thread of its own and sends its one answer over a bounded
//! channel, then wakes the window; the frame only ever looks ([`Job::poll`]). Stopping a
//! session answers nothing, so [`Retirements`] only keeps the threads to report a panic and
//! to wait for them when the window closes.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, TryRecvError, bounded};

use crate::collector::Collector;

/// The thread that opens a session file and starts its collector.
pub const OPEN_THREAD: &str = "eventlens-open";
/// The thread that renders and writes an export.
pub const EXPORT_THREAD: &str = "eventlens-export";
/// The thread that renders a large payload for the message panel.
pub const PAYLOAD_THREAD: &str = "eventlens-payload";
/// The thread that stops a session the window replaced.
pub const RETIRE_THREAD: &str = "eventlens-retire";

/// Where a job stands, seen from the frame.
#[derive(Debug)]
pub enum JobState<T> {
    /// Still working.
    Pending,
    /// Its answer.
    Done(T),
    /// Its thread ended without answering (it panicked; the panic is on standard error).
    Lost,
}

/// One piece of work running on its own named thread, and its answer once it comes.
///
/// Dropping a job lets go of its answer: the thread finishes, and whatever it made (a started
/// collector) is dropped on that thread, not on the frame.
#[derive(Debug)]
pub struct Job<T> {
    answer: Receiver<T>,
}

impl<T: Send + 'static> Job<T> {
    /// Runs `work` on a thread called `thread`; `ctx` is woken when the answer is there.
    pub fn spawn(
        thread: &str,
        ctx: &egui::Context,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> std::io::Result<Self> {
        // One answer, so one slot: the thread never waits to hand it over.
        let (tx, rx) = bounded(1);
        let ctx = ctx.clone();
        std::thread::Builder::new().name(thread.to_owned()).spawn(move || {
            // A window that no longer wants the answer has dropped the receiver; the answer
            // is then dropped here.
            let _unwanted = tx.send(work());
            ctx.request_repaint();
        })?;
        Ok(Self { answer: rx })
    }

    /// The answer, if it has come; never waits.
    pub fn poll(&self) -> JobState<T> {
        match self.answer.try_recv() {
            Ok(answer) => JobState::Done(answer),
            Err(TryRecvError::Empty) => JobState::Pending,
            Err(TryRecvError::Disconnected) => JobState::Lost,
        }
    }
}

/// Sessions the window replaced, each stopping on a thread of its own.
///
/// Stopping a collector joins its threads: a Kafka poller waits for its broker's answer (up
/// to its request timeout), the engine first applies what its sources had queued and
/// finishes the recording. None of that may hold up a frame, and nothing the new session
/// uses waits for it: the new session has its own runtime, engine, queue and board, and
/// reads a file rather than binding the receivers' ports.
#[derive(Debug, Default)]
pub struct Retirements {
    stopping: Vec<JoinHandle<()>>,
}

impl Retirements {
    /// Stops `collector` on an `eventlens-retire` thread. `shown_error` is the recording error
    /// the window already showed for it (the engine logged it then), so only a new one (one
    /// met while finishing the recording) is logged.
    pub fn retire(&mut self, collector: Collector, shown_error: Option<String>) {
        self.reap();
        let spawned = std::thread::Builder::new().name(RETIRE_THREAD.into()).spawn(move || {
            let summary = collector.shutdown();
            match summary.recording_error {
                Some(error) if Some(&error) != shown_error.as_ref() => {
                    tracing::error!("the replaced session's recording: {error}");
                }
                _ => tracing::debug!(records = summary.records, "the replaced session stopped"),
            }
        });
        match spawned {
            Ok(thread) => self.stopping.push(thread),
            // The closure, and with it the collector, was dropped (so stopped) right here.
            Err(e) => {
                tracing::error!("cannot start a thread to stop the replaced session ({e}); it stopped on the window's")
            }
        }
    }

    /// Lets go of the threads that have finished, logging any that panicked; never waits.
    fn reap(&mut self) {
        let (finished, running) = std::mem::take(&mut self.stopping).into_iter().partition(JoinHandle::is_finished);
        self.stopping = running;
        for thread in finished {
            report_panic(thread.join());
        }
    }
}

impl Drop for Retirements {
    /// The window is closing: wait for the replaced sessions to stop, so their recordings
    /// are finished before the process ends (as they were when the swap stopped them).
    fn drop(&mut self) {
        for thread in self.stopping.drain(..) {
            report_panic(thread.join());
        }
    }
}

/// Logs a retire thread's panic, once, where it is joined.
fn report_panic(joined: std::thread::Result<()>) {
    if let Err(panic) = joined {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        tracing::error!("stopping a replaced session panicked: {message}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_answers_once_and_a_panicking_one_is_lost() {
        let ctx = egui::Context::default();
        let job = Job::spawn("eventlens-test-job", &ctx, || 42).unwrap();
        let answer = loop {
            match job.poll() {
                JobState::Pending => std::thread::sleep(std::time::Duration::from_millis(1)),
                JobState::Done(answer) => break answer,
                JobState::Lost => panic!("lost"),
            }
        };
        assert_eq!(answer, 42);
        // The thread lets go of its end of the channel a moment after it answered.
        let mut after = job.poll();
        for _ in 0..1_000 {
            if !matches!(after, JobState::Pending) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
            after = job.poll();
        }
        assert!(matches!(after, JobState::Lost), "the thread is gone once it answered");

        let job: Job<u8> = Job::spawn("eventlens-test-job", &ctx, || panic!("on purpose")).unwrap();
        while matches!(job.poll(), JobState::Pending) {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        assert!(matches!(job.poll(), JobState::Lost));
    }
}
