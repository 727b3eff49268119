//! Inspection tasks: one row per due window of an item's inspection cycle.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(InspectionTasks::Table)
                    .col(uuid(InspectionTasks::Id).primary_key())
                    .col(string(InspectionTasks::ScheduleKey).unique_key())
                    .col(uuid(InspectionTasks::LineItemId))
                    .col(string(InspectionTasks::AgencyKey))
                    .col(integer(InspectionTasks::Cycle))
                    .col(string(InspectionTasks::Every))
                    .col(string_null(InspectionTasks::DeviceClass))
                    .col(string_null(InspectionTasks::Slot))
                    .col(big_integer(InspectionTasks::DueFrom))
                    .col(big_integer(InspectionTasks::DueTo))
                    .col(big_integer_null(InspectionTasks::CompletedAt))
                    .col(uuid_null(InspectionTasks::CompletedBy))
                    .col(text_null(InspectionTasks::Findings))
                    .col(text(InspectionTasks::Checklist))
                    .col(text(InspectionTasks::Attachments))
                    .col(boolean(InspectionTasks::LateAlerted))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("inspection_tasks_due")
                    .table(InspectionTasks::Table)
                    .col(InspectionTasks::DueTo)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("inspection_tasks_item")
                    .table(InspectionTasks::Table)
                    .col(InspectionTasks::LineItemId)
                    .col(InspectionTasks::DueFrom)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(InspectionTasks::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum InspectionTasks {
    Table,
    Id,
    /// Item, cycle, device class, window start: stable across regenerations.
    ScheduleKey,
    LineItemId,
    AgencyKey,
    Cycle,
    Every,
    DeviceClass,
    Slot,
    DueFrom,
    DueTo,
    CompletedAt,
    CompletedBy,
    Findings,
    Checklist,
    Attachments,
    /// The late alert has been queued (once).
    LateAlerted,
}
