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
use crate::state::{AppState, Inner};
use crate::store::{self, catalog_sync};
use crate::time::Clock;

/// A built application and what its first start produced.
#[derive(Debug)]
pub struct Built {
    /// The shared state.
    pub state: AppState,
    /// The one-time admin password, when this start created the admin with a generated one.
    pub generated_admin_password: Option<String>,
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
    // Holidays or windows may have changed since the last start: move the
    // deadlines of clocks already running.
    let recomputed =
        crate::worker::clocks::recompute_running(&state).await.context("cannot recompute running clocks")?;
    tracing::info!(clocks = recomputed, "running clocks recomputed");
    sync_inspections(&state).await?;
    Ok(Built { state, generated_admin_password })
}

/// As [`build`], for command-line tools: no first admin is created, so that
/// its one-time password is never generated where nobody would see it, and
/// running clocks are left to the service.
pub async fn build_for_tools(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Built> {
    let state = connect(settings, clock).await?;
    sync_inspections(&state).await?;
    Ok(Built { state, generated_admin_password: None })
}

async fn sync_inspections(state: &AppState) -> anyhow::Result<()> {
    let (added, removed) = crate::service::inspections::sync(state)
        .await
        .map_err(|e| anyhow::anyhow!("cannot generate the inspection schedule: {e}"))?;
    tracing::info!(added, removed, "inspection schedule in step with the catalog");
    Ok(())
}

/// Load the catalog, connect, migrate, load the catalog into the database, and wire the shared state.
async fn connect(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<AppState> {
    let catalog =
        Catalog::load(&settings.config_dir).map_err(|e| anyhow::anyhow!("the catalog is invalid:\n{e}"))?;
    let db = store::connect(settings.database_url.expose_secret(), settings.database_max_connections)
        .await
        .context("cannot connect to the database")?;
    store::migrate(&db).await.context("migrations failed")?;
    let report = catalog_sync::sync(&db, &catalog, clock.now().unix())
        .await
        .context("cannot load the catalog into the database")?;
    tracing::info!(agencies = report.agencies, items = report.items, "catalog loaded");
    let items = catalog
        .items
        .iter()
        .enumerate()
        .map(|(i, item)| (catalog_sync::line_item_id(&catalog.contract.registration_number, item.seq), i))
        .collect::<HashMap<_, _>>();
    let mailer: Arc<dyn notifier::Mailer> = match &settings.smtp_url {
        Some(url) => Arc::new(
            notifier::SmtpMailer::from_url(url.expose_secret())
                .map_err(|e| anyhow::anyhow!("{}", e.message))?,
        ),
        None => {
            tracing::info!(dir = %settings.outbox_dir.display(), "no ITSM_SMTP_URL: alert emails are written as .eml files");
            Arc::new(notifier::FileMailer::new(settings.outbox_dir.clone()))
        }
    };
    Ok(AppState::new(Inner {
        db,
        catalog,
        items,
        clock,
        callers: crate::state::CallerCache::new(
            settings.auth_cache_seconds,
            settings.auth_negative_cache_seconds,
        ),
        chores: crate::state::Chores::default(),
        settings,
        metrics: metrics_handle(),
        wake: Arc::new(tokio::sync::Notify::new()),
        mailer,
    }))
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
    let timer = state
        .settings
        .timer_enabled
        .then(|| tokio::spawn(crate::worker::run(state.clone(), shutdown.clone())));
    let limits = connection_limits(&state.settings);
    let scrapes = metrics.map(|listener| {
        let router = crate::http::routes_ops::metrics_router(state.clone());
        tokio::spawn(crate::http::server::serve(listener, router, limits, shutdown.clone()))
    });
    let app = crate::http::router(state);
    let served = crate::http::server::serve(listener, app, limits, shutdown.clone()).await;
    shutdown.cancel();
    if let Some(t) = timer {
        let _ = t.await;
    }
    if let Some(s) = scrapes {
        let _ = s.await;
    }
    served
}
