//! How the message browser shows a payload: pretty JSON, text, or a hex dump. Display code,
//! so it lives in the UI layer; the model keeps the bytes.
//!
//! A payload is up to 64 KiB, and its pretty JSON or hex dump several times that; a key may
//! be as long, and a message may carry a thousand headers. Rendering them and laying them all
//! out every frame took longer than a frame, so [`ShownMessage`] renders each once per
//! selected message (a large one on an `eventlens-payload` thread, [`ShownPayload`] for the
//! payload), and only the rows in view are laid out ([`ShownText::show`]).

use super::background::{Job, JobState, PAYLOAD_THREAD};
use super::theme;
use crate::model::kafka::message::{KafkaMessage, MessageHeader};

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

/// Texts from up to this many bytes are rendered on the frame that first shows them (well
/// under a millisecond in any build); larger ones on a thread of their own.
const RENDER_ON_FRAME_BYTES: usize = 4 * 1024;

/// Up to this many headers, holding up to [`RENDER_ON_FRAME_BYTES`] in all, are shown as a
/// grid of name and value; more go through [`ShownText`] as lines of `name: value`.
const HEADERS_IN_GRID: usize = 16;

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

impl MessageIdentity {
    /// The identity of message `m`, read by browse `browse`.
    pub fn of(m: &KafkaMessage, browse: u64) -> Self {
        Self {
            browse,
            topic: m.topic.clone(),
            partition: m.partition,
            offset: m.offset,
            payload: m.payload.as_ref().map(|p| (p.as_ptr() as usize, p.len())),
        }
    }
}

/// A payload rendered as text (or a key, or headers), with its lines found (so wrapping it to
/// a width costs one step per line, and per character only on lines that are not ASCII).
#[derive(Debug)]
pub struct RenderedPayload {
    /// "JSON", "text", "binary" or "null" for a payload; what else it is otherwise.
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

impl Line {
    /// Whether its characters are its bytes (as in hex dumps, most JSON and most keys).
    fn is_ascii(self) -> bool {
        self.chars == self.end - self.start
    }
}

impl RenderedPayload {
    /// `text`, of kind `kind`, with its lines found.
    pub fn new(kind: &'static str, text: String) -> Self {
        let mut lines = Vec::new();
        let mut start = 0;
        for line in text.split_inclusive('\n') {
            let content = line.strip_suffix('\n').unwrap_or(line);
            lines.push(Line { start, end: start + content.len(), chars: content.chars().count() });
            start += line.len();
        }
        Self { kind, text, lines }
    }

    /// Renders `payload` ([`view_payload`]) and finds its lines.
    pub fn of(payload: Option<&[u8]>) -> Self {
        match payload.map(view_payload) {
            Some(PayloadView::Json(t)) => Self::new("JSON", t),
            Some(PayloadView::Text(t)) => Self::new("text", t),
            Some(PayloadView::Binary(t)) => Self::new("binary", t),
            None => Self::new("null", String::new()),
        }
    }

    /// A key as text (bytes that are not UTF-8 replaced), or `null`.
    pub fn key(key: Option<&[u8]>) -> Self {
        Self::new("key", key.map_or_else(|| "null".to_owned(), |k| String::from_utf8_lossy(k).into_owned()))
    }

    /// Headers as lines of `name: value` ([`header_value`]).
    pub fn headers(headers: &[MessageHeader]) -> Self {
        let mut text = String::new();
        for h in headers {
            text.push_str(&h.key);
            text.push_str(": ");
            text.push_str(&header_value(h));
            text.push('\n');
        }
        Self::new("headers", text)
    }

    /// The text of `line` from byte `from` (a character boundary in it) to its end.
    fn tail(&self, line: Line, from: usize) -> &str {
        self.text.get(from..line.end).unwrap_or_default()
    }
}

/// A header's value as shown: its text, hex when it is not UTF-8, `null` when it has none.
pub fn header_value(header: &MessageHeader) -> String {
    match &header.value {
        None => "null".to_owned(),
        Some(v) => match std::str::from_utf8(v) {
            Ok(text) => text.to_owned(),
            Err(_) => v.iter().map(|b| format!("{b:02x}")).collect(),
        },
    }
}

/// A text's rows once wrapped at `columns` characters: where each line's rows start, and the
/// byte each row starts at (found once per width, so a frame cuts a row out without walking
/// its line).
#[derive(Debug, Default)]
struct Wrapped {
    columns: usize,
    first_rows: Vec<usize>,
    row_starts: Vec<usize>,
}

impl Wrapped {
    fn new(rendered: &RenderedPayload, columns: usize) -> Self {
        let mut first_rows = Vec::with_capacity(rendered.lines.len());
        let mut row_starts = Vec::with_capacity(rendered.lines.len());
        for &line in &rendered.lines {
            first_rows.push(row_starts.len());
            let rows = line.chars.div_ceil(columns).max(1);
            if line.is_ascii() {
                row_starts.extend((0..rows).map(|k| line.start + k * columns));
            } else {
                let content = rendered.text.get(line.start..line.end).unwrap_or_default();
                row_starts.push(line.start);
                let cuts = content.char_indices().skip(columns).step_by(columns).map(|(at, _)| line.start + at);
                row_starts.extend(cuts.take(rows - 1));
            }
        }
        Self { columns, first_rows, row_starts }
    }

    fn rows(&self) -> usize {
        self.row_starts.len()
    }

    /// The text of row `row`.
    fn row<'a>(&self, rendered: &'a RenderedPayload, row: usize) -> &'a str {
        let line = self.first_rows.partition_point(|&first| first <= row).checked_sub(1);
        let Some(&line) = line.and_then(|l| rendered.lines.get(l)) else { return "" };
        let Some(&start) = self.row_starts.get(row) else { return "" };
        let tail = rendered.tail(line, start);
        // The next row's start, when it is on the same line; else the line's end.
        match self.row_starts.get(row + 1) {
            Some(&next) if next > start && next <= line.end => tail.get(..next - start).unwrap_or(tail),
            _ => tail,
        }
    }
}

/// Where a text stands.
#[derive(Debug)]
enum Rendering {
    /// Being rendered on its own thread.
    Pending(Job<RenderedPayload>),
    /// Rendered; wrapped for the last width it was shown at.
    Ready(RenderedPayload, Wrapped),
    /// The rendering thread ended without an answer.
    Failed,
}

/// A text of the selected message as the panel shows it: rendered once per message (off the
/// frame when it is large) and kept while the message stays selected; each frame lays out
/// only the rows in view.
#[derive(Debug)]
pub struct ShownText {
    /// What it is, for "rendering the payload…".
    what: &'static str,
    rendering: Rendering,
}

impl ShownText {
    /// Starts rendering `what` from `bytes` bytes with `render`: on this frame when they are
    /// few, else on a thread of its own, and `ctx` is woken when it is ready.
    pub fn render(
        what: &'static str,
        bytes: usize,
        ctx: &egui::Context,
        render: impl FnOnce() -> RenderedPayload + Send + 'static,
    ) -> Self {
        if bytes <= RENDER_ON_FRAME_BYTES {
            return Self::ready(what, render());
        }
        match Job::spawn(PAYLOAD_THREAD, ctx, render) {
            Ok(job) => Self { what, rendering: Rendering::Pending(job) },
            Err(e) => {
                // The panel says it could not be shown; why is here, once.
                tracing::warn!("cannot start a thread to render {what}: {e}");
                Self { what, rendering: Rendering::Failed }
            }
        }
    }

    fn ready(what: &'static str, rendered: RenderedPayload) -> Self {
        Self { what, rendering: Rendering::Ready(rendered, Wrapped::default()) }
    }

    /// The rendered text, once it is ready.
    pub fn rendered(&mut self) -> Option<&RenderedPayload> {
        if let Rendering::Pending(job) = &self.rendering {
            match job.poll() {
                JobState::Pending => {}
                JobState::Done(rendered) => self.rendering = Rendering::Ready(rendered, Wrapped::default()),
                JobState::Lost => self.rendering = Rendering::Failed,
            }
        }
        match &self.rendering {
            Rendering::Ready(rendered, _) => Some(rendered),
            Rendering::Pending(_) | Rendering::Failed => None,
        }
    }

    /// Draws the text in monospace, wrapped to the width available, as tall as all of its
    /// rows but laying out only those inside the visible part of the (scrolled) panel.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.rendered();
        let (rendered, wrapped) = match &mut self.rendering {
            Rendering::Ready(rendered, wrapped) => (rendered, wrapped),
            Rendering::Pending(_) => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label(egui::RichText::new(format!("rendering {}…", self.what)).weak());
                });
                return;
            }
            Rendering::Failed => {
                ui.label(egui::RichText::new(format!("{} could not be shown", self.what)).color(theme::STATE_BAD));
                return;
            }
        };
        let font = egui::TextStyle::Monospace.resolve(ui.style());
        let row_height = ui.ctx().fonts_mut(|f| f.row_height(&font));
        let glyph = ui.ctx().fonts_mut(|f| f.glyph_width(&font, '0')).max(1.0);
        let width = ui.available_width();
        let columns = ((width / glyph).floor() as usize).max(1);
        if wrapped.columns != columns {
            *wrapped = Wrapped::new(rendered, columns);
        }
        let (rect, _) =
            ui.allocate_exact_size(egui::vec2(width, row_height * wrapped.rows() as f32), egui::Sense::hover());
        let visible = ui.clip_rect().intersect(rect);
        if !visible.is_positive() {
            return;
        }
        let first = ((visible.top() - rect.top()) / row_height).floor().max(0.0) as usize;
        let end = (((visible.bottom() - rect.top()) / row_height).ceil().max(0.0) as usize).min(wrapped.rows());
        for row in first..end {
            let at = egui::Rect::from_min_size(
                egui::pos2(rect.left(), rect.top() + row as f32 * row_height),
                egui::vec2(width, row_height),
            );
            let text = wrapped.row(rendered, row);
            let layout = egui::Layout::left_to_right(egui::Align::Min);
            // A child that leaves the cursor where it is: below the whole text, as allocated
            // (a scope would move it back under this row, onto what follows the text).
            let mut row_ui = ui.new_child(egui::UiBuilder::new().max_rect(at).layout(layout));
            row_ui.add(egui::Label::new(egui::RichText::new(text).monospace()).extend());
        }
    }
}

/// The selected message's payload as the panel shows it: rendered once per message (off the
/// frame when it is large) and kept while the message stays selected; each frame lays out
/// only the rows in view.
#[derive(Debug)]
pub struct ShownPayload {
    identity: MessageIdentity,
    text: ShownText,
}

impl ShownPayload {
    /// Starts rendering `payload` for the message `identity` names; `ctx` is woken when a
    /// payload rendered off the frame is ready.
    pub fn render(identity: MessageIdentity, payload: Option<&[u8]>, ctx: &egui::Context) -> Self {
        let (bytes, payload) = (payload.map_or(0, <[u8]>::len), payload.map(<[u8]>::to_vec));
        let text = ShownText::render("the payload", bytes, ctx, move || RenderedPayload::of(payload.as_deref()));
        Self { identity, text }
    }

    /// Whether this was rendered for the message `identity` names.
    pub fn is_for(&self, identity: &MessageIdentity) -> bool {
        self.identity == *identity
    }

    /// The rendered payload, once it is ready.
    pub fn rendered(&mut self) -> Option<&RenderedPayload> {
        self.text.rendered()
    }

    /// Draws it ([`ShownText::show`]).
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.text.show(ui);
    }
}

/// The selected message's key, headers and payload as the panel shows them, rendered once
/// per message: a key of any size, a thousand headers or a 64 KiB payload cost a frame only
/// the rows in view.
#[derive(Debug)]
pub struct ShownMessage {
    /// The key (`null` when it has none).
    pub key: ShownText,
    /// The headers, when too many or too large for a grid (else the panel draws them as one).
    pub headers: Option<ShownText>,
    /// The payload, and which message this is.
    pub payload: ShownPayload,
}

impl ShownMessage {
    /// Starts rendering message `m` (read by browse `browse`); `ctx` is woken when a text
    /// rendered off the frame is ready.
    pub fn render(m: &KafkaMessage, browse: u64, ctx: &egui::Context) -> Self {
        let key = m.key.clone();
        let key_bytes = key.as_ref().map_or(0, Vec::len);
        let key = ShownText::render("the key", key_bytes, ctx, move || RenderedPayload::key(key.as_deref()));
        let header_bytes: usize = m.headers.iter().map(|h| h.key.len() + h.value.as_ref().map_or(0, Vec::len)).sum();
        let headers = (m.headers.len() > HEADERS_IN_GRID || header_bytes > RENDER_ON_FRAME_BYTES).then(|| {
            let headers = m.headers.clone();
            ShownText::render("the headers", header_bytes, ctx, move || RenderedPayload::headers(&headers))
        });
        let payload = ShownPayload::render(MessageIdentity::of(m, browse), m.payload.as_deref(), ctx);
        Self { key, headers, payload }
    }

    /// Whether this was rendered for the message `identity` names.
    pub fn is_for(&self, identity: &MessageIdentity) -> bool {
        self.payload.is_for(identity)
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
            let rendered = RenderedPayload::of(Some(text.as_bytes()));
            let wrapped = Wrapped::new(&rendered, columns);
            (0..wrapped.rows()).map(|row| wrapped.row(&rendered, row).to_owned()).collect::<Vec<_>>()
        };
        assert_eq!(rows("abcdef\n\nxyé\n", 4), ["abcd", "ef", "", "xyé"]);
        assert_eq!(rows("ééééé", 2), ["éé", "éé", "é"]);
        assert_eq!(rows("abcd", 4), ["abcd"]);
        assert_eq!(rows("aé\nbcdefg", 3), ["aé", "bcd", "efg"]);
    }

    #[test]
    fn keys_and_headers_render_as_text() {
        assert_eq!(RenderedPayload::key(None).text, "null");
        assert_eq!(RenderedPayload::key(Some(b"order-\xff")).text, "order-\u{fffd}");
        let header =
            |key: &str, value: Option<&[u8]>| MessageHeader { key: key.into(), value: value.map(<[u8]>::to_vec) };
        let headers = [header("tenant", Some(b"acme")), header("bin", Some(&[0xff, 0x01])), header("none", None)];
        assert_eq!(RenderedPayload::headers(&headers).text, "tenant: acme\nbin: ff01\nnone: null\n");
    }

    fn message(offset: i64, key: Vec<u8>, headers: usize, payload: &[u8]) -> KafkaMessage {
        KafkaMessage {
            topic: "orders".into(),
            partition: 0,
            offset,
            timestamp_ms: None,
            timestamp_type: crate::model::kafka::message::TimestampType::CreateTime,
            key: Some(key),
            headers: (0..headers).map(|i| MessageHeader { key: format!("h{i}"), value: None }).collect(),
            size: payload.len(),
            payload: Some(payload.to_vec()),
            links: Default::default(),
        }
    }

    #[test]
    fn a_small_message_is_rendered_at_once_and_knows_itself() {
        let m = message(7, b"order-7".to_vec(), 2, br#"{"a":1}"#);
        let mut shown = ShownMessage::render(&m, 1, &egui::Context::default());
        assert_eq!(shown.payload.rendered().unwrap().kind, "JSON");
        assert_eq!(shown.key.rendered().unwrap().text, "order-7");
        assert!(shown.headers.is_none(), "two headers make a grid");
        let identity = MessageIdentity::of(&m, 1);
        assert!(shown.is_for(&identity));
        assert!(!shown.is_for(&MessageIdentity { offset: 8, ..identity }));
    }

    #[test]
    fn a_large_payload_key_and_many_headers_are_rendered_off_the_frame() {
        let m = message(0, vec![b'k'; 64 * 1024], 1_000, &[0u8; 64 * 1024]);
        let mut shown = ShownMessage::render(&m, 1, &egui::Context::default());
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let mut headers = shown.headers.take().expect("a thousand headers are no grid");
        while shown.payload.rendered().is_none() || shown.key.rendered().is_none() || headers.rendered().is_none() {
            assert!(std::time::Instant::now() < deadline, "rendered");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        let payload = shown.payload.rendered().unwrap();
        assert_eq!((payload.kind, payload.lines.len()), ("binary", 4096));
        assert_eq!(shown.key.rendered().unwrap().text.len(), 64 * 1024);
        assert_eq!(headers.rendered().unwrap().lines.len(), 1_000);
    }
}
