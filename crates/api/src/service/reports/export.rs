//! The SLA report as the tables people read, one per view, with headers and
//! metric names in Chinese (the default) or English. `csv` writes one table
//! per file and `xlsx` one per sheet, both from here, so that a CSV file and
//! a sheet never disagree.

use std::cmp::Ordering;

use chrono::{DateTime, FixedOffset};

use super::{GroupReport, InspectionFigures, MetricFigures, SlaReport};

/// The language of a report's headers and names.
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

/// One table of the report: a CSV file, a sheet of the workbook.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum View {
    /// Each line item's figures per metric (the default).
    #[default]
    Items,
    /// Each agency's figures per metric.
    Agencies,
    /// The figures of the whole scope per metric.
    Contract,
    /// The tickets that missed a target.
    Breaches,
    /// Inspections for the scope, each agency and each line item.
    Inspections,
}

impl View {
    /// The views in the workbook's order: the summary first.
    pub const ALL: [View; 5] =
        [View::Contract, View::Items, View::Agencies, View::Inspections, View::Breaches];

    /// `items`, `agencies`, `contract`, `breaches` or `inspections`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.key() == text)
    }

    /// Its name in a query or on the command line.
    pub const fn key(self) -> &'static str {
        match self {
            View::Items => "items",
            View::Agencies => "agencies",
            View::Contract => "contract",
            View::Breaches => "breaches",
            View::Inspections => "inspections",
        }
    }
}

/// A cell, typed, so that each writer shows it in its own way: CSV as text,
/// XLSX as a number with a number format, or a link.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Cell {
    /// Text from the catalog or the service.
    Text(String),
    /// Text a person wrote (a ticket's title): in CSV, where a spreadsheet
    /// would read a leading `=` as a formula, it is defused.
    Written(String),
    /// A count.
    Count(u32),
    /// A percentage, 0 to 100; absent when nothing was decided.
    Percent(Option<f64>),
    /// Minutes; absent when nothing was met.
    Minutes(Option<f64>),
    /// An absolute link; absent without a public base URL.
    Link(Option<String>),
}

/// One table: a sheet's name, its header row and its rows.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Table {
    /// The sheet's name in the workbook.
    pub(super) sheet: &'static str,
    /// The header row.
    pub(super) headers: Vec<String>,
    /// The rows, each as long as the headers.
    pub(super) rows: Vec<Vec<Cell>>,
    /// What a link shows in a sheet, where it is a hyperlink (`打开`): the
    /// address itself is long, and says nothing on paper.
    pub(super) link_text: &'static str,
}

/// Every header, name and label of the files, in one language.
struct Labels {
    metric: [&'static str; 7],
    agency: &'static str,
    seq: &'static str,
    item: &'static str,
    name: &'static str,
    scope: &'static str,
    contract: &'static str,
    all: &'static str,
    inspections: [&'static str; 8],
    breached: [&'static str; 6],
    sheets: [&'static str; 7],
    severities: [(&'static str, &'static str); 3],
    list_separator: &'static str,
    all_agencies: &'static str,
    title: [&'static str; 4],
    chart_title: &'static str,
    footer: &'static str,
    open: &'static str,
}

const ZH: Labels = Labels {
    metric: ["指标", "按时达成", "超时", "进行中", "达成率(%)", "平均用时(分钟)", "P90用时(分钟)"],
    agency: "服务单位",
    seq: "序号",
    item: "运维项目",
    name: "名称",
    scope: "范围",
    contract: "合同",
    all: "全部",
    inspections: ["应巡检", "按时完成", "逾期完成", "未完成", "未到期", "补录", "补录已批准", "上线前"],
    breached: ["工单号", "标题", "严重程度", "报告时间", "超时指标", "链接"],
    sheets: ["合同汇总", "按运维项目", "按服务单位", "巡检", "超时工单", "各项目达成率", "达成率图"],
    severities: [("general", "一般"), ("major", "重大"), ("critical", "特别重大")],
    list_separator: "、",
    all_agencies: "全部服务单位",
    title: ["服务水平报告", "范围", "期间", "截至"],
    chart_title: "各运维项目 SLA 达成率",
    footer: "&C第 &P 页，共 &N 页",
    open: "打开",
};

const EN: Labels = Labels {
    metric: [
        "Metric",
        "Met",
        "Breached",
        "Running",
        "Attainment (%)",
        "Mean to meet (min)",
        "P90 to meet (min)",
    ],
    agency: "Agency",
    seq: "No.",
    item: "Line item",
    name: "Name",
    scope: "Scope",
    contract: "Contract",
    all: "All",
    inspections: [
        "Due",
        "On time",
        "Late",
        "Missed",
        "Open (not yet due)",
        "Recorded late",
        "Approved",
        "Before go-live",
    ],
    breached: ["Ticket", "Title", "Severity", "Reported at", "Metrics missed", "Link"],
    sheets: [
        "Contract",
        "Line items",
        "Agencies",
        "Inspections",
        "Breached tickets",
        "Attainment by item",
        "Attainment chart",
    ],
    severities: [("general", "general"), ("major", "major"), ("critical", "critical")],
    list_separator: ", ",
    all_agencies: "All agencies",
    title: ["SLA report", "Scope", "Period", "As of"],
    chart_title: "SLA attainment per line item",
    footer: "&CPage &P of &N",
    open: "Open",
};

fn labels(lang: Lang) -> &'static Labels {
    if lang == Lang::En { &EN } else { &ZH }
}

/// An instant as people read it in files: `2026-11-29 20:10 (+08:00)`.
pub fn local_time(at: &DateTime<FixedOffset>) -> String {
    at.format("%Y-%m-%d %H:%M (%:z)").to_string()
}

/// The order people expect metrics in: the contract's three (response, on
/// site, recovery), then the others by name.
pub fn metric_order(a: &str, b: &str) -> Ordering {
    match (a.parse::<sla_engine::Metric>(), b.parse::<sla_engine::Metric>()) {
        (Ok(x), Ok(y)) => x.cmp(&y),
        _ => a.cmp(b),
    }
}

/// A metric's name in `lang`, from the catalog (its key when the catalog has none).
pub(super) fn metric_label<'a>(report: &'a SlaReport, metric: &'a str, lang: Lang) -> &'a str {
    report.metric_names.get(metric).map_or(metric, |n| if lang == Lang::En { &n.en } else { &n.zh })
}

/// A group's metrics, in the order people expect.
fn metrics(g: &GroupReport) -> Vec<(&String, &MetricFigures)> {
    let mut out: Vec<_> = g.metrics.iter().collect();
    out.sort_by(|a, b| metric_order(a.0, b.0));
    out
}

/// Who the report covers, in words: `全部服务单位`, or the agency, and the line item.
pub fn scope_text(report: &SlaReport, lang: Lang) -> String {
    let l = labels(lang);
    let mut text = if report.scope.agencies.is_empty() {
        l.all_agencies.to_owned()
    } else {
        report.scope.agencies.join(l.list_separator)
    };
    if let Some(seq) = report.scope.line_item {
        let name = report.line_item_names.get(&seq).map_or("", |n| n.name.as_str());
        text = format!("{text} · {} {seq} {name}", l.item).trim_end().to_owned();
    }
    text
}

/// The workbook's title row: the contract, scope, period and as-of time.
pub(super) fn title(report: &SlaReport, lang: Lang) -> String {
    let t = labels(lang).title;
    let (period, sep) = match lang {
        Lang::Zh => (format!("{} 至 {}", report.from, report.to), "　"),
        Lang::En => (format!("{} to {}", report.from, report.to), " · "),
    };
    let colon = if lang == Lang::Zh { "：" } else { ": " };
    [
        format!("{} {}", report.contract_name, t[0]),
        format!("{}{colon}{}", t[1], scope_text(report, lang)),
        format!("{}{colon}{period}", t[2]),
        format!("{}{colon}{}", t[3], local_time(&report.as_of)),
    ]
    .join(sep)
}

/// The printed page's header (scope and period, left; the sheet's name,
/// right) and footer (page numbers), in Excel's header codes.
pub(super) fn page_header_footer(report: &SlaReport, lang: Lang) -> (String, String) {
    let period = match lang {
        Lang::Zh => format!("{} 至 {}", report.from, report.to),
        Lang::En => format!("{} to {}", report.from, report.to),
    };
    let left = format!("{}  {period}", scope_text(report, lang)).replace('&', "&&");
    // Excel refuses a header longer than 255 characters.
    let left: String = left.chars().take(200).collect();
    (format!("&L{left}&R&A"), labels(lang).footer.to_owned())
}

/// The chart sheet's name and the chart's title.
pub(super) fn chart_names(lang: Lang) -> (&'static str, &'static str) {
    let l = labels(lang);
    (l.sheets[6], l.chart_title)
}

fn metric_cells(report: &SlaReport, metric: &str, f: &MetricFigures, lang: Lang) -> Vec<Cell> {
    vec![
        Cell::Text(metric_label(report, metric, lang).to_owned()),
        Cell::Count(f.met),
        Cell::Count(f.breached),
        Cell::Count(f.running),
        Cell::Percent(f.attainment_percent),
        Cell::Minutes(f.mean_seconds_to_meet.map(|s| s / 60.0)),
        Cell::Minutes(f.p90_seconds_to_meet.map(|s| s as f64 / 60.0)),
    ]
}

fn inspection_cells(i: &InspectionFigures) -> impl Iterator<Item = Cell> {
    [i.due, i.on_time, i.late, i.missed, i.open, i.recorded_late, i.approved, i.before_go_live]
        .into_iter()
        .map(Cell::Count)
}

fn agency_name(report: &SlaReport, key: &str) -> String {
    report.agency_names.get(key).cloned().unwrap_or_else(|| key.to_owned())
}

fn item_name(report: &SlaReport, seq: u32) -> String {
    report.line_item_names.get(&seq).map_or_else(String::new, |n| n.name.clone())
}

fn item_agency(report: &SlaReport, seq: u32) -> String {
    report.line_item_names.get(&seq).map_or_else(String::new, |n| agency_name(report, &n.agency))
}

/// One view of the report as a table.
pub(super) fn table(report: &SlaReport, view: View, lang: Lang) -> Table {
    let l = labels(lang);
    let with = |lead: &[&str], tail: &[&str]| -> Vec<String> {
        lead.iter().chain(tail).map(|h| (*h).to_owned()).collect()
    };
    match view {
        View::Contract => Table {
            link_text: l.open,
            sheet: l.sheets[0],
            headers: with(&[], &l.metric),
            rows: metrics(&report.contract)
                .into_iter()
                .map(|(m, f)| metric_cells(report, m, f, lang))
                .collect(),
        },
        View::Items => Table {
            link_text: l.open,
            sheet: l.sheets[1],
            headers: with(&[l.seq, l.item, l.agency], &l.metric),
            rows: report
                .line_items
                .iter()
                .flat_map(|(seq, g)| {
                    metrics(g).into_iter().map(move |(m, f)| {
                        let mut row = vec![
                            Cell::Count(*seq),
                            Cell::Text(item_name(report, *seq)),
                            Cell::Text(item_agency(report, *seq)),
                        ];
                        row.extend(metric_cells(report, m, f, lang));
                        row
                    })
                })
                .collect(),
        },
        View::Agencies => Table {
            link_text: l.open,
            sheet: l.sheets[2],
            headers: with(&[l.agency], &l.metric),
            rows: report
                .agencies
                .iter()
                .flat_map(|(key, g)| {
                    metrics(g).into_iter().map(move |(m, f)| {
                        let mut row = vec![Cell::Text(agency_name(report, key))];
                        row.extend(metric_cells(report, m, f, lang));
                        row
                    })
                })
                .collect(),
        },
        View::Inspections => {
            let mut rows = Vec::new();
            let mut push = |scope: &str, seq: Option<u32>, name: String, i: &InspectionFigures| {
                let mut row = vec![
                    Cell::Text(scope.to_owned()),
                    seq.map_or_else(|| Cell::Text(String::new()), Cell::Count),
                    Cell::Text(name),
                ];
                row.extend(inspection_cells(i));
                rows.push(row);
            };
            push(l.contract, None, l.all.to_owned(), &report.contract.inspections);
            for (key, g) in &report.agencies {
                push(l.agency, None, agency_name(report, key), &g.inspections);
            }
            for (seq, g) in &report.line_items {
                push(l.item, Some(*seq), item_name(report, *seq), &g.inspections);
            }
            Table {
                sheet: l.sheets[3],
                headers: with(&[l.scope, l.seq, l.name], &l.inspections),
                rows,
                link_text: l.open,
            }
        }
        View::Breaches => {
            let headers = with(&l.breached[..4], &[l.seq, l.item, l.agency, l.breached[4], l.breached[5]]);
            let width = headers.len();
            Table {
                link_text: l.open,
                sheet: l.sheets[4],
                headers,
                rows: breach_rows(report, l, lang, width),
            }
        }
    }
}

/// The breaches table's rows: each listed ticket, then how many more there are.
fn breach_rows(report: &SlaReport, l: &Labels, lang: Lang, width: usize) -> Vec<Vec<Cell>> {
    report
        .breached_tickets
        .iter()
        .map(|t| {
            let severity =
                l.severities.iter().find(|(k, _)| *k == t.severity).map_or(t.severity.as_str(), |s| s.1);
            let missed: Vec<&str> = t.metrics.iter().map(|m| metric_label(report, m, lang)).collect();
            vec![
                Cell::Text(t.number.clone()),
                Cell::Written(t.title.clone()),
                Cell::Text(severity.to_owned()),
                Cell::Text(local_time(&t.reported_at)),
                Cell::Count(t.line_item_seq),
                Cell::Text(item_name(report, t.line_item_seq)),
                Cell::Text(agency_name(report, &t.agency)),
                Cell::Text(missed.join(l.list_separator)),
                Cell::Link(t.link.clone()),
            ]
        })
        .chain(not_listed_row(report, lang, width))
        .collect()
}

/// Attainment per line item and metric, the chart's data: one row per
/// item with a decided clock, one column per metric of the report.
pub(super) fn attainment_table(report: &SlaReport, lang: Lang) -> Table {
    let l = labels(lang);
    let mut keys: Vec<&String> = report.contract.metrics.keys().collect();
    keys.sort_by(|a, b| metric_order(a, b));
    let mut headers = vec![l.seq.to_owned(), l.item.to_owned()];
    headers.extend(keys.iter().map(|k| metric_label(report, k, lang).to_owned()));
    let rows = report
        .line_items
        .iter()
        .filter(|(_, g)| g.metrics.values().any(|f| f.attainment_percent.is_some()))
        .map(|(seq, g)| {
            let mut row = vec![Cell::Count(*seq), Cell::Text(item_name(report, *seq))];
            row.extend(
                keys.iter().map(|k| Cell::Percent(g.metrics.get(*k).and_then(|f| f.attainment_percent))),
            );
            row
        })
        .collect();
    Table { sheet: l.sheets[5], headers, rows, link_text: l.open }
}

/// The breaches table's last row when the report lists only the first
/// [`super::BREACHES_LISTED`]: how many more there are, so that a reader
/// of the file is never led to take the list for the whole.
fn not_listed_row(report: &SlaReport, lang: Lang, width: usize) -> Option<Vec<Cell>> {
    let more = (report.breached_total as usize).saturating_sub(report.breached_tickets.len());
    if more == 0 {
        return None;
    }
    let note = match lang {
        Lang::Zh => format!("另有 {more} 张未列出（共 {} 张）", report.breached_total),
        Lang::En => format!("{more} more not listed ({} in all)", report.breached_total),
    };
    let mut row = vec![Cell::Text(note)];
    row.resize_with(width, || Cell::Text(String::new()));
    Some(row)
}
