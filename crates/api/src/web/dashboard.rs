//! `/dashboard`: the month's SLA attainment for those who may read reports
//! (managers, engineers and admins; an agency's manager sees their agency),
//! from the very report the API serves (`service::reports::sla`), drawn as
//! server-rendered SVG (no script, no inline style: the CSP forbids both);
//! the tickets at risk and breached now; and the month's workbook and CSV
//! files, downloaded with the session (`/dashboard/report.xlsx`, `.csv`).

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Months;
use serde::Deserialize;

use super::chrome::{Chrome, Lang};
use super::error::PageError;
use super::session::Viewer;
use super::tickets::{TicketRow, row};
use crate::domain::access::Caller;
use crate::service::reports::{self, GroupReport, Period, SlaReport};
use crate::service::tickets::{self, ListQuery};
use crate::state::AppState;

/// Months the trend line spans, this one included.
const TREND_MONTHS: u32 = 12;
/// Active tickets read for the at-risk and breached lists, nearest deadline first.
const ACTIVE_SHOWN: u64 = 200;
/// Chart geometry, in SVG user units (the `viewBox` scales it to the page).
const BAR_MAX: f64 = 180.0;
const BAR_ROW: u32 = 34;
const TREND_W: u32 = 400;
const TREND_H: u32 = 200;
/// Characters of a bar's label (CJK ones are as wide as the type is
/// tall): longer names are cut, whole in the bar's tooltip.
const LABEL_CHARS: usize = 19;

/// `?month=YYYY-MM` (default: this month), and for a CSV, its `view`.
#[derive(Debug, Default, Deserialize)]
pub(super) struct MonthQuery {
    #[serde(default)]
    month: String,
    #[serde(default)]
    view: String,
}

/// One bar: a group's attainment of one metric.
pub(super) struct Bar {
    label: String,
    full: String,
    value: String,
    y_label: u32,
    y_bar: u32,
    width: u32,
    x_value: u32,
    band: &'static str,
}

/// One metric's bars for one kind of group (line items or agencies).
pub(super) struct BarChart {
    title: String,
    height: u32,
    bars: Vec<Bar>,
}

/// One metric's line over the months: its points, and its colour (`series-N`).
pub(super) struct Series {
    name: String,
    class: String,
    points: String,
    dots: Vec<(u32, u32, String)>,
}

/// A month's tick on the trend's axis.
pub(super) struct Tick {
    x: u32,
    label: String,
}

/// A row of the month's table: one metric for the whole scope.
pub(super) struct MetricRow {
    name: String,
    met: u32,
    breached: u32,
    running: u32,
    attainment: String,
}

#[derive(Template, WebTemplate)]
#[template(path = "web/dashboard.html")]
struct DashboardPage {
    c: Chrome,
    month: String,
    scope: String,
    as_of: String,
    metrics: Vec<MetricRow>,
    item_charts: Vec<BarChart>,
    agency_charts: Vec<BarChart>,
    trend: Vec<Series>,
    ticks: Vec<Tick>,
    trend_w: u32,
    trend_h: u32,
    inspections: reports::InspectionFigures,
    at_risk: Vec<TicketRow>,
    breached_now: Vec<TicketRow>,
    breached_in_month: u32,
    views: Vec<(&'static str, &'static str)>,
}

/// Reports are for managers, engineers and admins: 404 for anyone else.
fn reader(viewer: &Viewer) -> Result<&Caller, PageError> {
    let caller = &viewer.session.caller;
    if reports::may_read(caller) { Ok(caller) } else { Err(PageError::NotFound) }
}

/// The month asked for, else this one.
fn month_of(state: &AppState, asked: &str) -> (String, Period) {
    if let Ok(p) = Period::month(asked) {
        return (asked.to_owned(), p);
    }
    let current = reports::current_month(state);
    let period = Period::month(&current)
        .unwrap_or(Period { from: chrono::NaiveDate::MIN, to: chrono::NaiveDate::MIN });
    (current, period)
}

/// The dashboard: the month's report, and the trend over the months before it.
pub(super) async fn dashboard(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let caller = reader(&viewer)?;
    let lang = viewer.lang;
    let (month, period) = month_of(&state, &q.month);
    let report = reports::sla(&state, caller, period, None, None).await?;
    let history = trend_reports(&state, caller, period).await?;
    let active =
        tickets::queue(&state, caller, ListQuery { limit: ACTIVE_SHOWN, ..ListQuery::default() }).await?;
    let rows: Vec<TicketRow> = active.iter().map(|t| row(&state, t, lang)).collect();
    let (breached_now, at_risk): (Vec<_>, Vec<_>) =
        rows.into_iter().filter(|r| matches!(r.band, "risk" | "late")).partition(|r| r.band == "late");
    let (trend, ticks) = trend(&report, &history, lang);
    let page = DashboardPage {
        c: Chrome::of(&viewer, "/dashboard"),
        scope: reports::scope_text(&report, report_lang(lang)),
        as_of: reports::local_time(&report.as_of),
        metrics: metric_rows(&report, lang),
        item_charts: item_charts(&report, lang),
        agency_charts: agency_charts(&report, lang),
        trend,
        ticks,
        trend_w: TREND_W,
        trend_h: TREND_H,
        inspections: report.contract.inspections.clone(),
        at_risk,
        breached_now,
        breached_in_month: report.breached_total,
        views: views(lang),
        month,
    };
    Ok(page.into_response())
}

/// The contract's figures of the months before `period`'s, oldest first
/// (ended months are kept a while by `reports::contract_by_month`).
async fn trend_reports(
    state: &AppState,
    caller: &Caller,
    period: Period,
) -> Result<Vec<(Period, GroupReport)>, PageError> {
    let months: Vec<Period> = (1..TREND_MONTHS)
        .rev()
        .filter_map(|back| {
            let from = period.from.checked_sub_months(Months::new(back))?;
            let to = period.from.checked_sub_months(Months::new(back - 1))?;
            Some(Period { from, to })
        })
        .collect();
    let figures = reports::contract_by_month(state, caller, &months).await?;
    Ok(months.into_iter().zip(figures).collect())
}

/// The report files' language for the page's.
fn report_lang(lang: Lang) -> reports::Lang {
    reports::Lang::parse(lang.code_for_cookie()).unwrap_or_default()
}

fn metric_name(report: &SlaReport, metric: &str, lang: Lang) -> String {
    report
        .metric_names
        .get(metric)
        .map_or_else(|| metric.to_owned(), |n| if lang == Lang::En { n.en.clone() } else { n.zh.clone() })
}

/// The scope's metrics in the contract's order.
fn metrics(report: &SlaReport) -> Vec<String> {
    let mut m: Vec<String> = report.contract.metrics.keys().cloned().collect();
    m.sort_by(|a, b| reports::metric_order(a, b));
    m
}

fn percent(p: Option<f64>) -> String {
    p.map_or_else(|| "—".to_owned(), |p| format!("{p:.1}%"))
}

fn metric_rows(report: &SlaReport, lang: Lang) -> Vec<MetricRow> {
    metrics(report)
        .iter()
        .filter_map(|m| {
            let f = report.contract.metrics.get(m)?;
            Some(MetricRow {
                name: metric_name(report, m, lang),
                met: f.met,
                breached: f.breached,
                running: f.running,
                attainment: percent(f.attainment_percent),
            })
        })
        .collect()
}

/// A band for an attainment: 95 % and more, 80 % and more, below, or nothing decided.
fn band(p: Option<f64>) -> &'static str {
    match p {
        Some(p) if p >= 95.0 => "ok",
        Some(p) if p >= 80.0 => "warn",
        Some(_) => "late",
        None => "none",
    }
}

/// One metric's bars over `groups` (label, figures).
fn bar_chart<'a>(
    title: String,
    metric: &str,
    groups: impl Iterator<Item = (String, &'a GroupReport)>,
) -> Option<BarChart> {
    let bars: Vec<Bar> = groups
        .filter_map(|(label, g)| g.metrics.get(metric).map(|f| (label, f.attainment_percent)))
        .enumerate()
        .map(|(i, (label, p))| {
            let top = u32::try_from(i).unwrap_or(0) * BAR_ROW;
            // Rounded to whole units: the chart is read by eye, the table gives decimals.
            let width = (p.unwrap_or(0.0).clamp(0.0, 100.0) * BAR_MAX / 100.0).round() as u32;
            let short = if label.chars().count() > LABEL_CHARS {
                format!("{}…", label.chars().take(LABEL_CHARS - 1).collect::<String>())
            } else {
                label.clone()
            };
            Bar {
                label: short,
                full: label,
                value: percent(p),
                y_label: top + 12,
                y_bar: top + 16,
                width,
                x_value: width + 6,
                band: band(p),
            }
        })
        .collect();
    let height = u32::try_from(bars.len()).unwrap_or(0) * BAR_ROW + 4;
    (!bars.is_empty()).then_some(BarChart { title, height, bars })
}

fn item_charts(report: &SlaReport, lang: Lang) -> Vec<BarChart> {
    metrics(report)
        .iter()
        .filter_map(|m| {
            let groups = report.line_items.iter().map(|(seq, g)| {
                let name = report.line_item_names.get(seq).map_or("", |n| n.name.as_str());
                (format!("{seq}. {name}"), g)
            });
            bar_chart(metric_name(report, m, lang), m, groups)
        })
        .collect()
}

fn agency_charts(report: &SlaReport, lang: Lang) -> Vec<BarChart> {
    metrics(report)
        .iter()
        .filter_map(|m| {
            let groups = report
                .agencies
                .iter()
                .map(|(k, g)| (report.agency_names.get(k).cloned().unwrap_or_else(|| k.clone()), g));
            bar_chart(metric_name(report, m, lang), m, groups)
        })
        .collect()
}

/// Each metric's attainment month by month, as polylines and dots, and the months' ticks.
fn trend(report: &SlaReport, history: &[(Period, GroupReport)], lang: Lang) -> (Vec<Series>, Vec<Tick>) {
    let this = Period { from: report.from, to: report.to };
    let months: Vec<(Period, &GroupReport)> =
        history.iter().map(|(p, g)| (*p, g)).chain(std::iter::once((this, &report.contract))).collect();
    let step = (TREND_W - 60) / (TREND_MONTHS - 1);
    let x = |i: usize| 40 + u32::try_from(i).unwrap_or(0) * step;
    let y = |p: f64| {
        (f64::from(TREND_H - 30) - p.clamp(0.0, 100.0) * f64::from(TREND_H - 50) / 100.0).round() as u32
    };
    let ticks = months
        .iter()
        .enumerate()
        .map(|(i, (p, _))| Tick { x: x(i), label: p.from.format("%m").to_string() })
        .collect();
    let series = metrics(report)
        .iter()
        .enumerate()
        .map(|(n, m)| {
            let dots: Vec<(u32, u32, String)> = months
                .iter()
                .enumerate()
                .filter_map(|(i, (p, g))| {
                    let a = g.metrics.get(m)?.attainment_percent?;
                    Some((x(i), y(a), format!("{} {}", p.from.format("%Y-%m"), percent(Some(a)))))
                })
                .collect();
            let points = dots.iter().map(|(x, y, _)| format!("{x},{y}")).collect::<Vec<_>>().join(" ");
            Series { name: metric_name(report, m, lang), class: format!("series-{}", n % 6), points, dots }
        })
        .collect();
    (series, ticks)
}

/// The CSV tables offered: (view, its name).
fn views(lang: Lang) -> Vec<(&'static str, &'static str)> {
    vec![
        ("items", lang.t("按服务项目", "by line item")),
        ("agencies", lang.t("按采购单位", "by agency")),
        ("contract", lang.t("全合同", "whole contract")),
        ("breaches", lang.t("超时工单", "breached tickets")),
        ("inspections", lang.t("巡检", "inspections")),
    ]
}

/// The month's report for a download; 404 for a malformed month.
async fn month_report(
    state: &AppState,
    viewer: &Viewer,
    month: &str,
) -> Result<(String, SlaReport), PageError> {
    let caller = reader(viewer)?;
    let month = if month.is_empty() { reports::current_month(state) } else { month.to_owned() };
    let period = Period::month(&month).map_err(|_| PageError::NotFound)?;
    Ok((month, reports::sla(state, caller, period, None, None).await?))
}

/// A file to download, named for its month.
fn attachment(body: Vec<u8>, content_type: &'static str, name: &str) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    r
}

/// `/dashboard/report.xlsx?month=`: the month's workbook, written as the API writes it.
pub(super) async fn xlsx(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let (month, report) = month_report(&state, &viewer, &q.month).await?;
    let body =
        reports::to_xlsx(&report, report_lang(viewer.lang)).map_err(crate::service::Error::internal)?;
    let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    Ok(attachment(body, xlsx, &format!("sla-{month}.xlsx")))
}

/// `/dashboard/report.csv?month=&view=`: one table of the month's report, as the API writes it.
pub(super) async fn csv(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<MonthQuery>,
) -> Result<Response, PageError> {
    let view = if q.view.is_empty() {
        reports::View::default()
    } else {
        reports::View::parse(&q.view).ok_or(PageError::NotFound)?
    };
    let (month, report) = month_report(&state, &viewer, &q.month).await?;
    let body = reports::to_csv_view(&report, view, report_lang(viewer.lang))
        .map_err(crate::service::Error::internal)?;
    Ok(attachment(body, "text/csv; charset=utf-8", &format!("sla-{month}-{}.csv", view.key())))
}
