//! Load benchmark of the ticket service: tickets filed per second and
//! p50/p99 latencies of filing and of reading each ticket back, at 1, 8 and
//! 32 concurrent clients, on SQLite and PostgreSQL, beside the database's own
//! single-row insert rate at the same concurrency (over the same pool),
//! optionally with a large table already stored.
//!
//! `cargo run --release -p api --example load -- [--backend sqlite|postgres|both] [--requests R] [--preload N] [--pool P]`
//!
//! The app's pool has `--pool` connections (default 10, as `config/default.toml`);
//! the raw inserts get a connection per client.
//!
//! The app runs in this process on 127.0.0.1 with its real router and
//! storage; only loopback traffic, bounded in count.

use std::time::{Duration, Instant};

use anyhow::Context;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, Statement};
use serde_json::{Value, json};

mod common;
use common::{Running, backends, drop_database, fresh, percentile, start};

struct Args {
    backends: Vec<&'static str>,
    requests: usize,
    preload: u64,
    pool: u32,
}

fn args() -> anyhow::Result<Args> {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let get = |name: &str| argv.iter().position(|a| a == name).and_then(|i| argv.get(i + 1)).cloned();
    let backends = backends(get("--backend").as_deref())?;
    Ok(Args {
        backends,
        requests: get("--requests").map(|v| v.parse()).transpose()?.unwrap_or(2000),
        preload: get("--preload").map(|v| v.parse()).transpose()?.unwrap_or(0),
        pool: get("--pool").map(|v| v.parse()).transpose()?.unwrap_or(10),
    })
}

/// Rounds of filing and raw inserts per concurrency.
const ROUNDS: usize = 3;

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(0.0)
}

/// File `n` closed tickets of the past year in bulk through the import
/// service (the same rows, clocks and trail a filing writes), as a year of
/// use would leave them.
async fn preload(state: &api::state::AppState, token: &str, n: u64, item: &str) -> anyhow::Result<()> {
    use api::service::filing::{PastTicket, Steps, import};
    use sla_engine::Timestamp;
    let admin = api::service::accounts::caller_for_token(state, token)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .context("the admin's token")?;
    let line_item_id: uuid::Uuid = item.parse().context("item id")?;
    let batch = 2000u64;
    let started = Instant::now();
    let mut done = 0u64;
    while done < n {
        let size = batch.min(n - done);
        let tickets = (done..done + size)
            .map(|i| {
                // Spread over the year 2026 up to 1 November, a ticket every half minute or so.
                let at = 1_767_196_800 + (i as i64 * 26) % 26_000_000;
                let t = |s: i64| Some(Timestamp::from_unix(at + s));
                PastTicket {
                    line_item_id,
                    title: format!("preloaded {i}"),
                    severity: sla_engine::Severity::General,
                    reported_at: Timestamp::from_unix(at),
                    steps: Steps { acknowledged_at: t(600), arrived_at: t(1800), resolved_at: t(3600) },
                    closed_at: t(7200),
                    assignee_id: None,
                }
            })
            .collect();
        import(state, &admin, tickets).await.map_err(|e| anyhow::anyhow!("import: {e}"))?;
        let before = done * 10 / n.max(1);
        done += size;
        if done * 10 / n.max(1) > before {
            eprintln!("  preloaded {done}/{n} tickets ({:.0} s)", started.elapsed().as_secs_f64());
        }
    }
    if state.db.get_database_backend() == DbBackend::Postgres {
        state.db.execute_unprepared("ANALYZE").await?;
    }
    Ok(())
}

/// The database's own single-row insert rate at `clients` concurrency.
async fn raw_inserts(db: &DatabaseConnection, clients: usize, total: usize) -> anyhow::Result<f64> {
    let backend = db.get_database_backend();
    db.execute_unprepared("CREATE TABLE IF NOT EXISTS bench_rows (id TEXT PRIMARY KEY, payload TEXT NOT NULL, created_at BIGINT NOT NULL)").await?;
    let sql = if backend == DbBackend::Postgres {
        "INSERT INTO bench_rows (id, payload, created_at) VALUES ($1, $2, $3)"
    } else {
        "INSERT INTO bench_rows (id, payload, created_at) VALUES (?, ?, ?)"
    };
    let started = Instant::now();
    let per = total / clients;
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            for _ in 0..per {
                let stmt = Statement::from_sql_and_values(
                    backend,
                    sql,
                    [uuid::Uuid::now_v7().to_string().into(), "payload".into(), 0i64.into()],
                );
                db.execute_raw(stmt).await?;
            }
            Ok::<_, sea_orm::DbErr>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    Ok((per * clients) as f64 / started.elapsed().as_secs_f64())
}

#[allow(clippy::print_stdout)]
#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = args()?;
    for backend in &args.backends {
        let dir = tempfile::tempdir()?;
        let (url, cleanup) = fresh(backend, dir.path(), "load").await?;
        let Running { state, base, token, shutdown } =
            start(&url, dir.path(), |s| s.database_max_connections = args.pool).await?;
        let db = state.db.clone();
        let client = reqwest::Client::new();
        let items: Value =
            client.get(format!("{base}/v1/line-items")).bearer_auth(&token).send().await?.json().await?;
        let first = items.as_array().and_then(|a| a.first()).context("items")?;
        let item = first["id"].as_str().context("item id")?.to_owned();
        if args.preload > 0 {
            eprintln!("{backend}: preloading {} tickets", args.preload);
            preload(&state, &token, args.preload, &item).await?;
        }
        for clients in [1usize, 8, 32] {
            let per = (args.requests / clients).max(1);
            // Filing alone, so that its rate compares with single-row
            // inserts; the two alternate for ROUNDS rounds and the medians
            // are compared, so that a noisy moment does not decide the ratio.
            let mut filed: Vec<(reqwest::Client, Vec<(Duration, String)>)> = Vec::new();
            let (mut filing_rates, mut raw_rates) = (Vec::new(), Vec::new());
            for _ in 0..ROUNDS {
                let started = Instant::now();
                let mut tasks = Vec::new();
                for _ in 0..clients {
                    let (client, base, token, item) =
                        (reqwest::Client::new(), base.clone(), token.clone(), item.clone());
                    tasks.push(tokio::spawn(async move {
                        let mut filed = Vec::with_capacity(per);
                        for _ in 0..per {
                            let t0 = Instant::now();
                            let r = client
                                .post(format!("{base}/v1/tickets"))
                                .bearer_auth(&token)
                                .json(&json!({"line_item_id": item, "title": "load test", "severity": "general"}))
                                .send()
                                .await?;
                            anyhow::ensure!(r.status().as_u16() == 201, "filing answered {}", r.status());
                            let t: Value = r.json().await?;
                            filed.push((t0.elapsed(), t["id"].as_str().unwrap_or_default().to_owned()));
                        }
                        Ok((client, filed))
                    }));
                }
                for t in tasks {
                    filed.push(t.await??);
                }
                filing_rates.push((per * clients) as f64 / started.elapsed().as_secs_f64());
                // The database's own rate at this concurrency: a connection per client.
                let raw_db = api::store::connect(&url, clients as u32).await?;
                raw_rates.push(raw_inserts(&raw_db, clients, args.requests).await?);
                raw_db.close().await?;
            }
            let filings = median(&mut filing_rates);
            let raw = median(&mut raw_rates);
            // Then each client reads back the tickets it filed in the last
            // round, at the same concurrency.
            let mut posts: Vec<Duration> =
                filed.iter().flat_map(|(_, t)| t.iter().map(|(d, _)| *d)).collect();
            let last_round = filed.split_off(filed.len() - clients);
            let started = Instant::now();
            let mut tasks = Vec::new();
            for (client, tickets) in last_round {
                let (base, token) = (base.clone(), token.clone());
                tasks.push(tokio::spawn(async move {
                    let mut gets = Vec::with_capacity(tickets.len());
                    for (_, id) in tickets {
                        let t0 = Instant::now();
                        let r =
                            client.get(format!("{base}/v1/tickets/{id}")).bearer_auth(&token).send().await?;
                        anyhow::ensure!(r.status().is_success(), "reading answered {}", r.status());
                        let _ = r.bytes().await?;
                        gets.push(t0.elapsed());
                    }
                    Ok(gets)
                }));
            }
            let mut gets = Vec::new();
            for t in tasks {
                gets.extend(t.await??);
            }
            let reads = gets.len() as f64 / started.elapsed().as_secs_f64();
            posts.sort();
            gets.sort();
            println!(
                "{backend} preload={} clients={clients} filed/s={filings:.1} post_p50_ms={:.2} post_p99_ms={:.2} read/s={reads:.1} get_p50_ms={:.2} get_p99_ms={:.2} raw_inserts/s={raw:.1} filed/raw={:.2}",
                args.preload,
                percentile(&posts, 0.50),
                percentile(&posts, 0.99),
                percentile(&gets, 0.50),
                percentile(&gets, 0.99),
                filings / raw,
            );
        }
        shutdown.cancel();
        db.close().await?;
        drop_database(cleanup).await;
    }
    Ok(())
}
