//! Finding things as people name them: an agency by key or by its name
//! (and a clear refusal for one that does not exist), a ticket by its
//! number, lists narrowed by several values, `me`, `none` and plain dates,
//! and every time written with the line item's offset.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, sh};

crate::both_backends!(
    an_agency_by_key_or_name_and_an_unknown_one_refused,
    a_ticket_by_its_number,
    filters_take_several_values_me_none_and_plain_dates,
    times_carry_the_offset_of_their_timezone
);

/// A query value as a URL carries it (Chinese names percent-encoded).
fn q(value: &str) -> String {
    crate::helpers::url_escape(value)
}

async fn count(app: &TestApp, token: &str, query: &str) -> usize {
    let page = app.call(Method::GET, &format!("/v1/tickets?{query}"), token, None, StatusCode::OK).await;
    page["items"].as_array().map_or(0, Vec::len)
}

async fn problem(app: &TestApp, token: &str, path: &str, status: StatusCode) -> Value {
    let r = app.send(Method::GET, path, Some(token), None).await;
    assert_eq!(r.status(), status, "{path}");
    assert_eq!(r.headers()["content-type"], "application/problem+json", "{path}");
    r.json().await.expect("problem")
}

async fn an_agency_by_key_or_name_and_an_unknown_one_refused(app: TestApp) {
    let admin = app.admin_token.clone();
    let body = json!({"username": "clerk-edu", "role": "agency_user", "agency": "洛阳市教育局", "password": crate::helpers::USER_PASSWORD});
    let user = app.call(Method::POST, "/v1/users", &admin, Some(&body), StatusCode::CREATED).await;
    assert_eq!(user["agency"], "education-bureau", "stored by its key");
    let body = json!({"username": "clerk-x", "role": "agency_user", "agency": "洛阳市不存在局", "password": crate::helpers::USER_PASSWORD});
    let p = app.call(Method::POST, "/v1/users", &admin, Some(&body), StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(p["field"], "agency", "{p}");

    let (_, engineer) = app.user("engineer", None).await;
    for seq in [1, 3, 3] {
        let item = app.item_id(seq).await;
        app.file(&engineer, json!({"line_item_id": item, "title": "故障"})).await;
    }
    assert_eq!(count(&app, &engineer, "agency=justice-bureau").await, 2);
    assert_eq!(count(&app, &engineer, &format!("agency={}", q("洛阳市司法局"))).await, 2);
    assert_eq!(count(&app, &engineer, &format!("agency=justice-bureau,{}", q("洛阳市教育局"))).await, 3);
    let p = problem(&app, &engineer, "/v1/tickets?agency=nope", StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_eq!(
        (p["type"].as_str(), p["field"].as_str()),
        (Some("/problems/validation_failed"), Some("agency"))
    );
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("\"nope\" does not exist")), "{p}");

    let by_key = app
        .call(
            Method::GET,
            "/v1/reports/sla?month=2026-06&agency=justice-bureau",
            &admin,
            None,
            StatusCode::OK,
        )
        .await;
    let by_name = app
        .call(
            Method::GET,
            &format!("/v1/reports/sla?month=2026-06&agency={}", q("洛阳市司法局")),
            &admin,
            None,
            StatusCode::OK,
        )
        .await;
    assert_eq!(by_key, by_name);
    let p =
        problem(&app, &admin, "/v1/reports/sla?month=2026-06&agency=nope", StatusCode::UNPROCESSABLE_ENTITY)
            .await;
    assert_eq!(p["field"], "agency", "{p}");
}

async fn a_ticket_by_its_number(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    let (_, other_clerk) = app.user("agency_user", Some("justice-bureau")).await;
    let item = app.item_id(1).await;
    app.file(&engineer, json!({"line_item_id": item, "title": "first"})).await;
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "second"})).await;
    let number = t["number"].as_str().expect("number");
    assert_eq!(number, "INC-2026-000002");
    let found = app.ticket(&engineer, number).await;
    assert_eq!(found["id"], t["id"]);
    let acted = app.act(&engineer, number, "acknowledge", json!({}), StatusCode::OK).await;
    assert_eq!(acted["state"], "acknowledged");
    let events =
        app.call(Method::GET, &format!("/v1/tickets/{number}/events"), &engineer, None, StatusCode::OK).await;
    assert_eq!(events.as_array().map(Vec::len), Some(2));
    for missing in ["INC-2026-999999", "INC-2026-000002x", "INC-'%20OR%201=1", "2"] {
        problem(&app, &engineer, &format!("/v1/tickets/{missing}"), StatusCode::NOT_FOUND).await;
    }
    // Another agency's ticket is not found by its number either.
    problem(&app, &other_clerk, &format!("/v1/tickets/{number}"), StatusCode::NOT_FOUND).await;
}

async fn filters_take_several_values_me_none_and_plain_dates(app: TestApp) {
    let (me_id, me) = app.user("engineer", None).await;
    let (other_id, other) = app.user("engineer", None).await;
    let item = app.item_id(1).await;
    let mut ids = Vec::new();
    for (title, severity) in [("a", "general"), ("b", "major"), ("c", "critical"), ("d", "general")] {
        let t = app.file(&me, json!({"line_item_id": item, "title": title, "severity": severity})).await;
        ids.push(t["id"].as_str().expect("id").to_owned());
    }
    app.act(&me, &ids[0], "acknowledge", json!({}), StatusCode::OK).await; // takes it
    app.act(&other, &ids[1], "acknowledge", json!({}), StatusCode::OK).await;
    app.act(&me, &ids[2], "resolve", json!({}), StatusCode::OK).await;

    assert_eq!(count(&app, &me, "state=open&state=acknowledged").await, 3);
    assert_eq!(count(&app, &me, "state=open,resolved").await, 2);
    assert_eq!(count(&app, &me, "severity=general,major").await, 3);
    assert_eq!(count(&app, &me, "assignee=me").await, 1);
    assert_eq!(count(&app, &other, &format!("assignee={other_id}")).await, 1);
    assert_eq!(count(&app, &me, "assignee=none").await, 2);
    assert_eq!(count(&app, &me, &format!("assignee={me_id}&state=acknowledged")).await, 1);
    // Plain dates are days in Asia/Shanghai; `created_to` runs through its day.
    assert_eq!(count(&app, &me, "created_from=2026-06-01").await, 4);
    assert_eq!(count(&app, &me, "created_from=2026-06-02").await, 0);
    assert_eq!(count(&app, &me, "created_to=2026-06-01").await, 4);
    assert_eq!(count(&app, &me, "created_to=2026-05-31").await, 0);
    assert_eq!(count(&app, &me, "severity=general,,major,").await, 3, "empty parts of a list are nothing");
    for bad in ["state=opened", "assignee=someone", "created_from=2026-13-01", "severity=general,urgent"] {
        let p = problem(&app, &me, &format!("/v1/tickets?{bad}"), StatusCode::BAD_REQUEST).await;
        assert!(p["detail"].is_string(), "{bad}: {p}");
    }
}

async fn times_carry_the_offset_of_their_timezone(app: TestApp) {
    let (_, engineer) = app.user_with_email("engineer", None, Some("eng@example.org")).await;
    app.user_with_email("manager", None, Some("boss@example.org")).await;
    let item = app.item_id(1).await;
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "offsets"})).await;
    let id = t["id"].as_str().expect("id").to_owned();
    app.act(&engineer, &id, "acknowledge", json!({}), StatusCode::OK).await;
    assert_eq!(t["created_at"], "2026-06-01T10:00:00+08:00");
    assert_eq!(t["reported_at"], "2026-06-01T10:00:00+08:00");
    let on_site = crate::helpers::clock(&t, "on_site");
    assert_eq!(on_site["deadline"], "2026-06-01T11:00:00+08:00");
    let events =
        app.call(Method::GET, &format!("/v1/tickets/{id}/events"), &engineer, None, StatusCode::OK).await;
    for e in events.as_array().expect("events") {
        for field in ["at", "recorded_at"] {
            assert!(e[field].as_str().is_some_and(|s| s.ends_with("+08:00")), "{field}: {e}");
        }
    }
    // A message belongs to no line item: the contract's timezone.
    app.clock.set(sh("2026-06-01 10:30"));
    app.tick().await;
    let outbox = app.call(Method::GET, "/v1/admin/outbox", &app.admin_token, None, StatusCode::OK).await;
    let first = &outbox.as_array().expect("messages")[0];
    assert!(first["created_at"].as_str().is_some_and(|s| s.ends_with("+08:00")), "{first}");
}
