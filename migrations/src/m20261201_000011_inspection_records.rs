//! An inspection's completion keeps when it was recorded beside when it is
//! said to have been done, whether it was recorded late, and who approved
//! a late record to count on time.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        for column in [
            big_integer_null(InspectionTasks::RecordedAt),
            boolean(InspectionTasks::RecordedLate).default(false).to_owned(),
            uuid_null(InspectionTasks::ApprovedBy),
            big_integer_null(InspectionTasks::ApprovedAt),
        ] {
            manager
                .alter_table(Table::alter().table(InspectionTasks::Table).add_column(column).to_owned())
                .await?;
        }
        // Completions recorded before this are taken as recorded when they say they were done.
        manager
            .get_connection()
            .execute_unprepared(
                "UPDATE inspection_tasks SET recorded_at = completed_at WHERE completed_at IS NOT NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            InspectionTasks::ApprovedAt,
            InspectionTasks::ApprovedBy,
            InspectionTasks::RecordedLate,
            InspectionTasks::RecordedAt,
        ] {
            manager
                .alter_table(Table::alter().table(InspectionTasks::Table).drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum InspectionTasks {
    Table,
    RecordedAt,
    RecordedLate,
    ApprovedBy,
    ApprovedAt,
}
