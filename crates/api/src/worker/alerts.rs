//! Alerts about a ticket's clocks: who hears of them, in one message per
//! recipient covering every alert of the ticket that reaches them.

use std::collections::{BTreeMap, BTreeSet};

use catalog::Recipients;
use notifier::Alert;
use sea_orm::{DatabaseTransaction, DbErr};
use sla_engine::{ClockStatus, Timestamp};
use uuid::Uuid;

use crate::domain::outbox::{MessageKind, NewMessage};
use crate::domain::ticket::{AlertLevel, Ticket};
use crate::service::mail;
use crate::state::AppState;
use crate::store;

/// One alert for one clock, before recipients are known.
pub(super) struct Due {
    /// The clock's metric.
    pub metric: String,
    /// The calendar it counts in.
    pub calendar: String,
    /// The highest threshold newly crossed.
    pub percent: u32,
    /// When the clock crossed it.
    pub at: Timestamp,
    /// Where the clock stands.
    pub status: ClockStatus,
}

/// Queue one message per recipient, covering every alert of this ticket that reaches them.
pub(super) async fn enqueue(
    state: &AppState,
    txn: &DatabaseTransaction,
    t: &Ticket,
    alerts: &[Due],
    now: Timestamp,
    without_email: &mut BTreeSet<String>,
) -> Result<usize, DbErr> {
    let policy = &state.catalog.settings.alerts;
    let mut per_recipient: BTreeMap<String, Vec<&Due>> = BTreeMap::new();
    for a in alerts {
        for email in
            addresses(txn, &t.agency, t.assignee_id, &policy.recipients(a.percent), without_email).await?
        {
            per_recipient.entry(email).or_default().push(a);
        }
    }
    let mut queued = 0;
    for (email, list) in per_recipient {
        let rendered = notifier::render(&render_alerts(state, t, &list, now), mail::locale(state))
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        // The instant of each crossing is in the key: a threshold withdrawn
        // and crossed again later is a new message.
        let mut parts: Vec<String> =
            list.iter().map(|a| format!("{}@{}@{}", a.metric, a.percent, a.at.unix())).collect();
        parts.sort();
        let dedupe_key = format!("{}|{email}|{}", t.id, parts.join(","));
        let covers = list.iter().map(|a| (a.metric.clone(), a.percent)).collect();
        let level = list.iter().map(|a| AlertLevel::of(a.percent)).max().unwrap_or(AlertLevel::Warning);
        let message = NewMessage {
            message_id: notifier::message_id(&dedupe_key, &state.settings.mail_from),
            dedupe_key,
            ticket_id: Some(t.id),
            kind: MessageKind::Alert(level),
            recipient: email,
            subject: rendered.subject,
            text: rendered.text,
            html: rendered.html,
            attachment: None,
            covers,
        };
        queued += usize::from(store::outbox::queue(txn, &message, now).await?.is_some());
    }
    Ok(queued)
}

fn render_alerts(state: &AppState, t: &Ticket, list: &[&Due], now: Timestamp) -> Vec<Alert> {
    let item = state.item(t.line_item_id);
    let agency = state.catalog.agency(&t.agency).map_or(t.agency.clone(), |a| a.name.clone());
    list.iter()
        .map(|a| Alert {
            kind: mail::alert_kind(AlertLevel::of(a.percent)),
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
            link: mail::ticket_link(state, t.id),
            beyond_holiday_data: a.status.beyond_holiday_data,
        })
        .collect()
}

/// The email addresses of these groups for an agency (and an assignee, if
/// any), deduplicated; accounts without one are skipped and named in
/// `without_email`.
pub(super) async fn addresses(
    txn: &DatabaseTransaction,
    agency: &str,
    assignee: Option<Uuid>,
    groups: &[Recipients],
    without_email: &mut BTreeSet<String>,
) -> Result<Vec<String>, DbErr> {
    let mut out = Vec::new();
    for u in store::users::in_groups(txn, agency, assignee, groups).await? {
        match u.email {
            Some(e) => out.push(e),
            None => {
                without_email.insert(u.username);
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
}
