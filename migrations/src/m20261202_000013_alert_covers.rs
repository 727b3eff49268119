//! Which thresholds each alert message announces (`response@100,…`), so that
//! a threshold found not to have happened can be withdrawn from the queue or
//! corrected to the same recipients; and the messages of a ticket found by
//! an index.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Outbox::Table).add_column(text_null(Outbox::Covers)).to_owned())
            .await?;
        manager
            .create_index(
                Index::create().name("outbox_ticket").table(Outbox::Table).col(Outbox::TicketId).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("outbox_ticket").table(Outbox::Table).to_owned()).await?;
        manager.alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::Covers).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    TicketId,
    Covers,
}
