//! The process dies after queuing an alert and before sending it (an abort,
//! as hard as kill -9): after a restart the alert is delivered exactly once.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use notifier::sink::SmtpSink;
use serde_json::{Value, json};

const PASSWORD: &str = "crash test admin password";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).expect("a free port")
}

fn start(db: &str, port: u16, smtp: &SmtpSink, outbox: &Path, fault: bool) -> Child {
    Command::new(env!("CARGO_BIN_EXE_itsm"))
        .arg("serve")
        .env("ITSM_CONFIG_DIR", Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config"))
        .env("ITSM_DATABASE_URL", db)
        .env("ITSM_LISTEN", format!("127.0.0.1:{port}"))
        .env("ITSM_SMTP_URL", smtp.url())
        .env("ITSM_MAIL_FROM", "ITSM <itsm@luoyang.example.org>")
        .env("ITSM_ADMIN_PASSWORD", PASSWORD)
        .env("ITSM_OUTBOX_DIR", outbox)
        .env("ITSM_FAULT_ABORT_BEFORE_SEND", if fault { "true" } else { "false" })
        // The dead sender's claim on the message runs out quickly.
        .env("ITSM_MAIL_LEASE_SECONDS", "2")
        // Only the ticket's alert is under test (the wall clock is months into the contract).
        .env("ITSM_INSPECTION_ALERTS", "false")
        .env("ITSM_MONTHLY_REPORTS", "false")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("itsm starts")
}

async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if client.get(format!("{base}/healthz")).send().await.is_ok_and(|r| r.status().is_success()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("itsm did not become healthy");
}

async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> Value {
    let mut req = client.post(url).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let r = req.send().await.expect("sent");
    assert!(r.status().is_success(), "{}", r.status());
    r.json().await.expect("json")
}

#[tokio::test]
async fn on_sqlite_an_alert_queued_before_a_crash_is_sent_once_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("itsm.db").display());
    crash_and_restart(&db, dir.path()).await;
}

#[tokio::test]
async fn on_postgres_an_alert_queued_before_a_crash_is_sent_once_after_restart() {
    use sea_orm::ConnectionTrait;
    let admin = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("itsm_crash_{}", std::process::id());
    let conn = sea_orm::Database::connect(&admin).await.expect("PostgreSQL for the postgres tests");
    let _ = conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}")).await;
    conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create database");
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b);
    let dir = tempfile::tempdir().expect("tempdir");
    crash_and_restart(&format!("{base}/{name}"), dir.path()).await;
}

async fn crash_and_restart(db: &str, dir: &Path) {
    let db = db.to_owned();
    let smtp = SmtpSink::start().expect("SMTP sink");
    let client = reqwest::Client::new();

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut crashing = start(&db, port, &smtp, &dir.join("outbox"), true);
    wait_healthy(&client, &base).await;
    let token = post(
        &client,
        format!("{base}/v1/auth/token"),
        None,
        json!({"username": "admin", "password": PASSWORD}),
    )
    .await;
    let token = token["access_token"].as_str().expect("token").to_owned();
    post(
        &client,
        format!("{base}/v1/users"),
        Some(&token),
        json!({"username": "boss", "role": "manager", "email": "boss@example.org", "password": "a long enough password"}),
    )
    .await;
    let items: Value = client
        .get(format!("{base}/v1/line-items"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let item = items.as_array().and_then(|a| a.iter().find(|i| i["seq"] == 1)).expect("item 1")["id"].clone();
    // Reported 20 minutes ago on a 7x24 item with a 30-minute response: the
    // 50 % warning is due at once, so the timer queues it and then aborts.
    let reported = (chrono::Utc::now() - chrono::Duration::minutes(20))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    post(
        &client,
        format!("{base}/v1/tickets"),
        Some(&token),
        json!({"line_item_id": item, "title": "crash", "reported_at": reported}),
    )
    .await;

    let started = Instant::now();
    let status = loop {
        if let Some(status) = crashing.try_wait().expect("wait") {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the fault was never reached");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "the process died");
    assert!(smtp.messages().is_empty(), "it died before sending");

    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut restarted = start(&db, port, &smtp, &dir.join("outbox"), false);
    wait_healthy(&client, &base).await;
    let started = Instant::now();
    while smtp.messages().is_empty() && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give a second delivery, if there were one, time to happen.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let _ = restarted.kill();
    let _ = restarted.wait();
    let got = smtp.messages();
    assert_eq!(got.len(), 1, "delivered exactly once after the restart");
    assert_eq!(got[0].to, vec!["boss@example.org".to_owned()]);
}
