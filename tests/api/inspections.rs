//! Inspection tasks from the catalog's cycles: listed in scope, completed by
//! engineers, counted in the monthly report as on time, late or missed.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, sh, utc};

crate::both_backends!(
    weekly_inspections_are_due_in_their_iso_week_and_counted,
    inspections_closed_undone_are_announced_once,
    monthly_summaries_go_out_on_the_first_working_day_once,
    a_changed_cycle_regenerates_future_tasks_only
);

async fn weekly_inspections_are_due_in_their_iso_week_and_counted(app: TestApp) {
    // Item 1 is inspected weekly (巡检周期：每周).
    let (_, eng) = app.user("engineer", None).await;
    let item1 = app.item_id(1).await;
    let q = format!(
        "/v1/inspections?line_item_id={item1}&due_from={}&due_to={}",
        crate::helpers::in_query(&utc("2026-06-01 00:00")),
        crate::helpers::in_query(&utc("2026-06-29 00:00"))
    );
    let list = app.call(Method::GET, &q, &eng, None, StatusCode::OK).await;
    let list = list.as_array().expect("list").clone();
    let windows: Vec<(String, String)> = list
        .iter()
        .map(|t| {
            (t["due_from"].as_str().unwrap_or("").to_owned(), t["due_to"].as_str().unwrap_or("").to_owned())
        })
        .collect();
    assert_eq!(
        windows,
        vec![
            (utc("2026-06-01 00:00"), utc("2026-06-08 00:00")),
            (utc("2026-06-08 00:00"), utc("2026-06-15 00:00")),
            (utc("2026-06-15 00:00"), utc("2026-06-22 00:00")),
            (utc("2026-06-22 00:00"), utc("2026-06-29 00:00")),
        ]
    );
    assert!(list.iter().all(|t| t["every"] == "week" && t["status"] == "open"));
    let id = |i: usize| list[i]["id"].as_str().expect("id").to_owned();

    // Week 1 done on time, week 2 done late, week 3 never done.
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
        Some(&json!({"completed_at": utc("2026-06-21 00:00")})),
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
    let seen: Value = app.call(Method::GET, &q, &foreign, None, StatusCode::OK).await;
    assert_eq!(seen, json!([]), "another agency's inspections are not listed");

    // June's report for item 1: the windows closing in June close on 06-08,
    // 06-15, 06-22 and 06-29 (the week of 05-25 closes at June's first
    // instant and belongs to May).
    app.clock.set(sh("2026-07-02 09:00"));
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
        json!({"due": 4, "on_time": 1, "late": 1, "missed": 2, "recorded_late": 0, "approved": 0})
    );
}

async fn inspections_closed_undone_are_announced_once(app: TestApp) {
    let app = app.another(|s| s.inspection_alerts = true).await;
    // Only the supplier's manager has an address: one notice per task.
    app.user_with_email("manager", None, Some("supplier-manager@example.org")).await;
    app.user("manager", Some("education-bureau")).await;
    let (_, eng) = app.user("engineer", None).await;
    app.clock.set(sh("2026-05-22 08:00"));
    app.tick().await;
    assert!(app.smtp.messages().is_empty(), "no window has closed yet");
    // The first weekend's windows close by Monday 05-25 00:00.
    app.clock.set(sh("2026-05-25 00:00"));
    let tasks = app
        .call(
            Method::GET,
            "/v1/inspections?limit=500&due_to=2026-05-25T00%3A00%3A00%2B08%3A00",
            &eng,
            None,
            StatusCode::OK,
        )
        .await;
    let missed = tasks.as_array().expect("list").iter().filter(|t| t["status"] == "missed").count();
    assert!(missed > 0);
    app.tick().await;
    assert_eq!(app.smtp.messages().len(), missed, "one notice per inspection not done");
    assert!(app.smtp.messages().iter().all(|m| m.to == ["supplier-manager@example.org"]));
    app.tick().await;
    assert_eq!(app.smtp.messages().len(), missed, "exactly once");
}

async fn monthly_summaries_go_out_on_the_first_working_day_once(app: TestApp) {
    let app = app.another(|s| s.monthly_reports = true).await;
    app.user_with_email("manager", Some("education-bureau"), Some("edu-manager@example.org")).await;
    app.user_with_email("manager", None, Some("supplier-manager@example.org")).await;
    let count = || app.smtp.messages().iter().filter(|x| x.data.contains("sla-2026-09.xlsx")).count();
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
    let one =
        app.smtp.messages().into_iter().find(|x| x.data.contains("sla-2026-09.xlsx")).expect("a summary");
    assert!(
        one.header("Content-Type").is_some_and(|c| c.starts_with("multipart/mixed")),
        "with the workbook attached"
    );
    app.clock.set(sh("2026-10-09 09:00"));
    app.tick().await;
    assert_eq!(count(), 2, "exactly once");
}

async fn a_changed_cycle_regenerates_future_tasks_only(app: TestApp) {
    // Item 1 turns from weekly to monthly inspection at a restart on 06-10:
    // the weeks before stay (one of them done), the weekly tasks still to
    // come go, monthly ones arrive.
    let (_, eng) = app.user("engineer", None).await;
    let item1 = app.item_id(1).await;
    app.clock.set(sh("2026-06-03 10:00"));
    let q = format!("/v1/inspections?line_item_id={item1}&limit=500");
    let before = app.call(Method::GET, &q, &eng, None, StatusCode::OK).await;
    let first_june_week = before
        .as_array()
        .expect("list")
        .iter()
        .find(|t| t["due_from"] == utc("2026-06-01 00:00"))
        .expect("week of 06-01")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    app.call(
        Method::POST,
        &format!("/v1/inspections/{first_june_week}/complete"),
        &eng,
        Some(&json!({})),
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
    let after = renewed.call(Method::GET, &q, &eng, None, StatusCode::OK).await;
    let after = after.as_array().expect("list");
    let weekly: Vec<&str> =
        after.iter().filter(|t| t["every"] == "week").filter_map(|t| t["due_from"].as_str()).collect();
    let week_of = |d: &str| utc(d);
    // Kept: the weeks that began before now (including the one under way).
    assert!(weekly.contains(&week_of("2026-05-25 00:00").as_str()));
    assert!(weekly.contains(&week_of("2026-06-08 00:00").as_str()), "the current week is not in the future");
    assert!(!weekly.contains(&week_of("2026-06-15 00:00").as_str()), "future weekly tasks are gone");
    assert!(
        after.iter().any(|t| t["id"] == first_june_week.as_str() && t["status"] == "done"),
        "history stays"
    );
    let monthly = after.iter().filter(|t| t["every"] == "month").count();
    assert_eq!(monthly, 13, "2026-05-22..2027-05-21 spans thirteen calendar months");
}
