//! Delivery: due messages are leased, sent several at a time, and recorded
//! sent (in batches), retried with backoff, or dead-lettered for an admin.

use std::time::{Duration, Instant};

use futures::{StreamExt, stream};
use notifier::{Email, RetryPolicy};
use sea_orm::DbErr;
use sla_engine::Timestamp;
use uuid::Uuid;

use super::TickReport;
use crate::domain::outbox::QueuedMessage;
use crate::state::AppState;
use crate::store;

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

/// Sends recorded together: a crash between sending and recording resends
/// at most this many (with the same Message-IDs), and a busy queue costs one
/// write per this many messages.
const RECORD_EVERY: usize = 32;

/// Lease due messages, send them `mail_concurrency` at a time over the
/// pooled connections, and record the outcomes (the sent ones in batches);
/// when the next message falls due.
pub(super) async fn deliver(state: &AppState, report: &mut TickReport) -> Result<Option<Timestamp>, DbErr> {
    let policy = RetryPolicy { max_attempts: state.settings.mail_max_attempts.max(1), ..Default::default() };
    let lease = state.settings.mail_lease_seconds;
    let concurrency = usize::try_from(state.settings.mail_concurrency.max(1)).unwrap_or(1);
    let batch = (concurrency * 8) as u64;
    loop {
        let now = state.clock.now();
        let until = Timestamp::from_unix(now.unix().saturating_add(i64::try_from(lease).unwrap_or(i64::MAX)));
        let (due, next) = store::outbox::lease_due(&state.db, now, until, batch).await?;
        // Measured on the monotonic clock: how long no other sender will claim these.
        let leased_until = Instant::now() + Duration::from_secs(lease);
        let full = due.len() as u64 == batch;
        let mut sends = stream::iter(due)
            .map(|m| async move {
                crate::fault::before_send();
                let result = state.mailer.send(&email(state, &m)).await;
                (m, result)
            })
            .buffer_unordered(concurrency);
        let mut sent = Vec::with_capacity(RECORD_EVERY);
        while let Some((m, result)) = sends.next().await {
            match result {
                Ok(()) => {
                    tracing::info!(id = %m.id, message_id = %m.message_id, to = ?m.recipients, "alert sent");
                    sent.push(m.id);
                    if sent.len() == RECORD_EVERY {
                        record_sent(state, &sent, now, leased_until, report).await?;
                        sent.clear();
                    }
                }
                Err(e) => record_failure(state, &m, &e, &policy, now, report).await?,
            }
        }
        record_sent(state, &sent, now, leased_until, report).await?;
        if !full {
            return Ok(next);
        }
    }
}

/// A message not sent: tried again later, or dead-lettered when retrying cannot help.
async fn record_failure(
    state: &AppState,
    m: &QueuedMessage,
    e: &notifier::SendError,
    policy: &RetryPolicy,
    now: Timestamp,
    report: &mut TickReport,
) -> Result<(), DbErr> {
    let attempts = m.attempts + 1;
    if e.permanent || policy.exhausted(attempts) {
        report.dead += 1;
        tracing::warn!(id = %m.id, error = %e, attempts, "message dead-lettered");
        let reason = if e.permanent {
            e.message.clone()
        } else {
            format!("{}; gave up after {attempts} attempts", e.message)
        };
        store::outbox::record_dead(&state.db, m.id, attempts, &reason).await?;
        metrics::counter!("itsm_mail_dead_total").increment(1);
    } else {
        report.retried += 1;
        let delay = policy.delay(attempts, jitter());
        tracing::info!(id = %m.id, error = %e, attempts, retry_in = ?delay, "send failed; will retry");
        let at = Timestamp::from_unix(now.unix() + i64::try_from(delay.as_secs()).unwrap_or(i64::MAX / 2));
        store::outbox::record_retry(&state.db, m.id, attempts, at, &e.message).await?;
        metrics::counter!("itsm_mail_retries_total").increment(1);
    }
    Ok(())
}

/// Record delivered messages as sent. The sends cannot be taken back, so a
/// database that is away (an outage, a failover) is retried for as long as
/// the lease keeps every other sender off the messages: giving up at once
/// would leave them leased, to be sent a second time when the lease runs out.
async fn record_sent(
    state: &AppState,
    ids: &[Uuid],
    now: Timestamp,
    leased_until: Instant,
    report: &mut TickReport,
) -> Result<(), DbErr> {
    if ids.is_empty() {
        return Ok(());
    }
    let mut pause = Duration::from_millis(100);
    loop {
        match store::outbox::record_sent_many(&state.db, ids, now).await {
            Ok(()) => break,
            // Keep a margin: the record must land before another sender may claim them.
            Err(e) if Instant::now() + pause + Duration::from_secs(1) < leased_until => {
                tracing::warn!(count = ids.len(), error = %e, retry_in = ?pause, "sent, but cannot record it yet; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e),
        }
    }
    report.sent += ids.len();
    metrics::counter!("itsm_mail_sent_total").increment(ids.len() as u64);
    Ok(())
}
