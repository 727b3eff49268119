//! A ticket's clock as it is stored: its rule's parts and its history, turned
//! back into a standing at any instant. Filing, reads, the worker and reports
//! all go through here, so a stored clock has one reading.

use sla_engine::{
    BusinessSeconds, Calendars, ClockEvent, ClockStatus, Condition, Crossing, Metric, TargetRule, Timestamp,
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

/// Thresholds that fell before a ticket was filed (a fault phoned in and
/// filed afterwards) are held back for a grace period after the filing, so
/// that the engineer filing it can first record what was already done.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hold {
    /// When the ticket was filed (recorded, not reported).
    pub filed_at: Timestamp,
    /// Until when such thresholds wait.
    pub until: Timestamp,
}

impl Hold {
    /// The hold of a ticket filed at `filed_at`, with `grace_seconds` of grace.
    pub fn after(filed_at: Timestamp, grace_seconds: u64) -> Self {
        Self { filed_at, until: filed_at.plus_seconds(i64::try_from(grace_seconds).unwrap_or(i64::MAX / 2)) }
    }

    /// Is the crossing still held back at `now`?
    pub fn holds(&self, crossing: &Crossing, now: Timestamp) -> bool {
        crossing.at < self.filed_at && now < self.until
    }
}

/// The instant the worker must look at a clock next, given where it stands
/// at `now`: never while it is stopped; while a threshold it has crossed may
/// still be unannounced (`unannounced` says which are), at once, or when its
/// hold ends; else at its next threshold.
pub fn next_at(
    status: &ClockStatus,
    now: Timestamp,
    hold: Hold,
    unannounced: impl Fn(u32) -> bool,
) -> Option<Timestamp> {
    if status.stopped {
        return None;
    }
    let pending = status
        .crossed
        .iter()
        .filter(|c| unannounced(c.percent))
        .map(|c| if hold.holds(c, now) { hold.until } else { now });
    pending.chain(status.next.map(|n| n.at)).min()
}

/// A threshold recorded as crossed: the clock's metric and the percent.
pub type Recorded = (String, u32);

/// Whether `metric`'s threshold `percent` is not among those recorded.
pub fn is_unrecorded(recorded: &[Recorded], metric: &str, percent: u32) -> bool {
    !recorded.iter().any(|(m, p)| m == metric && *p == percent)
}

/// The recorded thresholds that the clocks, as they now stand, never
/// crossed: an action recorded later with an earlier real time (or a change
/// of holidays) undid them. A threshold of a metric not among `clocks` is
/// left alone.
pub fn undone<'a>(recorded: &'a [Recorded], clocks: &[(&StoredClock, &ClockStatus)]) -> Vec<&'a Recorded> {
    recorded
        .iter()
        .filter(|(metric, percent)| {
            clocks
                .iter()
                .find(|(c, _)| c.metric.as_str() == metric)
                .is_some_and(|(_, status)| !status.crossed.iter().any(|x| x.percent == *percent))
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use sla_engine::{BusinessSeconds, ClockState, ClockStatus, Crossing, Metric, Timestamp};

    use super::{Hold, StoredClock, next_at, undone};

    fn t(minutes: i64) -> Timestamp {
        Timestamp::from_unix(1_780_000_000 + minutes * 60)
    }

    fn status(crossed: &[(u32, i64)], next: Option<(u32, i64)>, stopped: bool) -> ClockStatus {
        let crossing = |&(percent, m): &(u32, i64)| Crossing { percent, at: t(m) };
        ClockStatus {
            state: if stopped { ClockState::Met } else { ClockState::Running },
            stopped,
            target: BusinessSeconds::new(1800),
            elapsed: BusinessSeconds::new(0),
            remaining: BusinessSeconds::new(0),
            overdue: BusinessSeconds::new(0),
            deadline: None,
            breached_at: None,
            met_at: None,
            crossed: crossed.iter().map(crossing).collect(),
            next: next.as_ref().map(crossing),
            beyond_holiday_data: false,
        }
    }

    #[test]
    fn a_threshold_before_the_filing_waits_for_the_grace_and_one_after_it_does_not() {
        // Filed at minute 40 with 15 minutes of grace; 50 % fell at 15, 100 % at 30.
        let hold = Hold::after(t(40), 900);
        let s = status(&[(50, 15), (100, 30)], Some((150, 70)), false);
        assert_eq!(next_at(&s, t(40), hold, |_| true), Some(t(55)), "held until filed + 15 min");
        assert_eq!(next_at(&s, t(56), hold, |_| true), Some(t(56)), "the grace is over: at once");
        assert_eq!(next_at(&s, t(40), hold, |_| false), Some(t(70)), "announced: the next threshold");
        let soon = status(&[(50, 15)], Some((100, 45)), false);
        assert_eq!(
            next_at(&soon, t(40), hold, |_| true),
            Some(t(45)),
            "a live threshold before the hold ends"
        );
        // A threshold crossed after the filing is due at once, grace or not.
        let live = status(&[(50, 41)], Some((100, 60)), false);
        assert_eq!(next_at(&live, t(42), hold, |_| true), Some(t(42)));
        // A stopped clock is never due.
        assert_eq!(next_at(&status(&[(50, 15)], None, true), t(40), hold, |_| true), None);
    }

    #[test]
    fn thresholds_the_clocks_no_longer_crossed_are_undone() {
        let clock = |metric: &str| StoredClock {
            metric: metric.parse::<Metric>().expect("metric"),
            target: BusinessSeconds::new(1800),
            calendar: "7x24".into(),
            events: Vec::new(),
            rule_ref: None,
            choice_beyond_holiday_data: false,
        };
        let (response, recovery) = (clock("response"), clock("recovery"));
        let met_early = status(&[], None, true);
        let still = status(&[(50, 10)], Some((100, 20)), false);
        let recorded = vec![
            ("response".to_owned(), 50),
            ("response".to_owned(), 100),
            ("recovery".to_owned(), 50),
            ("on_site".to_owned(), 100),
        ];
        let gone = undone(&recorded, &[(&response, &met_early), (&recovery, &still)]);
        assert_eq!(
            gone,
            vec![&("response".to_owned(), 50), &("response".to_owned(), 100)],
            "recovery 50 % still happened; on-site is not among the clocks given"
        );
    }
}
