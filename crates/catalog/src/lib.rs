//! The contract as data: the catalog of line items, agencies and their
//! service requirements, loaded from a configuration folder and checked
//! against the contract's own figures.
//!
//! Nothing about any one contract is written here: another contract is
//! another folder (`catalog/contract.toml`, `catalog/agencies.toml`,
//! `catalog/items.toml`, and `calendars/`).

mod load;
mod model;
mod money;

use std::fmt;
use std::path::Path;

use serde::Serialize;
use sla_engine::{BusinessSeconds, CalendarSet, ConfigError};

pub use model::{
    Agency, Contract, Every, FilingPeriod, Inspection, LineItem, Payment, Penalty, ServiceMode,
    ServicePeriod, Target,
};
pub use money::Money;

/// Deployment-wide readings of the contract's words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Settings {
    /// How long "实时" (real-time) allows: one named, configurable duration.
    pub real_time: BusinessSeconds,
    /// The timezone the contract's dates are read in.
    #[serde(serialize_with = "tz_name")]
    pub timezone: sla_engine::Tz,
    /// The metrics whose clocks stop while a ticket waits on the agency.
    pub paused_while_waiting: Vec<sla_engine::Metric>,
}

fn tz_name<S: serde::Serializer>(tz: &sla_engine::Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// Everything the configuration folder says about the contract, checked.
#[derive(Clone, Debug, Serialize)]
pub struct Catalog {
    /// The contract header.
    pub contract: Contract,
    /// The payment schedule.
    pub payments: Vec<Payment>,
    /// Penalty clauses with figures.
    pub penalties: Vec<Penalty>,
    /// Readings of the contract's words.
    pub settings: Settings,
    /// Periods for filing-time inspections.
    pub filing_periods: Vec<FilingPeriod>,
    /// The agencies served.
    pub agencies: Vec<Agency>,
    /// The line items, in annex order.
    pub items: Vec<LineItem>,
    /// The service windows, built.
    #[serde(skip)]
    pub calendars: CalendarSet,
}

/// Every problem found in a configuration folder.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors(pub Vec<ConfigError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl Catalog {
    /// Load and check the catalog and calendars under `config_dir`.
    pub fn load(config_dir: &Path) -> Result<Self, LoadErrors> {
        load::load(config_dir)
    }

    /// The agency with this key.
    pub fn agency(&self, key: &str) -> Option<&Agency> {
        self.agencies.iter().find(|a| a.key == key)
    }

    /// The line item with this sequence number.
    pub fn item(&self, seq: u32) -> Option<&LineItem> {
        self.items.iter().find(|i| i.seq == seq)
    }
}

/// Load and build only the calendars under `config_dir/calendars`.
pub fn load_calendars(config_dir: &Path) -> Result<CalendarSet, LoadErrors> {
    load::load_calendars(config_dir)
}

#[cfg(test)]
mod tests {
    use super::load::parse_duration;
    use sla_engine::BusinessSeconds;

    #[test]
    fn durations() {
        let rt = BusinessSeconds::from_minutes(15);
        assert_eq!(parse_duration("0.5h", rt), Ok(BusinessSeconds::from_minutes(30)));
        assert_eq!(parse_duration("30m", rt), Ok(BusinessSeconds::from_minutes(30)));
        assert_eq!(parse_duration("72h", rt), Ok(BusinessSeconds::from_hours(72)));
        assert_eq!(parse_duration("1.25h", rt), Ok(BusinessSeconds::from_minutes(75)));
        assert_eq!(parse_duration("realtime", rt), Ok(rt));
        for bad in
            ["", "h", "0h", "5", "5d", "1.h", ".5h", "-1h", "1,5h", "0.00001m", "99999999999999999999h"]
        {
            assert!(parse_duration(bad, rt).is_err(), "{bad:?} should be rejected");
        }
    }
}
