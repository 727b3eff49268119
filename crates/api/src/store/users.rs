//! Accounts and bearer tokens as stored: passwords only as argon2 hashes,
//! tokens only as their SHA-256, so that a database leak yields neither.

use catalog::Recipients;
use sea_orm::sea_query::{Expr, SimpleExpr};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, Statement,
};
use sla_engine::Timestamp;
use uuid::Uuid;

use super::entities::{api_token, user};
use super::parse;
use crate::domain::access::{Caller, Role};
use crate::domain::account::User;

fn from_row(m: user::Model) -> Result<User, DbErr> {
    Ok(User {
        id: m.id,
        username: m.username,
        role: parse("role", &m.role)?,
        agency: m.agency_key,
        email: m.email,
        display_name: m.display_name,
        active: m.active,
        must_change_password: m.must_change_password,
        created_at: Timestamp::from_unix(m.created_at),
    })
}

/// An account to store, its password already hashed.
#[derive(Clone, Debug)]
pub struct NewRecord {
    /// Login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Agency key.
    pub agency: Option<String>,
    /// Email.
    pub email: Option<String>,
    /// The name people know them by.
    pub display_name: Option<String>,
    /// The argon2 hash.
    pub password_hash: String,
    /// The password was generated: change it at first sign-in.
    pub must_change_password: bool,
}

/// Why an account could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum CreateError {
    /// The username is taken.
    #[error("username \"{0}\" is taken")]
    Taken(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// Store a new account.
pub async fn create(db: &impl ConnectionTrait, new: NewRecord, now: Timestamp) -> Result<User, CreateError> {
    let model = user::ActiveModel {
        id: Set(Uuid::now_v7()),
        username: Set(new.username.clone()),
        password_hash: Set(new.password_hash),
        role: Set(new.role.as_str().to_owned()),
        agency_key: Set(new.agency),
        email: Set(new.email),
        display_name: Set(new.display_name),
        active: Set(true),
        must_change_password: Set(new.must_change_password),
        created_at: Set(now.unix()),
        updated_at: Set(now.unix()),
    };
    match model.insert(db).await {
        Ok(m) => Ok(from_row(m)?),
        Err(e) if super::is_unique_violation(&e) => Err(CreateError::Taken(new.username)),
        Err(e) => Err(e.into()),
    }
}

/// Number of accounts (zero on first start).
pub async fn count(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    user::Entity::find().count(db).await
}

/// Every account, oldest first.
pub async fn list(db: &impl ConnectionTrait) -> Result<Vec<User>, DbErr> {
    user::Entity::find()
        .order_by_asc(user::Column::CreatedAt)
        .order_by_asc(user::Column::Id)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// An account by id.
pub async fn get(db: &impl ConnectionTrait, id: Uuid) -> Result<Option<User>, DbErr> {
    user::Entity::find_by_id(id).one(db).await?.map(from_row).transpose()
}

/// The accounts with these ids (those that exist).
pub async fn by_ids(db: &impl ConnectionTrait, ids: &[Uuid]) -> Result<Vec<User>, DbErr> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    user::Entity::find()
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// An account by username, with its password hash.
pub async fn by_username(db: &impl ConnectionTrait, username: &str) -> Result<Option<(User, String)>, DbErr> {
    let Some(m) = user::Entity::find().filter(user::Column::Username.eq(username)).one(db).await? else {
        return Ok(None);
    };
    let hash = m.password_hash.clone();
    Ok(Some((from_row(m)?, hash)))
}

/// Write an account's role, agency, email, display name, state, whether
/// its password must be changed and (when given) its password hash.
pub async fn update(
    db: &impl ConnectionTrait,
    u: &User,
    password_hash: Option<String>,
    now: Timestamp,
) -> Result<(), DbErr> {
    let mut model = user::ActiveModel {
        id: sea_orm::ActiveValue::Unchanged(u.id),
        role: Set(u.role.as_str().to_owned()),
        agency_key: Set(u.agency.clone()),
        email: Set(u.email.clone()),
        display_name: Set(u.display_name.clone()),
        active: Set(u.active),
        must_change_password: Set(u.must_change_password),
        updated_at: Set(now.unix()),
        ..Default::default()
    };
    if let Some(hash) = password_hash {
        model.password_hash = Set(hash);
    }
    model.update(db).await?;
    Ok(())
}

/// Store a token (by hash) for `user_id`, valid until `expires_at`.
pub async fn add_token(
    db: &impl ConnectionTrait,
    user_id: Uuid,
    hash: String,
    now: Timestamp,
    expires_at: Timestamp,
) -> Result<(), DbErr> {
    api_token::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        token_hash: Set(hash),
        created_at: Set(now.unix()),
        expires_at: Set(expires_at.unix()),
        revoked_at: Set(None),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// What a live token says about its holder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenHolder {
    /// The caller.
    pub caller: Caller,
    /// When the token expires.
    pub expires_at: Timestamp,
    /// The account's password must be changed before anything else.
    pub must_change_password: bool,
}

/// The holder of a token (by hash), if the token is valid at `now` and its
/// account active: one query.
pub async fn caller_for_token(
    db: &impl ConnectionTrait,
    hash: &str,
    now: Timestamp,
) -> Result<Option<TokenHolder>, DbErr> {
    let backend = db.get_database_backend();
    let (p_hash, p_now) = if backend == sea_orm::DbBackend::Postgres { ("$1", "$2") } else { ("?", "?") };
    let sql = format!(
        "SELECT u.id, u.username, u.role, u.agency_key, u.must_change_password, t.expires_at \
         FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = {p_hash} AND t.revoked_at IS NULL AND t.expires_at > {p_now} AND u.active"
    );
    let values = [hash.into(), now.unix().into()];
    let Some(row) = db.query_one_raw(Statement::from_sql_and_values(backend, sql, values)).await? else {
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
    Ok(Some(TokenHolder {
        caller,
        expires_at: Timestamp::from_unix(row.try_get("", "expires_at")?),
        must_change_password: row.try_get("", "must_change_password")?,
    }))
}

/// Delete the tokens that expired by `now`; how many.
pub async fn delete_expired_tokens(db: &impl ConnectionTrait, now: Timestamp) -> Result<u64, DbErr> {
    let result = api_token::Entity::delete_many()
        .filter(api_token::Column::ExpiresAt.lte(now.unix()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// Revoke one token (by hash); true when it was live.
pub async fn revoke_token(db: &impl ConnectionTrait, hash: &str, now: Timestamp) -> Result<bool, DbErr> {
    Ok(revoke_live(db, api_token::Column::TokenHash.eq(hash), now).await? > 0)
}

/// Revoke every live token of `user_id`; how many were.
pub async fn revoke_all(db: &impl ConnectionTrait, user_id: Uuid, now: Timestamp) -> Result<u64, DbErr> {
    revoke_live(db, api_token::Column::UserId.eq(user_id), now).await
}

/// Mark the live tokens that match `which` revoked at `now`; how many were.
async fn revoke_live(db: &impl ConnectionTrait, which: SimpleExpr, now: Timestamp) -> Result<u64, DbErr> {
    let result = api_token::Entity::update_many()
        .col_expr(api_token::Column::RevokedAt, Expr::value(now.unix()))
        .filter(which)
        .filter(api_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}

/// The accounts in these recipient groups for an agency (and an assignee,
/// if any), by username.
pub async fn in_groups(
    db: &impl ConnectionTrait,
    agency: &str,
    assignee: Option<Uuid>,
    groups: &[Recipients],
) -> Result<Vec<User>, DbErr> {
    let mut cond = Condition::any();
    let mut any = false;
    for g in groups {
        let part = match g {
            Recipients::Assignee => match assignee {
                Some(id) => Condition::all().add(user::Column::Id.eq(id)),
                None => continue,
            },
            Recipients::AgencyManagers => Condition::all()
                .add(user::Column::Role.eq(Role::Manager.as_str()))
                .add(user::Column::AgencyKey.eq(agency)),
            Recipients::SupplierManagers => Condition::all()
                .add(user::Column::Role.eq(Role::Manager.as_str()))
                .add(user::Column::AgencyKey.is_null()),
            Recipients::Admins => Condition::all().add(user::Column::Role.eq(Role::Admin.as_str())),
        };
        cond = cond.add(part);
        any = true;
    }
    if !any {
        return Ok(Vec::new());
    }
    // A deactivated account hears nothing.
    user::Entity::find()
        .filter(cond)
        .filter(user::Column::Active.eq(true))
        .order_by_asc(user::Column::Username)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}

/// Every active manager with an email address.
pub async fn managers_with_email(db: &impl ConnectionTrait) -> Result<Vec<User>, DbErr> {
    user::Entity::find()
        .filter(user::Column::Role.eq(Role::Manager.as_str()))
        .filter(user::Column::Email.is_not_null())
        .filter(user::Column::Active.eq(true))
        .order_by_asc(user::Column::Username)
        .all(db)
        .await?
        .into_iter()
        .map(from_row)
        .collect()
}
