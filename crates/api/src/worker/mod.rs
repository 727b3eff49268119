//! The worker inside `itsm serve`: it sleeps until the earliest instant at
//! which something is due, then records the thresholds clocks crossed and
//! queues their alerts (`clocks`, `alerts`), announces inspections that
//! closed undone and sends the monthly summaries (`notices`), and delivers
//! queued messages with retries (`outbox`), and deletes what has outlived
//! its use (`housekeeping`).
//!
//! Exactly once: a threshold is a row keyed (ticket, metric, percent),
//! written in the transaction that queues its message, whose dedupe key is
//! unique; on PostgreSQL due work is claimed with `FOR UPDATE SKIP LOCKED`,
//! so several instances share it without sending twice. A database outage
//! between sending and recording is waited out while the message's lease
//! holds; a crash there can at worst resend the same message, with the same
//! `Message-ID`.

mod alerts;
pub mod clocks;
mod housekeeping;
mod notices;
mod outbox;

use std::time::Duration;

use sea_orm::DbErr;
use sla_engine::Timestamp;
use tokio_util::sync::CancellationToken;

use crate::service::calendars;
use crate::state::AppState;

/// The longest the worker sleeps without looking again.
const MAX_SLEEP: Duration = Duration::from_secs(60);

/// What one tick did, and when the next thing falls due.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
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
    /// Expired tokens, old idempotency keys and old sign-in failures deleted.
    pub swept: usize,
    /// The earliest instant a clock, a message or an inspection window falls due next.
    pub next_at: Option<Timestamp>,
    /// Accounts an alert would have reached but that have no email address
    /// (logged once per tick, not once per alert).
    pub without_email: std::collections::BTreeSet<String>,
}

impl TickReport {
    /// True when the tick did any work.
    pub fn did_work(&self) -> bool {
        let counts =
            [self.clocks, self.thresholds, self.queued, self.sent, self.retried, self.dead, self.swept];
        counts.iter().any(|&n| n > 0)
    }

    fn due_by(&mut self, at: Option<Timestamp>) {
        self.next_at = match (self.next_at, at) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}

/// Take changed holidays in, process every due clock, the notices, then
/// deliver every due message.
pub async fn tick(state: &AppState) -> Result<TickReport, DbErr> {
    let mut report = TickReport::default();
    holidays(state, &mut report).await?;
    let next = clocks::process_due(state, &mut report).await?;
    report.due_by(next);
    if state.settings.inspection_alerts {
        let next = notices::late_inspections(state, &mut report).await?;
        report.due_by(next);
    }
    if state.settings.monthly_reports {
        let next = notices::monthly_summaries(state, &mut report).await?;
        report.due_by(next);
    }
    let next = outbox::deliver(state, &mut report).await?;
    report.due_by(next);
    let next = housekeeping::sweep(state, &mut report).await?;
    report.due_by(next);
    if !report.without_email.is_empty() {
        let usernames: Vec<&str> = report.without_email.iter().map(String::as_str).collect();
        tracing::info!(usernames = %usernames.join(", "), "alerts skipped for accounts without an email address");
    }
    Ok(report)
}

/// When the stored holiday years changed (here or on another instance):
/// rebuild the calendars, and move the deadlines of running clocks, once
/// for all instances.
async fn holidays(state: &AppState, report: &mut TickReport) -> Result<(), DbErr> {
    let to_db = |e: crate::service::Error| DbErr::Custom(e.to_string());
    calendars::refresh(state).await.map_err(to_db)?;
    if calendars::claim_recompute(state).await.map_err(to_db)? {
        let moved = clocks::recompute_after_holidays(state).await?;
        report.clocks += moved;
        tracing::info!(moved, "holidays changed: deadlines of running clocks moved");
    }
    Ok(())
}

/// Run until cancelled: tick, then sleep until the next instant of interest,
/// a change to any clock, or a jump of the (test) clock, looking every
/// `calendar_poll_seconds` whether another instance changed the holidays.
pub async fn run(state: AppState, cancel: CancellationToken) {
    let jumps = state.clock.jumps();
    let poll = Duration::from_secs(state.settings.calendar_poll_seconds.max(1));
    tracing::info!("SLA timer started");
    loop {
        let next = match tick(&state).await {
            Ok(report) => {
                if report.did_work() {
                    tracing::debug!(?report, "timer tick");
                }
                report.next_at
            }
            Err(e) => {
                // The database is away: look again shortly, without spinning.
                tracing::warn!(error = %e, "timer tick failed; retrying");
                Some(Timestamp::from_unix(state.clock.now().unix() + 1))
            }
        };
        loop {
            let until = next.map_or(MAX_SLEEP, |at| {
                let secs = (at.unix() - state.clock.now().unix()).clamp(0, MAX_SLEEP.as_secs() as i64);
                Duration::from_secs(secs as u64)
            });
            tokio::select! {
                () = cancel.cancelled() => return,
                // A ticket was filed or acted on: its clocks may be due sooner.
                () = state.wake.notified() => break,
                // The earliest due clock or message.
                () = tokio::time::sleep(until) => break,
                // A manual clock moved (tests).
                () = async {
                    match &jumps {
                        Some(n) => n.notified().await,
                        None => std::future::pending().await,
                    }
                } => break,
                // Nothing due yet: only ask whether the holidays changed.
                () = tokio::time::sleep(poll) => {
                    if calendars::refresh(&state).await.unwrap_or(false) {
                        break;
                    }
                }
            }
        }
    }
}
