//! The SLA report as files people open: CSV and an XLSX workbook, headers
//! in Chinese (the default) or English.

use super::{GroupReport, SlaReport};

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
    inspections: [&'static str; 9],
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
    inspections: ["范围", "对象", "应巡检", "按时完成", "逾期完成", "未完成", "补录", "补录已批准", "上线前"],
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
    inspections: [
        "Scope",
        "Of",
        "Due",
        "On time",
        "Late",
        "Missed",
        "Recorded late",
        "Approved",
        "Before go-live",
    ],
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
            "{scope},{},{},{},{},{},{},{},{}
",
            csv_field(name),
            i.due,
            i.on_time,
            i.late,
            i.missed,
            i.recorded_late,
            i.approved,
            i.before_go_live
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
        for (c, v) in [i.due, i.on_time, i.late, i.missed, i.recorded_late, i.approved, i.before_go_live]
            .into_iter()
            .enumerate()
        {
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
