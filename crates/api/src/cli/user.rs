//! `itsm user add`: an account from the command line, its password read from
//! standard input or generated and printed once.

use std::io::{Read, Write};
use std::sync::Arc;

use anyhow::Context;
use api::domain::access::Role;
use api::domain::account::NewUser;
use api::service::accounts;
use api::settings::Settings;
use api::time::SystemClock;
use clap::Subcommand;

#[derive(Subcommand)]
pub(crate) enum UserAction {
    /// Create an account.
    Add {
        /// Login name.
        #[arg(long)]
        username: String,
        /// agency_user, engineer, manager or admin.
        #[arg(long)]
        role: String,
        /// The agency's key or name (agency users; optional for managers).
        #[arg(long)]
        agency: Option<String>,
        /// Where alerts go.
        #[arg(long)]
        email: Option<String>,
        /// The name people know them by.
        #[arg(long)]
        display_name: Option<String>,
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

pub(crate) async fn run(settings: Settings, action: UserAction) -> anyhow::Result<()> {
    let UserAction::Add { username, role, agency, email, display_name, password_stdin } = action;
    let role: Role = role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let (password, generated) = if password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("cannot read the password from standard input")?;
        (text.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        (accounts::generate_password().map_err(|e| anyhow::anyhow!("{e}"))?, true)
    };
    let built = api::startup::build_for_tools(settings, Arc::new(SystemClock)).await?;
    let state = built.state;
    // The agency by key or exact name: the service resolves it.
    let new = NewUser {
        username,
        role,
        agency,
        email,
        display_name,
        password: password.clone(),
        must_change_password: generated,
    };
    let created = accounts::create(&state, None, new).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "created {} ({}) id {}", created.username, created.role, created.id)?;
    if generated {
        writeln!(out, "password: {password}")?;
        writeln!(out, "(generated: it must be changed at the first sign-in)")?;
    }
    Ok(())
}
