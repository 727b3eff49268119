//! The engine's errors: bad configuration, questions outside a calendar's table, impossible clock histories.

use crate::time::Timestamp;

/// A configuration file that cannot be used, naming the file and the entry at fault.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{source_name}: {}{problem}", entry_prefix(.entry))]
pub struct ConfigError {
    /// The file (or other source) the text came from.
    pub source_name: String,
    /// The entry at fault, e.g. `holiday[2] "春节"`; empty for whole-file errors.
    pub entry: String,
    /// What is wrong, in words an administrator can act on.
    pub problem: String,
}

fn entry_prefix(entry: &str) -> String {
    if entry.is_empty() { String::new() } else { format!("{entry}: ") }
}

impl ConfigError {
    pub(crate) fn new(source: &str, entry: &str, problem: impl Into<String>) -> Self {
        Self { source_name: source.to_owned(), entry: entry.to_owned(), problem: problem.into() }
    }

    pub(crate) fn syntax(source: &str, error: &toml::de::Error) -> Self {
        Self::new(source, "", error.to_string().trim_end().to_owned())
    }
}

/// A question a calendar cannot answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    /// The instant lies outside the span of dates the calendar's table was built for.
    #[error("{at} lies outside the calendar's table ({from}..{to}); build it with a wider span")]
    OutsideSpan {
        /// The instant asked about (or the deadline that would have been reached).
        at: Timestamp,
        /// First instant of the table.
        from: Timestamp,
        /// End of the table.
        to: Timestamp,
    },
    /// The calendar never opens, so no business time can ever accrue.
    #[error("the service window never opens")]
    NeverOpen,
    /// `elapsed(a, b)` was asked with `b` before `a`.
    #[error("interval end {end} is before its start {start}")]
    Reversed {
        /// Start of the interval.
        start: Timestamp,
        /// End of the interval.
        end: Timestamp,
    },
    /// Pause intervals must be given in order of their start.
    #[error("pause intervals are not sorted by start")]
    UnsortedPauses,
}

/// A clock history that cannot have happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// The first event must be a start, and only the first.
    #[error("a clock's history must begin with exactly one start event")]
    NoStart,
    /// Events must be in time order.
    #[error("event {index} at {at} is earlier than the event before it")]
    OutOfOrder {
        /// Position in the history.
        index: usize,
        /// When it claims to have happened.
        at: Timestamp,
    },
    /// An event that the clock's state at that moment does not allow.
    #[error("event {index} ({event}) is not allowed while the clock is {state}")]
    NotAllowed {
        /// Position in the history.
        index: usize,
        /// The event's kind.
        event: &'static str,
        /// The state the clock was in.
        state: &'static str,
    },
    /// The calendar could not answer.
    #[error(transparent)]
    Calendar(#[from] CalendarError),
}
