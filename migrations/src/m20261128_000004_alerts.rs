//! Alerts: the thresholds each clock has crossed (one row each, ever), and
//! the transactional outbox of messages to deliver.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClockAlerts::Table)
                    .col(uuid(ClockAlerts::TicketId))
                    .col(string(ClockAlerts::Metric))
                    .col(integer(ClockAlerts::Percent))
                    .col(big_integer(ClockAlerts::At))
                    .col(big_integer(ClockAlerts::RecordedAt))
                    .col(boolean(ClockAlerts::Notified))
                    .primary_key(
                        Index::create()
                            .col(ClockAlerts::TicketId)
                            .col(ClockAlerts::Metric)
                            .col(ClockAlerts::Percent),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(uuid(Outbox::Id).primary_key())
                    .col(string(Outbox::DedupeKey).unique_key())
                    .col(uuid_null(Outbox::TicketId))
                    .col(string(Outbox::Kind))
                    .col(text(Outbox::Recipients))
                    .col(string(Outbox::MessageId))
                    .col(text(Outbox::Subject))
                    .col(text(Outbox::BodyText))
                    .col(text(Outbox::BodyHtml))
                    .col(string(Outbox::Status))
                    .col(integer(Outbox::Attempts))
                    .col(big_integer(Outbox::NextAttemptAt))
                    .col(big_integer_null(Outbox::LeaseUntil))
                    .col(text_null(Outbox::LastError))
                    .col(big_integer(Outbox::CreatedAt))
                    .col(big_integer_null(Outbox::SentAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_due")
                    .table(Outbox::Table)
                    .col(Outbox::Status)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Outbox::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ClockAlerts::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum ClockAlerts {
    Table,
    TicketId,
    Metric,
    Percent,
    /// When the clock crossed the threshold.
    At,
    RecordedAt,
    /// False for thresholds recorded but not sent because a higher one fell due at once.
    Notified,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    /// One message per (ticket, recipient, alerts): a second insert is a no-op.
    DedupeKey,
    TicketId,
    Kind,
    Recipients,
    MessageId,
    Subject,
    BodyText,
    BodyHtml,
    /// pending, sent or dead.
    Status,
    Attempts,
    NextAttemptAt,
    /// While a sender holds it, no other picks it up.
    LeaseUntil,
    LastError,
    CreatedAt,
    SentAt,
}
