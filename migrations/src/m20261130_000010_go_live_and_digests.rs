//! Go-live and inspection digests.
//!
//! `service_facts` holds facts about this installation; `go_live_at` is the
//! instant the service went live, so that inspection windows that closed
//! before it are neither due nor missed. A database that already holds
//! tickets takes its earliest filing; a new one gets the first start's time
//! (written by the service, which knows the injected clock).
//!
//! `inspection_notices` records which overdue windows each manager was told
//! about, in which message: a window counts as announced to a person once
//! that message was accepted by the mail server. The single per-task flag it
//! replaces could not say who was told.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServiceFacts::Table)
                    .col(string(ServiceFacts::Key).primary_key())
                    .col(string(ServiceFacts::Value))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO service_facts (key, value) \
                 SELECT 'go_live_at', CAST(m AS VARCHAR(20)) FROM (SELECT MIN(created_at) AS m FROM tickets) t \
                 WHERE m IS NOT NULL",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(InspectionNotices::Table)
                    .col(uuid(InspectionNotices::TaskId))
                    .col(uuid(InspectionNotices::UserId))
                    .col(uuid(InspectionNotices::OutboxId))
                    .col(big_integer(InspectionNotices::QueuedAt))
                    .primary_key(
                        Index::create()
                            .col(InspectionNotices::TaskId)
                            .col(InspectionNotices::UserId)
                            .col(InspectionNotices::OutboxId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("inspection_notices_user")
                    .table(InspectionNotices::Table)
                    .col(InspectionNotices::UserId)
                    .col(InspectionNotices::QueuedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(InspectionTasks::Table)
                    .drop_column(InspectionTasks::LateAlerted)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(InspectionTasks::Table)
                    .add_column(boolean(InspectionTasks::LateAlerted).default(false))
                    .to_owned(),
            )
            .await?;
        manager.drop_table(Table::drop().table(InspectionNotices::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ServiceFacts::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ServiceFacts {
    Table,
    Key,
    Value,
}

#[derive(DeriveIden)]
enum InspectionNotices {
    Table,
    TaskId,
    UserId,
    OutboxId,
    QueuedAt,
}

#[derive(DeriveIden)]
enum InspectionTasks {
    Table,
    LateAlerted,
}
