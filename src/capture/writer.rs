//! Appends records to a session file, zstd-compressed when its name ends in `.zst`.
//!
//! A compressed file is written as one zstd frame whose blocks are flushed at every engine
//! publish: a reader decodes everything up to the last flush even when the writer was killed
//! before it could finish the frame (and `zstdcat` prints it, then reports the cut).
//!
//! A write that fails (a full disk) leaves the file given up with [`CaptureWriter::abandon`]:
//! cut back to its last flush, so it ends with a complete record, and written no more.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::header::CaptureHeader;
use crate::model::record::Record;

/// Writes a session file, one complete line per record.
#[derive(Debug)]
pub struct CaptureWriter {
    path: PathBuf,
    out: Sink,
    records: u64,
    line: Vec<u8>,
    /// The file's length and the records it held at the last flush that succeeded: where a
    /// file a write failed to is cut back to.
    flushed: Flushed,
}

/// The file at a flush: its length, and the records in it.
#[derive(Clone, Copy, Debug, Default)]
struct Flushed {
    bytes: u64,
    records: u64,
}

/// Where lines go: the file, or a zstd encoder in front of it.
enum Sink {
    Plain(BufWriter<FileOut>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<FileOut>>),
}

/// The file under the buffers: counts the bytes that reached it (so a flush knows where the
/// file ends), and once given up takes no more, so dropping the buffers in front of it
/// cannot append a stray piece after the file was cut back.
struct FileOut {
    file: File,
    written: u64,
    given_up: bool,
}

impl Write for FileOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.given_up {
            return Err(std::io::Error::other("the session file was given up after a write failed"));
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.file.flush()
    }
}

impl Sink {
    fn file(&mut self) -> &mut FileOut {
        match self {
            Self::Plain(w) => w.get_mut(),
            Self::Zstd(w) => w.get_mut().get_mut(),
        }
    }
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Plain(_) => "Plain",
            Self::Zstd(_) => "Zstd",
        })
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Self::Plain(w) => w.write(buf),
            Self::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        // For zstd this ends the current block, so everything written so far decodes.
        match self {
            Self::Plain(w) => w.flush(),
            Self::Zstd(w) => w.flush(),
        }
    }
}

/// zstd level: fast enough to keep up with ingest, and session files shrink ~10x.
const ZSTD_LEVEL: i32 = 3;

/// True when a session file name asks for compression.
pub fn is_compressed_name(path: &Path) -> bool {
    path.extension().is_some_and(|e| e.eq_ignore_ascii_case("zst"))
}

/// A write failure, with the file it concerns.
#[derive(Debug, thiserror::Error)]
#[error("cannot write session file {path}: {source}")]
pub struct CaptureWriteError {
    /// The file.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: std::io::Error,
}

impl CaptureWriter {
    /// Creates (or truncates) `path` and writes the header line.
    pub fn create(path: &Path, created_unix_nano: u64) -> Result<Self, CaptureWriteError> {
        let wrap = |source| CaptureWriteError { path: path.to_owned(), source };
        let file = File::create(path).map_err(wrap)?;
        let file = BufWriter::new(FileOut { file, written: 0, given_up: false });
        let out = if is_compressed_name(path) {
            Sink::Zstd(zstd::stream::write::Encoder::new(file, ZSTD_LEVEL).map_err(wrap)?)
        } else {
            Sink::Plain(file)
        };
        let mut writer = Self { path: path.to_owned(), out, records: 0, line: Vec::new(), flushed: Flushed::default() };
        let header = serde_json::to_vec(&CaptureHeader::new(created_unix_nano)).map_err(|e| wrap(e.into()))?;
        writer.write_line(&header)?;
        writer.flush()?;
        Ok(writer)
    }

    /// Appends one record as one line. The line is serialized whole before any byte is
    /// written, so a serialization failure never leaves half a line behind.
    pub fn append(&mut self, record: &Record) -> Result<(), CaptureWriteError> {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let result = serde_json::to_writer(&mut line, record)
            .map_err(|e| CaptureWriteError { path: self.path.clone(), source: e.into() })
            .and_then(|()| self.write_line(&line));
        self.line = line;
        result?;
        self.records += 1;
        Ok(())
    }

    fn write_line(&mut self, bytes: &[u8]) -> Result<(), CaptureWriteError> {
        self.out
            .write_all(bytes)
            .and_then(|()| self.out.write_all(b"\n"))
            .map_err(|source| CaptureWriteError { path: self.path.clone(), source })
    }

    /// Pushes buffered lines to the file.
    pub fn flush(&mut self) -> Result<(), CaptureWriteError> {
        self.out.flush().map_err(|source| CaptureWriteError { path: self.path.clone(), source })?;
        self.flushed = Flushed { bytes: self.out.file().written, records: self.records };
        Ok(())
    }

    /// Gives up a file after a write to it failed (a full disk): cuts it back to its last
    /// flush, so it ends with a complete record (a compressed file at the end of a block, so
    /// it reads up to there), writes nothing more, and returns the records it holds. Lines
    /// written since that flush go with the one that failed: without the cut the file would
    /// end in a piece of a line, and count records its reader then skips. A cut that fails
    /// is logged; the file still opens, its last line skipped.
    pub fn abandon(mut self) -> u64 {
        let Flushed { bytes, records } = self.flushed;
        let out = self.out.file();
        out.given_up = true;
        if out.written > bytes
            && let Err(e) = out.file.set_len(bytes)
        {
            tracing::warn!(
                "cannot cut session file {} back to its last complete record: {e}; its last line is cut short",
                self.path.display()
            );
        }
        records
    }

    /// Ends the file: flushes, and closes the zstd frame of a compressed file. Dropping a
    /// writer without finishing leaves a file that still reads up to its last flush.
    /// A file whose last writes fail is given up as [`abandon`](Self::abandon) says.
    pub fn finish(mut self) -> Result<u64, CaptureWriteError> {
        let finished = match &mut self.out {
            Sink::Plain(w) => w.flush(),
            Sink::Zstd(w) => w.do_finish().and_then(|()| w.get_mut().flush()),
        };
        match finished {
            Ok(()) => Ok(self.records),
            Err(source) => {
                let path = self.path.clone();
                self.abandon();
                Err(CaptureWriteError { path, source })
            }
        }
    }

    /// Records written.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Records written up to the last flush that succeeded (all of them right after one).
    pub fn records_flushed(&self) -> u64 {
        self.flushed.records
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::record::{SourceKind, SpanBatch};

    fn record(n: usize) -> Record {
        let spans = vec![crate::testing::span_fixture(); n];
        Record::Spans(SpanBatch { received_unix_nano: 1, source: SourceKind::OtlpHttp, spans })
    }

    #[test]
    fn a_file_given_up_is_cut_back_to_its_last_flush_and_takes_nothing_more() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["given-up.jsonl", "given-up.jsonl.zst"] {
            let path = dir.path().join(name);
            let mut writer = CaptureWriter::create(&path, 1).unwrap();
            writer.append(&record(1)).unwrap();
            writer.append(&record(2)).unwrap();
            writer.flush().unwrap();
            let flushed = std::fs::metadata(&path).unwrap().len();
            // Written after the flush, some of it past the buffers (as before a failed write).
            for _ in 0..50 {
                writer.append(&record(3)).unwrap();
            }
            assert_eq!((writer.records(), writer.records_flushed()), (52, 2));
            assert_eq!(writer.abandon(), 2, "{name}");
            assert_eq!(std::fs::metadata(&path).unwrap().len(), flushed, "{name}: cut back, nothing appended");
            let capture = crate::capture::read_capture(&path).unwrap();
            let spans: Vec<usize> = capture.records.iter().map(Record::item_count).collect();
            assert_eq!(spans, [1, 2], "{name}");
        }
    }
}
