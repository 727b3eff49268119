//! When to try a failed send again: exponential backoff with jitter, then the dead-letter queue.

use std::time::Duration;

/// How failed sends are retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The delay after the first failure.
    pub base: Duration,
    /// The longest delay.
    pub max: Duration,
    /// After this many failed attempts the message is dead-lettered.
    pub max_attempts: u32,
}

impl Default for RetryPolicy {
    /// 30 s, doubling to at most 1 h, dead after 10 attempts (about 5 hours in all).
    fn default() -> Self {
        Self { base: Duration::from_secs(30), max: Duration::from_secs(3600), max_attempts: 10 }
    }
}

impl RetryPolicy {
    /// The delay before attempt `failed + 1`, given `failed` failures so far,
    /// and `jitter` in `[0, 1)`: full jitter over the upper half, so retries of
    /// many messages after one outage spread out instead of arriving together.
    pub fn delay(&self, failed: u32, jitter: f64) -> Duration {
        let exp =
            self.base.saturating_mul(1u32.checked_shl(failed.saturating_sub(1).min(30)).unwrap_or(u32::MAX));
        let capped = exp.min(self.max);
        let jitter = jitter.clamp(0.0, 1.0);
        capped.mul_f64(0.5 + 0.5 * jitter)
    }

    /// True when `failed` failures mean the message goes to the dead-letter queue.
    pub fn exhausted(&self, failed: u32) -> bool {
        failed >= self.max_attempts
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_with_jitter_in_the_upper_half() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(1, 1.0), Duration::from_secs(30));
        assert_eq!(p.delay(1, 0.0), Duration::from_secs(15));
        assert_eq!(p.delay(2, 1.0), Duration::from_secs(60));
        assert_eq!(p.delay(5, 1.0), Duration::from_secs(480));
        assert_eq!(p.delay(20, 1.0), Duration::from_secs(3600));
        assert_eq!(p.delay(99, 0.0), Duration::from_secs(1800));
        assert!(!p.exhausted(9) && p.exhausted(10));
    }
}
