//! Tickets, their immutable event trail, their SLA clocks, the per-year
//! number counter and idempotency keys.

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
                    .table(TicketCounters::Table)
                    .col(integer(TicketCounters::Year).primary_key())
                    .col(big_integer(TicketCounters::Last))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Tickets::Table)
                    .col(uuid(Tickets::Id).primary_key())
                    .col(string(Tickets::Number).unique_key())
                    .col(uuid(Tickets::LineItemId))
                    .col(string(Tickets::AgencyKey))
                    .col(string(Tickets::Title))
                    .col(text(Tickets::Description))
                    .col(string(Tickets::Severity))
                    .col(string(Tickets::State))
                    .col(string_null(Tickets::PausedFrom))
                    .col(text(Tickets::Tags))
                    .col(uuid_null(Tickets::AssigneeId))
                    .col(uuid(Tickets::CreatedBy))
                    .col(big_integer(Tickets::ReportedAt))
                    .col(big_integer(Tickets::CreatedAt))
                    .col(big_integer(Tickets::UpdatedAt))
                    .col(integer(Tickets::Version))
                    .col(big_integer_null(Tickets::NextDueAt))
                    .to_owned(),
            )
            .await?;
        let indexes: [Named<Tickets>; 4] = [
            ("tickets_agency_created", &[Tickets::AgencyKey, Tickets::CreatedAt]),
            ("tickets_created", &[Tickets::CreatedAt, Tickets::Id]),
            ("tickets_line_item", &[Tickets::LineItemId]),
            ("tickets_next_due", &[Tickets::NextDueAt]),
        ];
        indexes::create(manager, Tickets::Table, &indexes).await?;
        manager
            .create_table(
                Table::create()
                    .table(TicketEvents::Table)
                    .col(uuid(TicketEvents::Id).primary_key())
                    .col(uuid(TicketEvents::TicketId))
                    .col(integer(TicketEvents::Seq))
                    .col(string(TicketEvents::Kind))
                    .col(uuid_null(TicketEvents::ActorId))
                    .col(big_integer(TicketEvents::At))
                    .col(big_integer(TicketEvents::RecordedAt))
                    .col(string_null(TicketEvents::FromState))
                    .col(string(TicketEvents::ToState))
                    .col(text(TicketEvents::Data))
                    .foreign_key(
                        ForeignKey::create()
                            .from(TicketEvents::Table, TicketEvents::TicketId)
                            .to(Tickets::Table, Tickets::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ticket_events_ticket_seq")
                    .table(TicketEvents::Table)
                    .col(TicketEvents::TicketId)
                    .col(TicketEvents::Seq)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Clocks::Table)
                    .col(uuid(Clocks::TicketId))
                    .col(string(Clocks::Metric))
                    .col(big_integer(Clocks::TargetSeconds))
                    .col(string(Clocks::Calendar))
                    .col(string(Clocks::State))
                    .col(text(Clocks::Events))
                    .col(big_integer(Clocks::StartedAt))
                    .col(big_integer_null(Clocks::Deadline))
                    .col(big_integer_null(Clocks::NextAt))
                    .col(big_integer_null(Clocks::BreachedAt))
                    .col(big_integer_null(Clocks::MetAt))
                    .col(big_integer(Clocks::UpdatedAt))
                    .primary_key(Index::create().col(Clocks::TicketId).col(Clocks::Metric))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Clocks::Table, Clocks::TicketId)
                            .to(Tickets::Table, Tickets::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("clocks_next_at").table(Clocks::Table).col(Clocks::NextAt).to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(uuid(IdempotencyKeys::UserId))
                    .col(string(IdempotencyKeys::Key))
                    .col(string(IdempotencyKeys::RequestHash))
                    .col(uuid(IdempotencyKeys::TicketId))
                    .col(big_integer(IdempotencyKeys::CreatedAt))
                    .primary_key(Index::create().col(IdempotencyKeys::UserId).col(IdempotencyKeys::Key))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            IdempotencyKeys::Table.into_iden(),
            Clocks::Table.into_iden(),
            TicketEvents::Table.into_iden(),
            Tickets::Table.into_iden(),
            TicketCounters::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum TicketCounters {
    Table,
    Year,
    Last,
}

#[derive(DeriveIden, Clone, Copy)]
enum Tickets {
    Table,
    Id,
    Number,
    LineItemId,
    AgencyKey,
    Title,
    Description,
    Severity,
    State,
    /// The state a paused ticket returns to on resume.
    PausedFrom,
    Tags,
    AssigneeId,
    CreatedBy,
    ReportedAt,
    CreatedAt,
    UpdatedAt,
    /// Optimistic-concurrency version, exposed as the ETag.
    Version,
    /// Earliest next instant of interest of the ticket's clocks.
    NextDueAt,
}

#[derive(DeriveIden)]
enum TicketEvents {
    Table,
    Id,
    TicketId,
    Seq,
    Kind,
    ActorId,
    At,
    RecordedAt,
    FromState,
    ToState,
    Data,
}

#[derive(DeriveIden)]
enum Clocks {
    Table,
    TicketId,
    Metric,
    TargetSeconds,
    Calendar,
    State,
    /// The clock's start / pause / resume / met / reopen history as JSON.
    Events,
    StartedAt,
    Deadline,
    NextAt,
    BreachedAt,
    MetAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    UserId,
    Key,
    RequestHash,
    TicketId,
    CreatedAt,
}
