//! Ticket states (工单状态), actions, and the clocks they drive.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sla_engine::{
    Calendars, Clock, ClockError, ClockEvent, ClockEventKind, ClockStatus, Metric, Policy, PolicyError,
    RuleIndex, Severity, TargetRule, TicketFacts, Timestamp,
};
use utoipa::ToSchema;
use uuid::Uuid;

/// Where a ticket stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TicketState {
    /// Filed, nobody has answered yet.
    Open,
    /// An engineer has answered (响应).
    Acknowledged,
    /// An engineer is on site (到场) or working it after a reopen.
    InProgress,
    /// Waiting on the agency.
    Paused,
    /// Service restored (故障恢复).
    Resolved,
    /// Done.
    Closed,
}

impl TicketState {
    /// Every state, for metrics and validation messages.
    pub const ALL: [TicketState; 6] = [
        TicketState::Open,
        TicketState::Acknowledged,
        TicketState::InProgress,
        TicketState::Paused,
        TicketState::Resolved,
        TicketState::Closed,
    ];

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            TicketState::Open => "open",
            TicketState::Acknowledged => "acknowledged",
            TicketState::InProgress => "in_progress",
            TicketState::Paused => "paused",
            TicketState::Resolved => "resolved",
            TicketState::Closed => "closed",
        }
    }
}

impl fmt::Display for TicketState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TicketState {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL.into_iter().find(|x| x.as_str() == s).ok_or_else(|| format!("unknown ticket state \"{s}\""))
    }
}

/// Something done to a ticket; each becomes one row of its trail.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// The ticket was filed.
    File,
    /// An engineer answered: meets the response target.
    Acknowledge,
    /// An engineer was assigned.
    Assign,
    /// An engineer checked in on site: meets the on-site target.
    Arrive,
    /// The fault's effects are contained (遏制): meets the containment target.
    Contain,
    /// Waiting on the agency: pauses the clocks the policy pauses.
    Pause,
    /// The agency answered.
    Resume,
    /// Service restored: meets the recovery target.
    Resolve,
    /// The fault came back: recovery resumes where it stopped.
    Reopen,
    /// Done.
    Close,
    /// A note on the trail.
    Comment,
    /// The severity changed: targets are selected again, starts kept.
    Severity,
}

impl Action {
    /// Every action that `POST /v1/tickets/{id}/{action}` accepts.
    pub const ROUTABLE: [Action; 11] = [
        Action::Acknowledge,
        Action::Assign,
        Action::Arrive,
        Action::Contain,
        Action::Pause,
        Action::Resume,
        Action::Resolve,
        Action::Reopen,
        Action::Close,
        Action::Comment,
        Action::Severity,
    ];

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Action::File => "file",
            Action::Acknowledge => "acknowledge",
            Action::Assign => "assign",
            Action::Arrive => "arrive",
            Action::Contain => "contain",
            Action::Pause => "pause",
            Action::Resume => "resume",
            Action::Resolve => "resolve",
            Action::Reopen => "reopen",
            Action::Close => "close",
            Action::Comment => "comment",
            Action::Severity => "severity",
        }
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ROUTABLE
            .into_iter()
            .chain([Action::File])
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown action \"{s}\""))
    }
}

/// What a row of the trail records: an action someone took, or a threshold the worker saw crossed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A person's action (or the filing).
    Action(Action),
    /// A clock reached a threshold.
    Alert(AlertLevel),
    /// A clock's deadline moved because its window's holidays changed.
    DeadlineMoved,
    /// A threshold on the trail did not happen after all: an action recorded
    /// later, with an earlier real time, stopped the clock before it (撤销).
    Withdrawn,
}

impl EventKind {
    /// The name stored and shown (`acknowledge`, `breached`, …).
    pub const fn as_str(self) -> &'static str {
        match self {
            EventKind::Action(a) => a.as_str(),
            EventKind::Alert(l) => l.event_name(),
            EventKind::DeadlineMoved => "deadline_moved",
            EventKind::Withdrawn => "alert_withdrawn",
        }
    }

    /// The action, when a person took one.
    pub const fn action(self) -> Option<Action> {
        match self {
            EventKind::Action(a) => Some(a),
            EventKind::Alert(_) | EventKind::DeadlineMoved | EventKind::Withdrawn => None,
        }
    }
}

impl FromStr for EventKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "deadline_moved" => return Ok(EventKind::DeadlineMoved),
            "alert_withdrawn" => return Ok(EventKind::Withdrawn),
            _ => {}
        }
        AlertLevel::ALL
            .into_iter()
            .find(|l| l.event_name() == s)
            .map(EventKind::Alert)
            .map_or_else(|| s.parse().map(EventKind::Action), Ok)
    }
}

/// How far past its target a clock is when an alert is raised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AlertLevel {
    /// A warning threshold below 100 % (预警).
    Warning,
    /// The target itself (已超时).
    Breach,
    /// A level past the breach (升级).
    Escalation,
}

impl AlertLevel {
    /// Every level.
    pub const ALL: [AlertLevel; 3] = [AlertLevel::Warning, AlertLevel::Breach, AlertLevel::Escalation];

    /// The level of a threshold of `percent`.
    pub const fn of(percent: u32) -> Self {
        match percent {
            p if p < 100 => AlertLevel::Warning,
            100 => AlertLevel::Breach,
            _ => AlertLevel::Escalation,
        }
    }

    /// The trail's name for it.
    pub const fn event_name(self) -> &'static str {
        match self {
            AlertLevel::Warning => "threshold_crossed",
            AlertLevel::Breach => "breached",
            AlertLevel::Escalation => "escalated",
        }
    }

    /// The outbox's name for a message at this level.
    pub const fn as_str(self) -> &'static str {
        match self {
            AlertLevel::Warning => "warning",
            AlertLevel::Breach => "breach",
            AlertLevel::Escalation => "escalation",
        }
    }
}

/// A ticket (工单) as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ticket {
    /// Id.
    pub id: Uuid,
    /// `INC-2026-000123`.
    pub number: String,
    /// The line item it is filed against.
    pub line_item_id: Uuid,
    /// That item's agency key.
    pub agency: String,
    /// Summary.
    pub title: String,
    /// What happened.
    pub description: String,
    /// How serious.
    pub severity: Severity,
    /// Where it stands.
    pub state: TicketState,
    /// Where a paused ticket returns to.
    pub paused_from: Option<TicketState>,
    /// Special conditions (`complex_fault`, …).
    pub tags: Vec<String>,
    /// The engineer assigned.
    pub assignee_id: Option<Uuid>,
    /// Who filed it.
    pub created_by: Uuid,
    /// When the fault was reported: the clocks start here.
    pub reported_at: Timestamp,
    /// When it was filed.
    pub created_at: Timestamp,
    /// Last change.
    pub updated_at: Timestamp,
    /// Bumped by every change (optimistic concurrency, the ETag).
    pub version: i32,
}

/// One row of a ticket's trail.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Id.
    pub id: Uuid,
    /// The ticket.
    pub ticket_id: Uuid,
    /// Position in the trail, from 1.
    pub seq: i32,
    /// What happened.
    pub kind: EventKind,
    /// Who did it (none for the worker).
    pub actor_id: Option<Uuid>,
    /// When it happened.
    pub at: Timestamp,
    /// When it was recorded.
    pub recorded_at: Timestamp,
    /// The state before.
    pub from_state: Option<TicketState>,
    /// The state after.
    pub to_state: TicketState,
    /// Details (comment body, severity change, threshold, …).
    pub data: serde_json::Value,
}

impl Event {
    /// The entry the clocks see, when a person acted.
    pub fn trail_entry(&self) -> Option<TrailEntry> {
        self.kind.action().map(|action| TrailEntry { action, at: self.at })
    }
}

/// An action the current state does not allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot {} a ticket that is {from}", action.as_str())]
pub struct NotAllowed {
    /// What was attempted.
    pub action: Action,
    /// The state the ticket is in.
    pub from: TicketState,
}

/// The state after `action`, from `state` (`paused_from` is where a paused ticket returns).
pub fn next_state(
    state: TicketState,
    paused_from: Option<TicketState>,
    action: Action,
) -> Result<TicketState, NotAllowed> {
    use TicketState as S;
    let not = || NotAllowed { action, from: state };
    match (action, state) {
        (Action::File, _) => Err(not()),
        (Action::Acknowledge, S::Open) => Ok(S::Acknowledged),
        (Action::Arrive, S::Open | S::Acknowledged) => Ok(S::InProgress),
        // Containing a fault answers it too.
        (Action::Contain, S::Open) => Ok(S::Acknowledged),
        (Action::Contain, s @ (S::Acknowledged | S::InProgress | S::Paused)) => Ok(s),
        (Action::Pause, S::Acknowledged | S::InProgress) => Ok(S::Paused),
        (Action::Resume, S::Paused) => Ok(paused_from.unwrap_or(S::Acknowledged)),
        (Action::Resolve, S::Open | S::Acknowledged | S::InProgress | S::Paused) => Ok(S::Resolved),
        // A closed ticket only within the period its agency has (see `reopen_period_over`).
        (Action::Reopen, S::Resolved | S::Closed) => Ok(S::InProgress),
        (Action::Close, S::Resolved) => Ok(S::Closed),
        (Action::Assign | Action::Severity, s) if s != S::Closed && s != S::Resolved => Ok(s),
        (Action::Comment, s) => Ok(s),
        _ => Err(not()),
    }
}

/// Is it too late at `now` to reopen a ticket closed at `closed_at`, with `days` allowed?
pub fn reopen_period_over(closed_at: Timestamp, now: Timestamp, days: u64) -> bool {
    let allowed = i64::try_from(days.saturating_mul(86_400)).unwrap_or(i64::MAX / 2);
    now > closed_at.plus_seconds(allowed)
}

/// The metric the action `contain` meets (遏制).
pub const CONTAINMENT: &str = "containment";

/// One entry of the trail, as the clocks see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrailEntry {
    /// What happened.
    pub action: Action,
    /// When it really happened.
    pub at: Timestamp,
}

/// The clock history for `metric` implied by a ticket's trail.
///
/// Filing starts every clock; acknowledging meets response; arriving meets
/// response and on-site; containing meets response and containment; pausing and resuming stop and restart the clocks in
/// `pausing`; resolving meets every clock still counting; reopening resumes
/// recovery where it stopped.
pub fn clock_events(metric: &Metric, trail: &[TrailEntry], pausing: &[Metric]) -> Vec<ClockEvent> {
    #[derive(PartialEq)]
    enum C {
        Idle,
        Running,
        Paused,
        Met,
    }
    let mut out = Vec::new();
    let mut c = C::Idle;
    let push = |out: &mut Vec<ClockEvent>, kind, at| out.push(ClockEvent::new(kind, at));
    for e in trail {
        let meets = match e.action {
            Action::Acknowledge => *metric == Metric::Response,
            Action::Arrive => matches!(metric, Metric::Response | Metric::OnSite),
            Action::Contain => *metric == Metric::Response || metric.as_str() == CONTAINMENT,
            Action::Resolve => true,
            _ => false,
        };
        match e.action {
            Action::File if c == C::Idle => {
                push(&mut out, ClockEventKind::Start, e.at);
                c = C::Running;
            }
            _ if meets && (c == C::Running || c == C::Paused) => {
                push(&mut out, ClockEventKind::Met, e.at);
                c = C::Met;
            }
            Action::Pause if c == C::Running && pausing.contains(metric) => {
                push(&mut out, ClockEventKind::Pause, e.at);
                c = C::Paused;
            }
            Action::Resume if c == C::Paused => {
                push(&mut out, ClockEventKind::Resume, e.at);
                c = C::Running;
            }
            Action::Reopen if c == C::Met && *metric == Metric::Recovery => {
                push(&mut out, ClockEventKind::Reopen, e.at);
                c = C::Running;
            }
            _ => {}
        }
    }
    out
}

/// One clock of a ticket: its rule, history and standing.
#[derive(Clone, Debug)]
pub struct TicketClock {
    /// The rule that sets its target.
    pub rule: TargetRule,
    /// Which rule it is: `item:{position}` or `contract:{key}`.
    pub rule_ref: String,
    /// True when choosing the rule read dates without holiday data.
    pub choice_beyond_holiday_data: bool,
    /// Its history.
    pub events: Vec<ClockEvent>,
    /// Where it stands at the instant it was computed.
    pub status: ClockStatus,
}

impl TicketClock {
    /// The clock as it is stored.
    pub fn stored(&self) -> super::clock::StoredClock {
        super::clock::StoredClock {
            metric: self.rule.metric.clone(),
            target: self.rule.target,
            calendar: self.rule.calendar.clone(),
            events: self.events.clone(),
            rule_ref: Some(self.rule_ref.clone()),
            choice_beyond_holiday_data: self.choice_beyond_holiday_data,
        }
    }
}

/// Why a ticket's clocks could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum ClocksError {
    /// A target rule could not be applied.
    #[error(transparent)]
    Policy(#[from] PolicyError),
    /// A clock's history or calendar could not be evaluated.
    #[error(transparent)]
    Clock(#[from] ClockError),
    /// A rule names a calendar that is not loaded.
    #[error("calendar \"{0}\" is not loaded")]
    UnknownCalendar(String),
}

/// The rules a ticket's targets are chosen from: its item's own, and the
/// contract's general rules by key.
#[derive(Clone, Copy, Debug)]
pub struct Rules<'a> {
    /// The item's policy.
    pub policy: &'a Policy,
    /// The contract's general rules.
    pub general: &'a [TargetRule],
    /// Their keys, in the same order.
    pub general_keys: &'a [&'a str],
}

impl Rules<'_> {
    fn reference(&self, index: RuleIndex) -> String {
        match index {
            RuleIndex::Item(i) => format!("item:{i}"),
            RuleIndex::General(i) => format!("contract:{}", self.general_keys.get(i).copied().unwrap_or("?")),
        }
    }
}

/// A stored clock with its rule chosen again, as the calendars stand now
/// (the holidays changed): the same history, perhaps another target, and
/// whether the choice still reads dates without holiday data. `None` when no
/// rule applies any more.
pub fn rechoose(
    rules: Rules<'_>,
    facts: &TicketFacts<'_>,
    clock: &super::clock::StoredClock,
    calendars: &impl Calendars,
) -> Result<Option<super::clock::StoredClock>, ClocksError> {
    let start = clock.started_at().unwrap_or(facts.opened_at);
    let Some(chosen) = rules.policy.choose(&clock.metric, facts, rules.general, start, calendars)? else {
        return Ok(None);
    };
    Ok(Some(super::clock::StoredClock {
        metric: clock.metric.clone(),
        target: chosen.rule.target,
        calendar: chosen.rule.calendar.clone(),
        events: clock.events.clone(),
        rule_ref: Some(rules.reference(chosen.index)),
        choice_beyond_holiday_data: chosen.beyond_holiday_data,
    }))
}

/// Every clock a ticket has: one per metric that the item's policy or a
/// general rule sets a target for, the earlier deadline choosing between them.
pub fn ticket_clocks(
    rules: Rules<'_>,
    facts: &TicketFacts<'_>,
    trail: &[TrailEntry],
    pausing: &[Metric],
    calendars: &impl Calendars,
    thresholds: &[u32],
    now: Timestamp,
) -> Result<Vec<TicketClock>, ClocksError> {
    let mut out = Vec::new();
    for metric in rules.policy.metrics_with(rules.general) {
        let events = clock_events(metric, trail, pausing);
        let start = events.first().map_or(facts.opened_at, |e| e.at);
        let Some(chosen) = rules.policy.choose(metric, facts, rules.general, start, calendars)? else {
            continue;
        };
        let status = evaluate(chosen.rule, &events, calendars, thresholds, now)?;
        out.push(TicketClock {
            rule: chosen.rule.clone(),
            rule_ref: rules.reference(chosen.index),
            choice_beyond_holiday_data: chosen.beyond_holiday_data,
            events,
            status,
        });
    }
    Ok(out)
}

/// Where a clock with this rule and history stands at `now`.
pub fn evaluate(
    rule: &TargetRule,
    events: &[ClockEvent],
    calendars: &impl Calendars,
    thresholds: &[u32],
    now: Timestamp,
) -> Result<ClockStatus, ClocksError> {
    let calendar = calendars
        .calendar(&rule.calendar)
        .ok_or_else(|| ClocksError::UnknownCalendar(rule.calendar.clone()))?;
    Ok(Clock::with_thresholds(calendar, rule.target, thresholds).evaluate(events, now)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> Timestamp {
        Timestamp::from_unix(s)
    }

    #[test]
    fn transitions() {
        use TicketState as S;
        assert_eq!(next_state(S::Open, None, Action::Acknowledge), Ok(S::Acknowledged));
        assert_eq!(next_state(S::Acknowledged, None, Action::Arrive), Ok(S::InProgress));
        assert_eq!(next_state(S::InProgress, None, Action::Pause), Ok(S::Paused));
        assert_eq!(next_state(S::Paused, Some(S::InProgress), Action::Resume), Ok(S::InProgress));
        assert_eq!(next_state(S::Resolved, None, Action::Reopen), Ok(S::InProgress));
        assert_eq!(next_state(S::Resolved, None, Action::Close), Ok(S::Closed));
        assert_eq!(
            next_state(S::Closed, None, Action::Acknowledge),
            Err(NotAllowed { action: Action::Acknowledge, from: S::Closed })
        );
        assert!(next_state(S::Open, None, Action::Pause).is_err(), "answer before waiting on the agency");
        assert!(next_state(S::Open, None, Action::Close).is_err());
        assert_eq!(next_state(S::Closed, None, Action::Comment), Ok(S::Closed));
    }

    #[test]
    fn trail_drives_the_clocks() {
        let trail = [
            TrailEntry { action: Action::File, at: t(0) },
            TrailEntry { action: Action::Acknowledge, at: t(10) },
            TrailEntry { action: Action::Pause, at: t(20) },
            TrailEntry { action: Action::Resume, at: t(30) },
            TrailEntry { action: Action::Arrive, at: t(40) },
            TrailEntry { action: Action::Resolve, at: t(50) },
            TrailEntry { action: Action::Reopen, at: t(60) },
        ];
        let pausing = [Metric::OnSite, Metric::Recovery];
        let kinds = |m: Metric| {
            clock_events(&m, &trail, &pausing).iter().map(|e| (e.kind, e.at.unix())).collect::<Vec<_>>()
        };
        use ClockEventKind as K;
        assert_eq!(kinds(Metric::Response), vec![(K::Start, 0), (K::Met, 10)]);
        assert_eq!(kinds(Metric::OnSite), vec![(K::Start, 0), (K::Pause, 20), (K::Resume, 30), (K::Met, 40)]);
        assert_eq!(
            kinds(Metric::Recovery),
            vec![(K::Start, 0), (K::Pause, 20), (K::Resume, 30), (K::Met, 50), (K::Reopen, 60)]
        );
        assert_eq!(kinds(Metric::Other("containment".into())), vec![(K::Start, 0), (K::Met, 50)]);
    }
}
