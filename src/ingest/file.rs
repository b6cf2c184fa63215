//! The session-file source: reads a recorded session record by record and queues each one
//! for the engine, waiting for room rather than dropping (a file must replay whole). Its
//! progress and outcome go on the source board. Skipped lines are logged for the first few
//! only and counted in the outcome, so a file of millions of bad lines is one summary.

use std::path::PathBuf;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tokio_util::sync::CancellationToken;

use crate::capture::{CaptureItem, CaptureReader, SkippedLines};
use crate::pipeline::queue::RecordSender;
use crate::pipeline::sources::{SourceBoard, SourceState, SourceStatus};

/// How often progress is written to the board.
const PROGRESS_EVERY: Duration = Duration::from_millis(100);

/// The board's name for this source.
pub const NAME: &str = "Session";

/// Starts reading `path` on a named thread. Cancelling `stop` ends the read early.
pub fn spawn(
    path: PathBuf,
    sender: RecordSender,
    board: SourceBoard,
    stop: CancellationToken,
) -> std::io::Result<JoinHandle<()>> {
    set_state(&board, &path, SourceState::Reading(0));
    std::thread::Builder::new().name("eventlens-file".into()).spawn(move || {
        let state = read(&path, &sender, &board, &stop);
        set_state(&board, &path, state);
    })
}

fn read(path: &std::path::Path, sender: &RecordSender, board: &SourceBoard, stop: &CancellationToken) -> SourceState {
    let mut reader = match CaptureReader::open(path) {
        Ok(r) => r,
        Err(e) => return SourceState::Failed(e.to_string()),
    };
    let (mut records, mut skipped) = (0u64, SkippedLines::default());
    let mut shown = Instant::now();
    loop {
        if stop.is_cancelled() {
            return SourceState::Finished(format!("stopped after {records} records"));
        }
        match reader.next_item() {
            Ok(Some(CaptureItem::Record(record))) => {
                if sender.send_blocking(*record).is_err() {
                    return SourceState::Failed("the engine stopped".into());
                }
                records += 1;
            }
            Ok(Some(CaptureItem::Skipped(line))) => {
                if skipped.push(line)
                    && let Some(kept) = skipped.reported().last()
                {
                    tracing::warn!("{}: line {} skipped: {}", path.display(), kept.line, kept.reason);
                }
            }
            Ok(None) => break,
            Err(e) => return SourceState::Failed(e.to_string()),
        }
        if shown.elapsed() >= PROGRESS_EVERY {
            let (read, total) = reader.progress();
            set_state(board, path, SourceState::Reading((read * 100 / total.max(1)) as u8));
            shown = Instant::now();
        }
    }
    let mut summary = format!("{records} records read");
    if let Some(first) = skipped.first() {
        summary.push_str(&format!(
            "; {} lines skipped (first: line {}: {})",
            skipped.total(),
            first.line,
            first.reason
        ));
    }
    if skipped.unreported() > 0 {
        tracing::warn!("{}: {} lines skipped in all", path.display(), skipped.total());
    }
    SourceState::Finished(summary)
}

fn set_state(board: &SourceBoard, path: &std::path::Path, state: SourceState) {
    let Ok(mut sources) = board.lock() else { return };
    let address = path.display().to_string();
    match sources.iter_mut().find(|s| s.name == NAME && s.address == address) {
        Some(s) => s.state = state,
        None => sources.push(SourceStatus { name: NAME.into(), address, state }),
    }
}
