//! `/healthz`, `/readyz` and `/metrics`: for load balancers and Prometheus.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::TAG_OPS;
use super::error::{ApiError, Code, Problem};
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz)).routes(routes!(metrics))
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = TAG_OPS, responses((status = 200, body = String, content_type = "text/plain")))]
async fn healthz() -> &'static str {
    "ok"
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = TAG_OPS, responses(
    (status = 200, body = String, content_type = "text/plain"),
    (status = 503, body = Problem, content_type = "application/problem+json"),
))]
async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state.db.execute_unprepared("SELECT 1").await.map(|_| "ready").map_err(|e| {
        tracing::warn!(error = %e, "not ready");
        ApiError::new(Code::Unavailable, "the database does not answer")
    })
}

/// Prometheus metrics: requests, latencies, tickets by state, clocks by state, the mail queue by status.
#[utoipa::path(get, path = "/metrics", tag = TAG_OPS, responses((status = 200, body = String, content_type = "text/plain")))]
async fn metrics(State(state): State<AppState>) -> Response {
    if let Err(e) = refresh_gauges(&state).await {
        tracing::warn!(error = %e, "could not count tickets for /metrics");
    }
    let mut response = (StatusCode::OK, state.metrics.render()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}

/// Count tickets and clocks by state, now.
async fn refresh_gauges(state: &AppState) -> Result<(), sea_orm::DbErr> {
    let backend = state.db.get_database_backend();
    let now = state.clock.now().unix();
    let tickets = state
        .db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT state, COUNT(*) AS n FROM tickets GROUP BY state",
        ))
        .await?;
    for s in crate::domain::ticket::TicketState::ALL {
        let n = tickets
            .iter()
            .find(|r| r.try_get::<String>("", "state").is_ok_and(|x| x == s.as_str()))
            .and_then(|r| r.try_get::<i64>("", "n").ok())
            .unwrap_or(0);
        metrics::gauge!("itsm_tickets", "state" => s.as_str()).set(n as f64);
    }
    // A running clock past its deadline is breached even before anything is written.
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT CASE WHEN met_at IS NOT NULL THEN 'met' \
             WHEN breached_at IS NOT NULL OR (deadline IS NOT NULL AND deadline <= $1) THEN 'breached' \
             WHEN deadline IS NULL THEN 'paused' ELSE 'running' END AS state, COUNT(*) AS n FROM clocks GROUP BY 1"
        }
        _ => {
            "SELECT CASE WHEN met_at IS NOT NULL THEN 'met' \
             WHEN breached_at IS NOT NULL OR (deadline IS NOT NULL AND deadline <= ?) THEN 'breached' \
             WHEN deadline IS NULL THEN 'paused' ELSE 'running' END AS state, COUNT(*) AS n FROM clocks GROUP BY 1"
        }
    };
    let clocks = state.db.query_all_raw(Statement::from_sql_and_values(backend, sql, [now.into()])).await?;
    for s in ["running", "paused", "met", "breached"] {
        metrics::gauge!("itsm_clocks", "state" => s).set(count_of(&clocks, "state", s));
    }
    let mail = state
        .db
        .query_all_raw(Statement::from_string(
            backend,
            "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status",
        ))
        .await?;
    for s in ["pending", "sent", "dead"] {
        // Dead letters need an admin: alert on itsm_outbox{status="dead"} > 0.
        metrics::gauge!("itsm_outbox", "status" => s).set(count_of(&mail, "status", s));
    }
    Ok(())
}

/// The `n` of the row whose `key` column is `value`, from a GROUP BY count.
fn count_of(rows: &[sea_orm::QueryResult], key: &str, value: &str) -> f64 {
    rows.iter()
        .find(|r| r.try_get::<String>("", key).is_ok_and(|x| x == value))
        .and_then(|r| r.try_get::<i64>("", "n").ok())
        .unwrap_or(0) as f64
}
