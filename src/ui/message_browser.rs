//! The message browser: pick a topic, partition and start position, optionally a filter,
//! and read messages (without committing) into a virtual-scrolled table; the selected
//! message opens in a panel with headers, key and payload decoded.

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use super::payload_view::{MessageIdentity, ShownMessage, header_value};
use super::theme;
use crate::engine::Snapshot;
use crate::ingest::browse::{BrowseHandle, BrowseKind, BrowseRequest, StartAt};
use crate::model::kafka::message::{KafkaMessage, MessageFilter, TimestampType};

/// How many matches one browse keeps at most.
const BROWSE_LIMIT: usize = 200_000;

/// The start position picked in the controls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartKind {
    /// Earliest retained.
    Earliest,
    /// The last N messages.
    Latest,
    /// An offset.
    Offset,
    /// A time.
    Timestamp,
}

/// The browser's controls and selection.
#[derive(Debug)]
pub struct MessageBrowserView {
    browsers: Vec<BrowseHandle>,
    /// Cluster index into the browsers.
    pub cluster: usize,
    /// Topic to read.
    pub topic: String,
    /// Partition, or all.
    pub partition: Option<i32>,
    /// Start kind.
    pub start: StartKind,
    /// The number, offset or time for the start kind.
    pub start_value: String,
    /// Key contains.
    pub key: String,
    /// Header name (and `name=value`).
    pub header: String,
    /// Payload contains.
    pub payload: String,
    /// JSON field as `path=value`.
    pub json_field: String,
    /// Trace id in `traceparent`.
    pub trace_id: String,
    /// Keep reading new messages.
    pub follow: bool,
    /// The selected row.
    pub selected: Option<usize>,
    /// Why the last request could not be made.
    pub error: Option<String>,
    /// The selected message's key, headers and payload as rendered, kept while it stays
    /// selected.
    shown: Option<ShownMessage>,
    /// What the last read was of: the table and the panel name a JetStream message's place
    /// by its stream sequence and subject, a Kafka one's by partition, offset and key.
    read_kind: BrowseKind,
}

impl MessageBrowserView {
    /// A browser over these clusters' readers.
    pub fn new(browsers: Vec<BrowseHandle>) -> Self {
        Self {
            browsers,
            cluster: 0,
            topic: String::new(),
            partition: None,
            start: StartKind::Latest,
            start_value: "100".into(),
            key: String::new(),
            header: String::new(),
            payload: String::new(),
            json_field: String::new(),
            trace_id: String::new(),
            follow: false,
            selected: None,
            error: None,
            shown: None,
            read_kind: BrowseKind::Kafka,
        }
    }

    /// True when some cluster can be browsed.
    pub fn is_available(&self) -> bool {
        !self.browsers.is_empty()
    }

    /// The request the controls describe, or what is wrong with them.
    pub fn request(&self) -> Result<BrowseRequest, String> {
        if self.topic.is_empty() {
            return Err("pick a topic".into());
        }
        let value = self.start_value.trim();
        let start = match self.start {
            StartKind::Earliest => StartAt::Earliest,
            StartKind::Latest => StartAt::Latest(value.parse().map_err(|_| format!("not a count: {value:?}"))?),
            StartKind::Offset => StartAt::Offset(value.parse().map_err(|_| format!("not an offset: {value:?}"))?),
            StartKind::Timestamp => StartAt::Timestamp(parse_time(value)?),
        };
        let text = |s: &str| (!s.trim().is_empty()).then(|| s.trim().to_owned());
        let pair = |s: &str| {
            s.split_once('=').map(|(a, b)| (a.trim().to_owned(), b.trim().to_owned())).filter(|(a, _)| !a.is_empty())
        };
        let header = text(&self.header).map(|h| match pair(&h) {
            Some((name, value)) => (name, Some(value)),
            None => (h, None),
        });
        let json_field = match text(&self.json_field) {
            Some(f) => Some(pair(&f).ok_or_else(|| format!("JSON field must be path=value, got {f:?}"))?),
            None => None,
        };
        Ok(BrowseRequest {
            topic: self.topic.clone(),
            partition: self.partition,
            start,
            filter: MessageFilter {
                key: text(&self.key),
                header,
                payload: text(&self.payload),
                json_field,
                trace_id: text(&self.trace_id),
            },
            follow: self.follow,
            limit: BROWSE_LIMIT,
        })
    }

    /// Starts reading what the controls describe.
    pub fn read(&mut self) {
        self.selected = None;
        self.read_kind = self.browsers.get(self.cluster).map_or(BrowseKind::Kafka, |b| b.kind);
        self.error = match (self.request(), self.browsers.get(self.cluster)) {
            (Ok(request), Some(browser)) => (!browser.start(request)).then(|| "the reader is busy; try again".into()),
            (Err(e), _) => Some(e),
            (_, None) => Some("no cluster to read from".into()),
        };
    }

    /// Stops the current read.
    pub fn stop(&mut self) {
        if let Some(browser) = self.browsers.get(self.cluster) {
            browser.stop();
        }
    }

    /// Draws the controls, the progress and the table.
    pub fn show(&mut self, ui: &mut egui::Ui, snapshot: &Snapshot) {
        self.controls(ui, snapshot);
        ui.separator();
        let browser = &snapshot.kafka.browser;
        let p = &browser.progress;
        ui.horizontal(|ui| {
            if browser.browse > 0 {
                let text = match p.total {
                    Some(total) => {
                        format!("{}: scanned {} of {total}, {} matched", browser.topic, p.scanned, p.matched)
                    }
                    None => format!("{}: live, scanned {}, {} matched", browser.topic, p.scanned, p.matched),
                };
                match p.total {
                    Some(total) if !p.done && total > 0 => {
                        ui.add(egui::ProgressBar::new(p.scanned as f32 / total as f32).desired_width(200.0));
                    }
                    _ => {}
                }
                ui.label(text);
                if p.done {
                    ui.label(RichText::new("done").weak());
                }
                if let Some(e) = &p.error {
                    ui.label(RichText::new(e).color(theme::STATE_WARN));
                }
                if browser.evicted() > 0 {
                    ui.label(RichText::new(format!("{} oldest dropped", browser.evicted())).weak());
                }
            }
            if let Some(e) = &self.error {
                ui.label(RichText::new(e).color(theme::STATE_BAD));
            }
        });
        self.table(ui, snapshot);
    }

    fn controls(&mut self, ui: &mut egui::Ui, snapshot: &Snapshot) {
        let clusters: Vec<String> = self.browsers.iter().map(|b| b.cluster.clone()).collect();
        ui.horizontal_wrapped(|ui| {
            if clusters.len() > 1 {
                egui::ComboBox::from_id_salt("browse_cluster")
                    .selected_text(clusters.get(self.cluster).cloned().unwrap_or_default())
                    .show_ui(ui, |ui| {
                        for (i, c) in clusters.iter().enumerate() {
                            ui.selectable_value(&mut self.cluster, i, c);
                        }
                    });
            }
            let kind = self.browsers.get(self.cluster).map_or(BrowseKind::Kafka, |b| b.kind);
            let name = clusters.get(self.cluster);
            let cluster = name.and_then(|c| snapshot.kafka.clusters().get(c)).filter(|_| kind == BrowseKind::Kafka);
            let topics: Vec<&String> = match kind {
                BrowseKind::Kafka => cluster
                    .map(|c| c.topics.iter().filter(|(_, t)| !t.internal).map(|(n, _)| n).collect())
                    .unwrap_or_default(),
                // A JetStream server's streams: one sequence each, read by sequence.
                BrowseKind::Nats => {
                    name.and_then(|n| snapshot.nats.get(n)).map(|s| s.streams.keys().collect()).unwrap_or_default()
                }
            };
            ui.label(if kind == BrowseKind::Nats { "Stream" } else { "Topic" });
            egui::ComboBox::from_id_salt("browse_topic")
                .selected_text(if self.topic.is_empty() { "pick one" } else { self.topic.as_str() })
                .show_ui(ui, |ui| {
                    for t in topics {
                        if ui.selectable_label(self.topic == *t, t.as_str()).clicked() {
                            self.topic = t.clone();
                            self.partition = None;
                        }
                    }
                });
            let partitions: Vec<i32> = cluster
                .and_then(|c| c.topics.get(&self.topic))
                .map(|t| t.partitions.keys().copied().collect())
                .unwrap_or_default();
            if kind == BrowseKind::Kafka {
                egui::ComboBox::from_id_salt("browse_partition")
                    .selected_text(self.partition.map_or("all partitions".to_owned(), |p| format!("partition {p}")))
                    .show_ui(ui, |ui| {
                        ui.selectable_value(&mut self.partition, None, "all partitions");
                        for p in partitions {
                            ui.selectable_value(&mut self.partition, Some(p), format!("partition {p}"));
                        }
                    });
            }
            // A stream's messages are numbered by its sequence, a partition's by offset.
            let place = if kind == BrowseKind::Nats { "sequence" } else { "offset" };
            let from_place = format!("from {place}");
            egui::ComboBox::from_id_salt("browse_start")
                .selected_text(match self.start {
                    StartKind::Earliest => "from earliest",
                    StartKind::Latest => "last N",
                    StartKind::Offset => from_place.as_str(),
                    StartKind::Timestamp => "from time",
                })
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.start, StartKind::Earliest, "from earliest");
                    ui.selectable_value(&mut self.start, StartKind::Latest, "last N");
                    ui.selectable_value(&mut self.start, StartKind::Offset, from_place.as_str());
                    ui.selectable_value(&mut self.start, StartKind::Timestamp, "from time");
                });
            if self.start != StartKind::Earliest {
                let hint = match self.start {
                    StartKind::Timestamp => "2026-11-22T10:00:00Z or epoch ms",
                    StartKind::Offset => place,
                    _ => "count",
                };
                ui.add(egui::TextEdit::singleline(&mut self.start_value).hint_text(hint).desired_width(170.0));
            }
            ui.checkbox(&mut self.follow, "live tail");
        });
        ui.horizontal_wrapped(|ui| {
            let field = |ui: &mut egui::Ui, value: &mut String, hint: &str| {
                ui.add(egui::TextEdit::singleline(value).hint_text(hint).desired_width(130.0));
            };
            // A JetStream subject pattern (`orders.*`) is matched by the server.
            let nats = self.browsers.get(self.cluster).is_some_and(|b| b.kind == BrowseKind::Nats);
            let key = if nats { "subject contains, or orders.*" } else { "key contains" };
            field(ui, &mut self.key, key);
            field(ui, &mut self.header, "header or name=value");
            field(ui, &mut self.payload, "payload contains");
            field(ui, &mut self.json_field, "json path=value");
            field(ui, &mut self.trace_id, "trace id");
            if ui.button("Read").on_hover_text("read without committing or joining any group").clicked() {
                self.read();
            }
            if ui.button("Stop").clicked() {
                self.stop();
            }
        });
    }

    fn table(&mut self, ui: &mut egui::Ui, snapshot: &Snapshot) {
        let browser = &snapshot.kafka.browser;
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
        let mut clicked = None;
        // Cells are not text-selectable: a click anywhere on a row selects the message. One
        // line per row: long cells are cut, the panel shows them whole.
        ui.style_mut().interaction.selectable_labels = false;
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
        // A JetStream stream has no partitions: its messages go by sequence and subject.
        let kafka = self.read_kind == BrowseKind::Kafka;
        let names: &[&str] = if kafka {
            &["P", "Offset", "Timestamp", "Key", "Headers", "Size", "Payload"]
        } else {
            &["Sequence", "Timestamp", "Subject", "Headers", "Size", "Payload"]
        };
        let mut table = TableBuilder::new(ui).striped(true).resizable(true).sense(egui::Sense::click());
        if kafka {
            table = table.column(Column::auto().at_least(30.0));
        }
        table
            .column(Column::auto().at_least(60.0))
            .column(Column::auto().at_least(330.0))
            .column(Column::auto().at_least(80.0))
            .column(Column::auto().at_least(60.0))
            .column(Column::auto().at_least(50.0))
            .column(Column::remainder())
            .header(row_height, |mut header| {
                for &h in names {
                    header.col(|ui| {
                        ui.strong(h);
                    });
                }
            })
            .body(|body| {
                body.rows(row_height, browser.len(), |mut row| {
                    let i = row.index();
                    let Some(m) = browser.get(i) else { return };
                    row.set_selected(self.selected == Some(i));
                    if kafka {
                        row.col(|ui| {
                            ui.label(m.partition.to_string());
                        });
                    }
                    row.col(|ui| {
                        ui.label(m.offset.to_string());
                    });
                    row.col(|ui| {
                        ui.label(timestamp_text(m));
                    });
                    row.col(|ui| {
                        ui.label(m.key.as_deref().map(preview).unwrap_or_default());
                    });
                    row.col(|ui| {
                        ui.label(m.headers.len().to_string());
                    });
                    row.col(|ui| {
                        ui.label(m.size.to_string());
                    });
                    row.col(|ui| {
                        ui.label(m.payload.as_deref().map(preview).unwrap_or_default());
                    });
                    if row.response().clicked() {
                        clicked = Some(i);
                    }
                });
            });
        if clicked.is_some() {
            self.selected = clicked;
        }
    }

    /// The selected message, and the service that produced it when spans say, for the side
    /// panel.
    pub fn selected_message<'a>(&self, snapshot: &'a Snapshot) -> Option<(&'a KafkaMessage, Option<&'a str>)> {
        let row = self.selected?;
        Some((snapshot.kafka.browser.get(row)?, snapshot.kafka.browser.produced_by(row)))
    }
}

/// `2026-11-22 16:04:05.123 (1795363445123, CreateTime)` in local time.
pub fn timestamp_text(m: &KafkaMessage) -> String {
    let Some(ms) = m.timestamp_ms else { return "—".into() };
    let local = chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_default();
    let kind = match m.timestamp_type {
        TimestampType::CreateTime => "CreateTime",
        TimestampType::LogAppendTime => "LogAppendTime",
        TimestampType::NotAvailable => "none",
    };
    format!("{local} ({ms}, {kind})")
}

/// The first line of bytes as text, for a table cell.
fn preview(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    text.lines().next().unwrap_or_default().chars().take(120).collect()
}

/// Parses RFC 3339 (`2026-11-22T10:00:00Z`) or epoch milliseconds.
fn parse_time(text: &str) -> Result<i64, String> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|t| t.timestamp_millis())
        .map_err(|_| format!("not a time: {text:?} (use 2026-11-22T10:00:00Z or epoch ms)"))
}

impl MessageBrowserView {
    /// The selected message (`m`, read by browse `browse`, produced by `produced_by`) in the
    /// side panel: headers, key and payload, decoded, with copy buttons; true when Close was
    /// pressed. They are rendered when the message is first shown, not every frame.
    pub fn message_panel(
        &mut self,
        ui: &mut egui::Ui,
        (m, produced_by): (&KafkaMessage, Option<&str>),
        browse: u64,
    ) -> bool {
        let identity = MessageIdentity::of(m, browse);
        let shown = match &mut self.shown {
            Some(shown) if shown.is_for(&identity) => shown,
            stale => stale.insert(ShownMessage::render(m, browse, ui.ctx())),
        };
        message_panel(ui, m, produced_by, shown, self.read_kind)
    }
}

/// The selected message: headers, key and payload (as `shown`), decoded, with copy buttons.
fn message_panel(
    ui: &mut egui::Ui,
    m: &KafkaMessage,
    produced_by: Option<&str>,
    shown: &mut ShownMessage,
    kind: BrowseKind,
) -> bool {
    let mut close = false;
    ui.horizontal(|ui| {
        ui.heading(match kind {
            BrowseKind::Kafka => format!("{} / {} @ {}", m.topic, m.partition, m.offset),
            BrowseKind::Nats => format!("{} @ {}", m.topic, m.offset),
        });
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            close = ui.button("Close").clicked();
        });
    });
    ui.label(RichText::new(timestamp_text(m)).weak());
    if let Some(t) = &m.links.trace {
        let by = produced_by.map(|s| format!(" by {s}")).unwrap_or_default();
        ui.label(format!("produced{by} in trace {}", t.trace_id));
    }
    if let Some(ce) = &m.links.cloud_event {
        ui.label(format!(
            "CloudEvent {} from {} (id {})",
            ce.event_type.as_deref().unwrap_or("?"),
            ce.source.as_deref().unwrap_or("?"),
            ce.id.as_deref().unwrap_or("?")
        ));
    }
    if let Some(d) = &m.links.dead_letter {
        ui.label(
            RichText::new(format!("dead letter from {} {:?} @ {:?}", d.topic, d.partition, d.offset))
                .color(theme::FAILURE),
        );
    }
    ui.separator();
    ui.strong(format!("Headers ({})", m.headers.len()));
    match &mut shown.headers {
        // Many or large: as lines, only those in view laid out.
        Some(headers) => headers.show(ui),
        None => {
            egui::Grid::new("message_headers").num_columns(2).striped(true).show(ui, |ui| {
                for h in &m.headers {
                    ui.label(&h.key);
                    ui.label(header_value(h));
                    ui.end_row();
                }
            });
        }
    }
    ui.separator();
    ui.horizontal(|ui| {
        let key = if kind == BrowseKind::Nats { "Subject" } else { "Key" };
        ui.strong(m.key.as_ref().map_or_else(|| key.to_owned(), |k| format!("{key} ({} bytes)", k.len())));
        if m.key.is_some()
            && let Some(key) = shown.key.rendered()
            && ui.small_button("Copy").clicked()
        {
            ui.ctx().copy_text(key.text.clone());
        }
    });
    shown.key.show(ui);
    ui.separator();
    ui.horizontal(|ui| match shown.payload.rendered() {
        Some(payload) => {
            ui.strong(format!("Payload ({}, {} bytes)", payload.kind, m.size));
            if ui.small_button("Copy").clicked() {
                ui.ctx().copy_text(payload.text.clone());
            }
        }
        None => {
            ui.strong(format!("Payload ({} bytes)", m.size));
        }
    });
    if m.payload.as_ref().is_some_and(|p| p.len() < m.size) {
        ui.label(RichText::new("payload truncated for display").weak());
    }
    shown.payload.show(ui);
    close
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_a_request_or_say_what_is_wrong() {
        let mut v = MessageBrowserView::new(Vec::new());
        assert_eq!(v.request().unwrap_err(), "pick a topic");
        v.topic = "orders".into();
        v.start_value = "lots".into();
        assert!(v.request().unwrap_err().contains("not a count"));
        v.start = StartKind::Timestamp;
        v.start_value = "2026-11-22T10:00:00Z".into();
        assert_eq!(v.request().unwrap().start, StartAt::Timestamp(1_795_341_600_000));
        v.start_value = "yesterday".into();
        assert!(v.request().unwrap_err().contains("not a time"));
        v.start = StartKind::Earliest;
        v.json_field = "order.id".into();
        assert!(v.request().unwrap_err().contains("path=value"));
        v.json_field = "order.id=42".into();
        v.header = "tenant=acme".into();
        let filter = v.request().unwrap().filter;
        assert_eq!(filter.json_field, Some(("order.id".into(), "42".into())));
        assert_eq!(filter.header, Some(("tenant".into(), Some("acme".into()))));
    }
}
