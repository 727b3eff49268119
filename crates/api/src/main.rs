//! `itsm`: serve the API, migrate, manage users, write reports, print the
//! OpenAPI spec, check the catalog. Only wiring lives here: the subcommands
//! are in `cli/`, everything else is library code.

use std::process::ExitCode;

mod cli;

fn main() -> ExitCode {
    cli::main()
}
