//! Every page of the web console, asked for by every kind of caller
//! (anonymous, each role, own and foreign agency), against the policy
//! written down here, as `access.rs` does for the API: out of scope or
//! not for the role is 404, never 403; signed out is the sign-in page.

use reqwest::StatusCode;

use crate::helpers::{TestApp, USER_PASSWORD};
use crate::web::{Browser, account, file};

/// Who asks.
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

/// How an answer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Seen {
    /// The page, or a redirect on to another page.
    Shown,
    /// Sent to sign in.
    SignIn,
    /// 404.
    Hidden,
    /// The form again, with the service's refusal (422).
    Refused,
}

fn seen(status: StatusCode, location: Option<&str>) -> Seen {
    match (status, location) {
        (StatusCode::SEE_OTHER, Some(l)) if l.starts_with("/login") => Seen::SignIn,
        (StatusCode::NOT_FOUND, _) => Seen::Hidden,
        (StatusCode::UNPROCESSABLE_ENTITY, _) => Seen::Refused,
        (s, _) if s.is_success() || s.is_redirection() => Seen::Shown,
        (s, _) => panic!("unexpected {s}"),
    }
}

/// The pages, by a name of their own.
const PAGES: [&str; 22] = [
    "GET /",
    "GET /login",
    "GET /account",
    "GET /tickets",
    "GET /tickets/new",
    "GET /tickets/{id}",
    "GET /queue",
    "GET /inspections",
    "GET /inspections/{task}",
    "POST /inspections/{task}",
    "GET /dashboard",
    "GET /dashboard/report.xlsx",
    "GET /dashboard/report.csv",
    "GET /admin/users",
    "GET /admin/outbox",
    "POST /admin/users",
    "POST /admin/users/{account}",
    "POST /admin/outbox/{letter}",
    "POST /tickets/new",
    "POST /tickets/{id}",
    "POST /account",
    "POST /logout",
];

/// The policy.
fn policy(page: &str, kind: Kind) -> Seen {
    use Seen::*;
    let own =
        matches!(kind, Kind::AgencyOwn | Kind::Engineer | Kind::ManagerOwn | Kind::ManagerWide | Kind::Admin);
    match (page, kind) {
        ("GET /login", _) => Shown,
        // Signed out, and so on to the sign-in page.
        ("POST /logout", _) => SignIn,
        (_, Kind::Anonymous) => SignIn,
        ("GET /tickets/{id}" | "POST /tickets/{id}", _) => {
            if own {
                Shown
            } else {
                Hidden
            }
        }
        // Inspections: for those who do them and managers (in scope); the
        // probe records a check without a name, refused beside the field.
        ("GET /inspections", Kind::AgencyOwn | Kind::AgencyForeign) => Hidden,
        ("GET /inspections/{task}", Kind::Engineer | Kind::ManagerOwn | Kind::ManagerWide | Kind::Admin) => {
            Shown
        }
        ("POST /inspections/{task}", Kind::Engineer | Kind::Admin) => Refused,
        ("GET /inspections/{task}" | "POST /inspections/{task}", _) => Hidden,
        ("GET /queue", Kind::Engineer | Kind::Admin) => Shown,
        ("GET /queue", _) => Hidden,
        // Reports are for managers, engineers and admins, each within their scope.
        (
            "GET /dashboard" | "GET /dashboard/report.xlsx" | "GET /dashboard/report.csv",
            Kind::AgencyOwn | Kind::AgencyForeign,
        ) => Hidden,
        // Accounts and mail are the admins' alone. An admin's probes: a new
        // account without a username (refused beside the field), and a
        // letter that does not exist (404).
        ("POST /admin/users", Kind::Admin) => Refused,
        ("POST /admin/outbox/{letter}", Kind::Admin) => Hidden,
        // A new one-time password for the clerk: shown on the page.
        ("GET /admin/users" | "GET /admin/outbox" | "POST /admin/users/{account}", Kind::Admin) => Shown,
        (p, _) if p.contains(" /admin/") => Hidden,
        // Filing on the own agency's item 1: another agency has no such item.
        ("POST /tickets/new", Kind::AgencyForeign | Kind::ManagerForeign) => Refused,
        // A wrong current password.
        ("POST /account", _) => Refused,
        _ => Shown,
    }
}

async fn browser_for<'a>(app: &'a TestApp, kind: Kind) -> Browser<'a> {
    let (role, agency) = match kind {
        Kind::Anonymous => return Browser::new(app),
        Kind::AgencyOwn => ("agency_user", Some("education-bureau")),
        Kind::AgencyForeign => ("agency_user", Some("urban-management-bureau")),
        Kind::Engineer => ("engineer", None),
        Kind::ManagerOwn => ("manager", Some("education-bureau")),
        Kind::ManagerForeign => ("manager", Some("urban-management-bureau")),
        Kind::ManagerWide => ("manager", None),
        Kind::Admin => ("admin", None),
    };
    let username = account(app, role, agency).await;
    let mut b = Browser::new(app);
    b.sign_in(&username, USER_PASSWORD, "/").await;
    b
}

/// The ids a probe's path names.
struct Ids<'a> {
    ticket: &'a str,
    item: &'a str,
    account: &'a str,
    task: &'a str,
}

async fn ask(b: &mut Browser<'_>, page: &str, ids: &Ids<'_>) -> Seen {
    let Ids { ticket, item, account, task } = *ids;
    let csrf = match b.get("/account").await {
        p if p.status == StatusCode::OK => p.csrf(),
        _ => "none".to_owned(),
    };
    let (method, path) = page.split_once(' ').expect("method and path");
    let path = path
        .replace("{id}", ticket)
        .replace("{letter}", "00000000-0000-4000-8000-000000000000")
        .replace("{account}", account)
        .replace("{task}", task);
    let answer = match (method, path.as_str()) {
        ("GET", p) => b.get(p).await,
        ("POST", "/tickets/new") => {
            b.post(
                &path,
                &[("line_item_id", item), ("severity", "general"), ("title", "探测"), ("csrf", &csrf)],
            )
            .await
        }
        ("POST", "/account") => {
            b.post(
                &path,
                &[("current_password", "not it"), ("new_password", "a new long password 1"), ("csrf", &csrf)],
            )
            .await
        }
        ("POST", "/logout") => b.post(&path, &[("csrf", &csrf)]).await,
        ("POST", "/admin/users") => {
            b.post(&path, &[("username", ""), ("role", "engineer"), ("csrf", &csrf)]).await
        }
        ("POST", p) if p.starts_with("/admin/outbox/") => b.post(p, &[("csrf", &csrf)]).await,
        ("POST", p) if p.starts_with("/inspections/") => {
            let form =
                [("action", "complete"), ("check_name_0", ""), ("check_result_0", "pass"), ("csrf", &csrf)];
            b.post(p, &form).await
        }
        ("POST", p) if p.starts_with("/admin/users/") => {
            b.post(p, &[("action", "reset"), ("csrf", &csrf)]).await
        }
        ("POST", p) => b.post(p, &[("action", "comment"), ("body", "探测"), ("csrf", &csrf)]).await,
        _ => unreachable!("{page}"),
    };
    seen(answer.status, answer.location.as_deref())
}

async fn every_page_answers_every_caller_as_the_policy_says(app: TestApp) {
    let item = app.item_id(1).await;
    let (mut clerk, clerk_name) = crate::web::signed_in(&app, "agency_user", Some("education-bureau")).await;
    let account = crate::web::user_id(&app, &clerk_name).await;
    let ticket = file(&mut clerk, &item, "权限探测").await;
    let ticket = ticket.trim_start_matches("/tickets/").to_owned();
    let tasks = format!("/v1/inspections?line_item_id={item}&limit=1");
    let tasks = app.call(reqwest::Method::GET, &tasks, &app.admin_token.clone(), None, StatusCode::OK).await;
    let task = tasks[0]["id"].as_str().expect("an inspection of item 1").to_owned();
    let ids = Ids { ticket: &ticket, item: &item, account: &account, task: &task };
    let mut wrong = Vec::new();
    for kind in KINDS {
        for page in PAGES {
            // A fresh browser per probe: signing out or a refused password ends nothing else.
            let mut b = browser_for(&app, kind).await;
            let got = ask(&mut b, page, &ids).await;
            let want = policy(page, kind);
            if got != want {
                wrong.push(format!("{page} as {kind:?}: {got:?}, the policy says {want:?}"));
            }
        }
    }
    assert!(wrong.is_empty(), "pages off their policy:\n{}", wrong.join("\n"));
}

crate::both_backends!(every_page_answers_every_caller_as_the_policy_says);
