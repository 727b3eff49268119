//! Login throttling: after too many failed sign-ins for one account, or from
//! one address, within a window, further attempts are refused until the
//! oldest failure leaves the window.
//!
//! Only failures count, so a user who signs in often is never slowed; an
//! unknown username counts exactly like a known one, so the throttle cannot
//! tell an attacker which accounts exist.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Failures per key within a sliding window.
#[derive(Debug)]
pub struct FailureWindow {
    max: usize,
    window: i64,
    failures: Mutex<HashMap<String, VecDeque<i64>>>,
}

/// Keys beyond this many trigger a sweep of those with no recent failure.
const SWEEP_AT: usize = 10_000;

impl FailureWindow {
    /// At most `max` failures per key in any `window_seconds`; `max == 0` never refuses.
    pub fn new(max: u32, window_seconds: u64) -> Self {
        Self {
            max: max as usize,
            window: i64::try_from(window_seconds).unwrap_or(i64::MAX),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// `None` when `key` may try at `now`; otherwise the seconds to wait.
    pub fn wait(&self, key: &str, now: i64) -> Option<u64> {
        if self.max == 0 {
            return None;
        }
        let mut all = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let recent = all.get_mut(key)?;
        Self::forget_old(recent, now, self.window);
        if recent.len() < self.max {
            return None;
        }
        // The attempt is allowed again when the oldest failure that keeps
        // the count at `max` leaves the window.
        let oldest = recent[recent.len() - self.max];
        Some(u64::try_from(oldest + self.window - now).unwrap_or(0).max(1))
    }

    /// Record a failed attempt for `key` at `now`.
    pub fn fail(&self, key: &str, now: i64) {
        if self.max == 0 {
            return;
        }
        let mut all = self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if all.len() >= SWEEP_AT {
            let window = self.window;
            all.retain(|_, f| {
                Self::forget_old(f, now, window);
                !f.is_empty()
            });
        }
        let recent = all.entry(key.to_owned()).or_default();
        Self::forget_old(recent, now, self.window);
        recent.push_back(now);
        // Only the last `max` failures matter.
        while recent.len() > self.max {
            recent.pop_front();
        }
    }

    /// A successful sign-in clears the account's failures.
    pub fn clear(&self, key: &str) {
        self.failures.lock().unwrap_or_else(std::sync::PoisonError::into_inner).remove(key);
    }

    fn forget_old(failures: &mut VecDeque<i64>, now: i64, window: i64) {
        while failures.front().is_some_and(|&t| t <= now.saturating_sub(window)) {
            failures.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_after_max_failures_until_the_oldest_leaves_the_window() {
        let w = FailureWindow::new(3, 60);
        for t in [0, 10, 20] {
            assert_eq!(w.wait("alice", t), None);
            w.fail("alice", t);
        }
        assert_eq!(w.wait("alice", 20), Some(40), "the failure at 0 leaves at 60");
        assert_eq!(w.wait("alice", 59), Some(1));
        assert_eq!(w.wait("alice", 60), None);
        assert_eq!(w.wait("bob", 20), None, "keys are counted apart");
        w.fail("alice", 60);
        assert_eq!(w.wait("alice", 60), Some(10), "now the failure at 10 is the oldest of three");
    }

    #[test]
    fn success_clears_and_zero_disables() {
        let w = FailureWindow::new(2, 60);
        w.fail("a", 0);
        w.fail("a", 1);
        assert!(w.wait("a", 2).is_some());
        w.clear("a");
        assert_eq!(w.wait("a", 2), None);
        let off = FailureWindow::new(0, 60);
        for t in 0..100 {
            off.fail("a", t);
        }
        assert_eq!(off.wait("a", 100), None);
    }
}
