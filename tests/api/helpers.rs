//! The harness: the real app on a random port with its own fresh database
//! (a SQLite file, or a new PostgreSQL database, dropped with the app), a
//! manual clock, and one method per endpoint.

use std::path::PathBuf;
use std::sync::Arc;

use api::settings::Settings;
use api::time::ManualClock;
use chrono::TimeZone;
use reqwest::{Method, StatusCode};
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};
use sla_engine::Timestamp;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub const ADMIN_PASSWORD: &str = "correct horse battery staple";
pub const USER_PASSWORD: &str = "a long enough password";

/// Local wall-clock time in Shanghai as a UTC timestamp.
pub fn sh(text: &str) -> Timestamp {
    let naive = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .or_else(|_| chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M"))
        .expect("test time");
    Timestamp::from(
        chrono_tz::Asia::Shanghai.from_local_datetime(&naive).single().expect("unambiguous").to_utc(),
    )
}

/// The instant an RFC 3339 value of an answer names (whatever offset it is written with).
pub fn instant(value: &Value) -> Timestamp {
    let text = value.as_str().unwrap_or_else(|| panic!("{value} is not an instant"));
    Timestamp::from(chrono::DateTime::parse_from_rfc3339(text).expect("RFC 3339").to_utc())
}

/// How the API shows a Shanghai wall-clock time: RFC 3339 with the line item's offset,
/// `+08:00` for every item of the contract.
pub fn shown(text: &str) -> String {
    let at = sh(text).to_datetime().with_timezone(&chrono::FixedOffset::east_opt(8 * 3600).expect("offset"));
    at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// A Shanghai wall-clock time as RFC 3339 UTC text, for what a client sends.
pub fn utc(text: &str) -> String {
    sh(text).to_datetime().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub struct TestApp {
    pub state: api::state::AppState,
    pub smtp: notifier::sink::SmtpSink,
    pub address: String,
    /// Where `/metrics` is served: a listener of its own.
    pub metrics_address: String,
    pub database_url: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    /// The first admin's token; empty when a test started without `ADMIN_PASSWORD`.
    pub admin_token: String,
    /// The first admin's generated password, when a test started without `ADMIN_PASSWORD`.
    pub generated_admin_password: Option<String>,
    /// How many running clocks this start recomputed (none: nothing they depend on changed).
    pub recomputed_clocks: Option<usize>,
    shutdown: CancellationToken,
    _dir: tempfile::TempDir,
    /// The PostgreSQL database this app made, dropped with it; `None` on
    /// SQLite (the file goes with `_dir`) and on instances started with
    /// `another` or `restart_with`, which only borrow their first's database.
    /// Last, so that it goes after everything that uses it.
    _database: Option<OwnedDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop serving first; the fields go afterwards, the database last.
        self.shutdown.cancel();
    }
}

pub fn config_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../config")
}

/// The PostgreSQL server tests create their databases on.
fn postgres_admin_url() -> String {
    std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

/// A PostgreSQL database made for one test; dropping this drops it.
struct OwnedDatabase {
    admin_url: String,
    name: String,
}

impl Drop for OwnedDatabase {
    fn drop(&mut self) {
        // Drop cannot await, and the test's own runtime may be the one running
        // this: a plain thread with a small runtime of its own does the work,
        // joined so that the database is gone when the drop returns. FORCE
        // closes what the app's pool still holds open.
        let (admin, name) = (self.admin_url.clone(), self.name.clone());
        let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
        let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let db = Database::connect(&admin).await?;
                db.execute_unprepared(&sql).await?;
                db.close().await?;
                Ok(())
            })
        })
        .join();
        let failure = match dropped {
            Ok(Ok(())) => return,
            Ok(Err(e)) => e.to_string(),
            Err(_) => "the dropping thread panicked".to_owned(),
        };
        // A leftover database should fail the test, unless it is failing
        // already (a second panic while unwinding would abort the run).
        if std::thread::panicking() {
            eprintln!("test database {} not dropped: {failure}", self.name);
        } else {
            panic!("test database {} not dropped: {failure}", self.name);
        }
    }
}

/// A URL for a database of this test's own, and on PostgreSQL the guard
/// that drops it.
async fn fresh_database(backend: Backend, dir: &tempfile::TempDir) -> (String, Option<OwnedDatabase>) {
    match backend {
        Backend::Sqlite => (format!("sqlite://{}?mode=rwc", dir.path().join("itsm.db").display()), None),
        Backend::Postgres => {
            let admin = postgres_admin_url();
            let name = format!("itsm_test_{}", Uuid::new_v4().simple());
            let db = Database::connect(&admin).await.unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL at {admin} is needed for the postgres tests \
                     (start it, or set TEST_POSTGRES_URL): {e}"
                )
            });
            db.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
            // Guarded from here on, so that a failure to start the app drops it too.
            let owned = OwnedDatabase { admin_url: admin.clone(), name: name.clone() };
            let _ = db.close().await;
            let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
            (format!("{base}/{name}"), Some(owned))
        }
    }
}

impl TestApp {
    /// Start the app, its clock showing Monday 2026-06-01 10:00 in Shanghai,
    /// with its own SMTP server; the timer runs only when a test calls `tick`.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, |_| {}).await
    }

    /// As `spawn`, with settings adjusted by `tune`.
    pub async fn spawn_with(backend: Backend, tune: impl FnOnce(&mut Settings)) -> Self {
        Self::spawn_at(backend, sh("2026-06-01 10:00"), tune).await
    }

    /// As `spawn_with`, first started (and so gone live) at `at`.
    pub async fn spawn_at(backend: Backend, at: Timestamp, tune: impl FnOnce(&mut Settings)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (url, owned) = fresh_database(backend, &dir).await;
        let smtp = notifier::sink::SmtpSink::start().expect("SMTP sink");
        Self::start(url, owned, &config_dir(), dir, smtp, at, tune).await
    }

    /// The engine this app's database runs on.
    pub fn backend(&self) -> Backend {
        if self.database_url.starts_with("postgres") { Backend::Postgres } else { Backend::Sqlite }
    }

    /// Start another instance on this app's database, with configuration from `config`
    /// (a restart, or a second instance sharing the database).
    pub async fn restart_with(&self, config: &std::path::Path) -> Self {
        Self::start(
            self.database_url.clone(),
            None,
            config,
            tempfile::tempdir().expect("tempdir"),
            self.smtp.clone(),
            api::time::Clock::now(&self.clock),
            |_| {},
        )
        .await
    }

    /// Start another instance on this app's database with settings adjusted by `tune`.
    pub async fn another(&self, tune: impl FnOnce(&mut Settings)) -> Self {
        Self::start(
            self.database_url.clone(),
            None,
            &config_dir(),
            tempfile::tempdir().expect("tempdir"),
            self.smtp.clone(),
            api::time::Clock::now(&self.clock),
            tune,
        )
        .await
    }

    /// Process due clocks and deliver due messages, as the timer does.
    pub async fn tick(&self) -> api::worker::TickReport {
        api::worker::tick(&self.state).await.expect("tick")
    }

    /// A letter given up on: a fault on item 1 assigned to an engineer at
    /// `eng@example.org`, the SMTP server away while its response warning is
    /// tried (15 minutes on) and again an hour later. Needs `mail_max_attempts = 2`.
    pub async fn dead_letter(&self) {
        let (engineer_id, engineer) = self.user_with_email("engineer", None, Some("eng@example.org")).await;
        let item = self.item_id(1).await;
        let t = self.file(&engineer, json!({"line_item_id": item, "title": "平台无法登录"})).await;
        let id = t["id"].as_str().expect("id").to_owned();
        self.act(&engineer, &id, "assign", json!({"assignee_id": engineer_id}), StatusCode::OK).await;
        self.smtp.set_down(true);
        self.clock.advance(900);
        self.tick().await;
        self.clock.advance(3600);
        assert!(self.tick().await.dead > 0, "a letter given up on");
    }

    /// `owned` is the database to drop with this app: only the instance that made it.
    async fn start(
        url: String,
        owned: Option<OwnedDatabase>,
        config: &std::path::Path,
        dir: tempfile::TempDir,
        smtp: notifier::sink::SmtpSink,
        at: Timestamp,
        tune: impl FnOnce(&mut Settings),
    ) -> Self {
        let mut settings = Settings::for_database(&url, config).expect("settings");
        settings.smtp_url = Some(smtp.url().into());
        settings.outbox_dir = dir.path().join("outbox");
        settings.timer_enabled = false;
        // Each test turns on the notices it is about.
        settings.inspection_alerts = false;
        settings.monthly_reports = false;
        settings.mail_from = "ITSM <itsm@luoyang.example.org>".into();
        settings.admin_password = Some(ADMIN_PASSWORD.to_owned().into());
        settings.database_max_connections = 5;
        // Tests move the clock by days; tokens outlive that (expiry has its own test).
        settings.token_ttl_seconds = 400 * 86_400;
        // The manual clock stands still, so a rate limit would never refill:
        // the limit's own test turns it on.
        settings.rate_limit_per_second = 0;
        if std::env::var_os("TEST_LOG").is_some() {
            api::telemetry::init(api::settings::LogFormat::Human);
        }
        // A restart or a second instance starts at the first one's time.
        let clock = ManualClock::new(at);
        tune(&mut settings);
        let admin_given = settings.admin_password.is_some();
        let built = api::startup::build(settings, Arc::new(clock.clone())).await.expect("app builds");
        let state = built.state.clone();
        let generated_admin_password = built.generated_admin_password.clone();
        let recomputed_clocks = built.recomputed_clocks;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let address = format!("http://{}", listener.local_addr().expect("addr"));
        let metrics = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind metrics");
        let metrics_address = format!("http://{}", metrics.local_addr().expect("addr"));
        let shutdown = CancellationToken::new();
        tokio::spawn(api::startup::serve(built.state, listener, Some(metrics), shutdown.clone()));
        let client = reqwest::Client::new();
        let mut app = Self {
            state,
            smtp,
            address,
            metrics_address,
            database_url: url,
            client,
            clock,
            admin_token: String::new(),
            generated_admin_password,
            recomputed_clocks,
            shutdown,
            _dir: dir,
            _database: owned,
        };
        if admin_given {
            app.admin_token = app.token("admin", ADMIN_PASSWORD).await;
        }
        app
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// The text `/metrics` shows, from the metrics listener.
    pub async fn metrics(&self) -> String {
        let url = format!("{}/metrics", self.metrics_address);
        self.client.get(url).send().await.expect("scraped").text().await.expect("text")
    }

    /// Send a request; `body` as JSON when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> reqwest::Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        req.send().await.expect("request sent")
    }

    /// Send and read a JSON answer, asserting the status.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Option<&Value>,
        expect: StatusCode,
    ) -> Value {
        let response = self.send(method.clone(), path, Some(token), body).await;
        let status = response.status();
        let text = response.text().await.expect("body");
        assert_eq!(status, expect, "{method} {path} answered {status}: {text}");
        if text.is_empty() { Value::Null } else { serde_json::from_str(&text).expect("JSON body") }
    }

    pub async fn token(&self, username: &str, password: &str) -> String {
        let r = self
            .send(
                Method::POST,
                "/v1/auth/token",
                None,
                Some(&json!({"username": username, "password": password})),
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "sign in as {username}");
        let v: Value = r.json().await.expect("token JSON");
        v["access_token"].as_str().expect("access_token").to_owned()
    }

    /// Create a user with a fresh name and sign in; returns (id, token).
    pub async fn user(&self, role: &str, agency: Option<&str>) -> (String, String) {
        self.user_with_email(role, agency, None).await
    }

    /// As `user`, with an email address for alerts.
    pub async fn user_with_email(
        &self,
        role: &str,
        agency: Option<&str>,
        email: Option<&str>,
    ) -> (String, String) {
        let username = format!("{role}-{}", &Uuid::new_v4().simple().to_string()[..8]);
        let mut body = json!({"username": username, "role": role, "password": USER_PASSWORD});
        if let Some(a) = agency {
            body["agency"] = json!(a);
        }
        if let Some(e) = email {
            body["email"] = json!(e);
        }
        let created = self
            .call(Method::POST, "/v1/users", &self.admin_token.clone(), Some(&body), StatusCode::CREATED)
            .await;
        let token = self.token(&username, USER_PASSWORD).await;
        (created["id"].as_str().expect("id").to_owned(), token)
    }

    /// The id of line item `seq`.
    pub async fn item_id(&self, seq: u64) -> String {
        let items =
            self.call(Method::GET, "/v1/line-items", &self.admin_token.clone(), None, StatusCode::OK).await;
        items
            .as_array()
            .expect("items")
            .iter()
            .find(|i| i["seq"] == seq)
            .and_then(|i| i["id"].as_str())
            .expect("item exists")
            .to_owned()
    }

    /// File a ticket; expects 201.
    pub async fn file(&self, token: &str, body: Value) -> Value {
        self.call(Method::POST, "/v1/tickets", token, Some(&body), StatusCode::CREATED).await
    }

    /// Take an action; expects `expect`.
    pub async fn act(&self, token: &str, id: &str, action: &str, body: Value, expect: StatusCode) -> Value {
        self.call(Method::POST, &format!("/v1/tickets/{id}/{action}"), token, Some(&body), expect).await
    }

    pub async fn ticket(&self, token: &str, id: &str) -> Value {
        self.call(Method::GET, &format!("/v1/tickets/{id}"), token, None, StatusCode::OK).await
    }
}

/// The clock of `metric` in a ticket, or Null.
pub fn clock<'a>(ticket: &'a Value, metric: &str) -> &'a Value {
    ticket["clocks"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["metric"] == metric))
        .unwrap_or(&Value::Null)
}

/// Run each named test on SQLite and on PostgreSQL: `both_backends!(files_a_ticket);`
/// beside `async fn files_a_ticket(app: TestApp) { ... }` makes
/// `sqlite::files_a_ticket` and `postgres::files_a_ticket`, each on a fresh app.
///
/// The bodies are ordinary functions, not macro input, so that rustfmt
/// formats them and the compiler points at their own lines.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                    super::$name(app).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await;
                    super::$name(app).await
                }
            )+
        }
    };
}

/// Copy a configuration folder, to change it for one test.
pub fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).expect("mkdir");
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy");
        }
    }
}

/// An RFC 3339 instant made safe for a query string.
pub fn in_query(instant: &str) -> String {
    instant.replace(':', "%3A").replace('+', "%2B")
}

/// Percent-encode a query value (every byte outside the unreserved set).
pub fn url_escape(v: &str) -> String {
    v.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
