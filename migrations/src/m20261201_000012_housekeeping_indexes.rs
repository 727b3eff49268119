//! Indexes for what the timer deletes (expired tokens, old idempotency
//! keys) and for the gauges, which count only live rows: tickets not
//! closed, clocks not met.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const INDEXES: [(&str, &str, &str); 4] = [
    ("api_tokens_expires", "api_tokens", "expires_at"),
    ("idempotency_keys_created", "idempotency_keys", "created_at"),
    ("tickets_state", "tickets", "state"),
    ("clocks_met", "clocks", "met_at"),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, column) in INDEXES {
            manager
                .create_index(
                    Index::create().name(name).table(Alias::new(table)).col(Alias::new(column)).to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, _) in INDEXES {
            manager.drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned()).await?;
        }
        Ok(())
    }
}
