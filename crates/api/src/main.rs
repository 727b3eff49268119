//! `itsm`: serve the API, migrate, manage users, write reports, print the
//! OpenAPI spec, check the catalog. Only wiring lives here: the subcommands
//! are in `cli/`, everything else is library code.

use std::process::ExitCode;

mod cli;

/// mimalloc rather than glibc's malloc: a page of tickets is built from many
/// small strings, and glibc's allocator took a fifth of the service's time
/// serving list pages (docs/benchmarks.md, "The allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    cli::main()
}
