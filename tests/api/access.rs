//! Every operation of the checked-in OpenAPI spec, called by every kind of
//! caller (anonymous, each role, own and foreign agency), against the access
//! policy written down here: an operation the spec has and the policy does
//! not fails the test, so a new route cannot ship unguarded.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, USER_PASSWORD};

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Anonymous,
    AgencyOwn,
    AgencyForeign,
    Engineer,
    ManagerOwn,
    ManagerForeign,
    ManagerWide,
    Admin,
}

const KINDS: [Kind; 8] = [
    Kind::Anonymous,
    Kind::AgencyOwn,
    Kind::AgencyForeign,
    Kind::Engineer,
    Kind::ManagerOwn,
    Kind::ManagerForeign,
    Kind::ManagerWide,
    Kind::Admin,
];

/// How an answer reads, as far as access goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Access {
    /// Past every guard (2xx, or a 409/422 about the request itself).
    Allowed,
    /// 401.
    Unauthenticated,
    /// 403.
    Forbidden,
    /// 404: out of scope reads as missing.
    Hidden,
}

fn access(status: StatusCode) -> Access {
    match status {
        StatusCode::UNAUTHORIZED => Access::Unauthenticated,
        StatusCode::FORBIDDEN => Access::Forbidden,
        StatusCode::NOT_FOUND => Access::Hidden,
        _ => Access::Allowed,
    }
}

impl Kind {
    fn signed_in(self) -> bool {
        self != Kind::Anonymous
    }
    /// Sees the own agency's records.
    fn in_scope(self) -> bool {
        matches!(self, Kind::AgencyOwn | Kind::Engineer | Kind::ManagerOwn | Kind::ManagerWide | Kind::Admin)
    }
    fn works(self) -> bool {
        matches!(self, Kind::Engineer | Kind::Admin)
    }
}

/// The policy: what `kind` gets from `operation` (with `probe` naming the variant).
fn policy(operation: &str, probe: &str, kind: Kind) -> Option<Access> {
    use Access::*;
    let signed_in = if kind.signed_in() { Allowed } else { Unauthenticated };
    let scoped = match (kind.signed_in(), kind.in_scope()) {
        (false, _) => Unauthenticated,
        (true, true) => Allowed,
        (true, false) => Hidden,
    };
    let admin = match kind {
        Kind::Anonymous => Unauthenticated,
        Kind::Admin => Allowed,
        _ => Forbidden,
    };
    Some(match operation {
        "healthz" | "readyz" | "issue_token" => Allowed,
        "list_agencies" | "list_line_items" | "list_tickets" | "list_inspections" | "change_password"
        | "revoke_token" | "list_calendars" => signed_in,
        "get_line_item" | "file_ticket" | "get_ticket" | "list_ticket_events" => scoped,
        "act_on_ticket" if probe == "comment" => scoped,
        "act_on_ticket" | "complete_inspection" if probe != "comment" => {
            if scoped != Allowed || kind.works() { scoped } else { Forbidden }
        }
        "sla_report" => match kind {
            Kind::Anonymous => Unauthenticated,
            Kind::AgencyOwn | Kind::AgencyForeign => Forbidden,
            _ => Allowed,
        },
        // Managers approve late records in their scope; everyone else in scope is refused.
        "approve_inspection" => {
            if scoped != Allowed || matches!(kind, Kind::ManagerOwn | Kind::ManagerWide) {
                scoped
            } else {
                Forbidden
            }
        }
        "list_users" | "create_user" | "update_user" | "reset_password" | "list_outbox"
        | "put_holiday_year" => admin,
        // The probe names no real message: an admin passes the guard and is told so.
        "retry_outbox_message" if kind == Kind::Admin => Hidden,
        "retry_outbox_message" => admin,
        _ => return None,
    })
}

/// One request of an operation: its path filled in, and a body.
struct Probe {
    name: &'static str,
    path: String,
    body: Option<Value>,
}

struct Fixture {
    item: String,
    inspection: String,
    user_id: String,
}

/// Stands in a probe's path for a ticket filed just before it is sent.
const TICKET: &str = "{ticket}";

fn probes(operation: &str, f: &Fixture, n: usize) -> Vec<Probe> {
    let one = |path: String, body: Option<Value>| vec![Probe { name: "", path, body }];
    let item = &f.item;
    match operation {
        "healthz" => one("/healthz".into(), None),
        "readyz" => one("/readyz".into(), None),
        "issue_token" => {
            one("/v1/auth/token".into(), Some(json!({"username": "access-probe", "password": USER_PASSWORD})))
        }
        "revoke_token" => one("/v1/auth/token".into(), None),
        // A wrong current password: past the guards, refused as invalid, nothing revoked.
        "change_password" => one(
            "/v1/auth/password".into(),
            Some(json!({"current_password": "not my password", "new_password": "a brand new password"})),
        ),
        "list_agencies" => one("/v1/agencies".into(), None),
        "list_line_items" => one("/v1/line-items".into(), None),
        "get_line_item" => one(format!("/v1/line-items/{item}"), None),
        "list_tickets" => one("/v1/tickets".into(), None),
        "file_ticket" => {
            one("/v1/tickets".into(), Some(json!({"line_item_id": item, "title": "access probe"})))
        }
        "get_ticket" => one(format!("/v1/tickets/{TICKET}"), None),
        "list_ticket_events" => one(format!("/v1/tickets/{TICKET}/events"), None),
        "act_on_ticket" => ["comment", "acknowledge"]
            .into_iter()
            .map(|action| Probe {
                name: action,
                path: format!("/v1/tickets/{TICKET}/{action}"),
                body: Some(json!({"body": "probe"})),
            })
            .collect(),
        "list_inspections" => one("/v1/inspections".into(), None),
        "complete_inspection" => one(format!("/v1/inspections/{}/complete", f.inspection), Some(json!({}))),
        // Not recorded late: past the guards, a manager is told so (409).
        "approve_inspection" => one(format!("/v1/inspections/{}/approve", f.inspection), None),
        "sla_report" => one("/v1/reports/sla?month=2026-05".into(), None),
        "list_users" => one("/v1/users".into(), None),
        "create_user" => one(
            "/v1/users".into(),
            Some(json!({"username": format!("probe-{n}"), "role": "engineer", "password": USER_PASSWORD})),
        ),
        "update_user" => one(format!("/v1/users/{}", f.user_id), Some(json!({"email": "probe@example.org"}))),
        "reset_password" => one(format!("/v1/users/{}/reset-password", f.user_id), None),
        "list_outbox" => one("/v1/admin/outbox".into(), None),
        "list_calendars" => one("/v1/calendars".into(), None),
        // A JSON body: an admin passes the guard and is told to send TOML (415).
        "put_holiday_year" => one("/v1/calendars/holidays/cn/2027".into(), Some(json!({}))),
        // No message has this id: an admin is told so (404), anyone else is stopped before.
        "retry_outbox_message" => one(format!("/v1/admin/outbox/{}/retry", uuid::Uuid::nil()), None),
        _ => Vec::new(),
    }
}

pub async fn walk_the_spec(app: &TestApp) {
    let spec: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi/openapi.json"))
            .expect("openapi/openapi.json"),
    )
    .expect("spec JSON");
    let mut operations = Vec::new();
    for (path, methods) in spec["paths"].as_object().expect("paths") {
        for (method, op) in methods.as_object().expect("methods") {
            let id = op["operationId"].as_str().expect("operationId").to_owned();
            operations.push((method.to_uppercase(), path.clone(), id));
        }
    }
    let unguarded: BTreeSet<&str> = operations
        .iter()
        .filter(|(_, _, id)| policy(id, "", Kind::Admin).is_none())
        .map(|(_, _, id)| id.as_str())
        .collect();
    assert!(unguarded.is_empty(), "operations with no access policy in this test: {unguarded:?}");
    // The session's token is revoked last.
    operations.sort_by_key(|(_, _, id)| id == "revoke_token");

    let own = "education-bureau";
    let foreign = "justice-bureau";
    let item = app.item_id(1).await;
    let (user_id, _) = app.user("engineer", None).await;
    app.call(
        Method::POST,
        "/v1/users",
        &app.admin_token,
        Some(&json!({"username": "access-probe", "role": "engineer", "password": USER_PASSWORD})),
        StatusCode::CREATED,
    )
    .await;
    let inspections = app
        .call(
            Method::GET,
            &format!("/v1/inspections?line_item_id={item}&limit=1"),
            &app.admin_token,
            None,
            StatusCode::OK,
        )
        .await;
    let inspection = inspections[0]["id"].as_str().expect("an inspection of item 1").to_owned();
    let (_, engineer) = app.user("engineer", None).await;
    let fixture = Fixture { item: item.clone(), inspection, user_id };

    let mut checked = 0;
    for kind in KINDS {
        let token = match kind {
            Kind::Anonymous => None,
            Kind::AgencyOwn => Some(app.user("agency_user", Some(own)).await.1),
            Kind::AgencyForeign => Some(app.user("agency_user", Some(foreign)).await.1),
            Kind::Engineer => Some(app.user("engineer", None).await.1),
            Kind::ManagerOwn => Some(app.user("manager", Some(own)).await.1),
            Kind::ManagerForeign => Some(app.user("manager", Some(foreign)).await.1),
            Kind::ManagerWide => Some(app.user("manager", None).await.1),
            Kind::Admin => Some(app.token("admin", crate::helpers::ADMIN_PASSWORD).await),
        };
        for (n, (method, _, id)) in operations.iter().enumerate() {
            let mut list = probes(id, &fixture, n * 10 + kind as usize);
            for probe in &mut list {
                // A fresh ticket of the own agency per probe: an action must
                // not be refused for the state an earlier probe left.
                if probe.path.contains(TICKET) {
                    let t = app.file(&engineer, json!({"line_item_id": item, "title": "access"})).await;
                    probe.path = probe.path.replace(TICKET, t["id"].as_str().expect("id"));
                }
            }
            assert!(!list.is_empty(), "{id}: no probe written");
            for probe in list {
                let method = Method::from_bytes(method.as_bytes()).expect("method");
                let r = app.send(method.clone(), &probe.path, token.as_deref(), probe.body.as_ref()).await;
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                assert!(!status.is_server_error(), "{kind:?} {method} {}: {status} {text}", probe.path);
                let expected = policy(id, probe.name, kind).expect("policy");
                assert_eq!(
                    access(status),
                    expected,
                    "{kind:?} {method} {} ({id} {}): answered {status} {text}",
                    probe.path,
                    probe.name
                );
                checked += 1;
            }
        }
    }
    eprintln!(
        "access: {} operations × {} callers, {checked} requests checked",
        operations.len(),
        KINDS.len()
    );
}

crate::both_backends!(every_operation_in_the_spec_is_guarded);

async fn every_operation_in_the_spec_is_guarded(app: TestApp) {
    walk_the_spec(&app).await;
}
