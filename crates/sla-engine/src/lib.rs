//! The SLA engine: service-window calendars, business-time arithmetic, target rules and clocks.
//!
//! Pure by design: no I/O, no async, no clock reads. Callers pass "now" and
//! configuration text in, and get instants and durations back, so that every
//! time-based behaviour of the service can be tested without waiting.
//!
//! - [`ServiceWindow`] describes a window (服务时间): timezone, weekly hours, holiday rule.
//! - [`HolidaySchedule`] holds a region's holidays and make-up workdays, one file per year.
//! - [`Calendar`] builds the two into a table answering [`Calendar::deadline`],
//!   [`Calendar::elapsed`], [`Calendar::is_open`] and [`Calendar::next_open`].
//! - [`Policy`] chooses a ticket's target for each metric; [`Clock`] tracks one target.

mod calendar;
mod clock;
mod error;
mod holidays;
mod policy;
mod time;
mod window;

pub use calendar::{Calendar, CalendarSet, Calendars, DateSpan, Reckoning};
pub use chrono_tz::Tz;
pub use clock::{
    BREACH, Clock, ClockEvent, ClockEventKind, ClockState, ClockStatus, Crossing, DEFAULT_THRESHOLDS,
};
pub use error::{CalendarError, ClockError, ConfigError};
pub use holidays::{DayKind, HolidaySchedule};
pub use policy::{
    Chosen, Condition, Metric, OpenedIn, Policy, PolicyError, RuleIndex, Severity, TargetRule, TicketFacts,
};
pub use time::{BusinessSeconds, Timestamp};
pub use window::{DEFAULT_HOLIDAY_REGION, DEFAULT_TIMEZONE, DayHours, Preset, ServiceWindow};
