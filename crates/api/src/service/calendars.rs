//! Service windows and their holiday years: what the data covers, and a
//! year added or replaced while the service runs (TOML as in
//! `config/calendars/`, or an iCalendar feed of 休 and 班 days). Every
//! instance rebuilds its calendars when the stored years change, and one of
//! them moves the deadlines of the clocks that read holidays.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use catalog::{CalendarInputs, HolidaySource, HolidayYear, parse_holiday_year};
use chrono::{Datelike, Days, NaiveDate};
use sea_orm::TransactionTrait;
use sla_engine::CalendarSet;
use uuid::Uuid;

use super::{Error, Result};
use crate::domain::access::{Caller, Role};
use crate::domain::message::Invalid;
use crate::state::AppState;
use crate::store;

/// The form an uploaded year comes in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum YearFormat {
    /// `config/calendars/cn-2026.toml`'s form.
    Toml,
    /// An iCalendar feed: all-day events named 休 (holiday) or 班 (make-up workday).
    ICalendar,
}

/// A period some line item serves whose dates have no holiday data, for a
/// window that follows holidays.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Uncovered {
    /// The holiday region.
    pub region: String,
    /// First date without data.
    pub from: NaiveDate,
    /// Last date without data.
    pub to: NaiveDate,
    /// The line items (by 序号) served on those dates in such windows.
    pub items: Vec<u32>,
}

/// The periods the catalog's items serve in windows that follow holidays
/// and that `calendars` has no holiday data for.
pub fn uncovered(catalog: &catalog::Catalog, calendars: &CalendarSet) -> Vec<Uncovered> {
    let mut by_range: BTreeMap<(String, NaiveDate, NaiveDate), Vec<u32>> = BTreeMap::new();
    for item in &catalog.items {
        let mut names: Vec<&str> = item.targets.iter().map(|t| t.rule.calendar.as_str()).collect();
        names.extend(item.service_window.as_deref());
        names.sort_unstable();
        names.dedup();
        for name in names {
            let Some(cal) = calendars.get(name) else { continue };
            let Some(region) = cal.window().holidays.clone() else { continue };
            let p = item.service_period;
            for (from, to) in catalog::uncovered(p.from, p.to, cal.holiday_coverage()) {
                let items = by_range.entry((region.clone(), from, to)).or_default();
                if !items.contains(&item.seq) {
                    items.push(item.seq);
                }
            }
        }
    }
    // One line per region and stretch: merge the items of overlapping stretches.
    let mut out: Vec<Uncovered> = Vec::new();
    for ((region, from, to), items) in by_range {
        match out.last_mut() {
            Some(last) if last.region == region && from <= last.to.succ_opt().unwrap_or(last.to) => {
                last.to = last.to.max(to);
                for i in items {
                    if !last.items.contains(&i) {
                        last.items.push(i);
                    }
                }
                last.items.sort_unstable();
            }
            _ => out.push(Uncovered { region, from, to, items }),
        }
    }
    out
}

/// The years missing from the holiday data, named for people: `cn 2027`.
pub fn missing_years(gaps: &[Uncovered]) -> Vec<String> {
    let mut years: Vec<String> = gaps
        .iter()
        .flat_map(|g| (g.from.year()..=g.to.year()).map(move |y| format!("{} {y}", g.region)))
        .collect();
    years.dedup();
    years
}

/// The holiday years the service runs on: the configuration's and the stored ones.
pub async fn years(state: &AppState) -> Result<Vec<HolidayYear>> {
    Ok(inputs(state).await?.years().cloned().collect())
}

/// The configuration's calendar inputs with the stored years added.
async fn inputs(state: &AppState) -> Result<CalendarInputs> {
    let mut inputs = state.calendar_base.clone();
    inputs.add_years(stored(state).await?);
    Ok(inputs)
}

/// Every stored year, parsed (a stored year that no longer parses is a bug, not input).
async fn stored(state: &AppState) -> Result<Vec<HolidayYear>> {
    store::holidays::all(&state.db)
        .await?
        .into_iter()
        .map(|(region, year, text)| {
            parse_holiday_year(&format!("stored {region} {year}"), &text, HolidaySource::Database)
                .map_err(Error::internal)
        })
        .collect()
}

/// What the running clocks' standing depends on besides their own history:
/// the service windows, every holiday year, the alert thresholds (of the
/// contract and each line item) and this build's version (its business-time
/// arithmetic). Recorded after a start-up recomputation; while it stays the
/// same, a start needs none.
async fn clock_inputs_fingerprint(state: &AppState) -> Result<String> {
    let inputs = inputs(state).await?;
    Ok(fingerprint_of(state, Some(&inputs)))
}

/// The fingerprint of the windows, the thresholds, this build and, when
/// given, the holiday years of `inputs`.
fn fingerprint_of(state: &AppState, years_of: Option<&CalendarInputs>) -> String {
    use sha2::{Digest, Sha256};
    let mut hash = Sha256::new();
    hash.update(env!("CARGO_PKG_VERSION"));
    hash.update(format!("{:?}", state.calendar_base.windows()));
    for y in years_of.into_iter().flat_map(CalendarInputs::years) {
        hash.update(format!("{} {} {}", y.region, y.year, y.text));
    }
    hash.update(format!("{:?}", state.catalog.settings.alerts));
    for item in &state.catalog.items {
        hash.update(format!("{} {:?}", item.seq, item.alert_warn));
    }
    format!("{:x}", hash.finalize())
}

const CLOCK_INPUTS: &str = "clock_inputs";

/// What the running clocks were last computed on, kept beside the
/// fingerprint: the inputs other than holidays (hashed) and the holiday
/// schedules themselves, so that a change of holidays alone is known by its
/// first day.
const CLOCK_BASIS: &str = "clock_inputs_basis";

#[derive(serde::Serialize, serde::Deserialize)]
struct Basis {
    rest: String,
    holidays: BTreeMap<String, sla_engine::HolidaySchedule>,
}

/// Which running clocks new calendars may move.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Affected {
    /// Every one: more than the holidays changed, or nothing was recorded.
    Every,
    /// Those whose deadline or next instant is at or after this instant
    /// (the earliest the first day treated otherwise begins in any
    /// timezone, 14 hours before its midnight UTC), or that have no deadline.
    From(sla_engine::Timestamp),
    /// None: the holidays are the same day for day.
    Nothing,
}

/// The fingerprint of the clocks' inputs when it differs from the one
/// recorded with the last recomputation (the running clocks may then stand wrong).
pub async fn clock_inputs_changed(state: &AppState) -> Result<Option<String>> {
    let now = clock_inputs_fingerprint(state).await?;
    let recorded = store::facts::get(&state.db, CLOCK_INPUTS).await?;
    Ok((recorded.as_deref() != Some(now.as_str())).then_some(now))
}

/// Record that every running clock now stands on `calendars` (and, when
/// given, on the inputs of `fingerprint`); for the walk of holiday version
/// `walk`, only while its claim stands. Whether it was recorded.
pub async fn record_clock_inputs(
    state: &AppState,
    fingerprint: Option<&str>,
    calendars: &CalendarSet,
    walk: Option<i64>,
) -> Result<bool> {
    let basis = Basis { rest: fingerprint_of(state, None), holidays: calendars.schedules().clone() };
    let basis = serde_json::to_string(&basis).map_err(Error::internal)?;
    let txn = state.db.begin().await?;
    // A walk records only while its claim stands, and holds it until this
    // commits: a newer walk, whose start forgets the basis, comes after.
    if let Some(version) = walk
        && store::holidays::claimed_recompute_held(&txn).await? != version
    {
        return Ok(false);
    }
    store::facts::set(&txn, CLOCK_BASIS, &basis).await?;
    if let Some(fingerprint) = fingerprint {
        store::facts::set(&txn, CLOCK_INPUTS, fingerprint).await?;
    }
    txn.commit().await?;
    Ok(true)
}

/// Which running clocks `calendars` may move, against the basis recorded
/// with the last recomputation; the basis is then forgotten until the walk
/// that begins now records the next one, so that a walk that stops midway
/// (or one that overlaps it) leaves the next one to look at every clock.
pub async fn begin_walk(state: &AppState, calendars: &CalendarSet) -> Result<Affected> {
    let affected = affected(state, calendars).await?;
    store::facts::delete(&state.db, CLOCK_BASIS).await?;
    Ok(affected)
}

/// Whether a recomputation newer than that of calendar version `v` was
/// claimed since (on any instance): the walk for `v` then gives way.
pub async fn superseded(state: &AppState, v: i64) -> Result<bool> {
    Ok(store::holidays::claimed_recompute(&state.db).await? > v)
}

async fn affected(state: &AppState, calendars: &CalendarSet) -> Result<Affected> {
    let recorded = store::facts::get(&state.db, CLOCK_BASIS).await?;
    let Some(basis) = recorded.and_then(|text| serde_json::from_str::<Basis>(&text).ok()) else {
        return Ok(Affected::Every);
    };
    if basis.rest != fingerprint_of(state, None) {
        return Ok(Affected::Every);
    }
    let Some(day) = calendars.first_holiday_difference(&basis.holidays) else {
        return Ok(Affected::Nothing);
    };
    let begins = day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc().timestamp() - 14 * 3600;
    // A day that may have begun already may undo a threshold announced on
    // it, even one of a clock whose deadline came before it: then every
    // clock is looked at, as after any other change.
    Ok(if state.clock.now().unix() >= begins {
        Affected::Every
    } else {
        Affected::From(sla_engine::Timestamp::from_unix(begins))
    })
}

/// Rebuild the calendars when the stored years changed since they were
/// built (on any instance); true when they were.
pub async fn refresh(state: &AppState) -> Result<bool> {
    let version = store::holidays::version(&state.db).await?;
    if version == state.calendar_version.load(Ordering::SeqCst) {
        return Ok(false);
    }
    let built = inputs(state).await?.build().map_err(Error::internal)?;
    state.calendars.store(Arc::new(built));
    state.calendar_version.store(version, Ordering::SeqCst);
    tracing::info!(version, "holiday years changed: calendars rebuilt");
    Ok(true)
}

/// Only admins change holiday data.
pub fn may_change(caller: &Caller) -> Result<()> {
    if caller.role == Role::Admin { Ok(()) } else { Err(Error::forbidden("only admins change holiday data")) }
}

/// Add or replace one year of a region's holidays (admins): checked as the
/// configuration's files are, stored, and in force in this instance at once
/// (in the others within `calendar_poll_seconds`).
pub async fn put_year(
    state: &AppState,
    caller: &Caller,
    region: &str,
    year: i32,
    text: &str,
    format: YearFormat,
) -> Result<HolidayYear> {
    may_change(caller)?;
    let toml = match format {
        YearFormat::Toml => text.to_owned(),
        YearFormat::ICalendar => {
            let mut years = from_ical(text, region)?;
            years.remove(&year).ok_or_else(|| {
                Invalid::field(
                    "body",
                    format!("日历中没有 {year} 年的休、班日"),
                    format!("the calendar has no 休 or 班 day in {year}"),
                )
            })?
        }
    };
    store_year(state, Some(caller.id), region, year, &toml).await
}

/// Check and store one year's TOML for `region` and `year`, and put it in force here.
pub async fn store_year(
    state: &AppState,
    by: Option<Uuid>,
    region: &str,
    year: i32,
    toml: &str,
) -> Result<HolidayYear> {
    let parsed =
        parse_holiday_year(&format!("{region}-{year}"), toml, HolidaySource::Database).map_err(|e| {
            let zh = format!("节假日数据有误：{e}");
            Invalid::field("body", zh, e.to_string())
        })?;
    if parsed.region != region || parsed.year != year {
        return Err(Invalid::field(
            "body",
            format!("文件写的是 {} {}，地址是 {region} {year}", parsed.region, parsed.year),
            format!("the file is for {} {}, the address for {region} {year}", parsed.region, parsed.year),
        )
        .into());
    }
    // The windows must still build with it (every date in its year, no clash).
    let mut check = inputs(state).await?;
    check.add_years([parsed.clone()]);
    check.build().map_err(|e| Invalid::field("body", format!("节假日数据有误：{e}"), e.to_string()))?;
    store::holidays::put(&state.db, region, year, toml, by, state.clock.now()).await?;
    refresh(state).await?;
    // The worker's recomputation moves the deadlines of the clocks this changes.
    state.recompute_wake.notify_one();
    tracing::info!(region, year, "holiday year stored");
    Ok(parsed)
}

/// The years an iCalendar feed speaks of, each as the TOML of a yearly file
/// for `region`: all-day events whose name or category says 休 (holiday) or
/// 班 (make-up workday); events that say neither are not holiday data and are left out.
pub fn from_ical(text: &str, region: &str) -> Result<BTreeMap<i32, String>> {
    let calendar: icalendar::Calendar = text.parse().map_err(|e: String| {
        Invalid::field("body", format!("不是 iCalendar 文件：{e}"), format!("not an iCalendar file: {e}"))
    })?;
    let mut holidays: BTreeMap<i32, Vec<(String, NaiveDate, NaiveDate)>> = BTreeMap::new();
    let mut workdays: BTreeMap<i32, Vec<(String, NaiveDate)>> = BTreeMap::new();
    for event in calendar.events() {
        let Some(day) = IcalDay::of(event) else { continue };
        let mut d = day.from;
        while d <= day.to {
            // Split at each year's end: one file per year.
            let year_end = NaiveDate::from_ymd_opt(d.year(), 12, 31).unwrap_or(d).min(day.to);
            if day.workday {
                let mut w = d;
                while w <= year_end {
                    workdays.entry(w.year()).or_default().push((day.name.clone(), w));
                    w = w + Days::new(1);
                }
            } else {
                holidays.entry(d.year()).or_default().push((day.name.clone(), d, year_end));
            }
            d = year_end + Days::new(1);
        }
    }
    let years: std::collections::BTreeSet<i32> = holidays.keys().chain(workdays.keys()).copied().collect();
    Ok(years
        .into_iter()
        .map(|y| {
            let mut toml = format!("region = {region:?}\nyear = {y}\n");
            for (name, from, to) in holidays.get(&y).into_iter().flatten() {
                toml += &format!("\n[[holiday]]\nname = {name:?}\nfrom = \"{from}\"\nto = \"{to}\"\n");
            }
            for (name, date) in workdays.get(&y).into_iter().flatten() {
                toml += &format!("\n[[workday]]\ndate = \"{date}\"\nname = {name:?}\n");
            }
            (y, toml)
        })
        .collect())
}

/// One all-day event of a holiday feed.
struct IcalDay {
    name: String,
    workday: bool,
    from: NaiveDate,
    to: NaiveDate,
}

impl IcalDay {
    fn of(event: &icalendar::Event) -> Option<Self> {
        use icalendar::{Component, DatePerhapsTime};
        let summary = event.get_summary().unwrap_or("").trim().to_owned();
        let category = event.property_value("CATEGORIES").unwrap_or("").to_owned();
        let says = |marks: &[&str]| marks.iter().any(|m| summary.contains(m) || category.contains(m));
        let workday = says(&["班", "补班", "workday"]);
        if !workday && !says(&["休", "假", "holiday"]) {
            return None;
        }
        let DatePerhapsTime::Date(from) = event.get_start()? else { return None };
        // DTEND of an all-day event is exclusive; one day when it is absent.
        let to = match event.get_end() {
            Some(DatePerhapsTime::Date(end)) if end > from => end.pred_opt()?,
            _ => from,
        };
        let name = summary
            .replace(['（', '）', '(', ')'], " ")
            .replace("补班", "")
            .replace(['休', '班'], "")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        let name = if name.is_empty() { summary } else { name };
        Some(Self { name, workday, from, to })
    }
}

/// The deadlines moved by a change of holidays: `(ticket, metric, from, to)`.
pub type Moved = (Uuid, String, Option<sla_engine::Timestamp>, Option<sla_engine::Timestamp>);

/// Claim the recomputation for the calendars' current version: the
/// version, for one instance only.
pub async fn claim_recompute(state: &AppState) -> Result<Option<i64>> {
    let v = state.calendar_version.load(Ordering::SeqCst);
    Ok((v > 0 && store::holidays::claim_recompute(&state.db, v).await?).then_some(v))
}
