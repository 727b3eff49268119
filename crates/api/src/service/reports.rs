//! Monthly SLA compliance: for a period, per line item, per agency and for
//! the whole contract, how each metric's clocks stood at the period's end.
//!
//! A clock counts where it stood at the end of the period (or now, if
//! sooner): met on time, breached (late or still open past its target), or
//! still running, which is not met. Time to meet is the business time a met
//! clock took.

use std::collections::BTreeMap;

use chrono::{Datelike, NaiveDate, TimeZone};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::Serialize;
use sla_engine::{BusinessSeconds, ClockEvent, ClockState, Condition, Metric, TargetRule, Timestamp};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::domain::access::{Caller, Role};
use crate::domain::ticket;
use crate::http::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::entities::{clock, inspection_task, ticket as ticket_row};

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

/// Inspections whose window closed in the period.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct InspectionFigures {
    /// Due in the period.
    pub due: u32,
    /// Done within their window.
    pub on_time: u32,
    /// Done after their window.
    pub late: u32,
    /// Not done by the period's end.
    pub missed: u32,
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
    /// Line item 序号.
    pub line_item_seq: u32,
    /// Agency key.
    pub agency: String,
    /// The metrics it missed.
    pub metrics: Vec<String>,
    /// Link to the ticket.
    pub link: String,
}

/// The whole report.
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
pub struct SlaReport {
    /// First day covered.
    pub from: NaiveDate,
    /// Last day covered.
    pub to: NaiveDate,
    /// The instant clocks were read at: the period's end, or now if sooner.
    pub as_of: chrono::DateTime<chrono::Utc>,
    /// The whole contract (within the caller's scope).
    pub contract: GroupReport,
    /// Per agency key.
    pub agencies: BTreeMap<String, GroupReport>,
    /// Agency key → name, for the agencies in the report.
    pub agency_names: BTreeMap<String, String>,
    /// Per line item 序号 (JSON object keys are text: `"1"`, `"2"`, …).
    #[schema(value_type = BTreeMap<String, GroupReport>)]
    pub line_items: BTreeMap<u32, GroupReport>,
    /// Tickets that missed a target.
    pub breached_tickets: Vec<BreachedTicket>,
}

#[derive(Default)]
struct Acc {
    inspections: InspectionFigures,
    by_severity: BTreeMap<String, u32>,
    by_state: BTreeMap<String, u32>,
    metrics: BTreeMap<String, (u32, u32, u32, Vec<u64>)>,
}

impl Acc {
    fn finish(self) -> GroupReport {
        let metrics = self
            .metrics
            .into_iter()
            .map(|(m, (met, breached, running, mut times))| {
                times.sort_unstable();
                let decided = met + breached;
                let figures = MetricFigures {
                    met,
                    breached,
                    running,
                    attainment_percent: (decided > 0).then(|| f64::from(met) * 100.0 / f64::from(decided)),
                    mean_seconds_to_meet: (!times.is_empty())
                        .then(|| times.iter().sum::<u64>() as f64 / times.len() as f64),
                    p90_seconds_to_meet: (!times.is_empty()).then(|| {
                        let rank = (times.len() * 9).div_ceil(10).max(1);
                        times[rank - 1]
                    }),
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

/// Who may read reports: managers, engineers and admins; an agency manager sees only their agency.
pub fn may_read(caller: &Caller) -> bool {
    caller.role != Role::AgencyUser
}

/// The report for `period`, within the caller's scope, optionally narrowed to an agency or a line item.
pub async fn sla(
    state: &AppState,
    caller: &Caller,
    period: Period,
    agency: Option<&str>,
    line_item: Option<Uuid>,
) -> ApiResult<SlaReport> {
    if !may_read(caller) {
        return Err(ApiError::forbidden("reports are for managers, engineers and admins"));
    }
    let tz = state.catalog.settings.timezone;
    let instant = |d: NaiveDate| {
        tz.from_local_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default())
            .earliest()
            .map_or(0, |t| t.timestamp())
    };
    let (start, end) = (instant(period.from), instant(period.to));
    let now = state.clock.now();
    let as_of = Timestamp::from_unix(end.min(now.unix()));

    let mut query = ticket_row::Entity::find()
        .filter(ticket_row::Column::ReportedAt.gte(start))
        .filter(ticket_row::Column::ReportedAt.lt(end))
        .order_by_asc(ticket_row::Column::ReportedAt);
    if let Some(scope) = caller.scope() {
        query = query.filter(ticket_row::Column::AgencyKey.eq(scope));
    }
    if let Some(a) = agency {
        query = query.filter(ticket_row::Column::AgencyKey.eq(a));
    }
    if let Some(li) = line_item {
        query = query.filter(ticket_row::Column::LineItemId.eq(li));
    }
    let tickets = query.all(&state.db).await?;
    let ids: Vec<Uuid> = tickets.iter().map(|t| t.id).collect();
    let mut clocks: BTreeMap<Uuid, Vec<clock::Model>> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        for c in
            clock::Entity::find().filter(clock::Column::TicketId.is_in(chunk.to_vec())).all(&state.db).await?
        {
            clocks.entry(c.ticket_id).or_default().push(c);
        }
    }

    let (mut contract, mut agencies, mut items) =
        (Acc::default(), BTreeMap::<String, Acc>::new(), BTreeMap::<u32, Acc>::new());
    let mut breached_tickets = Vec::new();
    for t in &tickets {
        let seq = state.item(t.line_item_id).map_or(0, |i| i.seq);
        let mut missed = Vec::new();
        let mut outcomes = Vec::new();
        for c in clocks.get(&t.id).into_iter().flatten() {
            let rule = TargetRule {
                metric: c.metric.parse::<Metric>().map_err(ApiError::internal)?,
                when: Condition::default(),
                target: BusinessSeconds::new(u64::try_from(c.target_seconds).unwrap_or(0)),
                calendar: c.calendar.clone(),
            };
            let events: Vec<ClockEvent> = serde_json::from_str(&c.events).map_err(ApiError::internal)?;
            let s = ticket::evaluate(&rule, &events, &state.catalog.calendars, &[], as_of)
                .map_err(ApiError::internal)?;
            let outcome = match (s.state, s.breached_at) {
                (ClockState::Met, None) => (1, 0, 0, Some(s.elapsed.get())),
                (ClockState::Met, Some(_)) => (0, 1, 0, Some(s.elapsed.get())),
                (ClockState::Breached, _) => (0, 1, 0, None),
                (ClockState::Running | ClockState::Paused, _) => (0, 0, 1, None),
            };
            if outcome.1 == 1 {
                missed.push(c.metric.clone());
            }
            outcomes.push((c.metric.clone(), outcome));
        }
        for acc in
            [&mut contract, agencies.entry(t.agency_key.clone()).or_default(), items.entry(seq).or_default()]
        {
            *acc.by_severity.entry(t.severity.clone()).or_default() += 1;
            *acc.by_state.entry(t.state.clone()).or_default() += 1;
            for (metric, (met, breached, running, time)) in &outcomes {
                let e = acc.metrics.entry(metric.clone()).or_default();
                e.0 += met;
                e.1 += breached;
                e.2 += running;
                e.3.extend(time);
            }
        }
        if !missed.is_empty() {
            let base = state.settings.public_base_url.as_deref().unwrap_or("").trim_end_matches('/');
            breached_tickets.push(BreachedTicket {
                id: t.id,
                number: t.number.clone(),
                line_item_seq: seq,
                agency: t.agency_key.clone(),
                metrics: missed,
                link: format!("{base}/v1/tickets/{}", t.id),
            });
        }
    }
    // Inspections whose window closed within the period, as they stood at its end.
    let mut tasks = inspection_task::Entity::find()
        .filter(inspection_task::Column::DueTo.gt(start))
        .filter(inspection_task::Column::DueTo.lte(end));
    if let Some(scope) = caller.scope() {
        tasks = tasks.filter(inspection_task::Column::AgencyKey.eq(scope));
    }
    if let Some(a) = agency {
        tasks = tasks.filter(inspection_task::Column::AgencyKey.eq(a));
    }
    if let Some(li) = line_item {
        tasks = tasks.filter(inspection_task::Column::LineItemId.eq(li));
    }
    for mut t in tasks.all(&state.db).await? {
        if t.completed_at.is_some_and(|at| at > as_of.unix()) {
            t.completed_at = None;
        }
        let seq = state.item(t.line_item_id).map_or(0, |i| i.seq);
        let st = crate::service::inspections::status(&t, as_of);
        for acc in
            [&mut contract, agencies.entry(t.agency_key.clone()).or_default(), items.entry(seq).or_default()]
        {
            let f = &mut acc.inspections;
            f.due += 1;
            match st {
                crate::service::inspections::InspectionStatus::Done => f.on_time += 1,
                crate::service::inspections::InspectionStatus::Late => f.late += 1,
                _ => f.missed += 1,
            }
        }
    }
    let last_day = period.to.pred_opt().unwrap_or(period.to);
    Ok(SlaReport {
        from: period.from,
        to: last_day,
        as_of: as_of.to_datetime(),
        contract: contract.finish(),
        agency_names: agencies
            .keys()
            .map(|k| (k.clone(), state.catalog.agency(k).map_or_else(|| k.clone(), |a| a.name.clone())))
            .collect(),
        agencies: agencies.into_iter().map(|(k, v)| (k, v.finish())).collect(),
        line_items: items.into_iter().map(|(k, v)| (k, v.finish())).collect(),
        breached_tickets,
    })
}

/// The language of a report's headers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Lang {
    /// Chinese (the default).
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// `zh` or `en`.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }
}

/// Every header and label a report file uses, in one language.
struct Labels {
    metric_headers: [&'static str; 9],
    contract: &'static str,
    all: &'static str,
    agency: &'static str,
    item: &'static str,
    inspections: [&'static str; 6],
    breached_sheet: &'static str,
    breached_headers: [&'static str; 5],
}

const ZH: Labels = Labels {
    metric_headers: [
        "范围",
        "对象",
        "指标",
        "按时达成",
        "超时",
        "进行中",
        "达成率(%)",
        "平均用时(分钟)",
        "P90用时(分钟)",
    ],
    contract: "合同",
    all: "全部",
    agency: "服务单位",
    item: "运维项目",
    inspections: ["范围", "对象", "应巡检", "按时完成", "逾期完成", "未完成"],
    breached_sheet: "超时工单",
    breached_headers: ["工单号", "运维项目序号", "服务单位", "超时指标", "链接"],
};

const EN: Labels = Labels {
    metric_headers: [
        "Scope",
        "Of",
        "Metric",
        "Met",
        "Breached",
        "Running",
        "Attainment (%)",
        "Mean to meet (min)",
        "P90 to meet (min)",
    ],
    contract: "Contract",
    all: "All",
    agency: "Agency",
    item: "Line item",
    inspections: ["Scope", "Of", "Due", "On time", "Late", "Missed"],
    breached_sheet: "Breached tickets",
    breached_headers: ["Ticket", "Line item", "Agency", "Metrics missed", "Link"],
};

fn labels(lang: Lang) -> &'static Labels {
    if lang == Lang::En { &EN } else { &ZH }
}

/// Each group with its scope label and display name, contract first.
fn groups<'a>(report: &'a SlaReport, l: &Labels) -> Vec<(&'static str, String, &'a GroupReport)> {
    let mut out = vec![(l.contract, l.all.to_owned(), &report.contract)];
    for (k, g) in &report.agencies {
        out.push((l.agency, report.agency_names.get(k).cloned().unwrap_or_else(|| k.clone()), g));
    }
    for (k, g) in &report.line_items {
        out.push((l.item, k.to_string(), g));
    }
    out
}

fn minutes(seconds: f64) -> String {
    format!("{:.1}", seconds / 60.0)
}

/// The report as CSV: one row per group and metric, then one per group's
/// inspections, under their own header row.
pub fn to_csv(report: &SlaReport, lang: Lang) -> String {
    let l = labels(lang);
    let mut out = l.metric_headers.join(",") + "\n";
    let groups = groups(report, l);
    for (scope, name, g) in &groups {
        for (metric, f) in &g.metrics {
            out.push_str(&format!(
                "{scope},{},{metric},{},{},{},{},{},{}\n",
                csv_field(name),
                f.met,
                f.breached,
                f.running,
                f.attainment_percent.map_or_else(String::new, |x| format!("{x:.1}")),
                f.mean_seconds_to_meet.map_or_else(String::new, minutes),
                f.p90_seconds_to_meet.map_or_else(String::new, |x| minutes(x as f64)),
            ));
        }
    }
    out.push('\n');
    out.push_str(&(l.inspections.join(",") + "\n"));
    for (scope, name, g) in &groups {
        let i = &g.inspections;
        out.push_str(&format!(
            "{scope},{},{},{},{},{}\n",
            csv_field(name),
            i.due,
            i.on_time,
            i.late,
            i.missed
        ));
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// Today's month in the contract's timezone, for defaults.
pub fn current_month(state: &AppState) -> String {
    let d = state.clock.now().to_datetime().with_timezone(&state.catalog.settings.timezone).date_naive();
    format!("{:04}-{:02}", d.year(), d.month())
}

/// The report as an XLSX workbook: one sheet per view (contract, agencies,
/// line items, inspections, breached tickets), headers in `lang`, the header
/// row frozen and columns fitted to their contents.
pub fn to_xlsx(report: &SlaReport, lang: Lang) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    use rust_xlsxwriter::{Format, Workbook, Worksheet};
    let l = labels(lang);
    let mut book = Workbook::new();
    let bold = Format::new().set_bold();
    let header = |sheet: &mut Worksheet, names: &[&str]| -> Result<(), rust_xlsxwriter::XlsxError> {
        for (c, h) in names.iter().enumerate() {
            sheet.write_string_with_format(0, c as u16, *h, &bold)?;
        }
        sheet.set_freeze_panes(1, 0)?;
        Ok(())
    };
    let all = groups(report, l);
    for scope in [l.contract, l.agency, l.item] {
        let sheet = book.add_worksheet();
        sheet.set_name(scope)?;
        header(sheet, &l.metric_headers[1..])?;
        let mut r = 1u32;
        for (_, name, g) in all.iter().filter(|(s, ..)| *s == scope) {
            for (metric, f) in &g.metrics {
                sheet.write_string(r, 0, name)?;
                sheet.write_string(r, 1, metric)?;
                sheet.write_number(r, 2, f64::from(f.met))?;
                sheet.write_number(r, 3, f64::from(f.breached))?;
                sheet.write_number(r, 4, f64::from(f.running))?;
                if let Some(a) = f.attainment_percent {
                    sheet.write_number(r, 5, (a * 10.0).round() / 10.0)?;
                }
                if let Some(m) = f.mean_seconds_to_meet {
                    sheet.write_number(r, 6, (m / 6.0).round() / 10.0)?;
                }
                if let Some(p) = f.p90_seconds_to_meet {
                    sheet.write_number(r, 7, (p as f64 / 6.0).round() / 10.0)?;
                }
                r += 1;
            }
        }
        sheet.autofit();
    }
    let sheet = book.add_worksheet();
    sheet.set_name(l.inspections[2])?;
    header(sheet, &l.inspections)?;
    for (r, (scope, name, g)) in all.iter().enumerate() {
        let r = r as u32 + 1;
        let i = &g.inspections;
        sheet.write_string(r, 0, *scope)?;
        sheet.write_string(r, 1, name)?;
        for (c, v) in [i.due, i.on_time, i.late, i.missed].into_iter().enumerate() {
            sheet.write_number(r, c as u16 + 2, f64::from(v))?;
        }
    }
    sheet.autofit();
    let sheet = book.add_worksheet();
    sheet.set_name(l.breached_sheet)?;
    header(sheet, &l.breached_headers)?;
    for (i, t) in report.breached_tickets.iter().enumerate() {
        let r = i as u32 + 1;
        sheet.write_string(r, 0, &t.number)?;
        sheet.write_number(r, 1, f64::from(t.line_item_seq))?;
        sheet.write_string(r, 2, report.agency_names.get(&t.agency).unwrap_or(&t.agency))?;
        sheet.write_string(r, 3, t.metrics.join(", "))?;
        sheet.write_string(r, 4, &t.link)?;
    }
    sheet.autofit();
    book.save_to_buffer()
}
