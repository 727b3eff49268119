//! Fault tests (issue #7, part 4) on the real `itsm serve` binary: SIGKILL
//! under a filing load, PostgreSQL cut off for 30 s behind a TCP proxy, a
//! SQLite file that can no longer be written, and two instances sharing one
//! PostgreSQL database; afterwards every ticket and every alert is counted.
//!
//! The slow cases are `#[ignore]`d so that `make test` stays quick; `make
//! chaos` runs every case (`--include-ignored --test-threads=1`) and prints
//! the figures of each.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use notifier::sink::{Received, SmtpSink};
use sea_orm::DatabaseConnection;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

use support::{MANAGER, PgDb, Serve, Service, free_port, rows, setup, sqlite_url, until};
/// Tickets go to line item 1: 7x24, respond within 30 minutes. One reported
/// 16 minutes ago has crossed the 50 % response warning (15 minutes) and is
/// 8 minutes short of the 80 % one: it owes exactly one alert, to the
/// supplier's manager, for longer than any case here runs.
const BACKDATE_SECONDS: i64 = 16 * 60;
/// 50 % of the 30-minute response target.
const HALF_RESPONSE_SECONDS: i64 = 15 * 60;

/// How long PostgreSQL stays away in the outage case (the issue says 30 s).
fn outage() -> Duration {
    let secs = std::env::var("CHAOS_OUTAGE_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(30);
    Duration::from_secs(secs)
}

/// The mail lease in the outage cases: longer than the outage, as the
/// default (120 s) is, so that a message whose "sent" cannot be recorded
/// while the database is away is not claimed and sent again meanwhile.
fn outage_lease() -> u64 {
    outage().as_secs() + 30
}

/// Elsewhere short, so that a message left unrecorded is sent again within
/// the test, and shows up as a double.
const SHORT_LEASE: u64 = 3;

/// What the services here get beyond what every process-level test's do.
const CHAOS_ENV: &[(&str, &str)] = &[
    // Subjects in English, as `alert_key` reads them.
    ("ITSM_MAIL_LOCALE", "en"),
    // The load comes from one admin token: the per-client rate
    // limit (tested on its own) would answer it 429.
    ("ITSM_RATE_LIMIT_PER_SECOND", "0"),
    // Backdated filings warn at once: that warning is the alert under test.
    ("ITSM_FILING_GRACE_MINUTES", "0"),
    // The timer's "alert sent" lines say which instance sent what (d).
    ("RUST_LOG", "warn,api::worker=info"),
];

// ---------------------------------------------------------------- a TCP proxy

/// A TCP proxy in front of PostgreSQL that can play an outage: every open
/// connection is cut and new ones are refused (the listener is closed), as
/// when the server stops, without touching the machine's real PostgreSQL.
struct Proxy {
    port: u16,
    upstream: String,
    accept: Mutex<Option<JoinHandle<()>>>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: &str) -> Arc<Self> {
        let p = Arc::new(Self {
            port: free_port(),
            upstream: upstream.to_owned(),
            accept: Mutex::new(None),
            conns: Arc::default(),
        });
        p.up().await;
        p
    }

    async fn up(&self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.expect("proxy listens");
        let upstream = self.upstream.clone();
        let conns = Arc::clone(&self.conns);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                if let Ok(mut c) = conns.lock() {
                    c.retain(|t| !t.is_finished());
                    c.push(task);
                }
            }
        });
        if let Ok(mut a) = self.accept.lock() {
            *a = Some(accept);
        }
    }

    /// Cut every connection and refuse new ones; returns once all are closed.
    async fn down(&self) {
        let accept = self.accept.lock().ok().and_then(|mut a| a.take());
        let conns: Vec<_> = self.conns.lock().map(|mut c| c.drain(..).collect()).unwrap_or_default();
        for task in accept.into_iter().chain(conns) {
            task.abort();
            let _ = task.await;
        }
    }
}

/// What the outage cases (b) and (e) start from: a fresh PostgreSQL database
/// reached only through a proxy that can cut it off, an SMTP sink, and a
/// service on the proxied database whose mail lease outlasts the outage,
/// ready, with the admin's token and line item 1's id.
struct BehindProxy {
    pg: PgDb,
    proxy: Arc<Proxy>,
    smtp: SmtpSink,
    http: reqwest::Client,
    service: Service,
    token: String,
    item: String,
    /// The service's folder, kept for as long as it runs.
    dir: tempfile::TempDir,
}

/// `mail_to` gives the SMTP URL the service sends to: the sink's own, or a
/// relay in front of the sink that may act on the proxy.
async fn behind_proxy(
    label: &str,
    mail_to: impl AsyncFnOnce(&SmtpSink, &Arc<Proxy>) -> String,
) -> BehindProxy {
    let pg = PgDb::create(label).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpSink::start().expect("SMTP sink");
    let http = support::client();
    let proxy = Proxy::start(&pg.host()).await;
    let smtp_url = mail_to(&smtp, &proxy).await;
    let db = pg.url_via(proxy.port);
    let serve = Serve {
        db: &db,
        dir: dir.path(),
        smtp: Some(&smtp_url),
        lease_seconds: outage_lease(),
        ignore_sigxfsz: false,
        env: CHAOS_ENV,
    };
    let mut service = serve.start();
    service.ready(&http).await;
    let (token, item) = setup(&http, &service.base).await;
    BehindProxy { pg, proxy, smtp, http, service, token, item, dir }
}

// ---------------------------------------------------------------- the API

/// What one filing got back.
#[derive(Clone, Debug)]
enum Outcome {
    Created {
        id: String,
        number: String,
    },
    Answered {
        status: u16,
        problem: bool,
        code: String,
        retry_after: bool,
        detail: String,
    },
    /// No HTTP answer: refused, reset, or cut mid-body.
    Transport(String),
}

#[derive(Clone, Debug)]
struct Attempt {
    title: String,
    started: Instant,
    ended: Instant,
    outcome: Outcome,
}

async fn file(
    http: &reqwest::Client,
    base: &str,
    token: &str,
    item: &str,
    title: &str,
    reported_at: Option<DateTime<Utc>>,
) -> Outcome {
    let mut body = json!({"line_item_id": item, "title": title, "severity": "major"});
    if let Some(at) = reported_at {
        body["reported_at"] = json!(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    let response = match http.post(format!("{base}/v1/tickets")).bearer_auth(token).json(&body).send().await {
        Ok(r) => r,
        Err(e) => return Outcome::Transport(e.to_string()),
    };
    let status = response.status().as_u16();
    let problem = response
        .headers()
        .get(reqwest::header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/problem+json"));
    let retry_after = response.headers().contains_key(reqwest::header::RETRY_AFTER);
    let body: Value = match response.json().await {
        Ok(v) => v,
        Err(e) => return Outcome::Transport(format!("{status}, body lost: {e}")),
    };
    if status == 201 {
        Outcome::Created {
            id: body["id"].as_str().expect("id").to_owned(),
            number: body["number"].as_str().expect("number").to_owned(),
        }
    } else {
        Outcome::Answered {
            status,
            problem,
            code: body["code"].as_str().unwrap_or_default().to_owned(),
            retry_after,
            detail: body["detail"].as_str().unwrap_or_default().to_owned(),
        }
    }
}

/// A stored ticket as the list shows it.
#[derive(Clone, Debug)]
struct Stored {
    id: String,
    number: String,
    title: String,
}

async fn all_tickets(http: &reqwest::Client, base: &str, token: &str) -> Vec<Stored> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut url = format!("{base}/v1/tickets?limit=200");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = http.get(url).bearer_auth(token).send().await.expect("sent");
        assert_eq!(r.status(), 200, "listing tickets");
        let page: Value = r.json().await.expect("json");
        for t in page["items"].as_array().expect("items") {
            out.push(Stored {
                id: t["id"].as_str().expect("id").to_owned(),
                number: t["number"].as_str().expect("number").to_owned(),
                title: t["title"].as_str().expect("title").to_owned(),
            });
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return out,
        }
    }
}

/// When a ticket says it was reported, given the load's running count.
type Backdate = Arc<dyn Fn(u64) -> Option<DateTime<Utc>> + Send + Sync>;

fn backdated() -> Backdate {
    Arc::new(|_| Some(Utc::now() - chrono::Duration::seconds(BACKDATE_SECONDS)))
}

/// Clients filing tickets with distinct titles as fast as they are answered,
/// round-robin over `bases`, until stopped.
struct Load {
    stop: Arc<AtomicBool>,
    attempts: Arc<Mutex<Vec<Attempt>>>,
    tasks: Vec<JoinHandle<()>>,
}

impl Load {
    fn start(
        http: &reqwest::Client,
        bases: &[String],
        token: &str,
        item: &str,
        clients: usize,
        prefix: &str,
        backdate: &Backdate,
    ) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let attempts = Arc::new(Mutex::new(Vec::new()));
        let counter = Arc::new(AtomicU64::new(0));
        let tasks = (0..clients)
            .map(|c| {
                let (http, token, item, prefix) =
                    (http.clone(), token.to_owned(), item.to_owned(), prefix.to_owned());
                let (stop, attempts, counter, backdate) =
                    (Arc::clone(&stop), Arc::clone(&attempts), Arc::clone(&counter), Arc::clone(backdate));
                let base = bases[c % bases.len()].clone();
                tokio::spawn(async move {
                    let mut i = 0u64;
                    while !stop.load(Ordering::SeqCst) {
                        let title = format!("{prefix}-{c}-{i}");
                        i += 1;
                        let started = Instant::now();
                        let at = backdate(counter.fetch_add(1, Ordering::SeqCst));
                        let outcome = file(&http, &base, &token, &item, &title, at).await;
                        let refused = matches!(outcome, Outcome::Transport(_));
                        if let Ok(mut a) = attempts.lock() {
                            a.push(Attempt { title, started, ended: Instant::now(), outcome });
                        }
                        if refused {
                            // Pacing, not waiting: the process is gone; do not spin.
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                })
            })
            .collect();
        Self { stop, attempts, tasks }
    }

    fn created(&self) -> usize {
        self.attempts
            .lock()
            .map(|a| a.iter().filter(|x| matches!(x.outcome, Outcome::Created { .. })).count())
            .unwrap_or(0)
    }

    fn created_since(&self, since: Instant) -> usize {
        self.attempts
            .lock()
            .map(|a| {
                a.iter()
                    .filter(|x| x.started >= since && matches!(x.outcome, Outcome::Created { .. }))
                    .count()
            })
            .unwrap_or(0)
    }

    async fn finish(self) -> Vec<Attempt> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            t.await.expect("client task");
        }
        self.attempts.lock().map(|a| a.clone()).unwrap_or_default()
    }
}

/// Figures of the ticket check.
#[derive(Debug, Default)]
struct TicketFigures {
    attempts: usize,
    created: usize,
    stored: usize,
    /// Stored, though the client got no 201 (in flight when the process or the connection died).
    stored_unanswered: usize,
    /// Of those, answered 503: the statement committed, the connection was cut before the answer.
    stored_after_503: usize,
    transport_errors: usize,
}

/// Every 201 is stored exactly as answered; no title, number or id is stored
/// twice; nothing is stored that no client asked for.
fn check_tickets(attempts: &[Attempt], stored: &[Stored]) -> TicketFigures {
    let mut by_title: BTreeMap<&str, &Stored> = BTreeMap::new();
    let mut numbers = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for s in stored {
        assert!(by_title.insert(&s.title, s).is_none(), "title {} stored twice", s.title);
        assert!(numbers.insert(&s.number), "number {} given twice", s.number);
        assert!(ids.insert(&s.id), "id {} stored twice", s.id);
    }
    let mut asked: BTreeMap<&str, &Attempt> = BTreeMap::new();
    let mut f = TicketFigures { attempts: attempts.len(), stored: stored.len(), ..TicketFigures::default() };
    for a in attempts {
        assert!(asked.insert(&a.title, a).is_none(), "the load reused title {}", a.title);
        match &a.outcome {
            Outcome::Created { id, number } => {
                f.created += 1;
                let s = by_title.get(a.title.as_str()).unwrap_or_else(|| panic!("201 for {} lost", a.title));
                assert_eq!((&s.id, &s.number), (id, number), "{} stored as answered", a.title);
            }
            Outcome::Transport(_) => f.transport_errors += 1,
            Outcome::Answered { .. } => {}
        }
    }
    for s in stored {
        let a = asked.get(s.title.as_str()).unwrap_or_else(|| panic!("{} stored, never asked for", s.title));
        if !matches!(a.outcome, Outcome::Created { .. }) {
            // Only a request cut off mid-way may have been stored without a 201.
            assert!(
                matches!(&a.outcome, Outcome::Transport(_) | Outcome::Answered { status: 503, .. }),
                "{} stored though answered {:?}",
                s.title,
                a.outcome
            );
            f.stored_unanswered += 1;
            if matches!(a.outcome, Outcome::Answered { .. }) {
                f.stored_after_503 += 1;
            }
        }
    }
    f
}

/// The ticket number and the threshold ("50%", "breached") an alert's subject names.
fn alert_key(m: &Received) -> (String, String) {
    let s = m.subject();
    let number = s
        .split_whitespace()
        .find(|w| w.starts_with("INC-"))
        .unwrap_or_else(|| panic!("no ticket number in {s:?}"))
        .to_owned();
    let threshold = if s.contains("breached") {
        "breached".to_owned()
    } else {
        s.split_whitespace().find(|w| w.ends_with('%')).unwrap_or("?").to_owned()
    };
    (number, threshold)
}

/// Figures of the alert check.
#[derive(Debug, Default)]
struct AlertFigures {
    expected: usize,
    received: usize,
    doubles: usize,
    outbox_rows: usize,
}

/// Wait until every stored ticket's one alert is recorded as sent, then check
/// that the sink got exactly one message per (ticket, threshold), the 50 %
/// response warning, to the manager, and nothing else.
async fn check_alerts(smtp: &SmtpSink, db: &DatabaseConnection, stored: &[Stored]) -> AlertFigures {
    let expected = stored.len();
    // Sent and recorded: once every outbox row says "sent", nothing is
    // left to be sent again, so a double would already be in the sink.
    let started = Instant::now();
    loop {
        let counts = rows(db, "SELECT status, count(*) AS n FROM outbox GROUP BY status").await;
        let by: BTreeMap<String, i64> = counts
            .iter()
            .map(|r| {
                (r.try_get::<String>("", "status").expect("status"), r.try_get::<i64>("", "n").expect("n"))
            })
            .collect();
        let sent = by.get("sent").copied().unwrap_or(0) as usize;
        if sent >= expected && by.len() == 1 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "alerts not all sent: outbox {by:?}, expected {expected} sent"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let messages = smtp.messages();
    let mut per_key: BTreeMap<(String, String), usize> = BTreeMap::new();
    let mut message_ids = BTreeSet::new();
    for m in &messages {
        assert_eq!(m.to, vec![MANAGER.to_owned()], "only the manager is told");
        *per_key.entry(alert_key(m)).or_default() += 1;
        message_ids.insert(m.header("Message-ID").unwrap_or_default());
    }
    let doubles = per_key.values().filter(|n| **n > 1).map(|n| n - 1).sum();
    let outbox_rows =
        rows(db, "SELECT count(*) AS n FROM outbox").await[0].try_get::<i64>("", "n").expect("n");
    let f = AlertFigures { expected, received: messages.len(), doubles, outbox_rows: outbox_rows as usize };
    eprintln!("alerts: {f:?}");
    let numbers: BTreeSet<&str> = stored.iter().map(|s| s.number.as_str()).collect();
    for ((number, threshold), n) in &per_key {
        assert!(numbers.contains(number.as_str()), "alert for {number}, which is not stored");
        assert_eq!(threshold, "50%", "only the 50 % warning is due for {number}");
        assert_eq!(*n, 1, "{number} at {threshold} sent {n} times");
    }
    for s in stored {
        assert!(per_key.contains_key(&(s.number.clone(), "50%".to_owned())), "alert for {} lost", s.number);
    }
    assert_eq!(message_ids.len(), messages.len(), "no Message-ID twice");
    assert_eq!(f.outbox_rows, expected, "one outbox row per ticket");
    let alerts =
        rows(db, "SELECT count(*) AS n FROM clock_alerts").await[0].try_get::<i64>("", "n").expect("n");
    assert_eq!(alerts as usize, expected, "one threshold recorded per ticket");
    f
}

// ---------------------------------------------------------------- (a) kill -9

const KILL_ROUNDS: usize = 3;
const KILL_CLIENTS: usize = 16;

/// (a) SIGKILL under a filing load, three times over; every 201 survives, once.
async fn kill_under_load(db: &str, dir: &Path) {
    let http = support::client();
    let serve =
        Serve { db, dir, smtp: None, lease_seconds: SHORT_LEASE, ignore_sigxfsz: false, env: CHAOS_ENV };
    let mut service = serve.start();
    service.ready(&http).await;
    let (token, item) = setup(&http, &service.base).await;
    let mut attempts = Vec::new();
    let now: Backdate = Arc::new(|_| None);
    for round in 0..KILL_ROUNDS {
        let load = Load::start(
            &http,
            std::slice::from_ref(&service.base),
            &token,
            &item,
            KILL_CLIENTS,
            &format!("kill{round}"),
            &now,
        );
        // Kill in the thick of it: after some filings have been answered,
        // with every client's next request in flight.
        let target = 150;
        until(Duration::from_secs(60), "filings before the kill", || load.created() >= target).await;
        service.kill9();
        let got = load.finish().await;
        let cut = got.iter().find_map(|a| match &a.outcome {
            Outcome::Transport(e) => Some(e.as_str()),
            _ => None,
        });
        eprintln!(
            "kill round {round}: {} attempts, {} answered 201 before SIGKILL; a cut request saw: {}",
            got.len(),
            got.iter().filter(|a| matches!(a.outcome, Outcome::Created { .. })).count(),
            cut.unwrap_or("-")
        );
        attempts.extend(got);
        service = serve.start();
        service.ready(&http).await;
    }
    // Nothing but 201s or cut connections: no 5xx, no 4xx.
    for a in &attempts {
        assert!(
            !matches!(a.outcome, Outcome::Answered { .. }),
            "{} answered {:?} (only 201 or a cut connection expected)",
            a.title,
            a.outcome
        );
    }
    let stored = all_tickets(&http, &service.base, &token).await;
    let f = check_tickets(&attempts, &stored);
    assert!(
        f.stored_unanswered <= KILL_ROUNDS * KILL_CLIENTS,
        "at most one request per client can be in flight at a kill"
    );
    eprintln!(
        "figures (a) kill -9: rounds={KILL_ROUNDS} clients={KILL_CLIENTS} attempts={} answered_201={} \
         checked_after_restart={} stored_without_201={} connection_errors={} duplicates=0",
        f.attempts, f.created, f.stored, f.stored_unanswered, f.transport_errors
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: run by `make chaos`"]
async fn a_kill_9_under_load_on_sqlite_loses_and_doubles_no_ticket() {
    let dir = tempfile::tempdir().expect("tempdir");
    kill_under_load(&sqlite_url(dir.path()), dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: run by `make chaos`"]
async fn a_kill_9_under_load_on_postgres_loses_and_doubles_no_ticket() {
    let pg = PgDb::create("chaos_kill").await;
    let dir = tempfile::tempdir().expect("tempdir");
    kill_under_load(&pg.url, dir.path()).await;
}

// ---------------------------------------------------------------- (b) outage

/// (b) PostgreSQL away for 30 s under load: 503 problem+json meanwhile, back
/// by itself afterwards, every alert sent once (including those that fell
/// due during the outage).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: run by `make chaos`"]
async fn b_postgres_outage_answers_503_recovers_and_loses_no_alert() {
    let BehindProxy { pg, proxy, smtp, http, service, token, item, dir: _dir } =
        behind_proxy("chaos_outage", async |sink, _| sink.url()).await;
    let bases = [service.base.clone()];

    // Before: tickets whose alert is due at once.
    let before = Load::start(&http, &bases, &token, &item, 8, "before", &backdated());
    until(Duration::from_secs(60), "filings before the outage", || before.created() >= 80).await;
    let mut attempts = before.finish().await;

    // Tickets whose 50 % warning falls due during the outage, 3 to 21 s into it.
    let mut due_during = Vec::new();
    for k in 0..10i64 {
        let at = Utc::now() - chrono::Duration::seconds(HALF_RESPONSE_SECONDS - 3 - 2 * k);
        let title = format!("due-during-{k}");
        let started = Instant::now();
        let outcome = file(&http, &service.base, &token, &item, &title, Some(at)).await;
        let Outcome::Created { number, .. } = &outcome else { panic!("filing {title}: {outcome:?}") };
        due_during
            .push((number.clone(), (at + chrono::Duration::seconds(HALF_RESPONSE_SECONDS)).timestamp()));
        attempts.push(Attempt { title, started, ended: Instant::now(), outcome });
    }

    // The outage, with the load running throughout.
    let load = Load::start(&http, &bases, &token, &item, 8, "during", &backdated());
    let down_at = Instant::now();
    let down_unix = Utc::now().timestamp();
    proxy.down().await;
    // Probe reads too, while it is down.
    let mut read_statuses = Vec::new();
    while down_at.elapsed() < outage() {
        if let Ok(r) =
            http.get(format!("{}/v1/tickets?limit=1", service.base)).bearer_auth(&token).send().await
        {
            read_statuses.push((r.status().as_u16(), r.headers().contains_key(reqwest::header::RETRY_AFTER)));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    proxy.up().await;
    let up_at = Instant::now();
    let up_unix = Utc::now().timestamp();
    until(Duration::from_secs(30), "the first 201 after the outage", || load.created_since(up_at) > 0).await;
    let recovered_in = up_at.elapsed();
    until(Duration::from_secs(30), "filings after the outage", || load.created_since(up_at) >= 40).await;
    let during = load.finish().await;

    // While down (requests begun after the cut, answered before the restore):
    // every answer is 503 problem+json `unavailable` with Retry-After.
    let mut answered_503 = 0;
    for a in &during {
        if a.started > down_at + Duration::from_secs(1) && a.ended < up_at {
            match &a.outcome {
                Outcome::Answered { status: 503, problem: true, code, retry_after: true, .. }
                    if code == "unavailable" =>
                {
                    answered_503 += 1;
                }
                other => panic!("{} during the outage: {other:?}", a.title),
            }
        }
        if let Outcome::Answered { status, .. } = &a.outcome {
            assert_eq!(*status, 503, "{}: {:?}", a.title, a.outcome);
        }
    }
    assert!(answered_503 > 0, "the outage was seen by the clients");
    assert!(!read_statuses.is_empty(), "reads were tried during the outage");
    for (status, retry_after) in &read_statuses {
        // A token checked within the last few seconds is cached; a read still needs the database.
        assert_eq!((*status, *retry_after), (503, true), "a read during the outage");
    }
    attempts.extend(during);

    let stored = all_tickets(&http, &service.base, &token).await;
    let f = check_tickets(&attempts, &stored);
    let direct = sea_orm::Database::connect(&pg.url).await.expect("direct connection");
    let alerts = check_alerts(&smtp, &direct, &stored).await;
    // The alerts that fell due while the database was away went out after it came back.
    let mut late = 0;
    for (number, due) in &due_during {
        if *due > down_unix + 1 {
            let sent = rows(
                &direct,
                &format!(
                    "SELECT o.sent_at FROM outbox o JOIN tickets t ON t.id = o.ticket_id \
                     WHERE t.number = '{number}'"
                ),
            )
            .await;
            let sent_at: i64 = sent[0].try_get("", "sent_at").expect("sent_at");
            assert!(sent_at >= up_unix - 1, "{number} due during the outage, sent at {sent_at}");
            late += 1;
        }
    }
    assert!(late > 0, "some alerts fell due during the outage");
    assert!(!service.log().contains("panicked"), "no panic:\n{}", service.log());
    eprintln!(
        "figures (b) postgres outage: outage_s={} attempts={} answered_201={} answered_503_while_down={} \
         reads_503_while_down={} recovered_after_ms={} stored={} \
         stored_without_201={} (of which answered_503={}) \
         alerts_expected={} \
         alerts_sent={} alerts_due_during_outage={} doubles={}",
        outage().as_secs(),
        f.attempts,
        f.created,
        answered_503,
        read_statuses.len(),
        recovered_in.as_millis(),
        f.stored,
        f.stored_unanswered,
        f.stored_after_503,
        alerts.expected,
        alerts.received,
        late,
        alerts.doubles
    );
    drop(service);
    drop(direct);
}

// ---------------------------------------------------------------- (c) disk full

/// (c) The SQLite file can no longer be written: a clear 503, reads still
/// work, nothing half-written, and writing resumes by itself once space is back.
///
/// Why a file-size limit: the tests may run as root, for whom `chmod a-w`
/// stops nothing, and mounting a tiny filesystem needs privileges a test does
/// not have. `prlimit --fsize=0` on the running service makes every write to
/// a file fail with EFBIG, as a full disk fails it with ENOSPC, for root too
/// (SIGXFSZ is ignored so that the write fails instead of the process dying).
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn c_sqlite_that_cannot_write_answers_503_and_stays_intact() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = sqlite_url(dir.path());
    let http = support::client();
    let serve = Serve {
        db: &db,
        dir: dir.path(),
        smtp: None,
        lease_seconds: SHORT_LEASE,
        ignore_sigxfsz: true,
        env: CHAOS_ENV,
    };
    let mut service = serve.start();
    service.ready(&http).await;
    let (token, item) = setup(&http, &service.base).await;
    let base = service.base.clone();

    let mut attempts = Vec::new();
    let mut file_one = async |title: String| {
        let started = Instant::now();
        let outcome = file(&http, &base, &token, &item, &title, None).await;
        attempts.push(Attempt { title, started, ended: Instant::now(), outcome: outcome.clone() });
        outcome
    };
    for i in 0..10 {
        let o = file_one(format!("before-{i}")).await;
        assert!(matches!(o, Outcome::Created { .. }), "{o:?}");
    }

    let limit = |fsize: &str| {
        let ok = Command::new("prlimit")
            .arg("--pid")
            .arg(service.pid().to_string())
            .arg(format!("--fsize={fsize}"))
            .status()
            .expect("prlimit (util-linux) runs");
        assert!(ok.success(), "prlimit --fsize={fsize}");
    };
    limit("0:unlimited");
    let mut refused = 0;
    for i in 0..5 {
        match file_one(format!("full-{i}")).await {
            Outcome::Answered { status: 503, problem: true, code, retry_after: true, detail }
                if code == "unavailable" && detail.contains("cannot store changes") =>
            {
                refused += 1;
            }
            other => panic!("filing on a full disk: {other:?}"),
        }
    }
    // Reads still work.
    let listed = all_tickets(&http, &base, &token).await;
    assert_eq!(listed.len(), 10, "the ten earlier tickets are readable");

    // Space is back: the same process writes again, without a restart.
    limit("unlimited:unlimited");
    for i in 0..5 {
        let o = file_one(format!("after-{i}")).await;
        assert!(matches!(o, Outcome::Created { .. }), "after space came back: {o:?}");
    }
    assert!(!service.log().contains("panicked"), "no panic:\n{}", service.log());
    service.terminate().await;

    let check = sea_orm::Database::connect(&db).await.expect("open the file");
    let integrity: String =
        rows(&check, "PRAGMA integrity_check").await[0].try_get("", "integrity_check").expect("integrity");
    assert_eq!(integrity, "ok");
    drop(check);
    let mut service = Serve { ignore_sigxfsz: false, ..serve }.start();
    service.ready(&http).await;
    let stored = all_tickets(&http, &service.base, &token).await;
    let f = check_tickets(&attempts, &stored);
    assert_eq!(f.stored, 15, "the 10 before and 5 after, none of the refused");
    eprintln!(
        "figures (c) sqlite cannot write: filed_before=10 refused_503={refused} filed_after_space_back=5 \
         stored_after_restart={} stored_without_201={} integrity_check={integrity}",
        f.stored, f.stored_unanswered
    );
}

// ---------------------------------------------------------------- (d) two instances

/// (d) Two instances, both running the timer, on one PostgreSQL database
/// under a filing load whose alerts fall due over 20 s: each sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: run by `make chaos`"]
async fn d_two_instances_on_one_postgres_send_every_alert_once() {
    let pg = PgDb::create("chaos_twin").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let smtp = SmtpSink::start().expect("SMTP sink");
    let http = support::client();
    let smtp_url = smtp.url();
    let serve = Serve {
        db: &pg.url,
        dir: dir.path(),
        smtp: Some(&smtp_url),
        lease_seconds: SHORT_LEASE,
        ignore_sigxfsz: false,
        env: CHAOS_ENV,
    };
    let mut one = serve.start();
    one.ready(&http).await;
    // The second starts once the first has migrated and made the admin.
    let mut two = serve.start();
    two.ready(&http).await;
    let (token, item) = setup(&http, &one.base).await;
    let bases = [one.base.clone(), two.base.clone()];
    // Crossings spread over the next 20 s, so both timers find clocks falling due.
    let spread: Backdate =
        Arc::new(|n| Some(Utc::now() - chrono::Duration::seconds(HALF_RESPONSE_SECONDS - (n % 21) as i64)));
    let load = Load::start(&http, &bases, &token, &item, 8, "twin", &spread);
    until(Duration::from_secs(120), "filings on both instances", || load.created() >= 400).await;
    let attempts = load.finish().await;
    for a in &attempts {
        assert!(matches!(a.outcome, Outcome::Created { .. }), "{}: {:?}", a.title, a.outcome);
    }
    let stored = all_tickets(&http, &two.base, &token).await;
    let f = check_tickets(&attempts, &stored);
    let direct = sea_orm::Database::connect(&pg.url).await.expect("direct connection");
    let alerts = check_alerts(&smtp, &direct, &stored).await;
    let sent_by = |s: &Service| s.log().matches("alert sent").count();
    // The logs are read by threads of their own: let them catch up.
    until(Duration::from_secs(10), "the senders' log lines", || {
        sent_by(&one) + sent_by(&two) >= alerts.received
    })
    .await;
    let (by_one, by_two) = (sent_by(&one), sent_by(&two));
    assert_eq!(by_one + by_two, alerts.received, "each message was sent by one instance");
    eprintln!(
        "figures (d) two instances: tickets={} answered_201={} alerts_expected={} alerts_sent={} \
         sent_by_instance_1={by_one} sent_by_instance_2={by_two} doubles={}",
        f.stored, f.created, alerts.expected, alerts.received, alerts.doubles
    );
    drop((one, two, direct));
}

// ---------------------------------------------------------------- (e) cut between send and record

/// A relay in front of the SMTP sink that, when the first message's closing
/// "." passes through, cuts PostgreSQL (`pg.down()`) before it lets the
/// sink answer: the service has handed the alert over and cannot yet record
/// that it did. `tripped` says when.
async fn smtp_tripwire(sink: &SmtpSink, pg: Arc<Proxy>, tripped: Arc<Mutex<Option<Instant>>>) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let upstream = sink.url().trim_start_matches("smtp://").to_owned();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("relay listens");
    let port = listener.local_addr().expect("relay address").port();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let (upstream, pg, tripped) = (upstream.clone(), Arc::clone(&pg), Arc::clone(&tripped));
            tokio::spawn(async move {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else { return };
                let (mut from_client, mut to_client) = client.into_split();
                let (mut from_server, mut to_server) = server.into_split();
                tokio::spawn(async move {
                    let _ = tokio::io::copy(&mut from_server, &mut to_client).await;
                });
                let mut buf = vec![0u8; 16 * 1024];
                // The end-of-data mark may straddle two reads.
                let mut tail: Vec<u8> = Vec::new();
                loop {
                    let n = match from_client.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    tail.extend_from_slice(&buf[..n]);
                    let end = tail.windows(5).any(|w| w == b"\r\n.\r\n");
                    tail.drain(..tail.len().saturating_sub(4));
                    let first = end
                        && tripped.lock().is_ok_and(|mut t| {
                            let first = t.is_none();
                            t.get_or_insert_with(Instant::now);
                            first
                        });
                    if first {
                        pg.down().await;
                    }
                    if to_server.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    format!("smtp://127.0.0.1:{port}")
}

/// (e) The worst moment of an outage for the outbox: PostgreSQL goes away
/// after an alert was handed to the mail server and before it was recorded
/// as sent. When the database is back, the alert is recorded, not sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "slow: run by `make chaos`"]
async fn e_postgres_cut_between_sending_an_alert_and_recording_it_sends_it_once() {
    let tripped = Arc::new(Mutex::new(None));
    let BehindProxy { pg, proxy, smtp, http, mut service, token, item, dir: _dir } =
        behind_proxy("chaos_cut", async |sink, proxy| {
            smtp_tripwire(sink, Arc::clone(proxy), Arc::clone(&tripped)).await
        })
        .await;
    let reported = Utc::now() - chrono::Duration::seconds(BACKDATE_SECONDS);
    let outcome = file(&http, &service.base, &token, &item, "cut", Some(reported)).await;
    let Outcome::Created { .. } = &outcome else { panic!("filing: {outcome:?}") };
    let attempts =
        vec![Attempt { title: "cut".into(), started: Instant::now(), ended: Instant::now(), outcome }];

    let tripped_at = || tripped.lock().ok().and_then(|t| *t);
    until(Duration::from_secs(60), "the alert to reach the mail server", || tripped_at().is_some()).await;
    let cut_at = tripped_at().expect("tripped");
    until(Duration::from_secs(10), "the sink to keep the message", || smtp.messages().len() == 1).await;
    // The outage lasts its full length: that is the fault, not a wait for something.
    tokio::time::sleep_until((cut_at + outage()).into()).await;
    // The cut did fall between the two: the message is out, and its row,
    // read past the proxy, does not say so.
    let direct = sea_orm::Database::connect(&pg.url).await.expect("direct connection");
    let status: String =
        rows(&direct, "SELECT status FROM outbox").await[0].try_get("", "status").expect("status");
    assert_eq!(status, "pending", "not recorded as sent while the database was away");
    proxy.up().await;
    // Ready again by itself (the same process, /readyz answers).
    service.ready(&http).await;
    let stored = all_tickets(&http, &service.base, &token).await;
    let f = check_tickets(&attempts, &stored);
    let alerts = check_alerts(&smtp, &direct, &stored).await;
    assert!(!service.log().contains("panicked"), "no panic:\n{}", service.log());
    eprintln!(
        "figures (e) cut between send and record: outage_s={} tickets={} alerts_expected={} alerts_sent={} \
         unrecorded_during_outage=1 doubles={}",
        outage().as_secs(),
        f.stored,
        alerts.expected,
        alerts.received,
        alerts.doubles
    );
    drop((service, direct));
}
