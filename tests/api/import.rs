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
    only_an_admin_imports_and_steps_keep_their_order
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
    assert!(matches!(&refused, Err(api::service::Error::Invalid(i)) if i.field == Some("closed_at")), "{refused:?}");
    assert!(tickets(&app).await.is_empty(), "a refused import writes nothing");
}
