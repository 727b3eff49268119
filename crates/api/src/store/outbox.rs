//! The mail queue (a transactional outbox): messages queued in the same
//! transaction that decides to send them, leased by one sender at a time,
//! and recorded sent, retried or dead.
//!
//! `next_attempt_at` is the one due instant: leasing a message moves it to
//! the lease's end, so that a message whose sender died falls due again by
//! itself and "what is due" and "what is due next" are one indexed read.

use base64::Engine;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, TransactionTrait,
};
use sla_engine::Timestamp;
use uuid::Uuid;

use super::entities::outbox;
use super::{json, parse, to_json};
use crate::domain::outbox::{
    Attachment, NewMessage, OutboxStatus, QueuedMessage, covers_of_text, covers_to_text,
};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn from_row(m: outbox::Model) -> Result<QueuedMessage, DbErr> {
    let attachment = match (m.attachment_name, m.attachment_base64) {
        (Some(filename), Some(data)) => Some(Attachment {
            filename,
            bytes: B64.decode(data).map_err(|e| DbErr::Custom(format!("stored attachment: {e}")))?,
        }),
        _ => None,
    };
    Ok(QueuedMessage {
        id: m.id,
        message_id: m.message_id,
        ticket_id: m.ticket_id,
        kind: m.kind,
        recipients: json("recipients", &m.recipients)?,
        subject: m.subject,
        text: m.body_text,
        html: m.body_html,
        attachment,
        status: parse("message status", &m.status)?,
        attempts: u32::try_from(m.attempts).unwrap_or(0),
        next_attempt_at: Timestamp::from_unix(m.next_attempt_at),
        last_error: m.last_error,
        created_at: Timestamp::from_unix(m.created_at),
        sent_at: m.sent_at.map(Timestamp::from_unix),
        covers: covers_of_text(m.covers.as_deref()),
    })
}

/// Queue a message, unless one with its dedupe key is queued already; its id when it was.
pub async fn queue(db: &impl ConnectionTrait, m: &NewMessage, now: Timestamp) -> Result<Option<Uuid>, DbErr> {
    let id = Uuid::now_v7();
    let (name, data) = match &m.attachment {
        Some(a) => (Some(a.filename.clone()), Some(B64.encode(&a.bytes))),
        None => (None, None),
    };
    let inserted = outbox::Entity::insert(outbox::ActiveModel {
        id: Set(id),
        message_id: Set(m.message_id.clone()),
        dedupe_key: Set(m.dedupe_key.clone()),
        ticket_id: Set(m.ticket_id),
        kind: Set(m.kind.as_str().to_owned()),
        recipients: Set(to_json(&[&m.recipient])?),
        subject: Set(m.subject.clone()),
        body_text: Set(m.text.clone()),
        body_html: Set(m.html.clone()),
        status: Set(OutboxStatus::Pending.as_str().to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(now.unix()),
        lease_until: Set(None),
        last_error: Set(None),
        created_at: Set(now.unix()),
        sent_at: Set(None),
        attachment_name: Set(name),
        attachment_base64: Set(data),
        covers: Set(covers_to_text(&m.covers)),
    })
    .on_conflict(OnConflict::column(outbox::Column::DedupeKey).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok((inserted > 0).then_some(id))
}

/// True when a message with this dedupe key was ever queued.
pub async fn exists(db: &impl ConnectionTrait, dedupe_key: &str) -> Result<bool, DbErr> {
    Ok(outbox::Entity::find().filter(outbox::Column::DedupeKey.eq(dedupe_key)).one(db).await?.is_some())
}

/// Lease up to `limit` messages due at `now` until `lease_until` (another
/// sender's leases are skipped), in one transaction; and when the next
/// message not yet due falls due.
pub async fn lease_due(
    db: &DatabaseConnection,
    now: Timestamp,
    lease_until: Timestamp,
    limit: u64,
) -> Result<(Vec<QueuedMessage>, Option<Timestamp>), DbErr> {
    let txn = db.begin().await?;
    let query = outbox::Entity::find()
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
        .order_by_asc(outbox::Column::NextAttemptAt)
        .limit(limit + 1);
    let rows = super::claim(query, &txn).all(&txn).await?;
    let (due, later): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.next_attempt_at <= now.unix());
    let due: Vec<_> = due.into_iter().take(limit as usize).collect();
    let next = later.first().map(|r| Timestamp::from_unix(r.next_attempt_at));
    if !due.is_empty() {
        outbox::Entity::update_many()
            .col_expr(outbox::Column::LeaseUntil, Expr::value(lease_until.unix()))
            .col_expr(outbox::Column::NextAttemptAt, Expr::value(lease_until.unix()))
            .filter(outbox::Column::Id.is_in(due.iter().map(|r| r.id)))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok((due.into_iter().map(from_row).collect::<Result<_, _>>()?, next))
}

/// Record messages accepted by the mail server, each one attempt more than
/// it had when it was leased.
pub async fn record_sent_many(db: &impl ConnectionTrait, ids: &[Uuid], now: Timestamp) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    outbox::Entity::update_many()
        .filter(outbox::Column::Id.is_in(ids.iter().copied()))
        .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Sent.as_str()))
        .col_expr(outbox::Column::SentAt, Expr::value(now.unix()))
        .col_expr(outbox::Column::Attempts, Expr::col(outbox::Column::Attempts).add(1))
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(outbox::Column::LastError, Expr::value(Option::<String>::None))
        .exec(db)
        .await?;
    Ok(())
}

/// Record a failed send, to be tried again at `retry_at`.
pub async fn record_retry(
    db: &impl ConnectionTrait,
    id: Uuid,
    attempts: u32,
    retry_at: Timestamp,
    error: &str,
) -> Result<(), DbErr> {
    outbox::Entity::update_many()
        .filter(outbox::Column::Id.eq(id))
        .col_expr(outbox::Column::Attempts, Expr::value(attempts))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(retry_at.unix()))
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(outbox::Column::LastError, Expr::value(error))
        .exec(db)
        .await?;
    Ok(())
}

/// Record a message given up on.
pub async fn record_dead(
    db: &impl ConnectionTrait,
    id: Uuid,
    attempts: u32,
    error: &str,
) -> Result<(), DbErr> {
    outbox::Entity::update_many()
        .filter(outbox::Column::Id.eq(id))
        .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Dead.as_str()))
        .col_expr(outbox::Column::Attempts, Expr::value(attempts))
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .col_expr(outbox::Column::LastError, Expr::value(error))
        .exec(db)
        .await?;
    Ok(())
}

/// The newest messages, optionally of one status.
pub async fn list(
    db: &impl ConnectionTrait,
    status: Option<OutboxStatus>,
    limit: u64,
) -> Result<Vec<QueuedMessage>, DbErr> {
    let mut query = outbox::Entity::find()
        .order_by_desc(outbox::Column::CreatedAt)
        .order_by_desc(outbox::Column::Id)
        .limit(limit);
    if let Some(status) = status {
        query = query.filter(outbox::Column::Status.eq(status.as_str()));
    }
    query.all(db).await?.into_iter().map(from_row).collect()
}

/// One message.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<QueuedMessage>, DbErr> {
    outbox::Entity::find_by_id(id).one(db).await?.map(from_row).transpose()
}

/// The alert messages about a ticket, oldest first.
pub async fn alerts_of_ticket(
    db: &impl ConnectionTrait,
    ticket_id: Uuid,
) -> Result<Vec<QueuedMessage>, DbErr> {
    outbox::Entity::find()
        .filter(outbox::Column::TicketId.eq(ticket_id))
        .filter(outbox::Column::Covers.is_not_null())
        .order_by_asc(outbox::Column::CreatedAt)
        .order_by_asc(outbox::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Take a message out of the queue unsent; false when it is no longer
/// waiting (sent, dead, or leased by a sender that may be sending it now).
pub async fn withdraw(db: &impl ConnectionTrait, id: Uuid, now: Timestamp) -> Result<bool, DbErr> {
    let updated = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Withdrawn.as_str()))
        .col_expr(outbox::Column::LastError, Expr::value(format!("withdrawn at {now}")))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(OutboxStatus::Pending.as_str()))
        .filter(outbox::Column::LeaseUntil.is_null())
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}

/// Queue a dead message again from its first attempt; false when it is not dead.
pub async fn revive(db: &impl ConnectionTrait, id: Uuid, now: Timestamp) -> Result<bool, DbErr> {
    let updated = outbox::Entity::update_many()
        .col_expr(outbox::Column::Status, Expr::value(OutboxStatus::Pending.as_str()))
        .col_expr(outbox::Column::Attempts, Expr::value(0))
        .col_expr(outbox::Column::NextAttemptAt, Expr::value(now.unix()))
        .col_expr(outbox::Column::LeaseUntil, Expr::value(Option::<i64>::None))
        .filter(outbox::Column::Id.eq(id))
        .filter(outbox::Column::Status.eq(OutboxStatus::Dead.as_str()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}
