//! What the demo shop's services do with each event: checkout places orders (asking pricing
//! synchronously first), inventory reserves and releases stock, payments charges and declines,
//! shipping ships, notifications emails, analytics reads everything in batches, and a
//! declined payment makes checkout cancel the order (the saga's compensation).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry::trace::{Link, Span as _, SpanContext, SpanKind, Status, TraceContextExt as _, Tracer as _};
use opentelemetry::{Context, KeyValue};
use serde_json::json;

use super::controls::{DemoControls, percent_draw};
use super::messaging::{Incoming, Outgoing, ServiceClient, publish};
use super::telemetry::{ServiceTracer, Telemetry, extract};

/// Deliveries of a poison message before it is dead-lettered (a redelivery per failure, as
/// Spring Kafka's error handler does, then the dead-letter topic).
const POISON_ATTEMPTS: u32 = 3;

/// Draw purposes, so each decision about an order is independent of the others.
mod draw {
    pub const POISON: u64 = 1;
    pub const DECLINE: u64 = 2;
    pub const GATEWAY_TIMEOUT: u64 = 3;
    pub const SMTP_TIMEOUT: u64 = 4;
    pub const LATENCY: u64 = 5;
}

/// The shop's services and what they share.
pub struct Shop {
    pub(crate) controls: Arc<DemoControls>,
    checkout: ServiceClient,
    pricing: ServiceTracer,
    inventory: ServiceClient,
    payments: ServiceClient,
    shipping: ServiceClient,
    notifications: ServiceClient,
    analytics: ServiceTracer,
    /// The last `seq` inventory saw per order, to notice events arriving out of order.
    last_seq: Mutex<HashMap<String, u64>>,
}

/// The consuming services: each is one consumer group reading its topics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consumer {
    /// Reads `payments` for declines (the saga).
    Checkout,
    /// Reads `orders`.
    Inventory,
    /// Reads `orders`.
    Payments,
    /// Reads `payments`.
    Shipping,
    /// Reads `shipments` and `payments`.
    Notifications,
    /// Reads every topic, in batches.
    Analytics,
}

impl Consumer {
    /// Every consumer, in start order.
    pub const ALL: [Consumer; 6] = [
        Consumer::Checkout,
        Consumer::Inventory,
        Consumer::Payments,
        Consumer::Shipping,
        Consumer::Notifications,
        Consumer::Analytics,
    ];

    /// Its consumer group (and service name).
    pub fn group(self) -> &'static str {
        match self {
            Consumer::Checkout => "checkout",
            Consumer::Inventory => "inventory",
            Consumer::Payments => "payments",
            Consumer::Shipping => "shipping",
            Consumer::Notifications => "notifications",
            Consumer::Analytics => "analytics",
        }
    }

    /// The topics it subscribes to.
    pub fn topics(self) -> &'static [&'static str] {
        match self {
            Consumer::Checkout => &["payments"],
            Consumer::Inventory | Consumer::Payments => &["orders"],
            Consumer::Shipping => &["payments"],
            Consumer::Notifications => &["shipments", "payments"],
            Consumer::Analytics => &["orders", "payments", "inventory", "shipments", "notifications"],
        }
    }
}

impl std::fmt::Debug for Shop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shop").field("controls", &self.controls).finish_non_exhaustive()
    }
}

impl Shop {
    /// The shop, with a tracer per service.
    pub fn new(bootstrap: &str, controls: Arc<DemoControls>, telemetry: &Telemetry) -> anyhow::Result<Self> {
        let client = |service: &str| ServiceClient::new(bootstrap, telemetry.tracer(service)?);
        Ok(Self {
            controls,
            checkout: client("checkout")?,
            pricing: telemetry.tracer("pricing")?,
            inventory: client("inventory")?,
            payments: client("payments")?,
            shipping: client("shipping")?,
            notifications: client("notifications")?,
            analytics: telemetry.tracer("analytics")?,
            last_seq: Mutex::new(HashMap::new()),
        })
    }

    fn tracer(&self, consumer: Consumer) -> &ServiceTracer {
        match consumer {
            Consumer::Checkout => &self.checkout.tracer,
            Consumer::Inventory => &self.inventory.tracer,
            Consumer::Payments => &self.payments.tracer,
            Consumer::Shipping => &self.shipping.tracer,
            Consumer::Notifications => &self.notifications.tracer,
            Consumer::Analytics => &self.analytics,
        }
    }

    /// Checkout places order number `order`: a `POST /orders` request that asks pricing for
    /// the total over HTTP, then publishes `OrderPlaced`.
    pub async fn place_order(&self, order: u64) {
        let key = format!("ord-{order:07}");
        let tracer = &self.checkout.tracer.tracer;
        let mut request = tracer
            .span_builder("POST /orders")
            .with_kind(SpanKind::Server)
            .with_attributes([
                KeyValue::new("http.request.method", "POST"),
                KeyValue::new("http.route", "/orders"),
                KeyValue::new("shop.order.id", key.clone()),
                KeyValue::new("shop.customer.email", format!("customer{}@example.com", order % 997)),
            ])
            .start(tracer);
        let request_cx = request.span_context().clone();
        let total_cents = self.price(&request_cx, order).await;

        let schema_v2 = DemoControls::get(&self.controls.schema_v2);
        let placed = if percent_draw(order, draw::POISON) < self.controls.poison_percent() {
            // A producer bug: a truncated, non-JSON body.
            b"\x00\x01{\"order_id\": \"".to_vec()
        } else if schema_v2 {
            json!({"type": "OrderPlaced", "schema": 2, "order_id": key, "seq": 1,
                   "amount_cents": total_cents, "currency": "EUR",
                   "customer": {"email": format!("customer{}@example.com", order % 997), "card": "4242-4242-4242-4242"}})
            .to_string()
            .into_bytes()
        } else {
            json!({"type": "OrderPlaced", "schema": 1, "order_id": key, "seq": 1, "total_cents": total_cents,
                   "customer": {"email": format!("customer{}@example.com", order % 997), "card": "4242-4242-4242-4242"}})
            .to_string()
            .into_bytes()
        };
        let out_of_order = DemoControls::get(&self.controls.out_of_order) && order.is_multiple_of(4);
        let placed_event =
            Outgoing { topic: "orders", key: &key, event_type: "OrderPlaced", payload: placed, extra_headers: vec![] };
        if out_of_order {
            let update = json!({"type": "OrderUpdated", "order_id": key, "seq": 2, "address": "2 Harbour Street"});
            publish(&self.checkout, Some(&request_cx), Outgoing::json("orders", &key, "OrderUpdated", &update)).await;
        }
        publish(&self.checkout, Some(&request_cx), placed_event).await;
        request.set_attribute(KeyValue::new("http.response.status_code", 202));
        request.end();
    }

    /// The synchronous call: a CLIENT span in checkout, the SERVER span in pricing.
    async fn price(&self, parent: &SpanContext, order: u64) -> u64 {
        let cx = Context::new().with_remote_span_context(parent.clone());
        let attributes = [
            KeyValue::new("http.request.method", "GET"),
            KeyValue::new("server.address", "pricing"),
            KeyValue::new("url.path", "/price"),
        ];
        let checkout = &self.checkout.tracer.tracer;
        let mut call = checkout
            .span_builder("GET /price")
            .with_kind(SpanKind::Client)
            .with_attributes(attributes.clone())
            .start_with_context(checkout, &cx);
        let server_cx = Context::new().with_remote_span_context(call.span_context().clone());
        let mut served = self
            .pricing
            .tracer
            .span_builder("GET /price")
            .with_kind(SpanKind::Server)
            .with_attributes([KeyValue::new("http.request.method", "GET"), KeyValue::new("http.route", "/price")])
            .start_with_context(&self.pricing.tracer, &server_cx);
        work(order, 1, 4).await;
        served.set_attribute(KeyValue::new("http.response.status_code", 200));
        served.end();
        call.set_attribute(KeyValue::new("http.response.status_code", 200));
        call.end();
        500 + order * 37 % 20_000
    }

    /// Processes one message as `consumer`, inside a process span linked to the message's
    /// creation context.
    pub async fn process(&self, consumer: Consumer, message: Incoming) {
        if consumer == Consumer::Inventory && message.json().is_none() {
            return self.process_poison(message).await;
        }
        let service = self.tracer(consumer);
        let links: Vec<Link> = extract(&message.headers).map(Link::with_context).into_iter().collect();
        let mut span = service
            .tracer
            .span_builder(format!("process {}", message.topic))
            .with_kind(SpanKind::Consumer)
            .with_links(links)
            .with_attributes(message.process_attributes(consumer.group()))
            .start(&service.tracer);
        let cx = span.span_context().clone();
        let order = order_number(&message.key);
        let outcome = match consumer {
            Consumer::Checkout => self.checkout_saga(&cx, &message).await,
            Consumer::Inventory => self.inventory(&cx, &mut span, &message, order).await,
            Consumer::Payments => self.payments(&cx, &message, order).await,
            Consumer::Shipping => self.shipping(&cx, &message, order).await,
            Consumer::Notifications => self.notifications(&cx, &message, order).await,
            Consumer::Analytics => Ok(()),
        };
        if let Err(reason) = outcome {
            span.set_status(Status::error(reason));
        }
        span.end();
    }

    /// Inventory cannot read a message that is not JSON. As Spring Kafka's error handler
    /// does, the message is delivered again (a process span per attempt, each failing), and
    /// after [`POISON_ATTEMPTS`] it goes to the dead-letter topic with its provenance.
    async fn process_poison(&self, message: Incoming) {
        let service = &self.inventory;
        for attempt in 1..=POISON_ATTEMPTS {
            let links: Vec<Link> = extract(&message.headers).map(Link::with_context).into_iter().collect();
            let mut span = service
                .tracer
                .tracer
                .span_builder(format!("process {}", message.topic))
                .with_kind(SpanKind::Consumer)
                .with_links(links)
                .with_attributes(message.process_attributes(Consumer::Inventory.group()))
                .start(&service.tracer.tracer);
            span.set_attribute(KeyValue::new("shop.attempt", i64::from(attempt)));
            let cx = span.span_context().clone();
            if attempt == POISON_ATTEMPTS {
                self.dead_letter(service, &cx, &message, "payload is not JSON").await;
                span.set_status(Status::error("poison message: payload is not JSON; sent to orders.DLQ"));
            } else {
                span.set_status(Status::error("poison message: payload is not JSON"));
            }
            span.end();
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }

    /// Analytics reads a batch of one topic: one process span linking every message.
    pub async fn process_batch(&self, topic: &str, batch: Vec<Incoming>) {
        let service = &self.analytics;
        let links: Vec<Link> = batch.iter().filter_map(|m| extract(&m.headers)).map(Link::with_context).collect();
        let mut attributes = super::telemetry::kafka_attributes(topic, "process");
        attributes.push(KeyValue::new("messaging.consumer.group.name", "analytics"));
        attributes.push(KeyValue::new("messaging.batch.message_count", batch.len() as i64));
        let mut span = service
            .tracer
            .span_builder(format!("process {topic}"))
            .with_kind(SpanKind::Consumer)
            .with_links(links)
            .with_attributes(attributes)
            .start(&service.tracer);
        work(batch.len() as u64, 1, 3).await;
        span.end();
    }

    async fn checkout_saga(&self, cx: &SpanContext, message: &Incoming) -> Result<(), String> {
        if message.event_type() != "PaymentFailed" {
            return Ok(());
        }
        let payload = json!({"type": "OrderCancelled", "order_id": message.key, "seq": 3, "reason": "payment failed"});
        publish(&self.checkout, Some(cx), Outgoing::json("orders", &message.key, "OrderCancelled", &payload)).await;
        Ok(())
    }

    async fn inventory(
        &self,
        cx: &SpanContext,
        span: &mut opentelemetry_sdk::trace::Span,
        message: &Incoming,
        order: u64,
    ) -> Result<(), String> {
        let Some(body) = message.json() else {
            // Redelivered by `process` until the last attempt, which dead-letters it.
            return Err("poison message: payload is not JSON".into());
        };
        let seq = body.get("seq").and_then(serde_json::Value::as_u64).unwrap_or(0);
        span.set_attribute(KeyValue::new("shop.event.seq", seq as i64));
        if self.out_of_order(&message.key, seq) {
            span.add_event("out-of-order event", vec![KeyValue::new("shop.event.seq", seq as i64)]);
            span.set_attribute(KeyValue::new("shop.out_of_order", true));
        }
        let (operation, reply) = match message.event_type() {
            "OrderPlaced" => ("reserve stock", "StockReserved"),
            "OrderCancelled" => ("release stock", "StockReleased"),
            _ => return Ok(()),
        };
        let mut db = child(&self.inventory.tracer, cx, operation, SpanKind::Client);
        db.set_attributes([
            KeyValue::new("db.system.name", "postgresql"),
            KeyValue::new("db.operation.name", "UPDATE"),
            KeyValue::new("db.collection.name", "stock"),
        ]);
        work(order, 1, 3).await;
        db.end();
        let payload = json!({"type": reply, "order_id": message.key, "items": 1 + order % 4});
        publish(&self.inventory, Some(cx), Outgoing::json("inventory", &message.key, reply, &payload)).await;
        Ok(())
    }

    /// Whether `seq` is older than the newest seen for `key` (then remembered).
    fn out_of_order(&self, key: &str, seq: u64) -> bool {
        let Ok(mut seen) = self.last_seq.lock() else { return false };
        if seen.len() > 50_000 {
            seen.clear();
        }
        let last = seen.entry(key.to_owned()).or_insert(0);
        let late = seq < *last;
        *last = (*last).max(seq);
        late
    }

    async fn payments(&self, cx: &SpanContext, message: &Incoming, order: u64) -> Result<(), String> {
        if message.event_type() != "OrderPlaced" {
            return Ok(());
        }
        let Some(body) = message.json() else {
            return Err("cannot read OrderPlaced: payload is not JSON".into());
        };
        let Some(total) = body.get("total_cents").and_then(serde_json::Value::as_u64) else {
            // Version 2 renamed the field: this consumer cannot charge it.
            self.dead_letter(&self.payments, cx, message, "OrderPlaced has no total_cents (unknown schema)").await;
            return Err("OrderPlaced has no total_cents (unknown schema); sent to orders.DLQ".into());
        };
        // The gateway times out now and then; the second attempt goes through.
        let attempts = if percent_draw(order, draw::GATEWAY_TIMEOUT) < 4 { 2 } else { 1 };
        let declined = percent_draw(order, draw::DECLINE) < self.controls.payment_failure_percent();
        for attempt in 1..=attempts {
            let mut charge = child(&self.payments.tracer, cx, "POST /charges", SpanKind::Client);
            charge.set_attributes([
                KeyValue::new("http.request.method", "POST"),
                KeyValue::new("server.address", "payment-gateway"),
                KeyValue::new("shop.attempt", attempt),
                KeyValue::new("shop.amount_cents", total as i64),
            ]);
            work(order + attempt as u64, 2, 6).await;
            if attempt < attempts {
                charge.set_status(Status::error("gateway timeout; retrying"));
            } else if declined {
                charge.set_attribute(KeyValue::new("http.response.status_code", 402));
                charge.set_status(Status::error("card declined"));
            } else {
                charge.set_attribute(KeyValue::new("http.response.status_code", 201));
            }
            charge.end();
        }
        let reply = if declined { "PaymentFailed" } else { "PaymentProcessed" };
        let payload = json!({"type": reply, "order_id": message.key, "amount_cents": total});
        publish(&self.payments, Some(cx), Outgoing::json("payments", &message.key, reply, &payload)).await;
        Ok(())
    }

    async fn shipping(&self, cx: &SpanContext, message: &Incoming, order: u64) -> Result<(), String> {
        if message.event_type() != "PaymentProcessed" {
            return Ok(());
        }
        let mut booking = child(&self.shipping.tracer, cx, "book courier", SpanKind::Internal);
        work(order, 1, 5).await;
        booking.end();
        let payload = json!({"type": "OrderShipped", "order_id": message.key, "carrier": "DHL"});
        publish(&self.shipping, Some(cx), Outgoing::json("shipments", &message.key, "OrderShipped", &payload)).await;
        Ok(())
    }

    async fn notifications(&self, cx: &SpanContext, message: &Incoming, order: u64) -> Result<(), String> {
        let template = match message.event_type() {
            "OrderShipped" => "shipped",
            "PaymentFailed" => "payment-failed",
            _ => return Ok(()),
        };
        let mut email = child(&self.notifications.tracer, cx, "smtp send", SpanKind::Client);
        email.set_attribute(KeyValue::new("shop.email.template", template));
        work(order, 1, 4).await;
        if percent_draw(order, draw::SMTP_TIMEOUT) < 2 {
            email.set_status(Status::error("smtp timeout"));
            email.end();
            return Err("email not sent: smtp timeout".into());
        }
        email.end();
        let payload = json!({"type": "EmailSent", "order_id": message.key, "template": template});
        publish(&self.notifications, Some(cx), Outgoing::json("notifications", &message.key, "EmailSent", &payload))
            .await;
        Ok(())
    }

    /// Publishes `message` to `orders.DLQ` with Spring Kafka's dead-letter headers.
    async fn dead_letter(&self, service: &ServiceClient, cx: &SpanContext, message: &Incoming, reason: &str) {
        let extra_headers = vec![
            ("kafka_dlt-original-topic".to_owned(), message.topic.clone().into_bytes()),
            ("kafka_dlt-original-partition".to_owned(), message.partition.to_be_bytes().to_vec()),
            ("kafka_dlt-original-offset".to_owned(), message.offset.to_be_bytes().to_vec()),
            ("kafka_dlt-original-consumer-group".to_owned(), service.tracer.name.as_bytes().to_vec()),
            ("kafka_dlt-exception-message".to_owned(), reason.as_bytes().to_vec()),
        ];
        let event = Outgoing {
            topic: "orders.DLQ",
            key: &message.key,
            event_type: message.event_type(),
            payload: message.payload.clone(),
            extra_headers,
        };
        publish(service, Some(cx), event).await;
    }
}

/// A child span of `parent` in `service`.
fn child(
    service: &ServiceTracer,
    parent: &SpanContext,
    name: &'static str,
    kind: SpanKind,
) -> opentelemetry_sdk::trace::Span {
    let cx = Context::new().with_remote_span_context(parent.clone());
    service.tracer.span_builder(name).with_kind(kind).start_with_context(&service.tracer, &cx)
}

/// Simulated work: a few milliseconds, varying by order.
async fn work(order: u64, min_ms: u64, max_ms: u64) {
    let spread = u64::from(percent_draw(order, draw::LATENCY)) * (max_ms - min_ms) / 100;
    tokio::time::sleep(Duration::from_millis(min_ms + spread)).await;
}

/// The order number in a key `ord-0000042`, for reproducible draws.
fn order_number(key: &str) -> u64 {
    key.trim_start_matches("ord-").parse().unwrap_or(0)
}
