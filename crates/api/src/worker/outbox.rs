//! Delivery: due messages are leased, sent, and recorded sent, retried with
//! backoff, or dead-lettered for an admin.

use std::time::{Duration, Instant};

use notifier::{Email, RetryPolicy};
use sea_orm::DbErr;
use sla_engine::Timestamp;
use uuid::Uuid;

use super::TickReport;
use crate::domain::outbox::QueuedMessage;
use crate::state::AppState;
use crate::store;

/// Messages leased per round.
const BATCH: u64 = 20;

/// The media type of attachments by their name's extension.
fn content_type(filename: &str) -> &'static str {
    if filename.ends_with(".xlsx") {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    } else {
        "application/octet-stream"
    }
}

fn email(state: &AppState, m: &QueuedMessage) -> Email {
    Email {
        message_id: m.message_id.clone(),
        from: state.settings.mail_from.clone(),
        to: m.recipients.clone(),
        subject: m.subject.clone(),
        text: m.text.clone(),
        html: m.html.clone(),
        attachment: m.attachment.as_ref().map(|a| notifier::Attachment {
            filename: a.filename.clone(),
            content_type: content_type(&a.filename).to_owned(),
            bytes: a.bytes.clone(),
        }),
    }
}

fn jitter() -> f64 {
    let mut b = [0u8; 8];
    let _ = getrandom::fill(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// Lease due messages, send them, and record each outcome; when the next message falls due.
pub(super) async fn deliver(state: &AppState, report: &mut TickReport) -> Result<Option<Timestamp>, DbErr> {
    let policy = RetryPolicy { max_attempts: state.settings.mail_max_attempts.max(1), ..Default::default() };
    let lease = state.settings.mail_lease_seconds;
    loop {
        let now = state.clock.now();
        let until = Timestamp::from_unix(now.unix().saturating_add(i64::try_from(lease).unwrap_or(i64::MAX)));
        let (due, next) = store::outbox::lease_due(&state.db, now, until, BATCH).await?;
        // Measured on the monotonic clock: how long no other sender will claim these.
        let leased_until = Instant::now() + Duration::from_secs(lease);
        let full = due.len() as u64 == BATCH;
        for m in &due {
            crate::fault::before_send();
            send_one(state, m, &policy, leased_until, report).await?;
        }
        if !full {
            return Ok(next);
        }
    }
}

async fn send_one(
    state: &AppState,
    m: &QueuedMessage,
    policy: &RetryPolicy,
    leased_until: Instant,
    report: &mut TickReport,
) -> Result<(), DbErr> {
    let email = email(state, m);
    let attempts = m.attempts + 1;
    let now = state.clock.now();
    match state.mailer.send(&email).await {
        Ok(()) => {
            report.sent += 1;
            tracing::info!(id = %m.id, message_id = %m.message_id, to = ?email.to, "alert sent");
            record_sent(state, m.id, attempts, now, leased_until).await?;
            metrics::counter!("itsm_mail_sent_total").increment(1);
        }
        Err(e) if e.permanent || policy.exhausted(attempts) => {
            report.dead += 1;
            tracing::warn!(id = %m.id, error = %e, attempts, "message dead-lettered");
            store::outbox::record_dead(&state.db, m.id, attempts, &e.message).await?;
            metrics::counter!("itsm_mail_dead_total").increment(1);
        }
        Err(e) => {
            report.retried += 1;
            let delay = policy.delay(attempts, jitter());
            tracing::info!(id = %m.id, error = %e, attempts, retry_in = ?delay, "send failed; will retry");
            let at =
                Timestamp::from_unix(now.unix() + i64::try_from(delay.as_secs()).unwrap_or(i64::MAX / 2));
            store::outbox::record_retry(&state.db, m.id, attempts, at, &e.message).await?;
            metrics::counter!("itsm_mail_retries_total").increment(1);
        }
    }
    Ok(())
}

/// Record a delivered message as sent. The send cannot be taken back, so a
/// database that is away (an outage, a failover) is retried for as long as
/// the lease keeps every other sender off the message: giving up at once
/// would leave it leased, to be sent a second time when the lease runs out.
async fn record_sent(
    state: &AppState,
    id: Uuid,
    attempts: u32,
    now: Timestamp,
    leased_until: Instant,
) -> Result<(), DbErr> {
    let mut pause = Duration::from_millis(100);
    loop {
        match store::outbox::record_sent(&state.db, id, attempts, now).await {
            Ok(()) => return Ok(()),
            // Keep a margin: the record must land before another sender may claim it.
            Err(e) if Instant::now() + pause + Duration::from_secs(1) < leased_until => {
                tracing::warn!(%id, error = %e, retry_in = ?pause, "sent, but cannot record it yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
}
