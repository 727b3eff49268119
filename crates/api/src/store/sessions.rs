//! Web sessions: the browser-only half of a session (its token is a row of
//! `api_tokens`, written by `users::add_token` in the same transaction).

use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, Set};
use sla_engine::Timestamp;
use uuid::Uuid;

use super::entities::web_session;

/// A session as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionRow {
    /// The CSRF secret its forms carry.
    pub csrf: String,
    /// When it was opened.
    pub created_at: Timestamp,
    /// When it was last used.
    pub last_seen_at: Timestamp,
}

/// Store a new session of the token with this hash.
pub async fn create(
    db: &impl ConnectionTrait,
    token_hash: String,
    user_id: Uuid,
    csrf: String,
    now: Timestamp,
) -> Result<(), DbErr> {
    web_session::ActiveModel {
        token_hash: Set(token_hash),
        user_id: Set(user_id),
        csrf: Set(csrf),
        created_at: Set(now.unix()),
        last_seen_at: Set(now.unix()),
    }
    .insert(db)
    .await?;
    Ok(())
}

/// The session of the token with this hash.
pub async fn get(db: &impl ConnectionTrait, token_hash: &str) -> Result<Option<SessionRow>, DbErr> {
    Ok(web_session::Entity::find_by_id(token_hash.to_owned()).one(db).await?.map(|m| SessionRow {
        csrf: m.csrf,
        created_at: Timestamp::from_unix(m.created_at),
        last_seen_at: Timestamp::from_unix(m.last_seen_at),
    }))
}

/// Record that the session was used at `now`.
pub async fn touch(db: &impl ConnectionTrait, token_hash: &str, now: Timestamp) -> Result<(), DbErr> {
    web_session::Entity::update_many()
        .col_expr(web_session::Column::LastSeenAt, sea_orm::sea_query::Expr::value(now.unix()))
        .filter(web_session::Column::TokenHash.eq(token_hash))
        .exec(db)
        .await?;
    Ok(())
}

/// Forget one session.
pub async fn delete(db: &impl ConnectionTrait, token_hash: &str) -> Result<(), DbErr> {
    web_session::Entity::delete_by_id(token_hash.to_owned()).exec(db).await?;
    Ok(())
}

/// Delete the sessions last used before `idle_since`; how many.
pub async fn delete_idle(db: &impl ConnectionTrait, idle_since: Timestamp) -> Result<u64, DbErr> {
    let result = web_session::Entity::delete_many()
        .filter(web_session::Column::LastSeenAt.lt(idle_since.unix()))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
