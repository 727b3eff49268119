//! Fuzz target: business-time arithmetic against a brute-force reference.
//!
//! The input (built with `arbitrary`) is a window in one of a set of
//! timezones chosen for their DST quirks, a few holidays and make-up days,
//! a start instant, a target, an interval and some pauses. The engine's table
//! answers must match the minute-by-minute oracle the engine's property tests
//! use (`crates/sla-engine/tests/reference`, included here, not copied), and
//! `deadline` and `elapsed` must be inverse. Ranges are bounded so that the
//! oracle's walk stays within a few weeks and each run takes milliseconds.

#![no_main]

#[path = "../../crates/sla-engine/tests/reference/mod.rs"]
mod reference;

use std::collections::BTreeSet;

use arbitrary::Arbitrary;
use chrono::{Datelike, Days, NaiveDate, TimeZone};
use chrono_tz::Tz;
use libfuzzer_sys::fuzz_target;
use reference::Oracle;
use sla_engine::{BusinessSeconds, Calendar, DateSpan, DayHours, HolidaySchedule, ServiceWindow, Timestamp};

const DAY: i64 = 86_400;

/// Zones whose offset histories stress the table: DST in both hemispheres,
/// half-hour and 45-minute offsets, a half-hour DST shift (Lord Howe),
/// transitions at midnight (Havana, Santiago), a DST suspended for Ramadan
/// (Casablanca), and a zone that dropped DST (Tehran, 2022).
const ZONES: [Tz; 12] = [
    chrono_tz::Asia::Shanghai,
    chrono_tz::UTC,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::America::Santiago,
    chrono_tz::America::Havana,
    chrono_tz::Africa::Casablanca,
    chrono_tz::Asia::Kathmandu,
    chrono_tz::Pacific::Chatham,
    chrono_tz::America::St_Johns,
    chrono_tz::Asia::Tehran,
];

/// One day's hours. Custom intervals lie on whole minutes, which the oracle
/// needs to be exact; whole days exercise the merging of midnight joins.
#[derive(Arbitrary, Debug)]
enum Hours {
    Closed,
    WholeDay,
    Office,
    /// Up to three (gap after the previous end, length) pairs, in minutes.
    Custom(Vec<(u16, u16)>),
}

impl Hours {
    fn day_hours(&self) -> DayHours {
        let raw = match self {
            Hours::Closed => return DayHours::closed(),
            Hours::WholeDay => return DayHours::whole_day(),
            Hours::Office => return DayHours::office(),
            Hours::Custom(raw) => raw,
        };
        let mut out = Vec::new();
        let mut cursor = 0u32;
        for &(gap, len) in raw.iter().take(3) {
            // A zero gap makes intervals touch, which the parser allows.
            let start = cursor + u32::from(gap) % 1_440;
            if start >= 1_440 {
                break;
            }
            let end = (start + 1 + u32::from(len) % 720).min(1_440);
            out.push((start * 60, end * 60));
            cursor = end;
        }
        DayHours::from_seconds(out).expect("generated intervals are sorted and disjoint")
    }
}

/// Fixed-size fields come first: `arbitrary` fills what the bytes do not
/// reach with zeros, and a zero start, target and length would test little.
#[derive(Arbitrary, Debug)]
struct Input {
    zone: u8,
    /// Years 2000..=2036, whose timezone rules differ.
    year: u8,
    follows_holidays: bool,
    /// Seconds into the year (from 00:00 UTC of January 1st).
    start: u32,
    /// Share of a week's open time to reach, in 1/1000 (up to two weeks).
    target: u16,
    /// Length of the interval measured with `elapsed`, up to eight days.
    length: u32,
    weekly: [Hours; 7],
    makeup: Hours,
    /// (first day of the year, length in days) of up to six holidays.
    holidays: Vec<(u16, u8)>,
    /// Up to four make-up days: (week of the year, Sunday rather than Saturday).
    workdays: Vec<(u8, bool)>,
    /// Up to three pauses: (offset from a day before the start, length), seconds.
    pauses: Vec<(u32, u32)>,
}

/// The holidays and make-up days as a yearly file would give them: ranges
/// that would overlap one already taken, and make-up days that would clash
/// with a holiday, are dropped rather than rejected.
fn schedule(input: &Input, year: i32) -> HolidaySchedule {
    let jan1 = NaiveDate::from_ymd_opt(year, 1, 1).expect("valid year");
    let days_in_year = jan1.leap_year() as u16 + 365;
    let mut taken = BTreeSet::new();
    let mut text = format!("region = \"cn\"\nyear = {year}\n");
    for (i, &(first, len)) in input.holidays.iter().take(6).enumerate() {
        let first = first % days_in_year;
        let last = (first + u16::from(len % 7)).min(days_in_year - 1);
        let dates: Vec<NaiveDate> = (first..=last).map(|o| jan1 + Days::new(u64::from(o))).collect();
        if dates.iter().any(|d| taken.contains(d)) {
            continue;
        }
        taken.extend(dates.iter().copied());
        text +=
            &format!("[[holiday]]\nname = \"h{i}\"\nfrom = \"{}\"\nto = \"{}\"\n", dates[0], last_of(&dates));
    }
    let first_saturday = jan1 + Days::new(u64::from((5 + 7 - jan1.weekday().num_days_from_monday()) % 7));
    for &(week, sunday) in input.workdays.iter().take(4) {
        let date = first_saturday + Days::new(u64::from(week % 53) * 7 + u64::from(sunday));
        if date.year() == year && taken.insert(date) {
            text += &format!("[[workday]]\ndate = \"{date}\"\n");
        }
    }
    HolidaySchedule::from_toml_str("generated.toml", &text).expect("generated schedule is valid").1
}

fn last_of(dates: &[NaiveDate]) -> NaiveDate {
    *dates.last().expect("at least one date")
}

fuzz_target!(|input: Input| {
    let tz = ZONES[usize::from(input.zone) % ZONES.len()];
    let year = 2000 + i32::from(input.year % 37);
    let window = ServiceWindow {
        name: "fuzzed".into(),
        timezone: tz,
        weekly: std::array::from_fn(|d| input.weekly[d].day_hours()),
        makeup_hours: input.makeup.day_hours(),
        holidays: input.follows_holidays.then(|| "cn".to_owned()),
    };
    let weekly_open: u32 = window.weekly.iter().map(DayHours::seconds).sum();
    if weekly_open == 0 {
        // Open only on make-up days, or never: deadlines may be years away
        // or nowhere, beyond what a brute-force walk can check quickly.
        return;
    }
    let holidays = schedule(&input, year);
    let calendar = Calendar::build_with_span(&window, &holidays, DateSpan::years(year - 1, year + 2))
        .expect("the table builds");
    let oracle = Oracle { window: &window, holidays: &holidays };

    let jan1 =
        NaiveDate::from_ymd_opt(year, 1, 1).expect("valid year").and_hms_opt(0, 0, 0).expect("midnight");
    let start = jan1.and_utc().timestamp() + i64::from(input.start) % (365 * DAY);
    let at = Timestamp::from_unix;

    // Open or closed at the start, and the next opening.
    assert_eq!(calendar.is_open(at(start)).expect("in the table"), oracle.is_open(start), "is_open({start})");
    let next = calendar.next_open(at(start)).expect("opens again").value.unix();
    if next - start <= 30 * DAY {
        assert_eq!(Some(next), oracle.next_open(start, next + 1), "next_open({start})");
    }

    // Business time in an interval of up to eight days.
    let end = start + i64::from(input.length) % (8 * DAY);
    let elapsed = calendar.elapsed(at(start), at(end)).expect("in the table").value.get();
    assert_eq!(elapsed as i64, oracle.elapsed(start, end, &[]), "elapsed({start}, {end})");

    // A deadline, and elapsed back to the target from it.
    let target = u64::from(weekly_open) * u64::from(input.target % 2_001) / 1_000;
    let due = calendar.deadline(at(start), BusinessSeconds::new(target)).expect("reached in the table");
    let d = due.value.unix();
    assert_eq!(calendar.elapsed(at(start), due.value).expect("in the table").value.get(), target);
    if target > 0 {
        // Earliest: a second before the deadline the target is not yet met.
        assert!(calendar.elapsed(at(start), at(d - 1)).expect("in the table").value.get() < target);
    }
    if d - start <= 30 * DAY {
        assert_eq!(oracle.deadline(start, target as i64, &[], d + 1), Some(d), "deadline({start}, {target})");
    }
    check_coverage_flag(&window, year, start, d, due.beyond_holiday_data);

    // The same with pauses, which may overlap each other and the start.
    let mut pauses: Vec<(i64, i64)> = input
        .pauses
        .iter()
        .take(3)
        .map(|&(offset, len)| {
            let from = start - DAY + i64::from(offset) % (10 * DAY);
            (from, from + i64::from(len) % (2 * DAY))
        })
        .collect();
    pauses.sort_unstable();
    let stamped: Vec<(Timestamp, Timestamp)> = pauses.iter().map(|&(a, b)| (at(a), at(b))).collect();
    let net = calendar.elapsed_excluding(at(start), at(end), &stamped).expect("in the table").value.get();
    assert_eq!(net as i64, oracle.elapsed(start, end, &pauses), "elapsed_excluding({start}, {end})");
    let due =
        calendar.deadline_excluding(at(start), BusinessSeconds::new(target), &stamped).expect("reached");
    let dp = due.value.unix();
    let back = calendar.elapsed_excluding(at(start), due.value, &stamped).expect("in the table").value.get();
    assert_eq!(back, target, "elapsed_excluding(start, deadline_excluding) != target");
    if dp - start <= 30 * DAY {
        assert_eq!(oracle.deadline(start, target as i64, &pauses, dp + 1), Some(dp), "deadline_excluding");
    }
});

/// `beyond_holiday_data` of a deadline: false when the start and the deadline
/// both lie in the local dates of the loaded year (the deadline may be the
/// very first instant of the next year), true otherwise; always false for a
/// window that does not follow holidays. (None of the zones changes its
/// offset at New Year, so local dates order like instants there.)
fn check_coverage_flag(window: &ServiceWindow, year: i32, start: i64, due: i64, beyond: bool) {
    if window.holidays.is_none() {
        assert!(!beyond, "a window without holidays is never beyond its holiday data");
        return;
    }
    let local =
        |t: i64| window.timezone.timestamp_opt(t, 0).single().expect("UTC instants are unique").naive_local();
    let (start_local, due_local) = (local(start), local(due));
    let next_jan1 =
        NaiveDate::from_ymd_opt(year + 1, 1, 1).expect("valid year").and_hms_opt(0, 0, 0).expect("midnight");
    if start_local.year() < year || due_local > next_jan1 {
        assert!(beyond, "{start_local}..{due_local} reaches outside {year}, the only year loaded");
    } else {
        assert!(!beyond, "{start_local}..{due_local} lies in {year}, whose data is loaded");
    }
}
