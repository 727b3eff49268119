//! Drop `tickets_next_due`: the timer finds due work through `clocks_next_at`,
//! and no query reads tickets by their next instant, so the index only cost
//! every filing and every action a write.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("tickets_next_due").table(Tickets::Table).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("tickets_next_due")
                    .table(Tickets::Table)
                    .col(Tickets::NextDueAt)
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    NextDueAt,
}
