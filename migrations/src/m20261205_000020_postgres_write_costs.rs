//! What every write of a clock or ticket costs on PostgreSQL, measured at a
//! million tickets, where a holiday recomputation rewrites a quarter of a
//! million clocks:
//!
//! - `clocks_met_deadline` serves SQLite's queue (it walks it for the unmet
//!   clocks in deadline order); PostgreSQL reads the partial
//!   `clocks_unmet_deadline` for that instead and never read this one (no
//!   scan over a whole benchmark run: queue, reads, reports, timer), while
//!   every clock written added an entry to it. Dropped there.
//! - A row written again goes to the same page if that page has room; on a
//!   full page PostgreSQL first logs a lock on the old row, then writes the
//!   new one on another page (logged whole after each checkpoint). Clocks
//!   are written again with every action, threshold and recomputation,
//!   tickets with every action and change of their breach instant: pages
//!   filled to 85 % leave that room (and let a write that changes no
//!   indexed column, such as the breach instant, skip the indexes).
//!
//! SQLite is left as it is.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared("DROP INDEX IF EXISTS clocks_met_deadline").await?;
        for table in ["tickets", "clocks"] {
            db.execute_unprepared(&format!("ALTER TABLE {table} SET (fillfactor = 85)")).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in ["tickets", "clocks"] {
            db.execute_unprepared(&format!("ALTER TABLE {table} RESET (fillfactor)")).await?;
        }
        db.execute_unprepared("CREATE INDEX clocks_met_deadline ON clocks (met_at, deadline, ticket_id)")
            .await
            .map(drop)
    }
}
