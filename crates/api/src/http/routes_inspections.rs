//! `GET /v1/inspections`, `POST /v1/inspections/{id}/complete` and
//! `POST /v1/inspections/{id}/approve`: inspection tasks (巡检).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use sla_engine::Timestamp;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::TAG_INSPECTIONS;
use super::error::{ApiError, ApiResult, Code, Problem};
use super::extract::{AppJson, AppPath, AppQuery};
use super::local;
use crate::domain::access::Caller;
use crate::domain::inspections::{Check, InspectionStatus, Task};
use crate::service::inspections::{self, CompletionInput, TaskFilter};
use crate::state::AppState;

/// An inspection task.
#[derive(Debug, Serialize, ToSchema)]
pub struct InspectionView {
    /// Id.
    pub id: Uuid,
    /// Line item id.
    pub line_item_id: Uuid,
    /// Line item 序号.
    pub line_item_seq: u32,
    /// Agency key.
    pub agency: String,
    /// `day`, `week`, `month`, `quarter` or `year`.
    pub every: String,
    /// The device class, for per-class cycles.
    pub device_class: Option<String>,
    /// Named slot, e.g. `morning`.
    pub slot: Option<String>,
    /// The window opens.
    pub due_from: DateTime<FixedOffset>,
    /// Due before this instant.
    pub due_to: DateTime<FixedOffset>,
    /// `open`, `done`, `late`, `missed`, or `before_go_live` (closed undone before the service went live), as of now.
    pub status: InspectionStatus,
    /// When it was done, as the engineer said.
    pub completed_at: Option<DateTime<FixedOffset>>,
    /// Who did it.
    pub completed_by: Option<Uuid>,
    /// When the completion was recorded: the service's own time.
    pub recorded_at: Option<DateTime<FixedOffset>>,
    /// Recorded after its window had closed, or long after the time it
    /// claims: it counts as late until a manager approves it.
    pub recorded_late: bool,
    /// The manager who approved the late record.
    pub approved_by: Option<Uuid>,
    /// When they approved it.
    pub approved_at: Option<DateTime<FixedOffset>>,
    /// Findings.
    pub findings: Option<String>,
    /// The checklist.
    pub checklist: Vec<Check>,
    /// Links.
    pub attachments: Vec<String>,
}

/// Filters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct InspectionQuery {
    /// Line item id.
    pub line_item_id: Option<Uuid>,
    /// Windows still open at or after this instant.
    pub due_from: Option<DateTime<Utc>>,
    /// Windows opening before this instant.
    pub due_to: Option<DateTime<Utc>>,
    /// 1 to 500 (default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u64>,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(complete)).routes(routes!(approve))
}

fn view(state: &AppState, t: &Task) -> InspectionView {
    let tz = state.item_timezone(t.line_item_id);
    let at = |ts: Timestamp| local(ts, tz);
    InspectionView {
        id: t.id,
        line_item_id: t.line_item_id,
        line_item_seq: state.item(t.line_item_id).map_or(0, |i| i.seq),
        agency: t.agency.clone(),
        every: t.every.clone(),
        device_class: t.device_class.clone(),
        slot: t.slot.clone(),
        due_from: at(t.due_from),
        due_to: at(t.due_to),
        status: t.status(state.clock.now(), state.go_live.at),
        completed_at: t.completed_at.map(at),
        completed_by: t.completed_by,
        recorded_at: t.recorded_at.map(at),
        recorded_late: t.recorded_late,
        approved_by: t.approved_by,
        approved_at: t.approved_at.map(at),
        findings: t.findings.clone(),
        checklist: t.checklist.clone(),
        attachments: t.attachments.clone(),
    }
}

/// What an engineer records on completing an inspection.
#[derive(Clone, Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Completion {
    /// When it was done (default now; not in the future, not before the
    /// window opens). The time of recording is kept beside it: a time inside
    /// a window that has already closed, or more than a day (the grace)
    /// before now, makes the record late until a manager approves it.
    pub completed_at: Option<DateTime<Utc>>,
    /// Findings, up to 10,000 characters.
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub findings: String,
    /// The checklist.
    #[serde(default)]
    #[schema(max_items = 200)]
    pub checklist: Vec<Check>,
    /// Links to photos or reports.
    #[serde(default)]
    #[schema(max_items = 50, value_type = Vec<LinkText>)]
    pub attachments: Vec<String>,
}

/// A link to a photo or a report as the spec states it: an http(s) URL of
/// at most 2,000 characters (the service checks the same rule).
#[derive(Debug)]
pub struct LinkText;

impl utoipa::PartialSchema for LinkText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        super::bounded_text(7, 2000, "^https?://")
    }
}

impl ToSchema for LinkText {}

/// Inspection tasks in the caller's scope, by window.
#[utoipa::path(get, path = "/v1/inspections", operation_id = "list_inspections", tag = TAG_INSPECTIONS, security(("bearer" = [])), params(InspectionQuery),
    responses(
        (status = 200, body = Vec<InspectionView>),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    AppQuery(q): AppQuery<InspectionQuery>,
) -> ApiResult<Json<Vec<InspectionView>>> {
    let limit = q.limit.unwrap_or(100);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::new(Code::BadRequest, "limit must be 1 to 500"));
    }
    let filter = TaskFilter {
        scope: None,
        line_item_id: q.line_item_id,
        due_from: q.due_from.map(Timestamp::from),
        due_to: q.due_to.map(Timestamp::from),
        limit,
        ..TaskFilter::default()
    };
    let rows = inspections::list(&state, &caller, filter).await?;
    Ok(Json(rows.iter().map(|t| view(&state, t)).collect()))
}

/// Record an inspection as done, with findings, a checklist and attachment
/// links (engineers). A record made after its window closed, or long after
/// the time it gives, is marked `recorded_late` and counts as late until a
/// manager approves it.
#[utoipa::path(post, path = "/v1/inspections/{id}/complete", operation_id = "complete_inspection", tag = TAG_INSPECTIONS, security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "inspection id")), request_body = Completion,
    responses(
        (status = 200, body = InspectionView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "already recorded"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn complete(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<Uuid>,
    AppJson(body): AppJson<Completion>,
) -> ApiResult<Json<InspectionView>> {
    let input = CompletionInput {
        completed_at: body.completed_at.map(Timestamp::from),
        findings: body.findings,
        checklist: body.checklist,
        attachments: body.attachments,
    };
    let t = inspections::complete(&state, &caller, id, input).await?;
    Ok(Json(view(&state, &t)))
}

/// Approve an inspection recorded late (managers, in their scope), so that
/// it counts by the time it gives: on time if that lies in its window.
/// Who approved it and when are kept.
#[utoipa::path(post, path = "/v1/inspections/{id}/approve", operation_id = "approve_inspection", tag = TAG_INSPECTIONS, security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "inspection id")),
    responses(
        (status = 200, body = InspectionView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "not recorded late, or already approved"),
    ))]
async fn approve(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<Uuid>,
) -> ApiResult<Json<InspectionView>> {
    let t = inspections::approve(&state, &caller, id).await?;
    Ok(Json(view(&state, &t)))
}
