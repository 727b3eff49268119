//! Holiday years uploaded while the service runs, and the version that tells
//! every instance its calendars are out of date.

use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use sla_engine::Timestamp;
use uuid::Uuid;

use super::entities::{holiday_year, service_fact};

/// The fact every instance reads to know whether its calendars are current.
const VERSION: &str = "calendar_version";

/// A stored year: region, year and its text.
pub type StoredYear = (String, i32, String);

/// Every stored year, by region and year.
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<StoredYear>, DbErr> {
    Ok(holiday_year::Entity::find()
        .order_by_asc(holiday_year::Column::Region)
        .order_by_asc(holiday_year::Column::Year)
        .all(db)
        .await?
        .into_iter()
        .map(|y| (y.region, y.year, y.source))
        .collect())
}

/// Store a year (replacing what was stored for it) and bump the calendars' version.
pub async fn put(
    db: &impl ConnectionTrait,
    region: &str,
    year: i32,
    text: &str,
    by: Option<Uuid>,
    now: Timestamp,
) -> Result<i64, DbErr> {
    holiday_year::Entity::insert(holiday_year::ActiveModel {
        region: Set(region.to_owned()),
        year: Set(year),
        source: Set(text.to_owned()),
        updated_at: Set(now.unix()),
        updated_by: Set(by),
    })
    .on_conflict(
        OnConflict::columns([holiday_year::Column::Region, holiday_year::Column::Year])
            .update_columns([
                holiday_year::Column::Source,
                holiday_year::Column::UpdatedAt,
                holiday_year::Column::UpdatedBy,
            ])
            .to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    bump(db).await
}

/// The calendars' version: 0 until a year is first stored.
pub async fn version(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(version_in(super::facts::get(db, VERSION).await?))
}

/// A version stored as a fact's text; 0 when there is none.
fn version_in(fact: Option<String>) -> i64 {
    fact.and_then(|v| v.parse().ok()).unwrap_or(0)
}

/// Count one more change of the stored years; the new version.
async fn bump(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let next = version(db).await? + 1;
    service_fact::Entity::insert(service_fact::ActiveModel {
        key: Set(VERSION.to_owned()),
        value: Set(next.to_string()),
    })
    .on_conflict(
        OnConflict::column(service_fact::Column::Key).update_column(service_fact::Column::Value).to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(next)
}

/// The calendar version whose recomputation was last claimed.
const DONE: &str = "calendar_recomputed";

/// The calendar version whose recomputation was last claimed (0: none).
pub async fn claimed_recompute(db: &impl ConnectionTrait) -> Result<i64, DbErr> {
    Ok(version_in(super::facts::get(db, DONE).await?))
}

/// As [`claimed_recompute`], read inside `txn` and, on PostgreSQL, held
/// there (a shared row lock) until it ends: no newer version can be
/// claimed meanwhile, so that what `txn` writes for the version read is
/// never written over a newer walk's moves.
pub async fn claimed_recompute_held(txn: &impl ConnectionTrait) -> Result<i64, DbErr> {
    let query = service_fact::Entity::find_by_id(DONE.to_owned());
    let query = if super::is_postgres(txn) { query.lock_shared() } else { query };
    Ok(version_in(query.one(txn).await?.map(|f| f.value)))
}

/// Claim the recomputation of clocks for calendar version `v`: true for the
/// one instance that moves the fact from an older version to `v`.
pub async fn claim_recompute(db: &impl ConnectionTrait, v: i64) -> Result<bool, DbErr> {
    service_fact::Entity::insert(service_fact::ActiveModel {
        key: Set(DONE.to_owned()),
        value: Set("0".to_owned()),
    })
    .on_conflict(OnConflict::column(service_fact::Column::Key).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    let done = claimed_recompute(db).await?;
    if done >= v {
        return Ok(false);
    }
    let updated = service_fact::Entity::update_many()
        .col_expr(service_fact::Column::Value, Expr::value(v.to_string()))
        .filter(service_fact::Column::Key.eq(DONE))
        .filter(service_fact::Column::Value.eq(done.to_string()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
}
