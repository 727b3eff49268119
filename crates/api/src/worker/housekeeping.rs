//! Deleting what has outlived its use, at most every ten minutes: tokens
//! that expired, Idempotency-Keys older than `idempotency_key_ttl_seconds`,
//! sign-in failures that left `login_window_seconds`, web sessions idle
//! past `session_idle_seconds`.

use sea_orm::DbErr;
use sla_engine::Timestamp;

use super::TickReport;
use crate::state::{AppState, Chores};
use crate::store;

/// How often the sweep runs.
pub(super) const EVERY: i64 = 600;

/// Sweep, if the last sweep is `EVERY` seconds ago; when the next is due.
pub(super) async fn sweep(state: &AppState, report: &mut TickReport) -> Result<Option<Timestamp>, DbErr> {
    let now = state.clock.now();
    if !Chores::due(&state.chores.housekeeping_at, now.unix(), EVERY) {
        let last = state.chores.housekeeping_at.load(std::sync::atomic::Ordering::SeqCst);
        return Ok(Some(Timestamp::from_unix(last + EVERY)));
    }
    let age =
        |seconds: u64| Timestamp::from_unix(now.unix().saturating_sub(i64::try_from(seconds).unwrap_or(0)));
    let deleted = store::housekeeping::sweep(
        &state.db,
        now,
        age(state.settings.idempotency_key_ttl_seconds),
        age(state.settings.login_window_seconds),
    )
    .await?;
    // A session idle past its limit is refused when next used; this only
    // keeps the table from growing with browsers that never came back.
    let sessions = store::sessions::delete_idle(&state.db, age(state.settings.session_idle_seconds)).await?;
    report.swept += usize::try_from(sessions).unwrap_or(usize::MAX);
    if deleted.total() > 0 {
        tracing::info!(?deleted, "housekeeping");
    }
    report.swept += usize::try_from(deleted.total()).unwrap_or(usize::MAX);
    Ok(Some(Timestamp::from_unix(now.unix() + EVERY)))
}
