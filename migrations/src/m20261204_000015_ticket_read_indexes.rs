//! Indexes for reading tickets at a million: a report reads its period's
//! tickets a page at a time by (reported_at, id); the list's pages, newest
//! first, narrowed to one assignee ("mine") or one line item, walk an index
//! in their own order instead of filtering the whole table.

use sea_orm_migration::prelude::*;

use crate::indexes::{self, Named};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// (name, columns) of each index made here.
const INDEXES: [Named<Tickets>; 3] = [
    ("tickets_reported", &[Tickets::ReportedAt, Tickets::Id]),
    ("tickets_assignee_created", &[Tickets::AssigneeId, Tickets::CreatedAt, Tickets::Id]),
    ("tickets_line_item_created", &[Tickets::LineItemId, Tickets::CreatedAt, Tickets::Id]),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        indexes::create(manager, Tickets::Table, &INDEXES).await?;
        // The line item's new index leads with the same column.
        manager.drop_index(Index::drop().name("tickets_line_item").table(Tickets::Table).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("tickets_line_item")
                    .table(Tickets::Table)
                    .col(Tickets::LineItemId)
                    .to_owned(),
            )
            .await?;
        indexes::drop(manager, Tickets::Table, &INDEXES).await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum Tickets {
    Table,
    ReportedAt,
    AssigneeId,
    LineItemId,
    CreatedAt,
    Id,
}
