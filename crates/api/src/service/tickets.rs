//! Filing, reading, listing and working tickets, with their clocks kept in step.

use sea_orm::TransactionTrait;
use serde_json::json;
use sla_engine::{CalendarSet, ClockStatus, Severity, TicketFacts, Timestamp};
use uuid::Uuid;

use super::{Error, Result};
use crate::domain::access::{Caller, Role};
use crate::domain::clock::{self, StoredClock};
use crate::domain::message::Invalid;
use crate::domain::text::{self, TEXT_MAX};
use crate::domain::ticket::{self, Action, Event, EventKind, Ticket, TicketClock, TicketState, TrailEntry};
use crate::state::AppState;
use crate::store;
use crate::store::clocks::ClockWrite;
use crate::store::trail::NewEvent;

/// The details an action may carry.
#[derive(Clone, Debug, Default)]
pub struct ActionInput {
    /// When it really happened (engineers only).
    pub at: Option<Timestamp>,
    /// A comment's text, or a note on any action.
    pub body: Option<String>,
    /// For `assign`.
    pub assignee_id: Option<Uuid>,
    /// For `severity`.
    pub severity: Option<Severity>,
    /// For `resolve` and `severity`: tags to add (e.g. `complex_fault`).
    pub tags: Option<Vec<String>>,
}

/// A ticket with its clocks as of the read.
#[derive(Clone, Debug)]
pub struct TicketRead {
    /// The ticket.
    pub ticket: Ticket,
    /// Each clock's rule parts and standing.
    pub clocks: Vec<ClockRead>,
    /// The line item's sequence number.
    pub item_seq: u32,
}

/// One clock as read.
#[derive(Clone, Debug)]
pub struct ClockRead {
    /// The metric.
    pub metric: String,
    /// The calendar it counts in.
    pub calendar: String,
    /// Its standing now (`beyond_holiday_data` also covers the choice of its rule).
    pub status: ClockStatus,
    /// The rule that set its target, when it is known.
    pub rule: Option<RuleSource>,
}

/// Where a clock's target comes from: the item's own requirements, or a
/// clause of the contract that holds for every item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RuleSource {
    /// `item` or `contract`.
    pub scope: &'static str,
    /// The general rule's key (contract rules).
    pub key: Option<String>,
    /// The contract's or the annex's own words.
    pub source: String,
}

/// The rule a stored reference (`item:{position}`, `contract:{key}`) names, with its words.
fn rule_source(state: &AppState, item_id: Uuid, reference: Option<&str>) -> Option<RuleSource> {
    let (scope, name) = reference?.split_once(':')?;
    match scope {
        "item" => {
            let target = state.item(item_id)?.targets.get(name.parse::<usize>().ok()?)?;
            Some(RuleSource { scope: "item", key: None, source: target.source.clone() })
        }
        "contract" => {
            let rule = state.catalog.rules.iter().find(|r| r.key == name)?;
            Some(RuleSource {
                scope: "contract",
                key: Some(rule.key.clone()),
                source: rule.target.source.clone(),
            })
        }
        _ => None,
    }
}

/// What the list of tickets is narrowed to, as a client asks for it: agencies
/// by key or by name, `me`, dates or instants. An empty list narrows nothing.
#[derive(Clone, Debug, Default)]
pub struct ListQuery {
    /// Any of these agencies, each by key or exact name.
    pub agencies: Vec<String>,
    /// Any of these line items.
    pub line_items: Vec<Uuid>,
    /// Any of these states.
    pub states: Vec<TicketState>,
    /// Any of these severities.
    pub severities: Vec<Severity>,
    /// Whose tickets.
    pub assignee: Option<AssigneeQuery>,
    /// Only tickets with (or without) a breached clock.
    pub breached: Option<bool>,
    /// Filed at or after.
    pub created_from: Option<Moment>,
    /// Filed before (a date: through that day).
    pub created_to: Option<Moment>,
    /// Text in the number, title or description.
    pub text: Option<String>,
    /// Continue after this position.
    pub cursor: Option<(i64, Uuid)>,
    /// Page size.
    pub limit: u64,
}

/// Whose tickets a list asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssigneeQuery {
    /// The caller's own.
    Me,
    /// Nobody's yet.
    Nobody,
    /// This engineer's.
    Engineer(Uuid),
}

/// A point in time as a filter gives it: an instant, or a date in the contract's timezone.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moment {
    /// An instant (RFC 3339, any offset).
    Instant(Timestamp),
    /// A local date.
    Date(chrono::NaiveDate),
}

impl Moment {
    /// The instant it names; a date's start, or with `through` its end.
    fn at(self, tz: sla_engine::Tz, through: bool) -> Timestamp {
        match self {
            Moment::Instant(t) => t,
            Moment::Date(d) => {
                let day = if through { d.succ_opt().unwrap_or(d) } else { d };
                let midnight = day.and_hms_opt(0, 0, 0).unwrap_or_default();
                chrono::TimeZone::from_local_datetime(&tz, &midnight)
                    .earliest()
                    .map_or(Timestamp::from_unix(0), |t| Timestamp::from(t.to_utc()))
            }
        }
    }
}

/// The store's filter for a query of `caller`: agencies resolved to keys
/// (422 for one that does not exist), `me` to the caller.
fn filter_of(state: &AppState, caller: &Caller, q: ListQuery) -> Result<store::tickets::Filter> {
    let agencies = q.agencies.iter().map(|a| state.agency_key(a)).collect::<std::result::Result<_, _>>()?;
    let tz = state.timezone();
    let assignee = q.assignee.map(|a| match a {
        AssigneeQuery::Me => store::tickets::Assignee::To(caller.id),
        AssigneeQuery::Nobody => store::tickets::Assignee::Nobody,
        AssigneeQuery::Engineer(id) => store::tickets::Assignee::To(id),
    });
    Ok(store::tickets::Filter {
        scope: caller.scope().map(str::to_owned),
        agencies,
        line_items: q.line_items,
        states: q.states,
        severities: q.severities,
        assignee,
        breached: q.breached,
        created_from: q.created_from.map(|m| m.at(tz, false)),
        created_to: q.created_to.map(|m| m.at(tz, true)),
        text: q.text,
        cursor: q.cursor,
        limit: q.limit,
    })
}

/// The ticket a path names: its id, or its number (`INC-2026-000123`).
pub async fn resolve(state: &AppState, reference: &str) -> Result<Uuid> {
    if let Ok(id) = reference.parse::<Uuid>() {
        return Ok(id);
    }
    let looks_like_a_number = reference.len() <= 32
        && reference.starts_with("INC-")
        && reference.bytes().skip(4).all(|b| b.is_ascii_digit() || b == b'-');
    if !looks_like_a_number {
        return Err(Error::NotFound("ticket"));
    }
    store::tickets::id_of_number(&state.db, reference).await?.ok_or(Error::NotFound("ticket"))
}

/// The rules a ticket of `item_id` is clocked by: its item's and the contract's.
fn with_rules<T>(
    state: &AppState,
    item_id: Uuid,
    f: impl FnOnce(ticket::Rules<'_>) -> Result<T>,
) -> Result<T> {
    let item = state
        .item(item_id)
        .ok_or_else(|| Error::internal(format!("line item {item_id} is not in the catalog")))?;
    let policy = item.policy();
    let general = state.catalog.general_rules();
    let keys: Vec<&str> = state.catalog.rules.iter().map(|r| r.key.as_str()).collect();
    f(ticket::Rules { policy: &policy, general: &general, general_keys: &keys })
}

/// A stored clock of `t` with its rule chosen again over the calendars as
/// they stand now (the holidays changed); `None` when no rule applies any more.
pub fn rechoose(
    state: &AppState,
    calendars: &CalendarSet,
    t: &Ticket,
    clock: &StoredClock,
) -> Result<Option<StoredClock>> {
    let facts = TicketFacts { severity: t.severity, opened_at: t.reported_at, tags: &t.tags };
    with_rules(state, t.line_item_id, |rules| {
        ticket::rechoose(rules, &facts, clock, calendars).map_err(Error::internal)
    })
}

/// The ticket's clocks from its trail under its item's current policy, at `now`.
pub(super) fn compute_clocks(
    state: &AppState,
    t: &Ticket,
    trail: &[TrailEntry],
    now: Timestamp,
) -> Result<Vec<TicketClock>> {
    let opened_at = trail.first().map_or(now, |e| e.at);
    let facts = TicketFacts { severity: t.severity, opened_at, tags: &t.tags };
    with_rules(state, t.line_item_id, |rules| {
        ticket::ticket_clocks(
            rules,
            &facts,
            trail,
            &state.catalog.settings.paused_while_waiting,
            &*state.calendars(),
            &state.thresholds(t.line_item_id, t.severity),
            now,
        )
        .map_err(Error::internal)
    })
}

/// Clocks as stored, each with its standing: what a write needs to own.
pub(super) type Computed = Vec<(StoredClock, ClockStatus)>;

pub(super) fn computed(clocks: &[TicketClock]) -> Computed {
    clocks.iter().map(|c| (c.stored(), c.status.clone())).collect()
}

/// The rows to write for clocks just computed at `now`. A threshold crossed
/// may not have been announced yet: such a clock is due at once (or when its
/// hold ends), and the worker decides.
pub(super) fn writes(clocks: &Computed, now: Timestamp, hold: clock::Hold) -> Vec<ClockWrite<'_>> {
    clocks
        .iter()
        .map(|(clock, status)| ClockWrite {
            clock,
            status,
            next_at: clock::next_at(status, now, hold, |_| true),
        })
        .collect()
}

pub(super) fn reads(state: &AppState, item_id: Uuid, clocks: &Computed) -> Vec<ClockRead> {
    clocks.iter().map(|(c, status)| read_of(state, item_id, c, status.clone())).collect()
}

fn read_of(state: &AppState, item_id: Uuid, c: &StoredClock, mut status: ClockStatus) -> ClockRead {
    status.beyond_holiday_data |= c.choice_beyond_holiday_data;
    ClockRead {
        metric: c.metric.as_str().to_owned(),
        calendar: c.calendar.clone(),
        status,
        rule: rule_source(state, item_id, c.rule_ref.as_deref()),
    }
}

/// A ticket's stored clocks evaluated at `now`, in the contract's order of metrics.
fn evaluate_clocks(
    state: &AppState,
    t: &Ticket,
    stored: &[StoredClock],
    now: Timestamp,
) -> Result<Vec<ClockRead>> {
    let calendars = state.calendars();
    let mut out = stored
        .iter()
        .map(|c| {
            let status = c.evaluate(&*calendars, &[], now).map_err(Error::internal)?;
            // A choice that read dates without holiday data may read them
            // now that a year was added: ask again (rare, and cheap).
            let mut c = std::borrow::Cow::Borrowed(c);
            if c.choice_beyond_holiday_data
                && let Some(again) = rechoose(state, &calendars, t, &c)?
            {
                c.to_mut().choice_beyond_holiday_data = again.choice_beyond_holiday_data;
            }
            Ok(read_of(state, t.line_item_id, &c, status))
        })
        .collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| clock::metric_rank(&a.metric).cmp(&clock::metric_rank(&b.metric)));
    Ok(out)
}

fn item_seq(state: &AppState, t: &Ticket) -> u32 {
    state.item(t.line_item_id).map_or(0, |i| i.seq)
}

/// A ticket and its clocks, in one query (a read follows every filing).
pub(super) async fn read_unscoped(state: &AppState, id: Uuid) -> Result<TicketRead> {
    let (ticket, stored) =
        store::tickets::find_with_clocks(&state.db, id).await?.ok_or(Error::NotFound("ticket"))?;
    let clocks = evaluate_clocks(state, &ticket, &stored, state.clock.now())?;
    Ok(TicketRead { item_seq: item_seq(state, &ticket), ticket, clocks })
}

/// A ticket the caller may see; 404 otherwise.
pub async fn read(state: &AppState, caller: &Caller, id: Uuid) -> Result<TicketRead> {
    let t = read_unscoped(state, id).await?;
    if caller.sees(&t.ticket.agency) { Ok(t) } else { Err(Error::NotFound("ticket")) }
}

/// Who did something on a trail, as people know them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    /// Their id.
    pub id: Uuid,
    /// Their display name, or their username.
    pub name: String,
    /// Their role.
    pub role: Role,
}

/// One row of a trail with who did it (none for the service itself).
#[derive(Clone, Debug)]
pub struct EventRead {
    /// The row.
    pub event: Event,
    /// Who did it.
    pub actor: Option<Actor>,
    /// A threshold that did not happen after all (a later row withdrew it).
    pub withdrawn: bool,
}

/// The trail of a ticket the caller may see, in the order things happened
/// (the time each was recorded beside it), with who did what.
pub async fn events(state: &AppState, caller: &Caller, id: Uuid) -> Result<Vec<EventRead>> {
    let visible = store::tickets::find(&state.db, id).await?.is_some_and(|t| caller.sees(&t.agency));
    if !visible {
        return Err(Error::NotFound("ticket"));
    }
    let mut trail = store::trail::of_ticket(&state.db, id).await?;
    trail.sort_by_key(|e| (e.at, e.seq));
    let mut ids: Vec<Uuid> = trail.iter().filter_map(|e| e.actor_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let people = store::users::by_ids(&state.db, &ids).await?;
    let withdrawn: Vec<i64> = trail
        .iter()
        .filter(|e| e.kind == EventKind::Withdrawn)
        .filter_map(|e| e.data["withdraws_seq"].as_i64())
        .collect();
    Ok(trail
        .into_iter()
        .map(|event| {
            let actor = event.actor_id.and_then(|id| people.iter().find(|u| u.id == id)).map(|u| Actor {
                id: u.id,
                name: u.display_name.clone().unwrap_or_else(|| u.username.clone()),
                role: u.role,
            });
            let withdrawn = withdrawn.contains(&i64::from(event.seq));
            EventRead { event, actor, withdrawn }
        })
        .collect())
}

/// A page of tickets in the caller's scope, newest first, and where the next page starts.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: ListQuery,
) -> Result<(Vec<TicketRead>, Option<(i64, Uuid)>)> {
    let now = state.clock.now();
    let filter = filter_of(state, caller, query)?;
    let (tickets, next) = store::tickets::list(&state.db, &filter, now).await?;
    Ok((ticket_reads(state, tickets, now).await?, next))
}

/// The states a ticket waits in for an engineer.
pub const ACTIVE: [TicketState; 4] =
    [TicketState::Open, TicketState::Acknowledged, TicketState::InProgress, TicketState::Paused];

/// Active tickets in the caller's scope (narrowed by `query`; its states
/// default to [`ACTIVE`]), the nearest deadline first: the queue.
pub async fn queue(state: &AppState, caller: &Caller, mut query: ListQuery) -> Result<Vec<TicketRead>> {
    let now = state.clock.now();
    if query.states.is_empty() {
        query.states = ACTIVE.to_vec();
    }
    let filter = filter_of(state, caller, query)?;
    let tickets = store::tickets::queue(&state.db, &filter, now).await?;
    ticket_reads(state, tickets, now).await
}

/// Tickets with their clocks evaluated at `now`.
async fn ticket_reads(state: &AppState, tickets: Vec<Ticket>, now: Timestamp) -> Result<Vec<TicketRead>> {
    let ids: Vec<Uuid> = tickets.iter().map(|t| t.id).collect();
    let mut clocks = store::tickets::clocks_of(&state.db, &ids).await?;
    tickets
        .into_iter()
        .map(|ticket| {
            let clocks =
                evaluate_clocks(state, &ticket, &clocks.remove(&ticket.id).unwrap_or_default(), now)?;
            Ok(TicketRead { item_seq: item_seq(state, &ticket), ticket, clocks })
        })
        .collect()
}

/// The checks of an action's input that need no ticket: a malformed request
/// is refused as such before any precondition is looked at.
pub fn check_input(action: Action, input: &ActionInput) -> Result<()> {
    if let Some(body) = &input.body {
        text::check(if action == Action::Comment { "body" } else { "note" }, body, 1, TEXT_MAX)?;
    }
    if let Some(tags) = &input.tags {
        text::check_tags(tags)?;
    }
    Ok(())
}

/// Take `action` on a ticket. `if_match` is the version the client last saw.
pub async fn act(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    action: Action,
    input: ActionInput,
    if_match: Option<i32>,
) -> Result<TicketRead> {
    check_input(action, &input)?;
    for _ in 0..5 {
        match try_act(state, caller, id, action, &input, if_match).await {
            Err(Attempt::Again) => continue,
            Err(Attempt::Fail(e)) => return Err(e),
            Ok(()) => return read(state, caller, id).await,
        }
    }
    Err(Error::Busy("the ticket is busy; try again".into()))
}

/// An action's attempt that lost a race is tried again with a fresh read.
enum Attempt {
    Again,
    Fail(Error),
}

impl<E: Into<Error>> From<E> for Attempt {
    fn from(e: E) -> Self {
        Attempt::Fail(e.into())
    }
}

/// The ticket as it will be after `action`: its new state, and what the
/// action changes (assignee, severity, tags), with the details for the trail.
struct Outcome {
    ticket: Ticket,
    data: serde_json::Map<String, serde_json::Value>,
}

async fn try_act(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    action: Action,
    input: &ActionInput,
    if_match: Option<i32>,
) -> std::result::Result<(), Attempt> {
    let now = state.clock.now();
    let txn = state.db.begin().await?;
    let before = load_for(&txn, caller, id, action, if_match).await?;
    let trail = store::trail::of_ticket(&txn, id).await?;
    // Only what people did bounds when they say they did the next thing:
    // a threshold the service wrote never stops them recording an earlier real time.
    let last_action = trail.iter().rev().find(|e| e.kind.action().is_some());
    let last = last_action.map_or(before.reported_at, |e| e.at);
    let at = when(caller, input.at, now, last, state.item_timezone(before.line_item_id))?;
    if action == Action::Reopen && before.state == TicketState::Closed {
        let closing = trail.iter().rev().find(|e| e.kind == EventKind::Action(Action::Close));
        check_reopen(state, caller, closing, now)?;
    }
    if action == Action::Contain && !has_containment(state, &before) {
        return Err(Invalid::request(
            "该运维项目没有遏制时限",
            "this ticket's line item has no containment target",
        )
        .into());
    }
    let outcome = apply(&txn, caller, &before, action, input, now).await?;
    let mut entries: Vec<TrailEntry> = trail.iter().filter_map(Event::trail_entry).collect();
    entries.push(TrailEntry { action, at });
    let clocks = computed(&compute_clocks(state, &outcome.ticket, &entries, now)?);
    if !store::tickets::update(&txn, &outcome.ticket, before.version).await? {
        txn.rollback().await?;
        // Someone else changed it between our read and our write.
        return Err(match if_match {
            Some(_) => Error::Stale("the ticket changed since you read it".into()).into(),
            None => Attempt::Again,
        });
    }
    let event = NewEvent {
        ticket_id: id,
        seq: trail.last().map_or(1, |e| e.seq) + 1,
        kind: EventKind::Action(action),
        actor_id: Some(caller.id),
        at,
        recorded_at: now,
        from_state: Some(before.state),
        to_state: outcome.ticket.state,
        data: serde_json::Value::Object(outcome.data),
    };
    // The worker may have appended to the trail meanwhile, or hold these
    // clocks while it waits for the trail position just taken (PostgreSQL
    // then fails one of the two): read again and retry.
    if let Err(e) = store::trail::append(&txn, &event).await {
        return Err(undo(txn, e).await);
    }
    if let Err(e) = store::clocks::replace(&txn, id, &writes(&clocks, now, state.hold(&before)), now).await {
        return Err(undo(txn, e).await);
    }
    let views: Vec<_> = clocks.iter().map(|(c, s)| (c, s)).collect();
    super::withdrawals::withdraw_undone(state, &txn, &outcome.ticket, &views, now).await?;
    txn.commit().await?;
    state.wake.notify_one();
    // A correction may have been queued.
    state.mail_wake.notify_one();
    Ok(())
}

/// Roll back after a failed write: a lost race is tried again, anything else fails.
async fn undo(txn: sea_orm::DatabaseTransaction, e: sea_orm::DbErr) -> Attempt {
    match txn.rollback().await {
        Err(rollback) => rollback.into(),
        Ok(()) if store::is_lost_race(&e) => Attempt::Again,
        Ok(()) => e.into(),
    }
}

/// Does the ticket's item set a containment target (遏制)?
fn has_containment(state: &AppState, t: &Ticket) -> bool {
    state
        .item(t.line_item_id)
        .is_some_and(|i| i.targets.iter().any(|x| x.rule.metric.as_str() == ticket::CONTAINMENT))
}

/// The ticket, locked, if the caller may see it and take `action`, at the version they read.
async fn load_for(
    txn: &sea_orm::DatabaseTransaction,
    caller: &Caller,
    id: Uuid,
    action: Action,
    if_match: Option<i32>,
) -> Result<Ticket> {
    let t = store::tickets::lock(txn, id)
        .await?
        .filter(|t| caller.sees(&t.agency))
        .ok_or(Error::NotFound("ticket"))?;
    if !caller.may(action) {
        return Err(Error::forbidden(format!(
            "{} may not {} tickets",
            caller.role.with_article(),
            action.as_str()
        )));
    }
    if let Some(v) = if_match.filter(|&v| v != t.version) {
        return Err(Error::Stale(format!("the ticket is at version {}, not {v}; read it again", t.version)));
    }
    ticket::next_state(t.state, t.paused_from, action)?;
    Ok(t)
}

/// When the action happened: now, or the time an engineer gives, which may
/// not be in the future nor before the ticket's last action.
fn when(
    caller: &Caller,
    at: Option<Timestamp>,
    now: Timestamp,
    last: Timestamp,
    tz: sla_engine::Tz,
) -> Result<Timestamp> {
    match at {
        None => Ok(now),
        Some(_) if !matches!(caller.role, Role::Engineer | Role::Admin) => {
            Err(Error::forbidden("only engineers may say when an action happened"))
        }
        Some(at) if at > now => Err(Invalid::field("at", "时间不能晚于现在", "at is in the future").into()),
        Some(at) if at < last => {
            let last = last.to_datetime().with_timezone(&tz).to_rfc3339();
            Err(Invalid::field(
                "at",
                format!("时间早于工单上一步操作的时间（{last}）"),
                format!("at is before the ticket's previous action ({last})"),
            )
            .into())
        }
        Some(at) => Ok(at),
    }
}

/// A closed ticket is reopened only by its agency (or an admin), and only
/// within `reopen_closed_days` of being closed.
fn check_reopen(state: &AppState, caller: &Caller, closing: Option<&Event>, now: Timestamp) -> Result<()> {
    if !matches!(caller.role, Role::AgencyUser | Role::Admin) {
        return Err(Error::forbidden("only the ticket's agency may reopen a closed ticket"));
    }
    let days = state.settings.reopen_closed_days;
    let closed_at = closing.map_or(now, |e| e.at);
    if ticket::reopen_period_over(closed_at, now, days) {
        let tz = state.timezone();
        let on = closed_at.to_datetime().with_timezone(&tz).format("%Y-%m-%d %H:%M");
        return Err(Error::TooLate {
            zh: format!("工单已于 {on} 关闭，超过 {days} 天，不能再重新打开；请新建工单"),
            en: format!("the ticket was closed on {on}, more than {days} days ago; file a new one"),
        });
    }
    Ok(())
}

/// What `action` with `input` makes of the ticket.
async fn apply(
    txn: &sea_orm::DatabaseTransaction,
    caller: &Caller,
    before: &Ticket,
    action: Action,
    input: &ActionInput,
    now: Timestamp,
) -> Result<Outcome> {
    let mut t = before.clone();
    let mut data = serde_json::Map::new();
    if let Some(body) = &input.body {
        data.insert(if action == Action::Comment { "body".into() } else { "note".into() }, json!(body));
    }
    match action {
        Action::Comment if input.body.is_none() => {
            return Err(Invalid::field("body", "评论内容不能为空", "a comment needs a body").into());
        }
        Action::Assign => {
            let who = input
                .assignee_id
                .ok_or_else(|| Invalid::field("assignee_id", "请指定工程师", "assign needs assignee_id"))?;
            let engineer = store::users::get(txn, who).await?.is_some_and(|u| u.role == Role::Engineer);
            if !engineer {
                return Err(Invalid::field(
                    "assignee_id",
                    "指派对象必须是工程师",
                    "assignee_id must be an engineer's id",
                )
                .into());
            }
            data.insert("assignee_id".into(), json!(who));
            data.insert("previous_assignee_id".into(), json!(t.assignee_id));
            t.assignee_id = Some(who);
        }
        // The engineer who answers an unassigned ticket takes it, and hears of its alerts.
        Action::Acknowledge if t.assignee_id.is_none() && caller.role == Role::Engineer => {
            data.insert("assignee_id".into(), json!(caller.id));
            t.assignee_id = Some(caller.id);
        }
        Action::Severity => {
            let new = input.severity.ok_or_else(|| {
                Invalid::field("severity", "请给出新的严重程度", "severity needs a severity")
            })?;
            data.insert("from".into(), json!(t.severity.as_str()));
            data.insert("to".into(), json!(new.as_str()));
            t.severity = new;
        }
        _ => {}
    }
    if let Some(add) = &input.tags {
        for tag in add {
            if !t.tags.contains(tag) {
                t.tags.push(tag.clone());
            }
        }
        data.insert("tags".into(), json!(t.tags));
    }
    t.state = ticket::next_state(before.state, before.paused_from, action)?;
    t.paused_from = match (action, t.state) {
        (Action::Pause, _) => Some(before.state),
        (_, TicketState::Paused) => before.paused_from,
        _ => None,
    };
    t.updated_at = now;
    t.version = before.version + 1;
    Ok(Outcome { ticket: t, data })
}
