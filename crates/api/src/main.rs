//! `itsm`: the service's command line. For now it checks and shows the
//! catalog; serving the API joins it in its own change.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod catalog_cmd;

#[derive(Parser)]
#[command(name = "itsm", version, about = "Luoyang IT operations: tickets clocked against the contract")]
struct Cli {
    /// The configuration folder (catalog/ and calendars/ inside it).
    #[arg(long, global = true, env = "ITSM_CONFIG_DIR", default_value = "config")]
    config_dir: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The contract's catalog of line items.
    Catalog {
        #[command(subcommand)]
        action: CatalogAction,
    },
}

#[derive(Subcommand)]
enum CatalogAction {
    /// Load and validate the configuration; print a summary table.
    Check,
    /// Print the normalized catalog.
    Show {
        /// As JSON (the only format for now, and the default).
        #[arg(long, default_value_t = true)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Catalog { action: CatalogAction::Check } => catalog_cmd::check(&cli.config_dir),
        Command::Catalog { action: CatalogAction::Show { .. } } => catalog_cmd::show_json(&cli.config_dir),
    }
}
