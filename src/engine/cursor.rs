//! The timeline's cursor on the engine thread: [`Playback`] (where the cursor is, whether it
//! follows the newest record, is paused or plays, and what was built for it), the commands
//! that move it (pause, follow, seek, play) and its advance while playing, and what is
//! published while it is not following: the state at the cursor (`cursor_snapshot`), the
//! head's journeys as known then, and the selected journey then (`cursor_journey`). The log
//! and its checkpoints are in [`playback`](super::playback).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::playback::{PlaybackMode, SessionLog};
use super::snapshot::Snapshot;
use super::state::EngineState;
use super::thread::EngineLoop;
use crate::model::journey::{Expectations, JourneyDetail, JourneyId, JourneyList};

/// What the timeline shows, when it is not following the newest state.
#[derive(Default)]
pub(super) struct Playback {
    pub(super) mode: PlaybackMode,
    pub(super) cursor: u64,
    /// The state at the cursor.
    view: Option<CursorState>,
    /// When playing: the wall time the cursor last moved.
    moved: Option<Instant>,
    /// The head's journeys as known at the cursor.
    journeys: Option<JourneysAtCursor>,
    /// The selected journey at the cursor.
    journey: Option<JourneyAtCursor>,
}

/// The state at the cursor and how many records (absolute) it has applied.
struct CursorState {
    applied: u64,
    state: EngineState,
}

/// The head's journey list cut at a cursor, and the head list's version it was cut from.
struct JourneysAtCursor {
    cursor: u64,
    head_version: u64,
    list: JourneyList,
}

/// A journey's layout at a cursor, and what it was built for: the journey, the cursor and
/// the head list's version.
struct JourneyAtCursor {
    journey: JourneyId,
    cursor: u64,
    head_version: u64,
    detail: Arc<JourneyDetail>,
}

impl EngineLoop {
    /// The newest receive time kept, or 0.
    pub(super) fn end(&self) -> u64 {
        self.log.as_ref().and_then(SessionLog::span).map_or(0, |(_, end)| end)
    }

    pub(super) fn pause(&mut self) {
        match self.playback.mode {
            _ if self.log.is_none() => self.paused = true,
            PlaybackMode::Following => {
                self.playback.cursor = self.end();
                self.playback.mode = PlaybackMode::Paused;
            }
            PlaybackMode::Playing { .. } | PlaybackMode::Paused => self.playback.mode = PlaybackMode::Paused,
        }
    }

    pub(super) fn follow(&mut self) {
        self.paused = false;
        self.playback = Playback::default();
    }

    pub(super) fn seek(&mut self, at: u64) {
        let Some((start, end)) = self.log.as_ref().and_then(SessionLog::span) else { return };
        self.playback.cursor = at.clamp(start, end);
        if self.playback.mode == PlaybackMode::Following {
            self.playback.mode = PlaybackMode::Paused;
        }
        self.playback.moved = Some(Instant::now());
    }

    pub(super) fn play(&mut self, speed: f32) {
        let Some((start, end)) = self.log.as_ref().and_then(SessionLog::span) else { return };
        if self.playback.mode == PlaybackMode::Following || self.playback.cursor >= end {
            self.playback.cursor = start;
        }
        self.playback.mode = PlaybackMode::Playing { speed: speed.clamp(0.1, 100.0) };
        self.playback.moved = Some(Instant::now());
    }

    /// Moves a playing cursor on; true when it moved.
    pub(super) fn advance_playback(&mut self) -> bool {
        let PlaybackMode::Playing { speed } = self.playback.mode else { return false };
        let now = Instant::now();
        let elapsed = self.playback.moved.map_or(Duration::ZERO, |t| now.duration_since(t));
        self.playback.moved = Some(now);
        let step = (elapsed.as_nanos() as f64 * f64::from(speed)) as u64;
        self.playback.cursor = self.playback.cursor.saturating_add(step);
        if self.playback.cursor >= self.end() {
            self.follow();
        }
        step > 0
    }

    /// The selected journey as it stood at the cursor, laid out again only when the cursor,
    /// the selection or the journey changed.
    fn cursor_journey(&mut self) -> Option<Arc<JourneyDetail>> {
        let id = self.state.selected_journey()?;
        let store = self.state.journeys();
        let (cursor, head_version) = (self.playback.cursor, store.list().version());
        if let Some(cached) = &self.playback.journey
            && (cached.journey, cached.cursor, cached.head_version) == (id, cursor, head_version)
        {
            return Some(Arc::clone(&cached.detail));
        }
        let kafka = self.playback.view.as_ref().map_or(&self.state.kafka, |view| &view.state.kafka);
        let mut detail = JourneyDetail::build_until(&store, id, kafka, Some(cursor))?;
        drop(store);
        // Its row as the list at the cursor shows it (counts and status then).
        if let Some(row) = self.playback.journeys.as_ref().and_then(|j| j.list.get(id)) {
            detail.summary = row.clone();
        }
        let detail = Arc::new(detail);
        self.playback.journey =
            Some(JourneyAtCursor { journey: id, cursor, head_version, detail: Arc::clone(&detail) });
        Some(detail)
    }

    /// A snapshot of the state at the cursor, with the head's journeys as known then.
    pub(super) fn cursor_snapshot(&mut self) -> Option<Snapshot> {
        let log = self.log.as_ref()?;
        if self.playback.mode == PlaybackMode::Following {
            return None;
        }
        let target = log.index_at(self.playback.cursor);
        let current = self.playback.view.take().map(|v| (v.applied, v.state));
        let (applied, mut state) = log.state_at(target, current);
        let mut snapshot = state.snapshot(self.playback.cursor / 1_000_000_000 + 1);
        self.playback.view = Some(CursorState { applied, state });
        // Journeys come from the head (checkpoints do not carry them): each as the engine
        // knew it at the cursor, judged against the flow and Kafka models of that moment.
        self.state.sync_journeys();
        let head = self.state.journeys();
        let cursor = self.playback.cursor;
        let version = head.list().version();
        let cached = self.playback.journeys.as_ref().is_some_and(|j| j.cursor == cursor && j.head_version == version);
        if !cached && let Some(view) = &self.playback.view {
            let expect = Expectations::of(&view.state.model, &view.state.kafka);
            let list = head.list_at(cursor, &expect);
            self.playback.journeys = Some(JourneysAtCursor { cursor, head_version: version, list });
        }
        let mut counters = head.counters();
        drop(head);
        if let Some(at_cursor) = &self.playback.journeys {
            let list = &at_cursor.list;
            counters.journeys = list.len() as u64;
            counters.spans = list.iter().map(|j| u64::from(j.spans)).sum();
            snapshot.journeys = list.clone();
        }
        snapshot.journey_counters = counters;
        snapshot.journey = self.cursor_journey();
        Some(snapshot)
    }
}
