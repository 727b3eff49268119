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
