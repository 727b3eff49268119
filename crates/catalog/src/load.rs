//! Reading the configuration folder: the contract, agencies and items under
//! `catalog/`, windows and holidays under `calendars/`, every error collected
//! with the file and the entry it concerns.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::Deserialize;
use sla_engine::{BusinessSeconds, CalendarSet, Condition, ConfigError, Metric, TargetRule};

use crate::model::{
    Agency, Contract, Every, FilingPeriod, Inspection, LineItem, Payment, Penalty, ServiceMode,
    ServicePeriod, Target,
};
use crate::money::Money;
use crate::{
    AlertPolicy, Catalog, CatalogText, Escalation, GeneralRule, LoadErrors, MetricName, Recipients, Settings,
};

// --- the files as written -------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ContractFile {
    contract: RawContract,
    #[serde(default)]
    payment: Vec<RawPayment>,
    #[serde(default)]
    penalty: Vec<RawPenalty>,
    settings: RawSettings,
    #[serde(default)]
    filing_period: Vec<RawFilingPeriod>,
    #[serde(default)]
    alerts: Option<RawAlerts>,
    /// Rules the whole contract sets beside every item's own (合同通用条款).
    #[serde(default)]
    rule: Vec<RawRule>,
    /// What people call each metric.
    #[serde(default)]
    metric_names: BTreeMap<String, RawMetricName>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMetricName {
    zh: String,
    en: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    key: String,
    metric: String,
    duration: String,
    calendar: String,
    #[serde(default)]
    when: Condition,
    source: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAlerts {
    #[serde(default = "default_warn")]
    warn: Vec<u32>,
    #[serde(default)]
    warn_by_severity: BTreeMap<String, Vec<u32>>,
    #[serde(default)]
    escalate: Vec<RawEscalation>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEscalation {
    percent: u32,
    notify: Vec<String>,
}

fn default_warn() -> Vec<u32> {
    vec![50, 80]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawContract {
    name: String,
    registration_number: String,
    tender_number: String,
    buyer: String,
    supplier: String,
    total_yuan: String,
    service_period: RawPeriod,
    #[serde(default)]
    source_text: BTreeMap<String, String>,
}

#[derive(Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct RawPeriod {
    from: String,
    to: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPayment {
    seq: u32,
    percent: u32,
    amount_yuan: String,
    condition: String,
    source_text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPenalty {
    key: String,
    summary: String,
    percent: Option<f64>,
    amount_yuan: Option<String>,
    basis: Option<String>,
    source_text: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    real_time_minutes: u64,
    timezone: String,
    #[serde(default = "default_paused")]
    paused_while_waiting: Vec<String>,
}

fn default_paused() -> Vec<String> {
    vec!["on_site".into(), "recovery".into()]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFilingPeriod {
    set: String,
    from: String,
    to: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AgenciesFile {
    agency: Vec<RawAgency>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgency {
    key: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemsFile {
    item: Vec<RawItem>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawItem {
    seq: u32,
    agency: String,
    name: String,
    amount_yuan: String,
    amount_source: String,
    period: Option<RawPeriod>,
    period_source: String,
    service_level: Option<u32>,
    service_window: Option<String>,
    resident_engineers: Option<u32>,
    service_mode: Option<ServiceMode>,
    note: Option<String>,
    /// Warning thresholds for this item's clocks, instead of the contract's.
    alert_warn: Option<Vec<u32>>,
    #[serde(default)]
    source_text: BTreeMap<String, String>,
    #[serde(default)]
    target: Vec<RawTarget>,
    #[serde(default)]
    inspection: Vec<RawInspection>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTarget {
    metric: String,
    duration: String,
    calendar: String,
    #[serde(default)]
    when: Condition,
    source: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawInspection {
    every: Every,
    #[serde(default = "one")]
    times: u32,
    #[serde(default)]
    slots: Vec<String>,
    device_class: Option<String>,
    during: Option<String>,
    source: String,
}

fn one() -> u32 {
    1
}

// --- loading -----------------------------------------------------------------

/// Collects problems instead of stopping at the first, so that one run of
/// `itsm catalog check` lists everything a reviewer must fix.
#[derive(Default)]
struct Problems(Vec<ConfigError>);

impl Problems {
    fn add(&mut self, source: &str, entry: impl Into<String>, problem: impl Into<String>) {
        self.0.push(ConfigError {
            source_name: source.to_owned(),
            entry: entry.into(),
            problem: problem.into(),
        });
    }

    fn date(&mut self, source: &str, entry: &str, field: &str, text: &str) -> Option<NaiveDate> {
        match NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            Ok(d) => Some(d),
            Err(e) => {
                self.add(source, entry, format!("{field} = \"{text}\" is not a date (YYYY-MM-DD): {e}"));
                None
            }
        }
    }

    fn period(&mut self, source: &str, entry: &str, field: &str, raw: &RawPeriod) -> Option<ServicePeriod> {
        let from = self.date(source, entry, &format!("{field}.from"), &raw.from);
        let to = self.date(source, entry, &format!("{field}.to"), &raw.to);
        let (from, to) = (from?, to?);
        if to < from {
            self.add(source, entry, format!("{field} is reversed: {from} is after {to}"));
            return None;
        }
        Some(ServicePeriod { from, to })
    }

    fn money(&mut self, source: &str, entry: &str, field: &str, text: &str) -> Option<Money> {
        Money::parse_yuan(text).map_err(|e| self.add(source, entry, format!("{field}: {e}"))).ok()
    }
}

fn parse<T: serde::de::DeserializeOwned>(source: &str, text: &str, problems: &mut Problems) -> Option<T> {
    toml::from_str(text).map_err(|e| problems.add(source, "", e.to_string().trim_end().to_owned())).ok()
}

/// Check the catalog files' text against already built calendars.
pub(crate) fn from_text(text: CatalogText<'_>, calendars: CalendarSet) -> Result<Catalog, LoadErrors> {
    let mut p = Problems::default();
    let contract_file: Option<ContractFile> = parse("catalog/contract.toml", text.contract, &mut p);
    let agencies_file: Option<AgenciesFile> = parse("catalog/agencies.toml", text.agencies, &mut p);
    let items_file: Option<ItemsFile> = parse("catalog/items.toml", text.items, &mut p);
    let (Some(mut cf), Some(af), Some(itf)) = (contract_file, agencies_file, items_file) else {
        return Err(LoadErrors(p.0));
    };

    let raw_rules = std::mem::take(&mut cf.rule);
    let (contract, payments, penalties, settings, filing_periods) =
        resolve_contract(cf, &mut p).ok_or_else(|| LoadErrors(std::mem::take(&mut p.0)))?;
    let rules = resolve_rules(raw_rules, &settings, &calendars, &mut p);
    let agencies = resolve_agencies(af, &mut p);
    let items = resolve_items(itf, &contract, &settings, &agencies, &filing_periods, &calendars, &mut p);
    check_figures(&contract, &payments, &items, &agencies, &mut p);
    check_metric_names(&settings, &rules, &items, &mut p);

    if p.0.is_empty() {
        Ok(Catalog {
            contract,
            payments,
            penalties,
            settings,
            rules,
            filing_periods,
            agencies,
            items,
            calendars,
        })
    } else {
        Err(LoadErrors(p.0))
    }
}

type ContractParts = (Contract, Vec<Payment>, Vec<Penalty>, Settings, Vec<FilingPeriod>);

fn resolve_contract(cf: ContractFile, p: &mut Problems) -> Option<ContractParts> {
    const SRC: &str = "catalog/contract.toml";
    let c = cf.contract;
    let total = p.money(SRC, "contract", "total_yuan", &c.total_yuan);
    let period = p.period(SRC, "contract", "service_period", &c.service_period);
    let timezone = match c_tz(&cf.settings.timezone) {
        Some(tz) => Some(tz),
        None => {
            p.add(
                SRC,
                "settings",
                format!("timezone = \"{}\" is not a known IANA timezone", cf.settings.timezone),
            );
            None
        }
    };
    if cf.settings.real_time_minutes == 0 {
        p.add(SRC, "settings", "real_time_minutes must be at least 1");
    }
    let real_time = cf.settings.real_time_minutes.checked_mul(60).map(BusinessSeconds::new);
    if real_time.is_none() {
        p.add(SRC, "settings", "real_time_minutes is too large to count in seconds");
    }
    let payments = cf
        .payment
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let entry = format!("payment[{i}] seq={}", r.seq);
            let amount = p.money(SRC, &entry, "amount_yuan", &r.amount_yuan)?;
            Some(Payment {
                seq: r.seq,
                percent: r.percent,
                amount,
                condition: r.condition.clone(),
                source_text: r.source_text.clone(),
            })
        })
        .collect();
    let penalties = cf
        .penalty
        .iter()
        .map(|r| {
            let entry = format!("penalty \"{}\"", r.key);
            let amount = r.amount_yuan.as_deref().and_then(|a| p.money(SRC, &entry, "amount_yuan", a));
            Penalty {
                key: r.key.clone(),
                summary: r.summary.clone(),
                percent: r.percent,
                amount,
                basis: r.basis.clone(),
                source_text: r.source_text.clone(),
            }
        })
        .collect();
    let filing_periods = cf
        .filing_period
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            let entry = format!("filing_period[{i}] \"{}\"", r.set);
            let period =
                p.period(SRC, &entry, "period", &RawPeriod { from: r.from.clone(), to: r.to.clone() })?;
            Some(FilingPeriod { set: r.set.clone(), period, note: r.note.clone() })
        })
        .collect();
    let contract = Contract {
        name: c.name,
        registration_number: c.registration_number,
        tender_number: c.tender_number,
        buyer: c.buyer,
        supplier: c.supplier,
        total: total?,
        service_period: period?,
        source_text: c.source_text,
    };
    let mut paused_while_waiting = Vec::new();
    for name in &cf.settings.paused_while_waiting {
        match name.parse::<Metric>() {
            Ok(m) => paused_while_waiting.push(m),
            Err(e) => p.add(SRC, "settings", format!("paused_while_waiting: {e}")),
        }
    }
    let alerts = resolve_alerts(cf.alerts, p);
    let metric_names = resolve_metric_names(cf.metric_names, p);
    let settings =
        Settings { real_time: real_time?, timezone: timezone?, paused_while_waiting, alerts, metric_names };
    Some((contract, payments, penalties, settings, filing_periods))
}

fn resolve_alerts(raw: Option<RawAlerts>, p: &mut Problems) -> AlertPolicy {
    const SRC: &str = "catalog/contract.toml";
    let Some(raw) = raw else { return AlertPolicy::default() };
    fn check_warn(p: &mut Problems, entry: &str, list: &[u32]) {
        if let Some(bad) = list.iter().find(|&&x| x == 0 || x >= 100) {
            p.add(
                SRC,
                entry,
                format!("warning threshold {bad} must be between 1 and 99 (percent of the target)"),
            );
        }
    }
    check_warn(p, "alerts.warn", &raw.warn);
    let mut warn_by_severity = BTreeMap::new();
    for (name, list) in raw.warn_by_severity {
        check_warn(p, &format!("alerts.warn_by_severity.{name}"), &list);
        match name.parse::<sla_engine::Severity>() {
            Ok(sev) => {
                warn_by_severity.insert(sev, list);
            }
            Err(e) => p.add(SRC, "alerts.warn_by_severity", e),
        }
    }
    let mut escalate = Vec::new();
    for (i, e) in raw.escalate.into_iter().enumerate() {
        let entry = format!("alerts.escalate[{i}]");
        if e.percent <= 100 {
            p.add(
                SRC,
                &entry,
                format!("percent {} must be above 100 (escalations come after the breach)", e.percent),
            );
        }
        let mut notify = Vec::new();
        for g in &e.notify {
            match g.parse::<Recipients>() {
                Ok(r) => notify.push(r),
                Err(msg) => p.add(SRC, &entry, msg),
            }
        }
        escalate.push(Escalation { percent: e.percent, notify });
    }
    AlertPolicy { warn: raw.warn, warn_by_severity, escalate }
}

/// Each metric's names: a known metric's key, one line of text in each language.
fn resolve_metric_names(
    raw: BTreeMap<String, RawMetricName>,
    p: &mut Problems,
) -> BTreeMap<String, MetricName> {
    const SRC: &str = "catalog/contract.toml";
    let mut out = BTreeMap::new();
    for (key, name) in raw {
        let entry = format!("metric_names.{key}");
        if let Err(e) = key.parse::<Metric>() {
            p.add(SRC, &entry, e);
            continue;
        }
        for (lang, text) in [("zh", &name.zh), ("en", &name.en)] {
            if text.trim().is_empty() || text.chars().any(char::is_control) {
                p.add(SRC, &entry, format!("{lang} must be one line of text"));
            }
        }
        out.insert(key, MetricName { zh: name.zh, en: name.en });
    }
    out
}

/// Every metric a target counts has a name for people (reports and summaries show it).
fn check_metric_names(settings: &Settings, rules: &[GeneralRule], items: &[LineItem], p: &mut Problems) {
    const SRC: &str = "catalog/contract.toml";
    let used = rules.iter().map(|r| (r.target.rule.metric.as_str(), format!("rule \"{}\"", r.key))).chain(
        items
            .iter()
            .flat_map(|i| i.targets.iter().map(move |t| (t.rule.metric.as_str(), format!("item {}", i.seq)))),
    );
    let mut told = BTreeSet::new();
    for (metric, user) in used {
        if settings.metric_name(metric).is_none() && told.insert(metric.to_owned()) {
            p.add(
                SRC,
                "metric_names",
                format!("metric \"{metric}\" ({user}) has no name: add it to [metric_names]"),
            );
        }
    }
}

fn c_tz(name: &str) -> Option<sla_engine::Tz> {
    name.parse().ok()
}

fn resolve_agencies(af: AgenciesFile, p: &mut Problems) -> Vec<Agency> {
    const SRC: &str = "catalog/agencies.toml";
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, a) in af.agency.into_iter().enumerate() {
        let entry = format!("agency[{i}] \"{}\"", a.key);
        if a.key.is_empty()
            || !a.key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            p.add(SRC, &entry, "key must be lowercase ASCII letters, digits and hyphens");
        }
        if a.name.trim().is_empty() {
            p.add(SRC, &entry, "name is empty");
        }
        if !seen.insert(a.key.clone()) {
            p.add(SRC, &entry, "key is used twice");
        }
        out.push(Agency { key: a.key, name: a.name });
    }
    out
}

/// A duration as the catalog writes it: `30m`, `0.5h`, `2h`, or `realtime`.
pub(crate) fn parse_duration(text: &str, real_time: BusinessSeconds) -> Result<BusinessSeconds, String> {
    if text == "realtime" {
        return Ok(real_time);
    }
    let bad = || format!("duration \"{text}\" is not like \"30m\", \"0.5h\" or \"realtime\"");
    // Strip the unit as a character: splitting off the last byte panicked
    // when the text ended in a multi-byte one such as a full-width ｍ.
    let (number, unit_seconds): (&str, u64) = match (text.strip_suffix('m'), text.strip_suffix('h')) {
        (Some(number), _) => (number, 60),
        (_, Some(number)) => (number, 3600),
        _ => return Err(bad()),
    };
    let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 4
        || (number.contains('.') && frac.is_empty())
    {
        return Err(bad());
    }
    let scale = 10u64.pow(frac.len() as u32);
    let whole: u64 = whole.parse().map_err(|_| bad())?;
    let frac_value: u64 = if frac.is_empty() { 0 } else { frac.parse().map_err(|_| bad())? };
    let scaled = whole
        .checked_mul(scale)
        .and_then(|w| w.checked_add(frac_value))
        .and_then(|n| n.checked_mul(unit_seconds))
        .ok_or_else(bad)?;
    if scaled % scale != 0 {
        return Err(format!("duration \"{text}\" is not a whole number of seconds"));
    }
    match scaled / scale {
        0 => Err(format!("duration \"{text}\" is zero")),
        s => Ok(BusinessSeconds::new(s)),
    }
}

#[allow(clippy::too_many_arguments)]
fn resolve_items(
    itf: ItemsFile,
    contract: &Contract,
    settings: &Settings,
    agencies: &[Agency],
    filing_periods: &[FilingPeriod],
    calendars: &CalendarSet,
    p: &mut Problems,
) -> Vec<LineItem> {
    let cx = ItemContext {
        contract,
        settings,
        agencies,
        filing_sets: filing_periods.iter().map(|f| f.set.as_str()).collect(),
        calendars,
    };
    itf.item.into_iter().enumerate().map(|(i, r)| cx.resolve(i, r, p)).collect()
}

/// What every item is checked against.
struct ItemContext<'a> {
    contract: &'a Contract,
    settings: &'a Settings,
    agencies: &'a [Agency],
    filing_sets: BTreeSet<&'a str>,
    calendars: &'a CalendarSet,
}

const ITEMS: &str = "catalog/items.toml";

impl ItemContext<'_> {
    /// One item, checked and resolved; problems are collected, not returned.
    fn resolve(&self, i: usize, r: RawItem, p: &mut Problems) -> LineItem {
        let entry = format!("item[{i}] seq={}", r.seq);
        if !self.agencies.iter().any(|a| a.key == r.agency) {
            p.add(ITEMS, &entry, format!("agency \"{}\" is not in agencies.toml", r.agency));
        }
        if r.name.trim().is_empty() {
            p.add(ITEMS, &entry, "name is empty");
        }
        let amount = p.money(ITEMS, &entry, "amount_yuan", &r.amount_yuan);
        if let (Some(a), Ok(printed)) = (amount, Money::parse_yuan(&r.amount_source))
            && a != printed
        {
            p.add(ITEMS, &entry, format!("amount_yuan {a} differs from the printed {}", r.amount_source));
        }
        let (service_period, own_period) = self.period(&entry, r.period.as_ref(), p);
        if let Some(window) = &r.service_window
            && self.calendars.get(window).is_none()
        {
            p.add(ITEMS, &entry, format!("service_window \"{window}\" is not a defined calendar"));
        }
        check_sources(&entry, &r, p);
        let targets = self.targets(&entry, r.target, p);
        let inspections = self.inspections(&entry, r.inspection, p);
        if let Some(bad) = r.alert_warn.iter().flatten().find(|&&x| x == 0 || x >= 100) {
            p.add(ITEMS, &entry, format!("alert_warn threshold {bad} must be between 1 and 99"));
        }
        let mut source_text = r.source_text;
        source_text.insert("period".into(), r.period_source);
        source_text.insert("amount".into(), r.amount_source);
        LineItem {
            seq: r.seq,
            agency: r.agency,
            name: r.name,
            amount: amount.unwrap_or_default(),
            service_period,
            own_period,
            service_level: r.service_level,
            service_window: r.service_window,
            resident_engineers: r.resident_engineers,
            service_mode: r.service_mode,
            targets,
            inspections,
            alert_warn: r.alert_warn,
            note: r.note,
            source_text,
        }
    }

    /// The item's own period (which may not start before the contract's), or the contract's.
    fn period(&self, entry: &str, raw: Option<&RawPeriod>, p: &mut Problems) -> (ServicePeriod, bool) {
        let contract = self.contract.service_period;
        let Some(raw) = raw else { return (contract, false) };
        match p.period(ITEMS, entry, "period", raw) {
            Some(period) => {
                if period.from < contract.from {
                    p.add(
                        ITEMS,
                        entry,
                        format!("period starts {} before the contract's {}", period.from, contract.from),
                    );
                }
                (period, true)
            }
            None => (contract, true),
        }
    }

    /// The item's target rules, each checked; a rule that can never apply is a problem.
    fn targets(&self, entry: &str, raw: Vec<RawTarget>, p: &mut Problems) -> Vec<Target> {
        let targets: Vec<Target> = raw
            .into_iter()
            .enumerate()
            .filter_map(|(j, t)| {
                let tentry = format!("{entry} target[{j}] {}", t.metric);
                let parts = TargetParts {
                    metric: t.metric,
                    duration: t.duration,
                    calendar: t.calendar,
                    when: t.when,
                    source: t.source,
                    note: t.note,
                };
                resolve_target(ITEMS, &tentry, parts, self.settings, self.calendars, p)
            })
            .collect();
        // A rule after an unconditional rule for the same metric can never apply.
        for (j, t) in targets.iter().enumerate() {
            if let Some(k) =
                targets[..j].iter().position(|e| e.rule.metric == t.rule.metric && e.rule.when.is_always())
            {
                p.add(
                    ITEMS,
                    format!("{entry} target[{j}] {}", t.rule.metric),
                    format!("can never apply: target[{k}] already applies to every ticket"),
                );
            }
        }
        targets
    }

    /// The item's inspection cycles, each checked.
    fn inspections(&self, entry: &str, raw: Vec<RawInspection>, p: &mut Problems) -> Vec<Inspection> {
        let mut out = Vec::new();
        for (j, ins) in raw.into_iter().enumerate() {
            let ientry = format!("{entry} inspection[{j}]");
            if ins.times == 0 {
                p.add(ITEMS, &ientry, "times must be at least 1");
            }
            if !ins.slots.is_empty() && ins.slots.len() as u32 != ins.times {
                p.add(ITEMS, &ientry, format!("{} slots named for {} times", ins.slots.len(), ins.times));
            }
            if let Some(set) = &ins.during
                && !self.filing_sets.contains(set.as_str())
            {
                p.add(
                    ITEMS,
                    &ientry,
                    format!("during = \"{set}\" names no filing_period set in contract.toml"),
                );
            }
            if ins.source.trim().is_empty() {
                p.add(ITEMS, &ientry, "source (the annex's words) is empty");
            }
            out.push(Inspection {
                every: ins.every,
                times: ins.times,
                slots: ins.slots,
                device_class: ins.device_class,
                during: ins.during,
                source: ins.source,
            });
        }
        out
    }
}

/// A target rule as written, in an item or among the contract's general rules.
struct TargetParts {
    metric: String,
    duration: String,
    calendar: String,
    when: Condition,
    source: String,
    note: Option<String>,
}

/// One target rule, checked: its metric, duration, calendars and words.
fn resolve_target(
    file: &str,
    entry: &str,
    t: TargetParts,
    settings: &Settings,
    calendars: &CalendarSet,
    p: &mut Problems,
) -> Option<Target> {
    let metric = t.metric.parse::<Metric>().map_err(|e| p.add(file, entry, e)).ok()?;
    let target = parse_duration(&t.duration, settings.real_time).map_err(|e| p.add(file, entry, e)).ok()?;
    if t.source.trim().is_empty() {
        p.add(file, entry, "source (the contract's words) is empty");
    }
    let rule = TargetRule { metric, when: t.when, target, calendar: t.calendar };
    if let Err(e) = sla_engine::Policy::new(vec![rule.clone()]).validate(calendars) {
        p.add(file, entry, e.to_string());
    }
    if rule.when.opened.is_none() && rule.when.calendar.is_some() {
        p.add(file, entry, "`when.calendar` is given without `when.opened`");
    }
    Some(Target { rule, duration: t.duration, source: t.source, note: t.note })
}

/// The contract's general rules, each checked like an item's targets and named by a unique key.
fn resolve_rules(
    raw: Vec<RawRule>,
    settings: &Settings,
    calendars: &CalendarSet,
    p: &mut Problems,
) -> Vec<GeneralRule> {
    const SRC: &str = "catalog/contract.toml";
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for (i, r) in raw.into_iter().enumerate() {
        let entry = format!("rule[{i}] \"{}\"", r.key);
        let key_ok = !r.key.is_empty()
            && r.key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !key_ok {
            p.add(SRC, &entry, "key must be lowercase ASCII letters, digits and underscores");
        }
        if !seen.insert(r.key.clone()) {
            p.add(SRC, &entry, "key is used twice");
        }
        let parts = TargetParts {
            metric: r.metric,
            duration: r.duration,
            calendar: r.calendar,
            when: r.when,
            source: r.source,
            note: r.note,
        };
        if let Some(target) = resolve_target(SRC, &entry, parts, settings, calendars, p) {
            out.push(GeneralRule { key: r.key, target });
        }
    }
    out
}

/// Every normalized value keeps the annex's wording beside it.
fn check_sources(entry: &str, r: &RawItem, p: &mut Problems) {
    for (field, present) in [
        ("service_level", r.service_level.is_some()),
        ("service_window", r.service_window.is_some()),
        ("resident_engineers", r.resident_engineers.is_some()),
        ("service_mode", r.service_mode.is_some()),
    ] {
        if present && r.source_text.get(field).is_none_or(|s| s.trim().is_empty()) {
            p.add(ITEMS, entry, format!("{field} has no source_text.{field} (the annex's words)"));
        }
    }
}

/// The contract's own figures: numbering, sums and the payment schedule.
fn check_figures(
    contract: &Contract,
    payments: &[Payment],
    items: &[LineItem],
    agencies: &[Agency],
    p: &mut Problems,
) {
    for (i, item) in items.iter().enumerate() {
        if item.seq as usize != i + 1 {
            p.add(
                "catalog/items.toml",
                format!("item[{i}] seq={}", item.seq),
                format!("expected seq {} (items are numbered 1..N in order)", i + 1),
            );
        }
    }
    // Sums are checked: enough large amounts overflow, and a sum that does
    // not fit cannot be the contract's total either.
    let sum_text =
        |sum: Option<Money>| sum.map_or_else(|| format!("more than {}", Money::MAX), |s| s.to_string());
    let sum = Money::checked_sum(items.iter().map(|i| i.amount));
    if sum != Some(contract.total) {
        p.add(
            "catalog/items.toml",
            "",
            format!("item amounts sum to {}, the contract total is {}", sum_text(sum), contract.total),
        );
    }
    let paid = Money::checked_sum(payments.iter().map(|x| x.amount));
    if !payments.is_empty() && paid != Some(contract.total) {
        p.add(
            "catalog/contract.toml",
            "payment",
            format!("payments sum to {}, the contract total is {}", sum_text(paid), contract.total),
        );
    }
    let percent: u64 = payments.iter().map(|x| u64::from(x.percent)).sum();
    if !payments.is_empty() && percent != 100 {
        p.add("catalog/contract.toml", "payment", format!("payment percents sum to {percent}, not 100"));
    }
    for x in payments {
        if contract.total.percent(x.percent) != Some(x.amount) {
            p.add(
                "catalog/contract.toml",
                format!("payment seq={}", x.seq),
                format!("{} % of {} is not {}", x.percent, contract.total, x.amount),
            );
        }
    }
    for a in agencies {
        if !items.iter().any(|i| i.agency == a.key) {
            p.add(
                "catalog/agencies.toml",
                format!("agency \"{}\"", a.key),
                "no line item belongs to this agency",
            );
        }
    }
}
