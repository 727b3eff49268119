//! One due instant per kind of work: the clocks' indexed `next_at` is the
//! only due index of tickets (the unread `tickets.next_due_at` goes), and a
//! leased message's `next_attempt_at` is its lease's end, so that the outbox
//! is due by one indexed column.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Tickets::Table).drop_column(Tickets::NextDueAt).to_owned())
            .await?;
        // Messages leased under the old rule fall due when their lease ends.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE outbox SET next_attempt_at = lease_until \
                 WHERE status = 'pending' AND lease_until IS NOT NULL AND lease_until > next_attempt_at",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Tickets::Table)
                    .add_column(big_integer_null(Tickets::NextDueAt))
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
