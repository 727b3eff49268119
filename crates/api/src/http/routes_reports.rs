//! `GET /v1/reports/sla`: monthly (or any range) SLA compliance, as JSON, CSV or XLSX.

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::TAG_REPORTS;
use super::error::{ApiError, ApiResult, Code, Problem};
use super::extract::{AppQuery, at_most};
use crate::domain::access::Caller;
use crate::service::reports::{self, Period, SlaReport};
use crate::state::AppState;

/// Which period, scope and format.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ReportQuery {
    /// A month, `YYYY-MM` (default: the current month). Or give `from` and `to`.
    #[param(max_length = 7, pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub month: Option<String>,
    /// First day of a custom range (inclusive).
    pub from: Option<NaiveDate>,
    /// Last day of a custom range (inclusive).
    pub to: Option<NaiveDate>,
    /// Only this agency, by key or exact name (422 when none is so named).
    #[param(max_length = 64)]
    pub agency: Option<String>,
    /// Only this line item (id).
    pub line_item: Option<Uuid>,
    /// `json` (default), `csv` or `xlsx`; `Accept: text/csv` or the XLSX media type also select.
    #[param(max_length = 4, pattern = "^(json|csv|xlsx)$")]
    pub format: Option<String>,
    /// The table a CSV file holds (one per file): `items` (default: each line item per metric),
    /// `agencies`, `contract`, `breaches` (the tickets that missed a target) or `inspections`.
    /// XLSX has every view as a sheet, and JSON the whole report.
    #[param(max_length = 11, pattern = "^(items|agencies|contract|breaches|inspections)$")]
    pub view: Option<String>,
    /// Headers and metric names of CSV and XLSX: `zh` (default) or `en`.
    #[param(max_length = 2, pattern = "^(zh|en)$")]
    pub lang: Option<String>,
}

/// The XLSX media type.
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sla))
}

/// SLA compliance per line item, per agency and for the contract: each metric's met, breached
/// and still-running clocks, attainment, mean and p90 time to meet, the tickets that missed, and
/// inspections due, on time, late, missed and still open, read as of the period's end (or now,
/// while the period runs). CSV is UTF-8 with a byte-order mark, one table (`view`) per file.
#[utoipa::path(get, path = "/v1/reports/sla", operation_id = "sla_report", tag = TAG_REPORTS, security(("bearer" = [])), params(ReportQuery),
    responses(
        (status = 200, description = "JSON; CSV (one `view`) with `format=csv`, XLSX with `format=xlsx`", content(
            (SlaReport = "application/json"),
            (String = "text/csv"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        )),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "no such agency (by key or exact name)"),
    ))]
async fn sla(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    AppQuery(q): AppQuery<ReportQuery>,
) -> ApiResult<Response> {
    at_most("month", q.month.as_deref(), 7)?;
    at_most("agency", q.agency.as_deref(), 64)?;
    at_most("format", q.format.as_deref(), 4)?;
    at_most("lang", q.lang.as_deref(), 2)?;
    at_most("view", q.view.as_deref(), 11)?;
    let period = match (&q.month, q.from, q.to) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(ApiError::new(Code::BadRequest, "give month, or from and to, not both"));
        }
        (None, Some(from), Some(to)) if from <= to && (to - from).num_days() <= 366 => {
            Period { from, to: to.succ_opt().unwrap_or(to) }
        }
        (None, Some(_), Some(_)) => {
            return Err(ApiError::new(
                Code::BadRequest,
                "from must not be after to, and a range spans at most a year",
            ));
        }
        (None, Some(_), None) | (None, None, Some(_)) => {
            return Err(ApiError::new(Code::BadRequest, "give both from and to"));
        }
        (month, None, None) => {
            let month = month.clone().unwrap_or_else(|| reports::current_month(&state));
            Period::month(&month).map_err(|e| ApiError::new(Code::BadRequest, e))?
        }
    };
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    let format = match q.format.as_deref() {
        Some(f @ ("json" | "csv" | "xlsx")) => f,
        Some(other) => {
            return Err(ApiError::new(Code::BadRequest, format!("format \"{other}\": json, csv or xlsx")));
        }
        None if accept.contains(XLSX) => "xlsx",
        None if accept.contains("text/csv") => "csv",
        None => "json",
    };
    let lang = match q.lang.as_deref() {
        None => reports::Lang::default(),
        Some(l) => {
            reports::Lang::parse(l).ok_or_else(|| ApiError::new(Code::BadRequest, "lang: zh or en"))?
        }
    };
    let view = match q.view.as_deref() {
        None => reports::View::default(),
        Some(v) => reports::View::parse(v).ok_or_else(|| {
            ApiError::new(Code::BadRequest, "view: items, agencies, contract, breaches or inspections")
        })?,
    };
    let report = reports::sla(&state, &caller, period, q.agency.as_deref(), q.line_item).await?;
    let (body, content_type, name) = match format {
        "csv" => (
            reports::to_csv_view(&report, view, lang).map_err(ApiError::internal)?,
            "text/csv; charset=utf-8",
            format!("sla-{}-{}.csv", period.from.format("%Y-%m"), view.key()),
        ),
        "xlsx" => (
            reports::to_xlsx(&report, lang).map_err(ApiError::internal)?,
            XLSX,
            format!("sla-{}.xlsx", period.from.format("%Y-%m")),
        ),
        _ => return Ok(axum::Json(report).into_response()),
    };
    let mut r = (StatusCode::OK, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    let disposition = format!("attachment; filename=\"{name}\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        r.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(r)
}
