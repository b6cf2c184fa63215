//! Findings of a session file as JSON or text (`eventlens findings FILE`), for pipelines that
//! fail a build on a recorded test run. The JSON shape is documented in `docs/findings.md`.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::capture::{CaptureError, SkippedLines, replay_records};
use crate::engine::EngineState;
use crate::model::findings::{Finding, FindingsCounters, FindingsSettings, FindingsView};

/// Output formats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum FindingsFormat {
    /// `{"findings": [...], "counters": {...}}`.
    Json,
    /// One line per finding, worst first.
    Text,
}

/// Replays a session file with these findings settings, applying each record as it is read;
/// journeys are not assembled (findings do not need them).
pub fn replay_findings(path: &Path, settings: FindingsSettings) -> Result<(FindingsView, SkippedLines), CaptureError> {
    let journeys = crate::model::journey::JourneySettings { enabled: false, ..Default::default() };
    let mut state = EngineState::new(journeys).with_findings(settings);
    let skipped = replay_records(path, |record| state.apply_owned(record))?;
    Ok(((*state.findings()).clone(), skipped))
}

#[derive(Serialize)]
struct FindingsDocument<'a> {
    findings: &'a [Finding],
    counters: FindingsCounters,
}

/// Renders findings in `format`.
pub fn render(view: &FindingsView, format: FindingsFormat) -> String {
    match format {
        FindingsFormat::Json => {
            let document = FindingsDocument { findings: &view.findings, counters: view.counters };
            serde_json::to_string_pretty(&document).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
        }
        FindingsFormat::Text => {
            let mut out = String::new();
            if view.findings.is_empty() {
                out.push_str("no findings\n");
            }
            for f in &view.findings {
                let _infallible = writeln!(
                    out,
                    "{:<7} {:<14} {:>6}  {}: {}",
                    f.severity.as_str(),
                    f.kind.as_str(),
                    f.count,
                    f.location.describe(),
                    f.summary
                );
            }
            if view.counters.evicted > 0 || view.counters.findings_dropped > 0 {
                let _infallible = writeln!(
                    out,
                    "({} tracked entries evicted, {} findings not kept: some may be missing)",
                    view.counters.evicted, view.counters.findings_dropped
                );
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::findings::{FindingKind, Location, Severity};

    #[test]
    fn json_has_the_documented_fields_and_text_one_line_each() {
        let mut f = Finding::new(FindingKind::Duplicate, Severity::Warning, Location::topic("orders"), 5);
        f.count = 3;
        f.location.group = Some("inventory".into());
        f.summary = "3 messages processed more than once".into();
        let view = FindingsView { findings: vec![f], counters: FindingsCounters::default() };
        let json: serde_json::Value = serde_json::from_str(&render(&view, FindingsFormat::Json)).unwrap();
        let first = &json["findings"][0];
        assert_eq!(first["kind"], "duplicate");
        assert_eq!(first["severity"], "warning");
        assert_eq!(first["count"], 3);
        assert_eq!(first["topic"], "orders");
        assert_eq!(first["group"], "inventory");
        assert!(first.get("key").is_none(), "absent places are left out");
        assert!(first["evidence"].is_object());
        let text = render(&view, FindingsFormat::Text);
        assert_eq!(text.lines().count(), 1);
        assert!(text.starts_with("warning duplicate"), "{text}");
    }
}
