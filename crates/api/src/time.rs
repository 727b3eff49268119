//! The service's only source of "now", injected so that every time-based
//! behaviour can be tested without waiting.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use sla_engine::Timestamp;
use tokio::sync::Notify;

/// Tells the time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// The current instant, in whole UTC seconds.
    fn now(&self) -> Timestamp;

    /// How long from now until `at` (zero once it has come). The wall clock
    /// answers to the nanosecond, so that a timer asleep until a due
    /// second wakes at its start, not up to a second late.
    fn until(&self, at: Timestamp) -> std::time::Duration {
        std::time::Duration::from_secs(u64::try_from(at.unix() - self.now().unix()).unwrap_or(0))
    }

    /// Signalled when the time jumps (a test moving a manual clock), so that
    /// a timer asleep until some instant wakes and looks again.
    fn jumps(&self) -> Option<Arc<Notify>> {
        None
    }
}

/// The wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::from(chrono::Utc::now())
    }

    fn until(&self, at: Timestamp) -> std::time::Duration {
        let now = chrono::Utc::now();
        let nanos =
            i128::from(at.unix()) * 1_000_000_000 - i128::from(now.timestamp_nanos_opt().unwrap_or(i64::MAX));
        std::time::Duration::from_nanos(u64::try_from(nanos).unwrap_or(0))
    }
}

/// A clock that only moves when told to: for tests.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<AtomicI64>,
    jumped: Arc<Notify>,
}

impl ManualClock {
    /// A clock showing `at`.
    pub fn new(at: Timestamp) -> Self {
        Self { now: Arc::new(AtomicI64::new(at.unix())), jumped: Arc::new(Notify::new()) }
    }

    /// Show `at` from now on.
    pub fn set(&self, at: Timestamp) {
        self.now.store(at.unix(), Ordering::SeqCst);
        self.jumped.notify_one();
    }

    /// Move forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.now.fetch_add(seconds, Ordering::SeqCst);
        self.jumped.notify_one();
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_unix(self.now.load(Ordering::SeqCst))
    }

    fn jumps(&self) -> Option<Arc<Notify>> {
        Some(self.jumped.clone())
    }
}
