//! SLA clocks: a pure state machine over a ticket's start, pause, resume, met
//! and reopen events, answering where a target stands at any instant.
//!
//! A clock never reads the time: it is given its history and "now", and says
//! what state it is in, how much business time has gone, when it will breach
//! and the next instant at which something will happen, so that a scheduler
//! can sleep until then.

use serde::{Deserialize, Serialize};

use crate::calendar::Calendar;
use crate::error::ClockError;
use crate::time::{BusinessSeconds, Timestamp};

/// The warning thresholds used when a policy names none: 50 % and 80 % of the target.
pub const DEFAULT_THRESHOLDS: [u32; 2] = [50, 80];

/// The threshold that is the breach itself.
pub const BREACH: u32 = 100;

/// Something that happened to a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockEventKind {
    /// The ticket was opened (or reported, when backdated): counting begins.
    Start,
    /// Waiting on the agency: counting stops.
    Pause,
    /// The agency answered: counting goes on.
    Resume,
    /// The target was met (acknowledged, on site, resolved).
    Met,
    /// The ticket was reopened: counting goes on from where it stopped.
    Reopen,
}

impl ClockEventKind {
    const fn name(self) -> &'static str {
        match self {
            ClockEventKind::Start => "start",
            ClockEventKind::Pause => "pause",
            ClockEventKind::Resume => "resume",
            ClockEventKind::Met => "met",
            ClockEventKind::Reopen => "reopen",
        }
    }
}

/// One event in a clock's history.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockEvent {
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub kind: ClockEventKind,
}

impl ClockEvent {
    /// An event of `kind` at `at`.
    pub const fn new(kind: ClockEventKind, at: Timestamp) -> Self {
        Self { at, kind }
    }
}

/// Where a clock stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockState {
    /// Counting, within target.
    Running,
    /// Not counting, within target.
    Paused,
    /// Met; `breached_at` tells whether it was late.
    Met,
    /// Past its target and not met (whether counting or paused).
    Breached,
}

impl ClockState {
    /// The snake_case name, as stored and shown.
    pub const fn as_str(self) -> &'static str {
        match self {
            ClockState::Running => "running",
            ClockState::Paused => "paused",
            ClockState::Met => "met",
            ClockState::Breached => "breached",
        }
    }
}

/// A threshold reached, and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Crossing {
    /// Percent of the target (100 is the breach).
    pub percent: u32,
    /// The instant the clock's business time reached it.
    pub at: Timestamp,
}

/// A clock's state at an instant.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClockStatus {
    /// Where the clock stands.
    pub state: ClockState,
    /// True when the clock is not counting (paused, or met).
    pub stopped: bool,
    /// The business time allowed.
    pub target: BusinessSeconds,
    /// Business time counted so far.
    pub elapsed: BusinessSeconds,
    /// Business time left before the breach (zero once breached).
    pub remaining: BusinessSeconds,
    /// Business time past the target (zero while within it).
    pub overdue: BusinessSeconds,
    /// While counting: the instant the target is (or was) reached.
    pub deadline: Option<Timestamp>,
    /// When the clock breached, if it did before it was met.
    pub breached_at: Option<Timestamp>,
    /// When the clock was met, if it is met.
    pub met_at: Option<Timestamp>,
    /// Thresholds reached by now (before being met), in ascending order.
    pub crossed: Vec<Crossing>,
    /// While counting: the next threshold still to come.
    pub next: Option<Crossing>,
    /// True when some answer relied on dates without holiday data.
    pub beyond_holiday_data: bool,
}

/// A target counted in a calendar, with its warning and escalation thresholds.
#[derive(Clone, Debug)]
pub struct Clock<'a> {
    calendar: &'a Calendar,
    target: BusinessSeconds,
    /// Percents of the target, ascending, always including [`BREACH`].
    thresholds: Vec<u32>,
}

/// A span of counting: `[start, end)`, and whether it ended by being met.
#[derive(Clone, Copy, Debug)]
struct Segment {
    start: Timestamp,
    end: Option<Timestamp>,
    ended_by_met: bool,
}

impl<'a> Clock<'a> {
    /// A clock for `target` in `calendar`, warning at 50 % and 80 %.
    pub fn new(calendar: &'a Calendar, target: BusinessSeconds) -> Self {
        Self::with_thresholds(calendar, target, &DEFAULT_THRESHOLDS)
    }

    /// A clock with its own thresholds, as percents of the target: below 100
    /// they warn, above 100 they escalate. The breach (100) is always one.
    /// Zero percent is ignored: it would fire at the start.
    pub fn with_thresholds(calendar: &'a Calendar, target: BusinessSeconds, thresholds: &[u32]) -> Self {
        let mut thresholds: Vec<u32> = thresholds.iter().copied().filter(|&p| p > 0).collect();
        thresholds.push(BREACH);
        thresholds.sort_unstable();
        thresholds.dedup();
        Self { calendar, target, thresholds }
    }

    /// The thresholds, ascending, including the breach.
    pub fn thresholds(&self) -> &[u32] {
        &self.thresholds
    }

    /// The clock's state at `now`, from its history. Events after `now` are
    /// checked for consistency but not applied, so that the same history
    /// answers "where did this stand at the end of May?".
    pub fn evaluate(&self, events: &[ClockEvent], now: Timestamp) -> Result<ClockStatus, ClockError> {
        let segments = segments(events, now)?;
        let last_kind = events.iter().take_while(|e| e.at <= now).last().map(|e| e.kind);
        let met_at = match last_kind {
            Some(ClockEventKind::Met) => events.iter().take_while(|e| e.at <= now).last().map(|e| e.at),
            _ => None,
        };
        let running = matches!(segments.last(), Some(s) if s.end.is_none());

        let mut beyond = false;
        let mut elapsed = 0u64;
        for seg in &segments {
            let r = self.calendar.elapsed(seg.start, seg.end.unwrap_or(now))?;
            beyond |= r.beyond_holiday_data;
            elapsed += r.value.get();
        }

        let mut crossed = Vec::new();
        let mut next = None;
        let mut deadline = None;
        for &percent in &self.thresholds {
            let Some((at, b)) = self.reached(&segments, self.target.percent(percent))? else {
                break;
            };
            beyond |= b;
            if percent == BREACH && running {
                deadline = Some(at);
            }
            if at <= now {
                crossed.push(Crossing { percent, at });
            } else if next.is_none() {
                next = Some(Crossing { percent, at });
            }
        }
        if running && deadline.is_none() {
            // Thresholds stop at the first one not reached, but a running
            // clock always has a projected deadline.
            let (at, b) = self.reached(&segments, self.target)?.unwrap_or((now, false));
            beyond |= b;
            deadline = Some(at);
        }

        let breached_at = crossed.iter().find(|c| c.percent == BREACH).map(|c| c.at);
        let state = match (met_at, breached_at, running) {
            (Some(_), _, _) => ClockState::Met,
            (None, Some(_), _) => ClockState::Breached,
            (None, None, true) => ClockState::Running,
            (None, None, false) => ClockState::Paused,
        };
        let elapsed = BusinessSeconds::new(elapsed);
        Ok(ClockStatus {
            state,
            stopped: !running,
            target: self.target,
            elapsed,
            remaining: self.target.saturating_sub(elapsed),
            overdue: elapsed.saturating_sub(self.target),
            deadline,
            breached_at,
            met_at,
            crossed,
            next: if running { next } else { None },
            beyond_holiday_data: beyond,
        })
    }

    /// The instant the clock's counted time reached `need`, if it has or (when
    /// still running) will. A segment that ended by being met at exactly that
    /// instant does not count: meeting a target at its deadline is on time.
    fn reached(
        &self,
        segments: &[Segment],
        need: BusinessSeconds,
    ) -> Result<Option<(Timestamp, bool)>, ClockError> {
        let mut acc = BusinessSeconds::ZERO;
        for seg in segments {
            let left = need.saturating_sub(acc);
            match seg.end {
                None => {
                    let r = self.calendar.deadline(seg.start, left)?;
                    return Ok(Some((r.value, r.beyond_holiday_data)));
                }
                Some(end) => {
                    let e = self.calendar.elapsed(seg.start, end)?;
                    let enough = if seg.ended_by_met { e.value > left } else { e.value >= left };
                    if enough {
                        let r = self.calendar.deadline(seg.start, left)?;
                        return Ok(Some((r.value, r.beyond_holiday_data || e.beyond_holiday_data)));
                    }
                    acc = BusinessSeconds::new(acc.get() + e.value.get());
                }
            }
        }
        Ok(None)
    }
}

/// Check the whole history and cut the part up to `now` into counting segments.
fn segments(events: &[ClockEvent], now: Timestamp) -> Result<Vec<Segment>, ClockError> {
    #[derive(Clone, Copy, PartialEq)]
    enum S {
        Counting,
        Paused,
        Met,
    }
    let name = |s: S| match s {
        S::Counting => "running",
        S::Paused => "paused",
        S::Met => "met",
    };
    let first = events.first().ok_or(ClockError::NoStart)?;
    if first.kind != ClockEventKind::Start {
        return Err(ClockError::NoStart);
    }
    let mut state = S::Counting;
    let mut out = Vec::new();
    if first.at <= now {
        out.push(Segment { start: first.at, end: None, ended_by_met: false });
    }
    for (index, (prev, event)) in events.iter().zip(&events[1..]).enumerate().map(|(i, p)| (i + 1, p)) {
        if event.at < prev.at {
            return Err(ClockError::OutOfOrder { index, at: event.at });
        }
        let next = match (state, event.kind) {
            (_, ClockEventKind::Start) => return Err(ClockError::NoStart),
            (S::Counting, ClockEventKind::Pause) => S::Paused,
            (S::Paused, ClockEventKind::Resume) => S::Counting,
            (S::Counting | S::Paused, ClockEventKind::Met) => S::Met,
            (S::Met, ClockEventKind::Reopen) => S::Counting,
            (s, kind) => return Err(ClockError::NotAllowed { index, event: kind.name(), state: name(s) }),
        };
        if event.at <= now {
            match (state, next) {
                (S::Counting, S::Paused | S::Met) => {
                    if let Some(seg) = out.last_mut() {
                        seg.end = Some(event.at);
                        seg.ended_by_met = next == S::Met;
                    }
                }
                (S::Paused | S::Met, S::Counting) => {
                    out.push(Segment { start: event.at, end: None, ended_by_met: false });
                }
                _ => {}
            }
        }
        state = next;
    }
    Ok(out)
}
