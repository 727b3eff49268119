//! What the benchmarks share: a fresh database per backend, and percentiles.

use std::time::Duration;

use anyhow::Context;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection};

/// A fresh database for `backend` (`sqlite` in `dir`, else a new PostgreSQL
/// database at `TEST_POSTGRES_URL` or 127.0.0.1:5432), and what to drop afterwards.
pub(crate) async fn fresh(
    backend: &str,
    dir: &std::path::Path,
    tag: &str,
) -> anyhow::Result<(String, Option<(DatabaseConnection, String)>)> {
    if backend == "sqlite" {
        return Ok((format!("sqlite://{}?mode=rwc", dir.join(format!("{tag}.db")).display()), None));
    }
    let admin = std::env::var("TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("itsm_{tag}_{}", std::process::id());
    let conn = Database::connect(&admin).await.context("PostgreSQL at 127.0.0.1:5432")?;
    conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}")).await?;
    conn.execute_unprepared(&format!("CREATE DATABASE {name}")).await?;
    let base = admin.rsplit_once('/').map_or(admin.as_str(), |(b, _)| b).to_owned();
    Ok((format!("{base}/{name}"), Some((conn, name))))
}

/// Drop a PostgreSQL database made by [`fresh`].
pub(crate) async fn drop_database(cleanup: Option<(DatabaseConnection, String)>) {
    if let Some((conn, name)) = cleanup {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let _ = conn.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
    }
}

/// The `p` quantile (0 to 1) of sorted durations, in milliseconds.
pub(crate) fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1e3
}

/// The backends `--backend` names: `sqlite`, `postgres` or `both` (the default).
pub(crate) fn backends(named: Option<&str>) -> anyhow::Result<Vec<&'static str>> {
    Ok(match named.unwrap_or("both") {
        "sqlite" => vec!["sqlite"],
        "postgres" => vec!["postgres"],
        "both" => vec!["sqlite", "postgres"],
        other => anyhow::bail!("--backend {other}: sqlite, postgres or both"),
    })
}

/// The first admin's password in a benchmark (the account rules refuse one
/// that holds the username).
const ADMIN_PASSWORD: &str = "a long benchmark secret 42";

/// The app serving in this process on a free loopback port.
pub(crate) struct Running {
    /// Its state, for what a benchmark does in bulk.
    pub(crate) state: api::state::AppState,
    /// `http://127.0.0.1:port`.
    pub(crate) base: String,
    /// The first admin's bearer token.
    pub(crate) token: String,
    /// Stops it.
    pub(crate) shutdown: tokio_util::sync::CancellationToken,
}

/// Start the app on `url` with the repository's configuration, its timer
/// off and no rate limit (one token carries the load), settings adjusted by
/// `tune`; signed in as the first admin.
pub(crate) async fn start(
    url: &str,
    dir: &std::path::Path,
    tune: impl FnOnce(&mut api::settings::Settings),
) -> anyhow::Result<Running> {
    let config = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../config");
    let mut settings =
        api::settings::Settings::for_database(url, &config).map_err(|e| anyhow::anyhow!("{e}"))?;
    settings.admin_password = Some(ADMIN_PASSWORD.to_owned().into());
    settings.outbox_dir = dir.join("outbox");
    settings.timer_enabled = false;
    settings.rate_limit_per_second = 0;
    tune(&mut settings);
    let built = api::startup::build(settings, std::sync::Arc::new(api::time::SystemClock)).await?;
    let state = built.state.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    let shutdown = tokio_util::sync::CancellationToken::new();
    tokio::spawn(api::startup::serve(built.state, listener, None, shutdown.clone()));
    let answer: serde_json::Value = reqwest::Client::new()
        .post(format!("{base}/v1/auth/token"))
        .json(&serde_json::json!({"username": "admin", "password": ADMIN_PASSWORD}))
        .send()
        .await?
        .json()
        .await?;
    let token = answer["access_token"].as_str().context("the admin's token")?.to_owned();
    Ok(Running { state, base, token, shutdown })
}
