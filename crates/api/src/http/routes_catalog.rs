//! `GET /v1/agencies`, `GET /v1/line-items`, `GET /v1/line-items/{id}`: the catalog within the caller's scope.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::TAG_CATALOG;
use super::error::{ApiError, ApiResult, Problem};
use super::extract::AppPath;
use crate::domain::access::Caller;
use crate::state::AppState;

/// An agency (服务单位).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgencyView {
    /// Stable key.
    pub key: String,
    /// The name as the contract prints it.
    pub name: String,
}

/// A line item (运维项目) with its service requirements.
#[derive(Debug, Serialize, ToSchema)]
pub struct LineItemView {
    /// Stable id.
    pub id: Uuid,
    /// 序号 in the annex.
    pub seq: u32,
    /// Agency key.
    pub agency: String,
    /// The system.
    pub name: String,
    /// 运维资金, yuan with two decimals.
    pub amount_yuan: String,
    /// First day of service.
    pub period_from: String,
    /// Last day of service.
    pub period_to: String,
    /// 服务时间: `7x24`, `7x8`, `5x8`, `6x8`, or absent when not stated.
    pub service_window: Option<String>,
    /// 服务级别.
    pub service_level: Option<u32>,
    /// 驻场 engineers.
    pub resident_engineers: Option<u32>,
    /// Target rules in the order they are tried, each `{metric, minutes, calendar, when, source}`.
    #[schema(value_type = Vec<Object>)]
    pub targets: serde_json::Value,
    /// Inspection cycles.
    #[schema(value_type = Vec<Object>)]
    pub inspection: serde_json::Value,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(agencies)).routes(routes!(line_items)).routes(routes!(line_item))
}

fn view(state: &AppState, item: &catalog::LineItem) -> LineItemView {
    LineItemView {
        id: state.item_id(item),
        seq: item.seq,
        agency: item.agency.clone(),
        name: item.name.clone(),
        amount_yuan: item.amount.to_string(),
        period_from: item.service_period.from.to_string(),
        period_to: item.service_period.to.to_string(),
        service_window: item.service_window.clone(),
        service_level: item.service_level,
        resident_engineers: item.resident_engineers,
        targets: serde_json::to_value(&item.targets).unwrap_or_default(),
        inspection: serde_json::to_value(&item.inspections).unwrap_or_default(),
    }
}

/// The agencies the caller may see.
#[utoipa::path(get, path = "/v1/agencies", operation_id = "list_agencies", tag = TAG_CATALOG, security(("bearer" = [])),
    responses((status = 200, body = Vec<AgencyView>), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn agencies(State(state): State<AppState>, caller: Caller) -> Json<Vec<AgencyView>> {
    Json(
        state
            .catalog
            .agencies
            .iter()
            .filter(|a| caller.sees(&a.key))
            .map(|a| AgencyView { key: a.key.clone(), name: a.name.clone() })
            .collect(),
    )
}

/// The line items the caller may see, with their windows, targets and inspection cycles.
#[utoipa::path(get, path = "/v1/line-items", operation_id = "list_line_items", tag = TAG_CATALOG, security(("bearer" = [])),
    responses((status = 200, body = Vec<LineItemView>), (status = 401, body = Problem, content_type = "application/problem+json")))]
async fn line_items(State(state): State<AppState>, caller: Caller) -> Json<Vec<LineItemView>> {
    Json(state.catalog.items.iter().filter(|i| caller.sees(&i.agency)).map(|i| view(&state, i)).collect())
}

/// One line item.
#[utoipa::path(get, path = "/v1/line-items/{id}", operation_id = "get_line_item", tag = TAG_CATALOG, security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "line item id")),
    responses(
        (status = 200, body = LineItemView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
async fn line_item(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(id): AppPath<Uuid>,
) -> ApiResult<Json<LineItemView>> {
    let item =
        state.item(id).filter(|i| caller.sees(&i.agency)).ok_or_else(|| ApiError::not_found("line item"))?;
    Ok(Json(view(&state, item)))
}
