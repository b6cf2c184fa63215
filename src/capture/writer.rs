//! Appends records to a session file, zstd-compressed when its name ends in `.zst`.
//!
//! A compressed file is written as one zstd frame whose blocks are flushed at every engine
//! publish: a reader decodes everything up to the last flush even when the writer was killed
//! before it could finish the frame (and `zstdcat` prints it, then reports the cut).

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
}

/// Where lines go: the file, or a zstd encoder in front of it.
enum Sink {
    Plain(BufWriter<File>),
    Zstd(zstd::stream::write::Encoder<'static, BufWriter<File>>),
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
        let file = BufWriter::new(File::create(path).map_err(wrap)?);
        let out = if is_compressed_name(path) {
            Sink::Zstd(zstd::stream::write::Encoder::new(file, ZSTD_LEVEL).map_err(wrap)?)
        } else {
            Sink::Plain(file)
        };
        let mut writer = Self { path: path.to_owned(), out, records: 0, line: Vec::new() };
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
        self.out.flush().map_err(|source| CaptureWriteError { path: self.path.clone(), source })
    }

    /// Ends the file: flushes, and closes the zstd frame of a compressed file. Dropping a
    /// writer without finishing leaves a file that still reads up to its last flush.
    pub fn finish(self) -> Result<u64, CaptureWriteError> {
        let wrap = |source| CaptureWriteError { path: self.path.clone(), source };
        match self.out {
            Sink::Plain(mut w) => w.flush().map_err(wrap)?,
            Sink::Zstd(w) => w.finish().and_then(|mut f| f.flush()).map_err(wrap)?,
        }
        Ok(self.records)
    }

    /// Records written.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
