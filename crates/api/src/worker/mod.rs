//! The worker inside `itsm serve`: it sleeps until the earliest instant at
//! which something is due, then records the thresholds clocks crossed and
//! queues their alerts (`clocks`, `alerts`), announces inspections that
//! closed undone and sends the monthly summaries (`notices`), and delivers
//! queued messages with retries (`outbox`), and deletes what has outlived
//! its use (`housekeeping`). When the holidays change, a loop of its own
//! moves the deadlines of running clocks (`clocks::recompute_after_holidays`).
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

/// Take changed holidays in (moving the clocks they move), process every
/// due clock, the notices, then deliver every due message: what the three
/// loops of [`run`] do, one after the other.
pub async fn tick(state: &AppState) -> Result<TickReport, DbErr> {
    let moved = holidays(state, &mut None).await?;
    let mut report = timer_tick(state).await?;
    report.clocks += moved;
    let next = outbox::deliver(state, &mut report).await?;
    report.due_by(next);
    Ok(report)
}

/// A tick of the timer: clocks, notices and chores.
async fn timer_tick(state: &AppState) -> Result<TickReport, DbErr> {
    let mut report = TickReport::default();
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
/// for all instances. How many clocks moved.
///
/// `unfinished` holds the version whose walk this instance claimed and has
/// not finished (it failed midway): it is walked again unless a newer
/// version was claimed since, here or elsewhere.
async fn holidays(state: &AppState, unfinished: &mut Option<i64>) -> Result<usize, DbErr> {
    let to_db = |e: crate::service::Error| DbErr::Custom(e.to_string());
    if calendars::refresh(state).await.map_err(to_db)? {
        // Thresholds of the new calendars may fall due sooner than the timer
        // planned to look.
        state.wake.notify_one();
    }
    let version = match (calendars::claim_recompute(state).await.map_err(to_db)?, *unfinished) {
        (Some(claimed), _) => claimed,
        (None, Some(v)) if !calendars::superseded(state, v).await.map_err(to_db)? => v,
        _ => {
            *unfinished = None;
            return Ok(0);
        }
    };
    *unfinished = Some(version);
    let fingerprint = calendars::clock_inputs_changed(state).await.map_err(to_db)?;
    let started = std::time::Instant::now();
    let walked = state.calendars();
    let affected = calendars::begin_walk(state, &walked).await.map_err(to_db)?;
    let walk = clocks::recompute_after_holidays(state, &walked, affected, version).await?;
    // Recorded only once every clock is moved, and only while this walk's
    // claim stands: a start after a crash midway recomputes, and a newer
    // walk records its own.
    let recorded = walk.complete
        && calendars::record_clock_inputs(state, fingerprint.as_deref(), &walked, Some(version))
            .await
            .map_err(to_db)?;
    *unfinished = None;
    tracing::info!(
        moved = walk.moved,
        complete = recorded,
        ?affected,
        seconds = started.elapsed().as_secs_f64(),
        "holidays changed: deadlines of running clocks moved"
    );
    Ok(walk.moved)
}

/// Run until cancelled: the timer (clocks, notices, chores), the sender
/// (the mail queue) and the recomputation (holidays) each in a loop of its
/// own, so that a slow mail server never makes a threshold late, nor a
/// burst of thresholds the mail, nor a walk over a million clocks either;
/// and beside them [`follow_calendars`].
pub async fn run(state: AppState, cancel: CancellationToken) {
    tracing::info!("SLA timer started");
    tokio::join!(
        timer(state.clone(), cancel.clone()),
        sender(state.clone(), cancel.clone()),
        recomputation(state.clone(), cancel.clone()),
        follow_calendars(state, cancel)
    );
}

/// Everything but delivery and holidays, then sleep until the next instant
/// of interest, a change to any clock, or a jump of the (test) clock.
async fn timer(state: AppState, cancel: CancellationToken) {
    loop {
        let next = match timer_tick(&state).await {
            Ok(report) => {
                // Messages may have been queued, or a manual clock moved past
                // a retry: the sender looks (one indexed read when nothing is due).
                state.mail_wake.notify_one();
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
        if sleep_until(&state, next, &cancel, &state.wake, state.clock.jumps()).await == Woke::Cancelled {
            return;
        }
    }
}

/// Move running clocks whenever the holidays changed: at start, then when
/// they changed here or [`follow_calendars`] saw them change elsewhere
/// (it alone looks every `calendar_poll_seconds`). After an outage (a
/// claim not made, or a walk cut short, whose claim is this instance's) it
/// looks again a poll later; a walk that failed otherwise is left to the
/// next start, which finds the clocks' inputs unrecorded. Stopping
/// abandons a walk: its open batch is rolled back, and the next start
/// recomputes.
async fn recomputation(state: AppState, cancel: CancellationToken) {
    let poll = Duration::from_secs(state.settings.calendar_poll_seconds.max(1));
    let mut unfinished = None;
    loop {
        let walked = tokio::select! {
            () = cancel.cancelled() => return,
            walked = holidays(&state, &mut unfinished) => walked,
        };
        let retry = match walked {
            Ok(_) => false,
            Err(e) if crate::store::outage(&e).is_some() => {
                tracing::warn!(error = %e, ?unfinished, "moving the clocks after a change of holidays failed; trying again");
                true
            }
            Err(e) => {
                unfinished = None;
                tracing::error!(error = %e, "moving the clocks after a change of holidays failed; the next start moves them");
                false
            }
        };
        tokio::select! {
            () = cancel.cancelled() => return,
            () = state.recompute_wake.notified() => {}
            () = tokio::time::sleep(poll), if retry => {}
        }
    }
}

/// Keep this instance's calendars, with which its answers and its timer
/// compute deadlines, in step with holidays changed on other instances,
/// looking every `calendar_poll_seconds`, a walk in progress or not; on a
/// change, wake the timer and the recomputation. An instance without the
/// timer (`timer_enabled = false`) runs only this: it moves no clocks.
pub async fn follow_calendars(state: AppState, cancel: CancellationToken) {
    let poll = Duration::from_secs(state.settings.calendar_poll_seconds.max(1));
    loop {
        match calendars::refresh(&state).await {
            Ok(true) => {
                state.wake.notify_one();
                state.recompute_wake.notify_one();
            }
            Ok(false) => {}
            Err(e) => tracing::warn!(error = %e, "reading the holiday years failed; trying again"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(poll) => {}
        }
    }
}

/// Deliver what is due, then sleep until the next retry or a new message.
async fn sender(state: AppState, cancel: CancellationToken) {
    loop {
        let mut report = TickReport::default();
        let next = match outbox::deliver(&state, &mut report).await {
            Ok(next) => next,
            Err(e) => {
                tracing::warn!(error = %e, "delivery failed; retrying");
                Some(Timestamp::from_unix(state.clock.now().unix() + 1))
            }
        };
        // A manual clock's jumps wake the timer, which wakes the sender.
        if sleep_until(&state, next, &cancel, &state.mail_wake, None).await == Woke::Cancelled {
            return;
        }
    }
}

/// Why a sleep ended.
#[derive(Debug, PartialEq, Eq)]
enum Woke {
    Cancelled,
    Due,
}

/// Sleep until `next` (at most [`MAX_SLEEP`]), a wake-up, or one of
/// `jumps` (a manual clock moved).
async fn sleep_until(
    state: &AppState,
    next: Option<Timestamp>,
    cancel: &CancellationToken,
    wake: &tokio::sync::Notify,
    jumps: Option<std::sync::Arc<tokio::sync::Notify>>,
) -> Woke {
    let until = next.map_or(MAX_SLEEP, |at| state.clock.until(at).min(MAX_SLEEP));
    let deadline = tokio::time::sleep(until);
    tokio::select! {
        () = cancel.cancelled() => Woke::Cancelled,
        () = wake.notified() => Woke::Due,
        () = deadline => Woke::Due,
        () = async {
            match &jumps {
                Some(n) => n.notified().await,
                None => std::future::pending().await,
            }
        } => Woke::Due,
    }
}
