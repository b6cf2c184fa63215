//! The Findings tab, driven headless with egui_kittest: the tab alone over hand-made findings,
//! and the window carrying out what the tab asks for.

// Test helpers fail loudly on what they did not expect.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;

use common::ui::settle;

use egui::accesskit::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use eventlens::engine::Snapshot;
use eventlens::model::findings::{
    Compatibility, Finding, FindingKind, FindingsCounters, FindingsView, Location, MessageRef, Severity, ShapeDiff,
    ShapeField,
};
use eventlens::model::kafka::KafkaModel;
use eventlens::testing::saga_spans;
use eventlens::ui::EventLensApp;
use eventlens::ui::app::View;
use eventlens::ui::findings_view::{FindingsAction, FindingsTab, tab_title};
use eventlens::ui::flow_view::Selection;

const TRACE: &str = "5b8efff798038103d269b633813fc60c";
const DEAD_LETTER: &str = "12 messages landed in payments-dlq";
const SCHEMA: &str = "orders changed shape: customer.email became customer.mail";
const RETRY: &str = "2 messages processed again after failing";
const AT: u64 = 1_700_000_000_000_000_000;

fn field(path: &str, types: &[&'static str]) -> ShapeField {
    ShapeField { path: path.to_owned(), types: types.to_vec(), presence_percent: 100 }
}

/// An error, a warning and an info, worst first as the model sorts them.
fn findings() -> FindingsView {
    let mut dead = Finding::new(
        FindingKind::DeadLetter,
        Severity::Error,
        Location { service: Some("billing".into()), ..Location::topic("payments-dlq") },
        AT,
    );
    dead.count = 12;
    dead.summary = DEAD_LETTER.into();
    dead.evidence.error = Some("card declined".into());
    dead.evidence.payload = Some(r#"{"order":7}"#.into());
    dead.evidence.add_trace(|| TRACE.into());
    dead.evidence.add_message(|| MessageRef { topic: "payments-dlq".into(), partition: 0, offset: 41 });
    dead.evidence.add_key(|| "order-7".into());

    let mut schema = Finding::new(FindingKind::SchemaChange, Severity::Warning, Location::topic("orders"), AT + 1);
    schema.count = 1;
    schema.summary = SCHEMA.into();
    schema.evidence.shape = Some(Box::new(ShapeDiff {
        before: vec![field("id", &["integer"]), field("customer.email", &["string"]), field("total", &["number"])],
        after: vec![field("id", &["integer"]), field("customer.mail", &["string"]), field("total", &["string"])],
        added: vec!["customer.mail".into()],
        removed: vec!["customer.email".into()],
        changed: vec!["total".into()],
        compatibility: Compatibility::None,
        first_before: None,
        first_after: Some(MessageRef { topic: "orders".into(), partition: 1, offset: 900 }),
        produced_by: Some("checkout".into()),
        failing_consumers: vec!["billing".into()],
    }));

    let mut retry = Finding::new(FindingKind::Retry, Severity::Info, Location::topic("shipments"), AT + 2);
    retry.count = 2;
    retry.summary = RETRY.into();

    FindingsView {
        findings: vec![dead, schema, retry],
        counters: FindingsCounters { tracked: 100, evicted: 4, findings_dropped: 0 },
    }
}

/// The tab, the findings it shows, and every action it returned.
/// The tab and the snapshot it is drawn from (only its findings and Kafka model matter here).
struct Tab {
    tab: FindingsTab,
    snapshot: Snapshot,
    actions: Vec<FindingsAction>,
}

fn snapshot_of(view: FindingsView, kafka: KafkaModel) -> Snapshot {
    Snapshot { findings: Arc::new(view), kafka: Arc::new(kafka), ..Snapshot::default() }
}

fn tab_harness() -> Harness<'static, Tab> {
    let state = Tab {
        tab: FindingsTab::default(),
        snapshot: snapshot_of(findings(), KafkaModel::default()),
        actions: Vec::new(),
    };
    Harness::builder().with_size([1280.0, 800.0]).build_ui_state(
        |ui, s: &mut Tab| {
            let action = s.tab.show(ui, &s.snapshot);
            if action != FindingsAction::None {
                s.actions.push(action);
            }
        },
        state,
    )
}

fn step(harness: &mut Harness<'static, Tab>) {
    harness.run_steps(3);
}

#[test]
fn the_count_line_and_the_filters() {
    let mut harness = tab_harness();
    step(&mut harness);
    harness.get_by_label("3 findings · 1 error · 1 warning · 4 tracked entries evicted");
    for summary in [DEAD_LETTER, SCHEMA, RETRY] {
        harness.get_by_label(summary);
    }
    assert_eq!(tab_title(&harness.state().snapshot.findings).text(), "Findings (3)");
    assert_eq!(tab_title(&FindingsView::default()).text(), "Findings (0)");

    // Warnings and above: the info is hidden.
    harness.state_mut().tab.min_severity = Severity::Warning;
    step(&mut harness);
    assert!(harness.query_by_label(RETRY).is_none());
    harness.get_by_label(DEAD_LETTER);
    harness.get_by_label(SCHEMA);
    harness.get_by_label("3 findings · 1 error · 1 warning · 2 shown · 4 tracked entries evicted");

    // Errors only.
    harness.state_mut().tab.min_severity = Severity::Error;
    step(&mut harness);
    assert!(harness.query_by_label(SCHEMA).is_none());
    harness.get_by_label(DEAD_LETTER);
    assert_eq!(harness.state().tab.rows(), &[0]);

    // One kind.
    harness.state_mut().tab.min_severity = Severity::Info;
    harness.state_mut().tab.kind = Some(FindingKind::SchemaChange);
    step(&mut harness);
    assert_eq!(harness.state().tab.rows(), &[1]);
    assert!(harness.query_by_label(DEAD_LETTER).is_none());
    harness.get_by_label(SCHEMA);

    // Text, in any case, over the location too.
    harness.state_mut().tab.kind = None;
    harness.state_mut().tab.text = "SHIPMENTS".into();
    step(&mut harness);
    assert_eq!(harness.state().tab.rows(), &[2]);
    harness.get_by_label(RETRY);
    harness.state_mut().tab.text = "nothing like it".into();
    step(&mut harness);
    harness.get_by_label("No finding matches the filters");
}

/// A lag finding's evidence draws the group's lag over the session, from the Kafka model.
#[test]
fn a_lag_finding_shows_its_numbers_and_the_lag_chart() {
    use eventlens::model::findings::LagEvidence;
    use eventlens::model::kafka::observation::{CommittedOffset, OffsetPoll, Watermark};
    use eventlens::model::kafka::{KafkaEvent, KafkaRecord};
    let mut kafka = KafkaModel::default();
    for i in 0..6_i64 {
        kafka.apply(&KafkaRecord {
            cluster: "local".into(),
            received_unix_nano: (1_000 + i as u64) * 1_000_000_000,
            event: KafkaEvent::Offsets(OffsetPoll {
                watermarks: vec![Watermark { topic: "payments".into(), partition: 0, low: 0, high: 100 + 50 * i }],
                commits: vec![CommittedOffset {
                    group: "shipping".into(),
                    topic: "payments".into(),
                    partition: 0,
                    offset: 100 + 5 * i,
                    oldest_unconsumed_ms: None,
                }],
            }),
        });
    }
    let mut lag = Finding::new(
        FindingKind::Lag,
        Severity::Warning,
        Location { group: Some("shipping".into()), ..Location::topic("payments") },
        1,
    );
    lag.summary = "shipping falls behind on payments".into();
    lag.evidence.lag =
        Some(LagEvidence { status: "WARN", offsets: 225, time_ms: None, time_to_clear_s: None, partitions: vec![0] });
    let view = FindingsView { findings: vec![lag], ..FindingsView::default() };
    let state = Tab { tab: FindingsTab::default(), snapshot: snapshot_of(view, kafka), actions: Vec::new() };
    let mut harness = Harness::builder().with_size([1280.0, 800.0]).build_ui_state(
        |ui, s: &mut Tab| {
            s.tab.show(ui, &s.snapshot);
        },
        state,
    );
    step(&mut harness);
    assert!(harness.query_by_label("Lag of shipping on payments (offsets; seconds before the last poll)").is_none());
    harness.get_by_label("shipping falls behind on payments").click();
    step(&mut harness);
    harness.get_by_label("225 offsets");
    harness.get_by_label("Lag of shipping on payments (offsets; seconds before the last poll)");
}

#[test]
fn clicking_a_header_sorts() {
    let mut harness = tab_harness();
    step(&mut harness);
    assert_eq!(harness.state().tab.rows(), &[0, 1, 2]);
    // Counts 12, 1, 2: most first, then fewest first.
    harness.get_by_role_and_label(Role::Button, "Count").click();
    step(&mut harness);
    assert_eq!(harness.state().tab.rows(), &[0, 2, 1]);
    harness.get_by_role_and_label(Role::Button, "Count ⏷").click();
    step(&mut harness);
    assert_eq!(harness.state().tab.rows(), &[1, 2, 0]);
    harness.get_by_role_and_label(Role::Button, "Where").click();
    step(&mut harness);
    // orders, payments-dlq, shipments.
    assert_eq!(harness.state().tab.rows(), &[1, 0, 2]);
}

#[test]
fn a_selected_finding_shows_its_evidence_and_its_buttons_ask_for_actions() {
    let mut harness = tab_harness();
    step(&mut harness);
    assert!(harness.query_by_label("card declined").is_none());
    harness.get_by_label(DEAD_LETTER).click();
    step(&mut harness);
    assert_eq!(harness.state().tab.selected().map(|(kind, _)| *kind), Some(FindingKind::DeadLetter));
    harness.get_by_label("card declined");
    harness.get_by_label(r#"{"order":7}"#);
    harness.get_by_label("order-7");
    // The summary: in its row and atop the evidence.
    assert_eq!(harness.query_all_by_label(DEAD_LETTER).count(), 2);

    harness.get_by_role_and_label(Role::Button, TRACE).click();
    step(&mut harness);
    assert_eq!(harness.state().actions, vec![FindingsAction::OpenTrace(TRACE.into())]);
    harness.get_by_role_and_label(Role::Button, "payments-dlq 0@41").click();
    step(&mut harness);
    assert_eq!(
        harness.state().actions.last(),
        Some(&FindingsAction::OpenMessage(MessageRef { topic: "payments-dlq".into(), partition: 0, offset: 41 }))
    );
    harness.get_by_label("billing").click();
    step(&mut harness);
    assert_eq!(harness.state().actions.last(), Some(&FindingsAction::FocusNode("billing".into())));
    assert_eq!(harness.state().actions.len(), 3);

    // A new snapshot rebuilds the list: the selection follows the finding, not its row.
    let mut newer = findings();
    newer.findings.reverse();
    harness.state_mut().snapshot.findings = Arc::new(newer);
    step(&mut harness);
    harness.get_by_label("card declined");
    assert_eq!(harness.query_all_by_label(DEAD_LETTER).count(), 2);

    harness.get_by_role_and_label(Role::Button, "Close").click();
    step(&mut harness);
    assert!(harness.state().tab.selected().is_none());
    assert!(harness.query_by_label("card declined").is_none());
}

#[test]
fn a_schema_change_shows_both_shapes_side_by_side() {
    let mut harness = tab_harness();
    step(&mut harness);
    harness.get_by_label(SCHEMA).click();
    step(&mut harness);
    // Paths in both shapes show on both sides; an added or removed one on its side only.
    assert_eq!(harness.query_all_by_label("id").count(), 2);
    assert_eq!(harness.query_all_by_label("total").count(), 2);
    assert_eq!(harness.query_all_by_label("customer.email").count(), 1);
    assert_eq!(harness.query_all_by_label("customer.mail").count(), 1);
    harness.get_by_label("number");
    harness.get_by_label_contains("NONE");
    harness.get_by_label("checkout").click();
    step(&mut harness);
    assert_eq!(harness.state().actions, vec![FindingsAction::FocusNode("checkout".into())]);
    harness.get_by_role_and_label(Role::Button, "orders 1@900").click();
    step(&mut harness);
    assert_eq!(
        harness.state().actions.last(),
        Some(&FindingsAction::OpenMessage(MessageRef { topic: "orders".into(), partition: 1, offset: 900 }))
    );
}

#[test]
fn the_window_has_a_findings_tab_and_carries_out_its_actions() {
    let collector = common::start_collector(1 << 20);
    let app = EventLensApp::new(collector.engine().expect("engine"), None);
    let mut harness =
        Harness::builder().with_size([1280.0, 800.0]).build_ui_state(|ui, app: &mut EventLensApp| app.show(ui), app);
    settle(&mut harness);
    harness.get_by_role_and_label(Role::Button, "Findings (0)").click();
    settle(&mut harness);
    assert_eq!(harness.state().view(), View::Findings);
    harness.get_by_label_contains("No findings.");

    let spans = saga_spans();
    common::post_spans(&collector, &spans);
    let n = spans.len() as u64;
    common::wait_for(&collector, "journeys listed", |s| s.model.spans == n && s.journeys.len() == 2);
    settle(&mut harness);

    // A topic's name selects the topic (not the service of the same name) in the graph.
    FindingsAction::FocusNode("orders".into()).apply(harness.state_mut());
    assert_eq!(harness.state().view(), View::Flow);
    let Some(Selection::Node(node)) = harness.state().selection() else { panic!("no node selected") };
    assert_eq!(harness.state().snapshot().node(node).map(|n| n.label.as_str()), Some("kafka/orders"));

    // A trace opens its journey.
    let search = harness.state().snapshot().journeys.iter().find(|j| &*j.root_service == "search").expect("journey");
    let (journey, trace) = (search.id, search.trace_ids[0].to_hex());
    FindingsAction::OpenTrace(trace).apply(harness.state_mut());
    assert_eq!(harness.state().view(), View::Journeys);
    assert_eq!(harness.state().selected_journey(), Some(journey));

    // A trace no journey holds: the list searches for it.
    let unknown = "0000000000000000000000000000abcd";
    FindingsAction::OpenTrace(unknown.into()).apply(harness.state_mut());
    assert_eq!(harness.state_mut().journey_list_mut().search, format!("trace:{unknown}"));
    assert_eq!(harness.state().selected_journey(), Some(journey));
}

/// A saga that rolled back is drawn as its chain atop the failed journey's waterfall: the
/// journey a compensation finding names (by trace or key) shows it, another does not.
#[test]
fn a_rolled_back_journey_shows_its_compensation_chain() {
    use eventlens::engine::EngineState;
    use eventlens::model::journey::{JourneyDetail, JourneySettings};
    use eventlens::model::record::{Record, SourceKind, SpanBatch};
    use eventlens::ui::waterfall::WaterfallView;

    let mut state = EngineState::new(JourneySettings::default());
    state.apply(&Record::Spans(SpanBatch { received_unix_nano: 1, source: SourceKind::File, spans: saga_spans() }));
    state.sync_journeys();
    let (failed, search) = {
        let store = state.journeys();
        let list = store.list();
        let failed = list.iter().find(|j| j.failures > 0).expect("the failed journey").id;
        let search = list.iter().find(|j| &*j.root_service == "search").expect("the search").id;
        let build = |id| JourneyDetail::build(&store, id, state.kafka()).expect("laid out");
        (build(failed), build(search))
    };
    let mut saga = Finding::new(FindingKind::Compensation, Severity::Info, Location::topic("payment-failed"), 1);
    saga.count = 3;
    saga.summary = "3 keys rolled back after PaymentFailed: PaymentFailed → OrderCancelled → StockReleased".into();
    saga.evidence.chain = vec!["PaymentFailed".into(), "OrderCancelled".into(), "StockReleased".into()];
    saga.evidence.keys = vec!["order-7".into()];
    let view = FindingsView { findings: vec![saga], ..FindingsView::default() };
    assert_eq!(eventlens::ui::waterfall::compensations_of(&failed, &view).len(), 1, "named by its key");
    assert!(eventlens::ui::waterfall::compensations_of(&search, &view).is_empty());

    struct Shown {
        waterfall: WaterfallView,
        detail: JourneyDetail,
        view: FindingsView,
    }
    let shown = Shown { waterfall: WaterfallView::default(), detail: failed, view };
    let mut harness = Harness::builder()
        .with_size([1280.0, 600.0])
        .build_ui_state(|ui, s: &mut Shown| s.waterfall.show(ui, &s.detail, &s.view), shown);
    harness.run_steps(2);
    harness.get_by_label("Rolled back:");
    harness.get_by_label("✗ PaymentFailed");
    harness.get_by_label("OrderCancelled");
    harness.get_by_label("StockReleased");
    harness.state_mut().detail = search;
    harness.run_steps(2);
    assert!(harness.query_by_label("Rolled back:").is_none());
}
