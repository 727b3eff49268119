//! Which rule chose each clock's target (`item:{position}` or
//! `contract:{key}`), and whether that choice read dates without holiday
//! data: so that a ticket can show where its targets come from.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        manager
            .alter_table(Table::alter().table(Clocks::Table).add_column(string_null(Clocks::Rule)).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Clocks::Table)
                    .add_column(boolean(Clocks::ChoiceBeyondHolidayData).default(false))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(Clocks::Table).drop_column(Clocks::Rule).to_owned()).await?;
        manager
            .alter_table(
                Table::alter().table(Clocks::Table).drop_column(Clocks::ChoiceBeyondHolidayData).to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden)]
enum Clocks {
    Table,
    Rule,
    ChoiceBeyondHolidayData,
}
