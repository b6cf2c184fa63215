//! The journey list: a search box over a virtual-scrolled, sortable table of journeys,
//! optionally limited to those passing through the node or edge selected in the flow graph.
//!
//! Filtering and sorting run when the search, the sort or the list changes, never per
//! frame; with a large list, live changes re-sort at most every [`RESORT_LARGE`].

use std::time::{Duration, Instant};

use egui::RichText;
use egui_extras::{Column, TableBuilder};

use super::theme;
use crate::model::journey::{JourneyId, JourneyList, JourneyQuery, JourneyStatus, JourneySummary, QueryError};

/// Above this many journeys, live updates re-sort at most every [`RESORT_LARGE`].
const LARGE: usize = 100_000;
/// How often a large list is re-sorted while it changes.
const RESORT_LARGE: Duration = Duration::from_secs(2);

/// Sortable columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortBy {
    /// Start time.
    Time,
    /// Root service.
    RootService,
    /// Event type.
    EventType,
    /// Key.
    Key,
    /// Hops.
    Hops,
    /// Number of services.
    Services,
    /// Duration.
    Duration,
    /// Status.
    Status,
}

/// What the graph selection limits the list to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Through {
    /// A service, by label.
    Service(String),
    /// A destination, by name.
    Topic(String),
    /// An edge between a service and a destination.
    Hop {
        /// Service label.
        service: String,
        /// Destination name.
        topic: String,
    },
}

/// The list's search, sort and cached order.
#[derive(Debug)]
pub struct JourneyListView {
    /// The search text.
    pub search: String,
    /// Sort column.
    pub sort: SortBy,
    /// Sort direction.
    pub descending: bool,
    /// Apply the graph selection as a filter.
    pub use_selection: bool,
    query: Result<JourneyQuery, QueryError>,
    parsed: String,
    rows: Vec<JourneyId>,
    key: Option<(u64, String, SortBy, bool, Option<Through>)>,
    sorted_at: Option<Instant>,
    /// Where the table was drawn last frame: while the pointer is over it, new journeys do not
    /// move the rows (a live list must not shift under a click).
    table_rect: Option<egui::Rect>,
    hovered: bool,
}

impl Default for JourneyListView {
    fn default() -> Self {
        Self {
            search: String::new(),
            sort: SortBy::Time,
            descending: true,
            use_selection: true,
            query: Ok(JourneyQuery::default()),
            parsed: String::new(),
            rows: Vec::new(),
            key: None,
            sorted_at: None,
            table_rect: None,
            hovered: false,
        }
    }
}

fn status_color(status: JourneyStatus) -> egui::Color32 {
    match status {
        JourneyStatus::Ok => theme::STATE_OK,
        JourneyStatus::InFlight => theme::LABEL_DETAIL,
        JourneyStatus::Incomplete => theme::STATE_WARN,
        JourneyStatus::Failed => theme::STATE_BAD,
    }
}

/// `1.2 ms`, `340 ms`, `2.5 s`.
pub fn duration_text(nanos: u64) -> String {
    let ms = nanos as f64 / 1e6;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format!("{:.2} s", ms / 1000.0)
    }
}

/// Local wall-clock time of a Unix ns timestamp, to the millisecond.
pub fn time_text(unix_nano: u64) -> String {
    chrono::DateTime::from_timestamp_nanos(i64::try_from(unix_nano).unwrap_or(i64::MAX))
        .with_timezone(&chrono::Local)
        .format("%H:%M:%S%.3f")
        .to_string()
}

fn compare(a: &JourneySummary, b: &JourneySummary, by: SortBy) -> std::cmp::Ordering {
    let primary = match by {
        SortBy::Time => a.start_unix_nano.cmp(&b.start_unix_nano),
        SortBy::RootService => a.root_service.cmp(&b.root_service),
        SortBy::EventType => a.event_type.cmp(&b.event_type),
        SortBy::Key => a.key().cmp(&b.key()),
        SortBy::Hops => a.hops.cmp(&b.hops),
        SortBy::Services => a.services.len().cmp(&b.services.len()),
        SortBy::Duration => a.duration_nanos().cmp(&b.duration_nanos()),
        SortBy::Status => a.status.cmp(&b.status),
    };
    primary.then(a.id.cmp(&b.id))
}

impl JourneyListView {
    /// The journeys shown, in display order.
    pub fn rows(&self) -> &[JourneyId] {
        &self.rows
    }

    /// Re-filters and re-sorts when the search, sort, selection or list changed.
    pub fn update(&mut self, list: &JourneyList, through: Option<&Through>) {
        if self.parsed != self.search {
            self.query = JourneyQuery::parse(&self.search);
            self.parsed = self.search.clone();
        }
        let through = through.filter(|_| self.use_selection).cloned();
        let key = (list.version(), self.search.clone(), self.sort, self.descending, through.clone());
        let Some(previous) = &self.key else { return self.rebuild(list, key) };
        if *previous == key {
            return;
        }
        let only_data_changed = (&previous.1, previous.2, previous.3, &previous.4) == (&key.1, key.2, key.3, &key.4);
        let recently = self.sorted_at.is_some_and(|t| t.elapsed() < RESORT_LARGE);
        if only_data_changed && (self.hovered || (list.len() > LARGE && recently)) {
            return;
        }
        self.rebuild(list, key);
    }

    fn rebuild(&mut self, list: &JourneyList, key: (u64, String, SortBy, bool, Option<Through>)) {
        let Ok(query) = &self.query else {
            self.key = Some(key);
            return;
        };
        let mut query = query.clone();
        match &key.4 {
            Some(Through::Service(s)) => query = query.through_service(s),
            Some(Through::Topic(t)) => query = query.through_topic(t),
            Some(Through::Hop { service, topic }) => query = query.through_service(service).through_topic(topic),
            None => {}
        }
        let mut rows: Vec<&JourneySummary> = list.iter().filter(|j| query.matches(j)).collect();
        let (by, descending) = (self.sort, self.descending);
        rows.sort_unstable_by(|a, b| if descending { compare(b, a, by) } else { compare(a, b, by) });
        self.rows = rows.into_iter().map(|j| j.id).collect();
        self.key = Some(key);
        self.sorted_at = Some(Instant::now());
    }

    /// Draws the search and the table; returns the journey clicked.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        list: &JourneyList,
        through: Option<&Through>,
        selected: Option<JourneyId>,
        evicted: u64,
    ) -> Option<JourneyId> {
        self.hovered = self.table_rect.is_some_and(|r| ui.rect_contains_pointer(r));
        ui.horizontal(|ui| {
            ui.label("Search");
            ui.add(
                egui::TextEdit::singleline(&mut self.search)
                    .hint_text("key:order-42  status:failed  service:billing  duration>500ms  …")
                    .desired_width(420.0),
            );
            if let Some(t) = through {
                let what = match t {
                    Through::Service(s) | Through::Topic(s) => s.clone(),
                    Through::Hop { service, topic } => format!("{service} ↔ {topic}"),
                };
                ui.checkbox(&mut self.use_selection, format!("only through {what}"));
            }
            self.update(list, through);
            let mut counts = format!("{} of {} journeys", self.rows.len(), list.len());
            if self.hovered {
                counts.push_str(" · held while pointing");
            }
            if evicted > 0 {
                counts.push_str(&format!(" · {evicted} oldest evicted"));
            }
            ui.label(RichText::new(counts).color(theme::LABEL_DETAIL));
        });
        if let Err(e) = &self.query {
            ui.colored_label(theme::STATE_BAD, e.to_string());
        }
        self.table(ui, list, selected)
    }

    fn header(&mut self, ui: &mut egui::Ui, title: &str, by: SortBy) {
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
                self.descending = matches!(by, SortBy::Time | SortBy::Duration | SortBy::Hops | SortBy::Services);
            }
        }
    }

    fn table(&mut self, ui: &mut egui::Ui, list: &JourneyList, selected: Option<JourneyId>) -> Option<JourneyId> {
        let row_height = ui.text_style_height(&egui::TextStyle::Body) + 4.0;
        let mut clicked = None;
        ui.style_mut().interaction.selectable_labels = false;
        ui.style_mut().wrap_mode = Some(egui::TextWrapMode::Truncate);
        let columns = [
            ("Time", SortBy::Time),
            ("Root service", SortBy::RootService),
            ("Event type", SortBy::EventType),
            ("Key", SortBy::Key),
            ("Hops", SortBy::Hops),
            ("Services", SortBy::Services),
            ("Duration", SortBy::Duration),
            ("Status", SortBy::Status),
        ];
        let rows = std::mem::take(&mut self.rows);
        self.table_rect = Some(ui.available_rect_before_wrap());
        TableBuilder::new(ui)
            .id_salt("journey_list")
            .striped(true)
            .resizable(true)
            .sense(egui::Sense::click())
            .column(Column::auto().at_least(90.0))
            .column(Column::auto().at_least(110.0))
            .column(Column::auto().at_least(160.0))
            .column(Column::auto().at_least(90.0))
            .column(Column::auto().at_least(40.0))
            .column(Column::auto().at_least(60.0))
            .column(Column::auto().at_least(70.0))
            .column(Column::remainder().at_least(80.0))
            .header(row_height + 2.0, |mut header| {
                for (title, by) in columns {
                    header.col(|ui| self.header(ui, title, by));
                }
            })
            .body(|body| {
                body.rows(row_height, rows.len(), |mut row| {
                    let Some(j) = list.get(rows[row.index()]) else { return };
                    row.set_selected(selected == Some(j.id));
                    row.col(|ui| {
                        ui.label(time_text(j.start_unix_nano));
                    });
                    row.col(|ui| {
                        ui.label(&*j.root_service);
                    });
                    row.col(|ui| {
                        ui.label(&*j.event_type);
                    });
                    row.col(|ui| {
                        ui.label(j.key().unwrap_or("—"));
                    });
                    row.col(|ui| {
                        ui.label(j.hops.to_string());
                    });
                    row.col(|ui| {
                        ui.label(j.services.len().to_string()).on_hover_text(j.services.join(", "));
                    });
                    row.col(|ui| {
                        ui.label(duration_text(j.duration_nanos()));
                    });
                    row.col(|ui| {
                        let text = RichText::new(j.status.as_str()).color(status_color(j.status));
                        let label = ui.label(text);
                        if let Some(e) = &j.error {
                            label.on_hover_text(&**e);
                        }
                    });
                    if row.response().clicked() {
                        clicked = Some(j.id);
                    }
                });
            });
        self.rows = rows;
        clicked
    }
}
