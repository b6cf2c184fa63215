//! Work the window hands off so that a frame never waits for it: opening a session file
//! (which may sit on a slow disk, a hung network mount or a pipe), writing an export,
//! picking (and creating the folder of) a recording's file, serializing a journey for the
//! clipboard, rendering a large payload, key or set of headers, laying out a large flow
//! graph, stopping a session the window let go of (which joins its sources' and engine's
//! threads), and freeing a snapshot it replaced (which may hold a journey of tens of
//! thousands of spans).
//!
//! Each [`Job`] runs on a named thread of its own and sends its one answer over a bounded
//! channel, then wakes the window; the frame only ever looks ([`Job::poll`]). Stopping a
//! session answers nothing, so [`Retirements`] only keeps the threads to report a panic and
//! to wait for them when the window closes; [`Releases`] hands what the window lets go of to a
//! thread that frees it.

use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, TryRecvError, bounded};

use crate::collector::Collector;

/// The thread that opens a session file and starts its collector.
pub const OPEN_THREAD: &str = "eventlens-open";
/// The thread that renders and writes an export.
pub const EXPORT_THREAD: &str = "eventlens-export";
/// The thread that renders a large payload, key or set of headers for the message panel.
pub const PAYLOAD_THREAD: &str = "eventlens-payload";
/// The thread that picks a new recording's file, creating its folder.
pub const RECORD_THREAD: &str = "eventlens-record";
/// The thread that serializes a journey for the clipboard.
pub const COPY_THREAD: &str = "eventlens-copy";
/// The thread that stops a session the window replaced.
pub const RETIRE_THREAD: &str = "eventlens-retire";
/// The thread that frees what the window let go of.
pub const RELEASE_THREAD: &str = "eventlens-release";
/// The thread that lays out a large flow graph.
pub const LAYOUT_THREAD: &str = "eventlens-layout";

/// How many let-go values may wait for the release thread; past that (it is behind) they are
/// freed where they were let go of.
const RELEASE_QUEUE: usize = 8;

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
            report_panic("stopping a replaced session", thread.join());
        }
    }
}

impl Drop for Retirements {
    /// The window is closing: wait for the replaced sessions to stop, so their recordings
    /// are finished before the process ends (as they were when the swap stopped them).
    fn drop(&mut self) {
        for thread in self.stopping.drain(..) {
            report_panic("stopping a replaced session", thread.join());
        }
    }
}

/// Frees, on an `eventlens-release` thread, what the window lets go of and may be large.
///
/// The window holds the last reference to the snapshot it replaces, and a snapshot can be the
/// last holder of a journey laid out for it: freeing one of 20,001 spans took over 50 ms of a
/// frame in a debug build. The thread starts with the first value let go of.
#[derive(Debug, Default)]
pub struct Releases {
    /// The way to the thread; `None` before it started, or if it could not.
    sender: Option<Sender<Box<dyn Send>>>,
    thread: Option<JoinHandle<()>>,
    /// Starting the thread failed once: values are freed where they are let go of.
    failed: bool,
}

impl Releases {
    /// Frees `value` on the release thread; never waits (when the thread is behind or
    /// missing, `value` is freed here).
    pub fn release(&mut self, value: impl Send + 'static) {
        if self.sender.is_none() && !self.failed {
            self.start();
        }
        if let Some(sender) = &self.sender {
            // Full or gone: freed here, when this returns.
            let _freed_here = sender.try_send(Box::new(value));
        }
    }

    fn start(&mut self) {
        let (sender, receiver) = bounded::<Box<dyn Send>>(RELEASE_QUEUE);
        let spawned = std::thread::Builder::new().name(RELEASE_THREAD.into()).spawn(move || {
            // Each value is freed as the loop lets go of it.
            for _value in receiver {}
        });
        match spawned {
            Ok(thread) => (self.sender, self.thread) = (Some(sender), Some(thread)),
            Err(e) => {
                self.failed = true;
                tracing::warn!(
                    "cannot start a thread to free replaced snapshots ({e}); they are freed on the window's"
                );
            }
        }
    }
}

impl Drop for Releases {
    /// Lets the thread free what it still holds and end.
    fn drop(&mut self) {
        self.sender = None;
        if let Some(thread) = self.thread.take() {
            report_panic("freeing replaced snapshots", thread.join());
        }
    }
}

/// Logs the panic of a thread doing `what`, once, where it is joined.
fn report_panic(what: &str, joined: std::thread::Result<()>) {
    if let Err(panic) = joined {
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned());
        tracing::error!("{what} panicked: {message}");
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

    #[test]
    fn what_is_released_is_freed_on_the_release_thread() {
        /// Says which thread dropped it.
        struct Witness(crossbeam_channel::Sender<Option<String>>);
        impl Drop for Witness {
            fn drop(&mut self) {
                let _ = self.0.send(std::thread::current().name().map(str::to_owned));
            }
        }
        let (tx, rx) = bounded(1);
        let mut releases = Releases::default();
        releases.release(Witness(tx));
        let dropped_on = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(dropped_on.as_deref(), Some(RELEASE_THREAD));
        drop(releases);
    }
}
