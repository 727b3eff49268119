//! Fuzz target: arbitrary text into the service-window parser (`windows.toml`).
//!
//! The parser must answer Ok or Err for any text, never panic. Each window it
//! accepts must be usable: its hours print and parse back to the same
//! intervals, it opens at some time of the week, and a calendar built from it
//! gives deadlines that `elapsed` measures back to the target.

#![no_main]

use libfuzzer_sys::fuzz_target;
use sla_engine::{BusinessSeconds, Calendar, DateSpan, DayHours, HolidaySchedule, ServiceWindow, Timestamp};

/// 2026-03-02T00:00:00Z, a Monday well inside the table built below.
const MONDAY: i64 = 1_772_409_600;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(windows) = ServiceWindow::from_toml_str("windows.toml", text) else { return };
    for window in &windows {
        for hours in window.weekly.iter().chain([&window.makeup_hours]) {
            round_trips(hours);
        }
        assert!(
            window.weekly.iter().chain([&window.makeup_hours]).any(|h| !h.is_closed()),
            "{} was accepted but never opens",
            window.name
        );

        // No holiday data: dates follow the weekly pattern, so a window that
        // only opens on make-up days never opens here, and says so.
        let calendar =
            Calendar::build_with_span(window, &HolidaySchedule::empty(), DateSpan::years(2026, 2027))
                .expect("a one-year table always builds");
        let start = Timestamp::from_unix(MONDAY);
        let weekly_open: u32 = window.weekly.iter().map(DayHours::seconds).sum();
        for target in [1, 3_599, u64::from(weekly_open)] {
            let target = BusinessSeconds::new(target);
            match calendar.deadline(start, target) {
                Ok(due) => {
                    let back = calendar.elapsed(start, due.value).expect("the deadline lies in the table");
                    assert_eq!(back.value, target, "{}: elapsed(start, deadline) != target", window.name);
                }
                Err(e) => assert_eq!(weekly_open, 0, "{}: {e} although the window opens weekly", window.name),
            }
        }
    }
});

/// `DayHours` prints as `09:00-12:00,13:00-18:00`; parsing that must give the same intervals.
fn round_trips(hours: &DayHours) {
    if hours.is_closed() {
        assert_eq!(hours.to_string(), "closed");
        return;
    }
    let printed = hours.to_string();
    let items: Vec<&str> = printed.split(',').collect();
    let again = DayHours::parse(&items).unwrap_or_else(|e| panic!("{printed} does not parse back: {e}"));
    assert_eq!(&again, hours, "{printed}");
}
