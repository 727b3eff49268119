//! SLA policies: target rules that say, for a ticket, how much business time each metric may take.
//!
//! A line item's requirements (服务要求) become an ordered list of rules. For
//! a metric, the first rule whose conditions the ticket meets is its target:
//! so "工作日期间实时响应，非工作日期间0.5小时以内" is two response rules, one
//! for tickets opened inside the 5x8 working time and one for the rest.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::calendar::Calendars;
use crate::error::CalendarError;
use crate::time::{BusinessSeconds, Timestamp};

/// How serious a fault is. 一般事件 is `General`; 重大事件 covers `Major` and `Critical`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// 特别重大: the service is down for everyone.
    Critical,
    /// 重大: a major function or many users are affected.
    Major,
    /// 一般: everything else; the default.
    #[default]
    General,
}

impl Severity {
    /// The name used in configuration and the API.
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Major => "major",
            Severity::General => "general",
        }
    }
}

impl FromStr for Severity {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "critical" => Ok(Severity::Critical),
            "major" => Ok(Severity::Major),
            "general" => Ok(Severity::General),
            other => Err(format!("\"{other}\" is not a severity (critical, major, general)")),
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a target measures. The contract's three are named; anything else
/// (e.g. `containment`, 遏制) is carried by name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Metric {
    /// 响应: an engineer acknowledges the ticket.
    Response,
    /// 到场: an engineer arrives on site.
    OnSite,
    /// 故障恢复: service is restored.
    Recovery,
    /// Any other named metric, in snake_case.
    Other(String),
}

impl Metric {
    /// The metric's snake_case name.
    pub fn as_str(&self) -> &str {
        match self {
            Metric::Response => "response",
            Metric::OnSite => "on_site",
            Metric::Recovery => "recovery",
            Metric::Other(name) => name,
        }
    }
}

impl FromStr for Metric {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "response" => Ok(Metric::Response),
            "on_site" => Ok(Metric::OnSite),
            "recovery" => Ok(Metric::Recovery),
            other
                if !other.is_empty()
                    && other.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                    && other.as_bytes()[0].is_ascii_lowercase() =>
            {
                Ok(Metric::Other(other.to_owned()))
            }
            other => Err(format!(
                "\"{other}\" is not a metric name (snake_case, e.g. response, on_site, recovery)"
            )),
        }
    }
}

impl TryFrom<String> for Metric {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Metric> for String {
    fn from(value: Metric) -> Self {
        value.as_str().to_owned()
    }
}

impl fmt::Display for Metric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a rule applies to tickets opened inside or outside a working-time calendar.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpenedIn {
    /// Opened while the calendar was open (工作时间内 / 工作日期间).
    Inside,
    /// Opened while it was closed (非工作时间 / 非工作日期间).
    Outside,
}

/// The conditions under which a rule applies; an empty condition always applies.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    /// The rule applies only to these severities.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity: Option<Vec<Severity>>,
    /// The rule applies only to tickets opened inside or outside `calendar`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub opened: Option<OpenedIn>,
    /// The working-time calendar `opened` refers to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<String>,
    /// The rule applies only to tickets carrying all of these tags (e.g.
    /// `complex_fault` for 复杂故障, `remote_unresolved` for on-site visits
    /// that are owed only when remote service cannot resolve the fault).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Condition {
    /// True when the condition has nothing to check.
    pub fn is_always(&self) -> bool {
        self.severity.is_none() && self.opened.is_none() && self.tags.is_empty()
    }
}

/// One target: a metric, when it applies, how long it may take, and in which calendar.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetRule {
    /// What is measured.
    pub metric: Metric,
    /// When the rule applies.
    #[serde(default, skip_serializing_if = "Condition::is_always")]
    pub when: Condition,
    /// The business time allowed.
    pub target: BusinessSeconds,
    /// The calendar (service window) the time is counted in.
    pub calendar: String,
}

/// What a policy needs to know about a ticket to choose its targets.
#[derive(Clone, Copy, Debug)]
pub struct TicketFacts<'a> {
    /// The ticket's current severity.
    pub severity: Severity,
    /// When the fault was reported: the clocks start here.
    pub opened_at: Timestamp,
    /// Special conditions recorded on the ticket.
    pub tags: &'a [String],
}

/// A rule refers to a calendar that is not defined, or the calendar could not answer.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The named calendar is not defined.
    #[error("calendar \"{0}\" is not defined")]
    UnknownCalendar(String),
    /// A rule says `opened` without naming the calendar it refers to.
    #[error("a rule for {0} says `opened` without a `calendar`")]
    OpenedWithoutCalendar(Metric),
    /// The calendar could not answer.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}

/// An ordered list of target rules: for each metric, the first that applies wins.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Policy {
    rules: Vec<TargetRule>,
}

impl Policy {
    /// A policy of these rules, in order.
    pub fn new(rules: Vec<TargetRule>) -> Self {
        Self { rules }
    }

    /// The rules, in order.
    pub fn rules(&self) -> &[TargetRule] {
        &self.rules
    }

    /// The metrics the policy sets targets for, each once, in first-seen order.
    pub fn metrics(&self) -> Vec<&Metric> {
        let mut seen: Vec<&Metric> = Vec::new();
        for rule in &self.rules {
            if !seen.contains(&&rule.metric) {
                seen.push(&rule.metric);
            }
        }
        seen
    }

    /// Check that every calendar a rule names exists.
    pub fn validate(&self, calendars: &impl Calendars) -> Result<(), PolicyError> {
        for rule in &self.rules {
            let mut names = vec![&rule.calendar];
            match (&rule.when.opened, &rule.when.calendar) {
                (Some(_), None) => return Err(PolicyError::OpenedWithoutCalendar(rule.metric.clone())),
                (_, Some(c)) => names.push(c),
                (None, None) => {}
            }
            for name in names {
                if calendars.calendar(name).is_none() {
                    return Err(PolicyError::UnknownCalendar(name.clone()));
                }
            }
        }
        Ok(())
    }

    /// The rule that sets `metric`'s target for this ticket, if any applies.
    pub fn select(
        &self,
        metric: &Metric,
        ticket: &TicketFacts<'_>,
        calendars: &impl Calendars,
    ) -> Result<Option<&TargetRule>, PolicyError> {
        for rule in self.rules.iter().filter(|r| &r.metric == metric) {
            if rule.applies(ticket, calendars)? {
                return Ok(Some(rule));
            }
        }
        Ok(None)
    }
}

/// Which rule set a clock's target: one of the item's own, or one of the
/// rules the whole contract sets beside them (合同通用条款).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RuleIndex {
    /// The item's rule at this position of its policy.
    Item(usize),
    /// The general rule at this position of the list given.
    General(usize),
}

/// The rule chosen for a metric of a ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Chosen<'a> {
    /// The rule.
    pub rule: &'a TargetRule,
    /// Where it comes from.
    pub index: RuleIndex,
    /// True when the choice read dates without holiday data (whether the
    /// ticket was opened in working time, or which deadline comes first).
    pub beyond_holiday_data: bool,
}

impl Policy {
    /// Every metric this policy or the general rules set a target for, each
    /// once: the policy's first, in first-seen order.
    pub fn metrics_with<'a>(&'a self, general: &'a [TargetRule]) -> Vec<&'a Metric> {
        let mut seen = self.metrics();
        for rule in general {
            if !seen.contains(&&rule.metric) {
                seen.push(&rule.metric);
            }
        }
        seen
    }

    /// The rule that sets `metric`'s target for this ticket when general
    /// rules hold beside the item's own: the item's first applicable rule and
    /// every applicable general rule compete, and the one whose deadline,
    /// counted from `start` in its own calendar, comes first wins (the
    /// item's on a tie). So "never more than an hour, whatever the item's
    /// window" is a general rule of 60 minutes in a 7x24 calendar.
    pub fn choose<'a>(
        &'a self,
        metric: &Metric,
        ticket: &TicketFacts<'_>,
        general: &'a [TargetRule],
        start: Timestamp,
        calendars: &impl Calendars,
    ) -> Result<Option<Chosen<'a>>, PolicyError> {
        let mut beyond = false;
        let mut best: Option<(Timestamp, Chosen<'a>)> = None;
        let own = self.rules.iter().enumerate().filter(|(_, r)| &r.metric == metric);
        let mut candidates = Vec::new();
        for (i, rule) in own {
            let (applies, b) = rule.applies_reckoned(ticket, calendars)?;
            beyond |= b;
            if applies {
                candidates.push((RuleIndex::Item(i), rule));
                break;
            }
        }
        for (i, rule) in general.iter().enumerate().filter(|(_, r)| &r.metric == metric) {
            let (applies, b) = rule.applies_reckoned(ticket, calendars)?;
            beyond |= b;
            if applies {
                candidates.push((RuleIndex::General(i), rule));
            }
        }
        for (index, rule) in candidates {
            let calendar = calendars
                .calendar(&rule.calendar)
                .ok_or_else(|| PolicyError::UnknownCalendar(rule.calendar.clone()))?;
            let deadline = calendar.deadline(start, rule.target)?;
            beyond |= deadline.beyond_holiday_data;
            if best.as_ref().is_none_or(|(at, _)| deadline.value < *at) {
                best = Some((deadline.value, Chosen { rule, index, beyond_holiday_data: false }));
            }
        }
        Ok(best.map(|(_, chosen)| Chosen { beyond_holiday_data: beyond, ..chosen }))
    }
}

impl TargetRule {
    /// Does this rule apply to the ticket?
    pub fn applies(&self, ticket: &TicketFacts<'_>, calendars: &impl Calendars) -> Result<bool, PolicyError> {
        Ok(self.applies_reckoned(ticket, calendars)?.0)
    }

    /// As [`TargetRule::applies`], and whether the answer read a date without
    /// holiday data (a rule for tickets opened in working time, on a day
    /// whose holidays are not known).
    pub fn applies_reckoned(
        &self,
        ticket: &TicketFacts<'_>,
        calendars: &impl Calendars,
    ) -> Result<(bool, bool), PolicyError> {
        let when = &self.when;
        if when.severity.as_ref().is_some_and(|s| !s.contains(&ticket.severity))
            || !when.tags.iter().all(|t| ticket.tags.contains(t))
        {
            return Ok((false, false));
        }
        let Some(opened) = when.opened else { return Ok((true, false)) };
        let name =
            when.calendar.as_ref().ok_or_else(|| PolicyError::OpenedWithoutCalendar(self.metric.clone()))?;
        let calendar = calendars.calendar(name).ok_or_else(|| PolicyError::UnknownCalendar(name.clone()))?;
        let inside = calendar.is_open(ticket.opened_at)?;
        let beyond = !calendar.holiday_data_covers(ticket.opened_at, ticket.opened_at);
        Ok((inside == (opened == OpenedIn::Inside), beyond))
    }
}
