//! Inspection schedules (巡检计划): the due windows an item's inspection
//! cycles create over its service period, in the item's timezone.
//!
//! Periods are counted from the item's first day of service, so that a
//! year of service has the contract's counts: 365 daily, 52 weekly, 12
//! monthly, 4 quarterly, 2 half-yearly windows per cycle.

use catalog::{Every, FilingPeriod, Inspection, ServicePeriod};
use chrono::{Days, Months, NaiveDate, TimeZone};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use sla_engine::Timestamp;
use utoipa::ToSchema;
use uuid::Uuid;

/// Where an inspection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum InspectionStatus {
    /// Not done, still within (or before) its window.
    Open,
    /// Done within its window.
    Done,
    /// Done after its window closed, or recorded so long after the time it
    /// claims (or after its window closed) that it counts as late until a
    /// manager approves it.
    Late,
    /// Not done, and its window has closed.
    Missed,
    /// Not done, and its window closed before the service went live: neither due nor missed.
    BeforeGoLive,
}

impl InspectionStatus {
    /// The snake_case name (as serialized).
    pub const fn as_str(self) -> &'static str {
        match self {
            InspectionStatus::Open => "open",
            InspectionStatus::Done => "done",
            InspectionStatus::Late => "late",
            InspectionStatus::Missed => "missed",
            InspectionStatus::BeforeGoLive => "before_go_live",
        }
    }
}

/// One named check of a completed inspection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// What was checked: one line.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\u200B-\\u200F\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u206F\\uFEFF]*$"
    )]
    pub name: String,
    /// Whether it passed.
    pub passed: bool,
    /// Remarks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(max_length = 2000)]
    pub note: Option<String>,
}

/// An inspection task (巡检任务) as stored: due within a window, done or not.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Task {
    /// Id.
    pub id: Uuid,
    /// Stable across regenerations: which cycle and window it is.
    pub schedule_key: String,
    /// The line item.
    pub line_item_id: Uuid,
    /// Its agency.
    pub agency: String,
    /// Which cycle of the item.
    pub cycle: u32,
    /// `day`, `week`, `month`, `quarter` or `year`.
    pub every: String,
    /// The device class, for per-class cycles.
    pub device_class: Option<String>,
    /// A named slot (e.g. morning).
    pub slot: Option<String>,
    /// The window opens.
    pub due_from: Timestamp,
    /// Due before this instant.
    pub due_to: Timestamp,
    /// When it was done, as the engineer says.
    pub completed_at: Option<Timestamp>,
    /// Who did it.
    pub completed_by: Option<Uuid>,
    /// When the completion was recorded (the service's clock, not the engineer's word).
    pub recorded_at: Option<Timestamp>,
    /// Recorded after its window closed, or long after the time it claims.
    pub recorded_late: bool,
    /// The manager who approved a late record to count on time.
    pub approved_by: Option<Uuid>,
    /// When they approved it.
    pub approved_at: Option<Timestamp>,
    /// Findings.
    pub findings: Option<String>,
    /// The checklist.
    pub checklist: Vec<Check>,
    /// Links to photos or reports.
    pub attachments: Vec<String>,
}

impl Task {
    /// Where it stands at `now`, for a service that went live at `go_live`:
    /// done on time only when the claimed time is within the window and the
    /// record was not late (or a manager approved it).
    pub fn status(&self, now: Timestamp, go_live: Timestamp) -> InspectionStatus {
        let vouched = !self.recorded_late || self.approved_at.is_some();
        match self.completed_at {
            Some(at) if at <= self.due_to && vouched => InspectionStatus::Done,
            Some(_) => InspectionStatus::Late,
            None if self.due_to <= go_live => InspectionStatus::BeforeGoLive,
            None if self.due_to <= now => InspectionStatus::Missed,
            None => InspectionStatus::Open,
        }
    }

    /// Where it stood at `as_of`, as the records then showed: a completion
    /// recorded after `as_of` did not exist yet, nor did a later approval.
    pub fn status_as_of(&self, as_of: Timestamp, go_live: Timestamp) -> InspectionStatus {
        let mut then = self.clone();
        if then.recorded_at.or(then.completed_at).is_some_and(|r| r > as_of) {
            then.completed_at = None;
        }
        if then.approved_at.is_some_and(|a| a > as_of) {
            then.approved_at = None;
        }
        then.status(as_of, go_live)
    }
}

/// Whether a completion claimed at `claimed` and recorded at `recorded` is
/// recorded late: its window had closed by the time it was recorded while
/// the claim falls before the close (a backdated record), or the claim lies
/// more than `grace` seconds before the recording.
pub fn recorded_late(claimed: Timestamp, recorded: Timestamp, due_to: Timestamp, grace: i64) -> bool {
    let backdated_into_closed_window = recorded >= due_to && claimed < due_to;
    backdated_into_closed_window || recorded.unix().saturating_sub(claimed.unix()) > grace
}

/// What an engineer records on completing an inspection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Completion {
    /// When it was done, as the engineer says.
    pub completed_at: Timestamp,
    /// Who did it.
    pub completed_by: Uuid,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// See [`recorded_late`].
    pub recorded_late: bool,
    /// Findings.
    pub findings: String,
    /// The checklist.
    pub checklist: Vec<Check>,
    /// Links to photos or reports.
    pub attachments: Vec<String>,
}

/// One inspection task's window.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    /// Stable across restarts, so that regeneration finds existing tasks.
    pub key: String,
    /// Which cycle of the item it belongs to.
    pub cycle: usize,
    /// Named slot (e.g. morning), if the cycle names them.
    pub slot: Option<String>,
    /// Opens.
    pub from: Timestamp,
    /// Due by (exclusive).
    pub to: Timestamp,
}

fn midnight(tz: Tz, d: NaiveDate) -> Timestamp {
    let local = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    Timestamp::from_unix(tz.from_local_datetime(&local).earliest().map_or(0, |t| t.timestamp()))
}

/// The `k`-th period of kind `every` counted from `anchor`: periods follow
/// one another from the service's first day, so a year of service holds
/// exactly 365 days, 52 weeks, 12 months, 4 quarters, 1 year. Months are
/// counted from the anchor each time, so the 31st stays the month's last day.
fn period_start(every: Every, anchor: NaiveDate, k: u32) -> Option<NaiveDate> {
    match every {
        Every::Day => anchor.checked_add_days(Days::new(u64::from(k))),
        Every::Week => anchor.checked_add_days(Days::new(7 * u64::from(k))),
        Every::Month => anchor.checked_add_months(Months::new(k)),
        Every::Quarter => anchor.checked_add_months(Months::new(3 * k)),
        Every::Year => anchor.checked_add_months(Months::new(12 * k)),
    }
}

/// The periods of kind `every` that tile `[from, end)` from `from`; a last
/// period shorter than half its kind is not a window of its own but joins
/// the one before, so no window is a stub.
fn periods(every: Every, from: NaiveDate, end: NaiveDate) -> Vec<(NaiveDate, NaiveDate)> {
    let mut out: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for k in 0.. {
        let (Some(a), Some(b)) = (period_start(every, from, k), period_start(every, from, k + 1)) else {
            break;
        };
        if a >= end {
            break;
        }
        let clipped = b.min(end);
        let short = (clipped - a).num_days() * 2 < (b - a).num_days();
        match out.last_mut() {
            Some(last) if short => last.1 = clipped,
            _ => out.push((a, clipped)),
        }
    }
    out
}

/// Every window of `cycle` (the item's `index`-th) within `period`.
///
/// A cycle of `times` per period splits each period (day, week, month,
/// quarter, year, counted from the service's first day) into that many
/// equal windows; a task is due within its window. "Daily during filing
/// periods" keeps only the days inside them.
pub fn windows(
    item_seq: u32,
    index: usize,
    cycle: &Inspection,
    period: ServicePeriod,
    filing: &[FilingPeriod],
    tz: Tz,
) -> Vec<Window> {
    let times = cycle.times.max(1);
    let end = period.to + Days::new(1);
    let mut out = Vec::new();
    for (from_day, to_day) in periods(cycle.every, period.from, end) {
        let in_filing = cycle.during.as_ref().is_none_or(|set| {
            filing.iter().any(|f| &f.set == set && f.period.from <= from_day && from_day <= f.period.to)
        });
        if !in_filing {
            continue;
        }
        let (a, b) = (midnight(tz, from_day).unix(), midnight(tz, to_day).unix());
        let step = (b - a) / i64::from(times);
        for k in 0..times {
            let from = a + step * i64::from(k);
            let to = if k + 1 == times { b } else { from + step };
            let class = cycle.device_class.as_deref().unwrap_or("-");
            out.push(Window {
                // The period kind is part of the key: a weekly and a
                // monthly window can start on the same day.
                key: format!("{item_seq}/{index}/{:?}/{class}/{from_day}/{k}", cycle.every),
                cycle: index,
                slot: cycle.slots.get(k as usize).cloned(),
                from: Timestamp::from_unix(from),
                to: Timestamp::from_unix(to),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("date")
    }

    #[test]
    fn a_backdated_record_is_late_until_approved() {
        let t = |s: i64| Timestamp::from_unix(s);
        let day = 86_400;
        // A window of May; recorded in June with a May date: backdated.
        assert!(recorded_late(t(10 * day), t(40 * day), t(31 * day), day));
        // Recorded within the window, an hour after the claimed time: fine.
        assert!(!recorded_late(t(10 * day), t(10 * day + 3600), t(31 * day), day));
        // Within the window, but claimed two days before the recording.
        assert!(recorded_late(t(10 * day), t(12 * day), t(31 * day), day));
        // Done after the window and said so: late, but not a backdated record.
        assert!(!recorded_late(t(32 * day), t(32 * day), t(31 * day), day));

        let mut task = Task {
            id: Uuid::nil(),
            schedule_key: "k".into(),
            line_item_id: Uuid::nil(),
            agency: "a".into(),
            cycle: 0,
            every: "month".into(),
            device_class: None,
            slot: None,
            due_from: t(0),
            due_to: t(31 * day),
            completed_at: Some(t(10 * day)),
            completed_by: None,
            recorded_at: Some(t(40 * day)),
            recorded_late: true,
            approved_by: None,
            approved_at: None,
            findings: None,
            checklist: Vec::new(),
            attachments: Vec::new(),
        };
        assert_eq!(task.status(t(41 * day), t(0)), InspectionStatus::Late);
        // As May's report saw it on 06-01: missed; the record came later.
        assert_eq!(task.status_as_of(t(31 * day), t(0)), InspectionStatus::Missed);
        task.approved_at = Some(t(41 * day));
        assert_eq!(task.status(t(41 * day), t(0)), InspectionStatus::Done, "approved: on time");
        assert_eq!(task.status_as_of(t(40 * day), t(0)), InspectionStatus::Late, "not approved yet then");
    }

    fn cycle(every: Every, times: u32) -> Inspection {
        Inspection {
            every,
            times,
            slots: Vec::new(),
            device_class: None,
            during: None,
            source: String::new(),
        }
    }

    const SH: Tz = chrono_tz::Asia::Shanghai;

    fn local(ts: Timestamp) -> String {
        ts.to_datetime().with_timezone(&SH).format("%Y-%m-%d %H:%M").to_string()
    }

    #[test]
    fn weekly_windows_count_from_the_first_day_and_a_short_last_week_joins_the_one_before() {
        // Seventeen days: two weeks from Friday 05-22, then three days, too
        // short to stand alone (under half a week), added to the second.
        let period = ServicePeriod { from: d(2026, 5, 22), to: d(2026, 6, 7) };
        let w = windows(1, 0, &cycle(Every::Week, 1), period, &[], SH);
        let spans: Vec<(String, String)> = w.iter().map(|w| (local(w.from), local(w.to))).collect();
        assert_eq!(
            spans,
            vec![
                ("2026-05-22 00:00".into(), "2026-05-29 00:00".into()),
                ("2026-05-29 00:00".into(), "2026-06-08 00:00".into()),
            ]
        );
        // Four more days make a window of their own (at least half a week).
        let period = ServicePeriod { from: d(2026, 5, 22), to: d(2026, 6, 8) };
        assert_eq!(windows(1, 0, &cycle(Every::Week, 1), period, &[], SH).len(), 3);
    }

    #[test]
    fn a_year_of_service_has_the_contracts_counts() {
        let year = ServicePeriod { from: d(2026, 5, 22), to: d(2027, 5, 21) };
        let count = |every, times| windows(1, 0, &cycle(every, times), year, &[], SH).len();
        assert_eq!(count(Every::Day, 1), 365);
        assert_eq!(count(Every::Day, 2), 730);
        assert_eq!(count(Every::Week, 1), 52);
        assert_eq!(count(Every::Month, 1), 12);
        assert_eq!(count(Every::Month, 4), 48);
        assert_eq!(count(Every::Quarter, 1), 4);
        assert_eq!(count(Every::Year, 2), 2);
        // Every window is whole: they tile the year without gaps.
        let months = windows(1, 0, &cycle(Every::Month, 1), year, &[], SH);
        assert_eq!(local(months[0].from), "2026-05-22 00:00");
        assert_eq!(local(months[11].to), "2027-05-22 00:00");
        assert!(months.windows(2).all(|p| p[0].to == p[1].from));
        // A service starting on the 31st keeps the month's last day.
        let from31 = ServicePeriod { from: d(2027, 1, 31), to: d(2027, 4, 29) };
        let starts: Vec<String> =
            windows(1, 0, &cycle(Every::Month, 1), from31, &[], SH).iter().map(|w| local(w.from)).collect();
        assert_eq!(starts, ["2027-01-31 00:00", "2027-02-28 00:00", "2027-03-31 00:00"]);
    }

    #[test]
    fn twice_daily_has_morning_and_evening_and_monthly_n_splits_the_month() {
        let period = ServicePeriod { from: d(2026, 6, 1), to: d(2026, 6, 30) };
        let mut c = cycle(Every::Day, 2);
        c.slots = vec!["morning".into(), "evening".into()];
        let w = windows(38, 0, &c, period, &[], SH);
        assert_eq!(w.len(), 60);
        assert_eq!(
            (local(w[0].from), local(w[0].to), w[0].slot.as_deref()),
            ("2026-06-01 00:00".into(), "2026-06-01 12:00".into(), Some("morning"))
        );
        assert_eq!(w[1].slot.as_deref(), Some("evening"));
        let m = windows(39, 0, &cycle(Every::Month, 4), period, &[], SH);
        assert_eq!(m.len(), 4);
        assert_eq!(local(m[3].to), "2026-07-01 00:00");
        assert!(m.windows(2).all(|p| p[0].to == p[1].from), "back to back");
        let keys: std::collections::BTreeSet<_> = m.iter().map(|w| w.key.clone()).collect();
        assert_eq!(keys.len(), 4);
    }

    #[test]
    fn filing_period_days_only() {
        let period = ServicePeriod { from: d(2026, 7, 1), to: d(2026, 8, 31) };
        let filing = vec![FilingPeriod {
            set: "budget".into(),
            period: ServicePeriod { from: d(2026, 8, 10), to: d(2026, 8, 14) },
            note: None,
        }];
        let mut c = cycle(Every::Day, 1);
        c.during = Some("budget".into());
        let w = windows(22, 1, &c, period, &filing, SH);
        assert_eq!(w.len(), 5);
        assert_eq!(local(w[0].from), "2026-08-10 00:00");
        let q = windows(
            30,
            1,
            &cycle(Every::Quarter, 1),
            ServicePeriod { from: d(2026, 5, 22), to: d(2027, 5, 21) },
            &[],
            SH,
        );
        assert_eq!(
            q.iter().map(|w| local(w.from)).collect::<Vec<_>>(),
            ["2026-05-22 00:00", "2026-08-22 00:00", "2026-11-22 00:00", "2027-02-22 00:00"]
        );
    }
}
