//! Deleting what has outlived its use: expired tokens, idempotency keys
//! past their window, sign-in failures that left theirs.

use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use sla_engine::Timestamp;

use super::entities::idempotency_key;

/// How many rows of each kind were deleted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Tokens that expired.
    pub tokens: u64,
    /// Idempotency keys older than their window.
    pub idempotency_keys: u64,
    /// Sign-in failures older than their window.
    pub sign_in_failures: u64,
}

impl Deleted {
    /// All of them.
    pub fn total(&self) -> u64 {
        self.tokens + self.idempotency_keys + self.sign_in_failures
    }
}

/// Delete tokens expired by `now`, idempotency keys made before
/// `keys_before` and sign-in failures made before `failures_before`.
pub async fn sweep(
    db: &impl ConnectionTrait,
    now: Timestamp,
    keys_before: Timestamp,
    failures_before: Timestamp,
) -> Result<Deleted, DbErr> {
    let tokens = super::users::delete_expired_tokens(db, now).await?;
    let idempotency_keys = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::CreatedAt.lt(keys_before.unix()))
        .exec(db)
        .await?
        .rows_affected;
    let sign_in_failures = super::sign_ins::forget_before(db, failures_before).await?;
    Ok(Deleted { tokens, idempotency_keys, sign_in_failures })
}
