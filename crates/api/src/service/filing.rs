//! Filing a ticket: the checks, its number, its first clocks, and for a
//! fault phoned in and filed afterwards, the steps already taken
//! (acknowledged, on site, resolved) at the times they really happened.

use chrono::Datelike;
use serde_json::json;
use sla_engine::{Severity, Timestamp};
use uuid::Uuid;

use super::tickets::{TicketRead, compute_clocks, computed, read_unscoped, reads, writes};
use super::{Error, Result};
use crate::domain::access::{Caller, Role};
use crate::domain::message::Invalid;
use crate::domain::text::{self, TEXT_MAX, TITLE_MAX};
use crate::domain::ticket::{self, Action, EventKind, Ticket, TicketState, TrailEntry};
use crate::state::AppState;
use crate::store;
use crate::store::filing::{self, Filing};
use crate::store::trail::NewEvent;

/// A request to file a ticket.
#[derive(Clone, Debug, Default)]
pub struct NewTicket {
    /// The line item the fault is in.
    pub line_item_id: Uuid,
    /// A short summary.
    pub title: String,
    /// What happened.
    pub description: String,
    /// How serious.
    pub severity: Severity,
    /// When the fault was reported, if earlier than now.
    pub reported_at: Option<Timestamp>,
    /// Special conditions (e.g. `complex_fault`).
    pub tags: Vec<String>,
    /// Steps already taken on a fault filed afterwards (engineers only).
    pub steps: Steps,
}

/// When the steps of a fault filed afterwards were really taken (受理, 到场, 恢复).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Steps {
    /// Acknowledged.
    pub acknowledged_at: Option<Timestamp>,
    /// Arrived on site.
    pub arrived_at: Option<Timestamp>,
    /// Resolved.
    pub resolved_at: Option<Timestamp>,
}

impl Steps {
    /// The steps given, in the order they must have happened, with the field each came from.
    fn given(self) -> Vec<(&'static str, Action, Timestamp)> {
        [
            ("acknowledged_at", Action::Acknowledge, self.acknowledged_at),
            ("arrived_at", Action::Arrive, self.arrived_at),
            ("resolved_at", Action::Resolve, self.resolved_at),
        ]
        .into_iter()
        .filter_map(|(field, action, at)| at.map(|at| (field, action, at)))
        .collect()
    }
}

/// How `file` ended.
#[derive(Debug)]
pub enum Filed {
    /// A new ticket.
    Created(TicketRead),
    /// The same Idempotency-Key and body as before: that ticket again.
    Replayed(TicketRead),
}

/// A filing's Idempotency-Key and the hash of its request.
#[derive(Clone, Debug)]
pub struct Idempotency {
    /// The key the client sent.
    pub key: String,
    /// The hash of the request it was first used with.
    pub hash: String,
}

/// The year a ticket number carries: the year of filing in the contract's timezone.
fn number_year(state: &AppState, now: Timestamp) -> i32 {
    now.to_datetime().with_timezone(&state.catalog.settings.timezone).year()
}

/// The checks of a filing that need no database: the item in the caller's
/// scope, the text, and when the fault may have been reported.
fn check_new(
    state: &AppState,
    caller: &Caller,
    new: &NewTicket,
    now: Timestamp,
) -> Result<(String, u32, Timestamp)> {
    let item = state
        .item(new.line_item_id)
        .filter(|i| caller.sees(&i.agency))
        .ok_or(Error::NotFound("line item"))?;
    text::check_line("title", &new.title, 1, TITLE_MAX)?;
    text::check("description", &new.description, 0, TEXT_MAX)?;
    text::check_tags(&new.tags)?;
    if new.reported_at.is_some() && !caller.may_backdate() {
        return Err(Error::forbidden("only engineers and managers may give reported_at"));
    }
    let reported_at = new.reported_at.unwrap_or(now);
    if reported_at > now {
        return Err(
            Invalid::field("reported_at", "报告时间不能晚于现在", "reported_at is in the future").into()
        );
    }
    let tz = state.catalog.settings.timezone;
    let local_date = reported_at.to_datetime().with_timezone(&tz).date_naive();
    if local_date < item.service_period.from {
        let from = item.service_period.from;
        return Err(Invalid::field(
            "reported_at",
            format!("报告时间早于该运维项目的服务期（自 {from} 起）"),
            format!("reported_at is before the line item's service period, which starts {from}"),
        )
        .into());
    }
    Ok((item.agency.clone(), item.seq, reported_at))
}

/// The steps already taken, checked: only engineers (and admins) record
/// them, each no earlier than the one before (the report first) and none
/// in the future. The trail they make, the filing first.
fn check_steps(
    caller: &Caller,
    steps: Steps,
    reported_at: Timestamp,
    now: Timestamp,
) -> Result<Vec<TrailEntry>> {
    let given = steps.given();
    if !given.is_empty() && !matches!(caller.role, Role::Engineer | Role::Admin) {
        return Err(Error::forbidden("only engineers may record the steps already taken on a fault"));
    }
    let mut trail = vec![TrailEntry { action: Action::File, at: reported_at }];
    let mut previous = ("reported_at", "报告时间");
    for (field, action, at) in given {
        let zh_name = match action {
            Action::Acknowledge => "受理时间",
            Action::Arrive => "到场时间",
            _ => "恢复时间",
        };
        if at > now {
            return Err(Invalid::field(
                field,
                format!("{zh_name}不能晚于现在"),
                format!("{field} is in the future"),
            )
            .into());
        }
        let before = trail.last().map_or(reported_at, |e| e.at);
        if at < before {
            return Err(Invalid::field(
                field,
                format!("{zh_name}不能早于{}", previous.1),
                format!("{field} is before {}", previous.0),
            )
            .into());
        }
        trail.push(TrailEntry { action, at });
        previous = (field, zh_name);
    }
    Ok(trail)
}

/// The ticket's rows of the trail: the filing, then each step already taken.
fn trail_events(
    ticket: &Ticket,
    caller: &Caller,
    trail: &[TrailEntry],
    data: &serde_json::Value,
    now: Timestamp,
) -> Result<Vec<NewEvent>> {
    let mut state = TicketState::Open;
    let mut events = Vec::with_capacity(trail.len());
    for (i, entry) in trail.iter().enumerate() {
        let (from_state, to_state, data) = if entry.action == Action::File {
            (None, TicketState::Open, data.clone())
        } else {
            let to = ticket::next_state(state, None, entry.action)?;
            (Some(state), to, json!({ "recorded_with_filing": true }))
        };
        events.push(NewEvent {
            ticket_id: ticket.id,
            seq: i32::try_from(i + 1).unwrap_or(i32::MAX),
            kind: EventKind::Action(entry.action),
            actor_id: Some(caller.id),
            at: entry.at,
            recorded_at: now,
            from_state,
            to_state,
            data,
        });
        state = to_state;
    }
    Ok(events)
}

/// File a ticket for `caller`.
pub async fn file(
    state: &AppState,
    caller: &Caller,
    new: NewTicket,
    idempotency: Option<Idempotency>,
) -> Result<Filed> {
    let now = state.clock.now();
    let (agency, item_seq, reported_at) = check_new(state, caller, &new, now)?;
    let trail = check_steps(caller, new.steps, reported_at, now)?;
    let mut ticket = Ticket {
        id: Uuid::nil(),
        number: String::new(),
        line_item_id: new.line_item_id,
        agency,
        title: new.title,
        description: new.description,
        severity: new.severity,
        state: TicketState::Open,
        paused_from: None,
        tags: new.tags,
        // An engineer who records answering the fault has taken it.
        assignee_id: (trail.len() > 1 && caller.role == Role::Engineer).then_some(caller.id),
        created_by: caller.id,
        reported_at,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let clocks = computed(&compute_clocks(state, &ticket, &trail, now)?);
    let mut data =
        json!({ "title": ticket.title, "severity": ticket.severity.as_str(), "line_item_seq": item_seq });
    if new.reported_at.is_some() {
        data["reported_at"] = json!(reported_at.to_string());
        data["backdated_by_seconds"] = json!(now.unix() - reported_at.unix());
    }
    if let Some(id) = ticket.assignee_id {
        data["assignee_id"] = json!(id);
    }
    for attempt in 0..3 {
        if let Some(key) = &idempotency
            && let Some(replayed) = replay(state, caller, key).await?
        {
            return Ok(Filed::Replayed(replayed));
        }
        ticket.id = Uuid::now_v7();
        let events = trail_events(&ticket, caller, &trail, &data, now)?;
        ticket.state = events.last().map_or(TicketState::Open, |e| e.to_state);
        let filing = Filing {
            year: number_year(state, now),
            ticket: &ticket,
            events: &events,
            clocks: &writes(&clocks, now, state.hold(&ticket)),
            alerts: &[],
            idempotency: idempotency.as_ref().map(|i| (i.key.as_str(), i.hash.as_str())),
            now,
        };
        match filing::insert(&state.db, &filing).await {
            Ok(number) => ticket.number = number,
            // Another request with the same key won the race: answer as it did.
            Err(e) if store::is_unique_violation(&e) && idempotency.is_some() && attempt < 2 => continue,
            Err(e) => return Err(e.into()),
        }
        state.wake.notify_one();
        // The clocks were just computed at `now`: answer with them, no second read.
        return Ok(Filed::Created(TicketRead {
            clocks: reads(state, ticket.line_item_id, &clocks),
            ticket,
            item_seq,
        }));
    }
    Err(Error::Busy("could not file the ticket; try again".into()))
}

/// The ticket filed before under this Idempotency-Key, if any; refused when
/// the key came with another request.
async fn replay(state: &AppState, caller: &Caller, key: &Idempotency) -> Result<Option<TicketRead>> {
    match store::tickets::idempotency(&state.db, caller.id, &key.key).await? {
        None => Ok(None),
        Some((hash, _)) if hash != key.hash => Err(Error::IdempotencyKeyReused),
        Some((_, id)) => Ok(Some(read_unscoped(state, id).await?)),
    }
}

/// A ticket that already happened, for filing many at once (loading past
/// records; the scale benchmark's data): clocked by the same rules as any
/// filing, its steps at the times they happened.
#[derive(Clone, Debug)]
pub struct PastTicket {
    /// The line item.
    pub line_item_id: Uuid,
    /// A short summary.
    pub title: String,
    /// How serious.
    pub severity: Severity,
    /// When the fault was reported (and recorded).
    pub reported_at: Timestamp,
    /// Steps taken.
    pub steps: Steps,
    /// When it was closed, after its resolution.
    pub closed_at: Option<Timestamp>,
    /// Its engineer.
    pub assignee_id: Option<Uuid>,
}

/// File `tickets` at once for `caller` (an admin), numbered in the year
/// each was reported, many rows to a statement. Thresholds their clocks
/// crossed before now are history, not news: they are stored as announced
/// (without a message), and the timer announces only those still to come.
pub async fn import(state: &AppState, caller: &Caller, tickets: Vec<PastTicket>) -> Result<usize> {
    if caller.role != Role::Admin {
        return Err(Error::forbidden("only admins import tickets"));
    }
    let now = state.clock.now();
    let mut built = Vec::with_capacity(tickets.len());
    for past in tickets {
        built.push(past_ticket(state, caller, past, now)?);
    }
    let mut by_year: std::collections::BTreeMap<i32, Vec<usize>> = std::collections::BTreeMap::new();
    for (i, (t, ..)) in built.iter().enumerate() {
        by_year.entry(number_year(state, t.reported_at)).or_default().push(i);
    }
    for (year, indexes) in by_year {
        let numbers = filing::numbers(&state.db, year, indexes.len()).await?;
        for (i, number) in indexes.into_iter().zip(numbers) {
            built[i].0.number = number;
        }
    }
    let writes: Vec<_> = built.iter().map(|(_, _, clocks)| past_writes(clocks, now)).collect();
    let alerts: Vec<_> = built.iter().map(|(t, _, clocks)| crossed(t.id, clocks)).collect();
    let filings: Vec<Filing<'_>> = built
        .iter()
        .zip(writes.iter().zip(&alerts))
        .map(|((ticket, events, _), (clocks, alerts))| Filing {
            year: number_year(state, ticket.reported_at),
            ticket,
            events,
            clocks,
            alerts,
            idempotency: None,
            now,
        })
        .collect();
    filing::insert_many(&state.db, &filings).await?;
    state.wake.notify_one();
    Ok(filings.len())
}

/// The rows of a past ticket's clocks: due next at the first threshold still to come.
fn past_writes(clocks: &super::tickets::Computed, now: Timestamp) -> Vec<store::clocks::ClockWrite<'_>> {
    // Nothing crossed is unannounced, so no hold applies.
    let hold = crate::domain::clock::Hold::after(now, 0);
    clocks
        .iter()
        .map(|(clock, status)| store::clocks::ClockWrite {
            clock,
            status,
            next_at: crate::domain::clock::next_at(status, now, hold, |_| false),
        })
        .collect()
}

/// Every threshold a past ticket's clocks crossed, as announced without a message.
fn crossed(ticket_id: Uuid, clocks: &super::tickets::Computed) -> Vec<store::clocks::NewAlert<'_>> {
    clocks
        .iter()
        .flat_map(|(clock, status)| {
            status.crossed.iter().map(move |x| store::clocks::NewAlert {
                ticket_id,
                metric: clock.metric.as_str(),
                percent: x.percent,
                at: x.at,
                notified: false,
            })
        })
        .collect()
}

/// One past ticket as it will be stored: the row, its trail and its clocks.
fn past_ticket(
    state: &AppState,
    caller: &Caller,
    past: PastTicket,
    now: Timestamp,
) -> Result<(Ticket, Vec<NewEvent>, super::tickets::Computed)> {
    let item = state.item(past.line_item_id).ok_or(Error::NotFound("line item"))?;
    let mut trail = check_steps(caller, past.steps, past.reported_at, now)?;
    if let Some(at) = past.closed_at {
        if trail.last().is_none_or(|e| e.action != Action::Resolve || at < e.at) {
            return Err(Invalid::field(
                "closed_at",
                "关闭时间须在恢复之后",
                "closed_at needs resolved_at before it",
            )
            .into());
        }
        trail.push(TrailEntry { action: Action::Close, at });
    }
    let mut ticket = Ticket {
        id: Uuid::now_v7(),
        number: String::new(),
        line_item_id: past.line_item_id,
        agency: item.agency.clone(),
        title: past.title,
        description: String::new(),
        severity: past.severity,
        state: TicketState::Open,
        paused_from: None,
        tags: Vec::new(),
        assignee_id: past.assignee_id,
        created_by: caller.id,
        reported_at: past.reported_at,
        created_at: past.reported_at,
        updated_at: trail.last().map_or(past.reported_at, |e| e.at),
        version: 1,
    };
    let clocks = computed(&compute_clocks(state, &ticket, &trail, now)?);
    let data =
        json!({ "title": ticket.title, "severity": ticket.severity.as_str(), "line_item_seq": item.seq });
    let events = trail_events(&ticket, caller, &trail, &data, now)?;
    ticket.state = events.last().map_or(TicketState::Open, |e| e.to_state);
    Ok((ticket, events, clocks))
}
