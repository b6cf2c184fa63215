//! Reading an import as a stream: one line at a time, each record handed on as soon as it is
//! decoded, so an import of any size holds one line (or one document) and a few records.
//!
//! **Lines or one document.** The first non-blank line decides. A line that is JSON on its
//! own makes the file JSON Lines. A line that starts JSON but ends before the JSON does (`{`,
//! `[`, `{"data": [`) makes the file one pretty-printed document (a Jaeger or Zipkin
//! download, opentelemetry-proto's example trace), read whole up to [`MAX_DOCUMENT_BYTES`].
//! Anything else is a bad line, and the file is read as JSON Lines.
//!
//! **Bad lines.** Lines are read with the session format's limit
//! ([`crate::capture::MAX_LINE_BYTES`]); a longer line, one that is not UTF-8, not JSON or
//! not a shape this knows is skipped, and the first few are reported by number, the rest
//! counted ([`crate::capture::SkippedLines`]).
//!
//! **Times.** A record without a time of its own (a kcat message without `ts`, a CloudEvent
//! without `time` before any had one, spans without end times) is received at the previous
//! record's time. Records before the first one with a time wait for it (at most
//! [`MAX_WAITING_BYTES`] of their lines) and take its time; if the file never tells a time,
//! or more than that waits, they take the time the import ran. Never 0: a record in 1970
//! before one of today would stretch the session's timeline over fifty years.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::{ImportError, ImportSummary, Imported, Importer};
use crate::capture::MAX_LINE_BYTES;
use crate::capture::lines::{LineEnd, LineReader, too_long, utf8};
use crate::model::record::Record;

/// The largest file imported as one JSON document: 64 MiB. A document is decoded whole (a
/// Jaeger or Zipkin download is one JSON value), so this bounds what it holds; larger
/// inputs import as JSON Lines, one request, trace or event per line.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

/// The most (in bytes of their lines) that records without a time wait for the first time
/// the file tells.
pub const MAX_WAITING_BYTES: usize = 16 * 1024 * 1024;

/// Imports a file, handing each record to `emit` in file order as it is read.
pub fn import_file(
    path: &Path,
    mut emit: impl FnMut(Record) -> Result<(), ImportError>,
) -> Result<ImportSummary, ImportError> {
    let file = std::fs::File::open(path).map_err(|source| ImportError::Read { path: path.to_owned(), source })?;
    import_reader(BufReader::new(file), path, &mut emit)
}

/// Imports text held in memory, keeping the records (tests and small inputs).
pub fn import_text(text: &str) -> Result<Imported, ImportError> {
    let mut records = Vec::new();
    let summary = import_reader(text.as_bytes(), Path::new("(text)"), &mut |record| {
        records.push(record);
        Ok(())
    })?;
    Ok(Imported { records, bad: summary.bad, spans: summary.spans, messages: summary.messages })
}

/// Imports what `reader` holds (`name` is what errors call it), handing each record to
/// `emit` as it is decoded.
pub fn import_reader(
    reader: impl BufRead,
    name: &Path,
    emit: &mut dyn FnMut(Record) -> Result<(), ImportError>,
) -> Result<ImportSummary, ImportError> {
    let read_error = |source| ImportError::Read { path: name.to_owned(), source };
    let mut importer = Importer::new(emit);
    let mut lines = LineReader::new(reader);
    let mut line = Vec::new();
    let mut json_lines = false;
    while let Some(end) = lines.read_line(&mut line, MAX_LINE_BYTES).map_err(read_error)? {
        let number = lines.line_number();
        if end == LineEnd::TooLong {
            importer.bad(number, too_long(MAX_LINE_BYTES));
            json_lines = true;
            continue;
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let text = match utf8(&line) {
            Ok(text) => text,
            Err(reason) => {
                importer.bad(number, reason);
                json_lines = true;
                continue;
            }
        };
        match serde_json::from_str::<serde_json::Value>(text) {
            Ok(value) => {
                json_lines = true;
                importer.add(number, line.len(), value)?;
            }
            Err(e) if !json_lines && e.is_eof() => {
                line.push(b'\n');
                return document(line, lines.into_inner(), number, name, importer);
            }
            Err(e) => {
                json_lines = true;
                importer.bad(number, format!("not JSON: {e}"));
            }
        }
    }
    importer.finish()
}

/// Imports a file that is one JSON document: `first` (its first line, numbered `number`)
/// and the rest of `rest`, at most [`MAX_DOCUMENT_BYTES`] in all.
fn document(
    first: Vec<u8>,
    rest: impl BufRead,
    number: usize,
    name: &Path,
    mut importer: Importer<'_>,
) -> Result<ImportSummary, ImportError> {
    let mut input = std::io::Cursor::new(first).chain(rest).take(MAX_DOCUMENT_BYTES as u64 + 1);
    let parsed = serde_json::from_reader::<_, serde_json::Value>(&mut input);
    if input.limit() == 0 {
        return Err(ImportError::DocumentTooLarge { path: name.to_owned() });
    }
    match parsed {
        Ok(value) => importer.add(
            number,
            usize::try_from(MAX_DOCUMENT_BYTES as u64 + 1 - input.limit()).unwrap_or(usize::MAX),
            value,
        )?,
        Err(e) if e.is_io() => return Err(ImportError::Read { path: name.to_owned(), source: e.into() }),
        Err(e) => importer.bad(number + e.line().saturating_sub(1), format!("not JSON: {e}")),
    }
    importer.finish()
}

/// Gives records without a time of their own a time (the rule is in the module's doc).
#[derive(Debug, Default)]
pub(super) struct TimeFill {
    /// The previous record's receive time, once a record has told one.
    previous: Option<u64>,
    /// Records without a time, before any record told one.
    waiting: Vec<Record>,
    /// The bytes of the lines they came from.
    waiting_bytes: usize,
}

impl TimeFill {
    /// Hands `record` (decoded from `bytes` of input) on with a time, or holds it until one
    /// is known.
    pub(super) fn place(
        &mut self,
        mut record: Record,
        bytes: usize,
        emit: &mut dyn FnMut(Record) -> Result<(), ImportError>,
    ) -> Result<(), ImportError> {
        let at = record.received_unix_nano();
        if at != 0 {
            if self.previous.is_none() {
                self.release(at, emit)?;
            }
            self.previous = Some(at);
        } else if let Some(previous) = self.previous {
            set_received(&mut record, previous);
        } else if self.waiting_bytes.saturating_add(bytes) <= MAX_WAITING_BYTES {
            self.waiting_bytes += bytes;
            self.waiting.push(record);
            return Ok(());
        } else {
            let now = crate::pipeline::clock::unix_nanos_now();
            self.release(now, emit)?;
            self.previous = Some(now);
            set_received(&mut record, now);
        }
        emit(record)
    }

    /// Hands on what still waits, at the time the import ran (the input told no time).
    pub(super) fn finish(
        &mut self,
        emit: &mut dyn FnMut(Record) -> Result<(), ImportError>,
    ) -> Result<(), ImportError> {
        if self.waiting.is_empty() {
            return Ok(());
        }
        self.release(crate::pipeline::clock::unix_nanos_now(), emit)
    }

    fn release(&mut self, at: u64, emit: &mut dyn FnMut(Record) -> Result<(), ImportError>) -> Result<(), ImportError> {
        self.waiting_bytes = 0;
        for mut record in self.waiting.drain(..) {
            set_received(&mut record, at);
            emit(record)?;
        }
        Ok(())
    }
}

fn set_received(record: &mut Record, at: u64) {
    match record {
        Record::Spans(batch) => batch.received_unix_nano = at,
        Record::Kafka(kafka) => kafka.received_unix_nano = at,
        Record::Nats(nats) => nats.received_unix_nano = at,
        Record::Rabbitmq(rabbitmq) => rabbitmq.received_unix_nano = at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kcat(offset: u64, ts: Option<u64>) -> String {
        let ts = ts.map(|t| format!(r#","ts":{t}"#)).unwrap_or_default();
        format!(r#"{{"topic":"orders","partition":0,"offset":{offset}{ts},"payload":"p"}}"#)
    }

    fn times(text: &str) -> Vec<u64> {
        import_text(text).unwrap().records.iter().map(Record::received_unix_nano).collect()
    }

    #[test]
    fn a_record_without_a_time_takes_the_previous_or_the_first_known() {
        const MS: u64 = 1_000_000;
        let text = [kcat(1, None), kcat(2, None), kcat(3, Some(1_700_000_000_000)), kcat(4, None), kcat(5, Some(5))]
            .join("\n");
        let t = 1_700_000_000_000 * MS;
        assert_eq!(times(&text), [t, t, t, t, 5 * MS]);
        // No time anywhere: the time the import ran, never 0.
        let before = crate::pipeline::clock::unix_nanos_now();
        let untimed = times(&[kcat(1, None), kcat(2, None)].join("\n"));
        assert!(untimed.iter().all(|t| *t >= before), "{untimed:?}");
    }

    #[test]
    fn invalid_utf8_and_overlong_lines_are_skipped_by_number() {
        let mut input = kcat(1, Some(1_000)).into_bytes();
        input.extend_from_slice(b"\n{\"topic\":\"\xff\xfe\"}\n");
        input.extend(std::iter::repeat_n(b' ', MAX_LINE_BYTES + 1));
        input.extend_from_slice(b"\n");
        input.extend_from_slice(kcat(2, Some(2_000)).as_bytes());
        let mut records = 0;
        let summary = import_reader(&input[..], Path::new("x"), &mut |_| {
            records += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!((records, summary.records, summary.messages), (2, 2, 2));
        let bad: Vec<_> = summary.bad.iter().map(|b| (b.line, b.reason.as_str())).collect();
        assert_eq!(bad.len(), 2, "{bad:?}");
        assert_eq!(bad[0], (2, "not UTF-8 (an invalid byte at column 11)"));
        assert!(bad[1].0 == 3 && bad[1].1.starts_with("longer than 16 MiB"), "{bad:?}");
    }

    #[test]
    fn a_document_too_large_to_hold_is_refused() {
        let mut input = b"[\n".to_vec();
        input.extend(std::iter::repeat_n(b' ', MAX_DOCUMENT_BYTES));
        input.extend_from_slice(b"]\n");
        let err = import_reader(&input[..], Path::new("big.json"), &mut |_| Ok(())).unwrap_err();
        assert!(matches!(err, ImportError::DocumentTooLarge { .. }), "{err}");
    }
}
