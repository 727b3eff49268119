//! Building the application (connect, migrate, load the catalog, first admin)
//! and serving it on a given listener until a given token is cancelled.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use anyhow::Context;
use catalog::Catalog;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::service::accounts;
use crate::settings::Settings;
use crate::state::{AppState, GoLive, Inner};
use crate::store::{self, catalog_sync};
use crate::time::Clock;

/// A built application and what its first start produced.
#[derive(Debug)]
pub struct Built {
    /// The shared state.
    pub state: AppState,
    /// The one-time admin password, when this start created the admin with a generated one.
    pub generated_admin_password: Option<String>,
    /// How many running clocks this start recomputed: none when the
    /// calendars and thresholds are as at the last start.
    pub recomputed_clocks: Option<usize>,
}

fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
                .map_or_else(
                    |_| PrometheusBuilder::new().build_recorder(),
                    PrometheusBuilder::build_recorder,
                );
            let handle = recorder.handle();
            // Several apps in one test process share the first recorder.
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// Connect and migrate only (`itsm migrate`).
pub async fn migrate(settings: &Settings) -> anyhow::Result<()> {
    let db = store::connect(settings.database_url.expose_secret(), settings.database_max_connections)
        .await
        .context("cannot connect to the database")?;
    store::migrate(&db).await.context("migrations failed")?;
    Ok(())
}

/// Load configuration, connect, migrate, load the catalog, and create the first admin if there are no users.
pub async fn build(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Built> {
    let state = connect(settings, clock).await?;
    let password = state.settings.admin_password.as_ref().map(|p| p.expose_secret().to_owned());
    let generated_admin_password =
        accounts::bootstrap_admin(&state, password).await.map_err(|e| anyhow::anyhow!("{e}"))?;
    let recomputed_clocks = recompute_if_changed(&state).await?;
    sync_inspections(&state).await?;
    Ok(Built { state, generated_admin_password, recomputed_clocks })
}

/// As [`build`], for command-line tools: no first admin is created, so that
/// its one-time password is never generated where nobody would see it, and
/// running clocks are left to the service.
pub async fn build_for_tools(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Built> {
    let state = connect(settings, clock).await?;
    sync_inspections(&state).await?;
    Ok(Built { state, generated_admin_password: None, recomputed_clocks: None })
}

/// Holidays, windows or thresholds may have changed since the last start:
/// then move the deadlines of clocks already running. Unchanged, nothing is
/// read: a start with a million running clocks does not touch them.
async fn recompute_if_changed(state: &AppState) -> anyhow::Result<Option<usize>> {
    let service = |e: crate::service::Error| anyhow::anyhow!("cannot compare the clocks' inputs: {e}");
    let Some(fingerprint) = crate::service::calendars::clock_inputs_changed(state).await.map_err(service)?
    else {
        tracing::info!("calendars and thresholds as at the last start: running clocks stand");
        return Ok(None);
    };
    let started = std::time::Instant::now();
    let recomputed =
        crate::worker::clocks::recompute_running(state).await.context("cannot recompute running clocks")?;
    crate::service::calendars::record_clock_inputs(state, Some(&fingerprint), &state.calendars(), None)
        .await
        .map_err(service)?;
    tracing::info!(
        clocks = recomputed,
        seconds = started.elapsed().as_secs_f64(),
        "running clocks recomputed"
    );
    Ok(Some(recomputed))
}

async fn sync_inspections(state: &AppState) -> anyhow::Result<()> {
    let (added, removed) = crate::service::inspections::sync(state)
        .await
        .map_err(|e| anyhow::anyhow!("cannot generate the inspection schedule: {e}"))?;
    tracing::info!(added, removed, "inspection schedule in step with the catalog");
    Ok(())
}

/// The day the service went live: the setting, else the instant the
/// database was first set up (recorded once, by the first instance to start).
async fn go_live(
    db: &sea_orm::DatabaseConnection,
    settings: &Settings,
    catalog: &Catalog,
    now: sla_engine::Timestamp,
) -> anyhow::Result<GoLive> {
    let tz = catalog.settings.timezone;
    let recorded = store::facts::set_once(db, "go_live_at", &now.unix().to_string())
        .await
        .context("cannot record when the service went live")?;
    let first_start = recorded.parse::<i64>().map(sla_engine::Timestamp::from_unix).unwrap_or(now);
    let date = settings.go_live.unwrap_or_else(|| first_start.to_datetime().with_timezone(&tz).date_naive());
    let midnight = date.and_hms_opt(0, 0, 0).unwrap_or_default();
    let at = chrono::TimeZone::from_local_datetime(&tz, &midnight)
        .earliest()
        .map_or(first_start, |t| sla_engine::Timestamp::from(t.to_utc()));
    Ok(GoLive { date, at })
}

/// Load the catalog, connect, migrate, load the catalog into the database, and wire the shared state.
async fn connect(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let files =
        settings.config_files().map_err(|e| anyhow::anyhow!("the configuration cannot be read:\n{e}"))?;
    let calendar_base =
        calendar_base(&files).map_err(|e| anyhow::anyhow!("the calendars are invalid:\n{e}"))?;
    let catalog = Catalog::load_files(&files, calendar_base.build().map_err(|e| anyhow::anyhow!("{e}"))?)
        .map_err(|e| anyhow::anyhow!("the catalog is invalid:\n{e}"))?;
    let db = store::connect(settings.database_url.expose_secret(), settings.database_max_connections)
        .await
        .context("cannot connect to the database")?;
    store::migrate(&db).await.context("migrations failed")?;
    let report = catalog_sync::sync(&db, &catalog, clock.now().unix())
        .await
        .context("cannot load the catalog into the database")?;
    tracing::info!(agencies = report.agencies, items = report.items, "catalog loaded");
    let go_live = go_live(&db, &settings, &catalog, clock.now()).await?;
    tracing::info!(go_live = %go_live.date, "in service since");
    let items = catalog
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| (catalog_sync::line_item_id(&catalog.contract.registration_number, item.seq), i))
        .collect::<HashMap<_, _>>();
    let mailer: Arc<dyn notifier::Mailer> = match &settings.smtp_url {
        Some(url) => Arc::new(
            notifier::SmtpMailer::pooled(url.expose_secret(), settings.mail_concurrency)
                .map_err(|e| anyhow::anyhow!("{}", e.message))?,
        ),
        None => {
            tracing::info!(dir = %settings.outbox_dir.display(), "no ITSM_SMTP_URL: alert emails are written as .eml files");
            Arc::new(notifier::FileMailer::new(settings.outbox_dir.clone()))
        }
    };
    let calendars = arc_swap::ArcSwap::from_pointee(catalog.calendars.clone());
    let state = AppState::new(Inner {
        db,
        calendars,
        calendar_base,
        calendar_version: std::sync::atomic::AtomicI64::new(0),
        catalog,
        items,
        clock,
        callers: crate::state::CallerCache::new(
            settings.auth_cache_seconds,
            settings.auth_negative_cache_seconds,
        ),
        chores: crate::state::Chores::default(),
        memo: crate::state::Memo::default(),
        go_live,
        settings,
        metrics: metrics_handle(),
        wake: Arc::new(tokio::sync::Notify::new()),
        mail_wake: Arc::new(tokio::sync::Notify::new()),
        recompute_wake: Arc::new(tokio::sync::Notify::new()),
        mailer,
    });
    // Years an administrator stored since: in force from the first request.
    crate::service::calendars::refresh(&state)
        .await
        .map_err(|e| anyhow::anyhow!("cannot load holiday years: {e}"))?;
    warn_uncovered(&state);
    Ok(state)
}

/// The configuration's windows and holiday years: a folder's years first,
/// the built-in ones where it has none.
fn calendar_base(files: &catalog::ConfigFiles) -> Result<catalog::CalendarInputs, catalog::LoadErrors> {
    use catalog::{CalendarInputs, HolidaySource, Origin};
    let built_in = CalendarInputs::from_files(&crate::builtin::config(), HolidaySource::BuiltIn)?;
    if files.origin() == &Origin::BuiltIn {
        return Ok(built_in);
    }
    let mut folder = CalendarInputs::from_files(files, HolidaySource::Folder)?;
    folder.add_years(built_in.years().cloned());
    Ok(folder)
}

/// Say at start which service dates have no holiday data: their 5x8 and
/// 6x8 clocks would count holidays as working days.
fn warn_uncovered(state: &AppState) {
    let gaps = crate::service::calendars::uncovered(&state.catalog, &state.calendars());
    for g in &gaps {
        tracing::warn!(
            region = %g.region, from = %g.from, to = %g.to, items = ?g.items,
            "no holiday data for these service dates: load the year with PUT /v1/calendars/holidays/{{region}}/{{year}} or itsm calendar import"
        );
    }
}

/// The connection limits the settings give.
fn connection_limits(settings: &Settings) -> crate::http::server::ConnectionLimits {
    crate::http::server::ConnectionLimits {
        header_read_timeout: std::time::Duration::from_secs(settings.header_read_timeout_seconds.max(1)),
        keep_alive_idle: std::time::Duration::from_secs(settings.keep_alive_idle_seconds.max(1)),
        max_connections: settings.max_connections,
    }
}

/// Serve the API on `listener` (and `/metrics` on `metrics`, when given)
/// until `shutdown` is cancelled, finishing requests in flight; the SLA
/// timer runs beside the server when enabled.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    metrics: Option<TcpListener>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let timer = if state.settings.timer_enabled {
        tokio::spawn(crate::worker::run(state.clone(), shutdown.clone()))
    } else {
        tokio::spawn(crate::worker::follow_calendars(state.clone(), shutdown.clone()))
    };
    let limits = connection_limits(&state.settings);
    let scrapes = metrics.map(|listener| {
        let router = crate::http::routes_ops::metrics_router(state.clone());
        tokio::spawn(crate::http::server::serve(listener, router, limits, shutdown.clone()))
    });
    let app = crate::http::router_with(state, crate::web::router());
    let served = crate::http::server::serve(listener, app, limits, shutdown.clone()).await;
    shutdown.cancel();
    let _ = timer.await;
    if let Some(s) = scrapes {
        let _ = s.await;
    }
    served
}
