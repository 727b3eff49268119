//! Counts for the service's gauges: tickets by state, clocks by standing,
//! messages by status.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement};
use sla_engine::Timestamp;

/// Each group's count, as (name, n).
pub type Counts = Vec<(String, i64)>;

fn counts(rows: &[QueryResult], key: &str) -> Counts {
    rows.iter()
        .filter_map(|r| Some((r.try_get::<String>("", key).ok()?, r.try_get::<i64>("", "n").ok()?)))
        .collect()
}

/// Tickets by state.
pub async fn tickets_by_state(db: &impl ConnectionTrait) -> Result<Counts, DbErr> {
    let sql = "SELECT state, COUNT(*) AS n FROM tickets GROUP BY state";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    Ok(counts(&rows, "state"))
}

/// Clocks by standing at `now`: a running clock past its deadline is
/// breached even before the worker has written so.
pub async fn clocks_by_state(db: &impl ConnectionTrait, now: Timestamp) -> Result<Counts, DbErr> {
    let backend = db.get_database_backend();
    let p = if backend == DbBackend::Postgres { "$1" } else { "?" };
    let sql = format!(
        "SELECT CASE WHEN met_at IS NOT NULL THEN 'met' \
         WHEN breached_at IS NOT NULL OR (deadline IS NOT NULL AND deadline <= {p}) THEN 'breached' \
         WHEN deadline IS NULL THEN 'paused' ELSE 'running' END AS state, COUNT(*) AS n FROM clocks GROUP BY 1"
    );
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, [now.unix().into()])).await?;
    Ok(counts(&rows, "state"))
}

/// Messages by status.
pub async fn outbox_by_status(db: &impl ConnectionTrait) -> Result<Counts, DbErr> {
    let sql = "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status";
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    Ok(counts(&rows, "status"))
}
