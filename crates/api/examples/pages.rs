//! Render times of the web console's busiest pages with many tickets
//! stored: `/queue` (with its filters), `/tickets`, `/inspections` and
//! `/dashboard`, on SQLite and PostgreSQL, signed in through `/login` as
//! a browser is.
//!
//! `cargo run --release -p api --example pages -- [--backend sqlite|postgres|both] [--tickets N] [--requests R] [--keep-db]`
//!
//! The tickets are imported in bulk (the same rows, clocks and trail a
//! filing writes), spread over every line item: two in three closed over
//! the months since the contract began, one in three still open, reported
//! over the last two days, with running clocks. Each page is asked for `R`
//! times in a row after two warm-up requests; its p50, p99 and size are printed.

use std::time::{Duration, Instant};

use anyhow::Context;
use api::service::filing::{PastTicket, Steps, import};
use sea_orm::{ConnectionTrait, DbBackend};
use serde_json::{Value, json};
use sla_engine::Timestamp;

mod common;
use common::{Running, backends, drop_database, fresh, percentile, start};

const USER_PASSWORD: &str = "pages bench user password 1";

struct Args {
    backends: Vec<&'static str>,
    tickets: u64,
    requests: usize,
    /// Keep the database afterwards (to read its plans with EXPLAIN).
    keep_db: bool,
}

fn args() -> anyhow::Result<Args> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| argv.iter().position(|a| a == name).and_then(|i| argv.get(i + 1)).cloned();
    let backends = backends(get("--backend").as_deref())?;
    Ok(Args {
        backends,
        tickets: get("--tickets").map(|v| v.parse()).transpose()?.unwrap_or(100_000),
        requests: get("--requests").map(|v| v.parse()).transpose()?.unwrap_or(30),
        keep_db: argv.iter().any(|a| a == "--keep-db"),
    })
}

/// Ticket `i` of `n`: closed over the months since 2026-05-22, or (one in
/// three) open since a moment in the two days before `now`.
fn past_ticket(i: u64, items: &[uuid::Uuid], now: Timestamp) -> PastTicket {
    let line_item_id = items[(i as usize) % items.len()];
    let title = format!("页面基准 {i}");
    if i.is_multiple_of(3) {
        let at = now.unix() - 60 - (i as i64 * 7) % 172_800;
        return PastTicket {
            line_item_id,
            title,
            severity: sla_engine::Severity::General,
            reported_at: Timestamp::from_unix(at),
            steps: Steps::default(),
            closed_at: None,
            assignee_id: None,
        };
    }
    let start = 1_779_379_200; // 2026-05-22 00:00 +08:00
    let span = (now.unix() - 3 * 86_400 - start).max(86_400);
    let at = start + (i as i64 * 7_919) % span;
    let t = |s: i64| Some(Timestamp::from_unix(at + s));
    PastTicket {
        line_item_id,
        title,
        severity: sla_engine::Severity::General,
        reported_at: Timestamp::from_unix(at),
        steps: Steps { acknowledged_at: t(600), arrived_at: t(1800), resolved_at: t(3600) },
        closed_at: t(7200),
        assignee_id: None,
    }
}

async fn preload(
    state: &api::state::AppState,
    token: &str,
    n: u64,
    items: &[uuid::Uuid],
) -> anyhow::Result<()> {
    let admin = api::service::accounts::caller_for_token(state, token)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context("the admin's token")?;
    let now = api::time::Clock::now(&api::time::SystemClock);
    let started = Instant::now();
    let mut done = 0u64;
    while done < n {
        let size = 2000.min(n - done);
        let batch = (done..done + size).map(|i| past_ticket(i, items, now)).collect();
        import(state, &admin, batch).await.map_err(|e| anyhow::anyhow!("import: {e}"))?;
        done += size;
        if done.is_multiple_of(20_000) || done == n {
            eprintln!("  stored {done}/{n} tickets ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    if state.db.get_database_backend() == DbBackend::Postgres {
        state.db.execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}

/// A cookie's `name=value` from a response's `Set-Cookie` headers.
fn cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers().get_all("set-cookie").iter().filter_map(|v| v.to_str().ok()).find_map(|c| {
        let pair = c.split(';').next()?;
        pair.starts_with(&format!("{name}=")).then(|| pair.to_owned())
    })
}

/// Sign in through the form as a browser does; the session cookie.
async fn sign_in(client: &reqwest::Client, base: &str, username: &str) -> anyhow::Result<String> {
    let form = client.get(format!("{base}/login")).send().await?;
    let login = cookie(&form, "itsm_login").context("the sign-in form's cookie")?;
    let body = form.text().await?;
    let at = body.find("name=\"csrf\" value=\"").context("the CSRF field")? + 19;
    let csrf = body[at..].split('"').next().context("its value")?.to_owned();
    let signed = client
        .post(format!("{base}/login"))
        .header("cookie", login)
        .form(&[("username", username), ("password", USER_PASSWORD), ("csrf", &csrf), ("next", "/")])
        .send()
        .await?;
    cookie(&signed, "itsm_session").context("signed in")
}

async fn account(client: &reqwest::Client, base: &str, token: &str, role: &str) -> anyhow::Result<String> {
    let username = format!("bench-{role}");
    let body = json!({"username": username, "role": role, "password": USER_PASSWORD});
    let r = client.post(format!("{base}/v1/users")).bearer_auth(token).json(&body).send().await?;
    anyhow::ensure!(r.status().as_u16() == 201, "POST /v1/users answered {}", r.status());
    Ok(username)
}

/// `path` asked for `requests` times in a row: p50, p99 (ms) and its size.
async fn time_page(
    client: &reqwest::Client,
    base: &str,
    session: &str,
    path: &str,
    requests: usize,
) -> anyhow::Result<(f64, f64, usize)> {
    let mut times = Vec::with_capacity(requests);
    let mut size = 0;
    for i in 0..requests + 2 {
        let t0 = Instant::now();
        let r = client.get(format!("{base}{path}")).header("cookie", session).send().await?;
        anyhow::ensure!(r.status().as_u16() == 200, "{path} answered {}", r.status());
        size = r.bytes().await?.len();
        if i >= 2 {
            times.push(t0.elapsed());
        }
    }
    times.sort();
    Ok((percentile(&times, 0.50), percentile(&times, 0.99), size))
}

#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    for backend in &args.backends {
        let dir = tempfile::tempdir()?;
        let (url, cleanup) = fresh(backend, dir.path(), "pages").await?;
        let Running { state, base, token, shutdown } = start(&url, dir.path(), |_| {}).await?;
        let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build()?;
        let items: Value =
            client.get(format!("{base}/v1/line-items")).bearer_auth(&token).send().await?.json().await?;
        let items: Vec<uuid::Uuid> = items
            .as_array()
            .context("items")?
            .iter()
            .filter_map(|i| i["id"].as_str()?.parse().ok())
            .collect();
        eprintln!("{backend}: storing {} tickets over {} line items", args.tickets, items.len());
        preload(&state, &token, args.tickets, &items).await?;
        let engineer = sign_in(&client, &base, &account(&client, &base, &token, "engineer").await?).await?;
        let manager = sign_in(&client, &base, &account(&client, &base, &token, "manager").await?).await?;
        let item = items[1];
        let pages = [
            ("/queue", &engineer),
            ("/queue?whose=unassigned", &engineer),
            (&format!("/queue?item={item}") as &str, &engineer),
            ("/tickets", &engineer),
            ("/tickets?q=%E9%A1%B5%E9%9D%A2%E5%9F%BA%E5%87%86+4242", &engineer),
            ("/inspections", &engineer),
            ("/dashboard", &manager),
        ];
        for (path, session) in pages {
            let (p50, p99, size) = time_page(&client, &base, session, path, args.requests).await?;
            println!(
                "page backend={backend} tickets={} path={path} p50_ms={p50:.1} p99_ms={p99:.1} kb={:.0}",
                args.tickets,
                size as f64 / 1024.0
            );
        }
        shutdown.cancel();
        state.db.clone().close().await?;
        if args.keep_db {
            eprintln!("{backend}: kept {url}");
            let _ = dir.keep();
        } else {
            drop_database(cleanup).await;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}
