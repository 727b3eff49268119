//! Filing, reading, listing and working tickets, with their clocks kept in step.

use chrono::Datelike;
use sea_orm::TransactionTrait;
use serde_json::json;
use sla_engine::{ClockStatus, Severity, TicketFacts, Timestamp};
use uuid::Uuid;

use super::{Error, Result};
use crate::domain::access::{Caller, Role};
use crate::domain::clock::{self, StoredClock};
use crate::domain::message::Invalid;
use crate::domain::text::{self, TEXT_MAX, TITLE_MAX};
use crate::domain::ticket::{self, Action, Event, EventKind, Ticket, TicketClock, TicketState, TrailEntry};
use crate::state::AppState;
use crate::store;
use crate::store::clocks::ClockWrite;
use crate::store::filing::{self, Filing};
use crate::store::trail::NewEvent;

/// A request to file a ticket.
#[derive(Clone, Debug)]
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
}

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

/// Filters for listing tickets (the caller's scope is added by [`list`]).
pub type TicketFilter = store::tickets::Filter;

/// The year a ticket number carries: the year of filing in the contract's timezone.
fn number_year(state: &AppState, now: Timestamp) -> i32 {
    now.to_datetime().with_timezone(&state.catalog.settings.timezone).year()
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
pub fn rechoose(state: &AppState, t: &Ticket, clock: &StoredClock) -> Result<Option<StoredClock>> {
    let facts = TicketFacts { severity: t.severity, opened_at: t.reported_at, tags: &t.tags };
    with_rules(state, t.line_item_id, |rules| {
        ticket::rechoose(rules, &facts, clock, &*state.calendars()).map_err(Error::internal)
    })
}

/// The ticket's clocks from its trail under its item's current policy, at `now`.
fn compute_clocks(
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
type Computed = Vec<(StoredClock, ClockStatus)>;

fn computed(clocks: &[TicketClock]) -> Computed {
    clocks.iter().map(|c| (c.stored(), c.status.clone())).collect()
}

/// The rows to write for clocks just computed at `now`. A threshold crossed
/// may not have been announced yet: such a clock is due at once, and the
/// worker decides.
fn writes(clocks: &Computed, now: Timestamp) -> Vec<ClockWrite<'_>> {
    clocks
        .iter()
        .map(|(clock, status)| ClockWrite { clock, status, next_at: clock::next_at(status, now, |_| true) })
        .collect()
}

fn reads(state: &AppState, item_id: Uuid, clocks: &Computed) -> Vec<ClockRead> {
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

/// File a ticket for `caller`.
pub async fn file(
    state: &AppState,
    caller: &Caller,
    new: NewTicket,
    idempotency: Option<Idempotency>,
) -> Result<Filed> {
    let now = state.clock.now();
    let (agency, item_seq, reported_at) = check_new(state, caller, &new, now)?;
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
        assignee_id: None,
        created_by: caller.id,
        reported_at,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let trail = [TrailEntry { action: Action::File, at: reported_at }];
    let clocks = computed(&compute_clocks(state, &ticket, &trail, now)?);
    let mut data =
        json!({ "title": ticket.title, "severity": ticket.severity.as_str(), "line_item_seq": item_seq });
    if new.reported_at.is_some() {
        data["reported_at"] = json!(reported_at.to_string());
        data["backdated_by_seconds"] = json!(now.unix() - reported_at.unix());
    }
    for attempt in 0..3 {
        if let Some(key) = &idempotency
            && let Some(replayed) = replay(state, caller, key).await?
        {
            return Ok(Filed::Replayed(replayed));
        }
        ticket.id = Uuid::now_v7();
        let event = NewEvent {
            ticket_id: ticket.id,
            seq: 1,
            kind: EventKind::Action(Action::File),
            actor_id: Some(caller.id),
            at: reported_at,
            recorded_at: now,
            from_state: None,
            to_state: TicketState::Open,
            data: data.clone(),
        };
        let filing = Filing {
            year: number_year(state, now),
            ticket: &ticket,
            event: &event,
            clocks: &writes(&clocks, now),
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
                && let Some(again) = rechoose(state, t, &c)?
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
async fn read_unscoped(state: &AppState, id: Uuid) -> Result<TicketRead> {
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

/// The trail of a ticket the caller may see.
pub async fn events(state: &AppState, caller: &Caller, id: Uuid) -> Result<Vec<Event>> {
    let visible = store::tickets::find(&state.db, id).await?.is_some_and(|t| caller.sees(&t.agency));
    if !visible {
        return Err(Error::NotFound("ticket"));
    }
    Ok(store::trail::of_ticket(&state.db, id).await?)
}

/// A page of tickets in the caller's scope, newest first, and where the next page starts.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    mut filter: TicketFilter,
) -> Result<(Vec<TicketRead>, Option<(i64, Uuid)>)> {
    let now = state.clock.now();
    filter.scope = caller.scope().map(str::to_owned);
    let (tickets, next) = store::tickets::list(&state.db, &filter, now).await?;
    let ids: Vec<Uuid> = tickets.iter().map(|t| t.id).collect();
    let mut clocks = store::tickets::clocks_of(&state.db, &ids).await?;
    let out = tickets
        .into_iter()
        .map(|ticket| {
            let clocks =
                evaluate_clocks(state, &ticket, &clocks.remove(&ticket.id).unwrap_or_default(), now)?;
            Ok(TicketRead { item_seq: item_seq(state, &ticket), ticket, clocks })
        })
        .collect::<Result<_>>()?;
    Ok((out, next))
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
    let at = when(caller, input.at, now, trail.last().map_or(before.reported_at, |e| e.at))?;
    if action == Action::Contain && !has_containment(state, &before) {
        return Err(Invalid::request(
            "该运维项目没有遏制时限",
            "this ticket's line item has no containment target",
        )
        .into());
    }
    let outcome = apply(&txn, &before, action, input, now).await?;
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
    if let Err(e) = store::trail::append(&txn, &event).await {
        txn.rollback().await?;
        // The worker appended to the trail meanwhile: read again and retry.
        return Err(if store::is_unique_violation(&e) { Attempt::Again } else { e.into() });
    }
    store::clocks::replace(&txn, id, &writes(&clocks, now), now).await?;
    txn.commit().await?;
    state.wake.notify_one();
    Ok(())
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
/// not be in the future nor before the ticket's last event.
fn when(caller: &Caller, at: Option<Timestamp>, now: Timestamp, last: Timestamp) -> Result<Timestamp> {
    match at {
        None => Ok(now),
        Some(_) if !matches!(caller.role, Role::Engineer | Role::Admin) => {
            Err(Error::forbidden("only engineers may say when an action happened"))
        }
        Some(at) if at > now => Err(Invalid::field("at", "时间不能晚于现在", "at is in the future").into()),
        Some(at) if at < last => Err(Invalid::field(
            "at",
            format!("时间早于工单的上一条记录（{last}）"),
            format!("at is before the ticket's previous event ({last})"),
        )
        .into()),
        Some(at) => Ok(at),
    }
}

/// What `action` with `input` makes of the ticket.
async fn apply(
    txn: &sea_orm::DatabaseTransaction,
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
