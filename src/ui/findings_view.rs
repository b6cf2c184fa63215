//! The Findings tab: the failure modes EventLens named, in a filterable, sortable table, with
//! the selected finding's evidence beside it.
//!
//! The list comes sorted (worst first) from the model. Filtering and sorting run over a `Vec`
//! of indices, and only when the findings (a new `Arc`), the filters or the sort changed,
//! never per frame; the table draws only its visible rows.

use std::cmp::Ordering;
use std::sync::Arc;

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use super::app::{EventLensApp, View};
use super::findings_evidence;
use super::flow_view::Selection;
use super::journey_list::time_text;
use super::message_browser::{MessageBrowserView, StartKind};
use super::theme;
use crate::engine::Snapshot;
use crate::model::findings::{Finding, FindingKind, FindingsView, Location, MessageRef, Severity};
use crate::model::flow_graph::NodeKey;
use crate::model::ids::TraceId;
use crate::model::journey::{JourneyId, JourneyList};

/// Sortable columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindingsSort {
    /// Severity.
    Severity,
    /// Kind, by name.
    Kind,
    /// Location.
    Where,
    /// Count.
    Count,
    /// First seen.
    FirstSeen,
    /// Last seen.
    LastSeen,
}

/// What the user asked the window to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindingsAction {
    /// Nothing.
    None,
    /// Open the journey of this trace (hex trace id).
    OpenTrace(String),
    /// Open this message in the Messages view.
    OpenMessage(MessageRef),
    /// Select the node of this topic, group or service in the flow graph.
    FocusNode(String),
}

/// A finding's identity across snapshots (the list is rebuilt with each): kind and location.
pub type FindingId = (FindingKind, Location);

/// What the cached rows were computed for.
#[derive(Debug)]
struct RowsKey {
    /// Held, not just its address: an address is unique only while the `Arc` lives.
    findings: Arc<FindingsView>,
    sort: FindingsSort,
    descending: bool,
    min_severity: Severity,
    kind: Option<FindingKind>,
    text: String,
}

/// The Findings tab's state: filters, sort, selection and the cached row order.
#[derive(Debug)]
pub struct FindingsTab {
    /// Sort column.
    pub sort: FindingsSort,
    /// Sort direction.
    pub descending: bool,
    /// Findings below this severity are hidden.
    pub min_severity: Severity,
    /// Only this kind, or all.
    pub kind: Option<FindingKind>,
    /// Text the kind name, location or summary must contain (any case).
    pub text: String,
    selected: Option<FindingId>,
    /// Indices into the findings, in display order.
    rows: Vec<usize>,
    /// Index of the selected finding in the findings, if it is among them.
    selected_index: Option<usize>,
    /// (errors, warnings) over all findings.
    counts: (usize, usize),
    key: Option<RowsKey>,
}

impl Default for FindingsTab {
    fn default() -> Self {
        Self {
            sort: FindingsSort::Severity,
            descending: true,
            min_severity: Severity::Info,
            kind: None,
            text: String::new(),
            selected: None,
            rows: Vec::new(),
            selected_index: None,
            counts: (0, 0),
            key: None,
        }
    }
}

fn compare(a: &Finding, b: &Finding, by: FindingsSort) -> Ordering {
    match by {
        FindingsSort::Severity => a.severity.cmp(&b.severity),
        FindingsSort::Kind => a.kind.as_str().cmp(b.kind.as_str()),
        FindingsSort::Where => a.location.cmp(&b.location),
        FindingsSort::Count => a.count.cmp(&b.count),
        FindingsSort::FirstSeen => a.first_seen_unix_nano.cmp(&b.first_seen_unix_nano),
        FindingsSort::LastSeen => a.last_seen_unix_nano.cmp(&b.last_seen_unix_nano),
    }
}

/// `1 finding`, `3 findings`.
fn plural(n: usize, what: &str) -> String {
    if n == 1 { format!("1 {what}") } else { format!("{n} {what}s") }
}

fn severity_text(severity: Severity) -> &'static str {
    match severity {
        Severity::Info => "all severities",
        Severity::Warning => "warnings and errors",
        Severity::Error => "errors only",
    }
}

impl FindingsTab {
    /// The findings shown, as indices into the findings, in display order (after [`Self::show`]).
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }

    /// The selected finding's identity.
    pub fn selected(&self) -> Option<&FindingId> {
        self.selected.as_ref()
    }

    /// Selects a finding (or none), as a click on its row would.
    pub fn select(&mut self, id: Option<FindingId>) {
        self.selected = id;
        // Found again at the next update.
        self.key = None;
    }

    /// The line above the table: `12 findings · 3 errors · 5 warnings`, with what is hidden
    /// and what the bounds dropped.
    pub fn count_line(&self, view: &FindingsView) -> String {
        let (errors, warnings) = self.counts;
        let mut line = format!(
            "{} · {} · {}",
            plural(view.findings.len(), "finding"),
            plural(errors, "error"),
            plural(warnings, "warning")
        );
        if self.rows.len() != view.findings.len() {
            line.push_str(&format!(" · {} shown", self.rows.len()));
        }
        let c = &view.counters;
        if c.evicted > 0 {
            line.push_str(&format!(" · {} tracked entries evicted", c.evicted));
        }
        if c.findings_dropped > 0 {
            line.push_str(&format!(" · {} findings dropped", c.findings_dropped));
        }
        line
    }

    /// Re-filters and re-sorts when the findings, the filters or the sort changed.
    pub fn update(&mut self, view: &Arc<FindingsView>) {
        let current = self.key.as_ref().is_some_and(|k| {
            Arc::ptr_eq(&k.findings, view)
                && k.sort == self.sort
                && k.descending == self.descending
                && k.min_severity == self.min_severity
                && k.kind == self.kind
                && k.text == self.text
        });
        if current {
            return;
        }
        let findings = &view.findings;
        let needle = self.text.trim().to_lowercase();
        let keep = |f: &Finding| {
            f.severity >= self.min_severity
                && self.kind.is_none_or(|k| k == f.kind)
                && (needle.is_empty()
                    || f.kind.as_str().contains(&needle)
                    || f.summary.to_lowercase().contains(&needle)
                    || f.location.describe().to_lowercase().contains(&needle))
        };
        let mut rows: Vec<usize> = (0..findings.len()).filter(|&i| keep(&findings[i])).collect();
        let (by, descending) = (self.sort, self.descending);
        rows.sort_by(|&i, &j| {
            let order = compare(&findings[i], &findings[j], by);
            let order = if descending { order.reverse() } else { order };
            // Ties keep the model's order: worst first.
            order.then(i.cmp(&j))
        });
        self.rows = rows;
        self.counts = (
            findings.iter().filter(|f| f.severity == Severity::Error).count(),
            findings.iter().filter(|f| f.severity == Severity::Warning).count(),
        );
        self.selected_index = self
            .selected
            .as_ref()
            .and_then(|(kind, location)| findings.iter().position(|f| f.kind == *kind && f.location == *location));
        self.key = Some(RowsKey {
            findings: Arc::clone(view),
            sort: self.sort,
            descending: self.descending,
            min_severity: self.min_severity,
            kind: self.kind,
            text: self.text.clone(),
        });
    }

    /// Draws the filters, the table and the selected finding's evidence (a panel at the
    /// right); returns what the user asked the window to do.
    pub fn show(&mut self, ui: &mut egui::Ui, snapshot: &Snapshot) -> FindingsAction {
        let view = &snapshot.findings;
        self.update(view);
        let mut action = FindingsAction::None;
        if let Some(finding) = self.selected_index.and_then(|i| view.findings.get(i)) {
            egui::Panel::right("finding_evidence").default_size(theme::FINDING_PANEL_WIDTH).resizable(true).show(
                ui,
                |ui| {
                    egui::ScrollArea::vertical().show(ui, |ui| {
                        let (asked, close) = findings_evidence::show(ui, finding, snapshot);
                        action = asked;
                        if close {
                            self.select(None);
                        }
                    });
                },
            );
        }
        egui::CentralPanel::default().show(ui, |ui| {
            self.filters(ui, view);
            ui.separator();
            if view.findings.is_empty() {
                ui.centered_and_justified(|ui| {
                    ui.label(
                        RichText::new(
                            "No findings. Duplicates, out-of-order events, schema changes, dead letters, poison \
                             messages, retries, compensations, synchronous coupling and lag show here as they \
                             appear.",
                        )
                        .color(theme::LABEL_DETAIL),
                    );
                });
            } else if self.rows.is_empty() {
                ui.label(RichText::new("No finding matches the filters").color(theme::LABEL_DETAIL));
            } else if let Some(clicked) = self.table(ui, view) {
                self.selected_index = Some(clicked);
                self.selected = view.findings.get(clicked).map(|f| (f.kind, f.location.clone()));
            }
        });
        action
    }

    fn filters(&mut self, ui: &mut egui::Ui, view: &Arc<FindingsView>) {
        ui.horizontal_wrapped(|ui| {
            egui::ComboBox::from_id_salt("findings_severity").selected_text(severity_text(self.min_severity)).show_ui(
                ui,
                |ui| {
                    for severity in [Severity::Info, Severity::Warning, Severity::Error] {
                        ui.selectable_value(&mut self.min_severity, severity, severity_text(severity));
                    }
                },
            );
            egui::ComboBox::from_id_salt("findings_kind")
                .selected_text(self.kind.map_or("all kinds", FindingKind::as_str))
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut self.kind, None, "all kinds");
                    for kind in FindingKind::ALL {
                        ui.selectable_value(&mut self.kind, Some(kind), kind.as_str());
                    }
                });
            ui.add(
                egui::TextEdit::singleline(&mut self.text)
                    .hint_text("kind, topic, service, key or summary contains…")
                    .desired_width(280.0),
            );
            // The filters may have changed just now: the count line says what the table shows.
            self.update(view);
            let counters = &view.counters;
            ui.label(RichText::new(self.count_line(view)).color(theme::LABEL_DETAIL)).on_hover_text(format!(
                "the detectors track {} entries; evicted ones (oldest first) keep them bounded, and a finding \
                 that needed one may be missed",
                counters.tracked
            ));
        });
    }

    fn header(&mut self, ui: &mut egui::Ui, title: &str, by: FindingsSort) {
        let arrow = match (self.sort == by, self.descending) {
            (true, true) => " ⏷",
            (true, false) => " ⏶",
            (false, _) => "",
        };
        if ui.button(RichText::new(format!("{title}{arrow}")).strong()).clicked() {
            if self.sort == by {
                self.descending = !self.descending;
            } else {
                self.sort = by;
                self.descending = !matches!(by, FindingsSort::Kind | FindingsSort::Where);
            }
        }
    }

    /// Draws the visible rows; returns the index (into the findings) of a clicked row.
    fn table(&mut self, ui: &mut egui::Ui, view: &FindingsView) -> Option<usize> {
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
        let mut clicked = None;
        ui.style_mut().interaction.selectable_labels = false;
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
        let columns = [
            ("Severity", FindingsSort::Severity),
            ("Kind", FindingsSort::Kind),
            ("Where", FindingsSort::Where),
            ("Count", FindingsSort::Count),
            ("First seen", FindingsSort::FirstSeen),
            ("Last seen", FindingsSort::LastSeen),
        ];
        let rows = std::mem::take(&mut self.rows);
        let selected = self.selected_index;
        TableBuilder::new(ui)
            .id_salt("findings_table")
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .column(Column::auto().at_least(70.0))
            .column(Column::auto().at_least(110.0))
            .column(Column::auto().at_least(220.0))
            .column(Column::auto().at_least(50.0))
            .column(Column::auto().at_least(90.0))
            .column(Column::auto().at_least(90.0))
            .column(Column::remainder().at_least(120.0))
            .header(row_height + 2.0, |mut header| {
                for (title, by) in columns {
                    header.col(|ui| self.header(ui, title, by));
                }
                header.col(|ui| {
                    ui.strong("Summary");
                });
            })
            .body(|body| {
                body.rows(row_height, rows.len(), |mut row| {
                    let Some(&index) = rows.get(row.index()) else { return };
                    let Some(f) = view.findings.get(index) else { return };
                    row.set_selected(selected == Some(index));
                    row.col(|ui| {
                        ui.label(RichText::new(f.severity.as_str()).color(theme::severity_color(f.severity)));
                    });
                    row.col(|ui| {
                        ui.label(f.kind.as_str());
                    });
                    row.col(|ui| {
                        ui.label(f.location.describe());
                    });
                    row.col(|ui| {
                        ui.label(f.count.to_string());
                    });
                    row.col(|ui| {
                        ui.label(time_text(f.first_seen_unix_nano));
                    });
                    row.col(|ui| {
                        ui.label(time_text(f.last_seen_unix_nano));
                    });
                    row.col(|ui| {
                        ui.label(&f.summary);
                    });
                    if row.response().clicked() {
                        clicked = Some(index);
                    }
                });
            });
        self.rows = rows;
        clicked
    }
}

/// The tab's title: `Findings (N)`, coloured by the worst finding's severity when there is
/// a warning or an error.
pub fn tab_title(view: &FindingsView) -> RichText {
    let title = RichText::new(format!("Findings ({})", view.findings.len()));
    // Sorted worst first: the first is the worst.
    match view.findings.first().map(|f| f.severity) {
        Some(severity @ (Severity::Warning | Severity::Error)) => title.color(theme::severity_color(severity)),
        _ => title,
    }
}

/// The journey that holds this trace (hex), if the list has it. Looks at every row: for a
/// click, not for every frame.
pub fn journey_of_trace(journeys: &JourneyList, trace: &str) -> Option<JourneyId> {
    let trace = TraceId::from_hex(trace).ok()?;
    journeys.iter().find(|j| j.trace_ids.contains(&trace)).map(|j| j.id)
}

/// The flow graph node of a topic, consumer group or service name. A name may be several
/// (a service and a topic both called `orders`): a topic is preferred, then a group, as most
/// findings are about a topic.
pub fn node_named(snapshot: &Snapshot, name: &str) -> Option<u32> {
    fn first(snapshot: &Snapshot, is: impl Fn(&NodeKey) -> bool) -> Option<u32> {
        snapshot.nodes.iter().find(|n| is(&n.key)).map(|n| n.id)
    }
    first(snapshot, |key| matches!(key, NodeKey::Destination { name: n, .. } if n == name))
        .or_else(|| first(snapshot, |key| matches!(key, NodeKey::ConsumerGroup { group: g, .. } if g == name)))
        .or_else(|| first(snapshot, |key| matches!(key, NodeKey::Service { .. } if key.is_consumer_named(name))))
        .or_else(|| snapshot.nodes.iter().find(|n| n.label == name).map(|n| n.id))
}

/// Points the message browser at one message (its topic, partition and offset, no filters)
/// and starts reading there.
pub fn browse_at(browser: &mut MessageBrowserView, message: &MessageRef) {
    browser.topic = message.topic.clone();
    browser.partition = Some(message.partition);
    browser.start = StartKind::Offset;
    browser.start_value = message.offset.to_string();
    for filter in
        [&mut browser.key, &mut browser.header, &mut browser.payload, &mut browser.json_field, &mut browser.trace_id]
    {
        filter.clear();
    }
    browser.follow = false;
    browser.read();
}

impl FindingsAction {
    /// Carries the action out in the window: a trace opens its journey's waterfall (or, when
    /// no journey holds it, the journey list searched for it); a message opens in the
    /// Messages view (or, with no cluster to read, its topic in the graph); a node is
    /// selected in the flow graph.
    pub fn apply(self, app: &mut EventLensApp) {
        match self {
            Self::None => {}
            Self::OpenTrace(trace) => {
                let journey = journey_of_trace(&app.snapshot().journeys, &trace);
                match journey {
                    Some(id) => app.select_journey(Some(id)),
                    None => app.journey_list_mut().search = format!("trace:{trace}"),
                }
                app.set_view(View::Journeys);
            }
            Self::OpenMessage(message) => {
                if app.browser_mut().is_available() {
                    browse_at(app.browser_mut(), &message);
                    app.set_view(View::Messages);
                } else {
                    Self::FocusNode(message.topic).apply(app);
                }
            }
            Self::FocusNode(name) => {
                let node = node_named(app.snapshot(), &name);
                if let Some(id) = node {
                    app.select(Some(Selection::Node(id)));
                }
                app.set_view(View::Flow);
            }
        }
    }
}
