//! The web console over HTTP, as a browser without JavaScript uses it:
//! cookies kept by hand, redirects looked at rather than followed. Signing
//! in, the way back from an email's link, filing, acting, CSRF, scope,
//! session expiry and revocation, on both engines. The same flows in a
//! real browser are in `browser.rs`; every page × every caller in `web_access.rs`.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, USER_PASSWORD, sh};

/// A browser: its cookies and the app it talks to.
pub struct Browser<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
    cookies: Vec<(String, String)>,
}

/// An answer: status, where it redirects, its body.
#[derive(Debug)]
pub struct Page {
    pub status: StatusCode,
    pub location: Option<String>,
    pub set_cookies: Vec<String>,
    pub body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF field");
        let rest = &self.body[at + "name=\"csrf\" value=\"".len()..];
        rest[..rest.find('"').expect("closing quote")].to_owned()
    }
}

impl<'a> Browser<'a> {
    pub fn new(app: &'a TestApp) -> Self {
        let client =
            reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
        Self { app, client, cookies: Vec::new() }
    }

    fn cookie_header(&self) -> String {
        self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        self.send_with(method, path, form, &[]).await
    }

    async fn send_with(
        &mut self,
        method: Method,
        path: &str,
        form: Option<&[(&str, &str)]>,
        headers: &[(&str, &str)],
    ) -> Page {
        let mut req = self.client.request(method, self.app.url(path));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if !self.cookies.is_empty() {
            req = req.header("cookie", self.cookie_header());
        }
        if let Some(f) = form {
            let body: String =
                f.iter().map(|(k, v)| format!("{k}={}", urlencode(v))).collect::<Vec<_>>().join("&");
            req = req.header("content-type", "application/x-www-form-urlencoded").body(body);
        }
        let r = req.send().await.expect("request sent");
        let status = r.status();
        let location = r.headers().get("location").map(|v| v.to_str().expect("text").to_owned());
        let set_cookies: Vec<String> =
            r.headers().get_all("set-cookie").iter().map(|v| v.to_str().expect("text").to_owned()).collect();
        for c in &set_cookies {
            let pair = c.split(';').next().expect("pair");
            let (k, v) = pair.split_once('=').expect("name=value");
            self.cookies.retain(|(name, _)| name != k);
            if !v.is_empty() && !c.contains("Max-Age=0") {
                self.cookies.push((k.to_owned(), v.to_owned()));
            }
        }
        Page { status, location, set_cookies, body: r.text().await.expect("body") }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    /// A GET as htmx sends it (`HX-Request: true`).
    pub async fn get_partial(&mut self, path: &str) -> Page {
        self.send_with(Method::GET, path, None, &[("hx-request", "true")]).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    /// Sign in through `/login?next=…`; the answer to the form.
    pub async fn sign_in(&mut self, username: &str, password: &str, next: &str) -> Page {
        let form = self.get(&format!("/login?next={}", urlencode(next))).await;
        assert_eq!(form.status, StatusCode::OK, "the sign-in page");
        let csrf = form.csrf();
        self.post(
            "/login",
            &[("username", username), ("password", password), ("csrf", &csrf), ("next", next)],
        )
        .await
    }
}

/// Percent-encode a form value.
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// An account with a known name; its username.
pub async fn account(app: &TestApp, role: &str, agency: Option<&str>) -> String {
    let username = format!("{role}-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
    let mut body = json!({"username": username, "role": role, "password": USER_PASSWORD});
    if let Some(a) = agency {
        body["agency"] = json!(a);
    }
    app.call(Method::POST, "/v1/users", &app.admin_token.clone(), Some(&body), StatusCode::CREATED).await;
    username
}

/// A signed-in browser of a new account.
pub async fn signed_in<'a>(app: &'a TestApp, role: &str, agency: Option<&str>) -> (Browser<'a>, String) {
    let username = account(app, role, agency).await;
    let mut b = Browser::new(app);
    let page = b.sign_in(&username, USER_PASSWORD, "/").await;
    assert_eq!(page.status, StatusCode::SEE_OTHER, "signed in: {}", page.body);
    (b, username)
}

/// File a fault on line item 1 from the form; the ticket's path.
pub async fn file(b: &mut Browser<'_>, item: &str, title: &str) -> String {
    let form = b.get("/tickets/new").await;
    assert_eq!(form.status, StatusCode::OK);
    assert!(form.body.contains(item), "the form offers the viewer's own item");
    let csrf = form.csrf();
    let filed = b
        .post(
            "/tickets/new",
            &[
                ("line_item_id", item),
                ("severity", "major"),
                ("title", title),
                ("description", "所有用户无法登录"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(filed.status, StatusCode::SEE_OTHER, "{}", filed.body);
    filed.location.expect("to the ticket")
}

/// Press an action button on a ticket's page.
pub async fn act(b: &mut Browser<'_>, path: &str, action: &str, body: &str) -> Page {
    let page = b.get(path).await;
    assert!(page.body.contains(&format!("value=\"{action}\"")), "{action} is offered on {path}");
    let csrf = page.csrf();
    b.post(path, &[("action", action), ("body", body), ("csrf", &csrf)]).await
}

async fn a_link_from_an_email_opens_the_sign_in_then_the_ticket(app: TestApp) {
    let item = app.item_id(1).await;
    let (mut clerk, _) = signed_in(&app, "agency_user", Some("education-bureau")).await;
    let path = file(&mut clerk, &item, "平台无法登录").await;
    let username = account(&app, "engineer", None).await;
    let mut engineer = Browser::new(&app);
    let away = engineer.get(&path).await;
    assert_eq!(away.status, StatusCode::SEE_OTHER);
    let to_login = away.location.expect("to the sign-in");
    assert_eq!(to_login, format!("/login?next={path}"));
    let form = engineer.get(&to_login).await;
    assert!(form.body.contains(&format!("name=\"next\" value=\"{path}\"")), "the page asked for is kept");
    let csrf = form.csrf();
    let signed = engineer
        .post(
            "/login",
            &[("username", &username), ("password", USER_PASSWORD), ("csrf", &csrf), ("next", &path)],
        )
        .await;
    assert_eq!(signed.location.as_deref(), Some(path.as_str()));
    let cookie =
        signed.set_cookies.iter().find(|c| c.starts_with("itsm_session=")).expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"), "{cookie}");
    assert!(!cookie.contains("Secure"), "plain http: no Secure flag ({cookie})");
    let ticket = engineer.get(&path).await;
    assert_eq!(ticket.status, StatusCode::OK);
    assert!(ticket.body.contains("INC-2026-"), "the ticket's number");
}

async fn a_clerk_files_and_sees_the_number_and_deadlines(app: TestApp) {
    let item = app.item_id(1).await;
    let (mut clerk, _) = signed_in(&app, "agency_user", Some("education-bureau")).await;
    let path = file(&mut clerk, &item, "平台无法登录").await;
    let page = clerk.get(&path).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("INC-2026-000001"), "the number");
    // Filed Monday 2026-06-01 10:00; item 1 is 7×24: respond in 0.5 h, on site in 1 h, recover in 6 h.
    for (metric, deadline) in [
        ("响应", "2026-06-01 10:30 (+08:00)"),
        ("到场", "2026-06-01 11:00 (+08:00)"),
        ("恢复", "2026-06-01 16:00 (+08:00)"),
    ] {
        assert!(page.body.contains(metric), "the {metric} clock");
        assert!(page.body.contains(deadline), "{metric}'s deadline {deadline} in local time");
    }
    assert!(page.body.contains("30 分钟"), "the time left");
    let list = clerk.get("/tickets").await;
    assert!(list.body.contains("INC-2026-000001") && list.body.contains("待响应"), "listed with its state");
    let found = clerk.get("/tickets?q=000001").await;
    assert!(found.body.contains("INC-2026-000001"), "found by its number");
    let none = clerk.get("/tickets?q=nothing-like-it").await;
    assert!(!none.body.contains("INC-2026-000001"), "a search that matches nothing");
}

async fn problems_show_beside_the_field_in_chinese(app: TestApp) {
    let item = app.item_id(1).await;
    let (mut clerk, _) = signed_in(&app, "agency_user", Some("education-bureau")).await;
    let form = clerk.get("/tickets/new").await;
    let csrf = form.csrf();
    let refused = clerk
        .post(
            "/tickets/new",
            &[
                ("line_item_id", &item),
                ("severity", "general"),
                ("title", &"长".repeat(201)),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("id=\"title-error\""), "beside the title: {}", refused.body);
    let wrong = Browser::new(&app).sign_in("nobody-at-all", "not the password", "/").await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert!(wrong.body.contains("用户名或密码不正确"), "{}", wrong.body);
}

async fn a_form_without_its_csrf_token_is_refused_and_changes_nothing(app: TestApp) {
    let item = app.item_id(1).await;
    let (mut clerk, _) = signed_in(&app, "agency_user", Some("education-bureau")).await;
    let path = file(&mut clerk, &item, "平台无法登录").await;
    let (mut engineer, _) = signed_in(&app, "engineer", None).await;
    let bare = engineer.post(&path, &[("action", "acknowledge")]).await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN);
    let forged = engineer.post(&path, &[("action", "acknowledge"), ("csrf", "made-up")]).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    let id = path.trim_start_matches("/tickets/");
    let ticket = app.ticket(&app.admin_token, id).await;
    assert_eq!(ticket["state"], "open", "nothing was done");
    assert_eq!(ticket["version"], 1);
    let filed = engineer.post("/tickets/new", &[("line_item_id", &item), ("title", "x")]).await;
    assert_eq!(filed.status, StatusCode::FORBIDDEN);
    let list = app.call(Method::GET, "/v1/tickets", &app.admin_token.clone(), None, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1), "no ticket was filed");
    let logout = engineer.post("/logout", &[]).await;
    assert_eq!(logout.status, StatusCode::FORBIDDEN, "signing out needs the token too");
}

async fn an_engineer_works_the_ticket_and_the_clerk_closes_it(app: TestApp) {
    let item = app.item_id(1).await;
    let (mut clerk, _) = signed_in(&app, "agency_user", Some("education-bureau")).await;
    let path = file(&mut clerk, &item, "平台无法登录").await;
    let (mut engineer, _) = signed_in(&app, "engineer", None).await;
    let queue = engineer.get("/queue").await;
    assert!(queue.body.contains("INC-2026-000001"), "in the queue");
    // htmx refreshes the rows every 30 s with the page's filters, and gets the rows alone.
    assert!(queue.body.contains(
        "<div id=\"queue\" data-hx-get=\"/queue?whose=&#38;item=&#38;agency=\" data-hx-trigger=\"every 30s\""
    ));
    let filtered = engineer.get(&format!("/queue?whose=unassigned&item={item}")).await;
    assert!(
        filtered
            .body
            .contains(&format!("data-hx-get=\"/queue?whose=unassigned&#38;item={item}&#38;agency=\""))
    );
    let rows = engineer.get_partial("/queue?whose=unassigned").await;
    assert_eq!(rows.status, StatusCode::OK);
    assert!(
        rows.body.trim_start().starts_with("<ul class=\"tickets\">") && rows.body.contains(&path),
        "{}",
        rows.body
    );
    assert!(!rows.body.contains("<html"), "the rows alone");
    app.clock.advance(600);
    for action in ["acknowledge", "arrive"] {
        let done = act(&mut engineer, &path, action, "").await;
        assert_eq!(done.status, StatusCode::SEE_OTHER, "{action}: {}", done.body);
    }
    let early_close = act(&mut engineer, &path, "comment", "").await;
    assert_eq!(early_close.status, StatusCode::UNPROCESSABLE_ENTITY, "a comment needs a body");
    assert!(early_close.body.contains("评论内容不能为空"), "{}", early_close.body);
    let resolved = act(&mut engineer, &path, "resolve", "重启认证服务后恢复").await;
    assert_eq!(resolved.status, StatusCode::SEE_OTHER);
    let page = clerk.get(&path).await;
    assert!(page.body.contains("重启认证服务后恢复"), "the resolution on the trail");
    assert!(!page.body.contains("value=\"acknowledge\""), "a clerk is offered no engineer's action");
    let closed = act(&mut clerk, &path, "close", "").await;
    assert_eq!(closed.status, StatusCode::SEE_OTHER);
    let id = path.trim_start_matches("/tickets/");
    assert_eq!(app.ticket(&app.admin_token, id).await["state"], "closed");
    let queue = engineer.get("/queue").await;
    assert!(!queue.body.contains("INC-2026-000001"), "closed tickets leave the queue");
}

async fn another_agencys_clerk_and_the_queue_answer_404(app: TestApp) {
    let item = app.item_id(1).await;
    let (mut clerk, _) = signed_in(&app, "agency_user", Some("education-bureau")).await;
    let path = file(&mut clerk, &item, "平台无法登录").await;
    let (mut other, _) = signed_in(&app, "agency_user", Some("urban-management-bureau")).await;
    assert_eq!(other.get(&path).await.status, StatusCode::NOT_FOUND);
    let csrf = other.get("/tickets").await.csrf();
    let act = other.post(&path, &[("action", "comment"), ("body", "x"), ("csrf", &csrf)]).await;
    assert_eq!(act.status, StatusCode::NOT_FOUND);
    assert_eq!(other.get("/queue").await.status, StatusCode::NOT_FOUND, "the queue is for engineers");
    assert!(!other.get("/tickets").await.body.contains("INC-2026-000001"), "not in their list");
}

async fn sessions_end_when_idle_after_twelve_hours_and_when_deactivated(app: TestApp) {
    let (mut idle, _) = signed_in(&app, "engineer", None).await;
    app.clock.advance(29 * 60);
    assert_eq!(idle.get("/queue").await.status, StatusCode::OK, "29 minutes idle");
    app.clock.advance(29 * 60);
    assert_eq!(idle.get("/queue").await.status, StatusCode::OK, "used again: the idle time restarts");
    app.clock.advance(31 * 60);
    assert_eq!(idle.get("/queue").await.status, StatusCode::SEE_OTHER, "31 minutes idle: over");

    let (mut busy, _) = signed_in(&app, "engineer", None).await;
    for _ in 0..(12 * 60 / 20 - 1) {
        app.clock.advance(20 * 60);
        assert_eq!(busy.get("/queue").await.status, StatusCode::OK);
    }
    app.clock.advance(20 * 60);
    assert_eq!(busy.get("/queue").await.status, StatusCode::SEE_OTHER, "12 hours after the sign-in: over");

    let username = account(&app, "engineer", None).await;
    let mut gone = Browser::new(&app);
    gone.sign_in(&username, USER_PASSWORD, "/").await;
    assert_eq!(gone.get("/queue").await.status, StatusCode::OK);
    let users = app.call(Method::GET, "/v1/users", &app.admin_token.clone(), None, StatusCode::OK).await;
    let id = users.as_array().and_then(|u| u.iter().find(|u| u["username"] == username.as_str()));
    let id = id.and_then(|u| u["id"].as_str()).expect("the account").to_owned();
    let path = format!("/v1/users/{id}");
    app.call(Method::PATCH, &path, &app.admin_token.clone(), Some(&json!({"active": false})), StatusCode::OK)
        .await;
    assert_eq!(gone.get("/queue").await.status, StatusCode::SEE_OTHER, "deactivated: signed out at once");
}

async fn signing_out_ends_the_session(app: TestApp) {
    let (mut b, _) = signed_in(&app, "engineer", None).await;
    let csrf = b.get("/queue").await.csrf();
    let cookie = b.cookie_header();
    let out = b.post("/logout", &[("csrf", &csrf)]).await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    // The old cookie, replayed, opens nothing.
    let replay =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let r = replay.get(app.url("/queue")).header("cookie", cookie).send().await.expect("sent");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

async fn pages_have_a_strict_policy_and_assets_a_long_cache(app: TestApp) {
    let page = app.client.get(app.url("/login")).send().await.expect("sent");
    let csp = page.headers()["content-security-policy"].to_str().expect("text").to_owned();
    assert!(csp.contains("script-src 'self'") && csp.contains("style-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe"), "{csp}");
    let body = page.text().await.expect("body");
    assert!(!body.contains("<script>") && !body.contains("style=\""), "no inline script or style");
    assert!(body.contains("\"includeIndicatorCSS\": false"), "htmx injects no style");
    let css =
        body.split("href=\"").nth(1).and_then(|r| r.split('"').next()).expect("the style sheet").to_owned();
    assert!(css.starts_with("/assets/app-") && css.ends_with(".css"), "{css}");
    let asset = app.client.get(app.url(&css)).send().await.expect("sent");
    assert_eq!(asset.status(), StatusCode::OK);
    assert_eq!(asset.headers()["cache-control"], "public, max-age=31536000, immutable");
    let stale = app.client.get(app.url("/assets/app-0000000000000000.css")).send().await.expect("sent");
    assert_eq!(stale.status(), StatusCode::NOT_FOUND);
    let api = app.send(Method::GET, "/v1/line-items", Some(&app.admin_token), None).await;
    assert_eq!(api.headers()["cache-control"], "no-store", "the API keeps its own headers");
    let spec: Value =
        app.client.get(app.url("/openapi.json")).send().await.expect("sent").json().await.expect("json");
    let paths = spec["paths"].as_object().expect("paths");
    let pages = [
        "/login",
        "/logout",
        "/account",
        "/tickets",
        "/tickets/new",
        "/tickets/{id}",
        "/queue",
        "/dashboard",
    ];
    assert!(paths.keys().all(|p| !pages.contains(&p.as_str())), "no page in the spec");
}

async fn secure_cookies_over_https_and_english_by_cookie(app: TestApp) {
    let app = app.another(|s| s.public_base_url = Some("https://itsm.example.org".into())).await;
    let username = account(&app, "engineer", None).await;
    let mut b = Browser::new(&app);
    let signed = b.sign_in(&username, USER_PASSWORD, "/").await;
    let cookie = signed.set_cookies.iter().find(|c| c.starts_with("itsm_session=")).expect("cookie");
    assert!(cookie.contains("; Secure"), "{cookie}");
    let zh = b.get("/queue").await;
    assert!(zh.body.contains("lang=\"zh-CN\"") && zh.body.contains("待办队列"));
    let en = b.get("/queue?lang=en").await;
    assert!(en.body.contains("lang=\"en\"") && en.body.contains("Queue"), "switched");
    assert!(en.set_cookies.iter().any(|c| c.starts_with("lang=en")), "kept in a cookie");
    let still = b.get("/tickets").await;
    assert!(still.body.contains("Tickets"), "the next page is English too");
    let _ = sh("2026-06-01 10:00");
}

async fn a_manager_sees_the_months_attainment_and_downloads_the_files(app: TestApp) {
    let item = app.item_id(1).await;
    let (mut clerk, _) = signed_in(&app, "agency_user", Some("education-bureau")).await;
    let path = file(&mut clerk, &item, "平台无法登录").await;
    let (mut engineer, _) = signed_in(&app, "engineer", None).await;
    // Acknowledged at once: the response clock is met within its half hour.
    assert_eq!(act(&mut engineer, &path, "acknowledge", "").await.status, StatusCode::SEE_OTHER);
    // 25 minutes later the on-site clock (1 h) has used over 80 % of its target: at risk.
    app.clock.set(sh("2026-06-01 10:50"));
    let (mut manager, _) = signed_in(&app, "manager", Some("education-bureau")).await;
    let page = manager.get("/dashboard").await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("SLA 看板 · 2026-06"), "this month");
    let table = &page.body[page.body.find("class=\"attainment\"").expect("the month's table")..];
    assert!(
        table.contains(
            "<th scope=\"row\">响应</th><td>1</td><td>0</td><td>0</td><td class=\"figure\">100.0%</td>"
        ),
        "{table}"
    );
    assert!(page.body.contains("<svg class=\"trend\"") && page.body.contains("<polyline"), "the trend");
    assert!(
        page.body.contains("<svg class=\"bars\"")
            && page.body.contains("class=\"bar band-ok\" x=\"0\" y=\"16\" width=\"180\""),
        "a full bar for 100 %"
    );
    let at_risk = &page.body
        [page.body.find("即将超时").expect("at risk")..page.body.find("已超时、未处理完").expect("breached")];
    assert!(at_risk.contains(&path), "the ticket is at risk: {at_risk}");
    // The month picker: May, before the ticket, has nothing; its links are May's.
    assert!(page.body.contains("<input id=\"month\" name=\"month\" type=\"month\" value=\"2026-06\""));
    let may = manager.get("/dashboard?month=2026-05").await;
    assert!(may.body.contains("SLA 看板 · 2026-05") && may.body.contains("本月还没有工单"), "{}", may.body);
    assert!(may.body.contains("/dashboard/report.xlsx?month=2026-05"));
    let xlsx = manager.get("/dashboard/report.xlsx?month=2026-06").await;
    assert_eq!(xlsx.status, StatusCode::OK);
    assert!(xlsx.body.starts_with("PK"), "a workbook is a zip");
    let csv = manager.get("/dashboard/report.csv?month=2026-06&view=contract").await;
    assert_eq!(csv.status, StatusCode::OK);
    assert!(csv.body.starts_with('\u{feff}') && csv.body.contains("响应"), "{}", csv.body);
    assert_eq!(manager.get("/dashboard/report.csv?view=nonsense").await.status, StatusCode::NOT_FOUND);
    let (mut foreign, _) = signed_in(&app, "manager", Some("urban-management-bureau")).await;
    let theirs = foreign.get("/dashboard").await;
    assert!(
        theirs.body.contains("本月还没有工单") && !theirs.body.contains(&path),
        "another agency's manager sees none of it"
    );
    // A fresh clerk: the first one's session has been idle past its 30 minutes.
    let (mut clerk, _) = signed_in(&app, "agency_user", Some("education-bureau")).await;
    assert_eq!(clerk.get("/dashboard").await.status, StatusCode::NOT_FOUND, "not for clerks");
    assert_eq!(clerk.get("/dashboard/report.xlsx").await.status, StatusCode::NOT_FOUND);
}

async fn an_admin_creates_deactivates_and_resets_accounts(app: TestApp) {
    let (mut admin, admin_name) = signed_in(&app, "admin", None).await;
    let page = admin.get("/admin/users").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains(&admin_name), "the accounts are listed");
    let csrf = page.csrf();
    // An agency user without an agency: refused beside the field, in Chinese.
    let refused = admin
        .post(
            "/admin/users",
            &[("username", "li.na"), ("role", "agency_user"), ("agency", ""), ("csrf", &csrf)],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(refused.body.contains("id=\"agency-error\""), "beside the agency: {}", refused.body);
    let created = admin
        .post(
            "/admin/users",
            &[
                ("username", "li.na"),
                ("role", "agency_user"),
                ("agency", "education-bureau"),
                ("email", "li.na@example.org"),
                ("csrf", &csrf),
            ],
        )
        .await;
    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    let password = one_time_password(&created.body);
    // The one-time password signs in, and must be changed first.
    let mut li = Browser::new(&app);
    let signed = li.sign_in("li.na", &password, "/tickets").await;
    assert_eq!(signed.location.as_deref(), Some("/tickets"));
    assert_eq!(li.get("/tickets").await.location.as_deref(), Some("/account"), "must change it first");
    assert!(!admin.get("/admin/users").await.body.contains(&password), "shown once only");
    let id = user_id(&app, "li.na").await;
    let off = admin.post(&format!("/admin/users/{id}"), &[("action", "deactivate"), ("csrf", &csrf)]).await;
    assert_eq!(off.status, StatusCode::SEE_OTHER);
    assert!(admin.get("/admin/users").await.body.contains("已停用"), "listed as deactivated");
    assert_eq!(
        li.get("/account").await.location.as_deref().map(|l| l.starts_with("/login")),
        Some(true),
        "signed out"
    );
    let on = admin.post(&format!("/admin/users/{id}"), &[("action", "reactivate"), ("csrf", &csrf)]).await;
    assert_eq!(on.status, StatusCode::SEE_OTHER);
    let reset = admin.post(&format!("/admin/users/{id}"), &[("action", "reset"), ("csrf", &csrf)]).await;
    assert_eq!(reset.status, StatusCode::OK);
    let again = one_time_password(&reset.body);
    assert_ne!(again, password, "a new one-time password");
    assert_eq!(Browser::new(&app).sign_in("li.na", &again, "/").await.status, StatusCode::SEE_OTHER);
    let me = user_id(&app, &admin_name).await;
    let own = admin.post(&format!("/admin/users/{me}"), &[("action", "deactivate"), ("csrf", &csrf)]).await;
    assert_eq!(own.status, StatusCode::UNPROCESSABLE_ENTITY, "an admin cannot deactivate themself");
}

/// The one-time password a page shows.
fn one_time_password(body: &str) -> String {
    let at = body.find("id=\"one-time-password\">").expect("a one-time password shown");
    let rest = &body[at + "id=\"one-time-password\">".len()..];
    rest[..rest.find('<').expect("its end")].to_owned()
}

/// An account's id, from the API.
pub async fn user_id(app: &TestApp, username: &str) -> String {
    let users = app.call(Method::GET, "/v1/users", &app.admin_token, None, StatusCode::OK).await;
    let users = users.as_array().expect("a list").clone();
    let user = users.iter().find(|u| u["username"] == username).expect("the account");
    user["id"].as_str().expect("id").to_owned()
}

async fn an_admin_sends_a_dead_letter_again(app: TestApp) {
    let app = app.another(|s| s.mail_max_attempts = 2).await;
    app.dead_letter().await;
    let (mut admin, _) = signed_in(&app, "admin", None).await;
    let page = admin.get("/admin/outbox").await;
    assert_eq!(page.status, StatusCode::OK);
    let at = page.body.find("action=\"/admin/outbox/").expect("a dead letter with its retry form");
    let path = page.body[at + "action=\"".len()..].split('"').next().expect("path").to_owned();
    assert!(page.body.contains("SMTP"), "why it died");
    let csrf = page.csrf();
    assert_eq!(admin.post(&path, &[]).await.status, StatusCode::FORBIDDEN, "no CSRF token, nothing done");
    let again = admin.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    assert!(!admin.get("/admin/outbox").await.body.contains(&path), "no longer dead");
    let twice = admin.post(&path, &[("csrf", &csrf)]).await;
    assert_eq!(twice.status, StatusCode::CONFLICT);
    assert!(twice.body.contains("这封邮件已不在失败队列中"), "said in Chinese");
}

crate::both_backends!(
    an_admin_creates_deactivates_and_resets_accounts,
    an_admin_sends_a_dead_letter_again,
    a_manager_sees_the_months_attainment_and_downloads_the_files,
    a_link_from_an_email_opens_the_sign_in_then_the_ticket,
    a_clerk_files_and_sees_the_number_and_deadlines,
    problems_show_beside_the_field_in_chinese,
    a_form_without_its_csrf_token_is_refused_and_changes_nothing,
    an_engineer_works_the_ticket_and_the_clerk_closes_it,
    another_agencys_clerk_and_the_queue_answer_404,
    sessions_end_when_idle_after_twelve_hours_and_when_deactivated,
    signing_out_ends_the_session,
    pages_have_a_strict_policy_and_assets_a_long_cache,
    secure_cookies_over_https_and_english_by_cookie,
);
