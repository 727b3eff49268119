//! Past tickets filed in bulk (`service::filing::import`): numbered like any
//! filing, clocked from their real times, and what their clocks crossed
//! before the import is history: stored as announced, never mailed; the
//! thresholds still to come are announced as for any ticket.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use api::service::filing::{PastTicket, Steps, import};
use sla_engine::{Severity, Timestamp};

use crate::helpers::{TestApp, clock, sh, shown};

crate::both_backends!(
    thresholds_crossed_before_an_import_are_never_mailed,
    only_an_admin_imports_and_steps_keep_their_order,
    a_report_read_a_page_at_a_time_counts_every_ticket_once,
    imports_racing_into_a_new_year_all_land_numbered_once,
    the_queue_past_a_page_is_the_nearest_deadline_first
);

fn past(item: &str, reported_at: Timestamp) -> PastTicket {
    PastTicket {
        line_item_id: item.parse().expect("item id"),
        title: "导入的历史工单".into(),
        severity: Severity::General,
        reported_at,
        steps: Steps::default(),
        closed_at: None,
        assignee_id: None,
    }
}

async fn caller(app: &TestApp, token: &str) -> api::domain::access::Caller {
    api::service::accounts::caller_for_token(&app.state, token).await.expect("lookup").expect("a caller")
}

async fn tickets(app: &TestApp) -> Vec<Value> {
    let v = app.call(Method::GET, "/v1/tickets?limit=100", &app.admin_token, None, StatusCode::OK).await;
    v["items"].as_array().expect("items").clone()
}

async fn thresholds_crossed_before_an_import_are_never_mailed(app: TestApp) {
    app.user_with_email("manager", None, Some("supplier-manager@example.org")).await;
    let item = app.item_id(1).await; // 7x24: response 30 min, on site 1 h, recovery 6 h; warnings at 50 % and 80 %
    app.clock.set(sh("2026-11-30 10:00"));
    let admin = caller(&app, &app.admin_token).await;
    let imported = import(
        &app.state,
        &admin,
        // Two hours old: response and on site breached long ago; recovery's 50 % falls at 11:00.
        // Ten minutes old: response's 50 % falls at 10:05.
        vec![past(&item, sh("2026-11-30 08:00")), past(&item, sh("2026-11-30 09:50"))],
    )
    .await
    .expect("import");
    assert_eq!(imported, 2);
    let stored = tickets(&app).await;
    assert_eq!(stored.len(), 2);
    let old = stored.iter().find(|t| t["reported_at"] == shown("2026-11-30 08:00")).expect("the old one");
    let full = app.ticket(&app.admin_token, old["id"].as_str().expect("id")).await;
    assert!(full["number"].as_str().is_some_and(|n| n.starts_with("INC-2026-")), "{}", full["number"]);
    assert_eq!(clock(&full, "response")["state"], "breached");
    assert_eq!(clock(&full, "response")["breached_at"], shown("2026-11-30 08:30"));

    let report = app.tick().await;
    assert_eq!((report.thresholds, report.queued), (0, 0), "nothing crossed before the import is news");
    assert_eq!(report.next_at, Some(sh("2026-11-30 10:05")), "the first threshold still to come");
    assert!(app.smtp.messages().is_empty());

    app.clock.set(sh("2026-11-30 10:05"));
    let report = app.tick().await;
    assert_eq!((report.thresholds, report.queued), (1, 1), "the fresh ticket's response at 50 %");
    let mail = app.smtp.messages();
    assert_eq!(mail.len(), 1);
    assert_eq!(mail[0].to, ["supplier-manager@example.org"]);
}

async fn only_an_admin_imports_and_steps_keep_their_order(app: TestApp) {
    let item = app.item_id(1).await;
    app.clock.set(sh("2026-11-30 10:00"));
    let (_, engineer) = app.user("engineer", None).await;
    let engineer = caller(&app, &engineer).await;
    let refused = import(&app.state, &engineer, vec![past(&item, sh("2026-11-30 08:00"))]).await;
    assert!(matches!(refused, Err(api::service::Error::Forbidden(_))), "{refused:?}");

    let admin = caller(&app, &app.admin_token).await;
    let mut closed_unresolved = past(&item, sh("2026-11-30 08:00"));
    closed_unresolved.closed_at = Some(sh("2026-11-30 09:00"));
    let refused = import(&app.state, &admin, vec![closed_unresolved]).await;
    assert!(
        matches!(&refused, Err(api::service::Error::Invalid(i)) if i.field == Some("closed_at")),
        "{refused:?}"
    );
    assert!(tickets(&app).await.is_empty(), "a refused import writes nothing");
}

async fn a_report_read_a_page_at_a_time_counts_every_ticket_once(app: TestApp) {
    // 2,345 tickets on item 1 (7x24, response 30 min) in November: more than
    // two pages of the report's reading, 1,500 of them reported at one instant
    // (so that pages break within a tie). 1,600 answered after 5 min, 745
    // after 40 min (late).
    let item = app.item_id(1).await;
    app.clock.set(sh("2026-12-02 10:00"));
    let admin = caller(&app, &app.admin_token).await;
    let tickets: Vec<PastTicket> = (0..2345i64)
        .map(|i| {
            let reported =
                if i < 1500 { sh("2026-11-10 09:00") } else { sh("2026-11-11 00:00").plus_seconds(i * 60) };
            let answered = if i < 1600 { 300 } else { 2400 };
            let mut t = past(&item, reported);
            t.steps.acknowledged_at = Some(reported.plus_seconds(answered));
            t.steps.arrived_at = Some(reported.plus_seconds(2500));
            t.steps.resolved_at = Some(reported.plus_seconds(3000));
            t.closed_at = Some(reported.plus_seconds(4000));
            t
        })
        .collect();
    import(&app.state, &admin, tickets).await.expect("import");
    let r =
        app.call(Method::GET, "/v1/reports/sla?month=2026-11", &app.admin_token, None, StatusCode::OK).await;
    let contract = &r["contract"];
    assert_eq!(contract["tickets_by_state"]["closed"], 2345);
    let response = &contract["metrics"]["response"];
    assert_eq!((response["met"].as_u64(), response["breached"].as_u64()), (Some(1600), Some(745)));
    // Nearest rank 2,111 of 2,345 falls among the late ones.
    assert_eq!(response["p90_seconds_to_meet"], 2400);
    let mean = (1600.0 * 300.0 + 745.0 * 2400.0) / 2345.0;
    assert!((response["mean_seconds_to_meet"].as_f64().expect("mean") - mean).abs() < 1e-6);
    assert_eq!(
        r["line_items"]["1"]["metrics"]["response"], *response,
        "one item: its figures are the contract's"
    );
    assert_eq!(r["breached_tickets"].as_array().map(Vec::len), Some(745));
    assert_eq!(r["breached_total"], 745, "under the cap, every breach is listed");
}

async fn imports_racing_into_a_new_year_all_land_numbered_once(app: TestApp) {
    // The year's first numbers: on PostgreSQL each import makes the year's
    // sequence if it is missing, and those that meet there must not fail.
    let item = app.item_id(1).await;
    app.clock.set(sh("2027-01-05 10:00"));
    let admin = caller(&app, &app.admin_token).await;
    let imports = (0..8i64).map(|i| {
        let (state, admin, item) = (app.state.clone(), admin.clone(), item.clone());
        tokio::spawn(async move {
            import(&state, &admin, vec![past(&item, sh("2027-01-02 09:00").plus_seconds(i))]).await
        })
    });
    for done in futures::future::join_all(imports).await {
        assert_eq!(done.expect("task").expect("import"), 1);
    }
    let mut numbers: Vec<String> =
        tickets(&app).await.iter().map(|t| t["number"].as_str().unwrap_or("").to_owned()).collect();
    numbers.sort();
    numbers.dedup();
    assert_eq!(numbers.len(), 8, "{numbers:?}");
    assert!(numbers.iter().all(|n| n.starts_with("INC-2027-")), "{numbers:?}");
}

/// The queue's order worked out from each ticket's clocks as the API shows
/// them: the nearest deadline of a clock not met, tickets with none last,
/// then by when filed and by id.
async fn queue_by_hand(app: &TestApp, ids: &[String], limit: usize) -> Vec<String> {
    let mut keyed = Vec::new();
    for id in ids {
        let t = app.ticket(&app.admin_token, id).await;
        let unmet = t["clocks"].as_array().expect("clocks").iter().filter(|c| c["met_at"].is_null());
        let nearest =
            unmet.filter_map(|c| c["deadline"].as_str()).map(|d| crate::helpers::instant(&Value::from(d)));
        let key = nearest.min().map_or(i64::MAX, |d| d.unix());
        let created = crate::helpers::instant(&t["created_at"]).unix();
        keyed.push((key, created, id.clone()));
    }
    keyed.sort();
    keyed.into_iter().take(limit).map(|(.., id)| id).collect()
}

async fn the_queue_past_a_page_is_the_nearest_deadline_first(app: TestApp) {
    // 150 open tickets on three items (7x24, 5x8 and another window), many
    // reported at the same instants, so that deadlines tie across a page's edge.
    let items = [app.item_id(1).await, app.item_id(14).await, app.item_id(2).await];
    let admin = caller(&app, &app.admin_token).await;
    let batch: Vec<PastTicket> = (0..150i64)
        .map(|i| {
            past(
                &items[(i % 3) as usize],
                Timestamp::from_unix(sh("2026-06-01 09:00").unix() - (i % 7) * 1800),
            )
        })
        .collect();
    import(&app.state, &admin, batch).await.expect("imported");
    let all = app.call(Method::GET, "/v1/tickets?limit=200", &app.admin_token, None, StatusCode::OK).await;
    let ids: Vec<String> = all["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(ids.len(), 150);
    for (limit, item) in [(100u64, None), (20, None), (30, Some(1usize)), (60, Some(2))] {
        let mut query = api::service::tickets::ListQuery { limit, ..Default::default() };
        let mut wanted = ids.clone();
        if let Some(i) = item {
            query.line_items = vec![items[i].parse().expect("uuid")];
            let mut on_item = Vec::new();
            for id in &wanted {
                if app.ticket(&app.admin_token, id).await["line_item_id"] == items[i] {
                    on_item.push(id.clone());
                }
            }
            wanted = on_item;
        }
        let got: Vec<String> = api::service::tickets::queue(&app.state, &admin, query)
            .await
            .expect("the queue")
            .iter()
            .map(|t| t.ticket.id.to_string())
            .collect();
        let by_hand = queue_by_hand(&app, &wanted, usize::try_from(limit).expect("small")).await;
        assert_eq!(got, by_hand, "limit {limit}, item {item:?}");
    }
}
