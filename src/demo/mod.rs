//! The built-in demo: an event-driven shop running inside the process, so EventLens can be
//! seen at full strength without a broker or services of one's own.
//!
//! The shop is a *world outside* EventLens that happens to share its process: a mock Kafka
//! cluster ([`broker`]), services as tokio tasks on their own runtime, each a real Kafka
//! producer/consumer with its own group and instrumented with the OpenTelemetry SDK
//! ([`telemetry`]), exporting spans over OTLP/gRPC to the collector's receiver on loopback.
//! EventLens watches the mock cluster with its ordinary Kafka source. Nothing here touches
//! the engine or the model: the demo drives the real ingest paths.

pub mod broker;
pub mod consumer;
pub mod controls;
pub mod messaging;
pub mod shop;
pub mod telemetry;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

pub use broker::DemoBroker;
pub use controls::{DemoControls, Scenario};

use crate::ingest::kafka::KafkaConfig;
use shop::{Consumer, Shop};
use telemetry::Telemetry;

/// How often EventLens polls the demo cluster: quicker than the default, so lag moves
/// visibly within seconds of a scenario change.
pub const KAFKA_POLL: Duration = Duration::from_secs(1);

/// Fields the demo masks in addition to any `--redact`: the orders' customer email and card.
pub const REDACTED_FIELDS: &[&str] = &["email", "card"];

/// The Kafka source settings that watch the demo's cluster. No groups are given: the mock
/// cluster refuses ListGroups, and EventLens learns the groups from the services' spans.
pub fn kafka_config(broker: &DemoBroker) -> KafkaConfig {
    let mut config = KafkaConfig::new(broker.bootstrap().to_owned());
    config.name = "demo".into();
    config.poll_interval = KAFKA_POLL;
    config
}

/// The running shop's services.
#[derive(Debug)]
pub struct DemoServices {
    runtime: Option<tokio::runtime::Runtime>,
    telemetry: Telemetry,
    controls: Arc<DemoControls>,
    stop: CancellationToken,
}

impl DemoServices {
    /// Starts the services against `broker`, exporting spans to the OTLP/gRPC receiver at
    /// `otlp_grpc`, steered by `controls`.
    pub fn start(broker: &DemoBroker, otlp_grpc: SocketAddr, controls: Arc<DemoControls>) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("eventlens-demo")
            .enable_all()
            .build()
            .context("cannot start the demo's runtime")?;
        let telemetry = {
            let _entered = runtime.enter();
            Telemetry::start(&format!("http://{otlp_grpc}"))?
        };
        let shop = Arc::new(Shop::new(broker.bootstrap(), Arc::clone(&controls), &telemetry)?);
        let stop = CancellationToken::new();
        for consumer in Consumer::ALL {
            runtime.spawn(consumer::run(Arc::clone(&shop), broker.bootstrap().to_owned(), consumer, stop.clone()));
        }
        runtime.spawn(place_orders(shop, stop.clone()));
        Ok(Self { runtime: Some(runtime), telemetry, controls, stop })
    }

    /// The controls the Demo panel changes.
    pub fn controls(&self) -> Arc<DemoControls> {
        Arc::clone(&self.controls)
    }

    /// Stops the services and exports the spans they still hold.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.cancel();
        if let Some(runtime) = self.runtime.take() {
            // In-flight messages finish or are dropped; then what the exporters hold goes out.
            runtime.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
            self.telemetry.shutdown();
            runtime.shutdown_timeout(Duration::from_secs(2));
        }
    }
}

impl Drop for DemoServices {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Checkout's order loop: places orders at the controls' rate, each order its own task
/// (bounded, so an overloaded shop slows down rather than piling up tasks).
async fn place_orders(shop: Arc<Shop>, stop: CancellationToken) {
    const TICK: Duration = Duration::from_millis(10);
    let in_flight = Arc::new(tokio::sync::Semaphore::new(1_024));
    let mut ticker = tokio::time::interval(TICK);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut due = 0.0_f64;
    let mut order = 0_u64;
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = ticker.tick() => {}
        }
        due += shop.controls.rate() * TICK.as_secs_f64();
        while due >= 1.0 {
            due -= 1.0;
            order += 1;
            let Ok(permit) = Arc::clone(&in_flight).acquire_owned().await else { return };
            let shop = Arc::clone(&shop);
            tokio::spawn(async move {
                shop.place_order(order).await;
                drop(permit);
            });
        }
    }
}
