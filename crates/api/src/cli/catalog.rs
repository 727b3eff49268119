//! `itsm catalog check` and `itsm catalog show --json`: the catalog as a
//! reviewer reads it, and as other programs read it.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use catalog::{Catalog, Inspection, LineItem};
use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use sla_engine::{Metric, OpenedIn};

#[derive(clap::Subcommand)]
pub(crate) enum CatalogAction {
    /// Load and validate the configuration; print a summary table.
    Check,
    /// Print the normalized catalog.
    Show {
        /// As JSON (the only format, and the default).
        #[arg(long, default_value_t = true)]
        json: bool,
    },
}

/// Run a catalog subcommand.
pub(crate) fn run(config_dir: &Path, action: &CatalogAction) -> ExitCode {
    match action {
        CatalogAction::Check => check(config_dir),
        CatalogAction::Show { .. } => show_json(config_dir),
    }
}

fn load(config_dir: &Path) -> Result<Catalog, ExitCode> {
    Catalog::load(config_dir).map_err(|errors| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(
            err,
            "error: the catalog in {} has {} problem(s):",
            config_dir.display(),
            errors.0.len()
        );
        for e in &errors.0 {
            let _ = writeln!(err, "  {e}");
        }
        ExitCode::FAILURE
    })
}

/// Validate and print one row per item, then the totals.
fn check(config_dir: &Path) -> ExitCode {
    let catalog = match load(config_dir) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_content_arrangement(ContentArrangement::Disabled).set_header(
        vec!["#", "agency", "item", "window", "response", "on-site", "recovery", "inspection", "amount (¥)"],
    );
    for item in &catalog.items {
        let agency = catalog.agency(&item.agency).map_or(item.agency.as_str(), |a| a.name.as_str());
        table.add_row(vec![
            item.seq.to_string(),
            agency.to_owned(),
            truncate(&item.name, 24),
            item.service_window.clone().unwrap_or_else(|| "—".into()),
            targets(item, &Metric::Response),
            targets(item, &Metric::OnSite),
            targets(item, &Metric::Recovery),
            inspections(&item.inspections),
            item.amount.to_string(),
        ]);
    }
    let c = &catalog.contract;
    let rules: usize = catalog.items.iter().map(|i| i.targets.len()).sum();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{} ({})", c.name, c.registration_number);
    let _ = writeln!(out, "{table}");
    let _ = writeln!(
        out,
        "ok: {} line items of {} agencies, {} target rules, total ¥{} = contract total; payments {}; service {}..{}",
        catalog.items.len(),
        catalog.agencies.len(),
        rules,
        c.total,
        catalog
            .payments
            .iter()
            .map(|p| format!("{} % ¥{}", p.percent, p.amount))
            .collect::<Vec<_>>()
            .join(" + "),
        c.service_period.from,
        c.service_period.to,
    );
    ExitCode::SUCCESS
}

/// Print the normalized catalog as JSON.
fn show_json(config_dir: &Path) -> ExitCode {
    let catalog = match load(config_dir) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let view = serde_json::json!({
        "contract": {
            "name": catalog.contract.name,
            "registration_number": catalog.contract.registration_number,
            "tender_number": catalog.contract.tender_number,
            "buyer": catalog.contract.buyer,
            "supplier": catalog.contract.supplier,
            "total_yuan": catalog.contract.total,
            "service_period": catalog.contract.service_period,
            "payments": catalog.payments,
            "penalties": catalog.penalties,
            "settings": catalog.settings,
            "filing_periods": catalog.filing_periods,
            "source_text": catalog.contract.source_text,
        },
        "rules": catalog.rules,
        "agencies": catalog.agencies,
        "items": catalog.items.iter().map(|i| {
            let mut v = serde_json::to_value(i).unwrap_or_default();
            if let Some(name) = catalog.agency(&i.agency).map(|a| a.name.clone()) {
                v["agency_name"] = name.into();
            }
            v
        }).collect::<Vec<_>>(),
    });
    match serde_json::to_writer_pretty(std::io::stdout().lock(), &view) {
        Ok(()) => {
            let _ = writeln!(std::io::stdout());
            ExitCode::SUCCESS
        }
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "error: cannot write JSON: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One metric's rules, e.g. `0.5h` or `15m in 5x8 / 0.5h outside`.
fn targets(item: &LineItem, metric: &Metric) -> String {
    let parts: Vec<String> = item
        .targets
        .iter()
        .filter(|t| &t.rule.metric == metric)
        .map(|t| {
            let mut s = t.rule.target.to_string();
            if item.service_window.as_deref() != Some(t.rule.calendar.as_str()) {
                s += &format!("@{}", t.rule.calendar);
            }
            let w = &t.rule.when;
            if let Some(sev) = &w.severity {
                s += &format!(" [{}]", sev.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(","));
            }
            match w.opened {
                Some(OpenedIn::Inside) => s += " in",
                Some(OpenedIn::Outside) => s += " out",
                None => {}
            }
            for tag in &w.tags {
                s += &format!(" ({tag})");
            }
            s
        })
        .collect();
    if parts.is_empty() { "—".into() } else { parts.join(" / ") }
}

fn inspections(list: &[Inspection]) -> String {
    if list.is_empty() {
        return "—".into();
    }
    list.iter()
        .map(|i| {
            let every = serde_json::to_value(i.every)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let mut s = if i.times == 1 { every } else { format!("{}×/{every}", i.times) };
            if let Some(d) = &i.device_class {
                s += &format!(" {d}");
            }
            if let Some(d) = &i.during {
                s += &format!(" during {d}");
            }
            s
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn truncate(text: &str, chars: usize) -> String {
    if text.chars().count() <= chars {
        text.to_owned()
    } else {
        text.chars().take(chars - 1).collect::<String>() + "…"
    }
}
