//! Tickets: reading one (with its clocks), listing a filtered page, locking
//! one for an action and writing the action's outcome, idempotency keys.

use std::collections::HashMap;

use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait, RelationTrait,
};
use sla_engine::{Severity, Timestamp};
use uuid::Uuid;

use super::entities::{clock, idempotency_key, ticket};
use super::{clocks, json, parse, rows, to_json};
use crate::domain::clock::StoredClock;
use crate::domain::ticket::{Ticket, TicketState};

/// A ticket row as the domain reads it.
pub(crate) fn from_row(m: ticket::Model) -> Result<Ticket, DbErr> {
    Ok(Ticket {
        id: m.id,
        number: m.number,
        line_item_id: m.line_item_id,
        agency: m.agency_key,
        title: m.title,
        description: m.description,
        severity: parse("severity", &m.severity)?,
        state: parse("ticket state", &m.state)?,
        paused_from: m.paused_from.as_deref().map(|s| parse("ticket state", s)).transpose()?,
        tags: json("tags", &m.tags)?,
        assignee_id: m.assignee_id,
        created_by: m.created_by,
        reported_at: Timestamp::from_unix(m.reported_at),
        created_at: Timestamp::from_unix(m.created_at),
        updated_at: Timestamp::from_unix(m.updated_at),
        version: m.version,
    })
}

/// The row of a ticket (its number as given).
pub(crate) fn to_row(t: &Ticket) -> Result<ticket::Model, DbErr> {
    Ok(ticket::Model {
        id: t.id,
        number: t.number.clone(),
        line_item_id: t.line_item_id,
        agency_key: t.agency.clone(),
        title: t.title.clone(),
        description: t.description.clone(),
        severity: t.severity.as_str().to_owned(),
        state: t.state.as_str().to_owned(),
        paused_from: t.paused_from.map(|s| s.as_str().to_owned()),
        tags: to_json(&t.tags)?,
        assignee_id: t.assignee_id,
        created_by: t.created_by,
        reported_at: t.reported_at.unix(),
        created_at: t.created_at.unix(),
        updated_at: t.updated_at.unix(),
        version: t.version,
        // Its clocks' to keep: a filing sets it from the clocks it writes.
        breach_at: None,
    })
}

/// A ticket by id.
pub async fn find(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Ticket>, DbErr> {
    rows::one(ticket::Entity::find_by_id(id), db).await?.map(from_row).transpose()
}

/// The tickets of `ids` that exist, by id; locked until the transaction
/// ends when `lock` (in id order, so that two batches never wait on each other in a circle).
pub async fn find_many(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
    lock: bool,
) -> Result<HashMap<Uuid, Ticket>, DbErr> {
    let query = ticket::Entity::find()
        .filter(ticket::Column::Id.is_in(ids.iter().copied()))
        .order_by_asc(ticket::Column::Id);
    let query = if lock { super::lock(query, db) } else { query };
    rows::all(query, db).await?.into_iter().map(|row| from_row(row).map(|t| (t.id, t))).collect()
}

/// The id of the ticket numbered `number` (`INC-2026-000123`).
pub async fn id_of_number(db: &impl ConnectionTrait, number: &str) -> Result<Option<Uuid>, DbErr> {
    let id: Option<Uuid> = ticket::Entity::find()
        .select_only()
        .column(ticket::Column::Id)
        .filter(ticket::Column::Number.eq(number))
        .into_tuple()
        .one(db)
        .await?;
    Ok(id)
}

/// A ticket and its clocks, in one query.
pub async fn find_with_clocks(
    db: &impl ConnectionTrait,
    id: Uuid,
) -> Result<Option<(Ticket, Vec<StoredClock>)>, DbErr> {
    let Some((row, stored)) =
        ticket::Entity::find_by_id(id).find_with_related(clock::Entity).all(db).await?.pop()
    else {
        return Ok(None);
    };
    let clocks = stored.into_iter().map(|c| clocks::from_row(&c)).collect::<Result<_, _>>()?;
    Ok(Some((from_row(row)?, clocks)))
}

/// A ticket, locked until the transaction ends.
pub async fn lock(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<Ticket>, DbErr> {
    rows::one(super::lock(ticket::Entity::find_by_id(id), db), db).await?.map(from_row).transpose()
}

/// Write an action's outcome: the ticket's new state, severity, tags,
/// assignee and version, if it is still at `version`. False when someone
/// else changed it meanwhile.
pub async fn update(db: &impl ConnectionTrait, t: &Ticket, version: i32) -> Result<bool, DbErr> {
    use ticket::Column as C;
    let updated = ticket::Entity::update_many()
        .col_expr(C::State, Expr::value(t.state.as_str()))
        .col_expr(C::PausedFrom, Expr::value(t.paused_from.map(TicketState::as_str)))
        .col_expr(C::Severity, Expr::value(t.severity.as_str()))
        .col_expr(C::Tags, Expr::value(to_json(&t.tags)?))
        .col_expr(C::AssigneeId, Expr::value(t.assignee_id))
        .col_expr(C::UpdatedAt, Expr::value(t.updated_at.unix()))
        .col_expr(C::Version, Expr::value(t.version))
        .filter(C::Id.eq(t.id))
        .filter(C::Version.eq(version))
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// Whose tickets a list is narrowed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Assignee {
    /// Assigned to this engineer.
    To(Uuid),
    /// Assigned to nobody.
    Nobody,
}

/// What a list of tickets is narrowed to; an empty list of values narrows nothing.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this agency (the caller's scope).
    pub scope: Option<String>,
    /// Any of these agencies (keys).
    pub agencies: Vec<String>,
    /// Any of these line items.
    pub line_items: Vec<Uuid>,
    /// Any of these states.
    pub states: Vec<TicketState>,
    /// Any of these severities.
    pub severities: Vec<Severity>,
    /// Whose tickets.
    pub assignee: Option<Assignee>,
    /// Only tickets with (or without) a clock breached as of `now`.
    pub breached: Option<bool>,
    /// Filed at or after.
    pub created_from: Option<Timestamp>,
    /// Filed before.
    pub created_to: Option<Timestamp>,
    /// Text in the number, title or description.
    pub text: Option<String>,
    /// Continue after this (created, id) position.
    pub cursor: Option<(i64, Uuid)>,
    /// Page size.
    pub limit: u64,
}

/// A page of tickets, newest first, as of `now`; and the position of the
/// last one when more follow.
pub async fn list(
    db: &impl ConnectionTrait,
    filter: &Filter,
    now: Timestamp,
) -> Result<(Vec<Ticket>, Option<(i64, Uuid)>), DbErr> {
    use ticket::Column as T;
    let page = ticket::Entity::find()
        .filter(condition(filter, now))
        .order_by_desc(T::CreatedAt)
        .order_by_desc(T::Id)
        .limit(filter.limit + 1);
    let rows = rows::all(page, db).await?;
    let more = rows.len() as u64 > filter.limit;
    let rows: Vec<_> = rows.into_iter().take(filter.limit as usize).collect();
    let next = if more { rows.last().map(|r| (r.created_at, r.id)) } else { None };
    Ok((rows.into_iter().map(from_row).collect::<Result<_, _>>()?, next))
}

/// Tickets matching `filter` (its cursor aside), the nearest deadline of
/// an unmet clock first, those without one last: the engineers' queue.
///
/// The unmet clocks are read in deadline order (SQLite walks
/// `clocks_met_deadline`, PostgreSQL the partial `clocks_unmet_deadline`),
/// each joined to its ticket, until a page of matching tickets has shown
/// up: the deadline where the page's last ticket first appears bounds the
/// page, which is then read exactly (ties and order as below) among the
/// tickets with a clock due by then. Where the first clocks read do not
/// fill a page, every matching ticket is ordered instead.
pub async fn queue(db: &impl ConnectionTrait, filter: &Filter, now: Timestamp) -> Result<Vec<Ticket>, DbErr> {
    let unpaged = Filter { cursor: None, ..filter.clone() };
    let bound = page_bound(db, &unpaged, now).await?;
    let mut cond = condition(&unpaged, now);
    if let Some(last) = bound {
        let due_by = clock::Entity::find()
            .select_only()
            .column(clock::Column::TicketId)
            .filter(clock::Column::MetAt.is_null())
            .filter(clock::Column::Deadline.lte(last))
            .into_query();
        cond = cond.add(ticket::Column::Id.in_subquery(due_by));
    }
    by_nearest_deadline(db, cond, filter.limit).await
}

/// The deadline by which a page of `filter`'s tickets has an unmet clock
/// due, read from the first clocks in deadline order; `None` when those do
/// not fill a page.
async fn page_bound(
    db: &impl ConnectionTrait,
    filter: &Filter,
    now: Timestamp,
) -> Result<Option<i64>, DbErr> {
    let wanted = usize::try_from(filter.limit).unwrap_or(usize::MAX);
    // A ticket has a few clocks; four rows a ticket almost always fill a page.
    let read = filter.limit.saturating_mul(4);
    let rows: Vec<(Uuid, Option<i64>)> = clock::Entity::find()
        .select_only()
        .column(clock::Column::TicketId)
        .column(clock::Column::Deadline)
        .join(sea_orm::JoinType::InnerJoin, clock::Relation::Ticket.def())
        .filter(clock::Column::MetAt.is_null())
        .filter(clock::Column::Deadline.is_not_null())
        .filter(condition(filter, now))
        .order_by_asc(clock::Column::Deadline)
        .order_by_asc(clock::Column::TicketId)
        .limit(read)
        .into_tuple()
        .all(db)
        .await?;
    let mut seen = std::collections::HashSet::new();
    for (id, deadline) in rows {
        if seen.insert(id) && seen.len() == wanted {
            return Ok(deadline);
        }
    }
    Ok(None)
}

async fn by_nearest_deadline(
    db: &impl ConnectionTrait,
    cond: Condition,
    limit: u64,
) -> Result<Vec<Ticket>, DbErr> {
    use ticket::Column as T;
    // One expression both engines read alike; NULLs sort differently on
    // each, so a ticket with no unmet clock sorts as the far future. The
    // unmet test sits inside MIN, so that the ticket's own clocks are found
    // by its key: as a WHERE term it led both planners to walk every unmet
    // clock in deadline order instead (the queue's indexes) for each ticket.
    let nearest = Expr::cust(
        "COALESCE((SELECT MIN(CASE WHEN c.met_at IS NULL THEN c.deadline END) FROM clocks c \
         WHERE c.ticket_id = tickets.id), 9223372036854775807)",
    );
    let page = ticket::Entity::find()
        .filter(cond)
        .order_by_asc(nearest)
        .order_by_asc(T::CreatedAt)
        .order_by_asc(T::Id)
        .limit(limit);
    let rows = rows::all(page, db).await?;
    rows.into_iter().map(from_row).collect()
}

fn condition(f: &Filter, now: Timestamp) -> Condition {
    use ticket::Column as T;
    let mut cond = Condition::all();
    if let Some(scope) = &f.scope {
        cond = cond.add(T::AgencyKey.eq(scope.clone()));
    }
    if !f.agencies.is_empty() {
        cond = cond.add(T::AgencyKey.is_in(f.agencies.iter().cloned()));
    }
    if !f.line_items.is_empty() {
        cond = cond.add(T::LineItemId.is_in(f.line_items.iter().copied()));
    }
    if !f.states.is_empty() {
        cond = cond.add(T::State.is_in(f.states.iter().map(|s| s.as_str())));
    }
    if !f.severities.is_empty() {
        cond = cond.add(T::Severity.is_in(f.severities.iter().map(|s| s.as_str())));
    }
    match f.assignee {
        Some(Assignee::To(id)) => cond = cond.add(T::AssigneeId.eq(id)),
        Some(Assignee::Nobody) => cond = cond.add(T::AssigneeId.is_null()),
        None => {}
    }
    if let Some(from) = f.created_from {
        cond = cond.add(T::CreatedAt.gte(from.unix()));
    }
    if let Some(to) = f.created_to {
        cond = cond.add(T::CreatedAt.lt(to.unix()));
    }
    if let Some(text) = f.text.as_deref().filter(|t| !t.is_empty()) {
        cond = cond.add(text_condition(text));
    }
    if let Some(breached) = f.breached {
        // The ticket's breach instant, kept with its clocks (`clocks::refresh_breach`).
        let by_now = T::BreachAt.lte(now.unix());
        cond = cond.add(if breached {
            Condition::all().add(by_now)
        } else {
            Condition::any().add(T::BreachAt.is_null()).add(T::BreachAt.gt(now.unix()))
        });
    }
    if let Some((created, id)) = f.cursor {
        // A row comparison: a bound of the (created_at, id) indexes, where an OR is a filter.
        let key =
            Expr::tuple([Expr::col((ticket::Entity, T::CreatedAt)), Expr::col((ticket::Entity, T::Id))]);
        cond = cond.add(key.lt(Expr::tuple([Expr::val(created), Expr::val(id)])));
    }
    cond
}

/// Case-insensitive text in the title, description or number; `%`, `_`
/// and `\` match themselves.
fn text_condition(text: &str) -> Condition {
    use ticket::Column as T;
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
        Expr::expr(Func::lower(Expr::col((ticket::Entity, col))))
            .like(LikeExpr::new(pattern.clone()).escape('\\'))
    };
    Condition::any().add(like(T::Title)).add(like(T::Description)).add(like(T::Number))
}

/// Each listed ticket's clocks.
pub async fn clocks_of(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<StoredClock>>, DbErr> {
    let mut out: HashMap<Uuid, Vec<StoredClock>> = HashMap::new();
    for chunk in ids.chunks(500) {
        let query =
            clocks::reading(clock::Entity::find().filter(clock::Column::TicketId.is_in(chunk.to_vec())));
        for row in query.all(db).await? {
            let (ticket_id, clock) = clocks::from_reading(row)?;
            out.entry(ticket_id).or_default().push(clock);
        }
    }
    Ok(out)
}

/// A filing's Idempotency-Key as it was first used: the request's hash and the ticket it filed.
pub async fn idempotency(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    key: &str,
) -> Result<Option<(String, Uuid)>, DbErr> {
    Ok(idempotency_key::Entity::find_by_id((user_id, key.to_owned()))
        .one(db)
        .await?
        .map(|k| (k.request_hash, k.ticket_id)))
}

/// Tickets reported within `[from, to)`, in scope, oldest first: a page of
/// at most `limit` after the ticket `after` (its report time and id).
pub async fn reported_between(
    db: &impl ConnectionTrait,
    from: Timestamp,
    to: Timestamp,
    agencies: &[&str],
    line_item: Option<Uuid>,
    after: Option<(Timestamp, Uuid)>,
    limit: u64,
) -> Result<Vec<Ticket>, DbErr> {
    use ticket::Column as C;
    let mut query = ticket::Entity::find()
        .filter(C::ReportedAt.gte(from.unix()))
        .filter(C::ReportedAt.lt(to.unix()))
        .order_by_asc(C::ReportedAt)
        .order_by_asc(C::Id)
        .limit(limit);
    if let Some((at, id)) = after {
        // A row comparison: a bound of the index, where an OR is a filter.
        let key = Expr::tuple([Expr::col(C::ReportedAt), Expr::col(C::Id)]);
        query = query.filter(key.gt(Expr::tuple([Expr::val(at.unix()), Expr::val(id)])));
    }
    for a in agencies {
        query = query.filter(C::AgencyKey.eq(*a));
    }
    if let Some(li) = line_item {
        query = query.filter(C::LineItemId.eq(li));
    }
    rows::all(query, db).await?.into_iter().map(from_row).collect()
}
