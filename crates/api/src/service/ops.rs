//! What operators ask of a running service: is the database there, and how
//! many tickets, clocks and messages stand where.

use crate::domain::outbox::OutboxStatus;
use crate::domain::ticket::TicketState;
use crate::state::AppState;
use crate::store;

use super::Result;

/// The database answers.
pub async fn ready(state: &AppState) -> Result<()> {
    Ok(store::ping(&state.db).await?)
}

/// Count tickets by state, clocks by standing and messages by status, now,
/// into the gauges `/metrics` shows.
pub async fn refresh_gauges(state: &AppState) -> Result<()> {
    let count = |rows: &store::metrics::Counts, name: &str| {
        rows.iter().find(|(k, _)| k == name).map_or(0.0, |(_, n)| *n as f64)
    };
    let tickets = store::metrics::tickets_by_state(&state.db).await?;
    for s in TicketState::ALL {
        metrics::gauge!("itsm_tickets", "state" => s.as_str()).set(count(&tickets, s.as_str()));
    }
    let clocks = store::metrics::clocks_by_state(&state.db, state.clock.now()).await?;
    for s in ["running", "paused", "met", "breached"] {
        metrics::gauge!("itsm_clocks", "state" => s).set(count(&clocks, s));
    }
    let mail = store::metrics::outbox_by_status(&state.db).await?;
    for s in OutboxStatus::ALL {
        // Dead letters need an admin: alert on itsm_outbox{status="dead"} > 0.
        metrics::gauge!("itsm_outbox", "status" => s.as_str()).set(count(&mail, s.as_str()));
    }
    Ok(())
}
