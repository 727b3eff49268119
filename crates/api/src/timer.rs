//! The SLA timer and the mail sender: sleeps until the earliest next instant
//! of interest of any clock, records the thresholds crossed on the ticket's
//! trail and queues the alert in the same transaction (a transactional
//! outbox), then delivers queued messages with retries.
//!
//! Exactly once: a threshold is a row keyed (ticket, metric, percent), written
//! in the transaction that queues its message, whose dedupe key is unique; on
//! PostgreSQL due clocks and messages are claimed with `FOR UPDATE SKIP
//! LOCKED`, so several instances share the work without sending twice. A
//! database outage between sending and recording is waited out while the
//! message's lease holds; a crash there can at worst resend the same
//! message, with the same `Message-ID`.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{Datelike, NaiveDate, TimeZone};

use catalog::Recipients;
use notifier::{Alert, AlertKind, Email, Locale};
use sea_orm::sea_query::{Expr, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use serde_json::json;
use sla_engine::{
    BusinessSeconds, ClockEvent, ClockStatus, Condition as RuleCondition, Metric, Severity, TargetRule,
    Timestamp,
};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::domain::access::Role;
use crate::domain::ticket;
use crate::service::tickets::{insert_event, state_name};
use crate::state::AppState;
use crate::store::entities::{
    clock, clock_alert, inspection_task, outbox, ticket as ticket_row, ticket_event, user,
};
use crate::store::is_postgres;

/// The XLSX media type, for the monthly report's attachment.
const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
/// The calendar whose first opening in a month is "the first working day".
const WORKING_CALENDAR: &str = "5x8";

/// Clocks handled per transaction.
const CLOCK_BATCH: u64 = 100;
/// Messages claimed per round.
const SEND_BATCH: u64 = 20;
/// The longest the timer sleeps without looking again.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// What one tick did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TickReport {
    /// Clocks examined.
    pub clocks: usize,
    /// Thresholds recorded (sent or not).
    pub thresholds: usize,
    /// Messages queued.
    pub queued: usize,
    /// Messages delivered.
    pub sent: usize,
    /// Sends that failed and will be retried.
    pub retried: usize,
    /// Messages dead-lettered.
    pub dead: usize,
}

/// Process every due clock, then deliver every due message.
pub async fn tick(state: &AppState) -> Result<TickReport, DbErr> {
    let mut report = TickReport::default();
    while process_batch(state, &mut report).await? == CLOCK_BATCH as usize {}
    if state.settings.inspection_alerts {
        report.queued += late_inspections(state).await?;
    }
    if state.settings.monthly_reports {
        report.queued += monthly_summaries(state).await?;
    }
    deliver(state, &mut report).await?;
    Ok(report)
}

/// Run until cancelled: tick, then sleep until the next instant of interest,
/// a change to any clock, or a jump of the (test) clock.
pub async fn run(state: AppState, cancel: CancellationToken) {
    let jumps = state.clock.jumps();
    tracing::info!("SLA timer started");
    loop {
        let pause = match tick(&state).await {
            Ok(report) => {
                if report != TickReport::default() {
                    tracing::debug!(?report, "timer tick");
                }
                match next_wake(&state).await {
                    Ok(Some(at)) => {
                        let secs =
                            (at.unix() - state.clock.now().unix()).clamp(0, MAX_SLEEP.as_secs() as i64);
                        Duration::from_secs(secs as u64)
                    }
                    Ok(None) => MAX_SLEEP,
                    Err(e) => {
                        tracing::warn!(error = %e, "timer cannot read its next instant");
                        Duration::from_secs(1)
                    }
                }
            }
            Err(e) => {
                // The database is away: look again shortly, without spinning.
                tracing::warn!(error = %e, "timer tick failed; retrying");
                Duration::from_secs(1)
            }
        };
        tokio::select! {
            () = cancel.cancelled() => break,
            // A ticket was filed or acted on: its clocks may be due sooner.
            () = state.wake.notified() => {}
            // The earliest due clock or message.
            () = tokio::time::sleep(pause) => {}
            // A manual clock moved (tests).
            () = async {
                match &jumps {
                    Some(n) => n.notified().await,
                    None => std::future::pending().await,
                }
            } => {}
        }
    }
}

/// The earliest instant a clock or a queued message falls due.
pub async fn next_wake(state: &AppState) -> Result<Option<Timestamp>, DbErr> {
    let clock_next: Option<Option<i64>> = clock::Entity::find()
        .select_only()
        .column_as(clock::Column::NextAt.min(), "m")
        .into_tuple()
        .one(&state.db)
        .await?;
    let mail_next: Option<Option<i64>> = outbox::Entity::find()
        .select_only()
        .column_as(outbox::Column::NextAttemptAt.min(), "m")
        .filter(outbox::Column::Status.eq("pending"))
        .filter(outbox::Column::LeaseUntil.is_null())
        .into_tuple()
        .one(&state.db)
        .await?;
    // A message leased by a sender that died becomes due when its lease ends.
    let lease_end: Option<Option<i64>> = outbox::Entity::find()
        .select_only()
        .column_as(outbox::Column::LeaseUntil.min(), "m")
        .filter(outbox::Column::Status.eq("pending"))
        .filter(outbox::Column::LeaseUntil.is_not_null())
        .into_tuple()
        .one(&state.db)
        .await?;
    Ok([clock_next.flatten(), mail_next.flatten(), lease_end.flatten()]
        .into_iter()
        .flatten()
        .min()
        .map(Timestamp::from_unix))
}

fn rule_of(c: &clock::Model) -> Result<TargetRule, DbErr> {
    let metric: Metric = c.metric.parse().map_err(DbErr::Custom)?;
    Ok(TargetRule {
        metric,
        when: RuleCondition::default(),
        target: BusinessSeconds::new(u64::try_from(c.target_seconds).unwrap_or(0)),
        calendar: c.calendar.clone(),
    })
}

/// Evaluate a stored clock at `now` with the thresholds of its ticket's severity.
fn evaluate(
    state: &AppState,
    c: &clock::Model,
    thresholds: &[u32],
    now: Timestamp,
) -> Result<ClockStatus, DbErr> {
    let events: Vec<ClockEvent> =
        serde_json::from_str(&c.events).map_err(|e| DbErr::Custom(e.to_string()))?;
    ticket::evaluate(&rule_of(c)?, &events, &state.catalog.calendars, thresholds, now)
        .map_err(|e| DbErr::Custom(e.to_string()))
}

/// Write a clock's derived instants back.
async fn store_status(
    txn: &DatabaseTransaction,
    c: &clock::Model,
    s: &ClockStatus,
    now: Timestamp,
) -> Result<(), DbErr> {
    let next = if s.stopped { None } else { s.next.map(|n| n.at.unix()) };
    clock::Entity::update_many()
        .col_expr(clock::Column::NextAt, Expr::value(next))
        .col_expr(clock::Column::State, Expr::value(state_name(s.state)))
        .col_expr(clock::Column::Deadline, Expr::value(s.deadline.map(Timestamp::unix)))
        .col_expr(clock::Column::BreachedAt, Expr::value(s.breached_at.map(Timestamp::unix)))
        .col_expr(clock::Column::MetAt, Expr::value(s.met_at.map(Timestamp::unix)))
        .col_expr(clock::Column::UpdatedAt, Expr::value(now.unix()))
        .filter(clock::Column::TicketId.eq(c.ticket_id))
        .filter(clock::Column::Metric.eq(c.metric.clone()))
        .exec(txn)
        .await?;
    Ok(())
}

fn kind_of(percent: u32) -> (AlertKind, &'static str) {
    match percent {
        p if p < 100 => (AlertKind::Warning, "threshold_crossed"),
        100 => (AlertKind::Breach, "breached"),
        _ => (AlertKind::Escalation, "escalated"),
    }
}

/// One alert for one clock, before recipients are known.
struct Due {
    metric: String,
    calendar: String,
    percent: u32,
    status: ClockStatus,
}

async fn process_batch(state: &AppState, report: &mut TickReport) -> Result<usize, DbErr> {
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let mut query = clock::Entity::find()
        .filter(clock::Column::NextAt.lte(now.unix()))
        .order_by_asc(clock::Column::NextAt)
        .limit(CLOCK_BATCH);
    if is_postgres(&state.db) {
        // Another instance's claimed clocks are skipped, not waited for.
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let due = query.all(&txn).await?;
    let count = due.len();
    let mut by_ticket: BTreeMap<Uuid, Vec<clock::Model>> = BTreeMap::new();
    for c in due {
        by_ticket.entry(c.ticket_id).or_default().push(c);
    }
    for (ticket_id, clocks) in by_ticket {
        let Some(t) = ticket_row::Entity::find_by_id(ticket_id).one(&txn).await? else { continue };
        let severity: Severity = t.severity.parse().unwrap_or_default();
        let thresholds = state.thresholds(t.line_item_id, severity);
        let known: Vec<(String, i32)> = clock_alert::Entity::find()
            .filter(clock_alert::Column::TicketId.eq(ticket_id))
            .all(&txn)
            .await?
            .into_iter()
            .map(|a| (a.metric, a.percent))
            .collect();
        let mut seq: i32 = ticket_event::Entity::find()
            .select_only()
            .column_as(ticket_event::Column::Seq.max(), "m")
            .filter(ticket_event::Column::TicketId.eq(ticket_id))
            .into_tuple::<Option<i32>>()
            .one(&txn)
            .await?
            .flatten()
            .unwrap_or(0);
        let mut alerts = Vec::new();
        for c in &clocks {
            report.clocks += 1;
            let status = evaluate(state, c, &thresholds, now)?;
            // Paused and met clocks never fire.
            let fresh: Vec<_> = if status.stopped {
                Vec::new()
            } else {
                status
                    .crossed
                    .iter()
                    .filter(|x| !known.contains(&(c.metric.clone(), x.percent as i32)))
                    .copied()
                    .collect()
            };
            if let Some(top) = fresh.last().copied() {
                for x in &fresh {
                    // Several thresholds due at once (a backdated ticket, an
                    // outage of the service): all are recorded, only the highest is sent.
                    let notified = x.percent == top.percent;
                    let inserted = clock_alert::Entity::insert(clock_alert::ActiveModel {
                        ticket_id: Set(ticket_id),
                        metric: Set(c.metric.clone()),
                        percent: Set(x.percent as i32),
                        at: Set(x.at.unix()),
                        recorded_at: Set(now.unix()),
                        notified: Set(notified),
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
                    .exec_without_returning(&txn)
                    .await?;
                    if inserted == 0 {
                        continue;
                    }
                    report.thresholds += 1;
                    seq += 1;
                    let (_, kind) = kind_of(x.percent);
                    let state_now = t.state.parse().unwrap_or(ticket::TicketState::Open);
                    let data = json!({ "metric": c.metric, "percent": x.percent, "notified": notified, "target_seconds": c.target_seconds });
                    insert_event(
                        &txn,
                        ticket_id,
                        seq,
                        kind,
                        None,
                        x.at,
                        now,
                        Some(state_now),
                        state_now,
                        data,
                    )
                    .await
                    .map_err(|e| DbErr::Custom(format!("cannot record {kind}: {e:?}")))?;
                }
                alerts.push(Due {
                    metric: c.metric.clone(),
                    calendar: c.calendar.clone(),
                    percent: top.percent,
                    status: status.clone(),
                });
            }
            store_status(&txn, c, &status, now).await?;
        }
        let next_due: Option<i64> = clock::Entity::find()
            .select_only()
            .column_as(clock::Column::NextAt.min(), "m")
            .filter(clock::Column::TicketId.eq(ticket_id))
            .into_tuple::<Option<i64>>()
            .one(&txn)
            .await?
            .flatten();
        ticket_row::Entity::update_many()
            .col_expr(ticket_row::Column::NextDueAt, Expr::value(next_due))
            .filter(ticket_row::Column::Id.eq(ticket_id))
            .exec(&txn)
            .await?;
        if !alerts.is_empty() {
            report.queued += enqueue(state, &txn, &t, &alerts, now).await?;
        }
    }
    txn.commit().await?;
    Ok(count)
}

/// Queue one message per recipient, covering every alert of this ticket that reaches them.
async fn enqueue(
    state: &AppState,
    txn: &DatabaseTransaction,
    t: &ticket_row::Model,
    alerts: &[Due],
    now: Timestamp,
) -> Result<usize, DbErr> {
    let policy = &state.catalog.settings.alerts;
    let item = state.item(t.line_item_id);
    let agency = state.catalog.agency(&t.agency_key).map_or(t.agency_key.clone(), |a| a.name.clone());
    let mut per_recipient: BTreeMap<String, Vec<&Due>> = BTreeMap::new();
    for a in alerts {
        for email in recipients(txn, t, &policy.recipients(a.percent)).await? {
            per_recipient.entry(email).or_default().push(a);
        }
    }
    let locale = Locale::parse(&state.settings.mail_locale).unwrap_or_default();
    let mut queued = 0;
    for (email, list) in per_recipient {
        let rendered_alerts: Vec<Alert> = list
            .iter()
            .map(|a| {
                let (kind, _) = kind_of(a.percent);
                Alert {
                    kind,
                    percent: a.percent,
                    ticket_number: t.number.clone(),
                    ticket_title: t.title.clone(),
                    agency: agency.clone(),
                    line_item: item.map_or_else(String::new, |i| i.name.clone()),
                    metric: a.metric.clone(),
                    target_seconds: a.status.target.get(),
                    calendar: a.calendar.clone(),
                    deadline: a.status.deadline.unwrap_or(now).to_datetime(),
                    timezone: state.catalog.settings.timezone,
                    remaining_seconds: a.status.remaining.get(),
                    overdue_seconds: a.status.overdue.get(),
                    link: state
                        .settings
                        .public_base_url
                        .as_ref()
                        .map(|b| format!("{}/v1/tickets/{}", b.trim_end_matches('/'), t.id)),
                }
            })
            .collect();
        let rendered =
            notifier::render(&rendered_alerts, locale).map_err(|e| DbErr::Custom(e.to_string()))?;
        let mut parts: Vec<String> = list.iter().map(|a| format!("{}@{}", a.metric, a.percent)).collect();
        parts.sort();
        let dedupe_key = format!("{}|{email}|{}", t.id, parts.join(","));
        let kind = list.iter().map(|a| kind_of(a.percent).0).max().unwrap_or(AlertKind::Warning);
        let kind = format!("{kind:?}").to_lowercase();
        let message = Outgoing {
            dedupe_key,
            ticket_id: Some(t.id),
            kind: &kind,
            email: &email,
            rendered,
            attachment: None,
        };
        queued += queue(state, txn, message, now).await?;
    }
    Ok(queued)
}

/// The email addresses of a ticket's recipients in these groups.
async fn recipients(
    txn: &DatabaseTransaction,
    t: &ticket_row::Model,
    groups: &[Recipients],
) -> Result<Vec<String>, DbErr> {
    recipients_for(txn, &t.agency_key, t.assignee_id, &t.number, groups).await
}

/// The email addresses of these groups for an agency (and an assignee, if
/// any); users without one are skipped.
async fn recipients_for(
    txn: &DatabaseTransaction,
    agency_key: &str,
    assignee: Option<Uuid>,
    about: &str,
    groups: &[Recipients],
) -> Result<Vec<String>, DbErr> {
    let mut cond = Condition::any();
    let mut any = false;
    for g in groups {
        let part = match g {
            Recipients::Assignee => match assignee {
                Some(id) => Condition::all().add(user::Column::Id.eq(id)),
                None => continue,
            },
            Recipients::AgencyManagers => Condition::all()
                .add(user::Column::Role.eq(Role::Manager.as_str()))
                .add(user::Column::AgencyKey.eq(agency_key)),
            Recipients::SupplierManagers => Condition::all()
                .add(user::Column::Role.eq(Role::Manager.as_str()))
                .add(user::Column::AgencyKey.is_null()),
            Recipients::Admins => Condition::all().add(user::Column::Role.eq(Role::Admin.as_str())),
        };
        cond = cond.add(part);
        any = true;
    }
    if !any {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for u in user::Entity::find().filter(cond).order_by_asc(user::Column::Username).all(txn).await? {
        match u.email {
            Some(e) => out.push(e),
            None => {
                tracing::info!(username = %u.username, about, "no email address; alert skipped for this user");
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn jitter() -> f64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Claim due messages, send them, and record each outcome.
async fn deliver(state: &AppState, report: &mut TickReport) -> Result<(), DbErr> {
    let policy =
        notifier::RetryPolicy { max_attempts: state.settings.mail_max_attempts.max(1), ..Default::default() };
    loop {
        let now = state.clock.now();
        let txn = state.db.begin().await?;
        let mut query = outbox::Entity::find()
            .filter(outbox::Column::Status.eq("pending"))
            .filter(outbox::Column::NextAttemptAt.lte(now.unix()))
            .filter(
                Condition::any()
                    .add(outbox::Column::LeaseUntil.is_null())
                    .add(outbox::Column::LeaseUntil.lte(now.unix())),
            )
            .order_by_asc(outbox::Column::NextAttemptAt)
            .limit(SEND_BATCH);
        if is_postgres(&state.db) {
            query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
        }
        let rows = query.all(&txn).await?;
        if rows.is_empty() {
            txn.commit().await?;
            return Ok(());
        }
        outbox::Entity::update_many()
            .col_expr(
                outbox::Column::LeaseUntil,
                Expr::value(now.unix() + state.settings.mail_lease_seconds as i64),
            )
            .filter(outbox::Column::Id.is_in(rows.iter().map(|r| r.id)))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        // Measured on the monotonic clock: how long no other sender will claim these.
        let leased_until = std::time::Instant::now() + Duration::from_secs(state.settings.mail_lease_seconds);
        let full = rows.len() as u64 == SEND_BATCH;
        for row in rows {
            if state.settings.fault_abort_before_send {
                // Fault injection for the crash test: committed, not yet sent.
                tracing::error!("fault injection: aborting before send");
                std::process::abort();
            }
            let email = Email {
                message_id: row.message_id.clone(),
                from: state.settings.mail_from.clone(),
                to: serde_json::from_str(&row.recipients).unwrap_or_default(),
                subject: row.subject.clone(),
                text: row.body_text.clone(),
                html: row.body_html.clone(),
                attachment: match (&row.attachment_name, &row.attachment_base64) {
                    (Some(name), Some(data)) => Some(notifier::Attachment {
                        filename: name.clone(),
                        content_type: XLSX.to_owned(),
                        bytes: base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data)
                            .unwrap_or_default(),
                    }),
                    _ => None,
                },
            };
            let attempts = row.attempts + 1;
            let now = state.clock.now();
            let update = outbox::Entity::update_many().filter(outbox::Column::Id.eq(row.id));
            match state.mailer.send(&email).await {
                Ok(()) => {
                    report.sent += 1;
                    tracing::info!(id = %row.id, message_id = %row.message_id, to = ?email.to, "alert sent");
                    record_sent(state, row.id, attempts, now, leased_until).await?;
                    metrics::counter!("itsm_mail_sent_total").increment(1);
                }
                Err(e) if e.permanent || policy.exhausted(attempts as u32) => {
                    report.dead += 1;
                    tracing::warn!(id = %row.id, error = %e, attempts, "message dead-lettered");
                    update
                        .col_expr(outbox::Column::Status, Expr::value("dead"))
                        .col_expr(outbox::Column::Attempts, Expr::value(attempts))
                        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
                        .col_expr(outbox::Column::LastError, Expr::value(e.message.clone()))
                        .exec(&state.db)
                        .await?;
                    metrics::counter!("itsm_mail_dead_total").increment(1);
                }
                Err(e) => {
                    report.retried += 1;
                    let delay = policy.delay(attempts as u32, jitter());
                    tracing::info!(id = %row.id, error = %e, attempts, retry_in = ?delay, "send failed; will retry");
                    update
                        .col_expr(outbox::Column::Attempts, Expr::value(attempts))
                        .col_expr(
                            outbox::Column::NextAttemptAt,
                            Expr::value(now.unix() + delay.as_secs() as i64),
                        )
                        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
                        .col_expr(outbox::Column::LastError, Expr::value(e.message.clone()))
                        .exec(&state.db)
                        .await?;
                    metrics::counter!("itsm_mail_retries_total").increment(1);
                }
            }
        }
        if !full {
            return Ok(());
        }
    }
}

/// Record a delivered message as sent. The send cannot be taken back, so a
/// database that is away (an outage, a failover) is retried for as long as
/// the lease keeps every other sender off the message: giving up at once
/// would leave it leased, to be sent a second time when the lease runs out.
async fn record_sent(
    state: &AppState,
    id: Uuid,
    attempts: i32,
    now: Timestamp,
    leased_until: std::time::Instant,
) -> Result<(), DbErr> {
    let mut pause = Duration::from_millis(100);
    loop {
        let result = outbox::Entity::update_many()
            .filter(outbox::Column::Id.eq(id))
            .col_expr(outbox::Column::Status, Expr::value("sent"))
            .col_expr(outbox::Column::SentAt, Expr::value(now.unix()))
            .col_expr(outbox::Column::Attempts, Expr::value(attempts))
            .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(outbox::Column::LastError, Expr::value(Option::<String>::None))
            .exec(&state.db)
            .await;
        match result {
            Ok(_) => return Ok(()),
            // Keep a margin: the record must land before another sender may claim it.
            Err(e) if std::time::Instant::now() + pause + Duration::from_secs(1) < leased_until => {
                tracing::warn!(%id, error = %e, retry_in = ?pause, "sent, but cannot record it yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Recompute every running clock's instants: at start, so that changed
/// holidays or windows move the deadlines of tickets already open.
pub async fn recompute_running(state: &AppState) -> Result<usize, DbErr> {
    let now = state.clock.now();
    let running = clock::Entity::find().filter(clock::Column::MetAt.is_null()).all(&state.db).await?;
    let txn = state.db.begin().await?;
    let mut n = 0;
    for c in &running {
        let Some(t) = ticket_row::Entity::find_by_id(c.ticket_id).one(&txn).await? else { continue };
        let thresholds = state.thresholds(t.line_item_id, t.severity.parse().unwrap_or_default());
        let status = evaluate(state, c, &thresholds, now)?;
        store_status(&txn, c, &status, now).await?;
        n += 1;
    }
    txn.commit().await?;
    Ok(n)
}

/// One message to queue.
struct Outgoing<'a> {
    /// Unique per message: a second insert with the same key is a no-op.
    dedupe_key: String,
    ticket_id: Option<Uuid>,
    kind: &'a str,
    email: &'a str,
    rendered: notifier::Rendered,
    attachment: Option<(String, Vec<u8>)>,
}

/// Put a message in the outbox, unless one with its dedupe key is there already.
async fn queue(
    state: &AppState,
    txn: &DatabaseTransaction,
    m: Outgoing<'_>,
    now: Timestamp,
) -> Result<usize, DbErr> {
    let (name, data) = match m.attachment {
        Some((n, bytes)) => {
            (Some(n), Some(base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes)))
        }
        None => (None, None),
    };
    let inserted = outbox::Entity::insert(outbox::ActiveModel {
        id: Set(Uuid::now_v7()),
        message_id: Set(notifier::message_id(&m.dedupe_key, &state.settings.mail_from)),
        dedupe_key: Set(m.dedupe_key),
        ticket_id: Set(m.ticket_id),
        kind: Set(m.kind.to_owned()),
        recipients: Set(serde_json::to_string(&[m.email]).unwrap_or_default()),
        subject: Set(m.rendered.subject),
        body_text: Set(m.rendered.text),
        body_html: Set(m.rendered.html),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now.unix()),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now.unix()),
        sent_at: Set(None),
        attachment_name: Set(name),
        attachment_base64: Set(data),
    })
    .on_conflict(OnConflict::column(outbox::Column::DedupeKey).do_nothing().to_owned())
    .exec_without_returning(txn)
    .await?;
    Ok(inserted as usize)
}

/// Inspections whose window closed undone: one notice each, to the agency's and the supplier's managers.
async fn late_inspections(state: &AppState) -> Result<usize, DbErr> {
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let mut query = inspection_task::Entity::find()
        .filter(inspection_task::Column::CompletedAt.is_null())
        .filter(inspection_task::Column::LateAlerted.eq(false))
        .filter(inspection_task::Column::DueTo.lte(now.unix()))
        .order_by_asc(inspection_task::Column::DueTo)
        .limit(CLOCK_BATCH);
    if is_postgres(&state.db) {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let tasks = query.all(&txn).await?;
    let locale = Locale::parse(&state.settings.mail_locale).unwrap_or_default();
    let mut queued = 0;
    for t in &tasks {
        let item = state.item(t.line_item_id);
        let notice = notifier::Notice::InspectionLate {
            agency: state
                .catalog
                .agency(&t.agency_key)
                .map_or_else(|| t.agency_key.clone(), |a| a.name.clone()),
            line_item: item.map_or_else(String::new, |i| i.name.clone()),
            device_class: t.device_class.clone(),
            window_from: Timestamp::from_unix(t.due_from).to_datetime(),
            window_to: Timestamp::from_unix(t.due_to).to_datetime(),
            timezone: state.catalog.settings.timezone,
        };
        let rendered = notifier::render_notice(&notice, locale).map_err(|e| DbErr::Custom(e.to_string()))?;
        let groups = [Recipients::AgencyManagers, Recipients::SupplierManagers];
        for email in recipients_for(&txn, &t.agency_key, None, &t.schedule_key, &groups).await? {
            let key = format!("inspection/{}/{email}", t.id);
            let message = Outgoing {
                dedupe_key: key,
                ticket_id: None,
                kind: "inspection_late",
                email: &email,
                rendered: rendered.clone(),
                attachment: None,
            };
            queued += queue(state, &txn, message, now).await?;
        }
        inspection_task::Entity::update_many()
            .col_expr(inspection_task::Column::LateAlerted, Expr::value(true))
            .filter(inspection_task::Column::Id.eq(t.id))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(queued)
}

/// The first working-day opening of the month containing `now`, and the month before it.
fn monthly_moment(state: &AppState, now: Timestamp) -> Option<(Timestamp, String, NaiveDate, NaiveDate)> {
    let tz = state.catalog.settings.timezone;
    let today = now.to_datetime().with_timezone(&tz).date_naive();
    let first = today.with_day(1)?;
    let midnight = tz.from_local_datetime(&first.and_hms_opt(0, 0, 0)?).earliest()?;
    let calendar = state.catalog.calendars.get(WORKING_CALENDAR)?;
    let opens = calendar.next_open(Timestamp::from(midnight.to_utc())).ok()?.value;
    let prev_first = first.pred_opt()?.with_day(1)?;
    Some((opens, format!("{:04}-{:02}", prev_first.year(), prev_first.month()), prev_first, first))
}

/// On the first working day of a month, last month's summary to every manager
/// with an address, for their scope, with the workbook attached: once each.
async fn monthly_summaries(state: &AppState) -> Result<usize, DbErr> {
    let now = state.clock.now();
    let Some((opens, month, from, to)) = monthly_moment(state, now) else { return Ok(0) };
    if now < opens {
        return Ok(0);
    }
    let managers = user::Entity::find()
        .filter(user::Column::Role.eq(Role::Manager.as_str()))
        .filter(user::Column::Email.is_not_null())
        .all(&state.db)
        .await?;
    let locale = Locale::parse(&state.settings.mail_locale).unwrap_or_default();
    let mut queued = 0;
    for m in managers {
        let Some(email) = m.email.clone() else { continue };
        let key = format!("monthly/{month}/{email}");
        if outbox::Entity::find()
            .filter(outbox::Column::DedupeKey.eq(key.clone()))
            .one(&state.db)
            .await?
            .is_some()
        {
            continue;
        }
        let caller = crate::domain::access::Caller {
            id: m.id,
            username: m.username.clone(),
            role: Role::Manager,
            agency: m.agency_key.clone(),
        };
        let period = crate::service::reports::Period { from, to };
        let report = crate::service::reports::sla(state, &caller, period, None, None)
            .await
            .map_err(|e| DbErr::Custom(format!("monthly report: {e:?}")))?;
        let xlsx = crate::service::reports::to_xlsx(&report, crate::service::reports::Lang::default())
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        let scope = m
            .agency_key
            .as_deref()
            .and_then(|a| state.catalog.agency(a))
            .map_or_else(|| state.catalog.contract.name.clone(), |a| a.name.clone());
        let mut lines = vec![format!("{scope} {month}")];
        for (metric, f) in &report.contract.metrics {
            let attainment = f.attainment_percent.map_or_else(|| "—".to_owned(), |a| format!("{a:.1}%"));
            lines.push(format!("{metric}: {} / {} / {} ({attainment})", f.met, f.breached, f.running));
        }
        let i = &report.contract.inspections;
        lines.push(format!("inspections: {} / {} / {} / {}", i.due, i.on_time, i.late, i.missed));
        let notice = notifier::Notice::Monthly { month: month.clone(), scope, lines };
        let rendered = notifier::render_notice(&notice, locale).map_err(|e| DbErr::Custom(e.to_string()))?;
        let txn = state.db.begin().await?;
        let message = Outgoing {
            dedupe_key: key,
            ticket_id: None,
            kind: "monthly",
            email: &email,
            rendered,
            attachment: Some((format!("sla-{month}.xlsx"), xlsx)),
        };
        queued += queue(state, &txn, message, now).await?;
        txn.commit().await?;
    }
    Ok(queued)
}
