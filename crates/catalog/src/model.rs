//! The contract's records once loaded and resolved: what the service reads,
//! with the annex's own wording kept beside every normalized value.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Serialize, Serializer};
use sla_engine::{Policy, TargetRule};

use crate::money::Money;

/// Dates a service runs, both ends inclusive, in the contract's timezone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ServicePeriod {
    /// First day of service.
    pub from: NaiveDate,
    /// Last day of service.
    pub to: NaiveDate,
}

impl ServicePeriod {
    /// True when `other` lies wholly inside this period.
    pub fn contains(&self, other: &ServicePeriod) -> bool {
        self.from <= other.from && other.to <= self.to
    }
}

/// The contract header (政府采购合同).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Contract {
    /// 项目名称.
    pub name: String,
    /// 政府采购管理部门备案编号, e.g. 洛采公开-2026-54.
    pub registration_number: String,
    /// 招标采购文件编号.
    pub tender_number: String,
    /// 甲方: the buyer.
    pub buyer: String,
    /// 乙方: the supplier.
    pub supplier: String,
    /// 合同总金额.
    #[serde(rename = "total_yuan")]
    pub total: Money,
    /// 运维服务期限.
    pub service_period: ServicePeriod,
    /// The contract's own sentences for the figures above.
    pub source_text: BTreeMap<String, String>,
}

/// One instalment of the payment schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Payment {
    /// 1 for the first payment, 2 for the second.
    pub seq: u32,
    /// Share of the contract total.
    pub percent: u32,
    /// The amount the contract prints.
    #[serde(rename = "amount_yuan")]
    pub amount: Money,
    /// When it falls due, in English.
    pub condition: String,
    /// The clause.
    pub source_text: String,
}

/// A penalty clause (违约责任) with its figure.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Penalty {
    /// Stable name.
    pub key: String,
    /// In English, with the figure.
    pub summary: String,
    /// A percentage of `basis`, when the clause gives one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
    /// An amount, when the clause gives or implies one.
    #[serde(rename = "amount_yuan", skip_serializing_if = "Option::is_none")]
    pub amount: Option<Money>,
    /// What the percentage applies to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub basis: Option<String>,
    /// The clause.
    pub source_text: String,
}

/// A period in which "daily during filing periods" (填报期间每天) inspections run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FilingPeriod {
    /// The set of periods an inspection names.
    pub set: String,
    /// The dates, inclusive.
    pub period: ServicePeriod,
    /// Where the dates come from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A government agency served under the contract (服务单位).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Agency {
    /// Stable ASCII key.
    pub key: String,
    /// The name as the annex prints it.
    pub name: String,
}

/// How the supplier serves an item (服务方式).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceMode {
    /// 驻场: engineers stationed at the agency.
    Resident,
    /// 远程: remote support only.
    Remote,
    /// 按需到场: remote first, on site when remote cannot resolve.
    OnCall,
    /// 远程技术支持+现场技术保障.
    Mixed,
}

/// How often an inspection recurs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Every {
    /// 每天.
    Day,
    /// 每周.
    Week,
    /// 每月.
    Month,
    /// 每季度.
    Quarter,
    /// 每年.
    Year,
}

/// An inspection cycle (巡检周期).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Inspection {
    /// The period it recurs in.
    pub every: Every,
    /// How many times per period.
    pub times: u32,
    /// Named times of day, e.g. morning and evening.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub slots: Vec<String>,
    /// The device class it covers, for per-class cycles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_class: Option<String>,
    /// Only during this set of filing periods.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub during: Option<String>,
    /// The annex's words.
    pub source: String,
}

/// One target rule of an item, with the words it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    /// The rule the engine applies.
    pub rule: TargetRule,
    /// The duration as written in configuration (e.g. `0.5h`, `realtime`).
    pub duration: String,
    /// The annex's words.
    pub source: String,
    /// The reading chosen, where the annex is unclear.
    pub note: Option<String>,
}

impl Serialize for Target {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct View<'a> {
            metric: &'a str,
            minutes: serde_json::Number,
            seconds: u64,
            duration: &'a str,
            calendar: &'a str,
            when: &'a sla_engine::Condition,
            source: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            note: Option<&'a str>,
        }
        let seconds = self.rule.target.get();
        // Whole minutes print as integers; a target such as 90 s as 1.5.
        let minutes = if seconds.is_multiple_of(60) {
            serde_json::Number::from(seconds / 60)
        } else {
            serde_json::Number::from_f64(seconds as f64 / 60.0).unwrap_or_else(|| serde_json::Number::from(0))
        };
        View {
            metric: self.rule.metric.as_str(),
            minutes,
            seconds,
            duration: &self.duration,
            calendar: &self.rule.calendar,
            when: &self.rule.when,
            source: &self.source,
            note: self.note.as_deref(),
        }
        .serialize(serializer)
    }
}

/// A line item of the annex 《运维项目清单明细》: one system of one agency.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LineItem {
    /// 序号.
    pub seq: u32,
    /// The agency's key.
    pub agency: String,
    /// 运维项目: the system.
    pub name: String,
    /// 运维资金.
    #[serde(rename = "amount_yuan")]
    pub amount: Money,
    /// 服务期限, resolved: the contract's unless the item gives its own.
    pub service_period: ServicePeriod,
    /// True when the annex gives this item its own dates.
    pub own_period: bool,
    /// 服务级别.
    pub service_level: Option<u32>,
    /// 服务时间: the calendar its targets normally count in; `None` when not stated.
    pub service_window: Option<String>,
    /// 驻场 engineers.
    pub resident_engineers: Option<u32>,
    /// 服务方式.
    pub service_mode: Option<ServiceMode>,
    /// Target rules, in the order they are tried.
    pub targets: Vec<Target>,
    /// Inspection cycles.
    #[serde(rename = "inspection")]
    pub inspections: Vec<Inspection>,
    /// Warning thresholds for this item's clocks, overriding the contract-wide ones.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_warn: Option<Vec<u32>>,
    /// The reading chosen where the annex is ambiguous.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The annex's own words beside each normalized value.
    pub source_text: BTreeMap<String, String>,
}

impl LineItem {
    /// The item's targets as an engine policy.
    pub fn policy(&self) -> Policy {
        Policy::new(self.targets.iter().map(|t| t.rule.clone()).collect())
    }
}
