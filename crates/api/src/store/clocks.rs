//! SLA clocks and the thresholds they crossed: a ticket's clocks rewritten
//! with each action, the due clocks claimed by the worker in the order of
//! their indexed `next_at`, and each threshold recorded once.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Select, SelectGetableTuple, Selector,
};
use sla_engine::{BusinessSeconds, ClockStatus, Timestamp};
use uuid::Uuid;

use super::entities::{clock, clock_alert};
use super::{json, parse, rows, to_json};
use crate::domain::clock::StoredClock;

/// A stored clock as the domain reads it.
pub(crate) fn from_row(c: &clock::Model) -> Result<StoredClock, DbErr> {
    let (calendar, rule_ref) = (c.calendar.clone(), c.rule.clone());
    stored(&c.metric, c.target_seconds, calendar, &c.events, rule_ref, c.choice_beyond_holiday_data)
}

fn stored(
    metric: &str,
    target_seconds: i64,
    calendar: String,
    events: &str,
    rule_ref: Option<String>,
    choice_beyond_holiday_data: bool,
) -> Result<StoredClock, DbErr> {
    Ok(StoredClock {
        metric: parse("metric", metric)?,
        target: BusinessSeconds::new(u64::try_from(target_seconds).unwrap_or(0)),
        calendar,
        events: json("clock events", events)?,
        rule_ref,
        choice_beyond_holiday_data,
    })
}

/// The columns of a clock that [`from_reading`] makes a [`StoredClock`] of:
/// half of them, read by position, which is what a page of tickets shows.
pub(crate) type Reading = (Uuid, String, i64, String, String, Option<String>, bool);

/// `select` narrowed to a [`Reading`] of each clock.
pub(crate) fn reading(select: Select<clock::Entity>) -> Selector<SelectGetableTuple<Reading>> {
    use clock::Column as C;
    select
        .select_only()
        .columns([C::TicketId, C::Metric, C::TargetSeconds, C::Calendar, C::Events, C::Rule])
        .column(C::ChoiceBeyondHolidayData)
        .into_tuple()
}

/// A clock as [`reading`] reads it, with its ticket's id.
pub(crate) fn from_reading(row: Reading) -> Result<(Uuid, StoredClock), DbErr> {
    let (ticket_id, metric, target_seconds, calendar, events, rule_ref, choice_beyond_holiday_data) = row;
    let clock = stored(&metric, target_seconds, calendar, &events, rule_ref, choice_beyond_holiday_data)?;
    Ok((ticket_id, clock))
}

/// A clock to write: what it is, where it stood when computed, and when the worker must look at it.
#[derive(Clone, Copy, Debug)]
pub struct ClockWrite<'a> {
    /// The clock.
    pub clock: &'a StoredClock,
    /// Its standing at `now`.
    pub status: &'a ClockStatus,
    /// When the worker must look at it next.
    pub next_at: Option<Timestamp>,
}

/// The row of a clock of `ticket_id`, computed at `now`.
pub(crate) fn to_row(ticket_id: Uuid, w: ClockWrite<'_>, now: Timestamp) -> Result<clock::Model, DbErr> {
    let s = w.status;
    Ok(clock::Model {
        ticket_id,
        metric: w.clock.metric.as_str().to_owned(),
        target_seconds: i64::try_from(w.clock.target.get()).unwrap_or(i64::MAX),
        calendar: w.clock.calendar.clone(),
        state: s.state.as_str().to_owned(),
        events: to_json(&w.clock.events)?,
        started_at: w.clock.started_at().map_or(0, Timestamp::unix),
        deadline: s.deadline.map(Timestamp::unix),
        next_at: w.next_at.map(Timestamp::unix),
        breached_at: s.breached_at.map(Timestamp::unix),
        met_at: s.met_at.map(Timestamp::unix),
        updated_at: now.unix(),
        rule: w.clock.rule_ref.clone(),
        choice_beyond_holiday_data: w.clock.choice_beyond_holiday_data,
    })
}

/// When the first of these clocks (one ticket's) breached or, as they
/// stand, will breach: the earliest recorded breach or deadline not yet
/// met. The ticket row keeps it for the list's `breached` filter; a clock
/// with neither (paused, or met in time) adds nothing. The same rule as
/// [`BREACH_OF_TICKET`], for rows about to be written.
pub(crate) fn breach_of(clocks: &[clock::Model]) -> Option<i64> {
    clocks.iter().filter_map(|c| c.breached_at.or(if c.met_at.is_none() { c.deadline } else { None })).min()
}

/// [`breach_of`] over the stored clocks of the ticket `tickets.id`, in SQL
/// both engines read alike.
const BREACH_OF_TICKET: &str = "(SELECT MIN(COALESCE(c.breached_at, CASE WHEN c.met_at IS NULL \
     THEN c.deadline END)) FROM clocks c WHERE c.ticket_id = tickets.id)";

/// Bring the breach instant of the tickets `ids` up to date with their
/// stored clocks; a ticket whose instant did not change is not written.
/// Every write of clocks here does it, but [`set_status`], whose caller
/// does it once for all the tickets it wrote.
pub async fn refresh_breach(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<(), DbErr> {
    for chunk in ids.chunks(super::bulk::MAX_VALUES) {
        let mut p = super::bulk::Params::new(db.get_database_backend());
        let list = p.row(chunk.iter().map(|id| (*id).into()).collect());
        // -1 stands for "none" on both sides: no instant is before 1970.
        let sql = format!(
            "UPDATE tickets SET breach_at = {BREACH_OF_TICKET} WHERE id IN {list} \
             AND COALESCE(breach_at, -1) <> COALESCE({BREACH_OF_TICKET}, -1)"
        );
        db.execute_raw(p.statement(sql)).await?;
    }
    Ok(())
}

/// Replace every clock of a ticket.
pub async fn replace(
    db: &impl ConnectionTrait,
    ticket_id: Uuid,
    clocks: &[ClockWrite<'_>],
    now: Timestamp,
) -> Result<(), DbErr> {
    clock::Entity::delete_many().filter(clock::Column::TicketId.eq(ticket_id)).exec(db).await?;
    if !clocks.is_empty() {
        let rows = clocks
            .iter()
            .map(|w| to_row(ticket_id, *w, now).map(clock::ActiveModel::from))
            .collect::<Result<Vec<_>, _>>()?;
        clock::Entity::insert_many(rows).exec_without_returning(db).await?;
    }
    refresh_breach(db, &[ticket_id]).await
}

/// Write a clock's standing (its history is unchanged); the caller then
/// refreshes its ticket's breach instant ([`refresh_breach`]).
pub async fn set_status(
    db: &impl ConnectionTrait,
    ticket_id: Uuid,
    w: ClockWrite<'_>,
    now: Timestamp,
) -> Result<(), DbErr> {
    let s = w.status;
    clock::Entity::update_many()
        .col_expr(clock::Column::NextAt, Expr::value(w.next_at.map(Timestamp::unix)))
        .col_expr(clock::Column::State, Expr::value(s.state.as_str()))
        .col_expr(clock::Column::Deadline, Expr::value(s.deadline.map(Timestamp::unix)))
        .col_expr(clock::Column::BreachedAt, Expr::value(s.breached_at.map(Timestamp::unix)))
        .col_expr(clock::Column::MetAt, Expr::value(s.met_at.map(Timestamp::unix)))
        .col_expr(clock::Column::UpdatedAt, Expr::value(now.unix()))
        .filter(clock::Column::TicketId.eq(ticket_id))
        .filter(clock::Column::Metric.eq(w.clock.metric.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// Rewrite one clock whole: its rule changed (its history did not).
pub async fn rewrite(
    db: &impl ConnectionTrait,
    ticket_id: Uuid,
    w: ClockWrite<'_>,
    now: Timestamp,
) -> Result<(), DbErr> {
    let row = to_row(ticket_id, w, now)?;
    clock::Entity::update(sea_orm::ActiveModelTrait::reset_all(clock::ActiveModel::from(row)))
        .exec(db)
        .await?;
    Ok(())
}

/// Write many clocks' standing and rule (chosen again); their history is
/// unchanged and not written: one statement per few hundred, for a recomputation.
pub async fn write_many(
    db: &impl ConnectionTrait,
    writes: &[(Uuid, ClockWrite<'_>)],
    now: Timestamp,
) -> Result<(), DbErr> {
    const COLUMNS: &str = "ticket_id, metric, target_seconds, calendar, state, \
                           deadline, next_at, breached_at, met_at, rule, choice_beyond_holiday_data";
    const SET: &str = "target_seconds = v.target_seconds, calendar = v.calendar, state = v.state, \
                       deadline = v.deadline, next_at = v.next_at, \
                       breached_at = v.breached_at, met_at = v.met_at, rule = v.rule, \
                       choice_beyond_holiday_data = v.choice_beyond_holiday_data";
    let backend = db.get_database_backend();
    let per_statement = super::bulk::MAX_VALUES / 12;
    for chunk in writes.chunks(per_statement) {
        let mut p = super::bulk::Params::new(backend);
        let rows = chunk
            .iter()
            .map(|(ticket_id, w)| {
                let c = to_row(*ticket_id, *w, now)?;
                Ok(vec![
                    c.ticket_id.into(),
                    c.metric.into(),
                    c.target_seconds.into(),
                    c.calendar.into(),
                    c.state.into(),
                    c.deadline.into(),
                    c.next_at.into(),
                    c.breached_at.into(),
                    c.met_at.into(),
                    c.rule.into(),
                    c.choice_beyond_holiday_data.into(),
                ])
            })
            .collect::<Result<Vec<_>, DbErr>>()?;
        let values = p.rows(rows);
        let updated_at = p.bind(now.unix().into());
        // A list of values named in a CTE reads the same on both engines
        // (SQLite cannot name the columns of a VALUES subquery otherwise).
        let sql = format!(
            "WITH v({COLUMNS}) AS (VALUES {values}) UPDATE clocks SET {SET}, updated_at = {updated_at} \
             FROM v WHERE clocks.ticket_id = v.ticket_id AND clocks.metric = v.metric"
        );
        db.execute_raw(p.statement(sql)).await?;
    }
    let mut tickets: Vec<Uuid> = writes.iter().map(|(id, _)| *id).collect();
    tickets.sort_unstable();
    tickets.dedup();
    refresh_breach(db, &tickets).await
}

/// A clock the worker claimed.
#[derive(Clone, Debug)]
pub struct Claimed {
    /// Its ticket.
    pub ticket_id: Uuid,
    /// The clock.
    pub clock: StoredClock,
    /// The deadline last written for it.
    pub deadline: Option<Timestamp>,
    /// When the worker was last told to look at it.
    pub next_at: Option<Timestamp>,
    /// When it breached, as last written.
    pub breached_at: Option<Timestamp>,
}

fn claimed(row: &clock::Model) -> Result<Claimed, DbErr> {
    Ok(Claimed {
        ticket_id: row.ticket_id,
        clock: from_row(row)?,
        deadline: row.deadline.map(Timestamp::from_unix),
        next_at: row.next_at.map(Timestamp::from_unix),
        breached_at: row.breached_at.map(Timestamp::from_unix),
    })
}

/// Claim up to `limit` clocks due at `now`, in the order they fell due
/// (another instance's claims are skipped).
///
/// Only due clocks are locked. On PostgreSQL a row lock is a write to the
/// row's page, and the timer runs after every filing and action: reading
/// the next instant through the claim (one statement instead of two) had
/// locked a hundred clocks not due each time, most of what a busy service
/// wrote to its log.
pub async fn claim_due(db: &impl ConnectionTrait, now: Timestamp, limit: u64) -> Result<Vec<Claimed>, DbErr> {
    let due = clock::Entity::find()
        .filter(clock::Column::NextAt.lte(now.unix()))
        .order_by_asc(clock::Column::NextAt)
        .limit(limit);
    rows::all(super::claim(due, db), db).await?.iter().map(claimed).collect()
}

/// When the next clock falls due after `now`, so that the worker knows how
/// long to sleep without asking again. Those due by `now` are claimed or
/// being handled by another instance.
pub async fn next_due_after(db: &impl ConnectionTrait, now: Timestamp) -> Result<Option<Timestamp>, DbErr> {
    let next: Option<i64> = clock::Entity::find()
        .select_only()
        .column(clock::Column::NextAt)
        .filter(clock::Column::NextAt.gt(now.unix()))
        .order_by_asc(clock::Column::NextAt)
        .into_tuple()
        .one(db)
        .await?;
    Ok(next.map(Timestamp::from_unix))
}

/// Clocks not yet met (of these calendars, when some are named; when
/// `since` is given, with no deadline, a deadline or next instant at or
/// after it, or a rule chosen on dates without holiday data), a page at a
/// time after `(ticket, metric)`: for a recomputation.
pub async fn unmet_after(
    db: &impl ConnectionTrait,
    calendars: Option<&[String]>,
    since: Option<Timestamp>,
    after: Option<(Uuid, String)>,
    limit: u64,
) -> Result<Vec<Claimed>, DbErr> {
    let mut query = clock::Entity::find().filter(clock::Column::MetAt.is_null());
    if let Some(names) = calendars {
        query = query.filter(clock::Column::Calendar.is_in(names.iter().cloned()));
    }
    if let Some(since) = since {
        query = query.filter(
            Condition::any()
                .add(clock::Column::Deadline.is_null())
                .add(clock::Column::Deadline.gte(since.unix()))
                .add(clock::Column::NextAt.gte(since.unix()))
                .add(clock::Column::ChoiceBeyondHolidayData.eq(true)),
        );
    }
    let mut query =
        query.order_by_asc(clock::Column::TicketId).order_by_asc(clock::Column::Metric).limit(limit);
    if let Some((ticket, metric)) = after {
        // A row comparison, which PostgreSQL reads as a bound of the primary
        // key's index; the same as an OR of two comparisons, which it cannot,
        // and then every page walked the table from its first row.
        let key = Expr::tuple([Expr::col(clock::Column::TicketId), Expr::col(clock::Column::Metric)]);
        query = query.filter(key.gt(Expr::tuple([Expr::val(ticket), Expr::val(metric)])));
    }
    rows::all(query, db).await?.iter().map(claimed).collect()
}

/// These clocks (ticket, metric) if still not met and of these calendars,
/// locked until the transaction ends: read again under the lock, so that
/// what a recomputation writes starts from the latest action's clocks. The
/// ticket's other clocks are neither read nor locked.
pub async fn unmet_of(
    db: &impl ConnectionTrait,
    clocks: &[(Uuid, String)],
    calendars: &[String],
) -> Result<Vec<Claimed>, DbErr> {
    let mut tickets: Vec<Uuid> = clocks.iter().map(|(id, _)| *id).collect();
    tickets.dedup();
    let pair = Expr::tuple([Expr::col(clock::Column::TicketId), Expr::col(clock::Column::Metric)]);
    let query = clock::Entity::find()
        // The tickets first: a bound of the primary key's index; the pairs then pick among their clocks.
        .filter(clock::Column::TicketId.is_in(tickets))
        .filter(pair.in_tuples(clocks.iter().cloned()))
        .filter(clock::Column::MetAt.is_null())
        .filter(clock::Column::Calendar.is_in(calendars.iter().cloned()))
        .order_by_asc(clock::Column::TicketId)
        .order_by_asc(clock::Column::Metric);
    rows::all(super::lock(query, db), db).await?.iter().map(claimed).collect()
}

/// The thresholds of a ticket's clocks already recorded, as (metric, percent).
pub async fn recorded_alerts(
    db: &impl ConnectionTrait,
    ticket_id: Uuid,
) -> Result<Vec<(String, u32)>, DbErr> {
    Ok(clock_alert::Entity::find()
        .filter(clock_alert::Column::TicketId.eq(ticket_id))
        .all(db)
        .await?
        .into_iter()
        .map(|a| (a.metric, u32::try_from(a.percent).unwrap_or(0)))
        .collect())
}

/// A threshold a clock crossed.
#[derive(Clone, Copy, Debug)]
pub struct NewAlert<'a> {
    /// The ticket.
    pub ticket_id: Uuid,
    /// The clock's metric.
    pub metric: &'a str,
    /// The threshold.
    pub percent: u32,
    /// When the clock crossed it.
    pub at: Timestamp,
    /// Whether a message goes out for it (only the highest of several at once does).
    pub notified: bool,
}

/// The row of a threshold recorded at `now`.
pub(crate) fn alert_row(a: NewAlert<'_>, now: Timestamp) -> clock_alert::Model {
    clock_alert::Model {
        ticket_id: a.ticket_id,
        metric: a.metric.to_owned(),
        percent: i32::try_from(a.percent).unwrap_or(i32::MAX),
        at: a.at.unix(),
        recorded_at: now.unix(),
        notified: a.notified,
    }
}

/// The thresholds already recorded of each of these tickets' clocks.
pub async fn recorded_alerts_of(
    db: &impl ConnectionTrait,
    ids: &[Uuid],
) -> Result<std::collections::HashMap<Uuid, Vec<(String, u32)>>, DbErr> {
    let mut by_ticket: std::collections::HashMap<Uuid, Vec<(String, u32)>> = std::collections::HashMap::new();
    for a in clock_alert::Entity::find()
        .filter(clock_alert::Column::TicketId.is_in(ids.iter().copied()))
        .all(db)
        .await?
    {
        by_ticket.entry(a.ticket_id).or_default().push((a.metric, u32::try_from(a.percent).unwrap_or(0)));
    }
    Ok(by_ticket)
}

/// Record a threshold once, ever: false when it was recorded already.
pub async fn record_alert(db: &impl ConnectionTrait, a: NewAlert<'_>, now: Timestamp) -> Result<bool, DbErr> {
    let row = alert_row(a, now);
    let inserted = clock_alert::Entity::insert(clock_alert::ActiveModel {
        ticket_id: Set(row.ticket_id),
        metric: Set(row.metric),
        percent: Set(row.percent),
        at: Set(row.at),
        recorded_at: Set(row.recorded_at),
        notified: Set(row.notified),
    })
    .on_conflict(
        OnConflict::columns([
            clock_alert::Column::TicketId,
            clock_alert::Column::Metric,
            clock_alert::Column::Percent,
        ])
        .do_nothing()
        .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(inserted > 0)
}

/// Forget a recorded threshold that did not happen after all, so that the
/// clock may announce it if it ever really crosses it.
pub async fn forget_alert(
    db: &impl ConnectionTrait,
    ticket_id: Uuid,
    metric: &str,
    percent: u32,
) -> Result<(), DbErr> {
    clock_alert::Entity::delete_many()
        .filter(clock_alert::Column::TicketId.eq(ticket_id))
        .filter(clock_alert::Column::Metric.eq(metric))
        .filter(clock_alert::Column::Percent.eq(i32::try_from(percent).unwrap_or(i32::MAX)))
        .exec(db)
        .await?;
    Ok(())
}
