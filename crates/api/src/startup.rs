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

use crate::domain::access::Role;
use crate::domain::throttle::FailureWindow;
use crate::settings::Settings;
use crate::state::{AppState, Inner};
use crate::store::{self, catalog_sync, users};
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
    build_inner(settings, clock, true).await
}

/// As [`build`], for command-line tools: no first admin is created, so that
/// its one-time password is never generated where nobody would see it.
pub async fn build_for_tools(settings: Settings, clock: Arc<dyn Clock>) -> anyhow::Result<Built> {
    build_inner(settings, clock, false).await
}

async fn build_inner(settings: Settings, clock: Arc<dyn Clock>, first_admin: bool) -> anyhow::Result<Built> {
    let catalog =
        Catalog::load(&settings.config_dir).map_err(|e| anyhow::anyhow!("the catalog is invalid:\n{e}"))?;
    let db = store::connect(settings.database_url.expose_secret(), settings.database_max_connections)
        .await
        .context("cannot connect to the database")?;
    store::migrate(&db).await.context("migrations failed")?;
    let now = clock.now().unix();
    let report =
        catalog_sync::sync(&db, &catalog, now).await.context("cannot load the catalog into the database")?;
    tracing::info!(agencies = report.agencies, items = report.items, "catalog loaded");
    let generated_admin_password =
        if first_admin { bootstrap_admin(&db, &settings, now).await? } else { None };

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
    let callers = crate::state::CallerCache::new(settings.auth_cache_seconds);
    let window = settings.login_window_seconds;
    let login_accounts = FailureWindow::new(settings.login_max_failures, window);
    let login_addresses = FailureWindow::new(settings.login_max_failures_per_address, window);
    let limiter = crate::http::limits::limiter(
        settings.rate_limit_per_second,
        settings.rate_limit_burst,
        clock.clone(),
    );
    let state = AppState::new(Inner {
        db,
        catalog,
        items,
        clock,
        settings,
        callers,
        login_accounts,
        login_addresses,
        limiter,
        metrics: metrics_handle(),
        wake: Arc::new(tokio::sync::Notify::new()),
        mailer,
    });
    // Holidays or windows may have changed since the last start: move the
    // deadlines of clocks already running.
    let recomputed =
        crate::timer::recompute_running(&state).await.context("cannot recompute running clocks")?;
    tracing::info!(clocks = recomputed, "running clocks recomputed");
    let (added, removed) =
        crate::service::inspections::sync(&state).await.context("cannot generate the inspection schedule")?;
    tracing::info!(added, removed, "inspection schedule in step with the catalog");
    Ok(Built { state, generated_admin_password })
}

async fn bootstrap_admin(
    db: &sea_orm::DatabaseConnection,
    settings: &Settings,
    now: i64,
) -> anyhow::Result<Option<String>> {
    if users::count(db).await? > 0 {
        return Ok(None);
    }
    let (password, generated) = match &settings.admin_password {
        Some(p) => (p.expose_secret().to_owned(), false),
        None => {
            let mut bytes = [0u8; 18];
            getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness: {e}"))?;
            (base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes), true)
        }
    };
    let new =
        users::NewUser { username: "admin".into(), role: Role::Admin, agency: None, email: None, password };
    users::validate(&new, |_| false).map_err(|e| anyhow::anyhow!("ITSM_ADMIN_PASSWORD: {e}"))?;
    let password = new.password.clone();
    match users::create(db, new, now).await {
        Ok(_) => {}
        // Another instance created it first.
        Err(users::UserError::Taken(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    tracing::info!("created the first admin account");
    Ok(generated.then_some(password))
}

/// Serve until `shutdown` is cancelled, finishing requests in flight; the
/// SLA timer runs beside the server when enabled.
pub async fn serve(
    state: AppState,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let timer = state
        .settings
        .timer_enabled
        .then(|| tokio::spawn(crate::timer::run(state.clone(), shutdown.clone())));
    let app = crate::http::router(state);
    // The peer address feeds login throttling and per-client limits.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    let served = axum::serve(listener, app).with_graceful_shutdown(shutdown.clone().cancelled_owned()).await;
    shutdown.cancel();
    if let Some(t) = timer {
        let _ = t.await;
    }
    served
}
