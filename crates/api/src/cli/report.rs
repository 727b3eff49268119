//! `itsm report`: the SLA report for a month or a range, written to a file
//! (or, with `--out -`, to standard output).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use api::domain::access::{Caller, Role};
use api::service::reports::{self, Lang, Period, View};
use api::settings::Settings;
use api::time::SystemClock;

#[derive(clap::Args)]
pub(crate) struct ReportArgs {
    /// The month, YYYY-MM.
    #[arg(long, conflicts_with_all = ["from", "to"])]
    month: Option<String>,
    /// First day of a range (YYYY-MM-DD).
    #[arg(long, requires = "to")]
    from: Option<chrono::NaiveDate>,
    /// Last day of a range (YYYY-MM-DD).
    #[arg(long, requires = "from")]
    to: Option<chrono::NaiveDate>,
    /// json, csv or xlsx.
    #[arg(long, default_value = "json")]
    format: String,
    /// The table of a CSV file: items, agencies, contract, breaches or inspections
    /// (XLSX has them all as sheets, JSON the whole report).
    #[arg(long, default_value = "items")]
    view: String,
    /// Where to write it; `-` for standard output.
    #[arg(long)]
    out: PathBuf,
    /// Only this agency, by key or exact name.
    #[arg(long)]
    agency: Option<String>,
    /// Headers of CSV and XLSX: zh or en.
    #[arg(long, default_value = "zh")]
    lang: String,
}

pub(crate) async fn run(mut settings: Settings, args: ReportArgs) -> anyhow::Result<()> {
    let ReportArgs { month, from, to, format, view, out, agency, lang } = args;
    let format = format.as_str();
    if !matches!(format, "json" | "csv" | "xlsx") {
        anyhow::bail!("--format {format}: json, csv or xlsx");
    }
    let view = View::parse(&view).ok_or_else(|| {
        anyhow::anyhow!("--view {view}: items, agencies, contract, breaches or inspections")
    })?;
    let lang = Lang::parse(&lang).ok_or_else(|| anyhow::anyhow!("--lang {lang}: zh or en"))?;
    // Check the arguments before touching the database.
    let period = match (month, from, to) {
        (Some(m), _, _) => Some(Period::month(&m).map_err(|e| anyhow::anyhow!(e))?),
        (None, Some(from), Some(to)) if from <= to => Some(Period { from, to: to.succ_opt().unwrap_or(to) }),
        (None, Some(_), Some(_)) => anyhow::bail!("--from must not be after --to"),
        _ => None,
    };
    settings.timer_enabled = false;
    let built = api::startup::build_for_tools(settings, Arc::new(SystemClock)).await?;
    let period = match period {
        Some(p) => p,
        None => Period::month(&reports::current_month(&built.state)).map_err(|e| anyhow::anyhow!(e))?,
    };
    // The command line speaks for the whole contract, as an admin would.
    let caller =
        Caller { id: uuid::Uuid::nil(), username: "itsm report".into(), role: Role::Admin, agency: None };
    let report = reports::sla(&built.state, &caller, period, agency.as_deref(), None)
        .await
        .map_err(|e| anyhow::anyhow!("cannot compute the report: {e}"))?;
    let bytes = match format {
        "csv" => reports::to_csv_view(&report, view, lang)?,
        "xlsx" => reports::to_xlsx(&report, lang)?,
        _ => serde_json::to_vec_pretty(&report)?,
    };
    if out.as_os_str() == "-" {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&bytes).context("cannot write to standard output")?;
        return stdout.flush().context("cannot write to standard output");
    }
    std::fs::write(&out, bytes).with_context(|| format!("cannot write {}", out.display()))?;
    writeln!(std::io::stdout(), "wrote {} ({} to {})", out.display(), report.from, report.to)?;
    Ok(())
}
