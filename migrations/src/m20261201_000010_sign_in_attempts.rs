//! Sign-in attempts in the database, so that every instance counts the same
//! failures: a row is written before a password is checked (a reservation)
//! and deleted when it was right, so that guesses in flight count too.

use sea_orm_migration::{prelude::*, schema::*};

use crate::indexes::{self, Named};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SignInAttempts::Table)
                    .col(uuid(SignInAttempts::Id).primary_key())
                    .col(text(SignInAttempts::Account))
                    .col(string(SignInAttempts::Address))
                    .col(big_integer(SignInAttempts::At))
                    .to_owned(),
            )
            .await?;
        let indexes: [Named<SignInAttempts>; 3] = [
            ("sign_in_attempts_account", &[SignInAttempts::Account, SignInAttempts::At]),
            ("sign_in_attempts_address", &[SignInAttempts::Address, SignInAttempts::At]),
            ("sign_in_attempts_at", &[SignInAttempts::At]),
        ];
        indexes::create(manager, SignInAttempts::Table, &indexes).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SignInAttempts::Table).to_owned()).await
    }
}

#[derive(Clone, Copy, DeriveIden)]
enum SignInAttempts {
    Table,
    Id,
    Account,
    Address,
    At,
}
