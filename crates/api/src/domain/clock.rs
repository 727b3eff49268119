//! A ticket's clock as it is stored: its rule's parts and its history, turned
//! back into a standing at any instant. Filing, reads, the worker and reports
//! all go through here, so a stored clock has one reading.

use sla_engine::{
    BusinessSeconds, Calendars, ClockEvent, ClockStatus, Condition, Metric, TargetRule, Timestamp,
};

use super::ticket::ClocksError;

/// One clock of a ticket as stored: which target, in which calendar, and what happened to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredClock {
    /// What it measures.
    pub metric: Metric,
    /// The business time allowed.
    pub target: BusinessSeconds,
    /// The service window it counts in.
    pub calendar: String,
    /// Its history.
    pub events: Vec<ClockEvent>,
    /// Which rule chose its target (`item:{position}`, `contract:{key}`); none on clocks written before rules were named.
    pub rule_ref: Option<String>,
    /// True when choosing that rule read dates without holiday data.
    pub choice_beyond_holiday_data: bool,
}

impl StoredClock {
    /// The rule that chose it, as far as evaluating it needs: the choice
    /// was made when the clock was written.
    pub fn rule(&self) -> TargetRule {
        TargetRule {
            metric: self.metric.clone(),
            when: Condition::default(),
            target: self.target,
            calendar: self.calendar.clone(),
        }
    }

    /// Where it stands at `now`, watching `thresholds` (percent of the target).
    pub fn evaluate(
        &self,
        calendars: &impl Calendars,
        thresholds: &[u32],
        now: Timestamp,
    ) -> Result<ClockStatus, ClocksError> {
        super::ticket::evaluate(&self.rule(), &self.events, calendars, thresholds, now)
    }

    /// When it started counting (its first event).
    pub fn started_at(&self) -> Option<Timestamp> {
        self.events.first().map(|e| e.at)
    }
}

/// The instant the worker must look at a clock next, given where it stands
/// at `now`: never while it is stopped; at once while a threshold it has
/// crossed may still be unannounced (`unannounced` says which are); else at
/// its next threshold.
pub fn next_at(status: &ClockStatus, now: Timestamp, unannounced: impl Fn(u32) -> bool) -> Option<Timestamp> {
    if status.stopped {
        None
    } else if status.crossed.iter().any(|c| unannounced(c.percent)) {
        Some(now)
    } else {
        status.next.map(|n| n.at)
    }
}

/// The order the contract lists its metrics in: response, on-site, recovery, then the rest by name.
pub fn metric_rank(metric: &str) -> (u8, &str) {
    let rank = match metric {
        "response" => 0,
        "on_site" => 1,
        "recovery" => 2,
        _ => 3,
    };
    (rank, metric)
}
