//! `GET /v1/admin/outbox` and `POST /v1/admin/outbox/{id}/retry`: the mail queue and its dead letters, for admins.

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::TAG_ADMIN;
use super::error::{ApiError, ApiResult, Code, Problem};
use super::extract::{AppPath, AppQuery};
use super::local;
use crate::domain::access::Caller;
use crate::domain::outbox::{OutboxStatus, QueuedMessage};
use crate::service::outbox;
use crate::state::AppState;

/// A queued, sent or dead-lettered message.
#[derive(Debug, Serialize, ToSchema)]
pub struct OutboxView {
    /// Id.
    pub id: Uuid,
    /// The ticket it is about.
    pub ticket_id: Option<Uuid>,
    /// `warning`, `breach`, `escalation`, `correction`, `inspection_late` or `monthly`.
    pub kind: String,
    /// Recipients' addresses.
    pub recipients: Vec<String>,
    /// Subject.
    pub subject: String,
    /// `pending`, `sent`, `dead` or `withdrawn` (not sent: what it announced did not happen).
    pub status: String,
    /// Send attempts so far.
    pub attempts: i32,
    /// When the next attempt is due (pending messages).
    pub next_attempt_at: DateTime<FixedOffset>,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was queued.
    pub created_at: DateTime<FixedOffset>,
    /// When it was sent.
    pub sent_at: Option<DateTime<FixedOffset>>,
}

impl OutboxView {
    /// A message, its times in the contract's timezone (a message belongs to no line item).
    fn of(m: QueuedMessage, tz: sla_engine::Tz) -> Self {
        Self {
            id: m.id,
            ticket_id: m.ticket_id,
            kind: m.kind,
            recipients: m.recipients,
            subject: m.subject,
            status: m.status.as_str().to_owned(),
            attempts: i32::try_from(m.attempts).unwrap_or(i32::MAX),
            next_attempt_at: local(m.next_attempt_at, tz),
            last_error: m.last_error,
            created_at: local(m.created_at, tz),
            sent_at: m.sent_at.map(|t| local(t, tz)),
        }
    }
}

/// Which messages to list.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// `pending`, `sent` or `dead` (default: all).
    #[param(max_length = 7, pattern = "^(pending|sent|dead)$")]
    pub status: Option<String>,
    /// At most this many, newest first (1 to 200, default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(retry))
}

/// The mail queue, newest first; `status=dead` lists the dead letters.
#[utoipa::path(get, path = "/v1/admin/outbox", operation_id = "list_outbox", tag = TAG_ADMIN, security(("bearer" = [])), params(OutboxQuery),
    responses(
        (status = 200, body = Vec<OutboxView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<OutboxQuery>,
) -> ApiResult<Json<Vec<OutboxView>>> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=200).contains(&limit) {
        return Err(ApiError::new(Code::BadRequest, "limit must be 1 to 200"));
    }
    let status = q
        .status
        .map(|s| s.parse::<OutboxStatus>())
        .transpose()
        .map_err(|_| ApiError::new(Code::BadRequest, "status must be pending, sent or dead"))?;
    let messages = outbox::list(&state, &caller, status, limit).await?;
    Ok(Json(messages.into_iter().map(|m| OutboxView::of(m, state.timezone())).collect()))
}

/// Send a dead-lettered message again, from its first attempt.
#[utoipa::path(post, path = "/v1/admin/outbox/{id}/retry", operation_id = "retry_outbox_message", tag = TAG_ADMIN, security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "message id")),
    responses(
        (status = 200, body = OutboxView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "the message is not dead"),
    ))]
async fn retry(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<Uuid>,
) -> ApiResult<Json<OutboxView>> {
    Ok(Json(OutboxView::of(outbox::retry(&state, &caller, id).await?, state.timezone())))
}
