//! `/healthz` and `/readyz` for load balancers, on the API's listener; and
//! `/metrics` for Prometheus, on a listener of its own (`metrics_listen`),
//! off the API router and its spec.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use utoipa_axum::{router::OpenApiRouter, routes};

use super::TAG_OPS;
use super::error::{ApiError, Code, Problem};
use crate::service::ops;
use crate::state::AppState;

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(healthz)).routes(routes!(readyz))
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
    ops::ready(&state).await.map(|()| "ready").map_err(|e| {
        tracing::warn!(error = %e, "not ready");
        ApiError::new(Code::Unavailable, "the database does not answer")
    })
}

/// The router of the metrics listener: `GET /metrics` and nothing else.
pub fn metrics_router(state: AppState) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(metrics))
        .fallback(|| async { ApiError::new(Code::NotFound, "only /metrics is served here") })
        .with_state(state)
}

/// Prometheus metrics: requests and latencies (labelled by method and route
/// template, from closed sets), live tickets by state, unmet clocks by
/// standing, queued and dead mail.
async fn metrics(State(state): State<AppState>) -> Response {
    if let Err(e) = ops::refresh_gauges(&state).await {
        tracing::warn!(error = %e, "could not count tickets for /metrics");
    }
    let mut response = (StatusCode::OK, state.metrics.render()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"));
    response
}
