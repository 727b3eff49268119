//! `GET /v1/inspections` and `POST /v1/inspections/{id}/complete`: inspection tasks (巡检).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sla_engine::Timestamp;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::TAG_INSPECTIONS;
use super::error::{ApiError, ApiResult, Code, Problem};
use super::extract::{AppJson, AppPath, AppQuery};
use crate::domain::access::Caller;
use crate::service::inspections::{self, Check, Completion, Filter, InspectionStatus};
use crate::service::tickets::rfc3339;
use crate::state::AppState;
use crate::store::entities::inspection_task;

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
    pub due_from: DateTime<Utc>,
    /// Due before this instant.
    pub due_to: DateTime<Utc>,
    /// `open`, `done`, `late` or `missed`, as of now.
    pub status: InspectionStatus,
    /// When it was done.
    pub completed_at: Option<DateTime<Utc>>,
    /// Who did it.
    pub completed_by: Option<Uuid>,
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
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(complete))
}

fn view(state: &AppState, t: &inspection_task::Model) -> InspectionView {
    let now = state.clock.now();
    InspectionView {
        id: t.id,
        line_item_id: t.line_item_id,
        line_item_seq: state.item(t.line_item_id).map_or(0, |i| i.seq),
        agency: t.agency_key.clone(),
        every: t.every.clone(),
        device_class: t.device_class.clone(),
        slot: t.slot.clone(),
        due_from: rfc3339(t.due_from),
        due_to: rfc3339(t.due_to),
        status: inspections::status(t, now),
        completed_at: t.completed_at.map(rfc3339),
        completed_by: t.completed_by,
        findings: t.findings.clone(),
        checklist: serde_json::from_str(&t.checklist).unwrap_or_default(),
        attachments: serde_json::from_str(&t.attachments).unwrap_or_default(),
    }
}

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
    let filter = Filter {
        line_item_id: q.line_item_id,
        due_from: q.due_from.map(Timestamp::from),
        due_to: q.due_to.map(Timestamp::from),
        limit,
    };
    let rows = inspections::list(&state, &caller, filter).await?;
    Ok(Json(rows.iter().map(|t| view(&state, t)).collect()))
}

/// Record an inspection as done, with findings, a checklist and attachment links (engineers).
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
    let t = inspections::complete(&state, &caller, id, body).await?;
    Ok(Json(view(&state, &t)))
}
