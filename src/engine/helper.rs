//! A helper thread beside the engine: the only writer of one store (the journeys, the
//! findings), fed in order through a bounded inbox, read by the engine under a lock after it
//! waited for the helper to catch up.
//!
//! The engine stays the single writer of the flow and Kafka models; the work that costs
//! more per span than the flow graph itself (assembling journeys, running the findings
//! detectors) runs here, side by side with it. The engine waits only when the helper is a
//! whole inbox behind (until it is half an inbox behind, so both go on working side by side
//! and the engine is woken once per half inbox, not once per input), and when it reads the
//! store ([`Helper::sync`]), so what it publishes is as of the same record as its own models.
//!
//! An inbox is full at [`INBOX_INPUTS`] inputs or at its bytes ([`Weighed`]), whichever comes
//! first: one export request may carry one span or twenty thousand, so a count alone let 64
//! waiting records hold a gigabyte beside the memory budget.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, Sender};

use crate::model::record::Record;
use crate::model::size::{HeapSize, QUEUED_SPAN_BYTES};

/// Inputs waiting for a helper, at most; the engine waits when it is this far ahead (each is
/// one record: one export request, at most a few thousand spans).
pub(super) const INBOX_INPUTS: usize = 64;

/// Inputs left in a full inbox when the engine, which waited for room, goes on.
const LOW_WATER: usize = INBOX_INPUTS / 2;

/// An inbox's bytes unless told otherwise ([`Helper::set_max_bytes`]): 16 MiB, about 8,000
/// waiting spans.
pub(super) const DEFAULT_INBOX_BYTES: usize = 16 << 20;

/// What an input weighs in a helper's inbox, in bytes, as the record queue estimates what
/// waits in it.
pub(super) trait Weighed {
    /// The estimate.
    fn weight(&self) -> usize;
}

/// What a record waiting in an inbox is taken to hold: its spans at the record queue's
/// estimate ([`QUEUED_SPAN_BYTES`] each, counted without walking them), anything else
/// (messages, polls) as measured.
pub(super) fn record_weight(record: &Record) -> usize {
    match record {
        Record::Spans(batch) => batch.spans.len() * QUEUED_SPAN_BYTES,
        other => other.heap_bytes(),
    }
}

/// The bytes in an inbox, and the most it holds.
#[derive(Debug)]
struct InboxBytes {
    queued: AtomicUsize,
    max: AtomicUsize,
}

impl InboxBytes {
    /// Whether an inbox of `len` inputs has room again: down to half by count and by bytes.
    fn has_room(&self, len: usize) -> bool {
        len <= LOW_WATER && self.queued.load(Ordering::SeqCst) <= self.max.load(Ordering::Relaxed) / 2
    }
}

/// How long the engine sleeps at most between looks at a full inbox (a wake-up it missed
/// costs no more).
const ROOM_POLL: Duration = Duration::from_millis(10);

/// How long a helper applies inputs before it lets go of its store, so the engine can read it.
const APPLY_BUDGET: Duration = Duration::from_millis(10);

/// How long [`Helper::sync`] waits for a helper.
const SYNC_WAIT: Duration = Duration::from_secs(5);

/// What the engine sends a helper.
enum Message<I> {
    /// Something to apply, in the order sent, with its weight.
    Input(I, usize),
    /// Answer once everything sent before it has been applied.
    Sync(Sender<()>),
}

/// A thread that is the only writer of a store of type `S`, applying inputs of type `I`.
pub(super) struct Helper<S, I> {
    name: &'static str,
    store: Arc<Mutex<S>>,
    /// Taken only when the helper is dropped, which ends its thread.
    inbox: Option<Sender<Message<I>>>,
    /// Set once the thread is found gone without being asked (a bug): nothing is sent after.
    stopped: AtomicBool,
    /// Set by the engine while it waits for room; the helper then says when the inbox is
    /// down to [`LOW_WATER`] through `room`.
    wants_room: Arc<AtomicBool>,
    room: Receiver<()>,
    bytes: Arc<InboxBytes>,
    thread: Option<JoinHandle<()>>,
}

impl<S: Send + 'static, I: Weighed + Send + 'static> Helper<S, I> {
    /// Starts the thread `name`, which applies each input to `store` with `apply`.
    pub fn spawn(
        name: &'static str,
        store: Arc<Mutex<S>>,
        apply: impl FnMut(&mut S, I) + Send + 'static,
    ) -> std::io::Result<Self> {
        let (inbox, received) = crossbeam_channel::bounded(INBOX_INPUTS);
        let (room_sender, room) = crossbeam_channel::bounded(1);
        let wants_room = Arc::new(AtomicBool::new(false));
        let bytes = Arc::new(InboxBytes { queued: AtomicUsize::new(0), max: AtomicUsize::new(DEFAULT_INBOX_BYTES) });
        let shared = Arc::clone(&store);
        let asked = Arc::clone(&wants_room);
        let weighed = Arc::clone(&bytes);
        let thread = std::thread::Builder::new().name(name.into()).spawn(move || {
            let room = Room { wanted: &asked, sender: &room_sender, bytes: &weighed };
            run(&shared, &received, &room, apply);
        })?;
        Ok(Self {
            name,
            store,
            inbox: Some(inbox),
            stopped: AtomicBool::new(false),
            wants_room,
            room,
            bytes,
            thread: Some(thread),
        })
    }

    /// Bounds the inbox at `bytes` of waiting inputs (by their [`Weighed`] estimate) besides
    /// [`INBOX_INPUTS`]; an input heavier than that still goes, once the inbox is empty.
    pub fn set_max_bytes(&self, bytes: usize) {
        self.bytes.max.store(bytes.max(1), Ordering::Relaxed);
    }

    /// The bytes waiting in the inbox now.
    #[cfg(test)]
    pub fn queued_bytes(&self) -> usize {
        self.bytes.queued.load(Ordering::SeqCst)
    }

    /// Sends one input. When the helper is a whole inbox behind, first waits until it is
    /// half an inbox behind: the helper never runs dry while the engine waits, and the
    /// engine is woken once per half inbox rather than for each input the helper takes (two
    /// thread switches per input).
    pub fn send(&self, input: I) {
        let Some(inbox) = self.running() else { return };
        let weight = input.weight();
        let queued = self.bytes.queued.load(Ordering::SeqCst);
        let over = queued > 0 && queued + weight > self.bytes.max.load(Ordering::Relaxed);
        if inbox.is_full() || over {
            self.wait_for_room(inbox);
        }
        self.bytes.queued.fetch_add(weight, Ordering::SeqCst);
        if inbox.send(Message::Input(input, weight)).is_err() {
            self.stopped();
        }
    }

    /// Waits until the inbox is down to [`LOW_WATER`] and half its bytes (at most
    /// [`SYNC_WAIT`]).
    fn wait_for_room(&self, inbox: &Sender<Message<I>>) {
        let deadline = Instant::now() + SYNC_WAIT;
        loop {
            self.wants_room.store(true, Ordering::SeqCst);
            if self.bytes.has_room(inbox.len()) {
                self.wants_room.store(false, Ordering::SeqCst);
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                self.wants_room.store(false, Ordering::SeqCst);
                tracing::warn!(helper = self.name, "a helper is more than {SYNC_WAIT:?} behind; waiting for it");
                return;
            }
            // A stale answer or a missed one only means one more look.
            match self.room.recv_timeout(ROOM_POLL.min(deadline - now)) {
                Ok(()) | Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => return self.stopped(),
            }
        }
    }

    /// Waits until the helper has applied everything sent so far (at most [`SYNC_WAIT`]).
    pub fn sync(&self) {
        let Some(inbox) = self.running() else { return };
        let (ack, done) = crossbeam_channel::bounded(1);
        if inbox.send(Message::Sync(ack)).is_err() {
            return self.stopped();
        }
        match done.recv_timeout(SYNC_WAIT) {
            Ok(()) => {}
            Err(RecvTimeoutError::Timeout) => {
                tracing::warn!(helper = self.name, "a helper is more than {SYNC_WAIT:?} behind; going on without it");
            }
            Err(RecvTimeoutError::Disconnected) => self.stopped(),
        }
    }

    /// The store, for reading. The helper waits while it is held, so hold it briefly.
    pub fn lock(&self) -> MutexGuard<'_, S> {
        lock(&self.store)
    }

    /// The inbox, unless the helper stopped.
    fn running(&self) -> Option<&Sender<Message<I>>> {
        self.inbox.as_ref().filter(|_| !self.stopped.load(Ordering::Relaxed))
    }

    /// The helper ended without being asked (a bug): its store stays as it was.
    fn stopped(&self) {
        if !self.stopped.swap(true, Ordering::Relaxed) {
            tracing::error!(helper = self.name, "a helper thread stopped; what it keeps is no longer updated");
        }
    }
}

impl<S, I> std::fmt::Debug for Helper<S, I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Helper").field("name", &self.name).field("stopped", &self.stopped).finish()
    }
}

impl<S, I> Drop for Helper<S, I> {
    fn drop(&mut self) {
        // Closing the inbox ends the thread once it has applied what was sent.
        self.inbox = None;
        if let Some(thread) = self.thread.take()
            && thread.join().is_err()
        {
            tracing::error!(helper = self.name, "a helper thread panicked");
        }
    }
}

/// A store behind its lock. A panic while it was held leaves it as it was; what it holds is
/// still the best there is to show.
pub(super) fn lock<S>(store: &Mutex<S>) -> MutexGuard<'_, S> {
    store.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The helper's side of [`Helper::wait_for_room`].
struct Room<'a> {
    wanted: &'a AtomicBool,
    sender: &'a Sender<()>,
    bytes: &'a InboxBytes,
}

impl Room<'_> {
    /// Counts an input of `weight` applied, and tells a waiting engine there is room once
    /// the inbox is down to [`LOW_WATER`] and half its bytes.
    fn tell<T>(&self, inbox: &Receiver<T>, weight: usize) {
        self.bytes.queued.fetch_sub(weight, Ordering::SeqCst);
        if self.wanted.load(Ordering::SeqCst) && self.bytes.has_room(inbox.len()) {
            self.wanted.store(false, Ordering::SeqCst);
            // Full means an answer is already waiting to be read.
            let _already_told = self.sender.try_send(());
        }
    }
}

/// The helper's loop: applies inputs in the order sent, letting go of the store between runs
/// of at most [`APPLY_BUDGET`] and whenever the engine asks to read it.
fn run<S, I>(store: &Mutex<S>, inbox: &Receiver<Message<I>>, room: &Room<'_>, mut apply: impl FnMut(&mut S, I)) {
    while let Ok(first) = inbox.recv() {
        let mut guard = lock(store);
        let started = Instant::now();
        let mut next = Some(first);
        while let Some(message) = next.take() {
            match message {
                Message::Input(input, weight) => {
                    apply(&mut guard, input);
                    room.tell(inbox, weight);
                }
                Message::Sync(ack) => {
                    // The engine reads the store next: let go of it. (A closed ack means the
                    // engine gave up waiting; nothing to answer.)
                    let _waiting = ack.send(());
                    break;
                }
            }
            if started.elapsed() < APPLY_BUDGET {
                next = inbox.try_recv().ok();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    impl Weighed for usize {
        fn weight(&self) -> usize {
            1
        }
    }

    impl Weighed for u32 {
        fn weight(&self) -> usize {
            1
        }
    }

    /// An input of some bytes: (its number, its weight).
    struct Heavy(usize, usize);

    impl Weighed for Heavy {
        fn weight(&self) -> usize {
            self.1
        }
    }

    #[test]
    fn an_inbox_full_by_bytes_holds_the_engine_until_half_of_them_are_applied() {
        let store = Arc::new(Mutex::new(Vec::new()));
        let counted = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&counted);
        let helper = Helper::spawn("eventlens-test-helper", store, move |seen: &mut Vec<usize>, input: Heavy| {
            std::thread::sleep(Duration::from_millis(5));
            seen.push(input.0);
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .unwrap();
        // Ten inputs of 100 bytes fill a 1,000-byte inbox long before 64 inputs would.
        helper.set_max_bytes(1_000);
        let sent = 14;
        for n in 0..sent {
            helper.send(Heavy(n, 100));
            assert!(helper.queued_bytes() <= 1_000, "never more than the inbox's bytes wait");
        }
        let applied = counted.load(Ordering::SeqCst);
        // The eleventh waited until half the bytes were applied (one may be in hand).
        assert!(applied + 1 >= 5, "the engine waited for room: {applied} applied");
        assert!(applied < sent - 2, "but not for all of it: {applied} of {sent} applied");
        // One input heavier than the whole inbox still goes, once the inbox is empty.
        helper.send(Heavy(sent, 5_000));
        helper.sync();
        assert_eq!(helper.lock().len(), sent + 1);
        assert_eq!(helper.queued_bytes(), 0, "everything applied is counted out");
    }

    #[test]
    fn a_helper_far_behind_applies_everything_in_order_and_sync_waits_for_it() {
        let store = Arc::new(Mutex::new(Vec::new()));
        let helper = Helper::spawn("eventlens-test-helper", store, |seen: &mut Vec<usize>, n: usize| {
            std::thread::sleep(Duration::from_micros(50));
            seen.push(n);
        })
        .unwrap();
        // Four inboxes' worth: the sender waits for the helper to catch up, repeatedly.
        let sent = INBOX_INPUTS * 4;
        for n in 0..sent {
            helper.send(n);
        }
        helper.sync();
        assert_eq!(*helper.lock(), (0..sent).collect::<Vec<_>>());
    }

    #[test]
    fn a_full_inbox_holds_the_engine_until_half_of_it_is_applied_not_all() {
        let store = Arc::new(Mutex::new(Vec::new()));
        // Counted outside the store: taking the store's lock to count would wait on a helper
        // that takes it for every input, and could see the inbox drained before it got it.
        let counted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = Arc::clone(&counted);
        let helper = Helper::spawn("eventlens-test-helper", store, move |seen: &mut Vec<usize>, n: usize| {
            std::thread::sleep(Duration::from_millis(5));
            seen.push(n);
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
        .unwrap();
        // One input past a full inbox: the engine waits until the helper is half an inbox
        // behind, then goes on while the helper works through the rest (about 160 ms, so a
        // loaded machine that delays the engine a while does not make it look as if it
        // waited for all).
        let sent = INBOX_INPUTS + 2;
        for n in 0..sent {
            helper.send(n);
        }
        let applied = counted.load(std::sync::atomic::Ordering::SeqCst);
        // Half an inbox waits; the input the helper has taken but not finished is in neither.
        assert!(applied + 1 >= INBOX_INPUTS - LOW_WATER, "the engine waited for room: {applied} applied");
        assert!(applied < sent - 8, "the engine did not wait for the whole inbox: {applied} of {sent} applied");
        helper.sync();
        assert_eq!(*helper.lock(), (0..sent).collect::<Vec<_>>());
    }

    #[test]
    fn a_panicking_helper_is_noticed_and_its_store_kept() {
        let store = Arc::new(Mutex::new(0_u32));
        let helper = Helper::spawn("eventlens-test-helper", store, |n: &mut u32, input: u32| {
            assert!(input < 2, "a bug in the helper");
            *n += 1;
        })
        .unwrap();
        for input in 0..3 {
            helper.send(input);
        }
        while !helper.thread.as_ref().is_some_and(JoinHandle::is_finished) {
            std::thread::sleep(Duration::from_millis(1));
        }
        helper.send(0);
        helper.sync();
        assert_eq!(*helper.lock(), 2);
        assert!(helper.running().is_none(), "the stopped helper is no longer fed");
    }
}
