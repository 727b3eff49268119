//! Instants and business durations: the two quantities every other module trades in.
//!
//! Both are whole seconds, because the contract's targets are exact to the
//! second and integer arithmetic keeps every answer reproducible.

use std::fmt;

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

/// An instant, as whole seconds since the Unix epoch in UTC.
///
/// Every instant the engine reads or returns is UTC; wall-clock time only
/// exists inside a [`crate::Calendar`], which reads it in its own timezone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// The instant `seconds` after 1970-01-01T00:00:00Z.
    pub const fn from_unix(seconds: i64) -> Self {
        Self(seconds)
    }

    /// Seconds since 1970-01-01T00:00:00Z.
    pub const fn unix(self) -> i64 {
        self.0
    }

    /// The same instant as a chrono UTC date-time.
    pub fn to_datetime(self) -> DateTime<Utc> {
        // Every i64 second the engine can produce lies inside chrono's range
        // (the calendar tables end long before), but saturate rather than panic.
        DateTime::from_timestamp(self.0, 0).unwrap_or(if self.0 < 0 {
            DateTime::<Utc>::MIN_UTC
        } else {
            DateTime::<Utc>::MAX_UTC
        })
    }

    /// Shift by a number of wall seconds (not business seconds).
    pub const fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0 + seconds)
    }
}

impl From<DateTime<Utc>> for Timestamp {
    /// Sub-second precision is dropped: the engine counts whole seconds.
    fn from(value: DateTime<Utc>) -> Self {
        Self(value.timestamp())
    }
}

impl From<DateTime<FixedOffset>> for Timestamp {
    /// The same instant, whatever offset it is written with; sub-second precision is dropped.
    fn from(value: DateTime<FixedOffset>) -> Self {
        Self(value.timestamp())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_datetime().format("%Y-%m-%dT%H:%M:%SZ"))
    }
}

/// A length of business time: seconds counted only while a service window is open.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct BusinessSeconds(u64);

impl BusinessSeconds {
    /// No business time at all.
    pub const ZERO: Self = Self(0);

    /// A duration of `seconds` business seconds.
    pub const fn new(seconds: u64) -> Self {
        Self(seconds)
    }

    /// A duration of `minutes` business minutes.
    pub const fn from_minutes(minutes: u64) -> Self {
        Self(minutes * 60)
    }

    /// A duration of `hours` business hours.
    pub const fn from_hours(hours: u64) -> Self {
        Self(hours * 3600)
    }

    /// The duration in seconds.
    pub const fn get(self) -> u64 {
        self.0
    }

    /// `self - other`, or zero when `other` is larger.
    pub const fn saturating_sub(self, other: Self) -> Self {
        Self(self.0.saturating_sub(other.0))
    }

    /// `percent` % of this duration, rounded up to the next whole second so
    /// that a threshold is never reported before that share has really elapsed.
    pub const fn percent(self, percent: u32) -> Self {
        let scaled = self.0 as u128 * percent as u128;
        Self(scaled.div_ceil(100) as u64)
    }
}

impl fmt::Display for BusinessSeconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 / 60 % 60, self.0 % 60);
        match (h, m, s) {
            (0, 0, s) => write!(f, "{s}s"),
            (0, m, 0) => write!(f, "{m}m"),
            (h, 0, 0) => write!(f, "{h}h"),
            (h, m, 0) => write!(f, "{h}h{m}m"),
            (h, m, s) => write!(f, "{h}h{m}m{s}s"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_rounds_up_to_whole_seconds() {
        assert_eq!(BusinessSeconds::new(1801).percent(50).get(), 901);
        assert_eq!(BusinessSeconds::new(1800).percent(80).get(), 1440);
        assert_eq!(BusinessSeconds::new(1800).percent(200).get(), 3600);
    }

    #[test]
    fn display_is_compact() {
        assert_eq!(BusinessSeconds::from_minutes(30).to_string(), "30m");
        assert_eq!(BusinessSeconds::new(5430).to_string(), "1h30m30s");
        assert_eq!(BusinessSeconds::from_hours(72).to_string(), "72h");
    }

    #[test]
    fn timestamp_displays_utc() {
        assert_eq!(Timestamp::from_unix(1779385061).to_string(), "2026-05-21T17:37:41Z");
    }
}
