//! The demo's knobs: what the Demo panel and `--scenario` change while the shop runs.
//!
//! Plain atomics, shared by the simulated services (which read them on every message) and the
//! UI (which writes them from its frame without blocking). They steer the simulated world
//! outside EventLens, never EventLens's own model.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};

/// Slowest and fastest order rates the controls accept (orders per second).
pub const RATE_RANGE: std::ops::RangeInclusive<f64> = 1.0..=5_000.0;

/// The demo's default order rate.
pub const DEFAULT_RATE: f64 = 20.0;

/// Live settings of the simulated shop.
#[derive(Debug)]
pub struct DemoControls {
    rate_bits: AtomicU64,
    payment_failure_percent: AtomicU32,
    poison_percent: AtomicU32,
    /// Shipping processes one message at a time with a long pause: lag builds, and drains
    /// when it is turned off.
    pub slow_shipping: AtomicBool,
    /// Notifications leaves its group and stops reading until turned off.
    pub notifications_stopped: AtomicBool,
    /// Checkout sends an `OrderUpdated` before the `OrderPlaced` of every fourth order.
    pub out_of_order: AtomicBool,
    /// Checkout publishes `OrderPlaced` version 2 (adds `currency`, renames `total_cents` to
    /// `amount_cents`); payments only knows version 1.
    pub schema_v2: AtomicBool,
    duplicate_requests: AtomicU32,
}

impl Default for DemoControls {
    fn default() -> Self {
        Self {
            rate_bits: AtomicU64::new(DEFAULT_RATE.to_bits()),
            payment_failure_percent: AtomicU32::new(5),
            poison_percent: AtomicU32::new(0),
            slow_shipping: AtomicBool::new(false),
            notifications_stopped: AtomicBool::new(false),
            out_of_order: AtomicBool::new(false),
            schema_v2: AtomicBool::new(false),
            duplicate_requests: AtomicU32::new(0),
        }
    }
}

impl DemoControls {
    /// Orders checkout places per second.
    pub fn rate(&self) -> f64 {
        f64::from_bits(self.rate_bits.load(Ordering::Relaxed))
    }

    /// Sets the order rate, clamped to [`RATE_RANGE`].
    pub fn set_rate(&self, rate: f64) {
        let rate = if rate.is_finite() { rate.clamp(*RATE_RANGE.start(), *RATE_RANGE.end()) } else { DEFAULT_RATE };
        self.rate_bits.store(rate.to_bits(), Ordering::Relaxed);
    }

    /// Share of charges the payment gateway declines, in percent.
    pub fn payment_failure_percent(&self) -> u32 {
        self.payment_failure_percent.load(Ordering::Relaxed)
    }

    /// Sets the declined share (at most 100).
    pub fn set_payment_failure_percent(&self, percent: u32) {
        self.payment_failure_percent.store(percent.min(100), Ordering::Relaxed);
    }

    /// Share of orders checkout publishes as unreadable payloads, in percent.
    pub fn poison_percent(&self) -> u32 {
        self.poison_percent.load(Ordering::Relaxed)
    }

    /// Sets the poison share (at most 100).
    pub fn set_poison_percent(&self, percent: u32) {
        self.poison_percent.store(percent.min(100), Ordering::Relaxed);
    }

    /// Asks inventory to re-read the last messages of its partitions (duplicate deliveries).
    pub fn request_duplicates(&self) {
        self.duplicate_requests.fetch_add(1, Ordering::Relaxed);
    }

    /// Whether duplicate deliveries were asked for and not yet made.
    pub(crate) fn duplicates_requested(&self) -> bool {
        self.duplicate_requests.load(Ordering::Relaxed) > 0
    }

    /// Marks the requested duplicates as made.
    pub(crate) fn duplicates_made(&self) {
        self.duplicate_requests.store(0, Ordering::Relaxed);
    }

    /// A flag, read.
    pub fn get(flag: &AtomicBool) -> bool {
        flag.load(Ordering::Relaxed)
    }

    /// A flag, written.
    pub fn set(flag: &AtomicBool, on: bool) {
        flag.store(on, Ordering::Relaxed);
    }

    /// Applies a named scenario on top of the current settings.
    pub fn apply(&self, scenario: Scenario) {
        match scenario {
            Scenario::Steady => {}
            Scenario::PaymentFailures => self.set_payment_failure_percent(30),
            Scenario::SlowConsumer => Self::set(&self.slow_shipping, true),
            Scenario::StoppedConsumer => Self::set(&self.notifications_stopped, true),
            Scenario::Duplicates => self.request_duplicates(),
            Scenario::OutOfOrder => Self::set(&self.out_of_order, true),
            Scenario::SchemaChange => Self::set(&self.schema_v2, true),
            Scenario::Poison => self.set_poison_percent(10),
        }
    }
}

impl DemoControls {
    /// Undoes [`DemoControls::apply`]: back to the steady shop (the rate stays).
    pub fn lift(&self, scenario: Scenario) {
        let steady = Self::default();
        match scenario {
            Scenario::Steady | Scenario::Duplicates => {}
            Scenario::PaymentFailures => self.set_payment_failure_percent(steady.payment_failure_percent()),
            Scenario::SlowConsumer => Self::set(&self.slow_shipping, false),
            Scenario::StoppedConsumer => Self::set(&self.notifications_stopped, false),
            Scenario::OutOfOrder => Self::set(&self.out_of_order, false),
            Scenario::SchemaChange => Self::set(&self.schema_v2, false),
            Scenario::Poison => self.set_poison_percent(steady.poison_percent()),
        }
    }
}

/// Named starting situations for `eventlens demo --scenario`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Scenario {
    /// Normal traffic: 5% of payments declined, no poison messages.
    Steady,
    /// 30% of payments declined: the saga cancels those orders and releases their stock.
    PaymentFailures,
    /// Shipping slows to a few messages a second: its lag on `payments` grows.
    SlowConsumer,
    /// Notifications stops consuming: its offsets stand still while its lag grows (STOP).
    StoppedConsumer,
    /// Inventory re-reads the last messages of its partitions once: duplicate deliveries.
    Duplicates,
    /// Every fourth order's update is published before the order itself.
    OutOfOrder,
    /// OrderPlaced version 2: payments cannot read it and dead-letters it.
    SchemaChange,
    /// 10% of orders are unreadable: inventory retries, then dead-letters them.
    Poison,
}

/// A deterministic draw in 0..100 for an order and a purpose, so a run is reproducible.
pub(crate) fn percent_draw(order: u64, purpose: u64) -> u32 {
    // splitmix64: a few operations, well mixed.
    let mut z = order.wrapping_add(purpose.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z % 100) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_clamped_and_flags_round_trip() {
        let c = DemoControls::default();
        c.set_rate(1e9);
        assert_eq!(c.rate(), 5_000.0);
        c.set_rate(0.0);
        assert_eq!(c.rate(), 1.0);
        c.set_rate(f64::NAN);
        assert_eq!(c.rate(), DEFAULT_RATE);
        c.apply(Scenario::SlowConsumer);
        assert!(DemoControls::get(&c.slow_shipping));
        c.apply(Scenario::Duplicates);
        assert!(c.duplicates_requested());
        c.duplicates_made();
        assert!(!c.duplicates_requested());
        c.lift(Scenario::SlowConsumer);
        assert!(!DemoControls::get(&c.slow_shipping));
        c.apply(Scenario::Poison);
        assert_eq!(c.poison_percent(), 10);
        c.lift(Scenario::Poison);
        assert_eq!(c.poison_percent(), 0);
        c.set_payment_failure_percent(250);
        assert_eq!(c.payment_failure_percent(), 100);
    }

    #[test]
    fn draws_spread_over_the_percent_range() {
        let below_ten = (0..10_000).filter(|o| percent_draw(*o, 1) < 10).count();
        assert!((800..1200).contains(&below_ten), "{below_ten}");
        assert_ne!(percent_draw(5, 1), percent_draw(5, 2));
    }
}
