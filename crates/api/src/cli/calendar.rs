//! `itsm calendar import FILE`: add or replace holiday years in the
//! service's database, from a yearly TOML file (the form of
//! `config/calendars/cn-2026.toml`) or an iCalendar feed of 休 and 班 days.
//! Running services take them within `calendar_poll_seconds`.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use api::service::calendars;
use api::settings::Settings;
use api::time::SystemClock;
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum CalendarAction {
    /// Store the holiday years of a file.
    Import {
        /// A yearly TOML file, or an `.ics` feed.
        file: PathBuf,
        /// The holiday region of an `.ics` feed (a TOML file names its own).
        #[arg(long, default_value = "cn")]
        region: String,
        /// Only this year of an `.ics` feed.
        #[arg(long)]
        year: Option<i32>,
    },
}

pub(crate) async fn run(mut settings: Settings, action: CalendarAction) -> anyhow::Result<()> {
    let CalendarAction::Import { file, region, year } = action;
    let text =
        std::fs::read_to_string(&file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    let ics = file.extension().is_some_and(|x| x.eq_ignore_ascii_case("ics"));
    // Check the file before touching the database.
    let years: Vec<(String, i32, String)> = if ics {
        calendars::from_ical(&text, &region)
            .map_err(|e| anyhow::anyhow!("{e}"))?
            .into_iter()
            .filter(|(y, _)| year.is_none_or(|want| want == *y))
            .map(|(y, toml)| (region.clone(), y, toml))
            .collect()
    } else {
        let parsed = catalog::parse_holiday_year(
            &file.display().to_string(),
            &text,
            catalog::HolidaySource::Database,
        )?;
        vec![(parsed.region, parsed.year, text)]
    };
    if years.is_empty() {
        anyhow::bail!(
            "{} holds no 休 or 班 day{}",
            file.display(),
            year.map(|y| format!(" in {y}")).unwrap_or_default()
        );
    }
    settings.timer_enabled = false;
    let built = api::startup::build_for_tools(settings, Arc::new(SystemClock)).await?;
    let mut out = std::io::stdout().lock();
    for (region, year, toml) in years {
        let stored = calendars::store_year(&built.state, None, &region, year, &toml)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let (mut holidays, mut workdays) = (0, 0);
        for (_, kind) in stored.schedule.days() {
            match kind {
                sla_engine::DayKind::Holiday => holidays += 1,
                sla_engine::DayKind::Workday => workdays += 1,
            }
        }
        writeln!(out, "stored {region} {year}: {holidays} holiday dates, {workdays} make-up workdays")?;
    }
    writeln!(
        out,
        "running services take the change within calendar_poll_seconds; their clocks' deadlines move"
    )?;
    Ok(())
}
