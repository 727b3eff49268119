//! Alert emails rendered from templates (minijinja), Chinese by default, English on request.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use minijinja::{Environment, context};
use serde::Serialize;

use crate::NotifyError;

/// The language of a message.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Locale {
    /// 简体中文 (the default).
    #[default]
    ZhCn,
    /// English.
    En,
}

impl Locale {
    /// `zh-CN` or `en`.
    pub const fn tag(self) -> &'static str {
        match self {
            Locale::ZhCn => "zh-CN",
            Locale::En => "en",
        }
    }

    /// Parse `zh-CN`/`zh` or `en`.
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "zh-cn" | "zh" | "zh_cn" => Some(Locale::ZhCn),
            "en" | "en-us" | "en-gb" => Some(Locale::En),
            _ => None,
        }
    }
}

/// What an alert says about a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// A warning threshold below 100 % was crossed (预警).
    Warning,
    /// The target was missed (已超时).
    Breach,
    /// An escalation level past the breach (升级), e.g. 150 %.
    Escalation,
}

/// One clock's alert, with everything a reader needs to act on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Alert {
    /// Warning, breach or escalation.
    pub kind: AlertKind,
    /// The threshold, in percent of the target.
    pub percent: u32,
    /// E.g. `INC-2026-000123`.
    pub ticket_number: String,
    /// The ticket's title.
    pub ticket_title: String,
    /// The agency's name.
    pub agency: String,
    /// The line item's name.
    pub line_item: String,
    /// `response`, `on_site`, `recovery` or another metric.
    pub metric: String,
    /// The target, in business seconds.
    pub target_seconds: u64,
    /// The calendar the target counts in (e.g. `5x8`).
    pub calendar: String,
    /// When the target is (or was) reached.
    pub deadline: DateTime<Utc>,
    /// The timezone the deadline is shown in: the line item's.
    pub timezone: Tz,
    /// Business seconds left (zero once breached).
    pub remaining_seconds: u64,
    /// Business seconds past the target (zero before).
    pub overdue_seconds: u64,
    /// A link to the ticket, when a public base URL is configured.
    pub link: Option<String>,
    /// True when the deadline was worked out over dates without holiday data.
    pub beyond_holiday_data: bool,
}

/// A rendered message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendered {
    /// The subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

#[derive(Serialize)]
struct View {
    kind: AlertKind,
    label: &'static str,
    percent: u32,
    ticket_number: String,
    ticket_title: String,
    agency: String,
    line_item: String,
    metric_name: String,
    target: String,
    calendar: String,
    deadline_local: String,
    timezone: String,
    remaining: String,
    overdue: Option<String>,
    link: Option<String>,
    beyond_holiday_data: bool,
}

pub(crate) fn metric_name(metric: &str, locale: Locale) -> String {
    match (locale, metric) {
        (Locale::ZhCn, "response") => "响应".into(),
        (Locale::ZhCn, "on_site") => "到场".into(),
        (Locale::ZhCn, "recovery") => "故障恢复".into(),
        (Locale::ZhCn, "containment") => "遏制".into(),
        (Locale::En, "response") => "response".into(),
        (Locale::En, "on_site") => "on-site arrival".into(),
        (Locale::En, "recovery") => "recovery".into(),
        (_, other) => other.replace('_', " "),
    }
}

/// A business duration for people: `1 小时 30 分` or `1 h 30 min`.
pub fn duration(seconds: u64, locale: Locale) -> String {
    let (d, h, m) = (seconds / 86_400, seconds / 3600 % 24, (seconds / 60) % 60);
    let s = seconds % 60;
    let mut parts = Vec::new();
    let units = match locale {
        Locale::ZhCn => ["天", "小时", "分", "秒"],
        Locale::En => ["d", "h", "min", "s"],
    };
    for (value, unit) in [(d, units[0]), (h, units[1]), (m, units[2])] {
        if value > 0 {
            parts.push(format!("{value} {unit}"));
        }
    }
    if parts.is_empty() || (s > 0 && seconds < 3600) {
        parts.push(format!("{s} {}", units[3]));
    }
    parts.join(" ")
}

/// Text shown inline on one line (a title in a subject or a sentence): line
/// breaks and other control characters become a visible `⏎` or a space,
/// and invisible format characters (bidirectional overrides, zero-width
/// characters) are dropped, so that text stored before the single-line rule
/// (or slipped past it) cannot draw a fake line in the plain-text part or
/// read in another order than it is stored.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\r' if chars.peek() == Some(&'\n') => {}
            '\r' | '\n' | '\u{2028}' | '\u{2029}' | '\u{85}' => out.push_str(" ⏎ "),
            c if c.is_control() => out.push(' '),
            c if is_invisible_format(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// Multi-line text as a quoted block: every line starts with `> `, so that
/// nothing in it can pass for a line of the message around it.
pub fn quoted(text: &str) -> String {
    text.replace("\r\n", "\n")
        .split(['\n', '\r', '\u{2028}', '\u{2029}', '\u{85}'])
        .map(|line| {
            let clean: String = line
                .chars()
                .filter(|c| !is_invisible_format(*c))
                .map(|c| if c.is_control() && c != '\t' { ' ' } else { c })
                .collect();
            format!("> {clean}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Bidirectional controls and zero-width characters.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{FEFF}'
            | '\u{FFF9}'..='\u{FFFB}'
    )
}

fn view(a: &Alert, locale: Locale) -> View {
    let label = match (locale, a.kind) {
        (Locale::ZhCn, AlertKind::Warning) => "SLA 预警",
        (Locale::ZhCn, AlertKind::Breach) => "SLA 已超时",
        (Locale::ZhCn, AlertKind::Escalation) => "SLA 升级",
        (Locale::En, AlertKind::Warning) => "SLA warning",
        (Locale::En, AlertKind::Breach) => "SLA breached",
        (Locale::En, AlertKind::Escalation) => "SLA escalation",
    };
    View {
        kind: a.kind,
        label,
        percent: a.percent,
        ticket_number: a.ticket_number.clone(),
        ticket_title: one_line(&a.ticket_title),
        agency: one_line(&a.agency),
        line_item: one_line(&a.line_item),
        metric_name: metric_name(&a.metric, locale),
        target: duration(a.target_seconds, locale),
        calendar: a.calendar.clone(),
        deadline_local: a.deadline.with_timezone(&a.timezone).format("%Y-%m-%d %H:%M:%S").to_string(),
        timezone: a.timezone.name().to_owned(),
        remaining: duration(a.remaining_seconds, locale),
        overdue: (a.overdue_seconds > 0 || a.kind != AlertKind::Warning)
            .then(|| duration(a.overdue_seconds, locale)),
        link: a.link.clone(),
        beyond_holiday_data: a.beyond_holiday_data,
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // For templates: `{{ text|one_line }}` inline, `{{ text|quoted }}` for a block.
    env.add_filter("one_line", |text: String| one_line(&text));
    env.add_filter("quoted", |text: String| quoted(&text));
    // `.html` templates auto-escape: a ticket title cannot inject markup.
    for (name, source) in [
        ("subject.zh-CN.txt", include_str!("../templates/subject.zh-CN.txt")),
        ("subject.en.txt", include_str!("../templates/subject.en.txt")),
        ("alert.zh-CN.txt", include_str!("../templates/alert.zh-CN.txt")),
        ("alert.en.txt", include_str!("../templates/alert.en.txt")),
        ("alert.zh-CN.html", include_str!("../templates/alert.zh-CN.html")),
        ("alert.en.html", include_str!("../templates/alert.en.html")),
        ("digest.zh-CN.txt", include_str!("../templates/digest.zh-CN.txt")),
        ("digest.en.txt", include_str!("../templates/digest.en.txt")),
        ("digest.zh-CN.html", include_str!("../templates/digest.zh-CN.html")),
        ("digest.en.html", include_str!("../templates/digest.en.html")),
        ("monthly.zh-CN.txt", include_str!("../templates/monthly.zh-CN.txt")),
        ("monthly.en.txt", include_str!("../templates/monthly.en.txt")),
        ("monthly.zh-CN.html", include_str!("../templates/monthly.zh-CN.html")),
        ("monthly.en.html", include_str!("../templates/monthly.en.html")),
    ] {
        // The templates are part of the crate; a syntax error fails the tests, not production.
        if let Err(e) = env.add_template(name, source) {
            panic!("template {name} is invalid: {e}");
        }
    }
    env
}

/// Render one message for several alerts (of one ticket, for one recipient),
/// the most severe first.
pub fn render(alerts: &[Alert], locale: Locale) -> Result<Rendered, NotifyError> {
    if alerts.is_empty() {
        return Err(NotifyError::Empty);
    }
    let mut sorted: Vec<&Alert> = alerts.iter().collect();
    sorted.sort_by(|a, b| b.kind.cmp(&a.kind).then(b.percent.cmp(&a.percent)));
    let views: Vec<View> = sorted.into_iter().map(|a| view(a, locale)).collect();
    let env = environment();
    let tag = locale.tag();
    let get = |name: String| env.get_template(&name).map_err(|e| NotifyError::Template(e.to_string()));
    let subject = get(format!("subject.{tag}.txt"))?
        .render(context! { alerts => &views })
        .map_err(|e| NotifyError::Template(e.to_string()))?
        .trim()
        .to_owned();
    let text = get(format!("alert.{tag}.txt"))?
        .render(context! { alerts => &views, subject => &subject })
        .map_err(|e| NotifyError::Template(e.to_string()))?;
    let html = get(format!("alert.{tag}.html"))?
        .render(context! { alerts => &views, subject => &subject })
        .map_err(|e| NotifyError::Template(e.to_string()))?;
    Ok(Rendered { subject, text, html })
}

/// A message that is not about one clock: a late inspection, the monthly summary.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// Inspection windows that closed undone (巡检逾期), all in one message.
    InspectionDigest {
        /// The windows, oldest first.
        windows: Vec<LateWindow>,
        /// How many more closed undone than are listed.
        more: u64,
        /// Where to see them all, when a public base URL is configured.
        link: Option<String>,
    },
    /// Last month's SLA summary (月度服务报告), with the workbook attached.
    Monthly(Box<MonthlySummary>),
}

/// Last month's SLA figures for one recipient's scope, as the summary shows
/// them: the scope's totals, a table per line item, the tickets that missed
/// a target. Names are given in the message's language.
#[derive(Clone, Debug, PartialEq)]
pub struct MonthlySummary {
    /// `2026-06`.
    pub month: String,
    /// Whose figures: an agency's name, or the whole contract.
    pub scope: String,
    /// The contract's name.
    pub contract: String,
    /// The first day covered.
    pub from: NaiveDate,
    /// The last day covered.
    pub to: NaiveDate,
    /// The instant the figures were read at.
    pub as_of: DateTime<Utc>,
    /// The timezone to show it in: the contract's.
    pub timezone: Tz,
    /// The scope's figures per metric.
    pub totals: Vec<MetricLine>,
    /// The scope's inspections.
    pub inspections: InspectionLine,
    /// Each line item of the scope with a record in the month.
    pub items: Vec<ItemSummary>,
    /// Tickets that missed a target, the first ones.
    pub breached: Vec<BreachedLine>,
    /// How many more missed a target than are listed.
    pub more_breached: usize,
    /// The attached workbook's file name.
    pub attachment: String,
    /// Some figure was reckoned over dates without holiday data.
    pub beyond_holiday_data: bool,
}

/// One line item's figures.
#[derive(Clone, Debug, PartialEq)]
pub struct ItemSummary {
    /// 序号.
    pub seq: u32,
    /// Its name.
    pub name: String,
    /// Its agency's name.
    pub agency: String,
    /// Figures per metric.
    pub metrics: Vec<MetricLine>,
    /// Its inspections.
    pub inspections: InspectionLine,
}

/// One metric's clocks.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricLine {
    /// The metric's name (`响应`, `Response`).
    pub name: String,
    /// Met within target.
    pub met: u32,
    /// Missed.
    pub breached: u32,
    /// Still running within target.
    pub running: u32,
    /// Attainment in percent, when anything was decided.
    pub attainment_percent: Option<f64>,
}

/// Inspection windows closing in the month.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InspectionLine {
    /// Due (decided): on time + late + missed.
    pub due: u32,
    /// Done on time.
    pub on_time: u32,
    /// Done late.
    pub late: u32,
    /// Closed undone.
    pub missed: u32,
    /// Still open, not due yet.
    pub open: u32,
    /// Recorded late (补录).
    pub recorded_late: u32,
    /// Of those, approved.
    pub approved: u32,
    /// Closed before the service went live.
    pub before_go_live: u32,
}

/// A ticket that missed a target.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BreachedLine {
    /// `INC-2026-000123`.
    pub number: String,
    /// Its title, as a person wrote it.
    pub title: String,
    /// Its line item, with its number: `7 征收管理系统`.
    pub line_item: String,
    /// The metrics it missed, by name.
    pub metrics: Vec<String>,
    /// Its page, when a public base URL is configured.
    pub link: Option<String>,
}

#[derive(Serialize)]
struct MetricRow {
    name: String,
    met: u32,
    breached: u32,
    running: u32,
    attainment: String,
}

#[derive(Serialize)]
struct InspectionRow {
    due: u32,
    on_time: u32,
    late: u32,
    missed: u32,
    open: u32,
    recorded_late: u32,
    approved: u32,
    before_go_live: u32,
}

#[derive(Serialize)]
struct ItemRow {
    label: String,
    agency: String,
    metrics: Vec<MetricRow>,
    inspections: InspectionRow,
}

#[derive(Serialize)]
struct BreachRow {
    number: String,
    title: String,
    line_item: String,
    metrics: String,
    link: Option<String>,
}

fn metric_rows(lines: &[MetricLine]) -> Vec<MetricRow> {
    lines
        .iter()
        .map(|m| MetricRow {
            name: one_line(&m.name),
            met: m.met,
            breached: m.breached,
            running: m.running,
            attainment: m.attainment_percent.map_or_else(|| "—".to_owned(), |a| format!("{a:.1}%")),
        })
        .collect()
}

fn inspection_row(i: &InspectionLine) -> InspectionRow {
    InspectionRow {
        due: i.due,
        on_time: i.on_time,
        late: i.late,
        missed: i.missed,
        open: i.open,
        recorded_late: i.recorded_late,
        approved: i.approved,
        before_go_live: i.before_go_live,
    }
}

fn render_monthly(s: &MonthlySummary, locale: Locale) -> Result<Rendered, NotifyError> {
    let zh = locale == Locale::ZhCn;
    let scope = one_line(&s.scope);
    let subject = if zh {
        format!("【月度服务报告】{} {scope}", s.month)
    } else {
        format!("[Monthly SLA report] {} {scope}", s.month)
    };
    let period = if zh { format!("{} 至 {}", s.from, s.to) } else { format!("{} to {}", s.from, s.to) };
    let items: Vec<ItemRow> = s
        .items
        .iter()
        .map(|i| ItemRow {
            label: one_line(&format!("{} {}", i.seq, i.name)),
            agency: one_line(&i.agency),
            metrics: metric_rows(&i.metrics),
            inspections: inspection_row(&i.inspections),
        })
        .collect();
    let breached: Vec<BreachRow> = s
        .breached
        .iter()
        .map(|b| BreachRow {
            number: one_line(&b.number),
            title: one_line(&b.title),
            line_item: one_line(&b.line_item),
            metrics: one_line(&b.metrics.join(if zh { "、" } else { ", " })),
            link: b.link.as_deref().map(one_line),
        })
        .collect();
    let ctx = context! {
        subject => &subject,
        scope => &scope,
        contract => one_line(&s.contract),
        period => period,
        as_of => s.as_of.with_timezone(&s.timezone).format("%Y-%m-%d %H:%M (%:z)").to_string(),
        totals => metric_rows(&s.totals),
        inspections => inspection_row(&s.inspections),
        items => items,
        breached => breached,
        breached_total => s.breached.len() + s.more_breached,
        more_breached => s.more_breached,
        attachment => one_line(&s.attachment),
        beyond_holiday_data => s.beyond_holiday_data,
    };
    let env = environment();
    let tag = locale.tag();
    let render = |name: String| {
        env.get_template(&name).and_then(|t| t.render(&ctx)).map_err(|e| NotifyError::Template(e.to_string()))
    };
    Ok(Rendered {
        text: render(format!("monthly.{tag}.txt"))?,
        html: render(format!("monthly.{tag}.html"))?,
        subject,
    })
}

/// One inspection window that closed undone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LateWindow {
    /// The agency's name.
    pub agency: String,
    /// The line item, with its number: `7 征收管理系统`.
    pub line_item: String,
    /// The cycle in words (`每周`, `every month`), with its device class or slot.
    pub cycle: String,
    /// The window opened.
    pub from: DateTime<Utc>,
    /// It closed.
    pub to: DateTime<Utc>,
    /// The timezone to show them in: the line item's.
    pub timezone: Tz,
}

#[derive(Serialize)]
struct WindowView {
    agency: String,
    line_item: String,
    cycle: String,
    from: String,
    to: String,
}

fn render_digest(
    windows: &[LateWindow],
    more: u64,
    link: Option<&str>,
    locale: Locale,
) -> Result<Rendered, NotifyError> {
    let local = |t: &DateTime<Utc>, tz: &Tz| t.with_timezone(tz).format("%Y-%m-%d %H:%M %:z").to_string();
    let views: Vec<WindowView> = windows
        .iter()
        .map(|w| WindowView {
            agency: one_line(&w.agency),
            line_item: one_line(&w.line_item),
            cycle: one_line(&w.cycle),
            from: local(&w.from, &w.timezone),
            to: local(&w.to, &w.timezone),
        })
        .collect();
    let count = windows.len() as u64 + more;
    let subject = match locale {
        Locale::ZhCn => format!("【巡检逾期】{count} 个巡检时段未完成巡检"),
        Locale::En => format!("[Inspections overdue] {count} inspection windows closed undone"),
    };
    let env = environment();
    let tag = locale.tag();
    let ctx = context! { subject => &subject, windows => &views, more => more, link => link };
    let render = |name: String| {
        env.get_template(&name).and_then(|t| t.render(&ctx)).map_err(|e| NotifyError::Template(e.to_string()))
    };
    Ok(Rendered {
        text: render(format!("digest.{tag}.txt"))?,
        html: render(format!("digest.{tag}.html"))?,
        subject,
    })
}

/// Render a notice.
pub fn render_notice(notice: &Notice, locale: Locale) -> Result<Rendered, NotifyError> {
    match notice {
        Notice::InspectionDigest { windows, more, link } => {
            render_digest(windows, *more, link.as_deref(), locale)
        }
        Notice::Monthly(summary) => render_monthly(summary, locale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_cannot_draw_lines_of_its_own() {
        assert_eq!(one_line("平台\r\nBcc: x@evil.example"), "平台 ⏎ Bcc: x@evil.example");
        assert_eq!(one_line("invoice\u{202E}fdp.exe\u{200B}"), "invoicefdp.exe");
        assert_eq!(one_line("a\u{1b}[31m"), "a [31m");
        assert_eq!(quoted("first\r\nsecond\n\u{202E}third"), "> first\n> second\n> third");
    }
}
