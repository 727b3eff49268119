//! The engineers' queue reads the clocks not yet met in order of their
//! deadlines and stops after a page of tickets. Each engine walks a
//! different index in that order (read off their plans at 100,000
//! tickets): SQLite the index of unmet clocks once it holds the deadline
//! and the ticket after `met_at` (it passes a partial index over for the
//! one on `met_at` alone, then sorts); PostgreSQL a partial index of the
//! unmet clocks alone (it does not read `met_at IS NULL` as fixing the
//! composite's first column, and sorts a scan of the table instead).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let index = Index::create()
            .name("clocks_met_deadline")
            .table(Clocks::Table)
            .col(Clocks::MetAt)
            .col(Clocks::Deadline)
            .col(Clocks::TicketId)
            .to_owned();
        manager.create_index(index).await?;
        manager.drop_index(Index::drop().name("clocks_met").table(Clocks::Table).to_owned()).await?;
        // Both engines take this statement as written.
        let partial =
            "CREATE INDEX clocks_unmet_deadline ON clocks (deadline, ticket_id) WHERE met_at IS NULL";
        manager.get_connection().execute_unprepared(partial).await.map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(Index::drop().name("clocks_unmet_deadline").table(Clocks::Table).to_owned())
            .await?;
        let index = Index::create().name("clocks_met").table(Clocks::Table).col(Clocks::MetAt).to_owned();
        manager.create_index(index).await?;
        manager.drop_index(Index::drop().name("clocks_met_deadline").table(Clocks::Table).to_owned()).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Clocks {
    Table,
    MetAt,
    Deadline,
    TicketId,
}
