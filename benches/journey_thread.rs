//! The engine thread's CPU time per span with journeys on their own thread, beside the same
//! without journeys and with journeys assembled inline (the journeys issue's target: within
//! 20% of the cost without journeys).
//!
//! The three are measured in turn, 40 rounds, on one session the built-in demo records first
//! (10 s at 100 orders/s, poison messages included), each round applying the whole session
//! to a fresh engine state and bringing the journey rows up to date, as a publish does.
//! Interleaving matters on a shared machine: measured one after the other (as criterion
//! does), the variants drift apart by a third with the machine's load. Prints the minimum,
//! quartile and median of each. Results in docs/performance.md.
//!
//! cargo bench --bench journey_thread

// A benchmark: it stops on errors with a message.
#![allow(missing_docs, clippy::expect_used)]

#[path = "common/demo_session.rs"]
mod demo_session;
#[path = "common/thread_cpu.rs"]
mod thread_cpu;

use std::sync::Arc;
use std::time::Duration;

use eventlens::engine::EngineState;
use eventlens::model::journey::JourneySettings;
use eventlens::model::record::Record;

use thread_cpu::thread_cpu;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const ROUNDS: usize = 40;

fn state(variant: &str) -> EngineState {
    let settings = JourneySettings::default();
    match variant {
        "without journeys" => EngineState::new(JourneySettings { enabled: false, ..settings }),
        "journey thread" => EngineState::threaded(settings, eventlens::model::findings::FindingsSettings::default())
            .expect("journey thread"),
        _ => EngineState::new(settings),
    }
}

fn main() {
    let records: Vec<Arc<Record>> = demo_session::demo_session().into_iter().map(Arc::new).collect();
    let spans: usize = records.iter().map(|r| if let Record::Spans(b) = &**r { b.spans.len() } else { 0 }).sum();
    println!("demo session: {} records, {spans} spans; engine thread CPU per session, {ROUNDS} rounds", records.len());
    let mut results: Vec<(&str, Vec<Duration>)> =
        ["without journeys", "journey thread", "inline journeys"].into_iter().map(|v| (v, Vec::new())).collect();
    for _ in 0..ROUNDS {
        for (variant, times) in &mut results {
            let mut state = state(variant);
            let records = records.clone();
            let started = thread_cpu();
            for record in records {
                state.apply_shared(record);
            }
            state.sync_journeys();
            times.push(thread_cpu() - started);
        }
    }
    let per_span = |d: Duration| d.as_secs_f64() * 1e9 / spans as f64;
    let baseline = results[0].1.iter().min().copied().unwrap_or_default();
    for (variant, mut times) in results {
        times.sort();
        let (min, quartile, median) = (times[0], times[ROUNDS / 4], times[ROUNDS / 2]);
        println!(
            "{variant:>17}: min {min:>9.2?} ({:.2} us/span, {:.2}x)  p25 {quartile:>9.2?}  median {median:>9.2?} ({:.2} us/span)",
            per_span(min) / 1e3,
            min.as_secs_f64() / baseline.as_secs_f64(),
            per_span(median) / 1e3,
        );
    }
}
