//! Monthly SLA reports, compared with figures worked out by hand from the
//! tickets the test creates.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, sh, shown, utc};

async fn report(app: &TestApp, token: &str, query: &str) -> Value {
    app.call(Method::GET, &format!("/v1/reports/sla?{query}"), token, None, StatusCode::OK).await
}

crate::both_backends!(
    june_figures_match_the_tickets,
    a_month_that_crosses_holidays,
    reports_are_scoped_and_checked
);

async fn june_figures_match_the_tickets(app: TestApp) {
    let (_, eng) = app.user("engineer", None).await;
    let item1 = app.item_id(1).await; // 7x24: response 30 min, on site 1 h, recovery 6 h
    let item3 = app.item_id(3).await; // 5x8: response 30 min

    // Before June: not counted.
    app.clock.set(sh("2026-05-31 23:00"));
    app.file(&eng, json!({"line_item_id": item1, "title": "May"})).await;

    // T1: everything on time; reopened, recovery 4 h + 1 h.
    app.clock.set(sh("2026-06-01 10:00"));
    let t1 = app.file(&eng, json!({"line_item_id": item1, "title": "T1"})).await;
    let t1 = t1["id"].as_str().expect("id").to_owned();
    for (at, action) in [
        ("2026-06-01 10:20", "acknowledge"),
        ("2026-06-01 10:50", "arrive"),
        ("2026-06-01 14:00", "resolve"),
        ("2026-06-02 09:00", "reopen"),
        ("2026-06-02 10:00", "resolve"),
    ] {
        app.clock.set(sh(at));
        app.act(&eng, &t1, action, json!({}), StatusCode::OK).await;
    }
    // T2 (major): answered late (45 min), resolved remotely after 1 h.
    app.clock.set(sh("2026-06-03 11:00"));
    let t2 = app.file(&eng, json!({"line_item_id": item1, "title": "T2", "severity": "major"})).await;
    let t2 = t2["id"].as_str().expect("id").to_owned();
    app.clock.set(sh("2026-06-03 11:45"));
    app.act(&eng, &t2, "acknowledge", json!({}), StatusCode::OK).await;
    app.clock.set(sh("2026-06-03 12:00"));
    app.act(&eng, &t2, "resolve", json!({}), StatusCode::OK).await;
    // T3 (justice bureau, 5x8) on the last working day: still running when June ends.
    app.clock.set(sh("2026-06-30 17:50"));
    let t3 = app.file(&eng, json!({"line_item_id": item3, "title": "T3"})).await;
    app.clock.set(sh("2026-07-01 09:10"));
    app.act(&eng, t3["id"].as_str().expect("id"), "acknowledge", json!({}), StatusCode::OK).await;

    app.clock.set(sh("2026-07-02 12:00"));
    let r = report(&app, &eng, "month=2026-06").await;
    assert_eq!(r["from"], "2026-06-01");
    assert_eq!(r["to"], "2026-06-30");
    assert_eq!(r["as_of"], utc("2026-07-01 00:00"));
    let c = &r["contract"];
    assert_eq!(c["tickets_by_severity"], json!({"general": 2, "major": 1}));
    assert_eq!(c["tickets_by_state"], json!({"resolved": 2, "acknowledged": 1}));
    let m = &c["metrics"];
    assert_eq!(
        (
            m["response"]["met"].as_u64(),
            m["response"]["breached"].as_u64(),
            m["response"]["running"].as_u64()
        ),
        (Some(1), Some(1), Some(1))
    );
    assert_eq!(m["response"]["attainment_percent"], 50.0);
    assert_eq!(m["response"]["mean_seconds_to_meet"], 1950.0);
    assert_eq!(m["response"]["p90_seconds_to_meet"], 2700);
    // On-site: T1 after 50 min; T2 resolved remotely at exactly 1 h, which is on time.
    assert_eq!((m["on_site"]["met"].as_u64(), m["on_site"]["breached"].as_u64()), (Some(2), Some(0)));
    assert_eq!(m["on_site"]["mean_seconds_to_meet"], 3300.0);
    // Recovery: T1 5 h over a reopen, T2 1 h; T3 running.
    assert_eq!((m["recovery"]["met"].as_u64(), m["recovery"]["running"].as_u64()), (Some(2), Some(1)));
    assert_eq!(m["recovery"]["mean_seconds_to_meet"], 10800.0);
    assert_eq!(m["recovery"]["p90_seconds_to_meet"], 18000);
    assert_eq!(r["agencies"]["education-bureau"]["metrics"]["response"]["breached"], 1);
    assert_eq!(r["agencies"]["justice-bureau"]["metrics"]["response"]["running"], 1);
    assert_eq!(r["line_items"]["3"]["tickets_by_severity"], json!({"general": 1}));
    let breached = r["breached_tickets"].as_array().expect("list");
    assert_eq!(breached.len(), 1);
    assert_eq!(breached[0]["id"], t2.as_str());
    assert_eq!(breached[0]["metrics"], json!(["response"]));

    // In July T3's response is met... but it belongs to June, where it stays running.
    let july = report(&app, &eng, "month=2026-07").await;
    assert_eq!(july["contract"]["metrics"], json!({}));
    // Narrowed to one item, and as CSV.
    let one = report(&app, &eng, &format!("month=2026-06&line_item={item3}")).await;
    assert_eq!(one["contract"]["metrics"]["response"]["running"], 1);
    let csv = app
        .client
        .get(app.url("/v1/reports/sla?month=2026-06&format=csv"))
        .bearer_auth(&eng)
        .send()
        .await
        .expect("sent");
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.expect("text");
    assert!(
        csv.starts_with("范围,对象,指标,按时达成,超时,进行中,达成率(%),平均用时(分钟),P90用时(分钟)\n"),
        "{csv}"
    );
    assert!(csv.contains("合同,全部,response,1,1,1,50.0,32.5,45.0\n"), "{csv}");
    assert!(csv.contains("服务单位,洛阳市教育局,response,1,1,0,50.0,32.5,45.0\n"), "{csv}");
    // Inspections show, beside on time, late and missed, how many were
    // recorded late (补录), how many of those a manager approved, and those
    // that closed before go-live (上线前).
    assert!(csv.contains("\n\n范围,对象,应巡检,按时完成,逾期完成,未完成,补录,补录已批准,上线前\n"), "{csv}");
    let en = app
        .client
        .get(app.url("/v1/reports/sla?month=2026-06&format=csv&lang=en"))
        .bearer_auth(&eng)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        en.starts_with(
            "Scope,Of,Metric,Met,Breached,Running,Attainment (%),Mean to meet (min),P90 to meet (min)\n"
        ),
        "{en}"
    );
    let xlsx = app
        .client
        .get(app.url("/v1/reports/sla?month=2026-06"))
        .bearer_auth(&eng)
        .header("accept", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        xlsx.headers()["content-type"],
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    );
    assert_eq!(xlsx.headers()["content-disposition"], "attachment; filename=\"sla-2026-06.xlsx\"");
    let bytes = xlsx.bytes().await.expect("bytes");
    assert!(bytes.starts_with(b"PK\x03\x04"), "a zip container");
}

async fn a_month_that_crosses_holidays(app: TestApp) {
    // Item 3 is 5x8 with a 30-minute response. Filed Thursday 09-24 17:50,
    // before the Mid-Autumn holiday (09-25..27): ten minutes that day, the
    // rest from Monday 09-28 09:00; answered 09:10, so met after 20
    // business minutes. Filed 09-30 17:50, before National Day: still
    // running when September ends (due 10-08 09:20).
    let (_, eng) = app.user("engineer", None).await;
    let item3 = app.item_id(3).await;
    app.clock.set(sh("2026-09-24 17:50"));
    let a = app.file(&eng, json!({"line_item_id": item3, "title": "before Mid-Autumn"})).await;
    app.clock.set(sh("2026-09-28 09:10"));
    app.act(&eng, a["id"].as_str().expect("id"), "acknowledge", json!({}), StatusCode::OK).await;
    app.clock.set(sh("2026-09-30 17:50"));
    let b = app.file(&eng, json!({"line_item_id": item3, "title": "before National Day"})).await;
    assert_eq!(crate::helpers::clock(&b, "response")["deadline"], shown("2026-10-08 09:20"));
    app.clock.set(sh("2026-10-09 12:00"));
    let r = report(&app, &eng, "month=2026-09").await;
    let response = &r["contract"]["metrics"]["response"];
    assert_eq!(
        (response["met"].as_u64(), response["breached"].as_u64(), response["running"].as_u64()),
        (Some(1), Some(0), Some(1))
    );
    assert_eq!(response["mean_seconds_to_meet"], 1200.0);
    assert_eq!(response["attainment_percent"], 100.0);
    // An empty month has no figures at all.
    let empty = report(&app, &eng, "month=2026-08").await;
    assert_eq!(empty["contract"]["metrics"], json!({}));
    assert_eq!(empty["breached_tickets"], json!([]));
}

async fn reports_are_scoped_and_checked(app: TestApp) {
    let (_, eng) = app.user("engineer", None).await;
    let item1 = app.item_id(1).await;
    app.file(&eng, json!({"line_item_id": item1, "title": "education"})).await;
    let (_, justice_manager) = app.user("manager", Some("justice-bureau")).await;
    let r = report(&app, &justice_manager, "month=2026-06").await;
    assert_eq!(r["contract"]["tickets_by_severity"], json!({}), "another agency's tickets are not counted");
    let (_, agency_user) = app.user("agency_user", Some("education-bureau")).await;
    app.call(Method::GET, "/v1/reports/sla?month=2026-06", &agency_user, None, StatusCode::FORBIDDEN).await;
    for q in [
        "month=2026-13",
        "month=june",
        "month=2026-06&from=2026-06-01",
        "from=2026-06-10&to=2026-06-01",
        "from=2026-06-01",
        "format=pdf",
    ] {
        let p =
            app.call(Method::GET, &format!("/v1/reports/sla?{q}"), &eng, None, StatusCode::BAD_REQUEST).await;
        assert_eq!(p["code"], "bad_request", "{q}");
    }
    let range = report(&app, &eng, "from=2026-06-01&to=2026-06-01").await;
    assert_eq!(range["contract"]["tickets_by_severity"], json!({"general": 1}));
}
