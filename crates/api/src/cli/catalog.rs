//! `itsm catalog check` and `itsm catalog show --json`: the catalog as a
//! reviewer reads it, and as other programs read it.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use api::builtin;
use api::settings::Settings;
use catalog::{CalendarInputs, Catalog, HolidaySource, Inspection, LineItem};
use comfy_table::{ColumnConstraint, ContentArrangement, Table, Width, presets::UTF8_FULL_CONDENSED};
use sla_engine::{CalendarSet, Metric, OpenedIn};

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
pub(crate) fn run(config_dir: Option<&Path>, action: &CatalogAction) -> ExitCode {
    match action {
        CatalogAction::Check => check(config_dir),
        CatalogAction::Show { .. } => show_json(config_dir),
    }
}

/// The catalog of the folder (or the built-in one), and its calendars with
/// the holiday years stored in the database when `ITSM_DATABASE_URL` names one.
fn load(config_dir: Option<&Path>) -> Result<(Catalog, CalendarSet), ExitCode> {
    let report = |what: String, errors: &catalog::LoadErrors| {
        let mut err = std::io::stderr().lock();
        let _ = writeln!(err, "error: {what} has {} problem(s):", errors.0.len());
        for e in &errors.0 {
            let _ = writeln!(err, "  {e}");
        }
        ExitCode::FAILURE
    };
    let place =
        config_dir.map_or_else(|| "the built-in configuration".to_owned(), |d| d.display().to_string());
    let settings = match Settings::load_from(config_dir) {
        Ok(s) => s,
        Err(e) => return Err(fail(&anyhow::anyhow!("invalid settings: {e}"))),
    };
    let files = settings.config_files().map_err(|e| report(format!("the catalog in {place}"), &e))?;
    let mut inputs = CalendarInputs::from_files(&files, HolidaySource::Folder)
        .map_err(|e| report(format!("the calendars in {place}"), &e))?;
    inputs.add_years(
        CalendarInputs::from_files(&builtin::config(), HolidaySource::BuiltIn)
            .map_or_else(|_| Vec::new(), |b| b.years().cloned().collect()),
    );
    if std::env::var_os("ITSM_DATABASE_URL").is_some() {
        inputs.add_years(stored_years(&settings)?);
    }
    let calendars = inputs.build().map_err(|e| report(format!("the calendars in {place}"), &e))?;
    let catalog = Catalog::load_files(&files, calendars.clone())
        .map_err(|e| report(format!("the catalog in {place}"), &e))?;
    Ok((catalog, calendars))
}

/// The holiday years stored in the service's database.
fn stored_years(settings: &Settings) -> Result<Vec<catalog::HolidayYear>, ExitCode> {
    let url = secrecy::ExposeSecret::expose_secret(&settings.database_url).to_owned();
    let years = tokio::runtime::Runtime::new()
        .map_err(|e| fail(&anyhow::anyhow!("cannot start the runtime: {e}")))?
        .block_on(async move {
            let db = api::store::connect(&url, 1).await?;
            api::store::migrate(&db).await?;
            api::store::holidays::all(&db).await
        })
        .map_err(|e| fail(&anyhow::anyhow!("cannot read the stored holiday years: {e}")))?;
    years
        .into_iter()
        .map(|(region, year, text)| {
            catalog::parse_holiday_year(&format!("stored {region} {year}"), &text, HolidaySource::Database)
                .map_err(|e| fail(&anyhow::anyhow!("{e}")))
        })
        .collect()
}

/// Validate and print one row per item, then the totals and what the holiday data leaves uncovered.
fn check(config_dir: Option<&Path>) -> ExitCode {
    let (catalog, calendars) = match load(config_dir) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_width(120)
        .set_header(vec!["#", "服务单位", "运维项目", "服务时间", "时限 targets", "巡检", "金额 ¥"])
        .set_constraints(vec![
            ColumnConstraint::ContentWidth,
            ColumnConstraint::UpperBoundary(Width::Fixed(14)),
            ColumnConstraint::UpperBoundary(Width::Fixed(22)),
            ColumnConstraint::ContentWidth,
            ColumnConstraint::LowerBoundary(Width::Fixed(30)),
            ColumnConstraint::UpperBoundary(Width::Fixed(14)),
            ColumnConstraint::ContentWidth,
        ]);
    for item in &catalog.items {
        let agency = catalog.agency(&item.agency).map_or(item.agency.as_str(), |a| a.name.as_str());
        table.add_row(vec![
            item.seq.to_string(),
            truncate(agency.trim_start_matches("洛阳市"), 6),
            truncate(&item.name, 10),
            item.service_window.clone().unwrap_or_else(|| "—".into()),
            all_targets(item),
            inspections(&item.inspections),
            item.amount.to_string(),
        ]);
    }
    let c = &catalog.contract;
    let rules: usize = catalog.items.iter().map(|i| i.targets.len()).sum();
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{} ({})", c.name, c.registration_number);
    let _ = writeln!(out, "{table}");
    for rule in &catalog.rules {
        let _ = writeln!(
            out,
            "contract rule {}: {} {} in {} {}",
            rule.key,
            rule.target.rule.metric,
            rule.target.duration,
            rule.target.rule.calendar,
            conditions(&rule.target.rule.when)
        );
    }
    let payments: Vec<String> =
        catalog.payments.iter().map(|p| format!("{} % ¥{}", p.percent, p.amount)).collect();
    let _ = writeln!(
        out,
        "ok: {} line items of {} agencies, {rules} target rules",
        catalog.items.len(),
        catalog.agencies.len()
    );
    let _ = writeln!(out, "    total ¥{} = contract total; payments {}", c.total, payments.join(" + "));
    let _ = writeln!(out, "    service {}..{}", c.service_period.from, c.service_period.to);
    let gaps = api::service::calendars::uncovered(&catalog, &calendars);
    if !gaps.is_empty() {
        let years = api::service::calendars::missing_years(&gaps).join(", ");
        let _ = writeln!(
            out,
            "warning: no holiday data for {years}: 5x8 and 6x8 clocks count those dates' holidays"
        );
        let _ = writeln!(out, "  as working days until the year is loaded (itsm calendar import FILE, or");
        let _ = writeln!(out, "  PUT /v1/calendars/holidays/{{region}}/{{year}}):");
        for g in &gaps {
            let items: Vec<String> = g.items.iter().map(u32::to_string).collect();
            let _ = writeln!(out, "  {} {}..{}: items {}", g.region, g.from, g.to, items.join(", "));
        }
    }
    ExitCode::SUCCESS
}

fn fail(e: &anyhow::Error) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {e:#}");
    ExitCode::FAILURE
}

/// Print the normalized catalog as JSON.
fn show_json(config_dir: Option<&Path>) -> ExitCode {
    let catalog = match load(config_dir) {
        Ok((c, _)) => c,
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

/// Every metric's rules, e.g. `响应 15m in / 30m out；恢复 6h；遏制 1h [major,critical]`.
fn all_targets(item: &LineItem) -> String {
    let mut metrics: Vec<&Metric> = Vec::new();
    for t in &item.targets {
        if !metrics.contains(&&t.rule.metric) {
            metrics.push(&t.rule.metric);
        }
    }
    if metrics.is_empty() {
        return "—".into();
    }
    metrics
        .into_iter()
        .map(|m| format!("{} {}", metric_name(m), targets(item, m)))
        .collect::<Vec<_>>()
        .join("；")
}

fn metric_name(metric: &Metric) -> &str {
    match metric.as_str() {
        "response" => "响应",
        "on_site" => "到场",
        "recovery" => "恢复",
        "containment" => "遏制",
        "minor_change" => "小功能变更",
        other => other,
    }
}

/// A rule's conditions in short: `[critical]`, `in`, `(change_request)`.
fn conditions(w: &sla_engine::Condition) -> String {
    let mut s = String::new();
    if let Some(sev) = &w.severity {
        s += &format!("[{}]", sev.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(","));
    }
    match w.opened {
        Some(OpenedIn::Inside) => s += " in",
        Some(OpenedIn::Outside) => s += " out",
        None => {}
    }
    for tag in &w.tags {
        s += &format!(" ({tag})");
    }
    s.trim().to_owned()
}

/// One metric's rules, e.g. `0.5h` or `15m in / 30m out`.
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
            let c = conditions(&t.rule.when);
            if !c.is_empty() {
                s += &format!(" {c}");
            }
            s
        })
        .collect();
    parts.join(" / ")
}

fn inspections(list: &[Inspection]) -> String {
    if list.is_empty() {
        return "—".into();
    }
    list.iter()
        .map(|i| {
            let every = match i.every {
                catalog::Every::Day => "每天",
                catalog::Every::Week => "每周",
                catalog::Every::Month => "每月",
                catalog::Every::Quarter => "每季",
                catalog::Every::Year => "每年",
            };
            let mut s = if i.times == 1 { every.to_owned() } else { format!("{every}{}次", i.times) };
            if let Some(d) = &i.device_class {
                s += &format!(" {d}");
            }
            if i.during.is_some() {
                s += " 填报期间";
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
