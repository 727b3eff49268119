//! The process dies after queuing an alert and before sending it (an abort,
//! as hard as kill -9): after a restart the alert is delivered exactly once.
//! The crash point exists only in builds with the `fault-injection` feature
//! (`make test` enables it).

#![cfg(feature = "fault-injection")]

mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use notifier::sink::SmtpSink;
use serde_json::json;

use support::{MANAGER, PgDb, Serve, rows, setup, sqlite_url};

#[tokio::test]
async fn on_sqlite_an_alert_queued_before_a_crash_is_sent_once_after_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    crash_and_restart(&sqlite_url(dir.path()), dir.path()).await;
}

#[tokio::test]
async fn on_postgres_an_alert_queued_before_a_crash_is_sent_once_after_restart() {
    let pg = PgDb::create("crash").await;
    let dir = tempfile::tempdir().expect("tempdir");
    crash_and_restart(&pg.url, dir.path()).await;
}

async fn crash_and_restart(db: &str, dir: &Path) {
    let smtp = SmtpSink::start().expect("SMTP sink");
    let smtp_url = smtp.url();
    let http = support::client();
    let serve = |fault: bool| Serve {
        db,
        dir,
        smtp: Some(&smtp_url),
        // The dead sender's claim on the message runs out quickly.
        lease_seconds: 2,
        ignore_sigxfsz: false,
        // No grace for a backdated filing: its warning is due at once.
        env: if fault {
            &[("ITSM_FAULT_ABORT_BEFORE_SEND", "true"), ("ITSM_FILING_GRACE_MINUTES", "0")]
        } else {
            &[("ITSM_FAULT_ABORT_BEFORE_SEND", "false"), ("ITSM_FILING_GRACE_MINUTES", "0")]
        },
    };

    let mut crashing = serve(true).start();
    crashing.ready(&http).await;
    let base = crashing.base.clone();
    let (token, item) = setup(&http, &base).await;
    // Reported 20 minutes ago on a 7x24 item with a 30-minute response: the
    // 50 % warning is due at once, so the timer queues it and then aborts.
    let reported = (chrono::Utc::now() - chrono::Duration::minutes(20))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let r = http
        .post(format!("{base}/v1/tickets"))
        .bearer_auth(&token)
        .json(&json!({"line_item_id": item, "title": "crash", "reported_at": reported}))
        .send()
        .await
        .expect("sent");
    assert!(r.status().is_success(), "{}", r.status());

    let started = Instant::now();
    let status = loop {
        if let Some(status) = crashing.exited() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "the fault was never reached");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(!status.success(), "the process died");
    assert!(smtp.messages().is_empty(), "it died before sending");

    let mut restarted = serve(false).start();
    restarted.ready(&http).await;
    // Wait for the outbox to record the message sent. A message recorded
    // sent is never sent again, so from then on the sink holds every
    // delivery there will ever be: no need to give a second one time.
    let outbox = sea_orm::Database::connect(db).await.expect("the service's database");
    let started = Instant::now();
    loop {
        let statuses: Vec<String> = rows(&outbox, "SELECT status FROM outbox")
            .await
            .iter()
            .map(|r| r.try_get("", "status").expect("status"))
            .collect();
        if !statuses.is_empty() && statuses.iter().all(|s| s == "sent") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the alert was not recorded sent after the restart: outbox {statuses:?}\n{}",
            restarted.log()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = outbox.close().await;
    restarted.kill9();
    let got = smtp.messages();
    assert_eq!(got.len(), 1, "delivered exactly once after the restart");
    assert_eq!(got[0].to, vec![MANAGER.to_owned()]);
}
