//! Due clocks: each claimed clock is evaluated, every threshold it crossed is
//! recorded once (on the ticket's trail too), and its alerts are queued in
//! the same transaction. Also the recomputation of every running clock when
//! holidays or windows change.

use std::collections::BTreeMap;
use std::sync::Arc;

use sea_orm::{DatabaseTransaction, DbErr, TransactionTrait};
use serde_json::json;
use sla_engine::{CalendarSet, ClockStatus, Crossing, Timestamp};
use uuid::Uuid;

use super::TickReport;
use super::alerts::{self, Due};
use crate::domain::clock::{StoredClock, is_unrecorded, next_at};
use crate::domain::ticket::{AlertLevel, EventKind, Ticket};
use crate::service::calendars::Affected;
use crate::service::{tickets, withdrawals};
use crate::settings::DutyPercent;
use crate::state::AppState;
use crate::store;
use crate::store::clocks::{ClockWrite, NewAlert};
use crate::store::trail::NewEvent;

/// Clocks handled per transaction.
const BATCH: u64 = 100;

fn db_err(e: impl std::fmt::Display) -> DbErr {
    DbErr::Custom(e.to_string())
}

/// Process every due clock; when the next one falls due.
pub(super) async fn process_due(
    state: &AppState,
    report: &mut TickReport,
) -> Result<Option<Timestamp>, DbErr> {
    loop {
        let (n, next) = process_batch(state, report).await?;
        if (n as u64) < BATCH {
            return Ok(next);
        }
    }
}

async fn process_batch(
    state: &AppState,
    report: &mut TickReport,
) -> Result<(usize, Option<Timestamp>), DbErr> {
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let due = store::clocks::claim_due(&txn, now, BATCH).await?;
    let count = due.len();
    let mut by_ticket: BTreeMap<Uuid, Vec<StoredClock>> = BTreeMap::new();
    for c in due {
        by_ticket.entry(c.ticket_id).or_default().push(c.clock);
    }
    let ids: Vec<Uuid> = by_ticket.keys().copied().collect();
    for (ticket_id, clocks) in by_ticket {
        let Some(t) = store::tickets::find(&txn, ticket_id).await? else { continue };
        let due = check_ticket(state, &txn, &t, &clocks, now, report).await?;
        if !due.is_empty() {
            report.queued += alerts::enqueue(state, &txn, &t, &due, now, &mut report.without_email).await?;
        }
    }
    store::clocks::refresh_breach(&txn, &ids).await?;
    // Read after this batch's writes: a clock just handled may fall due
    // again before any other (its deadline after its warning).
    let next = if (count as u64) < BATCH { store::clocks::next_due_after(&txn, now).await? } else { None };
    txn.commit().await?;
    Ok((count, next))
}

/// Evaluate a ticket's due clocks, record what they crossed, store their
/// standing; the alerts to send, one per clock (its highest new threshold).
async fn check_ticket(
    state: &AppState,
    txn: &DatabaseTransaction,
    t: &Ticket,
    clocks: &[StoredClock],
    now: Timestamp,
    report: &mut TickReport,
) -> Result<Vec<Due>, DbErr> {
    let thresholds = state.thresholds(t.line_item_id, t.severity);
    let hold = state.hold(t);
    let known = store::clocks::recorded_alerts(txn, t.id).await?;
    let mut seq = store::trail::last_seq(txn, t.id).await?;
    let mut due = Vec::new();
    for c in clocks {
        report.clocks += 1;
        let status = c.evaluate(&*state.calendars(), &thresholds, now).map_err(db_err)?;
        let metric = c.metric.as_str();
        // Paused and met clocks never fire. Thresholds that fell before a
        // phoned-in ticket was filed wait for its hold to end, unless a later
        // one is due now (which they then only lead up to).
        let mut fresh: Vec<Crossing> = if status.stopped {
            Vec::new()
        } else {
            status.crossed.iter().filter(|x| is_unrecorded(&known, metric, x.percent)).copied().collect()
        };
        if fresh.iter().all(|x| hold.holds(x, now)) {
            fresh.clear();
        }
        if let Some(top) = fresh.last() {
            for x in &fresh {
                // Several thresholds due at once (a backdated ticket, an
                // outage of the service): all are recorded, only the highest is sent.
                if record(txn, t, c, *x, x.percent == top.percent, seq + 1, now).await? {
                    report.thresholds += 1;
                    seq += 1;
                }
            }
            due.push(Due {
                metric: metric.to_owned(),
                calendar: c.calendar.clone(),
                percent: top.percent,
                at: top.at,
                status: status.clone(),
            });
        }
        // What is held back is still unannounced: due when its hold ends.
        let unannounced = |p: u32| is_unrecorded(&known, metric, p) && !fresh.iter().any(|x| x.percent == p);
        let write =
            ClockWrite { clock: c, status: &status, next_at: next_at(&status, now, hold, unannounced) };
        store::clocks::set_status(txn, t.id, write, now).await?;
    }
    Ok(due)
}

/// Record one threshold and its row on the trail; false when it was recorded already.
async fn record(
    txn: &DatabaseTransaction,
    t: &Ticket,
    c: &StoredClock,
    x: Crossing,
    notified: bool,
    seq: i32,
    now: Timestamp,
) -> Result<bool, DbErr> {
    let metric = c.metric.as_str();
    let alert = NewAlert { ticket_id: t.id, metric, percent: x.percent, at: x.at, notified };
    if !store::clocks::record_alert(txn, alert, now).await? {
        return Ok(false);
    }
    let event = NewEvent {
        ticket_id: t.id,
        seq,
        kind: EventKind::Alert(AlertLevel::of(x.percent)),
        actor_id: None,
        at: x.at,
        recorded_at: now,
        from_state: Some(t.state),
        to_state: t.state,
        data: json!({ "metric": metric, "percent": x.percent, "notified": notified, "target_seconds": c.target.get() }),
    };
    store::trail::append(txn, &event)
        .await
        .map_err(|e| db_err(format!("cannot record {}: {e}", event.kind.as_str())))?;
    Ok(true)
}

/// Clocks rewritten per transaction by a recomputation: a batch is a
/// handful of statements (its tickets, their thresholds and trail ends, one
/// update, one insert), short enough that an action on one of its tickets
/// waits a few milliseconds at most.
const RECOMPUTE_BATCH: u64 = 500;

/// Recompute every clock not yet met (when the calendars or thresholds
/// changed between two starts): in batches, each its own short transaction,
/// so that filing never waits long behind it. How many clocks.
pub async fn recompute_running(state: &AppState) -> Result<usize, DbErr> {
    let now = state.clock.now();
    let calendars = state.calendars();
    let mut after = None;
    let mut n = 0;
    loop {
        let batch = store::clocks::unmet_after(&state.db, None, None, after.clone(), RECOMPUTE_BATCH).await?;
        let Some(last) = batch.last() else { return Ok(n) };
        after = Some((last.ticket_id, last.clock.metric.as_str().to_owned()));
        let txn = state.db.begin().await?;
        let ids = ticket_ids(batch.iter().map(|c| c.ticket_id));
        let tickets = store::tickets::find_many(&txn, &ids, false).await?;
        let recorded = store::clocks::recorded_alerts_of(&txn, &ids).await?;
        let mut statuses = Vec::with_capacity(batch.len());
        for c in &batch {
            let Some(t) = tickets.get(&c.ticket_id) else { continue };
            let thresholds = state.thresholds(t.line_item_id, t.severity);
            let status = c.clock.evaluate(&*calendars, &thresholds, now).map_err(db_err)?;
            statuses.push((c, t, status));
        }
        // Due at once only for a threshold crossed and not yet recorded (the
        // service was down, or the new calendar brought it forward): a
        // clock whose thresholds are all announced waits for its next one,
        // so that a recomputation never floods the timer.
        let writes: Vec<_> = statuses
            .iter()
            .map(|(c, t, status)| {
                let known = recorded.get(&t.id).map_or(&[][..], Vec::as_slice);
                let unannounced = |p: u32| is_unrecorded(known, c.clock.metric.as_str(), p);
                let next_at = next_at(status, now, state.hold(t), unannounced);
                (c.ticket_id, ClockWrite { clock: &c.clock, status, next_at })
            })
            .collect();
        store::clocks::write_many(&txn, &writes, now).await?;
        txn.commit().await?;
        n += writes.len();
        if (batch.len() as u64) < RECOMPUTE_BATCH {
            return Ok(n);
        }
    }
}

/// The tickets of clocks read in (ticket, metric) order, each once.
fn ticket_ids(clocks: impl IntoIterator<Item = Uuid>) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = clocks.into_iter().collect();
    ids.dedup();
    ids
}

/// Clocks read per page of a recomputation's walk: each is evaluated under
/// the new calendars outside any transaction, and only the clocks that
/// moved are then rewritten.
const RECOMPUTE_PAGE: u64 = 2_000;

/// Clocks rewritten per transaction by a recomputation: a few statements
/// over a few hundred rows, so that an action on one of their tickets
/// waits a few milliseconds at most.
const MOVE_BATCH: usize = 400;

/// A clock by its ticket and metric.
type ClockKey = (Uuid, String);

/// After the holidays changed: move every unmet clock of a window that
/// follows holidays, and that `calendars` may move (`affected`), to its new
/// deadline, in batches of short transactions, writing each move on the
/// ticket's trail. Thresholds already announced stay announced; the next
/// one is due when the new calendar says. How many moved.
///
/// The walk runs a page ahead of the rewriting, on a connection of its
/// own: the next page is read and evaluated while the tickets of the last
/// one are rewritten. One set of calendars serves the whole walk, so that
/// what is recorded as done is what was walked.
pub async fn recompute_after_holidays(
    state: &AppState,
    calendars: &Arc<CalendarSet>,
    affected: Affected,
    version: i64,
) -> Result<Walk, DbErr> {
    let since = match affected {
        Affected::Nothing => return Ok(Walk { moved: 0, complete: true }),
        Affected::Every => None,
        Affected::From(at) => Some(at),
    };
    let names: Vec<String> =
        calendars.iter().filter(|(_, c)| c.window().holidays.is_some()).map(|(n, _)| n.to_owned()).collect();
    let (pages, mut stale) = tokio::sync::mpsc::channel(2);
    let walker = tokio::spawn({
        let (state, calendars, names) = (state.clone(), calendars.clone(), names.clone());
        async move { walk(&state, &calendars, &names, since, pages).await }
    });
    let mut moved = 0;
    while let Some(clocks) = stale.recv().await {
        for batch in clocks.chunks(MOVE_BATCH) {
            let started = std::time::Instant::now();
            let Some(n) = move_with_retry(state, calendars, batch, &names, version).await? else {
                // A newer change was claimed (here or on another instance):
                // its walk looks at every clock, and this one would undo its moves.
                drop(stale);
                walker.await.map_err(db_err)??;
                return Ok(Walk { moved, complete: false });
            };
            moved += n;
            rest(state.settings.recompute_duty_percent, started.elapsed()).await;
        }
    }
    walker.await.map_err(db_err)??;
    Ok(Walk { moved, complete: true })
}

/// How a recomputation's walk ended.
#[derive(Clone, Copy, Debug)]
pub struct Walk {
    /// Clocks moved.
    pub moved: usize,
    /// False when it gave way to a newer one before its end.
    pub complete: bool,
}

/// After a batch that took `worked`, rest so that rewriting takes
/// `duty_percent` of the time: the pages a batch dirties then reach the
/// disk at a pace that leaves room for the log writes of filings (as
/// PostgreSQL's own vacuum rests by its cost delay).
async fn rest(duty_percent: DutyPercent, worked: std::time::Duration) {
    let duty = duty_percent.get();
    if duty < 100 {
        tokio::time::sleep(worked * (100 - duty) / duty).await;
    }
}

/// Walk the unmet clocks of the calendars `names` (those that may have
/// moved `since`) a page at a time, sending those of each page that would
/// be written otherwise; stops early when the rewriting stopped (it says why).
async fn walk(
    state: &AppState,
    calendars: &CalendarSet,
    names: &[String],
    since: Option<Timestamp>,
    pages: tokio::sync::mpsc::Sender<Vec<ClockKey>>,
) -> Result<(), DbErr> {
    let mut after = None;
    loop {
        let page =
            store::clocks::unmet_after(&state.db, Some(names), since, after.clone(), RECOMPUTE_PAGE).await?;
        let Some(last) = page.last() else { return Ok(()) };
        after = Some((last.ticket_id, last.clock.metric.as_str().to_owned()));
        let full = page.len() as u64 == RECOMPUTE_PAGE;
        if pages.send(stale_clocks(state, calendars, &page).await?).await.is_err() || !full {
            return Ok(());
        }
    }
}

/// The clocks of `page` that the calendars as they now stand would write
/// otherwise: another rule, target or deadline, another breach, or another
/// next threshold. A clock that would be written the same is left alone
/// (most clocks end before the days that changed), and so are its ticket's
/// other clocks: each is locked and written only if it moved.
async fn stale_clocks(
    state: &AppState,
    calendars: &CalendarSet,
    page: &[store::clocks::Claimed],
) -> Result<Vec<ClockKey>, DbErr> {
    let now = state.clock.now();
    let tickets =
        store::tickets::find_many(&state.db, &ticket_ids(page.iter().map(|c| c.ticket_id)), false).await?;
    let mut stale = Vec::new();
    for c in page {
        let Some(t) = tickets.get(&c.ticket_id) else { continue };
        let alike = match tickets::rechoose(state, calendars, t, &c.clock).map_err(db_err)? {
            Some(clock) => {
                let status = clock.evaluate(calendars, &state.thresholds(t.line_item_id, t.severity), now);
                written_alike(c, &clock, &status.map_err(db_err)?)
            }
            None => false,
        };
        if !alike {
            stale.push((t.id, c.clock.metric.as_str().to_owned()));
        }
    }
    Ok(stale)
}

/// Whether `clock` with `status` is what was last written for `c`, every
/// threshold already crossed taken as announced (a clock with one still to
/// announce is due now and not alike: it is rewritten under the lock, where
/// the recorded thresholds are read).
fn written_alike(c: &store::clocks::Claimed, clock: &StoredClock, status: &ClockStatus) -> bool {
    let next = if status.stopped { None } else { status.next.map(|n| n.at) };
    clock.rule_ref == c.clock.rule_ref
        && clock.target == c.clock.target
        && clock.calendar == c.clock.calendar
        && clock.choice_beyond_holiday_data == c.clock.choice_beyond_holiday_data
        && status.deadline == c.deadline
        && status.breached_at == c.breached_at
        && next == c.next_at
}

/// A clock chosen again and evaluated under the new calendars.
struct Moved<'a> {
    claimed: &'a store::clocks::Claimed,
    ticket: &'a Ticket,
    clock: StoredClock,
    status: ClockStatus,
}

/// [`move_batch`], again when an action or the timer took a trail position
/// it meant to take, or waited for its clocks while it waited for theirs
/// (they retry likewise when they lose).
async fn move_with_retry(
    state: &AppState,
    calendars: &CalendarSet,
    clocks: &[ClockKey],
    names: &[String],
    version: i64,
) -> Result<Option<usize>, DbErr> {
    let mut attempt = 0;
    loop {
        match move_batch(state, calendars, clocks, names, version).await {
            Err(e) if store::is_lost_race(&e) && attempt < 5 => attempt += 1,
            result => return result,
        }
    }
}

/// Rewrite `clocks` (those still unmet, of the calendars `names`), as the
/// walk of holiday version `version`: each locked and read again, so that
/// an action taken since the walk read it is built on, not overwritten.
/// Besides them only the walk's claim is held, shared (on PostgreSQL a row
/// lock is a write to the row's page, so nothing more is locked): an
/// action that takes a trail position first makes this batch try again,
/// and one that comes second tries again itself. How many moved; `None`
/// when a newer version was claimed, and nothing was written.
async fn move_batch(
    state: &AppState,
    calendars: &CalendarSet,
    clocks: &[ClockKey],
    names: &[String],
    version: i64,
) -> Result<Option<usize>, DbErr> {
    let now = state.clock.now();
    let ids = ticket_ids(clocks.iter().map(|(id, _)| *id));
    let txn = state.db.begin().await?;
    store::commit_without_waiting_for_disk(&txn).await?;
    // Held until this batch commits: the claim of a newer change waits for
    // it, so that its walk, which reads every clock, comes after these moves.
    if store::holidays::claimed_recompute_held(&txn).await? > version {
        return Ok(None);
    }
    let tickets = store::tickets::find_many(&txn, &ids, false).await?;
    let claimed = store::clocks::unmet_of(&txn, clocks, names).await?;
    let recorded = store::clocks::recorded_alerts_of(&txn, &ids).await?;
    let mut moved = Vec::with_capacity(claimed.len());
    for c in &claimed {
        let Some(t) = tickets.get(&c.ticket_id) else { continue };
        // The new days may also change which rule sets the target (opened in
        // working time? which deadline comes first?): choose again.
        let Some(clock) = tickets::rechoose(state, calendars, t, &c.clock).map_err(db_err)? else { continue };
        let thresholds = state.thresholds(t.line_item_id, t.severity);
        let status = clock.evaluate(calendars, &thresholds, now).map_err(db_err)?;
        // A later deadline may mean a threshold seen crossed was not (rare:
        // each such ticket is settled on its own).
        let known = recorded.get(&t.id).map_or(&[][..], Vec::as_slice);
        if !crate::domain::clock::undone(known, &[(&clock, &status)]).is_empty() {
            withdrawals::withdraw_undone(state, &txn, t, &[(&clock, &status)], now).await?;
        }
        moved.push(Moved { claimed: c, ticket: t, clock, status });
    }
    let writes: Vec<_> = moved
        .iter()
        .map(|m| {
            let known = recorded.get(&m.ticket.id).map_or(&[][..], Vec::as_slice);
            let unannounced = |p: u32| is_unrecorded(known, m.clock.metric.as_str(), p);
            let next_at = next_at(&m.status, now, state.hold(m.ticket), unannounced);
            (m.ticket.id, ClockWrite { clock: &m.clock, status: &m.status, next_at })
        })
        .collect();
    store::clocks::write_many(&txn, &writes, now).await?;
    let events = moved_events(&txn, &moved, now).await?;
    store::trail::append_many(&txn, &events).await?;
    txn.commit().await?;
    state.wake.notify_one();
    Ok(Some(events.len()))
}

/// A `deadline_moved` row on the trail of each clock whose deadline moved.
async fn moved_events(
    txn: &DatabaseTransaction,
    clocks: &[Moved<'_>],
    now: Timestamp,
) -> Result<Vec<NewEvent>, DbErr> {
    let moved: Vec<&Moved<'_>> = clocks.iter().filter(|m| m.status.deadline != m.claimed.deadline).collect();
    if moved.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = moved.iter().map(|m| m.ticket.id).collect();
    let mut seqs = store::trail::last_seqs(txn, &ids).await?;
    Ok(moved
        .into_iter()
        .map(|m| {
            let seq = seqs.entry(m.ticket.id).or_default();
            *seq += 1;
            NewEvent {
                ticket_id: m.ticket.id,
                seq: *seq,
                kind: EventKind::DeadlineMoved,
                actor_id: None,
                at: now,
                recorded_at: now,
                from_state: Some(m.ticket.state),
                to_state: m.ticket.state,
                data: json!({
                    "metric": m.claimed.clock.metric.as_str(),
                    "from": m.claimed.deadline.map(|d| d.to_string()),
                    "to": m.status.deadline.map(|d| d.to_string()),
                    "reason": "holidays",
                }),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{DutyPercent, rest};

    /// Paused time: the sleeps are measured, not waited for.
    #[tokio::test(start_paused = true)]
    async fn a_recomputation_rests_the_share_of_time_it_does_not_work() {
        let worked = Duration::from_millis(40);
        for (duty, rested) in [(50, 40), (25, 120), (80, 10), (100, 0), (10, 360)] {
            let started = tokio::time::Instant::now();
            rest(DutyPercent::try_from(duty).expect("a share the settings accept"), worked).await;
            assert_eq!(started.elapsed(), Duration::from_millis(rested), "duty {duty} %");
        }
    }
}
