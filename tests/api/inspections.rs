//! Inspection tasks from the catalog's cycles: listed in scope, completed by
//! engineers, counted in the monthly report as on time, late or missed.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use sla_engine::Timestamp;

use crate::helpers::{TestApp, instant, sh, utc};

crate::both_backends!(
    weekly_inspections_are_due_in_weeks_from_the_service_start_and_counted,
    overdue_windows_reach_each_manager_in_one_digest,
    a_first_start_mid_contract_owes_nothing_before_go_live,
    monthly_summaries_go_out_on_the_first_working_day_once,
    a_changed_cycle_keeps_every_completion
);

/// The windows listed for `item` that end after `from` and open before `to`.
async fn windows(app: &TestApp, token: &str, item: &str, from: &str, to: &str) -> Vec<Value> {
    let q = format!(
        "/v1/inspections?line_item_id={item}&limit=500&due_from={}&due_to={}",
        crate::helpers::in_query(&utc(from)),
        crate::helpers::in_query(&utc(to))
    );
    app.call(Method::GET, &q, token, None, StatusCode::OK).await.as_array().expect("list").clone()
}

fn spans(list: &[Value]) -> Vec<(Timestamp, Timestamp)> {
    list.iter().map(|t| (instant(&t["due_from"]), instant(&t["due_to"]))).collect()
}

async fn weekly_inspections_are_due_in_weeks_from_the_service_start_and_counted(app: TestApp) {
    // Item 1 is inspected weekly (巡检周期：每周); its service starts Friday
    // 2026-05-22, so its weeks run Friday to Friday (rewritten from ISO
    // weeks: a year of service then holds the contract's 52 weeks).
    let (_, eng) = app.user("engineer", None).await;
    let item1 = app.item_id(1).await;
    let list = windows(&app, &eng, &item1, "2026-06-01 00:00", "2026-06-29 00:00").await;
    assert_eq!(
        spans(&list),
        vec![
            (sh("2026-05-29 00:00"), sh("2026-06-05 00:00")),
            (sh("2026-06-05 00:00"), sh("2026-06-12 00:00")),
            (sh("2026-06-12 00:00"), sh("2026-06-19 00:00")),
            (sh("2026-06-19 00:00"), sh("2026-06-26 00:00")),
            (sh("2026-06-26 00:00"), sh("2026-07-03 00:00")),
        ]
    );
    assert!(list.iter().all(|t| t["every"] == "week" && t["status"] == "open"));
    let id = |i: usize| list[i]["id"].as_str().expect("id").to_owned();

    // Week 1 done on time, week 2 done late, weeks 3 and 4 never done.
    let body = json!({
        "findings": "机房温度正常",
        "checklist": [
            {"name": "服务器状态", "passed": true},
            {"name": "UPS", "passed": false, "note": "电池老化"}
        ],
        "attachments": ["https://files.example.org/1.jpg"]
    });
    app.clock.set(sh("2026-06-03 15:00"));
    let done = app
        .call(Method::POST, &format!("/v1/inspections/{}/complete", id(0)), &eng, Some(&body), StatusCode::OK)
        .await;
    assert_eq!(done["status"], "done");
    assert_eq!(done["checklist"][1]["note"], "电池老化");
    app.call(
        Method::POST,
        &format!("/v1/inspections/{}/complete", id(0)),
        &eng,
        Some(&body),
        StatusCode::CONFLICT,
    )
    .await;
    app.clock.set(sh("2026-06-16 10:00"));
    let late = app
        .call(
            Method::POST,
            &format!("/v1/inspections/{}/complete", id(1)),
            &eng,
            Some(&json!({})),
            StatusCode::OK,
        )
        .await;
    assert_eq!(late["status"], "late");
    // Bad completions.
    app.call(
        Method::POST,
        &format!("/v1/inspections/{}/complete", id(3)),
        &eng,
        Some(&json!({"completed_at": utc("2026-06-18 00:00")})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    app.call(
        Method::POST,
        &format!("/v1/inspections/{}/complete", id(2)),
        &eng,
        Some(&json!({"attachments": ["file:///etc/passwd"]})),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let (_, agency_user) = app.user("agency_user", Some("education-bureau")).await;
    app.call(
        Method::POST,
        &format!("/v1/inspections/{}/complete", id(2)),
        &agency_user,
        Some(&json!({})),
        StatusCode::FORBIDDEN,
    )
    .await;
    let (_, foreign) = app.user("agency_user", Some("justice-bureau")).await;
    app.call(
        Method::POST,
        &format!("/v1/inspections/{}/complete", id(2)),
        &foreign,
        Some(&json!({})),
        StatusCode::NOT_FOUND,
    )
    .await;
    let seen = windows(&app, &foreign, &item1, "2026-06-01 00:00", "2026-06-29 00:00").await;
    assert!(seen.is_empty(), "another agency's inspections are not listed");

    // June's report for item 1: the weeks closing in June close on 06-05,
    // 06-12, 06-19 and 06-26; the week of 05-22 closed before the service
    // went live (06-01), so it is neither due nor missed.
    app.clock.set(sh("2026-07-04 09:00"));
    let r = app
        .call(
            Method::GET,
            &format!("/v1/reports/sla?month=2026-06&line_item={item1}"),
            &eng,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        r["contract"]["inspections"],
        json!({"due": 4, "on_time": 1, "late": 1, "missed": 2, "open": 0, "recorded_late": 0, "approved": 0, "before_go_live": 0})
    );
    let may = app
        .call(
            Method::GET,
            &format!("/v1/reports/sla?month=2026-05&line_item={item1}"),
            &eng,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(
        may["contract"]["inspections"],
        json!({"due": 0, "on_time": 0, "late": 0, "missed": 0, "open": 0, "recorded_late": 0, "approved": 0, "before_go_live": 1})
    );
}

/// The messages that are inspection digests, to `to`.
fn digests(app: &TestApp, to: &str) -> Vec<notifier::sink::Received> {
    app.smtp.messages().into_iter().filter(|m| m.to == [to] && m.subject().contains("巡检逾期")).collect()
}

async fn overdue_windows_reach_each_manager_in_one_digest(app: TestApp) {
    let app = app.another(|s| s.inspection_alerts = true).await;
    // Item 29 is the only item of its agency, inspected weekly: its weeks
    // close on Fridays at 00:00, counted from 2026-05-22.
    app.user_with_email("manager", Some("development-reform-commission"), Some("drc@example.org")).await;
    app.user_with_email("manager", None, Some("supplier@example.org")).await;
    let (quiet, _) = app.user("manager", Some("education-bureau")).await;
    app.clock.set(sh("2026-06-04 23:59"));
    app.tick().await;
    assert!(
        digests(&app, "drc@example.org").is_empty(),
        "none of item 29's weeks closed since go-live (06-01)"
    );
    // The supplier-wide manager hears of every agency's: the daily windows of 06-01..03.
    assert_eq!(digests(&app, "supplier@example.org").len(), 1);
    // Three of item 29's weeks close after go-live by 06-19 00:00: 06-05, 06-12, 06-19.
    app.clock.set(sh("2026-06-19 00:01"));
    app.tick().await;
    let drc = digests(&app, "drc@example.org");
    assert_eq!(drc.len(), 1, "one digest");
    let body = drc[0].text();
    assert!(body.contains("共 3 个"), "lists three: {body}");
    for closes in ["2026-06-05 00:00", "2026-06-12 00:00", "2026-06-19 00:00"] {
        assert!(body.contains(&format!("至 {closes} +08:00")), "{closes} in {body}");
    }
    assert_eq!(digests(&app, "supplier@example.org").len(), 2);
    assert_eq!(app.smtp.messages().len(), 3, "a manager without an address is not written to");

    // Nothing new to say: no second digest, nor within a day of the last.
    app.tick().await;
    app.clock.set(sh("2026-06-20 00:00:30"));
    app.tick().await;
    assert_eq!(app.smtp.messages().len(), 3, "at most one digest a day, though 06-19's windows closed");
    // A day after the last: only windows not yet told of (the supplier's
    // daily windows of 06-19); item 29's agency has none new.
    app.clock.set(sh("2026-06-20 00:02"));
    app.tick().await;
    assert_eq!(digests(&app, "drc@example.org").len(), 1);
    let supplier = digests(&app, "supplier@example.org");
    assert_eq!(supplier.len(), 3);
    let last = supplier.last().expect("a digest").text();
    assert!(!last.contains("至 2026-06-19 00:00"), "told once: {last}");

    // The manager without an address was never reached: once they have
    // one, their first digest lists every window of their agency since go-live.
    app.call(
        Method::PATCH,
        &format!("/v1/users/{quiet}"),
        &app.admin_token,
        Some(&json!({"email": "edu@example.org"})),
        StatusCode::OK,
    )
    .await;
    app.tick().await;
    let edu = digests(&app, "edu@example.org");
    assert_eq!(edu.len(), 1);
    // Items 1 and 31 weekly (06-05..06-19: three each), item 2 monthly (none closed yet).
    assert!(edu[0].text().contains("共 6 个"), "{}", edu[0].text());
}

async fn a_first_start_mid_contract_owes_nothing_before_go_live(app: TestApp) {
    // A fresh install in November, managers set up at once: the windows that
    // closed since the contract began in May are not this service's to
    // announce (they went out with about 1,200 emails before).
    let fresh = TestApp::spawn_at(app.backend(), sh("2026-11-29 10:00"), |s| {
        s.inspection_alerts = true;
        s.monthly_reports = true;
    })
    .await;
    drop(app);
    fresh.user_with_email("manager", None, Some("supplier@example.org")).await;
    fresh.user_with_email("manager", Some("statistics-bureau"), Some("stats@example.org")).await;
    fresh.tick().await;
    assert!(fresh.smtp.messages().is_empty(), "nothing closed after go-live: {:?}", fresh.smtp.messages());
    // December 1st is not the first summary's day: November was not a whole month of service.
    fresh.clock.set(sh("2026-12-01 10:00"));
    fresh.tick().await;
    assert!(fresh.smtp.messages().iter().all(|m| !m.data.contains("sla-2026-11.xlsx")));
    // The windows of November 30 did close after go-live, and are owed.
    assert!(!digests(&fresh, "stats@example.org").is_empty());
    // June's report calls its windows "before go-live".
    let june = fresh
        .call(Method::GET, "/v1/reports/sla?month=2026-06", &fresh.admin_token, None, StatusCode::OK)
        .await;
    let i = &june["contract"]["inspections"];
    assert_eq!(i["due"], 0);
    assert_eq!(i["missed"], 0);
    assert!(i["before_go_live"].as_u64().is_some_and(|n| n > 100), "{i}");
}

async fn monthly_summaries_go_out_on_the_first_working_day_once(app: TestApp) {
    let app = app
        .another(|s| {
            s.monthly_reports = true;
            s.public_base_url = Some("https://itsm.example.org".into());
        })
        .await;
    app.user_with_email("manager", Some("education-bureau"), Some("edu-manager@example.org")).await;
    app.user_with_email("manager", None, Some("supplier-manager@example.org")).await;
    // September: a fault on item 1 (education bureau, 7x24: respond in 30
    // min, on site in 1 h, recover in 6 h) never answered, so it misses all
    // three; one on item 3 (justice bureau) answered in 10 minutes.
    let (_, eng) = app.user("engineer", None).await;
    app.clock.set(sh("2026-09-10 10:00"));
    let missed =
        app.file(&eng, json!({"line_item_id": app.item_id(1).await, "title": "监控平台无法登录"})).await;
    let missed = missed["id"].as_str().expect("id").to_owned();
    app.clock.set(sh("2026-09-14 10:00"));
    let other = app.file(&eng, json!({"line_item_id": app.item_id(3).await, "title": "会议室无信号"})).await;
    app.clock.set(sh("2026-09-14 10:10"));
    app.act(&eng, other["id"].as_str().expect("id"), "acknowledge", json!({}), StatusCode::OK).await;

    let count =
        || app.smtp.messages().iter().filter(|x| x.attachment_names() == ["sla-2026-09.xlsx"]).count();
    // October's first working day is the 8th (National Day, 10-01..07), opening at 09:00.
    app.clock.set(sh("2026-10-07 18:00"));
    app.tick().await;
    assert_eq!(count(), 0, "not before the first working day");
    app.clock.set(sh("2026-10-08 08:59"));
    app.tick().await;
    assert_eq!(count(), 0, "not before it opens");
    app.clock.set(sh("2026-10-08 09:00"));
    app.tick().await;
    assert_eq!(count(), 2, "one for each manager with an address");
    let to = |who: &str| {
        app.smtp
            .messages()
            .into_iter()
            .find(|x| x.to == [who] && x.subject().contains("2026-09"))
            .expect("a summary")
    };
    let edu = to("edu-manager@example.org");
    assert!(
        edu.header("Content-Type").is_some_and(|c| c.starts_with("multipart/mixed")),
        "with the workbook attached"
    );
    assert_eq!(edu.attachment_names(), ["sla-2026-09.xlsx"]);
    assert_eq!(edu.subject(), "【月度服务报告】2026-09 洛阳市教育局");
    // The plain-text part (rewritten from `on_site: 0 / 0 / 1 (—)` lines): the
    // period, a table per line item with the metrics by name, inspections,
    // the breached ticket with its link.
    // (Lines end in CRLF on the wire.)
    let text = edu.text().replace("\r\n", "\n");
    let link = format!("https://itsm.example.org/tickets/{missed}");
    for line in [
        "以下是洛阳市教育局 2026-09-01 至 2026-09-30 的服务水平月报（截至 2026-10-01 00:00 (+08:00)）。",
        "【合计】\n响应：按时 0，超时 1，进行中 0，达成率 0.0%\n到场：按时 0，超时 1，进行中 0，达成率 0.0%\n恢复：按时 0，超时 1，进行中 0，达成率 0.0%\n",
        // Item 1's weeks close on Fridays from 05-22: 09-04, 11, 18 and 25, none done.
        "\n1 “雪亮工程”及双重预防体系建设维护及服务（洛阳市教育局）\n  响应：按时 0，超时 1，进行中 0，达成率 0.0%\n  到场：按时 0，超时 1，进行中 0，达成率 0.0%\n  恢复：按时 0，超时 1，进行中 0，达成率 0.0%\n  巡检：应巡检 4，按时 0，逾期 0，未完成 4，未到期 0；补录 0，补录已批准 0，上线前 0\n",
        "【超时工单】共 1 张\n- INC-2026-000001 监控平台无法登录（1 “雪亮工程”及双重预防体系建设维护及服务；超时：响应、到场、恢复）\n",
        &format!("\n  {link}\n"),
        "明细见附件 sla-2026-09.xlsx",
    ] {
        assert!(text.contains(line), "{line}\nnot in\n{text}");
    }
    assert!(!text.contains("视频会议保障服务"), "another agency's item is not in the summary: {text}");
    // The HTML part: the same tables, the link clickable.
    let html = edu.html().replace("\r\n", "\n").replace("&#x2f;", "/");
    for piece in [
        "<h3 style=\"font-size: 15px; margin: 16px 0 4px\">1 “雪亮工程”及双重预防体系建设维护及服务 <span",
        "<td>到场</td><td align=\"right\">0</td><td align=\"right\">1</td><td align=\"right\">0</td><td align=\"right\"><strong>0.0%</strong></td>",
        &format!("<a href=\"{link}\">INC-2026-000001</a> 监控平台无法登录"),
        "巡检：应巡检 4，按时 0，逾期 0，未完成 4，未到期 0",
    ] {
        assert!(html.contains(piece), "{piece}\nnot in\n{html}");
    }
    // The supplier's manager reads every agency: item 3's response met in 10 minutes.
    let supplier = to("supplier-manager@example.org").text().replace("\r\n", "\n");
    assert!(
        supplier.contains(
            "\n3 视频会议保障服务（洛阳市司法局）\n  响应：按时 1，超时 0，进行中 0，达成率 100.0%\n"
        ),
        "{supplier}"
    );
    app.clock.set(sh("2026-10-09 09:00"));
    app.tick().await;
    assert_eq!(count(), 2, "exactly once");
}

async fn a_changed_cycle_keeps_every_completion(app: TestApp) {
    // Item 1 turns from weekly to monthly inspection at a restart on 06-10
    // (rewritten: the schedule is the catalog's, over the whole service
    // period; the completion recorded for a week moves to the month that
    // covers it, and weeks never done go).
    let (_, eng) = app.user("engineer", None).await;
    let item1 = app.item_id(1).await;
    app.clock.set(sh("2026-06-03 10:00"));
    let week = windows(&app, &eng, &item1, "2026-06-02 00:00", "2026-06-03 00:00").await;
    assert_eq!(spans(&week), vec![(sh("2026-05-29 00:00"), sh("2026-06-05 00:00"))]);
    let done_week = week[0]["id"].as_str().expect("id").to_owned();
    app.call(
        Method::POST,
        &format!("/v1/inspections/{done_week}/complete"),
        &eng,
        Some(&json!({"findings": "正常"})),
        StatusCode::OK,
    )
    .await;

    app.clock.set(sh("2026-06-10 12:00"));
    let dir = tempfile::tempdir().expect("tempdir");
    crate::helpers::copy_dir(&crate::helpers::config_dir(), dir.path());
    let items = dir.path().join("catalog/items.toml");
    let text = std::fs::read_to_string(&items).expect("read");
    std::fs::write(
        &items,
        text.replacen(
            "every = \"week\"\nsource = \"巡检周期：每周\"",
            "every = \"month\"\nsource = \"巡检周期：每周\"",
            1,
        ),
    )
    .expect("write");
    let renewed = app.restart_with(dir.path()).await;
    let q = format!("/v1/inspections?line_item_id={item1}&limit=500");
    let after = renewed.call(Method::GET, &q, &eng, None, StatusCode::OK).await;
    let after = after.as_array().expect("list");
    assert!(after.iter().all(|t| t["every"] == "month"), "no weekly window is left");
    assert_eq!(after.len(), 12, "a year of service is twelve months");
    let first = &after[0];
    assert_eq!(first["id"], done_week.as_str(), "the task done moved to the month covering it");
    assert_eq!(
        (instant(&first["due_from"]), instant(&first["due_to"])),
        (sh("2026-05-22 00:00"), sh("2026-06-22 00:00"))
    );
    assert_eq!(first["status"], "done");
    assert_eq!(first["findings"], "正常");
}
