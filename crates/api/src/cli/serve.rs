//! `itsm serve`: the service until a signal says stop.

use std::io::Write;
use std::sync::Arc;

use anyhow::Context;
use api::settings::{LogFormat, Settings};
use api::startup;
use api::time::SystemClock;
use tokio_util::sync::CancellationToken;

/// Serve until SIGINT or SIGTERM, finishing requests in flight.
pub(crate) async fn run(mut settings: Settings, json_logs: bool) -> anyhow::Result<()> {
    if json_logs {
        // So that the settings logged below say what is in force.
        settings.log_format = LogFormat::Json;
    }
    api::telemetry::init(settings.log_format);
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
    let metrics_listen = built.state.settings.metrics_listen;
    let metrics = tokio::net::TcpListener::bind(metrics_listen)
        .await
        .with_context(|| format!("cannot listen for metrics on {metrics_listen} (ITSM_METRICS_LISTEN)"))?;
    tracing::info!(address = %metrics.local_addr()?, "metrics at /metrics");
    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));
    startup::serve(built.state, listener, Some(metrics), shutdown).await?;
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
