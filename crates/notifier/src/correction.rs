//! A correction: alerts already sent about thresholds that did not happen
//! after all (an engineer recorded, later, an action taken in time). Short,
//! to the same recipients, naming what to disregard and why.

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use minijinja::{Environment, context};
use serde::Serialize;

use crate::NotifyError;
use crate::render::{AlertKind, Locale, Rendered, metric_name, one_line};

/// One threshold an earlier message announced that did not happen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Withdrawn {
    /// Warning, breach or escalation.
    pub kind: AlertKind,
    /// The threshold, in percent of the target.
    pub percent: u32,
    /// `response`, `on_site`, `recovery` or another metric.
    pub metric: String,
    /// When the earlier message said the clock crossed it.
    pub crossed_at: DateTime<Utc>,
}

/// A correction of one earlier message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Correction {
    /// E.g. `INC-2026-000123`.
    pub ticket_number: String,
    /// The ticket's title.
    pub ticket_title: String,
    /// The agency's name.
    pub agency: String,
    /// The subject of the message corrected.
    pub original_subject: String,
    /// What did not happen.
    pub withdrawn: Vec<Withdrawn>,
    /// The timezone times are shown in: the line item's.
    pub timezone: Tz,
    /// A link to the ticket, when a public base URL is configured.
    pub link: Option<String>,
}

#[derive(Serialize)]
struct Line {
    label: String,
    crossed_at: String,
}

fn label(w: &Withdrawn, locale: Locale) -> String {
    let metric = metric_name(&w.metric, locale);
    match (locale, w.kind) {
        (Locale::ZhCn, AlertKind::Warning) => format!("{metric}已用 {}% 的预警", w.percent),
        (Locale::ZhCn, AlertKind::Breach) => format!("{metric}超时"),
        (Locale::ZhCn, AlertKind::Escalation) => format!("{metric}超时 {}% 的升级", w.percent),
        (Locale::En, AlertKind::Warning) => format!("the {metric} warning at {} %", w.percent),
        (Locale::En, AlertKind::Breach) => format!("the {metric} breach"),
        (Locale::En, AlertKind::Escalation) => format!("the {metric} escalation at {} %", w.percent),
    }
}

const TEMPLATES: [(&str, &str); 6] = [
    (
        "subject.zh-CN",
        "【更正】{{ number }} {{ lines[0].label }}{% if lines|length > 1 %}等 {{ lines|length }} 项{% endif %}未发生",
    ),
    (
        "subject.en",
        "[Correction] {{ number }}: {{ lines[0].label }}{% if lines|length > 1 %} and {{ lines|length - 1 }} more{% endif %} did not happen",
    ),
    ("text.zh-CN", include_str!("../templates/correction.zh-CN.txt")),
    ("text.en", include_str!("../templates/correction.en.txt")),
    ("html.zh-CN", include_str!("../templates/correction.zh-CN.html")),
    ("html.en", include_str!("../templates/correction.en.html")),
];

/// Render a correction.
pub fn render_correction(c: &Correction, locale: Locale) -> Result<Rendered, NotifyError> {
    if c.withdrawn.is_empty() {
        return Err(NotifyError::Empty);
    }
    let mut env = Environment::new();
    for (name, source) in TEMPLATES {
        // `.html` in the name turns escaping on: a title cannot inject markup.
        let name = if name.starts_with("html") { format!("{name}.html") } else { name.to_owned() };
        env.add_template_owned(name, source).map_err(|e| NotifyError::Template(e.to_string()))?;
    }
    let lines: Vec<Line> = c
        .withdrawn
        .iter()
        .map(|w| Line {
            label: label(w, locale),
            crossed_at: w.crossed_at.with_timezone(&c.timezone).format("%Y-%m-%d %H:%M:%S").to_string(),
        })
        .collect();
    let tag = locale.tag();
    let ctx = context! {
        number => &c.ticket_number,
        title => one_line(&c.ticket_title),
        agency => one_line(&c.agency),
        original_subject => one_line(&c.original_subject),
        lines => &lines,
        timezone => c.timezone.name(),
        link => &c.link,
    };
    let render = |name: String| {
        env.get_template(&name).and_then(|t| t.render(&ctx)).map_err(|e| NotifyError::Template(e.to_string()))
    };
    let subject = render(format!("subject.{tag}"))?.trim().to_owned();
    let ctx_subject = context! { subject => &subject, ..ctx.clone() };
    let text = env
        .get_template(&format!("text.{tag}"))
        .and_then(|t| t.render(&ctx_subject))
        .map_err(|e| NotifyError::Template(e.to_string()))?;
    let html = env
        .get_template(&format!("html.{tag}.html"))
        .and_then(|t| t.render(&ctx_subject))
        .map_err(|e| NotifyError::Template(e.to_string()))?;
    Ok(Rendered { subject, text, html })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::{Correction, Withdrawn, render_correction};
    use crate::render::{AlertKind, Locale};

    fn correction() -> Correction {
        Correction {
            ticket_number: "INC-2026-000007".into(),
            ticket_title: "机房<断电>".into(),
            agency: "洛阳市司法局".into(),
            original_subject: "【SLA 已超时】INC-2026-000007 洛阳市司法局 响应已超时".into(),
            withdrawn: vec![Withdrawn {
                kind: AlertKind::Breach,
                percent: 100,
                metric: "response".into(),
                crossed_at: chrono::Utc.with_ymd_and_hms(2026, 6, 1, 12, 30, 0).unwrap(),
            }],
            timezone: chrono_tz::Asia::Shanghai,
            link: Some("https://itsm.example.org/tickets/x".into()),
        }
    }

    #[test]
    fn says_what_to_disregard_in_both_languages() {
        let zh = render_correction(&correction(), Locale::ZhCn).expect("zh");
        assert_eq!(zh.subject, "【更正】INC-2026-000007 响应超时未发生");
        assert!(zh.text.contains("2026-06-01 20:30:00"), "{}", zh.text);
        assert!(zh.text.contains("【SLA 已超时】INC-2026-000007"), "{}", zh.text);
        assert!(zh.html.contains("机房&lt;断电&gt;"), "escaped: {}", zh.html);
        // minijinja escapes `/` in HTML as `&#x2f;`, which a browser reads back as `/`.
        assert!(
            zh.html.contains("href=\"https:&#x2f;&#x2f;itsm.example.org&#x2f;tickets&#x2f;x\""),
            "{}",
            zh.html
        );
        let en = render_correction(&correction(), Locale::En).expect("en");
        assert_eq!(en.subject, "[Correction] INC-2026-000007: the response breach did not happen");
        assert!(en.text.contains("2026-06-01 20:30:00 (Asia/Shanghai)"), "{}", en.text);
    }
}
