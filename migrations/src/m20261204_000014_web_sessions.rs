//! Sessions of the web console: a signed-in browser's cookie is a token of
//! `api_tokens` (so that it is revoked, expires and is cached exactly as a
//! bearer token is); this table adds what only a browser needs, the CSRF
//! secret of its forms and when it was last used (idle expiry).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebSessions::Table)
                    .col(string(WebSessions::TokenHash).primary_key())
                    .col(uuid(WebSessions::UserId))
                    .col(string(WebSessions::Csrf))
                    .col(big_integer(WebSessions::CreatedAt))
                    .col(big_integer(WebSessions::LastSeenAt))
                    .to_owned(),
            )
            .await?;
        // The timer deletes idle sessions by this.
        manager
            .create_index(
                Index::create()
                    .name("web_sessions_last_seen")
                    .table(WebSessions::Table)
                    .col(WebSessions::LastSeenAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(WebSessions::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum WebSessions {
    Table,
    TokenHash,
    UserId,
    Csrf,
    CreatedAt,
    LastSeenAt,
}
