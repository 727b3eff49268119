//! `GET /v1/calendars` and `PUT /v1/calendars/holidays/{region}/{year}`: the
//! service windows with the holiday data they read, and a year of holidays
//! added while the service runs.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use chrono::NaiveDate;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use super::TAG_CATALOG;
use super::error::{ApiError, ApiResult, Code, Problem};
use super::extract::AppPath;
use crate::domain::access::Caller;
use crate::service::calendars::{self, YearFormat};
use crate::state::AppState;

/// A date range, both ends inclusive.
#[derive(Debug, Serialize, ToSchema)]
pub struct DateRange {
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
}

/// A service window (服务时间).
#[derive(Debug, Serialize, ToSchema)]
pub struct WindowView {
    /// Its name, e.g. `5x8`.
    pub name: String,
    /// The timezone its hours are read in.
    pub timezone: String,
    /// Open hours Monday to Sunday, e.g. `09:00-12:00,13:00-18:00` or `closed`.
    pub weekly: Vec<String>,
    /// Hours on a make-up workday (调休上班).
    pub makeup_hours: String,
    /// The holiday region it follows; absent when holidays do not close it.
    pub holidays: Option<String>,
    /// The dates its holiday data covers (empty for a window that ignores holidays).
    pub holiday_coverage: Vec<DateRange>,
}

/// One year of holiday data in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct YearView {
    /// The region, e.g. `cn`.
    pub region: String,
    /// The year.
    pub year: i32,
    /// `built_in`, `folder` or `database` (uploaded): the most specific source wins.
    pub source: String,
}

/// Dates that line items serve in a window that follows holidays, with no holiday data.
#[derive(Debug, Serialize, ToSchema)]
pub struct UncoveredView {
    /// The region.
    pub region: String,
    /// First date without data.
    pub from: NaiveDate,
    /// Last date without data.
    pub to: NaiveDate,
    /// The line items (序号) served then.
    pub line_items: Vec<u32>,
}

/// The service windows and the holiday data they read.
#[derive(Debug, Serialize, ToSchema)]
pub struct CalendarsView {
    /// Every window.
    pub windows: Vec<WindowView>,
    /// Every year of holiday data in force.
    pub years: Vec<YearView>,
    /// Service dates without holiday data: 5x8 and 6x8 clocks count their holidays as working days.
    pub uncovered: Vec<UncoveredView>,
}

/// A year of holidays, as stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct StoredYearView {
    /// The region.
    pub region: String,
    /// The year.
    pub year: i32,
    /// Holiday dates.
    pub holiday_dates: u32,
    /// Make-up workdays (调休上班).
    pub makeup_workdays: u32,
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list)).routes(routes!(put_year))
}

/// The service windows with their timezone, hours and holiday coverage, the
/// holiday years in force, and the service dates no holiday data covers.
#[utoipa::path(get, path = "/v1/calendars", operation_id = "list_calendars", tag = TAG_CATALOG, security(("bearer" = [])),
    responses(
        (status = 200, body = CalendarsView),
        (status = 401, body = Problem, content_type = "application/problem+json"),
    ))]
async fn list(State(state): State<AppState>, _caller: Caller) -> ApiResult<Json<CalendarsView>> {
    let calendars = state.calendars();
    let windows = calendars
        .iter()
        .map(|(name, cal)| {
            let w = cal.window();
            WindowView {
                name: name.to_owned(),
                timezone: w.timezone.name().to_owned(),
                weekly: w.weekly.iter().map(ToString::to_string).collect(),
                makeup_hours: w.makeup_hours.to_string(),
                holidays: w.holidays.clone(),
                holiday_coverage: cal
                    .holiday_coverage()
                    .iter()
                    .map(|&(from, to)| DateRange { from, to })
                    .collect(),
            }
        })
        .collect();
    let years = calendars::years(&state)
        .await?
        .into_iter()
        .map(|y| YearView {
            region: y.region,
            year: y.year,
            source: serde_json::to_value(y.source)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
        })
        .collect();
    let uncovered = calendars::uncovered(&state.catalog, &calendars)
        .into_iter()
        .map(|g| UncoveredView { region: g.region, from: g.from, to: g.to, line_items: g.items })
        .collect();
    Ok(Json(CalendarsView { windows, years, uncovered }))
}

/// Add or replace a year of a region's holidays and make-up workdays (admins),
/// in the form of `config/calendars/cn-2026.toml` (`application/toml`) or as an
/// iCalendar feed of all-day 休 and 班 events (`text/calendar`). In force on
/// this instance at once and on the others within `calendar_poll_seconds`;
/// running clocks move to their new deadlines.
#[utoipa::path(put, path = "/v1/calendars/holidays/{region}/{year}", operation_id = "put_holiday_year", tag = TAG_CATALOG, security(("bearer" = [])),
    params(
        ("region" = String, Path, description = "holiday region, e.g. `cn`", max_length = 16, pattern = "^[a-z]{2,16}$"),
        ("year" = i32, Path, description = "the year", minimum = 2000, maximum = 2099),
    ),
    request_body(content(
        (String = "application/toml"),
        (String = "text/calendar"),
    ), description = "the year's holidays"),
    responses(
        (status = 200, body = StoredYearView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "the path names no year (not a number)"),
        (status = 415, body = Problem, content_type = "application/problem+json", description = "send application/toml or text/calendar"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "the file names the entry and the line at fault"),
    ))]
async fn put_year(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((region, year)): AppPath<(String, i32)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Json<StoredYearView>> {
    // Who may, before what they sent is looked at.
    calendars::may_change(&caller)?;
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<mime::Mime>().ok())
        .map(|m| m.essence_str().to_owned());
    let format = match media.as_deref() {
        Some("application/toml" | "text/toml") => YearFormat::Toml,
        Some("text/calendar") => YearFormat::ICalendar,
        _ => {
            return Err(ApiError::new(
                Code::UnsupportedMediaType,
                "send Content-Type: application/toml or text/calendar",
            ));
        }
    };
    if !(2000..=2099).contains(&year)
        || region.is_empty()
        || region.len() > 16
        || !region.bytes().all(|b| b.is_ascii_lowercase())
    {
        return Err(ApiError::new(Code::BadRequest, "region is 2 to 16 letters a-z, year 2000 to 2099"));
    }
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::new(Code::BadRequest, "the body is not UTF-8 text"))?;
    let stored = calendars::put_year(&state, &caller, &region, year, text, format).await?;
    let (mut holiday_dates, mut makeup_workdays) = (0, 0);
    for (_, kind) in stored.schedule.days() {
        match kind {
            sla_engine::DayKind::Holiday => holiday_dates += 1,
            sla_engine::DayKind::Workday => makeup_workdays += 1,
        }
    }
    Ok(Json(StoredYearView { region: stored.region, year: stored.year, holiday_dates, makeup_workdays }))
}
