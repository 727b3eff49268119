//! The mail queue for admins: what was sent, what waits, what was given up
//! on, and sending a dead letter again.

use uuid::Uuid;

use super::{Error, Result};
use crate::domain::access::{Caller, Role};
use crate::domain::outbox::{OutboxStatus, QueuedMessage};
use crate::state::AppState;
use crate::store;

fn admin_only(caller: &Caller) -> Result<()> {
    if caller.role == Role::Admin { Ok(()) } else { Err(Error::forbidden("only admins see the mail queue")) }
}

/// The newest messages, optionally of one status (admins).
pub async fn list(
    state: &AppState,
    caller: &Caller,
    status: Option<OutboxStatus>,
    limit: u64,
) -> Result<Vec<QueuedMessage>> {
    admin_only(caller)?;
    Ok(store::outbox::list(&state.db, status, limit).await?)
}

/// Send a dead letter again, from its first attempt (admins).
pub async fn retry(state: &AppState, caller: &Caller, id: Uuid) -> Result<QueuedMessage> {
    admin_only(caller)?;
    let revived = store::outbox::revive(&state.db, id, state.clock.now()).await?;
    let message = store::outbox::get(&state.db, id).await?.ok_or(Error::NotFound("message"))?;
    if !revived {
        return Err(Error::Conflict(format!("the message is {}, not dead", message.status)));
    }
    tracing::info!(%id, by = %caller.username, "dead letter queued again");
    state.mail_wake.notify_one();
    Ok(message)
}
