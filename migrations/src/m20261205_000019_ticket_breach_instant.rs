//! A ticket carries the instant its first clock breached, or will breach
//! as things stand (the earliest of its clocks' recorded breaches and the
//! deadlines of those not yet met): the list's `breached` filter then reads
//! one column of the ticket row it walks anyway, where it probed every
//! walked ticket's clocks (at a million tickets, tens of thousands of
//! probes for a page of the newest breached ones).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The same expression as `store::clocks::BREACH_OF_TICKET`, for the rows already stored.
const BACKFILL: &str = "UPDATE tickets SET breach_at = (SELECT MIN(COALESCE(c.breached_at, \
     CASE WHEN c.met_at IS NULL THEN c.deadline END)) FROM clocks c WHERE c.ticket_id = tickets.id)";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let column = big_integer_null(Tickets::BreachAt);
        manager.alter_table(Table::alter().table(Tickets::Table).add_column(column).to_owned()).await?;
        manager.get_connection().execute_unprepared(BACKFILL).await.map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let drop = Table::alter().table(Tickets::Table).drop_column(Tickets::BreachAt).to_owned();
        manager.alter_table(drop).await
    }
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    BreachAt,
}
