//! SLA clocks and target rules on real cases: thresholds, pauses, reopening,
//! severity changes, backdated tickets, and the contract's "real-time on
//! working days, 0.5 h otherwise" response; and, by property, clocks with
//! random pause histories against the brute-force oracle.

mod reference;

use std::collections::BTreeMap;

use chrono::TimeZone;
use sla_engine::{
    BusinessSeconds, Calendar, Clock, ClockError, ClockEvent, ClockEventKind as E, ClockState, Condition,
    Crossing, HolidaySchedule, Metric, OpenedIn, Policy, PolicyError, Preset, ServiceWindow, Severity,
    TargetRule, TicketFacts, Timestamp,
};

const CN_2026: &str = include_str!("../../../config/calendars/cn-2026.toml");

fn calendars() -> BTreeMap<String, Calendar> {
    let (_, holidays) = HolidaySchedule::from_toml_str("cn-2026.toml", CN_2026).expect("parses");
    Preset::ALL
        .into_iter()
        .map(|p| {
            let c = Calendar::build(&ServiceWindow::default_preset(p), &holidays).expect("builds");
            (p.name().to_owned(), c)
        })
        .collect()
}

fn sh(text: &str) -> Timestamp {
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
        .expect("test time");
    Timestamp::from(
        chrono_tz::Asia::Shanghai.from_local_datetime(&naive).single().expect("unambiguous").to_utc(),
    )
}

fn ev(kind: E, text: &str) -> ClockEvent {
    ClockEvent::new(kind, sh(text))
}

fn hours(h: u64) -> BusinessSeconds {
    BusinessSeconds::from_hours(h)
}

#[test]
fn running_clock_reports_thresholds_deadline_and_next_wake() {
    let cals = calendars();
    let clock = Clock::new(&cals["7x24"], hours(6));
    let events = [ev(E::Start, "2026-06-01 10:00")];

    let s = clock.evaluate(&events, sh("2026-06-01 12:00")).expect("valid");
    assert_eq!(s.state, ClockState::Running);
    assert_eq!(s.elapsed, hours(2));
    assert_eq!(s.remaining, hours(4));
    assert_eq!(s.deadline, Some(sh("2026-06-01 16:00")));
    assert!(s.crossed.is_empty());
    assert_eq!(s.next, Some(Crossing { percent: 50, at: sh("2026-06-01 13:00") }));

    let s = clock.evaluate(&events, sh("2026-06-01 15:00")).expect("valid");
    assert_eq!(
        s.crossed,
        vec![
            Crossing { percent: 50, at: sh("2026-06-01 13:00") },
            Crossing { percent: 80, at: sh("2026-06-01 14:48") }
        ]
    );
    assert_eq!(s.next, Some(Crossing { percent: 100, at: sh("2026-06-01 16:00") }));

    let s = clock.evaluate(&events, sh("2026-06-01 17:00")).expect("valid");
    assert_eq!(s.state, ClockState::Breached);
    assert_eq!(s.breached_at, Some(sh("2026-06-01 16:00")));
    assert_eq!(s.overdue, hours(1));
    assert_eq!(s.remaining, BusinessSeconds::ZERO);
    assert_eq!(s.next, None, "no escalation thresholds configured");
}

#[test]
fn five_by_eight_clock_runs_only_in_working_hours() {
    let cals = calendars();
    // Recovery 6 h in 5x8, opened Friday 2026-09-18 16:00: 2 h Friday, then
    // Saturday closed, then the make-up Sunday 09-20: 09:00-12:00 and, after
    // lunch, 13:00-14:00.
    let clock = Clock::new(&cals["5x8"], hours(6));
    let events = [ev(E::Start, "2026-09-18 16:00")];
    let s = clock.evaluate(&events, sh("2026-09-19 12:00")).expect("valid");
    assert_eq!(s.elapsed, hours(2));
    assert_eq!(s.deadline, Some(sh("2026-09-20 14:00")));
    assert_eq!(s.next, Some(Crossing { percent: 50, at: sh("2026-09-20 10:00") }));
}

#[test]
fn pause_stops_the_clock_and_moves_the_deadline() {
    let cals = calendars();
    let clock = Clock::new(&cals["7x24"], hours(6));
    let events = [
        ev(E::Start, "2026-06-01 10:00"),
        ev(E::Pause, "2026-06-01 11:00"),
        ev(E::Resume, "2026-06-01 14:00"),
    ];
    let paused = clock.evaluate(&events, sh("2026-06-01 13:00")).expect("valid");
    assert_eq!(paused.state, ClockState::Paused);
    assert!(paused.stopped);
    assert_eq!(paused.elapsed, hours(1));
    assert_eq!(paused.deadline, None);
    assert_eq!(paused.next, None, "a paused clock never fires");

    let resumed = clock.evaluate(&events, sh("2026-06-01 15:00")).expect("valid");
    assert_eq!(resumed.state, ClockState::Running);
    assert_eq!(resumed.elapsed, hours(2));
    assert_eq!(resumed.deadline, Some(sh("2026-06-01 19:00")), "three paused hours later than 16:00");
}

#[test]
fn met_clock_never_fires_and_meeting_at_the_deadline_is_on_time() {
    let cals = calendars();
    let clock = Clock::new(&cals["7x24"], BusinessSeconds::from_minutes(30));
    let on_time = [ev(E::Start, "2026-06-01 10:00"), ev(E::Met, "2026-06-01 10:30")];
    let s = clock.evaluate(&on_time, sh("2026-06-02 00:00")).expect("valid");
    assert_eq!(s.state, ClockState::Met);
    assert_eq!(s.met_at, Some(sh("2026-06-01 10:30")));
    assert_eq!(s.breached_at, None);
    assert_eq!(s.next, None);
    assert_eq!(s.crossed.iter().map(|c| c.percent).collect::<Vec<_>>(), vec![50, 80]);

    let late = [ev(E::Start, "2026-06-01 10:00"), ev(E::Met, "2026-06-01 10:30:01")];
    let s = clock.evaluate(&late, sh("2026-06-02 00:00")).expect("valid");
    assert_eq!(s.state, ClockState::Met);
    assert_eq!(s.breached_at, Some(sh("2026-06-01 10:30")), "met one second late");
}

#[test]
fn reopening_resumes_recovery_where_it_stopped() {
    let cals = calendars();
    let clock = Clock::new(&cals["7x24"], hours(6));
    let events =
        [ev(E::Start, "2026-06-01 10:00"), ev(E::Met, "2026-06-01 14:00"), ev(E::Reopen, "2026-06-02 09:00")];
    let s = clock.evaluate(&events, sh("2026-06-02 10:00")).expect("valid");
    assert_eq!(s.state, ClockState::Running);
    assert_eq!(s.elapsed, hours(5), "4 h before resolving, 1 h since reopening");
    assert_eq!(s.deadline, Some(sh("2026-06-02 11:00")));
    assert_eq!(s.met_at, None);
}

#[test]
fn a_backdated_ticket_crosses_every_threshold_at_once_and_escalates() {
    let cals = calendars();
    let clock = Clock::with_thresholds(&cals["7x24"], hours(2), &[50, 80, 150, 200]);
    let events = [ev(E::Start, "2026-06-01 08:00")];
    let s = clock.evaluate(&events, sh("2026-06-01 11:30")).expect("valid");
    assert_eq!(s.state, ClockState::Breached);
    assert_eq!(s.crossed.iter().map(|c| c.percent).collect::<Vec<_>>(), vec![50, 80, 100, 150]);
    assert_eq!(s.crossed[2].at, sh("2026-06-01 10:00"));
    assert_eq!(s.next, Some(Crossing { percent: 200, at: sh("2026-06-01 12:00") }));
    assert_eq!(clock.thresholds(), &[50, 80, 100, 150, 200]);
}

#[test]
fn severity_change_reselects_the_target_and_keeps_the_start() {
    let cals = calendars();
    let events = [ev(E::Start, "2026-06-01 10:00")];
    let now = sh("2026-06-01 12:00");
    let general = Clock::new(&cals["7x24"], hours(6)).evaluate(&events, now).expect("valid");
    let major = Clock::new(&cals["7x24"], hours(2)).evaluate(&events, now).expect("valid");
    assert_eq!(general.state, ClockState::Running);
    assert_eq!(major.state, ClockState::Breached);
    assert_eq!(major.breached_at, Some(now));
    assert_eq!(general.elapsed, major.elapsed);
}

#[test]
fn events_after_now_are_not_applied() {
    let cals = calendars();
    let clock = Clock::new(&cals["7x24"], hours(6));
    let events = [ev(E::Start, "2026-06-01 10:00"), ev(E::Met, "2026-06-01 12:00")];
    let before = clock.evaluate(&events, sh("2026-06-01 11:00")).expect("valid");
    assert_eq!(before.state, ClockState::Running);
    assert_eq!(before.elapsed, hours(1));
}

#[test]
fn impossible_histories_are_errors() {
    let cals = calendars();
    let clock = Clock::new(&cals["7x24"], hours(6));
    let now = sh("2026-06-02 00:00");
    assert_eq!(clock.evaluate(&[], now), Err(ClockError::NoStart));
    assert_eq!(clock.evaluate(&[ev(E::Pause, "2026-06-01 10:00")], now), Err(ClockError::NoStart));
    assert!(matches!(
        clock.evaluate(&[ev(E::Start, "2026-06-01 10:00"), ev(E::Resume, "2026-06-01 11:00")], now),
        Err(ClockError::NotAllowed { index: 1, event: "resume", state: "running" })
    ));
    assert!(matches!(
        clock.evaluate(&[ev(E::Start, "2026-06-01 10:00"), ev(E::Pause, "2026-06-01 09:00")], now),
        Err(ClockError::OutOfOrder { index: 1, .. })
    ));
    assert!(matches!(
        clock.evaluate(&[ev(E::Start, "2026-06-01 10:00"), ev(E::Reopen, "2026-06-01 11:00")], now),
        Err(ClockError::NotAllowed { event: "reopen", .. })
    ));
}

fn rule(metric: Metric, minutes: u64, calendar: &str, when: Condition) -> TargetRule {
    TargetRule { metric, when, target: BusinessSeconds::from_minutes(minutes), calendar: calendar.into() }
}

#[test]
fn real_time_on_working_days_half_an_hour_otherwise() {
    // "工作日期间实时响应，非工作日期间0.5小时以内", counted 7x24; real-time is 15 minutes.
    let cals = calendars();
    let inside =
        Condition { opened: Some(OpenedIn::Inside), calendar: Some("5x8".into()), ..Condition::default() };
    let outside =
        Condition { opened: Some(OpenedIn::Outside), calendar: Some("5x8".into()), ..Condition::default() };
    let policy = Policy::new(vec![
        rule(Metric::Response, 15, "7x24", inside),
        rule(Metric::Response, 30, "7x24", outside),
        rule(Metric::Recovery, 360, "7x24", Condition::default()),
    ]);
    policy.validate(&cals).expect("calendars defined");
    let facts = |opened: &str| TicketFacts { severity: Severity::General, opened_at: sh(opened), tags: &[] };

    let working =
        policy.select(&Metric::Response, &facts("2026-06-01 10:00"), &cals).expect("ok").expect("a rule");
    assert_eq!(working.target, BusinessSeconds::from_minutes(15));
    let evening =
        policy.select(&Metric::Response, &facts("2026-06-01 20:00"), &cals).expect("ok").expect("a rule");
    assert_eq!(evening.target, BusinessSeconds::from_minutes(30));
    let holiday =
        policy.select(&Metric::Response, &facts("2026-10-02 10:00"), &cals).expect("ok").expect("a rule");
    assert_eq!(holiday.target, BusinessSeconds::from_minutes(30), "National Day is not working time");
    assert!(policy.select(&Metric::OnSite, &facts("2026-06-01 10:00"), &cals).expect("ok").is_none());
    assert_eq!(policy.metrics(), vec![&Metric::Response, &Metric::Recovery]);
}

#[test]
fn severity_and_tags_select_rules_in_order() {
    let cals = calendars();
    let major =
        Condition { severity: Some(vec![Severity::Major, Severity::Critical]), ..Condition::default() };
    let complex = Condition { tags: vec!["complex_fault".into()], ..Condition::default() };
    let policy = Policy::new(vec![
        rule(Metric::Recovery, 480, "7x24", complex),
        rule(Metric::Recovery, 120, "7x24", major),
        rule(Metric::Recovery, 360, "7x24", Condition::default()),
    ]);
    let opened_at = sh("2026-06-01 10:00");
    let tags = vec!["complex_fault".to_owned()];
    let pick = |severity, tags: &[String]| {
        policy
            .select(&Metric::Recovery, &TicketFacts { severity, opened_at, tags }, &cals)
            .expect("ok")
            .expect("a rule")
            .target
            .get()
            / 60
    };
    assert_eq!(pick(Severity::General, &[]), 360);
    assert_eq!(pick(Severity::Critical, &[]), 120);
    assert_eq!(pick(Severity::Critical, &tags), 480, "the complex-fault rule comes first");
}

#[test]
fn policies_name_only_defined_calendars() {
    let cals = calendars();
    let policy = Policy::new(vec![rule(Metric::Response, 30, "5x12", Condition::default())]);
    assert_eq!(policy.validate(&cals), Err(PolicyError::UnknownCalendar("5x12".into())));
    let dangling = Condition { opened: Some(OpenedIn::Inside), ..Condition::default() };
    let policy = Policy::new(vec![rule(Metric::Response, 30, "7x24", dangling)]);
    assert_eq!(policy.validate(&cals), Err(PolicyError::OpenedWithoutCalendar(Metric::Response)));
    assert_eq!("containment".parse::<Metric>(), Ok(Metric::Other("containment".into())));
    assert!("Bad Metric".parse::<Metric>().is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 128, ..Default::default() })]

    /// Elapsed time, deadline and breach of a clock with a random pause
    /// history equal the oracle's count with the pauses excluded.
    #[test]
    fn clock_matches_the_oracle(
        start in 1_767_225_600i64..1_798_761_600,
        gaps in proptest::collection::vec((0i64..3 * 86_400, 0i64..2 * 86_400), 0..4),
        after in 0i64..6 * 86_400,
        target_minutes in 1u64..3000,
    ) {
        let cals = calendars();
        let (_, holidays) = HolidaySchedule::from_toml_str("cn-2026.toml", CN_2026).expect("parses");
        let window = ServiceWindow::default_preset(Preset::FiveByEight);
        let oracle = reference::Oracle { window: &window, holidays: &holidays };
        let target = BusinessSeconds::from_minutes(target_minutes);

        let mut events = vec![ClockEvent::new(E::Start, Timestamp::from_unix(start))];
        let mut pauses = Vec::new();
        let mut t = start;
        for (run, pause) in gaps {
            let (p, r) = (t + run, t + run + pause);
            events.push(ClockEvent::new(E::Pause, Timestamp::from_unix(p)));
            events.push(ClockEvent::new(E::Resume, Timestamp::from_unix(r)));
            pauses.push((p, r));
            t = r;
        }
        let now = t + after;
        let status = Clock::new(&cals["5x8"], target).evaluate(&events, Timestamp::from_unix(now)).expect("valid");
        let elapsed = oracle.elapsed(start, now, &pauses);
        proptest::prop_assert_eq!(status.elapsed.get() as i64, elapsed);
        let due = oracle.deadline(start, target.get() as i64, &pauses, now.max(start) + 400 * 86_400).expect("reached");
        proptest::prop_assert_eq!(status.deadline, Some(Timestamp::from_unix(due)));
        proptest::prop_assert_eq!(status.state == ClockState::Breached, due <= now);
        let half = oracle.deadline(start, target.percent(50).get() as i64, &pauses, due + 1).expect("reached");
        let half_crossed = status.crossed.iter().any(|c| c.percent == 50 && c.at == Timestamp::from_unix(half));
        proptest::prop_assert_eq!(half_crossed, half <= now);
    }
}

#[test]
fn calendar_set_has_presets_and_needs_holiday_data_for_regions_it_uses() {
    let (region, holidays) = HolidaySchedule::from_toml_str("cn-2026.toml", CN_2026).expect("parses");
    let schedules = BTreeMap::from([(region, holidays)]);
    let windows = ServiceWindow::from_toml_str(
        "w.toml",
        "[window.\"5x8-short\"]\npreset = \"5x8\"\nhours = [\"09:00-12:00\"]\n",
    )
    .expect("valid");
    let set = sla_engine::CalendarSet::build(&windows, &schedules, sla_engine::DateSpan::years(2025, 2028))
        .expect("builds");
    let names: Vec<&str> = set.iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["5x8", "5x8-short", "6x8", "7x24", "7x8"]);
    let short = set.get("5x8-short").expect("defined");
    let due = short.deadline(sh("2026-06-01 11:00"), hours(2)).expect("in span").value;
    assert_eq!(due, sh("2026-06-02 10:00"));

    let missing =
        sla_engine::CalendarSet::build(&[], &BTreeMap::new(), sla_engine::DateSpan::years(2025, 2028))
            .expect_err("5x8 needs cn holidays");
    assert!(missing.contains("no holiday file for \"cn\""), "{missing}");
}
