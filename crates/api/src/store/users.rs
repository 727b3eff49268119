//! Accounts and bearer tokens. Passwords are hashed with argon2; tokens are
//! random and stored only as their SHA-256, so a database leak yields none.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder,
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::entities::{api_token, user};
use crate::domain::access::{Caller, Role};

/// A new account's details.
#[derive(Clone, Debug)]
pub struct NewUser {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Agency key, for agency users and agency managers.
    pub agency: Option<String>,
    /// Where alerts go.
    pub email: Option<String>,
    /// The password in clear; hashed before it is stored.
    pub password: String,
}

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The username is taken.
    #[error("username \"{0}\" is taken")]
    Taken(String),
    /// A field is invalid.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Check a new account's fields against the rules of its role.
pub fn validate(new: &NewUser, agency_exists: impl Fn(&str) -> bool) -> Result<(), UserError> {
    let name_ok = (1..=64).contains(&new.username.chars().count())
        && new.username.chars().all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !name_ok {
        return Err(UserError::Invalid("username must be 1 to 64 letters, digits or . _ - @".into()));
    }
    check_password(&new.password)?;
    check_rights(new.role, new.agency.as_deref(), new.email.as_deref(), agency_exists)
}

/// A password's length rule.
fn check_password(password: &str) -> Result<(), UserError> {
    if password.chars().count() < 12 || password.len() > 1024 {
        return Err(UserError::Invalid("password must be 12 to 1024 characters".into()));
    }
    Ok(())
}

/// The rules that tie a role to an agency binding, and the email's form.
fn check_rights(
    role: Role,
    agency: Option<&str>,
    email: Option<&str>,
    agency_exists: impl Fn(&str) -> bool,
) -> Result<(), UserError> {
    match (role, agency) {
        (Role::AgencyUser, None) => {
            return Err(UserError::Invalid("an agency_user must be bound to an agency".into()));
        }
        (Role::Engineer | Role::Admin, Some(_)) => {
            return Err(UserError::Invalid(format!("a {role} is supplier staff and has no agency")));
        }
        (_, Some(a)) if !agency_exists(a) => {
            return Err(UserError::Invalid(format!("agency \"{a}\" does not exist")));
        }
        _ => {}
    }
    if let Some(email) = email {
        let ok = email.len() <= 254
            && email.split_once('@').is_some_and(|(l, d)| !l.is_empty() && d.contains('.'));
        if !ok {
            return Err(UserError::Invalid(format!("\"{email}\" is not an email address")));
        }
    }
    Ok(())
}

/// Hash a password with argon2id and a random salt.
pub fn hash_password(password: &str) -> Result<String, UserError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| UserError::Invalid(format!("no randomness: {e}")))?;
    let salt = SaltString::encode_b64(&bytes).map_err(|e| UserError::Invalid(e.to_string()))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| UserError::Invalid(e.to_string()))
}

/// `hash_password` on the blocking pool: argon2 takes tens of milliseconds
/// of CPU that would otherwise stall a request worker.
async fn hash_off_runtime(password: &str) -> Result<String, UserError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| UserError::Db(DbErr::Custom(format!("password hashing failed: {e}"))))?
}

/// Create an account (already validated).
pub async fn create(db: &impl ConnectionTrait, new: NewUser, now: i64) -> Result<user::Model, UserError> {
    let hash = hash_off_runtime(&new.password).await?;
    let model = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        username: Set(new.username.clone()),
        password_hash: Set(hash),
        role: Set(new.role.as_str().to_owned()),
        agency_key: Set(new.agency),
        email: Set(new.email),
        created_at: Set(now),
        updated_at: Set(now),
    };
    model
        .insert(db)
        .await
        .map_err(|e| if super::is_unique_violation(&e) { UserError::Taken(new.username) } else { e.into() })
}

/// Number of accounts (zero on first start).
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    user::Entity::find().count(db).await
}

/// Every account, oldest first.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<user::Model>, DbErr> {
    user::Entity::find().order_by_asc(user::Column::CreatedAt).order_by_asc(user::Column::Id).all(db).await
}

/// An account by id.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<user::Model>, DbErr> {
    user::Entity::find_by_id(id).one(db).await
}

/// A fixed hash to verify against when the username is unknown, so that a
/// wrong username costs as much time as a wrong password.
fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| hash_password("decoy password, never valid").unwrap_or_default())
}

/// The account whose username and password these are.
pub async fn authenticate(
    db: &impl ConnectionTrait,
    username: &str,
    password: &str,
) -> Result<Option<user::Model>, DbErr> {
    let found = user::Entity::find().filter(user::Column::Username.eq(username)).one(db).await?;
    let hash = found.as_ref().map_or_else(|| decoy_hash().to_owned(), |u| u.password_hash.clone());
    let ok = tokio::task::spawn_blocking({
        let password = password.to_owned();
        move || {
            PasswordHash::new(&hash)
                .is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
        }
    })
    .await
    .unwrap_or(false);
    Ok(found.filter(|_| ok))
}

/// What a token is stored and cached as.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Issue a token for `user_id` valid for `ttl` seconds; returns the token in clear (shown once).
pub async fn issue_token(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    now: i64,
    ttl: i64,
) -> Result<String, DbErr> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| DbErr::Custom(format!("no randomness: {e}")))?;
    let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    api_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        token_hash: Set(token_hash(&token)),
        created_at: Set(now),
        expires_at: Set(now + ttl),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(token)
}

/// The caller a token (by hash) belongs to and when it expires, if it is
/// valid at `now`: one query.
pub async fn caller_for_token(
    db: &impl ConnectionTrait,
    hash: &str,
    now: i64,
) -> Result<Option<(Caller, i64)>, DbErr> {
    let backend = db.get_database_backend();
    let (p_hash, p_now) = if backend == sea_orm::DbBackend::Postgres { ("$1", "$2") } else { ("?", "?") };
    let sql = format!(
        "SELECT u.id, u.username, u.role, u.agency_key, t.expires_at FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = {p_hash} AND t.revoked_at IS NULL AND t.expires_at > {p_now}"
    );
    let values = [hash.into(), now.into()];
    let Some(row) = db.query_one_raw(sea_orm::Statement::from_sql_and_values(backend, sql, values)).await?
    else {
        return Ok(None);
    };
    let role: String = row.try_get("", "role")?;
    let Ok(role) = role.parse::<Role>() else {
        return Ok(None);
    };
    let caller = Caller {
        id: row.try_get("", "id")?,
        username: row.try_get("", "username")?,
        role,
        agency: row.try_get("", "agency_key")?,
    };
    Ok(Some((caller, row.try_get("", "expires_at")?)))
}

/// Revoke one token.
pub async fn revoke_token(db: &impl ConnectionTrait, token: &str, now: i64) -> Result<bool, DbErr> {
    Ok(revoke_live(db, api_token::Column::TokenHash.eq(token_hash(token)), now).await? > 0)
}

/// Revoke every live token of `user_id`; how many were.
pub async fn revoke_all(db: &impl ConnectionTrait, user_id: Uuid, now: i64) -> Result<u64, DbErr> {
    revoke_live(db, api_token::Column::UserId.eq(user_id), now).await
}

/// Mark the live tokens that match `which` revoked at `now`; how many were.
async fn revoke_live(
    db: &impl ConnectionTrait,
    which: sea_orm::sea_query::SimpleExpr,
    now: i64,
) -> Result<u64, DbErr> {
    let result = api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, sea_orm::sea_query::Expr::value(now))
        .filter(which)
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Changes to an account; `None` leaves a field as it is.
#[derive(Clone, Debug, Default)]
pub struct UserChange {
    /// A new role.
    pub role: Option<Role>,
    /// A new agency binding (`Some(None)` unbinds).
    pub agency: Option<Option<String>>,
    /// A new email (`Some(None)` removes it).
    pub email: Option<Option<String>>,
    /// A new password, in clear; hashed before it is stored.
    pub password: Option<String>,
}

/// Apply `change` to the account `current`, checked against its role's rules,
/// in one transaction with the revocation of its tokens when the role, the
/// agency or the password changed: a token must not outlive the rights or
/// the secret it was issued for.
pub async fn update(
    db: &sea_orm::DatabaseConnection,
    current: user::Model,
    change: UserChange,
    agency_exists: impl Fn(&str) -> bool,
    now: i64,
) -> Result<(user::Model, u64), UserError> {
    use sea_orm::TransactionTrait;
    let role: Role = current.role.parse().map_err(|_| UserError::Invalid("stored role is unknown".into()))?;
    let next_role = change.role.unwrap_or(role);
    let agency = change.agency.unwrap_or_else(|| current.agency_key.clone());
    let email = change.email.unwrap_or_else(|| current.email.clone());
    check_rights(next_role, agency.as_deref(), email.as_deref(), agency_exists)?;
    if let Some(password) = &change.password {
        check_password(password)?;
    }
    let rights_changed = next_role != role || agency != current.agency_key || change.password.is_some();
    let mut model: user::ActiveModel = current.into();
    model.role = Set(next_role.as_str().to_owned());
    model.agency_key = Set(agency);
    model.email = Set(email);
    if let Some(password) = &change.password {
        model.password_hash = Set(hash_off_runtime(password).await?);
    }
    model.updated_at = Set(now);
    let txn = db.begin().await?;
    let updated = model.update(&txn).await?;
    let revoked = if rights_changed { revoke_all(&txn, updated.id, now).await? } else { 0 };
    txn.commit().await?;
    Ok((updated, revoked))
}
