//! Tickets found by when they were reported, in order: a report reads its
//! period's tickets a page at a time by (reported_at, id) instead of
//! scanning the table.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("tickets_reported")
                    .table(Tickets::Table)
                    .col(Tickets::ReportedAt)
                    .col(Tickets::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("tickets_reported").table(Tickets::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    ReportedAt,
    Id,
}
