//! Tickets: file, list, read, act, and read the trail.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sla_engine::{Severity, Timestamp};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};
use uuid::Uuid;

use super::TAG_TICKETS;
use super::error::{ApiError, ApiResult, Code, Problem};
use super::extract::{AppMultiQuery, AppPath, at_most, require_json, require_json_if_any};
use super::local;
use crate::domain::access::Caller;
use crate::domain::ticket::{Action, TicketState};
use crate::service::filing::{self, Filed, Idempotency, NewTicket, Steps};
use crate::service::tickets::{
    self, ActionInput, AssigneeQuery, ClockRead, ListQuery as Query, Moment, TicketRead,
};
use crate::state::AppState;

/// Largest page of a ticket list.
pub const PAGE_MAX: u64 = 200;

/// How serious a fault is: 一般 `general`, 重大 `major`, 特别重大 `critical`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SeverityDto {
    /// Service down for everyone.
    Critical,
    /// A major function or many users affected.
    Major,
    /// Everything else.
    #[default]
    General,
}

impl From<SeverityDto> for Severity {
    fn from(s: SeverityDto) -> Self {
        match s {
            SeverityDto::Critical => Severity::Critical,
            SeverityDto::Major => Severity::Major,
            SeverityDto::General => Severity::General,
        }
    }
}

/// A fault to file.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicket {
    /// The line item the fault is in.
    pub line_item_id: Uuid,
    /// Short summary, 1 to 200 characters on one line: no line breaks,
    /// control, bidirectional or invisible format characters.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u2028\\u2029\\u200B-\\u200F\\u202A-\\u202E\\u2060-\\u2064\\u2066-\\u206F\\uFEFF]*$"
    )]
    pub title: String,
    /// What happened, up to 10,000 characters.
    #[serde(default)]
    #[schema(max_length = 10000)]
    pub description: String,
    /// Default `general`.
    #[serde(default)]
    pub severity: SeverityDto,
    /// When the fault was reported, if phoned in earlier (engineers and managers only).
    pub reported_at: Option<DateTime<Utc>>,
    /// Special conditions that select targets, e.g. `complex_fault`, `remote_unresolved`.
    #[serde(default)]
    #[schema(max_items = 8, value_type = Vec<TagText>)]
    pub tags: Vec<String>,
    /// For a fault filed afterwards: when it was really acknowledged (engineers only; not before `reported_at`).
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// When an engineer really arrived on site (engineers only; not before the acknowledgement).
    pub arrived_at: Option<DateTime<Utc>>,
    /// When it was really resolved (engineers only; not before the arrival).
    pub resolved_at: Option<DateTime<Utc>>,
}

/// A tag as the spec states it: 1 to 40 of `a-z`, `0-9`, `_` (the service checks the same rule).
#[derive(Debug)]
pub struct TagText;

impl utoipa::PartialSchema for TagText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::http::bounded_text(1, 40, "^[a-z0-9_]+$")
    }
}

impl ToSchema for TagText {}

/// Details of an action; every field is optional, and which are needed depends on the action.
#[derive(Debug, Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActionBody {
    /// When it really happened (engineers; not in the future, not before the previous event).
    pub at: Option<DateTime<Utc>>,
    /// The comment (`comment`), or a note on any other action.
    #[schema(max_length = 10000)]
    pub body: Option<String>,
    /// The engineer to assign (`assign`).
    pub assignee_id: Option<Uuid>,
    /// The new severity (`severity`).
    pub severity: Option<SeverityDto>,
    /// Tags to add, e.g. `complex_fault` when resolving takes longer.
    #[schema(max_items = 8, value_type = Option<Vec<TagText>>)]
    pub tags: Option<Vec<String>>,
}

/// One SLA clock of a ticket, computed at the moment of the read.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClockView {
    /// `response`, `on_site`, `recovery`, or another named metric.
    pub metric: String,
    /// The business minutes allowed.
    #[schema(value_type = f64)]
    pub target_minutes: serde_json::Number,
    /// The service window the minutes count in.
    pub calendar: String,
    /// `running`, `paused`, `met` or `breached`.
    pub state: String,
    /// While counting: when the target is (or was) reached.
    pub deadline: Option<DateTime<FixedOffset>>,
    /// Business seconds counted.
    pub elapsed_seconds: u64,
    /// Business seconds left.
    pub remaining_seconds: u64,
    /// Whether the target was missed.
    pub breached: bool,
    /// When it breached.
    pub breached_at: Option<DateTime<FixedOffset>>,
    /// When it was met.
    pub met_at: Option<DateTime<FixedOffset>>,
    /// True when the answer (or the choice of the rule) relied on dates without holiday data.
    pub beyond_holiday_data: bool,
    /// Where the target comes from.
    pub rule: Option<RuleView>,
}

/// The rule that set a clock's target.
#[derive(Debug, Serialize, ToSchema)]
pub struct RuleView {
    /// `item` (the line item's own requirements) or `contract` (a clause that holds for every item).
    pub scope: String,
    /// The contract rule's key, e.g. `system_down_response`.
    pub key: Option<String>,
    /// The contract's or the annex's own words.
    pub source: String,
}

/// A ticket with its clocks.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketView {
    /// Id.
    pub id: Uuid,
    /// Human-readable number, e.g. `INC-2026-000123`.
    pub number: String,
    /// Line item id.
    pub line_item_id: Uuid,
    /// Line item 序号.
    pub line_item_seq: u32,
    /// Agency key.
    pub agency: String,
    /// Summary.
    pub title: String,
    /// Description.
    pub description: String,
    /// Severity.
    pub severity: String,
    /// State.
    pub state: TicketState,
    /// Tags.
    pub tags: Vec<String>,
    /// Assigned engineer.
    pub assignee_id: Option<Uuid>,
    /// Who filed it.
    pub created_by: Uuid,
    /// When the fault was reported: the clocks start here.
    pub reported_at: DateTime<FixedOffset>,
    /// When it was filed.
    pub created_at: DateTime<FixedOffset>,
    /// Last change.
    pub updated_at: DateTime<FixedOffset>,
    /// Changes with every action; also the ETag.
    pub version: i32,
    /// One per metric with a target for this ticket.
    pub clocks: Vec<ClockView>,
}

/// A page of tickets.
#[derive(Debug, Serialize, ToSchema)]
pub struct TicketPage {
    /// Newest first.
    pub items: Vec<TicketView>,
    /// Pass as `cursor` for the next page; absent on the last.
    pub next_cursor: Option<String>,
}

/// One row of the audit trail, in the order things happened (`at`); `seq`
/// is the order they were recorded in.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventView {
    /// Id.
    pub id: Uuid,
    /// Position in the trail, from 1.
    pub seq: i32,
    /// What was done.
    pub action: String,
    /// Who did it (none for the service itself).
    pub actor_id: Option<Uuid>,
    /// Who did it, as people know them.
    pub actor: Option<ActorView>,
    /// When it happened.
    pub at: DateTime<FixedOffset>,
    /// When it was recorded.
    pub recorded_at: DateTime<FixedOffset>,
    /// State before.
    pub from_state: Option<String>,
    /// State after.
    pub to_state: String,
    /// Details (comment body, severity change, assignee, …).
    #[schema(value_type = Object)]
    pub data: serde_json::Value,
    /// A threshold that did not happen after all: an `alert_withdrawn` row
    /// later in the trail names it (an action recorded afterwards with an
    /// earlier real time stopped the clock in time).
    pub withdrawn: bool,
}

/// Who did something on a trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct ActorView {
    /// Their id.
    pub id: Uuid,
    /// Their display name, or their username.
    pub name: String,
    /// Their role.
    pub role: crate::domain::access::Role,
}

/// Filters for the ticket list. A filter that takes several values takes
/// them repeated (`state=open&state=acknowledged`) or comma-separated
/// (`state=open,acknowledged`); a ticket matches any of them.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Agencies, by key (`education-bureau`) or exact name (`洛阳市教育局`).
    #[param(value_type = Option<Vec<String>>, max_items = 32)]
    pub agency: Option<Vec<String>>,
    /// Line items (ids).
    #[param(value_type = Option<Vec<Uuid>>, max_items = 40)]
    pub line_item_id: Option<Vec<String>>,
    /// States.
    #[param(value_type = Option<Vec<TicketState>>, max_items = 6)]
    pub state: Option<Vec<String>>,
    /// Severities.
    #[param(value_type = Option<Vec<SeverityDto>>, max_items = 3)]
    pub severity: Option<Vec<String>>,
    /// Whose: `me`, `none` (unassigned), or an engineer's id.
    #[param(max_length = 36)]
    pub assignee: Option<String>,
    /// Only tickets with (true) or without (false) a breached clock.
    pub breached: Option<bool>,
    /// Filed at or after: an instant (RFC 3339) or a date (`2026-11-29`, from its first moment in the contract's timezone).
    #[param(max_length = 40)]
    pub created_from: Option<String>,
    /// Filed before: an instant (RFC 3339) or a date (`2026-11-30`: through that day, in the contract's timezone).
    #[param(max_length = 40)]
    pub created_to: Option<String>,
    /// Text in the number, title or description.
    #[param(max_length = 200)]
    pub q: Option<String>,
    /// From a previous page's `next_cursor`.
    #[param(max_length = 200)]
    pub cursor: Option<String>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
}

/// Each value of a filter that may repeat or list its values with commas, parsed.
fn values<T>(name: &str, given: Option<Vec<String>>, parse: impl Fn(&str) -> Option<T>) -> ApiResult<Vec<T>> {
    let mut out = Vec::new();
    for text in given.into_iter().flatten() {
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            at_most(name, Some(part), 64)?;
            out.push(
                parse(part).ok_or_else(|| {
                    ApiError::new(Code::BadRequest, format!("{name}: \"{part}\" is not one"))
                })?,
            );
        }
    }
    if out.len() > 64 {
        return Err(ApiError::new(Code::BadRequest, format!("{name}: at most 64 values")));
    }
    Ok(out)
}

/// An instant, or a plain date read in the contract's timezone.
fn moment(name: &str, given: Option<&str>) -> ApiResult<Option<Moment>> {
    let Some(text) = given else { return Ok(None) };
    if let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d") {
        return Ok(Some(Moment::Date(d)));
    }
    DateTime::parse_from_rfc3339(text).map(|t| Some(Moment::Instant(Timestamp::from(t.to_utc())))).map_err(
        |_| {
            ApiError::new(
                Code::BadRequest,
                format!("{name} is neither an RFC 3339 instant nor a date YYYY-MM-DD"),
            )
        },
    )
}

/// The list's query as the service takes it.
fn list_query(q: ListQuery) -> ApiResult<Query> {
    let limit = q.limit.unwrap_or(50);
    if !(1..=PAGE_MAX).contains(&limit) {
        return Err(ApiError::new(Code::BadRequest, format!("limit must be 1 to {PAGE_MAX}")));
    }
    at_most("q", q.q.as_deref(), 200)?;
    at_most("cursor", q.cursor.as_deref(), 200)?;
    let assignee = match q.assignee.as_deref() {
        None => None,
        Some("me") => Some(AssigneeQuery::Me),
        Some("none") => Some(AssigneeQuery::Nobody),
        Some(id) => Some(AssigneeQuery::Engineer(
            id.parse()
                .map_err(|_| ApiError::new(Code::BadRequest, "assignee is me, none, or an engineer's id"))?,
        )),
    };
    Ok(Query {
        agencies: values("agency", q.agency, |a| Some(a.to_owned()))?,
        line_items: values("line_item_id", q.line_item_id, |a| a.parse().ok())?,
        states: values("state", q.state, |a| a.parse().ok())?,
        severities: values("severity", q.severity, |a| a.parse().ok())?,
        assignee,
        breached: q.breached,
        created_from: moment("created_from", q.created_from.as_deref())?,
        created_to: moment("created_to", q.created_to.as_deref())?,
        text: q.q,
        cursor: q.cursor.as_deref().map(decode_cursor).transpose()?,
        limit,
    })
}

pub(crate) fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(get_one))
        .routes(routes!(act))
        .routes(routes!(events))
}

fn clock_view(c: &ClockRead, tz: sla_engine::Tz) -> ClockView {
    let s = &c.status;
    let secs = s.target.get();
    let target_minutes = if secs.is_multiple_of(60) {
        serde_json::Number::from(secs / 60)
    } else {
        serde_json::Number::from_f64(secs as f64 / 60.0).unwrap_or_else(|| serde_json::Number::from(0))
    };
    ClockView {
        metric: c.metric.clone(),
        target_minutes,
        calendar: c.calendar.clone(),
        state: s.state.as_str().to_owned(),
        deadline: s.deadline.map(|t| local(t, tz)),
        elapsed_seconds: s.elapsed.get(),
        remaining_seconds: s.remaining.get(),
        breached: s.breached_at.is_some(),
        breached_at: s.breached_at.map(|t| local(t, tz)),
        met_at: s.met_at.map(|t| local(t, tz)),
        beyond_holiday_data: s.beyond_holiday_data,
        rule: c.rule.as_ref().map(|r| RuleView {
            scope: r.scope.to_owned(),
            key: r.key.clone(),
            source: r.source.clone(),
        }),
    }
}

fn view(state: &AppState, read: &TicketRead) -> TicketView {
    let t = &read.ticket;
    let tz = state.item_timezone(t.line_item_id);
    TicketView {
        id: t.id,
        number: t.number.clone(),
        line_item_id: t.line_item_id,
        line_item_seq: read.item_seq,
        agency: t.agency.clone(),
        title: t.title.clone(),
        description: t.description.clone(),
        severity: t.severity.as_str().to_owned(),
        state: t.state,
        tags: t.tags.clone(),
        assignee_id: t.assignee_id,
        created_by: t.created_by,
        reported_at: local(t.reported_at, tz),
        created_at: local(t.created_at, tz),
        updated_at: local(t.updated_at, tz),
        version: t.version,
        clocks: read.clocks.iter().map(|c| clock_view(c, tz)).collect(),
    }
}

fn etag(version: i32) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

fn with_etag(state: &AppState, status: StatusCode, t: &TicketRead) -> Response {
    let mut response = (status, Json(view(state, t))).into_response();
    response.headers_mut().insert(header::ETAG, etag(t.ticket.version));
    response
}

/// File a fault against a line item. Send `Idempotency-Key` to make retries safe.
#[utoipa::path(post, path = "/v1/tickets", operation_id = "file_ticket", tag = TAG_TICKETS, security(("bearer" = [])), request_body = CreateTicket,
    params(("Idempotency-Key" = Option<String>, Header, description = "retry-safe key, 1 to 255 visible ASCII characters",
        min_length = 1, max_length = 255, pattern = "^[!-~]+$")),
    responses(
        (status = 201, body = TicketView, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json", description = "no such line item in your scope"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    require_json(&headers)?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::new(Code::InvalidJson, format!("invalid JSON: {e}")))?;
    let req: CreateTicket = serde_json::from_value(value.clone())
        .map_err(|e| ApiError::new(Code::InvalidJson, format!("invalid ticket: {e}")))?;
    let idempotency = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let key = v
                .to_str()
                .ok()
                .filter(|k| (1..=255).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()))
                .ok_or_else(|| {
                    ApiError::new(
                        Code::BadRequest,
                        "Idempotency-Key must be 1 to 255 visible ASCII characters",
                    )
                })?;
            // serde_json orders object keys, so the hash ignores formatting and key order.
            let digest = Sha256::digest(value.to_string().as_bytes());
            Some(Idempotency {
                key: key.to_owned(),
                hash: base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest),
            })
        }
    };
    let new = NewTicket {
        line_item_id: req.line_item_id,
        title: req.title,
        description: req.description,
        severity: req.severity.into(),
        reported_at: req.reported_at.map(Timestamp::from),
        tags: req.tags,
        steps: Steps {
            acknowledged_at: req.acknowledged_at.map(Timestamp::from),
            arrived_at: req.arrived_at.map(Timestamp::from),
            resolved_at: req.resolved_at.map(Timestamp::from),
        },
    };
    match filing::file(&state, &caller, new, idempotency).await? {
        Filed::Created(t) => {
            tracing::info!(number = %t.ticket.number, by = %caller.username, "ticket filed");
            Ok(with_etag(&state, StatusCode::CREATED, &t))
        }
        Filed::Replayed(t) => {
            let mut r = with_etag(&state, StatusCode::CREATED, &t);
            r.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            Ok(r)
        }
    }
}

fn decode_cursor(text: &str) -> ApiResult<(i64, Uuid)> {
    let bad = || ApiError::new(Code::BadRequest, "cursor is not one this service gave out");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let (created, id) = text.split_once('/').ok_or_else(bad)?;
    Ok((created.parse().map_err(|_| bad())?, id.parse().map_err(|_| bad())?))
}

fn encode_cursor((created, id): (i64, Uuid)) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{created}/{id}"))
}

/// Tickets in the caller's scope, newest first, filtered, a page at a time.
#[utoipa::path(get, path = "/v1/tickets", operation_id = "list_tickets", tag = TAG_TICKETS, security(("bearer" = [])), params(ListQuery),
    responses(
        (status = 200, body = TicketPage),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json", description = "no such agency (by key or exact name)"),
    ))]
async fn list(
    State(state): State<AppState>,
    caller: Caller,
    AppMultiQuery(q): AppMultiQuery<ListQuery>,
) -> ApiResult<Json<TicketPage>> {
    let (items, next) = tickets::list(&state, &caller, list_query(q)?).await?;
    let items = items.iter().map(|t| view(&state, t)).collect();
    Ok(Json(TicketPage { items, next_cursor: next.map(encode_cursor) }))
}

/// One ticket with its clocks as of now.
#[utoipa::path(get, path = "/v1/tickets/{id}", operation_id = "get_ticket", tag = TAG_TICKETS, security(("bearer" = [])),
    params(("id" = String, Path, description = "the ticket's id, or its number (`INC-2026-000123`)", max_length = 40)),
    responses(
        (status = 200, body = TicketView, headers(("ETag" = String))),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
async fn get_one(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(reference): AppPath<String>,
) -> ApiResult<Response> {
    let id = tickets::resolve(&state, &reference).await?;
    Ok(with_etag(&state, StatusCode::OK, &tickets::read(&state, &caller, id).await?))
}

fn if_match(headers: &HeaderMap) -> ApiResult<Option<i32>> {
    let Some(v) = headers.get(header::IF_MATCH) else { return Ok(None) };
    let text = v.to_str().map_err(|_| ApiError::new(Code::BadRequest, "If-Match is not text"))?.trim();
    if text == "*" {
        return Ok(None);
    }
    let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
    text.parse().map(Some).map_err(|_| {
        ApiError::new(Code::PreconditionFailed, "If-Match does not name a version this service gave out")
    })
}

/// The actions `POST /v1/tickets/{id}/{action}` takes.
#[derive(Debug, Deserialize, ToSchema, Clone, Copy)]
#[serde(rename_all = "snake_case")]
pub enum ActionName {
    /// Meets the response target.
    Acknowledge,
    /// Assign an engineer (`assignee_id`).
    Assign,
    /// On-site check-in: meets the on-site target.
    Arrive,
    /// The fault's effects are contained (遏制): meets the containment target, where the item has one.
    Contain,
    /// Waiting on the agency.
    Pause,
    /// The agency answered.
    Resume,
    /// Meets the recovery target.
    Resolve,
    /// Recovery resumes where it stopped.
    Reopen,
    /// Done.
    Close,
    /// A note (`body`).
    Comment,
    /// Change severity (`severity`): targets re-selected, starts kept.
    Severity,
}

impl From<ActionName> for Action {
    fn from(a: ActionName) -> Self {
        match a {
            ActionName::Acknowledge => Action::Acknowledge,
            ActionName::Assign => Action::Assign,
            ActionName::Arrive => Action::Arrive,
            ActionName::Contain => Action::Contain,
            ActionName::Pause => Action::Pause,
            ActionName::Resume => Action::Resume,
            ActionName::Resolve => Action::Resolve,
            ActionName::Reopen => Action::Reopen,
            ActionName::Close => Action::Close,
            ActionName::Comment => Action::Comment,
            ActionName::Severity => Action::Severity,
        }
    }
}

/// Act on a ticket. Send `If-Match` with the ETag you read to refuse stale updates (412).
#[utoipa::path(post, path = "/v1/tickets/{id}/{action}", operation_id = "act_on_ticket", tag = TAG_TICKETS, security(("bearer" = [])),
    params(
        ("id" = String, Path, description = "the ticket's id, or its number (`INC-2026-000123`)", max_length = 40),
        ("action" = ActionName, Path, description = "what to do"),
        ("If-Match" = Option<String>, Header, description = "the ETag last read"),
    ),
    request_body(content = Option<ActionBody>, description = "optional details"),
    responses(
        (status = 200, body = TicketView, headers(("ETag" = String))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json", description = "invalid_transition: names the state and the action"),
        (status = 412, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    ))]
async fn act(
    State(state): State<AppState>,
    caller: Caller,
    AppPath((reference, action)): AppPath<(String, ActionName)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    // An action may come with no body at all, and then with no type.
    require_json_if_any(&headers, &body)?;
    let req: ActionBody = if body.iter().all(u8::is_ascii_whitespace) {
        ActionBody::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| ApiError::new(Code::InvalidJson, format!("invalid action body: {e}")))?
    };
    let input = ActionInput {
        at: req.at.map(Timestamp::from),
        body: req.body,
        assignee_id: req.assignee_id,
        severity: req.severity.map(Into::into),
        tags: req.tags,
    };
    let action = action.into();
    tickets::check_input(action, &input)?;
    let if_match = if_match(&headers)?;
    let id = tickets::resolve(&state, &reference).await?;
    let t = tickets::act(&state, &caller, id, action, input, if_match).await?;
    Ok(with_etag(&state, StatusCode::OK, &t))
}

/// The ticket's audit trail: every action, who, when, from and to which state.
#[utoipa::path(get, path = "/v1/tickets/{id}/events", operation_id = "list_ticket_events", tag = TAG_TICKETS, security(("bearer" = [])),
    params(("id" = String, Path, description = "the ticket's id, or its number (`INC-2026-000123`)", max_length = 40)),
    responses(
        (status = 200, body = Vec<EventView>),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ))]
async fn events(
    State(state): State<AppState>,
    caller: Caller,
    AppPath(reference): AppPath<String>,
) -> ApiResult<Json<Vec<EventView>>> {
    let id = tickets::resolve(&state, &reference).await?;
    let ticket = tickets::read(&state, &caller, id).await?;
    let tz = state.item_timezone(ticket.ticket.line_item_id);
    let rows = tickets::events(&state, &caller, id).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| {
                let e = r.event;
                EventView {
                    id: e.id,
                    seq: e.seq,
                    action: e.kind.as_str().to_owned(),
                    actor_id: e.actor_id,
                    actor: r.actor.map(|a| ActorView { id: a.id, name: a.name, role: a.role }),
                    at: local(e.at, tz),
                    recorded_at: local(e.recorded_at, tz),
                    from_state: e.from_state.map(|s| s.as_str().to_owned()),
                    to_state: e.to_state.as_str().to_owned(),
                    data: e.data,
                    withdrawn: r.withdrawn,
                }
            })
            .collect(),
    ))
}
