//! The command line: arguments, and one module per subcommand.

mod calendar;
mod catalog;
mod report;
mod serve;
mod user;

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use api::settings::Settings;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "itsm", version, about = "Luoyang IT operations: tickets clocked against the contract")]
struct Cli {
    /// A configuration folder (default.toml, catalog/ and calendars/) to use
    /// instead of the one built into `itsm`.
    #[arg(long, global = true, env = "ITSM_CONFIG_DIR")]
    config_dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (migrates and loads the catalog first).
    Serve {
        /// Write logs as JSON lines.
        #[arg(long)]
        json_logs: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Accounts.
    User {
        #[command(subcommand)]
        action: user::UserAction,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Write the SLA compliance report for a month (or a range) to a file.
    Report(report::ReportArgs),
    /// The contract's catalog of line items.
    Catalog {
        #[command(subcommand)]
        action: catalog::CatalogAction,
    },
    /// Holiday data (节假日安排) of the service windows.
    Calendar {
        #[command(subcommand)]
        action: calendar::CalendarAction,
    },
}

/// Parse the command line and run it.
pub(crate) fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Catalog { action } => catalog::run(cli.config_dir.as_deref(), &action),
        Command::Openapi => print(&api::http::openapi().to_pretty_json().unwrap_or_default()),
        command => {
            let runtime = match tokio::runtime::Runtime::new() {
                Ok(r) => r,
                Err(e) => return fail(&anyhow::anyhow!("cannot start the runtime: {e}")),
            };
            match runtime.block_on(run(cli.config_dir, command)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
    }
}

fn print(text: &str) -> ExitCode {
    let _ = writeln!(std::io::stdout(), "{text}");
    ExitCode::SUCCESS
}

fn fail(e: &anyhow::Error) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "error: {e:#}");
    ExitCode::FAILURE
}

async fn run(config_dir: Option<PathBuf>, command: Command) -> anyhow::Result<()> {
    let settings = Settings::load_from(config_dir.as_deref()).context("invalid settings")?;
    match command {
        Command::Serve { json_logs } => serve::run(settings, json_logs).await,
        Command::Migrate => {
            api::telemetry::init(settings.log_format);
            api::startup::migrate(&settings).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::User { action } => user::run(settings, action).await,
        Command::Report(args) => report::run(settings, args).await,
        Command::Calendar { action } => calendar::run(settings, action).await,
        Command::Openapi | Command::Catalog { .. } => Ok(()),
    }
}
