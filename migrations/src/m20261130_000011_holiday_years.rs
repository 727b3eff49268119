//! Holiday years an administrator uploaded while the service runs (e.g. 2027
//! once the State Council publishes it). Each takes precedence over the
//! configuration's file for the same region and year; the service's
//! calendars are rebuilt from them without a restart.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HolidayYears::Table)
                    .col(string(HolidayYears::Region))
                    .col(integer(HolidayYears::Year))
                    .col(text(HolidayYears::Source))
                    .col(big_integer(HolidayYears::UpdatedAt))
                    .col(uuid_null(HolidayYears::UpdatedBy))
                    .primary_key(Index::create().col(HolidayYears::Region).col(HolidayYears::Year))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(HolidayYears::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum HolidayYears {
    Table,
    Region,
    Year,
    /// The year's text, in the form of `config/calendars/cn-2026.toml`.
    Source,
    UpdatedAt,
    UpdatedBy,
}
