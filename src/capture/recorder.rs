//! A recording with limits: one session file that stops at a size or age cap, or a ring of
//! numbered files (`name-0001.jsonl.zst`, `name-0002...`) of which only the newest N stay.
//!
//! Every file of a ring opens on its own: it starts with the Kafka state in force (each
//! cluster's latest connection, metadata, group listing and offsets record), as a slice does.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::slice::CarriedState;
use super::writer::{CaptureWriteError, CaptureWriter};
use crate::model::record::Record;

/// Caps on a recording; none by default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RecordingLimits {
    /// Bytes on disk per file.
    pub max_bytes: Option<u64>,
    /// Age per file.
    pub max_duration: Option<Duration>,
    /// Keep this many files, starting a new one at a cap; without it, recording stops there.
    pub ring: Option<usize>,
}

impl RecordingLimits {
    /// True when no cap is set.
    pub fn is_unlimited(&self) -> bool {
        self.max_bytes.is_none() && self.max_duration.is_none()
    }

    /// The caps in words, for the top bar.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(bytes) = self.max_bytes {
            parts.push(bytesize::ByteSize::b(bytes).display().si().to_string());
        }
        if let Some(age) = self.max_duration {
            parts.push(humantime::format_duration(age).to_string());
        }
        let cap = parts.join(" or ");
        match self.ring {
            Some(n) => format!("{cap} per file, newest {n} kept"),
            None => format!("stops at {cap}"),
        }
    }
}

/// What a check after a flush found.
#[derive(Debug, PartialEq, Eq)]
pub enum Checked {
    /// Under the caps.
    Fine,
    /// A new file of the ring was started.
    Rotated,
    /// A cap was reached without a ring: the recording is finished, for this reason.
    Stopped(String),
}

/// A recording in progress.
#[derive(Debug)]
pub struct Recorder {
    base: PathBuf,
    limits: RecordingLimits,
    writer: Option<CaptureWriter>,
    started: Instant,
    /// Records written in all files.
    records: u64,
    segment: u32,
    segments: VecDeque<PathBuf>,
    carried: CarriedState,
}

/// `dir/name-0003.jsonl.zst` for `dir/name.jsonl.zst` and segment 3.
fn segment_path(base: &Path, segment: u32) -> PathBuf {
    let name = base.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (stem, extensions) = name.split_once('.').map_or((name.as_str(), String::new()), |(s, e)| (s, format!(".{e}")));
    base.with_file_name(format!("{stem}-{segment:04}{extensions}"))
}

impl Recorder {
    /// Starts recording to `path` (the first file of a ring is `path` numbered 0001).
    pub fn create(path: &Path, created_unix_nano: u64, limits: RecordingLimits) -> Result<Self, CaptureWriteError> {
        let first = if limits.ring.is_some() { segment_path(path, 1) } else { path.to_owned() };
        let writer = CaptureWriter::create(&first, created_unix_nano)?;
        Ok(Self {
            base: path.to_owned(),
            limits,
            writer: Some(writer),
            started: Instant::now(),
            records: 0,
            segment: 1,
            segments: VecDeque::from([first]),
            carried: CarriedState::default(),
        })
    }

    /// Appends a record to the current file.
    pub fn append(&mut self, record: &Record) -> Result<(), CaptureWriteError> {
        self.carried.remember(record);
        if let Some(writer) = &mut self.writer {
            writer.append(record)?;
            self.records += 1;
        }
        Ok(())
    }

    /// Flushes, then applies the caps: a new file of the ring, or the end of the recording.
    pub fn flush_and_check(&mut self, now_unix_nano: u64) -> Result<Checked, CaptureWriteError> {
        let Some(writer) = &mut self.writer else { return Ok(Checked::Fine) };
        writer.flush()?;
        if self.limits.is_unlimited() {
            return Ok(Checked::Fine);
        }
        let size = std::fs::metadata(writer.path()).map_or(0, |m| m.len());
        let over_size = self.limits.max_bytes.is_some_and(|max| size >= max);
        let over_age = self.limits.max_duration.is_some_and(|max| self.started.elapsed() >= max);
        if !over_size && !over_age {
            return Ok(Checked::Fine);
        }
        let Some(keep) = self.limits.ring else {
            let reason = if over_size { "reached its size cap" } else { "reached its duration cap" };
            self.finish_current()?;
            return Ok(Checked::Stopped(format!("the recording {reason} ({})", self.limits.describe())));
        };
        self.finish_current()?;
        self.segment += 1;
        let next = segment_path(&self.base, self.segment);
        let mut writer = CaptureWriter::create(&next, now_unix_nano)?;
        self.carried.write(&mut writer, now_unix_nano)?;
        writer.flush()?;
        self.writer = Some(writer);
        self.started = Instant::now();
        self.segments.push_back(next);
        while self.segments.len() > keep.max(1) {
            if let Some(old) = self.segments.pop_front()
                && let Err(e) = std::fs::remove_file(&old)
            {
                tracing::warn!("cannot remove old recording file {}: {e}", old.display());
            }
        }
        Ok(Checked::Rotated)
    }

    fn finish_current(&mut self) -> Result<(), CaptureWriteError> {
        match self.writer.take() {
            Some(writer) => writer.finish().map(drop),
            None => Ok(()),
        }
    }

    /// Gives the recording up after a write failed (a full disk): the current file is cut
    /// back to its last flush ([`CaptureWriter::abandon`]); returns the records its files
    /// hold.
    pub fn abandon(mut self) -> u64 {
        let kept = self.records_flushed();
        if let Some(writer) = self.writer.take() {
            writer.abandon();
        }
        kept
    }

    /// Records its files held at the last flush: what they keep when the recording is given
    /// up, or when finishing it fails. (A ring file's carried Kafka state is flushed as soon
    /// as it is written and counted by the file alone.)
    pub fn records_flushed(&self) -> u64 {
        match &self.writer {
            Some(writer) => self.records.saturating_sub(writer.records() - writer.records_flushed()),
            None => self.records,
        }
    }

    /// Ends the recording; returns the records written in all its files.
    pub fn finish(mut self) -> Result<u64, CaptureWriteError> {
        self.finish_current()?;
        Ok(self.records)
    }

    /// Records written in all files.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The file being written (the newest of a ring).
    pub fn path(&self) -> &Path {
        self.segments.back().map_or(&self.base, PathBuf::as_path)
    }

    /// The caps, in words, when there are any.
    pub fn limits(&self) -> Option<String> {
        (!self.limits.is_unlimited()).then(|| self.limits.describe())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_files_are_numbered_before_the_extensions() {
        assert_eq!(segment_path(Path::new("/tmp/s.jsonl.zst"), 3), PathBuf::from("/tmp/s-0003.jsonl.zst"));
        assert_eq!(segment_path(Path::new("rec"), 12), PathBuf::from("rec-0012"));
        let limits = RecordingLimits { max_bytes: Some(500_000_000), max_duration: None, ring: Some(4) };
        assert_eq!(limits.describe(), "500.0 MB per file, newest 4 kept");
        let limits = RecordingLimits { max_duration: Some(Duration::from_secs(3600)), ..RecordingLimits::default() };
        assert_eq!(limits.describe(), "stops at 1h");
    }
}
