//! Idempotent filing, optimistic concurrency, concurrent updates, and the list's filters and pages.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, instant, sh, utc};

crate::both_backends!(
    idempotency_key_returns_the_same_ticket,
    numbers_count_on_past_six_digits,
    etags_refuse_stale_updates,
    concurrent_updates_lose_nothing,
    list_filters_and_pages,
    the_breached_filter_agrees_with_each_ticket_read,
    rows_read_by_position_equal_rows_read_by_name
);

async fn idempotency_key_returns_the_same_ticket(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    let item = app.item_id(1).await;
    let post = |key: &'static str, body: Value| {
        app.client
            .post(app.url("/v1/tickets"))
            .bearer_auth(&engineer)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let body = json!({"line_item_id": item, "title": "重复提交", "severity": "major"});
    let first = post("k-1", body.clone()).await.expect("sent");
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    // Same key, same body (keys in another order): the same ticket again.
    let again = post("k-1", json!({"severity": "major", "title": "重复提交", "line_item_id": item}))
        .await
        .expect("sent");
    assert_eq!(again.status(), StatusCode::CREATED);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.expect("json");
    assert_eq!(again["id"], first["id"]);
    assert_eq!(again["number"], first["number"]);
    // Same key, other body: refused.
    let other = post("k-1", json!({"line_item_id": item, "title": "something else"})).await.expect("sent");
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let p: Value = other.json().await.expect("json");
    assert_eq!(p["code"], "idempotency_key_reused");
    // Concurrent retries with one key make one ticket.
    let body = json!({"line_item_id": item, "title": "raced"});
    let tries: Vec<_> = (0..8).map(|_| post("k-2", body.clone())).collect();
    let answers = futures::future::join_all(tries).await;
    let mut ids = Vec::new();
    for a in answers {
        let a = a.expect("sent");
        assert_eq!(a.status(), StatusCode::CREATED);
        ids.push(a.json::<Value>().await.expect("json")["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one ticket for one key: {ids:?}");
    let page = app.call(Method::GET, "/v1/tickets?q=raced", &engineer, None, StatusCode::OK).await;
    assert_eq!(page["items"].as_array().map(Vec::len), Some(1));
}

async fn numbers_count_on_past_six_digits(app: TestApp) {
    use sea_orm::ConnectionTrait;
    let (_, engineer) = app.user("engineer", None).await;
    let item = app.item_id(1).await;
    let first = app.file(&engineer, json!({"line_item_id": item, "title": "one"})).await;
    assert_eq!(first["number"], "INC-2026-000001");
    // PostgreSQL numbers from a sequence per year, SQLite from a counter row.
    let skip = if app.database_url.starts_with("postgres") {
        "SELECT setval('ticket_numbers_2026', 999998)"
    } else {
        "UPDATE ticket_counters SET last = 999998"
    };
    app.state.db.execute_unprepared(skip).await.expect("counter set");
    let numbers: Vec<Value> = [
        app.file(&engineer, json!({"line_item_id": item, "title": "two"})).await,
        app.file(&engineer, json!({"line_item_id": item, "title": "three"})).await,
    ]
    .iter()
    .map(|t| t["number"].clone())
    .collect();
    assert_eq!(numbers, [json!("INC-2026-999999"), json!("INC-2026-1000000")]);
    let read = app.ticket(&engineer, first["id"].as_str().expect("id")).await;
    assert_eq!(read["number"], "INC-2026-000001", "the number read back is the one answered");
}

async fn etags_refuse_stale_updates(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    let item = app.item_id(1).await;
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "x"})).await;
    let id = t["id"].as_str().expect("id");
    let r = app.send(Method::GET, &format!("/v1/tickets/{id}"), Some(&engineer), None).await;
    assert_eq!(r.headers()["etag"], "\"1\"");
    let act = |etag: &'static str, action: &'static str| {
        app.client
            .post(app.url(&format!("/v1/tickets/{id}/{action}")))
            .bearer_auth(&engineer)
            .header("if-match", etag)
            .json(&json!({"body": "note"}))
            .send()
    };
    let ok = act("\"1\"", "comment").await.expect("sent");
    assert_eq!(ok.status(), StatusCode::OK);
    assert_eq!(ok.headers()["etag"], "\"2\"");
    let stale = act("\"1\"", "acknowledge").await.expect("sent");
    assert_eq!(stale.status(), StatusCode::PRECONDITION_FAILED);
    let p: Value = stale.json().await.expect("json");
    assert_eq!(p["code"], "precondition_failed");
    let t = app.ticket(&engineer, id).await;
    assert_eq!(t["state"], "open", "the stale acknowledge changed nothing");
}

async fn concurrent_updates_lose_nothing(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    let item = app.item_id(1).await;
    let t = app.file(&engineer, json!({"line_item_id": item, "title": "busy"})).await;
    let id = t["id"].as_str().expect("id").to_owned();
    let comments: Vec<_> = (0..12)
        .map(|i| {
            app.client
                .post(app.url(&format!("/v1/tickets/{id}/comment")))
                .bearer_auth(&engineer)
                .json(&json!({"body": format!("comment {i}")}))
                .send()
        })
        .collect();
    for r in futures::future::join_all(comments).await {
        assert_eq!(r.expect("sent").status(), StatusCode::OK);
    }
    let trail =
        app.call(Method::GET, &format!("/v1/tickets/{id}/events"), &engineer, None, StatusCode::OK).await;
    let seqs: Vec<i64> = trail.as_array().expect("events").iter().filter_map(|e| e["seq"].as_i64()).collect();
    assert_eq!(seqs, (1..=13).collect::<Vec<_>>());
    let t = app.ticket(&engineer, &id).await;
    assert_eq!(t["version"], 13);
    // Concurrent filing: every number distinct.
    let filings: Vec<_> = (0..16)
        .map(|i| {
            app.client
                .post(app.url("/v1/tickets"))
                .bearer_auth(&engineer)
                .json(&json!({"line_item_id": item, "title": format!("parallel {i}")}))
                .send()
        })
        .collect();
    let mut numbers = Vec::new();
    for r in futures::future::join_all(filings).await {
        let r = r.expect("sent");
        assert_eq!(r.status(), StatusCode::CREATED);
        numbers.push(r.json::<Value>().await.expect("json")["number"].as_str().expect("number").to_owned());
    }
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 16);
}

async fn list_filters_and_pages(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    let item1 = app.item_id(1).await;
    let item3 = app.item_id(3).await;
    let mut ids = Vec::new();
    for (i, (item, severity, title)) in [
        (&item1, "general", "打印机故障"),
        (&item1, "major", "数据库 100% 占用"),
        (&item3, "general", "video_wall offline"),
        (&item3, "critical", "会议系统瘫痪"),
        (&item1, "general", "Login page slow"),
    ]
    .into_iter()
    .enumerate()
    {
        app.clock.set(sh("2026-06-01 10:00").plus_seconds(i as i64 * 60));
        let t =
            app.file(&engineer, json!({"line_item_id": item, "title": title, "severity": severity})).await;
        ids.push(t["id"].as_str().expect("id").to_owned());
    }
    let shared = &app;
    let count = |q: &str| {
        let q = q.to_owned();
        let token = engineer.clone();
        async move {
            let page =
                shared.call(Method::GET, &format!("/v1/tickets?{q}"), &token, None, StatusCode::OK).await;
            page["items"].as_array().map_or(0, Vec::len)
        }
    };
    assert_eq!(count("").await, 5);
    assert_eq!(count(&format!("line_item_id={item3}")).await, 2);
    assert_eq!(count("agency=justice-bureau").await, 2);
    assert_eq!(count("severity=general").await, 3);
    assert_eq!(count("state=open").await, 5);
    assert_eq!(count("state=closed").await, 0);
    // Text search: case-insensitive, Unicode, and LIKE metacharacters taken literally.
    assert_eq!(count("q=login").await, 1);
    assert_eq!(count("q=%E6%95%85%E9%9A%9C").await, 1, "故障");
    assert_eq!(count("q=100%25").await, 1, "a literal %");
    assert_eq!(count("q=%25").await, 1, "only one title has a %");
    assert_eq!(count("q=_").await, 1, "only one title has an underscore");
    assert_eq!(count("q=%27%3B%20DROP%20TABLE%20tickets%3B--").await, 0);
    assert_eq!(count(&format!("q={}", "界".repeat(200))).await, 0);
    assert_eq!(
        count(&format!(
            "created_from={}",
            crate::helpers::in_query(&crate::helpers::utc("2026-06-01 10:02"))
        ))
        .await,
        3
    );
    assert_eq!(
        count(&format!("created_to={}", crate::helpers::in_query(&crate::helpers::utc("2026-06-01 10:02"))))
            .await,
        2
    );
    // Breached as of now, without any write: every response target here is
    // 30 minutes (item 1 in 7x24, item 3 in 5x8 on a working Monday).
    assert_eq!(count("breached=true").await, 0);
    app.clock.set(sh("2026-06-01 10:31:30"));
    assert_eq!(count("breached=true").await, 2, "the tickets filed 10:00 and 10:01");
    assert_eq!(count("breached=false").await, 3);
    app.clock.set(sh("2026-06-01 10:33"));
    assert_eq!(count("breached=true").await, 4, "a deadline equal to now has passed");

    // Pages of two, newest first, covering everything once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..5 {
        let q = cursor.as_ref().map_or("limit=2".to_owned(), |c| format!("limit=2&cursor={c}"));
        let page = app.call(Method::GET, &format!("/v1/tickets?{q}"), &engineer, None, StatusCode::OK).await;
        seen.extend(
            page["items"].as_array().expect("items").iter().map(|t| t["id"].as_str().expect("id").to_owned()),
        );
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    ids.reverse();
    assert_eq!(seen, ids);
}

/// The `breached` filter reads an instant kept on the ticket row with every
/// write of its clocks; the oracle is the ticket read, whose clocks the
/// engine evaluates at that moment. They must agree after filings (one
/// phoned in late), actions that meet a clock in time or late, a pause, and
/// the worker's recording of breaches, at instants either side of each deadline.
async fn the_breached_filter_agrees_with_each_ticket_read(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    // Item 1: 7x24, respond in 30 minutes.
    let item = app.item_id(1).await;
    app.clock.set(sh("2026-06-01 10:00"));
    let mut ids = Vec::new();
    for title in ["acknowledged in time", "acknowledged late", "left alone", "paused"] {
        let t = app.file(&engineer, json!({"line_item_id": item, "title": title})).await;
        ids.push(t["id"].as_str().expect("id").to_owned());
    }
    app.clock.set(sh("2026-06-01 10:10"));
    app.act(&engineer, &ids[0], "acknowledge", json!({}), StatusCode::OK).await;
    for step in ["acknowledge", "arrive", "pause"] {
        app.act(&engineer, &ids[3], step, json!({"body": "等待用户"}), StatusCode::OK).await;
    }
    // Phoned in at 10:15, reported at 09:00 and answered at 09:45: late already.
    let late = json!({"line_item_id": item, "title": "phoned in", "reported_at": utc("2026-06-01 09:00"),
        "acknowledged_at": utc("2026-06-01 09:45")});
    app.clock.set(sh("2026-06-01 10:15"));
    ids.push(app.file(&engineer, late).await["id"].as_str().expect("id").to_owned());
    let verdicts = |expect: [bool; 5]| {
        let (app, engineer, ids) = (&app, &engineer, &ids);
        async move {
            let listed = |q: &'static str| async move {
                let page =
                    app.call(Method::GET, &format!("/v1/tickets?{q}"), engineer, None, StatusCode::OK).await;
                let items = page["items"].as_array().expect("items").clone();
                items.iter().map(|t| t["id"].as_str().expect("id").to_owned()).collect::<Vec<_>>()
            };
            let (breached, not_breached) = (listed("breached=true").await, listed("breached=false").await);
            for (id, expected) in ids.iter().zip(expect) {
                let read = app.ticket(engineer, id).await;
                let any = read["clocks"].as_array().expect("clocks").iter().any(|c| c["breached"] == true);
                assert_eq!(
                    any,
                    expected,
                    "the read of {} at {}: {read}",
                    read["title"],
                    api::time::Clock::now(&app.clock)
                );
                assert_eq!(breached.contains(id), any, "breached=true, {}", read["title"]);
                assert_eq!(not_breached.contains(id), !any, "breached=false, {}", read["title"]);
            }
        }
    };
    verdicts([false, false, false, false, true]).await;
    // One second before the response deadline, and on it (no worker run between).
    app.clock.set(sh("2026-06-01 10:29:59"));
    verdicts([false, false, false, false, true]).await;
    app.clock.set(sh("2026-06-01 10:30"));
    verdicts([false, true, true, false, true]).await;
    // The worker records the breaches; acknowledging late keeps the breach.
    app.tick().await;
    app.clock.set(sh("2026-06-01 10:40"));
    app.act(&engineer, &ids[1], "acknowledge", json!({}), StatusCode::OK).await;
    verdicts([false, true, true, false, true]).await;
    // On site within the hour: the first ticket's engineer never arrived.
    app.clock.set(sh("2026-06-01 11:00"));
    verdicts([true, true, true, false, true]).await;
}

/// The list and the timer read tickets and clocks by column position (the
/// cheaper way); the same rows read by column name are the oracle. Every
/// column holds a value of its own, so that two fields read in each
/// other's place would differ.
async fn rows_read_by_position_equal_rows_read_by_name(app: TestApp) {
    use api::store::entities::{clock, ticket};
    use sea_orm::EntityTrait;
    let (_, engineer) = app.user("engineer", None).await;
    let item = app.item_id(1).await;
    let body = json!({"line_item_id": item, "title": "标题", "description": "描述", "severity": "major", "tags": ["a", "b"]});
    let t = app.file(&engineer, body).await;
    let id = t["id"].as_str().expect("id");
    app.clock.set(instant(&t["reported_at"]).plus_seconds(300));
    app.act(&engineer, id, "acknowledge", json!({}), StatusCode::OK).await;
    app.clock.set(instant(&t["reported_at"]).plus_seconds(900));
    app.act(&engineer, id, "pause", json!({"body": "等待用户"}), StatusCode::OK).await;
    let db = &app.state.db;
    let by_name = ticket::Entity::find().all(db).await.expect("by name");
    let by_position = api::store::rows::all(ticket::Entity::find(), db).await.expect("by position");
    assert_eq!(by_position, by_name);
    assert!(by_name[0].paused_from.is_some() && by_name[0].assignee_id.is_some(), "{:?}", by_name[0]);
    let by_name = clock::Entity::find().all(db).await.expect("by name");
    let by_position = api::store::rows::all(clock::Entity::find(), db).await.expect("by position");
    assert_eq!(by_position, by_name);
    assert!(by_name.iter().any(|c| c.met_at.is_some() && c.rule.is_some()), "{by_name:?}");
}
