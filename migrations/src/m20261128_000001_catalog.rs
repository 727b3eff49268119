//! Agencies and line items, synchronised from the catalog configuration on every start.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Agencies::Table)
                    .col(string(Agencies::Key).primary_key())
                    .col(string(Agencies::Name))
                    .col(big_integer(Agencies::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LineItems::Table)
                    .col(uuid(LineItems::Id).primary_key())
                    .col(string(LineItems::Contract))
                    .col(integer(LineItems::Seq))
                    .col(string(LineItems::AgencyKey))
                    .col(string(LineItems::Name))
                    .col(big_integer(LineItems::AmountFen))
                    .col(string(LineItems::PeriodFrom))
                    .col(string(LineItems::PeriodTo))
                    .col(string_null(LineItems::ServiceWindow))
                    .col(text(LineItems::Definition))
                    .col(big_integer(LineItems::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(LineItems::Table, LineItems::AgencyKey)
                            .to(Agencies::Table, Agencies::Key),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("line_items_contract_seq")
                    .table(LineItems::Table)
                    .col(LineItems::Contract)
                    .col(LineItems::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("line_items_agency")
                    .table(LineItems::Table)
                    .col(LineItems::AgencyKey)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(LineItems::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Agencies::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
pub(crate) enum Agencies {
    Table,
    Key,
    Name,
    UpdatedAt,
}

#[derive(DeriveIden)]
pub(crate) enum LineItems {
    Table,
    Id,
    Contract,
    Seq,
    AgencyKey,
    Name,
    AmountFen,
    PeriodFrom,
    PeriodTo,
    ServiceWindow,
    /// The normalized item (targets, inspections, source text) as JSON.
    Definition,
    UpdatedAt,
}
