//! Working a ticket truthfully when the record lags what happened: a fault
//! phoned in and filed afterwards with the steps already taken, alerts that
//! wait for that, an earlier real time recorded after the service announced
//! a breach (withdrawn on the trail, taken out of the queue or corrected by
//! mail), the engineer who answers taking the ticket, and an agency
//! reopening a closed ticket within its period.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, clock, sh, shown, utc};

crate::both_backends!(
    steps_recorded_with_the_filing_meet_the_clocks_when_they_happened,
    steps_are_checked_for_order_time_and_role,
    thresholds_before_the_filing_wait_for_the_grace,
    an_earlier_time_recorded_within_the_grace_means_no_alert_at_all,
    an_earlier_real_time_withdraws_alerts_and_corrects_what_was_sent,
    a_waiting_message_about_an_undone_threshold_is_never_sent,
    the_engineer_who_acknowledges_takes_the_ticket,
    an_agency_reopens_a_closed_ticket_within_its_period
);

/// An engineer and the supplier's manager, each with an address (item 1's
/// warnings reach the assignee and the supplier's manager; breaches the agency's too).
async fn people(app: &TestApp) -> (String, String) {
    let (id, engineer) = app.user_with_email("engineer", None, Some("eng@example.org")).await;
    app.user_with_email("manager", None, Some("supplier-manager@example.org")).await;
    app.user_with_email("manager", Some("education-bureau"), Some("edu-manager@example.org")).await;
    (id, engineer)
}

async fn trail(app: &TestApp, token: &str, id: &str) -> Vec<Value> {
    let v = app.call(Method::GET, &format!("/v1/tickets/{id}/events"), token, None, StatusCode::OK).await;
    v.as_array().expect("events").clone()
}

/// Subjects received by `to`, without spaces (an encoder's choice), in arrival order.
fn subjects(app: &TestApp, to: &str) -> Vec<String> {
    app.smtp
        .messages()
        .iter()
        .filter(|m| m.to.iter().any(|t| t == to))
        .map(|m| m.subject().split_whitespace().collect())
        .collect()
}

async fn steps_recorded_with_the_filing_meet_the_clocks_when_they_happened(app: TestApp) {
    let (engineer_id, engineer) = people(&app).await;
    let item = app.item_id(1).await; // 7x24: response 30 min, on site 1 h, recovery 6 h
    app.clock.set(sh("2026-06-01 21:00"));
    let t = app
        .file(
            &engineer,
            json!({
                "line_item_id": item, "title": "电话报修：平台无法登录",
                "reported_at": utc("2026-06-01 20:00"),
                "acknowledged_at": "2026-06-01T20:10:00+08:00",
                "arrived_at": utc("2026-06-01 20:40"),
            }),
        )
        .await;
    let id = t["id"].as_str().expect("id");
    assert_eq!(t["state"], "in_progress");
    assert_eq!(t["assignee_id"], engineer_id.as_str(), "the engineer who answered it has it");
    assert_eq!(clock(&t, "response")["met_at"], shown("2026-06-01 20:10"));
    assert_eq!(clock(&t, "response")["breached_at"], Value::Null);
    assert_eq!(clock(&t, "on_site")["met_at"], shown("2026-06-01 20:40"));
    assert_eq!(clock(&t, "recovery")["deadline"], shown("2026-06-02 02:00"));
    let rows = trail(&app, &engineer, id).await;
    let steps: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or(""),
                e["at"].as_str().unwrap_or(""),
                e["recorded_at"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let at = |t: &str| shown(t);
    assert_eq!(
        steps,
        vec![
            ("file", at("2026-06-01 20:00").as_str(), at("2026-06-01 21:00").as_str()),
            ("acknowledge", at("2026-06-01 20:10").as_str(), at("2026-06-01 21:00").as_str()),
            ("arrive", at("2026-06-01 20:40").as_str(), at("2026-06-01 21:00").as_str()),
        ]
    );
    // Nothing was late: no alert, now or after the grace.
    app.clock.set(sh("2026-06-01 21:20"));
    let r = app.tick().await;
    assert_eq!((r.thresholds, r.queued), (0, 0), "{r:?}");
    // A resolution recorded with the filing closes the last clock too.
    let t = app
        .file(
            &engineer,
            json!({
                "line_item_id": item, "title": "已远程处理",
                "reported_at": utc("2026-06-01 20:00"),
                "acknowledged_at": utc("2026-06-01 20:05"),
                "resolved_at": utc("2026-06-01 20:50"),
            }),
        )
        .await;
    assert_eq!(t["state"], "resolved");
    assert_eq!(clock(&t, "recovery")["met_at"], shown("2026-06-01 20:50"));
}

async fn steps_are_checked_for_order_time_and_role(app: TestApp) {
    let (_, engineer) = people(&app).await;
    let (_, clerk) = app.user("agency_user", Some("education-bureau")).await;
    let item = app.item_id(1).await;
    app.clock.set(sh("2026-06-01 21:00"));
    let refused = |token: String, body: Value, status: StatusCode| {
        let app = &app;
        let item = item.clone();
        async move {
            let mut full =
                json!({"line_item_id": item, "title": "x", "reported_at": utc("2026-06-01 20:00")});
            for (k, v) in body.as_object().into_iter().flatten() {
                full[k] = v.clone();
            }
            let r = app.send(Method::POST, "/v1/tickets", Some(&token), Some(&full)).await;
            assert_eq!(r.status(), status, "{full}");
            r.json::<Value>().await.expect("problem")
        }
    };
    let p = refused(
        engineer.clone(),
        json!({"acknowledged_at": utc("2026-06-01 19:59")}),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "acknowledged_at", "{p}");
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("before reported_at")), "{p}");
    let p = refused(
        engineer.clone(),
        json!({"acknowledged_at": utc("2026-06-01 20:30"), "arrived_at": utc("2026-06-01 20:20")}),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "arrived_at", "{p}");
    let p = refused(
        engineer.clone(),
        json!({"resolved_at": utc("2026-06-01 21:01")}),
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
    assert_eq!(p["field"], "resolved_at", "{p}");
    // A clerk reports faults; only engineers say what they did (and a clerk cannot backdate).
    let body = json!({"line_item_id": item, "title": "x", "acknowledged_at": utc("2026-06-01 20:30")});
    let r = app.send(Method::POST, "/v1/tickets", Some(&clerk), Some(&body)).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // Nothing refused was filed.
    let page = app.call(Method::GET, "/v1/tickets", &engineer, None, StatusCode::OK).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(0), "{page}");
}

async fn thresholds_before_the_filing_wait_for_the_grace(app: TestApp) {
    // Reported 20:00, filed 21:40. Response (30 min) crossed 50…200 % before
    // the filing; on site (1 h) 50…150 %, its 200 % falls at 22:00. They wait
    // until 21:55 (15 minutes of grace), then go out at once, highest only.
    let (_, engineer) = people(&app).await;
    let item = app.item_id(1).await;
    app.clock.set(sh("2026-06-01 21:40"));
    let t = app
        .file(
            &engineer,
            json!({"line_item_id": item, "title": "电话报修", "reported_at": utc("2026-06-01 20:00")}),
        )
        .await;
    let id = t["id"].as_str().expect("id").to_owned();
    app.act(&engineer, &id, "assign", json!({"assignee_id": t["created_by"]}), StatusCode::OK).await;
    let r = app.tick().await;
    assert_eq!((r.thresholds, r.queued), (0, 0), "held: {r:?}");
    app.clock.set(sh("2026-06-01 21:54:59"));
    let r = app.tick().await;
    assert_eq!((r.thresholds, r.queued), (0, 0), "still held: {r:?}");
    app.clock.set(sh("2026-06-01 21:55"));
    let r = app.tick().await;
    assert_eq!(r.thresholds, 5 + 4, "every threshold recorded when the grace ends: {r:?}");
    let mail = subjects(&app, "supplier-manager@example.org");
    assert_eq!(mail.len(), 1, "one message for both clocks: {mail:?}");
    assert!(mail[0].starts_with("【SLA升级】") && mail[0].contains("等2项"), "{mail:?}");
    // Nothing twice.
    app.clock.set(sh("2026-06-01 21:56"));
    assert_eq!(app.tick().await.queued, 0);
    // The on-site 200 % at 22:00 is live: at once.
    app.clock.set(sh("2026-06-01 22:00"));
    let r = app.tick().await;
    assert_eq!(r.thresholds, 1, "{r:?}");
}

async fn an_earlier_time_recorded_within_the_grace_means_no_alert_at_all(app: TestApp) {
    // Filed at 20:40 for a call at 20:00: the engineer then records that
    // they answered at 20:10 and were on site at 20:25. No alert was due.
    let (_, engineer) = people(&app).await;
    let item = app.item_id(1).await;
    app.clock.set(sh("2026-06-01 20:40"));
    let t = app
        .file(
            &engineer,
            json!({"line_item_id": item, "title": "电话报修", "reported_at": utc("2026-06-01 20:00")}),
        )
        .await;
    let id = t["id"].as_str().expect("id").to_owned();
    app.tick().await;
    app.clock.set(sh("2026-06-01 20:42"));
    app.act(&engineer, &id, "acknowledge", json!({"at": utc("2026-06-01 20:10")}), StatusCode::OK).await;
    app.act(&engineer, &id, "arrive", json!({"at": utc("2026-06-01 20:25")}), StatusCode::OK).await;
    for at in ["2026-06-01 20:55", "2026-06-01 22:00"] {
        app.clock.set(sh(at));
        let r = app.tick().await;
        assert_eq!((r.thresholds, r.queued), (0, 0), "{at}: {r:?}");
    }
    assert!(app.smtp.messages().is_empty());
    assert!(trail(&app, &engineer, &id).await.iter().all(|e| e["actor"]["name"].is_string()));
}

async fn an_earlier_real_time_withdraws_alerts_and_corrects_what_was_sent(app: TestApp) {
    // Filed 10:00 (item 1). The engineer answered the phone at 10:10 but
    // records it only at 10:40, after the warnings (10:15, 10:24) and the
    // breach (10:30, with on-site 50 %) went out.
    let (engineer_id, engineer) = people(&app).await;
    let item = app.item_id(1).await;
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "平台无法登录"})).await;
    let id = t["id"].as_str().expect("id").to_owned();
    app.act(&engineer, &id, "assign", json!({"assignee_id": engineer_id}), StatusCode::OK).await;
    for at in ["2026-06-01 10:15", "2026-06-01 10:24", "2026-06-01 10:30"] {
        app.clock.set(sh(at));
        app.tick().await;
    }
    let before = subjects(&app, "supplier-manager@example.org");
    assert_eq!(before.len(), 3, "{before:?}");
    assert_eq!(subjects(&app, "edu-manager@example.org").len(), 1, "the breach");

    app.clock.set(sh("2026-06-01 10:40"));
    // The thresholds the service wrote at 10:15…10:30 do not stop an earlier real time.
    let t =
        app.act(&engineer, &id, "acknowledge", json!({"at": utc("2026-06-01 10:10")}), StatusCode::OK).await;
    assert_eq!(clock(&t, "response")["met_at"], shown("2026-06-01 10:10"));
    assert_eq!(clock(&t, "response")["breached_at"], Value::Null);
    let rows = trail(&app, &engineer, &id).await;
    // In the order things happened, each with when it was recorded.
    let order: Vec<(&str, &str)> = rows
        .iter()
        .map(|e| (e["action"].as_str().unwrap_or(""), e["data"]["metric"].as_str().unwrap_or("")))
        .collect();
    assert_eq!(
        order[..5],
        [
            ("file", ""),
            ("assign", ""),
            ("acknowledge", ""),
            ("threshold_crossed", "response"),
            ("threshold_crossed", "response")
        ]
    );
    // At 10:30 the response breached and on-site reached 50 %, in either order.
    let mut at_1030 = order[5..7].to_vec();
    at_1030.sort_unstable();
    assert_eq!(at_1030, [("breached", "response"), ("threshold_crossed", "on_site")]);
    assert_eq!(order[7..], [("alert_withdrawn", "response"); 3]);
    let ack = &rows[2];
    assert_eq!(ack["at"], shown("2026-06-01 10:10"));
    assert_eq!(ack["recorded_at"], shown("2026-06-01 10:40"));
    for e in &rows {
        let undone = e["data"]["metric"] == "response" && e["action"] != "alert_withdrawn";
        assert_eq!(e["withdrawn"], undone, "{e}");
    }

    // One correction per message sent about a response threshold, to its own
    // recipient; the on-site warning stands.
    let r = app.tick().await;
    // The engineer had the two warnings (a breach goes to managers), the
    // supplier's manager all three, the agency's manager the breach.
    assert_eq!(r.sent, 2 + 3 + 1, "{r:?}");
    assert_eq!(subjects(&app, "eng@example.org").iter().filter(|s| s.starts_with("【更正】")).count(), 2);
    let after = subjects(&app, "supplier-manager@example.org");
    let corrections: Vec<&String> = after.iter().skip(3).collect();
    assert_eq!(corrections.len(), 3, "{after:?}");
    assert!(corrections.iter().all(|s| s.starts_with("【更正】INC-2026-")), "{corrections:?}");
    assert!(corrections.iter().any(|s| s.ends_with("响应超时未发生")), "{corrections:?}");
    assert!(corrections.iter().any(|s| s.ends_with("响应已用50%的预警未发生")), "{corrections:?}");
    let edu = subjects(&app, "edu-manager@example.org");
    assert_eq!(edu.len(), 2, "{edu:?}");
    assert!(edu[1].ends_with("响应超时未发生"), "{edu:?}");
    let to_edu =
        app.smtp.messages().into_iter().rev().find(|m| m.to.iter().any(|t| t == "edu-manager@example.org"));
    let body = to_edu.map(|m| m.text()).unwrap_or_default();
    assert!(body.contains("2026-06-01 10:30:00") && body.contains("未发生"), "{body}");
    let sent =
        app.call(Method::GET, "/v1/admin/outbox?status=sent", &app.admin_token, None, StatusCode::OK).await;
    let kinds = sent.as_array().expect("messages").iter().filter(|m| m["kind"] == "correction").count();
    assert_eq!(kinds, 6);
    app.clock.set(sh("2026-06-01 10:45"));
    assert_eq!(app.tick().await.queued, 0, "nothing more to say");
}

async fn a_waiting_message_about_an_undone_threshold_is_never_sent(app: TestApp) {
    let (engineer_id, engineer) = people(&app).await;
    let item = app.item_id(1).await;
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "平台无法登录"})).await;
    let id = t["id"].as_str().expect("id").to_owned();
    app.act(&engineer, &id, "assign", json!({"assignee_id": engineer_id}), StatusCode::OK).await;
    app.smtp.set_down(true);
    app.clock.set(sh("2026-06-01 10:15"));
    let r = app.tick().await;
    assert_eq!((r.queued, r.sent), (2, 0), "{r:?}");
    app.clock.set(sh("2026-06-01 10:16"));
    app.act(&engineer, &id, "acknowledge", json!({"at": utc("2026-06-01 10:12")}), StatusCode::OK).await;
    app.smtp.set_down(false);
    app.clock.set(sh("2026-06-01 10:20"));
    let r = app.tick().await;
    assert_eq!((r.queued, r.sent), (0, 0), "nothing to send, nothing to correct: {r:?}");
    assert!(app.smtp.messages().is_empty());
    let withdrawn = app
        .call(Method::GET, "/v1/admin/outbox?status=withdrawn", &app.admin_token, None, StatusCode::OK)
        .await;
    assert_eq!(withdrawn.as_array().map(Vec::len), Some(2), "{withdrawn}");
}

async fn the_engineer_who_acknowledges_takes_the_ticket(app: TestApp) {
    let (engineer_id, engineer) = people(&app).await;
    let (other_id, other) = app.user("engineer", None).await;
    let item = app.item_id(1).await;
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "a"})).await;
    let t = app.act(&engineer, t["id"].as_str().expect("id"), "acknowledge", json!({}), StatusCode::OK).await;
    assert_eq!(t["assignee_id"], engineer_id.as_str());
    // One already assigned stays with its assignee.
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "b"})).await;
    let id = t["id"].as_str().expect("id").to_owned();
    app.act(&engineer, &id, "assign", json!({"assignee_id": other_id}), StatusCode::OK).await;
    let t = app.act(&engineer, &id, "acknowledge", json!({}), StatusCode::OK).await;
    assert_eq!(t["assignee_id"], other_id.as_str());
    // The trail says who did it, by name and role.
    let rows = trail(&app, &other, &id).await;
    let ack = rows.iter().find(|e| e["action"] == "acknowledge").expect("acknowledged");
    assert_eq!(ack["actor"]["role"], "engineer");
    assert!(ack["actor"]["name"].as_str().is_some_and(|n| n.starts_with("engineer-")), "{ack}");
}

async fn an_agency_reopens_a_closed_ticket_within_its_period(app: TestApp) {
    let (_, engineer) = people(&app).await;
    let (_, clerk) = app.user("agency_user", Some("education-bureau")).await;
    let item = app.item_id(1).await;
    let close = |title: &'static str| {
        let (app, engineer, clerk, item) = (&app, engineer.clone(), clerk.clone(), item.clone());
        async move {
            let t = app.file(&clerk, json!({"line_item_id": item, "title": title})).await;
            let id = t["id"].as_str().expect("id").to_owned();
            app.act(&engineer, &id, "resolve", json!({}), StatusCode::OK).await;
            app.act(&clerk, &id, "close", json!({}), StatusCode::OK).await;
            id
        }
    };
    let soon = close("soon").await;
    let late = close("late").await;
    app.clock.set(sh("2026-07-01 10:00")); // 30 days after closing at 10:00
    let p = app.act(&engineer, &soon, "reopen", json!({}), StatusCode::FORBIDDEN).await;
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("agency")), "{p}");
    let t = app.act(&clerk, &soon, "reopen", json!({"body": "又坏了"}), StatusCode::OK).await;
    assert_eq!(t["state"], "in_progress");
    assert_eq!(clock(&t, "recovery")["state"], "running", "the recovery clock counts again");
    assert_eq!(clock(&t, "recovery")["met_at"], Value::Null);
    app.clock.set(sh("2026-07-01 10:00:01"));
    let p = app.act(&clerk, &late, "reopen", json!({}), StatusCode::CONFLICT).await;
    assert_eq!(p["type"], "/problems/reopen_period_over");
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("30 days")), "{p}");
}
