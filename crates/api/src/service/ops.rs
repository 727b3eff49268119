//! What operators ask of a running service: is the database there, and how
//! many tickets, clocks and messages stand where.

use crate::domain::outbox::OutboxStatus;
use crate::domain::ticket::TicketState;
use crate::state::{AppState, Chores};
use crate::store;

use super::Result;

/// The database answers.
pub async fn ready(state: &AppState) -> Result<()> {
    Ok(store::ping(&state.db).await?)
}

/// Count live tickets by state, unmet clocks by standing and queued and dead
/// messages, into the gauges `/metrics` shows; at most once every
/// `metrics_refresh_seconds`, however often it is scraped. Closed tickets,
/// met clocks and sent messages are not counted: they only grow, and
/// counting them would cost a scan of the whole history.
pub async fn refresh_gauges(state: &AppState) -> Result<()> {
    let now = state.clock.now();
    let every = i64::try_from(state.settings.metrics_refresh_seconds).unwrap_or(i64::MAX);
    if !Chores::due(&state.chores.gauges_at, now.unix(), every) {
        return Ok(());
    }
    let count = |rows: &store::metrics::Counts, name: &str| {
        rows.iter().find(|(k, _)| k == name).map_or(0.0, |(_, n)| *n as f64)
    };
    let live: Vec<&str> =
        TicketState::ALL.iter().filter(|s| **s != TicketState::Closed).map(|s| s.as_str()).collect();
    let tickets = store::metrics::tickets_by_state(&state.db, &live).await?;
    for s in live {
        metrics::gauge!("itsm_tickets", "state" => s).set(count(&tickets, s));
    }
    let clocks = store::metrics::unmet_clocks_by_state(&state.db, now).await?;
    for s in ["running", "paused", "breached"] {
        metrics::gauge!("itsm_clocks", "state" => s).set(count(&clocks, s));
    }
    let queued = [OutboxStatus::Pending.as_str(), OutboxStatus::Dead.as_str()];
    let mail = store::metrics::outbox_by_status(&state.db, &queued).await?;
    for s in queued {
        // Dead letters need an admin: alert on itsm_outbox{status="dead"} > 0.
        metrics::gauge!("itsm_outbox", "status" => s).set(count(&mail, s));
    }
    Ok(())
}
