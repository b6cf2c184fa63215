//! How the message browser shows a payload: pretty JSON, text, or a hex dump. Display code,
//! so it lives in the UI layer; the model keeps the bytes.
//!
//! A payload is up to 64 KiB, and its pretty JSON or hex dump several times that. Rendering
//! it and laying it all out every frame took longer than a frame, so [`ShownPayload`] renders
//! it once per selected message (a large one on an `eventlens-payload` thread), and only the
//! rows in view are laid out ([`ShownPayload::show`]).

use super::background::{Job, JobState, PAYLOAD_THREAD};
use super::theme;

/// How a payload is best shown.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PayloadView {
    /// Valid JSON, pretty-printed.
    Json(String),
    /// UTF-8 text.
    Text(String),
    /// Anything else: hex and ASCII, 16 bytes a line.
    Binary(String),
}

/// Renders bytes as pretty JSON when they are JSON, text when UTF-8, hex + ASCII otherwise.
pub fn view_payload(bytes: &[u8]) -> PayloadView {
    if let Ok(json) = serde_json::from_slice::<serde_json::Value>(bytes)
        && (json.is_object() || json.is_array())
        && let Ok(pretty) = serde_json::to_string_pretty(&json)
    {
        return PayloadView::Json(pretty);
    }
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.chars().any(|c| c.is_control() && !c.is_whitespace()) => PayloadView::Text(text.to_owned()),
        _ => PayloadView::Binary(hex_dump(bytes)),
    }
}

/// `00000000  7b 22 61 22 ...  |{"a"...|`, 16 bytes a line.
pub fn hex_dump(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    // 78 characters a line: pushed one by one, as `write!` per byte was most of the cost.
    let mut out = String::with_capacity(bytes.len().div_ceil(16) * 78);
    for (i, chunk) in bytes.chunks(16).enumerate() {
        let _infallible = write!(out, "{:08x}  ", i * 16);
        for j in 0..16 {
            match chunk.get(j) {
                Some(&b) => {
                    out.push(char::from(DIGITS[usize::from(b >> 4)]));
                    out.push(char::from(DIGITS[usize::from(b & 0xf)]));
                    out.push(' ');
                }
                None => out.push_str("   "),
            }
        }
        out.push(' ');
        out.push('|');
        out.extend(chunk.iter().map(|&b| if b.is_ascii_graphic() || b == b' ' { b as char } else { '.' }));
        out.push_str("|\n");
    }
    out
}

/// Payloads up to this size are rendered on the frame that first shows them (well under a
/// millisecond in any build); larger ones on a thread of their own.
const RENDER_ON_FRAME_BYTES: usize = 4 * 1024;

/// Which message a [`ShownPayload`] was rendered for: its browse, place in its topic, and its
/// payload's address and length in the snapshot (kept in shared, immutable batches, so the
/// address stays while the message does), so a message read again is rendered again.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageIdentity {
    /// The browse that read it.
    pub browse: u64,
    /// Its topic.
    pub topic: String,
    /// Its partition.
    pub partition: i32,
    /// Its offset.
    pub offset: i64,
    /// Where its payload's bytes are, and how many.
    pub payload: Option<(usize, usize)>,
}

/// A payload rendered as text, with its lines found (so wrapping it to a width costs one step
/// per line, not per character).
#[derive(Debug)]
pub struct RenderedPayload {
    /// "JSON", "text", "binary" or "null".
    pub kind: &'static str,
    /// The whole text (what Copy copies).
    pub text: String,
    lines: Vec<Line>,
}

/// One line of a [`RenderedPayload`]: its bytes (without the newline) and characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Line {
    start: usize,
    end: usize,
    chars: usize,
}

impl RenderedPayload {
    /// Renders `payload` ([`view_payload`]) and finds its lines.
    pub fn of(payload: Option<&[u8]>) -> Self {
        let (kind, text) = match payload.map(view_payload) {
            Some(PayloadView::Json(t)) => ("JSON", t),
            Some(PayloadView::Text(t)) => ("text", t),
            Some(PayloadView::Binary(t)) => ("binary", t),
            None => ("null", String::new()),
        };
        let mut lines = Vec::new();
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let content = line.strip_suffix('\n').unwrap_or(line);
            lines.push(Line { start, end: start + content.len(), chars: content.chars().count() });
            start += line.len();
        }
        Self { kind, text, lines }
    }

    /// Row `k` of line `line` wrapped at `columns` characters.
    fn row(&self, line: Line, k: usize, columns: usize) -> &str {
        let content = self.text.get(line.start..line.end).unwrap_or_default();
        let (from, to) = (k * columns, ((k + 1) * columns).min(line.chars));
        if line.chars == content.len() {
            // ASCII (as hex dumps and most JSON are): characters are bytes.
            return content.get(from..to).unwrap_or_default();
        }
        let mut bounds = content.char_indices().map(|(at, _)| at).chain(std::iter::once(content.len()));
        let start = bounds.nth(from).unwrap_or(content.len());
        let end = if to > from { bounds.nth(to - from - 1).unwrap_or(content.len()) } else { start };
        content.get(start..end).unwrap_or_default()
    }
}

/// Where each line's rows start once wrapped at `columns` characters, and how many rows
/// there are in all.
#[derive(Debug, Default)]
struct Wrapped {
    columns: usize,
    first_rows: Vec<usize>,
    rows: usize,
}

impl Wrapped {
    fn new(payload: &RenderedPayload, columns: usize) -> Self {
        let mut first_rows = Vec::with_capacity(payload.lines.len());
        let mut rows = 0;
        for line in &payload.lines {
            first_rows.push(rows);
            rows += line.chars.div_ceil(columns).max(1);
        }
        Self { columns, first_rows, rows }
    }

    /// The line row `row` belongs to, and which of its rows it is.
    fn locate(&self, row: usize) -> Option<(usize, usize)> {
        let line = self.first_rows.partition_point(|&first| first <= row).checked_sub(1)?;
        Some((line, row - self.first_rows.get(line)?))
    }
}

/// Where the selected message's payload stands.
#[derive(Debug)]
enum Rendering {
    /// Being rendered on its own thread.
    Pending(Job<RenderedPayload>),
    /// Rendered; wrapped for the last width it was shown at.
    Ready(RenderedPayload, Wrapped),
    /// The rendering thread ended without an answer.
    Failed,
}

/// The selected message's payload as the panel shows it: rendered once per message (off the
/// frame when it is large) and kept while the message stays selected; each frame lays out
/// only the rows in view.
#[derive(Debug)]
pub struct ShownPayload {
    identity: MessageIdentity,
    rendering: Rendering,
}

impl ShownPayload {
    /// Starts rendering `payload` for the message `identity` names; `ctx` is woken when a
    /// payload rendered off the frame is ready.
    pub fn render(identity: MessageIdentity, payload: Option<&[u8]>, ctx: &egui::Context) -> Self {
        let ready = |payload: Option<&[u8]>| Rendering::Ready(RenderedPayload::of(payload), Wrapped::default());
        let rendering = match payload {
            Some(bytes) if bytes.len() > RENDER_ON_FRAME_BYTES => {
                let bytes = bytes.to_vec();
                match Job::spawn(PAYLOAD_THREAD, ctx, move || RenderedPayload::of(Some(&bytes))) {
                    Ok(job) => Rendering::Pending(job),
                    Err(e) => {
                        tracing::warn!("cannot start a thread to render a payload ({e}); rendering it on the frame");
                        ready(payload)
                    }
                }
            }
            _ => ready(payload),
        };
        Self { identity, rendering }
    }

    /// Whether this was rendered for the message `identity` names.
    pub fn is_for(&self, identity: &MessageIdentity) -> bool {
        self.identity == *identity
    }

    /// The rendered payload, once it is ready.
    pub fn rendered(&mut self) -> Option<&RenderedPayload> {
        if let Rendering::Pending(job) = &self.rendering {
            match job.poll() {
                JobState::Pending => {}
                JobState::Done(payload) => self.rendering = Rendering::Ready(payload, Wrapped::default()),
                JobState::Lost => self.rendering = Rendering::Failed,
            }
        }
        match &self.rendering {
            Rendering::Ready(payload, _) => Some(payload),
            Rendering::Pending(_) | Rendering::Failed => None,
        }
    }

    /// Draws the text in monospace, wrapped to the width available, as tall as all of its
    /// rows but laying out only those inside the visible part of the (scrolled) panel.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.rendered();
        let (payload, wrapped) = match &mut self.rendering {
            Rendering::Ready(payload, wrapped) => (payload, wrapped),
            Rendering::Pending(_) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(egui::RichText::new("rendering the payload…").weak());
                });
                return;
            }
            Rendering::Failed => {
                ui.label(egui::RichText::new("the payload could not be shown").color(theme::STATE_BAD));
                return;
            }
        };
        let font = egui::TextStyle::Monospace.resolve(ui.style());
        let row_height = ui.ctx().fonts_mut(|f| f.row_height(&font));
        let glyph = ui.ctx().fonts_mut(|f| f.glyph_width(&font, '0')).max(1.0);
        let width = ui.available_width();
        let columns = ((width / glyph).floor() as usize).max(1);
        if wrapped.columns != columns {
            *wrapped = Wrapped::new(payload, columns);
        }
        let (rect, _) =
            ui.allocate_exact_size(egui::vec2(width, row_height * wrapped.rows as f32), egui::Sense::hover());
        let visible = ui.clip_rect().intersect(rect);
        if !visible.is_positive() {
            return;
        }
        let first = ((visible.top() - rect.top()) / row_height).floor().max(0.0) as usize;
        let end = (((visible.bottom() - rect.top()) / row_height).ceil().max(0.0) as usize).min(wrapped.rows);
        for row in first..end {
            let Some((line, k)) = wrapped.locate(row) else { break };
            let Some(&line) = payload.lines.get(line) else { break };
            let at = egui::Rect::from_min_size(
                egui::pos2(rect.left(), rect.top() + row as f32 * row_height),
                egui::vec2(width, row_height),
            );
            let text = payload.row(line, k, columns);
            let layout = egui::Layout::left_to_right(egui::Align::Min);
            ui.scope_builder(egui::UiBuilder::new().max_rect(at).layout(layout), |ui| {
                ui.add(egui::Label::new(egui::RichText::new(text).monospace()).extend());
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_render_as_json_text_or_hex() {
        assert!(matches!(view_payload(br#"{"a":1}"#), PayloadView::Json(p) if p.contains("\"a\": 1")));
        assert_eq!(view_payload(b"hello"), PayloadView::Text("hello".into()));
        let PayloadView::Binary(dump) = view_payload(&[0, 1, 0xff, b'A']) else { panic!("binary") };
        assert_eq!(dump, format!("00000000  00 01 ff 41 {} |...A|\n", "   ".repeat(12)));
    }

    #[test]
    fn rows_are_lines_cut_at_the_column_count_on_character_boundaries() {
        let rows = |text: &str, columns: usize| {
            let payload = RenderedPayload::of(Some(text.as_bytes()));
            let wrapped = Wrapped::new(&payload, columns);
            (0..wrapped.rows)
                .map(|row| {
                    let (line, k) = wrapped.locate(row).unwrap();
                    payload.row(payload.lines[line], k, columns).to_owned()
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(rows("abcdef\n\nxyé\n", 4), ["abcd", "ef", "", "xyé"]);
        assert_eq!(rows("ééééé", 2), ["éé", "éé", "é"]);
        assert_eq!(rows("abcd", 4), ["abcd"]);
    }

    #[test]
    fn a_small_payload_is_rendered_at_once_and_knows_its_message() {
        let identity =
            MessageIdentity { browse: 1, topic: "orders".into(), partition: 0, offset: 7, payload: Some((1, 2)) };
        let mut shown = ShownPayload::render(identity.clone(), Some(br#"{"a":1}"#), &egui::Context::default());
        assert_eq!(shown.rendered().unwrap().kind, "JSON");
        assert!(shown.is_for(&identity));
        assert!(!shown.is_for(&MessageIdentity { offset: 8, ..identity }));
    }

    #[test]
    fn a_large_payload_is_rendered_off_the_frame() {
        let identity = MessageIdentity { browse: 1, topic: "t".into(), partition: 0, offset: 0, payload: None };
        let mut shown = ShownPayload::render(identity, Some(&[0u8; 64 * 1024]), &egui::Context::default());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while shown.rendered().is_none() {
            assert!(std::time::Instant::now() < deadline, "rendered");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let rendered = shown.rendered().unwrap();
        assert_eq!((rendered.kind, rendered.lines.len()), ("binary", 4096));
    }
}
