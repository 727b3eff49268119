//! Business-time arithmetic checked against the workload's vectors, named
//! real cases (holidays, make-up days, lunch, DST) and, by property, against
//! the brute-force oracle in `reference/`.

mod reference;

use chrono::{NaiveDate, TimeZone};
use chrono_tz::Tz;
use proptest::prelude::*;
use reference::Oracle;
use sla_engine::{
    BusinessSeconds, Calendar, CalendarError, Condition, DateSpan, DayHours, HolidaySchedule, Metric, Policy,
    Preset, RuleIndex, ServiceWindow, Severity, TargetRule, TicketFacts, Timestamp,
};

const CN_2026: &str = include_str!("../../../config/calendars/cn-2026.toml");

fn cn_2026() -> HolidaySchedule {
    HolidaySchedule::from_toml_str("cn-2026.toml", CN_2026).expect("shipped schedule parses").1
}

fn five_by_eight() -> Calendar {
    Calendar::build(&ServiceWindow::default_preset(Preset::FiveByEight), &cn_2026()).expect("builds")
}

/// A local wall-clock time in `tz`, as a UTC timestamp (must be unambiguous).
fn at(tz: Tz, text: &str) -> Timestamp {
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
        .expect("test time");
    Timestamp::from(tz.from_local_datetime(&naive).single().expect("unambiguous").to_utc())
}

fn sh(text: &str) -> Timestamp {
    at(chrono_tz::Asia::Shanghai, text)
}

fn minutes(m: u64) -> BusinessSeconds {
    BusinessSeconds::from_minutes(m)
}

#[test]
fn workload_vectors() {
    let cal = five_by_eight();
    // (open, target minutes, deadline, end, elapsed) from WORKLOAD.md §6.
    let vectors: [(i64, u64, i64, i64, u64); 8] = [
        (1779385061, 30, 1779413400, 1780876397, 316800),
        (1792636642, 60, 1792640242, 1793421504, 195758),
        (1771474766, 120, 1771902000, 1773343804, 403200),
        (1774590981, 240, 1774605381, 1776648425, 419444),
        (1783304895, 360, 1783330095, 1784460345, 282705),
        (1778588648, 1440, 1778839200, 1780995957, 572757),
        (1792573620, 4320, 1793696820, 1793514149, 204780),
        (1792713162, 30, 1792719000, 1793137789, 86400),
    ];
    for (i, (open, target, deadline, end, elapsed)) in vectors.into_iter().enumerate() {
        let open = Timestamp::from_unix(open);
        let d = cal.deadline(open, minutes(target)).expect("in span");
        assert_eq!(d.value.unix(), deadline, "deadline of vector {i}");
        assert!(!d.beyond_holiday_data, "vector {i} is inside 2026");
        let e = cal.elapsed(open, Timestamp::from_unix(end)).expect("in span");
        assert_eq!(e.value.get(), elapsed, "elapsed of vector {i}");
    }
}

#[test]
fn national_day_response_is_due_after_the_holiday() {
    // A 5x8 ticket opened 2026-09-30 17:50 with a 0.5 h response target: ten
    // minutes on the 30th, then the National Day holiday (10-01..07), so the
    // remaining twenty minutes run from 09:00 on Thursday 10-08.
    let cal = five_by_eight();
    let due = cal.deadline(sh("2026-09-30 17:50"), minutes(30)).expect("in span");
    assert_eq!(due.value, sh("2026-10-08 09:20"));
}

#[test]
fn named_cases_in_shanghai() {
    let cal = five_by_eight();
    let cases = [
        // Opened at 20:00 on a working day: counting starts 09:00 the next working day.
        ("2026-03-10 20:00", 30, "2026-03-11 09:30"),
        // Lunch break: 11:50 + 30 min = 13:20.
        ("2026-03-10 11:50", 30, "2026-03-10 13:20"),
        // Ends exactly at closing: the deadline is 18:00, not the next opening.
        ("2026-03-10 17:30", 30, "2026-03-10 18:00"),
        // Friday evening to Monday morning.
        ("2026-03-13 17:45", 30, "2026-03-16 09:15"),
        // Make-up Saturday 2026-02-28 is open.
        ("2026-02-27 17:50", 30, "2026-02-28 09:20"),
        // Make-up Sunday 2026-01-04 after the New Year holiday.
        ("2025-12-31 17:50", 30, "2026-01-04 09:20"),
        // Spring Festival: from Fri 02-13 17:00, 8 h runs 1 h that day, 7 h on make-up Sat 02-14 ... 17:00.
        ("2026-02-13 17:00", 480, "2026-02-14 17:00"),
        // Across the year boundary, 2027-01-01 is an ordinary Friday (no 2027 data).
        ("2026-12-31 17:00", 120, "2027-01-01 10:00"),
    ];
    for (open, target, due) in cases {
        let got = cal.deadline(sh(open), minutes(target)).expect("in span").value;
        assert_eq!(got, sh(due), "{open} + {target} min");
    }
    assert!(cal.is_open(sh("2026-10-10 10:00")).expect("in span"), "make-up Saturday 10-10");
    assert!(!cal.is_open(sh("2026-10-05 10:00")).expect("in span"), "National Day");
    assert!(!cal.is_open(sh("2026-03-10 12:30")).expect("in span"), "lunch");
    assert!(!cal.is_open(sh("2026-03-10 18:00")).expect("in span"), "closing time is closed");
    assert!(cal.is_open(sh("2026-03-10 09:00")).expect("in span"), "opening time is open");
    assert_eq!(cal.next_open(sh("2026-09-30 18:00")).expect("in span").value, sh("2026-10-08 09:00"));
    assert_eq!(cal.next_open(sh("2026-09-30 10:00")).expect("in span").value, sh("2026-09-30 10:00"));
    // A whole working week is 40 business hours; the National Day week has 8 (Thursday 10-08) + 8 (Fri) + 8 (make-up Sat).
    assert_eq!(
        cal.elapsed(sh("2026-03-09 00:00"), sh("2026-03-16 00:00")).expect("in span").value.get(),
        40 * 3600
    );
    assert_eq!(
        cal.elapsed(sh("2026-10-01 00:00"), sh("2026-10-11 00:00")).expect("in span").value.get(),
        24 * 3600
    );
}

#[test]
fn says_when_it_runs_past_the_holiday_data() {
    let cal = five_by_eight();
    let inside = cal.deadline(sh("2026-12-30 10:00"), minutes(60)).expect("in span");
    assert!(!inside.beyond_holiday_data);
    let past = cal.deadline(sh("2026-12-31 17:00"), minutes(120)).expect("in span");
    assert!(past.beyond_holiday_data, "answer lands in 2027, whose schedule is not loaded");
    assert!(
        cal.elapsed(sh("2027-03-01 10:00"), sh("2027-03-02 10:00")).expect("in span").beyond_holiday_data
    );
    assert_eq!(cal.holiday_coverage(), &[(d(2026, 1, 1), d(2026, 12, 31))]);
    // 7x24 does not follow holidays, so nothing is ever missing.
    let always =
        Calendar::build(&ServiceWindow::default_preset(Preset::AlwaysOpen), &cn_2026()).expect("builds");
    assert!(!always.deadline(sh("2027-03-01 10:00"), minutes(60)).expect("in span").beyond_holiday_data);
}

/// A response rule of `target` in `calendar`, for every ticket or for critical ones.
fn response(target: BusinessSeconds, calendar: &str, critical_only: bool) -> TargetRule {
    let when =
        Condition { severity: critical_only.then(|| vec![Severity::Critical]), ..Condition::default() };
    TargetRule { metric: Metric::Response, when, target, calendar: calendar.into() }
}

fn facts(severity: Severity, opened_at: Timestamp) -> TicketFacts<'static> {
    TicketFacts { severity, opened_at, tags: &[] }
}

#[test]
fn a_general_rule_wins_when_its_deadline_comes_first() {
    // An item counting 2 working hours (5x8) beside the contract's "never
    // more than an hour" (60 clock minutes, 7x24) for critical tickets.
    let calendars: std::collections::BTreeMap<String, Calendar> = [
        ("5x8".to_owned(), five_by_eight()),
        (
            "7x24".to_owned(),
            Calendar::build(&ServiceWindow::default_preset(Preset::AlwaysOpen), &cn_2026()).expect("builds"),
        ),
    ]
    .into();
    let policy = Policy::new(vec![response(minutes(120), "5x8", false)]);
    let general = [response(minutes(60), "7x24", true)];
    let choose = |severity, opened: Timestamp| {
        let chosen = policy
            .choose(&Metric::Response, &facts(severity, opened), &general, opened, &calendars)
            .expect("chooses")
            .expect("a rule applies");
        let cal = &calendars[&chosen.rule.calendar];
        (chosen.index, cal.deadline(opened, chosen.rule.target).expect("in span").value)
    };
    // Sunday 22:57: the item's two working hours end Monday 11:00; the hour ends at 23:57.
    assert_eq!(
        choose(Severity::Critical, sh("2026-06-07 22:57")),
        (RuleIndex::General(0), sh("2026-06-07 23:57"))
    );
    // A general ticket at the same moment keeps the item's own rule.
    assert_eq!(
        choose(Severity::General, sh("2026-06-07 22:57")),
        (RuleIndex::Item(0), sh("2026-06-08 11:00"))
    );
    // Monday 09:00, critical: two working hours end at 11:00, the hour at 10:00.
    assert_eq!(
        choose(Severity::Critical, sh("2026-06-08 09:00")),
        (RuleIndex::General(0), sh("2026-06-08 10:00"))
    );
    // An item rule that is tighter than the hour keeps winning.
    let tight = Policy::new(vec![response(minutes(30), "5x8", false)]);
    let chosen = tight
        .choose(
            &Metric::Response,
            &facts(Severity::Critical, sh("2026-06-08 09:00")),
            &general,
            sh("2026-06-08 09:00"),
            &calendars,
        )
        .expect("chooses")
        .expect("a rule applies");
    assert_eq!(chosen.index, RuleIndex::Item(0));
    // An item without a response rule: the general rule alone, for critical tickets only.
    let none = Policy::new(Vec::new());
    let alone = none.choose(
        &Metric::Response,
        &facts(Severity::Critical, sh("2026-06-07 22:57")),
        &general,
        sh("2026-06-07 22:57"),
        &calendars,
    );
    assert_eq!(alone.expect("chooses").map(|c| c.index), Some(RuleIndex::General(0)));
    let nothing = none.choose(
        &Metric::Response,
        &facts(Severity::Major, sh("2026-06-07 22:57")),
        &general,
        sh("2026-06-07 22:57"),
        &calendars,
    );
    assert_eq!(nothing.expect("chooses"), None);
    assert_eq!(none.metrics_with(&general), vec![&Metric::Response]);
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).expect("date")
}

#[test]
fn outside_the_table_is_an_error_not_a_guess() {
    let cal = Calendar::build_with_span(
        &ServiceWindow::default_preset(Preset::FiveByEight),
        &cn_2026(),
        DateSpan::years(2026, 2027),
    )
    .expect("builds");
    assert!(matches!(
        cal.deadline(sh("2025-06-01 10:00"), minutes(30)),
        Err(CalendarError::OutsideSpan { .. })
    ));
    assert!(matches!(
        cal.deadline(sh("2026-12-31 17:00"), minutes(120)),
        Err(CalendarError::OutsideSpan { .. })
    ));
    assert!(matches!(
        cal.elapsed(sh("2026-06-02 10:00"), sh("2026-06-01 10:00")),
        Err(CalendarError::Reversed { .. })
    ));
}

#[test]
fn seven_by_eight_ignores_holidays_and_six_by_eight_opens_saturdays() {
    let seven =
        Calendar::build(&ServiceWindow::default_preset(Preset::SevenByEight), &cn_2026()).expect("builds");
    assert!(seven.is_open(sh("2026-10-01 10:00")).expect("in span"));
    assert_eq!(
        seven.deadline(sh("2026-10-03 17:30"), minutes(60)).expect("in span").value,
        sh("2026-10-04 09:30")
    );
    let six =
        Calendar::build(&ServiceWindow::default_preset(Preset::SixByEight), &cn_2026()).expect("builds");
    assert!(six.is_open(sh("2026-03-14 10:00")).expect("in span"), "ordinary Saturday");
    assert!(!six.is_open(sh("2026-03-15 10:00")).expect("in span"), "ordinary Sunday");
    assert!(!six.is_open(sh("2026-10-03 10:00")).expect("in span"), "holiday Saturday");
    assert!(six.is_open(sh("2026-09-20 10:00")).expect("in span"), "make-up Sunday");
}

#[test]
fn dst_in_berlin_and_new_york() {
    let holidays = HolidaySchedule::empty();
    let berlin = chrono_tz::Europe::Berlin;
    let always =
        Calendar::build(&ServiceWindow::preset(Preset::AlwaysOpen, berlin, DayHours::office()), &holidays)
            .expect("builds");
    // 2026-03-29: clocks jump 02:00 -> 03:00, the local day has 23 hours.
    assert_eq!(
        always
            .elapsed(at(berlin, "2026-03-29 00:00"), at(berlin, "2026-03-30 00:00"))
            .expect("in span")
            .value
            .get(),
        23 * 3600
    );
    // 2026-10-25: 03:00 -> 02:00, 25 hours.
    assert_eq!(
        always
            .elapsed(at(berlin, "2026-10-25 00:00"), at(berlin, "2026-10-26 00:00"))
            .expect("in span")
            .value
            .get(),
        25 * 3600
    );
    // A night window 01:00-04:00 in New York: 2 h on spring-forward day, 4 h on fall-back day.
    let ny = chrono_tz::America::New_York;
    let mut window =
        ServiceWindow::preset(Preset::SevenByEight, ny, DayHours::parse(&["01:00-04:00"]).expect("hours"));
    window.name = "night".into();
    let night = Calendar::build(&window, &holidays).expect("builds");
    let day = |date: &str, next: &str| {
        night
            .elapsed(at(ny, &format!("{date} 00:00")), at(ny, &format!("{next} 00:00")))
            .expect("in span")
            .value
            .get()
    };
    assert_eq!(day("2026-03-07", "2026-03-08"), 3 * 3600);
    assert_eq!(day("2026-03-08", "2026-03-09"), 2 * 3600);
    assert_eq!(day("2026-11-01", "2026-11-02"), 4 * 3600);
    // In the gap, 02:30 does not exist: 01:30 + 45 min is 03:15 EDT.
    assert_eq!(
        night.deadline(at(ny, "2026-03-08 01:30"), minutes(45)).expect("in span").value,
        at(ny, "2026-03-08 03:15")
    );
    // Office hours in Berlin are untouched by DST: 9 h from Friday 17:00 before the change lands Monday 18:00... in 8 h days.
    let office =
        Calendar::build(&ServiceWindow::preset(Preset::FiveByEight, berlin, DayHours::office()), &holidays)
            .expect("builds");
    assert_eq!(
        office.deadline(at(berlin, "2026-03-27 17:00"), minutes(120)).expect("in span").value,
        at(berlin, "2026-03-30 10:00")
    );
}

#[test]
fn pauses_are_excluded() {
    let cal = five_by_eight();
    let pauses = [(sh("2026-03-10 10:00"), sh("2026-03-10 14:00"))];
    // 09:00..18:00 with 10:00..14:00 paused: 1 h + 4 h.
    let e = cal.elapsed_excluding(sh("2026-03-10 09:00"), sh("2026-03-10 18:00"), &pauses).expect("in span");
    assert_eq!(e.value.get(), 5 * 3600);
    // 2 h from 09:00 with that pause: 1 h before it, the second from 14:00 to 15:00.
    let due = cal.deadline_excluding(sh("2026-03-10 09:00"), minutes(120), &pauses).expect("in span");
    assert_eq!(due.value, sh("2026-03-10 15:00"));
    // Reached exactly when the pause begins: the deadline is then.
    let due = cal.deadline_excluding(sh("2026-03-10 09:00"), minutes(60), &pauses).expect("in span");
    assert_eq!(due.value, sh("2026-03-10 10:00"));
    let unsorted =
        [(sh("2026-03-11 10:00"), sh("2026-03-11 11:00")), (sh("2026-03-10 10:00"), sh("2026-03-10 11:00"))];
    assert_eq!(
        cal.elapsed_excluding(sh("2026-03-10 09:00"), sh("2026-03-12 09:00"), &unsorted),
        Err(CalendarError::UnsortedPauses)
    );
}

// ---------------------------------------------------------------------------
// Properties against the oracle.

const ZONES: [Tz; 6] = [
    chrono_tz::Asia::Shanghai,
    chrono_tz::Europe::Berlin,
    chrono_tz::America::New_York,
    chrono_tz::UTC,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::America::Santiago,
];

/// 2026-01-01T00:00Z and the year after: the window the properties ask about.
const T0: i64 = 1_767_225_600;
const YEAR: i64 = 365 * 86_400;

fn day_hours() -> impl Strategy<Value = DayHours> {
    // Up to three intervals on a 15-minute grid, often around the small hours
    // where DST changes happen; sometimes the whole day.
    prop_oneof![
        1 => Just(DayHours::closed()),
        1 => Just(DayHours::whole_day()),
        1 => Just(DayHours::office()),
        4 => proptest::collection::vec((0u32..96, 1u32..24), 1..4).prop_map(|raw| {
            let mut out: Vec<(u32, u32)> = Vec::new();
            let mut cursor = 0;
            for (gap, len) in raw {
                let start = (cursor + gap).min(95);
                let end = (start + len).min(96);
                if start >= cursor && start < end {
                    out.push((start * 900, end * 900));
                    cursor = end + 1;
                }
            }
            DayHours::from_seconds(out).expect("generated intervals are valid")
        }),
    ]
}

fn window() -> impl Strategy<Value = ServiceWindow> {
    (0..ZONES.len(), proptest::array::uniform7(day_hours()), day_hours(), any::<bool>()).prop_filter_map(
        "window must open sometimes",
        |(z, weekly, makeup_hours, holidays)| {
            let open: u32 = weekly.iter().map(DayHours::seconds).sum();
            (open > 0).then(|| ServiceWindow {
                name: "generated".into(),
                timezone: ZONES[z],
                weekly,
                makeup_hours,
                holidays: holidays.then(|| "cn".to_owned()),
            })
        },
    )
}

fn schedule() -> impl Strategy<Value = HolidaySchedule> {
    // Random holiday ranges and weekend workdays in 2026, as a yearly file would give them.
    (proptest::collection::vec((0u32..365, 1u32..8), 0..6), proptest::collection::vec(0u32..52, 0..4))
        .prop_map(|(holidays, workdays)| {
            let jan1 = d(2026, 1, 1);
            let mut taken = std::collections::BTreeSet::new();
            let mut text = String::from("region = \"cn\"\nyear = 2026\n");
            for (i, (start, len)) in holidays.into_iter().enumerate() {
                let days: Vec<NaiveDate> = (start..(start + len).min(365))
                    .map(|o| jan1 + chrono::Days::new(u64::from(o)))
                    .filter(|day| !taken.contains(day))
                    .collect();
                if let (Some(first), Some(last)) = (days.first(), days.last())
                    && (*last - *first).num_days() as usize + 1 == days.len()
                {
                    taken.extend(days.iter().copied());
                    text += &format!("[[holiday]]\nname = \"h{i}\"\nfrom = \"{first}\"\nto = \"{last}\"\n");
                }
            }
            for week in workdays {
                let saturday = d(2026, 1, 3) + chrono::Days::new(u64::from(week) * 7);
                if taken.insert(saturday) {
                    text += &format!("[[workday]]\ndate = \"{saturday}\"\n");
                }
            }
            HolidaySchedule::from_toml_str("generated.toml", &text).expect("generated schedule is valid").1
        })
}

fn build(window: &ServiceWindow, holidays: &HolidaySchedule) -> Calendar {
    Calendar::build_with_span(window, holidays, DateSpan::years(2025, 2029)).expect("builds")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn elapsed_and_is_open_match_the_oracle(
        window in window(),
        holidays in schedule(),
        start in T0 - 86_400..T0 + YEAR + 86_400,
        length in 0i64..12 * 86_400,
    ) {
        let cal = build(&window, &holidays);
        let oracle = Oracle { window: &window, holidays: &holidays };
        let end = start + length;
        let got = cal.elapsed(Timestamp::from_unix(start), Timestamp::from_unix(end)).expect("in span");
        prop_assert_eq!(got.value.get() as i64, oracle.elapsed(start, end, &[]));
        prop_assert_eq!(cal.is_open(Timestamp::from_unix(start)).expect("in span"), oracle.is_open(start));
        prop_assert_eq!(cal.is_open(Timestamp::from_unix(end)).expect("in span"), oracle.is_open(end));
        let next = cal.next_open(Timestamp::from_unix(start)).expect("opens again").value.unix();
        prop_assert_eq!(Some(next), oracle.next_open(start, next + 1));
    }

    #[test]
    fn deadline_matches_the_oracle(
        window in window(),
        holidays in schedule(),
        start in T0 - 86_400..T0 + YEAR + 86_400,
        share in 0.0f64..2.5,
    ) {
        let cal = build(&window, &holidays);
        let oracle = Oracle { window: &window, holidays: &holidays };
        // Up to two and a half weeks' worth of the window's open time.
        let weekly: u32 = window.weekly.iter().map(DayHours::seconds).sum();
        let need = (f64::from(weekly) * share) as u64;
        let got = cal.deadline(Timestamp::from_unix(start), BusinessSeconds::new(need)).expect("in span").value.unix();
        let expected = oracle.deadline(start, need as i64, &[], got + 1);
        prop_assert_eq!(Some(got), expected);
    }

    #[test]
    fn pauses_match_the_oracle(
        window in window(),
        holidays in schedule(),
        start in T0..T0 + YEAR,
        length in 0i64..8 * 86_400,
        raw_pauses in proptest::collection::vec((0i64..8 * 86_400, 0i64..2 * 86_400), 0..4),
        share in 0.0f64..1.5,
    ) {
        let cal = build(&window, &holidays);
        let oracle = Oracle { window: &window, holidays: &holidays };
        let mut pauses: Vec<(i64, i64)> = raw_pauses.into_iter().map(|(o, l)| (start + o - 86_400, start + o - 86_400 + l)).collect();
        pauses.sort_unstable();
        let ts: Vec<(Timestamp, Timestamp)> = pauses.iter().map(|&(a, b)| (Timestamp::from_unix(a), Timestamp::from_unix(b))).collect();
        let end = start + length;
        let got = cal.elapsed_excluding(Timestamp::from_unix(start), Timestamp::from_unix(end), &ts).expect("in span");
        prop_assert_eq!(got.value.get() as i64, oracle.elapsed(start, end, &pauses));

        let weekly: u32 = window.weekly.iter().map(DayHours::seconds).sum();
        let need = (f64::from(weekly) * share) as u64;
        let due = cal.deadline_excluding(Timestamp::from_unix(start), BusinessSeconds::new(need), &ts).expect("in span").value.unix();
        prop_assert_eq!(Some(due), oracle.deadline(start, need as i64, &pauses, due + 1));
    }

    #[test]
    fn the_earlier_deadline_wins_as_the_oracle_counts_them(
        item_window in window(),
        general_window in window(),
        holidays in schedule(),
        start in T0..T0 + YEAR,
        item_share in 0.0f64..1.0,
        general_share in 0.0f64..1.0,
    ) {
        let calendars: std::collections::BTreeMap<String, Calendar> = [
            ("item".to_owned(), build(&item_window, &holidays)),
            ("general".to_owned(), build(&general_window, &holidays)),
        ]
        .into();
        let need = |w: &ServiceWindow, share: f64| {
            let weekly: u32 = w.weekly.iter().map(DayHours::seconds).sum();
            BusinessSeconds::new((f64::from(weekly) * share) as u64)
        };
        let (item_need, general_need) = (need(&item_window, item_share), need(&general_window, general_share));
        let policy = Policy::new(vec![response(item_need, "item", false)]);
        let general = [response(general_need, "general", false)];
        let opened = Timestamp::from_unix(start);
        let chosen = policy
            .choose(&Metric::Response, &facts(Severity::Critical, opened), &general, opened, &calendars)
            .expect("chooses")
            .expect("a rule applies");
        // The oracle's deadlines, minute by minute, each in its own window.
        let give_up = start + 3 * YEAR / 2;
        let item_due = Oracle { window: &item_window, holidays: &holidays }.deadline(start, item_need.get() as i64, &[], give_up);
        let general_due = Oracle { window: &general_window, holidays: &holidays }.deadline(start, general_need.get() as i64, &[], give_up);
        let (item_due, general_due) = (item_due.expect("item deadline"), general_due.expect("general deadline"));
        let expected = if general_due < item_due { RuleIndex::General(0) } else { RuleIndex::Item(0) };
        prop_assert_eq!(chosen.index, expected);
        let got = calendars[&chosen.rule.calendar].deadline(opened, chosen.rule.target).expect("in span").value.unix();
        prop_assert_eq!(got, item_due.min(general_due));
    }

    #[test]
    fn deadline_and_elapsed_are_inverse(
        window in window(),
        start in T0..T0 + YEAR,
        need in 1u64..400_000,
    ) {
        let cal = build(&window, &HolidaySchedule::empty());
        let start = Timestamp::from_unix(start);
        let due = cal.deadline(start, BusinessSeconds::new(need)).expect("in span").value;
        prop_assert_eq!(cal.elapsed(start, due).expect("in span").value.get(), need);
        // Earliest: one second earlier, the need is not yet met.
        prop_assert!(cal.elapsed(start, due.plus_seconds(-1)).expect("in span").value.get() < need);
    }
}
