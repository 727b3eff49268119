//! Sessions of the web console. A session is a token of the API's kind,
//! issued by the same sign-in (`accounts::check_credentials`: throttle,
//! deactivation) and revoked by the same account changes, that lives
//! `session_max_seconds` and ends when unused for `session_idle_seconds`;
//! its forms carry a CSRF secret stored with it.

use std::net::IpAddr;

use sea_orm::TransactionTrait;
use sla_engine::Timestamp;

use super::Result;
use super::accounts::{self, TokenHolder};
use crate::domain::access::Caller;
use crate::state::AppState;
use crate::store;

/// Use is written down at most this often, so that reading pages does not
/// write on every request; the idle limit is that much less exact.
const TOUCH_EVERY: i64 = 60;

/// A session just opened: what the browser is given.
#[derive(Clone)]
pub struct Opened {
    /// The cookie's value (the token in clear).
    pub token: String,
    /// How long the cookie may live.
    pub max_age: u64,
}

impl std::fmt::Debug for Opened {
    // Never print the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened").field("max_age", &self.max_age).finish_non_exhaustive()
    }
}

/// A live session, as a page sees it.
#[derive(Clone, Debug)]
pub struct Session {
    /// Who it belongs to.
    pub caller: Caller,
    /// Their password must be changed before anything else.
    pub must_change_password: bool,
    /// The secret every form of this session carries.
    pub csrf: String,
}

/// Sign in from a page: the same check as every sign-in, then a token and
/// its session row in one transaction.
pub async fn open(
    state: &AppState,
    username: &str,
    password: &str,
    address: Option<IpAddr>,
) -> Result<Opened> {
    let user = accounts::check_credentials(state, username, password, address).await?;
    let now = state.clock.now();
    let max_age = state.settings.session_max_seconds;
    let txn = state.db.begin().await?;
    let user_id = user.id;
    let issued = accounts::issue_for(&txn, user, now, max_age).await?;
    let hash = accounts::token_hash(&issued.token);
    store::sessions::create(&txn, hash, user_id, accounts::random_secret()?, now).await?;
    txn.commit().await?;
    tracing::info!(username = %issued.user.username, "web session opened");
    Ok(Opened { token: issued.token, max_age })
}

/// The session a cookie names, if it is live: its token live and its
/// account active (as for a bearer token, cache included), and used within
/// the idle limit. A session found idle is closed.
pub async fn resume(state: &AppState, token: &str) -> Result<Option<Session>> {
    if accounts::known_unknown_token(state, token) {
        return Ok(None);
    }
    let Some(holder) = accounts::holder_of_token(state, token).await? else { return Ok(None) };
    let hash = accounts::token_hash(token);
    let Some(row) = store::sessions::get(&state.db, &hash).await? else { return Ok(None) };
    let now = state.clock.now().unix();
    let idle = i64::try_from(state.settings.session_idle_seconds).unwrap_or(i64::MAX);
    if now >= row.last_seen_at.unix().saturating_add(idle) {
        close(state, token).await?;
        return Ok(None);
    }
    if now >= row.last_seen_at.unix().saturating_add(TOUCH_EVERY) {
        store::sessions::touch(&state.db, &hash, Timestamp::from_unix(now)).await?;
    }
    Ok(Some(session(holder, row.csrf)))
}

fn session(holder: TokenHolder, csrf: String) -> Session {
    Session { caller: holder.caller, must_change_password: holder.must_change_password, csrf }
}

/// Sign out: the token is revoked (everywhere, as a bearer token's is) and the row deleted.
pub async fn close(state: &AppState, token: &str) -> Result<()> {
    accounts::revoke_token(state, token).await?;
    store::sessions::delete(&state.db, &accounts::token_hash(token)).await?;
    Ok(())
}

/// Whether a form's CSRF field is this session's secret (compared in
/// constant time, so that timing tells nothing of it).
pub fn csrf_matches(session: &Session, given: &str) -> bool {
    let (a, b) = (session.csrf.as_bytes(), given.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
