//! Thresholds that did not happen after all. An engineer records, after
//! the service announced a breach, that the fault was in fact answered in
//! time; or new holidays move a deadline past the instant a threshold was
//! seen. The trail keeps the threshold and marks it withdrawn; a message
//! about it still waiting is taken out of the queue; one already sent stays
//! sent, followed by a short correction to the same recipients.

use sea_orm::{ConnectionTrait, DbErr};
use serde_json::json;
use sla_engine::{ClockStatus, Timestamp};

use crate::domain::clock::{self, Recorded, StoredClock};
use crate::domain::outbox::{MessageKind, NewMessage, OutboxStatus, QueuedMessage};
use crate::domain::ticket::{AlertLevel, Event, EventKind, Ticket};
use crate::service::mail;
use crate::state::AppState;
use crate::store;
use crate::store::trail::NewEvent;

/// Withdraw every recorded threshold of `t` that `clocks`, as they now stand
/// at `now`, never crossed (a metric not among `clocks` is left alone).
/// How many were withdrawn.
pub async fn withdraw_undone(
    state: &AppState,
    db: &impl ConnectionTrait,
    t: &Ticket,
    clocks: &[(&StoredClock, &ClockStatus)],
    now: Timestamp,
) -> Result<usize, DbErr> {
    let recorded = store::clocks::recorded_alerts(db, t.id).await?;
    let undone: Vec<Recorded> = clock::undone(&recorded, clocks).into_iter().cloned().collect();
    if undone.is_empty() {
        return Ok(0);
    }
    let trail = store::trail::of_ticket(db, t.id).await?;
    let next_seq = trail.last().map_or(0, |e| e.seq) + 1;
    for (seq, (metric, percent)) in (next_seq..).zip(&undone) {
        store::clocks::forget_alert(db, t.id, metric, *percent).await?;
        let original = announced(&trail, metric, *percent);
        let event = NewEvent {
            ticket_id: t.id,
            seq,
            kind: EventKind::Withdrawn,
            actor_id: None,
            at: now,
            recorded_at: now,
            from_state: Some(t.state),
            to_state: t.state,
            data: json!({
                "metric": metric,
                "percent": percent,
                "withdraws_seq": original.map(|e| e.seq),
                "crossed_at": original.map(|e| e.at.to_string()),
            }),
        };
        store::trail::append(db, &event).await?;
    }
    for m in store::outbox::alerts_of_ticket(db, t.id).await? {
        settle(state, db, t, &trail, &m, &undone, now).await?;
    }
    Ok(undone.len())
}

/// The trail's row for a threshold, the latest if it was crossed more than once.
fn announced<'a>(trail: &'a [Event], metric: &str, percent: u32) -> Option<&'a Event> {
    trail.iter().rev().find(|e| {
        matches!(e.kind, EventKind::Alert(_)) && e.data["metric"] == metric && e.data["percent"] == percent
    })
}

/// One alert message about thresholds now undone: taken out of the queue
/// while it waits and covers nothing else; else corrected. A dead message
/// reached nobody, and one withdrawn already needs nothing.
async fn settle(
    state: &AppState,
    db: &impl ConnectionTrait,
    t: &Ticket,
    trail: &[Event],
    m: &QueuedMessage,
    undone: &[Recorded],
    now: Timestamp,
) -> Result<(), DbErr> {
    let gone: Vec<&Recorded> = m.covers.iter().filter(|c| undone.contains(c)).collect();
    if gone.is_empty() || matches!(m.status, OutboxStatus::Dead | OutboxStatus::Withdrawn) {
        return Ok(());
    }
    let only_these = gone.len() == m.covers.len();
    if only_these && m.status == OutboxStatus::Pending && store::outbox::withdraw(db, m.id, now).await? {
        return Ok(());
    }
    let Some(recipient) = m.recipients.first() else { return Ok(()) };
    let withdrawn = gone
        .iter()
        .map(|(metric, percent)| notifier::Withdrawn {
            kind: mail::alert_kind(AlertLevel::of(*percent)),
            percent: *percent,
            metric: metric.clone(),
            crossed_at: announced(trail, metric, *percent).map_or(now, |e| e.at).to_datetime(),
        })
        .collect();
    let correction = notifier::Correction {
        ticket_number: t.number.clone(),
        ticket_title: t.title.clone(),
        agency: state.catalog.agency(&t.agency).map_or_else(|| t.agency.clone(), |a| a.name.clone()),
        original_subject: m.subject.clone(),
        withdrawn,
        timezone: state.item_timezone(t.line_item_id),
        link: mail::ticket_link(state, t.id),
    };
    let rendered = notifier::render_correction(&correction, mail::locale(state))
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    let mut parts: Vec<String> = gone.iter().map(|(metric, percent)| format!("{metric}@{percent}")).collect();
    parts.sort();
    let dedupe_key = format!("correction|{}|{}", m.id, parts.join(","));
    let message = NewMessage {
        message_id: notifier::message_id(&dedupe_key, &state.settings.mail_from),
        dedupe_key,
        ticket_id: Some(t.id),
        kind: MessageKind::Correction,
        recipient: recipient.clone(),
        subject: rendered.subject,
        text: rendered.text,
        html: rendered.html,
        attachment: None,
        covers: Vec::new(),
    };
    store::outbox::queue(db, &message, now).await?;
    Ok(())
}
