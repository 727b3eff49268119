//! Holiday years added while the service runs: coverage shown, uploads
//! checked, running clocks moved at once (on another instance within its
//! poll), alerts following the new deadlines, TOML and iCalendar alike.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Backend, TestApp, clock, instant, sh};

crate::both_backends!(
    a_year_uploaded_while_a_clock_runs_moves_its_deadline,
    uploads_are_checked_and_named,
    an_ical_feed_of_rest_and_work_days,
    a_day_changed_after_a_deadline_still_moves_the_escalation,
    a_day_changed_after_it_began_undoes_what_was_announced_on_it
);

const YEAR_2027: &str = include_str!("fixtures/cn-2027-test.toml");
const FEED_2027: &str = include_str!("fixtures/cn-2027-test.ics");

async fn put(app: &TestApp, token: &str, path: &str, content_type: &str, body: &str) -> (StatusCode, Value) {
    let r = app
        .client
        .put(app.url(path))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body.to_owned())
        .send()
        .await
        .expect("sent");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Whether `GET /v1/tickets?breached=true` lists the ticket `id`.
async fn listed_breached(app: &TestApp, token: &str, id: &str) -> bool {
    let page = app.call(Method::GET, "/v1/tickets?breached=true", token, None, StatusCode::OK).await;
    page["items"].as_array().expect("items").iter().any(|t| t["id"] == id)
}

async fn calendars(app: &TestApp, token: &str) -> Value {
    app.call(Method::GET, "/v1/calendars", token, None, StatusCode::OK).await
}

async fn a_year_uploaded_while_a_clock_runs_moves_its_deadline(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    app.user_with_email("manager", None, Some("supplier@example.org")).await;
    // A second instance on the same PostgreSQL database, which hears of the
    // change only through the database (here: at a tick, not by its poll).
    let other = match app.backend() {
        Backend::Postgres => Some(app.another(|s| s.calendar_poll_seconds = 3600).await),
        Backend::Sqlite => None,
    };
    // Item 3 (5x8, respond in 30 working minutes), Thursday 2026-12-31 17:50:
    // ten minutes that day, twenty on the next working day. Without 2027's
    // holidays that is Friday 01-01 09:20, and the answer says so.
    app.clock.set(sh("2026-12-31 09:00"));
    let item3 = app.item_id(3).await;
    // Filed that morning: its response was due at 09:30, before any day
    // that changes, and stays as it is (the recomputation leaves it alone).
    let early = app.file(&engineer, json!({"line_item_id": item3, "title": "上午故障"})).await;
    let early_id = early["id"].as_str().expect("id").to_owned();
    assert_eq!(instant(&clock(&early, "response")["deadline"]), sh("2026-12-31 09:30"));
    app.clock.set(sh("2026-12-31 17:50"));
    let t = app.file(&engineer, json!({"line_item_id": item3, "title": "跨年故障"})).await;
    let id = t["id"].as_str().expect("id").to_owned();
    assert_eq!(instant(&clock(&t, "response")["deadline"]), sh("2027-01-01 09:20"));
    assert_eq!(clock(&t, "response")["beyond_holiday_data"], true);
    let before = calendars(&app, &engineer).await;
    let gap =
        before["uncovered"].as_array().expect("uncovered").iter().find(|g| g["region"] == "cn").cloned();
    let gap = gap.expect("2027 is not covered");
    assert_eq!(gap["from"], "2027-01-01");
    assert!(gap["line_items"].as_array().is_some_and(|l| l.contains(&json!(3))));
    if let Some(other) = &other {
        other.clock.set(sh("2026-12-31 17:55"));
    }

    app.clock.set(sh("2026-12-31 17:55"));
    let (status, stored) =
        put(&app, &app.admin_token, "/v1/calendars/holidays/cn/2027", "application/toml", YEAR_2027).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert_eq!(stored, json!({"region": "cn", "year": 2027, "holiday_dates": 3, "makeup_workdays": 1}));
    // In force here at once, without a restart: the holiday moves it to Monday.
    let now = app.ticket(&engineer, &id).await;
    assert_eq!(instant(&clock(&now, "response")["deadline"]), sh("2027-01-04 09:20"));
    assert_eq!(clock(&now, "response")["beyond_holiday_data"], false);
    let after = calendars(&app, &engineer).await;
    let five_by_eight =
        after["windows"].as_array().expect("windows").iter().find(|w| w["name"] == "5x8").cloned();
    assert_eq!(
        five_by_eight.expect("5x8")["holiday_coverage"],
        json!([{"from": "2026-01-01", "to": "2027-12-31"}])
    );
    assert!(
        after["years"]
            .as_array()
            .expect("years")
            .contains(&json!({"region": "cn", "year": 2027, "source": "database"}))
    );

    if let Some(other) = &other {
        // The other instance answers from its own calendars until its next
        // look at the database (calendar_poll_seconds, or a tick).
        let stale = other.ticket(&engineer, &id).await;
        assert_eq!(instant(&clock(&stale, "response")["deadline"]), sh("2027-01-01 09:20"));
        other.tick().await;
        let fresh = other.ticket(&engineer, &id).await;
        assert_eq!(instant(&clock(&fresh, "response")["deadline"]), sh("2027-01-04 09:20"));
    }
    // The worker of one instance moves the stored deadline and writes it on the trail, once.
    app.tick().await;
    if let Some(other) = &other {
        other.tick().await;
    }
    let trail =
        app.call(Method::GET, &format!("/v1/tickets/{id}/events"), &engineer, None, StatusCode::OK).await;
    let moved: Vec<&Value> =
        trail.as_array().expect("trail").iter().filter(|e| e["action"] == "deadline_moved").collect();
    let mut metrics: Vec<&str> = moved.iter().filter_map(|e| e["data"]["metric"].as_str()).collect();
    metrics.sort_unstable();
    assert_eq!(metrics, ["on_site", "recovery", "response"], "each clock moved once: {trail}");
    let response = moved.iter().find(|e| e["data"]["metric"] == "response").expect("response moved");
    assert_eq!(
        (instant(&response["data"]["from"]), instant(&response["data"]["to"])),
        (sh("2027-01-01 09:20"), sh("2027-01-04 09:20"))
    );
    assert!(response["actor_id"].is_null(), "the worker wrote it");
    let early_trail = app
        .call(Method::GET, &format!("/v1/tickets/{early_id}/events"), &engineer, None, StatusCode::OK)
        .await;
    let early_moved: Vec<&str> = early_trail
        .as_array()
        .expect("trail")
        .iter()
        .filter(|e| e["action"] == "deadline_moved")
        .filter_map(|e| e["data"]["metric"].as_str())
        .collect();
    assert!(!early_moved.contains(&"response"), "a deadline before the new holiday stays: {early_trail}");
    let early_now = app.ticket(&engineer, &early_id).await;
    assert_eq!(instant(&clock(&early_now, "response")["deadline"]), sh("2026-12-31 09:30"));
    assert_eq!(clock(&early_now, "response")["breached"], true);
    // Settled, so that what follows hears of one ticket's alerts only.
    app.act(&engineer, &early_id, "resolve", json!({}), StatusCode::OK).await;

    // The alerts follow: nothing on the old deadline, the breach on the new
    // one; and so does the list's `breached` filter.
    app.clock.set(sh("2027-01-01 09:30"));
    assert_eq!(app.tick().await.sent, 0, "New Year's Day is a holiday now");
    assert!(!listed_breached(&app, &engineer, &id).await, "past the old deadline only");
    app.clock.set(sh("2027-01-04 09:20"));
    assert!(listed_breached(&app, &engineer, &id).await, "on the new deadline, before the worker runs");
    assert_eq!(app.tick().await.sent, 1, "the breach, to the supplier's manager");
    let last = app.smtp.messages().pop().expect("a message");
    assert!(last.subject().contains("已超时"), "{}", last.subject());
}

async fn uploads_are_checked_and_named(app: TestApp) {
    let path = "/v1/calendars/holidays/cn/2027";
    let (_, clerk) = app.user("agency_user", Some("justice-bureau")).await;
    let (status, p) = put(&app, &clerk, path, "application/toml", YEAR_2027).await;
    assert_eq!((status, p["code"].clone()), (StatusCode::FORBIDDEN, json!("forbidden")));
    let (status, p) = put(&app, &app.admin_token, path, "application/json", "{}").await;
    assert_eq!(
        (status, p["code"].clone()),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, json!("unsupported_media_type"))
    );
    // A bad date names the entry and the field.
    let bad = YEAR_2027.replace("from = \"2027-01-01\"", "from = \"2027-01-41\"");
    let (status, p) = put(&app, &app.admin_token, path, "application/toml", &bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    assert_eq!(p["field"], "body");
    let detail = p["detail"].as_str().unwrap_or_default();
    assert!(detail.contains("holiday[0] \"元旦\"") && detail.contains("2027-01-41"), "{detail}");
    // A syntax error names the line.
    let (status, p) =
        put(&app, &app.admin_token, path, "application/toml", "region = \"cn\"\nyear = \n").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(p["detail"].as_str().is_some_and(|d| d.contains("line 2")), "{p}");
    // The file must be the year the address names, and every date in it.
    let (status, p) =
        put(&app, &app.admin_token, "/v1/calendars/holidays/cn/2028", "application/toml", YEAR_2027).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
    let stray = YEAR_2027.replace("to = \"2027-01-03\"", "to = \"2028-01-03\"");
    let (status, _) = put(&app, &app.admin_token, path, "application/toml", &stray).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) =
        put(&app, &app.admin_token, "/v1/calendars/holidays/CN!/2027", "application/toml", YEAR_2027).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Nothing was stored.
    let c = calendars(&app, &clerk).await;
    assert!(!c["years"].as_array().expect("years").iter().any(|y| y["year"] == 2027));
}

async fn an_ical_feed_of_rest_and_work_days(app: TestApp) {
    let (status, stored) =
        put(&app, &app.admin_token, "/v1/calendars/holidays/cn/2027", "text/calendar", FEED_2027).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    // 元旦（休）01-01..03 (DTEND is exclusive), 春节（班）02-06; the feed's other event is no holiday data.
    assert_eq!(stored, json!({"region": "cn", "year": 2027, "holiday_dates": 3, "makeup_workdays": 1}));
    // The same schedule as the TOML fixture: item 3's deadline after New Year's Eve moves the same way.
    let (_, engineer) = app.user("engineer", None).await;
    app.clock.set(sh("2026-12-31 17:50"));
    let item3 = app.item_id(3).await;
    let t = app.file(&engineer, json!({"line_item_id": item3, "title": "x"})).await;
    assert_eq!(instant(&clock(&t, "response")["deadline"]), sh("2027-01-04 09:20"));
    let (status, p) =
        put(&app, &app.admin_token, "/v1/calendars/holidays/cn/2028", "text/calendar", FEED_2027).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "no 2028 day in the feed: {p}");
}

/// The percents of the trail rows `action` (`escalated`, `alert_withdrawn`)
/// of item 7's five-day clock on ticket `id`, in trail order.
async fn five_day(app: &TestApp, token: &str, id: &str, action: &str) -> Vec<Value> {
    let trail = app.call(Method::GET, &format!("/v1/tickets/{id}/events"), token, None, StatusCode::OK).await;
    let all = trail.as_array().cloned().unwrap_or_default();
    all.into_iter()
        .filter(|e| e["action"] == action && e["data"]["metric"] == "minor_change")
        .map(|e| e["data"]["percent"].clone())
        .collect()
}

/// A change request on item 7 (five working days, 40 hours of 5x8) filed
/// Wednesday 2026-12-23 09:00: due Tuesday 12-29 18:00. Its id.
async fn change_request(app: &TestApp, token: &str) -> String {
    app.clock.set(sh("2026-12-23 09:00"));
    let item7 = app.item_id(7).await;
    let change = app
        .file(token, json!({"line_item_id": item7, "title": "增加字段", "tags": ["change_request"]}))
        .await;
    assert_eq!(instant(&clock(&change, "minor_change")["deadline"]), sh("2026-12-29 18:00"));
    change["id"].as_str().expect("id").to_owned()
}

async fn a_day_changed_after_a_deadline_still_moves_the_escalation(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    // A change request's escalation at 150 % (60 hours) falls 20 working
    // hours after its deadline: Wednesday and Thursday whole, then
    // 09:00-12:00 and 13:00-14:00 of Friday 2027-01-01.
    let id = change_request(&app, &engineer).await;

    let upload = async |year: &str| {
        let (status, stored) =
            put(&app, &app.admin_token, "/v1/calendars/holidays/cn/2027", "application/toml", year).await;
        assert_eq!(status, StatusCode::OK, "{stored}");
        app.tick().await;
    };
    // With New Year's Day off, the breach is announced on time and the
    // escalation is next, on Monday 01-04 14:00.
    upload(YEAR_2027).await;
    app.clock.set(sh("2026-12-29 18:00"));
    app.tick().await;
    let breached = app.ticket(&engineer, &id).await;
    assert_eq!(clock(&breached, "minor_change")["breached"], true);
    // The same year again, with 01-01 a working day after all: the
    // escalation is due on Friday again. The deadline lies two days before
    // the first day that changed: only the clock's next instant says that it
    // must be rewritten, and the timer would otherwise look at it only on
    // Monday, three days late.
    app.clock.set(sh("2026-12-30 10:00"));
    upload(&YEAR_2027.replace("from = \"2027-01-01\"", "from = \"2027-01-02\"")).await;
    let now = app.ticket(&engineer, &id).await;
    assert_eq!(instant(&clock(&now, "minor_change")["deadline"]), sh("2026-12-29 18:00"));

    app.clock.set(sh("2027-01-01 13:59"));
    app.tick().await;
    assert_eq!(five_day(&app, &engineer, &id, "escalated").await, [] as [Value; 0], "not yet");
    app.clock.set(sh("2027-01-01 14:00"));
    app.tick().await;
    assert_eq!(
        five_day(&app, &engineer, &id, "escalated").await,
        [json!(150)],
        "on time, a working day again"
    );
}

async fn a_day_changed_after_it_began_undoes_what_was_announced_on_it(app: TestApp) {
    let (_, engineer) = app.user("engineer", None).await;
    // The change request above (80 working hours to its last escalation at
    // 200 %), with 2027 uploaded only on Wednesday 01-06 10:00: as far as
    // anyone knew, Friday 01-01 was a working day, and both escalations were
    // announced by Tuesday 01-05 18:00. With New Year's Day off the one at
    // 200 % falls on Wednesday 01-06 18:00, later than now, so it is
    // withdrawn, although the clock's deadline (12-29) came days before the
    // day that changed and nothing of the clock was still to come.
    let id = change_request(&app, &engineer).await;
    app.clock.set(sh("2027-01-05 18:00"));
    app.tick().await;
    let announced = five_day(&app, &engineer, &id, "escalated").await;
    assert_eq!(announced, [json!(150), json!(200)]);

    app.clock.set(sh("2027-01-06 10:00"));
    let (status, stored) =
        put(&app, &app.admin_token, "/v1/calendars/holidays/cn/2027", "application/toml", YEAR_2027).await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    app.tick().await;
    let withdrawn = five_day(&app, &engineer, &id, "alert_withdrawn").await;
    assert_eq!(withdrawn, [json!(200)], "only the one not yet due");
}

/// Whether the trail of ticket `id` says its `metric` clock was moved.
async fn moved(app: &TestApp, token: &str, id: &str, metric: &str) -> bool {
    let trail = app.call(Method::GET, &format!("/v1/tickets/{id}/events"), token, None, StatusCode::OK).await;
    trail
        .as_array()
        .expect("trail")
        .iter()
        .any(|e| e["action"] == "deadline_moved" && e["data"]["metric"] == metric)
}

/// Wait (a few seconds at most) until `done` says so.
async fn until<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    for _ in 0..200 {
        if done().await {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("waited in vain for {what}");
}

/// Another session of `app`'s database, holding the clocks of ticket `id`
/// until the transaction returned beside it ends.
async fn hold_clocks(app: &TestApp, id: &str) -> (sea_orm::DatabaseConnection, sea_orm::DatabaseTransaction) {
    use sea_orm::{ConnectionTrait, TransactionTrait};

    let holder = sea_orm::Database::connect(&app.database_url).await.expect("connect");
    let held = holder.begin().await.expect("begin");
    held.execute_unprepared(&format!("SELECT 1 FROM clocks WHERE ticket_id = '{id}' FOR UPDATE"))
        .await
        .expect("the ticket's clocks held");
    (holder, held)
}

/// A walk held at a clock, as [`walk_held_at_a_clock`] leaves it.
struct HeldWalk {
    engineer: String,
    /// The ticket whose clocks are held.
    id: String,
    holder: sea_orm::DatabaseConnection,
    held: sea_orm::DatabaseTransaction,
    stop: tokio_util::sync::CancellationToken,
    worker: tokio::task::JoinHandle<()>,
}

/// A fault on item 3 (5x8) filed on 2026-12-31 at 17:50, whose response
/// (due New Year's Day 09:20) moves with 2027's holidays; its clocks held
/// by another session, the worker started and 2027 uploaded: once the
/// walk waits at those clocks.
async fn walk_held_at_a_clock(app: &TestApp) -> HeldWalk {
    let (_, engineer) = app.user("engineer", None).await;
    app.clock.set(sh("2026-12-31 17:50"));
    let t = app.file(&engineer, json!({"line_item_id": app.item_id(3).await, "title": "跨年故障"})).await;
    let id = t["id"].as_str().expect("id").to_owned();
    let (holder, held) = hold_clocks(app, &id).await;
    let (stop, worker) = worker_then_2027(app).await;
    until("the walk to wait for the clocks", || async { lock_waiters(&holder).await >= 1 }).await;
    HeldWalk { engineer, id, holder, held, stop, worker }
}

/// Start the worker's loops (as `itsm serve` does), then upload 2027's
/// holidays: what stops the loops, and their task.
async fn worker_then_2027(
    app: &TestApp,
) -> (tokio_util::sync::CancellationToken, tokio::task::JoinHandle<()>) {
    let stop = tokio_util::sync::CancellationToken::new();
    let worker = tokio::spawn(api::worker::run(app.state.clone(), stop.clone()));
    let (status, _) =
        put(app, &app.admin_token, "/v1/calendars/holidays/cn/2027", "application/toml", YEAR_2027).await;
    assert_eq!(status, StatusCode::OK);
    (stop, worker)
}

/// The walk over running clocks after a change of holidays runs beside the
/// timer, not inside it: while the walk waits, a threshold falling due is
/// still announced, and the walk then moves its clocks. Only PostgreSQL can
/// hold the walk back alone (SQLite has one writer: what held the walk
/// there would hold the timer too).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_threshold_falls_due_while_a_change_of_holidays_waits_to_be_walked() {
    use sea_orm::{ConnectionTrait, TransactionTrait};

    let app = TestApp::spawn(Backend::Postgres).await;
    let (engineer_id, engineer) = app.user_with_email("engineer", None, Some("eng@example.org")).await;
    // Item 3 (5x8): its response, due New Year's Day 09:20 without 2027's
    // holidays, moves with them. Item 1 (7x24): no holiday moves its
    // response, whose warning falls due 15 minutes after the filing.
    app.clock.set(sh("2026-12-31 17:50"));
    let five_by_eight =
        app.file(&engineer, json!({"line_item_id": app.item_id(3).await, "title": "跨年故障"})).await;
    let five_by_eight = five_by_eight["id"].as_str().expect("id").to_owned();
    let round_the_clock =
        app.file(&engineer, json!({"line_item_id": app.item_id(1).await, "title": "平台无法登录"})).await;
    let number = round_the_clock["number"].as_str().expect("number").to_owned();
    let round_the_clock = round_the_clock["id"].as_str().expect("id").to_owned();
    app.act(&engineer, &round_the_clock, "assign", json!({"assignee_id": engineer_id}), StatusCode::OK).await;

    // Another session holds the row on which a walk is claimed.
    let holder = sea_orm::Database::connect(&app.database_url).await.expect("connect");
    let held = holder.begin().await.expect("begin");
    held.execute_unprepared(
        "INSERT INTO service_facts (key, value) VALUES ('calendar_recomputed', '0') ON CONFLICT (key) DO NOTHING",
    )
    .await
    .expect("the claim's row");
    held.execute_unprepared("SELECT value FROM service_facts WHERE key = 'calendar_recomputed' FOR UPDATE")
        .await
        .expect("held");
    let (stop, worker) = worker_then_2027(&app).await;

    app.clock.advance(900);
    until("the response warning", || async { !app.smtp.messages().is_empty() }).await;
    let warning = app.smtp.messages().pop().expect("a message");
    assert_eq!(warning.to, ["eng@example.org"]);
    assert!(warning.subject().contains(&number), "the warning of item 1's ticket: {}", warning.subject());
    assert_eq!(
        api::store::holidays::claimed_recompute(&app.state.db).await.expect("read"),
        0,
        "the walk waits"
    );
    assert!(!moved(&app, &engineer, &five_by_eight, "response").await);

    held.rollback().await.expect("let go");
    until("the walk", || moved(&app, &engineer, &five_by_eight, "response")).await;
    assert!(!moved(&app, &engineer, &round_the_clock, "response").await, "7x24 follows no holidays");
    stop.cancel();
    worker.await.expect("the worker stops");
}

/// A walk cut short (its connection to the database lost midway) is walked
/// again by the instance that claimed it, without waiting for a restart.
/// PostgreSQL only: there a session can stop the walk at one clock and cut
/// the walk's connection while it waits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_walk_cut_short_is_walked_again() {
    use sea_orm::ConnectionTrait;

    let app = TestApp::spawn_with(Backend::Postgres, |s| s.calendar_poll_seconds = 1).await;
    let HeldWalk { engineer, id, holder, held, stop, worker } = walk_held_at_a_clock(&app).await;
    // Its connection is cut while it waits.
    let cut = format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE {WAITING}");
    holder.execute_unprepared(&cut).await.expect("cut");
    held.rollback().await.expect("let go");
    until("the walk again", || moved(&app, &engineer, &id, "response")).await;
    let trail =
        app.call(Method::GET, &format!("/v1/tickets/{id}/events"), &engineer, None, StatusCode::OK).await;
    let moves = trail.as_array().expect("trail").iter().filter(|e| e["action"] == "deadline_moved").count();
    assert_eq!(moves, 3, "each clock moved once: {trail}");
    assert_eq!(
        instant(&clock(&app.ticket(&engineer, &id).await, "response")["deadline"]),
        sh("2027-01-04 09:20")
    );
    stop.cancel();
    worker.await.expect("the worker stops");
}

/// The sessions of `pg_stat_activity` on this test's database waiting for a lock.
const WAITING: &str = "datname = current_database() AND wait_event_type = 'Lock'";

/// Sessions of this test's database waiting for a lock.
async fn lock_waiters(db: &sea_orm::DatabaseConnection) -> i64 {
    use sea_orm::ConnectionTrait;
    let sql = format!("SELECT count(*) AS n FROM pg_stat_activity WHERE {WAITING}");
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql))
        .await
        .expect("read");
    row.expect("a row").try_get("", "n").expect("n")
}

/// A walk overtaken: while a batch of an older walk waits for a clock, a
/// newer change made on another instance puts the clock back where it was.
/// The newer walk begins only once that batch is written, so that the
/// clock ends where the newer holidays put it, not where the older batch
/// wrote it after the newer walk had passed it by as already right.
/// PostgreSQL only (two instances on one database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_change_made_elsewhere_waits_for_the_older_walks_batch() {
    let app = TestApp::spawn_with(Backend::Postgres, |s| s.calendar_poll_seconds = 1).await;
    let other = app.another(|s| s.calendar_poll_seconds = 1).await;
    let (_, engineer) = app.user("engineer", None).await;
    for instance in [&app, &other] {
        instance.clock.set(sh("2026-12-31 17:50"));
    }
    // First a 2027 whose holidays are in October, walked; then item 3 (5x8):
    // its response is due on New Year's Day 09:20, a working day.
    let october = YEAR_2027.replace("2027-01-01", "2027-10-01").replace("2027-01-03", "2027-10-03");
    let path = "/v1/calendars/holidays/cn/2027";
    assert_eq!(put(&app, &app.admin_token, path, "application/toml", &october).await.0, StatusCode::OK);
    app.tick().await;
    let t = app.file(&engineer, json!({"line_item_id": app.item_id(3).await, "title": "跨年故障"})).await;
    let id = t["id"].as_str().expect("id").to_owned();
    assert_eq!(instant(&clock(&t, "response")["deadline"]), sh("2027-01-01 09:20"));

    // New Year's Day off (the response moves to Monday 01-04): its walk waits at the clock.
    let (holder, held) = hold_clocks(&app, &id).await;
    let (stop, worker) = worker_then_2027(&app).await;
    until("the older walk to wait for the clocks", || async { lock_waiters(&holder).await >= 1 }).await;

    // Then, on the other instance, October's 2027 again.
    let stop_other = tokio_util::sync::CancellationToken::new();
    let other_worker = tokio::spawn(api::worker::run(other.state.clone(), stop_other.clone()));
    assert_eq!(put(&other, &other.admin_token, path, "application/toml", &october).await.0, StatusCode::OK);
    // The newer claim waits for the batch; before it did not, and the newer
    // walk, finding the clock where its holidays put it, ran to its end.
    let basis = || async {
        api::store::facts::get(&app.state.db, "clock_inputs_basis").await.expect("read").is_some()
    };
    until("the newer claim to wait, or its walk to end", || async {
        lock_waiters(&holder).await >= 2 || basis().await
    })
    .await;
    held.rollback().await.expect("let go");
    until("the walks to settle", || async { basis().await && moved(&app, &engineer, &id, "response").await })
        .await;

    assert_eq!(
        stored_response_deadline(&holder, &id).await,
        sh("2027-01-01 09:20"),
        "where the newer holidays put it"
    );
    for (task, cancel) in [(worker, stop), (other_worker, stop_other)] {
        cancel.cancel();
        task.await.expect("the worker stops");
    }
}

/// An instance without the timer (`timer_enabled = false`, answering the
/// API only) takes holidays changed on another within its poll, without a
/// tick: its answers compute deadlines with them. PostgreSQL only (two
/// instances on one database).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_without_the_timer_follows_holidays_changed_elsewhere() {
    let app = TestApp::spawn_with(Backend::Postgres, |s| s.calendar_poll_seconds = 1).await;
    assert!(!app.state.settings.timer_enabled);
    let other = app.another(|_| {}).await;
    let (_, engineer) = app.user("engineer", None).await;
    app.clock.set(sh("2026-12-31 17:50"));
    let t = app.file(&engineer, json!({"line_item_id": app.item_id(3).await, "title": "跨年故障"})).await;
    let id = t["id"].as_str().expect("id").to_owned();
    assert_eq!(instant(&clock(&t, "response")["deadline"]), sh("2027-01-01 09:20"));

    let path = "/v1/calendars/holidays/cn/2027";
    assert_eq!(put(&other, &other.admin_token, path, "application/toml", YEAR_2027).await.0, StatusCode::OK);
    until("this instance to take the new holidays", || async {
        let now = app.ticket(&engineer, &id).await;
        instant(&clock(&now, "response")["deadline"]) == sh("2027-01-04 09:20")
    })
    .await;
}

/// Stopping the service abandons a walk that waits (its open batch rolls
/// back; the next start recomputes): `itsm serve` does not wait for it.
/// PostgreSQL only: there a session can hold the walk at a clock.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_does_not_wait_for_a_walk() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let HeldWalk { engineer, id, holder, held, stop, worker } = walk_held_at_a_clock(&app).await;

    stop.cancel();
    let stopped = tokio::time::timeout(std::time::Duration::from_secs(10), worker).await;
    assert!(stopped.is_ok(), "the worker stopped while its walk still waited");
    held.rollback().await.expect("let go");
    assert!(!moved(&app, &engineer, &id, "response").await, "the abandoned batch wrote nothing");
    assert_eq!(stored_response_deadline(&holder, &id).await, sh("2027-01-01 09:20"));
    let restarted = app.another(|_| {}).await;
    assert!(restarted.recomputed_clocks.is_some_and(|n| n > 0), "the next start recomputes");
    assert_eq!(stored_response_deadline(&holder, &id).await, sh("2027-01-04 09:20"));
}

/// The response deadline stored for ticket `id` (not computed afresh, as an answer is).
async fn stored_response_deadline(db: &sea_orm::DatabaseConnection, id: &str) -> sla_engine::Timestamp {
    use sea_orm::ConnectionTrait;
    let sql = format!("SELECT deadline FROM clocks WHERE ticket_id = '{id}' AND metric = 'response'");
    let row = db.query_one_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await;
    let deadline: i64 = row.expect("read").expect("the clock").try_get("", "deadline").expect("deadline");
    sla_engine::Timestamp::from_unix(deadline)
}
