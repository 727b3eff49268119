//! The web console in a real headless Chromium driven over WebDriver
//! (fantoccini against chromedriver on a free port, both started here):
//! a clerk files a fault, an engineer on a 375 px screen works it from the
//! queue, a manager sees the month's attainment change on the dashboard
//! and downloads the workbook, the clerk closes it, another agency's clerk finds nothing, and a
//! form stripped of its CSRF token changes nothing. A screenshot of each
//! page goes to `target/screenshots/`, with its HTML, after axe-core has
//! found no serious or critical violation in it; at the end the Nu HTML
//! Checker reads every page saved and the style sheet. Needs `chromium` and `chromedriver`
//! and the checkers (`scripts/chromium-up`); SQLite only, as the HTTP tests cover both engines.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{Backend, TestApp, USER_PASSWORD};
use crate::web::account;

/// chromedriver on a free port, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("a free port")
            .local_addr()
            .expect("addr")
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (scripts/chromium-up installs it)");
        let driver = Self { child, url: format!("http://127.0.0.1:{port}") };
        // Ready when it accepts connections; bounded, so a broken install fails here.
        let until = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < until, "chromedriver did not start listening");
            std::thread::sleep(Duration::from_millis(100));
        }
        driver
    }

    /// A new browser (its own cookies) of `width` × `height`.
    async fn browser(&self, width: u32, height: u32) -> Client {
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--lang=zh-CN", "--hide-scrollbars", format!("--window-size={width},{height}")],
            }
        });
        let caps = caps.as_object().expect("object").clone();
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a browser session");
        client.set_window_size(width, height).await.expect("window size");
        client
    }
}

fn screenshots() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// Where `scripts/web-check-tools` puts axe-core and the Nu HTML Checker.
fn web_tools() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/web-tools")
}

/// axe-core's source, read once.
fn axe_source() -> &'static str {
    static AXE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    AXE.get_or_init(|| {
        std::fs::read_to_string(web_tools().join("axe.min.js"))
            .expect("axe-core in target/web-tools (scripts/web-check-tools fetches it)")
    })
}

/// axe-core run in the page as it is now: no serious or critical violation.
async fn accessible(c: &Client, name: &str) {
    c.execute(axe_source(), vec![]).await.expect("axe-core loaded into the page");
    let script = "const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']})
          .then(r => done(r.violations
            .filter(v => v.impact === 'serious' || v.impact === 'critical')
            .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' + v.nodes.map(n => n.target.join(' ')).join(', '))))
          .catch(e => done(['axe-core failed: ' + e]));";
    let found = c.execute_async(script, vec![]).await.expect("axe-core ran");
    let found: Vec<String> = serde_json::from_value(found).expect("a list of violations");
    assert!(found.is_empty(), "{name}: accessibility violations:\n{}", found.join("\n"));
}

/// The page's HTML as the server sends it (fetched again with the
/// browser's cookies: WebDriver's page source is the DOM, not the document),
/// saved beside its screenshot for the HTML checker.
async fn save_html(c: &Client, name: &str) {
    let script = "const done = arguments[arguments.length - 1];
        fetch(location.href, {credentials: 'same-origin'}).then(r => r.text()).then(done, e => done('fetch failed: ' + e));";
    let html = c.execute_async(script, vec![]).await.expect("the page fetched");
    let html = html.as_str().expect("text");
    assert!(html.starts_with("<!DOCTYPE html>"), "{name}: {html:.200}");
    std::fs::write(screenshots().join(format!("{name}.html")), html).expect("write the page");
    SAVED.lock().expect("the saved pages").push(name.to_owned());
}

/// The pages saved by [`shot`] in this run.
static SAVED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Every page saved in this run and the style sheet through the Nu HTML
/// Checker: no errors.
fn valid_html() {
    let vnu = web_tools().join("vnu.jar");
    assert!(vnu.exists(), "the Nu HTML Checker in target/web-tools (scripts/web-check-tools fetches it)");
    let names = SAVED.lock().expect("the saved pages").clone();
    assert!(names.len() > 10, "pages saved: {names:?}");
    let files = names.iter().map(|n| screenshots().join(format!("{n}.html")));
    let css = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../crates/api/assets/app.css");
    let out = Command::new("java")
        .arg("-jar")
        .arg(&vnu)
        .args(["--errors-only", "--also-check-css", "--format", "gnu"])
        .args(files)
        .arg(css)
        .output()
        .expect("java runs the HTML checker");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the HTML checker found errors:\n{report}");
}

/// Save what the browser shows as `name.png` (the window made as tall as
/// the page, up to 4000 px, for the shot, then put back) and its HTML as
/// `name.html`, after axe-core has checked it.
async fn shot(c: &Client, name: &str) {
    accessible(c, name).await;
    save_html(c, name).await;
    let (width, height) = c.get_window_size().await.expect("size");
    let page = c.execute("return document.documentElement.scrollHeight", vec![]).await.expect("height");
    let tall = page.as_u64().unwrap_or(height).clamp(height, 4000);
    c.set_window_size(width as u32, tall as u32).await.expect("tall");
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(screenshots().join(format!("{name}.png")), png).expect("write screenshot");
    c.set_window_size(width as u32, height as u32).await.expect("restore");
}

/// No sideways scrolling at this width.
async fn fits(c: &Client, page: &str) {
    let sizes = c
        .execute("return [document.documentElement.scrollWidth, window.innerWidth]", vec![])
        .await
        .expect("widths");
    let (scroll, inner) = (sizes[0].as_u64().expect("scroll"), sizes[1].as_u64().expect("inner"));
    assert!(scroll <= inner, "{page} scrolls sideways: {scroll} px wide in a {inner} px window");
}

async fn body_text(c: &Client) -> String {
    c.find(Locator::Css("body")).await.expect("body").text().await.expect("text")
}

async fn sign_in(c: &Client, username: &str) {
    c.wait().for_element(Locator::Id("username")).await.expect("the sign-in form");
    c.find(Locator::Id("username")).await.expect("username").send_keys(username).await.expect("typed");
    c.find(Locator::Id("password")).await.expect("password").send_keys(USER_PASSWORD).await.expect("typed");
    c.find(Locator::Css("form[action='/login'] button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("clicked");
}

/// Click what `css` finds and wait for the next page: the old one is
/// marked first, so that a page still on screen is never taken for the new.
async fn click_through(c: &Client, css: &str) {
    let target = c.wait().for_element(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
    c.execute("document.body.dataset.left = 'yes'", vec![]).await.expect("marked");
    target.click().await.expect("clicked");
    c.wait().for_element(Locator::Css("body:not([data-left])")).await.expect("the next page");
}

async fn press(c: &Client, action: &str) {
    click_through(c, &format!("button[name='action'][value='{action}']")).await;
}

/// A metric's attainment in the dashboard's table of the month.
async fn attainment(c: &Client, metric: &str) -> String {
    let css = "table.attainment tbody tr";
    c.wait().for_element(Locator::Css(css)).await.expect("the month's table");
    for row in c.find_all(Locator::Css(css)).await.expect("rows") {
        let name = row.find(Locator::Css("th")).await.expect("name").text().await.expect("text");
        if name == metric {
            return row.find(Locator::Css("td.figure")).await.expect("figure").text().await.expect("text");
        }
    }
    panic!("no {metric} row on the dashboard");
}

/// Download the month's workbook with the browser's session (fetched by
/// the page, as the link would be), and open it with calamine.
async fn downloads_the_workbook(c: &Client) {
    let href = c
        .find(Locator::Css("a[href^='/dashboard/report.xlsx']"))
        .await
        .expect("the workbook's link")
        .attr("href")
        .await
        .expect("href")
        .expect("a link");
    let script = "const done = arguments[arguments.length - 1];
        fetch(arguments[0]).then(r => r.arrayBuffer()).then(b => {
          let s = ''; new Uint8Array(b).forEach(x => s += String.fromCharCode(x)); done(btoa(s));
        });";
    let encoded = c.execute_async(script, vec![json!(href)]).await.expect("downloaded");
    let bytes =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded.as_str().expect("text"))
            .expect("base64");
    assert!(bytes.starts_with(b"PK"), "a zip");
    let book = crate::reports::Book::open(bytes);
    assert!(!book.sheets().is_empty(), "a workbook with sheets");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fault_from_filing_to_closing_in_a_real_browser() {
    // Two attempts at a letter, so that one dies within the test (the outbox page shows it).
    // (The first instance owns the database, so it is kept until the end.)
    let first = TestApp::spawn(Backend::Sqlite).await;
    let app = first.another(|s| s.mail_max_attempts = 2).await;
    let driver = Driver::start();
    let item = app.item_id(1).await;
    let clerk_name = account(&app, "agency_user", Some("education-bureau")).await;
    let engineer_name = account(&app, "engineer", None).await;
    let other_name = account(&app, "agency_user", Some("urban-management-bureau")).await;
    let manager_name = account(&app, "manager", Some("education-bureau")).await;

    // The clerk, on a desktop: the filing form asks for a sign-in first.
    let clerk = driver.browser(1440, 900).await;
    clerk.goto(&app.url("/tickets/new")).await.expect("opened");
    shot(&clerk, "login").await;
    sign_in(&clerk, &clerk_name).await;
    clerk.wait().for_element(Locator::Id("line_item_id")).await.expect("the filing form");
    shot(&clerk, "tickets-new").await;
    clerk
        .find(Locator::Id("line_item_id"))
        .await
        .expect("select")
        .select_by_value(&item)
        .await
        .expect("item");
    clerk
        .find(Locator::Id("severity"))
        .await
        .expect("select")
        .select_by_value("major")
        .await
        .expect("severity");
    clerk.find(Locator::Id("title")).await.expect("title").send_keys("平台无法登录").await.expect("typed");
    clerk
        .find(Locator::Id("description"))
        .await
        .expect("description")
        .send_keys("所有用户登录后白屏")
        .await
        .expect("typed");
    clerk
        .find(Locator::Css("form[action='/tickets/new'] button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("filed");
    let number = clerk
        .wait()
        .for_element(Locator::Css("h1 .number"))
        .await
        .expect("the ticket")
        .text()
        .await
        .expect("text");
    assert!(number.starts_with("INC-2026-"), "{number}");
    let page = body_text(&clerk).await;
    assert!(page.contains("2026-06-01 10:30 (+08:00)"), "the response deadline in local time: {page}");
    assert!(page.contains("30 分钟"), "the business time left");
    let ticket_url = clerk.current_url().await.expect("url").to_string();
    shot(&clerk, "ticket-filed").await;

    // The manager's dashboard before anyone responds: nothing decided yet.
    let manager = driver.browser(1440, 900).await;
    manager.goto(&app.url("/dashboard")).await.expect("opened");
    sign_in(&manager, &manager_name).await;
    assert_eq!(attainment(&manager, "响应").await, "—", "the response clock still runs");
    clerk.goto(&app.url("/tickets")).await.expect("list");
    assert!(body_text(&clerk).await.contains(&number));
    shot(&clerk, "tickets").await;

    // The engineer, on a phone: the queue, then the ticket's buttons.
    let engineer = driver.browser(375, 812).await;
    engineer.goto(&app.url("/queue")).await.expect("opened");
    sign_in(&engineer, &engineer_name).await;
    engineer.wait().for_element(Locator::Id("queue")).await.expect("the queue");
    assert!(body_text(&engineer).await.contains(&number), "the new fault is in the queue");
    fits(&engineer, "/queue").await;
    shot(&engineer, "queue-375").await;
    click_through(&engineer, "#queue .ticket > a").await;
    engineer.wait().for_element(Locator::Css("h1 .number")).await.expect("the ticket");
    fits(&engineer, "/tickets/{id}").await;
    shot(&engineer, "ticket-375").await;
    app.clock.advance(600);
    press(&engineer, "acknowledge").await;
    press(&engineer, "arrive").await;

    // A form without its CSRF token is refused, and nothing changes.
    let id = ticket_url.rsplit('/').next().expect("id").to_owned();
    let version = app.ticket(&app.admin_token, &id).await["version"].clone();
    engineer
        .execute("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())", vec![])
        .await
        .expect("token removed");
    engineer.find(Locator::Id("body")).await.expect("note").send_keys("没有令牌").await.expect("typed");
    click_through(&engineer, "button[value='comment']").await;
    let refused = body_text(&engineer).await;
    assert!(refused.contains("表单已失效"), "refused: {refused}");
    assert_eq!(app.ticket(&app.admin_token, &id).await["version"], version, "nothing changed");
    shot(&engineer, "csrf-refused-375").await;

    engineer.goto(&ticket_url).await.expect("back");
    engineer
        .find(Locator::Id("body"))
        .await
        .expect("note")
        .send_keys("重启认证服务后恢复")
        .await
        .expect("typed");
    press(&engineer, "resolve").await;
    assert!(body_text(&engineer).await.contains("已恢复"), "resolved");
    fits(&engineer, "/tickets/{id} resolved").await;
    shot(&engineer, "ticket-resolved-375").await;

    // Then item 1's inspection due this week, recorded from the phone.
    engineer.goto(&app.url(&format!("/inspections?item={item}"))).await.expect("inspections");
    fits(&engineer, "/inspections").await;
    shot(&engineer, "inspections-375").await;
    click_through(&engineer, "ul.tickets li a").await;
    engineer
        .find(Locator::Id("check_result_0"))
        .await
        .expect("the first check")
        .select_by_value("pass")
        .await
        .expect("passed");
    engineer
        .find(Locator::Id("check_result_3"))
        .await
        .expect("the backup check")
        .select_by_value("fail")
        .await
        .expect("failed");
    engineer
        .find(Locator::Id("check_note_3"))
        .await
        .expect("note")
        .send_keys("昨夜备份未完成")
        .await
        .expect("typed");
    engineer
        .find(Locator::Id("findings"))
        .await
        .expect("findings")
        .send_keys("已手动补做备份")
        .await
        .expect("typed");
    fits(&engineer, "/inspections/{id} form").await;
    shot(&engineer, "inspection-form-375").await;
    press(&engineer, "complete").await;
    let recorded = body_text(&engineer).await;
    assert!(recorded.contains("巡检记录") && recorded.contains("昨夜备份未完成"), "recorded: {recorded}");
    fits(&engineer, "/inspections/{id}").await;
    shot(&engineer, "inspection-375").await;

    // The dashboard now: the response was met in time, on a desktop and a phone.
    manager.refresh().await.expect("reloaded");
    assert_eq!(attainment(&manager, "响应").await, "100.0%", "the month's attainment changed");
    fits(&manager, "/dashboard").await;
    shot(&manager, "dashboard").await;
    downloads_the_workbook(&manager).await;
    manager.set_window_size(375, 812).await.expect("phone");
    fits(&manager, "/dashboard at 375 px").await;
    shot(&manager, "dashboard-375").await;

    // The clerk closes it.
    clerk.goto(&ticket_url).await.expect("opened");
    press(&clerk, "close").await;
    assert!(body_text(&clerk).await.contains("已关闭"), "closed");
    assert_eq!(app.ticket(&app.admin_token, &id).await["state"], "closed");
    shot(&clerk, "ticket-closed").await;
    clerk.goto(&app.url("/account")).await.expect("account");
    shot(&clerk, "account").await;

    // Another agency's clerk, from the same link: signed in, then nothing there.
    let other = driver.browser(1440, 900).await;
    other.goto(&ticket_url).await.expect("opened");
    sign_in(&other, &other_name).await;
    // Waited for by its words: the sign-in page's own heading is an h1 too.
    let heading = other.wait().for_element(Locator::XPath("//h1[contains(., '找不到页面')]")).await;
    assert!(heading.is_ok(), "404 for another agency");
    shot(&other, "not-found").await;

    // A letter that could not be sent: the SMTP server away through every attempt.
    app.dead_letter().await;

    // The admin's pages, on a desktop and a phone.
    let admin_name = account(&app, "admin", None).await;
    let admin = driver.browser(1440, 900).await;
    admin.goto(&app.url("/admin/users")).await.expect("opened");
    sign_in(&admin, &admin_name).await;
    admin
        .wait()
        .for_element(Locator::Css("form[action='/admin/users']"))
        .await
        .expect("the new account's form");
    assert!(body_text(&admin).await.contains(&manager_name), "the accounts are listed");
    shot(&admin, "admin-users").await;
    admin.set_window_size(375, 812).await.expect("phone");
    fits(&admin, "/admin/users").await;
    shot(&admin, "admin-users-375").await;
    admin.goto(&app.url("/admin/outbox")).await.expect("opened");
    assert!(body_text(&admin).await.contains("eng@example.org"), "the dead letter is listed");
    fits(&admin, "/admin/outbox").await;
    shot(&admin, "admin-outbox-375").await;
    admin.set_window_size(1440, 900).await.expect("desktop");
    admin.goto(&app.url("/inspections")).await.expect("opened");
    shot(&admin, "inspections").await;

    for c in [clerk, engineer, other, manager, admin] {
        c.close().await.expect("closed");
    }
    valid_html();
}
