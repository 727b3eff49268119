//! `itsm`: serve the API, migrate, manage users, print the OpenAPI spec, check the catalog.
//! Only wiring lives here; everything else is library code.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use api::domain::access::Role;
use api::settings::Settings;
use api::startup;
use api::store::users;
use api::time::{Clock, SystemClock};
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use tokio_util::sync::CancellationToken;

mod catalog_cmd;

#[derive(Parser)]
#[command(name = "itsm", version, about = "Luoyang IT operations: tickets clocked against the contract")]
struct Cli {
    /// The configuration folder (default.toml, catalog/ and calendars/).
    #[arg(long, global = true, env = "ITSM_CONFIG_DIR", default_value = "config")]
    config_dir: PathBuf,
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
        action: UserAction,
    },
    /// Print the OpenAPI document.
    Openapi,
    /// Write the SLA compliance report for a month (or a range) to a file.
    Report {
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
        /// Where to write it.
        #[arg(long)]
        out: PathBuf,
        /// Only this agency (key).
        #[arg(long)]
        agency: Option<String>,
        /// Headers of CSV and XLSX: zh or en.
        #[arg(long, default_value = "zh")]
        lang: String,
    },
    /// The contract's catalog of line items.
    Catalog {
        #[command(subcommand)]
        action: CatalogAction,
    },
}

#[derive(Subcommand)]
enum UserAction {
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
        /// Read the password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Subcommand)]
enum CatalogAction {
    /// Load and validate the configuration; print a summary table.
    Check,
    /// Print the normalized catalog.
    Show {
        /// As JSON (the only format, and the default).
        #[arg(long, default_value_t = true)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Catalog { action: CatalogAction::Check } => catalog_cmd::check(&cli.config_dir),
        Command::Catalog { action: CatalogAction::Show { .. } } => catalog_cmd::show_json(&cli.config_dir),
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

async fn run(config_dir: PathBuf, command: Command) -> anyhow::Result<()> {
    let settings = Settings::load_from(&config_dir).context("invalid settings")?;
    match command {
        Command::Serve { json_logs } => {
            let format = if json_logs { api::settings::LogFormat::Json } else { settings.log_format };
            api::telemetry::init(format);
            serve(settings).await
        }
        Command::Migrate => {
            api::telemetry::init(settings.log_format);
            startup::migrate(&settings).await?;
            tracing::info!("migrations applied");
            Ok(())
        }
        Command::User { action: UserAction::Add { username, role, agency, email, password_stdin } } => {
            add_user(settings, username, role, agency, email, password_stdin).await
        }
        Command::Report { month, from, to, format, out, agency, lang } => {
            report(settings, ReportArgs { month, from, to, format, out, agency, lang }).await
        }
        Command::Openapi | Command::Catalog { .. } => Ok(()),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let listen = settings.listen;
    tracing::info!(?settings, "starting");
    let built = startup::build(settings, Arc::new(SystemClock)).await?;
    if let Some(password) = &built.generated_admin_password {
        // Printed once, never logged: the first admin's one-time password.
        let _ = writeln!(
            std::io::stdout(),
            "\nFirst start: created user \"admin\" with password\n\n    {password}\n\nKeep it; it is not shown again.\n"
        );
    }
    let listener =
        tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    tracing::info!(address = %listener.local_addr()?, "listening; API docs at /docs");
    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));
    startup::serve(built.state, listener, shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

async fn wait_for_signal(token: CancellationToken) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
    token.cancel();
}

async fn add_user(
    settings: Settings,
    username: String,
    role: String,
    agency: Option<String>,
    email: Option<String>,
    password_stdin: bool,
) -> anyhow::Result<()> {
    let role: Role = role.parse().map_err(|e: String| anyhow::anyhow!(e))?;
    let catalog = catalog::Catalog::load(&settings.config_dir)
        .map_err(|e| anyhow::anyhow!("the catalog is invalid:\n{e}"))?;
    let agency = match agency {
        None => None,
        Some(a) => Some(
            catalog
                .agencies
                .iter()
                .find(|x| x.key == a || x.name == a)
                .map(|x| x.key.clone())
                .ok_or_else(|| anyhow::anyhow!("no agency with key or name \"{a}\""))?,
        ),
    };
    let (password, generated) = if password_stdin {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).context("cannot read the password from standard input")?;
        (text.trim_end_matches(['\r', '\n']).to_owned(), false)
    } else {
        let mut bytes = [0u8; 18];
        getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
        (base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes), true)
    };
    let new = users::NewUser { username, role, agency, email, password: password.clone() };
    users::validate(&new, |a| catalog.agency(a).is_some())?;
    let db = api::store::connect(settings.database_url.expose_secret(), 1).await?;
    api::store::migrate(&db).await?;
    let created = users::create(&db, new, SystemClock.now().unix()).await?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "created {} ({}) id {}", created.username, created.role, created.id)?;
    if generated {
        writeln!(out, "password: {password}")?;
    }
    Ok(())
}

struct ReportArgs {
    month: Option<String>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    format: String,
    out: PathBuf,
    agency: Option<String>,
    lang: String,
}

async fn report(mut settings: Settings, args: ReportArgs) -> anyhow::Result<()> {
    use api::service::reports::{self, Lang, Period};
    let ReportArgs { month, from, to, format, out, agency, lang } = args;
    let format = format.as_str();
    if !matches!(format, "json" | "csv" | "xlsx") {
        anyhow::bail!("--format {format}: json, csv or xlsx");
    }
    let lang = Lang::parse(&lang).ok_or_else(|| anyhow::anyhow!("--lang {lang}: zh or en"))?;
    // Check the arguments before touching the database.
    let period = match (month, from, to) {
        (Some(m), _, _) => Some(Period::month(&m).map_err(|e| anyhow::anyhow!(e))?),
        (None, Some(from), Some(to)) if from <= to => Some(Period { from, to: to.succ_opt().unwrap_or(to) }),
        (None, Some(_), Some(_)) => anyhow::bail!("--from must not be after --to"),
        _ => None,
    };
    settings.timer_enabled = false;
    let built = startup::build_for_tools(settings, Arc::new(SystemClock)).await?;
    let period = match period {
        Some(p) => p,
        None => Period::month(&reports::current_month(&built.state)).map_err(|e| anyhow::anyhow!(e))?,
    };
    // The command line speaks for the whole contract, as an admin would.
    let caller = api::domain::access::Caller {
        id: uuid::Uuid::nil(),
        username: "itsm report".into(),
        role: Role::Admin,
        agency: None,
    };
    let report = reports::sla(&built.state, &caller, period, agency.as_deref(), None)
        .await
        .map_err(|e| anyhow::anyhow!("cannot compute the report: {e:?}"))?;
    let bytes = match format {
        "csv" => reports::to_csv(&report, lang).into_bytes(),
        "xlsx" => reports::to_xlsx(&report, lang)?,
        _ => serde_json::to_vec_pretty(&report)?,
    };
    std::fs::write(&out, bytes).with_context(|| format!("cannot write {}", out.display()))?;
    writeln!(std::io::stdout(), "wrote {} ({} to {})", out.display(), report.from, report.to)?;
    Ok(())
}
