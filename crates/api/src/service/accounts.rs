//! Accounts and signing in: the rules for who may hold which role, the
//! sign-in throttle, tokens and their revocation. Every front end (the API,
//! the pages, `itsm user add`, the first start) goes through here.

use std::net::IpAddr;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use sea_orm::TransactionTrait;
use sha2::{Digest, Sha256};
use sla_engine::Timestamp;
use uuid::Uuid;

use super::{Error, Result};
use crate::domain::access::{Caller, Role};
use crate::domain::account::{self, NewUser, User, UserChange};
use crate::domain::message::Invalid;
use crate::state::AppState;
use crate::store;
use crate::store::users::{CreateError, NewRecord};

/// A token just issued.
#[derive(Clone)]
pub struct Issued {
    /// The token in clear: shown once, stored only as its hash.
    pub token: String,
    /// Seconds until it expires.
    pub expires_in: u64,
    /// Whose it is.
    pub user: User,
}

impl std::fmt::Debug for Issued {
    // Never print the token.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued").field("user", &self.user.username).finish_non_exhaustive()
    }
}

/// What a token is stored and cached as.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A random secret of 18 bytes, URL-safe: generated passwords.
pub fn generate_password() -> Result<String> {
    let mut bytes = [0u8; 18];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Hash a password with argon2id and a random salt.
fn hash_now(password: &str) -> Result<String> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&bytes).map_err(Error::internal)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(Error::internal)
}

/// [`hash_now`] on the blocking pool: argon2 takes tens of milliseconds of
/// CPU that would otherwise stall a request worker.
async fn hash_password(password: &str) -> Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(|e| Error::internal(format!("password hashing failed: {e}")))?
}

/// A fixed hash to verify against when the username is unknown, so that a
/// wrong username costs as much time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_now("decoy password, never valid").unwrap_or_default())
}

/// The account whose username and password these are.
async fn authenticate(state: &AppState, username: &str, password: &str) -> Result<Option<User>> {
    let found = store::users::by_username(&state.db, username).await?;
    let hash = found.as_ref().map_or_else(|| decoy_hash().to_owned(), |(_, h)| h.clone());
    let password = password.to_owned();
    let ok = tokio::task::spawn_blocking(move || {
        PasswordHash::new(&hash)
            .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
    })
    .await
    .unwrap_or(false);
    Ok(found.filter(|_| ok).map(|(u, _)| u))
}

/// Issue a token for `user`, valid for the configured time.
async fn issue(state: &AppState, user: User, now: Timestamp) -> Result<Issued> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let ttl = state.settings.token_ttl_seconds;
    let expires_at = Timestamp::from_unix(now.unix().saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)));
    store::users::add_token(&state.db, user.id, token_hash(&token), now, expires_at).await?;
    Ok(Issued { token, expires_in: ttl, user })
}

/// Check a username and password tried from `address`: the account, or a
/// refusal. Failures are counted per account and per address; beyond the
/// limit every attempt is refused until the oldest failure leaves the
/// window. Every way of signing in (a token, a page's session) goes through here.
pub async fn check_credentials(
    state: &AppState,
    username: &str,
    password: &str,
    address: Option<IpAddr>,
) -> Result<User> {
    let now = state.clock.now().unix();
    // Usernames are compared as typed: the throttle counts the name tried,
    // whether or not such an account exists.
    let address = address.map(|ip| ip.to_string());
    let waits = [
        state.login_accounts.wait(username, now),
        address.as_deref().and_then(|a| state.login_addresses.wait(a, now)),
    ];
    if let Some(wait) = waits.into_iter().flatten().max() {
        return Err(Error::Throttled {
            detail: "too many failed sign-ins; try again later".into(),
            retry_after: wait,
        });
    }
    let fail = || {
        state.login_accounts.fail(username, now);
        if let Some(a) = &address {
            state.login_addresses.fail(a, now);
        }
        tracing::warn!(username = %username.chars().take(64).collect::<String>(), "failed sign-in");
        Error::InvalidCredentials
    };
    if username.len() > 256 || password.len() > 1024 {
        return Err(fail());
    }
    let Some(user) = authenticate(state, username, password).await? else {
        return Err(fail());
    };
    state.login_accounts.clear(username);
    Ok(user)
}

/// Sign in for a bearer token.
pub async fn sign_in(
    state: &AppState,
    username: &str,
    password: &str,
    address: Option<IpAddr>,
) -> Result<Issued> {
    let user = check_credentials(state, username, password, address).await?;
    let issued = issue(state, user, state.clock.now()).await?;
    tracing::info!(username = %issued.user.username, "token issued");
    Ok(issued)
}

/// The caller a bearer token belongs to, if it is live: from the cache of
/// recently checked tokens, else from the database.
pub async fn caller_for_token(state: &AppState, token: &str) -> Result<Option<Caller>> {
    let now = state.clock.now();
    let hash = token_hash(token);
    if let Some(caller) = state.callers.get(&hash, now.unix()) {
        return Ok(Some(caller));
    }
    let Some((caller, expires_at)) = store::users::caller_for_token(&state.db, &hash, now).await? else {
        return Ok(None);
    };
    state.callers.put(hash, caller.clone(), expires_at.unix(), now.unix());
    Ok(Some(caller))
}

/// Revoke a token: this instance forgets it at once.
pub async fn revoke_token(state: &AppState, token: &str) -> Result<()> {
    let hash = token_hash(token);
    store::users::revoke_token(&state.db, &hash, state.clock.now()).await?;
    state.callers.evict(&hash);
    Ok(())
}

/// Change one's own password. Guessing the current password with a stolen
/// token counts as failed sign-ins. Every token of the account is revoked.
pub async fn change_password(state: &AppState, caller: &Caller, current: &str, new: String) -> Result<u64> {
    let now = state.clock.now().unix();
    if let Some(wait) = state.login_accounts.wait(&caller.username, now) {
        return Err(Error::Throttled {
            detail: "too many failed attempts; try again later".into(),
            retry_after: wait,
        });
    }
    let Some(user) = authenticate(state, &caller.username, current).await? else {
        state.login_accounts.fail(&caller.username, now);
        return Err(Invalid::field("current_password", "当前密码不正确", "current_password is wrong").into());
    };
    let (_, revoked) =
        apply_change(state, user, UserChange { password: Some(new), ..Default::default() }).await?;
    tracing::info!(username = %caller.username, revoked, "password changed");
    Ok(revoked)
}

fn admin_only(caller: &Caller) -> Result<()> {
    if caller.role == Role::Admin { Ok(()) } else { Err(Error::forbidden("only admins manage accounts")) }
}

fn agency_exists(state: &AppState) -> impl Fn(&str) -> bool + '_ {
    |a| state.catalog.agency(a).is_some()
}

/// Create an account (admins; `None` for the command line and the first start).
pub async fn create(state: &AppState, by: Option<&Caller>, new: NewUser) -> Result<User> {
    if let Some(caller) = by {
        admin_only(caller)?;
    }
    account::validate(&new, agency_exists(state))?;
    let record = NewRecord {
        username: new.username,
        role: new.role,
        agency: new.agency,
        email: new.email,
        password_hash: hash_password(&new.password).await?,
    };
    let created = store::users::create(&state.db, record, state.clock.now()).await.map_err(|e| match e {
        CreateError::Taken(name) => Error::Conflict(format!("username \"{name}\" is taken")),
        CreateError::Db(e) => e.into(),
    })?;
    let by = by.map_or("itsm", |c| c.username.as_str());
    tracing::info!(username = %created.username, role = %created.role, by, "account created");
    Ok(created)
}

/// Every account (admins).
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<User>> {
    admin_only(caller)?;
    Ok(store::users::list(&state.db).await?)
}

/// Change an account (admins). A change of role, agency or password revokes
/// every token the account holds, at once.
pub async fn update(state: &AppState, caller: &Caller, id: Uuid, change: UserChange) -> Result<User> {
    admin_only(caller)?;
    let current = store::users::get(&state.db, id).await?.ok_or(Error::NotFound("account"))?;
    let (updated, revoked) = apply_change(state, current, change).await?;
    tracing::info!(username = %updated.username, role = %updated.role, revoked, by = %caller.username, "account changed");
    Ok(updated)
}

/// Apply `change` to `current`, checked against its role's rules, in one
/// transaction with the revocation of its tokens when the role, the agency
/// or the password changed: a token must not outlive the rights or the
/// secret it was issued for.
async fn apply_change(state: &AppState, current: User, change: UserChange) -> Result<(User, u64)> {
    let now = state.clock.now();
    let mut next = current.clone();
    next.role = change.role.unwrap_or(current.role);
    next.agency = change.agency.unwrap_or_else(|| current.agency.clone());
    next.email = change.email.unwrap_or_else(|| current.email.clone());
    account::check_rights(next.role, next.agency.as_deref(), next.email.as_deref(), agency_exists(state))?;
    let hash = match &change.password {
        Some(p) => {
            account::check_password(p)?;
            Some(hash_password(p).await?)
        }
        None => None,
    };
    let rights_changed = next.role != current.role || next.agency != current.agency || hash.is_some();
    let txn = state.db.begin().await?;
    store::users::update(&txn, &next, hash, now).await?;
    let revoked = if rights_changed { store::users::revoke_all(&txn, next.id, now).await? } else { 0 };
    txn.commit().await?;
    if revoked > 0 {
        state.callers.clear();
    }
    Ok((next, revoked))
}

/// On a first start (no accounts at all), create the admin with the given
/// password or a generated one; the generated one is returned, to be shown once.
pub async fn bootstrap_admin(state: &AppState, password: Option<String>) -> Result<Option<String>> {
    if store::users::count(&state.db).await? > 0 {
        return Ok(None);
    }
    let generated = password.is_none();
    let password = match password {
        Some(p) => p,
        None => generate_password()?,
    };
    let new = NewUser { username: "admin".into(), role: Role::Admin, agency: None, email: None, password };
    let shown = new.password.clone();
    match create(state, None, new).await {
        Ok(_) => {}
        // Another instance created it first.
        Err(Error::Conflict(_)) => return Ok(None),
        Err(Error::Invalid(e)) => return Err(Error::Internal(format!("ITSM_ADMIN_PASSWORD: {e}"))),
        Err(e) => return Err(e),
    }
    tracing::info!("created the first admin account");
    Ok(generated.then_some(shown))
}
