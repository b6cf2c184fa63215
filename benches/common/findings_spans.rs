//! Synthetic spans for the findings benchmarks: the detectors' worst case.

use eventlens::model::record::{Record, SourceKind, SpanBatch};
use eventlens::model::span::{Span, SpanKind};
use eventlens::testing::span;

/// Synthetic batches: a process span per new message (new offset, new key), a call under it,
/// a producer span per message.
pub fn synthetic(batches: usize, per_batch: usize) -> Vec<Record> {
    let mut out = Vec::with_capacity(batches);
    let mut n: u64 = 0;
    for b in 0..batches {
        let mut spans: Vec<Span> = Vec::with_capacity(per_batch);
        while spans.len() < per_batch {
            n += 1;
            let partition = (n % 6).to_string();
            let offset = (n / 6) as i64;
            let key = format!("order-{n}");
            spans.push(
                span("checkout", "send orders", SpanKind::Producer)
                    .ids(u128::from(n), n * 3)
                    .messaging("kafka", "orders", "send")
                    .attr("messaging.kafka.message.key", &key)
                    .attr("messaging.destination.partition.id", &partition)
                    .build(),
            );
            spans.push(
                span("payments", "process orders", SpanKind::Consumer)
                    .ids(u128::from(n) + (1 << 64), n * 3 + 1)
                    .messaging("kafka", "orders", "process")
                    .attr("messaging.consumer.group.name", "payments")
                    .attr("messaging.destination.partition.id", &partition)
                    .attr_int("messaging.kafka.offset", offset)
                    .attr("messaging.kafka.message.key", &key)
                    .build(),
            );
            spans.push(
                span("payments", "POST /charges", SpanKind::Client)
                    .ids(u128::from(n) + (1 << 64), n * 3 + 2)
                    .parent(n * 3 + 1)
                    .attr("server.address", "payment-gateway")
                    .build(),
            );
        }
        out.push(Record::Spans(SpanBatch {
            received_unix_nano: 1_700_000_000_000_000_000 + b as u64 * 1_000_000,
            source: SourceKind::OtlpGrpc,
            spans,
        }));
    }
    out
}
