//! Filing, reading, listing and working tickets, with their clocks kept in step.

use std::collections::HashMap;

use chrono::{DateTime, Datelike, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait, TryIntoModel,
};
use serde_json::json;
use sla_engine::{ClockEvent, ClockState, ClockStatus, Metric, Severity, TargetRule, TicketFacts, Timestamp};
use uuid::Uuid;

use crate::domain::access::{Caller, Role};
use crate::domain::ticket::{self, Action, TicketState, TrailEntry};
use crate::http::error::{ApiError, ApiResult, Code};
use crate::state::AppState;
use crate::store::entities::{clock, idempotency_key, ticket as ticket_row, ticket_event, user};
use crate::store::filing::{self, Filing};

/// Longest title, in characters.
pub const TITLE_MAX: usize = 200;
/// Longest description or comment, in characters.
pub const TEXT_MAX: usize = 10_000;

/// A request to file a ticket.
#[derive(Clone, Debug)]
pub struct NewTicket {
    /// The line item the fault is in.
    pub line_item_id: Uuid,
    /// A short summary.
    pub title: String,
    /// What happened.
    pub description: String,
    /// How serious.
    pub severity: Severity,
    /// When the fault was reported, if earlier than now.
    pub reported_at: Option<Timestamp>,
    /// Special conditions (e.g. `complex_fault`).
    pub tags: Vec<String>,
}

/// The details an action may carry.
#[derive(Clone, Debug, Default)]
pub struct ActionInput {
    /// When it really happened (engineers only).
    pub at: Option<Timestamp>,
    /// A comment's text, or a note on any action.
    pub body: Option<String>,
    /// For `assign`.
    pub assignee_id: Option<Uuid>,
    /// For `severity`.
    pub severity: Option<Severity>,
    /// For `resolve` and `severity`: tags to add (e.g. `complex_fault`).
    pub tags: Option<Vec<String>>,
}

/// A ticket with its clocks as of the read.
#[derive(Clone, Debug)]
pub struct TicketRead {
    /// The stored row.
    pub row: ticket_row::Model,
    /// Each clock's rule parts and standing.
    pub clocks: Vec<ClockRead>,
    /// The line item's sequence number.
    pub item_seq: u32,
}

/// One clock as read.
#[derive(Clone, Debug)]
pub struct ClockRead {
    /// The metric.
    pub metric: String,
    /// The calendar it counts in.
    pub calendar: String,
    /// Its standing now.
    pub status: ClockStatus,
}

/// How `file` ended.
#[derive(Debug)]
pub enum Filed {
    /// A new ticket.
    Created(TicketRead),
    /// The same Idempotency-Key and body as before: that ticket again.
    Replayed(TicketRead),
}

fn check_text(field: &str, text: &str, min: usize, max: usize) -> ApiResult<()> {
    let n = text.chars().count();
    if n < min || n > max {
        return Err(ApiError::invalid(format!("{field} must be {min} to {max} characters (got {n})")));
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t')) {
        return Err(ApiError::invalid(format!("{field} contains control characters")));
    }
    Ok(())
}

fn check_tags(tags: &[String]) -> ApiResult<()> {
    if tags.len() > 8 {
        return Err(ApiError::invalid("at most 8 tags"));
    }
    for t in tags {
        let ok = (1..=40).contains(&t.len())
            && t.bytes().all(|b| b.is_ascii_lowercase() || b == b'_' || b.is_ascii_digit());
        if !ok {
            return Err(ApiError::invalid(format!("tag \"{t}\" must be 1 to 40 of a-z, 0-9, _")));
        }
    }
    Ok(())
}

/// The year a ticket number carries: the year of filing in the contract's timezone.
fn number_year(state: &AppState, now: Timestamp) -> i32 {
    now.to_datetime().with_timezone(&state.catalog.settings.timezone).year()
}

/// Stored clocks and the ticket's earliest next instant of interest.
pub(crate) fn clock_rows(
    ticket_id: Uuid,
    clocks: &[ticket::TicketClock],
    now: Timestamp,
) -> ApiResult<(Vec<clock::ActiveModel>, Option<i64>)> {
    let mut next_due: Option<i64> = None;
    let mut rows = Vec::with_capacity(clocks.len());
    for c in clocks {
        let s = &c.status;
        // A running clock past a threshold is due now: the timer decides
        // whether that threshold was already announced.
        let next = if s.stopped {
            None
        } else if !s.crossed.is_empty() {
            Some(now.unix())
        } else {
            s.next.map(|n| n.at.unix())
        };
        next_due = match (next_due, next) {
            (Some(a), Some(b)) => Some(std::cmp::min(a, b)),
            (a, b) => a.or(b),
        };
        rows.push(clock::ActiveModel {
            ticket_id: Set(ticket_id),
            metric: Set(c.rule.metric.as_str().to_owned()),
            target_seconds: Set(c.rule.target.get() as i64),
            calendar: Set(c.rule.calendar.clone()),
            state: Set(state_name(s.state).to_owned()),
            events: Set(serde_json::to_string(&c.events).map_err(ApiError::internal)?),
            started_at: Set(c.events.first().map_or(0, |e| e.at.unix())),
            deadline: Set(s.deadline.map(Timestamp::unix)),
            next_at: Set(next),
            breached_at: Set(s.breached_at.map(Timestamp::unix)),
            met_at: Set(s.met_at.map(Timestamp::unix)),
            updated_at: Set(now.unix()),
        });
    }
    Ok((rows, next_due))
}

pub(crate) fn state_name(s: ClockState) -> &'static str {
    match s {
        ClockState::Running => "running",
        ClockState::Paused => "paused",
        ClockState::Met => "met",
        ClockState::Breached => "breached",
    }
}

fn parse_severity(s: &str) -> ApiResult<Severity> {
    s.parse().map_err(|e: String| ApiError::internal(e))
}

fn parse_tags(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_default()
}

/// Compute the ticket's clocks from its trail under its item's current policy.
fn compute_clocks(
    state: &AppState,
    item_id: Uuid,
    severity: Severity,
    tags: &[String],
    trail: &[TrailEntry],
    now: Timestamp,
) -> ApiResult<Vec<ticket::TicketClock>> {
    let item = state
        .item(item_id)
        .ok_or_else(|| ApiError::internal(format!("line item {item_id} is not in the catalog")))?;
    let opened_at = trail.first().map_or(now, |e| e.at);
    let facts = TicketFacts { severity, opened_at, tags };
    ticket::ticket_clocks(
        &item.policy(),
        &facts,
        trail,
        &state.catalog.settings.paused_while_waiting,
        &state.catalog.calendars,
        &state.thresholds(item_id, severity),
        now,
    )
    .map_err(ApiError::internal)
}

/// File a ticket for `caller`.
pub async fn file(
    state: &AppState,
    caller: &Caller,
    new: NewTicket,
    idempotency: Option<(String, String)>,
) -> ApiResult<Filed> {
    let now = state.clock.now();
    let item = state
        .item(new.line_item_id)
        .filter(|i| caller.sees(&i.agency))
        .ok_or_else(|| ApiError::not_found("line item"))?;
    check_text("title", &new.title, 1, TITLE_MAX)?;
    check_text("description", &new.description, 0, TEXT_MAX)?;
    check_tags(&new.tags)?;
    if new.reported_at.is_some() && !caller.may_backdate() {
        return Err(ApiError::forbidden("only engineers and managers may give reported_at"));
    }
    let reported_at = new.reported_at.unwrap_or(now);
    if reported_at > now {
        return Err(ApiError::invalid("reported_at is in the future"));
    }
    let tz = state.catalog.settings.timezone;
    let local_date = reported_at.to_datetime().with_timezone(&tz).date_naive();
    if local_date < item.service_period.from {
        return Err(ApiError::invalid(format!(
            "reported_at is before the line item's service period, which starts {}",
            item.service_period.from
        )));
    }
    let agency = item.agency.clone();
    let item_seq = item.seq;

    let trail = [TrailEntry { action: Action::File, at: reported_at }];
    let clocks = compute_clocks(state, new.line_item_id, new.severity, &new.tags, &trail, now)?;

    for attempt in 0..3 {
        if let Some((key, hash)) = &idempotency {
            if let Some(existing) =
                idempotency_key::Entity::find_by_id((caller.id, key.clone())).one(&state.db).await?
            {
                if &existing.request_hash != hash {
                    return Err(ApiError::new(
                        Code::IdempotencyKeyReused,
                        "this Idempotency-Key was already used with a different request body",
                    ));
                }
                return Ok(Filed::Replayed(read_unscoped(state, existing.ticket_id).await?));
            }
        }
        let id = Uuid::now_v7();
        let (clock_models, next_due) = clock_rows(id, &clocks, now)?;
        let mut row = ticket_row::Model {
            id,
            number: String::new(),
            line_item_id: new.line_item_id,
            agency_key: agency.clone(),
            title: new.title.clone(),
            description: new.description.clone(),
            severity: new.severity.as_str().to_owned(),
            state: TicketState::Open.as_str().to_owned(),
            paused_from: None,
            tags: serde_json::to_string(&new.tags).map_err(ApiError::internal)?,
            assignee_id: None,
            created_by: caller.id,
            reported_at: reported_at.unix(),
            created_at: now.unix(),
            updated_at: now.unix(),
            version: 1,
            next_due_at: next_due,
        };
        let mut data =
            json!({ "title": new.title, "severity": new.severity.as_str(), "line_item_seq": item_seq });
        if new.reported_at.is_some() {
            data["reported_at"] = json!(reported_at.to_string());
            data["backdated_by_seconds"] = json!(now.unix() - reported_at.unix());
        }
        let filing = Filing {
            year: number_year(state, now),
            ticket: row.clone(),
            event: ticket_event::Model {
                id: Uuid::now_v7(),
                ticket_id: id,
                seq: 1,
                kind: Action::File.as_str().to_owned(),
                actor_id: Some(caller.id),
                at: reported_at.unix(),
                recorded_at: now.unix(),
                from_state: None,
                to_state: TicketState::Open.as_str().to_owned(),
                data: data.to_string(),
            },
            clocks: clock_models.into_iter().map(|c| c.try_into_model()).collect::<Result<_, _>>()?,
            idempotency: idempotency.as_ref().map(|(key, hash)| idempotency_key::Model {
                user_id: caller.id,
                key: key.clone(),
                request_hash: hash.clone(),
                ticket_id: id,
                created_at: now.unix(),
            }),
        };
        match filing::insert(&state.db, &filing).await {
            Ok(number) => row.number = number,
            // Another request with the same key won the race: answer as it did.
            Err(e) if crate::store::is_unique_violation(&e) && idempotency.is_some() && attempt < 2 => {
                continue;
            }
            Err(e) => return Err(e.into()),
        }
        state.wake.notify_one();
        // The clocks were just computed at `now`: answer with them, no second read.
        let clocks = clocks
            .iter()
            .map(|c| ClockRead {
                metric: c.rule.metric.as_str().to_owned(),
                calendar: c.rule.calendar.clone(),
                status: c.status.clone(),
            })
            .collect();
        return Ok(Filed::Created(TicketRead { clocks, row, item_seq }));
    }
    Err(ApiError::new(Code::Unavailable, "could not file the ticket; try again"))
}

#[allow(clippy::too_many_arguments)]
pub(crate) async fn insert_event(
    txn: &DatabaseTransaction,
    ticket_id: Uuid,
    seq: i32,
    kind: &str,
    actor: Option<Uuid>,
    at: Timestamp,
    now: Timestamp,
    from: Option<TicketState>,
    to: TicketState,
    data: serde_json::Value,
) -> ApiResult<()> {
    ticket_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        ticket_id: Set(ticket_id),
        seq: Set(seq),
        kind: Set(kind.to_owned()),
        actor_id: Set(actor),
        at: Set(at.unix()),
        recorded_at: Set(now.unix()),
        from_state: Set(from.map(|s| s.as_str().to_owned())),
        to_state: Set(to.as_str().to_owned()),
        data: Set(data.to_string()),
    }
    .insert(txn)
    .await
    .map_err(|e| {
        if crate::store::is_unique_violation(&e) {
            ApiError::new(Code::Conflict, "the trail changed meanwhile")
        } else {
            e.into()
        }
    })?;
    Ok(())
}

/// Each ticket's clocks evaluated at `now`, from their stored rows.
async fn read_clocks(
    state: &AppState,
    rows: &[ticket_row::Model],
    now: Timestamp,
) -> ApiResult<HashMap<Uuid, Vec<ClockRead>>> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let stored = clock::Entity::find().filter(clock::Column::TicketId.is_in(ids)).all(&state.db).await?;
    evaluate_clocks(state, stored, now)
}

/// Stored clocks evaluated at `now`, by ticket, in the contract's order.
fn evaluate_clocks(
    state: &AppState,
    stored: Vec<clock::Model>,
    now: Timestamp,
) -> ApiResult<HashMap<Uuid, Vec<ClockRead>>> {
    let mut out: HashMap<Uuid, Vec<ClockRead>> = HashMap::new();
    for c in stored {
        let metric: Metric = c.metric.parse().map_err(|e: String| ApiError::internal(e))?;
        let rule = TargetRule {
            metric,
            when: sla_engine::Condition::default(),
            target: sla_engine::BusinessSeconds::new(u64::try_from(c.target_seconds).unwrap_or(0)),
            calendar: c.calendar.clone(),
        };
        let events: Vec<ClockEvent> = serde_json::from_str(&c.events).map_err(ApiError::internal)?;
        let status = ticket::evaluate(&rule, &events, &state.catalog.calendars, &[], now)
            .map_err(ApiError::internal)?;
        out.entry(c.ticket_id).or_default().push(ClockRead {
            metric: c.metric,
            calendar: c.calendar,
            status,
        });
    }
    // A stable order: the policy's metrics as the contract lists them.
    let rank = |m: &str| match m {
        "response" => 0,
        "on_site" => 1,
        "recovery" => 2,
        _ => 3,
    };
    for list in out.values_mut() {
        list.sort_by(|a, b| rank(&a.metric).cmp(&rank(&b.metric)).then_with(|| a.metric.cmp(&b.metric)));
    }
    Ok(out)
}

/// A ticket and its clocks, in one query (a read follows every filing).
async fn read_unscoped(state: &AppState, id: Uuid) -> ApiResult<TicketRead> {
    let (row, stored) = ticket_row::Entity::find_by_id(id)
        .find_with_related(clock::Entity)
        .all(&state.db)
        .await?
        .pop()
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    let item_seq = state.item(row.line_item_id).map_or(0, |i| i.seq);
    let now = state.clock.now();
    let clocks = evaluate_clocks(state, stored, now)?.remove(&row.id).unwrap_or_default();
    Ok(TicketRead { row, clocks, item_seq })
}

/// A ticket the caller may see; 404 otherwise.
pub async fn read(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<TicketRead> {
    let t = read_unscoped(state, id).await?;
    if caller.sees(&t.row.agency_key) { Ok(t) } else { Err(ApiError::not_found("ticket")) }
}

/// The trail of a ticket the caller may see.
pub async fn events(state: &AppState, caller: &Caller, id: Uuid) -> ApiResult<Vec<ticket_event::Model>> {
    let t = ticket_row::Entity::find_by_id(id).one(&state.db).await?.filter(|t| caller.sees(&t.agency_key));
    if t.is_none() {
        return Err(ApiError::not_found("ticket"));
    }
    Ok(ticket_event::Entity::find()
        .filter(ticket_event::Column::TicketId.eq(id))
        .order_by_asc(ticket_event::Column::Seq)
        .all(&state.db)
        .await?)
}

/// Filters for listing tickets.
#[derive(Clone, Debug, Default)]
pub struct TicketFilter {
    /// Agency key.
    pub agency: Option<String>,
    /// Line item id.
    pub line_item_id: Option<Uuid>,
    /// State.
    pub state: Option<TicketState>,
    /// Severity.
    pub severity: Option<Severity>,
    /// Only tickets with (or without) a breached clock as of now.
    pub breached: Option<bool>,
    /// Filed at or after.
    pub created_from: Option<Timestamp>,
    /// Filed before.
    pub created_to: Option<Timestamp>,
    /// Text in the number, title or description.
    pub text: Option<String>,
    /// Continue after this position.
    pub cursor: Option<(i64, Uuid)>,
    /// Page size.
    pub limit: u64,
}

/// A page of tickets, newest first, and where the next page starts.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    filter: TicketFilter,
) -> ApiResult<(Vec<TicketRead>, Option<(i64, Uuid)>)> {
    use ticket_row::Column as T;
    let now = state.clock.now();
    let mut cond = Condition::all();
    if let Some(scope) = caller.scope() {
        cond = cond.add(T::AgencyKey.eq(scope));
    }
    if let Some(a) = &filter.agency {
        cond = cond.add(T::AgencyKey.eq(a.clone()));
    }
    if let Some(li) = filter.line_item_id {
        cond = cond.add(T::LineItemId.eq(li));
    }
    if let Some(s) = filter.state {
        cond = cond.add(T::State.eq(s.as_str()));
    }
    if let Some(s) = filter.severity {
        cond = cond.add(T::Severity.eq(s.as_str()));
    }
    if let Some(from) = filter.created_from {
        cond = cond.add(T::CreatedAt.gte(from.unix()));
    }
    if let Some(to) = filter.created_to {
        cond = cond.add(T::CreatedAt.lt(to.unix()));
    }
    if let Some(text) = filter.text.as_deref().filter(|t| !t.is_empty()) {
        let escaped: String = text
            .to_lowercase()
            .chars()
            .flat_map(|c| match c {
                '%' | '_' | '\\' => vec!['\\', c],
                c => vec![c],
            })
            .collect();
        let pattern = format!("%{escaped}%");
        let like = |col: T| {
            Expr::expr(Func::lower(Expr::col((ticket_row::Entity, col))))
                .like(LikeExpr::new(pattern.clone()).escape('\\'))
        };
        cond = cond.add(Condition::any().add(like(T::Title)).add(like(T::Description)).add(like(T::Number)));
    }
    if let Some(breached) = filter.breached {
        let mut sub = Query::select();
        sub.expr(Expr::val(1))
            .from(clock::Entity)
            .and_where(
                Expr::col((clock::Entity, clock::Column::TicketId)).equals((ticket_row::Entity, T::Id)),
            )
            .cond_where(
                Condition::any()
                    .add(Expr::col((clock::Entity, clock::Column::BreachedAt)).is_not_null())
                    .add(
                        Condition::all()
                            .add(Expr::col((clock::Entity, clock::Column::MetAt)).is_null())
                            .add(Expr::col((clock::Entity, clock::Column::Deadline)).lte(now.unix())),
                    ),
            );
        let exists = Expr::exists(sub);
        cond = cond.add(if breached { exists } else { exists.not() });
    }
    if let Some((created, id)) = filter.cursor {
        cond = cond.add(
            Condition::any()
                .add(T::CreatedAt.lt(created))
                .add(Condition::all().add(T::CreatedAt.eq(created)).add(T::Id.lt(id))),
        );
    }
    let rows = ticket_row::Entity::find()
        .filter(cond)
        .order_by_desc(T::CreatedAt)
        .order_by_desc(T::Id)
        .limit(filter.limit + 1)
        .all(&state.db)
        .await?;
    let more = rows.len() as u64 > filter.limit;
    let rows: Vec<_> = rows.into_iter().take(filter.limit as usize).collect();
    let next = if more { rows.last().map(|r| (r.created_at, r.id)) } else { None };
    let mut clocks = read_clocks(state, &rows, now).await?;
    let out = rows
        .into_iter()
        .map(|row| {
            let item_seq = state.item(row.line_item_id).map_or(0, |i| i.seq);
            TicketRead { clocks: clocks.remove(&row.id).unwrap_or_default(), row, item_seq }
        })
        .collect();
    Ok((out, next))
}

/// The checks of an action's input that need no ticket: a malformed request
/// is refused as such before any precondition is looked at.
pub fn check_input(action: Action, input: &ActionInput) -> ApiResult<()> {
    if let Some(body) = &input.body {
        check_text(if action == Action::Comment { "body" } else { "note" }, body, 1, TEXT_MAX)?;
    }
    if let Some(tags) = &input.tags {
        check_tags(tags)?;
    }
    Ok(())
}

/// Take `action` on a ticket. `if_match` is the version the client last saw.
pub async fn act(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    action: Action,
    input: ActionInput,
    if_match: Option<i32>,
) -> ApiResult<TicketRead> {
    check_input(action, &input)?;
    for attempt in 0..5 {
        match try_act(state, caller, id, action, &input, if_match).await {
            Err(Retry::Again) if attempt < 4 => continue,
            Err(Retry::Again) => {
                return Err(ApiError::new(Code::Unavailable, "the ticket is busy; try again"));
            }
            Err(Retry::Fail(e)) => return Err(e),
            Ok(()) => return read(state, caller, id).await,
        }
    }
    Err(ApiError::new(Code::Unavailable, "the ticket is busy; try again"))
}

enum Retry {
    Again,
    Fail(ApiError),
}

impl<E: Into<ApiError>> From<E> for Retry {
    fn from(e: E) -> Self {
        Retry::Fail(e.into())
    }
}

async fn try_act(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    action: Action,
    input: &ActionInput,
    if_match: Option<i32>,
) -> Result<(), Retry> {
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let mut find = ticket_row::Entity::find_by_id(id);
    if crate::store::is_postgres(&state.db) {
        // Concurrent actions on one ticket queue here instead of failing their
        // version check (SQLite's single connection serialises them anyway).
        find = find.lock_exclusive();
    }
    let t = find
        .one(&txn)
        .await?
        .filter(|t| caller.sees(&t.agency_key))
        .ok_or_else(|| ApiError::not_found("ticket"))?;
    if !caller.may(action) {
        return Err(
            ApiError::forbidden(format!("a {} may not {} tickets", caller.role, action.as_str())).into()
        );
    }
    if let Some(v) = if_match {
        if v != t.version {
            return Err(ApiError::new(
                Code::PreconditionFailed,
                format!("the ticket is at version {}, not {v}; read it again", t.version),
            )
            .into());
        }
    }
    let from: TicketState = t.state.parse().map_err(ApiError::internal)?;
    let paused_from = t.paused_from.as_deref().and_then(|s| s.parse().ok());
    let to = ticket::next_state(from, paused_from, action)
        .map_err(|e| ApiError::transition(e.action.as_str(), e.from.as_str()))?;

    let trail_rows = ticket_event::Entity::find()
        .filter(ticket_event::Column::TicketId.eq(id))
        .order_by_asc(ticket_event::Column::Seq)
        .all(&txn)
        .await?;
    let last_at = trail_rows.last().map_or(t.reported_at, |e| e.at);
    let at = match input.at {
        None => now,
        Some(_) if !matches!(caller.role, Role::Engineer | Role::Admin) => {
            return Err(ApiError::forbidden("only engineers may say when an action happened").into());
        }
        Some(at) if at > now => return Err(ApiError::invalid("at is in the future").into()),
        Some(at) if at.unix() < last_at => {
            return Err(ApiError::invalid(format!(
                "at is before the ticket's previous event ({})",
                Timestamp::from_unix(last_at)
            ))
            .into());
        }
        Some(at) => at,
    };

    let mut severity = parse_severity(&t.severity)?;
    let mut tags = parse_tags(&t.tags);
    let mut assignee = t.assignee_id;
    let mut data = serde_json::Map::new();
    if let Some(body) = &input.body {
        data.insert(if action == Action::Comment { "body".into() } else { "note".into() }, json!(body));
    }
    match action {
        Action::Comment if input.body.is_none() => {
            return Err(ApiError::invalid("a comment needs a body").into());
        }
        Action::Assign => {
            let who = input.assignee_id.ok_or_else(|| ApiError::invalid("assign needs assignee_id"))?;
            let u = user::Entity::find_by_id(who).one(&txn).await?;
            if u.as_ref().is_none_or(|u| u.role != Role::Engineer.as_str()) {
                return Err(ApiError::invalid("assignee_id must be an engineer's id").into());
            }
            data.insert("assignee_id".into(), json!(who));
            data.insert("previous_assignee_id".into(), json!(assignee));
            assignee = Some(who);
        }
        Action::Severity => {
            let new = input.severity.ok_or_else(|| ApiError::invalid("severity needs a severity"))?;
            data.insert("from".into(), json!(severity.as_str()));
            data.insert("to".into(), json!(new.as_str()));
            severity = new;
        }
        _ => {}
    }
    if let Some(add) = &input.tags {
        for tag in add {
            if !tags.contains(tag) {
                tags.push(tag.clone());
            }
        }
        data.insert("tags".into(), json!(tags));
    }

    let mut trail: Vec<TrailEntry> = trail_rows
        .iter()
        .filter_map(|e| {
            e.kind.parse::<Action>().ok().map(|action| TrailEntry { action, at: Timestamp::from_unix(e.at) })
        })
        .collect();
    trail.push(TrailEntry { action, at });
    let clocks = compute_clocks(state, t.line_item_id, severity, &tags, &trail, now)?;
    let (clock_models, next_due) = clock_rows(id, &clocks, now)?;

    let new_paused_from = match (action, to) {
        (Action::Pause, _) => Some(from.as_str().to_owned()),
        (_, TicketState::Paused) => t.paused_from.clone(),
        _ => None,
    };
    let updated = ticket_row::Entity::update_many()
        .col_expr(ticket_row::Column::State, Expr::value(to.as_str()))
        .col_expr(ticket_row::Column::PausedFrom, Expr::value(new_paused_from))
        .col_expr(ticket_row::Column::Severity, Expr::value(severity.as_str()))
        .col_expr(
            ticket_row::Column::Tags,
            Expr::value(serde_json::to_string(&tags).map_err(ApiError::internal)?),
        )
        .col_expr(ticket_row::Column::AssigneeId, Expr::value(assignee))
        .col_expr(ticket_row::Column::UpdatedAt, Expr::value(now.unix()))
        .col_expr(ticket_row::Column::Version, Expr::value(t.version + 1))
        .col_expr(ticket_row::Column::NextDueAt, Expr::value(next_due))
        .filter(ticket_row::Column::Id.eq(id))
        .filter(ticket_row::Column::Version.eq(t.version))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        txn.rollback().await?;
        // Someone else changed it between our read and our write.
        return if if_match.is_some() {
            Err(ApiError::new(Code::PreconditionFailed, "the ticket changed since you read it").into())
        } else {
            Err(Retry::Again)
        };
    }
    let seq = trail_rows.last().map_or(1, |e| e.seq) + 1;
    if let Err(e) = insert_event(
        &txn,
        id,
        seq,
        action.as_str(),
        Some(caller.id),
        at,
        now,
        Some(from),
        to,
        serde_json::Value::Object(data),
    )
    .await
    {
        txn.rollback().await?;
        // The timer appended to the trail meanwhile: read again and retry.
        return Err(if e.code() == Code::Conflict { Retry::Again } else { Retry::Fail(e) });
    }
    clock::Entity::delete_many().filter(clock::Column::TicketId.eq(id)).exec(&txn).await?;
    if !clock_models.is_empty() {
        clock::Entity::insert_many(clock_models).exec_without_returning(&txn).await?;
    }
    txn.commit().await?;
    state.wake.notify_one();
    Ok(())
}

/// RFC 3339 in UTC, as the API writes instants.
pub fn rfc3339(ts: i64) -> DateTime<Utc> {
    Timestamp::from_unix(ts).to_datetime()
}
