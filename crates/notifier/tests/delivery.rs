//! Rendering and delivery against a real SMTP server in the test process.

use chrono::{TimeZone, Utc};
use notifier::sink::SmtpSink;
use notifier::{Alert, AlertKind, Email, FileMailer, Locale, Mailer, SmtpMailer, message_id, render};

fn alert(kind: AlertKind, percent: u32) -> Alert {
    Alert {
        kind,
        percent,
        ticket_number: "INC-2026-000123".into(),
        ticket_title: "平台无法登录 <script>alert(1)</script>".into(),
        agency: "洛阳市教育局".into(),
        line_item: "“雪亮工程”及双重预防体系建设维护及服务".into(),
        metric: "response".into(),
        target_seconds: 1800,
        calendar: "7x24".into(),
        deadline: Utc.with_ymd_and_hms(2026, 6, 1, 2, 30, 0).single().expect("valid"),
        timezone: chrono_tz::Asia::Shanghai,
        remaining_seconds: if kind == AlertKind::Warning { 900 } else { 0 },
        overdue_seconds: if kind == AlertKind::Warning { 0 } else { 300 },
        link: Some("https://itsm.example.org/tickets/1".into()),
        beyond_holiday_data: false,
    }
}

#[test]
fn chinese_by_default_with_local_deadline_and_escaped_html() {
    let r = render(&[alert(AlertKind::Warning, 80)], Locale::ZhCn).expect("renders");
    assert_eq!(r.subject, "【SLA 预警】INC-2026-000123 洛阳市教育局 响应已用 80%");
    assert!(r.text.contains("截止时间：2026-06-01 10:30:00（Asia/Shanghai）"), "{}", r.text);
    assert!(r.text.contains("剩余时间：15 分"), "{}", r.text);
    assert!(r.text.contains("https://itsm.example.org/tickets/1"));
    assert!(r.html.contains("&lt;script&gt;") && !r.html.contains("<script>"), "the title is escaped");
    let b = render(&[alert(AlertKind::Breach, 100), alert(AlertKind::Warning, 80)], Locale::ZhCn)
        .expect("renders");
    assert_eq!(b.subject, "【SLA 已超时】INC-2026-000123 洛阳市教育局 响应已超时 等 2 项");
    assert!(b.text.contains("已超时：5 分"), "{}", b.text);
}

#[test]
fn english_on_request() {
    let r = render(&[alert(AlertKind::Breach, 100)], Locale::En).expect("renders");
    assert_eq!(r.subject, "[SLA breached] INC-2026-000123 洛阳市教育局 response breached");
    assert!(r.text.contains("Deadline:  2026-06-01 10:30:00 (Asia/Shanghai)"), "{}", r.text);
    assert!(render(&[], Locale::En).is_err());
}

fn email(key: &str) -> Email {
    let r = render(&[alert(AlertKind::Breach, 100)], Locale::ZhCn).expect("renders");
    let from = "ITSM <itsm@luoyang.example.org>".to_owned();
    Email {
        message_id: message_id(key, &from),
        from,
        to: vec!["manager@example.org".into()],
        subject: r.subject,
        text: r.text,
        html: r.html,
        attachment: None,
    }
}

#[tokio::test]
async fn smtp_delivers_multipart_with_a_stable_message_id() {
    let sink = SmtpSink::start().expect("sink");
    let mailer = SmtpMailer::from_url(&sink.url()).expect("url");
    let e = email("clock-1/100");
    mailer.send(&e).await.expect("sent");
    let got = sink.messages();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].to, vec!["manager@example.org".to_owned()]);
    assert_eq!(got[0].header("Message-ID").as_deref(), Some(e.message_id.as_str()));
    assert!(got[0].header("Content-Type").is_some_and(|c| c.starts_with("multipart/alternative")));
    assert!(
        got[0].header("Subject").is_some_and(|s| s.contains("=?utf-8?")),
        "the Chinese subject is encoded"
    );
    assert_eq!(message_id("clock-1/100", &e.from), e.message_id, "same key, same id");
    assert_ne!(message_id("clock-1/80", &e.from), e.message_id);
}

#[tokio::test]
async fn an_outage_is_a_transient_error() {
    let sink = SmtpSink::start().expect("sink");
    let mailer = SmtpMailer::from_url(&sink.url()).expect("url");
    sink.set_down(true);
    let err = mailer.send(&email("k")).await.expect_err("server down");
    assert!(!err.permanent, "{err}");
    sink.set_down(false);
    mailer.send(&email("k")).await.expect("server up again");
    assert_eq!(sink.messages().len(), 1);
    assert!(SmtpMailer::from_url("ftp://nowhere").is_err());
}

#[tokio::test]
async fn files_are_written_once_per_message_id() {
    let dir = std::env::temp_dir().join(format!("itsm-outbox-test-{}", std::process::id()));
    let mailer = FileMailer::new(&dir);
    let e = email("clock-2/50");
    mailer.send(&e).await.expect("written");
    mailer.send(&e).await.expect("written again");
    let files: Vec<_> = std::fs::read_dir(&dir).expect("dir").collect();
    assert_eq!(files.len(), 1, "a resend overwrites the same file");
    let text = std::fs::read_to_string(mailer.path_for(&e)).expect("eml");
    assert!(text.contains(&e.message_id));
    // The file is named by the Message-ID, so that a message in a mail log can be found on disk.
    let id = e.message_id.trim_matches(|c| c == '<' || c == '>');
    let name = mailer.path_for(&e).file_name().expect("name").to_string_lossy().into_owned();
    assert_eq!(name, format!("{id}.eml"));
    let parsed = mail_parser::MessageParser::default().parse(text.as_bytes()).expect("MIME");
    assert_eq!(parsed.header_raw("Auto-Submitted").map(str::trim), Some("auto-generated"));
    // Messages hold names and addresses: the owner's alone.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &std::path::Path| std::fs::metadata(p).expect("metadata").permissions().mode() & 0o777;
        assert_eq!(mode(&mailer.path_for(&e)), 0o600);
        assert_eq!(mode(&dir), 0o700);
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn notices_and_attachments() {
    let sink = SmtpSink::start().expect("sink");
    let mailer = SmtpMailer::from_url(&sink.url()).expect("url");
    // The monthly summary (rewritten from lines of figures worded by the
    // caller): a table per line item, the breached tickets with links, and
    // a title that cannot draw a line of its own.
    let figures = |name: &str, met, breached, running, attainment| notifier::MetricLine {
        name: name.into(),
        met,
        breached,
        running,
        attainment_percent: attainment,
    };
    let summary = notifier::MonthlySummary {
        month: "2026-06".into(),
        scope: "洛阳市教育局".into(),
        contract: "洛阳市政务信息化运维项目".into(),
        from: chrono::NaiveDate::from_ymd_opt(2026, 6, 1).expect("date"),
        to: chrono::NaiveDate::from_ymd_opt(2026, 6, 30).expect("date"),
        as_of: Utc.with_ymd_and_hms(2026, 6, 30, 16, 0, 0).single().expect("valid"),
        timezone: chrono_tz::Asia::Shanghai,
        totals: vec![figures("响应", 1, 1, 1, Some(50.0))],
        inspections: notifier::InspectionLine {
            due: 4,
            on_time: 1,
            late: 1,
            missed: 2,
            ..Default::default()
        },
        items: vec![notifier::ItemSummary {
            seq: 1,
            name: "雪亮工程".into(),
            agency: "洛阳市教育局".into(),
            metrics: vec![figures("响应", 1, 1, 1, Some(50.0)), figures("到场", 0, 0, 0, None)],
            inspections: notifier::InspectionLine {
                due: 4,
                on_time: 1,
                late: 1,
                missed: 2,
                ..Default::default()
            },
        }],
        breached: vec![notifier::BreachedLine {
            number: "INC-2026-000002".into(),
            title: "平台无法登录\r\n【合计】响应：按时 99".into(),
            line_item: "1 雪亮工程".into(),
            metrics: vec!["响应".into()],
            link: Some("https://itsm.example.org/tickets/0192".into()),
        }],
        more_breached: 0,
        attachment: "sla-2026-06.xlsx".into(),
        beyond_holiday_data: false,
    };
    let r = notifier::render_notice(&notifier::Notice::Monthly(Box::new(summary)), Locale::ZhCn)
        .expect("renders");
    assert_eq!(r.subject, "【月度服务报告】2026-06 洛阳市教育局");
    assert!(
        r.text.contains(
            "以下是洛阳市教育局 2026-06-01 至 2026-06-30 的服务水平月报（截至 2026-07-01 00:00 (+08:00)）"
        ),
        "{}",
        r.text
    );
    assert!(r.text.contains("\n1 雪亮工程（洛阳市教育局）\n  响应：按时 1，超时 1，进行中 1，达成率 50.0%\n  到场：按时 0，超时 0，进行中 0，达成率 —\n"), "{}", r.text);
    assert!(r.text.contains("巡检：应巡检 4，按时 1，逾期 1，未完成 2，未到期 0"), "{}", r.text);
    assert!(
        r.text.contains("- INC-2026-000002 平台无法登录 ⏎ 【合计】响应：按时 99（1 雪亮工程；超时：响应）\n  https://itsm.example.org/tickets/0192\n"),
        "{}",
        r.text
    );
    assert!(!r.text.lines().any(|l| l.starts_with("【合计】响应")), "a title draws no line: {}", r.text);
    // The HTML escapes `/` in attributes (`&#x2f;`), which a reader's client decodes.
    let html = r.html.replace("&#x2f;", "/");
    assert!(html.contains("<a href=\"https://itsm.example.org/tickets/0192\">INC-2026-000002</a>"), "{html}");
    assert!(r.html.contains("<td>到场</td><td align=\"right\">0</td>"), "{}", r.html);
    let mut e = email("monthly/2026-06/boss");
    e.subject = r.subject;
    e.attachment = Some(notifier::Attachment {
        filename: "sla-2026-06.xlsx".into(),
        content_type: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".into(),
        bytes: b"PK\x03\x04".to_vec(),
    });
    mailer.send(&e).await.expect("sent");
    let got = sink.messages();
    assert!(got[0].header("Content-Type").is_some_and(|c| c.starts_with("multipart/mixed")));
    assert!(got[0].data.contains("sla-2026-06.xlsx"));
    // Overdue inspection windows come as one digest, rewritten from one
    // notice per window: each window with its item, cycle and local times.
    let window = |item: &str, day: u32| notifier::LateWindow {
        agency: "洛阳市教育局".into(),
        line_item: item.into(),
        cycle: "every week".into(),
        from: Utc.with_ymd_and_hms(2026, 5, day - 7, 16, 0, 0).single().expect("valid"),
        to: Utc.with_ymd_and_hms(2026, 5, day, 16, 0, 0).single().expect("valid"),
        timezone: chrono_tz::Asia::Shanghai,
    };
    let digest = notifier::Notice::InspectionDigest {
        windows: vec![window("1 雪亮工程", 28), window("31 威胁检测平台", 28)],
        more: 3,
        link: Some("https://itsm.example.org/inspections".into()),
    };
    let r = notifier::render_notice(&digest, Locale::En).expect("renders");
    assert_eq!(r.subject, "[Inspections overdue] 5 inspection windows closed undone");
    assert!(
        r.text.contains(
            "- 洛阳市教育局 / 1 雪亮工程 / every week: 2026-05-22 00:00 +08:00 to 2026-05-29 00:00 +08:00"
        ),
        "{}",
        r.text
    );
    assert!(r.text.contains("and 3 more not listed"), "{}", r.text);
    assert!(r.html.contains("<td>31 威胁检测平台</td>"), "{}", r.html);
}
