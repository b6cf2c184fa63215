//! A time slice of a session file as a session file of its own: the records received between
//! two moments, for a bug report or a review that needs only the minute something broke.
//!
//! A slice opens like a whole session: the Kafka state in force when it starts (each
//! cluster's latest connection state, metadata, group listing and offset poll) is carried
//! into it, stamped with the slice's start.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use super::lines::SkippedLines;
use super::reader::{CaptureError, CaptureItem, CaptureReader};
use super::writer::{CaptureWriteError, CaptureWriter};
use crate::model::kafka::{KafkaEvent, KafkaRecord};
use crate::model::record::Record;

/// Where a slice starts or ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SliceBound {
    /// This long after the session's first record.
    Offset(Duration),
    /// At this moment, Unix nanoseconds.
    At(u64),
}

impl SliceBound {
    fn resolve(self, session_start: u64) -> u64 {
        match self {
            Self::Offset(d) => session_start.saturating_add(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            Self::At(t) => t,
        }
    }
}

/// Why a slice could not be written.
#[derive(Debug, thiserror::Error)]
pub enum SliceError {
    /// The input could not be read.
    #[error(transparent)]
    Read(#[from] CaptureError),
    /// The output could not be written.
    #[error(transparent)]
    Write(#[from] CaptureWriteError),
    /// The range holds no record.
    #[error("no record of the session falls between the slice's start and end")]
    Empty,
    /// The end is not after the start.
    #[error("the slice ends before it starts")]
    Backwards,
}

/// What a slice holds.
#[derive(Debug, Default)]
pub struct SliceSummary {
    /// Records from the range.
    pub records: u64,
    /// Kafka state records carried to the start.
    pub carried: u64,
    /// Input lines that were skipped, and why (the first few).
    pub skipped: SkippedLines,
}

/// Kafka state a file starts with (a slice, or the next file of a recording ring): per
/// cluster and kind, the latest connection, metadata, group listing and offsets record.
#[derive(Debug, Default)]
pub(crate) struct CarriedState {
    latest: BTreeMap<(String, u8), KafkaRecord>,
}

impl CarriedState {
    pub(crate) fn remember(&mut self, record: &Record) {
        let Record::Kafka(kafka) = record else { return };
        let kind = match kafka.event {
            KafkaEvent::Connection(_) => 0,
            KafkaEvent::Metadata(_) => 1,
            KafkaEvent::Groups(_) => 2,
            KafkaEvent::Offsets(_) => 3,
            KafkaEvent::Messages(_) => return,
        };
        self.latest.insert((kafka.cluster.clone(), kind), kafka.clone());
    }

    pub(crate) fn write(&self, writer: &mut CaptureWriter, at: u64) -> Result<u64, CaptureWriteError> {
        let mut written = 0;
        for record in self.latest.values() {
            let mut record = record.clone();
            record.received_unix_nano = at;
            writer.append(&Record::Kafka(record))?;
            written += 1;
        }
        Ok(written)
    }
}

/// Writes the records of `input` received in `[from, to)` to `output` (`.zst` compresses).
/// Without `from`, the slice starts at the session's start; without `to`, it runs to its end.
pub fn slice(
    input: &Path,
    output: &Path,
    from: Option<SliceBound>,
    to: Option<SliceBound>,
) -> Result<SliceSummary, SliceError> {
    let mut reader = CaptureReader::open(input)?;
    let mut summary = SliceSummary::default();
    let mut carried = Some(CarriedState::default());
    let mut writer: Option<CaptureWriter> = None;
    let mut range: Option<(u64, u64)> = None;
    while let Some(item) = reader.next_item()? {
        let record = match item {
            CaptureItem::Record(record) => record,
            CaptureItem::Skipped(line) => {
                summary.skipped.push(line);
                continue;
            }
        };
        let at = record.received_unix_nano();
        let (start, end) =
            *range.get_or_insert_with(|| (from.map_or(at, |b| b.resolve(at)), to.map_or(u64::MAX, |b| b.resolve(at))));
        if end <= start {
            return Err(SliceError::Backwards);
        }
        if at >= end {
            break;
        }
        if at < start {
            if let Some(state) = &mut carried {
                state.remember(&record);
            }
            continue;
        }
        let writer = match &mut writer {
            Some(writer) => writer,
            None => {
                let mut created = CaptureWriter::create(output, start)?;
                if let Some(state) = carried.take() {
                    summary.carried = state.write(&mut created, start)?;
                }
                writer.insert(created)
            }
        };
        writer.append(&record)?;
        summary.records += 1;
    }
    match writer {
        Some(writer) => {
            writer.finish()?;
            Ok(summary)
        }
        None => Err(SliceError::Empty),
    }
}
