//! The egui front end. It reads engine snapshots and sends commands; it never blocks and
//! never touches the model.

pub mod app;
pub mod background;
pub mod brokers_rabbitmq;
pub mod brokers_view;
pub mod demo_panel;
pub mod depth_panel;
pub mod details_panel;
pub mod empty_state;
pub mod file_dialogs;
pub mod findings_evidence;
pub mod findings_view;
pub mod flow_fit;
pub mod flow_labels;
pub mod flow_layered;
pub mod flow_layout;
pub mod flow_placement;
pub mod flow_routes;
pub mod flow_scope;
pub mod flow_shapes;
pub mod flow_text;
pub mod flow_view;
pub mod journey_list;
pub mod kafka_panel;
pub mod message_browser;
pub mod payload_view;
pub mod recording;
pub mod span_details;
pub mod svg_export;
pub mod theme;
pub mod timeline;
pub mod top_bar;
pub mod topics_view;
pub mod waterfall;

pub use app::EventLensApp;
