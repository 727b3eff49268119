//! Sign-in throttling, as rules over the failures the database keeps (see
//! `store::sign_ins`): after `max` failures for one account from one
//! address within the window, that pair is refused until the oldest of
//! them leaves the window; the same for one address across all accounts;
//! beyond a number of failures for one account from everywhere, every
//! attempt on it is slowed, never refused, so that a stranger cannot lock
//! the owner out.
//!
//! Only failures stay counted, so a user who signs in often is never slowed;
//! an unknown username counts exactly like a known one, so the throttle
//! cannot tell an attacker which accounts exist.

use std::net::IpAddr;
use std::time::Duration;

/// The limits, from the settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignInLimits {
    /// Failures allowed for one account from one address in the window; 0 never refuses.
    pub per_pair: u32,
    /// Failures allowed from one address (any account) in the window; 0 never refuses.
    pub per_address: u32,
    /// The window, in seconds.
    pub window: i64,
    /// Failures for one account (from any address) beyond which attempts are slowed; 0 never slows.
    pub slow_after: u32,
    /// The first delay past `slow_after`; each further failure doubles it.
    pub slow_step: Duration,
    /// The longest delay.
    pub slow_max: Duration,
}

impl SignInLimits {
    /// A count limit as a number to compare with: 0 means none.
    pub fn cap(max: u32) -> i64 {
        if max == 0 { i64::MAX } else { i64::from(max) }
    }
}

/// The key a client's address is counted under: an IPv4 address as it
/// is, an IPv6 address by its /64 network (one subscriber's share, which it
/// can fill with addresses at will); `-` when the address is unknown.
pub fn address_key(address: Option<IpAddr>) -> String {
    match address.map(|a| a.to_canonical()) {
        None => "-".to_owned(),
        Some(IpAddr::V4(v4)) => v4.to_string(),
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// Given the failures counted against a key within the window, newest
/// first, `None` when another attempt may be made at `now`; otherwise the
/// seconds until the oldest failure that keeps the count at `max` leaves the
/// window (at least 1).
pub fn wait(recent_newest_first: &[i64], max: u32, window: i64, now: i64) -> Option<u64> {
    if max == 0 {
        return None;
    }
    let max = max as usize;
    let recent: Vec<i64> = recent_newest_first.iter().copied().filter(|&t| t > now - window).collect();
    if recent.len() < max {
        return None;
    }
    let oldest_that_counts = recent[max - 1];
    Some(u64::try_from(oldest_that_counts + window - now).unwrap_or(0).max(1))
}

/// How long to hold an attempt on an account that has `failures` failures
/// (this attempt's reservation included) from all addresses in the window:
/// nothing up to `slow_after`, then `slow_step`, doubling with each further
/// failure, up to `slow_max`.
pub fn slowdown(limits: &SignInLimits, failures: u64) -> Duration {
    if limits.slow_after == 0 || failures <= u64::from(limits.slow_after) {
        return Duration::ZERO;
    }
    let beyond = (failures - u64::from(limits.slow_after) - 1).min(20);
    limits.slow_step.saturating_mul(1u32 << beyond).min(limits.slow_max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_at_max_until_the_oldest_that_counts_leaves_the_window() {
        assert_eq!(wait(&[20, 10], 3, 60, 20), None);
        assert_eq!(wait(&[20, 10, 0], 3, 60, 20), Some(40), "the failure at 0 leaves at 60");
        assert_eq!(wait(&[20, 10, 0], 3, 60, 59), Some(1));
        assert_eq!(wait(&[20, 10, 0], 3, 60, 60), None, "it has left");
        assert_eq!(
            wait(&[60, 20, 10, 0], 3, 60, 60),
            Some(10),
            "now the failure at 10 is the oldest of three"
        );
        assert_eq!(wait(&[5; 100], 0, 60, 6), None, "0 never refuses");
    }

    #[test]
    fn addresses_are_keyed_by_host_or_by_ipv6_network() {
        let key = |s: &str| address_key(Some(s.parse().expect("address")));
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(key("2001:db8:1:2:bbbb::9"), key("2001:db8:1:2:aaaa::1"));
        assert_eq!(address_key(None), "-");
    }

    #[test]
    fn slowdown_doubles_past_the_threshold_up_to_the_cap() {
        let limits = SignInLimits {
            per_pair: 5,
            per_address: 20,
            window: 900,
            slow_after: 20,
            slow_step: Duration::from_millis(250),
            slow_max: Duration::from_secs(4),
        };
        let ms = |n| slowdown(&limits, n).as_millis();
        assert_eq!((ms(0), ms(20)), (0, 0));
        assert_eq!((ms(21), ms(22), ms(23), ms(24)), (250, 500, 1000, 2000));
        assert_eq!((ms(25), ms(26), ms(1_000_000)), (4000, 4000, 4000));
        assert_eq!(slowdown(&SignInLimits { slow_after: 0, ..limits }, 1000), Duration::ZERO);
    }
}
