//! A brute-force oracle for business time: reads the wall clock of every
//! minute through chrono-tz and counts the open ones, sharing nothing with
//! the engine's table but the window description itself.
//!
//! Exact to the second as long as every open interval and every DST
//! transition lies on a whole minute, which is true of all generated windows
//! and of every timezone since 1970 (Lord Howe's half-hour shift included).

#![allow(dead_code)]

use chrono::{DateTime, Datelike, TimeZone, Timelike};
use sla_engine::{DayKind, HolidaySchedule, ServiceWindow};

pub(crate) struct Oracle<'a> {
    pub(crate) window: &'a ServiceWindow,
    pub(crate) holidays: &'a HolidaySchedule,
}

impl Oracle<'_> {
    /// Is the window open at the UTC second `t`? Read from the local wall clock.
    pub(crate) fn is_open(&self, t: i64) -> bool {
        let local = self
            .window
            .timezone
            .from_utc_datetime(&DateTime::from_timestamp(t, 0).expect("in range").naive_utc());
        let date = local.date_naive();
        let hours = match (self.window.holidays.is_some(), self.holidays.day(date)) {
            (true, Some(DayKind::Holiday)) => return false,
            (true, Some(DayKind::Workday)) => &self.window.makeup_hours,
            _ => self.window.hours_on(date.weekday()),
        };
        let tod = local.time().num_seconds_from_midnight();
        hours.intervals().iter().any(|&(s, e)| s <= tod && tod < e)
    }

    /// Open seconds in `[a, b)`, excluding `pauses`, a minute at a time.
    pub(crate) fn elapsed(&self, a: i64, b: i64, pauses: &[(i64, i64)]) -> i64 {
        let mut total = 0;
        let mut t = a;
        while t < b {
            let step_end = next_boundary(t, pauses).min(b);
            if self.is_open(t) && !paused(t, pauses) {
                total += step_end - t;
            }
            t = step_end;
        }
        total
    }

    /// The earliest `t ≥ start` with `need` open, unpaused seconds in `[start, t)`;
    /// `None` if not reached by `give_up`.
    pub(crate) fn deadline(&self, start: i64, need: i64, pauses: &[(i64, i64)], give_up: i64) -> Option<i64> {
        if need == 0 {
            return Some(start);
        }
        let mut acc = 0;
        let mut t = start;
        while t < give_up {
            let step_end = next_boundary(t, pauses);
            if self.is_open(t) && !paused(t, pauses) {
                if acc + (step_end - t) >= need {
                    return Some(t + (need - acc));
                }
                acc += step_end - t;
            }
            t = step_end;
        }
        None
    }

    /// The first open second at or after `t`, searching up to `give_up`.
    pub(crate) fn next_open(&self, t: i64, give_up: i64) -> Option<i64> {
        let mut s = t;
        while s < give_up {
            if self.is_open(s) {
                return Some(s);
            }
            s = next_boundary(s, &[]);
        }
        None
    }
}

/// The next whole minute after `t`, or an earlier pause edge.
fn next_boundary(t: i64, pauses: &[(i64, i64)]) -> i64 {
    let minute = t - t.rem_euclid(60) + 60;
    pauses.iter().flat_map(|&(a, b)| [a, b]).filter(|&x| x > t).fold(minute, i64::min)
}

fn paused(t: i64, pauses: &[(i64, i64)]) -> bool {
    pauses.iter().any(|&(a, b)| a <= t && t < b)
}
