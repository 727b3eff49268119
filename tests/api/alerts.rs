//! Timers and alert emails: thresholds fire at the right instants, once,
//! through a real SMTP server, whatever the mail server or the service does.

use std::collections::BTreeMap;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, sh};

/// Who receives what: address → subjects (without spaces), in arrival order.
fn inbox(app: &TestApp) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for m in app.smtp.messages() {
        for to in &m.to {
            // Spaces at encoded-word boundaries are the encoder's to choose: compare without them.
            out.entry(to.clone()).or_default().push(m.subject().split_whitespace().collect());
        }
    }
    out
}

struct People {
    engineer: String,
    engineer_id: String,
}

/// An assigned engineer, an agency manager and a supplier manager, each with an address.
async fn people(app: &TestApp) -> People {
    let (engineer_id, engineer) = app.user_with_email("engineer", None, Some("eng@example.org")).await;
    app.user_with_email("manager", Some("education-bureau"), Some("edu-manager@example.org")).await;
    app.user_with_email("manager", Some("justice-bureau"), Some("justice-manager@example.org")).await;
    app.user_with_email("manager", None, Some("supplier-manager@example.org")).await;
    app.user("manager", None).await; // no address: skipped
    People { engineer, engineer_id }
}

async fn file_assigned(app: &TestApp, p: &People, seq: u64, extra: Value) -> String {
    let item = app.item_id(seq).await;
    let mut body = json!({"line_item_id": item, "title": "平台无法登录"});
    for (k, v) in extra.as_object().into_iter().flatten() {
        body[k] = v.clone();
    }
    let t = app.file(&p.engineer, body).await;
    let id = t["id"].as_str().expect("id").to_owned();
    app.act(&p.engineer, &id, "assign", json!({"assignee_id": p.engineer_id}), StatusCode::OK).await;
    id
}

crate::both_backends!(
    warnings_and_breach_at_the_right_instants_on_7x24,
    five_by_eight_alerts_wait_for_working_time,
    paused_met_and_resolved_clocks_never_fire,
    a_backdated_ticket_alerts_after_the_grace_with_only_the_highest_threshold,
    a_mail_outage_delays_but_never_doubles,
    dead_letters_are_listed_and_can_be_retried,
    changed_holidays_move_running_clocks_and_item_thresholds_apply,
    the_timer_fires_by_itself_when_time_comes
);

async fn warnings_and_breach_at_the_right_instants_on_7x24(app: TestApp) {
    // Item 1 is 7x24: response 30 min (50 % at 10:15, 80 % at 10:24, breach 10:30), on site 1 h.
    let p = people(&app).await;
    file_assigned(&app, &p, 1, json!({})).await;
    app.clock.set(sh("2026-06-01 10:14:59"));
    app.tick().await;
    assert!(app.smtp.messages().is_empty(), "nothing before 50 %");

    app.clock.set(sh("2026-06-01 10:15"));
    let r = app.tick().await;
    assert_eq!((r.queued, r.sent), (2, 2), "{r:?}");
    // The clock just handled falls due again first (its 80 % before on site's 50 %).
    assert_eq!(r.next_at, Some(sh("2026-06-01 10:24")), "{r:?}");
    let mail = inbox(&app);
    assert_eq!(mail.keys().collect::<Vec<_>>(), ["eng@example.org", "supplier-manager@example.org"]);
    assert!(mail["eng@example.org"][0].starts_with("【SLA预警】INC-2026-"), "{mail:?}");
    assert!(mail["eng@example.org"][0].contains("响应已用50%"), "{mail:?}");

    app.clock.set(sh("2026-06-01 10:24"));
    assert_eq!(app.tick().await.sent, 2);
    // 10:30: the response breaches and on-site reaches 50 % together. The
    // supplier manager, who hears of both, gets one message; the agency
    // manager only the breach; the engineer only the warning.
    app.clock.set(sh("2026-06-01 10:30"));
    assert_eq!(app.tick().await.sent, 3);
    let mail = inbox(&app);
    let last = |who: &str| mail[who].last().cloned().unwrap_or_default();
    assert!(
        last("supplier-manager@example.org").starts_with("【SLA已超时】")
            && last("supplier-manager@example.org").contains("等2项"),
        "{mail:?}"
    );
    assert!(last("edu-manager@example.org").starts_with("【SLA已超时】"), "{mail:?}");
    assert!(last("eng@example.org").contains("到场已用50%"), "{mail:?}");
    assert!(!mail.contains_key("justice-manager@example.org"), "another agency's manager hears nothing");

    // Exactly once: ticking again at the same instant sends nothing.
    assert_eq!(app.tick().await.sent, 0);
    assert_eq!(app.smtp.messages().len(), 7);
    let ids: std::collections::BTreeSet<_> =
        app.smtp.messages().iter().filter_map(|m| m.header("Message-ID")).collect();
    assert_eq!(ids.len(), 7, "distinct messages have distinct ids");
}

async fn five_by_eight_alerts_wait_for_working_time(app: TestApp) {
    // Item 3 is 5x8, response 30 min. Filed Friday 2026-09-18 17:45: 50 %
    // at 18:00 Friday; 80 % at 09:09 and the breach at 09:15 on the make-up
    // Sunday 09-20; nothing on Saturday.
    let p = people(&app).await;
    app.clock.set(sh("2026-09-18 17:45"));
    file_assigned(&app, &p, 3, json!({})).await;
    app.clock.set(sh("2026-09-19 12:00"));
    assert_eq!(app.tick().await.sent, 2, "the 50 % warning (crossed at 18:00 Friday)");
    app.clock.set(sh("2026-09-20 09:08:59"));
    assert_eq!(app.tick().await.sent, 0);
    app.clock.set(sh("2026-09-20 09:09"));
    assert_eq!(app.tick().await.sent, 2, "80 %");
    app.clock.set(sh("2026-09-20 09:15"));
    let r = app.tick().await;
    assert_eq!(r.sent, 2, "the breach, to the supplier's and the agency's managers: {r:?}");
    let mail = inbox(&app);
    // Item 3 is the justice bureau's: its manager hears of the breach, the
    // education bureau's does not.
    assert_eq!(mail["justice-manager@example.org"].len(), 1, "{mail:?}");
    assert!(mail["justice-manager@example.org"][0].starts_with("【SLA已超时】"), "{mail:?}");
    assert!(!mail.contains_key("edu-manager@example.org"));
}

async fn paused_met_and_resolved_clocks_never_fire(app: TestApp) {
    let p = people(&app).await;
    let id = file_assigned(&app, &p, 1, json!({})).await;
    app.clock.set(sh("2026-06-01 10:05"));
    app.act(&p.engineer, &id, "acknowledge", json!({}), StatusCode::OK).await;
    app.clock.set(sh("2026-06-01 10:10"));
    app.act(&p.engineer, &id, "pause", json!({}), StatusCode::OK).await;
    app.clock.set(sh("2026-06-01 20:00"));
    assert_eq!(app.tick().await.sent, 0, "response met, on-site and recovery paused");
    app.act(&p.engineer, &id, "resolve", json!({}), StatusCode::OK).await;
    app.clock.set(sh("2026-06-03 20:00"));
    assert_eq!(app.tick().await.sent, 0);
    assert!(app.smtp.messages().is_empty());
    let trail =
        app.call(Method::GET, &format!("/v1/tickets/{id}/events"), &p.engineer, None, StatusCode::OK).await;
    assert!(
        trail
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["action"] != "threshold_crossed" && e["action"] != "breached")
    );
}

async fn a_backdated_ticket_alerts_after_the_grace_with_only_the_highest_threshold(app: TestApp) {
    // Reported at 09:00, filed at 12:00 (item 1): response (30 min) and
    // on-site (1 h) passed 200 % before the filing, so they wait 15 minutes
    // for the steps already taken to be recorded; recovery (6 h) reaches 50 %
    // right at the filing, which is live: at once.
    let p = people(&app).await;
    app.clock.set(sh("2026-06-01 12:00"));
    let id =
        file_assigned(&app, &p, 1, json!({"reported_at": crate::helpers::utc("2026-06-01 09:00")})).await;
    let r = app.tick().await;
    assert_eq!(r.thresholds, 1, "only the recovery warning: {r:?}");
    assert_eq!(inbox(&app)["eng@example.org"].len(), 1);
    app.clock.set(sh("2026-06-01 12:14:59"));
    assert_eq!(app.tick().await.thresholds, 0);
    app.clock.set(sh("2026-06-01 12:15"));
    let r = app.tick().await;
    assert_eq!(r.thresholds, 5 + 5, "every threshold recorded: {r:?}");
    let mail = inbox(&app);
    // The supplier manager hears of both clocks in one message, the agency
    // manager of the two escalations in one; the engineer had the recovery warning.
    assert_eq!(mail["supplier-manager@example.org"].len(), 2, "{mail:?}");
    assert!(mail["supplier-manager@example.org"][1].contains("等2项"), "{mail:?}");
    assert_eq!(mail["edu-manager@example.org"].len(), 1, "{mail:?}");
    assert!(mail["edu-manager@example.org"][0].starts_with("【SLA升级】"), "{mail:?}");
    assert_eq!(mail["eng@example.org"].len(), 1, "{mail:?}");
    let trail =
        app.call(Method::GET, &format!("/v1/tickets/{id}/events"), &p.engineer, None, StatusCode::OK).await;
    let response: Vec<(u64, bool)> = trail
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["data"]["metric"] == "response")
        .map(|e| {
            (e["data"]["percent"].as_u64().unwrap_or(0), e["data"]["notified"].as_bool().unwrap_or(false))
        })
        .collect();
    assert_eq!(response, vec![(50, false), (80, false), (100, false), (150, false), (200, true)]);
    let breach = trail
        .as_array()
        .expect("events")
        .iter()
        .find(|e| e["action"] == "breached")
        .expect("breach recorded");
    assert_eq!(
        breach["at"],
        crate::helpers::shown("2026-06-01 09:30"),
        "recorded at the instant it happened"
    );
}

async fn a_mail_outage_delays_but_never_doubles(app: TestApp) {
    let p = people(&app).await;
    file_assigned(&app, &p, 1, json!({})).await;
    app.smtp.set_down(true);
    app.clock.set(sh("2026-06-01 10:15"));
    let r = app.tick().await;
    assert_eq!((r.queued, r.sent, r.retried), (2, 0, 2), "{r:?}");
    // Still down at the first retry.
    app.clock.set(sh("2026-06-01 10:16"));
    assert_eq!(app.tick().await.retried, 2);
    app.smtp.set_down(false);
    app.clock.set(sh("2026-06-01 10:20"));
    assert_eq!(app.tick().await.sent, 2);
    app.clock.set(sh("2026-06-01 10:21"));
    assert_eq!(app.tick().await.sent, 0);
    assert_eq!(app.smtp.messages().len(), 2, "each alert exactly once");
}

async fn dead_letters_are_listed_and_can_be_retried(app: TestApp) {
    let app = app.another(|s| s.mail_max_attempts = 2).await;
    let p = people(&app).await;
    file_assigned(&app, &p, 1, json!({})).await;
    app.smtp.set_down(true);
    app.clock.set(sh("2026-06-01 10:15"));
    app.tick().await;
    app.clock.set(sh("2026-06-01 11:15"));
    assert_eq!(app.tick().await.dead, 2);
    let dead =
        app.call(Method::GET, "/v1/admin/outbox?status=dead", &app.admin_token, None, StatusCode::OK).await;
    let dead = dead.as_array().expect("list").clone();
    assert_eq!(dead.len(), 2);
    let reason = dead[0]["last_error"].as_str().unwrap_or_default();
    assert!(reason.contains("SMTP") && reason.ends_with("gave up after 2 attempts"), "{dead:?}");
    assert!(!reason.contains("will retry"), "a dead letter is not retried by itself: {reason}");
    let metrics = app.metrics().await;
    assert!(metrics.contains("itsm_outbox{status=\"dead\"} 2"), "{metrics}");
    app.smtp.set_down(false);
    for d in &dead {
        let id = d["id"].as_str().expect("id");
        let again = app
            .call(
                Method::POST,
                &format!("/v1/admin/outbox/{id}/retry"),
                &app.admin_token,
                None,
                StatusCode::OK,
            )
            .await;
        assert_eq!(again["status"], "pending");
        app.call(
            Method::POST,
            &format!("/v1/admin/outbox/{id}/retry"),
            &app.admin_token,
            None,
            StatusCode::CONFLICT,
        )
        .await;
    }
    assert_eq!(app.tick().await.sent, 2);
    let (_, engineer) = app.user("engineer", None).await;
    app.call(Method::GET, "/v1/admin/outbox", &engineer, None, StatusCode::FORBIDDEN).await;
}

async fn changed_holidays_move_running_clocks_and_item_thresholds_apply(app: TestApp) {
    // Item 3 (5x8, response 30 min), filed Monday 2026-06-01 17:45: due
    // Tuesday 09:15. A new holiday on Tuesday, loaded at restart, moves it
    // to Wednesday 09:15, and the timer fires then, not before.
    let p = people(&app).await;
    app.clock.set(sh("2026-06-01 17:45"));
    let id = file_assigned(&app, &p, 3, json!({})).await;
    app.clock.set(sh("2026-06-01 18:00"));
    app.tick().await;
    let sent_before = app.smtp.messages().len();
    let unchanged = app.restart_with(&crate::helpers::config_dir()).await;
    assert_eq!(
        unchanged.recomputed_clocks, None,
        "nothing the clocks depend on changed: a start leaves them"
    );
    drop(unchanged);

    let dir = tempfile::tempdir().expect("tempdir");
    crate::helpers::copy_dir(&crate::helpers::config_dir(), dir.path());
    let holidays = dir.path().join("calendars/cn-2026.toml");
    let text = std::fs::read_to_string(&holidays).expect("read");
    std::fs::write(
        &holidays,
        text + "\n[[holiday]]\nname = \"test\"\nfrom = \"2026-06-02\"\nto = \"2026-06-02\"\n",
    )
    .expect("write");
    // Item 1 warns only at 90 % in this configuration.
    let items = dir.path().join("catalog/items.toml");
    let text = std::fs::read_to_string(&items).expect("read");
    std::fs::write(&items, text.replacen("seq = 1\n", "seq = 1\nalert_warn = [90]\n", 1)).expect("write");

    let renewed = app.restart_with(dir.path()).await;
    let t = renewed.ticket(&renewed.admin_token, &id).await;
    let running = t["clocks"].as_array().expect("clocks").iter().filter(|c| c["met_at"].is_null()).count();
    assert_eq!(
        renewed.recomputed_clocks,
        Some(running),
        "a changed calendar: every running clock recomputed"
    );
    assert_eq!(crate::helpers::clock(&t, "response")["deadline"], crate::helpers::shown("2026-06-03 09:15"));
    renewed.clock.set(sh("2026-06-02 09:15"));
    assert_eq!(renewed.tick().await.sent, 0, "Tuesday is now a holiday");
    renewed.clock.set(sh("2026-06-03 09:15"));
    assert_eq!(
        renewed.tick().await.sent,
        2,
        "the breach, to the supplier's and the justice bureau's managers"
    );

    // Resolved after the deadline: the breach stands (at the deadline itself
    // would be on time, and the breach would be withdrawn and corrected).
    renewed.clock.set(sh("2026-06-03 09:20"));
    renewed.act(&p.engineer, &id, "resolve", json!({}), StatusCode::OK).await;
    renewed.clock.set(sh("2026-06-03 10:00"));
    let item1 = renewed.item_id(1).await;
    renewed.file(&p.engineer, json!({"line_item_id": item1, "title": "90 %"})).await;
    renewed.clock.set(sh("2026-06-03 10:15"));
    assert_eq!(renewed.tick().await.sent, 0, "no 50 % warning for item 1 here");
    renewed.clock.set(sh("2026-06-03 10:27"));
    assert_eq!(renewed.tick().await.sent, 1, "the 90 % warning (no assignee: the supplier manager only)");
    assert_eq!(app.smtp.messages().len(), sent_before + 3);
}

async fn the_timer_fires_by_itself_when_time_comes(app: TestApp) {
    let app = app.another(|s| s.timer_enabled = true).await;
    let p = people(&app).await;
    file_assigned(&app, &p, 1, json!({})).await;
    app.clock.set(sh("2026-06-01 10:15"));
    // The timer wakes on the clock's jump; wait for delivery, bounded.
    for _ in 0..100 {
        if app.smtp.messages().len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(app.smtp.messages().len(), 2);
}

/// Several instances share one database only on PostgreSQL (SQLite has one writer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_on_postgres_send_each_alert_once() {
    let app = TestApp::spawn(crate::helpers::Backend::Postgres).await;

    let p = people(&app).await;
    let second = app.another(|_| {}).await;
    for _ in 0..6 {
        file_assigned(&app, &p, 1, json!({})).await;
    }
    // Both instances see the same instant and tick at the same time.
    for at in ["2026-06-01 10:15", "2026-06-01 10:24", "2026-06-01 10:30"] {
        app.clock.set(sh(at));
        second.clock.set(sh(at));
        let (a, b) = tokio::join!(app.tick(), second.tick());
        let _ = (a, b);
    }
    // 6 tickets × (2 at 50 % + 2 at 80 % + 3 at 10:30).
    assert_eq!(app.smtp.messages().len(), 6 * 7);
    let ids: std::collections::BTreeSet<_> =
        app.smtp.messages().iter().filter_map(|m| m.header("Message-ID")).collect();
    assert_eq!(ids.len(), 6 * 7, "no message twice");
}
