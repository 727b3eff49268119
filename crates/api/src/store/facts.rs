//! Facts about this installation, by key (e.g. `go_live_at`).

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait};

use super::entities::service_fact;

/// The value of `key`, if set.
pub async fn get(db: &impl ConnectionTrait, key: &str) -> Result<Option<String>, DbErr> {
    Ok(service_fact::Entity::find_by_id(key.to_owned()).one(db).await?.map(|f| f.value))
}

/// Set `key` unless it is set already (another instance may have won), and
/// read back the value that stands.
pub async fn set_once(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<String, DbErr> {
    service_fact::Entity::insert(service_fact::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(value.to_owned()),
    })
    .on_conflict(OnConflict::column(service_fact::Column::Key).do_nothing().to_owned())
    .exec_without_returning(db)
    .await?;
    Ok(get(db, key).await?.unwrap_or_else(|| value.to_owned()))
}

/// Set `key` to `value`, whatever it was.
pub async fn set(db: &impl ConnectionTrait, key: &str, value: &str) -> Result<(), DbErr> {
    service_fact::Entity::insert(service_fact::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(value.to_owned()),
    })
    .on_conflict(
        OnConflict::column(service_fact::Column::Key).update_column(service_fact::Column::Value).to_owned(),
    )
    .exec_without_returning(db)
    .await?;
    Ok(())
}

/// Unset `key`.
pub async fn delete(db: &impl ConnectionTrait, key: &str) -> Result<(), DbErr> {
    service_fact::Entity::delete_by_id(key.to_owned()).exec(db).await?;
    Ok(())
}
