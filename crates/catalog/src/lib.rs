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
mod sources;

use std::fmt;
use std::path::Path;

use serde::Serialize;
use sla_engine::{BusinessSeconds, CalendarSet, ConfigError};

pub use model::{
    Agency, Contract, Every, FilingPeriod, Inspection, LineItem, Payment, Penalty, ServiceMode,
    ServicePeriod, Target,
};
pub use money::Money;
pub use sources::{
    CalendarInputs, ConfigFiles, HolidaySource, HolidayYear, Origin, parse_holiday_year, uncovered,
};

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
    /// When managers hear about a clock, and who.
    pub alerts: AlertPolicy,
    /// What people call each metric (by its snake_case name) in reports,
    /// summaries and pages; every metric a target uses has one.
    pub metric_names: std::collections::BTreeMap<String, MetricName>,
}

impl Settings {
    /// The names of `metric`, when the catalog gives them.
    pub fn metric_name(&self, metric: &str) -> Option<&MetricName> {
        self.metric_names.get(metric)
    }
}

/// A metric's name for people, in Chinese and English (`响应`, `Response`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MetricName {
    /// 中文, the annex's word in short: `响应`, `到场`, `恢复`.
    pub zh: String,
    /// English.
    pub en: String,
}

/// Who an alert goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Recipients {
    /// The engineer assigned to the ticket.
    Assignee,
    /// Managers bound to the ticket's agency.
    AgencyManagers,
    /// Managers bound to no agency (the supplier's).
    SupplierManagers,
    /// Administrators.
    Admins,
}

impl std::str::FromStr for Recipients {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "assignee" => Ok(Recipients::Assignee),
            "agency_managers" => Ok(Recipients::AgencyManagers),
            "supplier_managers" => Ok(Recipients::SupplierManagers),
            "admins" => Ok(Recipients::Admins),
            other => Err(format!(
                "\"{other}\" is not a recipient group (assignee, agency_managers, supplier_managers, admins)"
            )),
        }
    }
}

/// One escalation level past the breach.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Escalation {
    /// Percent of the target, above 100.
    pub percent: u32,
    /// Who hears of it.
    pub notify: Vec<Recipients>,
}

/// Alert thresholds: warnings before the breach (预警), the breach, escalations after it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct AlertPolicy {
    /// Warning thresholds in percent of the target.
    pub warn: Vec<u32>,
    /// Warning thresholds for particular severities, instead of `warn`.
    pub warn_by_severity: std::collections::BTreeMap<sla_engine::Severity, Vec<u32>>,
    /// Escalation levels.
    pub escalate: Vec<Escalation>,
}

impl Default for AlertPolicy {
    /// Warn at 50 % and 80 %; no escalations.
    fn default() -> Self {
        Self { warn: vec![50, 80], warn_by_severity: Default::default(), escalate: Vec::new() }
    }
}

impl AlertPolicy {
    /// Every threshold a clock of this severity watches (warnings and
    /// escalations; the breach is implied). An item's own warnings come
    /// first, then the severity's, then the contract's.
    pub fn thresholds(&self, item_warn: Option<&[u32]>, severity: sla_engine::Severity) -> Vec<u32> {
        let warn = item_warn.unwrap_or_else(|| self.warn_by_severity.get(&severity).unwrap_or(&self.warn));
        warn.iter().copied().chain(self.escalate.iter().map(|e| e.percent)).collect()
    }

    /// Who hears that a clock reached `percent`.
    pub fn recipients(&self, percent: u32) -> Vec<Recipients> {
        match percent {
            p if p < 100 => vec![Recipients::Assignee, Recipients::SupplierManagers],
            100 => vec![Recipients::AgencyManagers, Recipients::SupplierManagers],
            p => self.escalate.iter().find(|e| e.percent == p).map_or_else(
                || vec![Recipients::AgencyManagers, Recipients::SupplierManagers],
                |e| e.notify.clone(),
            ),
        }
    }
}

fn tz_name<S: serde::Serializer>(tz: &sla_engine::Tz, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(tz.name())
}

/// A rule the whole contract sets beside every item's own (合同通用条款):
/// for a ticket it applies to, it competes with the item's rule for the same
/// metric, and the earlier deadline wins.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct GeneralRule {
    /// A stable name (e.g. `system_down_response`).
    pub key: String,
    /// The rule, with the contract's words.
    #[serde(flatten)]
    pub target: Target,
}

impl Catalog {
    /// The general rules as the engine takes them.
    pub fn general_rules(&self) -> Vec<sla_engine::TargetRule> {
        self.rules.iter().map(|r| r.target.rule.clone()).collect()
    }
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
    /// Rules the whole contract sets beside every item's own targets.
    pub rules: Vec<GeneralRule>,
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

/// The text of the three files under `catalog/`, for checking without a folder.
#[derive(Clone, Copy, Debug)]
pub struct CatalogText<'a> {
    /// `catalog/contract.toml`: header, payments, penalties, settings, alerts.
    pub contract: &'a str,
    /// `catalog/agencies.toml`.
    pub agencies: &'a str,
    /// `catalog/items.toml`.
    pub items: &'a str,
}

impl Catalog {
    /// Load and check the catalog and calendars under `config_dir`.
    pub fn load(config_dir: &Path) -> Result<Self, LoadErrors> {
        let files = ConfigFiles::read_folder(config_dir)?;
        let calendars = CalendarInputs::from_files(&files, HolidaySource::Folder)?.build()?;
        Self::load_files(&files, calendars)
    }

    /// Load and check the catalog of `files` against calendars already built
    /// (from these files' windows and whatever holiday years apply).
    pub fn load_files(files: &ConfigFiles, calendars: CalendarSet) -> Result<Self, LoadErrors> {
        let text = CatalogText {
            contract: files.require("catalog/contract.toml")?,
            agencies: files.require("catalog/agencies.toml")?,
            items: files.require("catalog/items.toml")?,
        };
        load::from_text(text, calendars)
    }

    /// Check the catalog files given as text, against calendars already
    /// built (with [`load_calendars`] or [`CalendarSet::build`]). Errors name
    /// the files as [`Catalog::load`] does; the fuzz target feeds this
    /// arbitrary text, since reading a folder per input would be too slow.
    pub fn from_text(text: CatalogText<'_>, calendars: CalendarSet) -> Result<Self, LoadErrors> {
        load::from_text(text, calendars)
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
    CalendarInputs::from_files(&ConfigFiles::read_folder(config_dir)?, HolidaySource::Folder)?.build()
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
        for bad in [
            "",
            "h",
            "0h",
            "5",
            "5d",
            "1.h",
            ".5h",
            "-1h",
            "1,5h",
            "0.00001m",
            "99999999999999999999h",
            "2hｍ",
            "1844674407370955.9999m",
        ] {
            assert!(parse_duration(bad, rt).is_err(), "{bad:?} should be rejected");
        }
    }
}
