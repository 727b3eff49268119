//! Whole ticket flows, with clocks checked against deadlines computed by hand
//! from the contract's targets and the calendar.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, clock, sh, shown, utc};

crate::both_backends!(
    file_work_and_close_a_7x24_ticket,
    a_5x8_ticket_counts_only_working_time,
    a_backdated_ticket_starts_its_clocks_when_reported,
    invalid_transitions_name_both_states,
    severity_change_reselects_targets_and_keeps_the_start
);

async fn file_work_and_close_a_7x24_ticket(app: TestApp) {
    // Item 1: 7x24, response 0.5 h, on site 1 h, recovery 6 h.
    let item = app.item_id(1).await;
    let (_, agency_user) = app.user("agency_user", Some("education-bureau")).await;
    let (_, engineer) = app.user("engineer", None).await;

    let t = app
        .file(
            &agency_user,
            json!({
                "line_item_id": item, "title": "平台无法登录", "description": "all users", "severity": "general"
            }),
        )
        .await;
    let id = t["id"].as_str().expect("id").to_owned();
    assert!(t["number"].as_str().is_some_and(|n| n.starts_with("INC-2026-")), "{t}");
    assert_eq!(t["state"], "open");
    assert_eq!(clock(&t, "response")["deadline"], shown("2026-06-01 10:30"));
    assert_eq!(clock(&t, "on_site")["deadline"], shown("2026-06-01 11:00"));
    assert_eq!(clock(&t, "recovery")["deadline"], shown("2026-06-01 16:00"));
    assert_eq!(clock(&t, "response")["target_minutes"], 30);

    app.clock.set(sh("2026-06-01 10:20"));
    let t = app.act(&engineer, &id, "acknowledge", json!({}), StatusCode::OK).await;
    assert_eq!(t["state"], "acknowledged");
    assert_eq!(clock(&t, "response")["state"], "met");
    assert_eq!(clock(&t, "response")["breached"], false);

    app.clock.set(sh("2026-06-01 10:50"));
    let t = app.act(&engineer, &id, "arrive", json!({}), StatusCode::OK).await;
    assert_eq!(t["state"], "in_progress");
    assert_eq!(clock(&t, "on_site")["state"], "met");

    // Waiting on the agency from 11:30 to 12:30: recovery moves an hour, to 17:00.
    app.clock.set(sh("2026-06-01 11:30"));
    let t = app
        .act(&engineer, &id, "pause", json!({"body": "waiting for the agency's VPN account"}), StatusCode::OK)
        .await;
    assert_eq!(t["state"], "paused");
    assert_eq!(clock(&t, "recovery")["state"], "paused");
    app.clock.set(sh("2026-06-01 12:30"));
    let t = app.act(&engineer, &id, "resume", json!({}), StatusCode::OK).await;
    assert_eq!(t["state"], "in_progress");
    assert_eq!(clock(&t, "recovery")["deadline"], shown("2026-06-01 17:00"));

    app.clock.set(sh("2026-06-01 14:00"));
    let t = app.act(&engineer, &id, "resolve", json!({}), StatusCode::OK).await;
    assert_eq!(t["state"], "resolved");
    assert_eq!(clock(&t, "recovery")["state"], "met");
    assert_eq!(clock(&t, "recovery")["elapsed_seconds"], 3 * 3600);

    // Reopened next morning: three hours were used, three remain.
    app.clock.set(sh("2026-06-02 09:00"));
    let t = app.act(&agency_user, &id, "reopen", json!({"body": "broken again"}), StatusCode::OK).await;
    assert_eq!(t["state"], "in_progress");
    assert_eq!(clock(&t, "recovery")["state"], "running");
    assert_eq!(clock(&t, "recovery")["deadline"], shown("2026-06-02 12:00"));

    app.clock.set(sh("2026-06-02 10:00"));
    app.act(&engineer, &id, "resolve", json!({}), StatusCode::OK).await;
    let t = app.act(&agency_user, &id, "close", json!({}), StatusCode::OK).await;
    assert_eq!(t["state"], "closed");
    assert_eq!(clock(&t, "recovery")["elapsed_seconds"], 4 * 3600);

    let trail =
        app.call(Method::GET, &format!("/v1/tickets/{id}/events"), &agency_user, None, StatusCode::OK).await;
    let actions: Vec<&str> =
        trail.as_array().expect("events").iter().map(|e| e["action"].as_str().unwrap_or("")).collect();
    assert_eq!(
        actions,
        ["file", "acknowledge", "arrive", "pause", "resume", "resolve", "reopen", "resolve", "close"]
    );
    assert_eq!(trail[3]["from_state"], "in_progress");
    assert_eq!(trail[3]["to_state"], "paused");
    assert_eq!(trail[3]["data"]["note"], "waiting for the agency's VPN account");
}

async fn a_5x8_ticket_counts_only_working_time(app: TestApp) {
    // Item 3: 5x8, response 0.5 h. Filed Friday 2026-09-18 17:45: 15 minutes
    // that day, then Saturday is closed and Sunday 09-20 is a make-up
    // workday, so the response is due Sunday 09:15.
    let item = app.item_id(3).await;
    let (_, engineer) = app.user("engineer", None).await;
    app.clock.set(sh("2026-09-18 17:45"));
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "视频会议中断"})).await;
    assert_eq!(clock(&t, "response")["deadline"], shown("2026-09-20 09:15"));
    assert_eq!(clock(&t, "response")["calendar"], "5x8");
    // Saturday noon: nothing has counted since Friday 18:00.
    app.clock.set(sh("2026-09-19 12:00"));
    let t = app.ticket(&engineer, t["id"].as_str().expect("id")).await;
    assert_eq!(clock(&t, "response")["elapsed_seconds"], 15 * 60);
    assert_eq!(clock(&t, "response")["state"], "running");
    // Sunday 09:30: breached at 09:15.
    app.clock.set(sh("2026-09-20 09:30"));
    let t = app.ticket(&engineer, t["id"].as_str().expect("id")).await;
    assert_eq!(clock(&t, "response")["state"], "breached");
    assert_eq!(clock(&t, "response")["breached_at"], shown("2026-09-20 09:15"));
}

async fn a_backdated_ticket_starts_its_clocks_when_reported(app: TestApp) {
    let item = app.item_id(1).await;
    let (_, engineer) = app.user("engineer", None).await;
    let (_, agency_user) = app.user("agency_user", Some("education-bureau")).await;
    let body = json!({"line_item_id": item, "title": "phoned in", "reported_at": utc("2026-06-01 09:00")});
    let t = app.file(&engineer, body.clone()).await;
    assert_eq!(t["reported_at"], shown("2026-06-01 09:00"));
    assert_eq!(clock(&t, "response")["state"], "breached");
    assert_eq!(clock(&t, "response")["breached_at"], shown("2026-06-01 09:30"));
    assert_eq!(clock(&t, "recovery")["deadline"], shown("2026-06-01 15:00"));
    let trail = app
        .call(
            Method::GET,
            &format!("/v1/tickets/{}/events", t["id"].as_str().expect("id")),
            &engineer,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(trail[0]["data"]["backdated_by_seconds"], 3600);
    // Agency users may not backdate; nobody may date a fault in the future or before the service period.
    app.call(Method::POST, "/v1/tickets", &agency_user, Some(&body), StatusCode::FORBIDDEN).await;
    let future = json!({"line_item_id": item, "title": "x", "reported_at": utc("2026-06-01 11:00")});
    app.call(Method::POST, "/v1/tickets", &engineer, Some(&future), StatusCode::UNPROCESSABLE_ENTITY).await;
    let early = json!({"line_item_id": item, "title": "x", "reported_at": utc("2026-05-21 12:00")});
    let p = app
        .call(Method::POST, "/v1/tickets", &engineer, Some(&early), StatusCode::UNPROCESSABLE_ENTITY)
        .await;
    assert_eq!(p["code"], "validation_failed");
}

async fn invalid_transitions_name_both_states(app: TestApp) {
    let item = app.item_id(1).await;
    let (_, engineer) = app.user("engineer", None).await;
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "x"})).await;
    let id = t["id"].as_str().expect("id");
    let p = app.act(&engineer, id, "close", json!({}), StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "/problems/invalid_transition");
    assert_eq!(p["current_state"], "open");
    assert_eq!(p["action"], "close");
    app.act(&engineer, id, "resume", json!({}), StatusCode::CONFLICT).await;
    // `at` may not be in the future nor before the previous event.
    app.act(
        &engineer,
        id,
        "acknowledge",
        json!({"at": utc("2026-06-01 10:05")}),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    app.act(
        &engineer,
        id,
        "acknowledge",
        json!({"at": utc("2026-06-01 09:59")}),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    let t =
        app.act(&engineer, id, "acknowledge", json!({"at": utc("2026-06-01 10:00")}), StatusCode::OK).await;
    assert_eq!(clock(&t, "response")["met_at"], shown("2026-06-01 10:00"));
}

async fn severity_change_reselects_targets_and_keeps_the_start(app: TestApp) {
    // Item 31: response 1 h for general events, 30 min for major ones.
    let item = app.item_id(31).await;
    let (_, engineer) = app.user("engineer", None).await;
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "告警"})).await;
    assert_eq!(clock(&t, "response")["deadline"], shown("2026-06-01 11:00"));
    app.clock.set(sh("2026-06-01 10:10"));
    let t = app
        .act(
            &engineer,
            t["id"].as_str().expect("id"),
            "severity",
            json!({"severity": "major"}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(t["severity"], "major");
    assert_eq!(clock(&t, "response")["deadline"], shown("2026-06-01 10:30"));
    assert_eq!(clock(&t, "response")["target_minutes"], 30);
}
