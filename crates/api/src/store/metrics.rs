//! Counts for the service's gauges: live tickets by state, unmet clocks by
//! standing, queued and dead messages. Only live rows are counted, through
//! indexes, so that a count costs what is in flight, not the whole history
//! (closed tickets, met clocks and sent mail grow without end; their totals
//! are counters, not gauges).

use sea_orm::{ConnectionTrait, DbBackend, DbErr, QueryResult, Statement};
use sla_engine::Timestamp;

/// Each group's count, as (name, n).
pub type Counts = Vec<(String, i64)>;

fn counts(rows: &[QueryResult], key: &str) -> Counts {
    rows.iter()
        .filter_map(|r| Some((r.try_get::<String>("", key).ok()?, r.try_get::<i64>("", "n").ok()?)))
        .collect()
}

fn quoted(names: &[&str]) -> String {
    names.iter().map(|n| format!("'{}'", n.replace('\'', "''"))).collect::<Vec<_>>().join(", ")
}

/// Tickets in these states (the live ones), by state.
pub async fn tickets_by_state(db: &impl ConnectionTrait, states: &[&str]) -> Result<Counts, DbErr> {
    let sql = format!(
        "SELECT state, COUNT(*) AS n FROM tickets WHERE state IN ({}) GROUP BY state",
        quoted(states)
    );
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    Ok(counts(&rows, "state"))
}

/// Clocks not met, by standing at `now`: a running clock past its deadline
/// is breached even before the worker has written so.
pub async fn unmet_clocks_by_state(db: &impl ConnectionTrait, now: Timestamp) -> Result<Counts, DbErr> {
    let backend = db.get_database_backend();
    let p = if backend == DbBackend::Postgres { "$1" } else { "?" };
    let sql = format!(
        "SELECT CASE WHEN breached_at IS NOT NULL OR (deadline IS NOT NULL AND deadline <= {p}) THEN 'breached' \
         WHEN deadline IS NULL THEN 'paused' ELSE 'running' END AS state, COUNT(*) AS n FROM clocks \
         WHERE met_at IS NULL GROUP BY 1"
    );
    let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, [now.unix().into()])).await?;
    Ok(counts(&rows, "state"))
}

/// Messages in these statuses (queued and dead), by status.
pub async fn outbox_by_status(db: &impl ConnectionTrait, statuses: &[&str]) -> Result<Counts, DbErr> {
    let sql = format!(
        "SELECT status, COUNT(*) AS n FROM outbox WHERE status IN ({}) GROUP BY status",
        quoted(statuses)
    );
    let rows = db.query_all_raw(Statement::from_string(db.get_database_backend(), sql)).await?;
    Ok(counts(&rows, "status"))
}
