//! A demo service's consumer loop: reads its topics as its own group, hands each message to
//! the shop (one worker per partition, so a partition's messages are processed in order, as
//! Kafka consumers do, while partitions proceed in parallel), and obeys the scenario controls
//! that act on consumers: slow shipping, stopped notifications, inventory's duplicate
//! deliveries, analytics' batches.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rdkafka::consumer::{Consumer as _, StreamConsumer};
use rdkafka::{Offset, TopicPartitionList};
use tokio_util::sync::CancellationToken;

use super::controls::DemoControls;
use super::messaging::{Incoming, client_config};
use super::shop::{Consumer, Shop};

/// Messages queued per partition worker before the consumer waits for it.
const PARTITION_QUEUE: usize = 256;
/// Analytics flushes a batch at this size or age.
const BATCH_SIZE: usize = 50;
const BATCH_AGE: Duration = Duration::from_millis(250);
/// How far inventory rewinds each partition for duplicate deliveries.
const REWIND: i64 = 20;
/// Pause per message while shipping is slow.
const SLOW_PAUSE: Duration = Duration::from_millis(150);

fn subscribe(bootstrap: &str, consumer: Consumer) -> Option<StreamConsumer> {
    let created: Result<StreamConsumer, _> = client_config(bootstrap, consumer.group())
        .set("group.id", consumer.group())
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "true")
        .set("auto.commit.interval.ms", "500")
        .set("session.timeout.ms", "6000")
        // A tuned consumer: at low rates messages would otherwise wait up to 500 ms.
        .set("fetch.wait.max.ms", "50")
        .create();
    let client = match created {
        Ok(client) => client,
        Err(e) => {
            tracing::warn!("demo {}: cannot create a consumer: {e}", consumer.group());
            return None;
        }
    };
    if let Err(e) = client.subscribe(consumer.topics()) {
        tracing::warn!("demo {}: cannot subscribe: {e}", consumer.group());
        return None;
    }
    Some(client)
}

fn is_stopped(controls: &DemoControls, consumer: Consumer) -> bool {
    consumer == Consumer::Notifications && DemoControls::get(&controls.notifications_stopped)
}

/// Runs `consumer` until `stop`.
pub async fn run(shop: Arc<Shop>, bootstrap: String, consumer: Consumer, stop: CancellationToken) {
    let mut batches: HashMap<String, (tokio::time::Instant, Vec<Incoming>)> = HashMap::new();
    // A consumer stops only after it has committed something: a group that never consumed
    // would be invisible (no spans name it, and the cluster will not list groups).
    let mut consumed = 0_u64;
    'session: while !stop.is_cancelled() {
        if consumed > 0 && is_stopped(&shop.controls, consumer) {
            // Stopped: no member left in the group, the committed offsets stay where they are.
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(Duration::from_millis(250)) => continue,
            }
        }
        // One ordered worker per partition of this membership; dropped (and finished) with it.
        let mut workers: HashMap<(String, i32), tokio::sync::mpsc::Sender<Incoming>> = HashMap::new();
        let Some(client) = subscribe(&bootstrap, consumer) else {
            tokio::select! {
                () = stop.cancelled() => break,
                () = tokio::time::sleep(Duration::from_secs(1)) => continue,
            }
        };
        loop {
            if consumed > 0 && is_stopped(&shop.controls, consumer) {
                // Dropping the client leaves the group; it rejoins when turned back on.
                continue 'session;
            }
            // Kept pending until the consumer has positions to rewind (not before its first
            // messages).
            if consumer == Consumer::Inventory && shop.controls.duplicates_requested() && rewind(&client) {
                shop.controls.duplicates_made();
            }
            let received = tokio::select! {
                () = stop.cancelled() => break 'session,
                received = tokio::time::timeout(Duration::from_millis(100), client.recv()) => received,
            };
            let message = match received {
                Err(_idle) => None,
                Ok(Ok(message)) => Some(Incoming::from_message(&message)),
                Ok(Err(e)) => {
                    tracing::debug!("demo {}: {e}", consumer.group());
                    None
                }
            };
            if consumer == Consumer::Analytics {
                flush_batches(&shop, &mut batches, message).await;
                continue;
            }
            let Some(message) = message else { continue };
            consumed += 1;
            if consumer == Consumer::Shipping && DemoControls::get(&shop.controls.slow_shipping) {
                shop.process(consumer, message).await;
                tokio::time::sleep(SLOW_PAUSE).await;
                continue;
            }
            let worker = workers.entry((message.topic.clone(), message.partition)).or_insert_with(|| {
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Incoming>(PARTITION_QUEUE);
                let shop = Arc::clone(&shop);
                tokio::spawn(async move {
                    while let Some(message) = rx.recv().await {
                        shop.process(consumer, message).await;
                    }
                });
                tx
            });
            if worker.send(message).await.is_err() {
                tracing::debug!("demo {}: a partition worker ended", consumer.group());
            }
        }
    }
}

/// Adds `message` to its topic's batch and processes the batches that are full or old.
async fn flush_batches(
    shop: &Shop,
    batches: &mut HashMap<String, (tokio::time::Instant, Vec<Incoming>)>,
    message: Option<Incoming>,
) {
    if let Some(message) = message {
        let (_, batch) =
            batches.entry(message.topic.clone()).or_insert_with(|| (tokio::time::Instant::now(), Vec::new()));
        batch.push(message);
    }
    let due: Vec<String> = batches
        .iter()
        .filter(|(_, (started, batch))| batch.len() >= BATCH_SIZE || started.elapsed() >= BATCH_AGE)
        .map(|(topic, _)| topic.clone())
        .collect();
    for topic in due {
        if let Some((_, batch)) = batches.remove(&topic) {
            shop.process_batch(&topic, batch).await;
        }
    }
}

/// Seeks every assigned partition back by [`REWIND`] messages: they are delivered again.
/// False when there was nothing to rewind yet.
fn rewind(client: &StreamConsumer) -> bool {
    let Ok(positions) = client.position() else { return false };
    // Wait until there is something to deliver again: a rewind at the very start would
    // repeat a message or two.
    let read: i64 = positions.elements().iter().filter_map(|e| e.offset().to_raw()).filter(|o| *o > 0).sum();
    if read < REWIND {
        return false;
    }
    let mut rewound = TopicPartitionList::new();
    for element in positions.elements() {
        if let Offset::Offset(next) = element.offset()
            && next > 0
        {
            let _added = rewound.add_partition_offset(
                element.topic(),
                element.partition(),
                Offset::Offset((next - REWIND).max(0)),
            );
        }
    }
    if rewound.count() == 0 {
        return false;
    }
    // librdkafka's seek waits for the fetcher; a short blocking section.
    let result = tokio::task::block_in_place(|| client.seek_partitions(rewound, Duration::from_secs(2)));
    match result {
        Ok(_) => true,
        Err(e) => {
            tracing::warn!("demo inventory: cannot rewind for duplicates: {e}");
            false
        }
    }
}
