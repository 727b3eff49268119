//! Messages may carry one attachment (the monthly report's workbook).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite adds one column per statement.
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(string_null(Outbox::AttachmentName))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Outbox::Table)
                    .add_column(text_null(Outbox::AttachmentBase64))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::AttachmentBase64).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(Outbox::Table).drop_column(Outbox::AttachmentName).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    AttachmentName,
    /// The attachment's bytes, base64: text works the same on both engines.
    AttachmentBase64,
}
