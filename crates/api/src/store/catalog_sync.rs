//! Loading the catalog into the database on every start, idempotently:
//! agencies and line items are upserted, tickets are never touched.

use catalog::Catalog;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, TransactionSession, TransactionTrait};
use uuid::Uuid;

use super::entities::{agency, line_item};

/// The stable id of a line item: the same contract and sequence number
/// always give the same id, on every instance and every restart.
pub fn line_item_id(registration_number: &str, seq: u32) -> Uuid {
    Uuid::new_v5(&Uuid::NAMESPACE_OID, format!("itsm:line-item:{registration_number}:{seq}").as_bytes())
}

/// What a sync changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Agencies written.
    pub agencies: usize,
    /// Line items written.
    pub items: usize,
}

/// Upsert every agency and line item of `catalog`.
pub async fn sync(db: &impl TransactionTrait, catalog: &Catalog, now: i64) -> Result<SyncReport, DbErr> {
    let txn = db.begin().await?;
    for a in &catalog.agencies {
        upsert_agency(&txn, a, now).await?;
    }
    for item in &catalog.items {
        let definition = serde_json::to_string(item).map_err(|e| DbErr::Custom(e.to_string()))?;
        let model = line_item::ActiveModel {
            id: Set(line_item_id(&catalog.contract.registration_number, item.seq)),
            contract: Set(catalog.contract.registration_number.clone()),
            seq: Set(item.seq as i32),
            agency_key: Set(item.agency.clone()),
            name: Set(item.name.clone()),
            amount_fen: Set(item.amount.fen()),
            period_from: Set(item.service_period.from.to_string()),
            period_to: Set(item.service_period.to.to_string()),
            service_window: Set(item.service_window.clone()),
            definition: Set(definition),
            updated_at: Set(now),
        };
        line_item::Entity::insert(model)
            .on_conflict(
                OnConflict::column(line_item::Column::Id)
                    .update_columns([
                        line_item::Column::AgencyKey,
                        line_item::Column::Name,
                        line_item::Column::AmountFen,
                        line_item::Column::PeriodFrom,
                        line_item::Column::PeriodTo,
                        line_item::Column::ServiceWindow,
                        line_item::Column::Definition,
                        line_item::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(SyncReport { agencies: catalog.agencies.len(), items: catalog.items.len() })
}

async fn upsert_agency(db: &impl ConnectionTrait, a: &catalog::Agency, now: i64) -> Result<(), DbErr> {
    let model =
        agency::ActiveModel { key: Set(a.key.clone()), name: Set(a.name.clone()), updated_at: Set(now) };
    agency::Entity::insert(model)
        .on_conflict(
            OnConflict::column(agency::Column::Key)
                .update_columns([agency::Column::Name, agency::Column::UpdatedAt])
                .to_owned(),
        )
        .exec(db)
        .await?;
    Ok(())
}
