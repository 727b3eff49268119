//! Monthly SLA compliance: for a period, per line item, per agency and for
//! the whole contract, how each metric's clocks stood at the period's end.
//!
//! A report is read "as of" one instant: the period's end, or now when the
//! period has not ended. A clock counts where it stood then: met on time,
//! breached (late or still open past its target), or still running, which is
//! not met. An inspection window counts once it closed (or was done): on
//! time, late or missed; a window still open then is open, neither due nor
//! missed. Time to meet is the business time a met clock took.
//!
//! The files people open are written from this one report by `export`
//! (the tables), `csv` and `xlsx`: the API, the command line and the
//! monthly email all use them.

use std::collections::BTreeMap;

mod csv;
mod export;
mod trend;
mod xlsx;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, TimeZone};
use serde::Serialize;
use sla_engine::{ClockState, Timestamp};
use utoipa::ToSchema;
use uuid::Uuid;

pub use self::csv::{to_csv, to_csv_view};
pub use export::{Lang, View, local_time, metric_order, scope_text};
pub use trend::contract_by_month;
pub use xlsx::to_xlsx;

use super::{Error, Result};
use crate::domain::access::{Caller, Role};
use crate::domain::inspections::InspectionStatus;
use crate::domain::ticket::Ticket;
use crate::state::AppState;
use crate::store;

/// The local dates a report covers, `[from, to)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    /// First day.
    pub from: NaiveDate,
    /// Day after the last.
    pub to: NaiveDate,
}

impl Period {
    /// A calendar month written `YYYY-MM`.
    pub fn month(text: &str) -> Result<Self, String> {
        let bad = || format!("month \"{text}\" is not like 2026-06");
        let (y, m) = text.split_once('-').ok_or_else(bad)?;
        let (y, m): (i32, u32) = (y.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        let from = NaiveDate::from_ymd_opt(y, m, 1).ok_or_else(bad)?;
        let to =
            if m == 12 { NaiveDate::from_ymd_opt(y + 1, 1, 1) } else { NaiveDate::from_ymd_opt(y, m + 1, 1) }
                .ok_or_else(bad)?;
        Ok(Self { from, to })
    }
}

/// How one metric fared in a group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct MetricFigures {
    /// Met within target.
    pub met: u32,
    /// Missed: met late, or past target and not met.
    pub breached: u32,
    /// Still counting (or paused) within target at the period's end.
    pub running: u32,
    /// `met / (met + breached)` in percent; absent when nothing was decided.
    pub attainment_percent: Option<f64>,
    /// Mean business seconds to meet, over met clocks (on time or late).
    pub mean_seconds_to_meet: Option<f64>,
    /// 90th percentile (nearest rank) of business seconds to meet.
    pub p90_seconds_to_meet: Option<u64>,
}

/// Inspection windows that close within the period, as they stood at `as_of`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct InspectionFigures {
    /// Decided by `as_of`: windows that had closed, and those done before
    /// they closed. `due = on_time + late + missed`.
    pub due: u32,
    /// Done within their window (and recorded in time, or approved).
    pub on_time: u32,
    /// Done after their window, or recorded late and not approved.
    pub late: u32,
    /// Closed undone by `as_of` (as recorded by then).
    pub missed: u32,
    /// Still open at `as_of` and not done yet (未到期): they close later in
    /// the period, so they are not due yet and not missed. Only a period not
    /// yet over has any.
    pub open: u32,
    /// Of those done, how many were recorded late (after their window
    /// closed, or long after the time they give), approved or not.
    pub recorded_late: u32,
    /// Of those recorded late, how many a manager approved (they count by
    /// the time they give).
    pub approved: u32,
    /// Closed undone before the service went live: not due, not missed.
    pub before_go_live: u32,
}

/// One group's figures: an item, an agency, or the whole contract.
#[derive(Clone, Debug, Default, PartialEq, Serialize, ToSchema)]
pub struct GroupReport {
    /// Inspections due in the period and what became of them.
    pub inspections: InspectionFigures,
    /// Tickets by severity.
    pub tickets_by_severity: BTreeMap<String, u32>,
    /// Tickets by current state.
    pub tickets_by_state: BTreeMap<String, u32>,
    /// Figures per metric.
    pub metrics: BTreeMap<String, MetricFigures>,
}

/// A ticket that missed a target in the period.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct BreachedTicket {
    /// Ticket id.
    pub id: Uuid,
    /// Its number.
    pub number: String,
    /// Its title, as filed (free text: one line, but written by a person).
    pub title: String,
    /// `general`, `major` or `critical`.
    pub severity: String,
    /// When the fault was reported, in the contract's timezone.
    pub reported_at: DateTime<FixedOffset>,
    /// Line item 序号.
    pub line_item_seq: u32,
    /// Agency key.
    pub agency: String,
    /// The metrics it missed.
    pub metrics: Vec<String>,
    /// The ticket's page in the web console (`{public_base_url}/tickets/{id}`);
    /// null when no public base URL is configured.
    pub link: Option<String>,
}

/// Who a report covers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct ReportScope {
    /// The agencies it is narrowed to (the reader's own, and the one asked
    /// for), by name; empty for every agency of the contract.
    pub agencies: Vec<String>,
    /// The line item it is narrowed to (序号); null for every line item.
    pub line_item: Option<u32>,
}

/// A line item as reports name it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct LineItemName {
    /// Its name in the contract's annex.
    pub name: String,
    /// Its agency's key.
    pub agency: String,
}

/// A metric's names for people.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct MetricName {
    /// 中文: `响应`, `到场`, `恢复`, `遏制`, ….
    pub zh: String,
    /// English.
    pub en: String,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct SlaReport {
    /// The contract's name.
    pub contract_name: String,
    /// Who it covers.
    pub scope: ReportScope,
    /// First day covered.
    pub from: NaiveDate,
    /// Last day covered.
    pub to: NaiveDate,
    /// The instant the report is read at, in the contract's timezone (with
    /// its offset): the period's end, or now if the period has not ended.
    /// Clocks count where they stood then; inspection windows still open
    /// then count as `open`.
    pub as_of: DateTime<FixedOffset>,
    /// The whole contract (within the caller's scope).
    pub contract: GroupReport,
    /// Per agency key.
    pub agencies: BTreeMap<String, GroupReport>,
    /// Agency key → name, for the agencies in the report.
    pub agency_names: BTreeMap<String, String>,
    /// Per line item 序号 (JSON object keys are text: `"1"`, `"2"`, …).
    #[schema(value_type = BTreeMap<String, GroupReport>)]
    pub line_items: BTreeMap<u32, GroupReport>,
    /// Line item 序号 → its name and agency, for the items in the report.
    #[schema(value_type = BTreeMap<String, LineItemName>)]
    pub line_item_names: BTreeMap<u32, LineItemName>,
    /// Metric → its names, for the metrics in the report.
    pub metric_names: BTreeMap<String, MetricName>,
    /// Tickets that missed a target: the first 1,000 by report time (a
    /// year at a province's scale has hundreds of thousands, which no
    /// reader scrolls); `breached_total` counts them all.
    pub breached_tickets: Vec<BreachedTicket>,
    /// How many tickets missed a target, those not listed included.
    pub breached_total: u32,
    /// True when some clock of the report was reckoned over dates without
    /// holiday data (its 5x8 or 6x8 deadline may move once the year is loaded).
    pub beyond_holiday_data: bool,
}

/// One metric's tally in a group.
#[derive(Default)]
struct Tally {
    met: u32,
    breached: u32,
    running: u32,
    /// Business seconds to meet, summed over met clocks, and how many.
    seconds: u64,
    timed: u32,
    /// Each met clock's business seconds, kept by line item only (4 bytes a
    /// clock): an agency's and the contract's percentile are taken over
    /// their items' lists, so that a year's report holds each once.
    times: Vec<u32>,
}

#[derive(Default)]
struct Acc {
    inspections: InspectionFigures,
    by_severity: BTreeMap<String, u32>,
    by_state: BTreeMap<String, u32>,
    metrics: BTreeMap<String, Tally>,
}

impl Acc {
    fn count_ticket(&mut self, t: &Ticket, outcomes: &[(String, Outcome)], keep_times: bool) {
        *self.by_severity.entry(t.severity.as_str().to_owned()).or_default() += 1;
        *self.by_state.entry(t.state.as_str().to_owned()).or_default() += 1;
        for (metric, (met, breached, running, time)) in outcomes {
            let e = self.metrics.entry(metric.clone()).or_default();
            e.met += met;
            e.breached += breached;
            e.running += running;
            if let Some(seconds) = time {
                e.seconds += seconds;
                e.timed += 1;
                if keep_times {
                    e.times.push(u32::try_from(*seconds).unwrap_or(u32::MAX));
                }
            }
        }
    }

    /// The group's figures, with each metric's met clocks' times as
    /// `times` gives them (its own for a line item, its items' for an
    /// agency or the contract).
    fn finish(self, times: impl Fn(&str) -> Vec<u32>) -> GroupReport {
        let metrics = self
            .metrics
            .into_iter()
            .map(|(m, t)| {
                let decided = t.met + t.breached;
                let figures = MetricFigures {
                    met: t.met,
                    breached: t.breached,
                    running: t.running,
                    attainment_percent: (decided > 0).then(|| f64::from(t.met) * 100.0 / f64::from(decided)),
                    mean_seconds_to_meet: (t.timed > 0).then(|| t.seconds as f64 / f64::from(t.timed)),
                    p90_seconds_to_meet: p90(&mut times(&m)),
                };
                (m, figures)
            })
            .collect();
        GroupReport {
            inspections: self.inspections,
            tickets_by_severity: self.by_severity,
            tickets_by_state: self.by_state,
            metrics,
        }
    }
}

/// The 90th percentile by nearest rank (without sorting the whole list).
fn p90(times: &mut [u32]) -> Option<u64> {
    if times.is_empty() {
        return None;
    }
    let rank = (times.len() * 9).div_ceil(10).max(1);
    let (_, nth, _) = times.select_nth_unstable(rank - 1);
    Some(u64::from(*nth))
}

/// Who may read reports: managers, engineers and admins; an agency manager sees only their agency.
pub fn may_read(caller: &Caller) -> bool {
    caller.role != Role::AgencyUser
}

/// Where a report's records come from: the period's instants and the scope.
struct Scope<'a> {
    start: Timestamp,
    end: Timestamp,
    as_of: Timestamp,
    agencies: Vec<&'a str>,
    line_item: Option<Uuid>,
}

/// The three levels every record is counted at.
#[derive(Default)]
struct Groups {
    contract: Acc,
    agencies: BTreeMap<String, Acc>,
    items: BTreeMap<u32, Acc>,
}

impl Groups {
    /// The accumulators a record of `agency` and item `seq` counts in.
    fn of(&mut self, agency: &str, seq: u32) -> [&mut Acc; 3] {
        [
            &mut self.contract,
            self.agencies.entry(agency.to_owned()).or_default(),
            self.items.entry(seq).or_default(),
        ]
    }

    /// Count a ticket's clocks at every level (their times at its line item's only).
    fn count_ticket(&mut self, t: &Ticket, seq: u32, outcomes: &[(String, Outcome)]) {
        let [contract, agency, item] = self.of(&t.agency, seq);
        contract.count_ticket(t, outcomes, false);
        agency.count_ticket(t, outcomes, false);
        item.count_ticket(t, outcomes, true);
    }

    /// Each level's figures: the contract's, per agency and per line item.
    fn finish(
        mut self,
        agency_of: impl Fn(u32) -> Option<String>,
    ) -> (GroupReport, BTreeMap<String, GroupReport>, BTreeMap<u32, GroupReport>) {
        let mut times: BTreeMap<(u32, String), Vec<u32>> = BTreeMap::new();
        for (seq, acc) in &mut self.items {
            for (metric, tally) in &mut acc.metrics {
                times.insert((*seq, metric.clone()), std::mem::take(&mut tally.times));
            }
        }
        let gather = |item: Option<u32>, agency: Option<&str>, metric: &str| -> Vec<u32> {
            times
                .iter()
                .filter(|((seq, m), _)| {
                    m == metric
                        && item.is_none_or(|i| i == *seq)
                        && agency.is_none_or(|a| agency_of(*seq).as_deref() == Some(a))
                })
                .flat_map(|(_, t)| t.iter().copied())
                .collect()
        };
        let items =
            self.items.into_iter().map(|(seq, acc)| (seq, acc.finish(|m| gather(Some(seq), None, m))));
        let items = items.collect();
        let agencies =
            self.agencies.into_iter().map(|(k, acc)| (k.clone(), acc.finish(|m| gather(None, Some(&k), m))));
        let agencies = agencies.collect();
        let contract = self.contract.finish(|m| gather(None, None, m));
        (contract, agencies, items)
    }
}

/// The report for `period`, within the caller's scope, optionally narrowed to an agency or a line item.
pub async fn sla(
    state: &AppState,
    caller: &Caller,
    period: Period,
    agency: Option<&str>,
    line_item: Option<Uuid>,
) -> Result<SlaReport> {
    if !may_read(caller) {
        return Err(Error::forbidden("reports are for managers, engineers and admins"));
    }
    let tz = state.catalog.settings.timezone;
    let instant = |d: NaiveDate| {
        Timestamp::from_unix(
            tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
                .earliest()
                .map_or(0, |t| t.timestamp()),
        )
    };
    let (start, end) = (instant(period.from), instant(period.to));
    let as_of = end.min(state.clock.now());
    // An agency named by key or exact name; one that does not exist is refused.
    let agency = agency.map(|a| state.agency_key(a)).transpose()?;
    let agency = agency.as_deref();
    let item_seq = match line_item {
        Some(id) => Some(
            state
                .item(id)
                .map(|i| i.seq)
                .ok_or_else(|| Error::BadRequest("line_item: no such line item".into()))?,
        ),
        None => None,
    };
    let scope =
        Scope { start, end, as_of, agencies: caller.scope().into_iter().chain(agency).collect(), line_item };
    let mut groups = Groups::default();
    let (breaches, beyond_holiday_data) = count_tickets(state, &scope, &mut groups).await?;
    count_inspections(state, &scope, &mut groups).await?;
    let (contract, agencies, items) = groups.finish(|seq| state.catalog.item(seq).map(|i| i.agency.clone()));
    let agency_name = |k: &str| state.catalog.agency(k).map_or_else(|| k.to_owned(), |a| a.name.clone());
    let mut scope_agencies: Vec<String> = scope.agencies.iter().map(|k| agency_name(k)).collect();
    scope_agencies.dedup();
    let metric_names = contract
        .metrics
        .keys()
        .map(|m| {
            let names = state.catalog.settings.metric_name(m);
            let name = MetricName {
                zh: names.map_or_else(|| m.clone(), |n| n.zh.clone()),
                en: names.map_or_else(|| m.clone(), |n| n.en.clone()),
            };
            (m.clone(), name)
        })
        .collect();
    Ok(SlaReport {
        contract_name: state.catalog.contract.name.clone(),
        scope: ReportScope { agencies: scope_agencies, line_item: item_seq },
        from: period.from,
        to: period.to.pred_opt().unwrap_or(period.to),
        as_of: local(state, as_of),
        contract,
        agency_names: agencies.keys().map(|k| (k.clone(), agency_name(k))).collect(),
        agencies,
        line_item_names: items
            .keys()
            .filter_map(|&seq| {
                let item = state.catalog.item(seq)?;
                Some((seq, LineItemName { name: item.name.clone(), agency: item.agency.clone() }))
            })
            .collect(),
        line_items: items,
        metric_names,
        breached_tickets: breaches.listed,
        breached_total: breaches.total,
        beyond_holiday_data,
    })
}

/// An instant in the contract's timezone, with its offset.
fn local(state: &AppState, at: Timestamp) -> DateTime<FixedOffset> {
    at.to_datetime().with_timezone(&state.catalog.settings.timezone).fixed_offset()
}

/// A clock's outcome as counted: (met, breached, running) as 0 or 1, and the business seconds it took to meet.
type Outcome = (u32, u32, u32, Option<u64>);

fn outcome(s: &sla_engine::ClockStatus) -> Outcome {
    match (s.state, s.breached_at) {
        (ClockState::Met, None) => (1, 0, 0, Some(s.elapsed.get())),
        (ClockState::Met, Some(_)) => (0, 1, 0, Some(s.elapsed.get())),
        (ClockState::Breached, _) => (0, 1, 0, None),
        (ClockState::Running | ClockState::Paused, _) => (0, 0, 1, None),
    }
}

/// Tickets (and their clocks) read per page: what a report holds at once.
const PAGE: u64 = 1000;

/// Breached tickets a report lists (the first by report time); the rest are counted.
pub const BREACHES_LISTED: usize = 1000;

/// The tickets that missed a target: the first [`BREACHES_LISTED`], and how many in all.
#[derive(Default)]
struct Breaches {
    listed: Vec<BreachedTicket>,
    total: u32,
}

impl Breaches {
    fn add(&mut self, ticket: Option<BreachedTicket>) {
        let Some(t) = ticket else { return };
        self.total += 1;
        if self.listed.len() < BREACHES_LISTED {
            self.listed.push(t);
        }
    }
}

/// Count the tickets reported in the period, each clock as it stood at the
/// period's end, a page at a time; the tickets that missed a target, and
/// whether any clock was reckoned over dates without holiday data.
async fn count_tickets(state: &AppState, scope: &Scope<'_>, groups: &mut Groups) -> Result<(Breaches, bool)> {
    let mut beyond = false;
    let mut breached = Breaches::default();
    let mut after = None;
    loop {
        let tickets = store::tickets::reported_between(
            &state.db,
            scope.start,
            scope.end,
            &scope.agencies,
            scope.line_item,
            after,
            PAGE,
        )
        .await?;
        let Some(last) = tickets.last() else { break };
        after = Some((last.reported_at, last.id));
        let ids: Vec<Uuid> = tickets.iter().map(|t| t.id).collect();
        let mut clocks = store::tickets::clocks_of(&state.db, &ids).await?;
        for t in &tickets {
            let seq = state.item(t.line_item_id).map_or(0, |i| i.seq);
            let mut outcomes = Vec::new();
            for c in clocks.remove(&t.id).unwrap_or_default() {
                let s = c.evaluate(&*state.calendars(), &[], scope.as_of).map_err(Error::internal)?;
                beyond |= s.beyond_holiday_data || c.choice_beyond_holiday_data;
                outcomes.push((c.metric.as_str().to_owned(), outcome(&s)));
            }
            groups.count_ticket(t, seq, &outcomes);
            breached.add(breached_ticket(state, t, seq, &outcomes));
        }
        if (tickets.len() as u64) < PAGE {
            break;
        }
    }
    Ok((breached, beyond))
}

/// The ticket as listed among those that missed a target, if it missed one.
fn breached_ticket(
    state: &AppState,
    t: &Ticket,
    seq: u32,
    outcomes: &[(String, Outcome)],
) -> Option<BreachedTicket> {
    let mut missed: Vec<String> = outcomes.iter().filter(|(_, o)| o.1 == 1).map(|(m, _)| m.clone()).collect();
    if missed.is_empty() {
        return None;
    }
    missed.sort_by(|a, b| metric_order(a, b));
    Some(BreachedTicket {
        id: t.id,
        number: t.number.clone(),
        title: t.title.clone(),
        severity: t.severity.as_str().to_owned(),
        reported_at: local(state, t.reported_at),
        line_item_seq: seq,
        agency: t.agency.clone(),
        metrics: missed,
        link: super::mail::ticket_link(state, t.id),
    })
}

/// Count the inspections whose window closes within the period, as they stood at `as_of`.
async fn count_inspections(state: &AppState, scope: &Scope<'_>, groups: &mut Groups) -> Result<()> {
    let tasks = store::inspections::closing_between(
        &state.db,
        scope.start,
        scope.end,
        &scope.agencies,
        scope.line_item,
    )
    .await?;
    for t in tasks {
        // As the records stood at the period's end: a completion recorded
        // later (backdated or not) does not rewrite a closed month.
        let status = t.status_as_of(scope.as_of, state.go_live.at);
        let done = matches!(status, InspectionStatus::Done | InspectionStatus::Late);
        let recorded_late = done && t.recorded_late;
        let approved = recorded_late && t.approved_at.is_some_and(|a| a <= scope.as_of);
        let seq = state.item(t.line_item_id).map_or(0, |i| i.seq);
        for acc in groups.of(&t.agency, seq) {
            let f = &mut acc.inspections;
            match status {
                InspectionStatus::BeforeGoLive => {
                    f.before_go_live += 1;
                    continue;
                }
                InspectionStatus::Open => {
                    f.open += 1;
                    continue;
                }
                InspectionStatus::Done => f.on_time += 1,
                InspectionStatus::Late => f.late += 1,
                InspectionStatus::Missed => f.missed += 1,
            }
            f.due += 1;
            f.recorded_late += u32::from(recorded_late);
            f.approved += u32::from(approved);
        }
    }
    Ok(())
}

/// Today's month in the contract's timezone, for defaults.
pub fn current_month(state: &AppState) -> String {
    let d = state.clock.now().to_datetime().with_timezone(&state.catalog.settings.timezone).date_naive();
    format!("{:04}-{:02}", d.year(), d.month())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breach(n: usize) -> BreachedTicket {
        BreachedTicket {
            id: Uuid::nil(),
            number: format!("INC-2026-{n:06}"),
            title: String::new(),
            severity: "general".into(),
            reported_at: DateTime::UNIX_EPOCH.fixed_offset(),
            line_item_seq: 1,
            agency: String::new(),
            metrics: vec!["response".into()],
            link: None,
        }
    }

    #[test]
    fn breaches_beyond_the_cap_are_counted_not_listed() {
        let mut b = Breaches::default();
        for n in 0..BREACHES_LISTED + 5 {
            b.add(Some(breach(n)));
            b.add(None);
        }
        assert_eq!(b.listed.len(), BREACHES_LISTED);
        assert_eq!(b.total as usize, BREACHES_LISTED + 5);
        assert_eq!(b.listed[0].number, "INC-2026-000000", "the first by report time are kept");
    }
}
