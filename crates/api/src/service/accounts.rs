//! Accounts and signing in: the rules for who may hold which role, the
//! sign-in throttle, tokens and their revocation. Every front end (the API,
//! the pages, `itsm user add`, the first start) goes through here.

use std::net::IpAddr;
use std::time::Duration;

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
use crate::domain::throttle::{self, SignInLimits};
use crate::state::AppState;
use crate::store;
use crate::store::sign_ins::Reservation;
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

/// The account whose username and password these are, if both are right.
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
    issue_for(&state.db, user, now, state.settings.token_ttl_seconds).await
}

/// A random secret of 32 bytes, URL-safe: tokens and CSRF secrets.
pub fn random_secret() -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| Error::internal(format!("no randomness: {e}")))?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Issue a token for `user` that lives `ttl` seconds, on `db` (a
/// transaction when something is stored with it, as a web session is).
pub(super) async fn issue_for(
    db: &impl sea_orm::ConnectionTrait,
    user: User,
    now: Timestamp,
    ttl: u64,
) -> Result<Issued> {
    let token = random_secret()?;
    let expires_at = Timestamp::from_unix(now.unix().saturating_add(i64::try_from(ttl).unwrap_or(i64::MAX)));
    store::users::add_token(db, user.id, token_hash(&token), now, expires_at).await?;
    Ok(Issued { token, expires_in: ttl, user })
}

/// A username as a log may show it: a short hash, never the text, which
/// may be a password typed into the wrong field, or forge a log line.
/// Whoever knows a name can compute its hash to find it in the log.
pub fn redacted(username: &str) -> String {
    let digest = Sha256::digest(username.as_bytes());
    let hex: String = digest.iter().take(5).map(|b| format!("{b:02x}")).collect();
    format!("#{hex}")
}

/// The sign-in limits the settings give.
fn limits(state: &AppState) -> SignInLimits {
    let s = &state.settings;
    SignInLimits {
        per_pair: s.login_max_failures,
        per_address: s.login_max_failures_per_address,
        window: i64::try_from(s.login_window_seconds).unwrap_or(i64::MAX),
        slow_after: s.login_slow_after_failures,
        slow_step: Duration::from_millis(s.login_slow_step_ms),
        slow_max: Duration::from_millis(s.login_slow_max_ms),
    }
}

/// Check a username and password tried from `address`: the account, or a
/// refusal. Every way of signing in (a token, a page's session, the check
/// of the current password before a change) goes through here.
///
/// The attempt is reserved before the password is checked, as a failure of
/// this account from this address, and released when the password was
/// right, so that guesses sent at once are all counted (`store::sign_ins`
/// makes the check and the reservation one step, on every instance alike).
/// Past `login_max_failures` for the account from this address, or
/// `login_max_failures_per_address` from this address, attempts are
/// refused until the oldest failure leaves the window; past
/// `login_slow_after_failures` for the account from everywhere, each
/// attempt is held a while first, so a stranger can slow the account down
/// but never lock its owner out.
pub async fn check_credentials(
    state: &AppState,
    username: &str,
    password: &str,
    address: Option<IpAddr>,
) -> Result<User> {
    let now = state.clock.now();
    let limits = limits(state);
    // Usernames are counted as typed, whether or not such an account exists.
    let account: String = username.chars().take(256).collect();
    let from = throttle::address_key(address);
    let failures = match store::sign_ins::reserve(&state.db, &account, &from, &limits, now).await? {
        Reservation::Refused { wait } => {
            tracing::warn!(username = %redacted(username), address = %from, wait, "sign-in refused: too many failures");
            let at = Timestamp::from_unix(now.unix().saturating_add(i64::try_from(wait).unwrap_or(0)));
            return Err(Error::Throttled {
                detail: format!(
                    "too many failed sign-ins for this account from this address; \
                     try again in {wait} seconds (at {})",
                    at.to_datetime().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ),
                retry_after: wait,
            });
        }
        Reservation::Granted { account_failures, .. } => account_failures,
    };
    let delay = throttle::slowdown(&limits, failures);
    if !delay.is_zero() {
        tracing::info!(username = %redacted(username), ?delay, failures, "sign-in slowed");
        tokio::time::sleep(delay).await;
    }
    let user = if username.len() > 256 || password.len() > 1024 {
        None
    } else {
        authenticate(state, username, password).await?
    };
    match user {
        Some(user) if user.active => {
            store::sign_ins::release(&state.db, &account, &from).await?;
            Ok(user)
        }
        Some(user) => {
            // The password was right, but the attempt stays counted: a
            // deactivated account is no oracle for guesses.
            tracing::warn!(username = %user.username, "sign-in refused: account deactivated");
            Err(Error::forbidden("this account is deactivated; ask an admin to reactivate it"))
        }
        None => {
            tracing::warn!(username = %redacted(username), address = %from, "failed sign-in");
            Err(Error::InvalidCredentials)
        }
    }
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

/// Who holds a live token, and whether they must change their password first.
pub type TokenHolder = store::users::TokenHolder;

/// The holder of a bearer token, if it is live and its account active:
/// from the cache of recently checked tokens, else from the database. A
/// token found unknown is remembered as such for a while, so that made-up
/// tokens do not each cost a query.
pub async fn holder_of_token(state: &AppState, token: &str) -> Result<Option<TokenHolder>> {
    let now = state.clock.now();
    let hash = token_hash(token);
    if let Some(holder) = state.callers.get(&hash, now.unix()) {
        return Ok(Some(holder));
    }
    if state.callers.known_unknown(&hash, now.unix()) {
        return Ok(None);
    }
    let Some(holder) = store::users::caller_for_token(&state.db, &hash, now).await? else {
        state.callers.put_unknown(hash, now.unix());
        return Ok(None);
    };
    state.callers.put(hash, holder.clone(), now.unix());
    Ok(Some(holder))
}

/// Whether this token was found unknown a moment ago (no query).
pub fn known_unknown_token(state: &AppState, token: &str) -> bool {
    state.callers.known_unknown(&token_hash(token), state.clock.now().unix())
}

/// Whether this token's holder was checked a moment ago (no query).
pub fn known_token(state: &AppState, token: &str) -> bool {
    state.callers.get(&token_hash(token), state.clock.now().unix()).is_some()
}

/// The caller a bearer token belongs to, if it is live and its account active.
pub async fn caller_for_token(state: &AppState, token: &str) -> Result<Option<Caller>> {
    Ok(holder_of_token(state, token).await?.map(|h| h.caller))
}

/// Revoke a token: this instance forgets it at once.
pub async fn revoke_token(state: &AppState, token: &str) -> Result<()> {
    let hash = token_hash(token);
    store::users::revoke_token(&state.db, &hash, state.clock.now()).await?;
    state.callers.evict(&hash);
    Ok(())
}

/// Change one's own password, giving the current one (checked, and
/// throttled, as a sign-in from `address` is). Every token of the account
/// is revoked; a password the service generated counts as changed.
pub async fn change_password(
    state: &AppState,
    caller: &Caller,
    current: &str,
    new: String,
    address: Option<IpAddr>,
) -> Result<u64> {
    let user = match check_credentials(state, &caller.username, current, address).await {
        Ok(user) => user,
        Err(Error::InvalidCredentials) => {
            return Err(
                Invalid::field("current_password", "当前密码不正确", "current_password is wrong").into()
            );
        }
        Err(e) => return Err(e),
    };
    if new == current {
        return Err(Invalid::field(
            "new_password",
            "新密码不能与当前密码相同",
            "new_password must differ from the current password",
        )
        .into());
    }
    let change = UserChange { password: Some(new), ..Default::default() };
    let (_, revoked) = apply_change(state, user, change, PasswordBy::Owner).await.map_err(|e| match e {
        Error::Invalid(i) if i.field == Some("password") => {
            Error::Invalid(Invalid { field: Some("new_password"), ..i })
        }
        e => e,
    })?;
    tracing::info!(username = %caller.username, revoked, "password changed");
    Ok(revoked)
}

fn admin_only(caller: &Caller) -> Result<()> {
    if caller.role == Role::Admin { Ok(()) } else { Err(Error::forbidden("only admins manage accounts")) }
}

fn agency_exists(state: &AppState) -> impl Fn(&str) -> bool + '_ {
    |a| state.catalog.agency(a).is_some()
}

/// The key of the agency an account names by key or exact name; 422 on `agency` otherwise.
fn agency_key(state: &AppState, given: &str) -> Result<String> {
    Ok(state.agency_key(given)?)
}

/// Create an account (admins; `None` for the command line and the first
/// start). The agency may be given by key or by exact name; the key is stored.
pub async fn create(state: &AppState, by: Option<&Caller>, mut new: NewUser) -> Result<User> {
    if let Some(caller) = by {
        admin_only(caller)?;
    }
    new.agency = new.agency.as_deref().map(|a| agency_key(state, a)).transpose()?;
    account::validate(&new, agency_exists(state))?;
    let record = NewRecord {
        username: new.username,
        role: new.role,
        agency: new.agency,
        email: new.email,
        display_name: new.display_name,
        password_hash: hash_password(&new.password).await?,
        must_change_password: new.must_change_password,
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

/// Change an account (admins). A change of role, agency or password, or a
/// deactivation, revokes every token the account holds, at once. A
/// password an admin sets must be changed by its owner at first sign-in.
pub async fn update(state: &AppState, caller: &Caller, id: Uuid, mut change: UserChange) -> Result<User> {
    admin_only(caller)?;
    let current = store::users::get(&state.db, id).await?.ok_or(Error::NotFound("account"))?;
    if change.active == Some(false) && id == caller.id {
        return Err(Invalid::field(
            "active",
            "不能停用自己的账号",
            "an admin cannot deactivate their own account",
        )
        .into());
    }
    if let Some(Some(a)) = &change.agency {
        change.agency = Some(Some(agency_key(state, a)?));
    }
    let by = if id == caller.id { PasswordBy::Owner } else { PasswordBy::Admin };
    let (updated, revoked) = apply_change(state, current, change, by).await?;
    tracing::info!(username = %updated.username, role = %updated.role, active = updated.active, revoked, by = %caller.username, "account changed");
    Ok(updated)
}

/// Give an account a new generated password (admins), shown once: every
/// token it holds is revoked, and the owner must change it at first sign-in.
pub async fn reset_password(state: &AppState, caller: &Caller, id: Uuid) -> Result<(User, String)> {
    admin_only(caller)?;
    let current = store::users::get(&state.db, id).await?.ok_or(Error::NotFound("account"))?;
    let password = generate_password()?;
    let change = UserChange { password: Some(password.clone()), ..Default::default() };
    let (updated, revoked) = apply_change(state, current, change, PasswordBy::Generated).await?;
    tracing::info!(username = %updated.username, revoked, by = %caller.username, "password reset");
    Ok((updated, password))
}

/// Who sets a new password, which decides whether it must be changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PasswordBy {
    /// The account's owner: it is theirs alone.
    Owner,
    /// An admin, for someone else: the admin knows it.
    Admin,
    /// The service: it was shown to someone.
    Generated,
}

/// Apply `change` to `current`, checked against its role's rules, in one
/// transaction with the revocation of its tokens when the role, the agency
/// or the password changed or it was deactivated: a token must not outlive
/// the rights or the secret it was issued for.
async fn apply_change(
    state: &AppState,
    current: User,
    change: UserChange,
    by: PasswordBy,
) -> Result<(User, u64)> {
    let now = state.clock.now();
    let mut next = current.clone();
    next.role = change.role.unwrap_or(current.role);
    next.agency = change.agency.unwrap_or_else(|| current.agency.clone());
    next.email = change.email.unwrap_or_else(|| current.email.clone());
    next.display_name = change.display_name.unwrap_or_else(|| current.display_name.clone());
    next.active = change.active.unwrap_or(current.active);
    account::check_rights(next.role, next.agency.as_deref(), next.email.as_deref(), agency_exists(state))?;
    account::check_display_name(next.display_name.as_deref())?;
    let hash = match &change.password {
        Some(p) => {
            account::check_password(p, &next.username)?;
            next.must_change_password = by != PasswordBy::Owner;
            Some(hash_password(p).await?)
        }
        None => None,
    };
    let rights_changed =
        next.role != current.role || next.agency != current.agency || hash.is_some() || !next.active;
    let txn = state.db.begin().await?;
    store::users::update(&txn, &next, hash, now).await?;
    let revoked = if rights_changed { store::users::revoke_all(&txn, next.id, now).await? } else { 0 };
    txn.commit().await?;
    if rights_changed {
        // Deactivation stops its tokens here at once even if none was live
        // in the database (the cache may still hold one).
        state.callers.clear();
    }
    Ok((next, revoked))
}

/// On a first start (no accounts at all), create the admin with the given
/// password or a generated one; the generated one is returned, to be shown
/// once, and must be changed at the first sign-in.
pub async fn bootstrap_admin(state: &AppState, password: Option<String>) -> Result<Option<String>> {
    if store::users::count(&state.db).await? > 0 {
        return Ok(None);
    }
    let generated = password.is_none();
    let password = match password {
        Some(p) => p,
        None => generate_password()?,
    };
    let new = NewUser {
        username: "admin".into(),
        role: Role::Admin,
        agency: None,
        email: None,
        display_name: None,
        password,
        must_change_password: generated,
    };
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

/// People's names by their ids (display name, else username), for pages
/// that show who did something; ids with no account are left out.
pub async fn names(state: &AppState, ids: &[Uuid]) -> Result<Vec<(Uuid, String)>> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let people = store::users::by_ids(&state.db, &ids).await?;
    Ok(people.into_iter().map(|u| (u.id, u.display_name.unwrap_or(u.username))).collect())
}
