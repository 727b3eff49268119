//! The write of a new ticket — its number, row, first trail event, clocks and
//! idempotency key — atomically, in as few round trips as each engine allows.
//!
//! Filing is the hot path under load. On PostgreSQL the whole write is one
//! statement (data-modifying CTEs run in one implicit transaction and the
//! foreign keys are checked at its end), so a filing costs one round trip
//! instead of seven, and numbers come from a sequence per year
//! (`ticket_numbers_2026`, made when the year's first ticket is filed): a
//! sequence never holds a lock until commit, where a counter row would make
//! every concurrent filing wait for the one before it to reach the disk. A
//! filing that fails leaves a gap in the numbers, never a duplicate.
//!
//! SQLite runs in-process with one writer, where round trips are free and
//! nothing runs concurrently: there the same rows go in one transaction,
//! statement by statement, and the year's counter row numbers them without
//! gaps.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait, Value};

use super::bulk::{MAX_VALUES, Params};
use sla_engine::Timestamp;

use super::clocks::{ClockWrite, NewAlert};
use super::entities::{clock, clock_alert, idempotency_key, ticket, ticket_event};
use super::trail::NewEvent;
use crate::domain::ticket::Ticket;

/// Everything a new ticket writes. `ticket.number` is ignored: the number is
/// taken from the year's counter inside the same write.
#[derive(Clone, Copy, Debug)]
pub struct Filing<'a> {
    /// The year the number carries (`INC-{year}-…`).
    pub year: i32,
    /// The ticket.
    pub ticket: &'a Ticket,
    /// Its first rows of the trail: the `file` event, then any steps recorded with it.
    pub events: &'a [NewEvent],
    /// Its clocks.
    pub clocks: &'a [ClockWrite<'a>],
    /// Thresholds its clocks crossed before it was recorded, stored as
    /// announced already (a bulk import of past tickets); empty for a filing.
    pub alerts: &'a [NewAlert<'a>],
    /// The Idempotency-Key it was filed under and the request's hash, if any.
    pub idempotency: Option<(&'a str, &'a str)>,
    /// When it is filed.
    pub now: Timestamp,
}

/// The rows a filing writes.
struct Models {
    year: i32,
    ticket: ticket::Model,
    events: Vec<ticket_event::Model>,
    clocks: Vec<clock::Model>,
    alerts: Vec<clock_alert::Model>,
    idempotency: Option<idempotency_key::Model>,
}

impl Models {
    fn of(f: &Filing<'_>) -> Result<Self, DbErr> {
        let clocks: Vec<clock::Model> = f
            .clocks
            .iter()
            .map(|w| super::clocks::to_row(f.ticket.id, *w, f.now))
            .collect::<Result<_, _>>()?;
        let ticket = ticket::Model {
            breach_at: super::clocks::breach_of(&clocks),
            ..super::tickets::to_row(f.ticket)?
        };
        Ok(Self {
            year: f.year,
            ticket,
            events: f.events.iter().map(super::trail::to_row).collect(),
            clocks,
            alerts: f.alerts.iter().map(|a| super::clocks::alert_row(*a, f.now)).collect(),
            idempotency: f.idempotency.map(|(key, hash)| idempotency_key::Model {
                user_id: f.ticket.created_by,
                key: key.to_owned(),
                request_hash: hash.to_owned(),
                ticket_id: f.ticket.id,
                created_at: f.now.unix(),
            }),
        })
    }
}

/// A ticket number as both engines write it: at least six digits.
pub fn number(year: i32, last: i64) -> String {
    format!("INC-{year}-{last:06}")
}

/// One table's insert: its columns and rows of values.
struct Rows {
    table: &'static str,
    columns: &'static str,
    rows: Vec<Vec<Value>>,
}

impl Rows {
    /// `INSERT INTO table (columns) VALUES (…), (…)`, bound to `p`.
    fn insert(self, p: &mut Params) -> String {
        format!("INSERT INTO {} ({}) VALUES {}", self.table, self.columns, p.rows(self.rows))
    }
}

/// The ticket's columns but its number, which each engine writes its own way.
macro_rules! ticket_columns {
    () => {
        "id, line_item_id, agency_key, title, description, severity, state, paused_from, \
         tags, assignee_id, created_by, reported_at, created_at, updated_at, version, breach_at"
    };
}

fn ticket_values(t: &ticket::Model) -> Vec<Value> {
    vec![
        t.id.into(),
        t.line_item_id.into(),
        t.agency_key.clone().into(),
        t.title.clone().into(),
        t.description.clone().into(),
        t.severity.clone().into(),
        t.state.clone().into(),
        t.paused_from.clone().into(),
        t.tags.clone().into(),
        t.assignee_id.into(),
        t.created_by.into(),
        t.reported_at.into(),
        t.created_at.into(),
        t.updated_at.into(),
        t.version.into(),
        t.breach_at.into(),
    ]
}

/// The rows besides the ticket's own, in the order they are written.
fn dependents(f: &Models) -> Vec<Rows> {
    let mut out = vec![Rows {
        table: "ticket_events",
        columns: "id, ticket_id, seq, kind, actor_id, at, recorded_at, from_state, to_state, data",
        rows: f
            .events
            .iter()
            .map(|e| {
                vec![
                    e.id.into(),
                    e.ticket_id.into(),
                    e.seq.into(),
                    e.kind.clone().into(),
                    e.actor_id.into(),
                    e.at.into(),
                    e.recorded_at.into(),
                    e.from_state.clone().into(),
                    e.to_state.clone().into(),
                    e.data.clone().into(),
                ]
            })
            .collect(),
    }];
    if !f.clocks.is_empty() {
        out.push(Rows {
            table: "clocks",
            columns: "ticket_id, metric, target_seconds, calendar, state, events, started_at, deadline, \
                      next_at, breached_at, met_at, updated_at, rule, choice_beyond_holiday_data",
            rows: f
                .clocks
                .iter()
                .map(|c| {
                    vec![
                        c.ticket_id.into(),
                        c.metric.clone().into(),
                        c.target_seconds.into(),
                        c.calendar.clone().into(),
                        c.state.clone().into(),
                        c.events.clone().into(),
                        c.started_at.into(),
                        c.deadline.into(),
                        c.next_at.into(),
                        c.breached_at.into(),
                        c.met_at.into(),
                        c.updated_at.into(),
                        c.rule.clone().into(),
                        c.choice_beyond_holiday_data.into(),
                    ]
                })
                .collect(),
        });
    }
    if !f.alerts.is_empty() {
        out.push(Rows {
            table: "clock_alerts",
            columns: "ticket_id, metric, percent, at, recorded_at, notified",
            rows: f
                .alerts
                .iter()
                .map(|a| {
                    vec![
                        a.ticket_id.into(),
                        a.metric.clone().into(),
                        a.percent.into(),
                        a.at.into(),
                        a.recorded_at.into(),
                        a.notified.into(),
                    ]
                })
                .collect(),
        });
    }
    if let Some(k) = &f.idempotency {
        out.push(Rows {
            table: "idempotency_keys",
            columns: "user_id, key, request_hash, ticket_id, created_at",
            rows: vec![vec![
                k.user_id.into(),
                k.key.clone().into(),
                k.request_hash.clone().into(),
                k.ticket_id.into(),
                k.created_at.into(),
            ]],
        });
    }
    out
}

const COUNTER: &str = "INSERT INTO ticket_counters (year, last) VALUES (?, 1) \
     ON CONFLICT (year) DO UPDATE SET last = ticket_counters.last + 1 RETURNING last";

/// The PostgreSQL sequence that numbers `year`'s tickets.
pub fn sequence(year: i32) -> String {
    format!("ticket_numbers_{year}")
}

/// PostgreSQL's "undefined table": the year's sequence is not made yet.
const UNDEFINED_TABLE: &str = "42P01";

/// PostgreSQL's "duplicate table".
const DUPLICATE_TABLE: &str = "42P07";

/// Another session made the year's sequence at the same moment: `CREATE
/// SEQUENCE IF NOT EXISTS` then fails with a unique violation on the
/// catalogue or with "duplicate table", depending on when they met. Either is harmless.
fn lost_race_to_create(e: &DbErr) -> bool {
    super::is_unique_violation(e) || super::sqlstate(e).as_deref() == Some(DUPLICATE_TABLE)
}

/// Write `filing`; the number it was given.
///
/// A unique violation means a lost race on the Idempotency-Key (the ids are
/// fresh UUIDs and the counter never repeats): nothing was written, and the
/// caller looks the key up again.
pub async fn insert(db: &DatabaseConnection, filing: &Filing<'_>) -> Result<String, DbErr> {
    let models = Models::of(filing)?;
    match db.get_database_backend() {
        DbBackend::Postgres => insert_postgres(db, &models).await,
        _ => insert_in_transaction(db, &models).await,
    }
}

async fn insert_postgres(db: &DatabaseConnection, f: &Models) -> Result<String, DbErr> {
    match db.query_one_raw(postgres_statement(f)).await {
        Err(e) if super::sqlstate(&e).as_deref() == Some(UNDEFINED_TABLE) => {
            // The year's first filing. Two instances may race to make the
            // sequence: the loser's unique violation is harmless.
            let make = format!("CREATE SEQUENCE IF NOT EXISTS {} AS bigint MINVALUE 1", sequence(f.year));
            if let Err(e) = db.execute_unprepared(&make).await
                && !lost_race_to_create(&e)
            {
                return Err(e);
            }
            db.query_one_raw(postgres_statement(f)).await
        }
        other => other,
    }?
    .ok_or_else(|| DbErr::Custom("filing returned no row".into()))?
    .try_get("", "number")
}

fn postgres_statement(f: &Models) -> Statement {
    let mut p = Params::new(DbBackend::Postgres);
    let year = p.bind(f.year.into());
    let name = p.bind(sequence(f.year).into());
    let mut sql = format!("WITH n AS (SELECT nextval({name}::regclass) AS last)");
    // The number is formatted in SQL exactly as `number` formats it in Rust.
    let placeholders = p.row(ticket_values(&f.ticket));
    let select = placeholders.trim_start_matches('(').trim_end_matches(')');
    sql.push_str(&format!(
        ", t AS (INSERT INTO tickets ({}, number) SELECT {select}, \
         'INC-' || {year}::int || '-' || CASE WHEN n.last < 1000000 THEN lpad(n.last::text, 6, '0') ELSE n.last::text END \
         FROM n RETURNING number)",
        ticket_columns!()
    ));
    for (i, rows) in dependents(f).into_iter().enumerate() {
        let insert = rows.insert(&mut p);
        sql.push_str(&format!(", d{i} AS ({insert})"));
    }
    sql.push_str(" SELECT number FROM t");
    p.statement(sql)
}

async fn insert_in_transaction(db: &DatabaseConnection, f: &Models) -> Result<String, DbErr> {
    let backend = db.get_database_backend();
    let txn = db.begin().await?;
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(backend, COUNTER, [f.year.into()]))
        .await?
        .ok_or_else(|| DbErr::Custom("ticket counter returned no row".into()))?;
    let number = number(f.year, row.try_get("", "last")?);

    let mut p = Params::new(backend);
    let mut values = ticket_values(&f.ticket);
    values.push(number.clone().into());
    let sql = Rows { table: "tickets", columns: concat!(ticket_columns!(), ", number"), rows: vec![values] }
        .insert(&mut p);
    txn.execute_raw(p.statement(sql)).await?;
    for rows in dependents(f) {
        let mut p = Params::new(backend);
        let sql = rows.insert(&mut p);
        txn.execute_raw(p.statement(sql)).await?;
    }
    txn.commit().await?;
    Ok(number)
}

/// `n` fresh numbers of `year`'s tickets, for filings written together (a
/// bulk import): from the same sequence (PostgreSQL) or counter (SQLite) as
/// every other filing, so that none is ever given twice.
pub async fn numbers(db: &DatabaseConnection, year: i32, n: usize) -> Result<Vec<String>, DbErr> {
    let count = i64::try_from(n).unwrap_or(i64::MAX);
    let backend = db.get_database_backend();
    let lasts: Vec<i64> = if backend == DbBackend::Postgres {
        let make = format!("CREATE SEQUENCE IF NOT EXISTS {} AS bigint MINVALUE 1", sequence(year));
        if let Err(e) = db.execute_unprepared(&make).await
            && !lost_race_to_create(&e)
        {
            return Err(e);
        }
        let sql =
            format!("SELECT nextval('{}'::regclass) AS last FROM generate_series(1, $1)", sequence(year));
        let rows = db.query_all_raw(Statement::from_sql_and_values(backend, sql, [count.into()])).await?;
        rows.iter().map(|r| r.try_get("", "last")).collect::<Result<_, _>>()?
    } else {
        let sql = "INSERT INTO ticket_counters (year, last) VALUES (?, ?) \
                   ON CONFLICT (year) DO UPDATE SET last = ticket_counters.last + excluded.last RETURNING last";
        let row = db
            .query_one_raw(Statement::from_sql_and_values(backend, sql, [year.into(), count.into()]))
            .await?
            .ok_or_else(|| DbErr::Custom("ticket counter returned no row".into()))?;
        let last: i64 = row.try_get("", "last")?;
        (last - count + 1..=last).collect()
    };
    Ok(lasts.into_iter().map(|last| number(year, last)).collect())
}

/// Write many filings at once, each with the number it already has (from
/// [`numbers`]), in one transaction of multi-row statements.
pub async fn insert_many(db: &DatabaseConnection, filings: &[Filing<'_>]) -> Result<(), DbErr> {
    let backend = db.get_database_backend();
    let models = filings.iter().map(Models::of).collect::<Result<Vec<_>, _>>()?;
    let mut tables: Vec<Rows> = vec![Rows {
        table: "tickets",
        columns: concat!(ticket_columns!(), ", number"),
        rows: models
            .iter()
            .map(|m| {
                let mut values = ticket_values(&m.ticket);
                values.push(m.ticket.number.clone().into());
                values
            })
            .collect(),
    }];
    for m in &models {
        for rows in dependents(m) {
            match tables.iter_mut().find(|t| t.table == rows.table) {
                Some(t) => t.rows.extend(rows.rows),
                None => tables.push(rows),
            }
        }
    }
    let txn = db.begin().await?;
    for table in tables {
        let width = table.columns.split(',').count().max(1);
        let per_statement = (MAX_VALUES / width).max(1);
        let mut rows = table.rows;
        while !rows.is_empty() {
            let rest = rows.split_off(per_statement.min(rows.len()));
            let mut p = Params::new(backend);
            let sql = Rows { table: table.table, columns: table.columns, rows }.insert(&mut p);
            txn.execute_raw(p.statement(sql)).await?;
            rows = rest;
        }
    }
    txn.commit().await
}
