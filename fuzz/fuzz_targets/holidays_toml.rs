//! Fuzz target: arbitrary text into the yearly holiday-file parser (`cn-YYYY.toml`).
//!
//! The parser must answer Ok or Err for any text, never panic. When it
//! accepts a file, what it returns must keep the promises its doc makes
//! (dates inside the year, make-up days on weekends, coverage of exactly that
//! year), and a 5x8 calendar built from it must close on every holiday and
//! open on every make-up day: the parser and the table builder agree.

#![no_main]

use chrono::{Datelike, NaiveDate, TimeZone, Weekday};
use libfuzzer_sys::fuzz_target;
use sla_engine::{Calendar, DateSpan, DayKind, HolidaySchedule, Preset, ServiceWindow, Timestamp};

fuzz_target!(|data: &[u8]| {
    // The loader reads files as UTF-8 (`read_to_string`), so other bytes never reach the parser.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok((_region, schedule)) = HolidaySchedule::from_toml_str("fuzz.toml", text) else { return };

    let &[(from, to)] = schedule.coverage() else { panic!("one file covers one year: {schedule:?}") };
    let year = from.year();
    assert_eq!((from.month(), from.day(), to.year(), to.month(), to.day()), (1, 1, year, 12, 31));
    let mut previous: Option<NaiveDate> = None;
    for (date, kind) in schedule.days() {
        assert_eq!(date.year(), year, "{date} outside the file's year");
        assert!(previous < Some(date), "days() must be in order");
        previous = Some(date);
        if kind == DayKind::Workday {
            assert!(matches!(date.weekday(), Weekday::Sat | Weekday::Sun), "make-up day {date} on a weekday");
        }
    }
    // The same year merged twice is refused, not silently doubled.
    assert!(schedule.clone().merge(schedule.clone()).is_err());

    // A calendar over just that year (the build is linear in the span, so
    // one year keeps each run quick). Far-off years are fine for the parser
    // but the table is only asked about the range chrono can represent.
    if !(-9_000..=9_000).contains(&year) {
        return;
    }
    let window = ServiceWindow::default_preset(Preset::FiveByEight);
    let calendar = Calendar::build_with_span(&window, &schedule, DateSpan::years(year, year + 1))
        .expect("a one-year table always builds");
    for (date, kind) in schedule.days() {
        let ten = date.and_hms_opt(10, 0, 0).expect("10:00 exists");
        let Some(local) = window.timezone.from_local_datetime(&ten).earliest() else { continue };
        let open = calendar.is_open(Timestamp::from(local.to_utc())).expect("inside the table");
        assert_eq!(open, kind == DayKind::Workday, "{date} ({kind:?}) at 10:00");
    }
});
