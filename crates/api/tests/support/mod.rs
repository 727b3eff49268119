//! What the process-level tests (`chaos`, `crash`, `cli`) share: the `itsm`
//! binary run as a user runs it, `itsm serve` on a free port with the
//! repository's configuration, waited on until ready and killed when dropped;
//! the admin signed in, a supplier manager and line item 1; fresh databases,
//! SQLite and PostgreSQL, gone after the test.
//!
//! Each test file compiles this as its own module (`mod support;`) and uses
//! only part of it, hence the `dead_code` allowance; nothing here is public
//! outside its test binary, hence `unreachable_pub`.

#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use serde_json::{Value, json};

/// The first admin's password, given to every service these tests start.
pub const ADMIN_PASSWORD: &str = "process test owner passphrase";
pub const MAIL_FROM: &str = "ITSM <itsm@luoyang.example.org>";
/// The supplier manager `setup` makes: the one recipient of ticket warnings.
pub const MANAGER: &str = "duty.manager@example.org";

/// The repository's configuration folder (contract, catalog, calendars).
pub fn config_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config")
}

/// A port nobody listens on now; the service binds it a moment later.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

/// A SQLite database file under `dir`, made on first use.
pub fn sqlite_url(dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", dir.join("itsm.db").display())
}

/// The `itsm` binary with `config` as its configuration folder.
pub fn itsm(config: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_itsm"));
    command.env("ITSM_CONFIG_DIR", config);
    command
}

/// Poll `check` until it holds or `limit` passes.
pub async fn until<F: FnMut() -> bool>(limit: Duration, what: &str, mut check: F) {
    let started = Instant::now();
    while !check() {
        assert!(started.elapsed() < limit, "timed out after {limit:?} waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An HTTP client whose requests give up after 40 s, so that a service that
/// never answers fails the test instead of hanging it.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().timeout(Duration::from_secs(40)).build().expect("client")
}

// ---------------------------------------------------------------- the service

/// What an `itsm serve` under test is started with. Every one gets the
/// repository's configuration, the admin password, the mail sender and the
/// timer; ticket alerts are the only mail (the wall clock is months into the
/// contract, so inspection notices and monthly reports would be due too).
#[derive(Clone, Copy)]
pub struct Serve<'a> {
    pub db: &'a str,
    /// The test's folder: `.eml` files go to its `outbox/` when there is no SMTP server.
    pub dir: &'a Path,
    /// The SMTP server's URL (the sink, or a relay in front of it).
    pub smtp: Option<&'a str>,
    /// How long a sender holds a message it is sending.
    pub lease_seconds: u64,
    /// Start through `sh` with SIGXFSZ ignored, so that a file-size limit set
    /// later makes writes fail with EFBIG instead of killing the process.
    pub ignore_sigxfsz: bool,
    /// Further variables for what the test is about; set last, so they win.
    pub env: &'a [(&'a str, &'a str)],
}

impl Serve<'_> {
    /// Start the service on a free port; it is not ready yet (see `Service::ready`).
    pub fn start(&self) -> Service {
        let port = free_port();
        let bin = env!("CARGO_BIN_EXE_itsm");
        let mut command = if self.ignore_sigxfsz {
            let mut c = Command::new("sh");
            c.arg("-c").arg("trap '' XFSZ; exec \"$0\" serve").arg(bin);
            c
        } else {
            let mut c = Command::new(bin);
            c.arg("serve");
            c
        };
        command
            .env("ITSM_CONFIG_DIR", config_dir())
            .env("ITSM_DATABASE_URL", self.db)
            .env("ITSM_LISTEN", format!("127.0.0.1:{port}"))
            // Several services run at once: each takes a free port for its metrics.
            .env("ITSM_METRICS_LISTEN", "127.0.0.1:0")
            .env("ITSM_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("ITSM_OUTBOX_DIR", self.dir.join("outbox"))
            .env("ITSM_MAIL_FROM", MAIL_FROM)
            .env("ITSM_TIMER_ENABLED", "true")
            .env("ITSM_MAIL_LEASE_SECONDS", self.lease_seconds.to_string())
            .env("ITSM_INSPECTION_ALERTS", "false")
            .env("ITSM_MONTHLY_REPORTS", "false")
            .env("RUST_LOG", "warn")
            // The log is matched as plain text.
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(smtp) = self.smtp {
            command.env("ITSM_SMTP_URL", smtp);
        }
        for (key, value) in self.env {
            command.env(key, value);
        }
        Service::spawn(command, port)
    }
}

/// A running `itsm serve`, killed when dropped (a failed assertion leaves no orphan).
pub struct Service {
    child: Child,
    pub base: String,
    /// Its stderr, read as it comes.
    log: Arc<Mutex<String>>,
}

impl Service {
    fn spawn(mut command: Command, port: u16) -> Self {
        let mut child = command.spawn().expect("itsm starts");
        // The log is read by the test process, which has no file-size limit.
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push_str(&line);
                    l.push('\n');
                }
            }
        });
        Self { child, base: format!("http://127.0.0.1:{port}"), log }
    }

    /// Wait until `/readyz` answers (the database reachable, migrations done).
    pub async fn ready(&mut self, http: &reqwest::Client) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.exited() {
                panic!("itsm exited ({status}) while starting:\n{}", self.log());
            }
            if http.get(format!("{}/readyz", self.base)).send().await.is_ok_and(|r| r.status().is_success()) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "itsm did not become ready:\n{}",
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// How the process ended, if it has.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().expect("try_wait")
    }

    /// SIGKILL: no shutdown, no flush, no goodbye.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for the graceful exit.
    pub async fn terminate(&mut self) {
        let _ = Command::new("kill").arg("-TERM").arg(self.pid().to_string()).status();
        let started = Instant::now();
        while self.exited().is_none() {
            assert!(started.elapsed() < Duration::from_secs(30), "itsm did not stop on SIGTERM");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.clone()).unwrap_or_default()
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill9();
    }
}

// ---------------------------------------------------------------- the API

/// The admin's token.
pub async fn sign_in(http: &reqwest::Client, base: &str) -> String {
    let r = http
        .post(format!("{base}/v1/auth/token"))
        .json(&json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await
        .expect("sent");
    assert!(r.status().is_success(), "admin signed in: {}", r.status());
    let r: Value = r.json().await.expect("json");
    r["access_token"].as_str().expect("token").to_owned()
}

/// The admin's token, a supplier manager with an email address (`MANAGER`,
/// the one recipient of warnings), and line item 1's id.
pub async fn setup(http: &reqwest::Client, base: &str) -> (String, String) {
    let token = sign_in(http, base).await;
    let r = http
        .post(format!("{base}/v1/users"))
        .bearer_auth(&token)
        .json(&json!({
            "username": "duty", "role": "manager", "email": MANAGER, "password": "a long enough password"
        }))
        .send()
        .await
        .expect("sent");
    assert!(r.status().is_success(), "manager created: {}", r.status());
    let items: Value = http
        .get(format!("{base}/v1/line-items"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let item = items.as_array().and_then(|a| a.iter().find(|i| i["seq"] == 1)).expect("item 1")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    (token, item)
}

// ---------------------------------------------------------------- databases

/// A fresh PostgreSQL database of the test's own, dropped when this is
/// (on a failed assertion too).
pub struct PgDb {
    admin_url: String,
    name: String,
    pub url: String,
}

impl PgDb {
    /// `itsm_<label>_<pid>`, made anew (a leftover of an earlier run of
    /// the same process id is dropped first).
    pub async fn create(label: &str) -> Self {
        let admin_url = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("itsm_{label}_{}", std::process::id());
        let admin = sea_orm::Database::connect(&admin_url).await.expect("PostgreSQL for the process tests");
        let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
        let _ = admin.close().await;
        let base = admin_url.rsplit_once('/').map_or(admin_url.as_str(), |(b, _)| b).to_owned();
        Self { url: format!("{base}/{name}"), name, admin_url }
    }

    /// `host:port` of the server.
    pub fn host(&self) -> String {
        let host = self.url.split_once('@').expect("user@host in the URL").1;
        host.split_once('/').map_or(host, |(h, _)| h).to_owned()
    }

    /// The same database reached through `port` on loopback (a proxy).
    pub fn url_via(&self, port: u16) -> String {
        let (scheme_user, rest) = self.url.split_once('@').expect("user@host in the URL");
        let path = rest.split_once('/').map_or("", |(_, p)| p);
        format!("{scheme_user}@127.0.0.1:{port}/{path}")
    }
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // Drop cannot await, and the test's own runtime may be the one running
        // this: a plain thread with a small runtime of its own does the work,
        // joined so that the database is gone when the drop returns. FORCE
        // closes what a service or a test connection still holds open.
        let admin = self.admin_url.clone();
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || -> anyhow::Result<()> {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(async {
                let db = sea_orm::Database::connect(&admin).await?;
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

/// Every row `sql` returns.
pub async fn rows(db: &DatabaseConnection, sql: &str) -> Vec<sea_orm::QueryResult> {
    db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await.expect(sql)
}
