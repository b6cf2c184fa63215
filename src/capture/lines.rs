//! Lines from files anyone may have written: session files, and what `eventlens import`
//! reads. A line is read with a limit ([`MAX_LINE_BYTES`]); a longer one is skipped without
//! ever holding more than the limit, so `/dev/zero`, a FIFO of endless bytes or a zstd file
//! that inflates to one 4 GiB line cannot grow memory. Lines that cannot be used are
//! counted, and only the first few are kept to be reported ([`SkippedLines`]), so millions
//! of them cost nothing but a counter.

use std::io::{BufRead, Read};

/// The longest line kept: 16 MiB. A session record is one line, and one OTLP request (the
/// receivers take at most 4 MiB) or one Kafka message batch fits well within it; a longer
/// line is skipped and reported.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// Skipped lines reported one by one, with their numbers and reasons; those after are only
/// counted.
pub const REPORTED_SKIPPED_LINES: usize = 5;

/// How a line read ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineEnd {
    /// The whole line is in the buffer (without its `\n`).
    Complete,
    /// The line is longer than the limit: the buffer is empty and the rest of the line is
    /// passed over by the next read.
    TooLong,
}

/// Reads lines of at most a given length from a buffered reader.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    /// The line read last.
    line_number: usize,
    /// Inside a line that was too long: its rest is skipped before the next line.
    skipping: bool,
}

impl<R: BufRead> LineReader<R> {
    /// Reads lines from `inner`, numbered from 1.
    pub fn new(inner: R) -> Self {
        Self { inner, line_number: 0, skipping: false }
    }

    /// The number (1-based) of the line read last; 0 before the first.
    pub fn line_number(&self) -> usize {
        self.line_number
    }

    /// The reader, positioned just after the line read last. Meaningless after a
    /// [`LineEnd::TooLong`] (the rest of that line is still unread).
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Reads the next line into `line` (cleared first); `None` at the end. A line longer
    /// than `max` bytes returns [`LineEnd::TooLong`] as soon as that is known, having read
    /// only `max + 1` of its bytes; its rest is passed over, a buffer at a time and kept
    /// nowhere, by the next call. A last line without `\n` counts as a line.
    pub fn read_line(&mut self, line: &mut Vec<u8>, max: usize) -> std::io::Result<Option<LineEnd>> {
        line.clear();
        if self.skipping {
            self.skipping = false;
            self.inner.skip_until(b'\n')?;
        }
        // One byte more than a line may hold, for its newline.
        let limit = max as u64 + 1;
        let read = (&mut self.inner).take(limit).read_until(b'\n', line)?;
        if read == 0 {
            return Ok(None);
        }
        self.line_number += 1;
        if line.last() == Some(&b'\n') {
            line.pop();
        } else if read as u64 == limit {
            line.clear();
            self.skipping = true;
            return Ok(Some(LineEnd::TooLong));
        }
        Ok(Some(LineEnd::Complete))
    }
}

/// The line as text, or why it is not UTF-8.
pub fn utf8(line: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(line).map_err(|e| format!("not UTF-8 (an invalid byte at column {})", e.valid_up_to() + 1))
}

/// Why a line longer than `max` bytes was skipped.
pub fn too_long(max: usize) -> String {
    format!("longer than {} MiB (the most a line may hold); skipped", max / (1024 * 1024))
}

/// A line that was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedLine {
    /// 1-based line number.
    pub line: usize,
    /// Why it was skipped.
    pub reason: String,
}

/// Lines that were not used: the first [`REPORTED_SKIPPED_LINES`] with their reasons, and a
/// count of all of them. A file of millions of bad lines is one summary, not a message per
/// line, and keeps five reasons, not millions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkippedLines {
    reported: Vec<SkippedLine>,
    total: u64,
}

impl SkippedLines {
    /// Counts a skipped line; keeps it for the report while fewer than
    /// [`REPORTED_SKIPPED_LINES`] are. True when it was kept (so a caller may log it).
    pub fn push(&mut self, line: SkippedLine) -> bool {
        self.total += 1;
        let kept = self.reported.len() < REPORTED_SKIPPED_LINES;
        if kept {
            self.reported.push(line);
        }
        kept
    }

    /// The skipped lines kept for the report, first first.
    pub fn reported(&self) -> &[SkippedLine] {
        &self.reported
    }

    /// The skipped lines kept for the report.
    pub fn iter(&self) -> std::slice::Iter<'_, SkippedLine> {
        self.reported.iter()
    }

    /// The first skipped line.
    pub fn first(&self) -> Option<&SkippedLine> {
        self.reported.first()
    }

    /// Every skipped line, reported or only counted.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Skipped lines that were only counted.
    pub fn unreported(&self) -> u64 {
        self.total - self.reported.len() as u64
    }

    /// True when no line was skipped.
    pub fn is_empty(&self) -> bool {
        self.total == 0
    }
}

impl<'a> IntoIterator for &'a SkippedLines {
    type Item = &'a SkippedLine;
    type IntoIter = std::slice::Iter<'a, SkippedLine>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufReader, Read};

    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<(usize, Option<String>)> {
        let mut reader = LineReader::new(BufReader::with_capacity(4, input));
        let mut line = Vec::new();
        let mut out = Vec::new();
        while let Some(end) = reader.read_line(&mut line, max).unwrap() {
            let text = (end == LineEnd::Complete).then(|| String::from_utf8_lossy(&line).into_owned());
            out.push((reader.line_number(), text));
        }
        out
    }

    #[test]
    fn long_lines_are_skipped_and_numbered() {
        let got = lines(b"one\ntwo is far too long\n\nthree\nfour without newline", 8);
        let want = [(1, Some("one")), (2, None), (3, Some("")), (4, Some("three")), (5, None)];
        let want: Vec<_> = want.iter().map(|(n, t)| (*n, t.map(str::to_owned))).collect();
        assert_eq!(got, want);
        assert_eq!(lines(b"", 8), []);
        assert_eq!(lines(b"exactly8\nx", 8), [(1, Some("exactly8".into())), (2, Some("x".into()))]);
    }

    #[test]
    fn an_endless_line_holds_no_more_than_the_limit() {
        // 64 MiB of zeros without a newline, then a good line: only the limit is ever held.
        let zeros = std::io::repeat(0).take(64 << 20).chain(&b"\n{}\n"[..]);
        let mut reader = LineReader::new(BufReader::new(zeros));
        let mut line = Vec::new();
        assert_eq!(reader.read_line(&mut line, 1 << 20).unwrap(), Some(LineEnd::TooLong));
        assert!(line.capacity() < 3 << 20, "{}", line.capacity());
        assert_eq!(reader.read_line(&mut line, 1 << 20).unwrap(), Some(LineEnd::Complete));
        assert_eq!((reader.line_number(), line.as_slice()), (2, &b"{}"[..]));
        assert_eq!(reader.read_line(&mut line, 1 << 20).unwrap(), None);
    }

    #[test]
    fn only_the_first_skipped_lines_are_kept() {
        let mut skipped = SkippedLines::default();
        let kept = (1..=1_000).filter(|n| skipped.push(SkippedLine { line: *n, reason: "bad".into() })).count();
        assert_eq!((kept, skipped.total(), skipped.unreported()), (REPORTED_SKIPPED_LINES, 1_000, 995));
        assert_eq!(skipped.first().map(|s| s.line), Some(1));
    }
}
